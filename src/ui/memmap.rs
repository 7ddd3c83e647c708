//! The physical-memory map: every frame as a cell coloured by its use (a table at level N, a
//! data page, allocated but unused, free). Large memories group frames per cell. Hover for
//! details; click a table frame to show it in the tree.

use super::state::{Action, UiState};
use super::theme;
use crate::doc::Document;
use crate::sim::Machine;
use crate::sim::Pfn;
use crate::sim::runs::Runs;
use crate::sim::table;
use egui::{Sense, vec2};

/// What a frame holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FrameUse {
    /// A page table at this level (0 = root); tables rank first when cells group frames.
    Table(usize),
    Data,
    Allocated,
    Free,
}

/// Frame uses across all processes, computed once per change of the lab, kept as runs so that
/// a memory of millions of frames (or a few 1 GiB pages) costs one entry per run.
#[derive(Clone, Debug, Default)]
pub struct FrameMap {
    pub generation: u64,
    /// Table frames per level (index = level).
    pub tables: Vec<Runs>,
    pub data: Runs,
    pub allocated: Runs,
    /// Frames fork() shares between processes (share count 2 or more).
    pub forked: Runs,
    pub frame_count: u64,
}

pub fn frame_map(m: &Machine, generation: u64) -> FrameMap {
    let f = m.format();
    let mut tables = vec![Runs::new(); f.levels.len()];
    for p in m.processes() {
        for t in table::tables(m.mem(), f, p.root) {
            let first = t.addr.pfn(f.page_shift).get();
            if let Some(runs) = tables.get_mut(t.level) {
                runs.insert(first, first.saturating_add(f.table_frames(t.level)));
            }
        }
    }
    FrameMap {
        generation,
        tables,
        data: m.data_frames_in_use(),
        allocated: m.mem().allocated_runs().clone(),
        forked: {
            let mut runs = Runs::new();
            for (frame, _) in m.shares().iter() {
                runs.insert(frame.get(), frame.saturating_add(1).get());
            }
            runs
        },
        frame_count: m.mem().frame_count(),
    }
}

impl FrameMap {
    /// The most telling use among frames `[first, first + count)`: a table (the highest level
    /// first), then data, then allocated.
    pub fn cell_use(&self, first: u64, count: u64) -> FrameUse {
        let end = first.saturating_add(count);
        if let Some(level) = self.tables.iter().position(|runs| runs.last_overlap(first, end).is_some()) {
            return FrameUse::Table(level);
        }
        if self.data.last_overlap(first, end).is_some() {
            FrameUse::Data
        } else if self.allocated.last_overlap(first, end).is_some() {
            FrameUse::Allocated
        } else {
            FrameUse::Free
        }
    }

    /// Frames in use in any way.
    pub fn in_use(&self) -> u64 {
        let mut all = self.allocated.clone();
        for runs in self.tables.iter().chain([&self.data]) {
            for (s, e) in runs.iter() {
                all.insert(s, e);
            }
        }
        all.len()
    }

    /// The first frame of a table at `level` among `[first, first + count)`.
    pub fn table_frame_in(&self, level: usize, first: u64, count: u64) -> Option<u64> {
        let runs = self.tables.get(level)?;
        runs.intersect(first, first.saturating_add(count)).first().map(|&(s, _)| s)
    }
}

fn use_color(u: FrameUse, dark: bool) -> egui::Color32 {
    match u {
        FrameUse::Table(level) => theme::level_color(level, dark),
        FrameUse::Data => theme::data_color(dark),
        FrameUse::Allocated => theme::reserved_color(dark),
        FrameUse::Free => theme::free_color(dark),
    }
}

fn describe(m: &Machine, u: FrameUse) -> String {
    match u {
        FrameUse::Table(level) => {
            format!("{} table", m.format().levels.get(level).map_or("?", |l| l.name.as_str()))
        }
        FrameUse::Data => "data page".into(),
        FrameUse::Allocated => "allocated, not mapped".into(),
        FrameUse::Free => "free".into(),
    }
}

/// A legend entry: a coloured square and its meaning.
fn swatch_ui(ui: &mut egui::Ui, color: egui::Color32, text: &str) {
    let (rect, _) = ui.allocate_exact_size(vec2(12.0, 12.0), Sense::hover());
    ui.painter().rect_filled(rect, 2.0, color);
    ui.label(text);
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // cells from non-negative pixel sizes
pub fn memory_ui(ui: &mut egui::Ui, doc: &Document, state: &mut UiState, actions: &mut Vec<Action>) {
    let m = &doc.lab().machine;
    let dark = ui.visuals().dark_mode;
    if state.frame_map.as_ref().is_none_or(|fm| fm.generation != doc.generation) {
        state.frame_map = Some(frame_map(m, doc.generation));
    }
    if let Some(view) = state.compare.as_mut()
        && !view.refresh(m, doc.generation)
    {
        state.compare = None;
    }
    let shared = state.compare.as_ref().and_then(|view| view.marks());
    let Some(map) = state.frame_map.as_ref() else { return };
    ui.horizontal_wrapped(|ui| {
        ui.strong("Physical memory");
        ui.label(format!(
            "{} frames of {} · {} in use",
            map.frame_count,
            crate::sim::addr::format_size(m.mem().frame_size()),
            map.in_use()
        ));
        for (l, level) in m.format().levels.iter().enumerate() {
            swatch_ui(ui, theme::level_color(l, dark), &format!("{} table", level.name));
        }
        swatch_ui(ui, theme::data_color(dark), "data");
        swatch_ui(ui, theme::reserved_color(dark), "allocated");
        swatch_ui(ui, theme::free_color(dark), "free");
        if !map.forked.is_empty() {
            let (rect, _) = ui.allocate_exact_size(vec2(12.0, 12.0), Sense::hover());
            ui.painter().rect_filled(rect, 2.0, theme::data_color(dark));
            ui.painter().circle_filled(rect.center(), 2.5, theme::forked_color(dark));
            ui.label(format!("shared by fork ({} frames)", map.forked.len()));
        }
        if let Some(marks) = shared {
            let (rect, _) = ui.allocate_exact_size(vec2(12.0, 12.0), Sense::hover());
            ui.painter().rect_stroke(
                rect,
                2.0,
                egui::Stroke::new(2.0, theme::shared_color(dark)),
                egui::StrokeKind::Inside,
            );
            ui.label(format!("shared by {}", marks.names));
        }
    });
    let cell = 12.0;
    let columns = ((ui.available_width() / cell).floor() as u64).max(8);
    let max_cells = columns * 64;
    let per_cell = map.frame_count.div_ceil(max_cells).max(1);
    let cells = map.frame_count.div_ceil(per_cell);
    let rows = cells.div_ceil(columns);
    egui::ScrollArea::vertical()
        .id_salt("memmap")
        .auto_shrink([false, false])
        .max_height(ui.available_height())
        .show(ui, |ui| {
            let (rect, response) =
                ui.allocate_exact_size(vec2(columns as f32 * cell, rows as f32 * cell), Sense::click());
            let painter = ui.painter_at(rect);
            let clip = ui.clip_rect();
            for c in 0..cells {
                let (row, col) = (c / columns, c % columns);
                let min = rect.min + vec2(col as f32 * cell, row as f32 * cell);
                let r = egui::Rect::from_min_size(min, vec2(cell - 2.0, cell - 2.0));
                if !clip.intersects(r) {
                    continue;
                }
                painter.rect_filled(r, 2.0, use_color(map.cell_use(c * per_cell, per_cell), dark));
                if map.forked.last_overlap(c * per_cell, (c + 1) * per_cell).is_some() {
                    painter.circle_filled(r.center(), 2.5, theme::forked_color(dark));
                }
                if shared.is_some_and(|marks| marks.frames_shared(c * per_cell, per_cell)) {
                    let stroke = egui::Stroke::new(2.0, theme::shared_color(dark));
                    painter.rect_stroke(r, 2.0, stroke, egui::StrokeKind::Inside);
                }
            }
            let hovered_cell = response.hover_pos().map(|p| {
                let rel = p - rect.min;
                let col = ((rel.x / cell) as u64).min(columns - 1);
                (rel.y / cell) as u64 * columns + col
            });
            if let Some(c) = hovered_cell.filter(|&c| c < cells) {
                let first = c * per_cell;
                let u = map.cell_use(first, per_cell);
                let what = describe(m, u);
                let text = if per_cell == 1 {
                    format!("frame {first:#x} (physical {:#x}): {what}", first << m.format().page_shift)
                } else {
                    format!("frames {first:#x}–{:#x}: {what}", first + per_cell - 1)
                };
                let text = if map.forked.last_overlap(first, first + per_cell).is_some() {
                    let owners = m.shares().owners(Pfn::new(first));
                    if per_cell == 1 {
                        format!("{text}, shared by fork: {owners} owners (copy-on-write)")
                    } else {
                        format!("{text}, some shared by fork (copy-on-write)")
                    }
                } else {
                    text
                };
                let text = match shared.filter(|marks| marks.frames_shared(first, per_cell)) {
                    Some(marks) => format!("{text}, shared by {}", marks.names),
                    None => text,
                };
                let text = if matches!(u, FrameUse::Table(_)) {
                    format!("{text}\nclick to show it in the tree")
                } else {
                    text
                };
                response.clone().on_hover_text(text);
                if response.clicked()
                    && let FrameUse::Table(level) = u
                    && let Some(fr) = map.table_frame_in(level, first, per_cell)
                {
                    actions.push(Action::RevealTable(fr << m.format().page_shift));
                }
            }
        });
}

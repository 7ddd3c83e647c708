//! The page-table tree of the active process: a toolbar (jump to address, filter, map/unmap),
//! then one virtualized row per entry. Rows come from the cache in `UiState`, rebuilt only when
//! the lab, the process, the filter or the expansion changes.

use super::rows::{self, RowKind, RowsKey, TreeRow};
use super::state::{Action, UiState};
use super::tree_columns::{self, Col};
use super::{dialogs, theme};
use crate::doc::Document;
use crate::sim::Machine;
use crate::sim::VirtAddr;
use crate::sim::addr::{hex_grouped, parse_u64};
use egui::text::LayoutJob;
use egui::{Color32, Sense, TextFormat, vec2};

const ROW_PAD: f32 = 6.0;

pub fn tree_ui(ui: &mut egui::Ui, doc: &Document, state: &mut UiState, actions: &mut Vec<Action>) {
    let m = &doc.lab().machine;
    toolbar_ui(ui, m, state, actions);
    ensure_rows(doc, state);
    if let Some(view) = state.compare.as_mut()
        && !view.refresh(m, doc.generation)
    {
        state.compare = None;
    }
    let p = m.active_process();
    ui.horizontal_wrapped(|ui| {
        ui.heading(format!("Page tables of \"{}\"", p.name));
        ui.label(format!("root {} · {} rows", p.root_register(m.format()), state.rows.len()));
        if let Some(marks) = shared_marks(m, state) {
            let (rect, _) = ui.allocate_exact_size(vec2(4.0, 14.0), Sense::hover());
            ui.painter().rect_filled(rect, 0.0, theme::shared_color(ui.visuals().dark_mode));
            ui.label(format!("shared by {}", marks.names));
        }
    });
    ui.separator();
    rows_ui(ui, m, state, actions);
}

fn toolbar_ui(ui: &mut egui::Ui, m: &Machine, state: &mut UiState, actions: &mut Vec<Action>) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Jump to address:");
        let response = ui.add(
            egui::TextEdit::singleline(&mut state.search_text).hint_text("0x7fff_f000").desired_width(170.0),
        );
        let go = ui.button("Go").clicked()
            || (response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)));
        if go {
            match parse_u64(&state.search_text) {
                Ok(va) => {
                    state.search_error = None;
                    actions.push(Action::RevealVa(va));
                }
                Err(e) => state.search_error = Some(e.to_string()),
            }
        }
        if let Some(err) = &state.search_error {
            ui.colored_label(theme::fault_color(ui.visuals().dark_mode), err);
        }
        ui.separator();
        ui.checkbox(&mut state.present_only, "Present only");
        ui.checkbox(&mut state.compact_tree, "Compact")
            .on_hover_text("Hide the raw value and entry address columns (hover a row for them)");
        if ui.button("Expand all").clicked() {
            state.expanded = rows::all_table_entries(m, m.active());
        }
        if ui.button("Collapse").clicked() {
            state.expanded.clear();
        }
        ui.separator();
        if ui.button("Map…").on_hover_text("Map a page or a range (Ctrl+M)").clicked() {
            state.map_dialog = Some(dialogs::map_dialog_for_lab(m, None));
        }
        if ui.button("Unmap…").clicked() {
            state.unmap_dialog = Some(Default::default());
        }
    });
}

/// Rebuilds the cached rows if anything they depend on changed.
pub fn ensure_rows(doc: &Document, state: &mut UiState) {
    let m = &doc.lab().machine;
    let fresh = state.rows_key.as_ref().is_some_and(|k| {
        k.generation == doc.generation
            && k.process == m.active()
            && k.present_only == state.present_only
            && k.expanded == state.expanded
            && k.keep == state.selected
    });
    if !fresh {
        state.rows = rows::build_rows(m, m.active(), &state.expanded, state.present_only, state.selected);
        state.row_widths = super::tree_columns::TextWidths::of(m, &state.rows);
        state.rows_key = Some(RowsKey {
            generation: doc.generation,
            process: m.active(),
            present_only: state.present_only,
            expanded: state.expanded.clone(),
            keep: state.selected,
        });
    }
}

/// The words of a row (also its accessible label, which GUI tests look for).
pub fn row_text(m: &Machine, row: &TreeRow) -> String {
    let f = m.format();
    let level = f.levels.get(row.level).map_or("?", |l| l.name.as_str());
    let digits = (f.pte_bytes * 2) as usize;
    let target = match row.kind {
        RowKind::Table { child_addr, .. } => format!("-> table {child_addr:#x}"),
        RowKind::Page { frame } => format!("-> {}", tree_columns::page_words(m, row, frame)),
        RowKind::Empty => "not present".into(),
    };
    format!(
        "{level}[{:#x}]  {}–{}  @{:#x}  {:#0w$x}  {}  {target}",
        row.index,
        hex_grouped(row.va),
        hex_grouped(row.va_end()),
        row.entry_addr,
        row.raw,
        f.flag_summary(row.raw, row.level),
        w = digits + 2
    )
}

fn rows_ui(ui: &mut egui::Ui, m: &Machine, state: &mut UiState, actions: &mut Vec<Action>) {
    let dark = ui.visuals().dark_mode;
    let font = theme::mono(14.0);
    let row_height = ui.ctx().fonts_mut(|f| f.row_height(&font)) + ROW_PAD;
    let char_width = ui.ctx().fonts_mut(|f| f.glyph_width(&font, '0'));
    let deepest = m.format().levels.len().saturating_sub(1) as f32;
    let scrollbar = ui.spacing().scroll.bar_width + ui.spacing().scroll.bar_outer_margin;
    let layout = tree_columns::fit(
        &state.row_widths,
        char_width,
        INDENT * deepest + TEXT_LEFT,
        COLUMN_GAP,
        (ui.available_width() - scrollbar).max(0.0),
        state.compact_tree,
        state.last_walk.is_some() || state.preview.is_some(),
    );
    header_ui(ui, &layout, &font);
    let spacing = ui.spacing().item_spacing.y;
    let mut area = egui::ScrollArea::vertical().auto_shrink([false, false]).id_salt("tree");
    if let Some(target) = state.scroll_to_entry.take()
        && let Some(i) = state.rows.iter().position(|r| r.entry_addr == target)
    {
        area = area.vertical_scroll_offset(((i as f32) - 3.0).max(0.0) * (row_height + spacing));
    }
    let steps_of = |t: &Option<crate::sim::Translation>| -> Vec<u64> {
        t.iter().flat_map(|t| t.steps.iter().map(|s| s.entry_addr.get())).collect()
    };
    let walk = steps_of(&state.last_walk);
    // The preview is drawn only where it differs from the access performed.
    let same =
        state.preview.as_ref().zip(state.last_walk.as_ref()).is_some_and(|(p, w)| {
            p.va == w.va && p.access == w.access && p.mode == w.mode && p.steps == w.steps
        });
    let preview = if same { Vec::new() } else { steps_of(&state.preview) };
    let rows = std::mem::take(&mut state.rows);
    area.show_rows(ui, row_height, rows.len(), |ui, range| {
        for row in &rows[range] {
            let step = match walk.iter().position(|&a| a == row.entry_addr) {
                Some(step) => Some(WalkMark::Performed(step)),
                None => preview.iter().position(|&a| a == row.entry_addr).map(WalkMark::Preview),
            };
            let shared = shared_marks(m, state).filter(|marks| {
                marks.entry_shared(row.entry_addr)
                    || (matches!(row.kind, RowKind::Page { .. })
                        && marks.page_shared(row.va, 1u64.checked_shl(row.span_shift).unwrap_or(u64::MAX)))
            });
            let shared = shared.map(|marks| marks.names.clone());
            let look = RowLook { height: row_height, font: &font, dark, layout: &layout, shared };
            row_ui(ui, m, row, step, &look, state, actions);
        }
    });
    state.rows = rows;
}

/// Pixels of indent per level, and from a row's indent to its entry text.
const INDENT: f32 = 16.0;
const TEXT_LEFT: f32 = 26.0;
const COLUMN_GAP: f32 = 12.0;

/// The column headers, at the columns' positions.
fn header_ui(ui: &mut egui::Ui, layout: &tree_columns::Layout, font: &egui::FontId) {
    let height = ui.ctx().fonts_mut(|f| f.row_height(font)) + 4.0;
    let (rect, _) = ui.allocate_exact_size(vec2(ui.available_width(), height), Sense::hover());
    let painter = ui.painter_at(rect);
    let color = ui.visuals().weak_text_color();
    let mut x = rect.left();
    for (col, width) in &layout.cols {
        let left = if *col == Col::Entry { x + TEXT_LEFT - 22.0 + 4.0 } else { x };
        let header = if *col == Col::Range { layout.range.header() } else { col.header() };
        let text = painter.text(
            egui::pos2(left, rect.center().y),
            egui::Align2::LEFT_CENTER,
            header,
            font.clone(),
            color,
        );
        // Painted, and named for screen readers (and GUI tests) like a label.
        let cell = ui.interact(text, ui.scope_id().with(("tree-header", *col)), Sense::hover());
        cell.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, header));
        x += width;
    }
    ui.painter().hline(rect.x_range(), rect.bottom(), ui.visuals().widgets.noninteractive.bg_stroke);
}

/// How a row is drawn this frame.
struct RowLook<'a> {
    height: f32,
    font: &'a egui::FontId,
    dark: bool,
    layout: &'a tree_columns::Layout,
    /// While two processes are compared: the entry is in a table both reach, or the page is
    /// mapped to the same frames in both ("init and child").
    shared: Option<String>,
}

/// The comparison's marks, when it involves the process the tree shows.
fn shared_marks<'a>(m: &Machine, state: &'a UiState) -> Option<&'a super::compare_view::SharedMarks> {
    let marks = state.compare.as_ref()?.marks()?;
    (marks.processes.0 == m.active() || marks.processes.1 == m.active()).then_some(marks)
}

/// A row on a walk: the access performed last, or the MMU panel's live preview.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WalkMark {
    Performed(usize),
    Preview(usize),
}

fn row_ui(
    ui: &mut egui::Ui,
    m: &Machine,
    row: &TreeRow,
    walk_step: Option<WalkMark>,
    look: &RowLook,
    state: &mut UiState,
    actions: &mut Vec<Action>,
) {
    let (height, font, dark) = (look.height, look.font, look.dark);
    let text = match &look.shared {
        Some(names) => format!("{}  (shared by {names})", row_text(m, row)),
        None => row_text(m, row),
    };
    let width = ui.available_width();
    let (rect, response) = ui.allocate_exact_size(vec2(width, height), Sense::click());
    response.widget_info(|| {
        let label = match walk_step {
            Some(WalkMark::Performed(step)) => format!("{text}  (walk step {})", step + 1),
            Some(WalkMark::Preview(step)) => format!("{text}  (preview step {})", step + 1),
            None => text.clone(),
        };
        egui::WidgetInfo::labeled(egui::Role::Button, true, label)
    });
    let selected = state.selected == Some(row.entry_addr);
    let painter = ui.painter_at(rect);
    if selected {
        painter.rect_filled(rect, 3.0, ui.visuals().selection.bg_fill);
    } else if let Some(WalkMark::Performed(_)) = walk_step {
        painter.rect_filled(rect, 3.0, theme::walk_highlight(dark));
    } else if let Some(WalkMark::Preview(_)) = walk_step {
        painter.rect_filled(rect, 3.0, theme::preview_highlight(dark));
    } else if response.hovered() {
        painter.rect_filled(rect, 3.0, ui.visuals().widgets.hovered.weak_bg_fill);
    }
    if look.shared.is_some() {
        let edge = egui::Rect::from_min_size(rect.min, vec2(4.0, height));
        painter.rect_filled(edge, 0.0, theme::shared_color(dark));
    }
    let indent = INDENT * row.level as f32 + 4.0;
    let toggle_rect = egui::Rect::from_min_size(rect.min + vec2(indent, 0.0), vec2(18.0, height));
    let text_color = ui.visuals().text_color();
    if let RowKind::Table { expanded, .. } = row.kind {
        expander(&painter, toggle_rect.center(), expanded, text_color);
    }
    let body_color = match row.kind {
        RowKind::Empty => theme::empty_entry_color(dark),
        _ => text_color,
    };
    let (step_text, step_color) = match walk_step {
        Some(WalkMark::Performed(step)) => {
            (format!("step {}", step + 1), Color32::from_rgb(0xe5, 0xa5, 0x4b))
        }
        Some(WalkMark::Preview(step)) => {
            (format!("preview {}", step + 1), Color32::from_rgb(0x6c, 0x9e, 0xd8))
        }
        None => (String::new(), body_color),
    };
    let cells = tree_columns::Cells::of(m, row, look.layout.range);
    let mut x = rect.left();
    for (col, col_width) in &look.layout.cols {
        let (left, color) = match col {
            Col::Entry => (x + indent + 22.0, theme::level_color(row.level, dark)),
            Col::Step => (x, step_color),
            _ => (x, body_color),
        };
        let room = (x + col_width - COLUMN_GAP).min(rect.right()) - left;
        if room > 0.0 {
            let mut job = LayoutJob::single_section(
                cells.text(*col, &step_text),
                TextFormat::simple(font.clone(), color),
            );
            // Too long for its column: cut with an ellipsis; the row's tooltip has it whole.
            job.wrap = egui::text::TextWrapping {
                max_width: room,
                max_rows: 1,
                break_anywhere: true,
                overflow_character: Some('…'),
            };
            let galley = ui.ctx().fonts_mut(|f| f.layout_job(job));
            painter.galley(egui::pos2(left, rect.top() + ROW_PAD / 2.0), galley, color);
        }
        x += col_width;
    }
    let response = response.on_hover_text_at_pointer(&text);
    if response.clicked() {
        let on_toggle = response.interact_pointer_pos().is_some_and(|p| toggle_rect.contains(p));
        if on_toggle {
            toggle(state, row);
        } else {
            state.selected = Some(row.entry_addr);
            state.raw_edit = format!("{:#x}", row.raw);
            state.raw_edit_source = Some(row.raw);
        }
    }
    if response.double_clicked() {
        toggle(state, row);
    }
    response.context_menu(|ui| {
        if let RowKind::Page { .. } = row.kind {
            if ui.button("Translate the page's first address").clicked() {
                state.mmu.addr_text = format!("{:#x}", row.va);
                ui.close();
            }
            if ui.button("Unmap this page").clicked() {
                actions.push(Action::Edit(crate::doc::Edit::Unmap {
                    process: m.active(),
                    va: VirtAddr::new(row.va),
                    len: 1u64 << row.span_shift.min(63),
                }));
                ui.close();
            }
        }
        if let RowKind::Empty = row.kind
            && ui.button("Map a page here…").clicked()
        {
            state.map_dialog = Some(dialogs::map_dialog_for_lab(m, Some(row.va)));
            ui.close();
        }
    });
}

/// A triangle pointing right (collapsed) or down (expanded), drawn as a shape so it needs no
/// glyph from any font.
fn expander(painter: &egui::Painter, center: egui::Pos2, expanded: bool, color: Color32) {
    let s = 5.0;
    let points = if expanded {
        vec![center + vec2(-s, -s * 0.6), center + vec2(s, -s * 0.6), center + vec2(0.0, s * 0.8)]
    } else {
        vec![center + vec2(-s * 0.6, -s), center + vec2(-s * 0.6, s), center + vec2(s * 0.8, 0.0)]
    };
    painter.add(egui::Shape::convex_polygon(points, color, egui::Stroke::NONE));
}

fn toggle(state: &mut UiState, row: &TreeRow) {
    if let RowKind::Table { .. } = row.kind
        && !state.expanded.remove(&row.entry_addr)
    {
        state.expanded.insert(row.entry_addr);
    }
}

//! Two processes compared (`sim::compare`): every virtual range mapped in both to the same
//! frames, to different frames, or in only one, with the rights of each, and the page tables both
//! roots reach. Worked out once per lab change, under the process list; while it is open, the
//! tree and the physical-memory map mark what the two processes share ([`SharedMarks`]).

use super::state::UiState;
use crate::sim::Machine;
use crate::sim::addr::{format_size, hex_grouped};
use crate::sim::compare::{self, ProcessDiff, RangeKind};
use crate::sim::mmu::Rights;
use crate::sim::runs::Runs;
use crate::sim::table;

/// Rows shown before "… more" (a large lab has thousands of ranges).
const MAX_ROWS: usize = 300;

pub struct CompareView {
    a: usize,
    b: usize,
    /// The lab generation the diff was worked out for, the diff, and what it marks.
    result: Option<(u64, Result<ProcessDiff, String>)>,
    marks: Option<SharedMarks>,
}

impl CompareView {
    pub fn new(a: usize, b: usize) -> Self {
        Self { a, b, result: None, marks: None }
    }

    /// Works the comparison out again if the lab changed since (or the processes went away:
    /// then `false`, and the view should close).
    pub fn refresh(&mut self, m: &Machine, generation: u64) -> bool {
        let (Some(pa), Some(pb)) = (m.processes().get(self.a), m.processes().get(self.b)) else {
            return false;
        };
        if self.result.as_ref().is_none_or(|(g, _)| *g != generation) {
            let diff = compare::diff(m, self.a, self.b).map_err(|e| e.to_string());
            self.marks = diff.as_ref().ok().map(|d| SharedMarks::of(m, d, &pa.name, &pb.name));
            self.result = Some((generation, diff));
        }
        true
    }

    /// What the tree and the memory map mark, once [`CompareView::refresh`] has run.
    pub fn marks(&self) -> Option<&SharedMarks> {
        self.marks.as_ref()
    }
}

/// What two compared processes share, for the tree and the memory map to mark: page tables both
/// roots reach, virtual pages mapped to the same frames in both, and the physical frames behind
/// both.
#[derive(Clone, Debug, Default)]
pub struct SharedMarks {
    /// "init and child", for labels and tooltips.
    pub names: String,
    /// The compared processes.
    pub processes: (usize, usize),
    /// Byte ranges of the shared tables.
    tables: Runs,
    /// Virtual pages mapped to the same frames in both (an end at 2^64 is cut to 2^64 - 1).
    pages: Runs,
    /// Physical frames of shared pages and shared tables.
    pub frames: Runs,
}

impl SharedMarks {
    pub fn of(m: &Machine, d: &ProcessDiff, a: &str, b: &str) -> Self {
        let f = m.format();
        let mut marks = Self { names: format!("{a} and {b}"), processes: (d.a, d.b), ..Self::default() };
        for t in &d.shared_tables {
            marks.tables.insert(t.addr.get(), t.addr.get().saturating_add(f.table_bytes(t.level)));
            let first = t.addr.pfn(f.page_shift).get();
            marks.frames.insert(first, first.saturating_add(f.table_frames(t.level)));
        }
        for r in d.ranges.iter().filter(|r| r.kind == RangeKind::Shared) {
            marks.pages.insert(r.start.get(), r.start.get().saturating_add(r.bytes));
        }
        if let Some(p) = m.processes().get(d.a) {
            for leaf in table::leaves(m.mem(), f, p.root) {
                let bytes = 1u64.checked_shl(leaf.page_shift).unwrap_or(u64::MAX);
                if marks.page_shared(leaf.va.get(), bytes) {
                    let frames = bytes >> f.page_shift;
                    marks.frames.insert(leaf.frame.get(), leaf.frame.saturating_add(frames.max(1)).get());
                }
            }
        }
        marks
    }

    /// An entry that sits in a table both processes reach.
    pub fn entry_shared(&self, entry_addr: u64) -> bool {
        self.tables.contains(entry_addr)
    }

    /// Virtual pages `[va, va + bytes)` all mapped to the same frames in both.
    pub fn page_shared(&self, va: u64, bytes: u64) -> bool {
        let end = va.saturating_add(bytes);
        self.pages.intersect(va, end).iter().map(|(s, e)| e - s).sum::<u64>() == end - va && end > va
    }

    /// Any of frames `[first, first + count)` is shared.
    pub fn frames_shared(&self, first: u64, count: u64) -> bool {
        self.frames.last_overlap(first, first.saturating_add(count)).is_some()
    }
}

fn rights(r: Option<Rights>) -> String {
    r.map_or("-".into(), |r| r.text(false))
}

pub fn compare_ui(ui: &mut egui::Ui, m: &Machine, generation: u64, state: &mut UiState) {
    let Some(view) = state.compare.as_mut() else { return };
    if !view.refresh(m, generation) {
        state.compare = None;
        return;
    }
    let (Some(pa), Some(pb)) = (m.processes().get(view.a), m.processes().get(view.b)) else { return };
    ui.separator();
    let mut close = false;
    ui.horizontal_wrapped(|ui| {
        ui.strong(format!("\"{}\" compared with \"{}\"", pa.name, pb.name));
        close = ui.small_button("Close comparison").clicked();
    });
    ui.label(
        egui::RichText::new("The tree and the memory map mark what the two share (a green edge).").weak(),
    );
    match view.result.as_ref().map(|(_, r)| r) {
        Some(Ok(d)) => diff_ui(ui, d, &pa.name, &pb.name),
        Some(Err(e)) => {
            ui.colored_label(super::theme::fault_color(ui.visuals().dark_mode), e);
        }
        None => {}
    }
    if close {
        state.compare = None;
    }
}

fn diff_ui(ui: &mut egui::Ui, d: &ProcessDiff, a: &str, b: &str) {
    let top = d.shared_tables.iter().filter(|t| t.top).count();
    ui.label(format!(
        "Page tables both roots reach: {} ({top} at the top of a shared subtree)",
        d.shared_tables.len()
    ));
    // The left column is narrow: the table scrolls sideways rather than clip its rights.
    egui::ScrollArea::horizontal().id_salt("compare-scroll").show(ui, |ui| grid_ui(ui, d, a, b));
    if d.ranges.len() > MAX_ROWS {
        ui.label(format!("… {} more ranges (pagelab diff lists them all)", d.ranges.len() - MAX_ROWS));
    }
}

fn grid_ui(ui: &mut egui::Ui, d: &ProcessDiff, a: &str, b: &str) {
    egui::Grid::new("compare-grid").striped(true).num_columns(4).show(ui, |ui| {
        for h in ["Range", "Size", "Mapped", "Rights"] {
            ui.strong(h);
        }
        ui.end_row();
        for r in d.ranges.iter().take(MAX_ROWS) {
            ui.monospace(hex_grouped(r.start.get()));
            ui.label(format_size(r.bytes));
            let kind = match r.kind {
                RangeKind::Shared => "shared".to_string(),
                RangeKind::DifferentFrames => "different frames".to_string(),
                RangeKind::OnlyA => format!("only in {a}"),
                RangeKind::OnlyB => format!("only in {b}"),
            };
            ui.label(kind);
            let text = if r.rights_differ() {
                format!("{} / {}", rights(r.rights_a), rights(r.rights_b))
            } else {
                rights(r.rights_a.or(r.rights_b))
            };
            ui.monospace(text);
            ui.end_row();
        }
    });
}

//! Two processes compared (`sim::compare`): every virtual range mapped in both to the same
//! frames, to different frames, or in only one, with the rights of each, and the page tables both
//! roots reach. Worked out once per lab change, under the process list.

use super::state::UiState;
use crate::sim::Machine;
use crate::sim::addr::{format_size, hex_grouped};
use crate::sim::compare::{self, ProcessDiff, RangeKind};
use crate::sim::mmu::Rights;

/// Rows shown before "… more" (a large lab has thousands of ranges).
const MAX_ROWS: usize = 300;

pub struct CompareView {
    a: usize,
    b: usize,
    /// The lab generation the diff was worked out for, and the diff.
    result: Option<(u64, Result<ProcessDiff, String>)>,
}

impl CompareView {
    pub fn new(a: usize, b: usize) -> Self {
        Self { a, b, result: None }
    }
}

fn rights(r: Option<Rights>) -> String {
    r.map_or("-".into(), |r| r.text(false))
}

pub fn compare_ui(ui: &mut egui::Ui, m: &Machine, generation: u64, state: &mut UiState) {
    let Some(view) = state.compare.as_mut() else { return };
    let names = (m.processes().get(view.a), m.processes().get(view.b));
    let (Some(pa), Some(pb)) = names else {
        state.compare = None;
        return;
    };
    if view.result.as_ref().is_none_or(|(g, _)| *g != generation) {
        view.result = Some((generation, compare::diff(m, view.a, view.b).map_err(|e| e.to_string())));
    }
    ui.separator();
    let mut close = false;
    ui.horizontal_wrapped(|ui| {
        ui.strong(format!("\"{}\" compared with \"{}\"", pa.name, pb.name));
        close = ui.small_button("Close comparison").clicked();
    });
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
            ui.monospace(hex_grouped(r.start));
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

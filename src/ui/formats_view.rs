//! The "Compare formats" tab: the MMU panel's address walked in every comparable format
//! ([`crate::lab::format_compare`]), one column per format and page size: levels, index bits per
//! level, the entries read, references per miss, the layout's table frames and bytes, and whether
//! the address fits the format at all. The rows are rebuilt on a background thread (one lab per
//! format) whenever the lab, the process or the access changes; [`formats_ui`] only draws them.

use super::theme;
use crate::lab::format_compare::{self, FormatOutcome, FormatWalk};
use crate::sim::addr::{format_size, hex_grouped, parse_u64};
use crate::sim::{Access, Machine, Mode};
use egui::RichText;
use std::sync::mpsc::{Receiver, TryRecvError, channel};

/// What the rows were computed for: lab generation, process, address, access, mode.
pub type FormatsKey = (u64, usize, u64, Access, Mode);

/// The rows, or why there are none.
pub type FormatsResult = Result<Vec<FormatWalk>, String>;

/// What the tab keeps between frames (UI state: not saved, not undone).
#[derive(Default)]
pub struct FormatsView {
    /// The last finished rows and what they were computed for.
    pub rows: Option<(FormatsKey, FormatsResult)>,
    /// The computation running, and what it is for.
    job: Option<(FormatsKey, Receiver<FormatsResult>)>,
}

impl FormatsView {
    /// Forgets what belongs to the lab that was open. A running job is dropped: its thread
    /// finishes with nobody to tell.
    pub fn forget_lab(&mut self) {
        *self = Self::default();
    }

    /// Whether rows for another key are being computed.
    pub fn busy(&self) -> bool {
        self.job.is_some()
    }

    /// Starts computing rows for `key` on a thread unless they are there or on their way. The
    /// machine is cloned: the lab may change meanwhile (the rows then say which lab they are for
    /// through their key, and the next sync starts again).
    pub fn sync(&mut self, machine: &Machine, key: FormatsKey) {
        let done = self.rows.as_ref().is_some_and(|(k, _)| *k == key);
        let pending = self.job.as_ref().is_some_and(|(k, _)| *k == key);
        if done || pending {
            return;
        }
        let (tx, rx) = channel();
        let machine = machine.clone();
        let (_, process, va, access, mode) = key;
        let spawned = std::thread::Builder::new().name("pagelab-formats".into()).spawn(move || {
            let rows = format_compare::compare_process(
                &machine,
                process,
                crate::sim::VirtAddr::new(va),
                access,
                mode,
            );
            let _ = tx.send(rows.map_err(|e| e.to_string()));
        });
        match spawned {
            Ok(_) => self.job = Some((key, rx)),
            Err(e) => self.rows = Some((key, Err(format!("cannot start the comparison: {e}")))),
        }
    }

    /// Takes the thread's rows once it finished; true when they arrived (repaint).
    pub fn poll(&mut self) -> bool {
        let Some((key, rx)) = &self.job else { return false };
        let result = match rx.try_recv() {
            Ok(result) => result,
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => Err("the comparison stopped unexpectedly".into()),
        };
        self.rows = Some((*key, result));
        self.job = None;
        true
    }
}

/// The whole tab: syncs with the MMU panel's address (typed text, access and mode), polls the
/// thread, and draws the last rows. `generation` is the document's.
pub fn formats_view_ui(
    ui: &mut egui::Ui,
    machine: &Machine,
    generation: u64,
    addr_text: &str,
    access: Access,
    mode: Mode,
    view: &mut FormatsView,
) {
    let dark = ui.visuals().dark_mode;
    let Ok(va) = parse_u64(addr_text) else {
        ui.label("Type an address in the MMU panel to walk it in every format.");
        return;
    };
    view.sync(machine, (generation, machine.active(), va, access, mode));
    if view.poll() {
        ui.ctx().request_repaint();
    }
    if view.busy() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Rebuilding the layout in each format…");
        });
        ui.ctx().request_repaint_after(std::time::Duration::from_millis(50));
    }
    match view.rows.as_ref() {
        Some(((_, _, va, access, mode), Ok(rows))) => {
            ui.label(format!(
                "{} ({} {}), the process's layout rebuilt in each format (contents not copied):",
                hex_grouped(*va),
                mode.label(),
                access.label()
            ));
            formats_ui(ui, rows);
        }
        Some((_, Err(e))) => {
            ui.colored_label(theme::fault_color(dark), e);
        }
        None => {}
    }
}

/// The rows drawn as a table, one row per format and page size, so that a narrow docked pane
/// shows every format; then the entries each walk read (nothing computed here).
pub fn formats_ui(ui: &mut egui::Ui, rows: &[FormatWalk]) {
    let dark = ui.visuals().dark_mode;
    egui::ScrollArea::both().id_salt("formats-scroll").show(ui, |ui| {
        egui::Grid::new("formats-grid").striped(true).num_columns(7).show(ui, |ui| {
            for title in
                ["format", "pages up to", "levels", "refs per miss", "table frames", "table bytes", "outcome"]
            {
                ui.strong(title);
            }
            ui.end_row();
            for row in rows {
                ui.strong(&row.format);
                ui.label(format_size(row.page_size));
                ui.label(row.levels().to_string());
                ui.strong(row.refs_per_walk().to_string());
                ui.label(row.table_frames.to_string());
                ui.label(format_size(row.table_bytes));
                outcome_ui(ui, row, dark);
                ui.end_row();
            }
        });
        ui.add_space(6.0);
        egui::CollapsingHeader::new("Entries read, root first")
            .id_salt("formats-entries")
            .default_open(true)
            .show(ui, |ui| {
                egui::Grid::new("formats-entries-grid").striped(true).num_columns(2).show(ui, |ui| {
                    for row in rows {
                        ui.label(format!("{}, {} pages", row.format, format_size(row.page_size)));
                        ui.vertical(|ui| {
                            for level in 0..row.levels() {
                                level_cell_ui(ui, row, level, dark);
                            }
                            ui.label(
                                RichText::new(format!("page offset: {} bits", row.offset_bits))
                                    .color(theme::offset_color(dark)),
                            );
                        });
                        ui.end_row();
                    }
                });
            });
    });
}

/// A level's cell: its name and index bits, then the index and entry address when read.
fn level_cell_ui(ui: &mut egui::Ui, row: &FormatWalk, level: usize, dark: bool) {
    let Some(bits) = row.index_bits.get(level) else {
        ui.label("");
        return;
    };
    let color = theme::level_color(level, dark);
    let head = format!("{} {}:{}", bits.name, bits.high, bits.low);
    match row.steps.iter().find(|s| s.level == level) {
        Some(step) => {
            let leaf = if step.leaf { " (leaf)" } else { "" };
            ui.label(
                RichText::new(format!("{head} [{:#x}] @ {:#x}{leaf}", step.index, step.entry_addr))
                    .color(color),
            )
            .on_hover_text(format!("entry {:#018x}", step.raw));
        }
        None => {
            ui.label(RichText::new(format!("{head} [{:#x}] not read", bits.index)).weak());
        }
    }
}

fn outcome_ui(ui: &mut egui::Ui, row: &FormatWalk, dark: bool) {
    match &row.outcome {
        FormatOutcome::Mapped { page_size, .. } => {
            ui.colored_label(theme::ok_color(dark), format!("mapped, {} page", format_size(*page_size)))
                .on_hover_text(row.outcome.describe());
        }
        FormatOutcome::Fault { description, .. } => {
            ui.colored_label(theme::fault_color(dark), "page fault").on_hover_text(description.as_str());
        }
        FormatOutcome::NotRepresentable { va_bits } => {
            ui.colored_label(theme::fault_color(dark), "not representable")
                .on_hover_text(format!("outside the {va_bits}-bit address space"));
        }
        FormatOutcome::CannotBuild(e) => {
            ui.colored_label(theme::fault_color(dark), "cannot build").on_hover_text(e.as_str());
        }
    }
}

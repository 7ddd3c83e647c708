//! The TLB panel's Sizes section: each process's page-table size by level, beside the size a
//! linear table for the whole address space would take; and, on request, the active process's
//! layout rebuilt in other formats (4- and 5-level x86-64, Sv39/48/57, 4 KiB and 2 MiB pages) to
//! compare what its tables would take there. The comparison runs on its own thread.

use super::theme;
use crate::doc::Document;
use crate::lab::procmaps::{self, ComparisonRow};
use crate::sim::Machine;
use crate::sim::addr::{format_size, format_size_u128};
use crate::sim::size::SizeReport;
use crate::sim::table;
use egui::RichText;
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::Duration;

/// What the Sizes section keeps between frames (UI state: not saved, not undone).
#[derive(Default)]
pub struct SizesView {
    /// Per process: table sizes, and the lab generation they were computed for.
    pub sizes: Option<(u64, Vec<(String, SizeReport)>)>,
    /// The last finished comparison across formats.
    pub comparison: Option<Comparison>,
    /// The comparison being computed.
    pub job: Option<CompareJob>,
    /// Why the last comparison has no result.
    pub error: Option<String>,
}

impl SizesView {
    /// Forgets what belongs to the lab that was open (another one replaces it). A running
    /// comparison is dropped: its thread finishes with nobody to tell.
    pub fn forget_lab(&mut self) {
        self.sizes = None;
        self.comparison = None;
        self.job = None;
        self.error = None;
    }
}

/// One process's layout compared across formats, and the lab state it was computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// The lab generation and process the layout was read from.
    pub generation: u64,
    pub process: usize,
    pub process_name: String,
    /// Regions of the layout (contiguous pages of equal rights).
    pub regions: usize,
    /// The lab's own format and the largest page it uses, to mark the row that matches it.
    pub lab_format: String,
    pub lab_largest_page: Option<u64>,
    pub rows: Vec<ComparisonRow>,
}

impl Comparison {
    /// Whether `row` is the lab as it is: same format, same largest page.
    pub fn is_lab_row(&self, row: &ComparisonRow) -> bool {
        row.format == self.lab_format && Some(row.max_page) == self.lab_largest_page
    }

    /// Whether the lab changed (or another process became active) since.
    pub fn is_outdated(&self, doc: &Document) -> bool {
        self.generation != doc.generation || self.process != doc.lab().machine.active()
    }
}

/// Reads `process`'s layout from `machine` and rebuilds it in every compared format (one lab
/// each, which takes a while for a large layout: run it off the UI thread).
pub fn compare_layout(machine: &Machine, process: usize, generation: u64) -> Result<Comparison, String> {
    let regions = procmaps::regions_of(machine, process).map_err(|e| e.to_string())?;
    let process_name = machine.processes().get(process).map(|p| p.name.clone()).unwrap_or_default();
    let lab_largest_page = machine.processes().get(process).and_then(|p| {
        table::leaves(machine.mem(), machine.format(), p.root)
            .iter()
            .map(|leaf| leaf.page_shift)
            .max()
            .and_then(|shift| 1u64.checked_shl(shift))
    });
    let source = format!("process \"{process_name}\" of the open lab");
    Ok(Comparison {
        generation,
        process,
        process_name,
        regions: regions.len(),
        lab_format: machine.format().name.clone(),
        lab_largest_page,
        rows: procmaps::compare(&regions, &source),
    })
}

/// A comparison running on its own thread.
pub struct CompareJob {
    rx: Receiver<Result<Comparison, String>>,
}

impl CompareJob {
    /// Starts comparing `process` of `machine` (a copy: the lab may change meanwhile).
    pub fn start(machine: Machine, process: usize, generation: u64) -> Result<Self, String> {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("pagelab-compare".into())
            .spawn(move || {
                let _ = tx.send(compare_layout(&machine, process, generation));
            })
            .map_err(|e| format!("cannot start the comparison: {e}"))?;
        Ok(Self { rx })
    }

    /// Takes the thread's result: `Some` once it finished.
    pub fn poll(&self) -> Option<Result<Comparison, String>> {
        match self.rx.try_recv() {
            Ok(result) => Some(result),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err("the comparison stopped unexpectedly".into())),
        }
    }
}

pub fn sizes_ui(ui: &mut egui::Ui, doc: &Document, view: &mut SizesView) {
    let m = &doc.lab().machine;
    if view.sizes.as_ref().is_none_or(|(generation, _)| *generation != doc.generation) {
        let sizes = m
            .processes()
            .iter()
            .enumerate()
            .filter_map(|(i, p)| m.table_size(i).ok().map(|s| (p.name.clone(), s)))
            .collect();
        view.sizes = Some((doc.generation, sizes));
    }
    if let Some((_, sizes)) = &view.sizes {
        let linear = m.format().linear_table_bytes();
        ui.label(format!(
            "{}: a linear table for the whole {}-bit address space would take {}.",
            m.format().name,
            m.format().va_bits,
            format_size_u128(linear)
        ));
        for (name, report) in sizes {
            ui.label(
                RichText::new(format!(
                    "{name}: {} table(s), {} for {} page(s) ({})",
                    report.tables,
                    format_size(report.bytes),
                    report.mapped_pages,
                    format_size_u128(report.mapped_bytes)
                ))
                .strong(),
            );
            egui::Grid::new(("sizes", name)).striped(true).num_columns(3).show(ui, |ui| {
                for h in ["Level", "Tables", "Bytes"] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for l in &report.levels {
                    ui.label(&l.name);
                    ui.monospace(l.tables.to_string());
                    ui.monospace(format_size(l.bytes));
                    ui.end_row();
                }
            });
        }
    }
    ui.separator();
    comparison_ui(ui, doc, view);
}

/// The button, the job's progress and the comparison table.
fn comparison_ui(ui: &mut egui::Ui, doc: &Document, view: &mut SizesView) {
    let m = &doc.lab().machine;
    if let Some(result) = view.job.as_ref().and_then(CompareJob::poll) {
        view.job = None;
        match result {
            Ok(comparison) => {
                view.comparison = Some(comparison);
                view.error = None;
            }
            Err(e) => view.error = Some(e),
        }
    }
    ui.label(
        "Compare across formats rebuilds the active process's mapped layout (not its contents) in \
         4- and 5-level x86-64 and in Sv39, Sv48 and Sv57, with 4 KiB and with 2 MiB pages where \
         alignment allows, and counts the tables each needs.",
    );
    let running = view.job.is_some();
    if ui.add_enabled(!running, egui::Button::new("Compare across formats")).clicked() {
        match CompareJob::start(m.clone(), m.active(), doc.generation) {
            Ok(job) => {
                view.job = Some(job);
                view.error = None;
            }
            Err(e) => view.error = Some(e),
        }
    }
    if view.job.is_some() {
        ui.label("Comparing...");
        ui.ctx().request_repaint_after(Duration::from_millis(100));
    }
    if let Some(error) = &view.error {
        ui.colored_label(theme::fault_color(ui.visuals().dark_mode), error);
    }
    if let Some(comparison) = &view.comparison {
        comparison_table_ui(ui, doc, comparison);
    }
}

fn comparison_table_ui(ui: &mut egui::Ui, doc: &Document, comparison: &Comparison) {
    let outdated = comparison.is_outdated(doc);
    if outdated {
        ui.colored_label(
            theme::fault_color(ui.visuals().dark_mode),
            "The lab changed since this comparison: Compare again for current numbers.",
        );
    }
    ui.label(format!(
        "Process \"{}\": {} region(s) of mapped pages.",
        comparison.process_name, comparison.regions
    ));
    let mut notes: Vec<String> = Vec::new();
    // A wide table scrolls sideways instead of widening the panel (and squeezing the tree).
    egui::ScrollArea::horizontal().id_salt("size-comparison-scroll").show(ui, |ui| {
        egui::Grid::new("size-comparison").striped(true).num_columns(6).show(ui, |ui| {
            for h in ["Format", "Pages up to", "Tables", "Table bytes", "Linear table", "Note"] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for row in &comparison.rows {
                let mine = comparison.is_lab_row(row);
                let cell = |text: String| {
                    let text = RichText::new(text);
                    let text = if mine { text.strong() } else { text };
                    if outdated { text.weak() } else { text }
                };
                ui.label(cell(row.format.clone()));
                ui.label(cell(format_size(row.max_page)));
                let mut note: Vec<String> = Vec::new();
                if mine {
                    note.push("this lab".into());
                }
                match &row.outcome {
                    Ok(size) => {
                        let pages = procmaps::pages_summary(&size.pages_by_size);
                        ui.label(cell(size.tables.to_string()))
                            .on_hover_text(format!("Pages mapped: {pages}"));
                        ui.label(cell(format_size(size.bytes)));
                        if size.skipped_regions > 0 {
                            note.push(format!("{} region(s) out of range", size.skipped_regions));
                        }
                    }
                    Err(e) => {
                        ui.label(cell("-".into()));
                        ui.label(cell("-".into()));
                        note.push("cannot build, see below".into());
                        notes.push(format!("{} with {} pages: {e}", row.format, format_size(row.max_page)));
                    }
                }
                ui.label(cell(format_size_u128(row.linear_bytes)));
                ui.label(cell(note.join("; ")));
                ui.end_row();
            }
        });
    });
    for note in notes {
        ui.label(note);
    }
    if comparison.rows.iter().any(|r| r.outcome.as_ref().is_ok_and(|s| s.skipped_regions > 0)) {
        ui.label("Regions out of range lie beyond the format's virtual address space and are left out.");
    }
}

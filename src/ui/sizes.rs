//! The TLB panel's Sizes section: each process's page-table size by level, beside the size a
//! linear table for the whole address space would take.

use super::doc::Document;
use crate::sim::addr::{format_size, format_size_u128};
use crate::sim::size::SizeReport;
use egui::RichText;

/// What the Sizes section keeps between frames (UI state: not saved, not undone).
#[derive(Default)]
pub struct SizesView {
    /// Per process: table sizes, and the lab generation they were computed for.
    pub sizes: Option<(u64, Vec<(String, SizeReport)>)>,
}

impl SizesView {
    /// Forgets what belongs to the lab that was open (another one replaces it).
    pub fn forget_lab(&mut self) {
        self.sizes = None;
    }
}

pub fn sizes_ui(ui: &mut egui::Ui, doc: &Document, view: &mut SizesView) {
    let m = &doc.lab.machine;
    if view.sizes.as_ref().is_none_or(|(generation, _)| *generation != doc.generation) {
        let sizes = m
            .processes
            .iter()
            .enumerate()
            .filter_map(|(i, p)| m.table_size(i).ok().map(|s| (p.name.clone(), s)))
            .collect();
        view.sizes = Some((doc.generation, sizes));
    }
    let Some((_, sizes)) = &view.sizes else { return };
    let linear = m.format.linear_table_bytes();
    ui.label(format!(
        "{}: a linear table for the whole {}-bit address space would take {}.",
        m.format.name,
        m.format.va_bits,
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

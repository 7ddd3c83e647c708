//! PAE's PDPTE registers in the MMU panel: the four entries the processor loaded with CR3
//! (SDM Vol. 3A 4.4.1), which walks use instead of memory, a "Load CR3" button, and a STALE
//! note for each register that no longer matches its PDPTE in memory (as the TLB panel marks
//! stale TLB entries).

use super::state::Action;
use super::theme;
use crate::doc::Edit;
use crate::sim::Machine;
use egui::RichText;

/// One register beside its entry in memory, built once per frame from the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PdpteRow {
    pub index: usize,
    pub register: u64,
    /// `None` when the root table cannot be read.
    pub memory: Option<u64>,
}

impl PdpteRow {
    pub fn stale(&self) -> bool {
        self.memory != Some(self.register)
    }
}

/// The rows, or none for a format without PDPTE registers.
pub fn pdpte_rows(m: &Machine) -> Vec<PdpteRow> {
    let Some(registers) = m.pdpte_registers() else { return Vec::new() };
    let memory = m.pdptes_in_memory();
    registers
        .iter()
        .enumerate()
        .map(|(index, &register)| PdpteRow {
            index,
            register,
            memory: memory.and_then(|entries| entries.get(index).copied()),
        })
        .collect()
}

pub fn pdpte_ui(ui: &mut egui::Ui, m: &Machine, actions: &mut Vec<Action>) {
    let rows = pdpte_rows(m);
    if rows.is_empty() {
        return;
    }
    let dark = ui.visuals().dark_mode;
    ui.horizontal(|ui| {
        ui.label(RichText::new("PDPTE registers").strong()).on_hover_text(
            "PAE: a CR3 load copies the four PDPTEs into registers, and walks read those, not memory \
             (SDM Vol. 3A 4.4.1). Editing a PDPTE has no effect until CR3 is loaded again \
             (a process switch loads it too).",
        );
        if ui
            .button("Load CR3")
            .on_hover_text("MOV to CR3 with the active process's root: reload the PDPTE registers and flush the TLB's non-global entries")
            .clicked()
        {
            actions.push(Action::Edit(Edit::LoadCr3 { process: m.active() }));
        }
    });
    egui::Grid::new("pdpte-registers").num_columns(3).spacing(egui::vec2(10.0, 2.0)).show(ui, |ui| {
        for row in &rows {
            ui.monospace(format!("PDPTE{}", row.index));
            ui.monospace(format!("{:#018x}", row.register));
            if row.stale() {
                let memory = row.memory.map_or("unreadable".to_string(), |raw| format!("{raw:#x}"));
                ui.label(
                    RichText::new(format!("STALE: memory holds {memory}"))
                        .monospace()
                        .strong()
                        .color(theme::fault_color(dark)),
                )
                .on_hover_text("Walks use the register until CR3 is loaded (Load CR3, or a process switch)");
            } else {
                ui.label("");
            }
            ui.end_row();
        }
    });
    if rows.iter().any(PdpteRow::stale) {
        ui.colored_label(
            theme::fault_color(dark),
            "The PDPTE registers differ from memory: walks use the registers until CR3 is loaded.",
        );
    }
}

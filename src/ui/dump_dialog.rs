//! File ▸ Import ▸ Kernel page-table dump: a typed path and the dump's kind (xv6 vmprint, Linux
//! ptdump, QEMU info mem / info tlb); the app replaces the lab with the one the dump describes
//! (the same core import as `pagelab import`).

use super::state::{Action, UiState};
use super::theme;
use crate::lab::Lab;
use crate::lab::dump_import::{self, DumpKind};
use std::path::PathBuf;

/// The dialog's fields.
#[derive(Clone, Debug)]
pub struct DumpDialog {
    pub path: String,
    pub kind: DumpKind,
    pub error: Option<String>,
}

impl Default for DumpDialog {
    fn default() -> Self {
        Self { path: String::new(), kind: DumpKind::Vmprint, error: None }
    }
}

/// Reads and imports; the message says what was imported.
pub fn import(path: &std::path::Path, kind: DumpKind) -> Result<(Lab, String), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let source = path.display().to_string();
    let (lab, detail) = dump_import::import(kind, &text, &source)?;
    Ok((lab, format!("imported {source}{}", detail.lines().next().unwrap_or_default())))
}

pub fn dump_window(ctx: &egui::Context, state: &mut UiState, actions: &mut Vec<Action>) {
    let Some(dialog) = state.dump_dialog.as_mut() else { return };
    let mut open = true;
    let mut submit = false;
    egui::Window::new("Import a kernel's page tables")
        .open(&mut open)
        .collapsible(false)
        .default_width(520.0)
        .show(ctx, |ui| {
            ui.label(
                "A page-table dump from a real kernel becomes the lab: its tables, mappings and rights.",
            );
            egui::Grid::new("dump-grid").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
                let label = ui.label("Dump file:");
                let response = ui
                    .add(
                        egui::TextEdit::singleline(&mut dialog.path)
                            .hint_text("vmprint.txt")
                            .desired_width(340.0),
                    )
                    .labelled_by(label.id);
                submit |= response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                ui.end_row();
                ui.label("Kind:");
                ui.vertical(|ui| {
                    for kind in DumpKind::ALL {
                        ui.radio_value(&mut dialog.kind, kind, kind.label());
                    }
                });
                ui.end_row();
            });
            if let Some(err) = &dialog.error {
                ui.colored_label(theme::fault_color(ui.visuals().dark_mode), err);
            }
            submit |= ui.button("Import").clicked();
        });
    if !open {
        state.dump_dialog = None;
        return;
    }
    if submit {
        if dialog.path.trim().is_empty() {
            dialog.error = Some("Type the path of a dump file.".into());
        } else {
            actions.push(Action::ImportDump(PathBuf::from(dialog.path.trim()), dialog.kind));
        }
    }
}

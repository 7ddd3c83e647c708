//! File ▸ Import ▸ /proc/PID/maps: a typed path, a paging format and the largest page size; the
//! app replaces the lab with the process's layout (its table sizes appear in the TLB panel's
//! Sizes section, which also compares them across formats and page sizes).

use super::state::{Action, UiState};
use super::theme;
use crate::lab::{Lab, procmaps};
use crate::sim::addr::format_size;
use crate::sim::presets;
use std::path::PathBuf;

/// What to import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcMapsRequest {
    pub path: PathBuf,
    pub format: String,
    /// Largest page size to use where alignment allows.
    pub max_page: u64,
}

/// The dialog's fields.
#[derive(Clone, Debug)]
pub struct ProcMapsDialog {
    pub path: String,
    pub format: String,
    pub max_page: u64,
    pub error: Option<String>,
}

impl Default for ProcMapsDialog {
    fn default() -> Self {
        Self { path: "/proc/self/maps".into(), format: "x86-64".into(), max_page: 4096, error: None }
    }
}

/// Reads, parses and maps; the message says what was mapped and skipped.
pub fn import(request: &ProcMapsRequest) -> Result<(Lab, String), String> {
    let text = std::fs::read_to_string(&request.path)
        .map_err(|e| format!("cannot read {}: {e}", request.path.display()))?;
    let format =
        presets::by_name(&request.format).ok_or_else(|| format!("unknown format {}", request.format))?;
    let regions = procmaps::parse(&text).map_err(|e| format!("{}: {e}", request.path.display()))?;
    let source = request.path.display().to_string();
    let (lab, summary) = procmaps::build_lab(&regions, format, request.max_page, &source)
        .map_err(|e| format!("{}: {e}", request.path.display()))?;
    let message = format!(
        "imported {}: {} of {} regions mapped, {} skipped",
        source,
        summary.mapped_regions,
        summary.regions,
        summary.skipped.len()
    );
    Ok((lab, message))
}

pub fn procmaps_window(ctx: &egui::Context, state: &mut UiState, actions: &mut Vec<Action>) {
    let Some(dialog) = state.procmaps_dialog.as_mut() else { return };
    let mut open = true;
    let mut submit = false;
    egui::Window::new("Import /proc/PID/maps").open(&mut open).collapsible(false).default_width(520.0).show(ctx, |ui| {
        ui.label("A process's memory map (or a saved copy): every region is mapped with fresh frames (contents are not copied), rights from its rwxp column.");
        egui::Grid::new("procmaps-grid").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
            let label = ui.label("Maps file:");
            let response =
                ui.add(egui::TextEdit::singleline(&mut dialog.path).desired_width(340.0)).labelled_by(label.id);
            if response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                submit = true;
            }
            ui.end_row();
            let label = ui.label("Paging format:");
            egui::ComboBox::from_id_salt("procmaps-format")
                .selected_text(&dialog.format)
                .show_ui(ui, |ui| {
                    for name in presets::NAMES.iter().filter(|n| !n.starts_with("ostep")) {
                        ui.selectable_value(&mut dialog.format, (*name).to_string(), *name);
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            ui.label("Largest page:");
            let sizes: Vec<u64> = presets::by_name(&dialog.format)
                .map(|f| f.page_sizes().iter().map(|&(_, s)| 1u64 << s).collect())
                .unwrap_or_default();
            if !sizes.contains(&dialog.max_page) {
                dialog.max_page = sizes.first().copied().unwrap_or(4096);
            }
            ui.horizontal(|ui| {
                for size in sizes {
                    ui.radio_value(&mut dialog.max_page, size, format_size(size));
                }
            });
            ui.end_row();
        });
        ui.label("Larger pages are used where a region's alignment and length allow, base pages elsewhere.");
        if let Some(err) = &dialog.error {
            ui.colored_label(theme::fault_color(ui.visuals().dark_mode), err);
        }
        if ui.button("Import").clicked() {
            submit = true;
        }
    });
    if !open {
        state.procmaps_dialog = None;
        return;
    }
    if submit {
        if dialog.path.trim().is_empty() {
            dialog.error = Some("Type the path of a maps file.".into());
        } else {
            actions.push(Action::ImportProcMaps(ProcMapsRequest {
                path: PathBuf::from(dialog.path.trim()),
                format: dialog.format.clone(),
                max_page: dialog.max_page,
            }));
        }
    }
}

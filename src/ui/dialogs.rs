//! Dialog windows: map and unmap, open / save as with a typed path (the native chooser, when a
//! desktop portal exists, runs on its own thread and never blocks the UI), unsaved-changes
//! confirmation, file errors, the lab's description, and About.

use super::state::{Action, MapDialog, PathDialog, Prefs, UiState};
use super::theme;
use crate::doc::{Document, Edit};
use crate::lab::Lab;
use crate::sim::Machine;
use crate::sim::addr::{format_size, parse_size, parse_u64};
use crate::sim::format::Role;
use crate::sim::machine::{MapRequest, MapTarget};
use crate::sim::{PhysAddr, VirtAddr};
use std::path::PathBuf;

/// A map dialog with the format's default flags, optionally at `va`.
pub fn map_dialog_for(lab: &Lab, va: Option<u64>) -> MapDialog {
    map_dialog_for_lab(&lab.machine, va)
}

pub fn map_dialog_for_lab(m: &Machine, va: Option<u64>) -> MapDialog {
    MapDialog {
        va: va.map(|v| format!("{v:#x}")).unwrap_or_default(),
        alloc: true,
        flags: m.format().default_leaf_flags.iter().cloned().collect(),
        ..MapDialog::default()
    }
}

pub fn save_as_dialog(doc: &Document) -> PathDialog {
    let path = doc.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "lab.json".into());
    PathDialog { path, save: true, error: None, export_student: false, export_exam: false }
}

/// Leaf fields a user may set when mapping (one-bit fields that are not managed by the mapping).
fn settable_flags(m: &Machine, level: usize) -> Vec<(String, String)> {
    m.format()
        .fields_at(level)
        .filter(|f| {
            f.is_flag() && !matches!(f.role, Role::Present | Role::PageSize | Role::Reserved | Role::Frame)
        })
        .map(|f| (f.name.clone(), f.doc.clone()))
        .collect()
}

pub fn dialogs_ui(
    ctx: &egui::Context,
    doc: &Document,
    prefs: &mut Prefs,
    state: &mut UiState,
    actions: &mut Vec<Action>,
) {
    map_window(ctx, &doc.lab().machine, state, actions);
    unmap_window(ctx, &doc.lab().machine, state, actions);
    path_window(ctx, prefs, state, actions);
    discard_window(ctx, state, actions);
    error_window(ctx, state);
    about_window(ctx, state);
    shortcuts_window(ctx, state);
}

fn map_window(ctx: &egui::Context, m: &Machine, state: &mut UiState, actions: &mut Vec<Action>) {
    let Some(dialog) = state.map_dialog.as_mut() else { return };
    let mut open = true;
    let sizes = m.format().page_sizes();
    dialog.size_index = dialog.size_index.min(sizes.len().saturating_sub(1));
    let (level, shift) =
        sizes.get(dialog.size_index).copied().unwrap_or((m.format().last_level(), m.format().page_shift));
    let mut submit = false;
    egui::Window::new("Map pages").open(&mut open).collapsible(false).resizable(false).show(ctx, |ui| {
        ui.label(format!("In process \"{}\"", m.active_process().name));
        egui::Grid::new("map-grid").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
            let label = ui.label("Virtual address");
            ui.add(egui::TextEdit::singleline(&mut dialog.va).hint_text("0x40_0000")).labelled_by(label.id);
            ui.end_row();
            ui.label("Length (bytes)");
            ui.add(egui::TextEdit::singleline(&mut dialog.length).hint_text("one page; e.g. 16k, 2m"));
            ui.end_row();
            ui.label("");
            egui::ComboBox::from_label("Page size").selected_text(format_size(1u64 << shift)).show_ui(
                ui,
                |ui| {
                    for (i, (_, s)) in sizes.iter().enumerate() {
                        ui.selectable_value(&mut dialog.size_index, i, format_size(1u64 << s));
                    }
                },
            );
            ui.end_row();
            ui.label("Frames");
            ui.horizontal(|ui| {
                ui.radio_value(&mut dialog.alloc, true, "fresh from the allocator");
                ui.radio_value(&mut dialog.alloc, false, "starting at physical address");
            });
            ui.end_row();
            if !dialog.alloc {
                ui.label("Physical address");
                ui.add(egui::TextEdit::singleline(&mut dialog.frame_pa).hint_text("0x20_0000"));
                ui.end_row();
            }
        });
        ui.label("Flags (the present bit is always set):");
        ui.horizontal_wrapped(|ui| {
            for (name, doc) in settable_flags(m, level) {
                let mut on = dialog.flags.contains(&name);
                if ui.checkbox(&mut on, &name).on_hover_text(doc).changed() {
                    if on {
                        dialog.flags.insert(name);
                    } else {
                        dialog.flags.remove(&name);
                    }
                }
            }
        });
        if let Some(err) = &dialog.error {
            ui.colored_label(theme::fault_color(ui.visuals().dark_mode), err);
        }
        ui.horizontal(|ui| {
            submit = ui.button("Map").clicked() || ui.input(|i| i.key_pressed(egui::Key::Enter));
        });
    });
    if !open {
        state.map_dialog = None;
        return;
    }
    if submit {
        let request = (|| -> Result<MapRequest, String> {
            let va = parse_u64(&dialog.va).map_err(|e| format!("virtual address: {e}"))?;
            let size = 1u64 << shift;
            let len = if dialog.length.trim().is_empty() {
                size
            } else {
                parse_size(&dialog.length).map_err(|e| format!("length: {e}"))?
            };
            let target = if dialog.alloc {
                MapTarget::Alloc
            } else {
                MapTarget::To(
                    PhysAddr::parse(&dialog.frame_pa).map_err(|e| format!("physical address: {e}"))?,
                )
            };
            let flags = Some(dialog.flags.iter().cloned().collect());
            Ok(MapRequest { va: VirtAddr::new(va), len, target, page_size: Some(size), flags })
        })();
        match request {
            Ok(request) => actions.push(Action::Edit(Edit::Map { process: m.active(), request })),
            Err(e) => dialog.error = Some(e),
        }
    }
}

fn unmap_window(ctx: &egui::Context, m: &Machine, state: &mut UiState, actions: &mut Vec<Action>) {
    let Some(dialog) = state.unmap_dialog.as_mut() else { return };
    let mut open = true;
    let mut submit = false;
    egui::Window::new("Unmap pages").open(&mut open).collapsible(false).resizable(false).show(ctx, |ui| {
        ui.label(format!("In process \"{}\"; tables that become empty are freed.", m.active_process().name));
        egui::Grid::new("unmap-grid").num_columns(2).show(ui, |ui| {
            ui.label("Virtual address");
            ui.text_edit_singleline(&mut dialog.va);
            ui.end_row();
            ui.label("Length (bytes)");
            ui.add(egui::TextEdit::singleline(&mut dialog.length).hint_text("one page"));
            ui.end_row();
        });
        if let Some(err) = &dialog.error {
            ui.colored_label(theme::fault_color(ui.visuals().dark_mode), err);
        }
        submit = ui.button("Unmap").clicked();
    });
    if !open {
        state.unmap_dialog = None;
        return;
    }
    if submit {
        let parsed = parse_u64(&dialog.va).map_err(|e| format!("virtual address: {e}")).and_then(|va| {
            let len = if dialog.length.trim().is_empty() {
                m.format().page_size()
            } else {
                parse_size(&dialog.length).map_err(|e| format!("length: {e}"))?
            };
            Ok((va, len))
        });
        match parsed {
            Ok((va, len)) => {
                actions.push(Action::Edit(Edit::Unmap { process: m.active(), va: VirtAddr::new(va), len }))
            }
            Err(e) => dialog.error = Some(e),
        }
    }
}

fn path_window(ctx: &egui::Context, prefs: &Prefs, state: &mut UiState, actions: &mut Vec<Action>) {
    if let Some(rx) = &state.browse
        && let Ok(choice) = rx.try_recv()
    {
        state.browse = None;
        if let Some(dialog) = state.path_dialog.as_mut() {
            match choice {
                Some(path) => dialog.path = path.display().to_string(),
                None => {
                    dialog.error = Some(
                        "No file was chosen (no file chooser may be available here): type a path.".into(),
                    )
                }
            }
        }
    }
    let Some(dialog) = state.path_dialog.as_mut() else { return };
    let mut open = true;
    let title = if dialog.export_exam {
        "Export for grading only"
    } else if dialog.export_student {
        "Export the student version"
    } else if dialog.save {
        "Save lab as"
    } else {
        "Open lab"
    };
    let mut submit = false;
    let mut browse = false;
    egui::Window::new(title).open(&mut open).collapsible(false).default_width(520.0).show(ctx, |ui| {
        ui.label("Path of the lab file (you can also drop a file onto the window):");
        ui.horizontal(|ui| {
            let label = ui.label("Path:");
            let response = ui
                .add(egui::TextEdit::singleline(&mut dialog.path).desired_width(380.0))
                .labelled_by(label.id);
            if response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                submit = true;
            }
            browse = ui.button("Browse…").clicked();
        });
        if !dialog.save && !prefs.recent.is_empty() {
            ui.label("Recent:");
            for p in &prefs.recent {
                if ui.link(p.display().to_string()).clicked() {
                    dialog.path = p.display().to_string();
                    submit = true;
                }
            }
        }
        if let Some(err) = &dialog.error {
            ui.colored_label(theme::fault_color(ui.visuals().dark_mode), err);
        }
        if ui.button(if dialog.save { "Save" } else { "Open" }).clicked() {
            submit = true;
        }
    });
    if browse && state.browse.is_none() {
        state.browse = Some(spawn_chooser(dialog.save));
    }
    if !open {
        state.path_dialog = None;
        return;
    }
    if submit {
        let path = PathBuf::from(dialog.path.trim());
        if dialog.path.trim().is_empty() {
            dialog.error = Some("Type a path first.".into());
        } else if dialog.export_exam {
            actions.push(Action::ExportExam(path));
        } else if dialog.export_student {
            actions.push(Action::ExportStudent(path));
        } else if dialog.save {
            actions.push(Action::SaveAs(path));
        } else {
            actions.push(Action::Open(path));
        }
    }
}

/// Runs the native file chooser on its own thread; the answer arrives through the channel.
fn spawn_chooser(save: bool) -> std::sync::mpsc::Receiver<Option<PathBuf>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let dialog = rfd::FileDialog::new().add_filter("pagelab lab", &["json"]);
        let choice = if save { dialog.save_file() } else { dialog.pick_file() };
        let _ = tx.send(choice);
    });
    rx
}

fn discard_window(ctx: &egui::Context, state: &mut UiState, actions: &mut Vec<Action>) {
    if state.pending_discard.is_none() {
        return;
    }
    let modal = egui::Modal::new(egui::Id::unique("discard")).show(ctx, |ui| {
        ui.heading("Unsaved changes");
        ui.label("The lab has changes that are not saved. What should happen to them?");
        ui.horizontal(|ui| {
            if ui.button("Save first").clicked() {
                actions.push(Action::Save);
                state.pending_discard = None;
            }
            if ui.button("Discard changes").clicked() {
                actions.push(Action::DiscardChanges);
            }
            if ui.button("Cancel").clicked() {
                state.pending_discard = None;
            }
        });
    });
    if modal.should_close() {
        state.pending_discard = None;
    }
}

fn error_window(ctx: &egui::Context, state: &mut UiState) {
    let Some(message) = state.file_error.clone() else { return };
    let mut open = true;
    egui::Window::new("Problem").open(&mut open).collapsible(false).show(ctx, |ui| {
        ui.colored_label(theme::fault_color(ui.visuals().dark_mode), &message);
        if ui.button("OK").clicked() {
            state.file_error = None;
        }
    });
    if !open {
        state.file_error = None;
    }
}

fn shortcuts_window(ctx: &egui::Context, state: &mut UiState) {
    if state.show_shortcuts {
        egui::Window::new("Keyboard shortcuts")
            .open(&mut state.show_shortcuts)
            .collapsible(false)
            .show(ctx, super::commands::shortcuts_sheet_ui);
    }
}

fn about_window(ctx: &egui::Context, state: &mut UiState) {
    if !state.show_about {
        return;
    }
    let mut open = true;
    egui::Window::new("About pagelab").open(&mut open).collapsible(false).show(ctx, |ui| {
        ui.heading(format!("pagelab {}", env!("CARGO_PKG_VERSION")));
        ui.label("Build, edit and probe real page tables: x86 (32-bit, PAE, 4/5-level), RISC-V Sv32–Sv57, OSTEP's toy formats and your own.");
        if ui.button("Keyboard shortcuts…").clicked() {
            state.show_shortcuts = true;
        }
        ui.label("The same engine runs headless: pagelab --help.");
    });
    if !open {
        state.show_about = false;
    }
}

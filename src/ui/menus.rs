//! The menu bar: File, Edit, View, Help. Every action of the app is reachable from here, with
//! its keyboard shortcut shown beside it.

use super::dialogs;
use super::dock::{Dock, Pane};
use super::state::{Action, PathDialog, Prefs, UiState};
use crate::doc::Document;
use crate::sim::presets;

fn item(ui: &mut egui::Ui, text: &str, shortcut: &str, enabled: bool) -> bool {
    let button = egui::Button::new(text).shortcut_text(shortcut);
    ui.add_enabled(enabled, button).clicked()
}

pub fn menu_bar_ui(
    ui: &mut egui::Ui,
    doc: &Document,
    prefs: &mut Prefs,
    dock: &mut Dock,
    state: &mut UiState,
    actions: &mut Vec<Action>,
) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| file_menu_ui(ui, doc, prefs, state, actions));
        ui.menu_button("Edit", |ui| edit_menu_ui(ui, doc, state, actions));
        ui.menu_button("View", |ui| view_menu_ui(ui, doc, prefs, dock, state));
        ui.menu_button("Help", |ui| {
            if ui.button("About pagelab").clicked() {
                state.show_about = true;
            }
            if ui.button("Lab description").clicked() {
                state.open_panes.push(Pane::Description);
            }
        });
    });
}

fn file_menu_ui(
    ui: &mut egui::Ui,
    doc: &Document,
    prefs: &mut Prefs,
    state: &mut UiState,
    actions: &mut Vec<Action>,
) {
    ui.menu_button("New", |ui| {
        if item(ui, "Welcome lab", "Ctrl+N", true) {
            actions.push(Action::New("welcome".into()));
        }
        ui.menu_button("Sample lab", |ui| {
            for name in crate::lab::samples::names().filter(|n| *n != "welcome") {
                if ui.button(name).clicked() {
                    actions.push(Action::New(name.to_string()));
                }
            }
        });
        ui.menu_button("Empty lab", |ui| {
            for name in presets::NAMES {
                if ui.button(name).clicked() {
                    actions.push(Action::New(format!("empty:{name}")));
                }
            }
        });
    });
    if item(ui, "Open…", "Ctrl+O", true) {
        state.path_dialog = Some(PathDialog::default());
    }
    ui.menu_button("Open recent", |ui| {
        if prefs.recent.is_empty() {
            ui.label("No recent files");
        }
        for path in &prefs.recent {
            if ui.button(path.display().to_string()).clicked() {
                actions.push(Action::Open(path.clone()));
            }
        }
    });
    ui.menu_button("Import", |ui| {
        if ui.button("/proc/PID/maps…").clicked() {
            state.procmaps_dialog = Some(Default::default());
        }
        if ui.button("Trace for the TLB…").clicked() {
            state.open_panes.push(Pane::Tlb);
        }
    });
    ui.separator();
    if item(ui, "Save", "Ctrl+S", true) {
        actions.push(Action::Save);
    }
    if item(ui, "Save as…", "Ctrl+Shift+S", true) {
        state.path_dialog = Some(dialogs::save_as_dialog(doc));
    }
    ui.separator();
    if ui.button("Quit").clicked() {
        actions.push(Action::Quit);
    }
}

fn edit_menu_ui(ui: &mut egui::Ui, doc: &Document, state: &mut UiState, actions: &mut Vec<Action>) {
    let undo = doc.undo_label().map_or("Undo".to_string(), |w| format!("Undo {w}"));
    if item(ui, &undo, "Ctrl+Z", doc.can_undo()) {
        actions.push(Action::Undo);
    }
    let redo = doc.redo_label().map_or("Redo".to_string(), |w| format!("Redo {w}"));
    if item(ui, &redo, "Ctrl+Shift+Z", doc.can_redo()) {
        actions.push(Action::Redo);
    }
    ui.separator();
    if item(ui, "Map pages…", "Ctrl+M", true) {
        state.map_dialog = Some(dialogs::map_dialog_for(doc.lab(), None));
    }
    if ui.button("Unmap pages…").clicked() {
        state.unmap_dialog = Some(Default::default());
    }
    ui.separator();
    if ui.button("Title and description…").clicked() {
        state.open_panes.push(Pane::Description);
    }
}

fn view_menu_ui(ui: &mut egui::Ui, doc: &Document, prefs: &mut Prefs, dock: &mut Dock, state: &mut UiState) {
    ui.label("Panels (tabs: drag to split or stack, × to close)");
    for pane in Pane::ALL {
        let mut open = dock.is_open(pane);
        if ui.checkbox(&mut open, pane.title()).changed() {
            dock.set_open(pane, open);
        }
    }
    if ui.button("Reset layout").clicked() {
        *dock = Dock::default();
    }
    ui.separator();
    ui.label(format!("Zoom {:.0}%", prefs.zoom * 100.0));
    if item(ui, "Zoom in", "Ctrl+=", prefs.zoom < super::app::MAX_ZOOM) {
        prefs.zoom = super::app::zoom_step(prefs.zoom, 1);
    }
    if item(ui, "Zoom out", "Ctrl+-", prefs.zoom > super::app::MIN_ZOOM) {
        prefs.zoom = super::app::zoom_step(prefs.zoom, -1);
    }
    if item(ui, "Reset zoom", "Ctrl+0", prefs.zoom != 1.0) {
        prefs.zoom = 1.0;
    }
    ui.separator();
    ui.checkbox(&mut prefs.dark, "Dark theme");
    ui.checkbox(&mut state.present_only, "Present entries only");
    ui.separator();
    if ui.button("Expand all tables").clicked() {
        let m = &doc.lab().machine;
        state.expanded = super::rows::all_table_entries(m, m.active());
    }
    if ui.button("Collapse all tables").clicked() {
        state.expanded.clear();
    }
}

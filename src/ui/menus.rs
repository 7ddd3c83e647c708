//! The menu bar: File, Edit, View, Help. Every action of the app is reachable from here; the
//! commands, their names and their shortcuts come from the one list in `commands`.

use super::commands::{Command, item, item_named};
use super::dock::{Dock, Pane};
use super::state::{Action, Prefs, UiState};
use crate::doc::Document;
use crate::sim::presets;

/// A menu item for `command` that queues it when clicked.
fn command(ui: &mut egui::Ui, command: Command, enabled: bool, actions: &mut Vec<Action>) {
    if item(ui, command, enabled) {
        actions.push(Action::Command(command));
    }
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
        ui.menu_button("File", |ui| file_menu_ui(ui, prefs, state, actions));
        ui.menu_button("Edit", |ui| edit_menu_ui(ui, doc, actions));
        ui.menu_button("View", |ui| view_menu_ui(ui, doc, prefs, dock, state, actions));
        ui.menu_button("Help", |ui| {
            command(ui, Command::LabDescription, true, actions);
            command(ui, Command::Shortcuts, true, actions);
            command(ui, Command::About, true, actions);
        });
    });
}

fn file_menu_ui(ui: &mut egui::Ui, prefs: &mut Prefs, state: &mut UiState, actions: &mut Vec<Action>) {
    ui.menu_button("New", |ui| {
        command(ui, Command::NewLab, true, actions);
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
    command(ui, Command::Open, true, actions);
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
        if ui
            .button("Kernel page-table dump…")
            .on_hover_text("xv6 vmprint(), Linux ptdump, QEMU info mem / info tlb")
            .clicked()
        {
            state.dump_dialog = Some(Default::default());
        }
        if ui.button("Trace for the TLB…").clicked() {
            actions.push(Action::OpenPane(Pane::Tlb));
        }
    });
    ui.separator();
    command(ui, Command::Save, true, actions);
    command(ui, Command::SaveAs, true, actions);
    ui.separator();
    command(ui, Command::Quit, true, actions);
}

fn edit_menu_ui(ui: &mut egui::Ui, doc: &Document, actions: &mut Vec<Action>) {
    let undo = doc.undo_label().map_or("Undo".to_string(), |w| format!("Undo {w}"));
    if item_named(ui, Command::Undo, &undo, doc.can_undo()) {
        actions.push(Action::Command(Command::Undo));
    }
    let redo = doc.redo_label().map_or("Redo".to_string(), |w| format!("Redo {w}"));
    if item_named(ui, Command::Redo, &redo, doc.can_redo()) {
        actions.push(Action::Command(Command::Redo));
    }
    ui.separator();
    command(ui, Command::Map, true, actions);
    command(ui, Command::Unmap, true, actions);
    ui.separator();
    if item_named(ui, Command::LabDescription, "Title and description…", true) {
        actions.push(Action::Command(Command::LabDescription));
    }
}

fn view_menu_ui(
    ui: &mut egui::Ui,
    doc: &Document,
    prefs: &mut Prefs,
    dock: &mut Dock,
    state: &mut UiState,
    actions: &mut Vec<Action>,
) {
    ui.label("Panels (tabs: drag to split or stack, × to close)");
    for pane in Pane::ALL {
        let mut open = dock.is_open(pane);
        if ui.checkbox(&mut open, pane.title()).changed() {
            dock.set_open(pane, open);
        }
    }
    command(ui, Command::ResetLayout, true, actions);
    ui.separator();
    ui.label(format!("Zoom {:.0}%", prefs.zoom * 100.0));
    command(ui, Command::ZoomIn, prefs.zoom < super::app::MAX_ZOOM, actions);
    command(ui, Command::ZoomOut, prefs.zoom > super::app::MIN_ZOOM, actions);
    command(ui, Command::ZoomReset, prefs.zoom != 1.0, actions);
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

//! The process panel: every process with its root (CR3/satp) and ASID; add, clone, rename,
//! delete, switch, and share the kernel half (the upper root entries) with another process.

use super::state::{Action, UiState};
use crate::doc::Edit;
use crate::lab::Lab;
use egui::RichText;

pub fn processes_ui(ui: &mut egui::Ui, lab: &Lab, state: &mut UiState, actions: &mut Vec<Action>) {
    let m = &lab.machine;
    ui.heading("Processes");
    ui.label("Click to switch; the tree and the MMU use the active one.");
    ui.add_space(4.0);
    for (i, p) in m.processes().iter().enumerate() {
        let active = i == m.active();
        if let Some((index, name)) = state.rename.as_mut().filter(|(index, _)| *index == i) {
            let response = ui.text_edit_singleline(name);
            let enter = response.lost_focus() && ui.input(|inp| inp.key_pressed(egui::Key::Enter));
            if enter {
                actions.push(Action::Edit(Edit::RenameProcess {
                    process: *index,
                    name: name.trim().to_string(),
                }));
                state.rename = None;
            } else if ui.input(|inp| inp.key_pressed(egui::Key::Escape)) {
                state.rename = None;
            }
            continue;
        }
        let response = ui
            .selectable_label(active, RichText::new(&p.name).strong())
            .on_hover_text(p.root_register(m.format()));
        let details =
            format!("   root frame {:#x} · ASID {}{}", p.root, p.asid, if active { " · active" } else { "" });
        ui.label(RichText::new(details).small());
        if response.clicked() && !active {
            actions.push(Action::Edit(Edit::SwitchProcess { process: i }));
        }
        response.context_menu(|ui| {
            if ui.button("Rename").clicked() {
                state.rename = Some((i, p.name.clone()));
                ui.close();
            }
            if ui.button("Clone").clicked() {
                actions.push(Action::Edit(Edit::CloneProcess {
                    from: i,
                    name: unique_name(lab, &format!("{}-copy", p.name)),
                }));
                ui.close();
            }
            if ui.add_enabled(m.processes().len() > 1, egui::Button::new("Delete")).clicked() {
                actions.push(Action::Edit(Edit::RemoveProcess { process: i }));
                ui.close();
            }
            ui.separator();
            fork_buttons_ui(ui, lab, i, true, actions);
            ui.separator();
            ui.menu_button("Compare with…", |ui| {
                for (j, other) in m.processes().iter().enumerate().filter(|(j, _)| *j != i) {
                    if ui.button(&other.name).clicked() {
                        state.compare = Some(super::compare_view::CompareView::new(i, j));
                        ui.close();
                    }
                }
            });
        });
    }
    ui.separator();
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut state.new_process_name)
                .hint_text("new process name")
                .desired_width(120.0),
        );
        if ui.button("Add").clicked() {
            let wanted = state.new_process_name.trim();
            let name = if wanted.is_empty() { unique_name(lab, "proc") } else { wanted.to_string() };
            actions.push(Action::Edit(Edit::AddProcess { name }));
            state.new_process_name.clear();
        }
    });
    ui.horizontal_wrapped(|ui| {
        let active = m.active();
        if ui.button("Clone active").clicked() {
            let name = unique_name(lab, &format!("{}-copy", m.active_process().name));
            actions.push(Action::Edit(Edit::CloneProcess { from: active, name }));
        }
        if ui.button("Rename").clicked() {
            state.rename = Some((active, m.active_process().name.clone()));
        }
        fork_buttons_ui(ui, lab, active, false, actions);
        if ui.add_enabled(m.processes().len() > 1, egui::Button::new("Delete")).clicked() {
            actions.push(Action::Edit(Edit::RemoveProcess { process: active }));
        }
    });
    ui.separator();
    let label = ui.label("Share the kernel half (upper root entries) of");
    ui.horizontal(|ui| {
        state.share_from = state.share_from.min(m.processes().len().saturating_sub(1));
        egui::ComboBox::from_id_salt("share-from")
            .selected_text(m.processes().get(state.share_from).map_or("", |p| p.name.as_str()))
            .show_ui(ui, |ui| {
                for (i, p) in m.processes().iter().enumerate() {
                    ui.selectable_value(&mut state.share_from, i, &p.name);
                }
            })
            .response
            .labelled_by(label.id);
        let enabled = state.share_from != m.active();
        if ui
            .add_enabled(enabled, egui::Button::new("into active"))
            .on_hover_text(
                "Copies the upper half of the root table, so both processes use the same kernel tables",
            )
            .clicked()
        {
            actions.push(Action::Edit(Edit::ShareKernelHalf { from: state.share_from, to: m.active() }));
        }
    });
}

/// `base`, or `base-2`, `base-3`, ... whichever no process uses yet.
/// Fork (copy-on-write) and Fork (eager copy) of `process`. The child becomes the active process
/// and the app opens the comparison with its parent, so the shared pages show in the tree and the
/// memory map at once.
fn fork_buttons_ui(ui: &mut egui::Ui, lab: &Lab, process: usize, in_menu: bool, actions: &mut Vec<Action>) {
    let Some(parent) = lab.machine.processes().get(process) else { return };
    let can_cow = crate::sim::fork::CowBit::of(lab.machine.format()).is_some();
    let choices = [
        (
            true,
            "Fork (copy-on-write)",
            "fork(): the child gets its own page tables; user pages are shared read-only and marked copy-on-write, and the first write to one copies it",
        ),
        (
            false,
            "Fork (eager copy)",
            "fork() without copy-on-write: every user page is copied now, for comparison",
        ),
    ];
    for (cow, label, hover) in choices {
        let enabled = !cow || can_cow;
        let response = ui.add_enabled(enabled, egui::Button::new(label)).on_hover_text(hover);
        let response =
            response.on_disabled_hover_text("This format has no free bit to mark copy-on-write pages");
        if response.clicked() {
            let name = unique_name(lab, &format!("{}-child", parent.name));
            actions.push(Action::Edit(Edit::Fork { process, name, cow }));
            if in_menu {
                ui.close();
            }
        }
    }
}

fn unique_name(lab: &Lab, base: &str) -> String {
    let taken = |n: &str| lab.machine.processes().iter().any(|p| p.name == n);
    if !taken(base) {
        return base.to_string();
    }
    (2..).map(|i| format!("{base}-{i}")).find(|n| !taken(n)).unwrap_or_else(|| base.to_string())
}

//! The application: layout of the panels, menus and shortcuts, and the one place where actions
//! emitted by the views are applied to the document.

use super::commands::Command;
use super::dock::{Dock, Pane};
use super::recovery::{Choice, Recovery};
use super::state::{Action, PendingDiscard, Prefs, UiState};
use super::{dialogs, menus, theme};
use crate::doc::{Document, Edit};
use crate::lab::{Lab, io};
use crate::sim::VirtAddr;
use crate::sim::addr::parse_u64;
use std::path::PathBuf;
use std::time::Instant;

const PREFS_KEY: &str = "pagelab-prefs";
const LAYOUT_KEY: &str = "pagelab-layout";
pub const MIN_ZOOM: f32 = 0.5;
pub const MAX_ZOOM: f32 = 3.0;

/// The zoom one step in (`+1`) or out (`-1`) from `zoom`, in tenths, within the limits.
#[allow(clippy::cast_possible_truncation)] // a zoom of 0.5 to 3.0 in tenths
pub fn zoom_step(zoom: f32, direction: i32) -> f32 {
    let tenths = (zoom * 10.0).round() as i32 + direction;
    (tenths as f32 / 10.0).clamp(MIN_ZOOM, MAX_ZOOM)
}

pub struct PagelabApp {
    pub doc: Document,
    pub state: UiState,
    pub prefs: Prefs,
    /// The panels' layout (saved between runs).
    pub dock: Dock,
    /// The TLB in front of the tables, trace playback and plots (not saved, not undone).
    pub tlb: super::tlb_state::TlbSim,
    /// Autosaves of unsaved work and the offer of work a crash left (off unless asked for).
    pub recovery: Recovery,
    actions: Vec<Action>,
    theme_applied: Option<bool>,
    title: String,
}

impl PagelabApp {
    pub fn new(lab: Lab, path: Option<PathBuf>) -> Self {
        let mut app = Self {
            doc: Document::new(lab, path),
            state: UiState::new(),
            prefs: Prefs::default(),
            dock: Dock::default(),
            tlb: super::tlb_state::TlbSim::new(),
            recovery: Recovery::default(),
            actions: Vec::new(),
            theme_applied: None,
            title: String::new(),
        };
        app.reset_view();
        app
    }

    /// Opens `path` at start; a bad file leaves the welcome lab and shows why.
    pub fn with_startup_file(mut self, path: Option<PathBuf>) -> Self {
        if let Some(path) = path {
            self.open(path);
        }
        self
    }

    /// Turns on recovery files (and the offer of what a crash left) with `recovery`.
    pub fn with_recovery(mut self, recovery: Recovery) -> Self {
        self.recovery = recovery;
        self
    }

    /// Restores preferences saved by a previous run.
    pub fn restore(mut self, storage: Option<&dyn eframe::Storage>) -> Self {
        if let Some(prefs) = storage.and_then(|s| eframe::get_value::<Prefs>(s, PREFS_KEY)) {
            self.prefs = prefs;
            self.prefs.zoom = self.prefs.zoom.clamp(MIN_ZOOM, MAX_ZOOM);
        }
        if let Some(dock) = storage.and_then(|s| eframe::get_value::<Dock>(s, LAYOUT_KEY)) {
            self.dock = dock;
        }
        self
    }

    fn reset_view(&mut self) {
        let m = &self.doc.lab().machine;
        self.state.expanded = super::rows::all_table_entries(m, m.active());
        self.state.rows_key = None;
        self.state.selected = None;
        self.state.last_walk = None;
        self.state.history.clear();
        self.state.description_draft = None;
        self.state.exercises = Default::default();
        // The lab suggests its panels: its description where a student looks first, and a
        // course lab's exercises beside the tree.
        let lab = self.doc.lab();
        let (described, exercises) = (!lab.description.trim().is_empty(), !lab.exercises.tasks.is_empty());
        if described {
            self.dock.open(Pane::Description);
        }
        if exercises {
            self.dock.open(Pane::Exercises);
        }
        // A nested lab's walk is two-dimensional: its grid opens below the MMU panel.
        if self.doc.lab().nested.is_some() {
            self.dock.open(Pane::Nested);
        }
        self.tlb.reset(&mut self.doc);
        self.state.tlb.forget_lab();
        self.state.sizes.forget_lab();
        self.state.formats.forget_lab();
        // A new document restarts its generation count: what was cached by generation is stale.
        self.state.frame_map = None;
    }

    /// Queues an action as if a view had emitted it (tests and menus use this).
    pub fn push(&mut self, action: Action) {
        self.actions.push(action);
    }

    /// Draws the whole app into `ui` and applies what the views asked for. Used by the eframe
    /// window, the GUI tests and the frame-time benchmark alike.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if self.theme_applied != Some(self.prefs.dark) {
            theme::apply(&ctx, self.prefs.dark);
            self.theme_applied = Some(self.prefs.dark);
            // Zoom is the app's own command (View ▸ Zoom), kept in the preferences.
            ctx.options_mut(|o| o.zoom_with_keyboard = false);
        }
        if ctx.zoom_factor() != self.prefs.zoom {
            ctx.set_zoom_factor(self.prefs.zoom);
        }
        self.shortcuts(&ctx);
        self.dropped_files(&ctx);
        self.tlb_tick(&ctx);
        let mut actions = std::mem::take(&mut self.actions);
        egui::Panel::top("menu").show(ui, |ui| {
            menus::menu_bar_ui(ui, &self.doc, &mut self.prefs, &mut self.dock, &mut self.state, &mut actions);
        });
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        egui::CentralPanel::default().frame(egui::Frame::new()).show(ui, |ui| {
            let mut views = super::panes::Views {
                doc: &self.doc,
                tlb: &self.tlb,
                state: &mut self.state,
                actions: &mut actions,
                closed: Vec::new(),
            };
            self.dock.tree.ui(&mut views, ui);
            self.dock.keep_minimums();
        });
        dialogs::dialogs_ui(&ctx, &self.doc, &mut self.prefs, &mut self.state, &mut actions);
        super::procmaps_dialog::procmaps_window(&ctx, &mut self.state, &mut actions);
        super::dump_dialog::dump_window(&ctx, &mut self.state, &mut actions);
        let recovery_choice = super::recovery::offer_window(&ctx, &self.recovery);
        // What the actions changed is drawn next frame: ask for it now, not at the next input.
        if !actions.is_empty() || !self.actions.is_empty() {
            ctx.request_repaint();
        }
        for action in actions {
            self.run(action, &ctx);
        }
        if let Some(choice) = recovery_choice {
            self.recovery_choice(choice);
        }
        if let Some(wait) = self.recovery.tick(&self.doc, Instant::now()) {
            ctx.request_repaint_after(wait);
        }
        if let Some(failure) = self.recovery.failure.take() {
            self.state.error(failure);
        }
        self.update_title(&ctx);
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let m = &self.doc.lab().machine;
            let p = m.active_process();
            ui.label(format!(
                "{} · process \"{}\" (ASID {}, {})",
                m.format().name,
                p.name,
                p.asid,
                p.root_register(m.format())
            ));
            ui.separator();
            let color = if self.state.status.error {
                theme::fault_color(self.prefs.dark)
            } else {
                ui.visuals().text_color()
            };
            ui.colored_label(color, &self.state.status.text);
        });
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        for command in Command::pressed(ctx) {
            self.actions.push(Action::Command(command));
        }
    }

    /// Runs a command of the menus or the keyboard.
    fn command(&mut self, command: Command, ctx: &egui::Context) {
        match command {
            Command::NewLab => self.run(Action::New("welcome".into()), ctx),
            Command::Open => self.state.path_dialog = Some(super::state::PathDialog::default()),
            Command::Save => self.run(Action::Save, ctx),
            Command::SaveAs => self.state.path_dialog = Some(dialogs::save_as_dialog(&self.doc)),
            Command::Quit => self.run(Action::Quit, ctx),
            Command::Undo => self.run(Action::Undo, ctx),
            Command::Redo => self.run(Action::Redo, ctx),
            Command::Map => self.state.map_dialog = Some(dialogs::map_dialog_for(self.doc.lab(), None)),
            Command::Unmap => self.state.unmap_dialog = Some(Default::default()),
            Command::ZoomIn => self.prefs.zoom = zoom_step(self.prefs.zoom, 1),
            Command::ZoomOut => self.prefs.zoom = zoom_step(self.prefs.zoom, -1),
            Command::ZoomReset => self.prefs.zoom = 1.0,
            Command::ResetLayout => self.dock = Dock::default(),
            Command::LabDescription => self.dock.open(Pane::Description),
            Command::Shortcuts => self.state.show_shortcuts = true,
            Command::About => self.state.show_about = true,
        }
    }

    fn dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(path) = dropped.into_iter().next() {
            if super::trace_player::looks_like_trace(&path) {
                self.actions.push(Action::Tlb(super::tlb_state::TlbAction::OpenTrace(path)));
            } else {
                self.actions.push(Action::Open(path));
            }
        }
    }

    fn update_title(&mut self, ctx: &egui::Context) {
        let mark = if self.doc.dirty { "● " } else { "" };
        let title = format!("{mark}{} — pagelab", self.doc.display_name());
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    /// The window title (tests read it).
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Writes the student version (or, for `exam`, the copy for grading only) to `path`.
    fn export(&mut self, path: &std::path::Path, exam: bool) {
        let lab = self.doc.lab();
        let (copy, what) = if exam {
            (crate::exercise::exam_version(lab), "the copy for grading only")
        } else {
            (crate::exercise::student_version(lab), "the student version")
        };
        match io::save(&copy, path) {
            Ok(()) => {
                self.state.path_dialog = None;
                self.state.info(format!("exported {what} to {}", path.display()));
            }
            Err(e) => self.state.file_error = Some(format!("Could not write {}:\n{e}", path.display())),
        }
    }

    /// Applies one action.
    pub fn run(&mut self, action: Action, ctx: &egui::Context) {
        match action {
            Action::Edit(edit) => self.edit(&edit),
            Action::New(name) => {
                self.guard_discard(Action::New(name.clone()), |app| match super::new_lab(&name) {
                    Some(lab) => {
                        app.doc = Document::new(lab, None);
                        app.reset_view();
                        app.state.info(format!("new {name} lab"));
                    }
                    None => app.state.error(format!("unknown preset {name}")),
                })
            }
            Action::Open(path) => self.guard_discard(Action::Open(path.clone()), |app| app.open(path)),
            Action::Save => match self.doc.path.clone() {
                Some(path) => self.save_to(path),
                None => self.state.path_dialog = Some(dialogs::save_as_dialog(&self.doc)),
            },
            Action::SaveAs(path) => self.save_to(path),
            Action::ExportStudent(path) => self.export(&path, false),
            Action::ExportExam(path) => self.export(&path, true),
            Action::Undo => match self.doc.undo() {
                Some(what) => {
                    // The undo reverted what the last access wrote, if it was that step.
                    self.state.last_walk = None;
                    self.state.info(format!("undid {what}"))
                }
                None => self.state.info("nothing to undo"),
            },
            Action::Redo => match self.doc.redo() {
                Some(what) => self.state.info(format!("redid {what}")),
                None => self.state.info("nothing to redo"),
            },
            Action::RevealVa(va) => {
                let m = &self.doc.lab().machine;
                let (expand, leaf) = super::rows::path_to(m, m.active(), va);
                self.state.expanded.extend(expand);
                self.state.selected = leaf;
                self.state.scroll_to_entry = leaf;
            }
            Action::RevealTable(addr) => {
                let m = &self.doc.lab().machine;
                match super::rows::path_to_table(m, m.active(), addr) {
                    Some(chain) => {
                        let last = chain.last().copied();
                        self.state.expanded.extend(chain);
                        self.state.selected = last;
                        self.state.scroll_to_entry = last;
                    }
                    None => self.state.info(format!(
                        "the table at {addr:#x} is not in process \"{}\"'s tree",
                        m.active_process().name
                    )),
                }
            }
            Action::Translate { va, access, mode, process } => self.translate(va, access, mode, process),
            Action::SetOs(settings) => self.edit(&Edit::SetOs(settings)),
            Action::Command(command) => self.command(command, ctx),
            Action::OpenPane(pane) => self.dock.open(pane),
            Action::Tlb(action) => self.run_tlb(action),
            Action::ImportDump(path, kind) => {
                self.guard_discard(Action::ImportDump(path.clone(), kind), |app| {
                    match super::dump_dialog::import(&path, kind) {
                        Ok((lab, message)) => {
                            app.doc = Document::new(lab, None);
                            app.reset_view();
                            app.state.dump_dialog = None;
                            app.state.info(message);
                        }
                        Err(e) => {
                            if let Some(dialog) = app.state.dump_dialog.as_mut() {
                                dialog.error = Some(e.clone());
                            }
                            app.state.error(e);
                        }
                    }
                })
            }
            Action::ImportProcMaps(request) => {
                self.guard_discard(Action::ImportProcMaps(request.clone()), |app| {
                    match super::procmaps_dialog::import(&request) {
                        Ok((lab, message)) => {
                            app.doc = Document::new(lab, None);
                            app.reset_view();
                            app.state.procmaps_dialog = None;
                            app.dock.open(Pane::Tlb);
                            app.state.info(message);
                        }
                        Err(e) => {
                            if let Some(dialog) = app.state.procmaps_dialog.as_mut() {
                                dialog.error = Some(e.clone());
                            }
                            app.state.error(e);
                        }
                    }
                })
            }
            Action::DiscardChanges => {
                self.doc.dirty = false;
                if let Some(pending) = self.state.pending_discard.take() {
                    self.run(pending.then, ctx);
                }
            }
            Action::Quit => self.guard_discard(Action::Quit, |app| {
                app.state.allow_close = true;
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }),
        }
    }

    /// Runs `then` now if there is nothing to lose, else asks first.
    fn guard_discard(&mut self, action: Action, then: impl FnOnce(&mut Self)) {
        if self.doc.dirty {
            self.state.pending_discard = Some(PendingDiscard { then: action });
            return;
        }
        self.state.pending_discard = None;
        then(self);
    }

    fn edit(&mut self, edit: &Edit) {
        match self.doc.apply(edit) {
            Ok(applied) => {
                if let Some(t) = applied.translation {
                    self.record_history(&t);
                    self.state.last_walk = Some(t);
                }
                if matches!(
                    edit,
                    Edit::SwitchProcess { .. }
                        | Edit::AddProcess { .. }
                        | Edit::CloneProcess { .. }
                        | Edit::Fork { .. }
                        | Edit::RemoveProcess { .. }
                ) {
                    let m = &self.doc.lab().machine;
                    self.state.expanded.extend(super::rows::all_table_entries(m, m.active()));
                    self.state.selected = None;
                }
                match edit {
                    Edit::Map { request, .. } => {
                        self.state.map_dialog = None;
                        self.actions.push(Action::RevealVa(request.va.get()));
                    }
                    // What fork shares shows at once: the comparison with the parent marks it in
                    // the tree and the memory map.
                    Edit::Fork { process, .. } => {
                        if let Some(report) = &applied.fork {
                            self.state.compare =
                                Some(super::compare_view::CompareView::new(*process, report.child));
                        }
                    }
                    Edit::Unmap { .. } => self.state.unmap_dialog = None,
                    _ => {}
                }
                self.state.info(applied.message);
            }
            Err(e) => {
                // Show the error where the user is looking: in the dialog that asked for it.
                let message = e.to_string();
                match (edit, self.state.map_dialog.as_mut(), self.state.unmap_dialog.as_mut()) {
                    (Edit::Map { .. }, Some(dialog), _) => dialog.error = Some(message.clone()),
                    (Edit::Unmap { .. }, _, Some(dialog)) => dialog.error = Some(message.clone()),
                    _ => {}
                }
                self.state.error(format!("{}: {message}", edit.describe()));
            }
        }
    }

    fn translate(&mut self, va: u64, access: crate::sim::Access, mode: crate::sim::Mode, process: usize) {
        self.state.mmu.addr_text = format!("{va:#x}");
        self.state.mmu.access = access;
        self.state.mmu.mode = mode;
        if self.state.mmu.dry_run {
            match self.doc.lab().machine.translate(process, VirtAddr::new(va), access, mode) {
                Ok(mut t) => {
                    // A dry run writes nothing: there is nothing for "The last access wrote".
                    t.ad_updates.clear();
                    self.record_history(&t);
                    self.state.last_walk = Some(t);
                    self.state.info(format!("dry run of {va:#x}: memory untouched"));
                }
                Err(e) => self.state.error(e.to_string()),
            }
        } else if process != self.doc.lab().machine.active() {
            // A re-run from the history of another process: its tables, without the TLB.
            self.edit(&Edit::Access { process, va: VirtAddr::new(va), access, mode });
        } else {
            // Through the TLB, in the active address space, as the CPU does.
            match self.perform_through_tlb(va, access, mode) {
                Ok((t, message, outcome)) => {
                    // The history says what the access did (a TLB hit may use a stale entry),
                    // not what the tables say now.
                    self.record_history_as(&t, Some(outcome));
                    self.state.last_walk = Some(t);
                    self.state.info(message);
                }
                Err(e) => self.state.error(e),
            }
        }
    }

    fn record_history(&mut self, t: &crate::sim::Translation) {
        self.record_history_as(t, None);
    }

    /// Records an access in the history: with `outcome`, what the access through the TLB gave,
    /// else what the walk `t` gave.
    fn record_history_as(
        &mut self,
        t: &crate::sim::Translation,
        outcome: Option<crate::sim::replay::PageResult>,
    ) {
        use crate::sim::replay::PageResult;
        let m = &self.doc.lab().machine;
        let arch = m.format().arch;
        let outcome = outcome.unwrap_or(match t.fault() {
            Some(f) => PageResult::Fault(f.kind),
            None => PageResult::Mapped { pa: t.pa().unwrap_or_default() },
        });
        let summary = match outcome {
            PageResult::Fault(kind) => format!("fault: {}", kind.describe_in(arch)),
            PageResult::Mapped { pa } => format!("-> {}", crate::sim::addr::hex_grouped(pa.get())),
        };
        self.state.history.insert(
            0,
            super::state::HistoryItem {
                process: m.active(),
                va: t.va.get(),
                access: t.access,
                mode: t.mode,
                summary,
                fault: matches!(outcome, PageResult::Fault(_)),
            },
        );
        self.state.history.truncate(50);
    }

    pub fn open(&mut self, path: PathBuf) {
        match io::load(&path) {
            Ok(lab) => {
                self.prefs.remember(&path);
                self.state.info(format!("opened {}", path.display()));
                self.doc = Document::new(lab, Some(path));
                self.reset_view();
                self.state.file_error = None;
                self.state.path_dialog = None;
            }
            Err(e) => {
                let message =
                    format!("Could not open {}:\n{e}\n\nThe current lab is unchanged.", path.display());
                self.state.error(format!("could not open {}", path.display()));
                self.state.file_error = Some(message);
            }
        }
    }

    fn save_to(&mut self, path: PathBuf) {
        match self.doc.save_to(path.clone()) {
            Ok(()) => {
                self.prefs.remember(&path);
                self.state.path_dialog = None;
                self.state.info(format!("saved {}", path.display()));
            }
            Err(e) => {
                self.state.error(format!("could not save {}", path.display()));
                self.state.file_error = Some(format!(
                    "Could not save {}:\n{e}\n\nThe lab is still open and unsaved.",
                    path.display()
                ));
            }
        }
    }

    /// Applies the answer to the offer of work that a crashed app left.
    fn recovery_choice(&mut self, choice: Choice) {
        match choice {
            Choice::Restore(work) => {
                let kept = self.recovery.adopt(&work);
                let when = crate::lab::recovery::describe_time(work.saved_at, std::time::SystemTime::now());
                self.doc = Document::new(work.lab, work.source);
                // Still unsaved: Save writes it to its lab, the recovery file keeps it till then.
                self.doc.dirty = true;
                self.reset_view();
                match kept {
                    Ok(()) => self.state.info(format!("restored unsaved work from {when}")),
                    Err(e) => {
                        self.state.error(format!("restored the work, but its recovery file stays: {e}"))
                    }
                }
            }
            Choice::Discard(work) => match self.recovery.discard(&work) {
                Ok(()) => self.state.info("discarded the unsaved work of the last session"),
                Err(e) => self.state.error(format!("could not remove {}: {e}", work.file.display())),
            },
        }
    }

    /// Parses the MMU panel's address field.
    pub fn typed_address(&self) -> Option<u64> {
        parse_u64(&self.state.mmu.addr_text).ok()
    }
}

impl eframe::App for PagelabApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if ctx.input(|i| i.viewport().close_requested()) && self.doc.dirty && !self.state.allow_close {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.state.pending_discard = Some(PendingDiscard { then: Action::Quit });
        }
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, PREFS_KEY, &self.prefs);
        eframe::set_value(storage, LAYOUT_KEY, &self.dock);
        // Also called at shutdown: a clean document's recovery file goes before the process does.
        self.recovery.tick(&self.doc, Instant::now());
        self.recovery.wait_for_writer();
    }
}

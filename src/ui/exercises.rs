//! The exercises panel. Student mode: the task list with progress and score, the selected
//! task's prompt, an answer form for its kind, Check with immediate feedback, hints on request
//! and the explanation once answered. Instructor mode: tasks made from what is on screen (the
//! MMU panel's translation, the selected entry's state, a number, a choice), the task editor
//! (task_editor.rs), author-time checks, locks, a student preview and the exports.

use super::state::{Action, PathDialog, UiState};
use super::task_editor::{TaskDraft, edit_task_ui, new_kinds_ui};
use super::theme;
use crate::doc::Edit;
use crate::exercise::{
    self, Answer, LockTarget, Question, TaskReport, author, check_task, grade, reveal_hint, submit,
};
use crate::lab::Lab;
use crate::sim::addr::parse_u64;
use crate::sim::{Access, FaultKind, Mode};
use egui::RichText;
use std::collections::BTreeSet;

/// Who is using the panel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    #[default]
    Student,
    Instructor,
}

/// The panel's own state: the selected task and the answer being typed.
#[derive(Clone, Debug, Default)]
pub struct ExerciseUi {
    pub role: Role,
    pub selected: Option<String>,
    pub pa_text: String,
    pub byte_text: String,
    pub says_fault: bool,
    pub fault: Option<FaultKind>,
    pub number_text: String,
    pub choice: BTreeSet<usize>,
    pub feedback: Option<TaskReport>,
    pub error: Option<String>,
    pub new_id: String,
    /// The texts being typed for a task, kept across frames until they are saved (Enter or
    /// leaving the field), so no keystroke is lost.
    pub draft: Option<TaskDraft>,
    /// The number "Ask this number" asks (an index into its list).
    pub number_query: usize,
    /// The randomize declarations form and the variant preview.
    pub randomize: super::randomize_view::RandomizeUi,
    /// The last "Check before release" (every author-time check, variants included).
    pub release_checks: Option<Vec<exercise::lint::AuthorWarning>>,
}

pub fn exercises_ui(ui: &mut egui::Ui, lab: &Lab, state: &mut UiState, actions: &mut Vec<Action>) {
    let dark = ui.visuals().dark_mode;
    let student_copy = lab.exercises.student;
    if student_copy {
        state.exercises.role = Role::Student;
    }
    ui.horizontal(|ui| {
        ui.heading("Exercises");
        if !student_copy {
            ui.selectable_value(&mut state.exercises.role, Role::Student, "Student view");
            ui.selectable_value(&mut state.exercises.role, Role::Instructor, "Instructor");
        }
    });
    let report = grade(lab);
    if lab.exercises.tasks.is_empty() {
        ui.label("This lab has no exercises.");
    } else {
        ui.label(format!(
            "Score {} / {} points, {} of {} tasks answered",
            report.total,
            report.max,
            report.answered(),
            report.tasks.len()
        ));
        ui.add(egui::ProgressBar::new(if report.max == 0 {
            0.0
        } else {
            report.total as f32 / report.max as f32
        }));
    }
    for warning in &report.warnings {
        ui.colored_label(theme::fault_color(dark), warning);
    }
    ui.separator();
    // Author-time checks beside the tasks they concern (the cheap ones, every frame).
    let checks = if state.exercises.role == Role::Instructor {
        exercise::lint::quick_warnings(lab)
    } else {
        Vec::new()
    };
    egui::ScrollArea::vertical().id_salt("exercise-list").max_height(180.0).show(ui, |ui| {
        for (task, result) in lab.exercises.tasks.iter().zip(&report.tasks) {
            let mark = if result.passed {
                "[ok]"
            } else if result.answered {
                "[x] "
            } else {
                "[ ] "
            };
            let title = if task.title.is_empty() { &task.id } else { &task.title };
            let text = format!("{mark} {title} ({} pt)", task.points);
            let selected = state.exercises.selected.as_deref() == Some(task.id.as_str());
            let color = if result.passed {
                theme::ok_color(dark)
            } else if result.answered {
                theme::fault_color(dark)
            } else {
                ui.visuals().text_color()
            };
            if ui.selectable_label(selected, RichText::new(text).color(color)).clicked() {
                select(state, lab, &task.id);
            }
            for w in checks.iter().filter(|w| w.task.as_deref() == Some(task.id.as_str())) {
                ui.label(
                    RichText::new(format!("    ! {}", w.message)).small().color(theme::fault_color(dark)),
                );
            }
        }
    });
    ui.separator();
    let Some(id) = state.exercises.selected.clone().filter(|id| lab.exercises.task(id).is_some()) else {
        ui.label("Select a task to see it.");
        if state.exercises.role == Role::Instructor {
            authoring_ui(ui, lab, state, actions);
        }
        return;
    };
    task_ui(ui, lab, &id, state, actions);
    if state.exercises.role == Role::Instructor {
        ui.separator();
        edit_task_ui(ui, lab, &id, state, actions);
        authoring_ui(ui, lab, state, actions);
    }
}

fn select(state: &mut UiState, lab: &Lab, id: &str) {
    let ex = &mut state.exercises;
    ex.selected = Some(id.to_string());
    ex.feedback = None;
    ex.error = None;
    ex.pa_text.clear();
    ex.byte_text.clear();
    ex.number_text.clear();
    ex.choice.clear();
    ex.says_fault = false;
    ex.fault = None;
    // Show the saved answer, so work continues where it stopped.
    match lab.exercises.task(id).and_then(|t| t.answer.clone()) {
        Some(Answer::Address { pa, byte }) => {
            ex.pa_text = format!("{pa:#x}");
            ex.byte_text = byte.map(|b| format!("{b:#04x}")).unwrap_or_default();
        }
        Some(Answer::Fault(kind)) => {
            ex.says_fault = true;
            ex.fault = Some(kind);
        }
        Some(Answer::Number(text)) => ex.number_text = text,
        Some(Answer::Choice(set)) => ex.choice = set,
        Some(Answer::Checked) | None => {}
    }
}

/// Replaces the lab's exercises with `f` applied to a copy (one undoable edit).
pub(super) fn change_exercises(lab: &Lab, actions: &mut Vec<Action>, f: impl FnOnce(&mut Lab)) {
    let mut copy = lab.clone();
    f(&mut copy);
    if copy.exercises != lab.exercises {
        actions.push(Action::Edit(Edit::SetExercises(Box::new(copy.exercises))));
    }
}

fn task_ui(ui: &mut egui::Ui, lab: &Lab, id: &str, state: &mut UiState, actions: &mut Vec<Action>) {
    let dark = ui.visuals().dark_mode;
    let Some(task) = lab.exercises.task(id) else { return };
    ui.strong(if task.title.is_empty() { &task.id } else { &task.title });
    ui.label(format!("{} point{}", task.points, if task.points == 1 { "" } else { "s" }));
    for line in task.prompt.lines() {
        ui.label(line.replace(['`', '*'], ""));
    }
    match &task.question {
        Question::Translate(q) => {
            ui.label(
                RichText::new(format!(
                    "Process \"{}\", {} {} access to {}",
                    q.process,
                    q.mode.label(),
                    q.access.label(),
                    crate::sim::addr::hex_grouped(q.va.get())
                ))
                .monospace(),
            );
            let ex = &mut state.exercises;
            ui.horizontal(|ui| {
                ui.radio_value(&mut ex.says_fault, false, "It reaches a physical address");
                ui.radio_value(&mut ex.says_fault, true, "It faults");
            });
            if ex.says_fault {
                let selected = ex.fault.map_or("choose the fault kind", |k| k.describe());
                egui::ComboBox::from_label("Fault kind").selected_text(selected).show_ui(ui, |ui| {
                    for kind in FaultKind::ALL {
                        ui.selectable_value(&mut ex.fault, Some(kind), kind.describe());
                    }
                });
            } else {
                ui.horizontal(|ui| {
                    let label = ui.label("Physical address:");
                    ui.add(egui::TextEdit::singleline(&mut ex.pa_text).desired_width(160.0))
                        .labelled_by(label.id);
                    if q.ask_byte {
                        let label = ui.label("Byte:");
                        ui.add(egui::TextEdit::singleline(&mut ex.byte_text).desired_width(60.0))
                            .labelled_by(label.id);
                    }
                });
            }
        }
        Question::Goal(_) => {
            ui.label("Edit the lab until the goal holds, then check.");
        }
        Question::Numeric(q) => {
            ui.horizontal(|ui| {
                let label = ui.label("Answer:");
                ui.add(egui::TextEdit::singleline(&mut state.exercises.number_text).desired_width(160.0))
                    .labelled_by(label.id);
                ui.label(&q.unit);
            });
        }
        Question::Choice(q) => {
            for (i, option) in q.options.iter().enumerate() {
                let mut on = state.exercises.choice.contains(&i);
                let text = option.replace(['`', '*'], "");
                let changed = if q.multiple {
                    ui.checkbox(&mut on, text).changed()
                } else {
                    let clicked = ui.radio(on, text).clicked();
                    if clicked {
                        on = true;
                    }
                    clicked
                };
                if changed {
                    if !q.multiple {
                        state.exercises.choice.clear();
                    }
                    if on {
                        state.exercises.choice.insert(i);
                    } else {
                        state.exercises.choice.remove(&i);
                    }
                }
            }
        }
    }
    ui.horizontal(|ui| {
        if ui.button("Check").clicked() {
            match answer_from_form(&task.question, &state.exercises) {
                Ok(answer) => {
                    let mut copy = lab.clone();
                    match submit(&mut copy, id, answer) {
                        Ok(report) => {
                            state.exercises.feedback = Some(report);
                            state.exercises.error = None;
                            if copy.exercises != lab.exercises {
                                actions.push(Action::Edit(Edit::SetExercises(Box::new(copy.exercises))));
                            }
                        }
                        Err(e) => state.exercises.error = Some(e.to_string()),
                    }
                }
                Err(e) => state.exercises.error = Some(e),
            }
        }
        let more_hints = (task.hints_shown as usize) < task.hints.len();
        if ui.add_enabled(more_hints, egui::Button::new("Show a hint")).clicked() {
            change_exercises(lab, actions, |copy| {
                let _ = reveal_hint(copy, id);
            });
        }
    });
    if let Some(err) = &state.exercises.error {
        ui.colored_label(theme::fault_color(dark), err);
    }
    let report = state
        .exercises
        .feedback
        .clone()
        .filter(|r| r.id == id)
        .or_else(|| task.answer.as_ref().and_then(|_| check_task(lab, id).ok()));
    if let Some(r) = report {
        let color = if r.passed { theme::ok_color(dark) } else { theme::fault_color(dark) };
        let verdict = if r.passed { "Right" } else { "Not yet" };
        ui.colored_label(color, format!("{verdict}: {} ({} / {} points)", r.feedback, r.earned, r.points));
        if let Some(explanation) = r.explanation.filter(|e| !e.is_empty()) {
            ui.label(RichText::new("Explanation").strong());
            for line in explanation.lines() {
                ui.label(line.replace(['`', '*'], ""));
            }
        }
    }
    for (i, hint) in task.shown_hints().iter().enumerate() {
        ui.label(format!("Hint {}: {}", i + 1, hint.replace(['`', '*'], "")));
    }
}

fn answer_from_form(question: &Question, form: &ExerciseUi) -> Result<Answer, String> {
    match question {
        Question::Translate(q) => {
            if form.says_fault {
                return form.fault.map(Answer::Fault).ok_or_else(|| "Choose the kind of fault.".to_string());
            }
            let pa = parse_u64(&form.pa_text).map_err(|e| format!("Physical address: {e}"))?;
            let byte = if q.ask_byte {
                let value = parse_u64(&form.byte_text).map_err(|e| format!("Byte: {e}"))?;
                Some(u8::try_from(value).map_err(|_| format!("Byte: {value:#x} is more than one byte"))?)
            } else {
                None
            };
            Ok(Answer::Address { pa, byte })
        }
        Question::Goal(_) => Ok(Answer::Checked),
        Question::Numeric(_) => {
            if form.number_text.trim().is_empty() {
                Err("Type a number first.".into())
            } else {
                Ok(Answer::Number(form.number_text.trim().to_string()))
            }
        }
        Question::Choice(_) => {
            if form.choice.is_empty() {
                Err("Choose an option first.".into())
            } else {
                Ok(Answer::Choice(form.choice.clone()))
            }
        }
    }
}

/// Creating tasks from what is on screen, locks, preview and export.
fn authoring_ui(ui: &mut egui::Ui, lab: &Lab, state: &mut UiState, actions: &mut Vec<Action>) {
    let dark = ui.visuals().dark_mode;
    let m = &lab.machine;
    ui.separator();
    ui.label(RichText::new("Author").strong());
    ui.horizontal(|ui| {
        let label = ui.label("New task id:");
        ui.add(egui::TextEdit::singleline(&mut state.exercises.new_id).hint_text("t1").desired_width(90.0))
            .labelled_by(label.id);
    });
    let id = if state.exercises.new_id.trim().is_empty() {
        format!("t{}", lab.exercises.tasks.len() + 1)
    } else {
        state.exercises.new_id.trim().to_string()
    };
    let va = parse_u64(&state.mmu.addr_text).ok();
    let (access, mode): (Access, Mode) = (state.mmu.access, state.mmu.mode);
    let ask = ui.add_enabled(va.is_some(), egui::Button::new("Ask this translation")).on_hover_text(
        "A translate task for the MMU panel's address, access and mode in the active process; the answer is sealed from the lab as it is now",
    );
    if ask.clicked()
        && let Some(va) = va
    {
        let result =
            author::ask_translation(lab, &id, m.active(), crate::sim::VirtAddr::new(va), access, mode, true);
        add_task(lab, result, state, actions, &id);
    }
    let selected_row =
        state.selected.and_then(|addr| state.rows.iter().find(|r| r.entry_addr == addr)).copied();
    let require = ui
        .add_enabled(selected_row.is_some(), egui::Button::new("Require the selected entry's state"))
        .on_hover_text("A goal task: the selected entry must look as it does now");
    if require.clicked()
        && let Some(row) = selected_row
    {
        let result = author::require_entry_state(lab, &id, m.active(), row.va, row.level);
        add_task(lab, result, state, actions, &id);
    }
    new_kinds_ui(ui, lab, &id, state, actions, add_task);
    ui.separator();
    super::randomize_view::randomize_ui(ui, lab, state, actions);
    ui.separator();
    ui.horizontal_wrapped(|ui| {
        let process = &m.active_process().name;
        let locked = lab.locks.processes.contains(process);
        let text = if locked {
            format!("Unlock process \"{process}\"")
        } else {
            format!("Lock process \"{process}\"")
        };
        if ui.button(text).clicked() {
            let mut locks = lab.locks.clone();
            if locked {
                locks.unlock(LockTarget::Process(process));
            } else {
                locks.lock(LockTarget::Process(process));
            }
            actions.push(Action::Edit(Edit::SetLocks(locks)));
        }
        if let Some(row) = selected_row {
            let locked = lab.locks.entries.contains(&row.entry_addr);
            let text = if locked { "Unlock selected entry" } else { "Lock selected entry" };
            if ui.button(text).clicked() {
                let mut locks = lab.locks.clone();
                if locked {
                    locks.unlock(LockTarget::Entry(row.entry_addr));
                } else {
                    locks.lock(LockTarget::Entry(row.entry_addr));
                }
                actions.push(Action::Edit(Edit::SetLocks(locks)));
            }
        }
    });
    if !lab.locks.is_empty() {
        ui.label(format!(
            "Locked: {} process(es), {} entr{}",
            lab.locks.processes.len(),
            lab.locks.entries.len(),
            if lab.locks.entries.len() == 1 { "y" } else { "ies" }
        ));
    }
    ui.horizontal(|ui| {
        if ui.button("Preview as student").clicked() {
            state.exercises.role = Role::Student;
        }
        if ui.button("Export student version...").clicked() {
            let path = "student.json".to_string();
            state.path_dialog =
                Some(PathDialog { path, save: true, error: None, export_student: true, export_exam: false });
        }
        let exam = ui.button("Export for grading only...").on_hover_text(
            "A student copy with no keys and no explanations: nothing can be checked on the student's machine; grade it with pagelab check --reference",
        );
        if exam.clicked() {
            let path = "exam.json".to_string();
            state.path_dialog =
                Some(PathDialog { path, save: true, error: None, export_student: true, export_exam: true });
        }
    });
    if ui.button("Check before release").on_hover_text("Every author-time check, variants included").clicked()
    {
        state.exercises.release_checks = Some(exercise::lint::author_warnings(lab));
    }
    if let Some(found) = &state.exercises.release_checks {
        if found.is_empty() {
            ui.colored_label(theme::ok_color(dark), "No problems found.");
        }
        for w in found {
            let task = w.task.as_ref().map(|t| format!("{t}: ")).unwrap_or_default();
            ui.colored_label(theme::fault_color(dark), format!("{task}{}", w.message));
        }
    }
    if let Some(err) = &state.exercises.error {
        ui.colored_label(theme::fault_color(dark), err);
    }
}

/// Whether `task` is a goal that the lab already meets.
fn goal_already_met(task: &exercise::Task, lab: &Lab) -> bool {
    match &task.question {
        exercise::Question::Goal(goal) => goal.condition.evaluate(&lab.machine).passed,
        _ => false,
    }
}

fn add_task(
    lab: &Lab,
    result: Result<exercise::Task, exercise::ExerciseError>,
    state: &mut UiState,
    actions: &mut Vec<Action>,
    id: &str,
) {
    match result {
        Ok(task) => {
            let mut copy = lab.clone();
            let met = goal_already_met(&task, lab);
            match author::add_task(&mut copy, task) {
                Ok(()) => {
                    actions.push(Action::Edit(Edit::SetExercises(Box::new(copy.exercises))));
                    state.exercises.selected = Some(id.to_string());
                    state.exercises.new_id.clear();
                    // Said where the instructor is looking: the handout would start solved.
                    state.exercises.error = met.then(|| {
                        format!(
                            "Task {id} already holds in the lab as it is, so a student copy would start with its points. \
                             Now put the entry in the state students start from (the goal keeps the state you required)."
                        )
                    });
                }
                Err(e) => state.exercises.error = Some(e.to_string()),
            }
        }
        Err(e) => state.exercises.error = Some(e.to_string()),
    }
}

//! The instructor's editor for one task: title, Markdown prompt, points, hints (one a line),
//! explanation, the options and right answers of a multiple-choice task, the feedback policy
//! and the Gradescope visibility; and the buttons that make numeric and multiple-choice tasks.
//!
//! Text is typed into a draft kept in the UI state (so no keystroke is lost between frames)
//! and committed as one undoable step when the field is left or Enter is pressed.

use super::exercises::change_exercises;
use super::state::{Action, UiState};
use crate::exercise::{FeedbackPolicy, NumericQuery, Question, Reveal, Task, Visibility, author};
use crate::lab::Lab;
use egui::RichText;
use std::collections::BTreeSet;

/// The texts of a task as the editor shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskTexts {
    pub title: String,
    pub prompt: String,
    /// One hint a line.
    pub hints: String,
    pub explanation: String,
    /// Multiple choice: one option a line.
    pub options: String,
    /// Multiple choice: the right options' numbers (from 1), comma-separated.
    pub correct: String,
}

impl TaskTexts {
    pub fn of(task: &Task) -> Self {
        let (options, correct) = match &task.question {
            Question::Choice(q) => (
                q.options.join("\n"),
                q.correct.iter().flatten().map(|i| (i + 1).to_string()).collect::<Vec<_>>().join(", "),
            ),
            _ => (String::new(), String::new()),
        };
        Self {
            title: task.title.clone(),
            prompt: task.prompt.clone(),
            hints: task.hints.join("\n"),
            explanation: task.explanation.clone(),
            options,
            correct,
        }
    }
}

/// The draft of the task being edited, and the stored texts it started from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskDraft {
    pub id: String,
    pub texts: TaskTexts,
    source: TaskTexts,
}

/// Parses "1, 3" into option indices {0, 2}; refuses numbers outside 1..=options.
fn parse_correct(text: &str, options: usize) -> Result<BTreeSet<usize>, String> {
    let mut out = BTreeSet::new();
    for part in text.split([',', ' ']).filter(|p| !p.trim().is_empty()) {
        let n: usize = part.trim().parse().map_err(|_| format!("{part:?} is not an option number"))?;
        if n == 0 || n > options {
            return Err(format!("there is no option {n} ({options} options)"));
        }
        out.insert(n - 1);
    }
    if out.is_empty() {
        return Err("name at least one right option".into());
    }
    Ok(out)
}

/// Applies the draft's texts to `task`; the error says what cannot be applied.
fn apply(task: &mut Task, texts: &TaskTexts) -> Result<(), String> {
    task.title = texts.title.clone();
    task.prompt = texts.prompt.clone();
    task.hints = texts.hints.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    task.explanation = texts.explanation.clone();
    if let Question::Choice(q) = &mut task.question {
        let options: Vec<String> =
            texts.options.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
        if options.len() < 2 {
            return Err("a multiple-choice task needs at least two options".into());
        }
        let correct = parse_correct(&texts.correct, options.len())?;
        q.multiple = correct.len() > 1;
        q.options = options;
        q.correct = Some(correct);
    }
    Ok(())
}

/// The editor of task `id`.
pub fn edit_task_ui(ui: &mut egui::Ui, lab: &Lab, id: &str, state: &mut UiState, actions: &mut Vec<Action>) {
    let Some(task) = lab.exercises.task(id) else { return };
    ui.label(RichText::new("Edit this task").strong());
    // The draft starts again from the task when another task is edited or the stored text
    // changed (an undo, a save from elsewhere).
    let source = TaskTexts::of(task);
    let fresh = state.exercises.draft.as_ref().is_some_and(|d| d.id == id && d.source == source);
    if !fresh {
        state.exercises.draft = Some(TaskDraft { id: id.to_string(), texts: source.clone(), source });
    }
    let Some(draft) = state.exercises.draft.as_mut() else { return };
    let mut points = task.points;
    let mut changed = false;
    // Wraps, so Points stays in view in a narrow docked column.
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Title:");
        let title =
            egui::TextEdit::singleline(&mut draft.texts.title).id_salt((id, "title")).desired_width(180.0);
        changed |= ui.add(title).labelled_by(label.id).lost_focus();
        let label = ui.label("Points:");
        changed |= ui.add(egui::DragValue::new(&mut points).range(0..=1000)).labelled_by(label.id).changed();
    });
    // Fixed ids: a field keeps its focus when the layout above it changes after a commit.
    let multiline = |ui: &mut egui::Ui, name: &str, text: &mut String, rows: usize| {
        let label = ui.label(name);
        let field = egui::TextEdit::multiline(text).id_salt((id, name)).desired_rows(rows);
        ui.add(field).labelled_by(label.id).lost_focus()
    };
    changed |= multiline(ui, "Prompt (Markdown):", &mut draft.texts.prompt, 3);
    // The prompt as students will see it, from the text being typed (before it is committed).
    egui::CollapsingHeader::new("Preview of the prompt").id_salt((id, "prompt-preview")).show(ui, |ui| {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            egui_commonmark::CommonMarkViewer::new().show(ui, &mut state.markdown, &draft.texts.prompt);
        });
    });
    if matches!(task.question, Question::Choice(_)) {
        changed |= multiline(ui, "Options (one a line):", &mut draft.texts.options, 3);
        ui.horizontal(|ui| {
            let label = ui.label("Right options (numbers):");
            let field = egui::TextEdit::singleline(&mut draft.texts.correct)
                .id_salt((id, "correct"))
                .desired_width(80.0);
            changed |= ui.add(field).labelled_by(label.id).lost_focus();
        });
    }
    changed |= multiline(ui, "Hints (one a line):", &mut draft.texts.hints, 2);
    changed |= multiline(ui, "Explanation (Markdown):", &mut draft.texts.explanation, 2);
    let texts = draft.texts.clone();
    if changed && (texts != TaskTexts::of(task) || points != task.points) {
        let mut copy = lab.clone();
        let result = copy.exercises.task_mut(id).map_or(Ok(()), |t| {
            t.points = points;
            apply(t, &texts)
        });
        let resealed = result.and_then(|()| {
            // A choice task's key follows its options and right answers.
            if matches!(task.question, Question::Choice(_)) {
                author::reseal_task(&mut copy, id).map_err(|e| e.to_string())
            } else {
                Ok(())
            }
        });
        match resealed {
            Ok(()) => {
                state.exercises.error = None;
                actions.push(Action::Edit(crate::doc::Edit::SetExercises(Box::new(copy.exercises))));
            }
            Err(e) => state.exercises.error = Some(format!("Task {id}: {e}")),
        }
    }
    policy_ui(ui, lab, task, actions);
    ui.horizontal(|ui| {
        if ui.button("Delete task").clicked() {
            change_exercises(lab, actions, |copy| {
                let _ = author::remove_task(copy, id);
            });
            state.exercises.selected = None;
        }
        if ui.button("Duplicate").on_hover_text("A copy after this task, with a new id").clicked() {
            let mut copy = lab.clone();
            let new_id = author::unused_id(&copy, id);
            if let Some(index) = copy.exercises.tasks.iter().position(|t| t.id == id) {
                let mut twin = task.clone();
                twin.id = new_id.clone();
                twin.answer = None;
                twin.attempts.clear();
                copy.exercises.tasks.insert(index + 1, twin);
                actions.push(Action::Edit(crate::doc::Edit::SetExercises(Box::new(copy.exercises))));
                state.exercises.selected = Some(new_id);
            }
        }
        let index = lab.exercises.tasks.iter().position(|t| t.id == id).unwrap_or(0);
        if ui.add_enabled(index > 0, egui::Button::new("Move up")).clicked() {
            change_exercises(lab, actions, |copy| {
                let _ = author::move_task(copy, id, index.saturating_sub(1));
            });
        }
        let last = lab.exercises.tasks.len().saturating_sub(1);
        if ui.add_enabled(index < last, egui::Button::new("Move down")).clicked() {
            change_exercises(lab, actions, |copy| {
                let _ = author::move_task(copy, id, (index + 1).min(last));
            });
        }
    });
}

/// When the explanation shows, and when Gradescope shows the result.
fn policy_ui(ui: &mut egui::Ui, lab: &Lab, task: &Task, actions: &mut Vec<Action>) {
    let id = task.id.as_str();
    ui.horizontal_wrapped(|ui| {
        let current = task.feedback.as_ref().map(|p| p.reveal);
        let name = |r: Option<Reveal>| match r {
            None => "as the lab says",
            Some(Reveal::WhenCorrect) => "when right",
            Some(Reveal::AfterAttempts) => "when right or after N tries",
        };
        let mut chosen = current;
        egui::ComboBox::from_label("Explanation shown").selected_text(name(current)).show_ui(ui, |ui| {
            for r in [None, Some(Reveal::WhenCorrect), Some(Reveal::AfterAttempts)] {
                ui.selectable_value(&mut chosen, r, name(r));
            }
        });
        let mut attempts = task.feedback.as_ref().map_or(3, |p| p.attempts);
        let mut attempts_changed = false;
        if chosen == Some(Reveal::AfterAttempts) {
            let label = ui.label("N:");
            attempts_changed =
                ui.add(egui::DragValue::new(&mut attempts).range(1..=99)).labelled_by(label.id).changed();
        }
        if chosen != current || attempts_changed {
            change_exercises(lab, actions, |copy| {
                if let Some(t) = copy.exercises.task_mut(id) {
                    t.feedback = chosen.map(|reveal| FeedbackPolicy {
                        reveal,
                        attempts,
                        ..t.feedback.clone().unwrap_or_default()
                    });
                }
            });
        }
        let mut visibility = task.visibility;
        egui::ComboBox::from_label("Gradescope").selected_text(visibility.id()).show_ui(ui, |ui| {
            for v in Visibility::ALL {
                ui.selectable_value(&mut visibility, v, v.id());
            }
        });
        if visibility != task.visibility {
            change_exercises(lab, actions, |copy| {
                if let Some(t) = copy.exercises.task_mut(id) {
                    t.visibility = visibility;
                }
            });
        }
    });
}

/// The numbers an instructor can ask from the screen, for the active process.
fn number_queries(lab: &Lab) -> Vec<(String, NumericQuery)> {
    let process = lab.machine.active_process().name.clone();
    vec![
        ("Offset bits".into(), NumericQuery::OffsetBits),
        ("Page size".into(), NumericQuery::PageSize),
        ("Levels".into(), NumericQuery::Levels),
        ("Entry bytes".into(), NumericQuery::EntryBytes),
        ("Root index bits".into(), NumericQuery::IndexBits { level: 0 }),
        ("Entries per root table".into(), NumericQuery::EntriesPerTable { level: 0 }),
        ("Linear table bytes".into(), NumericQuery::LinearTableBytes),
        (format!("Table frames of {process}"), NumericQuery::TableFrames { process: process.clone() }),
        (format!("Mapped pages of {process}"), NumericQuery::MappedPages { process }),
    ]
}

/// "Ask this number" and "Ask a choice": new tasks of the other kinds, added like the others.
pub fn new_kinds_ui(
    ui: &mut egui::Ui,
    lab: &Lab,
    id: &str,
    state: &mut UiState,
    actions: &mut Vec<Action>,
    add: impl Fn(&Lab, Result<Task, crate::exercise::ExerciseError>, &mut UiState, &mut Vec<Action>, &str),
) {
    let queries = number_queries(lab);
    ui.horizontal_wrapped(|ui| {
        let index = state.exercises.number_query.min(queries.len().saturating_sub(1));
        let shown = queries.get(index).map_or("", |q| q.0.as_str());
        egui::ComboBox::from_label("Number").selected_text(shown).show_ui(ui, |ui| {
            for (i, (name, _)) in queries.iter().enumerate() {
                ui.selectable_value(&mut state.exercises.number_query, i, name);
            }
        });
        if ui.button("Ask this number").clicked()
            && let Some((_, query)) = queries.get(index)
        {
            let result = author::ask_number(lab, id, 1, query.clone(), None);
            add(lab, result, state, actions, id);
        }
        if ui.button("Ask a choice").on_hover_text("Two options to start with; edit them below").clicked() {
            let result =
                author::ask_choice(id, 1, "Which is right?", &["First option", "Second option"], &[0]);
            add(lab, result, state, actions, id);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_options_are_numbered_from_one() {
        assert_eq!(parse_correct("1, 3", 3), Ok(BTreeSet::from([0, 2])));
        assert!(parse_correct("4", 3).is_err());
        assert!(parse_correct("0", 3).is_err());
        assert!(parse_correct("", 3).is_err());
        assert!(parse_correct("two", 3).is_err());
    }
}

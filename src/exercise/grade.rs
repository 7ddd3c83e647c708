//! Grading: each task's saved answer against its sealed key, each goal against the machine
//! state, with points and a sentence of feedback. Also the student-side actions: submitting an
//! answer and revealing hints.

use super::condition::Verdict;
use super::feedback::{self, Attempt, FeedbackPolicy};
use super::seal;
use super::sealed_text;
use super::task::{Answer, Exercises, Question, Task, TaskKind};
use crate::lab::Lab;
use crate::sim::Machine;
use serde::Serialize;
use thiserror::Error;

/// The result of one task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskReport {
    pub id: String,
    pub kind: TaskKind,
    pub points: u32,
    pub earned: u32,
    pub passed: bool,
    /// The student gave an answer (for goals: asked for a check, or reached the goal).
    pub answered: bool,
    pub feedback: String,
    /// The task's explanation when the feedback policy shows it: once the answer is right, or
    /// after the policy's wrong attempts (`None` before, and for an unreadable answer).
    pub explanation: Option<String>,
    /// Checks recorded in the file.
    pub attempts: u32,
    /// Wrong attempts before the right answer (all of them while it is not right).
    pub wrong_attempts: u32,
    /// The answer was right only after the explanation had been shown (scored with the
    /// policy's `credit_after_reveal`).
    pub after_reveal: bool,
}

/// The result of a whole lab.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub tasks: Vec<TaskReport>,
    pub total: u32,
    pub max: u32,
    /// Problems that do not stop grading (tampered tasks, edited locked parts, ...).
    pub warnings: Vec<String>,
    /// The warnings that say the submission was altered where students should not change it
    /// (tasks that differ from the reference or are missing, locked parts edited); also in
    /// `warnings`.
    pub integrity: Vec<String>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.tasks.iter().filter(|t| t.passed).count()
    }

    pub fn answered(&self) -> usize {
        self.tasks.iter().filter(|t| t.answered).count()
    }
}

/// Why a student action was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ExerciseError {
    #[error("there is no task {0:?}")]
    NoSuchTask(String),
    #[error("a {answer} answer does not fit the {kind} task {id:?}")]
    WrongAnswerKind { id: String, kind: TaskKind, answer: &'static str },
    #[error("task {id:?}: option {index} does not exist")]
    NoSuchOption { id: String, index: usize },
    #[error(transparent)]
    Seal(#[from] seal::SealError),
    #[error(transparent)]
    Machine(#[from] crate::sim::MachineError),
    #[error("task ids must be unique and non-empty: {0:?}")]
    BadId(String),
    #[error("this lab is a student version; {0}")]
    StudentVersion(&'static str),
}

fn answer_name(answer: &Answer) -> &'static str {
    match answer {
        Answer::Address { .. } => "address",
        Answer::Fault(_) => "fault",
        Answer::Number(_) => "number",
        Answer::Choice(_) => "choice",
        Answer::Checked => "check",
    }
}

/// Grades one task against `machine` (the student's state, for goals) under its feedback
/// policy (`lab_policy`: the lab's, for a task with none of its own).
pub fn grade_task(task: &Task, machine: &Machine, lab_policy: Option<&FeedbackPolicy>) -> TaskReport {
    let (passed, answered, mut feedback) = judge(task, machine);
    let policy = FeedbackPolicy::for_task(task, lab_policy);
    // One copy without the attempts to judge each recorded answer on (not a copy per attempt:
    // a file with many attempts stays linear).
    let mut probe = Task { attempts: Vec::new(), ..task.clone() };
    let summary = feedback::summarize(task, |answer| {
        (task.kind() != TaskKind::Goal).then(|| {
            probe.answer = Some(answer.clone());
            judge(&probe, machine).0
        })
    });
    let wrong = summary.wrong_before_right;
    let after_reveal = passed && policy.reveals_after(wrong);
    let earned = if passed { policy.earned(task.points, wrong) } else { 0 };
    if passed && after_reveal {
        feedback = format!(
            "{feedback}, but only after the explanation was shown ({earned} of {} points)",
            task.points
        );
    } else if passed && earned < task.points {
        feedback = format!("{feedback} after {wrong} wrong attempt(s) ({earned} of {} points)", task.points);
    }
    let unreadable = task.answer.as_ref().and_then(|a| feedback::unreadable(&task.question, a));
    let explanation = if unreadable.is_some() {
        None
    } else if passed {
        sealed_text::open_with_answer(task, task.answer.as_ref().unwrap_or(&Answer::Checked))
    } else if policy.reveals_after(wrong) {
        sealed_text::open_after_attempts(task)
    } else {
        None
    };
    TaskReport {
        id: task.id.clone(),
        kind: task.kind(),
        points: task.points,
        earned,
        passed,
        answered,
        feedback,
        explanation: explanation.filter(|e| !e.is_empty()),
        attempts: summary.count,
        wrong_attempts: wrong,
        after_reveal,
    }
}

fn judge(task: &Task, machine: &Machine) -> (bool, bool, String) {
    const NO_KEY: &str = "this task cannot be graded: its expected answer was never sealed";
    let answer = task.answer.as_ref();
    if let Question::Goal(goal) = &task.question {
        let Verdict { passed, detail } = goal.condition.evaluate(machine);
        let answered = passed || answer.is_some();
        let feedback = if passed { format!("done: {detail}") } else { format!("not yet: {detail}") };
        return (passed, answered, feedback);
    }
    let Some(answer) = answer else { return (false, false, "no answer yet".into()) };
    if !answer.fits(task.kind()) {
        return (
            false,
            true,
            format!("a {} answer does not fit this {} task", answer_name(answer), task.kind()),
        );
    }
    match &task.question {
        Question::Translate(q) => {
            let Some(key) = &q.key else { return (false, true, NO_KEY.into()) };
            let Some(check) = seal::check_translate(key, answer) else {
                return (false, true, "not a translation answer".into());
            };
            let feedback = match (check.outcome, check.byte) {
                (true, None | Some(true)) => "correct".to_string(),
                (true, Some(false)) => match answer {
                    Answer::Address { byte: None, .. } => {
                        "the physical address is right; give the byte too".into()
                    }
                    _ => "the physical address is right, the byte is not".into(),
                },
                (false, _) => match answer {
                    Answer::Address { .. } => "not correct: that is not where this access goes".into(),
                    _ => "not correct: that is not how this access ends".into(),
                },
            };
            (check.passed(), true, feedback)
        }
        Question::Numeric(q) => {
            let Some(key) = &q.key else { return (false, true, NO_KEY.into()) };
            let Answer::Number(text) = answer else { return (false, true, "not a number".into()) };
            match seal::check_number(key, text) {
                Ok(true) => (true, true, "correct".into()),
                Ok(false) if q.tolerance.is_some() => {
                    (false, true, "not correct (outside the tolerance)".into())
                }
                Ok(false) => (false, true, "not correct".into()),
                Err(e) => (false, true, e),
            }
        }
        Question::Choice(q) => {
            let Some(key) = &q.key else { return (false, true, NO_KEY.into()) };
            let Answer::Choice(selected) = answer else { return (false, true, "not a choice".into()) };
            if seal::check_choice(key, selected) {
                (true, true, "correct".into())
            } else if q.multiple {
                (false, true, "not correct: the selection is not exactly the right options".into())
            } else {
                (false, true, "not correct".into())
            }
        }
        Question::Goal(_) => (false, false, String::new()),
    }
}

/// Grades every task of `lab` on its own machine.
pub fn grade(lab: &Lab) -> Report {
    grade_tasks(&lab.exercises, &lab.machine)
}

fn grade_tasks(exercises: &Exercises, machine: &Machine) -> Report {
    let policy = exercises.feedback.as_ref();
    let tasks: Vec<TaskReport> = exercises.tasks.iter().map(|t| grade_task(t, machine, policy)).collect();
    let mut warnings = Vec::new();
    if tasks.is_empty() {
        warnings.push("the lab has no exercises".to_string());
    }
    if exercises.exam {
        warnings
            .push("this is an exam copy without keys: grade it with --reference INSTRUCTOR_COPY".to_string());
    }
    Report {
        total: tasks.iter().map(|t| t.earned).fold(0, u32::saturating_add),
        max: tasks.iter().map(|t| t.points).fold(0, u32::saturating_add),
        tasks,
        warnings,
        integrity: Vec::new(),
    }
}

/// Grades a student's lab with the tasks of `reference` (the copy the instructor handed out, or
/// the template regenerated with the student's seed): keys, conditions and points come from the
/// reference, answers and the machine state from the student. Tasks the student changed, tasks
/// missing from the student's file and edits to locked parts are reported as warnings.
pub fn grade_against(student: &Lab, reference: &Lab) -> Report {
    let mut exercises = reference.exercises.clone();
    let mut warnings = Vec::new();
    for task in &mut exercises.tasks {
        task.answer = None;
        match student.exercises.task(&task.id) {
            None => warnings.push(format!("task {:?} is missing from the student's lab", task.id)),
            Some(theirs) => {
                if theirs.question != task.question
                    && !same_question_for_student(&theirs.question, &task.question)
                {
                    warnings.push(format!(
                        "task {:?} differs from the reference; graded with the reference",
                        task.id
                    ));
                }
                task.answer = theirs.answer.clone();
                task.attempts = theirs.attempts.clone();
                task.hints_shown = theirs.hints_shown;
            }
        }
    }
    if let Err(e) = reference.locks.check_change(&reference.machine, &student.machine) {
        warnings.push(format!("a locked part was edited: {e}"));
    }
    let mut report = grade_tasks(&exercises, &student.machine);
    report.warnings.extend(warnings.iter().cloned());
    report.integrity = warnings;
    report
}

/// A reference that is an instructor lab still holds plain sources the student's copy lacks;
/// compare what the student (or exam) version would hold.
fn same_question_for_student(theirs: &Question, reference: &Question) -> bool {
    let mut stripped = reference.clone();
    super::student::strip_question(&mut stripped);
    if &stripped == theirs {
        return true;
    }
    // An exam copy carries no keys either.
    super::student::strip_key(&mut stripped);
    &stripped == theirs
}

/// Stores the student's answer to task `id`, records the attempt with the time now, and grades
/// it at once (immediate feedback). See [`submit_at`].
pub fn submit(lab: &mut Lab, id: &str, answer: Answer) -> Result<TaskReport, ExerciseError> {
    submit_at(lab, id, answer, feedback::now())
}

/// [`submit`] at time `at` (seconds since the Unix epoch). An answer that cannot be read (a
/// number like `four`, an empty selection) is neither stored nor counted: the report carries a
/// format hint and no explanation.
pub fn submit_at(lab: &mut Lab, id: &str, answer: Answer, at: u64) -> Result<TaskReport, ExerciseError> {
    let policy = lab.exercises.feedback.clone();
    let task = lab.exercises.task_mut(id).ok_or_else(|| ExerciseError::NoSuchTask(id.to_string()))?;
    if !answer.fits(task.kind()) {
        return Err(ExerciseError::WrongAnswerKind {
            id: id.to_string(),
            kind: task.kind(),
            answer: answer_name(&answer),
        });
    }
    if let (Answer::Choice(selected), Question::Choice(q)) = (&answer, &task.question)
        && let Some(&index) = selected.iter().find(|&&i| i >= q.options.len())
    {
        return Err(ExerciseError::NoSuchOption { id: id.to_string(), index });
    }
    if let Some(hint) = feedback::unreadable(&task.question, &answer) {
        let mut tried = task.clone();
        tried.answer = Some(answer);
        let mut report = grade_task(&tried, &lab.machine, policy.as_ref());
        report.feedback = hint;
        report.explanation = None;
        return Ok(report);
    }
    task.answer = Some(answer.clone());
    let passed = judge(task, &lab.machine).0;
    task.attempts.push(Attempt { at, answer, passed });
    Ok(grade_task(task, &lab.machine, policy.as_ref()))
}

/// Grades task `id` without changing anything.
pub fn check_task(lab: &Lab, id: &str) -> Result<TaskReport, ExerciseError> {
    let task = lab.exercises.task(id).ok_or_else(|| ExerciseError::NoSuchTask(id.to_string()))?;
    Ok(grade_task(task, &lab.machine, lab.exercises.feedback.as_ref()))
}

/// Reveals the next hint of task `id` and returns it (`None` when all are shown).
pub fn reveal_hint(lab: &mut Lab, id: &str) -> Result<Option<String>, ExerciseError> {
    let task = lab.exercises.task_mut(id).ok_or_else(|| ExerciseError::NoSuchTask(id.to_string()))?;
    let next = usize::try_from(task.hints_shown).unwrap_or(usize::MAX);
    let Some(hint) = task.hints.get(next).cloned() else { return Ok(None) };
    task.hints_shown = task.hints_shown.saturating_add(1);
    Ok(Some(hint))
}

/// Clears the student's answer to task `id`.
pub fn clear_answer(lab: &mut Lab, id: &str) -> Result<(), ExerciseError> {
    let task = lab.exercises.task_mut(id).ok_or_else(|| ExerciseError::NoSuchTask(id.to_string()))?;
    task.answer = None;
    Ok(())
}

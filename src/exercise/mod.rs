//! Exercises: instructor-authored tasks stored in the lab file, graded from sealed answers and
//! from the machine state; locks on parts students cannot edit; student versions; seeded
//! per-student variants; and a few example exercise labs.
//!
//! The GUI and the CLI use this API:
//! - the data: [`Exercises`] (on `Lab::exercises`), [`Task`], [`Question`], [`Answer`],
//!   [`Condition`], [`NumericQuery`], and [`Locks`] (on `Lab::locks`);
//! - students: [`submit`], [`check_task`], [`reveal_hint`], [`clear_answer`], [`grade()`];
//! - instructors: [`author`] (tasks from a translation, an entry's state, a number, a choice),
//!   [`seal::expected_text`], [`seal::is_current`], [`student_version`], [`Locks::lock`];
//! - feedback: [`FeedbackPolicy`] (when explanations show, retry penalties), [`Attempt`]s
//!   recorded by [`submit`], explanations sealed in student copies ([`sealed_text`]);
//! - author-time checks: [`lint::author_warnings`];
//! - autograding: [`grade()`], [`grade_against`], [`exam_version`]; variants: [`generate::generate`].

pub mod author;
pub mod condition;
pub mod feedback;
pub mod generate;
pub mod grade;
pub mod lint;
pub mod locks;
pub mod query;
pub mod seal;
pub mod sealed_text;
pub mod solve;
pub mod student;
pub mod task;

pub use condition::{Condition, Verdict};
pub use feedback::{Attempt, FeedbackPolicy, Reveal};
pub use generate::{GenerateError, Randomize, generate};
pub use grade::{
    ExerciseError, Report, TaskReport, check_task, clear_answer, grade, grade_against, grade_task,
    reveal_hint, submit, submit_at,
};
pub use locks::{LockError, LockTarget, Locks};
pub use query::NumericQuery;
pub use student::{exam_version, student_version};
pub use task::{Answer, Exercises, Question, Real, Task, TaskKind, Visibility};

use crate::lab::LabError;
use std::collections::BTreeSet;

/// Structural checks of the exercises of a lab file, with the JSON path of the first problem.
pub fn validate(exercises: &Exercises) -> Result<(), LabError> {
    if let Some(policy) = exercises.feedback.as_ref() {
        validate_policy(policy, "exercises.feedback")?;
    }
    let mut ids = BTreeSet::new();
    for (i, task) in exercises.tasks.iter().enumerate() {
        let path = format!("exercises.tasks[{i}]");
        if task.id.trim().is_empty() {
            return Err(LabError::new(format!("{path}.id"), "a task needs a non-empty id"));
        }
        if !ids.insert(task.id.as_str()) {
            return Err(LabError::new(format!("{path}.id"), format!("a second task with id {:?}", task.id)));
        }
        match &task.question {
            Question::Numeric(q) => {
                if q.tolerance.is_some_and(|t| t.get() <= 0.0) {
                    return Err(LabError::new(
                        format!("{path}.question.numeric.tolerance"),
                        "a tolerance must be positive",
                    ));
                }
            }
            Question::Choice(q) => {
                if let Some(&index) = q.correct.iter().flatten().find(|&&c| c >= q.options.len()) {
                    return Err(LabError::new(
                        format!("{path}.question.choice.correct"),
                        format!("option {index} does not exist ({} options)", q.options.len()),
                    ));
                }
            }
            Question::Translate(_) | Question::Goal(_) => {}
        }
        if let Some(policy) = task.feedback.as_ref() {
            validate_policy(policy, &format!("{path}.feedback"))?;
        }
        if let Some(answer) = &task.answer
            && !answer.fits(task.kind())
        {
            return Err(LabError::new(
                format!("{path}.answer"),
                format!("this answer does not fit a {} task", task.kind()),
            ));
        }
    }
    Ok(())
}

fn validate_policy(policy: &FeedbackPolicy, path: &str) -> Result<(), LabError> {
    for (name, percent) in
        [("retry_penalty", policy.retry_penalty), ("credit_after_reveal", policy.credit_after_reveal)]
    {
        if percent > 100 {
            return Err(LabError::new(
                format!("{path}.{name}"),
                format!("{percent} is not a percentage (0 to 100)"),
            ));
        }
    }
    if policy.attempts == 0 {
        return Err(LabError::new(format!("{path}.attempts"), "the explanation needs at least 1 attempt"));
    }
    Ok(())
}

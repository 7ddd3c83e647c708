//! Exercise data as the lab file stores it: tasks (questions, sealed answers and explanations,
//! conditions, numeric queries, feedback policy, variant slots) and locks, with the checks that
//! need only the machine.
//!
//! It sits below both `lab` (which stores it) and `exercise` (which grades, authors, makes
//! student copies and variants of a whole lab), and uses neither, so the two never import each
//! other both ways; `exercise` re-exports these modules under their old paths.

pub mod condition;
pub mod feedback;
pub mod locks;
pub mod query;
pub mod randomize;
pub mod seal;
pub mod sealed_text;
pub mod task;

use feedback::FeedbackPolicy;
use std::collections::BTreeSet;
use std::fmt;
use task::{Exercises, Question};
use thiserror::Error;

/// A structural problem in a lab's exercises, with the JSON path (from the lab's top) where it
/// is; the lab file reports it as its own error at that path.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("at {path}: {message}")]
pub struct InvalidExercises {
    pub path: String,
    pub message: String,
}

impl InvalidExercises {
    fn new(path: impl Into<String>, message: impl fmt::Display) -> Self {
        Self { path: path.into(), message: message.to_string() }
    }
}

/// Structural checks of the exercises of a lab file, with the JSON path of the first problem.
pub fn validate(exercises: &Exercises) -> Result<(), InvalidExercises> {
    if let Some(policy) = exercises.feedback.as_ref() {
        validate_policy(policy, "exercises.feedback")?;
    }
    let mut ids = BTreeSet::new();
    for (i, task) in exercises.tasks.iter().enumerate() {
        let path = format!("exercises.tasks[{i}]");
        if task.id.trim().is_empty() {
            return Err(InvalidExercises::new(format!("{path}.id"), "a task needs a non-empty id"));
        }
        if !ids.insert(task.id.as_str()) {
            return Err(InvalidExercises::new(
                format!("{path}.id"),
                format!("a second task with id {:?}", task.id),
            ));
        }
        match &task.question {
            Question::Numeric(q) => {
                if q.tolerance.is_some_and(|t| t.get() <= 0.0) {
                    return Err(InvalidExercises::new(
                        format!("{path}.question.numeric.tolerance"),
                        "a tolerance must be positive",
                    ));
                }
            }
            Question::Choice(q) => {
                if let Some(&index) = q.correct.iter().flatten().find(|&&c| c >= q.options.len()) {
                    return Err(InvalidExercises::new(
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
            return Err(InvalidExercises::new(
                format!("{path}.answer"),
                format!("this answer does not fit a {} task", task.kind()),
            ));
        }
    }
    Ok(())
}

fn validate_policy(policy: &FeedbackPolicy, path: &str) -> Result<(), InvalidExercises> {
    for (name, percent) in
        [("retry_penalty", policy.retry_penalty), ("credit_after_reveal", policy.credit_after_reveal)]
    {
        if percent > 100 {
            return Err(InvalidExercises::new(
                format!("{path}.{name}"),
                format!("{percent} is not a percentage (0 to 100)"),
            ));
        }
    }
    if policy.attempts == 0 {
        return Err(InvalidExercises::new(
            format!("{path}.attempts"),
            "the explanation needs at least 1 attempt",
        ));
    }
    Ok(())
}

//! The student version of a lab: the same machine and tasks with every plain answer removed
//! (numeric queries and values, the correct options, instructor notes, template declarations),
//! explanations sealed, and no saved answers or attempts. Unsealed tasks are sealed first from
//! the lab's machine. The exam version goes further: no keys and no explanations at all.

use super::feedback::FeedbackPolicy;
use super::seal;
use super::sealed_text;
use super::task::{Exercises, Question};
use crate::lab::Lab;

/// Removes the plain sources of a question's answer, keeping its sealed key.
pub(crate) fn strip_question(question: &mut Question) {
    match question {
        Question::Translate(_) | Question::Goal(_) => {}
        Question::Numeric(q) => q.query = None,
        Question::Choice(q) => {
            q.correct = None;
            q.shuffle = false;
        }
    }
}

/// Removes a question's sealed key (the exam version carries none).
pub(crate) fn strip_key(question: &mut Question) {
    match question {
        Question::Translate(q) => q.key = None,
        Question::Goal(_) => {}
        Question::Numeric(q) => q.key = None,
        Question::Choice(q) => q.key = None,
    }
}

/// The lab to hand to students. Tasks that were never sealed are sealed now with fresh salts;
/// a task that cannot be sealed (a query that fails) keeps no key and grades as "cannot be
/// graded", which the instructor sees in `pagelab check`.
pub fn student_version(lab: &Lab) -> Lab {
    let mut out = lab.clone();
    let machine = &lab.machine;
    let Exercises { tasks, student, randomize, feedback, .. } = &mut out.exercises;
    for task in tasks.iter_mut() {
        if !task.is_sealed() {
            let salt = seal::fresh_salt(&task.id);
            let _ = seal::seal_task(task, machine, &salt);
        }
        let policy = FeedbackPolicy::for_task(task, feedback.as_ref());
        sealed_text::seal_explanation(task, machine, &policy);
        strip_question(&mut task.question);
        task.notes = None;
        task.answer = None;
        task.hints_shown = 0;
        task.attempts.clear();
    }
    *student = true;
    *randomize = Default::default();
    out
}

/// "Export for grading only": the student version without keys or explanations, so nothing
/// can be checked on the student's machine; only `pagelab check --reference INSTRUCTOR_COPY`
/// grades it. Hints stay (they are part of the handout).
pub fn exam_version(lab: &Lab) -> Lab {
    let mut out = student_version(lab);
    for task in &mut out.exercises.tasks {
        strip_key(&mut task.question);
        task.explanation.clear();
        task.sealed_explanation = None;
    }
    out.exercises.exam = true;
    out
}

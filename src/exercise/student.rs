//! The student version of a lab: the same machine and tasks with every plain answer removed
//! (numeric queries and values, the correct options, instructor notes, template declarations)
//! and no saved answers. Unsealed tasks are sealed first from the lab's machine.

use super::seal;
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

/// The lab to hand to students. Tasks that were never sealed are sealed now with fresh salts;
/// a task that cannot be sealed (a query that fails) keeps no key and grades as "cannot be
/// graded", which the instructor sees in `pagelab check`.
pub fn student_version(lab: &Lab) -> Lab {
    let mut out = lab.clone();
    let machine = &lab.machine;
    let Exercises { tasks, student, randomize, .. } = &mut out.exercises;
    for task in tasks.iter_mut() {
        if !task.is_sealed() {
            let salt = seal::fresh_salt(&task.id);
            let _ = seal::seal_task(task, machine, &salt);
        }
        strip_question(&mut task.question);
        task.notes = None;
        task.answer = None;
        task.hints_shown = 0;
    }
    *student = true;
    *randomize = Default::default();
    out
}

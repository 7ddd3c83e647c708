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
pub mod generate;
pub mod grade;
pub mod lint;
pub mod solve;
pub mod student;

// The data the lab file stores lives below both lab and exercise (crate::tasks); its modules
// keep their paths here, so `exercise::task::Task` and `exercise::seal` read as before.
pub use crate::tasks::{condition, feedback, locks, query, seal, sealed_text, task, validate};

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

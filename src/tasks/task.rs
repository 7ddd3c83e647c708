//! The exercise data stored in a lab file: the ordered tasks, what each asks, the sealed
//! (salted, hashed) expected answers, the student's saved answers and the template's
//! randomization declarations.
//!
//! Enums are externally tagged (`{"translate": {...}}`) so that a bad value is reported with a
//! precise JSON path (`exercises.tasks[2].question.translate.va`).

use super::condition::Condition;
use super::feedback::{Attempt, FeedbackPolicy};
use super::query::NumericQuery;
use super::randomize::Randomize;
use super::sealed_text::SealedExplanation;
use crate::sim::{Access, FaultKind, Mode, VirtAddr};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// The exercises of a lab. Empty in a plain lab, and then not written to the file at all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exercises {
    /// The tasks in the order students see them.
    #[serde(default)]
    pub tasks: Vec<Task>,
    /// Set by `exercise::student_version`: the lab is a student's copy (the GUI opens it in
    /// student mode; it carries no plain answers).
    #[serde(default, skip_serializing_if = "is_false")]
    pub student: bool,
    /// Set by `pagelab generate`: the seed this variant was made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Template only: what `pagelab generate` varies per student.
    #[serde(default, skip_serializing_if = "Randomize::is_empty")]
    pub randomize: Randomize,
    /// The feedback policy of every task that has none of its own (default: the explanation
    /// opens with the right answer, no penalty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<FeedbackPolicy>,
    /// Set by the exam export: a student copy with no keys and no explanations, graded only
    /// with `pagelab check --reference INSTRUCTOR_COPY`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub exam: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Exercises {
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
            && !self.student
            && self.seed.is_none()
            && self.randomize.is_empty()
            && self.feedback.is_none()
            && !self.exam
    }

    /// The task with this id.
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    pub fn task_mut(&mut self, id: &str) -> Option<&mut Task> {
        self.tasks.iter_mut().find(|t| t.id == id)
    }

    /// Total points of all tasks.
    pub fn max_points(&self) -> u32 {
        self.tasks.iter().map(|t| t.points).fold(0, u32::saturating_add)
    }
}

/// One task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Unique within the lab; autograders key on it.
    pub id: String,
    /// Short title for the task list (optional; the GUI falls back to the id).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Markdown shown to the student.
    #[serde(default)]
    pub prompt: String,
    pub points: u32,
    /// Hints revealed one at a time on request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
    /// Markdown shown once the task is answered.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub explanation: String,
    pub question: Question,
    /// Instructor only: notes on the solution (removed from the student version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The student's saved answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
    /// How many hints the student has revealed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hints_shown: u32,
    /// This task's feedback policy, replacing the lab's (`exercises.feedback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<FeedbackPolicy>,
    /// When Gradescope shows this task's result to the student.
    #[serde(default, skip_serializing_if = "Visibility::is_default")]
    pub visibility: Visibility,
    /// Student copy: the explanation, sealed (see `sealed_text`); `explanation` is then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_explanation: Option<SealedExplanation>,
    /// The student's Checks, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
}

/// When Gradescope shows a task's result (its `visibility` values, spelled as Gradescope does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// At once.
    #[default]
    Visible,
    /// Never to the student.
    Hidden,
    /// Once the assignment's due date has passed.
    AfterDueDate,
    /// Once the instructor publishes the grades.
    AfterPublished,
}

impl Visibility {
    pub const ALL: [Visibility; 4] = [Self::Visible, Self::Hidden, Self::AfterDueDate, Self::AfterPublished];

    fn is_default(&self) -> bool {
        *self == Self::Visible
    }

    /// The value as Gradescope spells it.
    pub fn id(self) -> &'static str {
        match self {
            Self::Visible => "visible",
            Self::Hidden => "hidden",
            Self::AfterDueDate => "after_due_date",
            Self::AfterPublished => "after_published",
        }
    }
}

/// What a task asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Question {
    Translate(TranslateQuestion),
    Goal(GoalQuestion),
    Numeric(NumericQuestion),
    Choice(ChoiceQuestion),
}

/// The kind of a task, as reports and `check --json` name it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum TaskKind {
    Translate,
    Goal,
    Numeric,
    Choice,
}

impl TaskKind {
    pub fn id(self) -> &'static str {
        match self {
            Self::Translate => "translate",
            Self::Goal => "goal",
            Self::Numeric => "numeric",
            Self::Choice => "choice",
        }
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Question {
    pub fn kind(&self) -> TaskKind {
        match self {
            Self::Translate(_) => TaskKind::Translate,
            Self::Goal(_) => TaskKind::Goal,
            Self::Numeric(_) => TaskKind::Numeric,
            Self::Choice(_) => TaskKind::Choice,
        }
    }
}

impl Task {
    pub fn kind(&self) -> TaskKind {
        self.question.kind()
    }

    /// The hints revealed so far.
    pub fn shown_hints(&self) -> &[String] {
        let n = usize::try_from(self.hints_shown).unwrap_or(usize::MAX).min(self.hints.len());
        &self.hints[..n]
    }

    /// Whether the task has sealed expected answers (goal tasks need none).
    pub fn is_sealed(&self) -> bool {
        match &self.question {
            Question::Translate(q) => q.key.is_some(),
            Question::Goal(_) => true,
            Question::Numeric(q) => q.key.is_some(),
            Question::Choice(q) => q.key.is_some(),
        }
    }
}

/// "For process P, what does an access to VA give?" The student answers the physical address
/// (and the byte there, if asked) or the fault kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TranslateQuestion {
    /// Process name (or number).
    pub process: String,
    pub va: VirtAddr,
    #[serde(default)]
    pub access: Access,
    #[serde(default)]
    pub mode: Mode,
    /// Also ask for the byte stored at the physical address.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ask_byte: bool,
    /// The expected outcome, sealed when the task was authored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<TranslateKey>,
}

/// Sealed expected outcome of a translation: hashes of `outcome` (the physical address or the
/// fault kind) and, when the byte is asked, of the byte (present even when the expected
/// outcome is a fault, so its presence tells nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TranslateKey {
    pub salt: String,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byte: Option<String>,
}

/// "Make it so": a condition on the machine state, checked against the student's lab.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalQuestion {
    pub condition: Condition,
}

/// A number read or worked out from the lab.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumericQuestion {
    /// Instructor only: how the expected value is computed (or the value itself). Removed from
    /// the student version; the sealed `key` is what grading uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<NumericQuery>,
    /// Answers within this distance of the expected value pass (see `seal` for how this works
    /// with hashed answers). `None`: the answer must be exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Real>,
    /// Unit shown beside the answer field, e.g. "bytes" or "frames".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<NumericKey>,
}

/// A sealed number: the hash of its exact canonical form, or of its tolerance bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumericKey {
    pub salt: String,
    pub hash: String,
    /// Width of a tolerance bucket; `None` for an exact answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<Real>,
}

/// Multiple choice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChoiceQuestion {
    /// Markdown options, shown in this order.
    pub options: Vec<String>,
    /// More than one option may be right (checkboxes instead of radio buttons).
    #[serde(default, skip_serializing_if = "is_false")]
    pub multiple: bool,
    /// Instructor only: the indices of the right options. Removed from the student version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct: Option<BTreeSet<usize>>,
    /// Template only: `pagelab generate` shuffles the options per seed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub shuffle: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<ChoiceKey>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChoiceKey {
    pub salt: String,
    pub hash: String,
}

/// A student's answer, saved in the lab file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Answer {
    /// Translate: the access reaches this physical address (and byte, when asked).
    Address {
        pa: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        byte: Option<u8>,
    },
    /// Translate: the access faults with this kind.
    Fault(FaultKind),
    /// Numeric: the text as typed (hex, decimal, sizes like `4k`, or a decimal fraction).
    Number(String),
    /// Multiple choice: the selected option indices.
    Choice(BTreeSet<usize>),
    /// Goal: the student asked for a check (goals are graded on the state, not on this).
    Checked,
}

impl Answer {
    /// Which kind of task this answer fits.
    pub fn fits(&self, kind: TaskKind) -> bool {
        matches!(
            (self, kind),
            (Self::Address { .. } | Self::Fault(_), TaskKind::Translate)
                | (Self::Number(_), TaskKind::Numeric)
                | (Self::Choice(_), TaskKind::Choice)
                | (Self::Checked, TaskKind::Goal)
        )
    }
}

/// A finite `f64` (tolerances, plain numeric values). JSON cannot carry NaN or infinities, and
/// the constructor refuses them, so equality is an equivalence and the lab stays `Eq`.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Real(f64);

impl Eq for Real {}

impl Real {
    pub fn new(value: f64) -> Option<Self> {
        value.is_finite().then_some(Self(value))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Real {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        Real::new(value).ok_or_else(|| serde::de::Error::custom("expected a finite number"))
    }
}

impl fmt::Display for Real {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

//! The feedback policy: when a student sees a task's explanation, how retries are scored, and
//! the attempts recorded in the lab file.
//!
//! Each Check of a parseable answer is an attempt, saved with its time and answer. An answer
//! that cannot be read (`four` for a number, an empty selection) is not an attempt: it gets a
//! format hint and reveals nothing. The explanation opens once the answer is right, or, when
//! the policy says so, after N wrong attempts; a right answer given after that earns only
//! `credit_after_reveal` percent of the points (none by default), so revealing and retrying
//! does not pay. Wrong attempts before the right one may each cost `retry_penalty` percent.
//!
//! Attempts live in the student's file, so a student can delete them; graders re-check each
//! recorded answer against their own keys, so they can be removed but not made right.

use super::task::{Answer, Question, Task};
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// When the explanation of a task is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Reveal {
    /// Once the answer is right.
    #[default]
    WhenCorrect,
    /// Once the answer is right, or after `attempts` wrong attempts.
    AfterAttempts,
}

/// The instructor's feedback policy, for the whole lab (`exercises.feedback`) or one task
/// (`task.feedback`, which replaces the lab's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackPolicy {
    #[serde(default)]
    pub reveal: Reveal,
    /// The N of "after N attempts".
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Percent of the task's points lost for each wrong attempt before the right one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retry_penalty: u32,
    /// Percent of the points a right answer earns once the explanation was shown after wrong
    /// attempts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub credit_after_reveal: u32,
    /// Whether student copies carry explanations that open on the student's machine. Without
    /// local feedback, an "after N attempts" explanation is left out of the student copy (it
    /// could only be hidden, not secret); explanations sealed with the right answer stay.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub local_feedback: bool,
}

/// The default N of "after N attempts".
pub const DEFAULT_ATTEMPTS: u32 = 3;

fn default_attempts() -> u32 {
    DEFAULT_ATTEMPTS
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Default for FeedbackPolicy {
    fn default() -> Self {
        Self {
            reveal: Reveal::WhenCorrect,
            attempts: DEFAULT_ATTEMPTS,
            retry_penalty: 0,
            credit_after_reveal: 0,
            local_feedback: true,
        }
    }
}

impl FeedbackPolicy {
    /// The policy that applies to `task`: its own, else the lab's, else the default.
    pub fn for_task<'a>(task: &'a Task, lab_policy: Option<&'a FeedbackPolicy>) -> FeedbackPolicy {
        task.feedback.as_ref().or(lab_policy).cloned().unwrap_or_default()
    }

    /// Whether `wrong` wrong attempts open the explanation.
    pub fn reveals_after(&self, wrong: u32) -> bool {
        self.reveal == Reveal::AfterAttempts && wrong >= self.attempts
    }

    /// The points a right answer earns after `wrong` wrong attempts.
    pub fn earned(&self, points: u32, wrong: u32) -> u32 {
        let percent = if self.reveals_after(wrong) {
            self.credit_after_reveal.min(100)
        } else {
            100u32.saturating_sub(self.retry_penalty.saturating_mul(wrong))
        };
        // points * percent / 100 without overflow (u64), rounded down.
        u32::try_from(u64::from(points) * u64::from(percent) / 100).unwrap_or(points)
    }
}

/// One Check of a task: when, what was answered, and whether it was right when checked (goals
/// are judged on the machine state of that moment, so this is their only record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attempt {
    /// Seconds since the Unix epoch.
    pub at: u64,
    pub answer: Answer,
    pub passed: bool,
}

/// Seconds since the Unix epoch now (0 if the clock is before 1970).
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Why an answer is not counted as an attempt (a format hint), or `None` when it can be judged.
pub fn unreadable(question: &Question, answer: &Answer) -> Option<String> {
    match (question, answer) {
        (Question::Numeric(q), Answer::Number(text)) => super::seal::parse_number(text).err().map(|e| {
            let unit = if q.unit.is_empty() { String::new() } else { format!(" (in {})", q.unit) };
            format!("not counted as an attempt: {e}{unit}")
        }),
        (Question::Choice(_), Answer::Choice(selected)) if selected.is_empty() => {
            Some("not counted as an attempt: select an option first".into())
        }
        _ => None,
    }
}

/// What the recorded attempts add up to, with each non-goal attempt judged again by `passes`
/// (the grader's own key).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttemptSummary {
    /// Attempts recorded.
    pub count: u32,
    /// Wrong attempts before the first right one (all of them if none was right).
    pub wrong_before_right: u32,
}

/// Sums up `task`'s attempts; `passes` re-judges a recorded answer (`None`: keep the recorded
/// verdict, as for goals).
pub fn summarize(task: &Task, mut passes: impl FnMut(&Answer) -> Option<bool>) -> AttemptSummary {
    let mut summary = AttemptSummary::default();
    let mut right = false;
    for attempt in &task.attempts {
        summary.count = summary.count.saturating_add(1);
        let passed = passes(&attempt.answer).unwrap_or(attempt.passed);
        if passed {
            right = true;
        } else if !right {
            summary.wrong_before_right = summary.wrong_before_right.saturating_add(1);
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalties_and_reveal_follow_the_policy() {
        // 10 points, 25% per retry: right at once 10, after one wrong 7 (7.5 rounded down),
        // after four wrong 0 (the penalty reaches 100%).
        let p = FeedbackPolicy { retry_penalty: 25, ..Default::default() };
        assert_eq!((p.earned(10, 0), p.earned(10, 1), p.earned(10, 4), p.earned(10, 9)), (10, 7, 0, 0));
        // After 3 wrong attempts the explanation opens and a right answer earns 0 (or 50%).
        let a = FeedbackPolicy { reveal: Reveal::AfterAttempts, ..Default::default() };
        assert!(!a.reveals_after(2) && a.reveals_after(3));
        assert_eq!((a.earned(4, 2), a.earned(4, 3)), (4, 0));
        let half = FeedbackPolicy { credit_after_reveal: 50, ..a };
        assert_eq!(half.earned(4, 3), 2);
        // When-correct never reveals on wrong attempts.
        assert!(!FeedbackPolicy::default().reveals_after(100));
    }

    #[test]
    fn policy_json_defaults_to_three_attempts() {
        let p: FeedbackPolicy = serde_json::from_str(r#"{"reveal":"after-attempts"}"#).unwrap();
        assert_eq!((p.reveal, p.attempts, p.local_feedback), (Reveal::AfterAttempts, 3, true));
        assert!(serde_json::from_str::<FeedbackPolicy>(r#"{"reveal":"sometimes"}"#).is_err());
    }
}

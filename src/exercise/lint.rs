//! Author-time checks on an instructor's lab, for the task list and `pagelab solve`: a goal the
//! handout already meets, a translate task whose byte question or variant does not make the
//! student reason (the byte asked of a faulting access, a zero byte any guess gets, the same
//! address in every variant of a template), a `randomize` that yields identical variants, and
//! a prompt, or an explanation shown after wrong attempts, that gives the sealed answer away.

use super::feedback::{FeedbackPolicy, Reveal};
use super::generate;
use super::seal;
use super::task::{Question, Task};
use crate::lab::Lab;
use crate::sim::addr::hex_grouped;
use crate::sim::mmu::Outcome;

/// One finding; `task` is `None` for the lab as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorWarning {
    pub task: Option<String>,
    pub message: String,
}

impl AuthorWarning {
    fn task(task: &Task, message: String) -> Self {
        Self { task: Some(task.id.clone()), message }
    }
}

/// The seeds the variant checks compare (any two different seeds should differ).
const SEEDS: [u64; 3] = [1, 2, 3];

/// Every finding on `lab` (an instructor's lab or template; a student copy has no plain
/// answers to check and gets none), tasks in order, then the lab's.
pub fn author_warnings(lab: &Lab) -> Vec<AuthorWarning> {
    checks(lab, true)
}

/// The checks that need no variants (cheap enough for every frame of the task list).
pub fn quick_warnings(lab: &Lab) -> Vec<AuthorWarning> {
    checks(lab, false)
}

fn checks(lab: &Lab, with_variants: bool) -> Vec<AuthorWarning> {
    if lab.exercises.student {
        return Vec::new();
    }
    let mut out = Vec::new();
    let variants: Vec<Lab> = if !with_variants || lab.exercises.randomize.is_empty() {
        Vec::new()
    } else {
        SEEDS.iter().filter_map(|&seed| generate::generate(lab, seed).ok()).collect()
    };
    for task in &lab.exercises.tasks {
        goal_met(lab, task, &mut out);
        translate_checks(lab, task, &mut out);
        gives_away(lab, task, &mut out);
        same_in_every_variant(task, &variants, &mut out);
    }
    if variants.len() >= 2 && variants.windows(2).all(|w| same_variant(&w[0], &w[1])) {
        out.push(AuthorWarning {
            task: None,
            message: format!(
                "randomize yields the same variant for seeds {SEEDS:?}: every student would get the same lab"
            ),
        });
    }
    out
}

/// Whether `template`'s randomize gives the same variant for every seed checked (`false` when
/// it declares nothing or variants cannot be made: other errors say why).
pub fn identical_variants(template: &Lab) -> bool {
    if template.exercises.randomize.is_empty() {
        return false;
    }
    let variants: Vec<Lab> =
        SEEDS.iter().filter_map(|&seed| generate::generate(template, seed).ok()).collect();
    variants.len() >= 2 && variants.windows(2).all(|w| same_variant(&w[0], &w[1]))
}

/// Same machine, prompts and answers (keys differ by their seeded salts alone).
fn same_variant(a: &Lab, b: &Lab) -> bool {
    let answers = |lab: &Lab| -> Vec<(String, Option<String>)> {
        let tasks = lab.exercises.tasks.iter();
        tasks.map(|t| (t.prompt.clone(), seal::expected_text(t, &lab.machine))).collect()
    };
    a.machine == b.machine && answers(a) == answers(b)
}

fn goal_met(lab: &Lab, task: &Task, out: &mut Vec<AuthorWarning>) {
    if let Question::Goal(g) = &task.question
        && g.condition.evaluate(&lab.machine).passed
    {
        out.push(AuthorWarning::task(
            task,
            "the goal already holds in the lab as it is, so the handout starts with its points".into(),
        ));
    }
}

fn translate_checks(lab: &Lab, task: &Task, out: &mut Vec<AuthorWarning>) {
    let Question::Translate(q) = &task.question else { return };
    if !q.ask_byte {
        return;
    }
    let m = &lab.machine;
    let Ok(p) = m.find_process(&q.process) else { return };
    let Ok(t) = m.translate(p, q.va, q.access, q.mode) else { return };
    match t.outcome {
        Outcome::Fault(_) => out.push(AuthorWarning::task(
            task,
            "it asks for the byte, but the access faults: the byte plays no part".into(),
        )),
        Outcome::Mapped(mapped) if mapped.value == Some(0) => out.push(AuthorWarning::task(
            task,
            format!(
                "the byte at {} is 0x00, the value of untouched memory: a guess gets it right",
                hex_grouped(mapped.pa.get())
            ),
        )),
        Outcome::Mapped(_) => {}
    }
}

/// The texts that would give `task`'s answer away.
fn answer_texts(lab: &Lab, task: &Task) -> Vec<String> {
    let m = &lab.machine;
    match &task.question {
        Question::Translate(q) => {
            let Ok(p) = m.find_process(&q.process) else { return Vec::new() };
            let Ok(t) = m.translate(p, q.va, q.access, q.mode) else { return Vec::new() };
            match t.outcome {
                Outcome::Mapped(mapped) => vec![format!("{:#x}", mapped.pa), hex_grouped(mapped.pa.get())],
                Outcome::Fault(f) => {
                    let id = f.kind.id();
                    let mut texts = vec![id.to_string(), id.replace('-', " "), f.kind.describe().to_string()];
                    if id.ends_with("-protection") {
                        texts.push("protection fault".into());
                    }
                    texts
                }
            }
        }
        Question::Numeric(q) => {
            let Some(Ok(value)) = q.query.as_ref().map(|query| query.evaluate(m)) else { return Vec::new() };
            if value.fract() != 0.0 || value.abs() >= 1e18 {
                return vec![format!("{value}")];
            }
            #[allow(clippy::cast_possible_truncation)]
            let n = value as i64;
            let mut texts = Vec::new();
            // One digit is everywhere in prose ("level 1", "4 KiB"): only longer numbers count.
            if n.unsigned_abs() >= 10 {
                texts.push(n.to_string());
            }
            if n.unsigned_abs() >= 16 {
                texts.push(format!("{n:#x}"));
            }
            texts
        }
        Question::Goal(_) | Question::Choice(_) => Vec::new(),
    }
}

/// Whether `needle` occurs in `text` as a whole word (not inside a longer number or name).
fn contains_word(text: &str, needle: &str) -> bool {
    let (text, needle) = (text.to_ascii_lowercase(), needle.to_ascii_lowercase());
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    text.match_indices(&needle).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        !word(before) && !word(after)
    })
}

/// The prompt always; the explanation when the policy can show it before the right answer
/// (sealed with the answer, it opens only for a student who has it).
fn gives_away(lab: &Lab, task: &Task, out: &mut Vec<AuthorWarning>) {
    let texts = answer_texts(lab, task);
    let policy = FeedbackPolicy::for_task(task, lab.exercises.feedback.as_ref());
    let mut fields = vec![("prompt", &task.prompt, "")];
    if policy.reveal == Reveal::AfterAttempts {
        fields.push((
            "explanation",
            &task.explanation,
            " (shown after wrong attempts, it hands the answer over)",
        ));
    }
    for (field, body, note) in fields {
        if let Some(found) = texts.iter().find(|t| contains_word(body, t)) {
            out.push(AuthorWarning::task(task, format!("the {field} contains the answer ({found}){note}")));
        }
    }
}

/// Only translations to an address: a fault kind or a structural number (bits per index) is
/// the same in every variant by nature, and that is fine.
fn same_in_every_variant(task: &Task, variants: &[Lab], out: &mut Vec<AuthorWarning>) {
    if variants.len() < 2 || !matches!(task.question, Question::Translate(_)) {
        return;
    }
    let answers: Vec<Option<String>> = variants
        .iter()
        .map(|v| v.exercises.task(&task.id).and_then(|t| seal::expected_text(t, &v.machine)))
        .collect();
    let mapped =
        answers.first().is_some_and(|a| a.as_deref().is_some_and(|a| a.starts_with("physical address")));
    if mapped && answers.iter().all(Option::is_some) && answers.windows(2).all(|w| w[0] == w[1]) {
        out.push(AuthorWarning::task(
            task,
            format!(
                "the answer is the same in every variant ({}): it does not depend on what randomize varies, so students can share it",
                answers[0].as_deref().unwrap_or("?")
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_only() {
        assert!(contains_word("a protection fault.", "protection fault"));
        assert!(contains_word("PA 0x1234 here", "0x1234"));
        assert!(!contains_word("PA 0x12345 here", "0x1234"));
        assert!(!contains_word("4096 bytes", "409"));
        assert!(contains_word("(16)", "16"));
    }
}

//! Sealed answers: expected answers are computed from the instructor's lab when a task is
//! authored and stored only as salted SHA-256 hashes, so a student cannot read them from the JSON.
//!
//! A hash is `sha256("pagelab-exercise\n" + salt + "\n" + canonical answer)` in lowercase hex.
//! Canonical answers: `pa:0x1a2b` or `fault:not-present` (translate), `byte:0x2a` or `byte:none`,
//! `exact:4096` (numbers; integers in decimal, fractions in Rust's shortest form),
//! `bucket:-12` (numbers with a tolerance), `choice:0,2` (sorted option indices).
//!
//! Tolerances: with tolerance `t` the number line is cut into buckets of width `w = t / 4`
//! (`bucket = floor(value / w)`) and the expected value's bucket is hashed. A student's value
//! passes when one of the 9 buckets around its own (`b - 4 ..= b + 4`) matches. That accepts
//! every answer within `t` of the expected value, rejects every answer further than `t + w`
//! (1.25 t), and never needs the expected value in the clear.
//!
//! Hashing hides answers from reading, not from brute force over a small answer space (there are
//! only 14 fault kinds); `pagelab check --reference` grades against the instructor's copy of the
//! tasks so that a student who edits keys gains nothing.

use super::task::{
    Answer, ChoiceKey, NumericKey, NumericQuestion, Question, Real, Task, TranslateKey, TranslateQuestion,
};
use crate::sim::addr::parse_size;
use crate::sim::mmu::Outcome;
use crate::sim::{FaultKind, Machine};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Buckets per tolerance (see the module docs).
pub const BUCKETS_PER_TOLERANCE: i64 = 4;

/// Why a task cannot be sealed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SealError {
    #[error("task {id}: {message}")]
    Query { id: String, message: String },
    #[error("task {id}: no expected answer to seal (numeric query or correct options missing)")]
    NoSource { id: String },
    #[error("task {id}: option {index} does not exist ({options} options)")]
    NoSuchOption { id: String, index: usize, options: usize },
    #[error("task {id}: a tolerance must be positive")]
    BadTolerance { id: String },
}

/// The salted hash of a canonical answer.
pub fn hash(salt: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"pagelab-exercise\n");
    hasher.update(salt.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    crate::sim::hex::encode(&hasher.finalize())
}

fn matches(salt: &str, canonical: &str, expected: &str) -> bool {
    hash(salt, canonical).eq_ignore_ascii_case(expected)
}

/// A fresh salt for task `id`: the system time, the process id and a counter, hashed.
pub fn fresh_salt(id: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut hasher = Sha256::new();
    hasher.update(format!("{nanos}/{}/{n}/{id}", std::process::id()).as_bytes());
    crate::sim::hex::encode(&hasher.finalize()[..8])
}

/// A salt that depends only on `seed` and `id` (variants and example labs are reproducible).
pub fn seeded_salt(seed: u64, id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("seed {seed}/{id}").as_bytes());
    crate::sim::hex::encode(&hasher.finalize()[..8])
}

fn canonical_outcome(outcome: &Outcome) -> (String, String) {
    match outcome {
        Outcome::Mapped(m) => (format!("pa:{:#x}", m.pa), canonical_byte(m.value)),
        Outcome::Fault(f) => (format!("fault:{}", f.kind.id()), canonical_byte(None)),
    }
}

fn canonical_byte(byte: Option<u8>) -> String {
    byte.map_or_else(|| "byte:none".to_string(), |b| format!("byte:{b:#04x}"))
}

fn canonical_exact(value: f64) -> String {
    let value = value + 0.0; // -0 and 0 are the same answer
    if value.fract() == 0.0 { format!("exact:{value:.0}") } else { format!("exact:{value}") }
}

fn bucket(value: f64, width: f64) -> Option<i64> {
    let b = (value / width).floor();
    // 2^62 keeps b +- BUCKETS_PER_TOLERANCE inside i64.
    #[allow(clippy::cast_possible_truncation)]
    (b.is_finite() && b.abs() < 4.6e18).then_some(b as i64)
}

fn canonical_choice(selected: &BTreeSet<usize>) -> String {
    let list: Vec<String> = selected.iter().map(usize::to_string).collect();
    format!("choice:{}", list.join(","))
}

/// Parses a numeric answer: hex or decimal integers (`_` allowed), sizes (`4k`, `2MiB`),
/// powers (`2^39`) and decimal fractions (`0.75`).
pub fn parse_number(text: &str) -> Result<f64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("the answer is empty".into());
    }
    if let Ok(n) = parse_size(t) {
        #[allow(clippy::cast_precision_loss)]
        return Ok(n as f64);
    }
    if let Some((base, exp)) = t.split_once('^')
        && let (Ok(base), Ok(exp)) = (base.trim().parse::<f64>(), exp.trim().parse::<i32>())
    {
        let value = base.powi(exp);
        return if value.is_finite() { Ok(value) } else { Err(format!("{t} is too large")) };
    }
    match t.replace('_', "").parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("{t:?} is not a number (try 4096, 0x1000, 4k, 2^12 or 0.75)")),
    }
}

fn translate_key(
    q: &TranslateQuestion,
    machine: &Machine,
    salt: &str,
    id: &str,
) -> Result<TranslateKey, SealError> {
    let process = machine
        .find_process(&q.process)
        .map_err(|e| SealError::Query { id: id.into(), message: e.to_string() })?;
    let t = machine
        .translate(process, q.va, q.access, q.mode)
        .map_err(|e| SealError::Query { id: id.into(), message: e.to_string() })?;
    let (outcome, byte) = canonical_outcome(&t.outcome);
    Ok(TranslateKey {
        salt: salt.to_string(),
        outcome: hash(salt, &outcome),
        byte: q.ask_byte.then(|| hash(salt, &byte)),
    })
}

fn numeric_key(
    q: &NumericQuestion,
    machine: &Machine,
    salt: &str,
    id: &str,
) -> Result<NumericKey, SealError> {
    let query = q.query.as_ref().ok_or_else(|| SealError::NoSource { id: id.into() })?;
    let value = query.evaluate(machine).map_err(|message| SealError::Query { id: id.into(), message })?;
    numeric_key_for(value, q.tolerance, salt, id)
}

fn numeric_key_for(
    value: f64,
    tolerance: Option<Real>,
    salt: &str,
    id: &str,
) -> Result<NumericKey, SealError> {
    match tolerance {
        None => Ok(NumericKey { salt: salt.into(), hash: hash(salt, &canonical_exact(value)), bucket: None }),
        Some(t) => {
            #[allow(clippy::cast_precision_loss)]
            let width = Real::new(t.get() / BUCKETS_PER_TOLERANCE as f64)
                .filter(|w| w.get() > 0.0)
                .ok_or_else(|| SealError::BadTolerance { id: id.into() })?;
            let b = bucket(value, width.get()).ok_or_else(|| SealError::Query {
                id: id.into(),
                message: format!("{value} is too large for a tolerance of {t}"),
            })?;
            Ok(NumericKey {
                salt: salt.into(),
                hash: hash(salt, &format!("bucket:{b}")),
                bucket: Some(width),
            })
        }
    }
}

fn choice_key(
    options: usize,
    correct: &BTreeSet<usize>,
    salt: &str,
    id: &str,
) -> Result<ChoiceKey, SealError> {
    if let Some(&index) = correct.iter().find(|&&i| i >= options) {
        return Err(SealError::NoSuchOption { id: id.into(), index, options });
    }
    Ok(ChoiceKey { salt: salt.into(), hash: hash(salt, &canonical_choice(correct)) })
}

/// Computes and stores the task's sealed expected answer from `machine` (the instructor's lab)
/// with `salt`. Numeric and choice tasks need their plain source (query, correct set); a task
/// that lost it (a student version) keeps its key.
pub fn seal_task(task: &mut Task, machine: &Machine, salt: &str) -> Result<(), SealError> {
    let id = task.id.clone();
    match &mut task.question {
        Question::Translate(q) => q.key = Some(translate_key(q, machine, salt, &id)?),
        Question::Goal(_) => {}
        Question::Numeric(q) => {
            if q.query.is_some() {
                q.key = Some(numeric_key(q, machine, salt, &id)?);
            } else if q.key.is_none() {
                return Err(SealError::NoSource { id });
            }
        }
        Question::Choice(q) => match &q.correct {
            Some(correct) => q.key = Some(choice_key(q.options.len(), correct, salt, &id)?),
            None if q.key.is_none() => return Err(SealError::NoSource { id }),
            None => {}
        },
    }
    Ok(())
}

/// Whether the task's key still matches what `machine` gives now (`None` when it cannot tell:
/// no key, or no plain source). The instructor's view flags stale keys after edits.
pub fn is_current(task: &Task, machine: &Machine) -> Option<bool> {
    let mut fresh = task.clone();
    let salt = match &task.question {
        Question::Translate(q) => q.key.as_ref()?.salt.clone(),
        Question::Goal(_) => return Some(true),
        Question::Numeric(q) => {
            q.query.as_ref()?;
            q.key.as_ref()?.salt.clone()
        }
        Question::Choice(q) => {
            q.correct.as_ref()?;
            q.key.as_ref()?.salt.clone()
        }
    };
    seal_task(&mut fresh, machine, &salt).ok()?;
    Some(fresh.question == task.question)
}

/// The verdict on a translate answer: whether the outcome (address or fault) matches, and,
/// when the byte is asked, whether the byte does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TranslateCheck {
    pub outcome: bool,
    pub byte: Option<bool>,
}

impl TranslateCheck {
    pub fn passed(self) -> bool {
        self.outcome && self.byte.unwrap_or(true)
    }
}

/// Checks a translate answer against its key; `None` when the answer is not a translate answer.
pub fn check_translate(key: &TranslateKey, answer: &Answer) -> Option<TranslateCheck> {
    let (outcome, byte) = match answer {
        Answer::Address { pa, byte } => (format!("pa:{pa:#x}"), canonical_byte(*byte)),
        Answer::Fault(kind) => (format!("fault:{}", kind.id()), canonical_byte(None)),
        _ => return None,
    };
    Some(TranslateCheck {
        outcome: matches(&key.salt, &outcome, &key.outcome),
        byte: key.byte.as_ref().map(|h| matches(&key.salt, &byte, h)),
    })
}

/// Checks a numeric answer's text against its key.
pub fn check_number(key: &NumericKey, text: &str) -> Result<bool, String> {
    let value = parse_number(text)?;
    Ok(match key.bucket {
        None => matches(&key.salt, &canonical_exact(value), &key.hash),
        Some(width) => bucket(value, width.get()).is_some_and(|b| {
            (-BUCKETS_PER_TOLERANCE..=BUCKETS_PER_TOLERANCE)
                .any(|d| matches(&key.salt, &format!("bucket:{}", b + d), &key.hash))
        }),
    })
}

/// Checks a multiple-choice selection against its key.
pub fn check_choice(key: &ChoiceKey, selected: &BTreeSet<usize>) -> bool {
    matches(&key.salt, &canonical_choice(selected), &key.hash)
}

/// The expected answer in words, computed live from the instructor's lab (for the instructor's
/// view; never stored). `None` when the plain source is gone (student version) or fails.
pub fn expected_text(task: &Task, machine: &Machine) -> Option<String> {
    match &task.question {
        Question::Translate(q) => {
            let p = machine.find_process(&q.process).ok()?;
            let t = machine.translate(p, q.va, q.access, q.mode).ok()?;
            Some(match t.outcome {
                Outcome::Mapped(m) if q.ask_byte => format!(
                    "physical address {:#x}, byte {}",
                    m.pa,
                    m.value.map_or("none (beyond memory)".to_string(), |v| format!("{v:#04x}"))
                ),
                Outcome::Mapped(m) => format!("physical address {:#x}", m.pa),
                Outcome::Fault(f) => format!("page fault: {}", f.kind.id()),
            })
        }
        Question::Goal(g) => Some(g.condition.describe()),
        Question::Numeric(q) => q.query.as_ref()?.evaluate(machine).ok().map(|v| format!("{v}")),
        Question::Choice(q) => {
            let list: Vec<String> = q.correct.as_ref()?.iter().map(usize::to_string).collect();
            Some(format!("option(s) {}", list.join(", ")))
        }
    }
}

/// The canonical form of the whole expected answer, computed from the instructor's lab: what
/// an explanation sealed for the student copy is keyed on (see `sealed_text`). Goals use their
/// condition, which the student copy shows anyway. `None` when the plain source is gone.
pub fn expected_canonical(task: &Task, machine: &Machine) -> Option<String> {
    match &task.question {
        Question::Translate(q) => {
            let p = machine.find_process(&q.process).ok()?;
            let t = machine.translate(p, q.va, q.access, q.mode).ok()?;
            let (outcome, byte) = canonical_outcome(&t.outcome);
            Some(if q.ask_byte { format!("{outcome}\n{byte}") } else { outcome })
        }
        Question::Goal(g) => goal_canonical(g),
        Question::Numeric(q) => {
            let value = q.query.as_ref()?.evaluate(machine).ok()?;
            match q.tolerance {
                None => Some(canonical_exact(value)),
                #[allow(clippy::cast_precision_loss)]
                Some(t) => {
                    bucket(value, t.get() / BUCKETS_PER_TOLERANCE as f64).map(|b| format!("bucket:{b}"))
                }
            }
        }
        Question::Choice(q) => q.correct.as_ref().map(canonical_choice),
    }
}

fn goal_canonical(goal: &super::task::GoalQuestion) -> Option<String> {
    serde_json::to_string(&goal.condition).ok().map(|c| format!("goal:{c}"))
}

/// The canonical form of the expected answer as the student's `answer` reveals it, when that
/// answer is right by the task's key: the same text as [`expected_canonical`], recovered
/// without the plain source (for a tolerance, the bucket the key matched). Goals: the
/// condition, for a goal reached (the caller knows).
pub fn answer_canonical(task: &Task, answer: &Answer) -> Option<String> {
    match (&task.question, answer) {
        (Question::Translate(q), _) => {
            let key = q.key.as_ref()?;
            check_translate(key, answer).filter(|c| c.passed())?;
            let (outcome, byte) = match answer {
                Answer::Address { pa, byte } => (format!("pa:{pa:#x}"), canonical_byte(*byte)),
                Answer::Fault(kind) => (format!("fault:{}", kind.id()), canonical_byte(None)),
                _ => return None,
            };
            Some(if q.ask_byte { format!("{outcome}\n{byte}") } else { outcome })
        }
        (Question::Goal(g), _) => goal_canonical(g),
        (Question::Numeric(q), Answer::Number(text)) => {
            let key = q.key.as_ref()?;
            let value = parse_number(text).ok()?;
            match key.bucket {
                None => {
                    let c = canonical_exact(value);
                    matches(&key.salt, &c, &key.hash).then_some(c)
                }
                Some(width) => {
                    let b = bucket(value, width.get())?;
                    (-BUCKETS_PER_TOLERANCE..=BUCKETS_PER_TOLERANCE)
                        .map(|d| format!("bucket:{}", b + d))
                        .find(|c| matches(&key.salt, c, &key.hash))
                }
            }
        }
        (Question::Choice(q), Answer::Choice(selected)) => {
            let key = q.key.as_ref()?;
            check_choice(key, selected).then(|| canonical_choice(selected))
        }
        _ => None,
    }
}

/// The salt of the task's key (goals have none: their id stands in).
pub fn key_salt(task: &Task) -> String {
    match &task.question {
        Question::Translate(q) => q.key.as_ref().map(|k| k.salt.clone()),
        Question::Goal(_) => None,
        Question::Numeric(q) => q.key.as_ref().map(|k| k.salt.clone()),
        Question::Choice(q) => q.key.as_ref().map(|k| k.salt.clone()),
    }
    .unwrap_or_else(|| format!("goal/{}", task.id))
}

/// All fault kinds, in the order a picker shows them.
pub const FAULT_KINDS: [FaultKind; 14] = FaultKind::ALL;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_buckets_accept_within_and_reject_beyond() {
        let key = numeric_key_for(100.0, Real::new(2.0), "s", "t").unwrap();
        for ok in ["100", "98", "102", "101.9", "98.0"] {
            assert_eq!(check_number(&key, ok), Ok(true), "{ok}");
        }
        for bad in ["97.4", "102.6", "0", "-100", "1e300"] {
            assert_eq!(check_number(&key, bad), Ok(false), "{bad}");
        }
        assert!(check_number(&key, "many").is_err());
    }

    #[test]
    fn exact_numbers_accept_any_spelling() {
        let key = numeric_key_for(4096.0, None, "salt", "t").unwrap();
        for ok in ["4096", "0x1000", "4k", "4KiB", "2^12", "4096.0", "4_096"] {
            assert_eq!(check_number(&key, ok), Ok(true), "{ok}");
        }
        assert_eq!(check_number(&key, "4095"), Ok(false));
        let frac = numeric_key_for(0.75, None, "salt", "t").unwrap();
        assert_eq!(check_number(&frac, ".75"), Ok(true));
    }

    #[test]
    fn salts_differ_and_seeded_ones_repeat() {
        assert_ne!(fresh_salt("a"), fresh_salt("a"));
        assert_eq!(seeded_salt(3, "a"), seeded_salt(3, "a"));
        assert_ne!(seeded_salt(3, "a"), seeded_salt(4, "a"));
        assert_ne!(hash("x", "exact:1"), hash("y", "exact:1"));
    }

    #[test]
    fn choice_keys_check_the_whole_set() {
        let key = choice_key(4, &BTreeSet::from([0, 2]), "s", "t").unwrap();
        assert!(check_choice(&key, &BTreeSet::from([2, 0])));
        assert!(!check_choice(&key, &BTreeSet::from([0])));
        assert!(choice_key(2, &BTreeSet::from([5]), "s", "t").is_err());
    }
}

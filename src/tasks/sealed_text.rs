//! Sealed explanations: in a student copy a task's explanation is not plain text but encrypted
//! with a key derived from the canonical right answer (see [`super::seal`]), so it opens on the
//! student's machine exactly when the answer is right. Under an "after N attempts" policy with
//! local feedback, a second copy is sealed with a key derived from the task's salt alone: the
//! app opens it after N wrong attempts. That copy is hidden from reading, not secret; an
//! instructor who wants it secret turns local feedback off and it is left out.
//!
//! The cipher is built from SHA-256 (the hash the answers already use): the key is
//! `sha256("pagelab-explanation\n" + salt + "\n" + canonical answer)`, the keystream block `i`
//! is `sha256(key + "stream" + i as 8 little-endian bytes)`, XORed over the UTF-8 text, and a
//! 16-byte tag `sha256("tag" + key + ciphertext)` (stored first, all in hex) tells a wrong key
//! from a right one. Each key seals one text, so the fixed keystream is never reused.

use super::feedback::{FeedbackPolicy, Reveal};
use super::seal;
use super::task::{Answer, Task};
use crate::sim::Machine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The explanation of a task in a student copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SealedExplanation {
    /// Opens with the right answer.
    pub when_correct: String,
    /// Opens without it, after the policy's N wrong attempts (absent without local feedback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_attempts: Option<String>,
}

const TAG_LEN: usize = 16;

fn derive(salt: &str, secret: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"pagelab-explanation\n");
    hasher.update(salt.as_bytes());
    hasher.update(b"\n");
    hasher.update(secret.as_bytes());
    hasher.finalize().into()
}

fn xor_keystream(key: &[u8; 32], data: &mut [u8]) {
    for (i, chunk) in (0u64..).zip(data.chunks_mut(32)) {
        let mut hasher = Sha256::new();
        hasher.update(key);
        hasher.update(b"stream");
        hasher.update(i.to_le_bytes());
        let block: [u8; 32] = hasher.finalize().into();
        for (byte, k) in chunk.iter_mut().zip(block) {
            *byte ^= k;
        }
    }
}

fn tag(key: &[u8; 32], ciphertext: &[u8]) -> [u8; TAG_LEN] {
    let mut hasher = Sha256::new();
    hasher.update(b"tag");
    hasher.update(key);
    hasher.update(ciphertext);
    let full: [u8; 32] = hasher.finalize().into();
    let mut out = [0; TAG_LEN];
    out.copy_from_slice(&full[..TAG_LEN]);
    out
}

/// Encrypts `text` under the key of (`salt`, `secret`); hex of tag then ciphertext.
pub fn seal_text(salt: &str, secret: &str, text: &str) -> String {
    let key = derive(salt, secret);
    let mut data = text.as_bytes().to_vec();
    xor_keystream(&key, &mut data);
    let mut out = tag(&key, &data).to_vec();
    out.extend_from_slice(&data);
    crate::sim::hex::encode(&out)
}

/// Decrypts what [`seal_text`] made; `None` for a wrong key or a damaged text.
pub fn open_text(salt: &str, secret: &str, sealed: &str) -> Option<String> {
    let key = derive(salt, secret);
    let bytes = crate::sim::hex::decode(sealed).ok()?;
    let (stored_tag, ciphertext) = bytes.split_at_checked(TAG_LEN)?;
    if stored_tag != tag(&key, ciphertext) {
        return None;
    }
    let mut data = ciphertext.to_vec();
    xor_keystream(&key, &mut data);
    String::from_utf8(data).ok()
}

/// The secret of the "after N attempts" copy: known to every copy of pagelab.
fn attempts_secret(task: &Task) -> String {
    format!("after-attempts/{}", task.id)
}

/// Seals `task`'s explanation for a student copy (the plain text is cleared; a task already
/// sealed is left as it is). A task whose
/// expected answer cannot be computed keeps no explanation rather than a plain one.
pub fn seal_explanation(task: &mut Task, machine: &Machine, policy: &FeedbackPolicy) {
    if task.explanation.is_empty() {
        return; // nothing to seal, or sealed already
    }
    let text = std::mem::take(&mut task.explanation);
    let salt = seal::key_salt(task);
    let Some(expected) = seal::expected_canonical(task, machine) else {
        task.sealed_explanation = None;
        return;
    };
    let after_attempts = (policy.reveal == Reveal::AfterAttempts && policy.local_feedback)
        .then(|| seal_text(&salt, &attempts_secret(task), &text));
    task.sealed_explanation =
        Some(SealedExplanation { when_correct: seal_text(&salt, &expected, &text), after_attempts });
}

/// The explanation `answer` opens when it is right (plain text in an instructor lab, else the
/// sealed copy opened with the answer).
pub fn open_with_answer(task: &Task, answer: &Answer) -> Option<String> {
    if !task.explanation.is_empty() {
        return Some(task.explanation.clone());
    }
    let sealed = task.sealed_explanation.as_ref()?;
    let canonical = seal::answer_canonical(task, answer)?;
    open_text(&seal::key_salt(task), &canonical, &sealed.when_correct)
}

/// The explanation shown after the policy's wrong attempts, if the copy carries one.
pub fn open_after_attempts(task: &Task) -> Option<String> {
    if !task.explanation.is_empty() {
        return Some(task.explanation.clone());
    }
    let sealed = task.sealed_explanation.as_ref()?.after_attempts.as_ref()?;
    open_text(&seal::key_salt(task), &attempts_secret(task), sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_with_the_same_secret() {
        let text = "The leaf has R/W=0, so a write is a protection fault. Ünïcode too.";
        let sealed = seal_text("salt", "fault:protection", text);
        assert!(!sealed.contains("protection") && sealed.len() == 2 * (TAG_LEN + text.len()));
        assert_eq!(open_text("salt", "fault:protection", &sealed).as_deref(), Some(text));
        assert_eq!(open_text("salt", "fault:not-present", &sealed), None);
        assert_eq!(open_text("other", "fault:protection", &sealed), None);
        // A flipped ciphertext digit fails the tag instead of giving garbage.
        let mut damaged = sealed.clone().into_bytes();
        let last = damaged.len() - 1;
        damaged[last] = if damaged[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(open_text("salt", "fault:protection", &String::from_utf8(damaged).unwrap()), None);
        assert_eq!(open_text("salt", "x", "zz"), None);
        assert_eq!(open_text("salt", "", &seal_text("salt", "", "")).as_deref(), Some(""));
    }
}

//! The stepping simulator: one access at a time, with the frames a view draws.

use serde::{Deserialize, Serialize};

use super::policy::Policy;
use super::victim;
use crate::sim::rng::SplitMix64;

/// One physical frame and the page it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Frame {
    /// The resident page.
    pub page: u64,
    /// The use (reference) bit: set by every access, cleared by a passing clock hand. Only the
    /// clock policies read it.
    pub used: bool,
    /// The dirty bit: set by a write; evicting a dirty page costs a write-back.
    pub dirty: bool,
}

/// What one access did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AccessOutcome {
    /// The page was resident.
    pub hit: bool,
    /// The page evicted to make room, if any.
    pub victim: Option<u64>,
    /// The victim was dirty, so it had to be written back.
    pub victim_dirty: bool,
    /// Resident pages after the access, in the policy's display order (see [`Policy::frame_order`]).
    pub frames_after: Vec<u64>,
    /// The same frames with their use and dirty bits.
    pub slots_after: Vec<Frame>,
    /// The clock hand after the access (an index into `frames_after`), for the clock policies.
    pub hand: Option<usize>,
}

/// Why a replacement simulation cannot start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplaceError {
    /// Zero frames: no page could ever be resident.
    #[error("page replacement needs at least one frame")]
    NoFrames,
}

/// A page-replacement simulator that steps one access at a time.
///
/// `frames` is kept in the policy's display order: FIFO oldest first, LRU least recent first, OPT
/// and Random in load order (a victim leaves, the newcomer joins the end, as in OSTEP's tool), and
/// the clock policies by fixed slot with a hand pointing at the next slot to examine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacer {
    policy: Policy,
    capacity: usize,
    frames: Vec<Frame>,
    hand: usize,
    rng: SplitMix64,
}

impl Replacer {
    /// A simulator with `frames` empty frames. `seed` drives the random policy only.
    ///
    /// # Errors
    /// [`ReplaceError::NoFrames`] when `frames` is zero.
    pub fn new(policy: Policy, frames: usize, seed: u64) -> Result<Self, ReplaceError> {
        if frames == 0 {
            return Err(ReplaceError::NoFrames);
        }
        Ok(Self {
            policy,
            capacity: frames,
            // Capped so a huge frame count from input does not reserve memory up front.
            frames: Vec::with_capacity(frames.min(1024)),
            hand: 0,
            rng: SplitMix64::new(seed),
        })
    }

    /// The policy being simulated.
    #[must_use]
    pub const fn policy(&self) -> Policy {
        self.policy
    }

    /// How many frames there are, full or not.
    #[must_use]
    pub const fn capacity(&self) -> usize {
        self.capacity
    }

    /// The occupied frames with their bits, in the policy's display order.
    #[must_use]
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// The resident pages, in the policy's display order.
    #[must_use]
    pub fn pages(&self) -> Vec<u64> {
        self.frames.iter().map(|frame| frame.page).collect()
    }

    /// The clock hand (an index into [`Self::frames`]) for the clock policies, `None` for the others.
    #[must_use]
    pub const fn hand(&self) -> Option<usize> {
        if self.policy.has_hand() { Some(self.hand) } else { None }
    }

    /// Whether `page` is resident.
    #[must_use]
    pub fn contains(&self, page: u64) -> bool {
        self.frames.iter().any(|frame| frame.page == page)
    }

    /// Accesses `page`, loading it on a miss and evicting a victim when every frame is full.
    ///
    /// `future` is the rest of the reference string after this access; only OPT reads it (with an
    /// empty future, OPT evicts as if no page were used again).
    pub fn access(&mut self, page: u64, is_write: bool, future: &[u64]) -> AccessOutcome {
        if let Some(position) = self.frames.iter().position(|frame| frame.page == page) {
            self.touch(position, is_write);
            return self.outcome(true, None);
        }
        let incoming = Frame { page, used: true, dirty: is_write };
        if self.frames.len() < self.capacity {
            // Filling up: slots are taken in order, and the hand stays on slot 0, the oldest.
            self.frames.push(incoming);
            return self.outcome(false, None);
        }
        let slot = self.choose_victim(future);
        let evicted = self.evict(slot, incoming);
        self.outcome(false, evicted)
    }

    fn touch(&mut self, position: usize, is_write: bool) {
        if let Some(frame) = self.frames.get_mut(position) {
            frame.used = true;
            frame.dirty |= is_write;
        }
        if self.policy == Policy::Lru
            && let Some(tail) = self.frames.get_mut(position..)
        {
            // Most recently used goes to the end.
            tail.rotate_left(1);
        }
    }

    /// Asks the replacement engine. The frames are listed in display order, so a frame's
    /// position is its load order (FIFO, OPT, random) or its recency (LRU).
    fn choose_victim(&mut self, future: &[u64]) -> usize {
        let next_uses = if self.policy == Policy::Opt {
            next_uses(&self.frames, future)
        } else {
            vec![None; self.frames.len()]
        };
        let mut listed: Vec<Listed<'_>> = self
            .frames
            .iter_mut()
            .zip(0u64..)
            .zip(next_uses)
            .map(|((frame, position), next_use)| Listed { frame, position, next_use })
            .collect();
        victim::choose_victim(self.policy, &mut listed, self.hand, &mut self.rng, &mut Vec::new())
    }

    /// Puts `incoming` in place of the frame at `slot` and returns the evicted frame.
    fn evict(&mut self, slot: usize, incoming: Frame) -> Option<Frame> {
        let len = self.frames.len();
        let frame = self.frames.get_mut(slot)?;
        let evicted = std::mem::replace(frame, incoming);
        if self.policy.has_hand() {
            // The newcomer has its use bit set; the hand moves on past it.
            self.hand = (slot + 1) % len;
        } else if let Some(tail) = self.frames.get_mut(slot..) {
            // List policies: the victim's neighbours keep their order and the newcomer joins the end.
            tail.rotate_left(1);
        }
        Some(evicted)
    }

    fn outcome(&self, hit: bool, evicted: Option<Frame>) -> AccessOutcome {
        AccessOutcome {
            hit,
            victim: evicted.map(|frame| frame.page),
            victim_dirty: evicted.is_some_and(|frame| frame.dirty),
            frames_after: self.pages(),
            slots_after: self.frames.clone(),
            hand: self.hand(),
        }
    }
}

/// A frame of the simulator as the replacement engine sees it.
struct Listed<'a> {
    frame: &'a mut Frame,
    /// Its place in the display order.
    position: u64,
    next_use: Option<u64>,
}

impl victim::Candidate for Listed<'_> {
    fn loaded(&self) -> u64 {
        self.position
    }
    fn last_use(&self) -> u64 {
        self.position
    }
    fn next_use(&self) -> Option<u64> {
        self.next_use
    }
    fn referenced(&self) -> bool {
        self.frame.used
    }
    fn dirty(&self) -> bool {
        self.frame.dirty
    }
    fn clear_referenced(&mut self) {
        self.frame.used = false;
    }
}

/// Per frame, the position in `future` of its page's next use. One pass over the future for
/// all frames at once, stopping once each has been seen: a long trace costs only as far as the
/// furthest resident page's next use.
fn next_uses(frames: &[Frame], future: &[u64]) -> Vec<Option<u64>> {
    let mut next_use: Vec<Option<u64>> = vec![None; frames.len()];
    let mut unresolved = frames.len();
    for (when, &page) in (0u64..).zip(future) {
        if unresolved == 0 {
            break;
        }
        for (slot, frame) in next_use.iter_mut().zip(frames) {
            if slot.is_none() && frame.page == page {
                *slot = Some(when);
                unresolved = unresolved.saturating_sub(1);
            }
        }
    }
    next_use
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_reads(policy: Policy, frames: usize, pages: &[u64]) -> Vec<AccessOutcome> {
        let Ok(mut replacer) = Replacer::new(policy, frames, 1) else {
            return Vec::new();
        };
        pages
            .iter()
            .enumerate()
            .map(|(index, &page)| {
                let future = pages.get(index + 1..).unwrap_or(&[]);
                replacer.access(page, false, future)
            })
            .collect()
    }

    #[test]
    fn zero_frames_is_an_error() {
        assert_eq!(Replacer::new(Policy::Lru, 0, 0), Err(ReplaceError::NoFrames));
    }

    #[test]
    fn fifo_evicts_the_oldest_and_hits_do_not_reorder() {
        let steps = run_reads(Policy::Fifo, 2, &[1, 2, 1, 3]);
        assert_eq!(steps[2].frames_after, vec![1, 2]);
        assert_eq!(steps[3].victim, Some(1));
        assert_eq!(steps[3].frames_after, vec![2, 3]);
    }

    #[test]
    fn lru_moves_hits_to_the_end() {
        let steps = run_reads(Policy::Lru, 2, &[1, 2, 1, 3]);
        assert_eq!(steps[2].frames_after, vec![2, 1]);
        assert_eq!(steps[3].victim, Some(2));
        assert_eq!(steps[3].frames_after, vec![1, 3]);
    }

    #[test]
    fn opt_keeps_load_order_and_appends_the_newcomer() {
        let steps = run_reads(Policy::Opt, 3, &[1, 2, 3, 4, 1, 2]);
        assert_eq!(steps[3].victim, Some(3));
        assert_eq!(steps[3].frames_after, vec![1, 2, 4]);
    }

    #[test]
    fn writes_make_victims_dirty() {
        let Ok(mut replacer) = Replacer::new(Policy::Fifo, 1, 0) else {
            panic!("one frame is enough");
        };
        replacer.access(5, false, &[]);
        replacer.access(5, true, &[]);
        assert!(replacer.frames()[0].dirty);
        let outcome = replacer.access(6, false, &[]);
        assert_eq!(outcome.victim, Some(5));
        assert!(outcome.victim_dirty);
        let outcome = replacer.access(7, false, &[]);
        assert!(!outcome.victim_dirty);
    }

    #[test]
    fn hand_is_reported_only_by_clock_policies() {
        for policy in Policy::ALL {
            let steps = run_reads(policy, 2, &[1, 2, 3]);
            assert_eq!(steps[2].hand.is_some(), policy.has_hand(), "{policy}");
        }
    }

    #[test]
    fn frames_never_exceed_capacity_or_repeat() {
        for policy in Policy::ALL {
            for step in run_reads(policy, 3, &[1, 2, 3, 4, 1, 5, 2, 6, 1, 3, 7, 7, 2]) {
                let mut pages = step.frames_after.clone();
                assert!(pages.len() <= 3);
                pages.sort_unstable();
                pages.dedup();
                assert_eq!(pages.len(), step.frames_after.len(), "{policy}");
            }
        }
    }
}

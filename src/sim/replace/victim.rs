//! The one replacement engine: which frame a policy evicts, written once over "frames with
//! referenced and dirty bits" ([`Candidate`]). The reference-string simulator ([`super::Replacer`])
//! gives it its own frames; the OS model ([`crate::sim::os`]) gives it the bits of the real PTEs.
//!
//! Orders and ties are OSTEP's (`paging-policy.py`), so its solved outputs are fixtures:
//! FIFO takes the page loaded first, LRU the page used least recently, OPT the page next used
//! furthest ahead (among pages never used again, the one loaded last: the tool compares with
//! `>=`), random an index drawn into the frames in load order. The clock policies sweep the
//! frames in slot order from the hand and report the referenced bits they cleared, so that a
//! caller holding the bits elsewhere (in PTEs) can clear them there too.
//!
//! Every function is total: given no frames it returns slot 0, and callers only ask when every
//! frame is full.

use super::policy::Policy;
use crate::sim::rng::SplitMix64;

/// A frame as the policies see it.
pub trait Candidate {
    /// Holds a page (empty frames are never chosen by the list policies).
    fn occupied(&self) -> bool {
        true
    }
    /// When its page came in: smaller is earlier (FIFO, random's order, OPT's ties).
    fn loaded(&self) -> u64;
    /// When its page was last used: smaller is longer ago (LRU).
    fn last_use(&self) -> u64;
    /// When its page is next used (OPT); `None` for never again.
    fn next_use(&self) -> Option<u64>;
    /// The referenced (use, accessed) bit.
    fn referenced(&self) -> bool;
    /// The dirty bit (enhanced clock).
    fn dirty(&self) -> bool;
    fn clear_referenced(&mut self);
}

/// The slot `policy` evicts among `frames`. The clock policies start at `hand` and push the slots
/// whose referenced bit they cleared onto `cleared`; random draws from `rng`.
pub fn choose_victim<C: Candidate>(
    policy: Policy,
    frames: &mut [C],
    hand: usize,
    rng: &mut SplitMix64,
    cleared: &mut Vec<usize>,
) -> usize {
    match policy {
        Policy::Clock => second_chance(frames, hand, cleared),
        Policy::EnhancedClock => enhanced_second_chance(frames, hand, cleared),
        Policy::Fifo | Policy::Lru | Policy::Opt | Policy::Random => by_order(frames, policy, rng),
    }
}

/// The list policies: an order over the occupied frames.
fn by_order<C: Candidate>(frames: &[C], policy: Policy, rng: &mut SplitMix64) -> usize {
    let occupied = frames.iter().enumerate().filter(|(_, f)| f.occupied());
    let chosen = match policy {
        Policy::Lru => occupied.min_by_key(|(_, f)| f.last_use()).map(|(i, _)| i),
        // `max_by_key` keeps the last maximum: among equal keys, the later slot.
        Policy::Opt => {
            occupied.max_by_key(|(_, f)| (f.next_use().unwrap_or(u64::MAX), f.loaded())).map(|(i, _)| i)
        }
        Policy::Random => {
            let mut in_load_order: Vec<(u64, usize)> = occupied.map(|(i, f)| (f.loaded(), i)).collect();
            in_load_order.sort_unstable();
            in_load_order.get(rng.below(in_load_order.len())).map(|&(_, i)| i)
        }
        Policy::Fifo | Policy::Clock | Policy::EnhancedClock => {
            occupied.min_by_key(|(_, f)| f.loaded()).map(|(i, _)| i)
        }
    };
    chosen.unwrap_or(0)
}

/// Clock (second chance): from `hand`, clear referenced bits until an unreferenced frame.
fn second_chance<C: Candidate>(frames: &mut [C], hand: usize, cleared: &mut Vec<usize>) -> usize {
    let len = frames.len();
    if len == 0 {
        return 0;
    }
    let mut at = hand % len;
    // After one full turn every bit is clear, so len + 1 looks always find a victim.
    for _ in 0..=len {
        let Some(frame) = frames.get_mut(at) else { break };
        if !frame.referenced() {
            return at;
        }
        frame.clear_referenced();
        cleared.push(at);
        at = (at + 1) % len;
    }
    at
}

/// Enhanced clock over (referenced, dirty), the classic two-pass form: pass one looks for an
/// unreferenced clean frame and touches nothing; pass two looks for an unreferenced dirty one and
/// clears the referenced bit of every frame it passes. If both fail every bit is now clear, so a
/// second round succeeds. The preference is (0,0) < (0,1) < (1,0) < (1,1): a clean page costs no
/// write-back, and an unused page is less likely to be wanted soon.
fn enhanced_second_chance<C: Candidate>(frames: &mut [C], hand: usize, cleared: &mut Vec<usize>) -> usize {
    let len = frames.len();
    if len == 0 {
        return 0;
    }
    let start = hand % len;
    for _round in 0..2 {
        let slots = (0..len).map(|offset| (start + offset) % len);
        if let Some(at) =
            slots.clone().find(|&at| frames.get(at).is_some_and(|f| !f.referenced() && !f.dirty()))
        {
            return at;
        }
        for at in slots {
            let Some(frame) = frames.get_mut(at) else { continue };
            if !frame.referenced() && frame.dirty() {
                return at;
            }
            if frame.referenced() {
                frame.clear_referenced();
                cleared.push(at);
            }
        }
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame loaded at its slot number, with the given bits.
    #[derive(Clone, Copy, Debug)]
    struct Slot {
        loaded: u64,
        next_use: Option<u64>,
        referenced: bool,
        dirty: bool,
    }

    impl Candidate for Slot {
        fn loaded(&self) -> u64 {
            self.loaded
        }
        fn last_use(&self) -> u64 {
            self.loaded
        }
        fn next_use(&self) -> Option<u64> {
            self.next_use
        }
        fn referenced(&self) -> bool {
            self.referenced
        }
        fn dirty(&self) -> bool {
            self.dirty
        }
        fn clear_referenced(&mut self) {
            self.referenced = false;
        }
    }

    fn slots(bits: &[(bool, bool)]) -> Vec<Slot> {
        (0u64..)
            .zip(bits)
            .map(|(loaded, &(referenced, dirty))| Slot { loaded, next_use: None, referenced, dirty })
            .collect()
    }

    fn choose(policy: Policy, frames: &mut [Slot], hand: usize) -> (usize, Vec<usize>) {
        let mut cleared = Vec::new();
        let victim = choose_victim(policy, frames, hand, &mut SplitMix64::new(1), &mut cleared);
        (victim, cleared)
    }

    #[test]
    fn opt_takes_the_page_used_furthest_ahead() {
        let mut frames = slots(&[(true, false); 3]);
        for (frame, next) in frames.iter_mut().zip([Some(1), Some(0), Some(3)]) {
            frame.next_use = next;
        }
        assert_eq!(choose(Policy::Opt, &mut frames, 0).0, 2);
    }

    #[test]
    fn opt_ties_go_to_the_last_loaded_page_never_used_again() {
        let mut frames = slots(&[(true, false); 3]);
        frames[1].next_use = Some(0);
        // Slots 0 and 2 are never used again; OSTEP's tool evicts the later one.
        assert_eq!(choose(Policy::Opt, &mut frames, 0).0, 2);
    }

    #[test]
    fn clock_clears_what_it_passes_and_stops_at_the_first_clear_bit() {
        let mut frames = slots(&[(true, false), (false, false), (true, false)]);
        assert_eq!(choose(Policy::Clock, &mut frames, 0), (1, vec![0]));
        assert!(frames[2].referenced, "the hand stopped before slot 2");
        let mut all_set = slots(&[(true, false), (true, false)]);
        assert_eq!(choose(Policy::Clock, &mut all_set, 1), (1, vec![1, 0]));
    }

    #[test]
    fn enhanced_clock_prefers_classes_in_order() {
        // (0,1) beats (1,0) and (1,1); the second pass cleared slot 0 before taking slot 1.
        let mut frames = slots(&[(true, true), (false, true), (true, false)]);
        assert_eq!(choose(Policy::EnhancedClock, &mut frames, 0), (1, vec![0]));
        // All referenced: the second round finds the formerly (1,0) page.
        let mut frames = slots(&[(true, true), (true, false), (true, true)]);
        assert_eq!(choose(Policy::EnhancedClock, &mut frames, 0).0, 1);
        let mut frames = slots(&[(true, true), (true, true)]);
        assert_eq!(choose(Policy::EnhancedClock, &mut frames, 1).0, 1);
    }

    #[test]
    fn fifo_and_lru_take_the_oldest() {
        let mut frames = slots(&[(true, false); 3]);
        frames[0].loaded = 7;
        assert_eq!(choose(Policy::Fifo, &mut frames, 0).0, 1);
        assert_eq!(choose(Policy::Lru, &mut frames, 0).0, 1);
    }

    #[test]
    fn no_frames_no_panic() {
        for policy in
            [Policy::Fifo, Policy::Lru, Policy::Opt, Policy::Random, Policy::Clock, Policy::EnhancedClock]
        {
            assert_eq!(choose(policy, &mut [], 4).0, 0);
        }
    }
}

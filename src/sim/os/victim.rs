//! Victim choice over the OS model's frames. The list policies (FIFO, LRU, OPT, random) order
//! frames by when their page came in or was last used; the clock policies sweep the frames in
//! slot order reading the referenced and dirty bits the caller took from the PTEs, and say which
//! referenced bits the hand cleared so the caller can clear them in memory too.
//!
//! Ties and orders follow `replace.rs` (and so OSTEP's `paging-policy.py`): OPT takes, among
//! pages never used again, the one loaded last; random draws an index into the frames in load
//! order. A property test checks that both give the same victims.

use super::super::replace::{Policy, SplitMix64};
use super::model::UserFrame;

/// A frame's bits as the clock policies see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameBits {
    /// The PTE's accessed bit (or the model's own reference bit for formats without one).
    pub referenced: bool,
    /// The PTE's dirty bit (formats without one: always dirty).
    pub dirty: bool,
    /// The frame's page is no longer mapped there (the tables were edited behind the model).
    pub stale: bool,
}

/// The victim of a list policy. `next_use` gives, per frame, the position of the page's next
/// access (OPT only; `None` for never again). Frames without a page are skipped.
pub(super) fn by_order(
    frames: &[UserFrame],
    policy: Policy,
    next_use: &[Option<u64>],
    rng: &mut SplitMix64,
) -> usize {
    let occupied = frames.iter().enumerate().filter_map(|(i, f)| f.page.as_ref().map(|page| (i, page)));
    let chosen = match policy {
        Policy::Lru => occupied.min_by_key(|(_, page)| page.last_use).map(|(i, _)| i),
        Policy::Opt => occupied
            .max_by_key(|&(i, page)| (next_use.get(i).copied().flatten().unwrap_or(u64::MAX), page.loaded))
            .map(|(i, _)| i),
        Policy::Random => {
            let mut in_load_order: Vec<(u64, usize)> = occupied.map(|(i, page)| (page.loaded, i)).collect();
            in_load_order.sort_unstable();
            in_load_order.get(rng.below(in_load_order.len())).map(|&(_, i)| i)
        }
        Policy::Fifo | Policy::Clock | Policy::EnhancedClock => {
            occupied.min_by_key(|(_, page)| page.loaded).map(|(i, _)| i)
        }
    };
    chosen.unwrap_or(0)
}

/// Clock (second chance): from `hand`, clear referenced bits until an unreferenced frame.
pub(super) fn second_chance(bits: &mut [FrameBits], hand: usize, cleared: &mut Vec<usize>) -> usize {
    let len = bits.len();
    if len == 0 {
        return 0;
    }
    let mut at = hand % len;
    // After one full turn every bit is clear, so len + 1 looks always find a victim.
    for _ in 0..=len {
        let Some(frame) = bits.get_mut(at) else { break };
        if !frame.referenced {
            return at;
        }
        frame.referenced = false;
        cleared.push(at);
        at = (at + 1) % len;
    }
    at
}

/// Enhanced clock over (referenced, dirty): first an unreferenced clean frame without touching
/// anything, then an unreferenced dirty one while clearing the referenced bits it passes; twice
/// at most (after the first round every bit is clear).
pub(super) fn enhanced_second_chance(bits: &mut [FrameBits], hand: usize, cleared: &mut Vec<usize>) -> usize {
    let len = bits.len();
    if len == 0 {
        return 0;
    }
    let start = hand % len;
    for _round in 0..2 {
        let slots = (0..len).map(|offset| (start + offset) % len);
        if let Some(at) = slots.clone().find(|&at| bits.get(at).is_some_and(|b| !b.referenced && !b.dirty)) {
            return at;
        }
        for at in slots {
            let Some(frame) = bits.get_mut(at) else { continue };
            if !frame.referenced && frame.dirty {
                return at;
            }
            if frame.referenced {
                frame.referenced = false;
                cleared.push(at);
            }
        }
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(pattern: &[(bool, bool)]) -> Vec<FrameBits> {
        pattern.iter().map(|&(referenced, dirty)| FrameBits { referenced, dirty, stale: false }).collect()
    }

    #[test]
    fn clock_clears_what_it_passes_and_stops_at_the_first_clear_bit() {
        let mut frames = bits(&[(true, false), (false, false), (true, false)]);
        let mut cleared = Vec::new();
        assert_eq!(second_chance(&mut frames, 0, &mut cleared), 1);
        assert_eq!(cleared, vec![0]);
        let mut cleared = Vec::new();
        let mut all_set = bits(&[(true, false), (true, false)]);
        assert_eq!(second_chance(&mut all_set, 1, &mut cleared), 1);
        assert_eq!(cleared, vec![1, 0]);
    }

    #[test]
    fn enhanced_clock_prefers_clean_unreferenced_pages() {
        let mut cleared = Vec::new();
        let mut frames = bits(&[(true, true), (false, true), (true, false)]);
        assert_eq!(enhanced_second_chance(&mut frames, 0, &mut cleared), 1);
        assert_eq!(cleared, vec![0], "the second pass cleared slot 0 before taking slot 1");
        let mut cleared = Vec::new();
        let mut frames = bits(&[(true, true), (true, false), (true, true)]);
        assert_eq!(enhanced_second_chance(&mut frames, 0, &mut cleared), 1);
    }

    #[test]
    fn no_frames_no_panic() {
        assert_eq!(second_chance(&mut [], 4, &mut Vec::new()), 0);
        assert_eq!(enhanced_second_chance(&mut [], 4, &mut Vec::new()), 0);
        assert_eq!(by_order(&[], Policy::Random, &[], &mut SplitMix64::new(1)), 0);
    }
}

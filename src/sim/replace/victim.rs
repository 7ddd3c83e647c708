//! Victim choice for the policies that need more than "take the front of the list".
//!
//! Each function returns a slot index into the frames it was given; the caller evicts. They are
//! total: given no frames they return 0, and the caller only asks when every frame is full.

use super::replacer::Frame;

/// OPT: the slot whose page is next used furthest ahead in `future` (never again counts as furthest).
///
/// Ties happen only among pages never used again. OSTEP's `paging-policy.py` keeps the last such
/// page in load order (it compares with `>=`), so we do too: its solved outputs then match ours.
pub(super) fn furthest_next_use(frames: &[Frame], future: &[u64]) -> usize {
    let mut next_use: Vec<Option<usize>> = vec![None; frames.len()];
    let mut unresolved = frames.len();
    // One pass over the future for all frames at once, stopping once each has been seen:
    // a long trace costs only as far as the furthest resident page's next use.
    for (when, &page) in future.iter().enumerate() {
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
    let mut victim = 0;
    let mut victim_distance = 0;
    for (index, slot) in next_use.iter().enumerate() {
        let distance = slot.unwrap_or(usize::MAX);
        if distance >= victim_distance {
            victim = index;
            victim_distance = distance;
        }
    }
    victim
}

/// Clock (second chance): from `hand`, clear set use bits until a clear one is found.
pub(super) fn second_chance(frames: &mut [Frame], hand: usize) -> usize {
    let len = frames.len();
    if len == 0 {
        return 0;
    }
    let mut at = hand % len;
    // A full sweep clears every use bit, so the slot after it always qualifies: len + 1 looks suffice.
    for _ in 0..=len {
        match frames.get_mut(at) {
            Some(frame) if frame.used => {
                frame.used = false;
                at = (at + 1) % len;
            }
            _ => return at,
        }
    }
    at
}

/// Enhanced clock over (use, dirty) classes, the classic two-pass form.
///
/// Pass one looks for (0,0) and touches nothing; pass two looks for (0,1) and clears the use bit of
/// every frame it passes. If both fail, every use bit is now clear, so repeating them must succeed.
/// The preference this yields is (0,0) < (0,1) < (1,0) < (1,1): evicting a clean page costs no
/// write-back, and an unused page is less likely to be wanted soon.
pub(super) fn enhanced_second_chance(frames: &mut [Frame], hand: usize) -> usize {
    let len = frames.len();
    if len == 0 {
        return 0;
    }
    let start = hand % len;
    for _round in 0..2 {
        for offset in 0..len {
            let at = (start + offset) % len;
            if let Some(frame) = frames.get(at)
                && !frame.used
                && !frame.dirty
            {
                return at;
            }
        }
        for offset in 0..len {
            let at = (start + offset) % len;
            if let Some(frame) = frames.get_mut(at) {
                if !frame.used && frame.dirty {
                    return at;
                }
                frame.used = false;
            }
        }
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(page: u64, used: bool, dirty: bool) -> Frame {
        Frame { page, used, dirty }
    }

    #[test]
    fn opt_takes_the_page_used_furthest_ahead() {
        let frames = [frame(1, true, false), frame(2, true, false), frame(3, true, false)];
        assert_eq!(furthest_next_use(&frames, &[2, 1, 2, 3]), 2);
    }

    #[test]
    fn opt_ties_go_to_the_last_loaded_page_never_used_again() {
        let frames = [frame(0, true, false), frame(1, true, false), frame(3, true, false)];
        // 0 and 3 are never used again; OSTEP's tool evicts the later one.
        assert_eq!(furthest_next_use(&frames, &[1]), 2);
        assert_eq!(furthest_next_use(&frames, &[]), 2);
    }

    #[test]
    fn clock_clears_use_bits_it_passes() {
        let mut frames = [frame(1, true, false), frame(2, false, false), frame(3, true, false)];
        assert_eq!(second_chance(&mut frames, 0), 1);
        assert!(!frames[0].used);
        assert!(frames[2].used, "the hand stopped before slot 2");
    }

    #[test]
    fn clock_with_every_bit_set_comes_back_to_the_hand() {
        let mut frames = [frame(1, true, false), frame(2, true, false)];
        assert_eq!(second_chance(&mut frames, 1), 1);
        assert!(frames.iter().all(|f| !f.used));
    }

    #[test]
    fn enhanced_clock_prefers_classes_in_order() {
        let mut frames = [frame(1, true, true), frame(2, false, true), frame(3, true, false)];
        // (0,1) beats (1,0) and (1,1).
        assert_eq!(enhanced_second_chance(&mut frames, 0), 1);
        let mut frames = [frame(1, true, true), frame(2, true, false), frame(3, true, true)];
        // All used: the second round finds the formerly (1,0) page.
        assert_eq!(enhanced_second_chance(&mut frames, 0), 1);
        let mut frames = [frame(1, true, true), frame(2, true, true)];
        assert_eq!(enhanced_second_chance(&mut frames, 1), 1);
    }

    #[test]
    fn empty_frames_do_not_panic() {
        assert_eq!(furthest_next_use(&[], &[1, 2]), 0);
        assert_eq!(second_chance(&mut [], 3), 0);
        assert_eq!(enhanced_second_chance(&mut [], 3), 0);
    }
}

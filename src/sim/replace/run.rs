//! Whole-run helpers: replay a reference string, sweep the frame count.

use serde::{Deserialize, Serialize};

use super::policy::Policy;
use super::replacer::{AccessOutcome, ReplaceError, Replacer};

/// The seed [`simulate`] and [`fault_curve`] give the random policy.
pub const DEFAULT_SEED: u64 = 0;

/// One entry of a reference string: a page and whether the access writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reference {
    /// The page number.
    pub page: u64,
    /// A write (sets the dirty bit) rather than a read.
    pub write: bool,
}

impl Reference {
    /// A read of `page`.
    #[must_use]
    pub const fn read(page: u64) -> Self {
        Self { page, write: false }
    }

    /// A write of `page`.
    #[must_use]
    pub const fn write(page: u64) -> Self {
        Self { page, write: true }
    }
}

impl From<u64> for Reference {
    fn from(page: u64) -> Self {
        Self::read(page)
    }
}

/// A reference string of reads.
#[must_use]
pub fn reads(pages: &[u64]) -> Vec<Reference> {
    pages.iter().copied().map(Reference::read).collect()
}

/// One access of a run and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Step {
    /// The page accessed.
    pub page: u64,
    /// Whether the access was a write.
    pub is_write: bool,
    /// Hit or miss, victim, and the frames afterwards.
    pub outcome: AccessOutcome,
}

/// A whole replayed reference string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Run {
    /// The policy replayed.
    pub policy: Policy,
    /// The number of frames.
    pub frames: usize,
    /// Every access in order.
    pub steps: Vec<Step>,
    /// Accesses that found their page resident.
    pub hits: u64,
    /// Accesses that had to load their page.
    pub misses: u64,
    /// Evictions of dirty pages.
    pub write_backs: u64,
}

impl Run {
    /// Hits over accesses, from 0 to 1; 0 for an empty string.
    #[must_use]
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits.saturating_add(self.misses);
        if total == 0 {
            return 0.0;
        }
        // Precision loss above 2^53 accesses is irrelevant for a ratio.
        self.hits as f64 / total as f64
    }
}

/// Totals without the per-step snapshots, for sweeps over many frame counts.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    hits: u64,
    misses: u64,
    write_backs: u64,
}

impl Totals {
    fn add(&mut self, outcome: &AccessOutcome) {
        if outcome.hit {
            self.hits = self.hits.saturating_add(1);
        } else {
            self.misses = self.misses.saturating_add(1);
        }
        if outcome.victim_dirty {
            self.write_backs = self.write_backs.saturating_add(1);
        }
    }
}

/// Feeds every reference to a fresh [`Replacer`], handing each outcome to `on_step`.
fn replay(
    policy: Policy,
    frames: usize,
    refs: &[Reference],
    seed: u64,
    mut on_step: impl FnMut(&Reference, AccessOutcome),
) -> Result<Totals, ReplaceError> {
    let mut replacer = Replacer::new(policy, frames, seed)?;
    // OPT wants the future as bare page numbers; other policies ignore it, so skip the copy.
    let pages: Vec<u64> = if policy.needs_future() {
        refs.iter().map(|reference| reference.page).collect()
    } else {
        Vec::new()
    };
    let mut totals = Totals::default();
    for (index, reference) in refs.iter().enumerate() {
        let future = pages.get(index + 1..).unwrap_or(&[]);
        let outcome = replacer.access(reference.page, reference.write, future);
        totals.add(&outcome);
        on_step(reference, outcome);
    }
    Ok(totals)
}

/// Replays `refs` with `frames` frames (the random policy gets [`DEFAULT_SEED`]).
///
/// # Errors
/// [`ReplaceError::NoFrames`] when `frames` is zero. An empty string gives an empty run.
pub fn simulate(policy: Policy, frames: usize, refs: &[Reference]) -> Result<Run, ReplaceError> {
    simulate_seeded(policy, frames, refs, DEFAULT_SEED)
}

/// Like [`simulate`] with an explicit seed for the random policy.
///
/// # Errors
/// [`ReplaceError::NoFrames`] when `frames` is zero.
pub fn simulate_seeded(
    policy: Policy,
    frames: usize,
    refs: &[Reference],
    seed: u64,
) -> Result<Run, ReplaceError> {
    let mut steps = Vec::with_capacity(refs.len());
    let totals = replay(policy, frames, refs, seed, |reference, outcome| {
        steps.push(Step { page: reference.page, is_write: reference.write, outcome });
    })?;
    Ok(Run {
        policy,
        frames,
        steps,
        hits: totals.hits,
        misses: totals.misses,
        write_backs: totals.write_backs,
    })
}

/// Misses for every frame count from 1 to `max_frames`, as `(frames, misses)` sorted by frames.
///
/// Empty when `max_frames` is zero. FIFO can rise as frames are added (Belady's anomaly); LRU and
/// OPT never do.
#[must_use]
pub fn fault_curve(policy: Policy, refs: &[Reference], max_frames: usize) -> Vec<(usize, u64)> {
    fault_curve_seeded(policy, refs, max_frames, DEFAULT_SEED)
}

/// Like [`fault_curve`] with an explicit seed for the random policy.
#[must_use]
pub fn fault_curve_seeded(
    policy: Policy,
    refs: &[Reference],
    max_frames: usize,
    seed: u64,
) -> Vec<(usize, u64)> {
    (1..=max_frames)
        .filter_map(|frames| {
            let totals = replay(policy, frames, refs, seed, |_, _| {}).ok()?;
            Some((frames, totals.misses))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BELADY: [u64; 12] = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];

    #[test]
    fn fifo_shows_beladys_anomaly() {
        let curve = fault_curve(Policy::Fifo, &reads(&BELADY), 4);
        assert_eq!(curve, vec![(1, 12), (2, 12), (3, 9), (4, 10)]);
    }

    #[test]
    fn empty_string_gives_an_empty_run() -> Result<(), ReplaceError> {
        let run = simulate(Policy::Opt, 3, &[])?;
        assert!(run.steps.is_empty());
        assert_eq!((run.hits, run.misses, run.write_backs), (0, 0, 0));
        assert!(run.hit_rate().abs() < f64::EPSILON);
        Ok(())
    }

    #[test]
    fn zero_frames_is_refused_and_curves_skip_it() {
        assert_eq!(simulate(Policy::Fifo, 0, &reads(&[1])), Err(ReplaceError::NoFrames));
        assert!(fault_curve(Policy::Fifo, &reads(&[1]), 0).is_empty());
    }

    #[test]
    fn write_backs_count_dirty_victims_only() -> Result<(), ReplaceError> {
        let refs = [Reference::write(1), Reference::read(2), Reference::read(3), Reference::read(4)];
        let run = simulate(Policy::Fifo, 1, &refs)?;
        assert_eq!(run.write_backs, 1);
        assert_eq!(run.misses, 4);
        Ok(())
    }

    #[test]
    fn hit_rate_is_a_fraction() -> Result<(), ReplaceError> {
        let run = simulate(Policy::Lru, 2, &reads(&[1, 1, 1, 2]))?;
        assert!((run.hit_rate() - 0.5).abs() < 1e-12);
        Ok(())
    }
}

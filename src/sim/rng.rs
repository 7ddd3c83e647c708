//! The one seeded generator of the core: the random replacement policy, the TLB's random
//! victim, the OS model and exercise variants all draw from it.
//!
//! SplitMix64 (Steele, Lea and Flood): one add and two multiply-xorshift rounds per value. It is
//! not for cryptography; it is here so a seed replays the same victims on every platform without
//! pulling in a crate.

/// A SplitMix64 generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose output depends only on `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A value in `0..bound`, or 0 when `bound` is 0.
    pub fn below(&mut self, bound: usize) -> usize {
        let Ok(bound64) = u64::try_from(bound) else {
            return 0;
        };
        // Multiply-shift instead of `%`: no division, and the bias is at most bound / 2^64.
        let scaled = (u128::from(self.next_u64()) * u128::from(bound64)) >> 64;
        u64::try_from(scaled).ok().and_then(|value| usize::try_from(value).ok()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_splitmix64_sequence() {
        // First outputs of the published SplitMix64 for seed 0.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn below_stays_in_range_and_handles_zero() {
        let mut rng = SplitMix64::new(7);
        assert_eq!(rng.below(0), 0);
        for bound in 1..50 {
            assert!(rng.below(bound) < bound);
        }
    }

    #[test]
    fn same_seed_same_sequence() {
        let mut first = SplitMix64::new(99);
        let mut second = SplitMix64::new(99);
        for _ in 0..10 {
            assert_eq!(first.next_u64(), second.next_u64());
        }
    }
}

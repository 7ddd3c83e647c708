//! A set of `u64` values kept as sorted, disjoint, non-adjacent half-open runs `[start, end)`:
//! the frame allocator's record of allocated frames, and frame-usage sets, cost one entry per
//! run rather than one per frame, so a 1 GiB page is one entry, not 262,144.

use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Runs {
    /// start -> end (exclusive); runs never touch or overlap.
    runs: BTreeMap<u64, u64>,
    /// Values in all runs together.
    total: u64,
}

impl Runs {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many values the set holds.
    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// How many runs the set is made of.
    pub fn run_count(&self) -> usize {
        self.runs.len()
    }

    pub fn contains(&self, value: u64) -> bool {
        self.runs.range(..=value).next_back().is_some_and(|(_, &end)| value < end)
    }

    /// The runs, in order, as `(start, end)`.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, u64)> + '_ {
        self.runs.iter().map(|(&s, &e)| (s, e))
    }

    /// Every value, in order (proportional to the values: use [`Runs::iter`] on big sets).
    pub fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().flat_map(|(s, e)| s..e)
    }

    /// The last run that starts before `end` and overlaps `[start, end)`.
    pub fn last_overlap(&self, start: u64, end: u64) -> Option<(u64, u64)> {
        if start >= end {
            return None;
        }
        let (&s, &e) = self.runs.range(..end).next_back()?;
        (e > start).then_some((s, e))
    }

    /// The parts of `[start, end)` that the set holds, in order.
    pub fn intersect(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        if start >= end {
            return Vec::new();
        }
        let first = self.runs.range(..=start).next_back().map_or(start, |(&s, _)| s);
        self.runs
            .range(first..end)
            .filter_map(|(&s, &e)| {
                let (s, e) = (s.max(start), e.min(end));
                (s < e).then_some((s, e))
            })
            .collect()
    }

    /// The parts of `[start, end)` that the set does not hold, in order.
    pub fn gaps(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut cursor = start;
        for (s, e) in self.intersect(start, end) {
            if s > cursor {
                out.push((cursor, s));
            }
            cursor = e;
        }
        if cursor < end {
            out.push((cursor, end));
        }
        out
    }

    /// Adds `[start, end)`, merging with neighbours.
    pub fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        self.remove(start, end);
        let mut new_start = start;
        let mut new_end = end;
        if let Some((&s, &e)) = self.runs.range(..start).next_back()
            && e == start
        {
            new_start = s;
            self.runs.remove(&s);
        }
        if let Some(e) = self.runs.remove(&end) {
            new_end = e;
        }
        self.runs.insert(new_start, new_end);
        self.total += end - start;
    }

    /// Removes `[start, end)`.
    pub fn remove(&mut self, start: u64, end: u64) {
        for (s, e) in self.intersect(start, end) {
            let (&run_start, &run_end) = match self.runs.range(..=s).next_back() {
                Some(run) => run,
                None => continue,
            };
            self.runs.remove(&run_start);
            if run_start < s {
                self.runs.insert(run_start, s);
            }
            if e < run_end {
                self.runs.insert(e, run_end);
            }
            self.total -= e - s;
        }
    }

    /// Removes every value the other set holds.
    pub fn subtract(&mut self, other: &Runs) {
        for (s, e) in other.iter() {
            self.remove(s, e);
        }
    }

    /// The lowest value the set does not hold.
    pub fn first_gap(&self) -> u64 {
        match self.runs.first_key_value() {
            Some((&0, &end)) => end,
            _ => 0,
        }
    }

    /// The highest value held.
    pub fn last(&self) -> Option<u64> {
        self.runs.last_key_value().map(|(_, &e)| e - 1)
    }
}

impl FromIterator<(u64, u64)> for Runs {
    fn from_iter<I: IntoIterator<Item = (u64, u64)>>(iter: I) -> Self {
        let mut runs = Runs::new();
        for (s, e) in iter {
            runs.insert(s, e);
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn neighbours_merge_and_removal_splits() {
        let mut r = Runs::new();
        r.insert(0, 4);
        r.insert(8, 10);
        r.insert(4, 8);
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![(0, 10)]);
        r.remove(3, 5);
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![(0, 3), (5, 10)]);
        assert_eq!(r.len(), 8);
        assert_eq!(r.gaps(0, 12), vec![(3, 5), (10, 12)]);
        assert_eq!(r.first_gap(), 3);
        assert_eq!(r.last_overlap(0, 6), Some((5, 10)));
        assert_eq!(r.last_overlap(3, 5), None);
    }

    proptest! {
        /// Runs behave exactly as the set of the values they cover.
        #[test]
        fn runs_match_a_set_of_values(ops in prop::collection::vec((any::<bool>(), 0u64..64, 0u64..16), 0..40)) {
            let mut runs = Runs::new();
            let mut set = BTreeSet::new();
            for (add, start, len) in ops {
                let end = start + len;
                if add {
                    runs.insert(start, end);
                    set.extend(start..end);
                } else {
                    runs.remove(start, end);
                    for v in start..end {
                        set.remove(&v);
                    }
                }
                prop_assert_eq!(runs.values().collect::<Vec<_>>(), set.iter().copied().collect::<Vec<_>>());
                prop_assert_eq!(runs.len(), set.len() as u64);
                let pairs: Vec<_> = runs.iter().collect();
                for w in pairs.windows(2) {
                    prop_assert!(w[0].1 < w[1].0, "runs touch or overlap: {:?}", pairs);
                }
            }
        }
    }
}

//! The one way to drive a TLB: look an address up and, on a miss, walk and cache what the walk
//! found. Trace replay, exercise queries and the tests all go through it, so a hit, a miss and a
//! fill are counted the same way everywhere (by the TLB's own [`TlbStats`](super::tlb::TlbStats)).
//!
//! The walk is the caller's closure: the TLB knows no page-table format. It is handed the TLBs
//! so that it can invalidate pages before the fill (an OS model that evicts a page during the
//! walk invalidates it, as its kernel would, before the retried access caches its own page).
//! The replayer looks up through its hinted fast path, whose hit does more than a plain hit
//! (rights, dirty-bit assists), and drives only its misses through [`Tlbs::walk_and_fill`].

use super::tlb::{AccessClass, TlbEntry, Tlbs};

/// What a walk found that the TLB is to cache for the page of the looked-up address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fill<T> {
    /// log2 of the page size the translation covers.
    pub page_shift: u32,
    /// A global entry matches every address space.
    pub global: bool,
    pub payload: T,
}

/// How a driven access ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driven {
    /// The TLB held the page.
    Hit,
    /// A miss whose walk's translation is now cached.
    Filled,
    /// A miss whose walk cached nothing (a fault, or a page of 2^64 bytes or more, which no
    /// format has).
    Missed,
}

impl<T: Clone> Tlbs<T> {
    /// Looks `va` up in the TLB of `class` for its current address space; on a miss calls
    /// `walk` and caches the translation it returns (nothing when it returns `None`). The
    /// lookup counts a hit or a miss; a fill counts an insertion and, in a full set, an eviction.
    pub fn lookup_or_walk<E>(
        &mut self,
        class: AccessClass,
        va: u64,
        walk: impl FnOnce(&mut Self) -> Result<Option<Fill<T>>, E>,
    ) -> Result<Driven, E> {
        let tlb = self.get_mut(class);
        if tlb.lookup(tlb.current_asid(), va).is_some() {
            return Ok(Driven::Hit);
        }
        self.walk_and_fill(class, va, walk)
    }

    /// The miss half of [`Tlbs::lookup_or_walk`], for a caller whose lookup (already counted)
    /// missed: walks, then caches what the walk found.
    pub fn walk_and_fill<E>(
        &mut self,
        class: AccessClass,
        va: u64,
        walk: impl FnOnce(&mut Self) -> Result<Option<Fill<T>>, E>,
    ) -> Result<Driven, E> {
        let filled = walk(self)?.is_some_and(|found| self.fill(class, va, found));
        Ok(if filled { Driven::Filled } else { Driven::Missed })
    }

    /// Caches a walk's translation of `va` in the TLB of `class`, for its current address
    /// space; false when the page size cannot be cached (a shift of 64 or more).
    pub fn fill(&mut self, class: AccessClass, va: u64, found: Fill<T>) -> bool {
        let tlb = self.get_mut(class);
        let Ok(entry) = TlbEntry::new(tlb.current_asid(), va, found.page_shift, found.global, found.payload)
        else {
            return false;
        };
        tlb.insert(entry);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::tlb::{TlbConfig, TlbPolicy};
    use std::convert::Infallible;

    const PAGE_SHIFT: u32 = 12;

    fn unified(entries: usize, ways: usize) -> Tlbs<u64> {
        let config = TlbConfig { entries, ways, policy: TlbPolicy::Lru, ..TlbConfig::default() };
        Tlbs::new(config, None).unwrap()
    }

    /// Drives page `page`; the walk maps it to frame `page + 100` and records that it ran.
    fn drive(tlbs: &mut Tlbs<u64>, page: u64, walks: &mut Vec<u64>) -> Driven {
        let walk = |_: &mut Tlbs<u64>| {
            walks.push(page);
            Ok::<_, Infallible>(Some(Fill { page_shift: PAGE_SHIFT, global: false, payload: page + 100 }))
        };
        tlbs.lookup_or_walk(AccessClass::Data, page << PAGE_SHIFT, walk).unwrap()
    }

    #[test]
    fn a_miss_walks_once_and_the_next_access_hits_the_fill() {
        // Two entries, fully associative LRU. Pages 1, 2, 1, 3, 2: 1 and 2 miss and fill, 1
        // hits (2 becomes least recent), 3 misses and evicts 2, so 2 misses again.
        let mut tlbs = unified(2, 2);
        let mut walks = Vec::new();
        let ended: Vec<Driven> =
            [1, 2, 1, 3, 2].iter().map(|&page| drive(&mut tlbs, page, &mut walks)).collect();
        use Driven::{Filled, Hit};
        assert_eq!(ended, [Filled, Filled, Hit, Filled, Filled]);
        assert_eq!(walks, [1, 2, 3, 2]);
        let stats = tlbs.stats();
        assert_eq!(
            (stats.lookups, stats.hits, stats.misses, stats.inserts, stats.evictions),
            (5, 1, 4, 4, 2)
        );
        let cached = tlbs.data().peek(0, 1 << PAGE_SHIFT).map(|entry| *entry.payload());
        assert_eq!(cached, None, "page 1 was evicted by page 2's second fill");
        assert_eq!(tlbs.data().peek(0, 3 << PAGE_SHIFT).map(|entry| *entry.payload()), Some(103));
    }

    #[test]
    fn a_walk_that_finds_nothing_caches_nothing_and_errors_pass_through() {
        let mut tlbs = unified(4, 4);
        let nothing = |_: &mut Tlbs<u64>| Ok::<_, Infallible>(None);
        assert_eq!(tlbs.lookup_or_walk(AccessClass::Data, 0x5000, nothing), Ok(Driven::Missed));
        assert!(tlbs.is_empty());
        let failed = |_: &mut Tlbs<u64>| Err::<Option<Fill<u64>>, _>("no such process");
        assert_eq!(tlbs.lookup_or_walk(AccessClass::Data, 0x5000, failed), Err("no such process"));
        // A page of 2^64 bytes cannot be tagged: counted as a miss, nothing cached.
        let huge =
            |_: &mut Tlbs<u64>| Ok::<_, Infallible>(Some(Fill { page_shift: 64, global: false, payload: 0 }));
        assert_eq!(tlbs.lookup_or_walk(AccessClass::Data, 0x5000, huge), Ok(Driven::Missed));
        assert_eq!((tlbs.stats().misses, tlbs.stats().inserts), (3, 0));
    }

    #[test]
    fn the_walk_can_invalidate_before_the_fill() {
        // The walk of page 2 evicts page 1 (an OS model taking its frame) and invalidates it;
        // the fill of page 2 that follows is kept.
        let mut tlbs = unified(4, 4);
        let mut walks = Vec::new();
        drive(&mut tlbs, 1, &mut walks);
        let walk = |tlbs: &mut Tlbs<u64>| {
            tlbs.invalidate_page(1 << PAGE_SHIFT, Some(0));
            Ok::<_, Infallible>(Some(Fill { page_shift: PAGE_SHIFT, global: false, payload: 102 }))
        };
        assert_eq!(tlbs.lookup_or_walk(AccessClass::Data, 2 << PAGE_SHIFT, walk), Ok(Driven::Filled));
        assert!(tlbs.data().peek(0, 1 << PAGE_SHIFT).is_none());
        assert_eq!(tlbs.data().peek(0, 2 << PAGE_SHIFT).map(|entry| *entry.payload()), Some(102));
    }
}

//! Caches under the TLB that shorten a 2D walk: paging-structure caches (SDM Vol. 3A 4.10.3:
//! upper-level entries kept by the address bits that select them, so a walk starts at a lower
//! level) in the guest and in the host dimension, and a nested TLB (guest-physical page ->
//! host-physical page, Bhargava et al., ASPLOS 2008) that skips a whole host walk. Each can be
//! switched on and sized; each evicts its least recently used entry.
//!
//! [`CachedWalker::walk`] takes the pure walk ([`super::translate`]) and keeps the references a
//! cached walk still makes, in order: the tables are not edited during a replay, so a cached
//! entry always agrees with memory and the skipped references are exactly the ones it stands
//! for. Every walk is a TLB miss: the caches are what a miss consults.

use super::{Dimension, NestedRef, NestedSetup, NestedTranslation};
use crate::sim::address::VirtAddr;
use crate::sim::fault::{Access, Mode};
use crate::sim::format::PagingFormat;
use crate::sim::mem::PhysMem;
use serde::Serialize;
use std::collections::BTreeMap;

/// Sizes of the caches, in entries; 0 switches one off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheConfig {
    /// Guest paging-structure caches: entries per guest level above the last.
    pub guest_psc: usize,
    /// Host paging-structure caches: entries per host level above the last.
    pub host_psc: usize,
    /// Nested TLB: 4 KiB guest-physical pages whose host translation is kept.
    pub nested_tlb: usize,
}

impl CacheConfig {
    /// No caches: every walk costs its full 2D count.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn is_off(&self) -> bool {
        *self == Self::none()
    }
}

/// A least-recently-used set of keys with a capacity (0 holds nothing).
#[derive(Clone, Debug, Default)]
struct Lru {
    capacity: usize,
    stamp_of: BTreeMap<u64, u64>,
    by_stamp: BTreeMap<u64, u64>,
    clock: u64,
}

impl Lru {
    fn new(capacity: usize) -> Self {
        Self { capacity, ..Self::default() }
    }

    /// Whether `key` is held; a hit makes it the most recently used.
    fn hit(&mut self, key: u64) -> bool {
        let Some(old) = self.stamp_of.get(&key).copied() else { return false };
        self.by_stamp.remove(&old);
        self.clock += 1;
        self.stamp_of.insert(key, self.clock);
        self.by_stamp.insert(self.clock, key);
        true
    }

    fn insert(&mut self, key: u64) {
        if self.capacity == 0 || self.hit(key) {
            return;
        }
        if self.stamp_of.len() >= self.capacity
            && let Some((_, victim)) = self.by_stamp.pop_first()
        {
            self.stamp_of.remove(&victim);
        }
        self.clock += 1;
        self.stamp_of.insert(key, self.clock);
        self.by_stamp.insert(self.clock, key);
    }
}

/// Hits and misses of one replay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    pub guest_psc_hits: u64,
    pub host_psc_hits: u64,
    pub nested_tlb_hits: u64,
    pub nested_tlb_misses: u64,
}

/// The caches' state across walks.
#[derive(Clone, Debug)]
pub struct CachedWalker {
    config: CacheConfig,
    /// One cache per guest level: keys are the VA bits that select that level's entry.
    guest_psc: Vec<Lru>,
    /// One cache per host level: keys are the guest-physical bits that select its entry.
    host_psc: Vec<Lru>,
    nested_tlb: Lru,
    pub stats: CacheStats,
}

/// The VA (or guest-physical) bits above `span` that select an entry at a level (levels above
/// included), tagged with nothing else: each level has its own cache.
fn prefix(addr: u64, span: u32) -> u64 {
    addr.checked_shr(span).unwrap_or(0)
}

/// The level a walk of `addr` starts at, in either dimension: below the deepest non-leaf
/// level whose paging-structure cache (`caches`, one per level) holds `addr`'s prefix there
/// (`span` gives a level's prefix shift), counted in `hits`; 0 when none does.
fn start_below_cached(
    caches: &mut [Lru],
    levels: usize,
    addr: u64,
    span: impl Fn(usize) -> u32,
    hits: &mut u64,
) -> usize {
    let deepest_cached = (0..levels.saturating_sub(1))
        .rev()
        .find(|&level| caches.get_mut(level).is_some_and(|cache| cache.hit(prefix(addr, span(level)))));
    deepest_cached.map_or(0, |level| {
        *hits += 1;
        level + 1
    })
}

impl CachedWalker {
    pub fn new(config: CacheConfig, guest_levels: usize, host_levels: usize) -> Self {
        Self {
            config,
            guest_psc: (0..guest_levels).map(|_| Lru::new(config.guest_psc)).collect(),
            host_psc: (0..host_levels).map(|_| Lru::new(config.host_psc)).collect(),
            nested_tlb: Lru::new(config.nested_tlb),
            stats: CacheStats::default(),
        }
    }

    pub fn config(&self) -> CacheConfig {
        self.config
    }

    /// The walk of `va` with the caches: the full walk's references minus those the caches
    /// stand for (numbered again from 1), and the same outcome. Fills the caches from it.
    pub fn walk(
        &mut self,
        setup: &NestedSetup,
        mem: &PhysMem,
        guest: &PagingFormat,
        va: VirtAddr,
        access: Access,
        mode: Mode,
    ) -> NestedTranslation {
        let full = setup.translate(mem, guest, va, access, mode);
        let raw_va = va.get();
        let host = setup.host;
        let guest_levels = guest.levels.len();
        let guest_start = start_below_cached(
            &mut self.guest_psc,
            guest_levels,
            raw_va,
            |l| guest.entry_span_shift(l),
            &mut self.stats.guest_psc_hits,
        );
        let mut kept: Vec<NestedRef> = Vec::with_capacity(full.refs.len());
        // The references of one host walk (or one guest entry) at a time, in the walk's order.
        let mut i = 0;
        while let Some(first) = full.refs.get(i) {
            let row = first.guest_level;
            if row.is_some_and(|g| g < guest_start) {
                i += 1;
                continue;
            }
            match first.dimension {
                Dimension::Guest => {
                    kept.push(first.clone());
                    i += 1;
                }
                Dimension::Host => {
                    let end = full.refs[i..]
                        .iter()
                        .position(|r| r.dimension != Dimension::Host || r.guest_level != row)
                        .map_or(full.refs.len(), |n| i + n);
                    let walk = &full.refs[i..end];
                    let gpa = first.gpa.get();
                    let page = gpa >> 12;
                    let completes = walk.last().is_some_and(|r| r.hpa.is_some());
                    if self.config.nested_tlb > 0 && self.nested_tlb.hit(page) {
                        self.stats.nested_tlb_hits += 1;
                    } else {
                        if self.config.nested_tlb > 0 {
                            self.stats.nested_tlb_misses += 1;
                        }
                        let host_start = start_below_cached(
                            &mut self.host_psc,
                            host.levels(),
                            gpa,
                            |l| host.span_shift(l),
                            &mut self.stats.host_psc_hits,
                        );
                        kept.extend(walk.iter().filter(|r| r.level >= host_start).cloned());
                        for r in walk.iter().filter(|r| !r.leaf && host.present(r.raw)) {
                            if let Some(c) = self.host_psc.get_mut(r.level) {
                                c.insert(prefix(gpa, host.span_shift(r.level)));
                            }
                        }
                        if completes {
                            self.nested_tlb.insert(page);
                        }
                    }
                    i = end;
                }
            }
        }
        // Guest entries that point to tables are cached (SDM: only entries with P=1).
        for r in full.refs.iter().filter(|r| r.dimension == Dimension::Guest && !r.leaf) {
            if guest.present(r.raw, r.level)
                && let Some(c) = self.guest_psc.get_mut(r.level)
            {
                c.insert(prefix(raw_va, guest.entry_span_shift(r.level)));
            }
        }
        for (n, r) in kept.iter_mut().enumerate() {
            r.number = n + 1;
        }
        NestedTranslation { va, refs: kept, outcome: full.outcome }
    }
}

/// What replaying a list of accesses costs with and without the caches.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WalkReplay {
    /// Walks made: one per access (each a TLB miss).
    pub walks: u64,
    pub refs_without: u64,
    pub refs_with: u64,
    pub avg_without: f64,
    pub avg_with: f64,
    pub config: CacheConfig,
    pub stats: CacheStats,
}

/// Replays `accesses` as TLB misses through the 2D walk, without caches and with `config`'s.
pub fn replay(
    setup: &NestedSetup,
    mem: &PhysMem,
    guest: &PagingFormat,
    accesses: &[(VirtAddr, Access)],
    mode: Mode,
    config: CacheConfig,
) -> WalkReplay {
    let mut cached = CachedWalker::new(config, guest.levels.len(), setup.host.levels());
    let (mut without, mut with) = (0u64, 0u64);
    for &(va, access) in accesses {
        without += setup.translate(mem, guest, va, access, mode).refs.len() as u64;
        with += cached.walk(setup, mem, guest, va, access, mode).refs.len() as u64;
    }
    let walks = accesses.len() as u64;
    let avg = |refs: u64| if walks == 0 { 0.0 } else { refs as f64 / walks as f64 };
    WalkReplay {
        walks,
        refs_without: without,
        refs_with: with,
        avg_without: avg(without),
        avg_with: avg(with),
        config,
        stats: cached.stats,
    }
}

/// What a trace cost behind a guest TLB: only misses walk.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TraceCost {
    /// Pages touched (an access that straddles a page boundary touches two).
    pub accesses: u64,
    pub tlb_hits: u64,
    /// TLB misses: each one a 2D walk.
    pub misses: u64,
    /// Misses whose walk faulted (in either dimension).
    pub faults: u64,
    pub refs_without: u64,
    pub refs_with: u64,
    pub avg_without: f64,
    pub avg_with: f64,
    pub config: CacheConfig,
    pub stats: CacheStats,
}

/// A trace through a guest TLB (fully associative, LRU, 4 KiB guest pages, filled by walks that
/// succeed) in front of the 2D walk, costed without and with the page-walk caches.
#[derive(Clone, Debug)]
pub struct NestedReplayer {
    tlb: Lru,
    cached: CachedWalker,
    cost: TraceCost,
}

impl NestedReplayer {
    pub fn new(config: CacheConfig, tlb_entries: usize, guest_levels: usize, host_levels: usize) -> Self {
        Self {
            tlb: Lru::new(tlb_entries),
            cached: CachedWalker::new(config, guest_levels, host_levels),
            cost: TraceCost { config, ..TraceCost::default() },
        }
    }

    /// One access to the page of `va`.
    pub fn access(
        &mut self,
        setup: &NestedSetup,
        mem: &PhysMem,
        guest: &PagingFormat,
        va: VirtAddr,
        access: Access,
        mode: Mode,
    ) {
        self.cost.accesses += 1;
        let page = va.get() >> 12;
        if self.tlb.hit(page) {
            self.cost.tlb_hits += 1;
            return;
        }
        self.cost.misses += 1;
        let full = setup.translate(mem, guest, va, access, mode);
        self.cost.refs_without += full.refs.len() as u64;
        let cached = self.cached.walk(setup, mem, guest, va, access, mode);
        self.cost.refs_with += cached.refs.len() as u64;
        if full.outcome.is_ok() {
            self.tlb.insert(page);
        } else {
            self.cost.faults += 1;
        }
    }

    /// The totals, with references per miss.
    pub fn finish(&self) -> TraceCost {
        let mut cost = self.cost.clone();
        let per_miss = |refs: u64| if cost.misses == 0 { 0.0 } else { refs as f64 / cost.misses as f64 };
        cost.avg_without = per_miss(cost.refs_without);
        cost.avg_with = per_miss(cost.refs_with);
        cost.stats = self.cached.stats;
        cost
    }
}

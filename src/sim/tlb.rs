//! A configurable translation lookaside buffer, generic over what it caches.
//!
//! The TLB knows nothing of page-table formats: an entry is a tag (ASID, virtual page number, page
//! size as a shift, global flag) plus a payload `T` chosen by the caller (typically the frame number
//! and combined permissions of a walk). Like hardware it is never coherent by itself: it keeps what
//! was inserted until an invalidation or a replacement removes it, whatever happens in memory.
//!
//! Storage is one flat `Vec` of `sets * ways` slots; set `s` occupies slots `s * ways .. (s + 1) *
//! ways`. An entry for a page of shift `p` lives in set `(va >> p) mod sets`, so a lookup tries each
//! page size currently present (a 64-bit mask, smallest first) and looks in one set per size: over
//! tags packed apart from the payloads (page numbers, and valid/ASID/shift bits), scanned in sets of
//! up to 8 ways, found through a hash index in wider ones (a fully associative TLB of 64 entries
//! would otherwise scan 64). LRU and FIFO pick their victim by the oldest stamp in narrow sets and
//! from the head of a use-order list in wide ones. A caller that looks up the same page again and
//! again (a trace's consecutive accesses) keeps a [`HitHint`] and skips the search while the TLB is
//! unchanged, with the same counts and replacement order. The hit path performs no allocation.

use super::rng::SplitMix64;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use thiserror::Error;

/// Largest TLB accepted, so a hand-edited lab cannot make the simulator allocate gigabytes.
pub const MAX_TLB_ENTRIES: usize = 1 << 20;

/// Which entry a full set gives up on insertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum TlbPolicy {
    /// Least recently used (by lookup hit or insertion).
    Lru,
    /// First in, first out: hits do not refresh an entry.
    Fifo,
    /// A way chosen by a seeded PRNG, so runs are reproducible.
    Random,
    /// Tree pseudo-LRU: `ways - 1` bits per set, each pointing away from the last used half.
    Plru,
}

/// The shape and behaviour of one TLB.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TlbConfig {
    /// Total number of entries (`sets * ways`).
    pub entries: usize,
    /// Associativity; `ways == entries` is fully associative.
    pub ways: usize,
    /// Replacement policy.
    pub policy: TlbPolicy,
    /// Seed of the PRNG used by [`TlbPolicy::Random`].
    pub seed: u64,
    /// When on, entries carry the ASID they were filled under and survive address-space switches
    /// (x86 PCID, RISC-V ASID). When off, ASIDs are not compared and a switch flushes every
    /// non-global entry, as a CR3 write does without PCIDs.
    pub asid_tagging: bool,
}

impl Default for TlbConfig {
    fn default() -> Self {
        Self { entries: 64, ways: 4, policy: TlbPolicy::Lru, seed: 0, asid_tagging: true }
    }
}

/// Why a [`TlbConfig`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TlbConfigError {
    #[error("a TLB needs at least one entry")]
    ZeroEntries,
    #[error("a TLB needs at least one way")]
    ZeroWays,
    #[error("{entries} entries is more than the {max} supported")]
    TooManyEntries { entries: usize, max: usize },
    #[error("{entries} entries cannot be split into sets of {ways} ways")]
    NotAMultipleOfWays { entries: usize, ways: usize },
    #[error("{sets} sets is not a power of two (the set index is taken from page-number bits)")]
    SetsNotPowerOfTwo { sets: usize },
    #[error("tree pseudo-LRU needs a power-of-two number of ways, not {ways}")]
    PlruWaysNotPowerOfTwo { ways: usize },
}

impl TlbConfig {
    /// Checks the configuration and returns the number of sets.
    pub fn validate(&self) -> Result<usize, TlbConfigError> {
        if self.entries == 0 {
            return Err(TlbConfigError::ZeroEntries);
        }
        if self.ways == 0 {
            return Err(TlbConfigError::ZeroWays);
        }
        if self.entries > MAX_TLB_ENTRIES {
            return Err(TlbConfigError::TooManyEntries { entries: self.entries, max: MAX_TLB_ENTRIES });
        }
        if !self.entries.is_multiple_of(self.ways) {
            return Err(TlbConfigError::NotAMultipleOfWays { entries: self.entries, ways: self.ways });
        }
        let sets = self.entries / self.ways;
        if !sets.is_power_of_two() {
            return Err(TlbConfigError::SetsNotPowerOfTwo { sets });
        }
        if self.policy == TlbPolicy::Plru && !self.ways.is_power_of_two() {
            return Err(TlbConfigError::PlruWaysNotPowerOfTwo { ways: self.ways });
        }
        Ok(sets)
    }
}

/// Why a [`TlbEntry`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TlbEntryError {
    #[error("page shift {page_shift} is out of range (0..=63)")]
    PageShiftOutOfRange { page_shift: u32 },
}

/// One cached translation: the tag that a lookup compares and the payload it returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlbEntry<T> {
    vpn: u64,
    asid: u16,
    page_shift: u8,
    global: bool,
    payload: T,
}

impl<T> TlbEntry<T> {
    /// An entry for the page of size `1 << page_shift` that contains `va`.
    pub fn new(asid: u16, va: u64, page_shift: u32, global: bool, payload: T) -> Result<Self, TlbEntryError> {
        let shift = u8::try_from(page_shift)
            .ok()
            .filter(|&shift| shift < 64)
            .ok_or(TlbEntryError::PageShiftOutOfRange { page_shift })?;
        Ok(Self { vpn: va >> shift, asid, page_shift: shift, global, payload })
    }

    /// The ASID the entry was filled under (not compared for global entries or without tagging).
    pub fn asid(&self) -> u16 {
        self.asid
    }

    /// The virtual page number, in units of this entry's own page size.
    pub fn vpn(&self) -> u64 {
        self.vpn
    }

    /// log2 of the page size: 12 for 4 KiB, 21 for 2 MiB, 22 for 4 MiB, 30 for 1 GiB.
    pub fn page_shift(&self) -> u32 {
        u32::from(self.page_shift)
    }

    /// Size in bytes of the page the entry covers.
    pub fn page_size(&self) -> u64 {
        1u64 << self.page_shift
    }

    /// First virtual address the entry covers.
    pub fn base(&self) -> u64 {
        self.vpn << self.page_shift
    }

    /// Whether the entry matches every address space.
    pub fn global(&self) -> bool {
        self.global
    }

    /// What the caller cached with the translation.
    pub fn payload(&self) -> &T {
        &self.payload
    }

    /// Consumes the entry, returning its payload.
    pub fn into_payload(self) -> T {
        self.payload
    }

    /// Whether `va` lies in the page this entry covers.
    pub fn covers(&self, va: u64) -> bool {
        va >> self.page_shift == self.vpn
    }
}

/// Counters since construction or the last [`Tlb::reset_stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TlbStats {
    pub lookups: u64,
    pub hits: u64,
    pub misses: u64,
    pub inserts: u64,
    /// Valid entries pushed out by an insertion into a full set.
    pub evictions: u64,
    /// Whole-TLB or whole-ASID flush operations (including those caused by a switch).
    pub flushes: u64,
    /// Single-page invalidation operations.
    pub page_invalidations: u64,
    /// Entries removed by flushes and invalidations together.
    pub entries_invalidated: u64,
}

impl TlbStats {
    /// The counters of two TLBs added up.
    pub fn plus(&self, other: &TlbStats) -> TlbStats {
        TlbStats {
            lookups: self.lookups.saturating_add(other.lookups),
            hits: self.hits.saturating_add(other.hits),
            misses: self.misses.saturating_add(other.misses),
            inserts: self.inserts.saturating_add(other.inserts),
            evictions: self.evictions.saturating_add(other.evictions),
            flushes: self.flushes.saturating_add(other.flushes),
            page_invalidations: self.page_invalidations.saturating_add(other.page_invalidations),
            entries_invalidated: self.entries_invalidated.saturating_add(other.entries_invalidated),
        }
    }

    /// Hits per lookup, or `None` before the first lookup.
    pub fn hit_rate(&self) -> Option<f64> {
        // Precision loss above 2^53 lookups is irrelevant for a ratio.
        #[allow(clippy::cast_precision_loss)]
        (self.lookups > 0).then(|| self.hits as f64 / self.lookups as f64)
    }
}

/// One occupied slot, as listed by [`Tlb::entries`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbSlot<'a, T> {
    pub set: usize,
    pub way: usize,
    pub entry: &'a TlbEntry<T>,
}

/// Where an insertion goes within its set.
enum Placement {
    /// Over an entry that the same lookups would hit.
    SameTag(usize),
    /// Into the first empty way.
    Free(usize),
    /// Every way is taken by another translation: the policy picks a victim.
    Full,
}

/// No slot: the end of a use-order list or of an index chain.
const NONE: u32 = u32::MAX;
/// Sets of more ways than this find entries through a hash index instead of scanning.
const SCAN_WAYS: usize = 8;

/// Packed tag metadata of a slot (beside its page number): valid, "any ASID matches" (a global
/// entry, or no ASID tagging), the page shift and the ASID. An empty slot is all zeros.
const META_VALID: u32 = 1 << 31;
const META_ANY_ASID: u32 = 1 << 30;
const META_SHIFT: u32 = 0x3f << 16;
const META_ASID: u32 = 0xffff;

/// What a lookup for `asid` at page shift `shift` wants to see in a slot's metadata.
fn wanted_meta(shift: u8, asid: u16) -> u32 {
    META_VALID | u32::from(shift) << 16 | u32::from(asid)
}

/// Whether a slot's metadata matches a lookup's: valid, same shift, and the same ASID unless
/// the slot matches any.
#[inline]
fn meta_matches(meta: u32, wanted: u32) -> bool {
    let compare_asid = META_ASID & ((meta >> 30) & 1).wrapping_sub(1);
    (meta ^ wanted) & (META_VALID | META_SHIFT | compare_asid) == 0
}

/// Multiply-and-fold hashing for the index's page-number keys (SipHash is slower than the scan
/// it replaces); the keys are not chosen by an adversary who could gain anything.
#[derive(Clone, Copy, Debug, Default)]
struct PageHasher(u64);

impl std::hash::Hasher for PageHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, key: u64) {
        let mixed = (self.0 ^ key).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = mixed ^ (mixed >> 29);
    }
}

type PageIndex = HashMap<u64, u32, BuildHasherDefault<PageHasher>>;

/// The index key of a page: page numbers of different shifts may share a key (the chain is
/// checked against the tags), so any mixing will do.
fn index_key(vpn: u64, shift: u8) -> u64 {
    vpn ^ u64::from(shift) << 58
}

/// Every TLB value (a clone too) gets its own number, so that a [`HitHint`] taken from one
/// never applies to another; within one, `generation` counts the changes of its slots.
static TLB_IDS: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    TLB_IDS.fetch_add(1, Ordering::Relaxed)
}

/// What the caller of [`Tlb::lookup_hinted`] keeps between lookups: where the last hit was
/// found. While the TLB is unchanged, a lookup of the same base page (of the smallest page size
/// present, so no smaller entry can shadow it) goes straight to that slot; it still counts and
/// still updates the replacement state, so the results are exactly those of a full lookup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HitHint {
    /// The TLB the hint belongs to (0: none) and the state of its slots.
    id: u64,
    generation: u64,
    asid: u16,
    key_shift: u8,
    key: u64,
    set: u32,
    slot: u32,
}

/// A set-associative TLB caching payloads of type `T`.
#[derive(Debug)]
pub struct Tlb<T> {
    config: TlbConfig,
    sets: usize,
    /// `sets - 1`: sets is a power of two, so this picks the set-index bits of a page number.
    set_mask: u64,
    /// `sets * ways` slots, set-major.
    slots: Vec<Option<TlbEntry<T>>>,
    /// Per slot, the page number a lookup compares, packed apart from the payloads so a set
    /// scan reads a few cache lines at most...
    tag_vpns: Vec<u64>,
    /// ...and the rest of its tag (see [`META_VALID`] and its neighbours).
    tag_meta: Vec<u32>,
    /// Per set, occupied ways.
    occupied: Vec<u32>,
    /// LRU and FIFO in narrow sets: per slot, its last use (LRU) or fill (FIFO), from `clock`;
    /// the victim has the oldest stamp of its set.
    stamps: Vec<u64>,
    clock: u64,
    /// LRU and FIFO in wide sets (`ordered`): each set's slots from the next victim (`oldest`)
    /// to the last used or filled (`newest`), linked through `older`/`newer`. A list, rather
    /// than stamps to compare, makes a wide set's victim as cheap as a narrow one's.
    ordered: bool,
    older: Vec<u32>,
    newer: Vec<u32>,
    oldest: Vec<u32>,
    newest: Vec<u32>,
    /// Sets wider than [`SCAN_WAYS`]: the first slot of each key, the others chained in `chain`.
    index: Option<PageIndex>,
    chain: Vec<u32>,
    /// Per set, `ways` tree-PLRU bits; bit 0 unused, node `n` has children `2n` and `2n + 1`.
    /// A bit set means "the victim is in the right subtree".
    plru_bits: Vec<bool>,
    rng: SplitMix64,
    /// Bit `p` is set when at least one entry of page shift `p` is present.
    shift_mask: u64,
    shift_counts: [u32; 64],
    current_asid: u16,
    stats: TlbStats,
    /// This TLB's own number, and a count of the changes of its slots (see [`HitHint`]).
    id: u64,
    generation: u64,
}

/// A clone is another TLB: it gets its own number, so hints taken from the original do not
/// apply to it (they would still be right, but a hint must name one TLB to be checkable).
impl<T: Clone> Clone for Tlb<T> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            sets: self.sets,
            set_mask: self.set_mask,
            slots: self.slots.clone(),
            tag_vpns: self.tag_vpns.clone(),
            tag_meta: self.tag_meta.clone(),
            occupied: self.occupied.clone(),
            stamps: self.stamps.clone(),
            clock: self.clock,
            ordered: self.ordered,
            older: self.older.clone(),
            newer: self.newer.clone(),
            oldest: self.oldest.clone(),
            newest: self.newest.clone(),
            index: self.index.clone(),
            chain: self.chain.clone(),
            plru_bits: self.plru_bits.clone(),
            rng: self.rng.clone(),
            shift_mask: self.shift_mask,
            shift_counts: self.shift_counts,
            current_asid: self.current_asid,
            stats: self.stats,
            id: next_id(),
            generation: self.generation,
        }
    }
}

impl<T: Clone> Tlb<T> {
    /// An empty TLB, or the reason the configuration is unusable.
    pub fn new(config: TlbConfig) -> Result<Self, TlbConfigError> {
        let wide = config.ways > SCAN_WAYS;
        Self::build(config, wide)
    }

    /// A TLB whose sets are found through the index and ordered by lists when `wide`, else
    /// scanned and stamped (the tests compare both on the same shapes).
    fn build(config: TlbConfig, wide: bool) -> Result<Self, TlbConfigError> {
        let sets = config.validate()?;
        let plru_len = if config.policy == TlbPolicy::Plru { config.entries } else { 0 };
        let index = wide.then(PageIndex::default);
        let ordered = wide && matches!(config.policy, TlbPolicy::Lru | TlbPolicy::Fifo);
        let list_len = if ordered { config.entries } else { 0 };
        let heads = if ordered { sets } else { 0 };
        Ok(Self {
            sets,
            // Cannot fail (sets <= MAX_TLB_ENTRIES); a zero mask would still be in bounds.
            set_mask: u64::try_from(sets - 1).unwrap_or(0),
            slots: vec![None; config.entries],
            tag_vpns: vec![0; config.entries],
            tag_meta: vec![0; config.entries],
            occupied: vec![0; sets],
            stamps: if ordered { Vec::new() } else { vec![0; config.entries] },
            clock: 0,
            ordered,
            older: vec![NONE; list_len],
            newer: vec![NONE; list_len],
            oldest: vec![NONE; heads],
            newest: vec![NONE; heads],
            index,
            chain: vec![NONE; if wide { config.entries } else { 0 }],
            plru_bits: vec![false; plru_len],
            rng: SplitMix64::new(config.seed),
            shift_mask: 0,
            shift_counts: [0; 64],
            current_asid: 0,
            stats: TlbStats::default(),
            id: next_id(),
            generation: 1,
            config,
        })
    }
}

impl<T> Tlb<T> {
    pub fn config(&self) -> &TlbConfig {
        &self.config
    }

    pub fn sets(&self) -> usize {
        self.sets
    }

    pub fn ways(&self) -> usize {
        self.config.ways
    }

    /// Number of valid entries.
    pub fn len(&self) -> usize {
        self.occupied.iter().map(|&count| count as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.shift_mask == 0
    }

    pub fn stats(&self) -> TlbStats {
        self.stats
    }

    pub fn reset_stats(&mut self) {
        self.stats = TlbStats::default();
    }

    /// The address space that [`Tlb::switch_asid`] last selected.
    pub fn current_asid(&self) -> u16 {
        self.current_asid
    }

    /// Looks `va` up for address space `asid`, counting a hit or miss and refreshing the entry's
    /// replacement state on a hit.
    pub fn lookup(&mut self, asid: u16, va: u64) -> Option<&TlbEntry<T>> {
        let (set, index) = self.find_counted(asid, va)?;
        self.hit(set, index)
    }

    /// [`Tlb::lookup`] that first tries where the caller's last hit was (`hint`, one per
    /// stream of lookups, e.g. per access class), and remembers where this one hit. Counts,
    /// results and replacement state are exactly those of [`Tlb::lookup`].
    #[inline]
    pub fn lookup_hinted(&mut self, asid: u16, va: u64, hint: &mut HitHint) -> Option<&TlbEntry<T>> {
        if self.hint_applies(asid, va, hint) {
            return self.count_hinted_hit(hint);
        }
        let (set, index) = self.find_counted(asid, va)?;
        // find succeeded, so the mask is not empty and its lowest bit is below 64.
        let key_shift = self.shift_mask.trailing_zeros();
        *hint = HitHint {
            id: self.id,
            generation: self.generation,
            asid,
            key_shift: u8::try_from(key_shift).unwrap_or(63),
            key: va.checked_shr(key_shift).unwrap_or(0),
            set: u32::try_from(set).unwrap_or(NONE),
            slot: u32::try_from(index).unwrap_or(NONE),
        };
        self.hit(set, index)
    }

    /// The entry a lookup of `va` in `asid` would hit through `hint`, if the hint applies:
    /// counts nothing and changes nothing, so a caller can decide before it commits to the
    /// lookup with [`Tlb::count_hinted_hit`].
    #[inline]
    pub fn hinted(&self, asid: u16, va: u64, hint: &HitHint) -> Option<&TlbEntry<T>> {
        if !self.hint_applies(asid, va, hint) {
            return None;
        }
        self.slots.get(hint.slot as usize).and_then(Option::as_ref)
    }

    /// Counts the hit that [`Tlb::hinted`] found and refreshes its replacement state: with it,
    /// the same as [`Tlb::lookup_hinted`] (call it only right after `hinted` said `Some`).
    #[inline]
    pub fn count_hinted_hit(&mut self, hint: &HitHint) -> Option<&TlbEntry<T>> {
        self.stats.lookups += 1;
        self.hit(hint.set as usize, hint.slot as usize)
    }

    /// A counted lookup's search: counts the lookup, and a miss when nothing holds `va`.
    #[inline]
    fn find_counted(&mut self, asid: u16, va: u64) -> Option<(usize, usize)> {
        self.stats.lookups += 1;
        let found = self.find(asid, va);
        if found.is_none() {
            self.stats.misses += 1;
        }
        found
    }

    /// A counted lookup's hit in slot `index` of `set`: counts it and refreshes the entry's
    /// replacement state.
    #[inline]
    fn hit(&mut self, set: usize, index: usize) -> Option<&TlbEntry<T>> {
        self.stats.hits += 1;
        self.touch(set, index);
        self.slots.get(index).and_then(Option::as_ref)
    }

    #[inline]
    fn hint_applies(&self, asid: u16, va: u64, hint: &HitHint) -> bool {
        hint.id == self.id
            && hint.generation == self.generation
            && hint.asid == asid
            && va >> hint.key_shift == hint.key
    }

    /// Like [`Tlb::lookup`] but changes nothing: for displays and consistency checks.
    pub fn peek(&self, asid: u16, va: u64) -> Option<&TlbEntry<T>> {
        self.find(asid, va).and_then(|(_, index)| self.slots.get(index)).and_then(Option::as_ref)
    }

    /// Caches `entry`. An entry with the same tag is overwritten in place; otherwise a free way of
    /// the set is used, or a victim chosen by the policy is evicted and returned.
    pub fn insert(&mut self, entry: TlbEntry<T>) -> Option<TlbEntry<T>> {
        self.stats.inserts += 1;
        let set = self.set_of(entry.vpn);
        let base = set * self.config.ways;
        let (way, refill) = match self.placement(set, base, &entry) {
            Placement::SameTag(way) => (way, true),
            Placement::Free(way) => (way, false),
            Placement::Full => (self.victim_way(set, base), false),
        };
        if refill && entry.global {
            self.drop_shadowed(set, base, way, &entry);
        }
        let index = base + way;
        self.account_new(set, index, &entry);
        if self.config.policy == TlbPolicy::Plru {
            self.plru_touch(set, way);
        }
        // The old entry moves once, straight out (moving it through helpers cost more than the
        // rest of a fill: partial copies that the CPU cannot forward).
        let previous = self.slots.get_mut(index).and_then(|slot| slot.replace(entry));
        // Overwriting the same translation is a refill, not an eviction.
        if refill {
            return None;
        }
        if previous.is_some() {
            self.stats.evictions += 1;
        }
        previous
    }

    /// Removes the entries covering `va` (any page size). With `Some(asid)` only that address
    /// space's non-global entries go (RISC-V `SFENCE.VMA va, asid`); with `None` every entry
    /// covering `va` goes, global ones included (`INVLPG`, `SFENCE.VMA va, x0`).
    /// Returns how many entries were removed.
    pub fn invalidate_page(&mut self, va: u64, asid: Option<u16>) -> usize {
        self.stats.page_invalidations += 1;
        self.remove_page(va, asid)
    }

    /// What an x86 page fault does to the TLB (SDM 4.10.4.1): the entries for the faulting
    /// page go, so that a retried access walks the tables again. Not counted as an INVLPG.
    pub fn drop_faulting_page(&mut self, va: u64) -> usize {
        self.remove_page(va, None)
    }

    fn remove_page(&mut self, va: u64, asid: Option<u16>) -> usize {
        let tagging = self.config.asid_tagging;
        let ways = self.config.ways;
        let mut removed = 0;
        for shift in shifts(self.shift_mask) {
            let vpn = va >> shift;
            let set = self.set_of(vpn);
            let base = set * ways;
            for index in base..base + ways {
                let doomed = self.slots.get(index).and_then(Option::as_ref).is_some_and(|entry| {
                    entry.page_shift == shift
                        && entry.vpn == vpn
                        && asid.is_none_or(|a| !entry.global && (!tagging || entry.asid == a))
                });
                if doomed && self.take(set, index) {
                    removed += 1;
                }
            }
        }
        self.stats.entries_invalidated += widen(removed);
        removed
    }

    /// Removes every non-global entry of `asid` (`SFENCE.VMA x0, asid`, `INVPCID` single context).
    /// Without ASID tagging every non-global entry belongs to the current space and goes.
    pub fn invalidate_asid(&mut self, asid: u16) -> usize {
        let tagging = self.config.asid_tagging;
        self.flush_where(|entry| !entry.global && (!tagging || entry.asid == asid))
    }

    /// Removes every entry, global ones included.
    pub fn flush_all(&mut self) -> usize {
        self.flush_where(|_| true)
    }

    /// Removes every non-global entry (a CR3 write without PCIDs).
    pub fn flush_non_global(&mut self) -> usize {
        self.flush_where(|entry| !entry.global)
    }

    /// Makes `asid` the current address space. Without ASID tagging, changing it flushes the
    /// non-global entries since they cannot be told apart; with tagging nothing is removed.
    /// Returns the number of entries flushed.
    pub fn switch_asid(&mut self, asid: u16) -> usize {
        let changed = asid != self.current_asid;
        self.current_asid = asid;
        if changed && !self.config.asid_tagging { self.flush_non_global() } else { 0 }
    }

    /// The valid entries, sorted by set and then way.
    pub fn entries(&self) -> impl Iterator<Item = TlbSlot<'_, T>> {
        let ways = self.config.ways;
        self.slots.iter().enumerate().filter_map(move |(index, slot)| {
            slot.as_ref().map(|entry| TlbSlot { set: index / ways, way: index % ways, entry })
        })
    }

    fn set_of(&self, vpn: u64) -> usize {
        // The mask came from a usize, so the masked value always fits back.
        usize::try_from(vpn & self.set_mask).unwrap_or(0)
    }

    /// The set and slot of the entry a lookup of `va` in `asid` hits: smallest page size first,
    /// each size's set scanned over the packed tags (or found through the index).
    #[inline]
    fn find(&self, asid: u16, va: u64) -> Option<(usize, usize)> {
        let ways = self.config.ways;
        for shift in shifts(self.shift_mask) {
            let vpn = va >> shift;
            let set = self.set_of(vpn);
            let wanted = wanted_meta(shift, asid);
            let found = match &self.index {
                None => {
                    let base = set * ways;
                    let tags = self.tag_vpns.get(base..base + ways)?;
                    let metas = self.tag_meta.get(base..base + ways)?;
                    tags.iter()
                        .zip(metas)
                        .position(|(&tag, &meta)| tag == vpn && meta_matches(meta, wanted))
                        .map(|way| base + way)
                }
                Some(index) => self.find_indexed(index, vpn, shift, |slot| {
                    self.tag_meta.get(slot).is_some_and(|&meta| meta_matches(meta, wanted))
                }),
            };
            if let Some(index) = found {
                return Some((set, index));
            }
        }
        None
    }

    /// The slot in `vpn`'s index chain (of page shift `shift`) that `accept` takes.
    fn find_indexed(
        &self,
        index: &PageIndex,
        vpn: u64,
        shift: u8,
        accept: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let mut at = index.get(&index_key(vpn, shift)).copied().unwrap_or(NONE);
        // A chain never holds more than every slot; the bound only guards against a bug.
        for _ in 0..self.slots.len() {
            let slot = usize::try_from(at).ok().filter(|_| at != NONE)?;
            if self.tag_vpns.get(slot) == Some(&vpn) && accept(slot) {
                return Some(slot);
            }
            at = self.chain.get(slot).copied().unwrap_or(NONE);
        }
        None
    }

    /// The lowest slot in `vpn`'s index chain that `accept` takes.
    fn lowest_indexed(
        &self,
        index: &PageIndex,
        vpn: u64,
        shift: u8,
        accept: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let mut at = index.get(&index_key(vpn, shift)).copied().unwrap_or(NONE);
        let mut lowest = None;
        for _ in 0..self.slots.len() {
            let Some(slot) = usize::try_from(at).ok().filter(|_| at != NONE) else { break };
            if self.tag_vpns.get(slot) == Some(&vpn) && accept(slot) && lowest.is_none_or(|low| slot < low) {
                lowest = Some(slot);
            }
            at = self.chain.get(slot).copied().unwrap_or(NONE);
        }
        lowest
    }

    /// Records a use of `index` (in `set`) for LRU and PLRU; FIFO and Random ignore hits.
    #[inline(always)]
    fn touch(&mut self, set: usize, index: usize) {
        match self.config.policy {
            TlbPolicy::Lru if self.ordered => {
                if self.newest.get(set).is_some_and(|&newest| newest as usize != index) {
                    self.unlink(set, index);
                    self.link_newest(set, index);
                }
            }
            TlbPolicy::Lru => {
                if let Some(stamp) = self.stamps.get_mut(index) {
                    self.clock += 1;
                    *stamp = self.clock;
                }
            }
            TlbPolicy::Plru => {
                let ways = self.config.ways;
                self.plru_touch(set, index - set * ways);
            }
            TlbPolicy::Fifo | TlbPolicy::Random => {}
        }
    }

    /// Whether some lookup could hit both entries, so they must not coexist.
    fn same_tag(&self, old: &TlbEntry<T>, new: &TlbEntry<T>) -> bool {
        old.vpn == new.vpn
            && old.page_shift == new.page_shift
            && (!self.config.asid_tagging || old.global || new.global || old.asid == new.asid)
    }

    /// A way holding the same tag wins over the first free way.
    fn placement(&self, set: usize, base: usize, entry: &TlbEntry<T>) -> Placement {
        let ways = self.config.ways;
        let same = |slot: usize| {
            self.slots.get(slot).and_then(Option::as_ref).is_some_and(|old| self.same_tag(old, entry))
        };
        if let Some(index) = &self.index {
            // Several entries may share the tag (one per ASID) when a global one comes in: the
            // lowest way wins, as in the scan.
            if let Some(slot) = self.lowest_indexed(index, entry.vpn, entry.page_shift, same) {
                return Placement::SameTag(slot - base);
            }
            if self.occupied.get(set).is_some_and(|&count| count as usize >= ways) {
                return Placement::Full;
            }
            let free =
                self.tag_meta.get(base..base + ways).and_then(|metas| metas.iter().position(|&m| m == 0));
            return free.map_or(Placement::Full, Placement::Free);
        }
        let mut free = None;
        for way in 0..ways {
            match self.tag_meta.get(base + way) {
                Some(0) => {
                    free.get_or_insert(way);
                }
                // The packed page number first: most ways hold other pages.
                Some(_) if self.tag_vpns.get(base + way) == Some(&entry.vpn) && same(base + way) => {
                    return Placement::SameTag(way);
                }
                _ => {}
            }
        }
        free.map_or(Placement::Full, Placement::Free)
    }

    /// A global fill supersedes every address space's copy of its page, and several may be
    /// cached: remove those besides the one about to be overwritten (in `kept_way`, by `kept`)
    /// so that no lookup sees two entries.
    fn drop_shadowed(&mut self, set: usize, base: usize, kept_way: usize, kept: &TlbEntry<T>) {
        for way in (0..self.config.ways).filter(|&way| way != kept_way) {
            let shadowed = self
                .slots
                .get(base + way)
                .and_then(Option::as_ref)
                .is_some_and(|other| self.same_tag(other, kept));
            if shadowed {
                self.take(set, base + way);
            }
        }
    }

    fn victim_way(&mut self, set: usize, base: usize) -> usize {
        let ways = self.config.ways;
        match self.config.policy {
            // The head of the set's list: least recently used for LRU, first filled for FIFO.
            TlbPolicy::Lru | TlbPolicy::Fifo if self.ordered => self
                .oldest
                .get(set)
                .and_then(|&oldest| (oldest as usize).checked_sub(base))
                .filter(|&way| way < ways)
                .unwrap_or(0),
            // Both keep the oldest stamp: last use for LRU, fill time for FIFO.
            TlbPolicy::Lru | TlbPolicy::Fifo => self
                .stamps
                .get(base..base + ways)
                .and_then(|stamps| {
                    stamps.iter().enumerate().min_by_key(|&(_, stamp)| *stamp).map(|(way, _)| way)
                })
                .unwrap_or(0),
            TlbPolicy::Random => self.rng.below(ways),
            TlbPolicy::Plru => self.plru_victim(set),
        }
    }

    /// Does the bookkeeping of storing `entry` in slot `index` of `set` (the newest of its set)
    /// in place of what is there: everything but the slot itself, which the caller writes.
    fn account_new(&mut self, set: usize, index: usize, entry: &TlbEntry<T>) {
        if !self.forget_slot(set, index) {
            self.generation = self.generation.wrapping_add(1);
        }
        let shift = entry.page_shift;
        let any_asid = entry.global || !self.config.asid_tagging;
        let meta = wanted_meta(shift, entry.asid) | if any_asid { META_ANY_ASID } else { 0 };
        if let (Some(tag), Some(slot_meta)) = (self.tag_vpns.get_mut(index), self.tag_meta.get_mut(index)) {
            *tag = entry.vpn;
            *slot_meta = meta;
        }
        self.remember_shift(shift);
        if let Some(count) = self.occupied.get_mut(set) {
            *count += 1;
        }
        let as_u32 = u32::try_from(index).unwrap_or(NONE);
        if let Some(index_map) = &mut self.index {
            let head = index_map.entry(index_key(entry.vpn, shift)).or_insert(NONE);
            if let Some(next) = self.chain.get_mut(index) {
                *next = *head;
            }
            *head = as_u32;
        }
        if self.ordered {
            self.link_newest(set, index);
        } else if let Some(stamp) = self.stamps.get_mut(index) {
            self.clock += 1;
            *stamp = self.clock;
        }
    }

    /// Empties slot `index` of `set`; returns whether it held an entry.
    fn take(&mut self, set: usize, index: usize) -> bool {
        let held = self.forget_slot(set, index);
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = None;
        }
        held
    }

    /// Undoes the bookkeeping of the entry in slot `index` of `set` (tags, sizes, occupancy,
    /// order, index), leaving the entry itself in place; returns whether there was one.
    fn forget_slot(&mut self, set: usize, index: usize) -> bool {
        let Some((shift, key)) = self
            .slots
            .get(index)
            .and_then(Option::as_ref)
            .map(|old| (old.page_shift, index_key(old.vpn, old.page_shift)))
        else {
            return false;
        };
        self.generation = self.generation.wrapping_add(1);
        if let (Some(tag), Some(meta)) = (self.tag_vpns.get_mut(index), self.tag_meta.get_mut(index)) {
            *tag = 0;
            *meta = 0;
        }
        self.forget_shift(shift);
        if let Some(count) = self.occupied.get_mut(set) {
            *count = count.saturating_sub(1);
        }
        if self.ordered {
            self.unlink(set, index);
        }
        self.unindex(index, key);
        true
    }

    /// Removes slot `index` from the chain of `key`.
    fn unindex(&mut self, index: usize, key: u64) {
        let Some(index_map) = &mut self.index else { return };
        let as_u32 = u32::try_from(index).unwrap_or(NONE);
        let next = self.chain.get(index).copied().unwrap_or(NONE);
        let Some(head) = index_map.get_mut(&key) else { return };
        if *head == as_u32 {
            if next == NONE {
                index_map.remove(&key);
            } else {
                *head = next;
            }
            return;
        }
        let mut at = *head;
        for _ in 0..self.chain.len() {
            let Some(link) = usize::try_from(at).ok().and_then(|slot| self.chain.get_mut(slot)) else {
                return;
            };
            if *link == as_u32 {
                *link = next;
                return;
            }
            at = *link;
        }
    }

    /// Makes `index` the newest of `set`'s list (it must not be in the list).
    fn link_newest(&mut self, set: usize, index: usize) {
        let as_u32 = u32::try_from(index).unwrap_or(NONE);
        let Some(newest) = self.newest.get_mut(set) else { return };
        let previous = std::mem::replace(newest, as_u32);
        if let Some(older) = self.older.get_mut(index) {
            *older = previous;
        }
        if let Some(newer) = self.newer.get_mut(index) {
            *newer = NONE;
        }
        set_link(&mut self.newer, &mut self.oldest, set, previous, as_u32);
    }

    /// Takes `index` out of `set`'s list.
    fn unlink(&mut self, set: usize, index: usize) {
        let older = self.older.get(index).copied().unwrap_or(NONE);
        let newer = self.newer.get(index).copied().unwrap_or(NONE);
        set_link(&mut self.newer, &mut self.oldest, set, older, newer);
        set_link(&mut self.older, &mut self.newest, set, newer, older);
    }

    /// Points every node on the path to `way` away from it.
    fn plru_touch(&mut self, set: usize, way: usize) {
        let ways = self.config.ways;
        let Some(bits) = self.plru_bits.get_mut(set * ways..(set + 1) * ways) else {
            return;
        };
        let mut node = 1;
        let mut span = ways;
        let mut low = 0;
        while span > 1 {
            span /= 2;
            let went_right = way >= low + span;
            if let Some(bit) = bits.get_mut(node) {
                *bit = !went_right;
            }
            node = 2 * node + usize::from(went_right);
            if went_right {
                low += span;
            }
        }
    }

    /// Follows the bits from the root to the pseudo-least-recently-used way.
    fn plru_victim(&self, set: usize) -> usize {
        let ways = self.config.ways;
        let Some(bits) = self.plru_bits.get(set * ways..(set + 1) * ways) else {
            return 0;
        };
        let mut node = 1;
        let mut span = ways;
        let mut low = 0;
        while span > 1 {
            span /= 2;
            let go_right = bits.get(node).copied().unwrap_or(false);
            node = 2 * node + usize::from(go_right);
            if go_right {
                low += span;
            }
        }
        low
    }

    fn flush_where(&mut self, doomed: impl Fn(&TlbEntry<T>) -> bool) -> usize {
        self.stats.flushes += 1;
        let ways = self.config.ways;
        let mut removed = 0;
        for index in 0..self.slots.len() {
            if self.slots.get(index).and_then(Option::as_ref).is_some_and(&doomed)
                && self.take(index / ways, index)
            {
                removed += 1;
            }
        }
        self.stats.entries_invalidated += widen(removed);
        removed
    }

    fn remember_shift(&mut self, shift: u8) {
        self.shift_counts[usize::from(shift)] += 1;
        self.shift_mask |= 1 << shift;
    }

    fn forget_shift(&mut self, shift: u8) {
        let count = &mut self.shift_counts[usize::from(shift)];
        *count -= 1;
        if *count == 0 {
            self.shift_mask &= !(1 << shift);
        }
    }
}

/// Which of a split TLB's halves an access uses.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum AccessClass {
    Instruction,
    Data,
}

impl AccessClass {
    /// Instruction fetches use the instruction TLB; reads and writes the data TLB.
    pub fn of(access: crate::sim::Access) -> Self {
        if access == crate::sim::Access::Execute { Self::Instruction } else { Self::Data }
    }

    /// "TLB" for a unified TLB (`None`), else "iTLB" or "dTLB".
    pub fn short_name(class: Option<Self>) -> &'static str {
        match class {
            None => "TLB",
            Some(Self::Instruction) => "iTLB",
            Some(Self::Data) => "dTLB",
        }
    }
}

/// Why the TLBs could not be built: the error of the offending one.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TlbsConfigError {
    #[error(transparent)]
    Unified(TlbConfigError),
    #[error("instruction TLB: {0}")]
    Instruction(#[source] TlbConfigError),
    #[error("data TLB: {0}")]
    Data(#[source] TlbConfigError),
}

/// The TLBs in front of the tables: one unified TLB, or separate instruction and data TLBs (an
/// iTLB and a dTLB, as on most processors' first level) that are invalidated and switched
/// together. Instruction fetches use the iTLB, loads and stores the dTLB. Callers drive them
/// with [`Tlbs::lookup_or_walk`] (tlb_driver.rs): look up, and on a miss walk and fill.
#[derive(Clone, Debug)]
pub struct Tlbs<T> {
    /// The data TLB, or the only one.
    data: Tlb<T>,
    instruction: Option<Tlb<T>>,
}

impl<T: Clone> Tlbs<T> {
    /// One unified TLB, or (with `instruction`) a split pair whose data half is `data`. ASID
    /// tagging belongs to the processor, not to one TLB: the iTLB follows the data TLB's.
    pub fn new(data: TlbConfig, instruction: Option<TlbConfig>) -> Result<Self, TlbsConfigError> {
        let Some(mut instruction) = instruction else {
            return Ok(Self { data: Tlb::new(data).map_err(TlbsConfigError::Unified)?, instruction: None });
        };
        instruction.asid_tagging = data.asid_tagging;
        Ok(Self {
            instruction: Some(Tlb::new(instruction).map_err(TlbsConfigError::Instruction)?),
            data: Tlb::new(data).map_err(TlbsConfigError::Data)?,
        })
    }
}

/// Checks the shapes [`Tlbs::new`] would be given, without building anything (a form checks
/// its draft every frame).
pub fn validate_tlbs(data: &TlbConfig, instruction: Option<&TlbConfig>) -> Result<(), TlbsConfigError> {
    match instruction {
        None => data.validate().map(|_| ()).map_err(TlbsConfigError::Unified),
        Some(instruction) => {
            instruction.validate().map_err(TlbsConfigError::Instruction)?;
            data.validate().map(|_| ()).map_err(TlbsConfigError::Data)
        }
    }
}

impl<T> Tlbs<T> {
    pub fn is_split(&self) -> bool {
        self.instruction.is_some()
    }

    /// The TLB an access of `class` uses: the data (or unified) one unless split.
    pub fn get(&self, class: AccessClass) -> &Tlb<T> {
        match (class, &self.instruction) {
            (AccessClass::Instruction, Some(itlb)) => itlb,
            _ => &self.data,
        }
    }

    pub fn get_mut(&mut self, class: AccessClass) -> &mut Tlb<T> {
        match (class, &mut self.instruction) {
            (AccessClass::Instruction, Some(itlb)) => itlb,
            _ => &mut self.data,
        }
    }

    /// The data TLB, or the unified one.
    pub fn data(&self) -> &Tlb<T> {
        &self.data
    }

    /// The instruction TLB when split.
    pub fn instruction(&self) -> Option<&Tlb<T>> {
        self.instruction.as_ref()
    }

    /// Every TLB with its class: `None` for a unified TLB; the iTLB first when split.
    pub fn all(&self) -> impl Iterator<Item = (Option<AccessClass>, &Tlb<T>)> {
        let split = self.is_split();
        self.instruction
            .iter()
            .map(|itlb| (Some(AccessClass::Instruction), itlb))
            .chain(std::iter::once((split.then_some(AccessClass::Data), &self.data)))
    }

    fn each(&mut self, mut op: impl FnMut(&mut Tlb<T>) -> usize) -> usize {
        op(&mut self.data) + self.instruction.as_mut().map_or(0, op)
    }

    pub fn current_asid(&self) -> u16 {
        self.data.current_asid()
    }

    /// Valid entries in all TLBs.
    pub fn len(&self) -> usize {
        self.all().map(|(_, tlb)| tlb.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counters of all TLBs added up.
    pub fn stats(&self) -> TlbStats {
        self.all().fold(TlbStats::default(), |sum, (_, tlb)| sum.plus(&tlb.stats()))
    }

    pub fn lookup(&mut self, class: AccessClass, asid: u16, va: u64) -> Option<&TlbEntry<T>> {
        self.get_mut(class).lookup(asid, va)
    }

    pub fn insert(&mut self, class: AccessClass, entry: TlbEntry<T>) -> Option<TlbEntry<T>> {
        self.get_mut(class).insert(entry)
    }

    /// [`Tlb::invalidate_page`] on every TLB; returns the total removed.
    /// An x86 page fault at `va` drops its entries from every TLB (SDM 4.10.4.1).
    pub fn drop_faulting_page(&mut self, va: u64) -> usize {
        self.each(|tlb| tlb.drop_faulting_page(va))
    }

    pub fn invalidate_page(&mut self, va: u64, asid: Option<u16>) -> usize {
        self.each(|tlb| tlb.invalidate_page(va, asid))
    }

    pub fn invalidate_asid(&mut self, asid: u16) -> usize {
        self.each(|tlb| tlb.invalidate_asid(asid))
    }

    pub fn flush_all(&mut self) -> usize {
        self.each(Tlb::flush_all)
    }

    pub fn flush_non_global(&mut self) -> usize {
        self.each(Tlb::flush_non_global)
    }

    pub fn switch_asid(&mut self, asid: u16) -> usize {
        self.each(|tlb| tlb.switch_asid(asid))
    }
}

/// Points slot `at`'s link in `links` (its `newer` or `older` neighbour) at `to`; when `at` is
/// [`NONE`], past that end of `set`'s list, points the list's end in `ends` (its `oldest` or
/// `newest`) at `to` instead.
fn set_link(links: &mut [u32], ends: &mut [u32], set: usize, at: u32, to: u32) {
    let link = match usize::try_from(at).ok().filter(|_| at != NONE) {
        Some(slot) => links.get_mut(slot),
        None => ends.get_mut(set),
    };
    if let Some(link) = link {
        *link = to;
    }
}

/// The shifts whose bits are set in `mask`, smallest first.
fn shifts(mut mask: u64) -> impl Iterator<Item = u8> {
    std::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let shift = mask.trailing_zeros();
        mask &= mask - 1;
        // trailing_zeros of a non-zero u64 is below 64.
        u8::try_from(shift).ok()
    })
}

/// usize to u64 for counters; lossless on every target Rust supports.
fn widen(count: usize) -> u64 {
    u64::try_from(count).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: u64 = 0x1000;
    const SMALL: u32 = 12;
    const HUGE_2M: u32 = 21;
    const HUGE_1G: u32 = 30;

    fn tlb(entries: usize, ways: usize, policy: TlbPolicy) -> Tlb<u64> {
        let config = TlbConfig { entries, ways, policy, ..TlbConfig::default() };
        Tlb::new(config).expect("valid test config")
    }

    /// A 4 KiB entry for page number `page` whose payload is a frame number.
    fn small(asid: u16, page: u64, frame: u64) -> TlbEntry<u64> {
        TlbEntry::new(asid, page * PAGE, SMALL, false, frame).expect("valid shift")
    }

    fn global(page: u64, frame: u64) -> TlbEntry<u64> {
        TlbEntry::new(0, page * PAGE, SMALL, true, frame).expect("valid shift")
    }

    /// Looks page `page` up in ASID 0 and fills it (payload = page) on a miss; returns
    /// whether it hit and the page number evicted by the fill, if any.
    fn access(tlb: &mut Tlb<u64>, page: u64) -> (bool, Option<u64>) {
        if tlb.lookup(0, page * PAGE).is_some() {
            return (true, None);
        }
        (false, tlb.insert(small(0, page, page)).map(|evicted| evicted.vpn()))
    }

    const A: u64 = 0xa;
    const B: u64 = 0xb;
    const C: u64 = 0xc;
    const D: u64 = 0xd;
    const E: u64 = 0xe;
    const F: u64 = 0xf;

    #[test]
    fn default_config_is_64_entries_4_ways_lru_tagged() {
        let config = TlbConfig::default();
        assert_eq!((config.entries, config.ways, config.policy), (64, 4, TlbPolicy::Lru));
        assert!(config.asid_tagging);
        assert_eq!(config.validate(), Ok(16));
    }

    #[test]
    fn bad_configs_are_refused_with_a_reason() {
        let with = |entries, ways, policy| TlbConfig { entries, ways, policy, seed: 0, asid_tagging: true };
        assert_eq!(with(0, 1, TlbPolicy::Lru).validate(), Err(TlbConfigError::ZeroEntries));
        assert_eq!(with(4, 0, TlbPolicy::Lru).validate(), Err(TlbConfigError::ZeroWays));
        assert_eq!(
            with(10, 4, TlbPolicy::Lru).validate(),
            Err(TlbConfigError::NotAMultipleOfWays { entries: 10, ways: 4 })
        );
        assert_eq!(
            with(12, 4, TlbPolicy::Lru).validate(),
            Err(TlbConfigError::SetsNotPowerOfTwo { sets: 3 })
        );
        assert_eq!(
            with(12, 12, TlbPolicy::Plru).validate(),
            Err(TlbConfigError::PlruWaysNotPowerOfTwo { ways: 12 })
        );
        assert!(matches!(
            with(MAX_TLB_ENTRIES * 2, 1, TlbPolicy::Lru).validate(),
            Err(TlbConfigError::TooManyEntries { .. })
        ));
        assert!(Tlb::<u64>::new(with(12, 4, TlbPolicy::Lru)).is_err());
        // 12 ways is fine for LRU as long as the set count is a power of two.
        assert_eq!(with(1536, 12, TlbPolicy::Lru).validate(), Ok(128));
    }

    #[test]
    fn config_round_trips_through_json() {
        let config = TlbConfig { policy: TlbPolicy::Plru, seed: 7, ..TlbConfig::default() };
        let json = serde_json::to_string(&config).expect("serializes");
        assert_eq!(serde_json::from_str::<TlbConfig>(&json).expect("parses"), config);
    }

    #[test]
    fn entry_page_shift_must_be_below_64() {
        assert_eq!(
            TlbEntry::new(0, 0, 64, false, ()),
            Err(TlbEntryError::PageShiftOutOfRange { page_shift: 64 })
        );
        assert!(TlbEntry::new(0, u64::MAX, 63, false, ()).is_ok());
    }

    #[test]
    fn lru_evicts_the_least_recently_used() {
        // 2 entries, fully associative. A, B fill; the hit on A makes B the LRU, so C evicts B;
        // then B misses and evicts A (A last used before C was filled).
        let mut tlb = tlb(2, 2, TlbPolicy::Lru);
        assert_eq!(access(&mut tlb, A), (false, None));
        assert_eq!(access(&mut tlb, B), (false, None));
        assert_eq!(access(&mut tlb, A), (true, None));
        assert_eq!(access(&mut tlb, C), (false, Some(B)));
        assert_eq!(access(&mut tlb, B), (false, Some(A)));
        assert_eq!(access(&mut tlb, C), (true, None));
        let stats = tlb.stats();
        assert_eq!((stats.lookups, stats.hits, stats.misses, stats.evictions), (6, 2, 4, 2));
    }

    #[test]
    fn fifo_ignores_hits() {
        // Same sequence as the LRU test: the hit on A does not refresh it, so C evicts A (filled
        // first) and B then hits. Finally A evicts B, the older of {B, C}.
        let mut tlb = tlb(2, 2, TlbPolicy::Fifo);
        assert_eq!(access(&mut tlb, A), (false, None));
        assert_eq!(access(&mut tlb, B), (false, None));
        assert_eq!(access(&mut tlb, A), (true, None));
        assert_eq!(access(&mut tlb, C), (false, Some(A)));
        assert_eq!(access(&mut tlb, B), (true, None));
        assert_eq!(access(&mut tlb, A), (false, Some(B)));
    }

    #[test]
    fn tree_plru_follows_its_bits_not_true_lru() {
        // 4 ways, one set. Tree: root node 1 picks the half {0,1} (bit 0) or {2,3} (bit 1);
        // node 2 picks way 0/1, node 3 way 2/3. Using a way points its path away from it.
        // Fill A..D into ways 0..3: after way 3 the bits are root=0, n2=0, n3=0.
        // Hit A (way 0): root=1, n2=1. True LRU order is now B, C, D, A.
        // Insert E: root=1 -> right half, n3=0 -> way 2, so C goes (LRU would drop B).
        // E in way 2 sets root=0, n3=1. Insert F: root=0 -> left, n2=1 -> way 1: B goes.
        // F in way 1 sets root=1, n2=0. A hits (way 0): root=1, n2=1. Insert C: root=1 ->
        // right, n3=1 -> way 3: D goes.
        let mut tlb = tlb(4, 4, TlbPolicy::Plru);
        for page in [A, B, C, D] {
            assert_eq!(access(&mut tlb, page), (false, None));
        }
        assert_eq!(access(&mut tlb, A), (true, None));
        assert_eq!(access(&mut tlb, E), (false, Some(C)));
        assert_eq!(access(&mut tlb, F), (false, Some(B)));
        assert_eq!(access(&mut tlb, A), (true, None));
        assert_eq!(access(&mut tlb, C), (false, Some(D)));
        let ways: Vec<(usize, u64)> = tlb.entries().map(|slot| (slot.way, *slot.entry.payload())).collect();
        assert_eq!(ways, vec![(0, A), (1, F), (2, E), (3, C)]);
    }

    #[test]
    fn plru_with_two_ways_is_exact_lru() {
        // One bit per set: it always points at the other way, which is the LRU one.
        let mut tlb = tlb(2, 2, TlbPolicy::Plru);
        assert_eq!(access(&mut tlb, A), (false, None));
        assert_eq!(access(&mut tlb, B), (false, None));
        assert_eq!(access(&mut tlb, A), (true, None));
        assert_eq!(access(&mut tlb, C), (false, Some(B)));
        assert_eq!(access(&mut tlb, B), (false, Some(A)));
    }

    #[test]
    fn random_is_reproducible_from_its_seed() {
        let run = |seed| {
            let config =
                TlbConfig { entries: 8, ways: 8, policy: TlbPolicy::Random, seed, asid_tagging: true };
            let mut tlb: Tlb<u64> = Tlb::new(config).expect("valid");
            (0..200).map(|i| access(&mut tlb, (i * 7) % 23)).collect::<Vec<_>>()
        };
        let first = run(1);
        assert_eq!(first, run(1));
        assert_ne!(first, run(2));
        // Free ways are used before anything is evicted.
        assert!(first.iter().take(8).all(|&(_, evicted)| evicted.is_none()));
    }

    #[test]
    fn set_index_is_page_number_mod_sets() {
        // 8 entries, 2 ways: 4 sets. Pages 0, 4 and 8 all land in set 0; page 1 in set 1.
        let mut tlb = tlb(8, 2, TlbPolicy::Lru);
        for page in [0, 4, 1] {
            assert_eq!(access(&mut tlb, page), (false, None));
        }
        assert_eq!(access(&mut tlb, 8), (false, Some(0)), "set 0 is full, page 0 is its LRU");
        assert_eq!(access(&mut tlb, 1), (true, None), "set 1 was untouched");
        let layout: Vec<(usize, usize, u64)> =
            tlb.entries().map(|slot| (slot.set, slot.way, slot.entry.vpn())).collect();
        assert_eq!(layout, vec![(0, 0, 8), (0, 1, 4), (1, 0, 1)]);
        assert_eq!(tlb.len(), 3);
    }

    #[test]
    fn refilling_the_same_page_overwrites_without_evicting() {
        let mut tlb = tlb(2, 2, TlbPolicy::Lru);
        assert_eq!(tlb.insert(small(0, A, 1)), None);
        assert_eq!(tlb.insert(small(0, A, 2)), None);
        assert_eq!(tlb.len(), 1);
        assert_eq!(tlb.peek(0, A * PAGE).map(|entry| *entry.payload()), Some(2));
        assert_eq!(tlb.stats().evictions, 0);
    }

    #[test]
    fn a_global_fill_replaces_every_asids_copy_of_the_page() {
        let mut tlb = tlb(8, 8, TlbPolicy::Lru);
        tlb.insert(small(1, A, 1));
        tlb.insert(small(2, A, 2));
        assert_eq!(tlb.len(), 2);
        assert_eq!(tlb.insert(global(A, 3)), None);
        assert_eq!(tlb.len(), 1);
        for asid in [1, 2, 9] {
            assert_eq!(tlb.peek(asid, A * PAGE).map(|entry| *entry.payload()), Some(3));
        }
    }

    #[test]
    fn peek_changes_nothing() {
        let mut tlb = tlb(2, 2, TlbPolicy::Lru);
        access(&mut tlb, A);
        access(&mut tlb, B);
        let before = tlb.stats();
        // Peeking at A must not make it recently used: C still evicts A.
        assert!(tlb.peek(0, A * PAGE).is_some());
        assert!(tlb.peek(0, C * PAGE).is_none());
        assert_eq!(tlb.stats(), before);
        assert_eq!(access(&mut tlb, C), (false, Some(A)));
    }

    #[test]
    fn asid_tagging_keeps_entries_across_switches() {
        let mut tlb = tlb(8, 8, TlbPolicy::Lru);
        tlb.insert(small(1, A, 100));
        assert_eq!(tlb.switch_asid(2), 0);
        assert_eq!(tlb.current_asid(), 2);
        assert!(tlb.lookup(2, A * PAGE).is_none(), "another address space must miss");
        tlb.insert(small(2, A, 200));
        assert_eq!(tlb.len(), 2, "same page, different ASIDs coexist");
        assert_eq!(tlb.lookup(1, A * PAGE).map(|entry| *entry.payload()), Some(100));
        assert_eq!(tlb.lookup(2, A * PAGE).map(|entry| *entry.payload()), Some(200));
        assert_eq!(tlb.invalidate_asid(1), 1);
        assert!(tlb.lookup(1, A * PAGE).is_none());
        assert!(tlb.lookup(2, A * PAGE).is_some());
    }

    #[test]
    fn without_tagging_a_switch_flushes_non_global_entries() {
        let config = TlbConfig { asid_tagging: false, ..TlbConfig::default() };
        let mut tlb: Tlb<u64> = Tlb::new(config).expect("valid");
        tlb.insert(small(1, A, 100));
        tlb.insert(global(B, 200));
        // ASIDs are not compared: whatever is cached belongs to "the current process".
        assert!(tlb.peek(7, A * PAGE).is_some());
        assert_eq!(tlb.switch_asid(1), 1, "0 -> 1 is a switch");
        assert!(tlb.peek(1, A * PAGE).is_none());
        assert_eq!(tlb.peek(1, B * PAGE).map(|entry| *entry.payload()), Some(200));
        tlb.insert(small(1, A, 100));
        assert_eq!(tlb.switch_asid(1), 0, "staying in the same process flushes nothing");
        assert_eq!(tlb.stats().flushes, 1);
        // Refilling under another ASID replaces rather than duplicates, since tags are not kept.
        tlb.insert(small(2, A, 300));
        assert_eq!(tlb.len(), 2);
    }

    #[test]
    fn global_entries_survive_switches_and_non_global_flushes() {
        let mut tlb = tlb(8, 8, TlbPolicy::Lru);
        tlb.insert(global(B, 200));
        tlb.insert(small(1, A, 100));
        assert_eq!(tlb.lookup(5, B * PAGE).map(|entry| *entry.payload()), Some(200));
        assert_eq!(tlb.invalidate_asid(0), 0, "a global entry belongs to no ASID");
        assert_eq!(tlb.flush_non_global(), 1);
        assert!(tlb.peek(1, B * PAGE).is_some());
        assert_eq!(tlb.flush_all(), 1);
        assert!(tlb.is_empty());
        let stats = tlb.stats();
        assert_eq!((stats.flushes, stats.entries_invalidated), (3, 2));
    }

    #[test]
    fn huge_entries_cover_their_whole_range() {
        let mut tlb = tlb(16, 4, TlbPolicy::Lru);
        let base_2m = 0x4020_0000;
        tlb.insert(TlbEntry::new(0, base_2m + 0x1234, HUGE_2M, false, 1).expect("valid"));
        let base_1g = 0x80_0000_0000;
        tlb.insert(TlbEntry::new(0, base_1g, HUGE_1G, false, 2).expect("valid"));
        // A 4 KiB page inside another 2 MiB region, to have three sizes present.
        tlb.insert(small(0, 0x600, 3));

        let hit = |tlb: &mut Tlb<u64>, va| tlb.lookup(0, va).map(|entry| *entry.payload());
        assert_eq!(hit(&mut tlb, base_2m), Some(1));
        assert_eq!(hit(&mut tlb, base_2m + (1 << HUGE_2M) - 1), Some(1));
        assert_eq!(hit(&mut tlb, base_2m - 1), None);
        assert_eq!(hit(&mut tlb, base_2m + (1 << HUGE_2M)), None);
        assert_eq!(hit(&mut tlb, base_1g + 0x3fff_ffff), Some(2));
        assert_eq!(hit(&mut tlb, base_1g + 0x4000_0000), None);
        assert_eq!(hit(&mut tlb, 0x60_0abc), Some(3));
        assert_eq!(hit(&mut tlb, 0x60_1000), None);

        let entry = tlb.peek(0, base_2m + 5).expect("cached");
        assert_eq!((entry.base(), entry.page_size(), entry.page_shift()), (base_2m, 1 << 21, 21));
        assert!(entry.covers(base_2m + 0x1f_ffff) && !entry.covers(base_2m + 0x20_0000));
    }

    #[test]
    fn four_mib_pages_work_too() {
        // 32-bit x86 without PAE: PSE pages of 4 MiB (shift 22).
        let mut tlb = tlb(4, 4, TlbPolicy::Lru);
        tlb.insert(TlbEntry::new(0, 0xc040_0000, 22, true, 9).expect("valid"));
        assert!(tlb.lookup(3, 0xc07f_ffff).is_some());
        assert!(tlb.lookup(3, 0xc080_0000).is_none());
    }

    #[test]
    fn invalidate_page_removes_exactly_the_covering_entries() {
        let mut tlb = tlb(16, 4, TlbPolicy::Lru);
        tlb.insert(small(1, A, 1));
        tlb.insert(small(1, A + 1, 2));
        tlb.insert(small(2, A, 3));
        tlb.insert(global(A + 16, 4));

        // SFENCE.VMA va, asid: only ASID 1's entry for page A.
        assert_eq!(tlb.invalidate_page(A * PAGE + 0x10, Some(1)), 1);
        assert!(tlb.peek(1, A * PAGE).is_none());
        assert!(tlb.peek(1, (A + 1) * PAGE).is_some(), "the neighbour page stays");
        assert!(tlb.peek(2, A * PAGE).is_some(), "the other ASID's entry stays");

        // With an ASID, a global entry stays; without one (INVLPG) it goes.
        assert_eq!(tlb.invalidate_page((A + 16) * PAGE, Some(1)), 0);
        assert_eq!(tlb.invalidate_page((A + 16) * PAGE, None), 1);
        assert_eq!(tlb.invalidate_page(A * PAGE, None), 1);
        assert_eq!(tlb.len(), 1);
        assert_eq!(tlb.stats().page_invalidations, 4);

        // An address anywhere in a huge page invalidates the huge entry.
        tlb.insert(TlbEntry::new(1, 0x20_0000, HUGE_2M, false, 5).expect("valid"));
        assert_eq!(tlb.invalidate_page(0x3f_f000, Some(1)), 1);
        assert!(tlb.peek(1, 0x20_0000).is_none());
    }

    #[test]
    fn stale_entries_stay_until_invalidated() {
        // The TLB never looks at memory: after the page table maps A to frame 8 instead of 7,
        // the cached frame 7 is still returned until the page is invalidated.
        let mut tlb = tlb(4, 4, TlbPolicy::Lru);
        let mut page_table_frame = 7;
        tlb.insert(small(0, A, page_table_frame));
        page_table_frame = 8;
        let cached = tlb.lookup(0, A * PAGE).map(|entry| *entry.payload());
        assert_eq!(cached, Some(7));
        assert_ne!(cached, Some(page_table_frame));
        tlb.invalidate_page(A * PAGE, Some(0));
        assert!(tlb.lookup(0, A * PAGE).is_none());
        tlb.insert(small(0, A, page_table_frame));
        assert_eq!(tlb.lookup(0, A * PAGE).map(|entry| *entry.payload()), Some(8));
    }

    #[test]
    fn stats_hit_rate() {
        let mut tlb = tlb(4, 4, TlbPolicy::Lru);
        assert_eq!(tlb.stats().hit_rate(), None);
        access(&mut tlb, A);
        access(&mut tlb, A);
        assert_eq!(tlb.stats().hit_rate(), Some(0.5));
        tlb.reset_stats();
        assert_eq!(tlb.stats(), TlbStats::default());
    }

    #[test]
    fn split_tlbs_keep_instructions_and_data_apart() {
        let small_config = TlbConfig { entries: 4, ways: 4, ..TlbConfig::default() };
        let mut split: Tlbs<u64> =
            Tlbs::new(small_config.clone(), Some(small_config.clone())).expect("valid");
        assert!(split.is_split());
        split.insert(AccessClass::Instruction, small(0, A, 1));
        assert!(split.lookup(AccessClass::Data, 0, A * PAGE).is_none());
        assert!(split.lookup(AccessClass::Instruction, 0, A * PAGE).is_some());
        split.insert(AccessClass::Data, small(0, A, 1));
        assert_eq!(split.len(), 2);
        assert_eq!(split.invalidate_page(A * PAGE, None), 2, "an invalidation reaches both");
        assert_eq!(split.get(AccessClass::Data).stats().misses, 1);
        assert_eq!(split.stats().lookups, 2, "the sum of both");
        let classes: Vec<_> = split.all().map(|(class, _)| class).collect();
        assert_eq!(classes, [Some(AccessClass::Instruction), Some(AccessClass::Data)]);

        // Unified: instruction fetches and data share the one TLB.
        let mut unified: Tlbs<u64> = Tlbs::new(small_config.clone(), None).expect("valid");
        unified.insert(AccessClass::Instruction, small(0, A, 1));
        assert!(unified.lookup(AccessClass::Data, 0, A * PAGE).is_some());
        assert_eq!(unified.all().map(|(class, _)| class).collect::<Vec<_>>(), [None]);

        let bad = TlbConfig { entries: 3, ..small_config.clone() };
        assert!(matches!(
            Tlbs::<u64>::new(bad.clone(), Some(small_config.clone())),
            Err(TlbsConfigError::Data(TlbConfigError::NotAMultipleOfWays { .. }))
        ));
        assert!(matches!(
            Tlbs::<u64>::new(small_config, Some(bad.clone())),
            Err(TlbsConfigError::Instruction(TlbConfigError::NotAMultipleOfWays { .. }))
        ));
        assert!(matches!(Tlbs::<u64>::new(bad.clone(), None), Err(TlbsConfigError::Unified(_))));
        // The check without building agrees.
        let good = TlbConfig { entries: 4, ways: 4, ..TlbConfig::default() };
        assert!(matches!(validate_tlbs(&bad, None), Err(TlbsConfigError::Unified(_))));
        assert!(matches!(validate_tlbs(&good, Some(&bad)), Err(TlbsConfigError::Instruction(_))));
        assert!(matches!(validate_tlbs(&bad, Some(&good)), Err(TlbsConfigError::Data(_))));
        assert_eq!(validate_tlbs(&good, Some(&good)), Ok(()));
    }

    /// A fully associative LRU TLB is a recency list: the reference model for the proptest.
    fn lru_model(capacity: usize, pages: &[u64]) -> Vec<bool> {
        let mut recency: Vec<u64> = Vec::new();
        pages
            .iter()
            .map(|&page| {
                let hit = recency.iter().position(|&cached| cached == page);
                if let Some(at) = hit {
                    recency.remove(at);
                } else if recency.len() == capacity {
                    recency.remove(0);
                }
                recency.push(page);
                hit.is_some()
            })
            .collect()
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert { asid: u16, va: u64, shift: u32, global: bool },
        Lookup { asid: u16, va: u64 },
        InvalidatePage { va: u64, asid: Option<u16> },
        InvalidateAsid(u16),
        FlushNonGlobal,
        Switch(u16),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        // A few pages in a small window so that sizes overlap and sets collide.
        let va = (0u64..0x60_0000).prop_map(|va| va & !0xfff);
        let shift = prop_oneof![Just(SMALL), Just(SMALL), Just(HUGE_2M), Just(HUGE_1G)];
        prop_oneof![
            (0u16..3, va.clone(), shift, any::<bool>())
                .prop_map(|(asid, va, shift, global)| { Op::Insert { asid, va, shift, global } }),
            (0u16..3, va.clone()).prop_map(|(asid, va)| Op::Lookup { asid, va }),
            (va, proptest::option::of(0u16..3)).prop_map(|(va, asid)| Op::InvalidatePage { va, asid }),
            (0u16..3).prop_map(Op::InvalidateAsid),
            Just(Op::FlushNonGlobal),
            (0u16..3).prop_map(Op::Switch),
        ]
    }

    proptest::proptest! {
        #[test]
        fn fully_associative_lru_matches_a_recency_list(
            pages in proptest::collection::vec(0u64..12, 0..300),
            capacity in 1usize..6,
        ) {
            let mut tlb = tlb(capacity, capacity, TlbPolicy::Lru);
            let hits: Vec<bool> = pages.iter().map(|&page| access(&mut tlb, page).0).collect();
            proptest::prop_assert_eq!(hits, lru_model(capacity, &pages));
        }

        #[test]
        fn indexed_and_scanned_sets_behave_the_same(
            ops in proptest::collection::vec(op(), 0..300),
            policy in proptest::sample::select(vec![
                TlbPolicy::Lru, TlbPolicy::Fifo, TlbPolicy::Random, TlbPolicy::Plru,
            ]),
            ways in proptest::sample::select(vec![1usize, 2, 4, 8]),
            asid_tagging in proptest::bool::ANY,
        ) {
            // The index, the use-order lists and the hint are exact: a TLB built with them and
            // one built without must give the same results, victims and contents.
            let config = TlbConfig { entries: 8, ways, policy, seed: 5, asid_tagging };
            let mut scanned: Tlb<u64> = Tlb::build(config.clone(), false).expect("valid");
            let mut indexed: Tlb<u64> = Tlb::build(config, true).expect("valid");
            let mut hint = HitHint::default();
            for (step, op) in ops.into_iter().enumerate() {
                let tag = u64::try_from(step).unwrap_or(u64::MAX);
                match op {
                    Op::Insert { asid, va, shift, global } => {
                        let entry = TlbEntry::new(asid, va, shift, global, tag).expect("valid");
                        proptest::prop_assert_eq!(scanned.insert(entry.clone()), indexed.insert(entry));
                    }
                    Op::Lookup { asid, va } => {
                        let expected = scanned.lookup(asid, va).cloned();
                        proptest::prop_assert_eq!(indexed.lookup_hinted(asid, va, &mut hint).cloned(), expected);
                    }
                    Op::InvalidatePage { va, asid } => {
                        proptest::prop_assert_eq!(scanned.invalidate_page(va, asid), indexed.invalidate_page(va, asid));
                    }
                    Op::InvalidateAsid(asid) => {
                        proptest::prop_assert_eq!(scanned.invalidate_asid(asid), indexed.invalidate_asid(asid));
                    }
                    Op::FlushNonGlobal => {
                        proptest::prop_assert_eq!(scanned.flush_non_global(), indexed.flush_non_global());
                    }
                    Op::Switch(asid) => {
                        proptest::prop_assert_eq!(scanned.switch_asid(asid), indexed.switch_asid(asid));
                    }
                }
                let layout = |tlb: &Tlb<u64>| -> Vec<(usize, usize, u64)> {
                    tlb.entries().map(|slot| (slot.set, slot.way, *slot.entry.payload())).collect()
                };
                proptest::prop_assert_eq!(layout(&scanned), layout(&indexed));
                proptest::prop_assert_eq!(scanned.stats(), indexed.stats());
                proptest::prop_assert_eq!(scanned.len(), indexed.len());
            }
        }

        #[test]
        fn invariants_hold_under_any_operation_sequence(
            ops in proptest::collection::vec(op(), 0..200),
            policy in proptest::sample::select(vec![
                TlbPolicy::Lru, TlbPolicy::Fifo, TlbPolicy::Random, TlbPolicy::Plru,
            ]),
            asid_tagging in proptest::bool::ANY,
        ) {
            let config = TlbConfig { entries: 8, ways: 2, policy, seed: 3, asid_tagging };
            let mut tlb: Tlb<u64> = Tlb::new(config).expect("valid");
            for (step, op) in ops.into_iter().enumerate() {
                let tag = u64::try_from(step).unwrap_or(u64::MAX);
                match op {
                    Op::Insert { asid, va, shift, global } => {
                        let entry = TlbEntry::new(asid, va, shift, global, tag).expect("valid");
                        tlb.insert(entry);
                        // What was just inserted is what a lookup finds (unless a smaller page
                        // that also covers the address is cached: smaller sizes are tried first).
                        let found = tlb.peek(asid, va).expect("just inserted");
                        proptest::prop_assert!(found.page_shift() <= shift);
                        if found.page_shift() == shift {
                            proptest::prop_assert_eq!(*found.payload(), tag);
                        }
                    }
                    Op::Lookup { asid, va } => {
                        let peeked = tlb.peek(asid, va).cloned();
                        proptest::prop_assert_eq!(tlb.lookup(asid, va).cloned(), peeked);
                    }
                    Op::InvalidatePage { va, asid } => {
                        tlb.invalidate_page(va, asid);
                        if asid.is_none() {
                            for any_asid in 0..3 {
                                proptest::prop_assert!(tlb.peek(any_asid, va).is_none());
                            }
                        }
                    }
                    Op::InvalidateAsid(asid) => {
                        tlb.invalidate_asid(asid);
                    }
                    Op::FlushNonGlobal => {
                        tlb.flush_non_global();
                        proptest::prop_assert!(tlb.entries().all(|slot| slot.entry.global()));
                    }
                    Op::Switch(asid) => {
                        tlb.switch_asid(asid);
                    }
                }
                // Structural invariants: capacity, set placement, no two entries that the same
                // lookup would hit, and the shift mask naming exactly the sizes present.
                let slots: Vec<TlbSlot<'_, u64>> = tlb.entries().collect();
                proptest::prop_assert!(slots.len() <= 8);
                let mut mask = 0u64;
                for (i, slot) in slots.iter().enumerate() {
                    let entry = slot.entry;
                    mask |= 1 << entry.page_shift();
                    proptest::prop_assert_eq!(
                        slot.set,
                        usize::try_from(entry.vpn() % 4).unwrap_or(usize::MAX)
                    );
                    for other in slots.iter().skip(i + 1).map(|slot| slot.entry) {
                        proptest::prop_assert!(
                            !tlb.same_tag(entry, other),
                            "duplicate tags: {:?} and {:?}", entry, other
                        );
                    }
                }
                proptest::prop_assert_eq!(mask, tlb.shift_mask);
                let stats = tlb.stats();
                proptest::prop_assert_eq!(stats.hits + stats.misses, stats.lookups);
            }
        }
    }
}

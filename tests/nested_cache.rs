//! Page-walk caches under a 2D walk (src/sim/nested/cache.rs): paging-structure caches in each
//! dimension (SDM Vol. 3A 4.10.3) and a nested TLB. Every count below is worked by hand from
//! the layout: a 4-level guest on 4-level EPT; guest pages at VA and VA + 0x1000 (one 2 MiB
//! region, so one guest PT); guest-physical frames handed out in order: 0 the guest PML4, then
//! for VA the data page 1, PDPT 2, PD 3, PT 4, then VA + 0x1000's data page 5. Every frame is in
//! guest-physical 0..2 MiB, so every host walk shares the EPT PML4E, PDPTE and PDE.

use pagelab::sim::nested::cache::{CacheConfig, CachedWalker, replay};
use pagelab::sim::nested::{HostKind, NestedMachine};
use pagelab::sim::presets;
use pagelab::sim::{Access, Mode, VirtAddr};

const VA: u64 = 0x0000_7f12_3440_0000;
const NEXT: u64 = VA + 0x1000;

fn machine() -> NestedMachine {
    let mut m = NestedMachine::new(presets::x86_64(4), HostKind::Ept4, 64 << 20).expect("machine");
    assert_eq!(m.map_guest(VirtAddr::new(VA), &["R/W", "U/S"]).expect("maps").get(), 0x1000);
    assert_eq!(m.map_guest(VirtAddr::new(NEXT), &["R/W", "U/S"]).expect("maps").get(), 0x5000);
    m
}

/// References of walking VA, then NEXT, with `config`.
fn two_walks(config: CacheConfig) -> (usize, usize) {
    let m = machine();
    let mut w = CachedWalker::new(config, 4, 4);
    let first = w.walk(m.setup(), m.mem(), m.guest_format(), VirtAddr::new(VA), Access::Read, Mode::User);
    let second = w.walk(m.setup(), m.mem(), m.guest_format(), VirtAddr::new(NEXT), Access::Read, Mode::User);
    assert!(first.outcome.is_ok() && second.outcome.is_ok());
    let numbers: Vec<usize> = second.refs.iter().map(|r| r.number).collect();
    assert_eq!(numbers, (1..=second.refs.len()).collect::<Vec<_>>(), "renumbered from 1");
    (first.refs.len(), second.refs.len())
}

#[test]
fn the_first_walk_costs_24_unless_its_own_host_walks_share_upper_ept_entries() {
    assert_eq!(two_walks(CacheConfig::none()), (24, 24));
    // The guest PSC and the nested TLB only help a later walk: the first reads five distinct
    // guest-physical pages (0, 2, 3, 4, 1) and each guest entry once.
    assert_eq!(two_walks(CacheConfig { guest_psc: 16, ..CacheConfig::none() }).0, 24);
    assert_eq!(two_walks(CacheConfig { nested_tlb: 16, ..CacheConfig::none() }).0, 24);
    // The host PSC fills during the walk: the first host walk (gpa 0) reads EPT PML4E, PDPTE,
    // PDE and PTE (4); every later one is in the same 2 MiB of guest-physical space, so it starts
    // below the cached EPT PDE (1). 4 + 1 + 3 x (1 + 1) + 1 = 12.
    assert_eq!(two_walks(CacheConfig { host_psc: 16, ..CacheConfig::none() }).0, 12);
}

#[test]
fn a_guest_pde_cache_hit_skips_three_guest_rows() {
    // Second walk: the guest PDE for VA[47:21] is cached, so the walk starts at the guest PT:
    // host walk of the PTE's gpa (4) + the guest PTE (1) + host walk of the data's gpa (4) = 9,
    // instead of 24 (the guest PML4, PDPT and PD rows, 3 x 5 = 15, are skipped).
    let config = CacheConfig { guest_psc: 16, ..CacheConfig::none() };
    assert_eq!(two_walks(config), (24, 9));
}

#[test]
fn a_host_psc_leaves_one_ept_read_per_guest_physical_address() {
    // Every gpa is in 0..2 MiB: the EPT PDE is cached after the first walk, so each host walk
    // reads only the EPT PTE. Second walk: 4 rows x (1 EPT PTE + 1 guest entry) + 1 = 9.
    let config = CacheConfig { host_psc: 16, ..CacheConfig::none() };
    assert_eq!(two_walks(config), (12, 9));
}

#[test]
fn a_nested_tlb_skips_host_walks_of_pages_seen_before() {
    // Second walk: guest table pages 0, 2, 3, 4 were translated by the first walk (0 each);
    // the 4 guest entries (4); the new data page 5 misses (4 EPT reads): 8.
    let config = CacheConfig { nested_tlb: 16, ..CacheConfig::none() };
    assert_eq!(two_walks(config), (24, 8));
    // With one entry it holds only the last page translated (data page 1): every host walk of
    // the second walk misses, 24 again (least recently used eviction).
    let config = CacheConfig { nested_tlb: 1, ..CacheConfig::none() };
    assert_eq!(two_walks(config), (24, 24));
}

#[test]
fn all_caches_together_leave_two_references() {
    // Guest PDE hit (skip 15); the guest PT page in the nested TLB (0); the guest PTE (1); the
    // data page misses the nested TLB, its host walk starts below the cached EPT PDE (1): 2.
    // (The first walk: 12, as with the host PSC alone; no page repeats within it.)
    let all = CacheConfig { guest_psc: 16, host_psc: 16, nested_tlb: 16 };
    assert_eq!(two_walks(all), (12, 2));
    // Walking VA again: the guest PTE (1), its page and the data page both in the nested TLB.
    let m = machine();
    let mut w = CachedWalker::new(all, 4, 4);
    w.walk(m.setup(), m.mem(), m.guest_format(), VirtAddr::new(VA), Access::Read, Mode::User);
    let again =
        w.walk(m.setup(), m.mem(), m.guest_format(), VirtAddr::new(VA | 0x10), Access::Read, Mode::User);
    assert_eq!(again.refs.len(), 1);
    assert_eq!(again.outcome, m.translate(VirtAddr::new(VA | 0x10), Access::Read, Mode::User).outcome);
    assert_eq!(w.stats.guest_psc_hits, 1);
    assert_eq!(w.stats.nested_tlb_hits, 2);
}

#[test]
fn replay_reports_references_per_walk_with_and_without_caches() {
    let m = machine();
    let accesses = [(VirtAddr::new(VA), Access::Read), (VirtAddr::new(NEXT), Access::Write)];
    let all = CacheConfig { guest_psc: 16, host_psc: 16, nested_tlb: 16 };
    let r = replay(m.setup(), m.mem(), m.guest_format(), &accesses, Mode::User, all);
    // 12 + 2 (see above).
    assert_eq!((r.walks, r.refs_without, r.refs_with), (2, 48, 14));
    assert_eq!((r.avg_without, r.avg_with), (24.0, 7.0));
    let none = replay(m.setup(), m.mem(), m.guest_format(), &accesses, Mode::User, CacheConfig::none());
    assert_eq!(none.refs_with, none.refs_without);
    assert_eq!(replay(m.setup(), m.mem(), m.guest_format(), &[], Mode::User, all).avg_with, 0.0);
}

#[test]
fn a_fault_caches_nothing_beyond_the_entry_that_failed() {
    // An unmapped guest address in another 1 GiB region: guest PML4E present (cached), PDPTE
    // not present. Walking it twice with a guest PSC: 10 references (2 rows), then 5 (the
    // PML4E cached: only the PDPT row), the fault the same.
    let m = machine();
    let far = VA + (1 << 30);
    let config = CacheConfig { guest_psc: 16, ..CacheConfig::none() };
    let mut w = CachedWalker::new(config, 4, 4);
    let first = w.walk(m.setup(), m.mem(), m.guest_format(), VirtAddr::new(far), Access::Read, Mode::User);
    let second = w.walk(m.setup(), m.mem(), m.guest_format(), VirtAddr::new(far), Access::Read, Mode::User);
    assert_eq!((first.refs.len(), second.refs.len()), (10, 5));
    assert!(second.outcome.is_err());
    assert_eq!(first.outcome, second.outcome);
}

/// Whatever the sizes and the order of addresses, a cached walk ends as the full walk does and
/// makes a subsequence of its references (the caches only skip reads; they never add or
/// reorder one).
#[test]
fn cached_walks_agree_with_full_walks_and_only_skip_references() {
    let mut m = machine();
    for page in [0x40_0000u64, 0x40_1000, 0x7f00_0000_0000, 0x7f00_0020_0000] {
        m.map_guest(VirtAddr::new(page), &["R/W", "U/S"]).expect("maps");
    }
    let candidates =
        [VA, NEXT, 0x40_0008, 0x40_1ff8, 0x7f00_0000_0010, 0x7f00_0020_0000, 0x50_0000, 0x7f00_0040_0000];
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for sizes in [(1, 1, 1), (2, 0, 3), (0, 4, 0), (16, 16, 16), (1, 2, 0)] {
        let config = CacheConfig { guest_psc: sizes.0, host_psc: sizes.1, nested_tlb: sizes.2 };
        let mut w = CachedWalker::new(config, 4, 4);
        for _ in 0..200 {
            let va = candidates[usize::try_from(next() % candidates.len() as u64).unwrap()];
            let access = [Access::Read, Access::Write, Access::Execute][usize::try_from(next() % 3).unwrap()];
            let full = m.translate(VirtAddr::new(va), access, Mode::User);
            let cached = w.walk(m.setup(), m.mem(), m.guest_format(), VirtAddr::new(va), access, Mode::User);
            assert_eq!(cached.outcome, full.outcome, "{va:#x} {config:?}");
            let key =
                |r: &pagelab::sim::nested::NestedRef| (r.dimension, r.level, r.guest_level, r.entry_addr);
            let mut rest = full.refs.iter().map(key);
            for r in &cached.refs {
                assert!(rest.any(|k| k == key(r)), "{va:#x} {config:?}: a reference the full walk lacks");
            }
        }
    }
}

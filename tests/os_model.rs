//! The OS model: demand paging with a limited pool of frames, replacement reading the real PTEs,
//! swap slots kept in not-present entries, TLB invalidation on eviction, the statistics of a
//! trace replay, and agreement with the pure replacement simulator (`sim::replace`).

use pagelab::sim::{PhysAddr, VirtAddr};
use std::fs::File;
use std::io::BufReader;

use pagelab::sim::format::Role;
use pagelab::sim::os::{
    self, Future, Os, OsAccess, OsModel, OsSettings, RefAccess, RefRun, Resolution, ref_base,
};
use pagelab::sim::replace::{self, Policy, Reference, Replacer};
use pagelab::sim::replay::{ReplayConfig, Replayer};
use pagelab::sim::trace::{AccessKind, TraceReader, TraceRecord};
use pagelab::sim::{Access, FaultKind, Machine, Mode, presets};
use proptest::prelude::*;

const TRACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/traces/lackey_sort.trace.gz");
const PAGELAB: &str = env!("CARGO_BIN_EXE_pagelab");
const BELADY: [u64; 12] = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];

fn machine(preset: &str) -> Machine {
    let format = presets::by_name(preset).expect("preset");
    // OSTEP's toy has 12-bit physical addresses: 4 KiB of memory.
    let memory = if format.pa_bits < 22 { 1u64 << format.pa_bits } else { 4 << 20 };
    Machine::new(format, memory).expect("machine")
}

fn demand(frames: u32, policy: Policy) -> OsSettings {
    OsSettings::demand(frames, policy)
}

/// The address of reference-string page `n` in `machine`.
fn page(machine: &Machine, n: u64) -> u64 {
    ref_base(machine.format()).get() + n * machine.format().page_size()
}

fn access(os: &mut Os, m: &mut Machine, n: u64, kind: Access) -> OsAccess {
    let va = VirtAddr::new(page(m, n));
    let done = os.access(m, 0, va, kind, Mode::User).expect("process 0 exists");
    assert!(done.error.is_none() && done.translation.fault().is_none(), "page {n}: {done:?}");
    done
}

/// The raw bytes of page `n`'s last-level entry, read straight from memory.
fn pte(os: &Os, m: &Machine, n: u64) -> u64 {
    let entry = os.leaf_entry(m, os.key(0, VirtAddr::new(page(m, n)))).expect("the tables exist");
    m.mem().read_le(entry.entry_addr.phys(), m.format().pte_bytes).expect("entry in memory")
}

fn accessed_bit(m: &Machine, raw: u64) -> bool {
    m.format().flag(raw, Role::Accessed, m.format().last_level(), false)
}

fn pa_of(m: &Machine, n: u64) -> u64 {
    (m.translate(0, VirtAddr::new(page(m, n)), Access::Read, Mode::User)
        .expect("process")
        .pa()
        .expect("mapped"))
    .get()
}

#[test]
fn swap_slot_is_kept_in_the_not_present_pte_and_the_page_comes_back_intact() {
    for preset in ["x86-64", "sv39", "x86-32", "ostep-multilevel"] {
        let mut m = machine(preset);
        let mut os = Os::new(demand(1, Policy::Fifo), m.format()).expect("os");
        let level = m.format().last_level();

        let first = access(&mut os, &mut m, 0, Access::Write);
        assert_eq!(first.page_load().map(|h| h.resolution), Some(Resolution::FirstTouch), "{preset}");
        m.write_phys(PhysAddr::new(pa_of(&m, 0)), b"page A").expect("write");
        access(&mut os, &mut m, 1, Access::Write);
        m.write_phys(PhysAddr::new(pa_of(&m, 1)), b"page B").expect("write");
        // Page 0 went to slot 0 when page 1 came in; page 1 goes to slot 1 now.
        let back = access(&mut os, &mut m, 0, Access::Read);
        let load = back.page_load().expect("a page load");
        assert_eq!(load.resolution, Resolution::SwapIn { slot: 0 }, "{preset}");
        let evicted = load.evicted.expect("page 1 evicted");
        assert!(evicted.dirty && evicted.written_back);
        assert_eq!(evicted.swap_slot, Some(1));

        let raw = pte(&os, &m, 1);
        assert!(!m.format().present(raw, level), "{preset}: {raw:#x} must not be present");
        assert_eq!(raw, evicted.pte);
        assert_eq!(os.encoding().decode(raw), Some(1), "{preset}");
        if preset != "ostep-multilevel" {
            // P/V is bit 0, bit 1 the swap marker, the slot from bit 2 up.
            assert_eq!(raw, 1 << 2 | 0b10, "{preset}");
        }
        let mut bytes = [0u8; 6];
        m.mem().read(PhysAddr::new(pa_of(&m, 0)), &mut bytes).expect("read");
        assert_eq!(&bytes, b"page A", "{preset}: contents after swap-in");

        let again = access(&mut os, &mut m, 1, Access::Read);
        assert_eq!(again.page_load().map(|h| h.resolution), Some(Resolution::SwapIn { slot: 1 }));
        m.mem().read(PhysAddr::new(pa_of(&m, 1)), &mut bytes).expect("read");
        assert_eq!(&bytes, b"page B", "{preset}");
        // Page 0 was clean since its swap-in: its PTE names slot 0 again (dropped without a write
        // where the format has a dirty bit).
        assert_eq!(os.encoding().decode(pte(&os, &m, 0)), Some(0));
        // Without a dirty bit (OSTEP) every victim counts as dirty and is written back.
        let writes = if m.format().field(Role::Dirty, level).is_some() { 2 } else { 3 };
        let total = os.total();
        assert_eq!((total.swap_ins, total.write_backs, os.swap().writes()), (2, writes, writes), "{preset}");
    }
}

#[test]
fn a_dirty_page_is_written_back_and_a_clean_one_is_not() {
    let mut m = machine("x86-64");
    let mut os = Os::new(demand(1, Policy::Fifo), m.format()).expect("os");
    access(&mut os, &mut m, 0, Access::Read);
    let clean = access(&mut os, &mut m, 1, Access::Read);
    let evicted = clean.page_load().and_then(|h| h.evicted).expect("page 0 evicted");
    assert!(!evicted.dirty && !evicted.written_back && evicted.swap_slot.is_none());
    assert_eq!(pte(&os, &m, 0), 0, "a clean zero page is simply dropped");
    assert!(os.swap().is_empty());

    access(&mut os, &mut m, 1, Access::Write);
    let dirty = access(&mut os, &mut m, 0, Access::Read);
    let load = dirty.page_load().expect("a page load");
    assert_eq!(load.resolution, Resolution::Refill, "page 0 was loaded before, dropped clean");
    let evicted = load.evicted.expect("page 1 evicted");
    assert!(evicted.dirty && evicted.written_back);
    let total = os.total();
    assert_eq!((total.evictions, total.write_backs, os.swap().writes()), (2, 1, 1));
    assert_eq!((total.first_touch, total.refills, total.faults), (2, 1, 3));
}

#[test]
fn clock_clears_accessed_bits_in_the_ptes_it_passes() {
    for preset in ["x86-64", "sv39"] {
        let mut m = machine(preset);
        let mut os = Os::new(demand(3, Policy::Clock), m.format()).expect("os");
        for n in 1..=3 {
            access(&mut os, &mut m, n, Access::Read);
            assert!(accessed_bit(&m, pte(&os, &m, n)));
        }
        // Every A bit is set: the hand clears all three and comes back to slot 0 (page 1).
        let full_turn = access(&mut os, &mut m, 4, Access::Read);
        let load = full_turn.page_load().expect("a page load");
        assert_eq!(load.evicted.map(|e| e.key.va.get()), Some(page(&m, 1)), "{preset}");
        let cleared: Vec<u64> = load.cleared.iter().map(|k| k.va.get()).collect();
        assert_eq!(cleared, vec![page(&m, 1), page(&m, 2), page(&m, 3)]);
        for n in [2, 3] {
            assert!(!accessed_bit(&m, pte(&os, &m, n)), "{preset}: page {n}'s A bit in memory");
        }
        assert_eq!(os.hand(), Some(1));

        // Page 2 is used again (its A bit is set again, by hardware or by the Svade handler).
        access(&mut os, &mut m, 2, Access::Read);
        assert!(accessed_bit(&m, pte(&os, &m, 2)), "{preset}");
        assert_eq!(os.next_victim(&m), Some(2), "{preset}: page 2 gets a second chance, page 3 goes");
        let second_chance = access(&mut os, &mut m, 5, Access::Read);
        let load = second_chance.page_load().expect("a page load");
        assert_eq!(load.evicted.map(|e| e.key.va.get()), Some(page(&m, 3)));
        assert_eq!(load.cleared.iter().map(|k| k.va.get()).collect::<Vec<_>>(), vec![page(&m, 2)]);
        assert!(!accessed_bit(&m, pte(&os, &m, 2)), "{preset}: cleared as the hand passed");
        assert_eq!(os.hand(), Some(0));
    }
}

#[test]
fn enhanced_clock_reads_the_dirty_bits_and_spares_the_dirty_page() {
    let mut m = machine("x86-64");
    let mut os = Os::new(demand(3, Policy::EnhancedClock), m.format()).expect("os");
    access(&mut os, &mut m, 1, Access::Write);
    access(&mut os, &mut m, 2, Access::Read);
    access(&mut os, &mut m, 3, Access::Write);
    let done = access(&mut os, &mut m, 4, Access::Read);
    let evicted = done.page_load().and_then(|h| h.evicted).expect("an eviction");
    assert_eq!(evicted.key.va.get(), page(&m, 2), "the only clean page goes first");
    assert!(!evicted.written_back);
}

#[test]
fn eviction_invalidates_the_victims_tlb_entry() {
    let mut m = machine("x86-64");
    let mut replayer = Replayer::new(ReplayConfig::default()).expect("tlb");
    replayer.set_os(Some(Os::new(demand(1, Policy::Fifo), m.format()).expect("os")));
    let record = |n: u64, kind| TraceRecord { kind, addr: page(&m, n) + 8, size: 8, process: None };
    let (a, b) = (record(0, AccessKind::Store), record(1, AccessKind::Load));
    let asid = m.active_process().asid;

    replayer.step(&mut m, &a).expect("step");
    assert!(replayer.tlb().peek(asid, a.addr).is_some(), "cached after the first access");
    let step = replayer.step(&mut m, &b).expect("step");
    assert!(step.pages[0].demand_mapped);
    assert!(replayer.tlb().peek(asid, a.addr).is_none(), "page 0 was evicted: its entry must go");
    assert!(replayer.tlb().peek(asid, b.addr).is_some());
    assert_eq!(replayer.tlb().stats().page_invalidations, 1);

    // Without the invalidation this would hit a stale entry pointing at page 1's frame.
    let step = replayer.step(&mut m, &a).expect("step");
    assert!(!step.pages[0].hit && step.pages[0].demand_mapped);
    let stats = replayer.stats(&m);
    let os_report = stats.os.expect("OS statistics");
    assert_eq!((os_report.total.faults, os_report.total.swap_ins, os_report.total.write_backs), (3, 1, 1));
    assert_eq!(stats.total.counters.demand_maps, 3);
}

fn lackey_records(limit: usize) -> Vec<TraceRecord> {
    let file = File::open(TRACE).expect("the lackey fixture");
    let reader = TraceReader::auto(BufReader::new(file)).expect("a trace");
    reader.take(limit).collect::<Result<_, _>>().expect("records")
}

/// The page-number reference string of a trace's lookups, for the pure simulator.
fn references(m: &Machine, records: &[TraceRecord]) -> Vec<Reference> {
    let accesses = os::from_trace(m, records, usize::MAX).expect("one process");
    accesses
        .iter()
        .map(|a| Reference { page: a.va.get() >> m.format().page_shift, write: a.access == Access::Write })
        .collect()
}

/// (misses, write-backs) of the pure simulator, without keeping every step.
fn simulated(policy: Policy, frames: usize, refs: &[Reference]) -> (u64, u64) {
    let mut replacer = Replacer::new(policy, frames, 0).expect("frames");
    let pages: Vec<u64> = refs.iter().map(|r| r.page).collect();
    let (mut misses, mut write_backs) = (0, 0);
    for (i, r) in refs.iter().enumerate() {
        let outcome = replacer.access(r.page, r.write, pages.get(i + 1..).unwrap_or(&[]));
        misses += u64::from(!outcome.hit);
        write_backs += u64::from(outcome.victim_dirty);
    }
    (misses, write_backs)
}

#[test]
fn demand_paging_on_a_trace_replay_counts_faults_as_documented() {
    let records = lackey_records(60_000);
    let refs = references(&machine("x86-64"), &records);
    let distinct = {
        let mut pages: Vec<u64> = refs.iter().map(|r| r.page).collect();
        pages.sort_unstable();
        pages.dedup();
        pages.len() as u64
    };
    for policy in [Policy::Fifo, Policy::Lru, Policy::Opt] {
        let frames = 12;
        let mut m = machine("x86-64");
        let mut replayer = Replayer::new(ReplayConfig::default()).expect("tlb");
        let mut model = Os::new(demand(frames, policy), m.format()).expect("os");
        model.set_future(Future::of_trace(&m, &records).expect("one process"));
        replayer.set_os(Some(model));
        for record in &records {
            replayer.step(&mut m, record).expect("step");
        }
        let stats = replayer.stats(&m);
        let counters = &stats.total.counters;
        let os = stats.os.as_ref().expect("OS statistics").total.clone();
        // Every lookup is told to the model; every page load answers one not-present fault.
        assert_eq!(os.accesses, counters.lookups, "{policy}");
        assert_eq!(os.faults, counters.demand_maps, "{policy}");
        assert_eq!(counters.faults_by_kind.get(&FaultKind::NotPresent), Some(&os.faults), "{policy}");
        assert_eq!(os.faults, os.first_touch + os.swap_ins + os.refills, "{policy}");
        assert_eq!(os.first_touch, distinct, "{policy}: one first touch per distinct page");
        assert_eq!(os.evictions, os.faults - u64::from(frames), "{policy}: the pool stays full");
        assert_eq!(os.failures, 0);
        // The replayer tells the model of TLB hits too, so these policies see the same string
        // as the pure simulator, dirty bits included.
        assert_eq!((os.faults, os.write_backs), simulated(policy, frames as usize, &refs), "{policy}");
    }
}

#[test]
fn with_frames_for_every_page_the_cli_matches_plain_demand_mapping() {
    let out = std::process::Command::new(PAGELAB)
        .args(["new", "--format", "x86-64", "-o"])
        .arg(std::env::temp_dir().join("pagelab-os-model-x86.json"))
        .output()
        .expect("pagelab new");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lab = std::env::temp_dir().join("pagelab-os-model-x86.json");
    let run = |extra: &[&str]| -> serde_json::Value {
        let out = std::process::Command::new(PAGELAB)
            .arg("replay")
            .arg(&lab)
            .args([TRACE, "--tlb", "64x4", "--json"])
            .args(extra)
            .output()
            .expect("pagelab replay");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let plain = run(&["--demand-map"]);
    let os = run(&["--frames", "300", "--replacement", "lru"]);
    for key in ["lookups", "hits", "misses", "faults"] {
        assert_eq!(plain[key], os[key], "{key}");
    }
    assert_eq!(os["os"]["first_touch"], 250);
    assert_eq!(os["os"]["evictions"], 0);
    assert_eq!(os["os"]["frames_used"], 250);
}

#[test]
fn beladys_anomaly_through_the_os_model() {
    let m = machine("x86-64");
    let accesses: Vec<RefAccess> = BELADY
        .iter()
        .map(|&n| RefAccess { process: 0, va: VirtAddr::new(page(&m, n)), access: Access::Read })
        .collect();
    let fifo = os::fault_curve(&m, demand(1, Policy::Fifo), &accesses, 5);
    assert_eq!(fifo, vec![(1, 12), (2, 12), (3, 9), (4, 10), (5, 5)]);
    let lru = os::fault_curve(&m, demand(1, Policy::Lru), &accesses, 5);
    assert!(lru.windows(2).all(|w| w[1].1 <= w[0].1), "LRU never gets worse with more frames: {lru:?}");
}

#[test]
fn the_manual_model_reports_faults_and_leaves_the_tables_alone() {
    let mut m = machine("x86-64");
    let before = m.clone();
    let settings = OsSettings { model: OsModel::Manual, ..OsSettings::default() };
    let mut os = Os::new(settings, m.format()).expect("os");
    let va = VirtAddr::new(page(&m, 3));
    let done = os.access(&mut m, 0, va, Access::Read, Mode::User).expect("process");
    assert_eq!(done.translation.fault().map(|f| f.kind), Some(FaultKind::NotPresent));
    assert!(done.handled.is_empty() && done.error.is_none());
    assert_eq!(m, before);
    assert_eq!(os.total().faults, 0);
}

/// Drives one reference string through the OS model and through `replace::simulate_seeded`,
/// and compares hit, victim and write-back at every step.
fn compare_with_simulator(preset: &str, policy: Policy, frames: u32, seed: u64, refs: &[(u64, bool)]) {
    let m = machine(preset);
    let accesses: Vec<RefAccess> = refs
        .iter()
        .map(|&(n, write)| RefAccess {
            process: 0,
            va: VirtAddr::new(page(&m, n)),
            access: if write { Access::Write } else { Access::Read },
        })
        .collect();
    let settings = OsSettings { model: OsModel::Demand, frames, policy, seed };
    let mut run = RefRun::new(m.clone(), settings, accesses).expect("run");
    let references: Vec<Reference> = refs.iter().map(|&(page, write)| Reference { page, write }).collect();
    let expected = replace::simulate_seeded(policy, frames as usize, &references, seed).expect("frames");
    for step in &expected.steps {
        let got = run.step().expect("a step").clone();
        assert!(got.error.is_none() && got.fault.is_none(), "{got:?}");
        assert_eq!(got.hit, step.outcome.hit, "{policy} {preset} step {}", got.index);
        let victim = got.load.as_ref().and_then(|l| l.evicted);
        let victim_page = victim.map(|e| (e.key.va.get() - page(&m, 0)) >> m.format().page_shift);
        assert_eq!(victim_page, step.outcome.victim, "{policy} {preset} step {}", got.index);
        assert_eq!(victim.is_some_and(|e| e.written_back), step.outcome.victim_dirty);
    }
    assert_eq!(run.os().total().write_backs, expected.write_backs);
    assert_eq!(run.os().total().faults, expected.misses);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_policy_agrees_with_the_replacement_simulator(
        refs in prop::collection::vec((0u64..8, any::<bool>()), 0..40),
        frames in 1u32..6,
        policy in prop::sample::select(Policy::ALL.to_vec()),
        seed in any::<u64>(),
        preset in prop::sample::select(vec!["x86-64", "sv39"]),
    ) {
        compare_with_simulator(preset, policy, frames, seed, &refs);
    }
}

#[test]
fn the_ostep_policy_strings_agree_too() {
    // FIFO, LRU and OPT on the classic strings, reads and writes mixed.
    let strings: [&[u64]; 2] = [&BELADY, &[7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1]];
    for refs in strings {
        let refs: Vec<(u64, bool)> = refs.iter().enumerate().map(|(i, &n)| (n, i % 3 == 0)).collect();
        for policy in [Policy::Fifo, Policy::Lru, Policy::Opt] {
            for frames in 1..=5 {
                compare_with_simulator("x86-64", policy, frames, 0, &refs);
            }
        }
    }
}

#[test]
fn the_cli_fault_curve_shows_beladys_anomaly_and_the_lab_settings_apply() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lab_path = dir.path().join("lab.json");
    let trace_path = dir.path().join("belady.trace");
    let trace: String = BELADY.iter().map(|n| format!("{:#x} r\n", 0x1000_0000 + n * 0x1000)).collect();
    std::fs::write(&trace_path, trace).expect("write the trace");
    let mut lab = pagelab::lab::Lab::new("t", "", machine("x86-64"));
    lab.os = OsSettings { model: OsModel::Demand, frames: 3, policy: Policy::Fifo, seed: 0 };
    pagelab::lab::io::save(&lab, &lab_path).expect("save the lab");
    let out = std::process::Command::new(PAGELAB)
        .arg("replay")
        .args([&lab_path, &trace_path])
        .args(["--fault-curve", "4", "--json"])
        .output()
        .expect("pagelab replay");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["os"]["policy"], "fifo", "the lab's OS settings apply without flags");
    assert_eq!(json["os"]["faults"], 9);
    assert_eq!(json["fault_curve"], serde_json::json!([[1, 12], [2, 12], [3, 9], [4, 10]]));
}

/// Page `n` of a reference string in `lab`, read through a fresh OS model that starts from
/// `swap`: the bytes at the start of the page once the access has loaded it.
fn read_back(lab: &pagelab::lab::Lab, swap: os::SwapPages, n: u64, len: usize) -> Vec<u8> {
    let mut m = lab.machine.clone();
    let mut os = Os::new(lab.os, m.format()).expect("os").with_swap(swap);
    let done = access(&mut os, &mut m, n, Access::Read);
    assert!(matches!(done.page_load().map(|h| h.resolution), Some(Resolution::SwapIn { .. })));
    let mut bytes = vec![0; len];
    m.mem().read(PhysAddr::new(pa_of(&m, n)), &mut bytes).expect("read");
    bytes
}

#[test]
fn a_page_swapped_out_before_a_save_reads_its_bytes_back_after_reopening() {
    for preset in ["x86-64", "sv39", "ostep-multilevel"] {
        let mut lab = pagelab::lab::Lab::new("t", "", machine(preset));
        lab.os = demand(1, Policy::Fifo);
        let mut os = Os::new(lab.os, lab.machine.format()).expect("os");
        access(&mut os, &mut lab.machine, 0, Access::Write);
        lab.machine.write_phys(PhysAddr::new(pa_of(&lab.machine, 0)), b"page A").expect("write");
        access(&mut os, &mut lab.machine, 1, Access::Read);
        assert_eq!(os.encoding().decode(pte(&os, &lab.machine, 0)), Some(0), "{preset}: page 0 in slot 0");
        lab.swap = os.swap().pages().clone();

        let json = lab.to_json();
        assert!(json.contains("\"swap\""), "{preset}");
        let reopened = pagelab::lab::Lab::from_json(&json).expect("reopens");
        assert_eq!(reopened, lab, "{preset}");
        assert_eq!(read_back(&reopened, reopened.swap.clone(), 0, 6), b"page A", "{preset}");
        // Without the swap contents (as before labs kept them) the page came back as zeros.
        assert_eq!(read_back(&reopened, os::SwapPages::new(), 0, 6), [0; 6], "{preset}");
    }
}

#[test]
fn replay_save_keeps_the_swap_area_and_the_next_replay_starts_from_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = |name: &str| dir.path().join(name);
    let trace = |name: &str, lines: &str| {
        std::fs::write(path(name), lines).expect("write the trace");
        path(name)
    };
    let replay = |lab: &str, trace: &std::path::Path, saved: &str| {
        let out = std::process::Command::new(PAGELAB)
            .arg("replay")
            .args([&path(lab), trace])
            .args(["--json", "--save"])
            .arg(path(saved))
            .output()
            .expect("pagelab replay");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        (json, pagelab::lab::io::load(&path(saved)).expect("the saved lab loads"))
    };
    let mut lab = pagelab::lab::Lab::new("t", "", machine("x86-64"));
    lab.os = demand(1, Policy::Fifo);
    pagelab::lab::io::save(&lab, &path("lab.json")).expect("save the lab");

    // Page 0 is written, then evicted to slot 0 by page 1.
    let (_, first) = replay("lab.json", &trace("writes.trace", "0x10000000 w\n0x10001000 w\n"), "first.json");
    assert_eq!(first.swap.keys().copied().collect::<Vec<_>>(), [0], "slot 0 is saved, a zero page");
    assert!(std::fs::read_to_string(path("first.json")).expect("read").contains("\"swap\""));

    // Put bytes in the slot, as if the page had held them; the next replay reads them back.
    let mut edited = first;
    edited.swap.insert(0, Some(Box::from(&b"hi"[..])));
    pagelab::lab::io::save(&edited, &path("edited.json")).expect("save");
    let (stats, second) = replay("edited.json", &trace("read.trace", "0x10000000 r\n"), "second.json");
    assert_eq!(stats["os"]["swap_ins"], 1);
    let mut bytes = [0u8; 2];
    second.machine.mem().read(PhysAddr::new(pa_of(&second.machine, 0)), &mut bytes).expect("read");
    assert_eq!(&bytes, b"hi");
    assert_eq!(second.swap, edited.swap, "the slot stays: the page keeps a clean copy there");
}

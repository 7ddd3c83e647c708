//! Trace replay: the lackey `sort` trace through the real `pagelab replay` binary must give the
//! reference hit and miss counts of fixtures/traces/README.md with demand mapping on, and small
//! hand-worked sequences through the `Replayer` check stale entries, ASIDs, global pages, huge
//! pages, demand mapping and dirty-bit assists.

use pagelab::sim::{EntryAddr, PhysAddr, VirtAddr};
use std::path::Path;
use std::process::Command;

use pagelab::sim::format::Role;
use pagelab::sim::machine::{MapRequest, MapTarget};
use pagelab::sim::replay::{PageResult, ReplayConfig, ReplayError, Replayer};
use pagelab::sim::tlb::{TlbConfig, TlbPolicy};
use pagelab::sim::trace::{AccessKind, TraceReader, TraceRecord};
use pagelab::sim::{Access, FaultKind, Machine, Mode, presets};
use serde_json::Value;

const TRACES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/traces/");
const PAGELAB: &str = env!("CARGO_BIN_EXE_pagelab");

/// (--tlb, --policy, hits, misses), copied from the README's table.
const REFERENCE: [(&str, &str, u64, u64); 5] = [
    ("16x16", "lru", 1_420_480, 56_956),
    ("64x64", "lru", 1_476_726, 710),
    ("64x4", "lru", 1_475_415, 2_021),
    ("32x32", "fifo", 1_472_424, 5_012),
    ("1536x12", "lru", 1_477_186, 250),
];
const LOOKUPS: u64 = 1_477_436;
const RECORDS: u64 = 1_477_006;
/// Distinct 4 KiB pages of the trace: the misses of the TLB that holds them all.
const DISTINCT_PAGES: u64 = 250;

fn pagelab(args: &[&str]) -> std::process::Output {
    Command::new(PAGELAB).args(args).output().unwrap_or_else(|e| panic!("run pagelab: {e}"))
}

fn stdout_of(args: &[&str]) -> String {
    let out = pagelab(args);
    assert!(out.status.success(), "pagelab {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn empty_x86_64_lab(dir: &Path) -> String {
    let lab = dir.join("empty.json");
    let lab = lab.to_str().unwrap_or_else(|| panic!("temporary path is not UTF-8"));
    stdout_of(&["new", "--format", "x86-64", "-o", lab]);
    lab.to_string()
}

fn count(stats: &Value, key: &str) -> u64 {
    stats.get(key).and_then(Value::as_u64).unwrap_or_else(|| panic!("no {key} in {stats}"))
}

#[test]
fn lackey_sort_through_the_cli_matches_the_reference_counts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let lab = empty_x86_64_lab(dir.path());
    let trace = format!("{TRACES}lackey_sort.trace.gz");
    // One process per configuration, two at a time (these machines have two cores).
    let results: Vec<(usize, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = REFERENCE
            .iter()
            .enumerate()
            .map(|(i, &(tlb, policy, _, _))| {
                let (lab, trace) = (&lab, &trace);
                scope.spawn(move || {
                    let args =
                        ["replay", lab, trace, "--tlb", tlb, "--policy", policy, "--demand-map", "--json"];
                    let json = stdout_of(&args);
                    (i, serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}")))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| panic!("replay thread"))).collect()
    });
    for (i, stats) in results {
        let (tlb, policy, hits, misses) = REFERENCE[i];
        let label = format!("--tlb {tlb} --policy {policy}");
        assert_eq!(count(&stats, "records"), RECORDS, "{label}");
        assert_eq!(count(&stats, "lookups"), LOOKUPS, "{label}: a demand map is not an extra lookup");
        assert_eq!((count(&stats, "hits"), count(&stats, "misses")), (hits, misses), "{label}");
        // Every page faults once, on its first touch, and is mapped then.
        assert_eq!(count(&stats, "faults"), DISTINCT_PAGES, "{label}");
        assert_eq!(count(&stats, "demand_maps"), DISTINCT_PAGES, "{label}");
        assert_eq!(stats["faults_by_kind"]["not-present"].as_u64(), Some(DISTINCT_PAGES), "{label}");
        // One walk per miss, one more after each demand map, one per dirty-bit assist.
        let walks = misses + DISTINCT_PAGES + count(&stats, "dirty_assists");
        assert_eq!(count(&stats, "walks"), walks, "{label}");
        // Four levels, and the walk that faults on an empty table stops early.
        assert!(count(&stats, "walk_memory_refs") <= 4 * walks, "{label}");
        let eat = stats["effective_access_ns"].as_f64().unwrap_or_default();
        assert!(eat > 101.0 && eat < 200.0, "{label}: {eat}");
    }
}

#[test]
fn replay_prints_readable_statistics_and_refuses_bad_arguments() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let lab = empty_x86_64_lab(dir.path());
    let trace = dir.path().join("plain.trace");
    std::fs::write(&trace, "0x1000 r\n0x1008 w\n0x5000 x\n").unwrap_or_else(|e| panic!("{e}"));
    let trace = trace.to_str().unwrap_or_default();
    let text = stdout_of(&["replay", &lab, trace, "--demand-map"]);
    assert!(text.contains("3 records"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("lookups") && l.ends_with(" 3")), "{text}");
    assert!(text.contains("demand maps"), "{text}");

    // Without demand mapping every page of an empty lab faults and nothing is cached.
    let json: Value = serde_json::from_str(&stdout_of(&["replay", &lab, trace, "--json"]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((count(&json, "lookups"), count(&json, "misses"), count(&json, "faults")), (3, 3, 3));
    assert_eq!(count(&json, "demand_maps"), 0);

    for (args, message) in [
        (vec!["--tlb", "3x2"], "ways"),
        (vec!["--tlb", "64y4"], "ENTRIESxWAYS"),
        (vec!["--process", "nobody"], "nobody"),
    ] {
        let mut all = vec!["replay", &lab, trace];
        all.extend(args);
        let out = pagelab(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(message), "{all:?}: {err}");
    }
    let out = pagelab(&["replay", &lab, "/no/such/trace"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("cannot open trace"));
    let bad = dir.path().join("bad.trace");
    std::fs::write(&bad, "0x1000\n0x1000 q\n").unwrap_or_else(|e| panic!("{e}"));
    let out = pagelab(&["replay", &lab, bad.to_str().unwrap_or_default()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"), "{out:?}");
}

// ---- Hand-worked cases through the Replayer ----

const PAGE: u64 = 0x1000;
const A: u64 = 0x40_0000;

fn x86_64() -> Machine {
    Machine::new(presets::by_name("x86-64").unwrap_or_else(|| panic!("preset")), 16 << 20)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn map(machine: &mut Machine, process: usize, va: u64, size: u64, flags: &[&str]) {
    let flags = Some(flags.iter().map(|f| (*f).to_string()).collect());
    let page_size = (size != PAGE).then_some(size);
    let request = MapRequest { va: VirtAddr::new(va), len: size, target: MapTarget::Alloc, page_size, flags };
    machine.map(process, &request).unwrap_or_else(|e| panic!("map {va:#x}: {e}"));
}

fn replayer(config: ReplayConfig) -> Replayer {
    Replayer::new(config).unwrap_or_else(|e| panic!("{e}"))
}

fn small_tlb(asid_tagging: bool) -> ReplayConfig {
    let tlb = TlbConfig { entries: 8, ways: 8, policy: TlbPolicy::Lru, seed: 0, asid_tagging };
    ReplayConfig { tlb, ..ReplayConfig::default() }
}

fn record(kind: AccessKind, addr: u64, process: Option<&str>) -> TraceRecord {
    TraceRecord { kind, addr, size: 1, process: process.map(str::to_string) }
}

/// Steps one record touching one page: (hit, result).
fn access(replayer: &mut Replayer, machine: &mut Machine, record: &TraceRecord) -> (bool, PageResult) {
    let step = replayer.step(machine, record).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(step.lookups, 1);
    let page = step.pages.first().unwrap_or_else(|| panic!("no page outcome"));
    (page.hit, page.result)
}

fn read(replayer: &mut Replayer, machine: &mut Machine, va: u64) -> (bool, PageResult) {
    access(replayer, machine, &record(AccessKind::Load, va, None))
}

fn write(replayer: &mut Replayer, machine: &mut Machine, va: u64) -> (bool, PageResult) {
    access(replayer, machine, &record(AccessKind::Store, va, None))
}

/// The leaf entry of `va` in `process`: (address, raw value, level).
fn leaf(machine: &Machine, process: usize, va: u64) -> (u64, u64, usize) {
    let walk = machine
        .translate(process, VirtAddr::new(va), Access::Read, Mode::Supervisor)
        .unwrap_or_else(|e| panic!("{e}"));
    let step = walk.steps.last().unwrap_or_else(|| panic!("no walk"));
    (step.entry_addr.get(), step.raw, step.level)
}

fn pa(machine: &Machine, process: usize, va: u64) -> u64 {
    let walk = machine
        .translate(process, VirtAddr::new(va), Access::Read, Mode::User)
        .unwrap_or_else(|e| panic!("{e}"));
    (walk.pa().unwrap_or_else(|| panic!("{va:#x} is not mapped"))).get()
}

#[test]
fn an_edited_entry_is_ignored_until_the_page_is_invalidated() {
    let mut machine = x86_64();
    map(&mut machine, 0, A, PAGE, &["R/W", "U/S"]);
    let old_pa = pa(&machine, 0, A + 0x10);
    let mut replayer = replayer(ReplayConfig::default());
    assert_eq!(
        read(&mut replayer, &mut machine, A + 0x10),
        (false, PageResult::Mapped { pa: PhysAddr::new(old_pa) })
    );

    // Point the leaf at another frame, without INVLPG.
    let new_frame = machine.alloc_frames(1, 1).unwrap_or_else(|e| panic!("{e}"));
    let (entry_addr, raw, level) = leaf(&machine, 0, A);
    let raw = machine.format().with(raw, Role::Frame, level, new_frame.get());
    machine.set_entry(EntryAddr::new(entry_addr), raw).unwrap_or_else(|e| panic!("{e}"));
    let new_pa = (new_frame.get() << 12) + 0x10;
    assert_eq!(pa(&machine, 0, A + 0x10), new_pa, "memory says the new frame");
    assert_eq!(
        read(&mut replayer, &mut machine, A + 0x10),
        (true, PageResult::Mapped { pa: PhysAddr::new(old_pa) })
    );
    let entry = replayer.tlb().peek(1, A).unwrap_or_else(|| panic!("cached")).clone();
    assert!(replayer.is_stale(&machine, &entry), "the cached frame disagrees with memory");

    // INVLPG: the next access walks and sees the new frame.
    assert_eq!(replayer.tlbs_mut().invalidate_page(A, None), 1);
    assert_eq!(
        read(&mut replayer, &mut machine, A + 0x10),
        (false, PageResult::Mapped { pa: PhysAddr::new(new_pa) })
    );
    let entry = replayer.tlb().peek(1, A).unwrap_or_else(|| panic!("cached")).clone();
    assert!(!replayer.is_stale(&machine, &entry));
}

#[test]
fn a_stale_entry_keeps_its_old_rights_too() {
    let mut machine = x86_64();
    map(&mut machine, 0, A, PAGE, &["R/W", "U/S"]);
    let mut replayer = replayer(ReplayConfig::default());
    let page_pa = pa(&machine, 0, A);
    assert_eq!(
        write(&mut replayer, &mut machine, A),
        (false, PageResult::Mapped { pa: PhysAddr::new(page_pa) })
    );
    // Make the page read-only in memory only: the cached entry still allows the write.
    let (entry_addr, raw, level) = leaf(&machine, 0, A);
    machine
        .set_entry(EntryAddr::new(entry_addr), machine.format().with(raw, Role::Writable, level, 0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        write(&mut replayer, &mut machine, A),
        (true, PageResult::Mapped { pa: PhysAddr::new(page_pa) })
    );
    replayer.tlbs_mut().invalidate_page(A, None);
    assert_eq!(write(&mut replayer, &mut machine, A), (false, PageResult::Fault(FaultKind::WriteProtection)));
    // The read-only translation is cached now: a write hit faults from the TLB without a walk.
    let walks = replayer.stats(&machine).total.counters.walks;
    assert!(!read(&mut replayer, &mut machine, A).0, "a fault caches nothing");
    assert_eq!(write(&mut replayer, &mut machine, A), (true, PageResult::Fault(FaultKind::WriteProtection)));
    assert_eq!(replayer.stats(&machine).total.counters.walks, walks + 1);
}

/// Two processes with page A mapped to different frames, and a plain trace alternating them.
fn two_processes() -> (Machine, String) {
    let mut machine = x86_64();
    machine.rename_process(0, "one").unwrap_or_else(|e| panic!("{e}"));
    let two = machine.add_process("two").unwrap_or_else(|e| panic!("{e}"));
    map(&mut machine, 0, A, PAGE, &["R/W", "U/S"]);
    map(&mut machine, two, A, PAGE, &["R/W", "U/S"]);
    let trace = format!("{A:#x} r one\n{A:#x} r two\n{A:#x} r one\n{A:#x} r two\n");
    (machine, trace)
}

#[test]
fn asid_tagging_keeps_both_processes_entries() {
    let (mut machine, trace) = two_processes();
    let mut replayer = replayer(small_tlb(true));
    let mut reader = TraceReader::new(trace.as_bytes());
    assert_eq!(replayer.run(&mut machine, &mut reader).unwrap_or_else(|e| panic!("{e}")), 4);
    let stats = replayer.stats(&machine);
    assert_eq!((stats.total.counters.hits, stats.total.counters.misses, stats.switches), (2, 2, 3));
    for name in ["one", "two"] {
        let process = &stats.per_process[name].counters;
        assert_eq!((process.lookups, process.hits, process.misses), (2, 1, 1), "{name}");
    }
    assert_eq!(stats.tlb.flushes, 0);
    // Same page, two ASIDs, two frames.
    let one =
        replayer.tlb().peek(machine.processes()[0].asid, A).map(|e| e.payload().pa(VirtAddr::new(A)).get());
    let two =
        replayer.tlb().peek(machine.processes()[1].asid, A).map(|e| e.payload().pa(VirtAddr::new(A)).get());
    assert_eq!((one, two), (Some(pa(&machine, 0, A)), Some(pa(&machine, 1, A))));
    assert_ne!(one, two);
}

#[test]
fn without_asid_tagging_every_switch_flushes() {
    let (mut machine, trace) = two_processes();
    let mut replayer = replayer(small_tlb(false));
    let mut reader = TraceReader::new(trace.as_bytes());
    replayer.run(&mut machine, &mut reader).unwrap_or_else(|e| panic!("{e}"));
    let stats = replayer.stats(&machine);
    assert_eq!((stats.total.counters.hits, stats.total.counters.misses), (0, 4));
    // One flush per switch, plus the first CR3 load when the replay starts.
    assert_eq!((stats.switches, stats.tlb.flushes), (3, 4));
    assert_eq!(machine.active(), 1, "the trace left process two active");
}

#[test]
fn global_pages_survive_switches_without_asid_tagging() {
    let (mut machine, _) = two_processes();
    let kernel = 0xffff_ffff_8000_0000;
    map(&mut machine, 0, kernel, PAGE, &["R/W", "G"]);
    machine.share_kernel_half(0, 1).unwrap_or_else(|e| panic!("{e}"));
    let config = ReplayConfig { mode: Mode::Supervisor, ..small_tlb(false) };
    let mut replayer = replayer(config);
    let mut hits = Vec::new();
    for (va, process) in
        [(kernel, "one"), (A, "one"), (kernel, "two"), (A, "two"), (kernel, "one"), (A, "one")]
    {
        hits.push(access(&mut replayer, &mut machine, &record(AccessKind::Load, va, Some(process))).0);
    }
    assert_eq!(hits, [false, false, true, false, true, false], "the kernel page stays, A is flushed");
    let entry = replayer.tlb().peek(0, kernel).unwrap_or_else(|| panic!("cached"));
    assert!(entry.global());
}

#[test]
fn a_two_mib_page_fills_one_entry_that_covers_it_all() {
    let mut machine = x86_64();
    let huge = 0x4000_0000;
    map(&mut machine, 0, huge, 2 << 20, &["R/W", "U/S"]);
    let mut replayer = replayer(small_tlb(true));
    let base = pa(&machine, 0, huge);
    let results: Vec<_> =
        [0, 0x10_0000, 0x1f_f123].iter().map(|&off| read(&mut replayer, &mut machine, huge + off)).collect();
    assert_eq!(
        results,
        [
            (false, PageResult::Mapped { pa: PhysAddr::new(base) }),
            (true, PageResult::Mapped { pa: PhysAddr::new(base + 0x10_0000) }),
            (true, PageResult::Mapped { pa: PhysAddr::new(base + 0x1f_f123) }),
        ]
    );
    assert_eq!(replayer.tlb().len(), 1);
    let entry = replayer.tlb().entries().next().unwrap_or_else(|| panic!("one entry")).entry;
    assert_eq!((entry.page_shift(), entry.base(), entry.payload().page_shift), (21, huge, 21));
    // The walk stopped at the PD: three entries read.
    let counters = replayer.stats(&machine).total.counters;
    assert_eq!((counters.walks, counters.walk_memory_refs), (1, 3));
    // Past the end of the page: another miss.
    assert!(!read(&mut replayer, &mut machine, huge + (2 << 20)).0);
}

#[test]
fn demand_mapping_counts_a_fault_and_a_second_walk_but_one_lookup() {
    let mut machine = x86_64();
    let mut replayer = replayer(ReplayConfig { demand_map: true, ..small_tlb(true) });
    // An 8-byte modify across a page boundary: two pages, one lookup each, both written.
    let straddling = TraceRecord { kind: AccessKind::Modify, addr: 0x1ffc, size: 8, process: None };
    let step = replayer.step(&mut machine, &straddling).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(step.lookups, 2);
    assert_eq!(step.pages.iter().map(|p| p.va.get()).collect::<Vec<_>>(), [0x1ffc, 0x2000]);
    assert!(
        step.pages.iter().all(|p| !p.hit && p.demand_mapped && matches!(p.result, PageResult::Mapped { .. }))
    );
    let counters = replayer.stats(&machine).total.counters;
    assert_eq!((counters.lookups, counters.misses, counters.faults, counters.demand_maps), (2, 2, 2, 2));
    assert_eq!(counters.faults_by_kind.get(&FaultKind::NotPresent), Some(&2));
    assert_eq!(counters.walks, 4, "the faulting walk and the walk after mapping");
    // The first page's fault was found at the empty PML4 (1 entry read); the second page's at
    // the PT its neighbour's mapping created (4 entries); each walk after mapping read 4.
    assert_eq!(counters.walk_memory_refs, (1 + 4) + (4 + 4));
    // The modify wrote: the leaves are accessed and dirty.
    for va in [0x1000, 0x2000] {
        let (_, raw, level) = leaf(&machine, 0, va);
        assert!(machine.format().flag(raw, Role::Accessed, level, false), "{va:#x}");
        assert!(machine.format().flag(raw, Role::Dirty, level, false), "{va:#x}");
    }
    // Again: two hits, nothing else.
    replayer.step(&mut machine, &straddling).unwrap_or_else(|e| panic!("{e}"));
    let counters = replayer.stats(&machine).total.counters;
    assert_eq!((counters.lookups, counters.hits, counters.walks, counters.faults), (4, 2, 4, 2));
}

#[test]
fn without_demand_mapping_a_fault_is_counted_and_the_page_skipped() {
    let mut machine = x86_64();
    let mut replayer = replayer(small_tlb(true));
    for _ in 0..2 {
        assert_eq!(read(&mut replayer, &mut machine, A), (false, PageResult::Fault(FaultKind::NotPresent)));
    }
    let counters = replayer.stats(&machine).total.counters;
    assert_eq!((counters.lookups, counters.misses, counters.walks, counters.faults), (2, 2, 2, 2));
    assert_eq!((counters.demand_maps, replayer.tlb().len()), (0, 0));
    assert_eq!(machine.table_size(0).map(|s| s.mapped_pages).ok(), Some(0));
}

#[test]
fn a_write_to_a_page_cached_clean_walks_once_to_set_dirty() {
    let mut machine = x86_64();
    map(&mut machine, 0, A, PAGE, &["R/W", "U/S"]);
    let mut replayer = replayer(small_tlb(true));
    read(&mut replayer, &mut machine, A);
    let (_, raw, level) = leaf(&machine, 0, A);
    assert!(!machine.format().flag(raw, Role::Dirty, level, false));
    let step =
        replayer.step(&mut machine, &record(AccessKind::Store, A, None)).unwrap_or_else(|e| panic!("{e}"));
    assert!(step.pages[0].hit && step.pages[0].dirty_assist);
    assert_eq!(step.pages[0].walk_refs, 4);
    let (_, raw, level) = leaf(&machine, 0, A);
    assert!(machine.format().flag(raw, Role::Dirty, level, false), "the assist set D in memory");
    let step =
        replayer.step(&mut machine, &record(AccessKind::Store, A, None)).unwrap_or_else(|e| panic!("{e}"));
    assert!(step.pages[0].hit && !step.pages[0].dirty_assist);
    let counters = replayer.stats(&machine).total.counters;
    assert_eq!((counters.hits, counters.misses, counters.walks, counters.dirty_assists), (2, 1, 2, 1));
}

#[test]
fn riscv_svade_faults_a_write_to_a_clean_page_even_on_a_hit() {
    let mut machine = Machine::new(presets::by_name("sv39").unwrap_or_else(|| panic!("preset")), 16 << 20)
        .unwrap_or_else(|e| panic!("{e}"));
    map(&mut machine, 0, A, PAGE, &["R", "W", "U", "A"]);
    let mut replayer = replayer(small_tlb(true));
    assert!(matches!(read(&mut replayer, &mut machine, A), (false, PageResult::Mapped { .. })));
    assert_eq!(write(&mut replayer, &mut machine, A), (true, PageResult::Fault(FaultKind::DirtyClear)));
}

#[test]
fn a_trace_naming_an_unknown_process_is_refused_with_its_line() {
    let (mut machine, _) = two_processes();
    let mut replayer = replayer(small_tlb(true));
    let mut reader = TraceReader::new("0x1000 r one\n\n0x1000 r three\n".as_bytes());
    match replayer.run(&mut machine, &mut reader) {
        Err(ReplayError::UnknownProcess { line, name }) => assert_eq!((line, name.as_str()), (3, "three")),
        other => panic!("{other:?}"),
    }
    assert_eq!(replayer.records(), 1);
}

// ---- Split instruction and data TLBs ----

fn split(itlb: TlbConfig, dtlb: TlbConfig) -> ReplayConfig {
    ReplayConfig { tlb: dtlb, itlb: Some(itlb), ..ReplayConfig::default() }
}

fn one_entry() -> TlbConfig {
    TlbConfig { entries: 1, ways: 1, ..TlbConfig::default() }
}

#[test]
fn split_tlbs_stop_code_and_data_from_evicting_each_other() {
    let code = A;
    let data = A + 0x10_0000;
    let fetch = record(AccessKind::Instr, code, None);
    let load = record(AccessKind::Load, data, None);
    let trace = [&fetch, &load, &fetch, &load, &fetch, &load];
    // One unified entry: the fetch and the load evict each other every time.
    let mut machine = x86_64();
    map(&mut machine, 0, code, PAGE, &["U/S"]);
    map(&mut machine, 0, data, PAGE, &["R/W", "U/S", "NX"]);
    let mut unified = replayer(ReplayConfig { tlb: one_entry(), ..ReplayConfig::default() });
    let hits: Vec<bool> = trace.iter().map(|r| access(&mut unified, &mut machine, r).0).collect();
    assert_eq!(hits, [false; 6]);
    // One entry each in an iTLB and a dTLB: two compulsory misses, then hits.
    let mut split_replayer = replayer(split(one_entry(), one_entry()));
    let hits: Vec<bool> = trace.iter().map(|r| access(&mut split_replayer, &mut machine, r).0).collect();
    assert_eq!(hits, [false, false, true, true, true, true]);
    let stats = split_replayer.stats(&machine);
    let (itlb, dtlb) = (stats.itlb.unwrap_or_default(), stats.dtlb.unwrap_or_default());
    assert_eq!((itlb.lookups, itlb.hits, dtlb.lookups, dtlb.hits), (3, 2, 3, 2));
    assert_eq!((stats.tlb.lookups, stats.total.counters.lookups, stats.total.counters.misses), (6, 6, 2));
    // The iTLB holds the code page, the dTLB the data page.
    let tlbs = split_replayer.tlbs();
    let base = |t: &pagelab::sim::tlb::Tlb<_>| t.entries().map(|s| s.entry.base()).collect::<Vec<_>>();
    assert_eq!(tlbs.instruction().map(base), Some(vec![code]));
    assert_eq!(base(tlbs.data()), [data]);

    // An invalidation reaches both; an edit without one leaves the iTLB stale.
    let both = record(AccessKind::Load, code, None);
    access(&mut split_replayer, &mut machine, &both);
    assert_eq!(split_replayer.tlbs_mut().invalidate_page(code, None), 2, "the iTLB's and the dTLB's");
    let (entry_addr, raw, level) = leaf(&machine, 0, code);
    machine.set_entry(EntryAddr::new(entry_addr), raw & !1).unwrap_or_else(|e| panic!("{e}"));
    let before = split_replayer.stats(&machine).total.counters.faults;
    let _ = split_replayer.step(&mut machine, &fetch);
    assert_eq!(split_replayer.stats(&machine).total.counters.faults, before + 1, "not present now");
    machine.set_entry(EntryAddr::new(entry_addr), raw).unwrap_or_else(|e| panic!("{e}"));
    assert!(!access(&mut split_replayer, &mut machine, &fetch).0);
    machine
        .set_entry(EntryAddr::new(entry_addr), machine.format().with(raw, Role::Present, level, 0))
        .unwrap_or_else(|e| panic!("{e}"));
    let (hit, result) = access(&mut split_replayer, &mut machine, &fetch);
    assert!(hit && matches!(result, PageResult::Mapped { .. }), "the stale iTLB entry still translates");
    let tlbs = split_replayer.tlbs();
    let itlb = tlbs.instruction().unwrap_or_else(|| panic!("split"));
    let entry = itlb.entries().next().unwrap_or_else(|| panic!("cached")).entry;
    assert!(split_replayer.is_stale(&machine, entry));
}

/// Writes the records of `trace` that `keep` selects as a lackey trace.
fn lackey_subset(trace: &Path, out: &Path, keep: impl Fn(AccessKind) -> bool) {
    use std::io::Write as _;
    let file = std::fs::File::open(trace).unwrap_or_else(|e| panic!("{e}"));
    let reader = std::io::BufReader::new(file);
    let records = TraceReader::auto(reader).unwrap_or_else(|e| panic!("{e}"));
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).unwrap_or_else(|e| panic!("{e}")));
    for record in records {
        let r = record.unwrap_or_else(|e| panic!("{e}"));
        let tag = match r.kind {
            AccessKind::Instr => "I ",
            AccessKind::Load => " L",
            AccessKind::Store => " S",
            AccessKind::Modify => " M",
        };
        if keep(r.kind) {
            writeln!(w, "{tag} {:x},{}", r.addr, r.size).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    w.flush().unwrap_or_else(|e| panic!("{e}"));
}

/// A split TLB is two independent TLBs: its iTLB counts what a unified TLB of the same shape
/// counts on the fetches alone, its dTLB what one counts on the loads and stores alone.
#[test]
fn a_split_tlb_counts_as_two_tlbs_fed_fetches_and_data_apart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let lab = empty_x86_64_lab(dir.path());
    let gz = format!("{TRACES}lackey_sort.trace.gz");
    let fetches = dir.path().join("fetches.trace");
    let data = dir.path().join("data.trace");
    lackey_subset(Path::new(&gz), &fetches, |k| k == AccessKind::Instr);
    lackey_subset(Path::new(&gz), &data, |k| k != AccessKind::Instr);
    let run = |args: &[&str]| -> Value {
        let json = stdout_of(args);
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
    };
    let (fetches, data) = (fetches.to_str().unwrap_or_default(), data.to_str().unwrap_or_default());
    let (split_stats, (alone_i, alone_d)) = std::thread::scope(|scope| {
        let split = scope.spawn(|| {
            run(&["replay", &lab, &gz, "--itlb", "16x16", "--tlb", "64x4", "--demand-map", "--json"])
        });
        let i = run(&["replay", &lab, fetches, "--tlb", "16x16", "--demand-map", "--json"]);
        let d = run(&["replay", &lab, data, "--tlb", "64x4", "--demand-map", "--json"]);
        (split.join().unwrap_or_else(|_| panic!("split replay")), (i, d))
    });
    for (half, alone) in [("itlb", &alone_i), ("dtlb", &alone_d)] {
        let stats = &split_stats[half];
        assert_eq!(
            (count(stats, "lookups"), count(stats, "hits"), count(stats, "misses")),
            (count(alone, "lookups"), count(alone, "hits"), count(alone, "misses")),
            "{half}"
        );
    }
    assert_eq!(count(&split_stats, "lookups"), LOOKUPS);
    assert_eq!(count(&split_stats["itlb_config"], "entries"), 16);
    assert_eq!(count(&split_stats["tlb_config"], "ways"), 4);
    let misses = count(&alone_i, "misses") + count(&alone_d, "misses");
    assert_eq!(count(&split_stats, "misses"), misses);
    assert_eq!(count(&split_stats["tlb"], "misses"), misses, "the TLB counters add both up");

    let text = stdout_of(&["replay", &lab, fetches, "--itlb", "8", "--tlb", "8x2", "--demand-map"]);
    assert!(text.contains("split TLB: iTLB 8 entries x 8 ways, dTLB 8 entries x 2 ways"), "{text}");
    assert!(text.lines().any(|l| l.trim_start().starts_with("iTLB (8 x 8) lookups")), "{text}");
    let out = pagelab(&["replay", &lab, fetches, "--itlb", "6x4"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--itlb 6x4"), "{err}");
}

/// Demand mapping into a process the exercise locks is refused at the record that would do it,
/// with its line and the process named; `--save` then writes nothing. (It used to map pages into
/// the locked process.) A process that is not locked still demand-maps.
#[test]
fn replay_with_demand_mapping_stops_at_a_locked_process() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let lab = empty_x86_64_lab(dir.path());
    stdout_of(&["map", &lab, "0x1000"]);
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(&lab).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    json["locks"] = serde_json::json!({ "processes": ["init"] });
    std::fs::write(&lab, json.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let before = std::fs::read_to_string(&lab).unwrap_or_default();
    let trace = dir.path().join("plain.trace");
    // Line 1 hits the mapped page; line 2 would demand-map 0x5000.
    std::fs::write(&trace, "0x1000 r\n0x5000 w\n0x6000 r\n").unwrap_or_else(|e| panic!("{e}"));
    let trace = trace.to_str().unwrap_or_default();
    let saved = dir.path().join("saved.json");
    let saved = saved.to_str().unwrap_or_default();
    let out = pagelab(&["replay", &lab, trace, "--demand-map", "--save", saved]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the replay was refused");
    assert!(err.contains("line 2") && err.contains("\"init\"") && err.contains("locks"), "{err}");
    assert!(!Path::new(saved).exists(), "nothing is saved");
    assert_eq!(std::fs::read_to_string(&lab).unwrap_or_default(), before);
    // Without demand mapping nothing would change: the faults are simply counted.
    let text = stdout_of(&["replay", &lab, trace]);
    assert!(text.contains("3 records"), "{text}");
}

/// Makes the cached, read-only page A writable in memory only, then writes twice: the first write
/// hits the stale entry and faults with its old rights. Returns the second write's outcome.
fn retried_write_after_a_stale_fault(mut machine: Machine, writable: &str) -> (bool, PageResult) {
    let mut replayer = replayer(ReplayConfig::default());
    assert!(matches!(read(&mut replayer, &mut machine, A), (false, PageResult::Mapped { .. })));
    let (entry_addr, raw, level) = leaf(&machine, 0, A);
    let field =
        machine.format().field_named_at(writable, level).unwrap_or_else(|| panic!("{writable}")).clone();
    machine.set_entry(EntryAddr::new(entry_addr), field.set(raw, 1)).unwrap_or_else(|e| panic!("{e}"));
    let (hit, first) = write(&mut replayer, &mut machine, A);
    assert!(hit && matches!(first, PageResult::Fault(FaultKind::WriteProtection)), "{first:?}");
    write(&mut replayer, &mut machine, A)
}

/// SDM Vol. 3A 4.10.4.1: a page fault invalidates the TLB entries of the faulting address, so on
/// x86 the retried write walks the tables again and succeeds. RISC-V has no such rule: the stale
/// entry stays until SFENCE.VMA, and the retry faults again.
#[test]
fn an_x86_page_fault_drops_the_stale_entry_and_risc_v_keeps_it() {
    let mut x86 = x86_64();
    map(&mut x86, 0, A, PAGE, &["U/S"]);
    let (hit, retry) = retried_write_after_a_stale_fault(x86, "R/W");
    assert!(!hit && matches!(retry, PageResult::Mapped { .. }), "x86: {retry:?}");

    let mut sv39 = Machine::new(presets::by_name("sv39").unwrap_or_else(|| panic!("preset")), 16 << 20)
        .unwrap_or_else(|e| panic!("{e}"));
    sv39.settings_mut().riscv_ad = pagelab::sim::mmu::RiscvAd::Svadu;
    map(&mut sv39, 0, A, PAGE, &["R", "U"]);
    let (hit, retry) = retried_write_after_a_stale_fault(sv39, "W");
    assert!(hit && matches!(retry, PageResult::Fault(FaultKind::WriteProtection)), "RISC-V: {retry:?}");
}

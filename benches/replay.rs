//! Replay throughput: TLB lookups per second through the `Replayer`, on the hit path (every
//! lookup hits a cached translation: each record on another page, or runs of records in one
//! page as traces mostly are, through `run` and its hit hints) and on the walk path (every
//! lookup misses and walks the four x86-64 levels, applies A/D and fills the TLB); and the
//! whole sort trace (tests/data/traces), decompressed in memory, parsed and replayed with
//! demand mapping, in records per second; and the walk alone (`walk/`), compiled and not. Run: `cargo bench --no-default-features --bench replay`.

use pagelab::sim::VirtAddr;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pagelab::sim::fast_walk::{CompiledFormat, FastTranslation, translate_compiled};
use pagelab::sim::machine::{MapRequest, MapTarget};
use pagelab::sim::mmu::{self, Request};
use pagelab::sim::presets;
use pagelab::sim::replay::{ReplayConfig, Replayer};
use pagelab::sim::tlb::TlbConfig;
use pagelab::sim::trace::{AccessKind, TraceReader, TraceRecord};
use pagelab::sim::{Access, Machine, Mode};

/// Records per measured iteration (each touches one page: one lookup).
const BATCH: u64 = 4096;
const BASE: u64 = 0x5555_5555_4000;

/// An x86-64 machine with `pages` consecutive pages mapped at `BASE` (none: empty tables).
fn machine(pages: u64) -> Machine {
    let format = presets::by_name("x86-64").unwrap_or_else(|| panic!("x86-64 preset"));
    let mut machine = Machine::new(format, 64 << 20).unwrap_or_else(|e| panic!("machine: {e}"));
    if pages > 0 {
        let request = MapRequest {
            va: VirtAddr::new(BASE),
            len: pages << 12,
            target: MapTarget::Alloc,
            page_size: None,
            flags: None,
        };
        machine.map(0, &request).unwrap_or_else(|e| panic!("map: {e}"));
    }
    machine
}

fn replayer(tlb: TlbConfig) -> Replayer {
    Replayer::new(ReplayConfig { tlb, ..ReplayConfig::default() }).unwrap_or_else(|e| panic!("tlb: {e}"))
}

/// Loads of 8 bytes spread over `pages` pages.
fn records(pages: u64) -> Vec<TraceRecord> {
    (0..BATCH)
        .map(|i| TraceRecord {
            kind: AccessKind::Load,
            addr: BASE + (i % pages) * 0x1000 + (i * 8) % 0x1000,
            size: 8,
            process: None,
        })
        .collect()
}

fn replay_batch(replayer: &mut Replayer, machine: &mut Machine, records: &[TraceRecord]) -> u64 {
    let mut lookups = 0;
    for record in records {
        match replayer.step(machine, black_box(record)) {
            Ok(step) => lookups += step.lookups,
            Err(e) => panic!("{e}"),
        }
    }
    lookups
}

fn lookups(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(BATCH));
    // 32 pages in a 64x4 TLB: after the first pass every lookup hits.
    let mut hit_machine = machine(32);
    let mut hit_replayer = replayer(TlbConfig::default());
    let hit_records = records(32);
    replay_batch(&mut hit_replayer, &mut hit_machine, &hit_records);
    group.bench_function("hit-path", |b| {
        b.iter(|| replay_batch(&mut hit_replayer, &mut hit_machine, &hit_records));
    });
    assert_eq!(hit_replayer.stats(&hit_machine).total.counters.misses, 32, "only the first pass misses");

    // Two pages alternating in a one-entry TLB: every lookup misses and walks four levels.
    let mut walk_machine = machine(2);
    let mut walk_replayer = replayer(TlbConfig { entries: 1, ways: 1, ..TlbConfig::default() });
    let walk_records = records(2);
    group.bench_function("walk-path", |b| {
        b.iter(|| replay_batch(&mut walk_replayer, &mut walk_machine, &walk_records));
    });
    group.finish();
    assert_eq!(walk_replayer.stats(&walk_machine).total.counters.hits, 0, "the walk path never hits");
}

/// The walk alone, on the walk-path machine's warm tables (two pages, four x86-64 levels each,
/// A already set): `translate_compiled`, what replay's misses use, and `translate` with its
/// vectors, field look-ups and fault reports, for comparison. In walks per second.
fn walks(c: &mut Criterion) {
    let mut group = c.benchmark_group("walk");
    group.throughput(Throughput::Elements(BATCH));
    let mut machine = machine(2);
    let root = machine.walk_root(0).unwrap_or_else(|e| panic!("{e}"));
    let requests: Vec<Request> = records(2)
        .iter()
        .map(|r| Request { va: VirtAddr::new(r.addr), access: Access::Read, mode: Mode::User })
        .collect();
    // Set A everywhere, so that the walks measured are warm (they write nothing).
    for request in &requests {
        let t =
            machine.translate(0, request.va, request.access, request.mode).unwrap_or_else(|e| panic!("{e}"));
        machine.apply_ad(&t);
    }
    let compiled = CompiledFormat::new(machine.format()).unwrap_or_else(|| panic!("4 levels"));
    let mut out = FastTranslation::default();
    group.bench_function("x86-64-compiled", |b| {
        b.iter(|| {
            let mut pages = 0u64;
            for request in &requests {
                translate_compiled(
                    machine.mem(),
                    &compiled,
                    root,
                    machine.settings(),
                    *black_box(request),
                    &mut out,
                );
                pages += u64::from(out.outcome.is_ok());
            }
            assert_eq!(out.ad_updates().len(), 0, "warm tables");
            pages
        });
    });
    group.bench_function("x86-64-translate", |b| {
        b.iter(|| {
            let mut pages = 0u64;
            for request in &requests {
                let t = mmu::translate(
                    machine.mem(),
                    machine.format(),
                    root,
                    machine.settings(),
                    *black_box(request),
                );
                pages += u64::from(t.pa().is_some());
            }
            pages
        });
    });
    group.finish();
}

/// Lackey text of loads in runs of 16 per page over 32 pages.
fn same_page_text(batch: u64) -> String {
    (0..batch).map(|i| format!(" L {:x},8\n", BASE + (i / 16 % 32) * 0x1000 + (i % 16) * 8)).collect()
}

fn runs(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(BATCH));
    // Parsing included: the records come from lackey text, through Replayer::run.
    let text = same_page_text(BATCH);
    let mut runs_machine = machine(32);
    let mut runs_replayer = replayer(TlbConfig::default());
    let run = |replayer: &mut Replayer, machine: &mut Machine| {
        let mut trace = TraceReader::new(text.as_bytes());
        replayer.run(machine, &mut trace).unwrap_or_else(|e| panic!("{e}"))
    };
    run(&mut runs_replayer, &mut runs_machine);
    group.bench_function("run-same-page-runs", |b| b.iter(|| run(&mut runs_replayer, &mut runs_machine)));
    group.finish();

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/traces/lackey_sort.trace.gz");
    let mut text = Vec::new();
    let gzip = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    std::io::Read::read_to_end(&mut flate2::bufread::MultiGzDecoder::new(gzip.as_slice()), &mut text)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1_477_006));
    group.bench_function("sort-trace-text", |b| {
        b.iter(|| {
            let mut empty = machine(0);
            let config = ReplayConfig { demand_map: true, ..ReplayConfig::default() };
            let mut sort_replayer = Replayer::new(config).unwrap_or_else(|e| panic!("{e}"));
            let mut trace = TraceReader::new(text.as_slice());
            sort_replayer.run(&mut empty, &mut trace).unwrap_or_else(|e| panic!("{e}"))
        });
    });
    group.finish();
}

criterion_group!(benches, lookups, walks, runs);
criterion_main!(benches);

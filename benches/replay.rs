//! Replay throughput: TLB lookups per second through the `Replayer`, on the hit path (every
//! lookup hits a cached translation) and on the walk path (every lookup misses and walks the
//! four x86-64 levels, applies A/D and fills the TLB).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pagelab::sim::Machine;
use pagelab::sim::machine::{MapRequest, MapTarget};
use pagelab::sim::presets;
use pagelab::sim::replay::{ReplayConfig, Replayer};
use pagelab::sim::tlb::TlbConfig;
use pagelab::sim::trace::{AccessKind, TraceRecord};

/// Records per measured iteration (each touches one page: one lookup).
const BATCH: u64 = 4096;
const BASE: u64 = 0x5555_5555_4000;

/// An x86-64 machine with `pages` consecutive pages mapped at `BASE`.
fn machine(pages: u64) -> Machine {
    let format = presets::by_name("x86-64").unwrap_or_else(|| panic!("x86-64 preset"));
    let mut machine = Machine::new(format, 64 << 20).unwrap_or_else(|e| panic!("machine: {e}"));
    let request =
        MapRequest { va: BASE, len: pages << 12, target: MapTarget::Alloc, page_size: None, flags: None };
    machine.map(0, &request).unwrap_or_else(|e| panic!("map: {e}"));
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

criterion_group!(benches, lookups);
criterion_main!(benches);

//! TLB throughput: lookups per second on the hit path (pages in a scrambled order, and runs of
//! lookups in one page through a hit hint, as replay makes them) and on the miss-then-fill
//! path, for a set-associative and a fully associative shape, plus lackey parsing in records
//! per second. Run: `cargo bench --no-default-features --bench tlb`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pagelab::sim::tlb::{HitHint, Tlb, TlbConfig, TlbEntry, TlbPolicy};
use pagelab::sim::trace::TraceReader;

const PAGE_SHIFT: u32 = 12;
/// Lookups per measured iteration.
const BATCH: u64 = 4096;

fn shapes() -> [(&'static str, TlbConfig); 3] {
    let config = |entries, ways, policy| TlbConfig { entries, ways, policy, ..TlbConfig::default() };
    [
        ("64x4-lru", config(64, 4, TlbPolicy::Lru)),
        ("64x64-lru", config(64, 64, TlbPolicy::Lru)),
        ("64x4-plru", config(64, 4, TlbPolicy::Plru)),
    ]
}

fn new_tlb(config: &TlbConfig) -> Tlb<u64> {
    Tlb::new(config.clone()).unwrap_or_else(|error| panic!("bench config: {error}"))
}

fn entry(page: u64) -> TlbEntry<u64> {
    TlbEntry::new(0, page << PAGE_SHIFT, PAGE_SHIFT, false, page)
        .unwrap_or_else(|error| panic!("bench entry: {error}"))
}

fn hit_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("tlb-hit");
    group.throughput(Throughput::Elements(BATCH));
    for (name, config) in shapes() {
        let mut tlb = new_tlb(&config);
        // Fill every entry, then only ever ask for cached pages.
        let resident = u64::try_from(config.entries).unwrap_or(u64::MAX);
        for page in 0..resident {
            tlb.insert(entry(page));
        }
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let mut sum = 0u64;
                for i in 0..BATCH {
                    // A stride co-prime with the size visits every page in a scrambled order.
                    let page = (i * 7) % resident;
                    if let Some(hit) = tlb.lookup(0, black_box(page << PAGE_SHIFT)) {
                        sum = sum.wrapping_add(*hit.payload());
                    }
                }
                sum
            });
        });
    }
    group.finish();
}

/// Runs of 8 lookups in one page (as a trace's consecutive accesses mostly are), through a hint.
fn hinted_hit_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("tlb-hit-hinted");
    group.throughput(Throughput::Elements(BATCH));
    for (name, config) in shapes() {
        let mut tlb = new_tlb(&config);
        let resident = u64::try_from(config.entries).unwrap_or(u64::MAX);
        for page in 0..resident {
            tlb.insert(entry(page));
        }
        let mut hint = HitHint::default();
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let mut sum = 0u64;
                for i in 0..BATCH {
                    let page = (i / 8 * 7) % resident;
                    let va = (page << PAGE_SHIFT) | ((i % 8) * 64);
                    if let Some(hit) = tlb.lookup_hinted(0, black_box(va), &mut hint) {
                        sum = sum.wrapping_add(*hit.payload());
                    }
                }
                sum
            });
        });
    }
    group.finish();
}

fn miss_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("tlb-miss-fill");
    group.throughput(Throughput::Elements(BATCH));
    for (name, config) in shapes() {
        let mut tlb = new_tlb(&config);
        let mut next_page = 0u64;
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                // Never-seen pages: every lookup misses, and every fill evicts once warm.
                for _ in 0..BATCH {
                    next_page = next_page.wrapping_add(1);
                    if tlb.lookup(0, black_box(next_page << PAGE_SHIFT)).is_none() {
                        black_box(tlb.insert(entry(next_page)));
                    }
                }
            });
        });
    }
    group.finish();
}

fn lackey_parse(c: &mut Criterion) {
    let mut text = String::new();
    let records: u64 = 100_000;
    for i in 0..records {
        let line = match i % 3 {
            0 => format!("I  {:08x},{}\n", 0x0401_0000 + i * 3, 1 + i % 7),
            1 => format!(" L {:010x},8\n", 0x1f_ff00_0000 + i * 8),
            _ => format!(" S {:010x},4\n", 0x1f_ff00_8000 + i * 4),
        };
        text.push_str(&line);
    }
    let mut group = c.benchmark_group("lackey-parse");
    group.throughput(Throughput::Elements(records));
    group.bench_function("records", |b| {
        b.iter(|| TraceReader::new(text.as_bytes()).filter(Result::is_ok).count());
    });
    group.finish();
}

criterion_group!(benches, hit_path, hinted_hit_path, miss_path, lackey_parse);
criterion_main!(benches);

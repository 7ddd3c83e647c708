//! Replays the valgrind lackey trace of `sort` through the TLB alone and checks the exact hit and
//! miss counts that an independent cache simulator reported (fixtures/traces/README.md).
//!
//! Convention from that README: every distinct 4 KiB page a record touches is one lookup, in
//! address order, and `M` counts once; a miss inserts the page; one address space, no flushes.

use std::fs::File;
use std::io::BufReader;

use pagelab::sim::tlb::{AccessClass, TlbConfig, TlbPolicy, Tlbs};
use pagelab::sim::tlb_driver::Fill;
use pagelab::sim::trace::{TraceFormat, TraceReader, pages_touched};
use std::convert::Infallible;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/traces/lackey_sort.trace.gz");

const PAGE_SHIFT: u32 = 12;
const RECORDS: u64 = 1_477_006;
const LOOKUPS: u64 = 1_477_436;

/// (entries, ways, policy, hits, misses), copied from the README table.
const REFERENCE: [(usize, usize, TlbPolicy, u64, u64); 5] = [
    (16, 16, TlbPolicy::Lru, 1_420_480, 56_956),
    (64, 64, TlbPolicy::Lru, 1_476_726, 710),
    (64, 4, TlbPolicy::Lru, 1_475_415, 2_021),
    (32, 32, TlbPolicy::Fifo, 1_472_424, 5_012),
    (1536, 12, TlbPolicy::Lru, 1_477_186, 250),
];

fn reader() -> TraceReader<pagelab::sim::trace::TraceInput<BufReader<File>>> {
    let file = File::open(FIXTURE).unwrap_or_else(|error| panic!("open {FIXTURE}: {error}"));
    TraceReader::auto(BufReader::new(file)).unwrap_or_else(|error| panic!("{error}"))
}

/// One lookup through the TLB driver; a miss walks to a 4 KiB page and fills it.
fn lookup_or_fill(tlb: &mut Tlbs<()>, page: u64) {
    let walk = |_: &mut Tlbs<()>| {
        Ok::<_, Infallible>(Some(Fill { page_shift: PAGE_SHIFT, global: false, payload: () }))
    };
    let Ok(_driven) = tlb.lookup_or_walk(AccessClass::Data, page << PAGE_SHIFT, walk);
}

#[test]
fn lackey_sort_matches_reference_counts() {
    let mut tlbs: Vec<Tlbs<()>> = REFERENCE
        .iter()
        .map(|&(entries, ways, policy, _, _)| {
            let config = TlbConfig { entries, ways, policy, seed: 0, asid_tagging: true };
            Tlbs::new(config, None).unwrap_or_else(|error| panic!("{error}"))
        })
        .collect();

    let mut records = 0u64;
    let mut reader = reader();
    for record in reader.by_ref() {
        let record = record.unwrap_or_else(|error| panic!("{error}"));
        records += 1;
        for page in pages_touched(record.addr, record.size, PAGE_SHIFT) {
            for tlb in &mut tlbs {
                lookup_or_fill(tlb, page);
            }
        }
    }
    assert_eq!(reader.format(), Some(TraceFormat::Lackey));
    assert_eq!(records, RECORDS);

    for (tlb, &(entries, ways, policy, hits, misses)) in tlbs.iter().zip(&REFERENCE) {
        let stats = tlb.stats();
        let label = format!("{entries} entries, {ways} ways, {policy:?}");
        assert_eq!(stats.lookups, LOOKUPS, "{label}");
        assert_eq!((stats.hits, stats.misses), (hits, misses), "{label}");
        // Every miss inserts; all but the first `entries` inserts must evict (sets fill evenly
        // only for fully associative TLBs, so bound it rather than equate it).
        assert_eq!(stats.inserts, misses, "{label}");
        assert!(stats.evictions <= misses, "{label}");
        assert!(tlb.len() <= entries, "{label}");
    }
}

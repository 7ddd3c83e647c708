//! Batch parsing of lackey traces (`TraceReader::peek_batch` / `consume_batch`, what replay's
//! run loop uses) must read every trace as the record-by-record iterator does: the same records
//! in the same order, and every bad line refused with the same line number and reason. And a
//! run that goes through batches must stop at the same line as one that does not.

use std::io::Read;

use pagelab::sim::replay::{ReplayConfig, ReplayError, Replayer};
use pagelab::sim::trace::{AccessKind, LackeyRecord, TraceReader, TraceRecord};
use pagelab::sim::{Machine, MapRequest, MapTarget, VirtAddr, presets};
use proptest::prelude::*;

/// What reading a trace gives, record by record: a record, or an error's line and message.
type Read1 = Result<TraceRecord, (u64, String)>;

/// Hands the text out in pieces of `piece` bytes, so lines straddle the reader's refills.
struct Pieces<'a> {
    text: &'a [u8],
    piece: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.piece.min(buf.len()).min(self.text.len());
        let (head, tail) = self.text.split_at(n);
        buf.get_mut(..n).unwrap_or_default().copy_from_slice(head);
        self.text = tail;
        Ok(n)
    }
}

fn by_iterator(text: &[u8], piece: usize) -> Vec<Read1> {
    TraceReader::new(Pieces { text, piece }).map(|r| r.map_err(|e| (e.line(), e.to_string()))).collect()
}

/// Reads through batches of at most `batch` records: of each, the first `take` are consumed,
/// then one record through the iterator, and again.
fn by_batches(text: &[u8], piece: usize, batch: usize, take: usize) -> Vec<Read1> {
    let mut reader = TraceReader::new(Pieces { text, piece });
    let mut buffer = vec![LackeyRecord::default(); batch];
    let mut out = Vec::new();
    loop {
        let records = reader.peek_batch(&mut buffer);
        let taken = records.get(..take.min(records.len())).unwrap_or_default();
        out.extend(taken.iter().map(|r| Ok(r.record())));
        reader.consume_batch(taken);
        match reader.next() {
            Some(record) => out.push(record.map_err(|e| (e.line(), e.to_string()))),
            None => return out,
        }
    }
}

/// Reads as replay's run loop does: a batch is consumed whole, in pieces of `take` records,
/// and the iterator reads on only once a batch comes back empty.
fn by_whole_batches(text: &[u8], piece: usize, batch: usize, take: usize) -> Vec<Read1> {
    let mut reader = TraceReader::new(Pieces { text, piece });
    let mut buffer = vec![LackeyRecord::default(); batch];
    let mut out = Vec::new();
    loop {
        let records = reader.peek_batch(&mut buffer).to_vec();
        if records.is_empty() {
            match reader.next() {
                Some(record) => out.push(record.map_err(|e| (e.line(), e.to_string()))),
                None => return out,
            }
            continue;
        }
        for piece in records.chunks(take.max(1)) {
            out.extend(piece.iter().map(|r| Ok(r.record())));
            reader.consume_batch(piece);
        }
    }
}

/// Lines of every kind: the shape lackey writes (most), banners, blanks, CRLF, odd spacing,
/// and malformed ones (bad kinds, addresses, sizes, sizes too large).
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (prop::sample::select(vec!["I  ", " L ", " S ", " M "]), any::<u64>(), 0u32..70)
            .prop_map(|(kind, addr, size)| format!("{kind}{addr:x},{size}")),
        1 => (any::<u32>(), 1u32..9).prop_map(|(addr, size)| format!("I  {addr:08X},{size}\r")),
        1 => Just("==123== Lackey banner".to_string()),
        1 => Just(String::new()),
        1 => (any::<u16>(),).prop_map(|(addr,)| format!("  L   {addr:x} ,4")),
        1 => prop::sample::select(vec![
            " Q 1000,4", " L xyz,4", " L 1000", " L 1000,", " L 1000,99999", " L 1000,4x",
            " L 11112222333344445,4", "I", "I  0401ab70,3,5",
        ]).prop_map(str::to_string),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn batches_read_every_trace_as_the_iterator_does(
        lines in prop::collection::vec(line(), 0..400),
        final_newline in any::<bool>(),
        piece in prop::sample::select(vec![7usize, 64, 1000, 1 << 20]),
        batch in 1usize..300,
        take in 0usize..300,
    ) {
        let mut text = lines.join("\n");
        if final_newline {
            text.push('\n');
        }
        let expected = by_iterator(text.as_bytes(), piece);
        prop_assert_eq!(&by_batches(text.as_bytes(), piece, batch, take), &expected);
        prop_assert_eq!(&by_whole_batches(text.as_bytes(), piece, batch, take), &expected);
    }
}

/// A banner, then 600 loads in one mapped page (more than two batches of hits), then a store to
/// an unmapped page of the process the exercise locks: the run stops there, naming that line
/// (line 1 is the banner, so the store is line 602), with the 600 loads replayed.
#[test]
fn a_batched_run_stops_at_the_line_of_a_refused_record() {
    let mut machine = Machine::new(presets::by_name("x86-64").expect("preset"), 1 << 24).expect("machine");
    let request = MapRequest {
        va: VirtAddr::new(0x40_0000),
        len: 0x1000,
        target: MapTarget::Alloc,
        page_size: None,
        flags: None,
    };
    machine.map(0, &request).expect("map");
    let mut text = String::from("==1== Lackey\n");
    for i in 0..600 {
        text.push_str(&format!(" L {:x},8\n", 0x40_0000 + (i % 512) * 8));
    }
    text.push_str(" S 800000,8\n L 400000,8\n");
    let mut replayer =
        Replayer::new(ReplayConfig { demand_map: true, ..ReplayConfig::default() }).expect("tlb");
    replayer.set_locked(["init".to_string()]);
    let mut trace = TraceReader::new(text.as_bytes());
    match replayer.run(&mut machine, &mut trace) {
        Err(ReplayError::Locked { line, process, va }) => {
            assert_eq!((line, process.as_str(), va.get()), (602, "init", 0x80_0000));
        }
        other => panic!("expected the locked process to stop the run, got {other:?}"),
    }
    let stats = replayer.stats(&machine);
    // 600 loads: the first misses and walks, 599 hit; the store is a lookup that missed too.
    assert_eq!(stats.total.counters.lookups, 601);
    assert_eq!(stats.total.counters.hits, 599);
    assert_eq!(stats.total.counters.misses, 2);
    // The record after the refused one is still there to read.
    let rest: Vec<TraceRecord> = trace.map(|r| r.expect("valid line")).collect();
    assert_eq!(rest, vec![TraceRecord { kind: AccessKind::Load, addr: 0x40_0000, size: 8, process: None }]);
}

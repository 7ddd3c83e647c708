//! Inflating the sort trace (tests/data/traces/lackey_sort.trace.gz, 820 KB of gzip, 21 MB of
//! text): the gzip stream through flate2 as the reader does it (zlib-rs backend, CRC included),
//! the raw deflate stream through zlib-rs and through miniz_oxide (flate2's default backend,
//! which pagelab used before), and the whole trace read into records with inflating in line
//! and on a second thread. Throughput is in bytes of inflated text.
//! Run: `cargo bench --no-default-features --bench inflate`.

use std::hint::black_box;
use std::io::Read;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use miniz_oxide::inflate::stream::{InflateState, inflate};
use miniz_oxide::{DataFormat, MZFlush, MZStatus};
use pagelab::sim::trace::TraceReader;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/traces/lackey_sort.trace.gz");
const CHUNK: usize = 1 << 16;

/// The raw deflate stream of a one-member gzip file (RFC 1952 header and trailer skipped).
fn deflate_stream(gzip: &[u8]) -> &[u8] {
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    const FHCRC: u8 = 2;
    let flags = gzip[3];
    let mut at = 10;
    if flags & FEXTRA != 0 {
        at += 2 + usize::from(u16::from_le_bytes([gzip[at], gzip[at + 1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            at += gzip[at..].iter().position(|&b| b == 0).expect("terminated") + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    &gzip[at..gzip.len() - 8]
}

fn with_flate2(gzip: &[u8], out: &mut [u8]) -> usize {
    let mut decoder = flate2::bufread::MultiGzDecoder::new(gzip);
    let mut total = 0;
    loop {
        match decoder.read(out).expect("valid gzip") {
            0 => return total,
            n => total += n,
        }
    }
}

/// Raw inflate (no gzip header, no CRC), as `with_miniz_oxide` does: the two engines alike.
fn with_zlib_rs_raw(deflate: &[u8], out: &mut [u8]) -> usize {
    let mut state = flate2::Decompress::new(false);
    let mut input = deflate;
    loop {
        let before = state.total_in();
        let status = state.decompress(input, out, flate2::FlushDecompress::None).expect("valid deflate");
        let consumed = usize::try_from(state.total_in() - before).unwrap_or(0);
        input = &input[consumed..];
        if status == flate2::Status::StreamEnd {
            return usize::try_from(state.total_out()).unwrap_or(0);
        }
    }
}

fn with_miniz_oxide(deflate: &[u8], out: &mut [u8]) -> usize {
    let mut state = InflateState::new_boxed(DataFormat::Raw);
    let mut input = deflate;
    let mut total = 0;
    loop {
        let result = inflate(&mut state, input, out, MZFlush::None);
        input = &input[result.bytes_consumed..];
        total += result.bytes_written;
        match result.status {
            Ok(MZStatus::StreamEnd) => return total,
            Ok(_) => {}
            Err(error) => panic!("inflate: {error:?}"),
        }
    }
}

fn inflate_backends(c: &mut Criterion) {
    let gzip = std::fs::read(FIXTURE).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"));
    let mut out = vec![0u8; CHUNK];
    let text_bytes = with_flate2(&gzip, &mut out);
    assert_eq!(with_miniz_oxide(deflate_stream(&gzip), &mut out), text_bytes, "both inflate it all");
    let mut group = c.benchmark_group("inflate");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(u64::try_from(text_bytes).unwrap_or(0)));
    // What the reader does: gzip through flate2 (zlib-rs), CRC-32 of the output included.
    group.bench_function("gzip-flate2-zlib-rs", |b| b.iter(|| with_flate2(black_box(&gzip), &mut out)));
    // The inflate engines alone, on the raw deflate stream.
    let deflate = deflate_stream(&gzip);
    assert_eq!(with_zlib_rs_raw(deflate, &mut out), text_bytes);
    group.bench_function("raw-zlib-rs", |b| b.iter(|| with_zlib_rs_raw(black_box(deflate), &mut out)));
    group.bench_function("raw-miniz_oxide", |b| b.iter(|| with_miniz_oxide(black_box(deflate), &mut out)));
    // The whole trace to records: inflating in line, and on a second thread.
    group.bench_function("records-inline", |b| {
        b.iter(|| {
            let reader = TraceReader::auto(gzip.as_slice()).unwrap_or_else(|e| panic!("{e}"));
            reader.map(|r| r.map_or(0, |r| r.addr)).fold(0, u64::wrapping_add)
        });
    });
    group.bench_function("records-pipelined", |b| {
        b.iter(|| {
            let input = std::io::Cursor::new(gzip.clone());
            let reader = TraceReader::auto_pipelined(input).unwrap_or_else(|e| panic!("{e}"));
            reader.map(|r| r.map_or(0, |r| r.addr)).fold(0, u64::wrapping_add)
        });
    });
    group.finish();
}

criterion_group!(benches, inflate_backends);
criterion_main!(benches);

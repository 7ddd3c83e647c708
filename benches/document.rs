//! The write path at scale (issue: one write path): an entry edit on a lab of 1M mapped pages,
//! the undo history that 100 such edits keep, mapping 64 GiB as 32,768 pages of 2 MiB, and
//! opening a lab of 64 pages of 1 GiB. Run: `cargo bench --bench document`.

use pagelab::sim::EntryAddr;
use pagelab::sim::VirtAddr;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use pagelab::doc::{Document, Edit};
use pagelab::lab::Lab;
use pagelab::sim::{Access, Machine, MapRequest, MapTarget, Mode, presets};

const GIB: u64 = 1 << 30;

fn request(va: u64, len: u64, page_size: Option<u64>) -> MapRequest {
    MapRequest { va: VirtAddr::new(va), len, target: MapTarget::Alloc, page_size, flags: None }
}

fn machine(memory: u64) -> Machine {
    Machine::new(presets::by_name("x86-64").unwrap_or_else(|| panic!("preset")), memory)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// 1M pages of 4 KiB (4 GiB) in one process.
fn million_page_document() -> (Document, u64) {
    let mut m = machine(8 * GIB);
    m.map(0, &request(0x1_0000_0000, 4 * GIB, None)).unwrap_or_else(|e| panic!("{e}"));
    let leaf = m
        .translate(0, VirtAddr::new(0x1_2345_6000), Access::Read, Mode::User)
        .unwrap_or_else(|e| panic!("{e}"))
        .steps
        .last()
        .map_or(0, |s| s.entry_addr.get());
    (Document::new(Lab::new("1M pages", "", m), None), leaf)
}

fn edit_on_a_big_lab(c: &mut Criterion) {
    let (mut doc, leaf) = million_page_document();
    let mut value = 0;
    c.bench_function("doc/edit-entry-1M-pages", |b| {
        b.iter(|| {
            value ^= 1;
            let edit =
                Edit::SetField { entry_addr: EntryAddr::new(leaf), level: 3, field: "R/W".into(), value };
            black_box(doc.apply(&edit).unwrap_or_else(|e| panic!("{e}")));
        });
    });
    // Map and unmap one page (unmap looks for other mappings of the page's frame before it
    // frees it, across every process).
    c.bench_function("doc/map-unmap-page-1M-pages", |b| {
        b.iter(|| {
            let map = Edit::Map { process: 0, request: request(0x7000_0000, 0x1000, None) };
            black_box(doc.apply(&map).unwrap_or_else(|e| panic!("{e}")));
            let unmap = Edit::Unmap { process: 0, va: VirtAddr::new(0x7000_0000), len: 0x1000 };
            black_box(doc.apply(&unmap).unwrap_or_else(|e| panic!("{e}")));
        });
    });
    // The memory 100 undo steps keep (a measurement printed beside the timings).
    let (mut doc, leaf) = million_page_document();
    for i in 0..100u64 {
        let edit =
            Edit::SetField { entry_addr: EntryAddr::new(leaf), level: 3, field: "R/W".into(), value: i % 2 };
        doc.apply(&edit).unwrap_or_else(|e| panic!("{e}"));
    }
    println!("doc/undo-100-edits-1M-pages: {} bytes of history", doc.history_bytes());
}

fn map_64_gib_of_2_mib_pages(c: &mut Criterion) {
    let mut group = c.benchmark_group("doc");
    group.sample_size(10);
    group.bench_function("map-32768x2MiB", |b| {
        b.iter_batched(
            || machine(128 * GIB),
            |mut m| {
                let pages = m.map(0, &request(0x40_0000_0000, 64 * GIB, Some(2 << 20)));
                black_box(pages.unwrap_or_else(|e| panic!("{e}")))
            },
            BatchSize::LargeInput,
        );
    });
    let mut m = machine(128 * GIB);
    m.map(0, &request(0x40_0000_0000, 64 * GIB, Some(GIB))).unwrap_or_else(|e| panic!("{e}"));
    let json = Lab::new("64 x 1 GiB", "", m).to_json();
    println!("doc/lab-64x1GiB: {} bytes of JSON", json.len());
    group.bench_function("open-64x1GiB", |b| {
        b.iter(|| black_box(Lab::from_json(&json).unwrap_or_else(|e| panic!("{e}"))));
    });
    group.finish();
}

criterion_group!(benches, edit_on_a_big_lab, map_64_gib_of_2_mib_pages);
criterion_main!(benches);

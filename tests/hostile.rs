//! Hostile input classes: each is bounded in time and memory, or refused up front with what and
//! where. A custom format with 4 GiB pages (it used to abort on load, in the fault handler, or
//! take 8 GiB and a minute for one map); one trace record spanning gigabytes under demand
//! mapping (it ran for more than 15 minutes); `size --compare` on a lab whose tables alias
//! themselves (minutes and gigabytes).

use pagelab::lab::{Lab, procmaps};
use pagelab::sim::os::{Os, OsError, OsModel, OsSettings};
use pagelab::sim::replay::{ReplayConfig, Replayer};
use pagelab::sim::trace::{LineProblem, TraceError, TraceReader};
use pagelab::sim::{Access, Machine, MapRequest, MapTarget, Mode, presets};
use pagelab::sim::{EntryAddr, VirtAddr};

mod common;

const PAGE: u64 = 1 << 32;

/// A custom Sv39-like format with 4 GiB pages (two levels of 9 index bits above a 32-bit
/// offset) and 16 such frames of memory, with bytes written into three of them.
fn four_gib_page_lab() -> Lab {
    let stored = serde_json::json!([
        {"frame": 3, "bytes": [[0, "ff"], [0xffff_fff0_u64, "0102"]]},
        {"frame": 7, "bytes": [[0x8000_0000_u64, "aa"]]},
        {"frame": 9, "bytes": [[0x1234, "bb"]]},
    ]);
    let value = common::huge_page_lab_json(32, 24, 16, 1, stored);
    Lab::from_json(&value.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn four_gib_pages_load_map_and_replay_in_bounded_memory() {
    let mut lab = four_gib_page_lab();
    let m = &mut lab.machine;
    assert!(m.mem().stored_bytes() <= 4 * 4096, "{} bytes materialised", m.mem().stored_bytes());
    // Map two 4 GiB pages: the allocator hands out whole frames without touching their bytes.
    let request = MapRequest {
        va: VirtAddr::new(0),
        len: 2 * PAGE,
        target: MapTarget::Alloc,
        page_size: None,
        flags: None,
    };
    assert_eq!(m.map(0, &request), Ok(2));
    assert!(m.mem().stored_bytes() <= 8 * 4096, "{} bytes materialised", m.mem().stored_bytes());
    let t = m.translate(0, VirtAddr::new(PAGE + 0x1234), Access::Read, Mode::User).expect("walk");
    let pa = t.pa().unwrap_or_else(|| panic!("{:?}", t.outcome));
    assert_eq!(pa.get() & (PAGE - 1), 0x1234);
    // Replay with demand mapping: each new page maps a whole 4 GiB frame, cheaply.
    let mut replayer =
        Replayer::new(ReplayConfig { demand_map: true, ..ReplayConfig::default() }).expect("replayer");
    let trace = "0x300000000 r\n0x500001000 w\n0x500002000 r\n";
    let done = replayer.run(m, &mut TraceReader::auto(trace.as_bytes()).expect("trace")).expect("replay");
    assert_eq!(done, 3);
    assert_eq!(replayer.stats(m).total.counters.demand_maps, 2);
    assert!(m.mem().stored_bytes() <= 16 * 4096, "{} bytes materialised", m.mem().stored_bytes());
    // The OS model holds whole pages in swap: it refuses such pages with the reason.
    let settings = OsSettings { model: OsModel::Demand, frames: 2, ..OsSettings::default() };
    match Os::new(settings, m.format()) {
        Err(OsError::PageTooLarge { size, .. }) => assert_eq!(size, PAGE),
        other => panic!("expected PageTooLarge, got {other:?}"),
    }
    let back = Lab::from_json(&lab.to_json()).expect("what is saved loads");
    assert_eq!(back, lab);
}

#[test]
fn a_record_spanning_gigabytes_is_refused_with_its_line() {
    let trace = " L 1000,8\n S 2000,4294967295\n";
    let mut reader = TraceReader::auto(trace.as_bytes()).expect("trace");
    assert!(reader.next().expect("a record").is_ok());
    match reader.next() {
        Some(Err(TraceError::Parse { line, problem: LineProblem::SizeTooLarge(size) })) => {
            assert_eq!((line, size), (2, u32::MAX));
        }
        other => panic!("expected a refusal of line 2, got {other:?}"),
    }
}

/// A root whose upper half points back at the root itself as a PDPT of 1 GiB pages: read back,
/// the process maps 256 GiB. Comparing formats refuses the 4 KiB rows (tens of millions of
/// pages) and builds the 2 MiB rows, instead of running for minutes.
#[test]
fn comparing_a_self_aliasing_lab_is_bounded() {
    let mut m = Machine::new(presets::by_name("x86-64").expect("preset"), 1 << 30).expect("machine");
    let root = m.processes()[0].root.get();
    // PS (bit 7) makes each entry a 1 GiB leaf when read as a PDPT entry; at the PML4 it is a
    // pointer to the root itself.
    for index in 256..512u64 {
        m.set_entry(EntryAddr::new((root << 12) + index * 8), (root << 12) | 0x83).expect("write");
    }
    let regions = procmaps::regions_of(&m, 0).expect("regions");
    let total: u64 = regions.iter().map(|r| r.end - r.start).sum();
    assert!(total >= 1 << 38, "the alias reads back as at least 256 GiB: {total:#x}");
    let rows = procmaps::compare(&regions, "aliasing lab");
    for row in &rows {
        match &row.outcome {
            Err(procmaps::ProcMapsError::TooManyPages { pages, .. }) => {
                assert_eq!(row.max_page, 4096, "{}: only the 4 KiB rows are too large", row.format);
                assert!(*pages > 1 << 22);
            }
            Ok(size) => assert!(row.max_page > 4096, "{}: {size:?}", row.format),
            // Sv39 cannot hold these upper-half addresses at all.
            Err(e) => assert!(row.format.starts_with("sv"), "{}: {e}", row.format),
        }
    }
}

//! Entry points shared by the fuzz targets (fuzz/, run with cargo-fuzz) and by the test that
//! replays their corpus on stable (tests/fuzz_corpus.rs). Each takes arbitrary bytes and drives
//! one path a hostile file or trace can reach; none may panic, abort or run unbounded.

use crate::doc::{Document, Edit};
use crate::lab::{Lab, procmaps};
use crate::sim::VirtAddr;
use crate::sim::machine::{MapRequest, MapTarget};
use crate::sim::replay::{ReplayConfig, Replayer};
use crate::sim::trace::TraceReader;
use crate::sim::{Access, Machine, Mode, presets};

/// Layouts up to this size are rebuilt across formats (the comparison is refused beyond
/// millions of pages anyway; this keeps each fuzz case fast).
const COMPARE_BYTES: u64 = 64 << 20;

/// A lab file: load it; if it loads, save and reload it (it must come back equal), translate a
/// few addresses, map a page through the document, and compare its layout across formats.
pub fn lab_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(lab) = Lab::from_json(text) else { return };
    let again = Lab::from_json(&lab.to_json());
    assert!(again.as_ref() == Ok(&lab), "a loaded lab saves and loads back equal");
    let m = &lab.machine;
    for p in 0..m.processes().len() {
        for va in [0, 0x1000, 0x7fff_ffff_f000, 0xffff_8000_0000_0000, u64::MAX] {
            for mode in [Mode::User, Mode::Supervisor] {
                let _ = m.translate(p, VirtAddr::new(va), Access::Write, mode);
            }
        }
    }
    if let Ok(regions) = procmaps::regions_of(m, m.active()) {
        let bytes: u64 = regions.iter().map(|r| r.end.saturating_sub(r.start)).fold(0, u64::saturating_add);
        if bytes <= COMPARE_BYTES {
            let _ = procmaps::compare(&regions, "fuzz");
        }
    }
    let page = m.format().page_size();
    let mut doc = Document::new(lab, None);
    let request = MapRequest {
        va: VirtAddr::new(0x4000_0000),
        len: page,
        target: MapTarget::Alloc,
        page_size: None,
        flags: None,
    };
    if doc.apply(&Edit::Map { process: 0, request }).is_ok() {
        let saved = doc.lab().to_json();
        assert!(Lab::from_json(&saved).is_ok(), "what the write path produces loads");
        doc.undo();
    }
}

/// A trace: the first byte picks a format, the rest is replayed with demand mapping on a fresh
/// lab of 64 MiB.
pub fn trace_replay(data: &[u8]) {
    let Some((&pick, trace)) = data.split_first() else { return };
    let name = presets::NAMES[usize::from(pick) % presets::NAMES.len()];
    let Some(format) = presets::by_name(name) else { return };
    let memory = presets::default_memory(&format).min(64 << 20).max(format.page_size());
    let Ok(mut machine) = Machine::new(format, memory) else { return };
    let Ok(mut replayer) = Replayer::new(ReplayConfig { demand_map: true, ..ReplayConfig::default() }) else {
        return;
    };
    let Ok(mut reader) = TraceReader::auto(trace) else { return };
    let _ = replayer.run_some(&mut machine, &mut reader, 10_000);
    let _ = replayer.stats(&machine);
}

//! The walk that replay uses on a miss (`mmu::translate_fast`: fixed arrays, no display
//! details) must be `translate()` step for step: the same entries read, outcome, and A/D writes.
//! Checked on every access of the sort trace (1.48M records) while a replay with demand mapping
//! grows the tables, for x86-64, for Sv39 with Svade (A/D faults) and with Svadu (A/D writes).

use pagelab::sim::VirtAddr;
use std::fs::File;
use std::io::BufReader;

use pagelab::sim::mmu::{self, MmuSettings, Outcome, Request, RiscvAd};
use pagelab::sim::replay::{ReplayConfig, Replayer, access_of};
use pagelab::sim::trace::{TraceReader, pages_touched};
use pagelab::sim::{Machine, Mode, presets};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/traces/lackey_sort.trace.gz");

/// Replays the first `limit` records of the sort trace on `machine`; before each record, every
/// page it touches is walked both ways and the results compared. Returns the walks compared.
fn compare_on_the_sort_trace(mut machine: Machine, limit: usize) -> u64 {
    let file = File::open(FIXTURE).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"));
    let reader = TraceReader::auto(BufReader::new(file)).unwrap_or_else(|e| panic!("{e}"));
    let mut replayer = Replayer::new(ReplayConfig { demand_map: true, ..ReplayConfig::default() })
        .unwrap_or_else(|e| panic!("{e}"));
    let shift = machine.format().page_shift;
    let mut compared = 0;
    // One reused result, as replay does: a walk must not depend on what the last one left.
    let mut fast = mmu::FastTranslation::default();
    for record in reader.take(limit) {
        let record = record.unwrap_or_else(|e| panic!("{e}"));
        let root = machine.active_process().root;
        for page in pages_touched(record.addr, record.size, shift) {
            let va = (page << shift).max(record.addr);
            let request = Request { va: VirtAddr::new(va), access: access_of(record.kind), mode: Mode::User };
            let (mem, format, settings) = (machine.mem(), machine.format(), machine.settings());
            let full = mmu::translate(mem, format, root, settings, request);
            assert!(
                mmu::translate_fast(mem, format, root, settings, request, &mut fast),
                "few enough levels"
            );
            assert_eq!(fast.steps(), full.steps.as_slice(), "steps at {va:#x}");
            match (&full.outcome, &fast.outcome) {
                (Outcome::Mapped(full), Ok(fast)) => {
                    assert_eq!(fast.value, None, "the fast walk reads no data byte");
                    assert_eq!(*fast, mmu::Mapped { value: None, ..*full }, "page at {va:#x}");
                }
                (Outcome::Fault(full), Err(kind)) => assert_eq!(*kind, full.kind, "fault at {va:#x}"),
                (full, fast) => panic!("at {va:#x}: translate {full:?}, fast {fast:?}"),
            }
            assert_eq!(fast.ad_updates(), full.ad_updates.as_slice(), "A/D writes at {va:#x}");
            compared += 1;
        }
        replayer.step(&mut machine, &record).unwrap_or_else(|e| panic!("{e}"));
    }
    compared
}

fn machine(preset: &str, riscv_ad: RiscvAd) -> Machine {
    let format = presets::by_name(preset).unwrap_or_else(|| panic!("{preset}"));
    let mut machine = Machine::new(format, 64 << 20).unwrap_or_else(|e| panic!("{e}"));
    machine.set_settings(MmuSettings { riscv_ad, ..MmuSettings::default() });
    machine
}

#[test]
fn fast_walks_agree_with_translate_on_every_access_of_the_sort_trace() {
    let compared = compare_on_the_sort_trace(machine("x86-64", RiscvAd::Svade), usize::MAX);
    assert_eq!(compared, 1_477_436, "every lookup of the trace");
}

#[test]
fn fast_walks_agree_with_translate_on_sv39_with_svade_and_svadu() {
    for riscv_ad in [RiscvAd::Svade, RiscvAd::Svadu] {
        assert!(compare_on_the_sort_trace(machine("sv39", riscv_ad), 200_000) > 200_000);
    }
}

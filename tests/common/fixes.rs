//! Helpers for the explain tests: hand-built machines and the checks every explanation of a
//! fault must pass (each fix makes the access succeed; no fix is a superset of another; fixes
//! come fewest bits first). Included with `#[path = "common/fixes.rs"] mod fixes;`.
#![allow(dead_code)]

use pagelab::sim::explain::{self, Explanation};
use pagelab::sim::machine::{MapRequest, MapTarget};
use pagelab::sim::{Access, Machine, Mode, presets};
use pagelab::sim::{EntryAddr, VirtAddr};

pub const PAGE: u64 = 0x1000;

/// A fresh machine of a preset with 16 MiB of memory: the root table is frame 0 and every map
/// takes the lowest free frames, so table addresses can be worked out by hand.
pub fn machine(preset: &str) -> Machine {
    Machine::new(presets::by_name(preset).expect("preset"), 16 << 20).expect("machine")
}

/// Maps one page of `size` bytes at `va` to fresh frames with exactly these leaf flags.
pub fn map(m: &mut Machine, va: u64, size: u64, flags: &[&str]) {
    let request = MapRequest {
        va: VirtAddr::new(va),
        len: size,
        target: MapTarget::Alloc,
        page_size: Some(size),
        flags: Some(flags.iter().map(|f| f.to_string()).collect()),
    };
    m.map(0, &request).expect("map");
}

/// Sets a field of an entry (a hand edit, as the inspector makes).
pub fn set(m: &mut Machine, entry_addr: u64, level: usize, field: &str, value: u64) {
    m.set_field(EntryAddr::new(entry_addr), level, field, value).expect("set field");
}

/// Explains an access that must fault, and checks every fix the explanation offers.
pub fn explain_fault(m: &Machine, va: u64, access: Access, mode: Mode) -> Explanation {
    let e = explain::explain(m, 0, VirtAddr::new(va), access, mode).expect("explain");
    assert!(e.is_fault(), "expected a fault at {va:#x}: {:?}", e.translation.outcome);
    check_fixes(m, 0, &e);
    e
}

/// Every fix, applied to a copy, makes the access succeed; none is a superset of another; the
/// list is ordered by bits changed.
pub fn check_fixes(m: &Machine, process: usize, e: &Explanation) {
    let t = &e.translation;
    for (i, fix) in e.fixes.iter().enumerate() {
        let mut copy = m.clone();
        fix.apply(&mut copy).unwrap_or_else(|err| panic!("fix {i} ({}) does not apply: {err}", fix.label()));
        let after = copy.translate(process, t.va, t.access, t.mode).expect("walk");
        assert!(
            after.fault().is_none(),
            "fix {i} ({}) leaves the {:?} {:?} of {:#x} faulting: {:?}",
            fix.label(),
            t.mode,
            t.access,
            t.va,
            after.fault()
        );
        for (j, other) in e.fixes.iter().enumerate() {
            if i != j {
                assert!(
                    !other.changes.iter().all(|c| fix.changes.contains(c)),
                    "fix {i} ({}) is a superset of fix {j} ({})",
                    fix.label(),
                    other.label()
                );
            }
        }
    }
    assert!(e.fixes.windows(2).all(|w| w[0].bits <= w[1].bits), "fixes are not ordered by bits");
}

/// The fixes as their labels, for readable assertions.
pub fn labels(e: &Explanation) -> Vec<String> {
    e.fixes.iter().map(|f| f.label()).collect()
}

//! Walks for the spec-rule tests (x86 and RISC-V): translate in process 0 and expect a physical
//! address or a fault, with a message naming the access when the other happens.
#![allow(dead_code)] // each test file uses some of these

use pagelab::sim::VirtAddr;
use pagelab::sim::fault::PageFault;
use pagelab::sim::mmu::Outcome;
use pagelab::sim::{Access, Machine, Mode, Translation};

pub fn walk(m: &Machine, va: u64, access: Access, mode: Mode) -> Translation {
    m.translate(0, VirtAddr::new(va), access, mode).expect("process 0")
}

/// The physical address an access that must succeed reaches.
pub fn pa(m: &Machine, va: u64, access: Access, mode: Mode) -> u64 {
    let t = walk(m, va, access, mode);
    match &t.outcome {
        Outcome::Mapped(mapped) => mapped.pa.get(),
        Outcome::Fault(f) => panic!("{va:#x} {access:?} {mode:?}: unexpected fault {f}"),
    }
}

/// The fault an access that must fail reports.
pub fn must_fault(m: &Machine, va: u64, access: Access, mode: Mode) -> PageFault {
    let t = walk(m, va, access, mode);
    t.fault()
        .cloned()
        .unwrap_or_else(|| panic!("{va:#x} {access:?} {mode:?}: expected a fault, got {:?}", t.outcome))
}

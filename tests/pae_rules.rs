//! PAE entry bits above the physical address, checked against the Intel SDM Vol. 3A tables
//! quoted above each test. Found by the QEMU conformance suite (tests/conformance.rs): pagelab
//! treated PAE bits 62:52 as ignored, as they are in 4-level entries. Tables are written entry by
//! entry here, not through `map()`.

use pagelab::sim::fault::x86_error::{P, RSVD, U};
use pagelab::sim::{Access, ArchReport, FaultKind, Machine, Mode, presets};
use pagelab::sim::{PhysAddr, VirtAddr};

const PRESENT: u64 = 1 << 0;
const RW: u64 = 1 << 1;
const US: u64 = 1 << 2;
const ALL: u64 = PRESENT | RW | US;
const MIB: u64 = 1 << 20;

/// VA 0x4000_1abc: PDPTE 1 (bits 31:30), PDE 0 (bits 29:21), PTE 1 (bits 20:12), offset 0xabc.
const VA: u64 = 0x4000_1abc;
const PAGE: u64 = 0x30_0000;

/// Returns the machine and the addresses of the PDE and the PTE on VA's walk, all entries
/// valid (the page at PAGE, user, writable).
fn rig() -> (Machine, u64, u64) {
    let mut m = Machine::new(presets::by_name("x86-pae").expect("preset"), 64 * MIB).expect("machine");
    let root = m.processes()[0].root.get() << 12;
    let pd = m.alloc_frames(1, 1).expect("frame").get() << 12;
    let pt = m.alloc_frames(1, 1).expect("frame").get() << 12;
    // A PDPTE holds P and the address only (Table 4-8).
    m.write_phys_le(PhysAddr::new(root + 8), 8, pd | PRESENT).expect("pdpte");
    m.write_phys_le(PhysAddr::new(pd), 8, pt | ALL).expect("pde");
    m.write_phys_le(PhysAddr::new(pt + 8), 8, PAGE | ALL).expect("pte");
    // The PDPTEs are registers, loaded with CR3 (SDM 4.4.1).
    m.load_cr3();
    (m, pd, pt + 8)
}

fn fault(m: &Machine) -> (FaultKind, Option<usize>, u32) {
    let t = m.translate(0, VirtAddr::new(VA), Access::Read, Mode::User).expect("process 0");
    let f = t.fault().unwrap_or_else(|| panic!("expected a fault, got {:?}", t.outcome));
    let ArchReport::X86PageFault { error_code } = f.report else {
        panic!("expected #PF, got {:?}", f.report)
    };
    (f.kind, f.level, error_code)
}

#[test]
fn the_valid_walk_maps_the_page() {
    let (m, _, _) = rig();
    let t = m.translate(0, VirtAddr::new(VA), Access::Read, Mode::User).expect("process 0");
    assert_eq!(t.pa(), Some(PhysAddr::new(PAGE | 0xabc)));
}

/// Table 4-11, PAE PTE: "62:M Reserved (must be 0)"; SDM 4.7: a reserved bit set in a
/// present entry gives #PF with P=1 and RSVD=1.
#[test]
fn pte_bits_62_to_52_are_reserved() {
    for bit in [52, 57, 62] {
        let (mut m, _, pte) = rig();
        m.write_phys_le(PhysAddr::new(pte), 8, PAGE | ALL | (1 << bit)).expect("pte");
        assert_eq!(fault(&m), (FaultKind::ReservedBit, Some(2), P | U | RSVD), "PTE bit {bit}");
    }
}

/// Table 4-10, PAE PDE that references a page table: "62:M Reserved (must be 0)".
#[test]
fn pde_bits_62_to_52_are_reserved() {
    for bit in [52, 62] {
        let (mut m, pde, _) = rig();
        let raw = m.mem().read_le(PhysAddr::new(pde), 8).expect("pde");
        m.write_phys_le(PhysAddr::new(pde), 8, raw | (1 << bit)).expect("pde");
        assert_eq!(fault(&m), (FaultKind::ReservedBit, Some(1), P | U | RSVD), "PDE bit {bit}");
    }
}

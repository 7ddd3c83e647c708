//! Nested paging (src/sim/nested): the two-dimensional walk's reference count and order against
//! the SDM's description (Vol. 3C 29.3.2: every guest paging-structure address and the final
//! guest-physical address are translated through EPT) and Bhargava et al. (ASPLOS 2008: 24
//! references for 4-level on 4-level); faults in each dimension; the RISC-V G-stage rules of the
//! privileged spec (x4 root of 16 KiB, two extra index bits, U=1 on G-stage leaves, guest-page
//! faults 20/21/23 with the guest-physical address).

use pagelab::sim::nested::{Dimension, HostFaultKind, HostKind, NestedFault, NestedMachine, max_refs};
use pagelab::sim::presets;
use pagelab::sim::{Access, FaultKind, Mode, PhysAddr, VirtAddr};

fn va(raw: u64) -> VirtAddr {
    VirtAddr::new(raw)
}

fn pa(raw: u64) -> PhysAddr {
    PhysAddr::new(raw)
}

const VA: u64 = 0x0000_7f12_3456_7abc;

fn x86(levels: usize, host: HostKind) -> NestedMachine {
    NestedMachine::new(presets::x86_64(levels), host, 64 << 20).expect("machine")
}

#[test]
fn four_level_on_four_level_takes_24_references_in_the_sdm_order() {
    let mut m = x86(4, HostKind::Ept4);
    let gpa = m.map_guest(va(VA), &["R/W", "U/S"]).expect("maps");
    let t = m.translate(va(VA), Access::Read, Mode::User);
    let (got_gpa, hpa) = t.outcome.clone().expect("translates");
    assert_eq!(got_gpa.get(), gpa.get() | (VA & 0xfff));
    assert_eq!(hpa.get() & 0xfff, VA & 0xfff);
    assert_eq!(t.refs.len(), 24);
    assert_eq!(max_refs(4, 4), 24);
    // Order: for each guest level, 4 EPT references translating the guest entry's address, then
    // the guest entry; finally 4 EPT references for the data's guest-physical address.
    let mut expected = Vec::new();
    for guest_level in 0..4 {
        expected.extend((0..4).map(|l| (Dimension::Host, l, Some(guest_level))));
        expected.push((Dimension::Guest, guest_level, Some(guest_level)));
    }
    expected.extend((0..4).map(|l| (Dimension::Host, l, None)));
    let got: Vec<_> = t.refs.iter().map(|r| (r.dimension, r.level, r.guest_level)).collect();
    assert_eq!(got, expected);
    let numbers: Vec<usize> = t.refs.iter().map(|r| r.number).collect();
    assert_eq!(numbers, (1..=24).collect::<Vec<_>>());
    // The guest root (CR3 = guest-physical 0) is the first address EPT translates.
    assert_eq!(t.refs[0].gpa.get(), m.guest_root_gpa() + (VA >> 39 & 0x1ff) * 8);
    // Each host walk ends with a leaf giving the guest entry's host-physical address, which the
    // guest reference then reads.
    for g in 0..4 {
        let host_leaf = &t.refs[g * 5 + 3];
        let guest = &t.refs[g * 5 + 4];
        assert!(host_leaf.leaf);
        assert_eq!(host_leaf.hpa, Some(guest.entry_addr.phys()));
        assert_eq!(host_leaf.gpa, guest.gpa);
    }
    assert_eq!(t.refs[23].hpa, Some(hpa));
    // The grid of Bhargava et al.'s figure: row g holds references 5g+1..5g+4 (EPT PML4..PT)
    // then 5g+5 (the guest entry); the final row 21..24.
    let grid = t.grid(4);
    assert_eq!(grid.len(), 5);
    for (g, row) in grid.iter().take(4).enumerate() {
        assert_eq!(row.guest_level, Some(g));
        assert_eq!(row.host, (1..=4).map(|h| Some(5 * g + h)).collect::<Vec<_>>());
        assert_eq!(row.guest, Some(5 * g + 5));
    }
    assert_eq!((grid[4].guest_level, grid[4].guest), (None, None));
    assert_eq!(grid[4].host, vec![Some(21), Some(22), Some(23), Some(24)]);
}

#[test]
fn five_level_on_five_level_takes_35_references() {
    let mut m = x86(5, HostKind::Ept5);
    m.map_guest(va(VA), &["R/W", "U/S"]).expect("maps");
    let t = m.translate(va(VA), Access::Write, Mode::User);
    assert!(t.outcome.is_ok(), "{:?}", t.outcome);
    assert_eq!(t.refs.len(), 35, "5 x (5 + 1) + 5");
    // Mixed shapes: 4-level guest on a 5-level EPT: 4 x 6 + 5 = 29.
    let mut mixed = x86(4, HostKind::Ept5);
    mixed.map_guest(va(VA), &["R/W", "U/S"]).expect("maps");
    assert_eq!(mixed.translate(va(VA), Access::Read, Mode::User).refs.len(), 29);
}

#[test]
fn a_guest_page_fault_is_the_guest_s_own_with_no_vm_exit() {
    let mut m = x86(4, HostKind::Ept4);
    m.map_guest(va(VA), &["U/S"]).expect("maps read-only");
    let t = m.translate(va(VA), Access::Write, Mode::User);
    match t.outcome {
        Err(NestedFault::Guest { kind: FaultKind::WriteProtection, level: 3, ref report, .. }) => {
            // #PF error code: P=1 (bit 0), W/R=1 (bit 1), U/S=1 (bit 2): 0x7.
            assert!(report.contains("guest #PF, error code 0x7"), "{report}");
        }
        ref other => panic!("expected a guest write-protection fault, got {other:?}"),
    }
    assert_eq!(t.refs.len(), 20, "the final address is never translated: 4 x 5");
    // Not present at the guest's PDPT: PML4 read (5), PDPT read (5), fault.
    let far = 0x0000_0100_0000_0000;
    let t = m.translate(va(far), Access::Read, Mode::User);
    assert!(matches!(t.outcome, Err(NestedFault::Guest { kind: FaultKind::NotPresent, level: 0, .. })));
    assert_eq!(t.refs.len(), 5);
    let grid = t.grid(4);
    assert_eq!(grid.len(), 1, "one row: the guest PML4 entry, read and not present");
    assert_eq!(grid[0].guest, Some(5));
}

#[test]
fn an_ept_violation_names_the_guest_physical_address_and_the_access() {
    let mut m = x86(4, HostKind::Ept4);
    // The guest maps its page at a guest-physical address its host never backed.
    let unbacked = 0x4000_0000;
    m.map_guest_to(va(VA), pa(unbacked), &["R/W", "U/S"]).expect("maps");
    let t = m.translate(va(VA), Access::Read, Mode::User);
    match &t.outcome {
        Err(NestedFault::Host {
            kind: HostFaultKind::EptViolation,
            gpa,
            guest_table_access: false,
            report,
            ..
        }) => {
            assert_eq!(gpa.get(), unbacked | (VA & 0xfff));
            assert!(report.contains("VM exit 48"), "{report}");
        }
        other => panic!("expected an EPT violation, got {other:?}"),
    }
    assert_eq!(t.outcome.as_ref().err().map(NestedFault::dimension), Some(Dimension::Host));
    // A write through an EPT page without W: a violation too, on the final translation.
    let mut ro = x86(4, HostKind::Ept4);
    let gpa = ro.map_guest(va(VA), &["R/W", "U/S"]).expect("maps");
    ro.map_host(
        gpa.get(),
        ro.translate(va(VA), Access::Read, Mode::User).outcome.expect("ok").1.get() & !0xfff,
        4096,
        (true, false, true),
    )
    .expect("remaps read-only");
    let t = ro.translate(va(VA), Access::Write, Mode::User);
    assert!(matches!(t.outcome, Err(NestedFault::Host { kind: HostFaultKind::EptViolation, .. })));
    assert!(ro.translate(va(VA), Access::Read, Mode::User).outcome.is_ok());
}

#[test]
fn an_ept_misconfiguration_is_write_without_read_or_a_reserved_memory_type() {
    for (bits, what) in [(0b010u64, "W without R"), ((2 << 3) | 0b111, "memory type 2")] {
        let mut m = x86(4, HostKind::Ept4);
        m.map_guest(va(VA), &["R/W", "U/S"]).expect("maps");
        // Break the EPT leaf that maps the guest root (reference 4 of the walk).
        let t = m.translate(va(VA), Access::Read, Mode::User);
        let leaf = &t.refs[3];
        let raw = (leaf.raw & !0x3f) | bits;
        m.write_entry(leaf.entry_addr.phys(), raw).expect("writes");
        let t = m.translate(va(VA), Access::Read, Mode::User);
        match &t.outcome {
            Err(NestedFault::Host { kind, level: 3, guest_table_access: true, report, .. }) => {
                assert_eq!(*kind, HostFaultKind::EptMisconfiguration, "{what}");
                assert!(report.contains("VM exit 49"), "{report}");
            }
            other => panic!("{what}: expected a misconfiguration, got {other:?}"),
        }
        assert_eq!(t.refs.len(), 4, "{what}: stops at the first EPT leaf");
    }
}

fn riscv(levels: usize, host: HostKind) -> NestedMachine {
    NestedMachine::new(presets::riscv(levels), host, 64 << 20).expect("machine")
}

#[test]
fn sv39x4_has_a_16_kib_root_and_two_more_index_bits() {
    // Privileged spec: "the root page table is 16 KiB and must be aligned to a 16 KiB boundary";
    // the guest-physical address is 41 bits, GPA[40:30] indexes the root (11 bits).
    assert_eq!(HostKind::Sv39x4.index_bits(), &[11, 9, 9]);
    assert_eq!(HostKind::Sv39x4.gpa_bits(), 41);
    assert_eq!(HostKind::Sv48x4.gpa_bits(), 50);
    assert_eq!(HostKind::Sv39x4.entries_at(0), 2048);
    let m = riscv(3, HostKind::Sv39x4);
    assert_eq!(m.host_root() % 4, 0, "16 KiB aligned: hgatp.PPN[1:0] = 0");
    assert_eq!(HostKind::Sv39x4.index_of(0x1_4000_0000, 0), 5, "GPA bits 40:30 of 0x1_4000_0000");
    assert_eq!(HostKind::Sv39x4.index_of(1 << 40, 0), 1024, "bit 40: an index Sv39 does not have");
    // Sv39 on Sv39x4: 3 x 4 + 3 = 15 references.
    let mut m = riscv(3, HostKind::Sv39x4);
    m.map_guest(va(0x4000_1000), &["R", "W", "U", "A", "D"]).expect("maps");
    assert_eq!(m.translate(va(0x4000_1234), Access::Read, Mode::User).refs.len(), 15);
    // The host can map guest-physical addresses above 39 bits, up to 41.
    m.map_host(1 << 40, 0x10_0000, 4096, (true, true, true)).expect("bit 40 fits");
    assert!(m.map_host(1 << 41, 0x10_0000, 4096, (true, true, true)).is_err(), "bit 41 does not");
}

#[test]
fn riscv_guest_page_faults_carry_the_cause_of_the_access_and_the_guest_physical_address() {
    // A G-stage leaf without U: every access through it is a guest-page fault.
    for (access, cause) in [(Access::Execute, 20), (Access::Read, 21), (Access::Write, 23)] {
        let mut m = riscv(4, HostKind::Sv48x4);
        let gpa = m.map_guest(va(0x4000_0000), &["R", "W", "X", "U", "A", "D"]).expect("maps");
        let hpa = m.translate(va(0x4000_0000), Access::Read, Mode::User).outcome.expect("ok").1;
        let leaf =
            m.translate(va(0x4000_0000), Access::Read, Mode::User).refs.last().cloned().expect("a ref");
        m.write_entry(leaf.entry_addr.phys(), leaf.raw & !(1 << 4)).expect("clears U");
        let t = m.translate(va(0x4000_0008), access, Mode::User);
        match &t.outcome {
            Err(NestedFault::Host { kind: HostFaultKind::GuestPageFault, gpa: g, report, .. }) => {
                assert_eq!(g.get(), gpa.get() | 8);
                let htval = (gpa.get() | 8) >> 2;
                assert!(report.contains(&format!("scause {cause}, htval {htval:#x}")), "{report}");
            }
            other => panic!("{access:?}: expected a guest-page fault, got {other:?}"),
        }
        assert_ne!(hpa.get(), 0);
    }
    // A guest-physical address beyond 41 bits (Sv39x4): a guest-page fault, no host reference.
    let mut m = riscv(3, HostKind::Sv39x4);
    m.map_guest_to(va(0x1000), pa(1 << 41), &["R", "W", "U", "A", "D"]).expect("maps");
    let t = m.translate(va(0x1000), Access::Read, Mode::User);
    assert!(matches!(t.outcome, Err(NestedFault::Host { kind: HostFaultKind::GuestPageFault, .. })));
    assert_eq!(t.refs.len(), 12, "3 guest levels of 4 references; the final address is refused");
    // The guest's own fault (an unmapped address): no guest-page fault, a page fault in the guest.
    let t = m.translate(va(0x20_0000_0000), Access::Read, Mode::User);
    match &t.outcome {
        Err(NestedFault::Guest { kind: FaultKind::NotPresent, report, .. }) => {
            assert!(report.contains("vscause 13"), "{report}");
        }
        other => panic!("expected the guest's own page fault, got {other:?}"),
    }
}

#[test]
fn guest_and_host_must_be_of_one_architecture() {
    assert!(NestedMachine::new(presets::riscv(3), HostKind::Ept4, 1 << 20).is_err());
    assert!(NestedMachine::new(presets::x86_64(4), HostKind::Sv39x4, 1 << 20).is_err());
    assert_eq!(HostKind::by_name("sv39x4"), Some(HostKind::Sv39x4));
    assert_eq!(HostKind::by_name("EPT"), Some(HostKind::Ept4));
}

/// Garbage in every entry the walks read first (host and guest tables alike): walks end, within
/// the bound of n x (m + 1) + m references, and never panic.
#[test]
fn corrupt_tables_in_either_dimension_never_hang_or_panic() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (guest, host) in [(4, HostKind::Ept4), (5, HostKind::Ept5)] {
        let mut m = x86(guest, host);
        m.map_guest(va(VA), &["R/W", "U/S"]).expect("maps");
        let walk = m.translate(va(VA), Access::Read, Mode::User);
        for r in walk.refs.clone() {
            m.write_entry(r.entry_addr.phys(), next()).expect("writes");
            for access in [Access::Read, Access::Write, Access::Execute] {
                let t = m.translate(va(next() & 0x00ff_ffff_ffff_ffff), access, Mode::Supervisor);
                assert!(t.refs.len() <= max_refs(guest, host.levels()));
                let t = m.translate(va(VA), access, Mode::User);
                assert!(t.refs.len() <= max_refs(guest, host.levels()));
            }
        }
    }
    for (guest, host) in [(3, HostKind::Sv39x4), (4, HostKind::Sv48x4)] {
        let mut m = riscv(guest, host);
        m.map_guest(va(0x4000_0000), &["R", "W", "U", "A", "D"]).expect("maps");
        for r in m.translate(va(0x4000_0000), Access::Read, Mode::User).refs {
            m.write_entry(r.entry_addr.phys(), next()).expect("writes");
            let t = m.translate(va(next()), Access::Write, Mode::User);
            assert!(t.refs.len() <= max_refs(guest, host.levels()));
        }
    }
}

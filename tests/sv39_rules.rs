//! Sv39 rules, each checked against the RISC-V privileged specification's sentence quoted above
//! the test ("Supervisor-Level ISA", Sv39 and "Virtual Address Translation Process"). Tables are
//! written entry by entry here (PTE bits from the spec's Sv39 PTE figure), not through `map()`.

#[path = "common/walks.rs"]
mod walks;
use pagelab::sim::{EntryAddr, PhysAddr, VirtAddr};
use walks::{must_fault, pa, walk};

use pagelab::sim::mmu::RiscvAd;
use pagelab::sim::{Access, ArchReport, FaultKind, Machine, Mode, presets};

// Sv39 PTE: V R W X U G A D in bits 0..=7, RSW 9:8, PPN 53:10, bits 63:54 reserved.
const V: u64 = 1 << 0;
const R: u64 = 1 << 1;
const W: u64 = 1 << 2;
const X: u64 = 1 << 3;
const U: u64 = 1 << 4;
const G: u64 = 1 << 5;
const A: u64 = 1 << 6;
const D: u64 = 1 << 7;
const AD: u64 = A | D;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn machine() -> Machine {
    Machine::new(presets::by_name("sv39").expect("preset"), 8 * GIB).expect("machine")
}

/// "The 27-bit VPN is translated into a 44-bit PPN via a three-level page table": vpn[2] is
/// va[38:30], vpn[1] va[29:21], vpn[0] va[20:12]; PTEs are 8 bytes, the PPN starts at bit 10.
fn vpn(va: u64, level: usize) -> u64 {
    (va >> (30 - 9 * level)) & 0x1ff
}

/// Writes a walk for `va` under process 0's root: `entries[i]` holds the flag bits of the entry
/// read at step i (root first); intermediate entries point to fresh tables, the last one holds
/// `leaf_ppn`. Returns the entry addresses.
fn build(m: &mut Machine, va: u64, entries: &[u64], leaf_ppn: u64) -> Vec<u64> {
    let mut table = m.processes()[0].root.get() << 12;
    let mut addrs = Vec::new();
    for (level, &bits) in entries.iter().enumerate() {
        let entry_addr = table + vpn(va, level) * 8;
        let ppn =
            if level + 1 == entries.len() { leaf_ppn } else { m.alloc_frames(1, 1).expect("frame").get() };
        m.write_phys_le(PhysAddr::new(entry_addr), 8, bits | (ppn << 10)).expect("write");
        addrs.push(entry_addr);
        table = ppn << 12;
    }
    addrs
}

fn rig(va: u64, entries: &[u64], leaf_ppn: u64) -> (Machine, Vec<u64>) {
    let mut m = machine();
    let addrs = build(&mut m, va, entries, leaf_ppn);
    (m, addrs)
}

/// The fault kind and the cause a walk that must fail reports.
fn fault(m: &Machine, va: u64, access: Access, mode: Mode) -> (FaultKind, u32) {
    let f = must_fault(m, va, access, mode);
    match f.report {
        ArchReport::RiscV { cause } => (f.kind, cause),
        other => panic!("expected a RISC-V cause, got {other:?}"),
    }
}

/// The exception code of a page fault "corresponding to the original access type" (mcause
/// table): 12 instruction page fault, 13 load page fault, 15 store/AMO page fault.
fn cause(access: Access) -> u32 {
    match access {
        Access::Execute => 12,
        Access::Read => 13,
        Access::Write => 15,
    }
}

const VA: u64 = 0x0000_0012_3456_7abc;
const PPN: u64 = 0x8_0123;
const LEAF: u64 = V | R | W | X | U | AD;

// ---------------------------------------------------------------- the leaf rule

/// Walk step 4: "If pte.r = 1 or pte.x = 1, go to step 5. Otherwise, this PTE is a pointer to the
/// next level of the page table." Step 8: "If i > 0, then this is a superpage translation and
/// pa.ppn[i − 1 : 0] = va.vpn[i − 1 : 0]. pa.ppn[LEVELS − 1 : i] = pte.ppn[LEVELS − 1 : i]."
#[test]
fn r_or_x_makes_a_leaf_at_any_level() {
    let (m, _) = rig(VA, &[V, V, LEAF], PPN);
    let t = walk(&m, VA, Access::Read, Mode::User);
    assert_eq!((t.pa(), t.steps.len()), (Some(PhysAddr::new((PPN << 12) | 0xabc)), 3));

    for leaf_bits in [V | R | U | AD, V | X | U | AD, V | R | X | U | AD] {
        let mega = 0x4_0000u64;
        let (m, addrs) = rig(VA, &[V, leaf_bits], mega);
        let t = walk(&m, VA, Access::Execute, Mode::User);
        assert_eq!(t.steps.len(), 2, "{leaf_bits:#x}: a level-1 leaf ends the walk");
        assert_eq!(t.steps[1].entry_addr, EntryAddr::new(addrs[1]));
        assert!(t.steps[1].leaf);
        let expected = (mega << 12) | (VA & (2 * MIB - 1));
        if leaf_bits & X != 0 {
            assert_eq!(t.pa(), Some(PhysAddr::new(expected)));
        }
        if leaf_bits & R != 0 {
            assert_eq!(pa(&m, VA, Access::Read, Mode::User), expected);
        }

        let giga = 3 * (GIB >> 12);
        let (m, _) = rig(VA, &[leaf_bits], giga);
        let t = walk(&m, VA, Access::Execute, Mode::User);
        assert_eq!(t.steps.len(), 1, "{leaf_bits:#x}: a root leaf is a 1 GiB page");
        let expected = (giga << 12) | (VA & (GIB - 1));
        if leaf_bits & R != 0 {
            assert_eq!(pa(&m, VA, Access::Read, Mode::User), expected);
        }
    }
}

/// Walk step 3: "If pte.v = 0, or if pte.r = 0 and pte.w = 1, ... stop and raise a page-fault
/// exception corresponding to the original access type." (Table: "R=0 W=1 X=0 / X=1: Reserved
/// for future use.")
#[test]
fn write_without_read_is_reserved_at_any_level() {
    for access in [Access::Read, Access::Write, Access::Execute] {
        for bits in [V | W | U | AD, V | W | X | U | AD] {
            let (m, _) = rig(VA, &[V, V, bits], PPN);
            assert_eq!(fault(&m, VA, access, Mode::User).1, cause(access), "leaf {bits:#x}");
            assert_eq!(walk(&m, VA, access, Mode::User).fault().and_then(|f| f.level), Some(2));
            let (m, _) = rig(VA, &[V, bits, LEAF], PPN);
            assert_eq!(fault(&m, VA, access, Mode::User).1, cause(access), "level 1 {bits:#x}");
            assert_eq!(walk(&m, VA, access, Mode::User).steps.len(), 2);
        }
    }
}

/// Walk step 4: "Let i = i − 1. If i < 0, stop and raise a page-fault exception corresponding to
/// the original access type."
#[test]
fn a_pointer_at_the_last_level_faults() {
    let (m, _) = rig(VA, &[V, V, V], PPN);
    for access in [Access::Read, Access::Write, Access::Execute] {
        assert_eq!(fault(&m, VA, access, Mode::User).1, cause(access));
        assert_eq!(walk(&m, VA, access, Mode::User).steps.len(), 3);
    }
}

/// Walk step 3: "... or if any bits or encodings that are reserved for future standard use are
/// set within pte, stop and raise a page-fault exception". Sv39: "Bits 63–54 are reserved for
/// future standard use" (62–61 without Svpbmt, 63 without Svnapot); "For non-leaf PTEs, the D, A,
/// and U bits are reserved for future standard use."
#[test]
fn reserved_bits_fault() {
    for bit in 54..=63 {
        let (m, _) = rig(VA, &[V, V, LEAF | (1 << bit)], PPN);
        assert_eq!(fault(&m, VA, Access::Read, Mode::User).1, 13, "leaf bit {bit}");
        let (m, _) = rig(VA, &[V | (1 << bit), V, LEAF], PPN);
        assert_eq!(fault(&m, VA, Access::Write, Mode::User).1, 15, "root bit {bit}");
    }
    for bits in [A, D, U] {
        let (m, _) = rig(VA, &[V, V | bits, LEAF], PPN);
        let t = walk(&m, VA, Access::Read, Mode::User);
        assert_eq!(t.fault().and_then(|f| f.level), Some(1), "non-leaf with {bits:#x}");
        assert_eq!(fault(&m, VA, Access::Read, Mode::User).1, 13);
    }
    let (m, _) = rig(VA, &[V | G, V, LEAF | (3 << 8)], PPN);
    assert_eq!(pa(&m, VA, Access::Read, Mode::User), (PPN << 12) | 0xabc, "G and RSW are not reserved");
}

/// Walk step 6: "If i > 0 and pte.ppn[i − 1 : 0] ≠ 0, this is a misaligned superpage; stop and
/// raise a page-fault exception corresponding to the original access type."
#[test]
fn misaligned_superpages_fault() {
    for low in [1u64, 0x100, 0x1ff] {
        let (m, _) = rig(VA, &[V, LEAF], 0x4_0000 | low);
        assert_eq!(
            fault(&m, VA, Access::Read, Mode::User),
            (FaultKind::MisalignedSuperpage, 13),
            "ppn[0] = {low:#x}"
        );
        assert_eq!(fault(&m, VA, Access::Execute, Mode::User).1, 12);
    }
    for low in [1u64, 0x200, 0x3_fe00] {
        let (m, _) = rig(VA, &[LEAF], 0xc_0000 | low);
        assert_eq!(
            fault(&m, VA, Access::Write, Mode::User),
            (FaultKind::MisalignedSuperpage, 15),
            "ppn[1:0] = {low:#x}"
        );
    }
    let (m, _) = rig(VA, &[LEAF], 0xc_0000);
    assert_eq!(pa(&m, VA, Access::Write, Mode::User), (0xc_0000 << 12) | (VA & (GIB - 1)));
}

// ---------------------------------------------------------------- accessed and dirty

/// Walk step 7: "If pte.a = 0, or if the original memory access is a store and pte.d = 0: If the
/// Svade extension is implemented, stop and raise a page-fault exception corresponding to the
/// original access type."
#[test]
fn svade_faults_on_clear_a_and_on_stores_with_clear_d() {
    let (m, _) = rig(VA, &[V, V, V | R | W | X | U], PPN);
    assert_eq!(m.settings().riscv_ad, RiscvAd::Svade, "Svade by default");
    for access in [Access::Read, Access::Write, Access::Execute] {
        assert_eq!(fault(&m, VA, access, Mode::User), (FaultKind::AccessedClear, cause(access)));
    }
    let (m, _) = rig(VA, &[V, V, V | R | W | X | U | A], PPN);
    assert_eq!(pa(&m, VA, Access::Read, Mode::User), (PPN << 12) | 0xabc);
    assert_eq!(pa(&m, VA, Access::Execute, Mode::User), (PPN << 12) | 0xabc);
    assert_eq!(fault(&m, VA, Access::Write, Mode::User), (FaultKind::DirtyClear, 15));
}

/// Walk step 7 with Svadu: "... set pte.a to 1 and, if the original memory access is a store,
/// also set pte.d to 1"; the other PTEs of the walk are not written.
#[test]
fn svadu_sets_a_and_on_stores_d() {
    let (mut m, addrs) = rig(VA, &[V, V, V | R | W | U], PPN);
    m.settings_mut().riscv_ad = RiscvAd::Svadu;
    let entry = |m: &Machine, i: usize| m.mem().read_le(PhysAddr::new(addrs[i]), 8).expect("entry");
    m.access(0, VirtAddr::new(VA), Access::Read, Mode::User).expect("access");
    assert_eq!(entry(&m, 2) & AD, A);
    m.access(0, VirtAddr::new(VA), Access::Write, Mode::User).expect("access");
    assert_eq!(entry(&m, 2), V | R | W | U | AD | (PPN << 10));
    assert_eq!(entry(&m, 0) & 0x3ff, V, "non-leaf entries are untouched");
    assert_eq!(entry(&m, 1) & 0x3ff, V);

    let (mut m, addrs) = rig(VA, &[V, V, V | R | W | U], PPN);
    m.settings_mut().riscv_ad = RiscvAd::Svadu;
    m.access(0, VirtAddr::new(VA), Access::Write, Mode::User).expect("access");
    assert_eq!(m.mem().read_le(PhysAddr::new(addrs[2]), 8).expect("entry") & AD, AD, "one store sets both");
}

// ---------------------------------------------------------------- privilege, SUM and MXR

/// "U-mode software may only access the page when U=1. If the SUM bit in the sstatus register
/// is set, supervisor mode software may also access pages with U=1. ... Irrespective of SUM, the
/// supervisor may not execute code on pages with U=1."
#[test]
fn sum_controls_supervisor_access_to_user_pages() {
    let (mut m, _) = rig(VA, &[V, V, LEAF], PPN);
    for access in [Access::Read, Access::Write, Access::Execute] {
        assert_eq!(pa(&m, VA, access, Mode::User), (PPN << 12) | 0xabc);
        assert_eq!(fault(&m, VA, access, Mode::Supervisor), (FaultKind::SupervisorProtection, cause(access)));
    }
    m.settings_mut().sum = true;
    assert_eq!(pa(&m, VA, Access::Read, Mode::Supervisor), (PPN << 12) | 0xabc);
    assert_eq!(pa(&m, VA, Access::Write, Mode::Supervisor), (PPN << 12) | 0xabc);
    assert_eq!(fault(&m, VA, Access::Execute, Mode::Supervisor).1, 12);
}

/// "U-mode software may only access the page when U=1"; supervisor pages serve S-mode.
#[test]
fn user_mode_needs_u() {
    let (m, _) = rig(VA, &[V, V, LEAF & !U], PPN);
    for access in [Access::Read, Access::Write, Access::Execute] {
        assert_eq!(fault(&m, VA, access, Mode::User), (FaultKind::UserProtection, cause(access)));
        assert_eq!(pa(&m, VA, access, Mode::Supervisor), (PPN << 12) | 0xabc);
    }
}

/// "When MXR=0, only loads from pages marked readable (R=1 ...) will succeed. When MXR=1, loads
/// from pages marked either readable or executable (R=1 or X=1) will succeed." Stores still need W.
#[test]
fn mxr_makes_execute_only_pages_readable() {
    let (mut m, _) = rig(VA, &[V, V, V | X | U | AD], PPN);
    assert_eq!(pa(&m, VA, Access::Execute, Mode::User), (PPN << 12) | 0xabc);
    assert_eq!(fault(&m, VA, Access::Read, Mode::User), (FaultKind::ReadProtection, 13));
    m.settings_mut().mxr = true;
    assert_eq!(pa(&m, VA, Access::Read, Mode::User), (PPN << 12) | 0xabc);
    assert_eq!(fault(&m, VA, Access::Write, Mode::User), (FaultKind::WriteProtection, 15));
}

/// Permissions come from the leaf: "Determine if the requested memory access is allowed by the
/// pte.r, pte.w, pte.x, and pte.u bits" — R, W, X each grant their own access.
#[test]
fn leaf_r_w_x_grant_their_accesses() {
    let (m, _) = rig(VA, &[V, V, V | R | U | AD], PPN);
    assert_eq!(pa(&m, VA, Access::Read, Mode::User), (PPN << 12) | 0xabc);
    assert_eq!(fault(&m, VA, Access::Write, Mode::User), (FaultKind::WriteProtection, 15));
    assert_eq!(fault(&m, VA, Access::Execute, Mode::User), (FaultKind::ExecuteProtection, 12));
}

// ---------------------------------------------------------------- addresses and causes

/// Sv39: "Instruction fetch addresses and load and store effective addresses, which are 64 bits,
/// must have bits 63–39 all equal to bit 38, or else a page-fault exception will occur."
#[test]
fn non_canonical_addresses_page_fault() {
    let m = machine();
    for va in [0x0000_0040_0000_0000u64, 0xffff_ffbf_ffff_f000, 0x0000_0080_0000_0000, 0x8000_0000_0000_0000]
    {
        for access in [Access::Read, Access::Write, Access::Execute] {
            assert_eq!(
                fault(&m, va, access, Mode::Supervisor),
                (FaultKind::NonCanonical, cause(access)),
                "{va:#x}"
            );
            assert!(walk(&m, va, access, Mode::Supervisor).steps.is_empty());
        }
    }
    let high = 0xffff_ffc0_0000_0000u64;
    let (m, _) = rig(high, &[V, V, LEAF & !U], PPN);
    assert_eq!(pa(&m, high | 0x123, Access::Read, Mode::Supervisor), (PPN << 12) | 0x123);
}

/// Walk step 3: "If pte.v = 0 ... stop and raise a page-fault exception corresponding to the
/// original access type" — causes 12, 13 and 15.
#[test]
fn invalid_entries_report_the_cause_of_the_access() {
    let (m, _) = rig(VA, &[V, V, LEAF], PPN);
    for access in [Access::Read, Access::Write, Access::Execute] {
        assert_eq!(fault(&m, VA + 0x1000, access, Mode::User), (FaultKind::NotPresent, cause(access)));
        assert_eq!(fault(&m, VA + GIB, access, Mode::User), (FaultKind::NotPresent, cause(access)));
        assert_eq!(walk(&m, VA + GIB, access, Mode::User).steps.len(), 1);
    }
}

/// Walk step 2: "If accessing pte violates a PMA or PMP check, raise an access-fault exception
/// corresponding to the original access type" (mcause: 1 instruction access fault, 5 load access
/// fault, 7 store/AMO access fault). Here a pointer to a table beyond the end of memory.
#[test]
fn a_table_outside_memory_raises_an_access_fault() {
    let beyond = (8 * GIB) >> 12; // the first PPN past the machine's 8 GiB
    let mut m = machine();
    let root_entry = (m.processes()[0].root.get() << 12) + vpn(VA, 0) * 8;
    m.write_phys_le(PhysAddr::new(root_entry), 8, V | (beyond << 10)).expect("write");
    for (access, code) in [(Access::Execute, 1), (Access::Read, 5), (Access::Write, 7)] {
        assert_eq!(fault(&m, VA, access, Mode::User), (FaultKind::TableOutsideMemory, code), "{access:?}");
    }
    let described = walk(&m, VA, Access::Read, Mode::User).fault().map(|f| f.report.describe());
    assert_eq!(described.as_deref(), Some("scause 5 (load access fault)"));
}

//! x86 paging rules, each checked against the Intel SDM Vol. 3A chapter 4 sentence quoted above
//! the test. Tables are written here entry by entry (raw bits computed by hand from the SDM's
//! tables), so the walk is checked against the manual, not against `map()`.

#[path = "common/walks.rs"]
mod walks;
use pagelab::sim::{EntryAddr, PhysAddr, VirtAddr};
use walks::{must_fault, pa, walk};

use pagelab::sim::fault::x86_error::{ID, P, RSVD, U, W};
use pagelab::sim::{Access, ArchReport, FaultKind, Machine, Mode, presets};

// SDM Table 4-19 (format of a PTE) and its siblings: bit positions in every 64-bit entry.
const PRESENT: u64 = 1 << 0;
const RW: u64 = 1 << 1;
const US: u64 = 1 << 2;
const ACCESSED: u64 = 1 << 5;
const DIRTY: u64 = 1 << 6;
const PS: u64 = 1 << 7;
const XD: u64 = 1 << 63;
const ALL: u64 = PRESENT | RW | US;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn machine(format: &str, memory: u64) -> Machine {
    Machine::new(presets::by_name(format).expect("preset"), memory).expect("machine")
}

/// The table index of `va` at `level` (0 = root): SDM 4.5.4, "bits 47:39 ... 38:30 ... 29:21 ...
/// 20:12" for 4-level paging; 4.4 for PAE (31:30, 29:21, 20:12); 4.3 for 32-bit (31:22, 21:12).
fn index(format: &str, va: u64, level: usize) -> u64 {
    match format {
        "x86-64" => (va >> (39 - 9 * level)) & 0x1ff,
        "x86-pae" => [(va >> 30) & 0x3, (va >> 21) & 0x1ff, (va >> 12) & 0x1ff][level],
        "x86-32" => [(va >> 22) & 0x3ff, (va >> 12) & 0x3ff][level],
        _ => unreachable!(),
    }
}

/// Writes a walk for `va` from the root of process 0: `entries[i]` holds the bits of the entry at
/// level i, except the address; intermediate entries point to fresh tables, the last one's
/// address bits are `leaf_addr`. Returns the entry addresses, root first.
fn build(m: &mut Machine, format: &str, va: u64, entries: &[u64], leaf_addr: u64) -> Vec<u64> {
    let entry_bytes = m.format().pte_bytes;
    let mut table = m.processes()[0].root.get() << 12;
    let mut addrs = Vec::new();
    for (level, &bits) in entries.iter().enumerate() {
        let entry_addr = table + index(format, va, level) * u64::from(entry_bytes);
        let target = if level + 1 == entries.len() {
            leaf_addr
        } else {
            m.alloc_frames(1, 1).expect("frame").get() << 12
        };
        m.write_phys_le(PhysAddr::new(entry_addr), entry_bytes, bits | target).expect("write entry");
        addrs.push(entry_addr);
        table = target;
    }
    // Then CR3 is loaded, as an OS does once the tables are ready: PAE's PDPTEs are read into
    // their registers at that moment (SDM 4.4.1).
    m.load_cr3();
    addrs
}

fn x86_64(va: u64, entries: &[u64], leaf_addr: u64) -> (Machine, Vec<u64>) {
    let mut m = machine("x86-64", 4 * GIB);
    let addrs = build(&mut m, "x86-64", va, entries, leaf_addr);
    (m, addrs)
}

/// The fault kind and #PF error code of a walk that must fail.
fn fault(m: &Machine, va: u64, access: Access, mode: Mode) -> (FaultKind, u32) {
    let f = must_fault(m, va, access, mode);
    match f.report {
        ArchReport::X86PageFault { error_code } => (f.kind, error_code),
        other => panic!("expected #PF, got {other:?}"),
    }
}

const VA: u64 = 0x0000_7f12_3456_7abc;
const PAGE: u64 = 0x0123_4000;

// ---------------------------------------------------------------- permissions across levels

/// SDM 4.6.1: "Data writes. ... data may be written to any user-mode address with a translation
/// for which the R/W flag is 1 in every paging-structure entry controlling the translation" and
/// "If the U/S flag (bit 2) is 0 in at least one of the paging-structure entries, the address is
/// a supervisor-mode address. ... User-mode accesses ... are not allowed to supervisor-mode
/// addresses".
#[test]
fn rw_and_us_must_be_set_at_every_level() {
    let (m, _) = x86_64(VA, &[ALL; 4], PAGE);
    assert_eq!(pa(&m, VA, Access::Write, Mode::User), PAGE | 0xabc);
    for level in 0..4 {
        let mut entries = [ALL; 4];
        entries[level] &= !RW;
        let (m, _) = x86_64(VA, &entries, PAGE);
        assert_eq!(
            fault(&m, VA, Access::Write, Mode::User),
            (FaultKind::WriteProtection, P | W | U),
            "R/W clear at {level}"
        );
        assert_eq!(pa(&m, VA, Access::Read, Mode::User), PAGE | 0xabc, "reads ignore R/W");

        let mut entries = [ALL; 4];
        entries[level] &= !US;
        let (m, _) = x86_64(VA, &entries, PAGE);
        assert_eq!(
            fault(&m, VA, Access::Read, Mode::User),
            (FaultKind::UserProtection, P | U),
            "U/S clear at {level}"
        );
        assert_eq!(fault(&m, VA, Access::Write, Mode::User).1, P | W | U);
        assert_eq!(
            pa(&m, VA, Access::Read, Mode::Supervisor),
            PAGE | 0xabc,
            "a supervisor page for the kernel"
        );
    }
}

/// SDM 4.6.1: "instructions may be fetched from any user-mode address with a translation for
/// which the XD flag is 0 in every paging-structure entry controlling the translation" (with
/// IA32_EFER.NXE = 1), and likewise for supervisor-mode addresses.
#[test]
fn xd_at_any_level_forbids_fetches() {
    let (m, _) = x86_64(VA, &[ALL; 4], PAGE);
    assert_eq!(pa(&m, VA, Access::Execute, Mode::User), PAGE | 0xabc);
    for level in 0..4 {
        let mut entries = [ALL; 4];
        entries[level] |= XD;
        let (m, _) = x86_64(VA, &entries, PAGE);
        // I/D is reported: 4-level paging (CR4.PAE = 1) with IA32_EFER.NXE = 1 (SDM 4.7).
        assert_eq!(
            fault(&m, VA, Access::Execute, Mode::User),
            (FaultKind::ExecuteProtection, P | U | ID),
            "XD at {level}"
        );
        assert_eq!(fault(&m, VA, Access::Execute, Mode::Supervisor).1, P | ID);
        assert_eq!(pa(&m, VA, Access::Read, Mode::User), PAGE | 0xabc);
        assert_eq!(pa(&m, VA, Access::Write, Mode::User), PAGE | 0xabc);
    }
}

/// SDM 4.6.1: "If CR0.WP = 0, data may be written to any supervisor-mode address. If CR0.WP = 1,
/// data may be written to any supervisor-mode address with a translation for which the R/W flag
/// (bit 1) is 1 in every paging-structure entry"; for user-mode addresses with CR4.SMAP = 0 the
/// same holds. User-mode writes are not affected by CR0.WP.
#[test]
fn cr0_wp_decides_supervisor_writes_to_read_only_pages() {
    for us in [0, US] {
        let (mut m, _) = x86_64(VA, &[ALL, ALL, PRESENT | us | RW, PRESENT | us], PAGE);
        assert!(m.settings().wp, "CR0.WP=1 by default");
        assert_eq!(fault(&m, VA, Access::Write, Mode::Supervisor), (FaultKind::WriteProtection, P | W));
        m.settings_mut().wp = false;
        assert_eq!(pa(&m, VA, Access::Write, Mode::Supervisor), PAGE | 0xabc);
        if us != 0 {
            assert_eq!(fault(&m, VA, Access::Write, Mode::User), (FaultKind::WriteProtection, P | W | U));
        }
    }
}

/// SDM 4.6.1: "If CR4.SMEP = 1, instructions may not be fetched from any user-mode address."
/// Fetches from supervisor-mode addresses and user-mode fetches are unaffected.
#[test]
fn smep_stops_supervisor_fetches_from_user_pages() {
    let (mut m, _) = x86_64(VA, &[ALL; 4], PAGE);
    assert_eq!(pa(&m, VA, Access::Execute, Mode::Supervisor), PAGE | 0xabc);
    m.settings_mut().smep = true;
    assert_eq!(fault(&m, VA, Access::Execute, Mode::Supervisor), (FaultKind::SupervisorProtection, P | ID));
    assert_eq!(pa(&m, VA, Access::Execute, Mode::User), PAGE | 0xabc);
    assert_eq!(pa(&m, VA, Access::Read, Mode::Supervisor), PAGE | 0xabc, "SMEP is about fetches");

    let (mut m, _) = x86_64(VA, &[ALL, PRESENT | RW, ALL, ALL], PAGE);
    m.settings_mut().smep = true;
    assert_eq!(
        pa(&m, VA, Access::Execute, Mode::Supervisor),
        PAGE | 0xabc,
        "U/S=0 at one level: a supervisor page"
    );
}

/// SDM 4.6.1: "If CR4.SMAP = 1 ... If EFLAGS.AC = 0 or the access is implicit, data may not be
/// read from any user-mode address" (and likewise for data writes). Fetches are governed by SMEP,
/// not SMAP; supervisor-mode addresses are not affected.
#[test]
fn smap_stops_supervisor_data_accesses_to_user_pages() {
    let (mut m, _) = x86_64(VA, &[ALL; 4], PAGE);
    assert_eq!(pa(&m, VA, Access::Read, Mode::Supervisor), PAGE | 0xabc);
    m.settings_mut().smap = true;
    assert_eq!(fault(&m, VA, Access::Read, Mode::Supervisor), (FaultKind::SupervisorProtection, P));
    assert_eq!(fault(&m, VA, Access::Write, Mode::Supervisor), (FaultKind::SupervisorProtection, P | W));
    assert_eq!(pa(&m, VA, Access::Execute, Mode::Supervisor), PAGE | 0xabc);
    assert_eq!(pa(&m, VA, Access::Read, Mode::User), PAGE | 0xabc);

    let (mut m, _) = x86_64(VA, &[ALL, ALL, ALL, PRESENT | RW], PAGE);
    m.settings_mut().smap = true;
    assert_eq!(pa(&m, VA, Access::Write, Mode::Supervisor), PAGE | 0xabc);
}

// ---------------------------------------------------------------- large pages

/// SDM 4.5.4: "If the PDE's PS flag is 1, the PDE maps a 2-MByte page. The final physical address
/// is computed as follows: Bits 51:21 are from the PDE. Bits 20:0 are from the original linear
/// address." Table 4-17: bit 12 is PAT, bits 20:13 are "Reserved (must be 0)".
/// SDM 4.7: RSVD "is 1 if there is no translation for the linear address because a reserved bit
/// was set in one of the paging-structure entries used to translate that address".
#[test]
fn two_mib_pages_take_bits_51_21_from_the_pde() {
    let va = 0x0000_7f12_345f_edcb;
    let page = 0x0000_0001_2340_0000 & !(2 * MIB - 1);
    let (m, addrs) = x86_64(va, &[ALL, ALL, ALL | PS], page);
    let t = walk(&m, va, Access::Read, Mode::User);
    assert_eq!(t.pa(), Some(PhysAddr::new(page | (va & (2 * MIB - 1)))));
    assert_eq!(t.steps.len(), 3, "the walk stops at the PDE");
    assert_eq!(t.steps[2].entry_addr, EntryAddr::new(addrs[2]));

    for bit in 13..=20 {
        let (m, _) = x86_64(va, &[ALL, ALL, ALL | PS | (1 << bit)], page);
        assert_eq!(
            fault(&m, va, Access::Read, Mode::User),
            (FaultKind::ReservedBit, P | U | RSVD),
            "bit {bit}"
        );
        assert_eq!(fault(&m, va, Access::Write, Mode::Supervisor).1, P | W | RSVD);
    }
    let (m, _) = x86_64(va, &[ALL, ALL, ALL | PS | (1 << 12)], page);
    assert_eq!(pa(&m, va, Access::Read, Mode::User), page | (va & (2 * MIB - 1)), "PAT is not address");
}

/// SDM 4.5.4: "If the PDPTE's PS flag is 1, the PDPTE maps a 1-GByte page. The final physical
/// address is computed as follows: Bits 51:30 are from the PDPTE. Bits 29:0 are from the original
/// linear address." Table 4-16: bit 12 PAT, bits 29:13 "Reserved (must be 0)".
#[test]
fn one_gib_pages_take_bits_51_30_from_the_pdpte() {
    let va = 0xffff_ffff_b234_5678;
    let page = 3 * GIB;
    let (m, _) = x86_64(va, &[ALL, ALL | PS], page);
    let t = walk(&m, va, Access::Write, Mode::User);
    assert_eq!(t.pa(), Some(PhysAddr::new(page | (va & (GIB - 1)))));
    assert_eq!(t.steps.len(), 2);
    for bit in 13..=29 {
        let (m, _) = x86_64(va, &[ALL, ALL | PS | (1 << bit)], page);
        assert_eq!(
            fault(&m, va, Access::Read, Mode::Supervisor),
            (FaultKind::ReservedBit, P | RSVD),
            "bit {bit}"
        );
    }
    let (m, _) = x86_64(va, &[ALL, ALL | PS | (1 << 12)], page);
    assert_eq!(pa(&m, va, Access::Read, Mode::User), page | (va & (GIB - 1)));
}

/// SDM Table 4-15 (format of a PML4E): bit 7 is "Reserved (must be 0)"; there are no 512-GByte
/// pages.
#[test]
fn ps_in_a_pml4e_is_reserved() {
    let (m, _) = x86_64(VA, &[ALL | PS, ALL, ALL, ALL], PAGE);
    let t = walk(&m, VA, Access::Read, Mode::User);
    assert_eq!(t.steps.len(), 1);
    assert_eq!(t.fault().map(|f| (f.kind, f.level)), Some((FaultKind::ReservedBit, Some(0))));
    assert_eq!(fault(&m, VA, Access::Read, Mode::User).1, P | U | RSVD);
}

// ---------------------------------------------------------------- canonical addresses

/// SDM Vol. 1, 3.3.7.1: "an address is considered to be in canonical form if address bits 63
/// through to the most-significant implemented bit by the microarchitecture are set to either all
/// ones or all zeros"; Vol. 3A 4.5: a non-canonical linear address causes a general-protection
/// exception (#GP), not a page fault; no paging structure is consulted.
#[test]
fn non_canonical_addresses_raise_gp_without_a_walk() {
    let m = machine("x86-64", 64 * MIB);
    for va in [0x0000_8000_0000_0000u64, 0xffff_7fff_ffff_f000, 0x0001_0000_0000_0000, 0x8000_0000_0000_0000]
    {
        let t = walk(&m, va, Access::Read, Mode::User);
        let f = t.fault().expect("fault");
        assert_eq!(
            (f.kind, f.report),
            (FaultKind::NonCanonical, ArchReport::X86GeneralProtection),
            "{va:#x}"
        );
        assert!(t.steps.is_empty());
    }
    for va in [0x0000_7fff_ffff_ffffu64, 0xffff_8000_0000_0000, 0] {
        let t = walk(&m, va, Access::Read, Mode::User);
        assert_eq!(t.fault().map(|f| f.kind), Some(FaultKind::NotPresent), "{va:#x} is canonical");
        assert_eq!(t.steps.len(), 1);
    }
}

// ---------------------------------------------------------------- accessed and dirty

/// SDM 4.8: "Whenever the processor uses a paging-structure entry as part of linear-address
/// translation, it sets the accessed flag in that entry (if it is not already set). Whenever
/// there is a write to a linear address, the processor sets the dirty flag (if it is not already
/// set) in the paging-structure entry that identifies the final physical address for the linear
/// address (either a PTE or a paging-structure entry in which the PS flag is 1)."
#[test]
fn accessed_on_every_entry_dirty_on_the_leaf_only() {
    let (mut m, addrs) = x86_64(VA, &[ALL; 4], PAGE);
    let read = |m: &Machine, addr: u64| m.mem().read_le(PhysAddr::new(addr), 8).expect("entry");
    m.access(0, VirtAddr::new(VA), Access::Read, Mode::User).expect("access");
    for &a in &addrs {
        assert_eq!(read(&m, a) & (ACCESSED | DIRTY), ACCESSED, "entry at {a:#x} after a read");
    }
    m.access(0, VirtAddr::new(VA), Access::Write, Mode::User).expect("access");
    for &a in &addrs[..3] {
        assert_eq!(read(&m, a) & (ACCESSED | DIRTY), ACCESSED, "non-leaf entry at {a:#x} after a write");
    }
    assert_eq!(read(&m, addrs[3]) & (ACCESSED | DIRTY), ACCESSED | DIRTY);
    assert_eq!(read(&m, addrs[3]), ALL | ACCESSED | DIRTY | PAGE, "nothing else changes");

    let va = 0x4020_0000;
    let (mut m, addrs) = x86_64(va, &[ALL, ALL, ALL | PS], 0x0060_0000);
    m.access(0, VirtAddr::new(va + 8), Access::Write, Mode::Supervisor).expect("access");
    assert_eq!(read(&m, addrs[0]) & (ACCESSED | DIRTY), ACCESSED);
    assert_eq!(read(&m, addrs[1]) & (ACCESSED | DIRTY), ACCESSED);
    assert_eq!(read(&m, addrs[2]) & (ACCESSED | DIRTY), ACCESSED | DIRTY, "the 2 MiB PDE is the leaf");

    let (mut m, addrs) = x86_64(VA, &[ALL, ALL, ALL, PRESENT | US], PAGE);
    let before = m.mem().clone();
    m.access(0, VirtAddr::new(VA), Access::Write, Mode::User).expect("access");
    assert_eq!(read(&m, addrs[3]) & DIRTY, 0, "a refused write sets no dirty flag");
    assert_eq!(*m.mem(), before);
}

// ---------------------------------------------------------------- error codes

/// SDM 4.7 (page-fault error code): P "0 ... the P flag was 0 in one of the paging-structure
/// entries"; W/R "If the access causing the page-fault exception was a write, this flag is 1";
/// U/S "If a user-mode access caused the page-fault exception, this flag is 1"; I/D "is 1 if
/// (1) the access causing the page-fault exception was an instruction fetch; and (2) either
/// (a) CR4.SMEP = 1; or (b) both (i) CR4.PAE = 1 (either PAE paging or 4-level paging is in use);
/// and (ii) IA32_EFER.NXE = 1. Otherwise, the flag is 0."
#[test]
fn error_codes_of_representative_faults() {
    let (mut m, addrs) = x86_64(VA, &[ALL, ALL, PRESENT | RW, ALL], PAGE);
    let missing = VA + 0x1000;
    assert_eq!(fault(&m, missing, Access::Read, Mode::User), (FaultKind::NotPresent, U));
    assert_eq!(fault(&m, missing, Access::Write, Mode::Supervisor), (FaultKind::NotPresent, W));
    assert_eq!(fault(&m, missing, Access::Write, Mode::User), (FaultKind::NotPresent, W | U));
    assert_eq!(fault(&m, missing, Access::Execute, Mode::User), (FaultKind::NotPresent, U | ID));
    assert_eq!(fault(&m, VA, Access::Read, Mode::User), (FaultKind::UserProtection, P | U));
    assert_eq!(fault(&m, VA, Access::Execute, Mode::User), (FaultKind::UserProtection, P | U | ID));
    let (rsvd, _) = x86_64(VA, &[ALL | PS, ALL, ALL, ALL], PAGE);
    assert_eq!(fault(&rsvd, VA, Access::Read, Mode::Supervisor), (FaultKind::ReservedBit, P | RSVD));
    // Bits 62:52 are ignored (software-available) in a PTE: not reserved.
    m.write_phys_le(PhysAddr::new(addrs[3]), 8, ALL | (1 << 62) | (1 << 52) | PAGE).expect("write");
    m.write_phys_le(
        PhysAddr::new(addrs[2]),
        8,
        ALL | m.mem().read_le(PhysAddr::new(addrs[2]), 8).expect("read"),
    )
    .expect("write");
    assert_eq!(pa(&m, VA, Access::Read, Mode::User), PAGE | 0xabc);

    // Without NXE (and without SMEP) an instruction fetch does not set I/D.
    m.settings_mut().nxe = false;
    assert_eq!(fault(&m, missing, Access::Execute, Mode::User), (FaultKind::NotPresent, U));
    m.settings_mut().smep = true;
    assert_eq!(fault(&m, missing, Access::Execute, Mode::User), (FaultKind::NotPresent, U | ID));
}

/// SDM Table 4-19: bit 63 is "If IA32_EFER.NXE = 1, execute-disable ...; otherwise, reserved
/// (must be 0)". With NXE = 0 nothing is execute-disabled.
#[test]
fn without_nxe_bit_63_is_reserved() {
    for level in 0..4 {
        let mut entries = [ALL; 4];
        entries[level] |= XD;
        let (mut m, _) = x86_64(VA, &entries, PAGE);
        m.settings_mut().nxe = false;
        assert_eq!(
            fault(&m, VA, Access::Read, Mode::User),
            (FaultKind::ReservedBit, P | U | RSVD),
            "bit 63 at level {level}"
        );
        assert_eq!(fault(&m, VA, Access::Execute, Mode::Supervisor), (FaultKind::ReservedBit, P | RSVD));
    }
    let (mut m, _) = x86_64(VA, &[ALL; 4], PAGE);
    m.settings_mut().nxe = false;
    assert_eq!(pa(&m, VA, Access::Execute, Mode::User), PAGE | 0xabc);
}

// ---------------------------------------------------------------- 32-bit paging

/// SDM 4.3: "If CR4.PSE = 1 and the PDE's PS flag is 1, the PDE maps a 4-MByte page ... Bits
/// 39:32 are bits 20:13 of the PDE [only with PSE-36]. Bits 31:22 are from the PDE. Bits 21:0 are
/// from the original linear address." "If the P flag and the PS flag of a PDE are both 1, bits
/// 21:(M–19) are reserved" — with M = 32, bits 21:13; bit 12 is PAT.
#[test]
fn x86_32_four_mib_pages() {
    let va = 0x8765_4321u64;
    let page = 0x0c00_0000u64;
    let mut m = machine("x86-32", 4 * GIB);
    build(&mut m, "x86-32", va, &[ALL | PS], page);
    assert_eq!(pa(&m, va, Access::Write, Mode::User), page | (va & 0x3f_ffff));
    for bit in 13..=21 {
        let mut m = machine("x86-32", 4 * GIB);
        build(&mut m, "x86-32", va, &[ALL | PS | (1 << bit)], page);
        assert_eq!(
            fault(&m, va, Access::Read, Mode::User),
            (FaultKind::ReservedBit, P | U | RSVD),
            "bit {bit}"
        );
    }
    let mut m = machine("x86-32", 4 * GIB);
    build(&mut m, "x86-32", va, &[ALL | PS | (1 << 12)], page);
    assert_eq!(pa(&m, va, Access::Read, Mode::User), page | (va & 0x3f_ffff));
}

/// SDM 4.7: I/D is set only with CR4.SMEP = 1 or with CR4.PAE = 1 and NXE = 1; 32-bit paging has
/// CR4.PAE = 0, so an instruction fetch reports I/D only under SMEP. 4.6.1: "For 32-bit paging
/// ... instructions may be fetched from any user-mode address".
#[test]
fn x86_32_has_no_id_bit_without_smep_and_no_execute_disable() {
    let va = 0x0804_8123u64;
    let mut m = machine("x86-32", 64 * MIB);
    build(&mut m, "x86-32", va, &[ALL, ALL], 0x0030_0000);
    assert_eq!(pa(&m, va, Access::Execute, Mode::User), 0x0030_0123);
    assert_eq!(fault(&m, va + 0x1000, Access::Execute, Mode::User), (FaultKind::NotPresent, U));
    m.settings_mut().smep = true;
    assert_eq!(fault(&m, va + 0x1000, Access::Execute, Mode::User), (FaultKind::NotPresent, U | ID));
    assert_eq!(fault(&m, va, Access::Execute, Mode::Supervisor), (FaultKind::SupervisorProtection, P | ID));
}

// ---------------------------------------------------------------- PAE paging

/// SDM Table 4-8 (format of a PAE page-directory-pointer-table entry): bits 2:1, 8:5 and 63:M are
/// "Reserved (must be 0)". (Hardware checks them when CR3 is loaded, SDM 4.4.1: "If any of the
/// PDPTEs sets both the P flag (bit 0) and any reserved bit, the MOV to CR instruction causes a
/// general-protection exception"; here the walk refuses such a PDPTE and reports #GP.)
#[test]
fn pae_pdpte_reserved_bits_are_refused() {
    let va = 0xc012_3456u64;
    let mut m = machine("x86-pae", 64 * MIB);
    build(&mut m, "x86-pae", va, &[PRESENT, ALL, ALL], 0x0040_0000);
    assert_eq!(pa(&m, va, Access::Write, Mode::User), 0x0040_0456, "a PDPTE has no R/W or U/S to combine");
    for bit in [1, 2, 5, 6, 7, 8, 52, 59, 63] {
        let mut m = machine("x86-pae", 64 * MIB);
        build(&mut m, "x86-pae", va, &[PRESENT | (1 << bit), ALL, ALL], 0x0040_0000);
        let t = walk(&m, va, Access::Read, Mode::User);
        assert_eq!(
            t.fault().map(|f| (f.kind, f.level)),
            Some((FaultKind::ReservedBit, Some(0))),
            "PDPTE bit {bit}"
        );
        assert_eq!(t.fault().map(|f| f.report), Some(ArchReport::X86GeneralProtection), "PDPTE bit {bit}");
    }
    for bit in [3, 4, 9, 10, 11] {
        let mut m = machine("x86-pae", 64 * MIB);
        build(&mut m, "x86-pae", va, &[PRESENT | (1 << bit), ALL, ALL], 0x0040_0000);
        assert_eq!(pa(&m, va, Access::Read, Mode::User), 0x0040_0456, "PDPTE bit {bit} is PWT/PCD/ignored");
    }
}

/// SDM 4.4.2 / Table 4-10: a PAE PDE with PS = 1 maps a 2-MByte page; XD (bit 63) applies with
/// NXE = 1 and, PAE being in use, a refused fetch reports I/D (SDM 4.7).
#[test]
fn pae_two_mib_pages_and_execute_disable() {
    let va = 0x4030_1234u64;
    let mut m = machine("x86-pae", 64 * MIB);
    build(&mut m, "x86-pae", va, &[PRESENT, ALL | PS | XD], 0x0020_0000);
    assert_eq!(pa(&m, va, Access::Read, Mode::User), 0x0030_1234);
    assert_eq!(fault(&m, va, Access::Execute, Mode::User), (FaultKind::ExecuteProtection, P | U | ID));
    for bit in 13..=20 {
        let mut m = machine("x86-pae", 64 * MIB);
        build(&mut m, "x86-pae", va, &[PRESENT, ALL | PS | (1 << bit)], 0x0020_0000);
        assert_eq!(
            fault(&m, va, Access::Read, Mode::User),
            (FaultKind::ReservedBit, P | U | RSVD),
            "bit {bit}"
        );
    }
}

/// SDM Vol. 3A 4.5.4 (Tables 4-15 to 4-20): in 4-level entries, bits 51:M are reserved, M being
/// MAXPHYADDR; a set reserved bit raises #PF with RSVD=1 (and P=1). 52 (the default) reserves
/// nothing; QEMU's default CPU has 40.
#[test]
fn address_bits_at_or_above_maxphyaddr_are_reserved() {
    let (mut m, addrs) = x86_64(VA, &[ALL; 4], PAGE);
    // The page's address with bit 40 set: representable with 52 physical-address bits.
    m.write_phys_le(PhysAddr::new(addrs[3]), 8, ALL | PAGE | (1 << 40)).expect("write");
    let walk = m.translate(0, VirtAddr::new(VA), Access::Read, Mode::Supervisor).expect("walk");
    assert!(walk.fault().is_none(), "MAXPHYADDR 52: bit 40 is an address bit");
    m.settings_mut().maxphyaddr = 41;
    assert!(
        m.translate(0, VirtAddr::new(VA), Access::Read, Mode::Supervisor).expect("walk").fault().is_none()
    );
    m.settings_mut().maxphyaddr = 40;
    assert_eq!(fault(&m, VA, Access::Read, Mode::Supervisor), (FaultKind::ReservedBit, P | RSVD));
    // A table pointer (the PDPTE) with bit 45 set is refused at its own level.
    m.write_phys_le(PhysAddr::new(addrs[3]), 8, ALL | PAGE).expect("write");
    let pdpte = m.mem().read_le(PhysAddr::new(addrs[1]), 8).expect("read");
    m.write_phys_le(PhysAddr::new(addrs[1]), 8, pdpte | (1 << 45)).expect("write");
    let walk = m.translate(0, VirtAddr::new(VA), Access::Read, Mode::Supervisor).expect("walk");
    let f = walk.fault().expect("faults");
    assert_eq!((f.kind, f.level), (FaultKind::ReservedBit, Some(1)));
    // The setting is saved with the lab (and left out while it is 52).
    let lab = pagelab::lab::Lab::new("m", "", m);
    let json = lab.to_json();
    assert!(json.contains("\"maxphyaddr\": 40"), "{json}");
    assert_eq!(pagelab::lab::Lab::from_json(&json).expect("loads"), lab);
}

//! x86 details a real CPU has and a simpler model would miss, each checked against the Intel
//! SDM Vol. 3A sentence quoted above the test: EFLAGS.AC with SMAP, PSE-36's 4 MiB pages above
//! 4 GiB, and PAE's PDPTE registers. Entries are written here bit by bit from the SDM's tables.

use pagelab::doc::{Document, Edit};
use pagelab::lab::Lab;
use pagelab::sim::EntryAddr;
use pagelab::sim::fault::x86_error::{P, RSVD, U, W};
use pagelab::sim::mmu::{MmuSettings, leaf_frame};
use pagelab::sim::{Access, ArchReport, FaultKind, Machine, Mode, Translation, presets};
use pagelab::sim::{PhysAddr, VirtAddr};

const PRESENT: u64 = 1 << 0;
const RW: u64 = 1 << 1;
const US: u64 = 1 << 2;
const PS: u64 = 1 << 7;
const ALL: u64 = PRESENT | RW | US;
const MIB: u64 = 1 << 20;

fn machine(format: &str) -> Machine {
    Machine::new(presets::by_name(format).expect("preset"), 64 * MIB).expect("machine")
}

fn walk(m: &Machine, va: u64, access: Access, mode: Mode) -> Translation {
    m.translate(m.active(), VirtAddr::new(va), access, mode).expect("process")
}

fn fault(m: &Machine, va: u64, access: Access, mode: Mode) -> (FaultKind, u32) {
    let t = walk(m, va, access, mode);
    let f = t.fault().unwrap_or_else(|| panic!("{va:#x}: expected a fault, got {:?}", t.outcome));
    match f.report {
        ArchReport::X86PageFault { error_code } => (f.kind, error_code),
        other => panic!("expected #PF, got {other:?}"),
    }
}

// ---------------------------------------------------------------- EFLAGS.AC and SMAP

/// x86-64 indexes of 0x40_1abc (SDM 4.5.4): PML4 0, PDPT 0, PD 2, PT 1.
const USER_VA: u64 = 0x40_1abc;

/// A user page (U/S=1 at every level) at 0x40_1000 -> 0x0080_0000.
fn user_page() -> Machine {
    let mut m = machine("x86-64");
    let mut table = m.processes()[0].root.get() << 12;
    for (level, index) in [0u64, 0, 2, 1].into_iter().enumerate() {
        let target = if level == 3 { 0x0080_0000 } else { m.alloc_frames(1, 1).expect("frame").get() << 12 };
        m.write_phys_le(PhysAddr::new(table + index * 8), 8, ALL | target).expect("entry");
        table = target;
    }
    m
}

/// SDM 4.6.1 (data reads, CR4.SMAP = 1): "If EFLAGS.AC = 0 or the access is implicit, data may
/// not be read from any user-mode address. If EFLAGS.AC = 1 and the access is explicit, data may
/// be read from any user-mode address" (with the same two sentences for data writes, which also
/// need R/W = 1 at every level when CR0.WP = 1). Instruction fetches are SMEP's, not AC's.
#[test]
fn eflags_ac_lifts_smap_for_explicit_supervisor_data_accesses() {
    let mut m = user_page();
    m.settings_mut().smap = true;
    assert_eq!(fault(&m, USER_VA, Access::Read, Mode::Supervisor), (FaultKind::SupervisorProtection, P));
    assert_eq!(fault(&m, USER_VA, Access::Write, Mode::Supervisor), (FaultKind::SupervisorProtection, P | W));
    m.settings_mut().ac = true;
    assert_eq!(walk(&m, USER_VA, Access::Read, Mode::Supervisor).pa(), Some(PhysAddr::new(0x0080_0abc)));
    assert_eq!(walk(&m, USER_VA, Access::Write, Mode::Supervisor).pa(), Some(PhysAddr::new(0x0080_0abc)));
    // AC does not touch SMEP: "If CR4.SMEP = 1, instructions may be fetched from any
    // supervisor-mode address" only; user-mode addresses stay refused.
    m.settings_mut().smep = true;
    assert_eq!(
        fault(&m, USER_VA, Access::Execute, Mode::Supervisor).0,
        FaultKind::SupervisorProtection,
        "SMEP ignores AC"
    );
    // Without SMAP, AC changes nothing.
    let mut m = user_page();
    m.settings_mut().ac = true;
    assert_eq!(walk(&m, USER_VA, Access::Read, Mode::Supervisor).pa(), Some(PhysAddr::new(0x0080_0abc)));
    assert_eq!(walk(&m, USER_VA, Access::Read, Mode::User).pa(), Some(PhysAddr::new(0x0080_0abc)));
}

// ---------------------------------------------------------------- PSE-36

/// VA 0x8765_4321: PDE index 0x21d (bits 31:22), offset 0x25_4321 in its 4 MiB page.
const BIG_VA: u64 = 0x8765_4321;

/// A 4 MiB page at `pde` (PS=1, P, R/W, U/S plus `pde`'s address bits) for BIG_VA.
fn four_mib(pde: u64, pse36: bool, maxphyaddr: u8) -> Machine {
    let mut m = machine("x86-32");
    let entry = (m.processes()[0].root.get() << 12) + 0x21d * 4;
    m.write_phys_le(PhysAddr::new(entry), 4, ALL | PS | pde).expect("PDE");
    m.set_settings(MmuSettings { pse36, maxphyaddr, ..MmuSettings::default() });
    m
}

/// SDM Table 4-4 (a PDE that maps a 4-MByte page): "31:22 Bits 31:22 of physical address of the
/// 4-MByte page", "(M–20):13 Bits (M–1):32 of physical address of the 4-MByte page referenced
/// by this entry" and "21:(M–19) Reserved (must be 0)", where M is the minimum of 40 and
/// MAXPHYADDR (4.3: "PSE-36 ... physical addresses of up to 40 bits"). Without PSE-36 the
/// processor supports 32-bit physical addresses and bits 21:13 are reserved.
#[test]
fn pse36_puts_pde_bits_20_13_above_bit_31() {
    // Frame 0x0c00_0000 (bits 31:22) and, in bits 20:13, 0xa5 -> physical bits 39:32 = 0xa5.
    let pde = 0x0c00_0000 | (0xa5 << 13);
    let m = four_mib(pde, true, 52);
    // 0xa5 << 32 | 0x0c00_0000 | offset 0x25_4321
    assert_eq!(walk(&m, BIG_VA, Access::Read, Mode::User).pa(), Some(PhysAddr::new(0xa5_0c25_4321)));
    // PSE-36 off: the same bits are reserved.
    let m = four_mib(pde, false, 52);
    assert_eq!(fault(&m, BIG_VA, Access::Read, Mode::User), (FaultKind::ReservedBit, P | U | RSVD));
}

/// What the tree and inspector show as the page's frame is where the walk goes: frame
/// 0xa5_0c000 (physical 0xa5_0c00_0000 in 4 KiB frames), not the raw bits 31:12 of the PDE.
#[test]
fn the_shown_frame_of_a_pse36_page_includes_bits_39_32() {
    let pde = 0x0c00_0000 | (0xa5 << 13);
    let m = four_mib(pde, true, 52);
    let raw = ALL | PS | pde;
    assert_eq!(leaf_frame(m.format(), m.settings(), raw, 0), 0xa5_0c000);
    // PSE-36 off: the format's frame field as it stands (bits 31:12).
    let m = four_mib(pde, false, 52);
    assert_eq!(leaf_frame(m.format(), m.settings(), raw, 0), pde >> 12);
}

/// M = 36: bits 16:13 hold physical bits 35:32; bits 21:17 are reserved. Bit 21 is reserved for
/// every M (M ≤ 40 makes 21:(M–19) include bit 21).
#[test]
fn pse36_bits_above_maxphyaddr_and_bit_21_are_reserved() {
    let m = four_mib(0x0c00_0000 | (0xf << 13), true, 36);
    assert_eq!(walk(&m, BIG_VA, Access::Read, Mode::User).pa(), Some(PhysAddr::new(0xf_0c25_4321)));
    for bit in 17..=21 {
        let m = four_mib(0x0c00_0000 | (1 << bit), true, 36);
        assert_eq!(fault(&m, BIG_VA, Access::Read, Mode::User).0, FaultKind::ReservedBit, "M=36, bit {bit}");
    }
    // M = 40 (and any larger MAXPHYADDR, limited to 40): bits 20:13 are all address bits.
    for maxphyaddr in [40, 52] {
        let m = four_mib(0x0c00_0000 | (1 << 20), true, maxphyaddr);
        assert_eq!(walk(&m, BIG_VA, Access::Read, Mode::User).pa(), Some(PhysAddr::new(0x80_0c25_4321)));
        let m = four_mib(0x0c00_0000 | (1 << 21), true, maxphyaddr);
        assert_eq!(fault(&m, BIG_VA, Access::Read, Mode::User).0, FaultKind::ReservedBit, "bit 21");
    }
    // Bit 12 is PAT, not an address bit, in both cases (Table 4-4: "12 (PAT)").
    let m = four_mib(0x0c00_0000 | (1 << 12), true, 40);
    assert_eq!(walk(&m, BIG_VA, Access::Read, Mode::User).pa(), Some(PhysAddr::new(0x0c25_4321)));
}

/// PSE-36 is about 4 MiB pages: a 4 KiB page's PTE (Table 4-6) has no such bits, and PAE
/// formats ignore the switch.
#[test]
fn pse36_leaves_4k_pages_and_pae_alone() {
    let mut m = machine("x86-32");
    let root = m.processes()[0].root.get() << 12;
    let pt = m.alloc_frames(1, 1).expect("frame").get() << 12;
    m.write_phys_le(PhysAddr::new(root + 0x21d * 4), 4, ALL | pt).expect("PDE");
    m.write_phys_le(PhysAddr::new(pt + 0x254 * 4), 4, ALL | 0x0030_0000 | (1 << 13)).expect("PTE");
    m.settings_mut().pse36 = true;
    // PTE bits 31:12 are the frame: bit 13 is address bit 13.
    assert_eq!(walk(&m, BIG_VA, Access::Read, Mode::User).pa(), Some(PhysAddr::new(0x0030_2321)));
}

// ---------------------------------------------------------------- PAE PDPTE registers

/// PAE, VA 0x4000_0123: PDPTE 1, PDE 0, PTE 0.
const PAE_VA: u64 = 0x4000_0123;

/// A PAE lab whose process "init" maps PAE_VA (through `map`, which reloads CR3 as an OS does)
/// and a second process "other" with nothing mapped.
fn pae_doc() -> Document {
    let mut m = machine("x86-pae");
    m.map(
        0,
        &pagelab::sim::MapRequest {
            va: VirtAddr::new(PAE_VA & !0xfff),
            len: 0x1000,
            target: pagelab::sim::MapTarget::To(PhysAddr::new(0x0050_0000)),
            page_size: None,
            flags: None,
        },
    )
    .expect("map");
    m.add_process("other").expect("process");
    Document::new(Lab::new("pae", "", m), None)
}

fn pdpte_addr(doc: &Document, process: usize, index: u64) -> u64 {
    (doc.lab().machine.processes()[process].root.get() << 12) + index * 8
}

fn pa_of(doc: &Document) -> Option<u64> {
    (walk(&doc.lab().machine, PAE_VA, Access::Read, Mode::Supervisor).pa()).map(u64::from)
}

/// SDM 4.10.4.1: MOV to CR3 "invalidates all TLB entries associated with PCID 000H except those
/// for global pages". Load CR3, and a Why? fix that loads it, empty the document's TLB of the
/// (non-global) entry an access had cached.
#[test]
fn load_cr3_flushes_the_documents_non_global_tlb_entries() {
    let mut doc = pae_doc();
    doc.access_through_tlb(VirtAddr::new(PAE_VA), Access::Read, Mode::Supervisor).expect("access");
    assert_eq!(doc.tlb().tlbs().len(), 1, "the access cached its page");
    doc.apply(&Edit::LoadCr3 { process: 0 }).expect("load CR3");
    assert_eq!(doc.tlb().tlbs().len(), 0);

    // Another page, in PDPTE 0's quarter, whose register stays current.
    let other = pagelab::sim::MapRequest {
        va: VirtAddr::new(0x1000),
        len: 0x1000,
        target: pagelab::sim::MapTarget::Alloc,
        page_size: None,
        flags: None,
    };
    doc.apply(&Edit::Map { process: 0, request: other }).expect("map");
    // A stale register: PDPTE 1 cleared while loaded, then present again in memory only.
    let entry = pdpte_addr(&doc, 0, 1);
    let raw = doc.lab().machine.mem().read_le(PhysAddr::new(entry), 8).expect("PDPTE");
    doc.apply(&Edit::SetEntry { entry_addr: EntryAddr::new(entry), raw: 0 }).expect("clear");
    doc.apply(&Edit::LoadCr3 { process: 0 }).expect("load CR3");
    doc.apply(&Edit::SetEntry { entry_addr: EntryAddr::new(entry), raw }).expect("restore in memory");
    assert_eq!(doc.lab().machine.stale_pdptes(), vec![1]);
    // The other page, cached before the fix.
    doc.access_through_tlb(VirtAddr::new(0x1000), Access::Read, Mode::Supervisor).expect("access");
    assert_eq!(doc.tlb().tlbs().len(), 1);
    let fix = Edit::ApplyFix {
        process: 0,
        va: VirtAddr::new(PAE_VA),
        access: Access::Read,
        mode: Mode::Supervisor,
        fix: 0,
    };
    let applied = doc.apply(&fix).expect("the fix applies");
    assert!(applied.cr3_loaded, "{}", applied.message);
    assert_eq!(doc.tlb().tlbs().len(), 0, "the fix's CR3 load flushed the TLB");
    assert_eq!(pa_of(&doc), Some(0x0050_0123));
}

/// SDM 4.4.1: "the logical processor maintains a set of four (4) internal, non-architectural
/// PDPTE registers, called PDPTE0, PDPTE1, PDPTE2, and PDPTE3" ... "the processor loads these
/// registers from the PDPTEs in memory" on "MOV to CR3". So a PDPTE cleared in memory still
/// translates until CR3 is loaded again.
#[test]
fn a_pdpte_edit_takes_effect_only_after_load_cr3() {
    let mut doc = pae_doc();
    assert_eq!(pa_of(&doc), Some(0x0050_0123));
    let entry = pdpte_addr(&doc, 0, 1);
    doc.apply(&Edit::SetEntry { entry_addr: EntryAddr::new(entry), raw: 0 }).expect("edit");
    let m = &doc.lab().machine;
    assert_eq!(m.stale_pdptes(), vec![1], "memory and register 1 disagree");
    let t = walk(m, PAE_VA, Access::Read, Mode::Supervisor);
    assert_eq!(t.pa(), Some(PhysAddr::new(0x0050_0123)), "the walk uses the register");
    assert!(t.steps[0].from_register && !t.steps[1].from_register);
    doc.apply(&Edit::LoadCr3 { process: 0 }).expect("load CR3");
    assert!(doc.lab().machine.stale_pdptes().is_empty());
    assert_eq!(fault(&doc.lab().machine, PAE_VA, Access::Read, Mode::Supervisor).0, FaultKind::NotPresent);
    // Undo of the load brings the old register back (it is part of the undo step).
    doc.undo();
    assert_eq!(doc.lab().machine.stale_pdptes(), vec![1]);
    assert_eq!(pa_of(&doc), Some(0x0050_0123));
}

/// A process switch is a CR3 load (SDM 4.4.1 as above): switching away and back reads the
/// PDPTEs from memory. The registers are the CPU's: another process's walk reads its own
/// PDPTEs from memory (they are what a switch to it would load).
#[test]
fn a_process_switch_loads_the_pdptes() {
    let mut doc = pae_doc();
    let entry = pdpte_addr(&doc, 0, 1);
    let old = doc.lab().machine.mem().read_le(PhysAddr::new(entry), 8).expect("PDPTE");
    doc.apply(&Edit::SetEntry { entry_addr: EntryAddr::new(entry), raw: 0 }).expect("edit");
    assert_eq!(pa_of(&doc), Some(0x0050_0123));
    // Walked from "other" (not active): process 0's PDPTE comes from memory, not present.
    let t = doc
        .lab()
        .machine
        .translate(0, VirtAddr::new(PAE_VA), Access::Read, Mode::Supervisor)
        .expect("process");
    assert!(t.steps[0].from_register);
    let other = doc
        .lab()
        .machine
        .translate(1, VirtAddr::new(PAE_VA), Access::Read, Mode::Supervisor)
        .expect("process");
    assert!(!other.steps[0].from_register, "another process's PDPTEs are read from memory");
    doc.apply(&Edit::SwitchProcess { process: 1 }).expect("switch");
    assert!(doc.lab().machine.stale_pdptes().is_empty());
    let t = doc
        .lab()
        .machine
        .translate(0, VirtAddr::new(PAE_VA), Access::Read, Mode::Supervisor)
        .expect("process");
    assert!(!t.steps[0].from_register);
    assert_eq!(t.fault().map(|f| f.kind), Some(FaultKind::NotPresent));
    // Put the PDPTE back while "other" runs, switch back: the register is loaded from memory.
    doc.apply(&Edit::SetEntry { entry_addr: EntryAddr::new(entry), raw: old }).expect("edit");
    doc.apply(&Edit::SwitchProcess { process: 0 }).expect("switch");
    assert_eq!(pa_of(&doc), Some(0x0050_0123));
    assert!(doc.lab().machine.stale_pdptes().is_empty());
}

/// Saved labs keep registers that differ from memory; a lab without them (every lab saved
/// before the registers existed) loads them from memory, as a CR3 load would.
#[test]
fn pdpte_registers_survive_save_and_load() {
    let mut doc = pae_doc();
    let fresh = doc.lab().to_json();
    assert!(!fresh.contains("pdpte_registers"), "in step with memory: not written");
    let entry = pdpte_addr(&doc, 0, 1);
    doc.apply(&Edit::SetEntry { entry_addr: EntryAddr::new(entry), raw: 0 }).expect("edit");
    let json = doc.lab().to_json();
    assert!(json.contains("pdpte_registers"));
    let back = Lab::from_json(&json).expect("load");
    assert_eq!(back.machine.stale_pdptes(), vec![1]);
    assert_eq!(back.machine.pdpte_registers(), doc.lab().machine.pdpte_registers());
    assert_eq!(
        walk(&back.machine, PAE_VA, Access::Read, Mode::Supervisor).pa(),
        Some(PhysAddr::new(0x0050_0123))
    );
    // Without the field, the registers are loaded from memory: PDPTE 1 is not present now.
    let mut value: serde_json::Value = serde_json::from_str(&json).expect("json");
    value.as_object_mut().expect("object").remove("pdpte_registers");
    let old_lab = Lab::from_value(value).expect("load");
    assert!(old_lab.machine.stale_pdptes().is_empty());
    assert_eq!(
        walk(&old_lab.machine, PAE_VA, Access::Read, Mode::Supervisor).fault().map(|f| f.kind),
        Some(FaultKind::NotPresent)
    );
    // Other formats have no such registers.
    let x86_64 = Lab::new("x", "", machine("x86-64")).to_json();
    let mut value: serde_json::Value = serde_json::from_str(&x86_64).expect("json");
    value["pdpte_registers"] = serde_json::json!([1, 0, 0, 0]);
    let Err(error) = Lab::from_value(value) else { panic!("a PDPTE register for x86-64 was accepted") };
    assert!(error.to_string().contains("pdpte_registers"), "{error}");
}

/// Mapping through `map` (the OS's work) that creates a page directory reloads CR3, so the new
/// mapping works at once; the lab's raw entry edits do not.
#[test]
fn map_reloads_cr3_when_it_writes_a_pdpte() {
    let mut doc = pae_doc();
    let va = 0x8000_0000; // PDPTE 2, empty so far
    doc.apply(&Edit::Map {
        process: 0,
        request: pagelab::sim::MapRequest {
            va: VirtAddr::new(va),
            len: 0x1000,
            target: pagelab::sim::MapTarget::To(PhysAddr::new(0x0060_0000)),
            page_size: None,
            flags: None,
        },
    })
    .expect("map");
    assert!(doc.lab().machine.stale_pdptes().is_empty());
    assert_eq!(
        walk(&doc.lab().machine, va, Access::Read, Mode::Supervisor).pa(),
        Some(PhysAddr::new(0x0060_0000))
    );
}

/// Why?'s fix for a reserved bit of a PSE-36 PDE clears only the reserved bits (Table 4-4's
/// 21:(M–19)), keeping the address bits (M–20):13, so the page stays where PSE-36 put it.
#[test]
fn explain_clears_only_the_reserved_bits_of_a_pse36_pde() {
    // M = 36: bits 16:13 = 0x9 are address bits 35:32; bit 18 is reserved.
    let m = four_mib(0x0c00_0000 | (0x9 << 13) | (1 << 18), true, 36);
    let e = pagelab::sim::explain::explain(&m, 0, VirtAddr::new(BIG_VA), Access::Read, Mode::User)
        .expect("explain");
    assert!(e.is_fault());
    let fix = e.fixes.first().expect("a fix");
    let mut fixed = m.clone();
    fix.apply(&mut fixed).expect("apply");
    // 0x9 << 32 | 0x0c00_0000 | 0x25_4321
    assert_eq!(walk(&fixed, BIG_VA, Access::Read, Mode::User).pa(), Some(PhysAddr::new(0x9_0c25_4321)));
}

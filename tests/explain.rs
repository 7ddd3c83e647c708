//! `explain` against hand-built labs, one per fault kind on x86-64, x86-32, PAE and Sv39: the
//! deciding entry and field (addresses worked out by hand from the allocation order: the root is
//! frame 0 and each table or page takes the next free frame), the rule's reference, and the
//! fixes, each of which must make the access succeed (checked by `fixes::explain_fault`).

#[path = "common/fixes.rs"]
mod fixes;

use fixes::{PAGE, explain_fault, machine, map, set};
use pagelab::sim::explain::{self, Change, Switch};
use pagelab::sim::{Access, FaultKind, Mode};
use pagelab::sim::{EntryAddr, PhysAddr, VirtAddr};

const MIB: u64 = 1 << 20;

fn field(level: usize, entry_addr: u64, name: &str, from: u64, to: u64) -> Change {
    Change::Field { level, entry_addr: EntryAddr::new(entry_addr), field: name.into(), from, to }
}

fn switch(switch: Switch, from: u64, to: u64) -> Change {
    Change::Switch { switch, from, to }
}

fn fault_kind(e: &explain::Explanation) -> FaultKind {
    e.translation.fault().expect("a fault").kind
}

fn changes(e: &explain::Explanation) -> Vec<Vec<Change>> {
    e.fixes.iter().map(|f| f.changes.clone()).collect()
}

// ---- x86-64: PML4 at 0x0; mapping a page at 0x40_0000 takes its data frame first (frame 1),
// then PDPT 0x2000, PD 0x3000, PT 0x4000. Its entries: PML4[0] at 0x0, PDPT[0] at 0x2000, PD[2]
// at 0x3010, PT[0] at 0x4000.

const VA: u64 = 0x40_0000;

#[test]
fn x86_64_layout_is_as_worked_out_by_hand() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["R/W", "U/S"]);
    let t = m.translate(0, VirtAddr::new(VA), Access::Read, Mode::User).unwrap();
    let addrs: Vec<u64> = t.steps.iter().map(|s| s.entry_addr.get()).collect();
    assert_eq!(addrs, vec![0x0, 0x2000, 0x3010, 0x4000]);
    assert_eq!(t.pa(), Some(PhysAddr::new(0x1000)));
}

#[test]
fn x86_64_not_present_leaf_is_decided_by_p_and_fixed_by_mapping() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["R/W", "U/S"]);
    let e = explain_fault(&m, VA + PAGE, Access::Write, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::NotPresent);
    assert_eq!((e.decided_by.level, e.decided_by.entry_addr.map(u64::from)), (Some(3), Some(0x4008)));
    assert_eq!((e.decided_by.field.as_str(), e.decided_by.value), ("P", 0));
    assert!(e.rule.reference.contains("4.7"), "{}", e.rule.reference);
    assert_eq!(
        changes(&e),
        vec![vec![Change::Map {
            process: 0,
            va: VirtAddr::new(VA + PAGE),
            page_size: PAGE,
            flags: vec!["R/W".into(), "U/S".into()]
        }]]
    );
}

#[test]
fn x86_64_not_present_root_entry() {
    let m = machine("x86-64");
    let e = explain_fault(&m, 0x1234, Access::Read, Mode::User);
    assert_eq!(
        (e.decided_by.level, e.decided_by.entry_addr.map(u64::from), e.decided_by.value),
        (Some(0), Some(0x0), 0)
    );
    assert_eq!(e.fixes.len(), 1, "{:?}", fixes::labels(&e));
    assert!(
        e.fixes[0].side_effects.iter().any(|s| s.contains("3 new table frame")),
        "{:?}",
        e.fixes[0].side_effects
    );
}

#[test]
fn x86_64_a_cleared_present_bit_is_set_again_before_mapping() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["R/W", "U/S"]);
    set(&mut m, 0x4000, 3, "P", 0);
    let e = explain_fault(&m, VA, Access::Read, Mode::User);
    assert_eq!(e.fixes[0].changes, vec![field(3, 0x4000, "P", 0, 1)]);
    assert_eq!(e.fixes[0].bits, 1);
}

#[test]
fn x86_64_an_entry_that_reads_as_a_swap_slot_says_so() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["R/W", "U/S"]);
    // The OS model's swap entry for slot 5: P=0, marker bit 1, slot from bit 2 (sim/os/swap.rs).
    m.set_entry(EntryAddr::new(0x4000), 5 << 2 | 0b10).unwrap();
    let e = explain_fault(&m, VA, Access::Read, Mode::User);
    assert!(e.rule.text.contains("swap slot 5"), "{}", e.rule.text);
    // Setting P (the slot bits read as U/S and PCD, frame 0) or mapping afresh: both warn.
    assert_eq!(e.fixes.len(), 2, "{:?}", fixes::labels(&e));
    assert_eq!(e.fixes[0].changes, vec![field(3, 0x4000, "P", 0, 1)]);
    assert!(matches!(e.fixes[1].changes[0], Change::Map { .. }));
    for fix in &e.fixes {
        assert!(fix.side_effects.iter().any(|s| s.contains("swap slot 5")), "{:?}", fix.side_effects);
    }
}

#[test]
fn x86_64_user_write_to_read_only_leaf() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["U/S"]);
    let e = explain_fault(&m, VA, Access::Write, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::WriteProtection);
    assert_eq!(
        (e.decided_by.entry_addr.map(u64::from), e.decided_by.field.as_str(), e.decided_by.value),
        (Some(0x4000), "R/W", 0)
    );
    assert!(e.rule.reference.contains("4.6.1") && e.rule.text.contains("user-mode write"), "{:?}", e.rule);
    assert_eq!(changes(&e), vec![vec![field(3, 0x4000, "R/W", 0, 1)]]);
    let rights = e.rights.expect("rights");
    assert!(rights.user && !rights.write);
}

#[test]
fn x86_64_write_refused_at_the_pd_needs_every_level() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["U/S"]);
    set(&mut m, 0x3010, 2, "R/W", 0);
    let e = explain_fault(&m, VA, Access::Write, Mode::User);
    // The first entry without R/W decides; the fix must set it at both levels (SDM 4.6.1).
    assert_eq!((e.decided_by.level, e.decided_by.entry_addr.map(u64::from)), (Some(2), Some(0x3010)));
    assert_eq!(changes(&e), vec![vec![field(2, 0x3010, "R/W", 0, 1), field(3, 0x4000, "R/W", 0, 1)]]);
    assert!(
        e.fixes[0].side_effects.iter().any(|s| s.contains("PD entry at 0x3010") && s.contains("writable")),
        "{:?}",
        e.fixes[0].side_effects
    );
}

#[test]
fn x86_64_supervisor_write_with_wp() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &[]);
    let e = explain_fault(&m, VA, Access::Write, Mode::Supervisor);
    assert!(e.rule.text.contains("CR0.WP=1"), "{}", e.rule.text);
    let mut got = changes(&e);
    got.sort();
    assert_eq!(got, vec![vec![field(3, 0x4000, "R/W", 0, 1)], vec![switch(Switch::Wp, 1, 0)]]);
}

#[test]
fn x86_64_user_access_to_supervisor_page() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["R/W"]);
    let e = explain_fault(&m, VA, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::UserProtection);
    assert_eq!((e.decided_by.entry_addr.map(u64::from), e.decided_by.field.as_str()), (Some(0x4000), "U/S"));
    assert_eq!(changes(&e), vec![vec![field(3, 0x4000, "U/S", 0, 1)]]);
}

#[test]
fn x86_64_fetch_from_nx_page() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["U/S", "NX"]);
    let e = explain_fault(&m, VA, Access::Execute, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::ExecuteProtection);
    assert_eq!((e.decided_by.field.as_str(), e.decided_by.value), ("NX", 1));
    assert_eq!(changes(&e), vec![vec![field(3, 0x4000, "NX", 1, 0)]]);
}

#[test]
fn x86_64_nx_without_nxe_is_a_reserved_bit() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["U/S", "NX"]);
    m.settings_mut().nxe = false;
    let e = explain_fault(&m, VA, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::ReservedBit);
    assert!(e.rule.text.contains("NXE=0"), "{}", e.rule.text);
    let mut got = changes(&e);
    got.sort();
    assert_eq!(got, vec![vec![field(3, 0x4000, "NX", 1, 0)], vec![switch(Switch::Nxe, 0, 1)]]);
}

#[test]
fn x86_64_ps_in_a_pml4_entry_is_reserved() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["U/S"]);
    set(&mut m, 0x0, 0, "PS (reserved)", 1);
    let e = explain_fault(&m, VA, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::ReservedBit);
    assert_eq!((e.decided_by.level, e.decided_by.field.as_str()), (Some(0), "PS (reserved)"));
    assert!(e.rule.reference.contains("4.5.4"), "{}", e.rule.reference);
    assert_eq!(changes(&e), vec![vec![field(0, 0x0, "PS (reserved)", 1, 0)]]);
}

#[test]
fn x86_64_misaligned_2mib_page_has_reserved_bits() {
    let mut m = machine("x86-64");
    // A 2 MiB page at 0x60_0000: PD[3] at 0x3018 once the tables of VA exist; the page takes
    // the first 2 MiB-aligned free frames, 0x200 (frames 0-4 are in use).
    map(&mut m, VA, PAGE, &["U/S"]);
    map(&mut m, 0x60_0000, 2 * MIB, &["U/S"]);
    assert_eq!(
        m.translate(0, VirtAddr::new(0x60_0000), Access::Read, Mode::User).unwrap().pa(),
        Some(PhysAddr::new(0x20_0000))
    );
    // Bit 13 of the entry is frame bit 1: reserved in a PDE that maps 2 MiB (bit 12 is PAT).
    set(&mut m, 0x3018, 2, "Frame", 0x202);
    let e = explain_fault(&m, 0x60_0000, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::ReservedBit);
    assert!(e.rule.text.contains("bits 20:13"), "{}", e.rule.text);
    assert_eq!(changes(&e), vec![vec![field(2, 0x3018, "Frame", 0x202, 0x200)]]);
}

#[test]
fn x86_64_bits_above_maxphyaddr_are_reserved() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["U/S"]);
    m.settings_mut().maxphyaddr = 36;
    // Frame 0x100_0001 sets address bit 36 (2^24 frames of 4 KiB), reserved with MAXPHYADDR 36 (SDM 4.5.4).
    set(&mut m, 0x4000, 3, "Frame", 0x100_0001);
    let e = explain_fault(&m, VA, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::ReservedBit);
    assert!(e.rule.text.contains("51:36"), "{}", e.rule.text);
    assert_eq!(changes(&e), vec![vec![field(3, 0x4000, "Frame", 0x100_0001, 0x1)]]);
}

#[test]
fn x86_64_smep_and_smap() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["U/S"]);
    m.settings_mut().smep = true;
    m.settings_mut().smap = true;
    let fetch = explain_fault(&m, VA, Access::Execute, Mode::Supervisor);
    assert_eq!(fault_kind(&fetch), FaultKind::SupervisorProtection);
    assert!(fetch.rule.text.contains("SMEP"), "{}", fetch.rule.text);
    assert_eq!((fetch.decided_by.field.as_str(), fetch.decided_by.value), ("U/S", 1));
    let mut got = changes(&fetch);
    got.sort();
    assert_eq!(got, vec![vec![field(3, 0x4000, "U/S", 1, 0)], vec![switch(Switch::Smep, 1, 0)]]);
    let read = explain_fault(&m, VA, Access::Read, Mode::Supervisor);
    assert!(read.rule.text.contains("SMAP"), "{}", read.rule.text);
    let mut got = changes(&read);
    got.sort();
    assert_eq!(
        got,
        vec![
            vec![field(3, 0x4000, "U/S", 1, 0)],
            vec![switch(Switch::Smap, 1, 0)],
            vec![switch(Switch::Ac, 0, 1)]
        ]
    );
    // Clearing U/S takes the page from user mode: the fix says so.
    let clear = read.fixes.iter().find(|f| matches!(f.changes[0], Change::Field { .. })).unwrap();
    assert!(
        clear.side_effects.iter().any(|s| s.contains("now faults") && s.contains("user-mode read")),
        "{:?}",
        clear.side_effects
    );
}

#[test]
fn x86_64_non_canonical_address_has_no_entry_and_no_fix() {
    let m = machine("x86-64");
    let e = explain_fault(&m, 0x0000_8000_0000_0000, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::NonCanonical);
    assert_eq!(e.decided_by.entry_addr, None);
    assert_eq!(e.decided_by.value, 1, "bits 63:47 of 0x0000_8000_0000_0000 are 0b1");
    assert!(e.rule.text.contains("#GP"), "{}", e.rule.text);
    assert!(e.fixes.is_empty());
}

#[test]
fn x86_64_success_names_the_bits_that_granted_it() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["R/W", "U/S"]);
    let e = explain::explain(&m, 0, VirtAddr::new(VA), Access::Write, Mode::User).unwrap();
    assert!(!e.is_fault() && e.fixes.is_empty());
    // P, U/S and R/W at each of the four levels.
    for (field, count) in [("P", 4), ("U/S", 4), ("R/W", 4)] {
        let at: Vec<u64> = e
            .grants
            .iter()
            .filter(|g| g.field == field)
            .filter_map(|g| g.entry_addr.map(u64::from))
            .collect();
        assert_eq!(at, vec![0x0, 0x2000, 0x3010, 0x4000], "{field}");
        assert_eq!(at.len(), count);
    }
    assert!(e.grants.iter().all(|g| g.value == 1));
}

// ---- x86-32: PD at 0x0; a page at 0x40_0000 takes data frame 1, then its PT at frame 2: PDE[1]
// at 0x4, PTE[0] at 0x2000.

#[test]
fn x86_32_faults() {
    let mut m = machine("x86-32");
    map(&mut m, VA, PAGE, &["U/S"]);
    assert_eq!(
        m.translate(0, VirtAddr::new(VA), Access::Read, Mode::User).unwrap().pa(),
        Some(PhysAddr::new(0x1000))
    );
    let np = explain_fault(&m, 0x80_0000, Access::Read, Mode::User);
    assert_eq!(
        (np.decided_by.level, np.decided_by.entry_addr.map(u64::from), np.decided_by.field.as_str()),
        (Some(0), Some(0x8), "P")
    );
    let w = explain_fault(&m, VA, Access::Write, Mode::User);
    assert_eq!(changes(&w), vec![vec![field(1, 0x2000, "R/W", 0, 1)]]);
    set(&mut m, 0x4, 0, "U/S", 0);
    let u = explain_fault(&m, VA, Access::Read, Mode::User);
    assert_eq!(
        (u.decided_by.level, u.decided_by.entry_addr.map(u64::from), u.decided_by.field.as_str()),
        (Some(0), Some(0x4), "U/S")
    );
    assert_eq!(changes(&u), vec![vec![field(0, 0x4, "U/S", 0, 1)]]);
    assert!(
        u.fixes[0].side_effects.iter().any(|s| s.contains("PD entry at 0x4")),
        "{:?}",
        u.fixes[0].side_effects
    );
}

#[test]
fn x86_32_4mib_page_with_bits_21_13_set() {
    let mut m = machine("x86-32");
    map(&mut m, VA, PAGE, &["U/S"]);
    // PDE[2] at 0x8 maps 4 MiB at the first 4 MiB-aligned free frame, 0x400.
    map(&mut m, 0x80_0000, 4 * MIB, &["U/S"]);
    set(&mut m, 0x8, 0, "Frame", 0x402);
    let e = explain_fault(&m, 0x80_0000, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::ReservedBit);
    assert!(e.rule.text.contains("bits 21:13") && e.rule.reference.contains("4.3"), "{:?}", e.rule);
    assert_eq!(changes(&e), vec![vec![field(0, 0x8, "Frame", 0x402, 0x400)]]);
}

#[test]
fn x86_32_supervisor_write_and_smap() {
    let mut m = machine("x86-32");
    map(&mut m, VA, PAGE, &["U/S"]);
    let w = explain_fault(&m, VA, Access::Write, Mode::Supervisor);
    assert!(w.rule.text.contains("CR0.WP=1"), "{}", w.rule.text);
    let mut got = changes(&w);
    got.sort();
    assert_eq!(got, vec![vec![field(1, 0x2000, "R/W", 0, 1)], vec![switch(Switch::Wp, 1, 0)]]);
    m.settings_mut().smap = true;
    let r = explain_fault(&m, VA, Access::Read, Mode::Supervisor);
    assert_eq!(fault_kind(&r), FaultKind::SupervisorProtection);
    let mut got = changes(&r);
    got.sort();
    // SDM 4.6: SMAP applies to explicit accesses only while EFLAGS.AC = 0: setting AC is a fix.
    assert_eq!(
        got,
        vec![
            vec![field(1, 0x2000, "U/S", 1, 0)],
            vec![switch(Switch::Smap, 1, 0)],
            vec![switch(Switch::Ac, 0, 1)]
        ]
    );
}

// ---- PAE: PDPT at 0x0 (4 entries); a page at 0x40_0000 takes data frame 1, then PD at frame 2
// and PT at frame 3: PDPTE[0] at 0x0, PDE[2] at 0x2010, PTE[0] at 0x3000.

#[test]
fn pae_faults() {
    let mut m = machine("x86-pae");
    map(&mut m, VA, PAGE, &["U/S", "NX"]);
    assert_eq!(
        m.translate(0, VirtAddr::new(VA), Access::Read, Mode::User).unwrap().pa(),
        Some(PhysAddr::new(0x1000))
    );
    let np = explain_fault(&m, 0xc000_0000, Access::Read, Mode::Supervisor);
    assert_eq!(
        (np.decided_by.level, np.decided_by.entry_addr.map(u64::from), np.decided_by.index),
        (Some(0), Some(0x18), Some(3))
    );
    let x = explain_fault(&m, VA, Access::Execute, Mode::User);
    assert_eq!(changes(&x), vec![vec![field(2, 0x3000, "NX", 1, 0)]]);
    let w = explain_fault(&m, VA, Access::Write, Mode::User);
    assert_eq!(changes(&w), vec![vec![field(2, 0x3000, "R/W", 0, 1)]]);
}

/// SDM Vol. 3A 4.4.1: a PAE walk reads its PDPTE from the register that the last CR3 load
/// filled, so a PDPTE made present in memory since then still faults, and the fix is to load CR3,
/// not to change any bit (the entry in memory is already right).
#[test]
fn pae_a_stale_pdpte_register_is_fixed_by_loading_cr3() {
    let mut m = machine("x86-pae");
    map(&mut m, VA, PAGE, &["U/S"]);
    set(&mut m, 0x0, 0, "P", 0);
    m.load_cr3();
    set(&mut m, 0x0, 0, "P", 1);
    assert_eq!(m.stale_pdptes(), vec![0]);
    let e = explain_fault(&m, VA, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::NotPresent);
    assert_eq!(e.decided_by.level, Some(0));
    assert_eq!(changes(&e), vec![vec![Change::LoadCr3 { register: 0 }]]);
    assert!(e.rule.text.contains("PDPTE 0 from its register"), "{}", e.rule.text);
    assert!(e.fixes[0].side_effects.iter().any(|s| s.contains("four PDPTE registers")), "{:?}", e.fixes);
    let mut fixed = m.clone();
    e.fixes[0].apply(&mut fixed).expect("applies");
    assert!(fixed.stale_pdptes().is_empty());
    assert_eq!(
        fixed.translate(0, VirtAddr::new(VA), Access::Read, Mode::User).unwrap().pa(),
        Some(PhysAddr::new(0x1000))
    );
    // Applied again, the register is no longer stale: the fix refuses instead of doing nothing.
    assert!(e.fixes[0].apply(&mut fixed).is_err());
}

#[test]
fn pae_pdpte_reserved_bit_is_a_general_protection_fault() {
    let mut m = machine("x86-pae");
    map(&mut m, VA, PAGE, &["U/S"]);
    set(&mut m, 0x0, 0, "Reserved 2:1", 1);
    // The bad PDPTE counts once CR3 is loaded (SDM 4.4.1: the PDPTEs are loaded then).
    m.load_cr3();
    let e = explain_fault(&m, VA, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::ReservedBit);
    assert_eq!((e.decided_by.level, e.decided_by.field.as_str()), (Some(0), "Reserved 2:1"));
    assert!(e.rule.reference.contains("4.4.1") && e.rule.text.contains("#GP"), "{:?}", e.rule);
    assert_eq!(changes(&e), vec![vec![field(0, 0x0, "Reserved 2:1", 1, 0)]]);
}

#[test]
fn pae_user_protection_nx_without_nxe_and_a_misaligned_2mib_page() {
    let mut m = machine("x86-pae");
    map(&mut m, VA, PAGE, &["U/S", "NX"]);
    set(&mut m, 0x2010, 1, "U/S", 0);
    let u = explain_fault(&m, VA, Access::Read, Mode::User);
    // The PDPTE has no U/S (SDM table 4-8): the PDE decides and is the only one to change.
    assert_eq!(
        (u.decided_by.level, u.decided_by.entry_addr.map(u64::from), u.decided_by.field.as_str()),
        (Some(1), Some(0x2010), "U/S")
    );
    assert_eq!(changes(&u), vec![vec![field(1, 0x2010, "U/S", 0, 1)]]);
    set(&mut m, 0x2010, 1, "U/S", 1);
    m.settings_mut().nxe = false;
    let r = explain_fault(&m, VA, Access::Read, Mode::User);
    assert_eq!(fault_kind(&r), FaultKind::ReservedBit);
    assert!(r.rule.reference.contains("4.4.2"), "{}", r.rule.reference);
    let mut got = changes(&r);
    got.sort();
    assert_eq!(got, vec![vec![field(2, 0x3000, "NX", 1, 0)], vec![switch(Switch::Nxe, 0, 1)]]);
    // PDE[3] at 0x2018 maps 2 MiB at the first aligned free frame, 0x200; frame bit 1 is bit 13.
    let mut m = machine("x86-pae");
    map(&mut m, VA, PAGE, &["U/S"]);
    map(&mut m, 0x60_0000, 2 * MIB, &["U/S"]);
    set(&mut m, 0x2018, 1, "Frame", 0x202);
    let e = explain_fault(&m, 0x60_0000, Access::Read, Mode::User);
    assert!(e.rule.text.contains("bits 20:13"), "{}", e.rule.text);
    assert_eq!(changes(&e), vec![vec![field(1, 0x2018, "Frame", 0x202, 0x200)]]);
}

#[test]
fn a_table_pointer_beyond_memory_is_unhooked_and_the_page_mapped_again() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["R/W", "U/S"]);
    // 16 MiB of memory is 0x1000 frames: frame 0x10_0000 is far beyond it.
    set(&mut m, 0x3010, 2, "Frame", 0x10_0000);
    let e = explain_fault(&m, VA, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::TableOutsideMemory);
    assert_eq!(
        (e.decided_by.entry_addr.map(u64::from), e.decided_by.field.as_str(), e.decided_by.value),
        (Some(0x3010), "Frame", 0x10_0000)
    );
    assert_eq!(
        changes(&e),
        vec![vec![
            field(2, 0x3010, "P", 1, 0),
            Change::Map { process: 0, va: VirtAddr::new(VA), page_size: PAGE, flags: vec!["U/S".into()] },
        ]]
    );
}

// ---- Sv39: root at 0x0; a page at 0x1000 takes data frame 1, then the L1 table at frame 2 and
// the L0 table at frame 3: L2 entry 0 at 0x0, L1 entry 0 at 0x2000, L0 entry 1 at 0x3008.

const RV: u64 = 0x1000;
const RV_LEAF: u64 = 0x3008;

fn sv39(flags: &[&str]) -> pagelab::sim::Machine {
    let mut m = machine("sv39");
    map(&mut m, RV, PAGE, flags);
    m
}

#[test]
fn sv39_layout_is_as_worked_out_by_hand() {
    let m = sv39(&["R", "W", "U", "A", "D"]);
    let t = m.translate(0, VirtAddr::new(RV), Access::Read, Mode::User).unwrap();
    let addrs: Vec<u64> = t.steps.iter().map(|s| s.entry_addr.get()).collect();
    assert_eq!(addrs, vec![0x0, 0x2000, RV_LEAF]);
    assert_eq!(t.pa(), Some(PhysAddr::new(0x1000)));
}

#[test]
fn sv39_not_valid() {
    let m = sv39(&["R", "U", "A"]);
    let e = explain_fault(&m, RV + PAGE, Access::Read, Mode::User);
    assert_eq!(
        (e.decided_by.entry_addr.map(u64::from), e.decided_by.field.as_str(), e.decided_by.value),
        (Some(0x3010), "V", 0)
    );
    assert!(e.rule.reference.contains("4.3.2 step 3"), "{}", e.rule.reference);
    assert_eq!(
        changes(&e),
        vec![vec![Change::Map {
            process: 0,
            va: VirtAddr::new(RV + PAGE),
            page_size: PAGE,
            flags: vec!["R".into(), "U".into(), "A".into()]
        }]]
    );
}

#[test]
fn sv39_write_without_read_is_reserved() {
    let m = sv39(&["W", "U", "A", "D"]);
    let e = explain_fault(&m, RV, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::InvalidEntry);
    assert_eq!((e.decided_by.field.as_str(), e.decided_by.value), ("W", 1));
    assert!(
        e.rule.text.contains("W=1 with R=0") && e.rule.reference.contains("4.3.2 step 3"),
        "{:?}",
        e.rule
    );
    // Clearing W would leave R=X=0 at the last level (another fault): only setting R is offered.
    assert_eq!(changes(&e), vec![vec![field(2, RV_LEAF, "R", 0, 1)]]);
}

#[test]
fn sv39_no_leaf_at_the_last_level() {
    let m = sv39(&[]);
    let e = explain_fault(&m, RV, Access::Read, Mode::Supervisor);
    assert_eq!(fault_kind(&e), FaultKind::InvalidEntry);
    assert!(e.rule.reference.contains("step 4"), "{}", e.rule.reference);
    // R makes it a leaf; then Svade wants A (or Svadu): two 2-bit fixes.
    let mut got = changes(&e);
    got.sort();
    assert_eq!(
        got,
        vec![
            vec![field(2, RV_LEAF, "R", 0, 1), field(2, RV_LEAF, "A", 0, 1)],
            vec![field(2, RV_LEAF, "R", 0, 1), switch(Switch::Adue, 0, 1)],
        ]
    );
}

#[test]
fn sv39_user_and_supervisor_protection() {
    let m = sv39(&["R", "W", "A", "D"]);
    let e = explain_fault(&m, RV, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::UserProtection);
    assert_eq!((e.decided_by.field.as_str(), e.decided_by.value), ("U", 0));
    assert_eq!(changes(&e), vec![vec![field(2, RV_LEAF, "U", 0, 1)]]);
    // Setting U takes the page from S-mode (SUM=0): the side effects say so.
    assert!(
        e.fixes[0]
            .side_effects
            .iter()
            .any(|s| s.contains("now faults") && s.contains("supervisor-mode read"))
    );

    let m = sv39(&["R", "W", "X", "U", "A", "D"]);
    let data = explain_fault(&m, RV, Access::Write, Mode::Supervisor);
    assert_eq!(fault_kind(&data), FaultKind::SupervisorProtection);
    assert!(data.rule.text.contains("SUM"), "{}", data.rule.text);
    let mut got = changes(&data);
    got.sort();
    assert_eq!(got, vec![vec![field(2, RV_LEAF, "U", 1, 0)], vec![switch(Switch::Sum, 0, 1)]]);
    let fetch = explain_fault(&m, RV, Access::Execute, Mode::Supervisor);
    assert_eq!(changes(&fetch), vec![vec![field(2, RV_LEAF, "U", 1, 0)]], "SUM never allows S-mode fetches");
}

#[test]
fn sv39_read_write_execute_protection() {
    let exec_only = sv39(&["X", "U", "A"]);
    let e = explain_fault(&exec_only, RV, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::ReadProtection);
    let mut got = changes(&e);
    got.sort();
    assert_eq!(got, vec![vec![field(2, RV_LEAF, "R", 0, 1)], vec![switch(Switch::Mxr, 0, 1)]]);
    // A store to it needs W, and W needs R; Svade then needs D.
    let w = explain_fault(&exec_only, RV, Access::Write, Mode::User);
    assert_eq!(fault_kind(&w), FaultKind::WriteProtection);
    for fix in &w.fixes {
        assert!(
            fix.changes.contains(&field(2, RV_LEAF, "W", 0, 1))
                && fix.changes.contains(&field(2, RV_LEAF, "R", 0, 1))
        );
    }
    assert!(!w.fixes.is_empty());
    let data = sv39(&["R", "W", "U", "A", "D"]);
    let x = explain_fault(&data, RV, Access::Execute, Mode::User);
    assert_eq!(fault_kind(&x), FaultKind::ExecuteProtection);
    assert_eq!(changes(&x), vec![vec![field(2, RV_LEAF, "X", 0, 1)]]);
}

#[test]
fn sv39_svade_accessed_and_dirty() {
    let m = sv39(&["R", "W", "U"]);
    let read = explain_fault(&m, RV, Access::Read, Mode::User);
    assert_eq!(fault_kind(&read), FaultKind::AccessedClear);
    assert!(read.rule.reference.contains("step 7"), "{}", read.rule.reference);
    let mut got = changes(&read);
    got.sort();
    assert_eq!(got, vec![vec![field(2, RV_LEAF, "A", 0, 1)], vec![switch(Switch::Adue, 0, 1)]]);
    // A store with A=0 and D=0: set both (2 bits), or Svadu (1 bit, first).
    let store = explain_fault(&m, RV, Access::Write, Mode::User);
    assert_eq!(changes(&store)[0], vec![switch(Switch::Adue, 0, 1)]);
    let mut both = vec![field(2, RV_LEAF, "A", 0, 1), field(2, RV_LEAF, "D", 0, 1)];
    both.sort();
    assert!(changes(&store).iter().any(|c| {
        let mut c = c.clone();
        c.sort();
        c == both
    }));
    let m = sv39(&["R", "W", "U", "A"]);
    let dirty = explain_fault(&m, RV, Access::Write, Mode::User);
    assert_eq!(fault_kind(&dirty), FaultKind::DirtyClear);
    assert_eq!((dirty.decided_by.field.as_str(), dirty.decided_by.value), ("D", 0));
}

#[test]
fn sv39_reserved_bits() {
    let mut m = sv39(&["R", "U", "A"]);
    set(&mut m, 0x0, 0, "A", 1);
    let e = explain_fault(&m, RV, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::ReservedBit);
    assert_eq!((e.decided_by.level, e.decided_by.field.as_str()), (Some(0), "A"));
    assert!(e.rule.text.contains("non-leaf"), "{}", e.rule.text);
    assert_eq!(changes(&e), vec![vec![field(0, 0x0, "A", 1, 0)]]);

    let mut m = sv39(&["R", "U", "A"]);
    set(&mut m, RV_LEAF, 2, "Reserved", 0x5);
    let e = explain_fault(&m, RV, Access::Read, Mode::User);
    assert_eq!((e.decided_by.field.as_str(), e.decided_by.value), ("Reserved", 0x5));
    assert_eq!(changes(&e), vec![vec![field(2, RV_LEAF, "Reserved", 0x5, 0)]]);
}

#[test]
fn sv39_misaligned_megapage() {
    let mut m = sv39(&["R", "U", "A"]);
    // A 2 MiB megapage at 0x20_0000: L1 entry 1 at 0x2008, at the first aligned free frame 0x200.
    map(&mut m, 0x20_0000, 2 * MIB, &["R", "U", "A"]);
    set(&mut m, 0x2008, 1, "PPN", 0x201);
    let e = explain_fault(&m, 0x20_0000, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::MisalignedSuperpage);
    assert!(e.rule.reference.contains("step 6"), "{}", e.rule.reference);
    assert_eq!(changes(&e), vec![vec![field(1, 0x2008, "PPN", 0x201, 0x200)]]);
}

#[test]
fn sv39_table_beyond_memory_is_an_access_fault() {
    let mut m = sv39(&["R", "U", "A"]);
    set(&mut m, 0x2000, 1, "PPN", 0x10_0000);
    let e = explain_fault(&m, RV, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::TableOutsideMemory);
    assert_eq!(e.translation.fault().unwrap().report.describe(), "scause 5 (load access fault)");
    assert_eq!((e.decided_by.entry_addr.map(u64::from), e.decided_by.field.as_str()), (Some(0x2000), "PPN"));
    assert!(e.rule.reference.contains("step 2"), "{}", e.rule.reference);
    assert_eq!(
        changes(&e),
        vec![vec![
            field(1, 0x2000, "V", 1, 0),
            Change::Map {
                process: 0,
                va: VirtAddr::new(RV),
                page_size: PAGE,
                flags: vec!["R".into(), "U".into(), "A".into()]
            },
        ]]
    );
}

#[test]
fn sv39_non_canonical() {
    let m = sv39(&["R", "U", "A"]);
    let e = explain_fault(&m, 0x40_0000_0000, Access::Read, Mode::User);
    assert_eq!(fault_kind(&e), FaultKind::NonCanonical);
    assert_eq!(e.decided_by.entry_addr, None);
    assert!(e.rule.reference.contains("4.4.1"), "{}", e.rule.reference);
    assert!(e.fixes.is_empty());
}

#[test]
fn a_fix_refuses_a_lab_that_changed_since() {
    let mut m = machine("x86-64");
    map(&mut m, VA, PAGE, &["U/S"]);
    let e = explain_fault(&m, VA, Access::Write, Mode::User);
    set(&mut m, 0x4000, 3, "R/W", 1);
    let err = e.fixes[0].apply(&mut m.clone()).unwrap_err();
    assert!(err.to_string().contains("explain the access again"), "{err}");
}

/// Every fault in the sample labs (labs/ and labs/course): for each process, the first byte of
/// each mapped page and of the page after it, read, written and fetched in both modes. Every fix
/// offered must make its access succeed (`check_fixes`).
#[test]
fn every_fix_offered_for_the_sample_labs_works() {
    use pagelab::sim::table;
    let mut explained = 0;
    let mut offered = 0;
    for dir in ["labs", "labs/course"] {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .expect("labs dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let lab = pagelab::lab::io::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let m = &lab.machine;
            for (process, p) in m.processes().iter().enumerate() {
                let mut vas = vec![0];
                for leaf in table::leaves(m.mem(), m.format(), p.root) {
                    vas.push(leaf.va.get());
                    vas.push(leaf.va.get().wrapping_add(1u64 << leaf.page_shift.min(63)));
                }
                vas.sort_unstable();
                vas.dedup();
                for &va in &vas {
                    for mode in [Mode::User, Mode::Supervisor] {
                        for access in Access::ALL {
                            let e = explain::explain(m, process, VirtAddr::new(va), access, mode)
                                .expect("explain");
                            if e.is_fault() {
                                fixes::check_fixes(m, process, &e);
                                explained += 1;
                                offered += e.fixes.len();
                            }
                        }
                    }
                }
            }
        }
    }
    eprintln!("{explained} faults explained, {offered} fixes checked");
    assert!(explained > 100 && offered > 100, "{explained} faults, {offered} fixes");
}

mod random_entries {
    //! Entries with random flag bits (the frame numbers kept, so walks go on): every explanation
    //! is made without panicking, and every fix it offers works.
    use super::*;
    use pagelab::sim::format::Role;
    use proptest::prelude::*;

    fn scrambled(preset: &str, va: u64, flags: &[&str], noise: [u64; 4]) -> pagelab::sim::Machine {
        let mut m = machine(preset);
        map(&mut m, va, PAGE, flags);
        let t = m.translate(0, VirtAddr::new(va), Access::Read, Mode::Supervisor).unwrap();
        let f = m.format().clone();
        for (step, bits) in t.steps.iter().zip(noise) {
            let frame_mask = f.field(Role::Frame, step.level).map_or(0, |fr| fr.mask());
            let raw = (step.raw & frame_mask) | (bits & !frame_mask);
            m.set_entry(step.entry_addr, raw).unwrap();
        }
        m
    }

    fn check_all(m: &pagelab::sim::Machine, va: u64) {
        for mode in [Mode::User, Mode::Supervisor] {
            for access in Access::ALL {
                let e = explain::explain(m, 0, VirtAddr::new(va), access, mode).unwrap();
                if e.is_fault() {
                    fixes::check_fixes(m, 0, &e);
                } else {
                    assert!(!e.grants.is_empty());
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn x86_64(noise in any::<[u64; 4]>(), nxe in any::<bool>(), wp in any::<bool>(), smap in any::<bool>()) {
            let mut m = scrambled("x86-64", VA, &["R/W", "U/S"], noise);
            let s = m.settings_mut();
            s.nxe = nxe;
            s.wp = wp;
            s.smap = smap;
            s.smep = smap;
            check_all(&m, VA);
        }

        #[test]
        fn sv39(noise in any::<[u64; 4]>(), sum in any::<bool>(), mxr in any::<bool>()) {
            let mut m = scrambled("sv39", RV, &["R", "W", "U", "A", "D"], noise);
            m.settings_mut().sum = sum;
            m.settings_mut().mxr = mxr;
            check_all(&m, RV);
        }

        #[test]
        fn pae_and_x86_32(noise in any::<[u64; 4]>()) {
            for preset in ["x86-pae", "x86-32"] {
                let m = scrambled(preset, VA, &["R/W", "U/S"], noise);
                check_all(&m, VA);
            }
        }
    }
}

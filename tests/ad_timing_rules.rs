//! When an x86 walk writes its accessed/dirty flags: `AdTiming::AfterWalk` (Intel as Linux's KVM
//! documents it) and `AdTiming::AsWalked` (QEMU TCG), on walks written here entry by entry.
//!
//! SDM Vol. 3A 4.8: "Whenever the processor uses a paging-structure entry as part of
//! linear-address translation, it sets the accessed flag in that entry (if it is not already
//! set)." and "Whenever there is a write to a linear address, the processor sets the dirty flag
//! (if it is not already set) in the paging-structure entry that identifies the final physical
//! address for the linear address". Whether a walk that then faults has "used" its upper entries
//! is left open; the two timings are the two readings.

use pagelab::sim::fault::x86_error::{P, U, W};
use pagelab::sim::mmu::{self, AdTiming, FastTranslation, MmuSettings, Request};
use pagelab::sim::{Access, ArchReport, FaultKind, Machine, Mode, Translation, presets};
use pagelab::sim::{PhysAddr, VirtAddr};

// SDM Table 4-15..4-19: the same low bits in every 4-level entry.
const PRESENT: u64 = 1 << 0;
const RW: u64 = 1 << 1;
const US: u64 = 1 << 2;
const ACCESSED: u64 = 1 << 5;
const DIRTY: u64 = 1 << 6;
const ALL: u64 = PRESENT | RW | US;

const VA: u64 = 0x0000_7f12_3456_7abc;
const PAGE: u64 = 0x0123_4000;

/// 4-level indexes of VA (SDM 4.5.4: bits 47:39, 38:30, 29:21, 20:12):
/// 0x7f12_3456_7abc -> PML4 0xfe, PDPT 0x48, PD 0x1a2, PT 0x167.
const INDEXES: [u64; 4] = [0xfe, 0x48, 0x1a2, 0x167];

/// Writes the four entries of VA's walk (`bits[i]` plus the next table's address, the leaf
/// `PAGE`) with the given timing; returns the machine and the entry addresses, root first.
fn machine(bits: [u64; 4], timing: AdTiming) -> (Machine, Vec<u64>) {
    let mut m = Machine::new(presets::by_name("x86-64").expect("preset"), 64 << 20).expect("machine");
    m.set_settings(MmuSettings { ad_timing: timing, ..MmuSettings::default() });
    let mut table = m.processes()[0].root.get() << 12;
    let mut addrs = Vec::new();
    for (level, entry) in bits.iter().enumerate() {
        let addr = table + INDEXES[level] * 8;
        let target = if level == 3 { PAGE } else { m.alloc_frames(1, 1).expect("frame").get() << 12 };
        m.write_phys_le(PhysAddr::new(addr), 8, entry | target).expect("entry");
        addrs.push(addr);
        table = target;
    }
    (m, addrs)
}

fn entry(m: &Machine, addr: u64) -> u64 {
    m.mem().read_le(PhysAddr::new(addr), 8).expect("entry")
}

/// Performs the access (A/D written, as the document's Access edit does), after checking that
/// replay's walk would make the same writes.
fn access(m: &mut Machine, access: Access, mode: Mode) -> Translation {
    let t = m.translate(0, VirtAddr::new(VA), access, mode).expect("process 0");
    assert_fast_agrees(m, &t);
    m.apply_ad(&t);
    t
}

/// translate_fast (replay's walk) must report the same writes as translate.
fn assert_fast_agrees(m: &Machine, t: &Translation) {
    let mut fast = FastTranslation::default();
    let request = Request { va: t.va, access: t.access, mode: t.mode };
    let root = m.processes()[0].root;
    assert!(mmu::translate_fast(m.mem(), m.format(), root, m.settings(), request, &mut fast));
    assert_eq!(fast.ad_updates(), t.ad_updates.as_slice());
    assert_eq!(fast.steps(), t.steps.as_slice());
}

/// A user write to a page whose PTE has R/W=0 faults at the PTE (SDM 4.6.1). After the walk:
/// nothing is written. As walked: the PML4E, PDPTE and PDE, which the walk passed, get A; the
/// PTE, whose access was refused, gets neither A nor D.
#[test]
fn a_faulting_walk_sets_upper_a_only_as_walked() {
    let leaf = PRESENT | US; // no R/W
    for timing in [AdTiming::AfterWalk, AdTiming::AsWalked] {
        let (mut m, addrs) = machine([ALL, ALL, ALL, leaf], timing);
        let before = entry(&m, addrs[3]);
        let t = access(&mut m, Access::Write, Mode::User);
        let f = t.fault().expect("a write to a read-only page faults");
        assert_eq!(f.kind, FaultKind::WriteProtection);
        assert_eq!(f.report, ArchReport::X86PageFault { error_code: P | W | U });
        let upper_a = timing == AdTiming::AsWalked;
        for (level, (&addr, step)) in addrs.iter().zip(&t.steps).take(3).enumerate() {
            assert_eq!(entry(&m, addr) & ACCESSED != 0, upper_a, "{timing:?} level {level}");
            assert_eq!(step.sets_accessed, upper_a, "{timing:?} step {level}");
        }
        assert_eq!(entry(&m, addrs[3]), before, "{timing:?}: the refused leaf is untouched");
        assert!(!t.steps[3].sets_accessed && !t.steps[3].sets_dirty);
    }
}

/// A walk that stops at a not-present PDE: as walked, only the PML4E and PDPTE (used) get A.
/// A PDE with a reserved bit (bit 51 with MAXPHYADDR 40: SDM 4.5.4 "Reserved (must be 0)")
/// is not used either: QEMU checks reserved bits before it sets A.
#[test]
fn as_walked_stops_setting_a_where_the_walk_stops() {
    for pde in [RW | US, ALL | (1 << 51)] {
        let (mut m, addrs) = machine([ALL, ALL, pde, ALL], AdTiming::AsWalked);
        m.settings_mut().maxphyaddr = 40;
        let pde_before = entry(&m, addrs[2]);
        let t = access(&mut m, Access::Read, Mode::User);
        assert!(t.fault().is_some());
        assert_ne!(entry(&m, addrs[0]) & ACCESSED, 0);
        assert_ne!(entry(&m, addrs[1]) & ACCESSED, 0);
        assert_eq!(entry(&m, addrs[2]), pde_before);
        assert_eq!(t.steps.len(), 3, "the walk read no PTE");
    }
}

/// An allowed write: both timings set A in all four entries and D in the PTE only ("the
/// paging-structure entry that identifies the final physical address").
#[test]
fn an_allowed_write_sets_a_everywhere_and_d_on_the_leaf_under_both_timings() {
    for timing in [AdTiming::AfterWalk, AdTiming::AsWalked] {
        let (mut m, addrs) = machine([ALL; 4], timing);
        let t = access(&mut m, Access::Write, Mode::User);
        assert_eq!(t.pa(), Some(PhysAddr::new(PAGE | 0xabc)));
        assert_eq!(t.steps.len(), 4);
        for (level, (&addr, step)) in addrs.iter().zip(&t.steps).enumerate() {
            let raw = entry(&m, addr);
            assert_ne!(raw & ACCESSED, 0, "{timing:?} level {level}");
            assert_eq!(raw & DIRTY != 0, level == 3, "{timing:?} level {level}");
            assert!(step.sets_accessed);
            assert_eq!(step.sets_dirty, level == 3);
        }
        // The second access finds everything set: nothing more to write.
        let again = access(&mut m, Access::Write, Mode::User);
        assert!(again.ad_updates.is_empty());
        assert!(again.steps.iter().all(|s| !s.sets_accessed && !s.sets_dirty));
    }
}

/// A set already: a faulting walk as walked writes nothing new (the flags say so too).
#[test]
fn as_walked_writes_nothing_when_a_is_already_set() {
    let (mut m, _) = machine([ALL | ACCESSED, ALL | ACCESSED, ALL | ACCESSED, PRESENT], AdTiming::AsWalked);
    let t = access(&mut m, Access::Read, Mode::User);
    assert!(t.fault().is_some(), "U/S clear in the PTE");
    assert!(t.ad_updates.is_empty());
    assert!(t.steps.iter().all(|s| !s.sets_accessed));
}

/// RISC-V: Svade/Svadu decide, and only the leaf has A/D (privileged spec: "For non-leaf PTEs,
/// the D, A, and U bits are reserved"), so AsWalked changes nothing there.
#[test]
fn riscv_ignores_the_timing() {
    let fmt = presets::by_name("sv39").expect("preset");
    for riscv_ad in [pagelab::sim::mmu::RiscvAd::Svade, pagelab::sim::mmu::RiscvAd::Svadu] {
        let walk = |timing| {
            let mut m = Machine::new(fmt.clone(), 64 << 20).expect("machine");
            m.map(
                0,
                &pagelab::sim::MapRequest {
                    va: VirtAddr::new(0x40_0000),
                    len: 0x1000,
                    target: pagelab::sim::MapTarget::Alloc,
                    page_size: None,
                    flags: Some(vec!["R".into()]),
                },
            )
            .expect("map");
            m.set_settings(MmuSettings { ad_timing: timing, riscv_ad, ..MmuSettings::default() });
            m.translate(0, VirtAddr::new(0x40_0000), Access::Write, Mode::User).expect("process")
        };
        assert_eq!(walk(AdTiming::AfterWalk), walk(AdTiming::AsWalked), "{riscv_ad:?}");
    }
}

/// The lab file keeps old labs unchanged: the default timing is not written, the other is,
/// in kebab case.
#[test]
fn the_timing_is_saved_only_when_not_the_default() {
    let default = serde_json::to_value(MmuSettings::default()).expect("json");
    assert!(default.get("ad_timing").is_none());
    let as_walked = MmuSettings { ad_timing: AdTiming::AsWalked, ..MmuSettings::default() };
    let json = serde_json::to_value(as_walked).expect("json");
    assert_eq!(json["ad_timing"], "as-walked");
    let back: MmuSettings = serde_json::from_value(json).expect("parse");
    assert_eq!(back, as_walked);
}

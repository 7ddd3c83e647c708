//! Replay's walk over a compiled format (`fast_walk::translate_compiled`, reached here through
//! `mmu::translate_fast`) must be `translate()` step for step on any tables: the same entries
//! read, outcome and A/D writes. Proptest writes random entries along a random address's path
//! (random flag bits, reserved bits and frame numbers, some beyond memory, tables that share
//! frames or point back at themselves) in every preset format, and walks it under random MMU
//! switches, with every access and mode, both ways.

use pagelab::sim::fast_walk::{CompiledFormat, FastTranslation, translate_compiled};
use pagelab::sim::mmu::{self, AdTiming, MmuSettings, Outcome, Request, RiscvAd, WalkRoot};
use pagelab::sim::{Access, Machine, Mode, PagingFormat, PhysAddr, Role, VirtAddr, presets};
use proptest::prelude::*;

/// Frames of memory each test machine has; frame numbers are drawn up to a quarter beyond it.
const FRAMES: u64 = 64;

fn format(name: &str) -> PagingFormat {
    presets::by_name(name).unwrap_or_else(|| panic!("preset {name}"))
}

/// An entry from random bits: `sparse` keeps only the low 12 bits (flags, mostly), so that
/// walks go deep instead of stopping at a reserved bit; then the frame field is set to `frame`
/// and, with `present`, the present bit.
fn entry(format: &PagingFormat, level: usize, bits: u64, sparse: bool, frame: u64, present: bool) -> u64 {
    let mut raw = if sparse { bits & 0xfff } else { bits };
    raw &= u64::MAX >> (64 - format.pte_bytes * 8);
    raw = format.with(raw, Role::Frame, level, frame);
    if present { format.with(raw, Role::Present, level, 1) } else { raw }
}

#[derive(Debug, Clone)]
struct Level {
    bits: u64,
    sparse: bool,
    frame: u64,
    present: bool,
}

fn level_strategy() -> impl Strategy<Value = Level> {
    (any::<u64>(), prop::bool::weighted(0.8), 0..FRAMES + FRAMES / 4, prop::bool::weighted(0.9))
        .prop_map(|(bits, sparse, frame, present)| Level { bits, sparse, frame, present })
}

fn settings_strategy() -> impl Strategy<Value = MmuSettings> {
    (any::<[bool; 9]>(), 32u8..=52, any::<bool>()).prop_map(|(b, maxphyaddr, as_walked)| MmuSettings {
        wp: b[0],
        smep: b[1],
        smap: b[2],
        ac: b[3],
        nxe: b[4],
        sum: b[5],
        mxr: b[6],
        riscv_ad: if b[7] { RiscvAd::Svadu } else { RiscvAd::Svade },
        maxphyaddr,
        pse36: b[8],
        ad_timing: if as_walked { AdTiming::AsWalked } else { AdTiming::AfterWalk },
    })
}

/// Builds the machine, writes `levels` along `va_bits`'s path and compares both walks for every
/// access and mode. Returns how many walks reached a page (to check the tables go deep).
fn compare(
    name: &str,
    va_bits: u64,
    levels: &[Level],
    settings: MmuSettings,
    pdptes: Option<[u64; 4]>,
) -> usize {
    let format = format(name);
    let mut machine = Machine::new(format.clone(), FRAMES << format.page_shift).expect("machine");
    machine.set_settings(settings);
    // Addresses inside the format's width, sign-extended where it is canonical: most walks
    // then start; a few non-canonical ones check the early exit.
    let va =
        if va_bits & 0xf == 0 { va_bits } else { format.canonicalize(va_bits & (format.va_space() - 1)) };
    let mut table = machine.processes()[0].root.get() << format.page_shift;
    for (level, random) in levels.iter().enumerate().take(format.levels.len()) {
        let raw = entry(&format, level, random.bits, random.sparse, random.frame, random.present);
        let addr = table + format.index_of(va, level) * u64::from(format.pte_bytes);
        // An entry beyond memory stays unwritten (the walk reports the table outside memory).
        if machine.write_phys_le(PhysAddr::new(addr), format.pte_bytes, raw).is_err() {
            break;
        }
        table = random.frame << format.page_shift;
    }
    let compiled = CompiledFormat::new(&format).expect("at most 8 levels");
    let root = WalkRoot { frame: machine.processes()[0].root, pdptes };
    let mut fast = FastTranslation::default();
    let mut mapped = 0;
    for access in Access::ALL {
        for mode in [Mode::User, Mode::Supervisor] {
            let request = Request { va: VirtAddr::new(va), access, mode };
            let full = mmu::translate(machine.mem(), &format, root, machine.settings(), request);
            translate_compiled(machine.mem(), &compiled, root, machine.settings(), request, &mut fast);
            assert_eq!(fast.steps(), full.steps.as_slice(), "{name} steps at {va:#x}");
            assert_eq!(fast.ad_updates(), full.ad_updates.as_slice(), "{name} A/D writes at {va:#x}");
            match (&full.outcome, &fast.outcome) {
                (Outcome::Mapped(full), Ok(fast)) => {
                    assert_eq!(*fast, mmu::Mapped { value: None, ..*full }, "{name} page at {va:#x}");
                    mapped += 1;
                }
                (Outcome::Fault(full), Err(kind)) => assert_eq!(*kind, full.kind, "{name} fault at {va:#x}"),
                (full, fast) => panic!("{name} at {va:#x}: translate {full:?}, compiled {fast:?}"),
            }
        }
    }
    mapped
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn compiled_walks_agree_with_translate_on_random_tables(
        preset in prop::sample::select(presets::NAMES.to_vec()),
        va in any::<u64>(),
        levels in prop::collection::vec(level_strategy(), 5),
        settings in settings_strategy(),
        pdptes in prop::option::weighted(0.3, any::<[u64; 4]>()),
    ) {
        compare(preset, va, &levels, settings, pdptes);
    }
}

/// The random tables do reach pages, through every level, in each format the brief names: a
/// sparse entry with its present bit set is a valid pointer or leaf often enough.
#[test]
fn random_tables_reach_pages_in_every_format() {
    for name in ["x86-32", "x86-pae", "x86-64", "sv39", "sv48", "ostep-multilevel"] {
        let format = format(name);
        let last = (format.levels.len() - 1) as u64;
        let levels: Vec<Level> = (0..5u64)
            .map(|level| {
                // Sv39 Table 5.4: a pointer has only V (U, A, D reserved there); the leaf R W X U
                // A D. x86 (SDM 4.5): R/W and U/S at every level but PAE's PDPTEs, where they
                // are reserved (SDM 4.4.1). OSTEP: only valid and PFN.
                let bits = match format.arch {
                    pagelab::sim::Arch::RiscV if level == last => 0b1101_1110,
                    pagelab::sim::Arch::RiscV => 0,
                    _ if level == 0 && format.has_pdpte_registers() => 0,
                    _ => 0b110,
                };
                Level { bits, sparse: true, frame: 1 + level, present: true }
            })
            .collect();
        let settings = MmuSettings { riscv_ad: RiscvAd::Svadu, ..MmuSettings::default() };
        let mapped = compare(name, 0x1000, &levels, settings, None);
        assert!(mapped > 0, "{name}: no walk reached a page");
    }
}

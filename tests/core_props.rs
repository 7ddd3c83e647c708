//! Invariants of the core, checked with proptest: map-then-translate returns the mapped address at
//! every page size; unmapped addresses fault as not present; walks over random memory never
//! panic; lab files round-trip exactly after random map/unmap sequences; unmap frees every table
//! that it leaves empty and every data frame no mapping uses.

use pagelab::sim::Pfn;
use pagelab::sim::{PhysAddr, VirtAddr};
use std::collections::{BTreeMap, BTreeSet};

use pagelab::lab::Lab;
use pagelab::sim::fault::x86_error;
use pagelab::sim::machine::MachineError;
use pagelab::sim::mem::PhysMem;
use pagelab::sim::mmu::{self, MmuSettings, Outcome, Request, RiscvAd};
use pagelab::sim::process::Process;
use pagelab::sim::table::TableError;
use pagelab::sim::{
    Access, ArchReport, FaultKind, Machine, MapRequest, MapTarget, Mode, PagingFormat, presets, size, table,
};
use proptest::prelude::*;
use proptest::sample::Index;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Formats with their page sizes (SDM 4.3/4.4/4.5, RISC-V Sv32/Sv39) and a memory size that
/// holds their largest pages.
const FORMATS: [(&str, &[u64], u64); 5] = [
    ("x86-64", &[4 * KIB, 2 * MIB, GIB], 16 * GIB),
    ("sv39", &[4 * KIB, 2 * MIB, GIB], 16 * GIB),
    ("x86-32", &[4 * KIB, 4 * MIB], 4 * GIB),
    ("x86-pae", &[4 * KIB, 2 * MIB], 16 * GIB),
    ("sv32", &[4 * KIB, 4 * MIB], 16 * GIB),
];

fn format(name: &str) -> PagingFormat {
    presets::by_name(name).expect("preset")
}

/// A virtual address of the format from arbitrary bits: cut to the address width and, for
/// x86-64 and Sv39, sign-extended from the top bit (the canonical form).
fn virtual_address(name: &str, bits: u64) -> u64 {
    let (width, canonical) = match name {
        "x86-64" => (48, true),
        "sv39" => (39, true),
        _ => (32, false),
    };
    let va = bits & ((1u64 << width) - 1);
    if canonical && va >> (width - 1) != 0 { va | !((1u64 << width) - 1) } else { va }
}

fn is_valid_va(name: &str, va: u64) -> bool {
    virtual_address(name, va) == va
}

fn assert_not_present(t: &pagelab::sim::Translation) {
    let f = t.fault().unwrap_or_else(|| panic!("{:#x} should fault, got {:?}", t.va, t.outcome));
    assert_eq!(f.kind, FaultKind::NotPresent, "{f}");
    if let ArchReport::X86PageFault { error_code } = f.report {
        assert_eq!(error_code & x86_error::P, 0, "SDM 4.7: P=0 for a non-present page");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A page mapped to a chosen (or allocated) frame translates, at every offset, to that frame
    /// plus the offset; the neighbouring pages stay unmapped.
    #[test]
    fn map_then_translate_at_every_page_size(
        which in 0..FORMATS.len(),
        size_pick in any::<Index>(),
        va_bits in any::<u64>(),
        frame_bits in any::<u64>(),
        offset in any::<u64>(),
        allocate in any::<bool>(),
        write in any::<bool>(),
    ) {
        let (name, sizes, memory) = FORMATS[which];
        let size = sizes[size_pick.index(sizes.len())];
        let mut m = Machine::new(format(name), memory).expect("machine");
        let va = virtual_address(name, va_bits) & !(size - 1);
        let slots = memory / size;
        // Stay clear of the first slot, where the allocator puts tables.
        let pa = (1 + frame_bits % (slots - 1)) * size;
        let target = if allocate { MapTarget::Alloc } else { MapTarget::To(PhysAddr::new(pa)) };
        let request = MapRequest { va: VirtAddr::new(va), len: size, target, page_size: Some(size), flags: None };
        prop_assert_eq!(m.map(0, &request), Ok(1));
        let offset = offset % size;
        let access = if write { Access::Write } else { Access::Read };
        let t = m.translate(0, VirtAddr::new(va + offset), access, Mode::User).expect("process");
        let Outcome::Mapped(mapped) = &t.outcome else { panic!("{name} {va:#x}+{offset:#x}: {:?}", t.outcome) };
        prop_assert_eq!(1u64 << mapped.page_shift, size);
        prop_assert_eq!(mapped.pa.get() & (size - 1), offset);
        let base = mapped.pa.get() - offset;
        if allocate {
            for frame in (base >> 12)..((base + size) >> 12) {
                prop_assert!(m.mem().is_allocated(Pfn::new(frame)), "frame {frame:#x} of the page is allocated");
            }
        } else {
            prop_assert_eq!(base, pa);
        }
        for neighbour in [va.wrapping_sub(1), va.wrapping_add(size)] {
            if is_valid_va(name, neighbour) {
                assert_not_present(&m.translate(0, VirtAddr::new(neighbour), Access::Read, Mode::User).expect("process"));
            }
        }
    }
}

// ---------------------------------------------------------------- random map/unmap sequences

#[derive(Clone, Debug)]
enum Op {
    /// `size_roll` picks the page size: below 13 the base size, below 20 the next one, else the
    /// largest (1 GiB pages cost 2^18 frames each, so random sequences leave them out).
    Map { size_roll: u8, slot: u64 },
    /// Base pages counted from the window's middle (see [`window`]).
    Unmap { first_page: u64, pages: u64 },
    /// The whole window.
    UnmapAll,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0u8..20, 0u64..1200).prop_map(|(size_roll, slot)| Op::Map { size_roll, slot }),
        2 => (0u64..1600, 1u64..700).prop_map(|(first_page, pages)| Op::Unmap { first_page, pages }),
        1 => Just(Op::UnmapAll),
    ];
    proptest::collection::vec(op, 1..24)
}

/// A mapped page in the model: its virtual start, size and the physical address it got.
#[derive(Clone, Copy, Debug)]
struct Page {
    size: u64,
    pa: u64,
}

/// Where the ops work: a 3 GiB window (the upper half's first for the 64-bit formats); 1 GiB
/// pages go at its start, smaller ones and unmaps around its middle, 8 MiB below the 1 GiB mark,
/// so that tables at every level get created and freed.
fn window(name: &str) -> (u64, u64) {
    let start = match name {
        "x86-64" => 0xffff_8000_0000_0000,
        "sv39" => 0xffff_ffc0_0000_0000,
        _ => 0,
    };
    (start, start + GIB - 8 * MIB)
}

/// The tables reachable from `root`, found by reading entries here (present bit, leaf rule and
/// frame field of the format), with the level each sits at.
fn reachable_tables(m: &Machine, root: u64) -> Vec<(usize, u64)> {
    let f = &m.format();
    let mut found = vec![(0usize, root)];
    let mut next = 0;
    while next < found.len() {
        let (level, frame) = found[next];
        next += 1;
        if level + 1 == f.levels.len() {
            continue;
        }
        for index in 0..f.entries_at(level) {
            let raw = m
                .mem()
                .read_le(PhysAddr::new((frame << f.page_shift) + index * u64::from(f.pte_bytes)), f.pte_bytes)
                .expect("entry");
            if f.present(raw, level) && !f.is_leaf(raw, level) {
                found.push((level + 1, f.frame(raw, level)));
            }
        }
    }
    found
}

fn table_has_present_entry(m: &Machine, level: usize, frame: u64) -> bool {
    let f = &m.format();
    (0..f.entries_at(level)).any(|index| {
        let raw = m
            .mem()
            .read_le(PhysAddr::new((frame << f.page_shift) + index * u64::from(f.pte_bytes)), f.pte_bytes)
            .expect("entry");
        f.present(raw, level)
    })
}

/// Runs `ops` on a fresh machine, checking after every step that the machine agrees with the
/// model, that no empty table stays behind and that allocated frames are exactly the tables plus
/// the mapped pages; returns the machine.
fn run_ops(name: &str, sizes: &[u64], memory: u64, ops: &[Op]) -> Machine {
    let mut m = Machine::new(format(name), memory).expect("machine");
    let (window_start, middle) = window(name);
    let mut model: BTreeMap<u64, Page> = BTreeMap::new();
    let overlaps = |model: &BTreeMap<u64, Page>, start: u64, end: u64| {
        model.iter().any(|(&va, p)| va < end && start < va + p.size)
    };
    for op in ops {
        let before = m.clone();
        match op {
            Op::Map { size_roll, slot } => {
                let size = match size_roll {
                    0..13 => sizes[0],
                    13..20 => sizes[1],
                    _ => sizes[sizes.len() - 1],
                };
                // Few large slots so that pages of different sizes collide.
                let slot = match size {
                    s if s == 4 * KIB => *slot,
                    s if s == GIB => slot % 2,
                    _ => slot % 8,
                };
                let va = if size == GIB { window_start + slot * size } else { middle + slot * size };
                let request = MapRequest {
                    va: VirtAddr::new(va),
                    len: size,
                    target: MapTarget::Alloc,
                    page_size: Some(size),
                    flags: None,
                };
                match m.map(0, &request) {
                    Ok(pages) => {
                        assert_eq!(pages, 1);
                        assert!(!overlaps(&model, va, va + size), "mapped {va:#x} over an existing page");
                        let pa = m
                            .translate(0, VirtAddr::new(va), Access::Read, Mode::User)
                            .expect("process")
                            .pa()
                            .expect("mapped");
                        model.insert(va, Page { size, pa: pa.get() });
                    }
                    Err(e) => {
                        assert!(
                            overlaps(&model, va, va + size),
                            "{va:#x} ({size:#x}) refused without a conflict: {e}"
                        );
                        assert!(
                            matches!(
                                e,
                                MachineError::Table(
                                    TableError::AlreadyMapped { .. }
                                        | TableError::InsideHugePage { .. }
                                        | TableError::TableInTheWay { .. }
                                )
                            ),
                            "{e}"
                        );
                        assert_eq!(m, before, "a failed map changes nothing");
                    }
                }
            }
            Op::Unmap { .. } | Op::UnmapAll => {
                let (start, end) = match op {
                    Op::Unmap { first_page, pages } => {
                        (middle + first_page * 4 * KIB, middle + (first_page + pages) * 4 * KIB)
                    }
                    _ => (window_start, window_start + 3 * GIB),
                };
                let split = model
                    .iter()
                    .any(|(&va, p)| va < end && start < va + p.size && (va < start || va + p.size > end));
                match m.unmap(0, VirtAddr::new(start), end - start) {
                    Ok(gone) => {
                        assert!(!split, "unmap [{start:#x}, {end:#x}) split a page");
                        let doomed: Vec<u64> = model.range(start..end).map(|(&va, _)| va).collect();
                        assert_eq!(gone.iter().map(|u| u.va.get()).collect::<Vec<_>>(), doomed);
                        for va in doomed {
                            model.remove(&va);
                        }
                    }
                    Err(e) => {
                        assert!(split, "unmap [{start:#x}, {end:#x}) refused: {e}");
                        assert_eq!(m, before, "a failed unmap changes nothing");
                    }
                }
            }
        }
        check_against_model(&m, name, &model);
    }
    m
}

fn check_against_model(m: &Machine, name: &str, model: &BTreeMap<u64, Page>) {
    let root = m.processes()[0].root;
    let tables = reachable_tables(m, root.get());
    for &(level, frame) in &tables[1..] {
        assert!(
            table_has_present_entry(m, level, frame),
            "{name}: empty level-{level} table in frame {frame:#x} was kept"
        );
    }
    let table_frames: BTreeSet<u64> = tables.iter().map(|&(_, frame)| frame).collect();
    let mut data: Vec<(u64, u64)> = Vec::new();
    for (&va, page) in model {
        for probe in [va, va + page.size / 2 + 5, va + page.size - 1] {
            let t = m.translate(0, VirtAddr::new(probe), Access::Read, Mode::User).expect("process");
            assert_eq!(t.pa(), Some(PhysAddr::new(page.pa + (probe - va))), "{name} {probe:#x}");
        }
        data.push((page.pa >> 12, (page.pa + page.size) >> 12));
        assert_not_present_unless_mapped(m, name, model, va.wrapping_sub(4 * KIB));
        assert_not_present_unless_mapped(m, name, model, va.wrapping_add(page.size));
    }
    data.sort_unstable();
    for pair in data.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "{name}: frames {:#x}..{:#x} given to two pages",
            pair[1].0,
            pair[0].1
        );
    }
    // Allocated frames are exactly the tables plus the pages' frames: each allocated frame is one
    // of them, and there are as many as there are of them.
    let mut next_run = 0;
    for frame in m.mem().allocated_runs().values() {
        if table_frames.contains(&frame) {
            continue;
        }
        while data.get(next_run).is_some_and(|&(_, end)| end <= frame) {
            next_run += 1;
        }
        let in_page = data.get(next_run).is_some_and(|&(start, end)| start <= frame && frame < end);
        assert!(in_page, "{name}: frame {frame:#x} is allocated but holds no table and no page");
    }
    let expected = table_frames.len() as u64 + data.iter().map(|&(start, end)| end - start).sum::<u64>();
    assert_eq!(m.mem().allocated_count(), expected, "{name}: allocated frames are the tables and the pages");
}

fn assert_not_present_unless_mapped(m: &Machine, name: &str, model: &BTreeMap<u64, Page>, va: u64) {
    if !is_valid_va(name, va) || model.iter().any(|(&start, p)| start <= va && va < start + p.size) {
        return;
    }
    assert_not_present(&m.translate(0, VirtAddr::new(va), Access::Write, Mode::User).expect("process"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Random maps and unmaps agree with a model; unmapping frees every table left empty and the
    /// pages' frames; the lab then saves and loads back exactly.
    #[test]
    fn map_unmap_sequences_keep_tables_tidy_and_labs_round_trip(which in 0..FORMATS.len(), ops in ops()) {
        let (name, sizes, memory) = FORMATS[which];
        let m = run_ops(name, sizes, memory, &ops);
        let lab = Lab::new("random", "after random maps and unmaps", m);
        let json = lab.to_json();
        let back = Lab::from_json(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &lab);
        prop_assert_eq!(back.to_json(), json);
    }
}

#[test]
fn unmapping_everything_leaves_only_the_root() {
    for (name, sizes, memory) in FORMATS {
        let ops: Vec<Op> = (0..8u64)
            .map(|i| Op::Map { size_roll: (i * 7 % 20) as u8, slot: i * 37 })
            .chain([Op::UnmapAll])
            .collect();
        let m = run_ops(name, sizes, memory, &ops);
        assert_eq!(
            m.mem().allocated_runs().values().collect::<Vec<_>>(),
            vec![m.processes()[0].root.get()],
            "{name}"
        );
    }
}

/// 1 GiB pages among smaller ones: mapped, refused where they overlap, unmapped with everything.
#[test]
fn one_gib_pages_map_and_unmap_cleanly() {
    for (name, sizes, memory) in &FORMATS[..2] {
        let ops = [
            Op::Map { size_roll: 20, slot: 0 },
            Op::Map { size_roll: 13, slot: 2 },
            Op::UnmapAll,
            Op::Map { size_roll: 20, slot: 1 },
        ];
        let m = run_ops(name, sizes, *memory, &ops);
        // x86-64 maps 1 GiB pages in a PDPTE (a PDPT under the PML4); Sv39 in the root itself.
        let tables = if *name == "x86-64" { 2 } else { 1 };
        assert_eq!(m.mem().allocated_count(), (GIB >> 12) + tables, "{name}: one 1 GiB page and its tables");
    }
}

/// Unmapping a range that runs past the top of the lower half must not touch the upper half:
/// the addresses in between are not canonical and map nothing.
#[test]
fn unmap_across_the_canonical_hole_leaves_the_upper_half_alone() {
    for (name, low_top, high) in [
        ("x86-64", 0x0000_7fff_ffff_f000u64, 0xffff_8000_0000_0000u64),
        ("sv39", 0x0000_003f_ffff_f000, 0xffff_ffc0_0000_0000),
    ] {
        let mut m = Machine::new(format(name), 64 * MIB).expect("machine");
        for va in [low_top, high] {
            m.map(
                0,
                &MapRequest {
                    va: VirtAddr::new(va),
                    len: 4 * KIB,
                    target: MapTarget::Alloc,
                    page_size: None,
                    flags: None,
                },
            )
            .expect("map");
        }
        let result = m.unmap(0, VirtAddr::new(low_top), 8 * KIB);
        assert!(
            m.translate(0, VirtAddr::new(high), Access::Read, Mode::User).expect("process").pa().is_some(),
            "{name}: {result:?} unmapped the upper half"
        );
    }
}

// ---------------------------------------------------------------- walks over random memory

/// A small xorshift generator: fills frames from one proptest seed without shrinking 4 KiB vectors.
struct Bits(u64);

impl Bits {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn all_formats() -> Vec<PagingFormat> {
    let mut formats: Vec<PagingFormat> = presets::NAMES.iter().map(|n| format(n)).collect();
    formats.push(presets::ostep_linear(10, 4, 12));
    formats.push(presets::ostep_linear(20, 12, 24));
    formats
}

const FRAMES: u64 = 12;

/// Memory of `FRAMES` frames where some frames hold random bytes and others hold entries that
/// point to frames nearby (in range or just beyond), with random flag bits.
fn random_memory(format: &PagingFormat, seed: u64, style: u8) -> PhysMem {
    let mut bits = Bits(seed | 1);
    let mut mem = PhysMem::new(FRAMES << format.page_shift, format.page_shift).expect("memory");
    let entry_bytes = u64::from(format.pte_bytes);
    let frame_field =
        format.fields.iter().find(|f| f.role == pagelab::sim::Role::Frame).expect("frame field").clone();
    for frame in 0..FRAMES {
        let kind = (bits.next() % 4) as u8;
        let base = frame << format.page_shift;
        let mut offset = 0;
        while offset < format.page_size() {
            let raw = match (style + kind) % 4 {
                0 => 0,
                1 => bits.next(),
                _ => {
                    let target = bits.next() % (FRAMES + 4);
                    let noise = bits.next();
                    let high = if noise.is_multiple_of(7) { noise & 0xfff0_0000_0000_0000 } else { 0 };
                    frame_field.set(noise & 0x1ff | high, target)
                }
            };
            let _ = mem.write_le(PhysAddr::new(base + offset), format.pte_bytes, raw);
            offset += entry_bytes;
        }
    }
    mem
}

fn settings(choice: u8) -> MmuSettings {
    let bit = |n: u8| choice >> n & 1 != 0;
    MmuSettings {
        wp: bit(0),
        smep: bit(1),
        smap: bit(2),
        nxe: bit(3),
        sum: bit(4),
        mxr: bit(5),
        riscv_ad: if bit(6) { RiscvAd::Svadu } else { RiscvAd::Svade },
        ..MmuSettings::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever memory holds, walks end (at most one step per level), read only inside memory,
    /// and the tree, size and unmap code built on them never panic.
    #[test]
    fn walks_over_random_memory_never_panic(
        seed in any::<u64>(),
        style in 0u8..4,
        root_pick in prop_oneof![0u64..FRAMES + 2, any::<u64>()],
        vas in proptest::collection::vec(any::<u64>(), 1..12),
        choice in any::<u8>(),
        unmap_len in 1u64..(64 * KIB),
    ) {
        for format in all_formats() {
            let mem = random_memory(&format, seed, style);
            let settings = settings(choice);
            for (i, &va_bits) in vas.iter().enumerate() {
                let va = if i % 2 == 0 { va_bits } else { va_bits & format.va_space().wrapping_sub(1) };
                let access = [Access::Read, Access::Write, Access::Execute][i % 3];
                let mode = if (usize::from(choice) + i).is_multiple_of(2) { Mode::User } else { Mode::Supervisor };
                let t = mmu::translate(&mem, &format, Pfn::new(root_pick), &settings, Request { va: VirtAddr::new(va), access, mode });
                prop_assert!(t.steps.len() <= format.levels.len());
                for step in &t.steps {
                    prop_assert!(step.entry_addr.get() + u64::from(format.pte_bytes) <= mem.size());
                }
                for update in &t.ad_updates {
                    prop_assert!(t.steps.iter().any(|s| s.entry_addr == update.entry_addr));
                }
                if let Some(level) = t.fault().and_then(|f| f.level) {
                    prop_assert!(level < format.levels.len());
                }
            }
            let _ = table::tables(&mem, &format, Pfn::new(root_pick));
            let _ = table::leaves(&mem, &format, Pfn::new(root_pick));
            let _ = size::table_size(&mem, &format, Pfn::new(root_pick));

            let root = root_pick % FRAMES.saturating_sub(format.table_frames(0)).max(1);
            let processes = vec![Process { name: "p".into(), root: Pfn::new(root), asid: 1 }];
            let Ok(mut m) = Machine::from_parts(format.clone(), mem, processes, 0, settings) else { continue };
            for &va in &vas {
                let _ = m.access(0, VirtAddr::new(va), Access::Write, Mode::User);
            }
            let _ = m.clone_process(0, "copy");
            let _ = m.table_size(0);
            let _ = m.unmap(0, VirtAddr::new(vas[0] & format.va_space().wrapping_sub(1) & !(format.page_size() - 1)), unmap_len);
            let _ = m.data_frames_in_use();
            let _ = m.remove_process(1);
            let lab = Lab::new("random", "", m);
            let json = lab.to_json();
            prop_assert_eq!(Lab::from_json(&json), Ok(lab));
        }
    }
}

//! One address, every format, side by side: a process's layout rebuilt in each format of
//! [`procmaps::COMPARED`] (x86-64 4-level and LA57, Sv39/48/57, with 4 KiB and with 2 MiB pages
//! where a region's alignment allows), and the same virtual address walked in each. Each row says
//! how the format splits the address (levels, index bits per level), which entries the walk read
//! (the memory references a TLB miss costs), what the whole layout's tables take, and whether the
//! address fits the format at all (Sv39 cannot hold an x86-64 Linux stack address).
//!
//! Plain data ("build the data, then draw it"): the CLI prints these rows, the app draws them.
//! The rebuild is [`procmaps::build_lab`]'s, so a row's tables are the ones `size --compare`
//! counts. Rights come from the leaves (every rebuilt page is a user page, as an imported
//! `/proc/PID/maps` layout's are); contents are not copied.

use super::procmaps::{self, ProcMapsError, Region, SkipReason};
use crate::sim::fault::{Access, Mode};
use crate::sim::format::PagingFormat;
use crate::sim::machine::Machine;
use crate::sim::mmu::Outcome;
use crate::sim::presets;
use crate::sim::size::table_size;
use crate::sim::{EntryAddr, PhysAddr, VirtAddr};

/// Where one level's index sits in a virtual address: bits `high..=low`, and the address's value
/// there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelBits {
    /// The format's name for the level (`PML4`, `L2`).
    pub name: String,
    pub high: u32,
    pub low: u32,
    /// The address's index into the table at this level.
    pub index: u64,
}

impl LevelBits {
    pub fn width(&self) -> u32 {
        self.high + 1 - self.low
    }
}

/// One entry the walk read: one memory reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatStep {
    pub level: usize,
    pub level_name: String,
    pub index: u64,
    /// Physical address of the entry.
    pub entry_addr: EntryAddr,
    pub raw: u64,
    /// The entry maps the page (the walk ends here).
    pub leaf: bool,
}

/// How the walk of one row ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatOutcome {
    /// The address is mapped: its physical address in the rebuilt lab and the leaf's page size.
    Mapped { pa: PhysAddr, page_size: u64 },
    /// The walk faulted (`kind` is the fault's id, as `translate --json` spells it).
    Fault { kind: String, description: String, level: Option<usize> },
    /// The address lies outside the format's virtual address space: no walk at all.
    NotRepresentable { va_bits: u32 },
    /// The layout could not be rebuilt in this format (the error says why).
    CannotBuild(String),
}

impl FormatOutcome {
    /// The JSON spelling: `ok`, `fault`, `not-representable`, `error`.
    pub fn id(&self) -> &'static str {
        match self {
            FormatOutcome::Mapped { .. } => "ok",
            FormatOutcome::Fault { .. } => "fault",
            FormatOutcome::NotRepresentable { .. } => "not-representable",
            FormatOutcome::CannotBuild(_) => "error",
        }
    }

    /// In words, for the text output and the app.
    pub fn describe(&self) -> String {
        match self {
            FormatOutcome::Mapped { pa, .. } => format!("physical address {pa:#x}"),
            FormatOutcome::Fault { description, .. } => format!("page fault: {description}"),
            FormatOutcome::NotRepresentable { va_bits } => {
                format!("not representable: outside the {va_bits}-bit address space")
            }
            FormatOutcome::CannotBuild(e) => format!("cannot build: {e}"),
        }
    }
}

/// One format of the comparison: the layout rebuilt there and the address walked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatWalk {
    /// The preset's name (`x86-64-la57`).
    pub format: String,
    /// The largest page the rebuild uses where a region's alignment allows (4 KiB or 2 MiB).
    pub page_size: u64,
    pub va_bits: u32,
    /// The format's levels, root first, with the address's index at each.
    pub index_bits: Vec<LevelBits>,
    /// Bits of the page offset for a base page.
    pub offset_bits: u32,
    /// The entries the walk read, in order: one memory reference each.
    pub steps: Vec<FormatStep>,
    /// The whole rebuilt layout's tables: how many, the frames they occupy, their bytes.
    pub tables: u64,
    pub table_frames: u64,
    pub table_bytes: u64,
    /// Regions of the layout left out because they lie beyond the format's address space.
    pub skipped_regions: usize,
    pub outcome: FormatOutcome,
}

impl FormatWalk {
    /// Levels of the format (the most references a miss can cost).
    pub fn levels(&self) -> usize {
        self.index_bits.len()
    }

    /// Memory references this walk made: the entries it read. What a TLB miss on this address
    /// costs without paging-structure caches.
    pub fn refs_per_walk(&self) -> usize {
        self.steps.len()
    }
}

/// The index bits of every level of `format` for `va`, root first.
pub fn level_bits(format: &PagingFormat, va: VirtAddr) -> Vec<LevelBits> {
    format
        .levels
        .iter()
        .enumerate()
        .map(|(level, l)| {
            let low = format.entry_span_shift(level);
            LevelBits {
                name: l.name.clone(),
                high: (low + l.index_bits).saturating_sub(1),
                low,
                index: format.index_of(va.get(), level),
            }
        })
        .collect()
}

/// Rebuilds `regions` in every format of [`procmaps::COMPARED`] (in that order) and walks `va`
/// in each for `access` in `mode`. Never fails as a whole: a format that cannot take the layout
/// says so in its row. Builds one lab per format, which takes a while for a large layout.
pub fn compare_walks(regions: &[Region], va: VirtAddr, access: Access, mode: Mode) -> Vec<FormatWalk> {
    procmaps::COMPARED
        .iter()
        .map(|&(name, max_page)| walk_one(regions, name, max_page, va, access, mode))
        .collect()
}

/// [`compare_walks`] for `process` of `machine`: its mapped layout read back as regions.
pub fn compare_process(
    machine: &Machine,
    process: usize,
    va: VirtAddr,
    access: Access,
    mode: Mode,
) -> Result<Vec<FormatWalk>, ProcMapsError> {
    let regions = procmaps::regions_of(machine, process)?;
    Ok(compare_walks(&regions, va, access, mode))
}

/// Physical memory for a format's empty lab (a root table and nothing else).
const EMPTY_LAB_MEMORY: u64 = 1 << 20;

fn walk_one(
    regions: &[Region],
    name: &str,
    max_page: u64,
    va: VirtAddr,
    access: Access,
    mode: Mode,
) -> FormatWalk {
    let Some(format) = presets::by_name(name) else {
        return FormatWalk {
            format: name.to_string(),
            page_size: max_page,
            va_bits: 0,
            index_bits: Vec::new(),
            offset_bits: 0,
            steps: Vec::new(),
            tables: 0,
            table_frames: 0,
            table_bytes: 0,
            skipped_regions: 0,
            outcome: FormatOutcome::CannotBuild(ProcMapsError::UnknownFormat(name.to_string()).to_string()),
        };
    };
    let mut row = FormatWalk {
        format: name.to_string(),
        page_size: max_page,
        va_bits: format.va_bits,
        index_bits: level_bits(&format, va),
        offset_bits: format.page_shift,
        steps: Vec::new(),
        tables: 0,
        table_frames: 0,
        table_bytes: 0,
        skipped_regions: 0,
        outcome: FormatOutcome::NotRepresentable { va_bits: format.va_bits },
    };
    let source = "the compared layout";
    // A layout with nothing inside this format's address space still has a root table: the walk
    // of any address reads its entry and faults there.
    let machine = match procmaps::build_lab(regions, format.clone(), max_page, source) {
        Ok((lab, summary)) => {
            row.skipped_regions =
                summary.skipped.iter().filter(|(_, why)| *why == SkipReason::OutOfRange).count();
            lab.machine
        }
        Err(ProcMapsError::NothingMapped { .. }) => {
            row.skipped_regions = regions
                .iter()
                .filter(|r| !r.is_empty() && (r.read || r.write || r.exec))
                .filter(|r| !format.va_in_range(r.start) || !format.va_in_range(r.end.saturating_sub(1)))
                .count();
            match Machine::new(format.clone(), EMPTY_LAB_MEMORY) {
                Ok(m) => m,
                Err(e) => {
                    row.outcome = FormatOutcome::CannotBuild(e.to_string());
                    return row;
                }
            }
        }
        Err(e) => {
            row.outcome = FormatOutcome::CannotBuild(e.to_string());
            return row;
        }
    };
    let size = table_size(machine.mem(), machine.format(), machine.active_process().root);
    (row.tables, row.table_frames, row.table_bytes) = (size.tables, size.frames, size.bytes);
    if !format.va_in_range(va.get()) {
        return row;
    }
    let t = match machine.translate(machine.active(), va, access, mode) {
        Ok(t) => t,
        Err(e) => {
            row.outcome = FormatOutcome::CannotBuild(e.to_string());
            return row;
        }
    };
    row.steps = t
        .steps
        .iter()
        .map(|s| FormatStep {
            level: s.level,
            level_name: format.levels.get(s.level).map_or_else(|| "?".into(), |l| l.name.clone()),
            index: s.index,
            entry_addr: s.entry_addr,
            raw: s.raw,
            leaf: s.leaf,
        })
        .collect();
    row.outcome = match &t.outcome {
        Outcome::Mapped(mp) => {
            FormatOutcome::Mapped { pa: mp.pa, page_size: 1u64.checked_shl(mp.page_shift).unwrap_or(0) }
        }
        Outcome::Fault(f) => FormatOutcome::Fault {
            kind: f.kind.id().to_string(),
            description: f.kind.describe_in(format.arch).to_string(),
            level: f.level,
        },
    };
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(start: u64, end: u64, perms: &str, line: usize) -> Region {
        let has = |c: char| perms.contains(c);
        let (read, write, exec) = (has('r'), has('w'), has('x'));
        Region { start, end, read, write, exec, shared: false, offset: 0, path: String::new(), line }
    }

    #[test]
    fn level_bits_split_the_address_as_the_manuals_do() {
        // SDM 4.5: PML4 47:39, PDPT 38:30, PD 29:21, PT 20:12. 0x7ffd_0000_1234:
        // 47:39 = 0xff, 38:30 = 0x1f4, 29:21 = 0, 20:12 = 1.
        let bits = level_bits(&presets::x86_64(4), VirtAddr::new(0x7ffd_0000_1234));
        let got: Vec<(u32, u32, u64)> = bits.iter().map(|b| (b.high, b.low, b.index)).collect();
        assert_eq!(got, vec![(47, 39, 0xff), (38, 30, 0x1f4), (29, 21, 0), (20, 12, 1)]);
        assert!(bits.iter().all(|b| b.width() == 9));
        // Sv39 (privileged spec 10.6): VPN[2] 38:30, VPN[1] 29:21, VPN[0] 20:12.
        let sv39: Vec<(u32, u32)> =
            level_bits(&presets::riscv(3), VirtAddr::new(0)).iter().map(|b| (b.high, b.low)).collect();
        assert_eq!(sv39, vec![(38, 30), (29, 21), (20, 12)]);
        // LA57 adds PML5 56:48 on top.
        let la57 = level_bits(&presets::x86_64(5), VirtAddr::new(0));
        assert_eq!((la57[0].high, la57[0].low, la57.len()), (56, 48, 5));
    }

    /// A small layout: code 0x40_0000 (one page, r-x), a 2 MiB-aligned heap 0x60_0000-0x80_0000
    /// (rw-) and a stack 0x7ffd_0000_0000-0x7ffd_0000_2000 (rw-, 47 bits: beyond Sv39).
    fn layout() -> Vec<Region> {
        vec![
            region(0x40_0000, 0x40_1000, "r-x", 1),
            region(0x60_0000, 0x80_0000, "rw-", 2),
            region(0x7ffd_0000_0000, 0x7ffd_0000_2000, "rw-", 3),
        ]
    }

    fn by_format<'a>(rows: &'a [FormatWalk], name: &str, page: u64) -> &'a FormatWalk {
        rows.iter().find(|r| r.format == name && r.page_size == page).expect("row")
    }

    const K4: u64 = 4 << 10;
    const M2: u64 = 2 << 20;

    /// Tables by hand (x86-64 indices 47:39, 38:30, 29:21, 20:12). Code and heap lie below
    /// 1 GiB: PML4[0] -> PDPT[0] -> one PD, with the code's PT at PD[2] and the heap's at PD[3].
    /// The stack 0x7ffd_0000_0000: PML4[0xff] -> its own PDPT, PDPT[0x1f4] -> its own PD, PD[0]
    /// -> its own PT. So 1 PML4 + 2 PDPT + 2 PD + 3 PT = 8 tables = 32 KiB; with 2 MiB pages
    /// the heap is one PD leaf and its PT goes: 7 = 28 KiB. LA57 adds a PML5: 9 and 8. Sv48 has
    /// x86-64's shape, Sv57 LA57's. Sv39 holds only code and heap (the stack is skipped): one
    /// root, one L1 (root[0]), two L0 tables: 4 = 16 KiB, and 3 with the heap a megapage.
    #[test]
    fn table_bytes_of_a_small_layout_match_a_count_by_hand() {
        let rows = compare_walks(&layout(), VirtAddr::new(0x40_0000), Access::Read, Mode::User);
        let expected: [(&str, u64, u64, usize); 10] = [
            ("x86-64", K4, 8, 0),
            ("x86-64", M2, 7, 0),
            ("x86-64-la57", K4, 9, 0),
            ("x86-64-la57", M2, 8, 0),
            ("sv39", K4, 4, 1),
            ("sv39", M2, 3, 1),
            ("sv48", K4, 8, 0),
            ("sv48", M2, 7, 0),
            ("sv57", K4, 9, 0),
            ("sv57", M2, 8, 0),
        ];
        assert_eq!(rows.len(), expected.len());
        for (row, (format, page, tables, skipped)) in rows.iter().zip(expected) {
            assert_eq!((row.format.as_str(), row.page_size), (format, page));
            assert_eq!(row.tables, tables, "{format} {page}");
            assert_eq!(row.table_bytes, tables * 4096, "{format} {page}: 4 KiB tables");
            assert_eq!(row.table_frames, tables, "{format} {page}");
            assert_eq!(row.skipped_regions, skipped, "{format} {page}");
        }
    }

    /// A miss costs one reference per level read: 4-level 4, LA57 5, Sv39 3, Sv48 4, Sv57 5; a
    /// 2 MiB page ends the walk one level early.
    #[test]
    fn references_per_walk_are_one_per_level_and_one_fewer_for_2_mib_pages() {
        let heap = 0x70_0123;
        let rows = compare_walks(&layout(), VirtAddr::new(heap), Access::Write, Mode::User);
        for (format, levels) in [("x86-64", 4), ("x86-64-la57", 5), ("sv39", 3), ("sv48", 4), ("sv57", 5)] {
            let small = by_format(&rows, format, K4);
            let large = by_format(&rows, format, M2);
            assert_eq!((small.levels(), small.refs_per_walk()), (levels, levels), "{format}");
            assert_eq!(large.refs_per_walk(), levels - 1, "{format}: a 2 MiB leaf one level up");
            assert_eq!(small.outcome.id(), "ok", "{format}");
            let FormatOutcome::Mapped { pa, page_size } = large.outcome else { panic!("{format} maps") };
            assert_eq!(page_size, M2);
            assert_eq!(pa.get() % M2, heap % M2, "{format}: the offset within the 2 MiB page is kept");
            assert!(large.steps.last().is_some_and(|s| s.leaf) && !small.steps[0].leaf);
            // Each entry sits at its table + index x 8 (tables are page-aligned frames here).
            for s in small.steps.iter().chain(&large.steps) {
                assert_eq!(s.entry_addr.get() % 4096, s.index * 8, "{format} level {}", s.level);
                assert_eq!(s.index, small.index_bits[s.level].index);
            }
        }
        // The code page is 4 KiB in every row: no level saved there.
        let code = compare_walks(&layout(), VirtAddr::new(0x40_0000), Access::Execute, Mode::User);
        assert_eq!(by_format(&code, "x86-64", M2).refs_per_walk(), 4);
    }

    #[test]
    fn sv39_cannot_represent_a_47_bit_stack_address() {
        let stack = 0x7ffd_0000_1008;
        let rows = compare_walks(&layout(), VirtAddr::new(stack), Access::Read, Mode::User);
        for page in [K4, M2] {
            let sv39 = by_format(&rows, "sv39", page);
            assert_eq!(sv39.outcome, FormatOutcome::NotRepresentable { va_bits: 39 });
            assert_eq!(sv39.refs_per_walk(), 0, "no walk at all");
            assert!(sv39.tables > 0, "the rest of the layout still has tables");
        }
        // Everywhere else the stack's second page is a 4 KiB page: a full walk.
        for row in rows.iter().filter(|r| r.format != "sv39") {
            assert_eq!(row.outcome.id(), "ok", "{}", row.format);
            assert_eq!(row.refs_per_walk(), row.levels(), "{}", row.format);
        }
    }

    #[test]
    fn an_unmapped_address_faults_where_the_walk_stops() {
        // 0x4000_0000 is PDPT[1] of PML4[0]: PML4 and PDPT read, the PDPT entry not present.
        let rows = compare_walks(&layout(), VirtAddr::new(0x4000_0000), Access::Read, Mode::User);
        let x86 = by_format(&rows, "x86-64", K4);
        assert_eq!(x86.refs_per_walk(), 2);
        assert!(
            matches!(&x86.outcome, FormatOutcome::Fault { kind, level: Some(1), .. } if kind == "not-present")
        );
        // Sv39's root indexes 38:30: root[1] is not valid, one reference.
        assert_eq!(by_format(&rows, "sv39", K4).refs_per_walk(), 1);
    }

    #[test]
    fn a_layout_with_nothing_in_a_format_still_walks_its_empty_root() {
        // Only the stack: Sv39 holds none of it, so its lab is a lone root table.
        let only_stack = vec![layout().remove(2)];
        let rows = compare_walks(&only_stack, VirtAddr::new(0x1000), Access::Read, Mode::User);
        let sv39 = by_format(&rows, "sv39", K4);
        assert_eq!((sv39.tables, sv39.table_bytes, sv39.skipped_regions), (1, 4096, 1));
        assert_eq!(sv39.refs_per_walk(), 1);
        assert_eq!(sv39.outcome.id(), "fault");
        // Nothing at all, or regions no layout can hold: rows with reasons, no panic.
        assert!(
            compare_walks(&[], VirtAddr::new(u64::MAX), Access::Read, Mode::User)
                .iter()
                .all(|r| r.refs_per_walk() <= 1)
        );
        let odd = vec![region(u64::MAX - 10, u64::MAX, "rw-", 1), region(5, 3, "r--", 2)];
        assert_eq!(compare_walks(&odd, VirtAddr::new(0), Access::Read, Mode::User).len(), 10);
    }

    #[test]
    fn a_process_of_a_lab_compares_through_its_own_layout() {
        use crate::sim::machine::{MapRequest, MapTarget};
        let mut m = Machine::new(presets::x86_64(4), 64 << 20).expect("machine");
        let flags = Some(vec!["U/S".to_string(), "R/W".to_string()]);
        let request = MapRequest {
            va: VirtAddr::new(0x60_0000),
            len: 2 << 20,
            target: MapTarget::Alloc,
            page_size: Some(M2),
            flags,
        };
        m.map(0, &request).expect("maps");
        let rows =
            compare_process(&m, 0, VirtAddr::new(0x60_0000), Access::Write, Mode::User).expect("process 0");
        assert_eq!(by_format(&rows, "x86-64", M2).refs_per_walk(), 3);
        assert_eq!(by_format(&rows, "x86-64", K4).refs_per_walk(), 4);
        assert!(compare_process(&m, 3, VirtAddr::new(0), Access::Read, Mode::User).is_err(), "no process 3");
    }
}

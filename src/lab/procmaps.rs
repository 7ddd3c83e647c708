//! A real process's layout as a lab: parses `/proc/PID/maps` (or a saved copy) into regions and
//! maps them into a fresh lab of a chosen paging format, so that its page-table size can be
//! compared across formats (4- vs 5-level, 4 KiB vs 2 MiB pages). Contents are not copied: every
//! page gets a fresh, zero frame; rights come from the `rwxp` column.
//!
//! Simplification, said in the lab's description: a region is mapped whole, as if every page had
//! been touched (Linux fills tables lazily). Regions without any right (`---p`, guard pages and
//! reservations) get no entries, as Linux leaves them unpopulated.
//!
//! The other way round, [`regions_of`] reads a lab's process back as regions, so that any lab's
//! layout (an imported one, or one built by hand) can be compared across formats with [`compare`].

use super::file::Lab;
use crate::sim::VirtAddr;
use crate::sim::addr::format_size;
use crate::sim::format::{Arch, PagingFormat, Role};
use crate::sim::machine::{MAX_PAGES_PER_CALL, Machine, MachineError};
use crate::sim::presets;
use crate::sim::size::table_size;
use crate::sim::table;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use thiserror::Error;

/// Granule of `/proc/PID/maps` addresses: Linux maps in 4 KiB pages on every format here.
const MAPS_PAGE: u64 = 4096;

/// One line of a maps file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    /// `s` (shared) rather than `p` (private, copy-on-write).
    pub shared: bool,
    /// Offset into the mapped file.
    pub offset: u64,
    /// The file, `[heap]`, `[stack]`, ... or empty for anonymous memory.
    pub path: String,
    /// Line number in the file (from 1); for a region read from a lab, its number in order.
    pub line: usize,
}

impl Region {
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// `0x400000-0x401000 r-xp /usr/bin/cat`, for messages.
    pub fn summary(&self) -> String {
        let path = if self.path.is_empty() { String::new() } else { format!(" {}", self.path) };
        format!("{:#x}-{:#x} {}{path}", self.start, self.end, self.perms())
    }

    /// The rights as the maps file writes them (`r-xp`).
    pub fn perms(&self) -> String {
        let flag = |on: bool, c: char| if on { c } else { '-' };
        [
            flag(self.read, 'r'),
            flag(self.write, 'w'),
            flag(self.exec, 'x'),
            if self.shared { 's' } else { 'p' },
        ]
        .iter()
        .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ProcMapsError {
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: String },
    #[error("the file holds no region (is it a /proc/PID/maps file?)")]
    Empty,
    #[error("no region fits the {format} address space ({bits}-bit addresses)")]
    NothingMapped { format: String, bits: u32 },
    #[error("{size} pages are not a page size of {format} (it has {available}); choose one of those, or 4k")]
    PageSize { size: String, format: String, available: String },
    #[error("cannot build the lab: {0}")]
    Machine(#[from] MachineError),
    #[error("cannot map the region of line {line} at {va:#x}: {source}")]
    Map { line: usize, va: u64, source: table::TableError },
    #[error("no preset format is named {0:?}")]
    UnknownFormat(String),
    #[error(
        "the layout needs {pages} pages on {format}; at most {max} are built at once (do the tables alias themselves?)"
    )]
    TooManyPages { pages: u64, format: String, max: u64 },
}

fn line_error(line: usize, problem: impl Into<String>) -> ProcMapsError {
    ProcMapsError::Line { line, problem: problem.into() }
}

fn hex(line: usize, what: &str, text: &str) -> Result<u64, ProcMapsError> {
    if text.is_empty() || text.len() > 16 {
        return Err(line_error(line, format!("{what} {text:?} is not a hex number of at most 16 digits")));
    }
    u64::from_str_radix(text, 16)
        .map_err(|_| line_error(line, format!("{what} {text:?} is not a hex number")))
}

/// What follows the first `n` whitespace-separated fields of `text`.
fn after_fields(text: &str, n: usize) -> &str {
    let mut rest = text;
    for _ in 0..n {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest.get(end..).unwrap_or_default();
    }
    rest
}

/// Parses one non-blank line.
fn parse_line(line: usize, text: &str) -> Result<Region, ProcMapsError> {
    let mut fields = text.split_whitespace();
    let mut next = |what: &str| {
        fields.next().ok_or_else(|| {
            line_error(line, format!("missing {what} (expected: start-end perms offset dev inode [path])"))
        })
    };
    let range = next("the address range")?;
    let perms = next("the permissions")?;
    let offset = next("the offset")?;
    let dev = next("the device")?;
    let inode = next("the inode")?;
    let (start, end) = range
        .split_once('-')
        .ok_or_else(|| line_error(line, format!("address range {range:?} is not start-end")))?;
    let (start, end) = (hex(line, "start address", start)?, hex(line, "end address", end)?);
    if start >= end {
        return Err(line_error(line, format!("the range {start:#x}-{end:#x} is empty or reversed")));
    }
    if !start.is_multiple_of(MAPS_PAGE) || !end.is_multiple_of(MAPS_PAGE) {
        return Err(line_error(line, format!("the range {start:#x}-{end:#x} is not 4 KiB aligned")));
    }
    let p: Vec<char> = perms.chars().collect();
    let valid = p.len() == 4
        && matches!(p[0], 'r' | '-')
        && matches!(p[1], 'w' | '-')
        && matches!(p[2], 'x' | '-')
        && matches!(p[3], 'p' | 's');
    if !valid {
        return Err(line_error(
            line,
            format!("permissions {perms:?} are not of the form rwxp (r/w/x or -, then p or s)"),
        ));
    }
    let offset = hex(line, "offset", offset)?;
    let dev_ok = dev.split_once(':').is_some_and(|(major, minor)| {
        !major.is_empty()
            && !minor.is_empty()
            && major.chars().chain(minor.chars()).all(|c| c.is_ascii_hexdigit())
    });
    if !dev_ok {
        return Err(line_error(line, format!("device {dev:?} is not major:minor in hex")));
    }
    if inode.parse::<u64>().is_err() {
        return Err(line_error(line, format!("inode {inode:?} is not a decimal number")));
    }
    // The path is the rest of the line after the inode, spaces included.
    let path = after_fields(text, 5).trim().to_string();
    Ok(Region {
        start,
        end,
        read: p[0] == 'r',
        write: p[1] == 'w',
        exec: p[2] == 'x',
        shared: p[3] == 's',
        offset,
        path,
        line,
    })
}

/// Parses a maps file: one region a line, in increasing address order, not overlapping. Blank
/// lines and `#` comments (for hand-written files) are skipped. Any other malformed line is
/// refused with its number.
pub fn parse(text: &str) -> Result<Vec<Region>, ProcMapsError> {
    let mut regions: Vec<Region> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let region = parse_line(line, trimmed)?;
        if let Some(previous) = regions.last()
            && region.start < previous.end
        {
            return Err(line_error(
                line,
                format!(
                    "the range {:#x}-{:#x} overlaps or precedes the one on line {} ({:#x}-{:#x})",
                    region.start, region.end, previous.line, previous.start, previous.end
                ),
            ));
        }
        regions.push(region);
    }
    if regions.is_empty() {
        return Err(ProcMapsError::Empty);
    }
    Ok(regions)
}

/// Why a region got no entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// `---p`: no right at all.
    NoAccess,
    /// Beyond the format's virtual address space (e.g. a 47-bit stack in Sv39).
    OutOfRange,
    /// No byte in it: its end is not above its start (only a region made by hand, not parsed).
    Empty,
}

impl SkipReason {
    pub fn describe(&self) -> &'static str {
        match self {
            SkipReason::NoAccess => "no access rights (Linux leaves such pages unpopulated)",
            SkipReason::OutOfRange => "outside the format's virtual address space",
            SkipReason::Empty => "an empty range",
        }
    }
}

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    pub regions: usize,
    pub mapped_regions: usize,
    pub skipped: Vec<(Region, SkipReason)>,
    /// Pages mapped, by page size in bytes (sorted).
    pub pages_by_size: BTreeMap<u64, u64>,
    pub mapped_bytes: u64,
}

/// Pages mapped by size, as one phrase: "13 x 4 KiB, 1 x 2 MiB".
pub fn pages_summary(pages_by_size: &BTreeMap<u64, u64>) -> String {
    pages_by_size
        .iter()
        .map(|(size, count)| format!("{count} x {}", format_size(*size)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The leaf flags for a region in `format`, by role rather than by name so every preset works.
fn region_flags(format: &PagingFormat, region: &Region) -> Vec<String> {
    let name_of = |role: Role| format.fields.iter().find(|f| f.role == role).map(|f| f.name.clone());
    let managed = [Role::Writable, Role::User, Role::Readable, Role::Executable, Role::NoExecute];
    // Keep the format's other default bits (RISC-V A and D, so Svade does not fault).
    let mut flags: Vec<String> = format
        .default_leaf_flags
        .iter()
        .filter(|name| format.field_by_name(name).is_none_or(|f| !managed.contains(&f.role)))
        .cloned()
        .collect();
    let riscv = format.arch == Arch::RiscV;
    // RISC-V reserves W without R; Linux never makes such a page readable-less anyway.
    let read = region.read || (riscv && region.write);
    let wanted = [
        (Role::User, true),
        (Role::Writable, region.write),
        (Role::Readable, read),
        (Role::Executable, region.exec),
        (Role::NoExecute, !region.exec),
    ];
    flags.extend(wanted.into_iter().filter(|(_, on)| *on).filter_map(|(role, _)| name_of(role)));
    flags
}

/// Splits `[start, end)` into runs of equal page size, largest size first where alignment and
/// length allow: `sizes` are page shifts in decreasing order, the last one the base page.
pub(crate) fn page_runs(start: u64, end: u64, shifts: &[u32]) -> Vec<(u64, u32, u64)> {
    let mut runs: Vec<(u64, u32, u64)> = Vec::new();
    let mut va = start;
    while va < end {
        let Some(&shift) = shifts
            .iter()
            .find(|&&s| va.trailing_zeros() >= s && end.checked_sub(va).is_some_and(|left| left >> s > 0))
            .or(shifts.last())
        else {
            break;
        };
        let size = 1u64 << shift;
        match runs.last_mut() {
            Some((run_va, run_shift, count)) if *run_shift == shift && *run_va + (*count << shift) == va => {
                *count += 1;
            }
            _ => runs.push((va, shift, 1)),
        }
        let Some(next) = va.checked_add(size) else { break };
        va = next;
    }
    runs
}

/// The page shifts to use, largest first: every page size of the format up to `max_page`.
fn usable_shifts(format: &PagingFormat, max_page: u64) -> Result<Vec<u32>, ProcMapsError> {
    let sizes = format.page_sizes();
    let base = format.page_size();
    if max_page != base && !sizes.iter().any(|&(_, s)| 1u64 << s == max_page) {
        return Err(ProcMapsError::PageSize {
            size: format_size(max_page),
            format: format.name.clone(),
            available: sizes.iter().map(|&(_, s)| format_size(1u64 << s)).collect::<Vec<_>>().join(", "),
        });
    }
    let mut shifts: Vec<u32> =
        sizes.iter().map(|&(_, s)| s).filter(|&s| 1u64 << s <= max_page.max(base)).collect();
    shifts.sort_unstable_by(|a, b| b.cmp(a));
    shifts.dedup();
    Ok(shifts)
}

/// Physical memory for the import: the data pages, a generous bound on the tables and room for
/// aligning large pages, rounded to the largest page. Memory is sparse, so generosity is free.
fn memory_for(format: &PagingFormat, regions: &[&Region], largest_shift: u32) -> u64 {
    let page = format.page_size();
    let largest = 1u64 << largest_shift;
    let data: u64 = regions.iter().map(|r| r.len().next_multiple_of(page)).fold(0, u64::saturating_add);
    let mut table_frames = format.table_frames(0);
    for level in 1..format.levels.len() {
        let covered = format.entry_span_shift(level) + format.levels[level].index_bits;
        let per_region: u64 = regions
            .iter()
            .map(|r| (r.len() >> covered.min(63)).saturating_add(2))
            .fold(0, u64::saturating_add);
        table_frames = table_frames.saturating_add(per_region.saturating_mul(format.table_frames(level)));
    }
    let slack = largest.saturating_mul(u64::try_from(regions.len()).unwrap_or(u64::MAX).saturating_add(2));
    data.saturating_add(table_frames.saturating_mul(page))
        .saturating_add(slack)
        .saturating_add(1 << 20)
        .next_multiple_of(largest.max(page))
}

/// Builds a lab with `regions` mapped in one process for `format`, using pages up to `max_page`
/// bytes where alignment allows (the base page elsewhere).
pub fn build_lab(
    regions: &[Region],
    format: PagingFormat,
    max_page: u64,
    source: &str,
) -> Result<(Lab, ImportSummary), ProcMapsError> {
    let shifts = usable_shifts(&format, max_page)?;
    let base_shift = format.page_shift;
    let mut skipped = Vec::new();
    let mut kept = Vec::new();
    for region in regions {
        let last = region.end.saturating_sub(1);
        // An end that cannot be rounded up to a page lies past the top of every address space.
        let end_fits = region.end.checked_next_multiple_of(format.page_size()).is_some();
        if region.is_empty() {
            skipped.push((region.clone(), SkipReason::Empty));
        } else if !(region.read || region.write || region.exec) {
            skipped.push((region.clone(), SkipReason::NoAccess));
        } else if !format.va_in_range(region.start) || !format.va_in_range(last) || !end_fits {
            skipped.push((region.clone(), SkipReason::OutOfRange));
        } else {
            kept.push(region);
        }
    }
    if kept.is_empty() {
        return Err(ProcMapsError::NothingMapped { format: format.name.clone(), bits: format.va_bits });
    }
    // Refuse up front what would take minutes and gigabytes: a lab whose tables alias
    // themselves reads back as regions of many terabytes.
    let page = format.page_size();
    let pages = kept
        .iter()
        .filter_map(|r| Some((r.start - r.start % page, r.end.checked_next_multiple_of(page)?)))
        .flat_map(|(start, end)| page_runs(start, end, &shifts))
        .fold(0u64, |sum, (_, _, count)| sum.saturating_add(count));
    if pages > MAX_PAGES_PER_CALL {
        return Err(ProcMapsError::TooManyPages {
            pages,
            format: format.name.clone(),
            max: MAX_PAGES_PER_CALL,
        });
    }
    let largest_shift = shifts.first().copied().unwrap_or(base_shift);
    let mem_size = memory_for(&format, &kept, largest_shift);
    let mut machine = Machine::new(format, mem_size)?;
    let process_name = process_name(regions);
    machine.rename_process(0, &process_name)?;
    let root = machine.active_process().root;
    let mut pages_by_size = BTreeMap::new();
    let mut mapped_bytes = 0u64;
    for region in &kept {
        let flags = region_flags(machine.format(), region);
        let page = machine.format().page_size();
        let start = region.start - region.start % page;
        let Some(end) = region.end.checked_next_multiple_of(page) else { continue };
        for (va, shift, count) in page_runs(start, end, &shifts) {
            let Some(level) = machine.format().level_for_page_shift(shift) else { continue };
            let leaf = table::leaf_bits(machine.format(), level, &flags)
                .map_err(|source| ProcMapsError::Map { line: region.line, va, source })?;
            let frames = 1u64 << (shift - base_shift);
            for i in 0..count {
                let page_va = va + (i << shift);
                let map = |m: &mut Machine| -> Result<(), table::TableError> {
                    let frame = m.alloc_frames(frames, frames)?;
                    m.map_page_raw(root, VirtAddr::new(page_va), level, frame, leaf)
                };
                map(&mut machine).map_err(|source| ProcMapsError::Map {
                    line: region.line,
                    va: page_va,
                    source,
                })?;
            }
            *pages_by_size.entry(1u64 << shift).or_insert(0) += count;
            mapped_bytes = mapped_bytes.saturating_add(count << shift);
        }
    }
    let summary = ImportSummary {
        regions: regions.len(),
        mapped_regions: kept.len(),
        skipped,
        pages_by_size,
        mapped_bytes,
    };
    let title = format!("Layout of {process_name} on {}", machine.format().name);
    let description = describe(&summary, source, &machine.format().name, max_page);
    Ok((Lab::new(&title, &description, machine), summary))
}

/// The program's name: the last component of the first executable file-backed region.
fn process_name(regions: &[Region]) -> String {
    regions
        .iter()
        .find(|r| r.exec && r.path.starts_with('/'))
        .or_else(|| regions.iter().find(|r| r.path.starts_with('/')))
        .and_then(|r| r.path.rsplit('/').next())
        .map(|name| name.trim_end_matches(" (deleted)").to_string())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "process".into())
}

fn describe(summary: &ImportSummary, source: &str, format: &str, max_page: u64) -> String {
    let mut text = format!(
        "Imported from {source}: {} of {} regions mapped for {format} with pages up to {}.\n\n\
         Each region is mapped whole with fresh, zero frames (contents are not copied), as if every \
         page had been touched; Linux fills tables lazily, so a real process may use fewer.\n\n",
        summary.mapped_regions,
        summary.regions,
        format_size(max_page)
    );
    for (size, count) in &summary.pages_by_size {
        let _ = writeln!(text, "- {count} page(s) of {}", format_size(*size));
    }
    for (region, reason) in &summary.skipped {
        let _ =
            writeln!(text, "- skipped line {} ({}): {}", region.line, region.summary(), reason.describe());
    }
    text
}

/// Rights of a leaf as a maps file would write them, from its bits by role: a format without a
/// read bit reads whatever is present, one without an execute bit executes unless NX is set.
/// Only the leaf counts (an x86 walk also combines the upper levels' bits, which pagelab's own
/// mapping leaves permissive).
fn leaf_rights(format: &PagingFormat, raw: u64, level: usize) -> (bool, bool, bool) {
    let read = format.flag(raw, Role::Readable, level, true);
    let write = format.flag(raw, Role::Writable, level, true);
    let no_execute = format.flag(raw, Role::NoExecute, level, false);
    let exec = format.flag(raw, Role::Executable, level, !no_execute);
    (read, write, exec)
}

/// The mapped layout of `process`, as the regions a maps file would list: its present leaves in
/// address order, address-contiguous leaves with equal rights merged into one region (whatever
/// their page sizes). Paths are empty, regions private, and `line` numbers the regions from 1 so
/// that messages can name them. A page ending at the very top of the address space, which no
/// maps file can write, is left out.
pub fn regions_of(machine: &Machine, process: usize) -> Result<Vec<Region>, ProcMapsError> {
    let root = machine
        .processes()
        .get(process)
        .ok_or_else(|| MachineError::NoSuchProcess(process.to_string()))?
        .root;
    let format = machine.format();
    let mut regions: Vec<Region> = Vec::new();
    for leaf in table::leaves(machine.mem(), format, root) {
        let Some(end) = 1u64.checked_shl(leaf.page_shift).and_then(|size| leaf.va.get().checked_add(size))
        else {
            continue;
        };
        let (read, write, exec) = leaf_rights(format, leaf.entry.raw, leaf.level);
        match regions.last_mut() {
            Some(last)
                if last.end == leaf.va.get() && (last.read, last.write, last.exec) == (read, write, exec) =>
            {
                last.end = end;
            }
            _ => {
                let line = regions.len() + 1;
                let path = String::new();
                regions.push(Region {
                    start: leaf.va.get(),
                    end,
                    read,
                    write,
                    exec,
                    shared: false,
                    offset: 0,
                    path,
                    line,
                });
            }
        }
    }
    Ok(regions)
}

/// The formats and largest page sizes a [`compare`] reports, in this order: 4- and 5-level x86-64
/// first, then the RISC-V formats, each with 4 KiB and 2 MiB pages.
pub const COMPARED: [(&str, u64); 10] = [
    ("x86-64", 4 << 10),
    ("x86-64", 2 << 20),
    ("x86-64-la57", 4 << 10),
    ("x86-64-la57", 2 << 20),
    ("sv39", 4 << 10),
    ("sv39", 2 << 20),
    ("sv48", 4 << 10),
    ("sv48", 2 << 20),
    ("sv57", 4 << 10),
    ("sv57", 2 << 20),
];

/// What one layout's tables take in one format of a [`compare`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComparisonRow {
    /// The preset's name (`x86-64-la57`).
    pub format: String,
    /// Largest page size, used where a region's alignment allows.
    pub max_page: u64,
    /// Bytes a linear table for the format's whole address space would take.
    pub linear_bytes: u128,
    /// The tables, or why the layout could not be built in this format.
    pub outcome: Result<RowSize, ProcMapsError>,
}

/// The page tables of a layout built in one format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowSize {
    /// Pages mapped, by page size in bytes.
    pub pages_by_size: BTreeMap<u64, u64>,
    pub tables: u64,
    /// Bytes of the tables themselves.
    pub bytes: u64,
    /// Regions left out because they lie beyond the format's address space.
    pub skipped_regions: usize,
}

/// The page-table size of `regions` in every format of [`COMPARED`], in that order: each row
/// builds a lab of its own. A format that cannot take the layout gets its error in its row.
pub fn compare(regions: &[Region], source: &str) -> Vec<ComparisonRow> {
    COMPARED.iter().map(|&(name, max_page)| compare_one(regions, name, max_page, source)).collect()
}

fn compare_one(regions: &[Region], name: &str, max_page: u64, source: &str) -> ComparisonRow {
    let Some(format) = presets::by_name(name) else {
        let outcome = Err(ProcMapsError::UnknownFormat(name.to_string()));
        return ComparisonRow { format: name.to_string(), max_page, linear_bytes: 0, outcome };
    };
    let linear_bytes = format.linear_table_bytes();
    let outcome = build_lab(regions, format, max_page, source).map(|(lab, summary)| {
        let m = &lab.machine;
        let size = table_size(m.mem(), m.format(), m.active_process().root);
        let skipped_regions =
            summary.skipped.iter().filter(|(_, why)| *why == SkipReason::OutOfRange).count();
        RowSize {
            pages_by_size: summary.pages_by_size,
            tables: size.tables,
            bytes: size.bytes,
            skipped_regions,
        }
    });
    ComparisonRow { format: name.to_string(), max_page, linear_bytes, outcome }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::presets;

    const SAMPLE: &str = "\
00400000-00401000 r-xp 00000000 08:01 1234                               /usr/bin/cat
00600000-00800000 rw-p 00000000 00:00 0                                  [heap]
7ffd0000-7ffd2000 rw-p 00000000 00:00 0                                  [stack]
7ffe0000-7ffe1000 ---p 00000000 00:00 0
";

    #[test]
    fn parses_every_column_and_keeps_spaces_in_paths() {
        let regions = parse("00400000-00452000 r-xs 0001f000 fd:01 173521   /opt/my app/bin (deleted)\n")
            .expect("parses");
        let r = &regions[0];
        assert_eq!((r.start, r.end, r.offset), (0x40_0000, 0x45_2000, 0x1f000));
        assert!(r.read && !r.write && r.exec && r.shared);
        assert_eq!(r.path, "/opt/my app/bin (deleted)");
        assert_eq!(r.perms(), "r-xs");
        // Anonymous memory: inode 0, which also appears in the addresses; no path.
        let anon = parse("7f4090318000-7f4090319000 rw-p 00000000 00:00 0 \n").expect("parses");
        assert_eq!(anon[0].path, "");
        let stack = parse("7ffd0000-7ffd2000 rw-p 00000000 00:00 0      [stack]\n").expect("parses");
        assert_eq!(stack[0].path, "[stack]");
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        let cases = [
            ("00400000 r-xp 0 08:01 1\n", "not start-end"),
            ("00401000-00400000 r-xp 0 08:01 1\n", "empty or reversed"),
            ("00400000-00401000 rwzp 0 08:01 1\n", "permissions"),
            ("00400000-00401000 r-xp 0 0801 1\n", "device"),
            ("00400000-00401000 r-xp 0 08:01 x\n", "inode"),
            ("00400000-00401000 r-xp\n", "missing the offset"),
            ("00400000-00400800 r-xp 0 08:01 1\n", "not 4 KiB aligned"),
            ("0040000g-00401000 r-xp 0 08:01 1\n", "not a hex number"),
        ];
        for (text, expected) in cases {
            let with_good_first = format!("00001000-00002000 r--p 0 08:01 1\n\n{text}");
            let err = parse(&with_good_first).expect_err(text).to_string();
            assert!(err.starts_with("line 3: "), "{err}");
            assert!(err.contains(expected), "{text}: {err}");
        }
        let err = parse("00400000-00402000 r-xp 0 08:01 1\n00401000-00403000 r-xp 0 08:01 1\n")
            .expect_err("overlap")
            .to_string();
        assert!(err.starts_with("line 2: ") && err.contains("line 1"), "{err}");
        assert_eq!(parse("\n# nothing\n"), Err(ProcMapsError::Empty));
    }

    #[test]
    fn runs_use_large_pages_only_where_aligned() {
        let shifts = [21, 12];
        // 0x1ff000..0x601000: one 4K head page, two 2M pages, one 4K tail page.
        let runs = page_runs(0x1f_f000, 0x60_1000, &shifts);
        assert_eq!(runs, vec![(0x1f_f000, 12, 1), (0x20_0000, 21, 2), (0x60_0000, 12, 1)]);
        assert_eq!(page_runs(0x20_0000, 0x20_3000, &shifts), vec![(0x20_0000, 12, 3)]);
    }

    #[test]
    fn flags_follow_rights_on_each_architecture() {
        let region = parse(SAMPLE).expect("parses").remove(0);
        let x86 = region_flags(&presets::x86_64(4), &region);
        assert_eq!(x86, vec!["U/S".to_string()], "read-only, executable: no R/W, no NX");
        let heap = parse(SAMPLE).expect("parses").remove(1);
        assert_eq!(region_flags(&presets::x86_64(4), &heap), vec!["U/S", "R/W", "NX"]);
        assert_eq!(region_flags(&presets::riscv(3), &heap), vec!["A", "D", "U", "W", "R"]);
    }

    #[test]
    fn a_small_layout_maps_every_region_with_its_rights() {
        let regions = parse(SAMPLE).expect("parses");
        let (lab, summary) = build_lab(&regions, presets::x86_64(4), 4096, "test").expect("builds");
        assert_eq!(summary.mapped_regions, 3);
        assert_eq!(summary.skipped.len(), 1);
        assert_eq!(summary.pages_by_size.get(&4096), Some(&(1 + 512 + 2)));
        let m = &lab.machine;
        assert_eq!(m.active_process().name, "cat");
        use crate::sim::{Access, Mode};
        let code = m.translate(0, VirtAddr::new(0x40_0000), Access::Execute, Mode::User).expect("process");
        assert!(code.fault().is_none());
        let write_code =
            m.translate(0, VirtAddr::new(0x40_0000), Access::Write, Mode::User).expect("process");
        assert!(write_code.fault().is_some());
        let guard = m.translate(0, VirtAddr::new(0x7ffe_0000), Access::Read, Mode::User).expect("process");
        assert!(guard.fault().is_some(), "---p gets no entry");
    }

    #[test]
    fn sv39_skips_what_lies_beyond_39_bits_and_refuses_foreign_page_sizes() {
        let text =
            "00400000-00401000 r-xp 0 08:01 1 /bin/x\n7ffd00000000-7ffd00001000 rw-p 0 00:00 0 [stack]\n";
        let regions = parse(text).expect("parses");
        let (_, summary) = build_lab(&regions, presets::riscv(3), 4096, "t").expect("builds");
        assert_eq!(summary.skipped, vec![(regions[1].clone(), SkipReason::OutOfRange)]);
        let err = build_lab(&regions, presets::x86_32(), 2 << 20, "t").expect_err("x86-32 has 4 MiB pages");
        assert!(err.to_string().contains("4 MiB"), "{err}");
    }

    fn region(start: u64, end: u64, perms: &str, line: usize) -> Region {
        let has = |c: char| perms.contains(c);
        let (read, write, exec) = (has('r'), has('w'), has('x'));
        Region { start, end, read, write, exec, shared: false, offset: 0, path: String::new(), line }
    }

    #[test]
    fn regions_of_merges_contiguous_leaves_with_equal_rights_and_splits_where_they_change() {
        use crate::sim::machine::{MapRequest, MapTarget};
        let mut m = Machine::new(presets::x86_64(4), 64 << 20).expect("machine");
        let maps: [(u64, u64, u64, &[&str]); 5] = [
            // A 2 MiB code page and two 4 KiB ones after it: one r-x region across page sizes.
            (0x20_0000, 2 << 20, 2 << 20, &["U/S"]),
            (0x40_0000, 0x2000, 4096, &["U/S"]),
            // Data right after the code: same addresses run on, the rights change.
            (0x40_2000, 0x1000, 4096, &["U/S", "R/W", "NX"]),
            (0x40_3000, 0x1000, 4096, &["U/S", "R/W", "NX"]),
            // After a gap: a region of its own although its rights equal the data's.
            (0x60_0000, 0x1000, 4096, &["U/S", "R/W", "NX"]),
        ];
        for (va, len, page, flags) in maps {
            let flags = Some(flags.iter().map(|f| f.to_string()).collect());
            let request = MapRequest {
                va: VirtAddr::new(va),
                len,
                target: MapTarget::Alloc,
                page_size: Some(page),
                flags,
            };
            m.map(0, &request).expect("maps");
        }
        let regions = regions_of(&m, 0).expect("process 0");
        assert_eq!(
            regions,
            vec![
                region(0x20_0000, 0x40_2000, "r-x", 1),
                region(0x40_2000, 0x40_4000, "rw-", 2),
                region(0x60_0000, 0x60_1000, "rw-", 3),
            ]
        );
        assert!(regions_of(&m, 1).is_err(), "no second process");
    }

    #[test]
    fn regions_of_reads_riscv_rights_from_their_own_bits() {
        let regions = parse(SAMPLE).expect("parses");
        let (lab, _) = build_lab(&regions, presets::riscv(4), 4096, "t").expect("builds");
        let perms: Vec<String> =
            regions_of(&lab.machine, 0).expect("process").iter().map(Region::perms).collect();
        assert_eq!(perms, ["r-xp", "rw-p", "rw-p"]);
    }

    /// Tables for SAMPLE's mapped regions (code 0x400000, heap 0x600000-0x800000, stack
    /// 0x7ffd0000-0x7ffd2000), counted by hand with x86-64's indices PML4 47:39, PDPT 38:30, PD
    /// 29:21, PT 20:12: every address is below 512 GiB, so one PML4 and one PDPT (PML4[0]). The
    /// stack is 1.999 GiB up: PDPT[1], while code and heap are in PDPT[0], so two PDs. PTs: the
    /// code's (PD[2] of the low PD), the heap's (PD[3]) and the stack's (PD[511] of the other):
    /// 1 + 1 + 2 + 3 = 7. With 2 MiB pages the aligned heap is one PD[3] leaf: no PT, 6. LA57
    /// adds one PML5 on top; Sv48 has x86-64's shape, Sv57 LA57's; Sv39 has no PML4 level.
    #[test]
    fn the_comparison_counts_tables_by_hand_for_a_small_layout() {
        let rows = compare(&parse(SAMPLE).expect("parses"), "t");
        let formats: Vec<(&str, u64)> = rows.iter().map(|r| (r.format.as_str(), r.max_page)).collect();
        assert_eq!(formats, COMPARED.to_vec());
        let tables: Vec<u64> = rows.iter().map(|r| r.outcome.as_ref().map_or(0, |s| s.tables)).collect();
        assert_eq!(tables, vec![7, 6, 8, 7, 6, 5, 7, 6, 8, 7]);
        for row in &rows {
            let size = row.outcome.as_ref().expect("every format takes the layout");
            assert_eq!(size.bytes, size.tables * 4096, "{}", row.format);
            assert_eq!(size.skipped_regions, 0, "the ---p guard is not out of range");
            let expected: Vec<(u64, u64)> =
                if row.max_page == 4096 { vec![(4096, 515)] } else { vec![(4096, 3), (2 << 20, 1)] };
            assert_eq!(
                size.pages_by_size.clone().into_iter().collect::<Vec<_>>(),
                expected,
                "{}",
                row.format
            );
        }
        assert_eq!(rows[0].linear_bytes, 8 << 36, "2^36 entries of 8 bytes");
        // The 2 MiB heap is a PD leaf: a walk stops at the third level, and one PT fewer.
        let (lab, _) =
            build_lab(&parse(SAMPLE).expect("parses"), presets::x86_64(4), 2 << 20, "t").expect("builds");
        let m = &lab.machine;
        use crate::sim::{Access, Mode};
        let heap = m.translate(0, VirtAddr::new(0x70_0000), Access::Write, Mode::User).expect("process");
        assert!(heap.fault().is_none());
        assert_eq!(heap.steps.len(), 3, "PML4, PDPT, PD leaf");
        let levels: Vec<u64> = m.table_size(0).expect("size").levels.iter().map(|l| l.tables).collect();
        assert_eq!(levels, vec![1, 1, 2, 2]);
    }

    #[test]
    fn an_imported_lab_compares_like_the_maps_file_it_came_from() {
        let regions = parse(SAMPLE).expect("parses");
        let from_file = compare(&regions, "maps");
        for (format, page) in [("x86-64", 4096), ("x86-64", 2 << 20), ("sv39", 4096)] {
            let format = presets::by_name(format).expect("preset");
            let (lab, _) = build_lab(&regions, format, page, "maps").expect("builds");
            let read_back = regions_of(&lab.machine, 0).expect("process");
            assert_eq!(read_back.len(), 3, "the ---p guard has no entries");
            assert_eq!(compare(&read_back, "lab"), from_file);
        }
    }

    #[test]
    fn rows_say_why_a_format_cannot_take_the_layout() {
        // Only a 47-bit stack: beyond Sv39, within the others.
        let regions = vec![region(0x7ffd_0000_0000, 0x7ffd_0000_2000, "rw-", 1)];
        let rows = compare(&regions, "t");
        let sv39: Vec<&ComparisonRow> = rows.iter().filter(|r| r.format == "sv39").collect();
        assert_eq!(sv39.len(), 2);
        for row in sv39 {
            let err = row.outcome.as_ref().expect_err("nothing fits 39 bits").to_string();
            assert!(err.contains("no region fits the sv39 address space"), "{err}");
        }
        assert!(rows.iter().filter(|r| r.format != "sv39").all(|r| r.outcome.is_ok()));
        // A region Sv39 cannot hold beside one it can: counted as skipped.
        let two = vec![region(0x40_0000, 0x40_1000, "r-x", 1), regions[0].clone()];
        let sv39_4k = &compare(&two, "t")[4];
        assert_eq!(sv39_4k.outcome.as_ref().map(|s| s.skipped_regions), Ok(1));
        // Nothing at all, and regions no maps file could hold: errors, no panic.
        assert!(compare(&[], "t").iter().all(|r| r.outcome.is_err()));
        let odd = vec![region(u64::MAX - 10, u64::MAX, "rw-", 1), region(5, 3, "r--", 2)];
        assert!(compare(&odd, "t").iter().all(|r| r.outcome.is_err()));
    }
}

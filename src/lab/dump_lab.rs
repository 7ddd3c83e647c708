//! Builds an x86-64 lab from the mappings a kernel dump lists (Linux's ptdump, QEMU's `info
//! mem` and `info tlb`): each range mapped with its page size and rights, onto the physical
//! addresses the dump gives (`info tlb`) or onto fresh frames (the others carry none). What cannot be represented is listed with the reason, never dropped
//! silently, and the total is capped so a dump of a terabyte direct map stays a small lab.

use super::file::Lab;
use crate::sim::Machine;
use crate::sim::addr::format_size;
use crate::sim::machine::MachineError;
use crate::sim::mem::PhysMem;
use crate::sim::mmu::MmuSettings;
use crate::sim::presets;
use crate::sim::process::Process;
use crate::sim::table;
use crate::sim::{Pfn, PhysAddr, VirtAddr};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use thiserror::Error;

/// Most bytes an import maps: a kernel's direct map can describe terabytes. Frames are sparse, so
/// the bytes cost nothing, but the page tables for them do.
pub const MAX_MAPPED_BYTES: u64 = 64 << 30;

/// Most pages an import maps (64 GiB of 1 GiB pages is few; of 4 KiB pages, 8 MiB of tables).
pub const MAX_PAGES: u64 = 1 << 20;

/// One range to map with one page size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Line of the dump it comes from.
    pub line: usize,
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    pub page_shift: u32,
    /// Leaf flags by the x86-64 format's names (`U/S`, `R/W`, `NX`, `G`, `PCD`, `PWT`).
    pub flags: Vec<String>,
    /// Physical address of `start`, when the dump gives it; fresh frames otherwise.
    pub pa: Option<PhysAddr>,
}

impl Mapping {
    pub fn pages(&self) -> u64 {
        self.end.saturating_sub(self.start).checked_shr(self.page_shift).unwrap_or(0)
    }
}

/// A range left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub line: usize,
    pub start: u64,
    pub end: u64,
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {:#x}-{:#x}: {}", self.line, self.start, self.end, self.reason)
    }
}

/// What a build did.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DumpSummary {
    pub mapped_ranges: usize,
    pub skipped: Vec<Skipped>,
    /// Pages mapped, by page size in bytes.
    pub pages_by_size: BTreeMap<u64, u64>,
    pub mapped_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DumpLabError {
    #[error("no range could be mapped ({0} skipped)")]
    NothingMapped(usize),
    #[error("cannot build the lab: {0}")]
    Machine(#[from] MachineError),
    #[error("line {line}: cannot map {va:#x}: {source}")]
    Map { line: usize, va: u64, source: table::TableError },
}

/// Why `mapping` cannot be built in x86-64 4-level paging, if it cannot.
fn unrepresentable(mapping: &Mapping) -> Option<String> {
    let format = presets::x86_64(4);
    let size = 1u64.checked_shl(mapping.page_shift).unwrap_or(0);
    if format.level_for_page_shift(mapping.page_shift).is_none() {
        return Some(format!("{} pages do not exist in x86-64", format_size(size)));
    }
    if mapping.end <= mapping.start {
        return Some("an empty range".into());
    }
    if !mapping.start.is_multiple_of(size) || !mapping.end.is_multiple_of(size) {
        return Some(format!("not aligned to its {} pages", format_size(size)));
    }
    let last = mapping.end - 1;
    if !format.va_in_range(mapping.start) || !format.va_in_range(last) || (mapping.start ^ last) >> 47 != 0 {
        return Some("not canonical in 48-bit x86-64 addresses".into());
    }
    if let Some(pa) = mapping.pa.map(PhysAddr::get) {
        if !pa.is_multiple_of(size) {
            return Some(format!("physical address {pa:#x} not aligned to its {} page", format_size(size)));
        }
        if pa.checked_add(mapping.end - mapping.start).is_none_or(|end| end > MAX_MAPPED_BYTES) {
            return Some(format!(
                "physical address {pa:#x} beyond the import limit of {}",
                format_size(MAX_MAPPED_BYTES)
            ));
        }
    }
    None
}

/// Maps `mappings` in order into a fresh x86-64 lab, skipping (and listing) what x86-64 cannot
/// represent and what would pass [`MAX_MAPPED_BYTES`] or [`MAX_PAGES`]. `describe` is the lab's
/// description before the list of pages and skips.
pub fn build_lab(
    mappings: &[Mapping],
    title: &str,
    describe: &str,
) -> Result<(Lab, DumpSummary), DumpLabError> {
    let mut summary = DumpSummary::default();
    let mut kept: Vec<&Mapping> = Vec::new();
    let mut pages = 0u64;
    for m in mappings {
        let reason = unrepresentable(m).or_else(|| {
            let bytes = m.end - m.start;
            let over = summary.mapped_bytes.saturating_add(bytes) > MAX_MAPPED_BYTES
                || pages.saturating_add(m.pages()) > MAX_PAGES;
            over.then(|| {
                format!(
                    "beyond the import limit of {} or {} pages in all",
                    format_size(MAX_MAPPED_BYTES),
                    MAX_PAGES
                )
            })
        });
        match reason {
            Some(reason) => {
                summary.skipped.push(Skipped { line: m.line, start: m.start, end: m.end, reason })
            }
            None => {
                summary.mapped_bytes += m.end - m.start;
                pages += m.pages();
                *summary.pages_by_size.entry(1u64 << m.page_shift).or_insert(0) += m.pages();
                kept.push(m);
            }
        }
    }
    if kept.is_empty() {
        return Err(DumpLabError::NothingMapped(summary.skipped.len()));
    }
    summary.mapped_ranges = kept.len();
    // Tables: at most one PT per 2 MiB, PD per 1 GiB, PDPT per 512 GiB of each range, plus the
    // partial ones at its ends. Pages of one size are allocated as one aligned run, largest first,
    // so alignment wastes at most one 1 GiB and one 2 MiB gap.
    let tables: u64 = kept.iter().map(|m| ((m.end - m.start) >> 21) + ((m.end - m.start) >> 30) + 6).sum();
    // Pages at given addresses sit where they say; fresh ones after them.
    let given_top =
        kept.iter().filter_map(|m| m.pa.map(|pa| pa.get() + (m.end - m.start))).max().unwrap_or(0);
    let memory = given_top + summary.mapped_bytes + (1 << 30) + (2 << 20) + (tables + 1) * 4096 + (1 << 20);
    let format = presets::x86_64(4);
    let mut mem =
        PhysMem::new(memory.next_multiple_of(2 << 20), format.page_shift).map_err(MachineError::from)?;
    // Pages at given addresses are reserved before the root table is placed, so that no table
    // lands in a page (shared pages are reserved once).
    for m in &kept {
        if let Some(pa) = m.pa {
            mem.reserve_range(pa.pfn(12), (m.end - m.start) >> 12).map_err(MachineError::from)?;
        }
    }
    let root = mem.alloc(format.table_frames(0)).map_err(MachineError::from)?;
    let process = Process { name: "kernel".into(), root, asid: 1 };
    let mut machine = Machine::from_parts(format, mem, vec![process], 0, MmuSettings::default())?;
    let mut fresh_pages: BTreeMap<u64, u64> = BTreeMap::new();
    for m in kept.iter().filter(|m| m.pa.is_none()) {
        *fresh_pages.entry(1u64 << m.page_shift).or_insert(0) += m.pages();
    }
    let mut next_frame: BTreeMap<u32, u64> = BTreeMap::new();
    for (&size, &count) in fresh_pages.iter().rev() {
        let frames_per_page = size >> 12;
        let first = machine
            .alloc_frames(count * frames_per_page, frames_per_page)
            .map_err(|e| DumpLabError::Machine(e.into()))?;
        next_frame.insert(size.trailing_zeros(), first.get());
    }
    for m in kept {
        let format = machine.format();
        let Some(level) = format.level_for_page_shift(m.page_shift) else { continue };
        let leaf = table::leaf_bits(format, level, &m.flags).map_err(|source| DumpLabError::Map {
            line: m.line,
            va: m.start,
            source,
        })?;
        for i in 0..m.pages() {
            let va = m.start + (i << m.page_shift);
            let frame = match m.pa {
                Some(pa) => (pa.get() >> 12) + (i << (m.page_shift - 12)),
                None => {
                    let frame = next_frame.get(&m.page_shift).copied().unwrap_or(0);
                    next_frame.insert(m.page_shift, frame + (1u64 << (m.page_shift - 12)));
                    frame
                }
            };
            machine
                .map_page_raw(root, VirtAddr::new(va), level, Pfn::new(frame), leaf)
                .map_err(|source| DumpLabError::Map { line: m.line, va, source })?;
        }
    }
    let mut description = format!("{describe}\n\n");
    for (size, count) in &summary.pages_by_size {
        let _ = writeln!(description, "- {count} page(s) of {}", format_size(*size));
    }
    for skipped in &summary.skipped {
        let _ = writeln!(description, "- skipped {skipped}");
    }
    Ok((Lab::new(title, &description, machine), summary))
}

/// The outcome as the CLI prints it: what was mapped, then each skipped range on its own line.
pub fn summary_text(summary: &DumpSummary) -> String {
    let pages = super::procmaps::pages_summary(&summary.pages_by_size);
    let mut out = format!(
        "{} range(s) mapped ({pages}, {} in all), {} skipped\n",
        summary.mapped_ranges,
        format_size(summary.mapped_bytes),
        summary.skipped.len()
    );
    for skipped in &summary.skipped {
        let _ = writeln!(out, "  skipped {skipped}");
    }
    out
}

//! Table operations on tables held in physical memory: map, unmap, entry edits, and walking the
//! tree of tables under a root (for the GUI tree, size accounting and frame usage).

use super::address::{EntryAddr, Pfn, PhysAddr, VirtAddr};
use super::format::{Field, PagingFormat, Role, low_mask};
use super::mem::{MemError, PhysMem};
use std::collections::BTreeSet;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TableError {
    #[error("virtual address {va:#x} is outside the format's {bits}-bit address space")]
    VaOutOfRange { va: VirtAddr, bits: u32 },
    #[error("virtual address {va:#x} is not aligned to the page size {size:#x}")]
    Misaligned { va: VirtAddr, size: u64 },
    #[error("frame {frame:#x} is not aligned for a {size:#x}-byte page (needs a multiple of {align:#x})")]
    FrameMisaligned { frame: Pfn, size: u64, align: u64 },
    #[error("frame {frame:#x} is beyond physical memory ({frames:#x} frames)")]
    FrameOutOfRange { frame: Pfn, frames: u64 },
    #[error("frame {frame:#x} does not fit the {width}-bit frame field")]
    FrameTooWide { frame: Pfn, width: u32 },
    #[error(
        "{va:#x} lies inside a {size:#x}-byte page mapped by the {level_name} entry at {entry_addr:#x}; unmap it first"
    )]
    InsideHugePage { va: VirtAddr, level_name: String, entry_addr: EntryAddr, size: u64 },
    #[error(
        "a {level_name} table is already in place at {entry_addr:#x} for {va:#x}; a large page cannot replace it"
    )]
    TableInTheWay { va: VirtAddr, level_name: String, entry_addr: EntryAddr },
    #[error("{va:#x} is already mapped (entry at {entry_addr:#x} holds {raw:#x}); unmap it first")]
    AlreadyMapped { va: VirtAddr, entry_addr: EntryAddr, raw: u64 },
    #[error("the format has no {size:#x}-byte pages (it has {available})")]
    NoSuchPageSize { size: u64, available: String },
    #[error("unknown flag {name:?}; this format's fields are {known}")]
    UnknownFlag { name: String, known: String },
    #[error("flag {name} is {width} bits wide; give it a value as {name}=N")]
    NotAFlag { name: String, width: u32 },
    #[error("value {value:#x} does not fit the {width}-bit field {name}")]
    ValueTooWide { name: String, value: u64, width: u32 },
    #[error("unmapping [{start:#x}, {end:#x}) would split the {size:#x}-byte page at {page:#x}")]
    SplitHugePage { start: u64, end: u64, page: u64, size: u64 },
    #[error("the range at {va:#x} of {len:#x} bytes wraps around the address space")]
    RangeOverflow { va: u64, len: u64 },
    #[error("level {level} does not exist in this format")]
    NoSuchLevel { level: usize },
    #[error(transparent)]
    Mem(#[from] MemError),
}

/// A page-table entry located in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRef {
    pub level: usize,
    pub index: u64,
    pub table_addr: PhysAddr,
    pub entry_addr: EntryAddr,
    pub raw: u64,
}

fn role_alias(name: &str) -> Option<Role> {
    Some(match name.to_ascii_lowercase().as_str() {
        "present" | "valid" => Role::Present,
        "write" | "writable" | "rw" => Role::Writable,
        "user" | "us" => Role::User,
        "accessed" => Role::Accessed,
        "dirty" => Role::Dirty,
        "global" => Role::Global,
        "nx" | "xd" | "noexec" | "no-execute" => Role::NoExecute,
        "read" | "readable" => Role::Readable,
        "exec" | "execute" | "executable" => Role::Executable,
        _ => return None,
    })
}

/// The field `name` names at `level`: a field name of the format (`R/W`, `PFN`), or an alias
/// that `map --flags` accepts (`write`, `user`, `nx`, `global`, ...).
pub fn field_named_or_alias<'f>(format: &'f PagingFormat, name: &str, level: usize) -> Option<&'f Field> {
    format.field_named_at(name, level).or_else(|| role_alias(name).and_then(|role| format.field(role, level)))
}

/// Builds the bits (without frame) of a new leaf at `level` from flag names such as
/// `["R/W", "user", "nx"]` or `["R", "W", "X"]`; `NAME=VALUE` sets a multi-bit field.
/// The present bit is always set (and the PS bit at huge levels).
pub fn leaf_bits(format: &PagingFormat, level: usize, flags: &[String]) -> Result<u64, TableError> {
    let mut raw = format.with(0, Role::Present, level, 1);
    if level < format.last_level() {
        raw = format.with(raw, Role::PageSize, level, 1);
    }
    for flag in flags.iter().map(|f| f.trim()).filter(|f| !f.is_empty() && *f != "none") {
        raw = apply_flag(format, level, raw, flag)?;
    }
    Ok(raw)
}

fn apply_flag(format: &PagingFormat, level: usize, raw: u64, flag: &str) -> Result<u64, TableError> {
    let (name, value) = match flag.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (flag, None),
    };
    let field = field_named_or_alias(format, name, level).ok_or_else(|| TableError::UnknownFlag {
        name: name.to_string(),
        known: format.fields_at(level).map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
    })?;
    let value = match value {
        None if field.width == 1 => 1,
        None => return Err(TableError::NotAFlag { name: field.name.clone(), width: field.width }),
        Some(v) => crate::sim::addr::parse_u64(v).map_err(|_| TableError::ValueTooWide {
            name: field.name.clone(),
            value: u64::MAX,
            width: field.width,
        })?,
    };
    if value > low_mask(field.width) {
        return Err(TableError::ValueTooWide { name: field.name.clone(), value, width: field.width });
    }
    Ok(field.set(raw, value))
}

/// The entry for a new intermediate table at `level` pointing to `frame`.
pub fn table_entry(format: &PagingFormat, level: usize, frame: Pfn) -> u64 {
    let mut raw = format.with(0, Role::Present, level, 1);
    for name in &format.table_flags {
        if let Some(f) = format.field_named_at(name, level) {
            raw = f.set(raw, 1);
        }
    }
    format.with(raw, Role::Frame, level, frame.get())
}

/// Physical address of the table a non-leaf entry points to, computed as the walk computes it
/// (see `mmu`), so that the tree and the walk always agree on where a table is.
pub fn child_table_addr(format: &PagingFormat, raw: u64, level: usize) -> Option<PhysAddr> {
    format.frame(raw, level).checked_shl(format.page_shift).map(PhysAddr::new)
}

pub fn read_entry(
    mem: &PhysMem,
    format: &PagingFormat,
    table_addr: PhysAddr,
    level: usize,
    index: u64,
) -> Result<EntryRef, TableError> {
    let entry_addr = table_addr.entry(index, format.pte_bytes).ok_or(MemError::OutOfRange {
        addr: table_addr,
        len: 0,
        size: mem.size(),
    })?;
    let raw = mem.read_le(entry_addr.phys(), format.pte_bytes)?;
    Ok(EntryRef { level, index, table_addr, entry_addr, raw })
}

pub fn write_entry(
    mem: &mut PhysMem,
    format: &PagingFormat,
    entry_addr: EntryAddr,
    raw: u64,
) -> Result<(), TableError> {
    mem.write_le(entry_addr.phys(), format.pte_bytes, raw & low_mask(format.pte_bits()))?;
    Ok(())
}

fn root_addr(format: &PagingFormat, root: Pfn) -> Result<PhysAddr, TableError> {
    root.base(format.page_shift).ok_or(TableError::FrameOutOfRange { frame: root, frames: 0 })
}

/// The level that maps pages of `size` bytes.
pub fn level_for_size(format: &PagingFormat, size: u64) -> Result<usize, TableError> {
    let shift = size.trailing_zeros();
    format.level_for_page_shift(shift).filter(|_| size.is_power_of_two()).ok_or_else(|| {
        TableError::NoSuchPageSize {
            size,
            available: format
                .page_sizes()
                .iter()
                .map(|&(_, s)| crate::sim::addr::format_size(1u64 << s))
                .collect::<Vec<_>>()
                .join(", "),
        }
    })
}

/// Checks a frame number for a page of `1 << span` bytes.
pub fn check_frame(mem: &PhysMem, format: &PagingFormat, level: usize, frame: Pfn) -> Result<(), TableError> {
    let span = format.entry_span_shift(level);
    let pages = 1u64 << (span - format.page_shift).min(63);
    if !frame.get().is_multiple_of(pages) {
        return Err(TableError::FrameMisaligned { frame, size: 1u64 << span.min(63), align: pages });
    }
    let width = format.field(Role::Frame, level).map_or(0, |f| f.width);
    if frame.get() > low_mask(width) {
        return Err(TableError::FrameTooWide { frame, width });
    }
    if frame.checked_add(pages).is_none_or(|end| end.get() > mem.frame_count()) {
        return Err(TableError::FrameOutOfRange { frame, frames: mem.frame_count() });
    }
    Ok(())
}

/// Maps the page at `va` with a leaf at `level` to `frame`, creating missing tables.
/// `leaf` holds the leaf's bits without the frame (see [`leaf_bits`]).
pub fn map_page(
    mem: &mut PhysMem,
    format: &PagingFormat,
    root: Pfn,
    va: VirtAddr,
    level: usize,
    frame: Pfn,
    leaf: u64,
) -> Result<(), TableError> {
    check_leaf(mem, format, va, level, frame)?;
    let mut table_addr = root_addr(format, root)?;
    for l in 0..level {
        let entry = read_entry(mem, format, table_addr, l, format.index_of(va.get(), l))?;
        if format.present(entry.raw, l) {
            if format.is_leaf(entry.raw, l) {
                return Err(TableError::InsideHugePage {
                    va,
                    level_name: format.levels[l].name.clone(),
                    entry_addr: entry.entry_addr,
                    size: 1u64 << format.entry_span_shift(l).min(63),
                });
            }
            table_addr = child_table_addr(format, entry.raw, l).unwrap_or(PhysAddr::new(u64::MAX));
        } else {
            let count = format.table_frames(l + 1);
            let child = mem.alloc(count)?;
            write_entry(mem, format, entry.entry_addr, table_entry(format, l, child))?;
            table_addr = child.base(format.page_shift).unwrap_or(PhysAddr::new(u64::MAX));
        }
    }
    write_leaf(mem, format, table_addr, va, level, frame, leaf)
}

/// Maps the page at `va` like [`map_page`], into `table_addr`, the table at `level` that holds
/// the entry for `va` (mapping a range fills a table without walking from the root each time).
pub fn map_page_in(
    mem: &mut PhysMem,
    format: &PagingFormat,
    table_addr: PhysAddr,
    va: VirtAddr,
    level: usize,
    frame: Pfn,
    leaf: u64,
) -> Result<(), TableError> {
    check_leaf(mem, format, va, level, frame)?;
    write_leaf(mem, format, table_addr, va, level, frame, leaf)
}

fn check_leaf(
    mem: &PhysMem,
    format: &PagingFormat,
    va: VirtAddr,
    level: usize,
    frame: Pfn,
) -> Result<(), TableError> {
    if level >= format.levels.len() {
        return Err(TableError::NoSuchLevel { level });
    }
    if !format.va_in_range(va.get()) {
        return Err(TableError::VaOutOfRange { va, bits: format.va_bits });
    }
    let span = format.entry_span_shift(level);
    if va.offset_in_page(span) != 0 {
        return Err(TableError::Misaligned { va, size: 1u64 << span.min(63) });
    }
    check_frame(mem, format, level, frame)
}

fn write_leaf(
    mem: &mut PhysMem,
    format: &PagingFormat,
    table_addr: PhysAddr,
    va: VirtAddr,
    level: usize,
    frame: Pfn,
    leaf: u64,
) -> Result<(), TableError> {
    let entry = read_entry(mem, format, table_addr, level, format.index_of(va.get(), level))?;
    if format.present(entry.raw, level) {
        if level < format.last_level() && !format.is_leaf(entry.raw, level) {
            return Err(TableError::TableInTheWay {
                va,
                level_name: format.levels[level].name.clone(),
                entry_addr: entry.entry_addr,
            });
        }
        return Err(TableError::AlreadyMapped { va, entry_addr: entry.entry_addr, raw: entry.raw });
    }
    write_entry(mem, format, entry.entry_addr, format.with(leaf, Role::Frame, level, frame.get()))
}

/// The entries from the root down to the leaf (or the first non-present entry) for `va`.
pub fn entry_path(
    mem: &PhysMem,
    format: &PagingFormat,
    root: Pfn,
    va: VirtAddr,
) -> Result<Vec<EntryRef>, TableError> {
    let mut path = Vec::with_capacity(format.levels.len());
    let mut table_addr = root_addr(format, root)?;
    for l in 0..format.levels.len() {
        let entry = read_entry(mem, format, table_addr, l, format.index_of(va.get(), l))?;
        path.push(entry);
        if !format.present(entry.raw, l) || format.is_leaf(entry.raw, l) {
            break;
        }
        table_addr = child_table_addr(format, entry.raw, l).unwrap_or(PhysAddr::new(u64::MAX));
    }
    Ok(path)
}

/// What one unmapped leaf pointed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unmapped {
    pub va: VirtAddr,
    pub frame: Pfn,
    pub frames: u64,
}

/// What [`unmap_range`] did: the leaves it cleared, and the tables it unhooked from this root
/// because they became empty. Neither is freed here: the caller frees only what no root of any
/// process still reaches (a table may be shared with another process).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnmapOutcome {
    pub pages: Vec<Unmapped>,
    /// Unhooked tables as (first frame, frame count).
    pub unhooked_tables: Vec<(Pfn, u64)>,
}

/// Unmaps every page in `[va, va + len)`, unhooking tables that become empty. Pages of the range
/// that are not mapped are skipped.
pub fn unmap_range(
    mem: &mut PhysMem,
    format: &PagingFormat,
    root: Pfn,
    va: VirtAddr,
    len: u64,
) -> Result<UnmapOutcome, TableError> {
    // The walk over the range steps in raw numbers; each address becomes typed where it leaves.
    let va = va.get();
    let len = len.max(1);
    // The last byte, not the end: a range may reach the very top of the address space.
    let last_byte = va.checked_add(len - 1).ok_or(TableError::RangeOverflow { va, len })?;
    let end = last_byte.saturating_add(1);
    // First pass: refuse to split a large page, so that nothing changes on error.
    let mut cursor = va & !low_mask(format.page_shift);
    let mut leaves = Vec::new();
    while cursor <= last_byte {
        if !format.va_in_range(cursor) {
            return Err(TableError::VaOutOfRange { va: VirtAddr::new(cursor), bits: format.va_bits });
        }
        let path = entry_path(mem, format, root, VirtAddr::new(cursor))?;
        let last = path.last().copied();
        let step = match last {
            Some(e) if format.present(e.raw, e.level) && format.is_leaf(e.raw, e.level) => {
                let span = format.entry_span_shift(e.level);
                let page = cursor & !low_mask(span);
                let page_last = page.saturating_add(low_mask(span.min(64)));
                if page < va || page_last > last_byte {
                    return Err(TableError::SplitHugePage {
                        start: va,
                        end,
                        page,
                        size: 1u64 << span.min(63),
                    });
                }
                leaves.push((page, e));
                1u64 << span.min(63)
            }
            // An absent entry covers everything beneath it: skip that whole span.
            Some(e) => 1u64 << format.entry_span_shift(e.level).min(63),
            None => format.page_size(),
        };
        let next = (cursor & !(step - 1)).checked_add(step);
        match next {
            Some(n) => cursor = n,
            None => break,
        }
    }
    let mut outcome = UnmapOutcome { pages: Vec::with_capacity(leaves.len()), unhooked_tables: Vec::new() };
    for (page, leaf) in leaves {
        write_entry(mem, format, leaf.entry_addr, 0)?;
        let pages = 1u64 << (format.entry_span_shift(leaf.level) - format.page_shift).min(63);
        let frame = Pfn::new(format.frame(leaf.raw, leaf.level));
        outcome.pages.push(Unmapped { va: VirtAddr::new(page), frame, frames: pages });
        unhook_empty_tables(mem, format, root, page, &mut outcome.unhooked_tables)?;
    }
    Ok(outcome)
}

/// Whether a table holds no present entry (only stored chunks are scanned).
fn table_is_empty(mem: &PhysMem, format: &PagingFormat, table_addr: PhysAddr, level: usize) -> bool {
    let mut empty = true;
    for_each_present(mem, format, TableRef { level, addr: table_addr }, |_| empty = false);
    empty
}

/// Clears the entries on the path to `va` that point to tables holding no present entry (never
/// the root) and records those tables in `unhooked`.
fn unhook_empty_tables(
    mem: &mut PhysMem,
    format: &PagingFormat,
    root: Pfn,
    va: u64,
    unhooked: &mut Vec<(Pfn, u64)>,
) -> Result<(), TableError> {
    let path = entry_path(mem, format, root, VirtAddr::new(va))?;
    // path[l] is the entry at level l; the table at level l+1 hangs off path[l].
    for l in (0..path.len().saturating_sub(1)).rev() {
        let parent = path[l];
        let child_level = l + 1;
        let child_addr = path[child_level].table_addr;
        if !table_is_empty(mem, format, child_addr, child_level) {
            break;
        }
        write_entry(mem, format, parent.entry_addr, 0)?;
        unhooked.push((child_addr.pfn(format.page_shift), format.table_frames(child_level)));
    }
    Ok(())
}

/// A table found under a root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TableRef {
    pub level: usize,
    pub addr: PhysAddr,
}

/// Every table reachable from `root` (each once, even if shared or cyclic), sorted by level then
/// address. Tables outside physical memory are skipped.
pub fn tables(mem: &PhysMem, format: &PagingFormat, root: Pfn) -> Vec<TableRef> {
    let mut seen = BTreeSet::new();
    let Ok(root_addr) = root_addr(format, root) else { return Vec::new() };
    let mut stack = vec![TableRef { level: 0, addr: root_addr }];
    while let Some(table) = stack.pop() {
        let fits =
            table.addr.checked_add(format.table_bytes(table.level)).is_some_and(|e| e.get() <= mem.size());
        if !fits || !seen.insert(table) {
            continue;
        }
        if table.level + 1 >= format.levels.len() {
            continue;
        }
        for_each_present(mem, format, table, |entry| {
            if !format.is_leaf(entry.raw, entry.level)
                && let Some(addr) = child_table_addr(format, entry.raw, entry.level)
            {
                stack.push(TableRef { level: table.level + 1, addr });
            }
        });
    }
    seen.into_iter().collect()
}

/// Calls `visit` for every present entry of a table, in index order. Only frames holding data
/// are scanned, so sparse tables in huge memories stay cheap.
pub fn for_each_present(
    mem: &PhysMem,
    format: &PagingFormat,
    table: TableRef,
    mut visit: impl FnMut(EntryRef),
) {
    let entries = format.entries_at(table.level);
    let pte = u64::from(format.pte_bytes);
    let n = format.pte_bytes as usize;
    // Entries are stepped through as raw numbers (a hot loop); each becomes typed as it is visited.
    let table_addr = table.addr.get();
    let mut index = 0;
    while index < entries {
        let entry_addr = table_addr + index * pte;
        let Some((chunk_addr, bytes)) = mem.chunk_at(PhysAddr::new(entry_addr)) else {
            // An all-zero chunk holds no present entry (every format has a present bit).
            let next_chunk_addr = (entry_addr | (mem.chunk_size() - 1)).saturating_add(1);
            index = (next_chunk_addr.saturating_sub(table_addr)).div_ceil(pte).max(index + 1);
            continue;
        };
        // Every entry of the table that lies wholly in this chunk, read from the chunk's bytes
        // (one look-up of the chunk for all of them).
        let mut offset = usize::try_from(entry_addr - chunk_addr.get()).unwrap_or(usize::MAX);
        let first = index;
        while index < entries
            && let Some(src) = offset.checked_add(n).and_then(|end| bytes.get(offset..end))
        {
            let mut b = [0u8; 8];
            b[..n].copy_from_slice(src);
            let raw = u64::from_le_bytes(b);
            if format.present(raw, table.level) {
                let entry_addr = EntryAddr::new(table_addr + index * pte);
                visit(EntryRef { level: table.level, index, table_addr: table.addr, entry_addr, raw });
            }
            index += 1;
            offset += n;
        }
        if index == first {
            // An entry across a chunk boundary (not in any preset): read it whole.
            if let Ok(raw) = mem.read_le(PhysAddr::new(entry_addr), format.pte_bytes)
                && format.present(raw, table.level)
            {
                let entry_addr = EntryAddr::new(entry_addr);
                visit(EntryRef { level: table.level, index, table_addr: table.addr, entry_addr, raw });
            }
            index += 1;
        }
    }
}

/// A mapped page found by walking the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub va: VirtAddr,
    pub level: usize,
    pub page_shift: u32,
    pub frame: Pfn,
    pub entry: EntryRef,
}

/// Every present leaf under `root`, in virtual-address order (canonical addresses, so the upper
/// half of x86-64 comes after the lower half as the tree order dictates).
pub fn leaves(mem: &PhysMem, format: &PagingFormat, root: Pfn) -> Vec<Leaf> {
    let mut out = Vec::new();
    let Ok(addr) = root_addr(format, root) else { return out };
    let mut stack = vec![(TableRef { level: 0, addr }, 0u64)];
    let mut seen = BTreeSet::new();
    let mut pending = Vec::new();
    while let Some((table, base)) = stack.pop() {
        if !seen.insert(table) {
            continue;
        }
        pending.clear();
        for_each_present(mem, format, table, |e| pending.push(e));
        let span = format.entry_span_shift(table.level);
        for e in pending.iter().rev() {
            let va = base | (e.index << span);
            if format.is_leaf(e.raw, e.level) {
                continue;
            }
            if let Some(child) = child_table_addr(format, e.raw, e.level) {
                let fits = child
                    .checked_add(format.table_bytes(table.level + 1))
                    .is_some_and(|x| x.get() <= mem.size());
                if fits {
                    stack.push((TableRef { level: table.level + 1, addr: child }, va));
                }
            }
        }
        // Leaves of this table come before the subtrees pushed above (which pop later).
        for e in pending.iter().filter(|e| format.is_leaf(e.raw, e.level)) {
            let va = base | (e.index << span);
            out.push(Leaf {
                va: VirtAddr::new(format.canonicalize(va)),
                level: e.level,
                page_shift: span,
                frame: Pfn::new(format.frame(e.raw, e.level)),
                entry: *e,
            });
        }
    }
    // Canonical upper-half addresses sort after the lower half, as in the tree.
    out.sort_by_key(|l| l.va);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::presets;

    fn setup(name: &str) -> (PhysMem, PagingFormat, Pfn) {
        let f = presets::by_name(name).unwrap();
        let mut mem = PhysMem::new(64 << 20, f.page_shift).unwrap();
        let root = mem.alloc(f.table_frames(0)).unwrap();
        (mem, f, root)
    }

    #[test]
    fn map_creates_tables_and_writes_the_leaf() {
        let (mut mem, f, root) = setup("x86-64");
        let bits = leaf_bits(&f, 3, &["R/W".into()]).unwrap();
        map_page(&mut mem, &f, root, VirtAddr::new(0x40_0000), 3, Pfn::new(0x123), bits).unwrap();
        let path = entry_path(&mem, &f, root, VirtAddr::new(0x40_0000)).unwrap();
        assert_eq!(path.len(), 4);
        assert_eq!(path[3].raw, 0x123_003);
        assert_eq!(tables(&mem, &f, root).len(), 4);
    }

    #[test]
    fn conflicts_are_errors_that_name_the_entry() {
        let (mut mem, f, root) = setup("x86-64");
        let huge = leaf_bits(&f, 2, &[]).unwrap();
        map_page(&mut mem, &f, root, VirtAddr::new(0x20_0000), 2, Pfn::new(0x200), huge).unwrap();
        let small = leaf_bits(&f, 3, &[]).unwrap();
        let err =
            map_page(&mut mem, &f, root, VirtAddr::new(0x20_1000), 3, Pfn::new(0x50), small).unwrap_err();
        assert!(matches!(err, TableError::InsideHugePage { .. }), "{err}");
        assert!(err.to_string().contains("PD"));
        assert!(matches!(
            map_page(&mut mem, &f, root, VirtAddr::new(0x20_0000), 2, Pfn::new(0x400), huge),
            Err(TableError::AlreadyMapped { .. })
        ));
        assert!(matches!(
            map_page(&mut mem, &f, root, VirtAddr::new(0x30_0000), 2, Pfn::new(0x200), huge),
            Err(TableError::Misaligned { .. })
        ));
        assert!(matches!(
            map_page(&mut mem, &f, root, VirtAddr::new(0x40_0000), 2, Pfn::new(0x201), huge),
            Err(TableError::FrameMisaligned { .. })
        ));
        assert!(matches!(
            map_page(&mut mem, &f, root, VirtAddr::new(0x60_0000), 2, Pfn::new(0x10_0000), huge),
            Err(TableError::FrameOutOfRange { .. })
        ));
        map_page(&mut mem, &f, root, VirtAddr::new(0x60_1000), 3, Pfn::new(0x51), small).unwrap();
        assert!(matches!(
            map_page(&mut mem, &f, root, VirtAddr::new(0x60_0000), 2, Pfn::new(0x400), huge),
            Err(TableError::TableInTheWay { .. })
        ));
    }

    #[test]
    fn unmap_unhooks_tables_that_become_empty() {
        let (mut mem, f, root) = setup("x86-64");
        let bits = leaf_bits(&f, 3, &[]).unwrap();
        map_page(&mut mem, &f, root, VirtAddr::new(0x7000_0000), 3, Pfn::new(0x100), bits).unwrap();
        let gone = unmap_range(&mut mem, &f, root, VirtAddr::new(0x7000_0000), 0x1000).unwrap();
        assert_eq!(
            gone.pages,
            vec![Unmapped { va: VirtAddr::new(0x7000_0000), frame: Pfn::new(0x100), frames: 1 }]
        );
        // The PT, PD and PDPT under the root (frames 1, 2 and 3) were unhooked, leaf first.
        assert_eq!(
            gone.unhooked_tables,
            vec![(Pfn::new(root.get() + 3), 1), (Pfn::new(root.get() + 2), 1), (Pfn::new(root.get() + 1), 1)]
        );
        assert_eq!(tables(&mem, &f, root).len(), 1);
        assert_eq!(mem.read_le(PhysAddr::new(root.get() << 12), 8).unwrap(), 0);
    }

    #[test]
    fn unmap_refuses_to_split_a_large_page() {
        let (mut mem, f, root) = setup("x86-64");
        let huge = leaf_bits(&f, 2, &[]).unwrap();
        map_page(&mut mem, &f, root, VirtAddr::new(0x20_0000), 2, Pfn::new(0x200), huge).unwrap();
        let err = unmap_range(&mut mem, &f, root, VirtAddr::new(0x20_0000), 0x1000).unwrap_err();
        assert!(matches!(err, TableError::SplitHugePage { .. }));
        assert_eq!(leaves(&mem, &f, root).len(), 1);
    }

    #[test]
    fn leaf_bits_accept_names_and_aliases() {
        let f = presets::by_name("x86-64").unwrap();
        assert_eq!(
            leaf_bits(&f, 3, &["rw".into(), "user".into(), "nx".into()]).unwrap(),
            0x8000_0000_0000_0007
        );
        assert_eq!(leaf_bits(&f, 2, &[]).unwrap(), 0x81);
        assert!(matches!(leaf_bits(&f, 3, &["R".into()]), Err(TableError::UnknownFlag { .. })));
        let sv = presets::by_name("sv39").unwrap();
        assert_eq!(leaf_bits(&sv, 2, &["R".into(), "X".into(), "RSW=2".into()]).unwrap(), 0x20b);
        assert!(leaf_bits(&sv, 2, &["RSW=4".into()]).is_err());
    }

    #[test]
    fn leaves_come_out_in_address_order_with_canonical_upper_half() {
        let (mut mem, f, root) = setup("x86-64");
        let bits = leaf_bits(&f, 3, &[]).unwrap();
        for (va, frame) in [(0xffff_8000_0000_0000u64, 1u64 << 8), (0x1000, 0x101), (0x7fff_ffff_f000, 0x102)]
        {
            map_page(&mut mem, &f, root, VirtAddr::new(va), 3, Pfn::new(frame), bits).unwrap();
        }
        let vas: Vec<u64> = leaves(&mem, &f, root).iter().map(|l| l.va.get()).collect();
        assert_eq!(vas, vec![0x1000, 0x7fff_ffff_f000, 0xffff_8000_0000_0000]);
    }
}

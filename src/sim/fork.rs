//! fork(): a child process with its own root and its own copies of the user half's tables, the
//! kernel half's tables shared (the same upper root entries), and the user pages either shared
//! copy-on-write (as Linux's `dup_mmap` / `copy_pte_range` do) or copied eagerly (`--no-cow`, for
//! comparison).
//!
//! Copy-on-write marks a page in a bit the hardware ignores: the lowest bit of x86's AVL field
//! (bit 9) or of RISC-V's RSW field (bit 8), or a field a custom format names `COW`. Formats
//! without such a bit or without a write-permission bit (the OSTEP teaching formats) refuse a
//! copy-on-write fork with [`ForkError::NoCowBit`]; their eager fork works. Writable pages become
//! read-only and marked in both processes; read-only pages are shared unmarked (a write to them
//! is a real protection fault, not a copy-on-write one). Every shared page's frame gets a share
//! count in [`ShareCounts`], saved with the lab; `sim::cow` resolves the write faults.
//!
//! The "kernel half" is the upper half of the root table (x86 and RISC-V: the addresses with the
//! top bit set); the teaching formats have no kernel half, so all of their root is user.

use super::address::{EntryAddr, Pfn};
use super::format::{Arch, PagingFormat, Role};
use super::machine::{Machine, MachineError};
use super::process::Process;
use super::table::{self, EntryRef, TableRef};
use std::collections::BTreeMap;
use thiserror::Error;

/// How many processes map each shared frame (the first frame of a large page). Only frames
/// with two or more owners are listed; an unlisted frame has one owner (or is no data page).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShareCounts(BTreeMap<Pfn, u32>);

impl ShareCounts {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The owners of `frame`: 1 when it is not listed.
    #[must_use]
    pub fn owners(&self, frame: Pfn) -> u32 {
        self.0.get(&frame).copied().unwrap_or(1)
    }

    /// Whether `frame` is mapped by more than one process through a fork.
    #[must_use]
    pub fn is_shared(&self, frame: Pfn) -> bool {
        self.owners(frame) > 1
    }

    /// Shared frames and their counts, by frame.
    pub fn iter(&self) -> impl Iterator<Item = (Pfn, u32)> + '_ {
        self.0.iter().map(|(&frame, &count)| (frame, count))
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sets a frame's count (1 or 0 removes it).
    pub fn set(&mut self, frame: Pfn, count: u32) {
        if count > 1 {
            self.0.insert(frame, count);
        } else {
            self.0.remove(&frame);
        }
    }

    /// One owner fewer (an unmap, a copy-on-write copy); returns the count left.
    pub fn release(&mut self, frame: Pfn) -> u32 {
        let left = self.owners(frame).saturating_sub(1);
        self.set(frame, left);
        left
    }

    /// One owner more (a clone of a process that maps it); only counted frames change.
    pub(in crate::sim) fn add_if_counted(&mut self, frame: Pfn) {
        if let Some(count) = self.0.get_mut(&frame) {
            *count = count.saturating_add(1);
        }
    }
}

/// The bit a format marks copy-on-write pages with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CowBit {
    /// The field it is the lowest bit of ("AVL", "RSW" or "COW").
    pub field: String,
    /// Its bit position in an entry.
    pub bit: u32,
}

impl CowBit {
    /// The format's copy-on-write bit: the lowest bit of a `COW` field, else of x86's AVL or
    /// RISC-V's RSW, present at every level (large pages are leaves above the last level).
    /// `None` when there is none, or no write-permission bit to take away.
    #[must_use]
    pub fn of(format: &PagingFormat) -> Option<Self> {
        let levels = 0..format.level_count();
        let writable = levels.clone().any(|l| format.field(Role::Writable, l).is_some());
        if !writable {
            return None;
        }
        ["COW", "AVL", "RSW"].iter().find_map(|name| {
            let field = format.field_by_name(name)?;
            let everywhere = levels.clone().all(|l| format.field_named_at(name, l).is_some());
            (field.role == Role::Other && everywhere)
                .then(|| Self { field: field.name.clone(), bit: field.lsb })
        })
    }

    #[must_use]
    pub fn mask(&self) -> u64 {
        1u64.checked_shl(self.bit).unwrap_or(0)
    }

    #[must_use]
    pub fn is_set(&self, raw: u64) -> bool {
        raw & self.mask() != 0
    }

    /// "AVL bit 9": how the inspector and the CLI name it.
    #[must_use]
    pub fn describe(&self) -> String {
        format!("{} bit {}", self.field, self.bit)
    }
}

/// Why a fork was refused; the machine is unchanged.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ForkError {
    #[error(
        "the {0} format has no software-available bit to mark copy-on-write pages (x86 AVL, RISC-V RSW, or a field named COW) or no write-permission bit; fork it with an eager copy (--no-cow)"
    )]
    NoCowBit(String),
    #[error(transparent)]
    Machine(#[from] MachineError),
}

impl From<table::TableError> for ForkError {
    fn from(e: table::TableError) -> Self {
        ForkError::Machine(e.into())
    }
}

impl From<super::mem::MemError> for ForkError {
    fn from(e: super::mem::MemError) -> Self {
        ForkError::Machine(e.into())
    }
}

/// Page-table frames and bytes every process together reaches (a shared table once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableUsage {
    pub tables: u64,
    pub frames: u64,
    pub bytes: u64,
}

/// What a fork did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkReport {
    /// The child's index.
    pub child: usize,
    /// Whether pages were shared copy-on-write (else copied).
    pub cow: bool,
    /// User pages shared read-only and marked copy-on-write in both processes.
    pub cow_pages: u64,
    /// User pages already read-only (or already copy-on-write), shared as they were.
    pub shared_read_only: u64,
    /// Pages copied into fresh frames (`--no-cow`).
    pub copied_pages: u64,
    /// Table copies made for the child (its root included).
    pub tables_copied: u64,
    /// Kernel root entries the child shares with the parent.
    pub kernel_entries_shared: u64,
    pub tables_before: TableUsage,
    pub tables_after: TableUsage,
}

/// Counts the distinct page tables of every process.
#[must_use]
pub fn table_usage(machine: &Machine) -> TableUsage {
    let f = &machine.format;
    let mut seen = std::collections::BTreeSet::new();
    for p in &machine.processes {
        seen.extend(table::tables(&machine.mem, f, p.root));
    }
    let mut usage = TableUsage::default();
    for t in seen {
        usage.tables += 1;
        usage.frames += f.table_frames(t.level);
        usage.bytes += f.table_bytes(t.level);
    }
    usage
}

/// Root entries from this index up are the kernel's (none for the teaching formats).
fn kernel_start(format: &PagingFormat) -> u64 {
    let entries = format.entries_at(0);
    if format.arch == Arch::Generic { entries } else { entries / 2 }
}

/// Copying state: table copies made so far (a table reached twice is copied once), what
/// happens to leaves, and the counts for the report.
struct Copier {
    cow: Option<CowBit>,
    copies: BTreeMap<TableRef, Pfn>,
    /// Leaf mappings of each frame before the fork, for frames not yet counted.
    owners_before: BTreeMap<Pfn, u32>,
    report: ForkReport,
}

impl Machine {
    /// Forks process `from` as `name` (see the module doc). Returns what it did; on error
    /// nothing changes.
    pub fn fork(&mut self, from: usize, name: &str, cow: bool) -> Result<ForkReport, ForkError> {
        self.check_new_name(name)?;
        let source_root = self.process(from)?.root;
        let asid = self.free_asid()?;
        let cow_bit = if cow {
            Some(CowBit::of(&self.format).ok_or_else(|| ForkError::NoCowBit(self.format.name.clone()))?)
        } else {
            None
        };
        let tables_before = table_usage(self);
        let owners_before = if cow { self.user_owners(source_root) } else { BTreeMap::new() };
        let blank = ForkReport {
            child: self.processes.len(),
            cow,
            cow_pages: 0,
            shared_read_only: 0,
            copied_pages: 0,
            tables_copied: 0,
            kernel_entries_shared: 0,
            tables_before,
            tables_after: tables_before,
        };
        let mut copier = Copier { cow: cow_bit, copies: BTreeMap::new(), owners_before, report: blank };
        let shares_before = self.shares.clone();
        self.mem.begin();
        let result = self.fork_tables(source_root, &mut copier);
        match result {
            Ok(root) => {
                self.mem.commit();
                self.processes.push(Process { name: name.to_string(), root, asid });
                copier.report.tables_after = table_usage(self);
                Ok(copier.report)
            }
            Err(e) => {
                self.mem.rollback();
                self.shares = shares_before;
                Err(e)
            }
        }
    }

    /// For each frame the user half of `root` maps, how many leaves of all processes map it.
    fn user_owners(&self, root: Pfn) -> BTreeMap<Pfn, u32> {
        let f = &self.format;
        let half = kernel_start(f) << f.entry_span_shift(0);
        let mut owners: BTreeMap<Pfn, u32> = table::leaves(&self.mem, f, root)
            .into_iter()
            .filter(|l| f.index_of(l.va.get(), 0) << f.entry_span_shift(0) < half)
            .map(|l| (l.frame, 0))
            .collect();
        for p in &self.processes {
            for leaf in table::leaves(&self.mem, f, p.root) {
                if let Some(n) = owners.get_mut(&leaf.frame) {
                    *n = n.saturating_add(1);
                }
            }
        }
        owners
    }

    /// The child's root: a copy of the parent's, whose user entries point to copies of the
    /// user tables and whose kernel entries stay as they are (the same kernel tables).
    fn fork_tables(&mut self, source_root: Pfn, copier: &mut Copier) -> Result<Pfn, ForkError> {
        let f = &self.format;
        let shift = f.page_shift;
        let root_frames = f.table_frames(0);
        let root = self.mem.alloc(root_frames)?;
        self.mem.copy_frames(source_root, root, root_frames)?;
        copier.report.tables_copied += 1;
        // Both roots lie in memory (the copy above checked it), so both have an address.
        let (Some(source_addr), Some(root_addr)) = (source_root.base(shift), root.base(shift)) else {
            return Ok(root);
        };
        let source = TableRef { level: 0, addr: source_addr };
        let mut entries = Vec::new();
        table::for_each_present(&self.mem, f, source, |e| entries.push(e));
        let kernel = kernel_start(f);
        for e in entries {
            if e.index >= kernel {
                copier.report.kernel_entries_shared += 1;
                continue;
            }
            let Some(child_entry) = root_addr.entry(e.index, self.format.pte_bytes) else { continue };
            self.fork_entry(e, child_entry, copier)?;
        }
        Ok(root)
    }

    /// Forks what one parent entry (at `e`) maps into the child's entry at `child_entry`.
    fn fork_entry(
        &mut self,
        e: EntryRef,
        child_entry: EntryAddr,
        copier: &mut Copier,
    ) -> Result<(), ForkError> {
        let f = &self.format;
        if f.is_leaf(e.raw, e.level) {
            let (parent_raw, child_raw) = self.fork_leaf(e, copier)?;
            if parent_raw != e.raw {
                table::write_entry(&mut self.mem, &self.format, e.entry_addr, parent_raw)?;
            }
            table::write_entry(&mut self.mem, &self.format, child_entry, child_raw)?;
            return Ok(());
        }
        let level = e.level + 1;
        let child = Pfn::new(f.frame(e.raw, e.level));
        let in_memory =
            child.checked_add(f.table_frames(level)).is_some_and(|end| end.get() <= self.mem.frame_count());
        let Some(addr) = child.base(f.page_shift).filter(|_| in_memory) else {
            return Ok(()); // a corrupt pointer is copied as it is
        };
        let table = TableRef { level, addr };
        let copy = match copier.copies.get(&table) {
            Some(&copy) => copy,
            None => self.fork_table(table, copier)?,
        };
        let raw = self.format.with(e.raw, Role::Frame, e.level, copy.get());
        table::write_entry(&mut self.mem, &self.format, child_entry, raw)?;
        Ok(())
    }

    /// Copies one user table and forks every entry in it; returns the copy's frame.
    fn fork_table(&mut self, table: TableRef, copier: &mut Copier) -> Result<Pfn, ForkError> {
        let f = &self.format;
        let count = f.table_frames(table.level);
        let frame = table.addr.pfn(f.page_shift);
        let copy = self.mem.alloc(count)?;
        copier.copies.insert(table, copy);
        copier.report.tables_copied += 1;
        self.mem.copy_frames(frame, copy, count)?;
        let mut entries = Vec::new();
        table::for_each_present(&self.mem, f, table, |e| entries.push(e));
        let bytes = f.pte_bytes;
        let Some(copy_addr) = copy.base(f.page_shift) else { return Ok(copy) };
        for e in entries {
            let Some(child_entry) = copy_addr.entry(e.index, bytes) else { continue };
            self.fork_entry(e, child_entry, copier)?;
        }
        Ok(copy)
    }

    /// The parent's and the child's leaf for one user page.
    fn fork_leaf(&mut self, e: EntryRef, copier: &mut Copier) -> Result<(u64, u64), ForkError> {
        let f = &self.format;
        let frame = Pfn::new(f.frame(e.raw, e.level));
        let frames = 1u64 << f.entry_span_shift(e.level).saturating_sub(f.page_shift).min(63);
        let Some(cow) = &copier.cow else {
            // The eager fork: a fresh frame with the same bytes, for the child alone.
            if frame.checked_add(frames).is_none_or(|end| end.get() > self.mem.frame_count()) {
                return Ok((e.raw, e.raw)); // a frame beyond memory is copied as it is
            }
            let copy = self.mem.alloc_aligned(frames, frames)?;
            self.mem.copy_frames(frame, copy, frames)?;
            copier.report.copied_pages += 1;
            return Ok((e.raw, f.with(e.raw, Role::Frame, e.level, copy.get())));
        };
        let owners = match self.shares.owners(frame) {
            1 => copier.owners_before.get(&frame).copied().unwrap_or(1).max(1),
            counted => counted,
        };
        self.shares.set(frame, owners.saturating_add(1));
        let writable = f.field(Role::Writable, e.level).is_some_and(|w| w.get(e.raw) == 1);
        if !writable {
            copier.report.shared_read_only += 1;
            return Ok((e.raw, e.raw));
        }
        let marked = f.with(e.raw, Role::Writable, e.level, 0) | cow.mask();
        copier.report.cow_pages += 1;
        Ok((marked, marked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::presets;

    #[test]
    fn cow_bits_are_the_software_bits() {
        let x86 = CowBit::of(&presets::by_name("x86-64").unwrap()).unwrap();
        assert_eq!((x86.field.as_str(), x86.bit), ("AVL", 9));
        let rv = CowBit::of(&presets::by_name("sv39").unwrap()).unwrap();
        assert_eq!((rv.field.as_str(), rv.bit), ("RSW", 8));
        assert_eq!(CowBit::of(&presets::by_name("x86-32").unwrap()).map(|b| b.bit), Some(9));
        assert!(CowBit::of(&presets::by_name("ostep-multilevel").unwrap()).is_none());
    }

    #[test]
    fn share_counts_drop_frames_with_one_owner() {
        let mut s = ShareCounts::new();
        let frame = Pfn::new(7);
        s.set(frame, 3);
        assert_eq!(s.release(frame), 2);
        assert_eq!(s.release(frame), 1);
        assert!(s.is_empty());
        assert_eq!(s.owners(frame), 1);
        s.add_if_counted(frame);
        assert!(s.is_empty(), "an uncounted frame stays uncounted");
    }
}

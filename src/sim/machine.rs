//! The machine: a paging format, physical memory, processes and the active one, and the MMU
//! switches. Every operation either succeeds or leaves the machine exactly as it was.

use super::address::{EntryAddr, Pfn, PhysAddr, VirtAddr};
use super::fast_walk::CompiledFormat;
use super::fault::{Access, Mode};
use super::fork::ShareCounts;
use super::format::PDPTE_REGISTERS;
use super::format::{Arch, FormatError, PagingFormat, Role, low_mask};
use super::mem::{MemError, PhysMem};
use super::mmu::{self, MmuSettings, Request, Translation, WalkRoot};
use super::process::Process;
use super::runs::Runs;
use super::size::{self, SizeReport};
use super::table::{self, TableError, Unmapped};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MachineError {
    #[error("invalid paging format: {0}")]
    Format(#[from] FormatError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Mem(#[from] MemError),
    #[error("no process {0:?} (give a name or a number from 0)")]
    NoSuchProcess(String),
    #[error("a process called {0:?} already exists")]
    DuplicateName(String),
    #[error("a process name cannot be empty")]
    EmptyName,
    #[error("the last process cannot be deleted")]
    LastProcess,
    #[error("physical memory ({mem_frame:#x}-byte frames) must use the format's page size ({page:#x})")]
    FrameSizeMismatch { mem_frame: u64, page: u64 },
    #[error("process {name}: root frame {root:#x} is beyond physical memory")]
    RootOutOfRange { name: String, root: Pfn },
    #[error("no ASID is free (all 65536 are used)")]
    NoFreeAsid,
    #[error("the range of {len:#x} bytes at {va:#x} holds {pages} pages; at most {max} at once")]
    RangeTooLarge { va: VirtAddr, len: u64, pages: u64, max: u64 },
    #[error("entry address {addr:#x} is not aligned to the {bytes}-byte entry size")]
    EntryMisaligned { addr: EntryAddr, bytes: u32 },
    #[error("field {name:?} does not exist at level {level} of this format")]
    NoSuchField { name: String, level: usize },
    #[error(
        "physical memory of {size:#x} bytes is more than the format can address ({pa_bits}-bit physical addresses)"
    )]
    MemoryTooLarge { size: u64, pa_bits: u32 },
}

/// Where a new mapping's frames come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapTarget {
    /// Consecutive frames starting at this physical address.
    To(PhysAddr),
    /// Fresh frames from the allocator.
    Alloc,
}

/// A request to map `[va, va + len)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapRequest {
    pub va: VirtAddr,
    pub len: u64,
    pub target: MapTarget,
    /// Page size in bytes; `None` for the base page size.
    pub page_size: Option<u64>,
    /// Leaf flags (field names); `None` for the format's defaults.
    pub flags: Option<Vec<String>>,
}

/// The machine's parts an undo step restores besides memory: the processes, the active one,
/// the MMU switches and PAE's PDPTE registers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuParts {
    pub processes: Vec<Process>,
    pub active: usize,
    pub settings: MmuSettings,
    pub pdptes: Option<[u64; PDPTE_REGISTERS]>,
}

/// Most pages one map/unmap call may touch (the 4 GiB textbook example needs 1 Mi).
pub const MAX_PAGES_PER_CALL: u64 = 1 << 22;

/// The machine. Its fields are private to the simulation core: everything else reads them
/// through accessors and changes them through the operations below (which keep the invariants:
/// all-or-nothing changes, shared tables never freed, processes with unique names and ASIDs),
/// and a lab changes only through the document (crate::doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    pub(in crate::sim) format: PagingFormat,
    pub(in crate::sim) mem: PhysMem,
    pub(in crate::sim) processes: Vec<Process>,
    pub(in crate::sim) active: usize,
    pub(in crate::sim) settings: MmuSettings,
    /// Share counts of frames that fork() left mapped by more than one process (see
    /// [`super::fork`]); frames not listed have one owner.
    pub(in crate::sim) shares: ShareCounts,
    /// PAE's PDPTE registers (SDM Vol. 3A 4.4.1), loaded from the active process's root table
    /// when CR3 is loaded: on a process switch, [`Machine::load_cr3`], and after an operation
    /// that models the OS changing a PDPTE of the active process (map, unmap, the OS model's
    /// fault handling), since an OS must reload CR3 for such a change to take effect. A raw
    /// entry or memory write leaves them alone, which is how they come to differ from memory.
    /// `None` for other formats, and when the root table lies outside memory (the walk then
    /// reads memory and reports that). They belong to the CPU, not to a process: switching to a
    /// process loads its PDPTEs afresh, so a process that is not active walks from memory.
    pub(in crate::sim) pdptes: Option<[u64; PDPTE_REGISTERS]>,
    /// `format` compiled into masks for replay's walk ([`CompiledFormat`]). The format never
    /// changes after construction (nothing assigns `format`), and the two constructors are
    /// the only places that set both; replay checks in debug builds that they still agree.
    /// Boxed: it is large (masks for 8 levels) and only misses read it.
    pub(in crate::sim) compiled: Option<Box<CompiledFormat>>,
}

/// Physical memory may not be larger than the format's physical address width can reach (x86:
/// 4 GiB without PAE, MAXPHYADDR with it; RISC-V: 34 bits for Sv32, 56 for Sv39/48/57). Teaching
/// formats are exempt: OSTEP's linear tables live in memory above what a page can address.
fn check_addressable(format: &PagingFormat, mem: &PhysMem) -> Result<(), MachineError> {
    if format.arch == Arch::Generic {
        return Ok(());
    }
    let limit = 1u64.checked_shl(format.pa_bits).unwrap_or(u64::MAX);
    let size = mem.size();
    // A 64-bit width is limited by u64 itself.
    if format.pa_bits < 64 && size > limit {
        return Err(MachineError::MemoryTooLarge { size, pa_bits: format.pa_bits });
    }
    Ok(())
}

impl Machine {
    /// Runs `change` as one all-or-nothing step: on error, memory is rolled back from the
    /// journal of what the change overwrote (no copy of memory is made). `change` must leave
    /// the process list alone until it cannot fail any more.
    fn transact<R>(
        &mut self,
        change: impl FnOnce(&mut Self) -> Result<R, MachineError>,
    ) -> Result<R, MachineError> {
        let pdptes_before = self.pdptes_in_memory();
        self.mem.begin();
        let result = change(self);
        match result {
            Ok(_) => {
                self.mem.commit();
                self.reload_cr3_if_pdptes_changed(pdptes_before);
            }
            Err(_) => self.mem.rollback(),
        }
        result
    }

    /// A machine with one process ("init", ASID 1) and an empty root table.
    pub fn new(format: PagingFormat, mem_size: u64) -> Result<Self, MachineError> {
        format.validate()?;
        let mem = PhysMem::new(mem_size, format.page_shift)?;
        check_addressable(&format, &mem)?;
        let mut machine = Self {
            format,
            mem,
            processes: Vec::new(),
            active: 0,
            settings: MmuSettings::default(),
            shares: ShareCounts::new(),
            pdptes: None,
            compiled: None,
        };
        machine.compiled = CompiledFormat::new(&machine.format).map(Box::new);
        machine.add_process("init")?;
        machine.load_cr3();
        Ok(machine)
    }

    /// Assembles a machine from stored parts, checking that they fit together.
    pub fn from_parts(
        format: PagingFormat,
        mem: PhysMem,
        processes: Vec<Process>,
        active: usize,
        settings: MmuSettings,
    ) -> Result<Self, MachineError> {
        format.validate()?;
        if mem.frame_shift() != format.page_shift {
            return Err(MachineError::FrameSizeMismatch {
                mem_frame: mem.frame_size(),
                page: format.page_size(),
            });
        }
        check_addressable(&format, &mem)?;
        let mut names = BTreeSet::new();
        for p in &processes {
            if p.name.trim().is_empty() {
                return Err(MachineError::EmptyName);
            }
            if !names.insert(p.name.as_str()) {
                return Err(MachineError::DuplicateName(p.name.clone()));
            }
            let end = p.root.checked_add(format.table_frames(0));
            if end.is_none_or(|e| e.get() > mem.frame_count()) {
                return Err(MachineError::RootOutOfRange { name: p.name.clone(), root: p.root });
            }
        }
        if processes.is_empty() {
            return Err(MachineError::NoSuchProcess("(none: a lab needs at least one process)".into()));
        }
        let active = active.min(processes.len() - 1);
        let compiled = CompiledFormat::new(&format).map(Box::new);
        let mut machine = Self {
            format,
            mem,
            processes,
            active,
            settings,
            shares: ShareCounts::new(),
            pdptes: None,
            compiled,
        };
        // As if CR3 had just been loaded; a lab that saved different registers sets them next.
        machine.load_cr3();
        Ok(machine)
    }

    // ---- PAE's PDPTE registers ----

    /// Loads CR3 with the active process's root again (MOV to CR3): PAE's four PDPTEs are read
    /// from memory into the registers (SDM Vol. 3A 4.4.1). Other formats have nothing to load
    /// (their TLB flush is the document's business).
    pub fn load_cr3(&mut self) {
        self.pdptes = self.pdptes_in_memory();
    }

    /// The PDPTE registers the active process's walks use (`None` without PAE).
    pub fn pdpte_registers(&self) -> Option<[u64; PDPTE_REGISTERS]> {
        self.pdptes
    }

    /// Puts saved PDPTE registers back (a lab file's). Ignored for a format without them.
    pub fn set_pdpte_registers(&mut self, registers: [u64; PDPTE_REGISTERS]) {
        if self.format.has_pdpte_registers() {
            self.pdptes = Some(registers);
        }
    }

    /// The four PDPTEs in the active process's root table now (`None` without PAE, or when the
    /// table lies outside memory).
    pub fn pdptes_in_memory(&self) -> Option<[u64; PDPTE_REGISTERS]> {
        if !self.format.has_pdpte_registers() {
            return None;
        }
        let table = self.processes.get(self.active)?.root.base(self.format.page_shift)?;
        let bytes = self.format.pte_bytes;
        let mut entries = [0; PDPTE_REGISTERS];
        for (index, entry) in (0u64..).zip(entries.iter_mut()) {
            let addr = table.entry(index, bytes)?;
            *entry = self.mem.read_le(addr.phys(), bytes).ok()?;
        }
        Some(entries)
    }

    /// The PDPTE indexes (0..4) whose register differs from the entry in memory: an edit since
    /// the last CR3 load that walks do not see yet. Empty without PAE.
    pub fn stale_pdptes(&self) -> Vec<usize> {
        let (Some(registers), Some(memory)) = (self.pdptes, self.pdptes_in_memory()) else {
            return Vec::new();
        };
        (0..PDPTE_REGISTERS).filter(|&i| registers.get(i) != memory.get(i)).collect()
    }

    /// Where a walk of `process` starts: its root and, for the active process, the PDPTE
    /// registers (another process's PDPTEs are loaded when it is switched to, so its walks read
    /// them from memory).
    pub fn walk_root(&self, process: usize) -> Result<WalkRoot, MachineError> {
        let frame = self.process(process)?.root;
        let pdptes = if process == self.active { self.pdptes } else { None };
        Ok(WalkRoot { frame, pdptes })
    }

    /// After an operation that models the OS editing tables: if it changed a PDPTE of the
    /// active process in memory (`before` is what memory held), the OS reloads CR3, as it must
    /// for the change to take effect (Linux does after it changes a PAE PDPTE).
    pub fn reload_cr3_if_pdptes_changed(&mut self, before: Option<[u64; PDPTE_REGISTERS]>) {
        if self.pdptes_in_memory() != before {
            self.load_cr3();
        }
    }

    /// The format compiled for replay's walk (`None` only for a format of more levels than
    /// [`super::fast_walk::MAX_FAST_LEVELS`], which validation refuses).
    pub fn compiled_format(&self) -> Option<&CompiledFormat> {
        self.compiled.as_deref()
    }

    pub fn format(&self) -> &PagingFormat {
        &self.format
    }

    pub fn mem(&self) -> &PhysMem {
        &self.mem
    }

    pub fn processes(&self) -> &[Process] {
        &self.processes
    }

    /// The index of the active process (the one whose root CR3/satp holds).
    pub fn active(&self) -> usize {
        self.active
    }

    pub fn settings(&self) -> &MmuSettings {
        &self.settings
    }

    /// Share counts of the frames fork() shares (see [`super::fork`]).
    pub fn shares(&self) -> &ShareCounts {
        &self.shares
    }

    /// Puts in share counts (a loaded lab's, or an undo step's); returns the ones it had.
    pub fn swap_shares(&mut self, shares: ShareCounts) -> ShareCounts {
        std::mem::replace(&mut self.shares, shares)
    }

    /// Sets the MMU switches (CR0.WP, SMEP, SUM, ...).
    pub fn set_settings(&mut self, settings: MmuSettings) {
        self.settings = settings;
    }

    /// The MMU switches, to change one (they carry no invariant).
    pub fn settings_mut(&mut self) -> &mut MmuSettings {
        &mut self.settings
    }

    /// Writes bytes into physical memory (a data page's contents; importers and tests that build
    /// tables by hand). Not journaled by itself: inside a document step it is.
    pub fn write_phys(&mut self, addr: PhysAddr, bytes: &[u8]) -> Result<(), MachineError> {
        self.mem.write(addr, bytes)?;
        Ok(())
    }

    /// Writes a little-endian value of `bytes` bytes into physical memory (a hand-built entry).
    pub fn write_phys_le(&mut self, addr: PhysAddr, bytes: u32, value: u64) -> Result<(), MemError> {
        self.mem.write_le(addr, bytes, value)
    }

    /// Allocates `count` contiguous frames aligned to `align` frames (zeroed).
    pub fn alloc_frames(&mut self, count: u64, align: u64) -> Result<Pfn, MemError> {
        self.mem.alloc_aligned(count, align)
    }

    /// Marks `count` frames from `first` as allocated.
    pub fn reserve_frames(&mut self, first: Pfn, count: u64) -> Result<(), MachineError> {
        Ok(self.mem.reserve_range(first, count)?)
    }

    /// Copies frames (only their stored chunks) from `src` to `dst`.
    pub fn copy_frames(&mut self, src: Pfn, dst: Pfn, count: u64) -> Result<(), MachineError> {
        Ok(self.mem.copy_frames(src, dst, count)?)
    }

    /// Zeroes frames that no mapping or allocation holds any more.
    pub fn zero_frames(&mut self, first: Pfn, count: u64) {
        self.mem.zero_frames(first, count);
    }

    /// Maps one page at `level` in the tables under `root` (an importer's page by page build;
    /// [`Machine::map`] is the checked, all-or-nothing way).
    pub fn map_page_raw(
        &mut self,
        root: Pfn,
        va: VirtAddr,
        level: usize,
        frame: Pfn,
        leaf: u64,
    ) -> Result<(), TableError> {
        let pdptes_before = self.pdptes_in_memory();
        let result = table::map_page(&mut self.mem, &self.format, root, va, level, frame, leaf);
        self.reload_cr3_if_pdptes_changed(pdptes_before);
        result
    }

    // ---- the document's undo support ----

    /// Starts journaling memory changes (see [`PhysMem::begin`]).
    pub fn begin_journal(&mut self) {
        self.mem.begin();
    }

    /// Ends the journal begun last; the outermost returns what the changes overwrote.
    pub fn commit_journal(&mut self) -> super::mem::Journal {
        self.mem.commit()
    }

    /// Restores what a journal recorded; returns the journal that undoes that.
    pub fn revert_journal(&mut self, journal: super::mem::Journal) -> super::mem::Journal {
        self.mem.revert(journal)
    }

    /// Puts back processes, the active one, the switches and the PDPTE registers as an undo
    /// step recorded them; returns the ones the machine had.
    pub fn swap_parts(&mut self, parts: CpuParts) -> CpuParts {
        let old = CpuParts {
            processes: std::mem::replace(&mut self.processes, parts.processes),
            active: self.active,
            settings: self.settings,
            pdptes: self.pdptes,
        };
        self.active = parts.active.min(self.processes.len().saturating_sub(1));
        self.settings = parts.settings;
        self.pdptes = parts.pdptes.filter(|_| self.format.has_pdpte_registers());
        old
    }

    pub fn active_process(&self) -> &Process {
        &self.processes[self.active.min(self.processes.len() - 1)]
    }

    /// Finds a process by name or by index ("0", "1", ...).
    pub fn find_process(&self, key: &str) -> Result<usize, MachineError> {
        if let Some(i) = self.processes.iter().position(|p| p.name == key) {
            return Ok(i);
        }
        key.trim()
            .parse::<usize>()
            .ok()
            .filter(|&i| i < self.processes.len())
            .ok_or_else(|| MachineError::NoSuchProcess(key.to_string()))
    }

    pub(in crate::sim) fn process(&self, index: usize) -> Result<&Process, MachineError> {
        self.processes.get(index).ok_or_else(|| MachineError::NoSuchProcess(index.to_string()))
    }

    /// The physical address of `process`'s root table (in memory, as `from_parts` checked).
    fn root_table_addr(&self, process: usize) -> Result<PhysAddr, MachineError> {
        let p = self.process(process)?;
        p.root
            .base(self.format.page_shift)
            .ok_or_else(|| MachineError::RootOutOfRange { name: p.name.clone(), root: p.root })
    }

    pub(in crate::sim) fn check_new_name(&self, name: &str) -> Result<(), MachineError> {
        if name.trim().is_empty() {
            return Err(MachineError::EmptyName);
        }
        if self.processes.iter().any(|p| p.name == name) {
            return Err(MachineError::DuplicateName(name.to_string()));
        }
        Ok(())
    }

    pub(in crate::sim) fn free_asid(&self) -> Result<u16, MachineError> {
        let used: BTreeSet<u16> = self.processes.iter().map(|p| p.asid).collect();
        (1..=u16::MAX).find(|a| !used.contains(a)).ok_or(MachineError::NoFreeAsid)
    }

    /// Adds a process with an empty root table; returns its index.
    pub fn add_process(&mut self, name: &str) -> Result<usize, MachineError> {
        self.check_new_name(name)?;
        let asid = self.free_asid()?;
        let root = self.mem.alloc(self.format.table_frames(0))?;
        self.processes.push(Process { name: name.to_string(), root, asid });
        Ok(self.processes.len() - 1)
    }

    /// Adds a copy of process `from`: its own copies of every table, the same data frames
    /// (as after fork() before copy-on-write).
    pub fn clone_process(&mut self, from: usize, name: &str) -> Result<usize, MachineError> {
        self.check_new_name(name)?;
        let source_root = self.process(from)?.root;
        let asid = self.free_asid()?;
        let root = self.transact(|m| m.copy_tree(source_root, 0, &mut BTreeMap::new()))?;
        self.processes.push(Process { name: name.to_string(), root, asid });
        if !self.shares.is_empty() {
            // The clone maps every frame its source maps: one owner more of each shared one.
            for leaf in table::leaves(&self.mem, &self.format, root) {
                self.shares.add_if_counted(leaf.frame);
            }
        }
        Ok(self.processes.len() - 1)
    }

    /// Copies the table at `frame` (at `level`) and every table below it; returns the copy's frame.
    /// A table reached twice (shared within the tree) is copied once and stays shared in the copy,
    /// so aliasing tables cost their number, not the number of paths to them.
    fn copy_tree(
        &mut self,
        frame: Pfn,
        level: usize,
        copies: &mut BTreeMap<(Pfn, usize), Pfn>,
    ) -> Result<Pfn, MachineError> {
        if let Some(&copy) = copies.get(&(frame, level)) {
            return Ok(copy);
        }
        let count = self.format.table_frames(level);
        let copy = self.mem.alloc(count)?;
        copies.insert((frame, level), copy);
        self.mem.copy_frames(frame, copy, count)?;
        // Both frames lie in memory (allocated, or checked below before the call).
        let shift = self.format.page_shift;
        let (Some(addr), Some(copy_addr)) = (frame.base(shift), copy.base(shift)) else { return Ok(copy) };
        if level + 1 < self.format.levels.len() {
            let mut children = Vec::new();
            let table = table::TableRef { level, addr };
            table::for_each_present(&self.mem, &self.format, table, |e| {
                if !self.format.is_leaf(e.raw, e.level) {
                    children.push(e);
                }
            });
            for e in children {
                let child = Pfn::new(self.format.frame(e.raw, level));
                let child_end = child.checked_add(self.format.table_frames(level + 1));
                let entry = copy_addr.entry(e.index, self.format.pte_bytes);
                let (Some(entry), Some(end)) = (entry, child_end) else { continue };
                if end.get() > self.mem.frame_count() {
                    continue; // a corrupt pointer is copied as it is
                }
                let child_copy = self.copy_tree(child, level + 1, copies)?;
                let raw = self.format.with(e.raw, Role::Frame, level, child_copy.get());
                table::write_entry(&mut self.mem, &self.format, entry, raw)?;
            }
        }
        Ok(copy)
    }

    pub fn rename_process(&mut self, index: usize, name: &str) -> Result<(), MachineError> {
        self.process(index)?;
        if self.processes[index].name != name {
            self.check_new_name(name)?;
        }
        self.processes[index].name = name.to_string();
        Ok(())
    }

    /// Deletes a process and frees the tables (and allocated data frames) no other process uses.
    pub fn remove_process(&mut self, index: usize) -> Result<(), MachineError> {
        self.process(index)?;
        if self.processes.len() == 1 {
            return Err(MachineError::LastProcess);
        }
        let active_before = self.active;
        let gone = self.processes.remove(index);
        let kept_tables = self.table_frames_in_use();
        let mut doomed_tables = Runs::new();
        for t in table::tables(&self.mem, &self.format, gone.root) {
            let frame = t.addr.pfn(self.format.page_shift).get();
            doomed_tables.insert(frame, frame.saturating_add(self.format.table_frames(t.level)));
        }
        doomed_tables.subtract(&kept_tables);
        let leaves = table::leaves(&self.mem, &self.format, gone.root);
        // Leaves in tables other processes still reach (a kernel half) are not the process's
        // own mappings; the others give up one owner each.
        for leaf in &leaves {
            let table_frame = leaf.entry.table_addr.pfn(self.format.page_shift);
            if doomed_tables.contains(table_frame.get()) {
                self.shares.release(leaf.frame);
            }
        }
        for (start, end) in doomed_tables.iter() {
            self.mem.free(Pfn::new(start), end - start);
        }
        let mut kept = self.data_frames_in_use();
        for (start, end) in kept_tables.iter() {
            kept.insert(start, end);
        }
        for leaf in leaves {
            let count = 1u64 << (leaf.page_shift - self.format.page_shift).min(63);
            self.release_data_frames(leaf.frame.get(), count, &kept);
        }
        if self.active > index || self.active >= self.processes.len() {
            self.active = self.active.saturating_sub(1);
        }
        if index == active_before {
            // Another process runs now: its CR3 is loaded.
            self.load_cr3();
        }
        Ok(())
    }

    /// Makes `index` the active process: a CR3 load, so PAE's PDPTE registers are loaded from
    /// its root table (even when it is the active process already, as MOV to CR3 does).
    pub fn switch_to(&mut self, index: usize) -> Result<(), MachineError> {
        self.process(index)?;
        self.active = index;
        self.load_cr3();
        Ok(())
    }

    /// Makes process `to` use the same upper-half root entries (the kernel's tables) as `from`.
    /// Returns how many root entries were shared.
    pub fn share_kernel_half(&mut self, from: usize, to: usize) -> Result<u64, MachineError> {
        let src = self.root_table_addr(from)?;
        let dst = self.root_table_addr(to)?;
        let entries = self.format.entries_at(0);
        let bytes = self.format.pte_bytes;
        self.transact(|m| {
            let mut shared = 0;
            for index in entries / 2..entries {
                let (Some(from), Some(to)) = (src.entry(index, bytes), dst.entry(index, bytes)) else {
                    continue; // unreachable: both roots lie in memory
                };
                let raw = m.mem.read_le(from.phys(), bytes)?;
                if m.format.present(raw, 0) {
                    shared += 1;
                }
                m.mem.write_le(to.phys(), bytes, raw)?;
            }
            Ok(shared)
        })
    }

    /// Maps a page or a range. On error nothing changes.
    pub fn map(&mut self, process: usize, request: &MapRequest) -> Result<u64, MachineError> {
        let root = self.process(process)?.root;
        let size = request.page_size.unwrap_or(self.format.page_size());
        let level = table::level_for_size(&self.format, size)?;
        let flags = request.flags.clone().unwrap_or_else(|| self.format.default_leaf_flags.clone());
        let leaf = table::leaf_bits(&self.format, level, &flags)?;
        let len = request.len.max(1);
        // The range may end exactly at the top of the address space (the last page of the
        // canonical upper half), so check its last byte rather than the end.
        request.va.checked_add(len - 1).ok_or(TableError::RangeOverflow { va: request.va.get(), len })?;
        if !request.va.is_aligned(size) {
            return Err(TableError::Misaligned { va: request.va, size }.into());
        }
        let pages = len.div_ceil(size);
        if pages > MAX_PAGES_PER_CALL {
            return Err(MachineError::RangeTooLarge { va: request.va, len, pages, max: MAX_PAGES_PER_CALL });
        }
        let frames_per_page = size >> self.format.page_shift;
        let parent_shift = level.checked_sub(1).map_or(64, |parent| self.format.entry_span_shift(parent));
        self.transact(|m| {
            let mut leaf_table: Option<(u64, PhysAddr)> = None;
            let shift = m.format.page_shift;
            for i in 0..pages {
                // Within the range checked above: no page start overflows.
                let va = request
                    .va
                    .checked_add(i * size)
                    .ok_or(TableError::RangeOverflow { va: request.va.get(), len })?;
                let frame = match request.target {
                    MapTarget::To(pa) => {
                        if !pa.is_aligned(size) {
                            return Err(TableError::FrameMisaligned {
                                frame: pa.pfn(shift),
                                size,
                                align: frames_per_page,
                            }
                            .into());
                        }
                        let frame = pa.pfn(shift).checked_add(i * frames_per_page).ok_or(
                            TableError::FrameOutOfRange { frame: pa.pfn(shift), frames: m.mem.frame_count() },
                        )?;
                        table::check_frame(&m.mem, &m.format, level, frame)?;
                        m.mem.reserve_range(frame, frames_per_page)?;
                        frame
                    }
                    MapTarget::Alloc => m.mem.alloc_aligned(frames_per_page, frames_per_page)?,
                };
                let parent = va.get().checked_shr(parent_shift).unwrap_or(0);
                match leaf_table {
                    Some((p, table_addr)) if p == parent => {
                        table::map_page_in(&mut m.mem, &m.format, table_addr, va, level, frame, leaf)?;
                    }
                    _ => {
                        table::map_page(&mut m.mem, &m.format, root, va, level, frame, leaf)?;
                        let path = table::entry_path(&m.mem, &m.format, root, va)?;
                        leaf_table = path.last().map(|e| (parent, e.table_addr));
                    }
                }
            }
            Ok(pages)
        })
    }

    /// Unmaps every page in `[va, va + len)`; frees tables that become empty unless another
    /// root still reaches them (a shared kernel half), and data frames no other mapping uses.
    /// On error nothing changes.
    pub fn unmap(&mut self, process: usize, va: VirtAddr, len: u64) -> Result<Vec<Unmapped>, MachineError> {
        let root = self.process(process)?.root;
        self.transact(|m| {
            let outcome = table::unmap_range(&mut m.mem, &m.format, root, va, len)?;
            if outcome.pages.is_empty() {
                return Ok(outcome.pages);
            }
            for page in &outcome.pages {
                m.shares.release(page.frame);
            }
            let reachable = m.table_frames_in_use();
            for &(first, count) in &outcome.unhooked_tables {
                if reachable.last_overlap(first.get(), first.saturating_add(count).get()).is_none() {
                    m.mem.free(first, count);
                }
            }
            // Only the allocated frames of the unmapped pages can be released: look for other
            // mappings of just those (one pass over the leaves, no set of every mapped frame).
            let mut candidates = Runs::new();
            for u in &outcome.pages {
                let end = u.frame.saturating_add(u.frames).get().min(m.mem.frame_count());
                for (s, e) in m.mem.allocated_runs().intersect(u.frame.get(), end) {
                    candidates.insert(s, e);
                }
            }
            candidates.subtract(&reachable);
            let in_use = m.frames_mapped_among(&candidates);
            for (start, end) in candidates.iter() {
                m.release_data_frames(start, end - start, &in_use);
            }
            Ok(outcome.pages)
        })
    }

    /// Releases the allocated frames of `[first, first + count)` that `in_use` does not hold.
    fn release_data_frames(&mut self, first: u64, count: u64, in_use: &Runs) {
        let end = first.saturating_add(count).min(self.mem.frame_count());
        for (start, stop) in in_use.gaps(first, end) {
            self.mem.release_range(Pfn::new(start), stop - start);
        }
    }

    /// Frames holding tables reachable from the root of any process.
    pub fn table_frames_in_use(&self) -> Runs {
        let mut frames = Runs::new();
        for p in &self.processes {
            for t in table::tables(&self.mem, &self.format, p.root) {
                let first = t.addr.pfn(self.format.page_shift).get();
                frames.insert(first, first.saturating_add(self.format.table_frames(t.level)));
            }
        }
        frames
    }

    /// The frames of `candidates` that some process still maps as data.
    fn frames_mapped_among(&self, candidates: &Runs) -> Runs {
        let mut mapped = Runs::new();
        if candidates.is_empty() {
            return mapped;
        }
        let f = &self.format;
        for p in &self.processes {
            for t in table::tables(&self.mem, f, p.root) {
                table::for_each_present(&self.mem, f, t, |e| {
                    if !f.is_leaf(e.raw, e.level) {
                        return;
                    }
                    let frame = f.frame(e.raw, e.level);
                    let count = 1u64 << (f.entry_span_shift(e.level).saturating_sub(f.page_shift)).min(63);
                    let end = frame.saturating_add(count);
                    if candidates.last_overlap(frame, end).is_none() {
                        return;
                    }
                    for (s, e) in candidates.intersect(frame, end) {
                        mapped.insert(s, e);
                    }
                });
            }
        }
        mapped
    }

    /// Frames mapped as data pages by any process (large pages count every frame they cover).
    pub fn data_frames_in_use(&self) -> Runs {
        let mut frames = Runs::new();
        for p in &self.processes {
            for leaf in table::leaves(&self.mem, &self.format, p.root) {
                let count = 1u64 << (leaf.page_shift - self.format.page_shift).min(63);
                let first = leaf.frame.get();
                frames.insert(first, first.saturating_add(count).min(self.mem.frame_count()));
            }
        }
        frames
    }

    /// Translates without side effects.
    pub fn translate(
        &self,
        process: usize,
        va: VirtAddr,
        access: Access,
        mode: Mode,
    ) -> Result<Translation, MachineError> {
        let root = self.walk_root(process)?;
        Ok(mmu::translate(&self.mem, &self.format, root, &self.settings, Request { va, access, mode }))
    }

    /// Translates and applies the accessed/dirty writes, as the hardware would.
    pub fn access(
        &mut self,
        process: usize,
        va: VirtAddr,
        access: Access,
        mode: Mode,
    ) -> Result<Translation, MachineError> {
        let t = self.translate(process, va, access, mode)?;
        self.apply_ad(&t);
        Ok(t)
    }

    /// Writes a translation's A/D updates (skipping any whose entry changed since the walk).
    pub fn apply_ad(&mut self, t: &Translation) {
        self.apply_ad_updates(&t.ad_updates);
    }

    /// [`Machine::apply_ad`] for a bare list of updates (the fast walk's, which has no
    /// `Translation`): each entry is written only if it still holds what the walk read.
    pub fn apply_ad_updates(&mut self, updates: &[super::mmu::AdUpdate]) {
        let bytes = self.format.pte_bytes;
        for u in updates {
            if self.mem.read_le(u.entry_addr.phys(), bytes) == Ok(u.old) {
                let _ = self.mem.write_le(u.entry_addr.phys(), bytes, u.new);
            }
        }
    }

    /// Writes a whole entry.
    pub fn set_entry(&mut self, entry_addr: EntryAddr, raw: u64) -> Result<(), MachineError> {
        let bytes = self.format.pte_bytes;
        if !entry_addr.is_aligned(bytes) {
            return Err(MachineError::EntryMisaligned { addr: entry_addr, bytes });
        }
        table::write_entry(&mut self.mem, &self.format, entry_addr, raw)?;
        Ok(())
    }

    /// Sets one named field of the entry at `entry_addr` (an entry of a table at `level`).
    pub fn set_field(
        &mut self,
        entry_addr: EntryAddr,
        level: usize,
        name: &str,
        value: u64,
    ) -> Result<u64, MachineError> {
        let field = self
            .format
            .field_named_at(name, level)
            .ok_or_else(|| MachineError::NoSuchField { name: name.to_string(), level })?
            .clone();
        if value > low_mask(field.width) {
            return Err(TableError::ValueTooWide { name: field.name, value, width: field.width }.into());
        }
        let raw = self.mem.read_le(entry_addr.phys(), self.format.pte_bytes)?;
        let new = field.set(raw, value);
        self.set_entry(entry_addr, new)?;
        Ok(new)
    }

    pub fn table_size(&self, process: usize) -> Result<SizeReport, MachineError> {
        let root = self.process(process)?.root;
        Ok(size::table_size(&self.mem, &self.format, root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::mmu::Outcome;
    use crate::sim::presets;

    fn machine(name: &str) -> Machine {
        Machine::new(presets::by_name(name).unwrap(), 256 << 20).unwrap()
    }

    fn map_req(va: u64, len: u64) -> MapRequest {
        MapRequest { va: VirtAddr::new(va), len, target: MapTarget::Alloc, page_size: None, flags: None }
    }

    #[test]
    fn the_last_page_of_the_address_space_can_be_mapped() {
        let mut m = machine("x86-64");
        let last = map_req(0xffff_ffff_ffff_f000, 0x1000);
        assert_eq!(m.map(0, &last), Ok(1));
        assert!(
            m.translate(0, VirtAddr::new(0xffff_ffff_ffff_ffff), Access::Read, Mode::Supervisor)
                .unwrap()
                .pa()
                .is_some()
        );
        assert!(matches!(
            m.map(0, &map_req(0xffff_ffff_ffff_f000, 0x2000)),
            Err(MachineError::Table(TableError::RangeOverflow { .. }))
        ));
        assert_eq!(m.unmap(0, VirtAddr::new(0xffff_ffff_ffff_f000), 0x1000).map(|u| u.len()), Ok(1));
    }

    #[test]
    fn failed_range_map_changes_nothing() {
        let mut m = machine("x86-64");
        m.map(0, &map_req(0x5000, 0x1000)).unwrap();
        let before = m.clone();
        let err = m.map(0, &map_req(0x1000, 0x8000)).unwrap_err();
        assert!(matches!(err, MachineError::Table(TableError::AlreadyMapped { .. })));
        assert_eq!(m, before);
    }

    #[test]
    fn unmap_releases_allocated_data_frames_not_shared_ones() {
        let mut m = machine("x86-64");
        m.map(0, &map_req(0x1000, 0x1000)).unwrap();
        let frame =
            m.translate(0, VirtAddr::new(0x1000), Access::Read, Mode::User).unwrap().pa().unwrap().pfn(12);
        let b = m.clone_process(0, "child").unwrap();
        m.unmap(0, VirtAddr::new(0x1000), 0x1000).unwrap();
        assert!(m.mem.is_allocated(frame), "still mapped by the clone");
        m.unmap(b, VirtAddr::new(0x1000), 0x1000).unwrap();
        assert!(!m.mem.is_allocated(frame));
    }

    #[test]
    fn clone_copies_tables_but_shares_pages() {
        let mut m = machine("sv39");
        m.map(0, &map_req(0x4000, 0x1000)).unwrap();
        let child = m.clone_process(0, "child").unwrap();
        let a = m.translate(0, VirtAddr::new(0x4000), Access::Read, Mode::User).unwrap();
        let b = m.translate(child, VirtAddr::new(0x4000), Access::Read, Mode::User).unwrap();
        assert_eq!(a.pa(), b.pa());
        assert_ne!(a.steps[0].entry_addr, b.steps[0].entry_addr);
        m.unmap(child, VirtAddr::new(0x4000), 0x1000).unwrap();
        assert!(m.translate(0, VirtAddr::new(0x4000), Access::Read, Mode::User).unwrap().pa().is_some());
    }

    #[test]
    fn shared_kernel_half_translates_identically() {
        let mut m = machine("x86-64");
        let kernel = MapRequest { flags: Some(vec!["R/W".into()]), ..map_req(0xffff_8000_0000_0000, 0x3000) };
        m.map(0, &kernel).unwrap();
        let b = m.add_process("other").unwrap();
        assert!(
            m.translate(b, VirtAddr::new(0xffff_8000_0000_1000), Access::Read, Mode::Supervisor)
                .unwrap()
                .fault()
                .is_some()
        );
        assert_eq!(m.share_kernel_half(0, b).unwrap(), 1);
        let t = m.translate(b, VirtAddr::new(0xffff_8000_0000_1000), Access::Read, Mode::Supervisor).unwrap();
        assert!(matches!(t.outcome, Outcome::Mapped(_)));
        assert_eq!(
            t.steps[1].table_addr,
            m.translate(0, VirtAddr::new(0xffff_8000_0000_1000), Access::Read, Mode::Supervisor)
                .unwrap()
                .steps[1]
                .table_addr
        );
    }

    #[test]
    fn removing_a_process_keeps_shared_tables() {
        let mut m = machine("x86-64");
        m.map(0, &map_req(0xffff_8000_0000_0000, 0x1000)).unwrap();
        let b = m.add_process("b").unwrap();
        m.share_kernel_half(0, b).unwrap();
        m.remove_process(b).unwrap();
        assert!(
            m.translate(0, VirtAddr::new(0xffff_8000_0000_0000), Access::Read, Mode::Supervisor)
                .unwrap()
                .pa()
                .is_some()
        );
        assert!(matches!(m.remove_process(0), Err(MachineError::LastProcess)));
    }

    #[test]
    fn processes_get_distinct_asids_and_names() {
        let mut m = machine("sv39");
        let b = m.add_process("b").unwrap();
        assert_ne!(m.processes[0].asid, m.processes[b].asid);
        assert!(matches!(m.add_process("b"), Err(MachineError::DuplicateName(_))));
        assert!(matches!(m.rename_process(b, "init"), Err(MachineError::DuplicateName(_))));
        assert_eq!(m.find_process("1").unwrap(), b);
        assert!(m.find_process("zzz").is_err());
    }
}

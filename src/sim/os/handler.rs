//! The page-fault handler: find a frame (a free one, a new one up to the limit, or a victim's),
//! write a dirty victim to swap and leave its slot in its not-present PTE, fill the frame (zeros
//! or the page's swap copy), map it; and the Svade accessed/dirty faults.

use super::super::fault::{Access, FaultKind};
use super::super::format::Role;
use super::super::machine::Machine;
use super::super::replace;
use super::super::replace::Policy;
use super::super::table::{self, EntryRef};
use super::future::PageKey;
use super::model::{Eviction, Handled, Os, OsError, Resident, Resolution};
use super::settings::OsModel;
use crate::sim::address::{PhysAddr, VirtAddr};

/// A frame ready for a page, and what freeing it took.
struct Taken {
    slot: usize,
    evicted: Option<Eviction>,
    cleared: Vec<PageKey>,
}

impl Os {
    /// Resolves a fault of `kind` at `va` in `process`, so that the access can be retried.
    /// Failures are counted in the process's `failures`.
    ///
    /// # Errors
    /// [`OsError::Manual`] in the manual model, [`OsError::NotHandled`] for protection faults,
    /// else why the page could not be loaded.
    pub fn handle_fault(
        &mut self,
        machine: &mut Machine,
        process: usize,
        va: VirtAddr,
        access: Access,
        kind: FaultKind,
    ) -> Result<Handled, OsError> {
        if self.settings.model == OsModel::Manual {
            return Err(OsError::Manual);
        }
        let pdptes_before = machine.pdptes_in_memory();
        let result = match kind {
            FaultKind::WriteProtection if machine.is_cow_fault(process, va, access, kind) => {
                self.copy_on_write(machine, process, va)
            }
            FaultKind::NotPresent => self.page_in(machine, process, va, access),
            FaultKind::AccessedClear | FaultKind::DirtyClear => {
                self.set_access_bits(machine, process, va, access)
            }
            other => Err(OsError::NotHandled(other.id())),
        };
        if result.is_err() {
            self.counters_mut(process).failures += 1;
        }
        // A new page directory goes into a PAE PDPTE: the OS reloads CR3 for it to count.
        machine.reload_cr3_if_pdptes_changed(pdptes_before);
        result
    }

    fn page_in(
        &mut self,
        machine: &mut Machine,
        process: usize,
        va: VirtAddr,
        access: Access,
    ) -> Result<Handled, OsError> {
        let key = self.key(process, va);
        let leaf = self.ensure_leaf_entry(machine, key)?;
        let level = self.leaf_level;
        if machine.format.present(leaf.raw, level) {
            return Err(OsError::AlreadyPresent { va });
        }
        let swap_slot = self.encoding.decode(leaf.raw);
        if let Some(stale) = self.resident.get(&key).copied() {
            // Its mapping was removed behind the model's back.
            self.forget(machine, stale);
        }
        let Taken { slot, evicted, cleared } = self.take_frame(machine)?;
        let Some(pfn) = self.frames.get(slot).map(|f| f.pfn) else { return Err(OsError::NoFrame) };
        machine.mem.zero_frames(pfn, 1);
        let resolution = match swap_slot {
            Some(swap_slot) => {
                let mut page = vec![0u8; usize::try_from(machine.format.page_size()).unwrap_or(0)];
                // A slot the swap area does not have (a lab saved mid-run) reads as zeros.
                if self.swap.load(swap_slot, &mut page) && page.iter().any(|&b| b != 0) {
                    let frames = machine.mem.frame_count();
                    let base = pfn
                        .base(self.page_shift)
                        .ok_or(table::TableError::FrameOutOfRange { frame: pfn, frames })?;
                    machine.mem.write(base, &page).map_err(table::TableError::from)?;
                }
                Resolution::SwapIn { slot: swap_slot }
            }
            None if self.ever_loaded.contains(&key) => Resolution::Refill,
            None => Resolution::FirstTouch,
        };
        let format = &machine.format;
        // A set up front (and D for a store), as Linux does: on RISC-V with Svade the retry
        // would fault again otherwise; on x86 the retry would set the same bits.
        let mut raw = format.with(self.leaf_template, Role::Frame, level, pfn.get());
        raw = format.with(raw, Role::Accessed, level, 1);
        if access == Access::Write {
            raw = format.with(raw, Role::Dirty, level, 1);
        }
        machine.set_entry(leaf.entry_addr, raw)?;
        self.loads += 1;
        let (loaded, now) = (self.loads, self.now);
        if let Some(frame) = self.frames.get_mut(slot) {
            frame.page = Some(Resident { key, loaded, last_use: now, swap_slot, soft_referenced: true });
        }
        self.resident.insert(key, slot);
        self.ever_loaded.insert(key);
        let counters = self.counters_mut(process);
        counters.faults += 1;
        match resolution {
            Resolution::FirstTouch => counters.first_touch += 1,
            Resolution::SwapIn { .. } => counters.swap_ins += 1,
            Resolution::Refill => counters.refills += 1,
            Resolution::AccessBits => counters.ad_faults += 1,
            Resolution::CopyOnWrite { .. } => {}
        }
        Ok(Handled { key, resolution, frame: Some(pfn), evicted, cleared, cow: None })
    }

    /// Svade: the hardware refused to set A (or D); the handler does it.
    fn set_access_bits(
        &mut self,
        machine: &mut Machine,
        process: usize,
        va: VirtAddr,
        access: Access,
    ) -> Result<Handled, OsError> {
        let key = self.key(process, va);
        let level = self.leaf_level;
        let leaf = self.leaf_entry(machine, key).filter(|e| machine.format.present(e.raw, level));
        let Some(leaf) = leaf else { return Err(OsError::NotHandled(FaultKind::AccessedClear.id())) };
        let mut raw = machine.format.with(leaf.raw, Role::Accessed, level, 1);
        if access == Access::Write {
            raw = machine.format.with(raw, Role::Dirty, level, 1);
        }
        machine.set_entry(leaf.entry_addr, raw)?;
        self.counters_mut(process).ad_faults += 1;
        Ok(Handled {
            key,
            resolution: Resolution::AccessBits,
            frame: None,
            evicted: None,
            cleared: Vec::new(),
            cow: None,
        })
    }

    /// The page's last-level entry, creating the tables on the way (from general memory, not
    /// the user frames).
    fn ensure_leaf_entry(&self, machine: &mut Machine, key: PageKey) -> Result<EntryRef, OsError> {
        let root = machine.processes.get(key.process).ok_or(OsError::NoProcess(key.process))?.root;
        let format = &machine.format;
        if !format.va_in_range(key.va.get()) {
            return Err(table::TableError::VaOutOfRange { va: key.va, bits: format.va_bits }.into());
        }
        let mut table_addr = root.base(format.page_shift).unwrap_or(PhysAddr::new(u64::MAX));
        for level in 0..self.leaf_level {
            let entry = table::read_entry(
                &machine.mem,
                format,
                table_addr,
                level,
                format.index_of(key.va.get(), level),
            )?;
            if format.present(entry.raw, level) {
                if format.is_leaf(entry.raw, level) {
                    return Err(OsError::LargePage { va: key.va });
                }
                table_addr =
                    table::child_table_addr(format, entry.raw, level).unwrap_or(PhysAddr::new(u64::MAX));
            } else {
                let child =
                    machine.mem.alloc(format.table_frames(level + 1)).map_err(table::TableError::from)?;
                table::write_entry(
                    &mut machine.mem,
                    format,
                    entry.entry_addr,
                    table::table_entry(format, level, child),
                )?;
                table_addr = child.base(format.page_shift).unwrap_or(PhysAddr::new(u64::MAX));
            }
        }
        let index = format.index_of(key.va.get(), self.leaf_level);
        Ok(table::read_entry(&machine.mem, format, table_addr, self.leaf_level, index)?)
    }

    /// A frame for a new page: a free one of the pool, a new one while the pool is below its
    /// limit, else a victim's.
    fn take_frame(&mut self, machine: &mut Machine) -> Result<Taken, OsError> {
        let mut cleared = Vec::new();
        // Each round either returns or drops a stale page, so pool size + 2 rounds suffice.
        for _ in 0..self.frames.len() + 2 {
            if let Some(slot) = self.frames.iter().position(|f| f.page.is_none()) {
                if let Some(frame) = self.frames.get(slot)
                    && !machine.mem.is_allocated(frame.pfn)
                {
                    machine.mem.reserve(frame.pfn).map_err(table::TableError::from)?;
                }
                return Ok(Taken { slot, evicted: None, cleared });
            }
            if self.frames.len() < self.settings.frames as usize {
                match machine.mem.alloc(1) {
                    Ok(pfn) => {
                        self.frames.push(super::model::UserFrame { pfn, page: None });
                        return Ok(Taken { slot: self.frames.len() - 1, evicted: None, cleared });
                    }
                    Err(_) if self.frames.is_empty() => return Err(OsError::NoFrame),
                    Err(_) => {} // memory is full: evict below the limit
                }
            }
            let slot = self.choose_victim(machine, &mut cleared);
            // A frame a fork shared since the page was loaded is mapped by other processes
            // too: evicting it would take it from under them. It leaves the pool instead.
            let shared = self.frames.get(slot).is_some_and(|f| machine.shares.is_shared(f.pfn));
            if shared || self.frame_bits(machine, slot).stale {
                self.forget(machine, slot);
                continue;
            }
            let evicted = self.evict(machine, slot)?;
            self.hand = (slot + 1) % self.frames.len().max(1);
            return Ok(Taken { slot, evicted: Some(evicted), cleared });
        }
        Err(OsError::NoFrame)
    }

    /// Runs the policy; the clock's cleared accessed bits are cleared in the PTEs too.
    fn choose_victim(&mut self, machine: &mut Machine, cleared: &mut Vec<PageKey>) -> usize {
        let policy = self.settings.policy;
        let next_uses = if policy == Policy::Opt { self.next_uses(self.position(0)) } else { Vec::new() };
        let bits = self.pool_bits(machine);
        let mut pool = super::model::pooled(&self.frames, bits, next_uses);
        let mut passed = Vec::new();
        let slot = replace::choose_victim(policy, &mut pool, self.hand, &mut self.rng, &mut passed);
        for at in passed {
            if let Some(key) = self.clear_referenced(machine, at) {
                cleared.push(key);
            }
        }
        slot
    }

    /// Clears the accessed bit of the page in frame `slot` (in its PTE; the model's own bit for
    /// formats without one). The TLB is not flushed, as Linux does not on x86: a page the TLB
    /// still maps is used without a walk, so its A bit stays clear until the next miss.
    fn clear_referenced(&mut self, machine: &mut Machine, slot: usize) -> Option<PageKey> {
        let page = self.frames.get_mut(slot)?.page.as_mut()?;
        page.soft_referenced = false;
        let key = page.key;
        let level = self.leaf_level;
        if let Some(entry) = self.leaf_entry(machine, key)
            && machine.format.field(Role::Accessed, level).is_some()
        {
            let raw = machine.format.with(entry.raw, Role::Accessed, level, 0);
            machine.set_entry(entry.entry_addr, raw).ok()?;
        }
        Some(key)
    }

    /// Takes the page out of frame `slot`: a dirty page goes to swap; the PTE becomes not
    /// present, naming the swap slot if the page has one, else empty.
    fn evict(&mut self, machine: &mut Machine, slot: usize) -> Result<Eviction, OsError> {
        let Some(frame) = self.frames.get(slot) else { return Err(OsError::NoFrame) };
        let Some(page) = frame.page.clone() else { return Err(OsError::NoFrame) };
        let pfn = frame.pfn;
        let key = page.key;
        let Some(entry) = self.leaf_entry(machine, key) else { return Err(OsError::NoFrame) };
        let dirty = machine.format.flag(entry.raw, Role::Dirty, self.leaf_level, true);
        let mut swap_slot = page.swap_slot;
        if dirty {
            let target = match swap_slot {
                Some(s) => s,
                None => self
                    .swap
                    .allocate(self.encoding.max_slots())
                    .ok_or(OsError::SwapFull { slots: self.encoding.max_slots() })?,
            };
            let bytes =
                machine.mem.frame_copy(pfn, super::model::MAX_PAGE_SIZE).map_err(table::TableError::from)?;
            self.swap.store(target, bytes.as_deref());
            self.slot_owners.insert(target, key);
            swap_slot = Some(target);
        }
        let pte = match swap_slot {
            Some(s) => {
                self.encoding.encode(s).ok_or(OsError::SwapFull { slots: self.encoding.max_slots() })?
            }
            None => 0,
        };
        machine.set_entry(entry.entry_addr, pte)?;
        if let Some(frame) = self.frames.get_mut(slot) {
            frame.page = None;
        }
        self.resident.remove(&key);
        let counters = self.counters_mut(key.process);
        counters.evictions += 1;
        if dirty {
            counters.write_backs += 1;
        }
        let asid = machine.processes.get(key.process).map_or(0, |p| p.asid);
        Ok(Eviction { key, frame: pfn, asid, dirty, swap_slot, written_back: dirty, pte })
    }

    /// Drops the record of frame `slot`, whose page is no longer mapped there. The frame stays
    /// in the pool unless the tables now use it for something else.
    fn forget(&mut self, machine: &mut Machine, slot: usize) {
        let Some(frame) = self.frames.get_mut(slot) else { return };
        if let Some(page) = frame.page.take() {
            self.resident.remove(&page.key);
        }
        let pfn = frame.pfn;
        let taken = machine.table_frames_in_use().contains(pfn.get())
            || machine.data_frames_in_use().contains(pfn.get());
        if taken {
            self.frames.remove(slot);
            if self.hand > slot {
                self.hand -= 1;
            }
            self.hand %= self.frames.len().max(1);
            self.resident = self
                .frames
                .iter()
                .enumerate()
                .filter_map(|(i, f)| f.page.as_ref().map(|p| (p.key, i)))
                .collect();
        } else if !machine.mem.is_allocated(pfn) {
            let _ = machine.mem.reserve(pfn);
        }
    }
}

//! Locks: parts of a lab that students cannot edit: whole processes (their name, root and every
//! entry of their page tables) and single entries by physical address.
//!
//! Every document step is checked on what it wrote (`check_journal`), so every way of editing
//! (map, unmap, an inspector checkbox, sharing the kernel half, a replay's demand maps) is covered
//! by one rule; grading compares a student's machine with the handed-out one (`check_change`).
//! Accessed and dirty bits are ignored: the MMU sets them, not the student.

use crate::sim::format::Role;
use crate::sim::mem::Journal;
use crate::sim::process::Process;
use crate::sim::runs::Runs;
use crate::sim::table;
use crate::sim::{Machine, PagingFormat};
use crate::sim::{Pfn, PhysAddr};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use thiserror::Error;

/// What the lab locks. Empty in a plain lab, and then not written to the file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Locks {
    /// Process names.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub processes: BTreeSet<String>,
    /// Physical addresses of page-table entries.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub entries: BTreeSet<u64>,
}

/// Something that can be locked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockTarget<'a> {
    /// A process, by name.
    Process(&'a str),
    /// A page-table entry, by physical address.
    Entry(u64),
}

/// An edit that touched a locked part.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LockError {
    #[error("process \"{0}\" is locked by the exercise and cannot be changed")]
    Process(String),
    #[error("the entry at {0:#x} is locked by the exercise and cannot be changed")]
    Entry(u64),
}

impl Locks {
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty() && self.entries.is_empty()
    }

    pub fn lock(&mut self, target: LockTarget<'_>) {
        match target {
            LockTarget::Process(name) => {
                self.processes.insert(name.to_string());
            }
            LockTarget::Entry(addr) => {
                self.entries.insert(addr);
            }
        }
    }

    pub fn unlock(&mut self, target: LockTarget<'_>) {
        match target {
            LockTarget::Process(name) => {
                self.processes.remove(name);
            }
            LockTarget::Entry(addr) => {
                self.entries.remove(&addr);
            }
        }
    }

    /// Whether `target` may not be edited: a locked process; an entry locked by address or
    /// lying in a page table of a locked process.
    pub fn is_locked(&self, machine: &Machine, target: LockTarget<'_>) -> bool {
        match target {
            LockTarget::Process(name) => self.processes.contains(name),
            LockTarget::Entry(addr) => {
                self.entries.contains(&addr)
                    || self.locked_table_frames(machine).contains(&(addr >> machine.format().page_shift))
            }
        }
    }

    /// Frames holding page tables of locked processes (compute once per change, then test
    /// entries with `addr >> page_shift`).
    pub fn locked_table_frames(&self, machine: &Machine) -> BTreeSet<u64> {
        let f = machine.format();
        let mut frames = BTreeSet::new();
        for p in machine.processes().iter().filter(|p| self.processes.contains(&p.name)) {
            for t in table::tables(machine.mem(), f, p.root) {
                let first = t.addr.pfn(f.page_shift).get();
                frames.extend(first..first.saturating_add(f.table_frames(t.level)));
            }
        }
        frames
    }

    /// Refuses a change from `before` to `after` that touches a locked part.
    pub fn check_change(&self, before: &Machine, after: &Machine) -> Result<(), LockError> {
        let mask = !ad_mask(before.format());
        for name in &self.processes {
            let find = |m: &Machine| m.processes().iter().find(|p| &p.name == name).map(|p| p.root);
            let (Some(root_before), Some(root_after)) = (find(before), find(after)) else {
                if find(before).is_some() {
                    return Err(LockError::Process(name.clone()));
                }
                continue;
            };
            if root_before != root_after
                || tree_entries(before, root_before, mask) != tree_entries(after, root_after, mask)
            {
                return Err(LockError::Process(name.clone()));
            }
        }
        for &addr in &self.entries {
            let read = |m: &Machine| {
                m.mem().read_le(PhysAddr::new(addr), m.format().pte_bytes).ok().map(|raw| raw & mask)
            };
            if read(before) != read(after) {
                return Err(LockError::Entry(addr));
            }
        }
        Ok(())
    }
}

impl Locks {
    /// Refuses a change described by what it overwrote: `journal` (the old bytes of memory) and
    /// `before` (the processes before it), compared with `after`. Only touched chunks are read,
    /// so the check costs what the change wrote, not the size of the lab.
    pub fn check_journal(
        &self,
        before: &[Process],
        journal: &Journal,
        after: &Machine,
    ) -> Result<(), LockError> {
        if self.is_empty() {
            return Ok(());
        }
        for name in &self.processes {
            let root = |list: &[Process]| list.iter().find(|p| &p.name == name).map(|p| p.root);
            if let Some(old) = root(before)
                && root(after.processes()) != Some(old)
            {
                return Err(LockError::Process(name.clone()));
            }
        }
        let f = &after.format();
        let mask = !ad_mask(f);
        let pte = u64::from(f.pte_bytes);
        let entry_at = |bytes: Option<&[u8]>, offset: u64| -> u64 {
            let mut b = [0u8; 8];
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let n = f.pte_bytes as usize;
            if let Some(src) = bytes.and_then(|b| b.get(start..start.saturating_add(n))) {
                b[..n].copy_from_slice(src);
            }
            u64::from_le_bytes(b)
        };
        // Every table of a locked process that still hangs off its root: a change that unhooked
        // one also cleared the entry that pointed to it, in a table still reached.
        let mut locked_tables: Vec<(String, Runs)> = Vec::new();
        for p in after.processes().iter().filter(|p| self.processes.contains(&p.name)) {
            let mut runs = Runs::new();
            for t in table::tables(after.mem(), f, p.root) {
                let first = t.addr.pfn(f.page_shift).get();
                runs.insert(first, first.saturating_add(f.table_frames(t.level)));
            }
            locked_tables.push((p.name.clone(), runs));
        }
        let chunk = after.mem().chunk_size();
        for (addr, old) in journal.old_chunks() {
            let mut offset = 0;
            while offset + pte <= chunk {
                let entry_addr = addr + offset;
                let new = after.mem().read_le(PhysAddr::new(entry_addr), f.pte_bytes).unwrap_or(0);
                let changed = (entry_at(old, offset) ^ new) & mask != 0;
                if changed {
                    if self.entries.contains(&entry_addr) {
                        return Err(LockError::Entry(entry_addr));
                    }
                    let frame = entry_addr >> f.page_shift;
                    if let Some((name, _)) = locked_tables.iter().find(|(_, runs)| runs.contains(frame)) {
                        return Err(LockError::Process(name.clone()));
                    }
                }
                offset += pte;
            }
        }
        Ok(())
    }
}

/// Bits of the accessed and dirty fields at any level.
fn ad_mask(format: &PagingFormat) -> u64 {
    format
        .fields
        .iter()
        .filter(|f| matches!(f.role, Role::Accessed | Role::Dirty))
        .map(|f| f.mask())
        .fold(0, |a, b| a | b)
}

/// Every present entry of every table under `root`, with A/D masked off.
fn tree_entries(machine: &Machine, root: Pfn, mask: u64) -> Vec<(usize, u64, u64)> {
    let mut out = Vec::new();
    for t in table::tables(machine.mem(), machine.format(), root) {
        table::for_each_present(machine.mem(), machine.format(), t, |e| {
            out.push((e.level, e.entry_addr.get(), e.raw & mask))
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::VirtAddr;
    use crate::sim::{Access, MapRequest, MapTarget, Mode, presets};

    fn req(va: u64) -> MapRequest {
        MapRequest {
            va: VirtAddr::new(va),
            len: 0x1000,
            target: MapTarget::Alloc,
            page_size: None,
            flags: None,
        }
    }

    #[test]
    fn locked_process_refuses_map_but_not_accessed_bits() {
        let mut m = Machine::new(presets::by_name("x86-64").unwrap(), 16 << 20).unwrap();
        m.map(0, &req(0x1000)).unwrap();
        let mut locks = Locks::default();
        locks.lock(LockTarget::Process("init"));
        let before = m.clone();
        m.access(0, VirtAddr::new(0x1000), Access::Write, Mode::User).unwrap();
        assert_eq!(locks.check_change(&before, &m), Ok(()));
        m.map(0, &req(0x2000)).unwrap();
        assert_eq!(locks.check_change(&before, &m), Err(LockError::Process("init".into())));
        let root_entry = m.processes()[0].root.get() << 12;
        assert!(locks.is_locked(&m, LockTarget::Entry(root_entry)));
        assert!(!locks.is_locked(&m, LockTarget::Entry(0x70_0000)));
    }

    #[test]
    fn locked_entry_refuses_a_write() {
        let mut m = Machine::new(presets::by_name("sv39").unwrap(), 16 << 20).unwrap();
        m.map(0, &req(0x1000)).unwrap();
        let t = m.translate(0, VirtAddr::new(0x1000), Access::Read, Mode::User).unwrap();
        let leaf = t.steps.last().unwrap().entry_addr;
        let mut locks = Locks::default();
        locks.lock(LockTarget::Entry(leaf.get()));
        let before = m.clone();
        m.set_field(leaf, 2, "W", 0).unwrap();
        assert_eq!(locks.check_change(&before, &m), Err(LockError::Entry(leaf.get())));
        locks.unlock(LockTarget::Entry(leaf.get()));
        assert!(locks.is_empty());
    }
}

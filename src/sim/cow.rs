//! Copy-on-write faults, resolved as Linux's `do_wp_page` does: a write to a page that fork()
//! shared read-only and marked (see [`super::fork`]) faults; while other processes still share
//! the frame, the writer gets a copy mapped writable and the frame loses one owner; the last
//! owner gets its page made writable in place, with no copy. Either way the writer's TLB entry
//! for the page is stale (read-only) and must be invalidated: each [`CowEvent`] names the page
//! and ASID for that.

use super::address::{Pfn, VirtAddr};
use super::fault::{Access, FaultKind};
use super::fork::CowBit;
use super::format::Role;
use super::machine::{Machine, MachineError};
use super::table::{self, EntryRef};
use thiserror::Error;

/// A copy-on-write page as a walk finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CowPage {
    /// The page's leaf entry.
    pub leaf: EntryRef,
    /// The first frame of the page (large pages cover several).
    pub frame: Pfn,
    /// Frames the page covers.
    pub frames: u64,
    /// Processes mapping the frame (from the share counts).
    pub owners: u32,
    pub bit: CowBit,
}

/// One copy-on-write fault resolved, for the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CowEvent {
    /// The writer (an index into the machine's processes when it happened).
    pub process: usize,
    /// The writer's name and ASID, for the timeline and the TLB invalidation.
    pub process_name: String,
    pub asid: u16,
    /// The page's base address.
    pub va: VirtAddr,
    /// The shared frame the writer left (or kept, without a copy).
    pub old_frame: Pfn,
    /// The writer's new frame; `None` when the last owner kept its frame ("no copy").
    pub new_frame: Option<Pfn>,
    /// Owners of `old_frame` before and after.
    pub owners_before: u32,
    pub owners_after: u32,
}

impl CowEvent {
    /// "shell wrote 0x5555_5555_8000: copied frame 0x12 to 0x40 (frame 0x12 now has 1 owner)".
    #[must_use]
    pub fn describe(&self) -> String {
        let what = match self.new_frame {
            Some(new) => format!(
                "copied frame {:#x} to {new:#x} ({} owner{} left)",
                self.old_frame,
                self.owners_after,
                if self.owners_after == 1 { "" } else { "s" }
            ),
            None => format!("last owner of frame {:#x}: made writable, no copy", self.old_frame),
        };
        format!("\"{}\" wrote {}: {what}", self.process_name, crate::sim::addr::hex_grouped(self.va.get()))
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CowError {
    #[error("{va:#x} is not a copy-on-write page of process {process}")]
    NotCow { process: usize, va: VirtAddr },
    #[error(transparent)]
    Machine(#[from] MachineError),
}

impl Machine {
    /// The copy-on-write page at `va` in `process`: a present leaf, read-only and marked in the
    /// format's COW bit, under upper entries that allow writes (else making the leaf writable
    /// would not let the write through, and the fault is a real one).
    #[must_use]
    pub fn cow_page(&self, process: usize, va: VirtAddr) -> Option<CowPage> {
        let f = &self.format;
        let bit = CowBit::of(f)?;
        let root = self.processes.get(process)?.root;
        let path = table::entry_path(&self.mem, f, root, va).ok()?;
        let (leaf, upper) = path.split_last()?;
        let leaf = *leaf;
        if !f.present(leaf.raw, leaf.level) || !f.is_leaf(leaf.raw, leaf.level) || !bit.is_set(leaf.raw) {
            return None;
        }
        if f.flag(leaf.raw, Role::Writable, leaf.level, false) {
            return None;
        }
        // x86 and the teaching formats combine R/W over every level; RISC-V reads the leaf only.
        let combined = f.arch != super::format::Arch::RiscV;
        if combined && upper.iter().any(|e| !f.flag(e.raw, Role::Writable, e.level, true)) {
            return None;
        }
        let frame = Pfn::new(f.frame(leaf.raw, leaf.level));
        let frames = 1u64 << f.entry_span_shift(leaf.level).saturating_sub(f.page_shift).min(63);
        Some(CowPage { leaf, frame, frames, owners: self.shares.owners(frame), bit })
    }

    /// Whether a fault of `kind` on a `access` to `va` is a copy-on-write fault (a write to a
    /// copy-on-write page).
    #[must_use]
    pub fn is_cow_fault(&self, process: usize, va: VirtAddr, access: Access, kind: FaultKind) -> bool {
        access == Access::Write && kind == FaultKind::WriteProtection && self.cow_page(process, va).is_some()
    }

    /// Resolves a write fault on a copy-on-write page (see the module doc). The page gets A and
    /// D set (the access that follows is a write). On error nothing changes.
    pub fn resolve_cow(&mut self, process: usize, va: VirtAddr) -> Result<CowEvent, CowError> {
        let page = self.cow_page(process, va).ok_or(CowError::NotCow { process, va })?;
        let Some(p) = self.processes.get(process) else {
            return Err(MachineError::NoSuchProcess(process.to_string()).into());
        };
        let (process_name, asid) = (p.name.clone(), p.asid);
        let f = &self.format;
        let level = page.leaf.level;
        let span = f.entry_span_shift(level);
        let base = va.get().checked_shr(span).and_then(|v| v.checked_shl(span)).unwrap_or(va.get());
        let new_frame = if page.owners > 1 {
            let copy = self.mem.alloc_aligned(page.frames, page.frames).map_err(MachineError::from)?;
            if let Err(e) = self.mem.copy_frames(page.frame, copy, page.frames) {
                self.mem.free(copy, page.frames);
                return Err(MachineError::from(e).into());
            }
            Some(copy)
        } else {
            None
        };
        let mut raw = page.leaf.raw & !page.bit.mask();
        raw = f.with(raw, Role::Writable, level, 1);
        raw = f.with(raw, Role::Accessed, level, 1);
        raw = f.with(raw, Role::Dirty, level, 1);
        if let Some(copy) = new_frame {
            raw = f.with(raw, Role::Frame, level, copy.get());
        }
        if let Err(e) = self.set_entry(page.leaf.entry_addr, raw) {
            if let Some(copy) = new_frame {
                self.mem.free(copy, page.frames);
            }
            return Err(e.into());
        }
        let va = VirtAddr::new(self.format.canonicalize(base));
        let owners_after = if new_frame.is_some() {
            self.shares.release(page.frame)
        } else {
            self.shares.set(page.frame, 1);
            1
        };
        Ok(CowEvent {
            process,
            process_name,
            asid,
            va,
            old_frame: page.frame,
            new_frame,
            owners_before: page.owners,
            owners_after,
        })
    }
}

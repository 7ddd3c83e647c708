//! The edits a document accepts: every change a user, a script or the OS model makes to a lab
//! is one of these (or a journaled run of machine operations, see [`super::Document::run`]).

use crate::exercise::{Exercises, LockError, Locks};
use crate::sim::addr::format_size;
use crate::sim::fault::{Access, Mode};
use crate::sim::fork::{ForkError, ForkReport};
use crate::sim::machine::{MachineError, MapRequest};
use crate::sim::mmu::{MmuSettings, Translation};
use crate::sim::os::OsSettings;
use crate::sim::{EntryAddr, VirtAddr};

/// A change to the lab. Views and commands build these; the document applies them.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    SetEntry {
        entry_addr: EntryAddr,
        raw: u64,
    },
    SetField {
        entry_addr: EntryAddr,
        level: usize,
        field: String,
        value: u64,
    },
    Map {
        process: usize,
        request: MapRequest,
    },
    Unmap {
        process: usize,
        va: VirtAddr,
        len: u64,
    },
    AddProcess {
        name: String,
    },
    CloneProcess {
        from: usize,
        name: String,
    },
    /// fork(): a child named `name` with its own copies of `process`'s user tables, its kernel
    /// half shared, and its user pages shared copy-on-write (`cow`) or copied eagerly.
    Fork {
        process: usize,
        name: String,
        cow: bool,
    },
    RenameProcess {
        process: usize,
        name: String,
    },
    RemoveProcess {
        process: usize,
    },
    SwitchProcess {
        process: usize,
    },
    /// MOV to CR3 with `process`'s root (the active one, or a switch to it): PAE's PDPTE
    /// registers are loaded from memory (SDM Vol. 3A 4.4.1).
    LoadCr3 {
        process: usize,
    },
    ShareKernelHalf {
        from: usize,
        to: usize,
    },
    /// A translation that writes its A/D bits (the access really happens).
    Access {
        process: usize,
        va: VirtAddr,
        access: Access,
        mode: Mode,
    },
    Settings(MmuSettings),
    /// Who answers page faults: manual, or demand paging with a frame limit and a policy.
    SetOs(OsSettings),
    /// Fix number `fix` (from 0) of this access's explanation (`sim::explain`), found again on
    /// the lab as it is now.
    ApplyFix {
        process: usize,
        va: VirtAddr,
        access: Access,
        mode: Mode,
        fix: usize,
    },
    Retitle {
        title: String,
        description: String,
    },
    /// New exercises (tasks edited by the instructor, or answers and hints saved by a student).
    SetExercises(Box<Exercises>),
    SetLocks(Locks),
}

/// Why an edit was refused; the lab is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Machine(#[from] MachineError),
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error("{0}")]
    Other(String),
}

/// A fix that no longer fits the lab, or whose change the machine refuses.
impl From<ForkError> for EditError {
    fn from(e: ForkError) -> Self {
        match e {
            ForkError::Machine(m) => EditError::Machine(m),
            other => EditError::Other(other.to_string()),
        }
    }
}

impl From<crate::sim::explain::FixError> for EditError {
    fn from(e: crate::sim::explain::FixError) -> Self {
        match e {
            crate::sim::explain::FixError::Machine(m) => EditError::Machine(m),
            stale => EditError::Other(stale.to_string()),
        }
    }
}

impl Edit {
    /// Words for the undo menu and the status line ("map 0x400000 (16 KiB)").
    pub fn describe(&self) -> String {
        match self {
            Edit::SetEntry { entry_addr, .. } => format!("edit entry at {entry_addr:#x}"),
            Edit::SetField { field, entry_addr, .. } => format!("set {field} of entry at {entry_addr:#x}"),
            Edit::Map { request, .. } => {
                format!("map {:#x} ({})", request.va, format_size(request.len.max(1)))
            }
            Edit::Unmap { va, len, .. } => format!("unmap {va:#x} ({})", format_size((*len).max(1))),
            Edit::AddProcess { name } => format!("add process {name}"),
            Edit::CloneProcess { name, .. } => format!("clone process as {name}"),
            Edit::Fork { name, cow: true, .. } => format!("fork as {name} (copy-on-write)"),
            Edit::Fork { name, cow: false, .. } => format!("fork as {name} (eager copy)"),
            Edit::RenameProcess { name, .. } => format!("rename process to {name}"),
            Edit::RemoveProcess { .. } => "delete process".into(),
            Edit::SwitchProcess { .. } => "switch process".into(),
            Edit::LoadCr3 { .. } => "load CR3".into(),
            Edit::ShareKernelHalf { .. } => "share kernel half".into(),
            Edit::Access { va, .. } => format!("access {va:#x}"),
            Edit::Settings(_) => "change MMU settings".into(),
            Edit::SetOs(_) => "change the OS model".into(),
            Edit::ApplyFix { va, fix, .. } => format!("fix {fix} for {va:#x}"),
            Edit::Retitle { .. } => "edit title".into(),
            Edit::SetExercises(_) => "change exercises".into(),
            Edit::SetLocks(_) => "change locks".into(),
        }
    }

    /// Accesses only set accessed/dirty bits: consecutive ones share one undo step.
    pub fn is_access(&self) -> bool {
        matches!(self, Edit::Access { .. })
    }
}

/// What applying an edit produced, for the views to show.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    pub translation: Option<Translation>,
    pub message: String,
    /// Pages a map or unmap touched.
    pub pages: u64,
    /// What a fork did.
    pub fork: Option<ForkReport>,
    /// The edit loaded CR3 (Load CR3, or a fix that reloads stale PDPTE registers); the
    /// document's TLB then flushed its non-global entries, as the CPU does (SDM 4.10.4.1).
    pub cr3_loaded: bool,
}

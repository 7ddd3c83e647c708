//! Undo and redo as diffs: a step holds what one user action overwrote (the memory journal: old
//! chunks and allocation runs) and, only if they changed, the lab's small parts (processes,
//! settings, words, exercises, locks). Never a copy of the whole lab.

use crate::exercise::{Exercises, Locks};
use crate::lab::Lab;
use crate::sim::fork::ShareCounts;
use crate::sim::format::PDPTE_REGISTERS;
use crate::sim::machine::CpuParts;
use crate::sim::mem::Journal;
use crate::sim::mmu::MmuSettings;
use crate::sim::nested::NestedSetup;
use crate::sim::os::{OsSettings, SwapPages};
use crate::sim::process::Process;

/// Most steps kept; the oldest go first.
pub const UNDO_DEPTH: usize = 100;

/// Everything in a lab except its memory and its format (which no edit changes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabParts {
    pub title: String,
    pub description: String,
    pub processes: Vec<Process>,
    pub active: usize,
    pub settings: MmuSettings,
    /// PAE's PDPTE registers (a CR3 load changes them without changing memory).
    pub pdptes: Option<[u64; PDPTE_REGISTERS]>,
    pub os: OsSettings,
    pub exercises: Exercises,
    pub locks: Locks,
    pub swap: SwapPages,
    /// fork()'s share counts (kept beside the processes, which they count).
    pub shares: ShareCounts,
    /// A nested lab's host and guest roots and next guest frame.
    pub nested: Option<NestedSetup>,
}

impl LabParts {
    pub fn of(lab: &Lab) -> Self {
        Self {
            title: lab.title.clone(),
            description: lab.description.clone(),
            processes: lab.machine.processes().to_vec(),
            active: lab.machine.active(),
            settings: *lab.machine.settings(),
            pdptes: lab.machine.pdpte_registers(),
            os: lab.os,
            exercises: lab.exercises.clone(),
            locks: lab.locks.clone(),
            swap: lab.swap.clone(),
            shares: lab.machine.shares().clone(),
            nested: lab.nested,
        }
    }

    /// Whether `lab` still has these parts (compared in place, without copying them).
    pub fn matches(&self, lab: &Lab) -> bool {
        self.title == lab.title
            && self.description == lab.description
            && self.processes == lab.machine.processes()
            && self.active == lab.machine.active()
            && self.settings == *lab.machine.settings()
            && self.pdptes == lab.machine.pdpte_registers()
            && self.os == lab.os
            && self.exercises == lab.exercises
            && self.locks == lab.locks
            && self.swap == lab.swap
            && self.shares == *lab.machine.shares()
            && self.nested == lab.nested
    }

    /// Puts these parts into `lab` and returns the ones it had.
    pub fn swap_into(self, lab: &mut Lab) -> Self {
        let old = Self::of(lab);
        lab.title = self.title;
        lab.description = self.description;
        lab.machine.swap_parts(CpuParts {
            processes: self.processes,
            active: self.active,
            settings: self.settings,
            pdptes: self.pdptes,
        });
        lab.os = self.os;
        lab.exercises = self.exercises;
        lab.locks = self.locks;
        lab.swap = self.swap;
        lab.machine.swap_shares(self.shares);
        lab.nested = self.nested;
        old
    }

    fn heap_bytes(&self) -> usize {
        let exercises = serde_json::to_string(&self.exercises).map_or(0, |s| s.len());
        self.title.len()
            + self.description.len()
            + self.processes.len() * 64
            + self.shares.len() * 16
            + exercises
    }
}

/// What made a step: an edit stands alone; consecutive accesses merge, and so do the slices of
/// one trace replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    Edit,
    Access,
    Replay,
}

/// One undoable user action.
#[derive(Debug)]
pub struct Step {
    pub label: String,
    pub kind: StepKind,
    /// How many actions merged into this step (accesses).
    pub count: u64,
    /// Restores memory as it was (applied with `PhysMem::revert`, which gives the redo journal).
    pub memory: Journal,
    /// The lab's small parts before the step, when the step changed them.
    pub parts: Option<LabParts>,
    /// Set once undo or redo passed this step: later accesses start a step of their own.
    pub sealed: bool,
}

impl Step {
    pub fn heap_bytes(&self) -> usize {
        self.memory.heap_bytes() + self.parts.as_ref().map_or(0, LabParts::heap_bytes) + self.label.len()
    }

    /// The undo menu's words: "map 0x400000 (16 KiB)", "3 accesses".
    pub fn describe(&self) -> String {
        if self.kind == StepKind::Access && self.count > 1 {
            format!("{} accesses", self.count)
        } else {
            self.label.clone()
        }
    }

    /// Reverts the step on `lab`; returns the step that reverts that (for redo, or undo again).
    pub fn revert(self, lab: &mut Lab) -> Step {
        let memory = lab.machine.revert_journal(self.memory);
        let parts = self.parts.map(|p| p.swap_into(lab));
        Step { label: self.label, kind: self.kind, count: self.count, memory, parts, sealed: true }
    }
}

/// The undo and redo stacks.
#[derive(Debug, Default)]
pub struct History {
    undo: Vec<Step>,
    redo: Vec<Step>,
}

impl History {
    /// Records a new step: consecutive accesses merge into one, and so do consecutive slices of
    /// one replay (the older images win, so undo goes back to before the first of them).
    pub fn push(&mut self, step: Step) {
        self.redo.clear();
        if step.kind != StepKind::Edit
            && step.parts.is_none()
            && let Some(last) = self.undo.last_mut()
            && !last.sealed
            && last.kind == step.kind
            && (step.kind == StepKind::Access || last.label == step.label)
        {
            last.memory.absorb(step.memory);
            last.count += step.count;
            return;
        }
        self.undo.push(step);
        if self.undo.len() > UNDO_DEPTH {
            self.undo.remove(0);
        }
    }

    pub fn pop_undo(&mut self) -> Option<Step> {
        let step = self.undo.pop();
        if let Some(last) = self.undo.last_mut() {
            last.sealed = true;
        }
        step
    }

    pub fn pop_redo(&mut self) -> Option<Step> {
        self.redo.pop()
    }

    pub fn push_redo(&mut self, step: Step) {
        self.redo.push(step);
    }

    /// Puts back a step that redo reverted, keeping the redo stack.
    pub fn push_undo_keep_redo(&mut self, step: Step) {
        self.undo.push(step);
    }

    pub fn undo_label(&self) -> Option<String> {
        self.undo.last().map(Step::describe)
    }

    pub fn redo_label(&self) -> Option<String> {
        self.redo.last().map(Step::describe)
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Bytes held by all steps (for the memory budget and the bench).
    pub fn heap_bytes(&self) -> usize {
        self.undo.iter().chain(&self.redo).map(Step::heap_bytes).sum()
    }
}

//! The document: a lab, its undo history, its locks and its dirty state. It is the one way a lab
//! changes: the app's views, the CLI's editing commands, trace replay with demand mapping, TLB
//! accesses that write A/D bits and the OS model all send [`Edit`]s here, or run machine
//! operations through [`Document::run`], which makes them one all-or-nothing, lock-checked,
//! undoable step. Undo steps are diffs (see [`history`]), never copies of the lab.

pub mod edit;
pub mod history;
pub mod tlb;

pub use edit::{Applied, Edit, EditError};
use history::{History, LabParts, Step, StepKind};

use crate::exercise::LockError;
use crate::lab::{Lab, io};
use crate::sim::mem::Journal;
use crate::sim::replay::Replayer;
use std::path::PathBuf;

pub struct Document {
    lab: Lab,
    pub path: Option<PathBuf>,
    pub dirty: bool,
    history: History,
    /// Bumped on every change so that views can cache what they derive from the lab.
    pub generation: u64,
    /// Refuse edits to parts the exercise locks (student mode).
    pub enforce_locks: bool,
    /// The TLB in front of the lab (see [`tlb`]).
    tlb: Replayer,
}

impl Document {
    pub fn new(lab: Lab, path: Option<PathBuf>) -> Self {
        let enforce_locks = lab.exercises.student;
        let mut tlb = Replayer::default();
        tlb.follow_active(&lab.machine);
        Self { lab, path, dirty: false, history: History::default(), generation: 1, enforce_locks, tlb }
    }

    /// The lab, read-only: changes go through [`Document::apply`] or [`Document::run`].
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The lab, giving up the document.
    pub fn into_lab(self) -> Lab {
        self.lab
    }

    /// Applies an edit as one undo step (consecutive accesses share one); on error the lab is
    /// unchanged and nothing is recorded.
    pub fn apply(&mut self, edit: &Edit) -> Result<Applied, EditError> {
        let kind = if edit.is_access() { StepKind::Access } else { StepKind::Edit };
        let parent_asid = match edit {
            Edit::Fork { process, cow: true, .. } => {
                self.lab.machine.processes().get(*process).map(|p| p.asid)
            }
            _ => None,
        };
        let mut applied = self.run(&edit.describe(), kind, |lab| apply_to(lab, edit))?;
        if applied.cr3_loaded {
            // A CR3 load flushes the TLB's non-global entries (SDM Vol. 3A 4.10.4.1).
            let n = self.tlb.tlbs_mut().flush_non_global();
            applied
                .message
                .push_str(&format!("; {n} non-global TLB entr{} flushed", if n == 1 { "y" } else { "ies" }));
        }
        if let Some(asid) = parent_asid {
            // The parent's writable pages are read-only now: Linux's dup_mmap flushes its TLB
            // entries, else a cached writable entry would let a write past the copy-on-write.
            self.tlb.tlbs_mut().invalidate_asid(asid);
        }
        Ok(applied)
    }

    /// Runs `change` as one step named `label`: all or nothing (memory rolls back from its
    /// journal, the small parts from a copy), refused if it touches a locked part while locks are
    /// enforced, recorded for undo only if something changed. Steps of kind
    /// [`StepKind::Access`] or [`StepKind::Replay`] merge with the step before of the same kind.
    pub fn run<R>(
        &mut self,
        label: &str,
        kind: StepKind,
        change: impl FnOnce(&mut Lab) -> Result<R, EditError>,
    ) -> Result<R, EditError> {
        self.run_with_tlb(label, kind, |lab, _| change(lab))
    }

    /// [`Document::run`] for changes that go through the TLB beside the lab (which is lent to
    /// `change`, not part of the step: hardware state is not undone).
    fn run_with_tlb<R>(
        &mut self,
        label: &str,
        kind: StepKind,
        change: impl FnOnce(&mut Lab, &mut Replayer) -> Result<R, EditError>,
    ) -> Result<R, EditError> {
        let Self { lab, tlb, enforce_locks, .. } = self;
        let parts_before = LabParts::of(lab);
        lab.machine.begin_journal();
        let result = change(lab, tlb);
        let journal = lab.machine.commit_journal();
        let result = result.and_then(|value| {
            if *enforce_locks {
                parts_before.locks.check_journal(&parts_before.processes, &journal, &lab.machine)?;
                if lab.locks != parts_before.locks {
                    return Err(EditError::Locked(LockError::Process("(the locks themselves)".into())));
                }
            }
            Ok(value)
        });
        if result.is_err() {
            lab.machine.revert_journal(journal);
            parts_before.swap_into(lab);
            return result;
        }
        if result.is_ok() {
            self.record(label, kind, journal, parts_before);
        }
        result
    }

    /// Records a change already made to the lab as one undo step (if it changed anything):
    /// `journal` holds what memory it overwrote, `parts_before` the small parts before it.
    fn record(&mut self, label: &str, kind: StepKind, journal: Journal, parts_before: LabParts) {
        let parts_changed = !parts_before.matches(&self.lab);
        if journal.is_empty() && !parts_changed {
            return;
        }
        self.history.push(Step {
            label: label.to_string(),
            kind,
            count: 1,
            memory: journal,
            parts: parts_changed.then_some(parts_before),
            sealed: false,
        });
        self.dirty = true;
        self.generation += 1;
    }

    pub fn can_undo(&self) -> bool {
        self.history.can_undo()
    }

    pub fn can_redo(&self) -> bool {
        self.history.can_redo()
    }

    pub fn undo_label(&self) -> Option<String> {
        self.history.undo_label()
    }

    pub fn redo_label(&self) -> Option<String> {
        self.history.redo_label()
    }

    /// Bytes the undo history holds.
    pub fn history_bytes(&self) -> usize {
        self.history.heap_bytes()
    }

    pub fn undo(&mut self) -> Option<String> {
        let step = self.history.pop_undo()?;
        let what = step.describe();
        let redo = step.revert(&mut self.lab);
        self.history.push_redo(redo);
        self.dirty = true;
        self.generation += 1;
        Some(what)
    }

    pub fn redo(&mut self) -> Option<String> {
        let step = self.history.pop_redo()?;
        let what = step.describe();
        let undo = step.revert(&mut self.lab);
        self.history.push_undo_keep_redo(undo);
        self.dirty = true;
        self.generation += 1;
        Some(what)
    }

    /// Saves to `path` (atomically) and makes it the document's path. The lab keeps the
    /// `"$schema"` link the file was saved with, so that what is open is what was saved.
    pub fn save_to(&mut self, path: PathBuf) -> std::io::Result<()> {
        self.lab.schema = io::save_linked(&self.lab, &path)?;
        self.path = Some(path);
        self.dirty = false;
        Ok(())
    }

    /// The file name for the window title.
    pub fn display_name(&self) -> String {
        let name = self
            .path
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "untitled".into());
        if self.lab.title.is_empty() { name } else { format!("{} ({name})", self.lab.title) }
    }
}

/// Applies one edit to the lab (inside a step of [`Document::run`]).
fn apply_to(lab: &mut Lab, edit: &Edit) -> Result<Applied, EditError> {
    let m = &mut lab.machine;
    let mut applied = Applied { message: edit.describe(), ..Applied::default() };
    match edit {
        Edit::SetEntry { entry_addr, raw } => m.set_entry(*entry_addr, *raw)?,
        Edit::ApplyFix { process, va, access, mode, fix } => {
            let explanation = crate::sim::explain::explain(m, *process, *va, *access, *mode)?;
            let chosen = explanation
                .fixes
                .get(*fix)
                .ok_or_else(|| EditError::Other(format!("the access to {va:#x} has no fix {fix} now")))?;
            chosen.apply(m)?;
            applied.message = format!("applied {}", chosen.label());
            applied.cr3_loaded =
                chosen.changes.iter().any(|c| matches!(c, crate::sim::explain::Change::LoadCr3 { .. }));
        }
        Edit::SetField { entry_addr, level, field, value } => {
            m.set_field(*entry_addr, *level, field, *value)?;
        }
        Edit::Map { process, request } => {
            let pages = m.map(*process, request)?;
            applied.pages = pages;
            applied.message = format!("mapped {pages} page(s) at {:#x}", request.va);
        }
        Edit::Unmap { process, va, len } => {
            let gone = m.unmap(*process, *va, *len)?;
            applied.pages = gone.len() as u64;
            applied.message = format!("unmapped {} page(s) at {va:#x}", gone.len());
        }
        Edit::AddProcess { name } => {
            let index = m.add_process(name)?;
            m.switch_to(index)?;
        }
        Edit::CloneProcess { from, name } => {
            let index = m.clone_process(*from, name)?;
            m.switch_to(index)?;
        }
        Edit::Fork { process, name, cow } => {
            let report = m.fork(*process, name, *cow)?;
            m.switch_to(report.child)?;
            applied.message = if *cow {
                format!(
                    "forked as {name}: {} page(s) copy-on-write, {} read-only page(s) shared",
                    report.cow_pages, report.shared_read_only
                )
            } else {
                format!("forked as {name}: {} page(s) copied", report.copied_pages)
            };
            applied.fork = Some(report);
        }
        Edit::RenameProcess { process, name } => m.rename_process(*process, name)?,
        Edit::RemoveProcess { process } => m.remove_process(*process)?,
        Edit::SwitchProcess { process } => m.switch_to(*process)?,
        Edit::LoadCr3 { process } => {
            m.switch_to(*process)?;
            applied.cr3_loaded = true;
        }
        Edit::ShareKernelHalf { from, to } => {
            let n = m.share_kernel_half(*from, *to)?;
            applied.message = format!("shared {n} kernel root entr{}", if n == 1 { "y" } else { "ies" });
        }
        Edit::Access { process, va, access, mode } => {
            let t = m.access(*process, *va, *access, *mode)?;
            applied.message = match t.fault() {
                Some(f) => format!("{va:#x}: page fault: {}", f.kind.describe()),
                None => format!("{va:#x} -> {:#x}", t.pa().unwrap_or_default()),
            };
            applied.translation = Some(t);
        }
        Edit::Settings(settings) => m.set_settings(*settings),
        Edit::SetOs(settings) => {
            settings.validate().map_err(|e| EditError::Other(e.to_string()))?;
            lab.os = *settings;
        }
        Edit::Retitle { title, description } => {
            lab.title = title.clone();
            lab.description = description.clone();
        }
        Edit::SetExercises(exercises) => lab.exercises = (**exercises).clone(),
        Edit::SetLocks(locks) => lab.locks = locks.clone(),
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exercise::{LockTarget, Locks};
    use crate::sim::machine::{MapRequest, MapTarget};
    use crate::sim::os::{OsModel, OsSettings};
    use crate::sim::{Access, Machine, Mode, presets};
    use crate::sim::{EntryAddr, VirtAddr};

    fn doc() -> Document {
        Document::new(
            Lab::new("t", "", Machine::new(presets::by_name("x86-64").unwrap(), 1 << 24).unwrap()),
            None,
        )
    }

    fn map(va: u64, len: u64) -> Edit {
        Edit::Map {
            process: 0,
            request: MapRequest {
                va: VirtAddr::new(va),
                len,
                target: MapTarget::Alloc,
                page_size: None,
                flags: None,
            },
        }
    }

    fn access(va: u64) -> Edit {
        Edit::Access { process: 0, va: VirtAddr::new(va), access: Access::Write, mode: Mode::User }
    }

    #[test]
    fn undo_and_redo_restore_exact_labs() {
        let mut d = doc();
        let original = d.lab().clone();
        d.apply(&Edit::AddProcess { name: "b".into() }).unwrap();
        d.apply(&map(0x40_0000, 0x4000)).unwrap();
        let edited = d.lab().clone();
        assert!(d.dirty);
        assert_eq!(d.undo_label().as_deref(), Some("map 0x400000 (16 KiB)"));
        assert_eq!(d.undo(), Some("map 0x400000 (16 KiB)".into()));
        assert_eq!(d.undo(), Some("add process b".into()));
        assert_eq!(*d.lab(), original);
        d.redo();
        d.redo();
        assert_eq!(*d.lab(), edited);
        d.undo();
        d.undo();
        assert_eq!(*d.lab(), original, "undo after redo restores again");
    }

    #[test]
    fn consecutive_accesses_are_one_step_and_an_edit_undoes_in_one_press() {
        let mut d = doc();
        d.apply(&map(0x1000, 0x3000)).unwrap();
        let mapped = d.lab().clone();
        for va in [0x1000, 0x2000, 0x3000] {
            d.apply(&access(va)).unwrap();
        }
        let accessed = d.lab().clone();
        assert_ne!(accessed, mapped, "the accesses set A and D bits");
        let root_entry = accessed.machine.processes()[0].root.get() << 12;
        d.apply(&Edit::SetField {
            entry_addr: EntryAddr::new(root_entry),
            level: 0,
            field: "U/S".into(),
            value: 0,
        })
        .unwrap();
        assert_eq!(d.undo(), Some(format!("set U/S of entry at {root_entry:#x}")));
        assert_eq!(*d.lab(), accessed, "one press undid the edit, not an access");
        assert_eq!(d.undo(), Some("3 accesses".into()));
        assert_eq!(*d.lab(), mapped);
    }

    #[test]
    fn failed_edits_change_nothing_and_record_nothing() {
        let mut d = doc();
        let before = d.lab().clone();
        assert!(d.apply(&Edit::RemoveProcess { process: 0 }).is_err());
        assert!(d.apply(&map(0x1001, 0x1000)).is_err());
        assert_eq!(*d.lab(), before);
        assert!(!d.can_undo());
        assert!(!d.dirty);
    }

    #[test]
    fn locks_hold_for_edits_os_settings_and_runs() {
        let mut d = doc();
        d.apply(&map(0x1000, 0x1000)).unwrap();
        let mut locks = Locks::default();
        locks.lock(LockTarget::Process("init"));
        d.apply(&Edit::SetLocks(locks)).unwrap();
        d.enforce_locks = true;
        let before = d.lab().clone();
        let err = d.apply(&map(0x2000, 0x1000)).unwrap_err();
        assert!(err.to_string().contains("\"init\" is locked"), "{err}");
        let err = d
            .run("raw map", StepKind::Replay, |lab| {
                lab.machine.map(
                    0,
                    &MapRequest {
                        va: VirtAddr::new(0x5000),
                        len: 0x1000,
                        target: MapTarget::Alloc,
                        page_size: None,
                        flags: None,
                    },
                )?;
                Ok(())
            })
            .unwrap_err();
        assert!(matches!(err, EditError::Locked(_)), "{err}");
        assert_eq!(*d.lab(), before, "refused changes leave the lab as it was");
        d.apply(&access(0x1000)).expect("accessed and dirty bits are the MMU's, not the student's");
        let os = OsSettings { model: OsModel::Demand, frames: 4, ..OsSettings::default() };
        d.apply(&Edit::SetOs(os)).unwrap();
        assert_eq!(d.undo_label().as_deref(), Some("change the OS model"));
        d.undo();
        assert_eq!(d.lab().os, OsSettings::default(), "the OS settings are undone like any edit");
    }

    #[test]
    fn a_step_stores_a_diff_not_the_lab() {
        let mut d = Document::new(
            Lab::new("t", "", Machine::new(presets::by_name("x86-64").unwrap(), 1 << 30).unwrap()),
            None,
        );
        d.apply(&map(0x40_0000, 64 << 20)).unwrap();
        let after_map = d.history_bytes();
        let leaf =
            d.lab().machine.translate(0, VirtAddr::new(0x40_0000), Access::Read, Mode::User).unwrap().steps
                [3]
            .entry_addr;
        d.apply(&Edit::SetField { entry_addr: leaf, level: 3, field: "R/W".into(), value: 1 }).unwrap();
        let edit_bytes = d.history_bytes() - after_map;
        assert!(edit_bytes < 3 * 4096, "one entry edit keeps one chunk: {edit_bytes} bytes");
    }

    #[test]
    fn the_tlb_beside_the_lab_is_neither_saved_nor_undone() {
        use super::tlb::TlbCommand;
        let mut d = doc();
        d.apply(&map(0x1000, 0x1000)).unwrap();
        let mapped = d.lab().clone();
        let first = d.access_through_tlb(VirtAddr::new(0x1000), Access::Read, Mode::User).unwrap();
        let second = d.access_through_tlb(VirtAddr::new(0x1000), Access::Read, Mode::User).unwrap();
        assert!(!first.hit && second.hit, "a miss fills, the next access hits");
        assert_eq!(
            d.undo_label().as_deref(),
            Some("access 0x1000"),
            "only the miss wrote (an A bit): one step"
        );
        d.undo();
        assert_eq!(*d.lab(), mapped);
        assert_eq!(d.tlb().tlb().len(), 1, "undo reverts the lab, not the TLB (hardware state)");
        assert_eq!(d.tlb_command(TlbCommand::InvalidatePage(0x1000)), Ok(1));
        assert_eq!(d.tlb().tlb().len(), 0);
        assert!(!d.lab().to_json().contains("tlb"), "the TLB is not saved");
    }
}

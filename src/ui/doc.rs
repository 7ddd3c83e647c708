//! The open document: the lab, where it lives on disk, whether it changed, and undo/redo.
//! Every change goes through [`Document::apply`], which snapshots the lab first.

use crate::exercise::{Exercises, LockError, Locks};
use crate::lab::{Lab, io};
use crate::sim::fault::{Access, Mode};
use crate::sim::machine::{MachineError, MapRequest};
use crate::sim::mmu::{MmuSettings, Translation};
use std::path::PathBuf;

/// Undo depth; each snapshot is a copy of the lab (tables are small even for big labs).
const UNDO_DEPTH: usize = 100;

/// A change to the lab. Views push these; the app applies them after drawing.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    SetEntry {
        entry_addr: u64,
        raw: u64,
    },
    SetField {
        entry_addr: u64,
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
        va: u64,
        len: u64,
    },
    AddProcess {
        name: String,
    },
    CloneProcess {
        from: usize,
        name: String,
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
    ShareKernelHalf {
        from: usize,
        to: usize,
    },
    /// A translation that writes its A/D bits (the access really happens).
    Access {
        process: usize,
        va: u64,
        access: Access,
        mode: Mode,
    },
    Settings(MmuSettings),
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
}

impl Edit {
    /// Words for the undo menu and the status line.
    pub fn describe(&self) -> String {
        match self {
            Edit::SetEntry { entry_addr, .. } => format!("edit entry at {entry_addr:#x}"),
            Edit::SetField { field, entry_addr, .. } => format!("set {field} of entry at {entry_addr:#x}"),
            Edit::Map { request, .. } => format!("map {:#x}", request.va),
            Edit::Unmap { va, .. } => format!("unmap {va:#x}"),
            Edit::AddProcess { name } => format!("add process {name}"),
            Edit::CloneProcess { name, .. } => format!("clone process as {name}"),
            Edit::RenameProcess { name, .. } => format!("rename process to {name}"),
            Edit::RemoveProcess { .. } => "delete process".into(),
            Edit::SwitchProcess { .. } => "switch process".into(),
            Edit::ShareKernelHalf { .. } => "share kernel half".into(),
            Edit::Access { va, .. } => format!("access {va:#x}"),
            Edit::Settings(_) => "change MMU settings".into(),
            Edit::Retitle { .. } => "edit title".into(),
            Edit::SetExercises(_) => "change exercises".into(),
            Edit::SetLocks(_) => "change locks".into(),
        }
    }
}

/// What applying an edit produced, for the views to show.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    pub translation: Option<Translation>,
    pub message: String,
}

pub struct Document {
    pub lab: Lab,
    pub path: Option<PathBuf>,
    pub dirty: bool,
    undo: Vec<(Lab, String)>,
    redo: Vec<(Lab, String)>,
    /// Bumped on every change so that views can cache what they derive from the lab.
    pub generation: u64,
    /// Refuse edits to parts the exercise locks (student mode).
    pub enforce_locks: bool,
}

impl Document {
    pub fn new(lab: Lab, path: Option<PathBuf>) -> Self {
        let enforce_locks = lab.exercises.student;
        Self { lab, path, dirty: false, undo: Vec::new(), redo: Vec::new(), generation: 1, enforce_locks }
    }

    /// Applies an edit; on error the lab is unchanged and nothing is recorded.
    pub fn apply(&mut self, edit: &Edit) -> Result<Applied, EditError> {
        let before = self.lab.clone();
        let result = self.apply_inner(edit).map_err(EditError::from).and_then(|applied| {
            if self.enforce_locks {
                before.locks.check_change(&before.machine, &self.lab.machine)?;
                if self.lab.locks != before.locks {
                    return Err(EditError::Locked(LockError::Process("(the locks themselves)".into())));
                }
            }
            Ok(applied)
        });
        match &result {
            Ok(applied) => {
                let changed = self.lab != before;
                if changed {
                    self.undo.push((before, edit.describe()));
                    if self.undo.len() > UNDO_DEPTH {
                        self.undo.remove(0);
                    }
                    self.redo.clear();
                    self.dirty = true;
                    self.generation += 1;
                }
                let _ = applied;
            }
            Err(_) => self.lab = before,
        }
        result
    }

    fn apply_inner(&mut self, edit: &Edit) -> Result<Applied, MachineError> {
        let m = &mut self.lab.machine;
        let mut applied = Applied { message: edit.describe(), ..Applied::default() };
        match edit {
            Edit::SetEntry { entry_addr, raw } => m.set_entry(*entry_addr, *raw)?,
            Edit::SetField { entry_addr, level, field, value } => {
                m.set_field(*entry_addr, *level, field, *value)?;
            }
            Edit::Map { process, request } => {
                let pages = m.map(*process, request)?;
                applied.message = format!("mapped {pages} page(s) at {:#x}", request.va);
            }
            Edit::Unmap { process, va, len } => {
                let gone = m.unmap(*process, *va, *len)?;
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
            Edit::RenameProcess { process, name } => m.rename_process(*process, name)?,
            Edit::RemoveProcess { process } => m.remove_process(*process)?,
            Edit::SwitchProcess { process } => m.switch_to(*process)?,
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
            Edit::Settings(settings) => m.settings = *settings,
            Edit::Retitle { title, description } => {
                self.lab.title = title.clone();
                self.lab.description = description.clone();
            }
            Edit::SetExercises(exercises) => self.lab.exercises = (**exercises).clone(),
            Edit::SetLocks(locks) => self.lab.locks = locks.clone(),
        }
        Ok(applied)
    }

    /// Changes the lab outside of an [`Edit`] (an access through the TLB, which walks and writes
    /// A/D bits only on a miss): one undo step named `what`, recorded only if the lab changed.
    pub fn change<R>(&mut self, what: &str, change: impl FnOnce(&mut Lab) -> R) -> R {
        let before = self.lab.clone();
        let result = change(&mut self.lab);
        if self.lab != before {
            self.push_undo(before, what.to_string());
            self.touch();
        }
        result
    }

    /// Records one undo snapshot before a long run of changes made straight to the lab (a trace
    /// replay); each of them then calls [`Document::touch`]. Undo reverts the whole run.
    pub fn begin_batch(&mut self, what: &str) {
        self.push_undo(self.lab.clone(), what.to_string());
    }

    /// Marks a change made straight to the lab (after [`Document::begin_batch`]).
    pub fn touch(&mut self) {
        self.dirty = true;
        self.generation += 1;
    }

    fn push_undo(&mut self, lab: Lab, what: String) {
        self.undo.push((lab, what));
        if self.undo.len() > UNDO_DEPTH {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    pub fn undo_label(&self) -> Option<&str> {
        self.undo.last().map(|(_, s)| s.as_str())
    }

    pub fn redo_label(&self) -> Option<&str> {
        self.redo.last().map(|(_, s)| s.as_str())
    }

    pub fn undo(&mut self) -> Option<String> {
        let (lab, what) = self.undo.pop()?;
        let current = std::mem::replace(&mut self.lab, lab);
        self.redo.push((current, what.clone()));
        self.dirty = true;
        self.generation += 1;
        Some(what)
    }

    pub fn redo(&mut self) -> Option<String> {
        let (lab, what) = self.redo.pop()?;
        let current = std::mem::replace(&mut self.lab, lab);
        self.undo.push((current, what.clone()));
        self.dirty = true;
        self.generation += 1;
        Some(what)
    }

    /// Saves to `path` (atomically) and makes it the document's path.
    pub fn save_to(&mut self, path: PathBuf) -> std::io::Result<()> {
        io::save(&self.lab, &path)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Machine, presets};

    fn doc() -> Document {
        Document::new(
            Lab::new("t", "", Machine::new(presets::by_name("x86-64").unwrap(), 1 << 24).unwrap()),
            None,
        )
    }

    #[test]
    fn undo_and_redo_restore_exact_labs() {
        let mut d = doc();
        let original = d.lab.clone();
        d.apply(&Edit::AddProcess { name: "b".into() }).unwrap();
        let with_b = d.lab.clone();
        assert!(d.dirty);
        assert_eq!(d.undo(), Some("add process b".into()));
        assert_eq!(d.lab, original);
        d.redo();
        assert_eq!(d.lab, with_b);
    }

    #[test]
    fn a_batch_is_one_undo_step_and_an_unchanged_change_records_nothing() {
        let mut d = doc();
        let original = d.lab.clone();
        d.change("nothing", |_| ());
        assert!(!d.can_undo() && !d.dirty);
        d.begin_batch("replay");
        for name in ["b", "c"] {
            d.lab.machine.add_process(name).unwrap();
            d.touch();
        }
        assert!(d.dirty);
        assert_eq!(d.undo(), Some("replay".into()));
        assert_eq!(d.lab, original);
        assert!(!d.can_undo());
    }

    #[test]
    fn failed_edits_change_nothing_and_record_nothing() {
        let mut d = doc();
        let before = d.lab.clone();
        assert!(d.apply(&Edit::RemoveProcess { process: 0 }).is_err());
        assert_eq!(d.lab, before);
        assert!(!d.can_undo());
        assert!(!d.dirty);
    }
}

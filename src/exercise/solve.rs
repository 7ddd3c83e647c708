//! The instructor's solution to a lab: every task answered from the instructor copy's plain
//! sources, and each goal reached by editing the tables the way a student would. `pagelab solve`
//! writes it, and the tests check that each course lab's solution scores full marks.

use super::author;
use super::condition::Condition;
use super::grade::ExerciseError;
use super::task::{Answer, Question};
use crate::lab::Lab;
use crate::sim::format::Role;
use crate::sim::table;
use crate::sim::{Access, Machine, MachineError, MapRequest, MapTarget, Mode};
use crate::sim::{Pfn, VirtAddr};

/// Why a goal could not be reached on the student's copy.
#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    #[error(transparent)]
    Machine(#[from] MachineError),
    #[error(transparent)]
    Exercise(#[from] ExerciseError),
}

fn leaf_entry(m: &Machine, process: usize, va: u64) -> Option<table::EntryRef> {
    let root = m.processes().get(process)?.root;
    table::entry_path(m.mem(), m.format(), root, VirtAddr::new(va)).ok()?.last().copied()
}

/// The instructor's solution to a lab (or a variant generated from one): the goal edits made on
/// the machine and every other task answered from the lab's plain sources. `instructor` is the
/// instructor's copy (with plain sources); the edits go onto a copy of `student`.
pub fn solve(instructor: &Lab, student: &Lab) -> Result<Lab, SolveError> {
    let mut out = student.clone();
    for (id, answer) in author::solution_answers(instructor) {
        if let Some(task) = out.exercises.task_mut(&id) {
            task.answer = Some(answer);
        }
    }
    let goals: Vec<Condition> = instructor
        .exercises
        .tasks
        .iter()
        .filter_map(|t| match &t.question {
            Question::Goal(g) => Some(g.condition.clone()),
            _ => None,
        })
        .collect();
    for condition in goals {
        for leaf in condition.leaves() {
            reach(&mut out.machine, leaf, &condition)?;
        }
    }
    for task in &mut out.exercises.tasks {
        if task.kind() == super::task::TaskKind::Goal {
            task.answer = Some(Answer::Checked);
        }
    }
    Ok(out)
}

/// Makes one leaf condition hold, the way a student would (for the conditions used above).
fn reach(m: &mut Machine, leaf: &Condition, whole: &Condition) -> Result<(), SolveError> {
    let find = |m: &Machine, p: &str| m.find_process(p);
    match leaf {
        Condition::Translates { process, va, frame: Some(frame), .. } => {
            let p = find(m, process)?;
            let no_exec = whole
                .leaves()
                .iter()
                .any(|c| matches!(c, Condition::Faults { va: v, access: Access::Execute, .. } if v == va));
            let mut roles = vec![Role::Writable, Role::User];
            if no_exec {
                roles.push(Role::NoExecute);
            }
            let flags: Vec<String> = roles
                .iter()
                .filter_map(|r| m.format().field(*r, m.format().levels.len() - 1))
                .map(|f| f.name.clone())
                .collect();
            let page = va & !(m.format().page_size() - 1);
            let frame = Pfn::new(*frame);
            // A frame number too large to have an address is beyond any memory.
            let pa = frame.base(m.format().page_shift).ok_or_else(|| {
                MachineError::from(table::TableError::FrameOutOfRange {
                    frame,
                    frames: m.mem().frame_count(),
                })
            })?;
            let request = MapRequest {
                va: VirtAddr::new(page),
                len: m.format().page_size(),
                target: MapTarget::To(pa),
                page_size: None,
                flags: Some(flags),
            };
            m.map(p, &request)?;
        }
        Condition::Translates { process, va, access, mode, frame: None } => {
            // Grant the rights the access needs at every level of the walk.
            let p = find(m, process)?;
            let mut roles = Vec::new();
            if *access == Access::Write {
                roles.push(Role::Writable);
            }
            if *mode == Mode::User {
                roles.push(Role::User);
            }
            let root = m.processes().get(p).map_or(Pfn::new(0), |p| p.root);
            let path = table::entry_path(m.mem(), m.format(), root, VirtAddr::new(*va)).unwrap_or_default();
            for entry in path {
                for role in &roles {
                    if let Some(name) = m.format().field(*role, entry.level).map(|f| f.name.clone()) {
                        m.set_field(entry.entry_addr, entry.level, &name, 1)?;
                    }
                }
            }
        }
        Condition::Faults { process, va, access: Access::Execute, .. } => {
            let p = find(m, process)?;
            if let Some(entry) = leaf_entry(m, p, *va)
                && m.format().present(entry.raw, entry.level)
                && let Some(nx) = m.format().field(Role::NoExecute, entry.level).map(|f| f.name.clone())
            {
                m.set_field(entry.entry_addr, entry.level, &nx, 1)?;
            }
        }
        Condition::KernelHalfShared { a, b } => {
            let (a, b) = (find(m, a)?, find(m, b)?);
            m.share_kernel_half(a, b)?;
        }
        Condition::EntryField { process, va, level, field, value } => {
            let p = find(m, process)?;
            let root = m.processes().get(p).map_or(Pfn::new(0), |p| p.root);
            let path = table::entry_path(m.mem(), m.format(), root, VirtAddr::new(*va)).unwrap_or_default();
            if let Some(entry) = path.iter().find(|e| e.level == *level) {
                m.set_field(entry.entry_addr, *level, field, *value)?;
            }
        }
        _ => {}
    }
    Ok(())
}

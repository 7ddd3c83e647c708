//! Authoring: building tasks from what is on screen ("ask this translation", "require this
//! entry's state", "ask this number"), adding, ordering and resealing them. Every task added is
//! sealed from the lab's current machine (the instructor's solution state).

use super::condition::Condition;
use super::grade::ExerciseError;
use super::query::NumericQuery;
use super::seal::{self, SealError};
use super::task::{ChoiceQuestion, GoalQuestion, NumericQuestion, Question, Real, Task, TranslateQuestion};
use crate::lab::Lab;
use crate::sim::addr::hex_grouped;
use crate::sim::format::{Arch, Role};
use crate::sim::mmu::RiscvAd;
use crate::sim::table;
use crate::sim::{Access, Machine, MachineError, Mode};
use crate::sim::{Pfn, VirtAddr};
use std::collections::BTreeSet;

/// A task with no text yet: the caller sets the prompt, hints and explanation.
pub fn new_task(id: &str, points: u32, question: Question) -> Task {
    Task {
        id: id.to_string(),
        title: String::new(),
        prompt: String::new(),
        points,
        hints: Vec::new(),
        explanation: String::new(),
        question,
        notes: None,
        answer: None,
        hints_shown: 0,
        feedback: None,
        visibility: Default::default(),
        sealed_explanation: None,
        attempts: Vec::new(),
    }
}

fn process_name(machine: &Machine, process: usize) -> Result<String, ExerciseError> {
    machine
        .processes()
        .get(process)
        .map(|p| p.name.clone())
        .ok_or_else(|| MachineError::NoSuchProcess(process.to_string()).into())
}

/// "Ask this translation": a translate task for `va` in process number `process`, with a
/// default prompt, sealed from `lab`'s machine.
pub fn ask_translation(
    lab: &Lab,
    id: &str,
    process: usize,
    va: VirtAddr,
    access: Access,
    mode: Mode,
    ask_byte: bool,
) -> Result<Task, ExerciseError> {
    let name = process_name(&lab.machine, process)?;
    let question = Question::Translate(TranslateQuestion {
        process: name.clone(),
        va,
        access,
        mode,
        ask_byte,
        key: None,
    });
    let mut task = new_task(id, 1, question);
    let byte = if ask_byte { " and which byte is stored there" } else { "" };
    task.prompt = format!(
        "In process **{name}**, a {} **{}** of `{}`: which physical address does it reach{byte}? \
         If it faults, which fault is it?",
        mode.label(),
        access.label(),
        hex_grouped(va.get())
    );
    seal::seal_task(&mut task, &lab.machine, &seal::fresh_salt(id))?;
    Ok(task)
}

/// "Require this entry's state": a goal that the level-`level` entry on the walk for `va` in
/// process `process` has the fields it has now. Accessed/dirty bits are left out where the MMU
/// sets them (not under RISC-V Svade),
/// and so is the frame of a table pointer (tables may live anywhere); zero software and
/// reserved fields are left out too.
pub fn require_entry_state(
    lab: &Lab,
    id: &str,
    process: usize,
    va: u64,
    level: usize,
) -> Result<Task, ExerciseError> {
    let m = &lab.machine;
    let name = process_name(m, process)?;
    let root = m.processes().get(process).map_or(Pfn::new(0), |p| p.root);
    let path = table::entry_path(m.mem(), m.format(), root, VirtAddr::new(va)).unwrap_or_default();
    let entry = path.iter().find(|e| e.level == level).ok_or_else(|| SealError::Query {
        id: id.to_string(),
        message: format!("the walk for {} does not reach level {level}", hex_grouped(va)),
    })?;
    let f = m.format();
    let leaf = f.present(entry.raw, level) && f.is_leaf(entry.raw, level);
    // Under RISC-V Svade software sets A and D, so they are part of the state to reach.
    let software_ad = f.arch == Arch::RiscV && m.settings().riscv_ad == RiscvAd::Svade;
    let hardware_bit = |role: Role| !software_ad && matches!(role, Role::Accessed | Role::Dirty);
    let conditions: Vec<Condition> = f
        .fields_at(level)
        .filter(|field| !hardware_bit(field.role))
        .filter(|field| field.role != Role::Frame || leaf)
        .filter(|field| !matches!(field.role, Role::Other | Role::Reserved) || field.get(entry.raw) != 0)
        .map(|field| Condition::EntryField {
            process: name.clone(),
            va,
            level,
            field: field.name.clone(),
            value: field.get(entry.raw),
        })
        .collect();
    let mut task = new_task(id, 1, Question::Goal(GoalQuestion { condition: Condition::AllOf(conditions) }));
    let level_name = f.levels.get(level).map_or("?", |l| l.name.as_str());
    task.prompt = format!(
        "In process **{name}**, set the {level_name} entry for `{}` to: {}.",
        hex_grouped(va),
        f.decode(entry.raw, level)
            .into_iter()
            .filter(|(n, _)| {
                f.field_named_at(n, level)
                    .is_some_and(|fd| !hardware_bit(fd.role) && (fd.role != Role::Frame || leaf))
            })
            .filter(|(n, v)| *v != 0 || f.field_named_at(n, level).is_some_and(|fd| fd.is_flag()))
            .map(|(n, v)| format!("{n}={v:#x}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(task)
}

/// A goal task for a condition.
pub fn goal(id: &str, points: u32, condition: Condition) -> Task {
    let mut task = new_task(id, points, Question::Goal(GoalQuestion { condition }));
    if let Question::Goal(g) = &task.question {
        task.prompt = format!("Make it so: {}.", g.condition.describe());
    }
    task
}

/// "Ask this number": a numeric task sealed from `lab`'s machine.
pub fn ask_number(
    lab: &Lab,
    id: &str,
    points: u32,
    query: NumericQuery,
    tolerance: Option<f64>,
) -> Result<Task, ExerciseError> {
    let tolerance = match tolerance {
        None => None,
        Some(t) => {
            Some(Real::new(t).filter(|t| t.get() > 0.0).ok_or(SealError::BadTolerance { id: id.into() })?)
        }
    };
    let prompt = format!("What is the {}?", query.describe());
    let question =
        Question::Numeric(NumericQuestion { query: Some(query), tolerance, unit: String::new(), key: None });
    let mut task = new_task(id, points, question);
    task.prompt = prompt;
    seal::seal_task(&mut task, &lab.machine, &seal::fresh_salt(id))?;
    Ok(task)
}

/// A multiple-choice task (sealed when added with [`add_task`]).
pub fn ask_choice(
    id: &str,
    points: u32,
    prompt: &str,
    options: &[&str],
    correct: &[usize],
) -> Result<Task, ExerciseError> {
    let correct: BTreeSet<usize> = correct.iter().copied().collect();
    if let Some(&index) = correct.iter().find(|&&i| i >= options.len()) {
        return Err(SealError::NoSuchOption { id: id.into(), index, options: options.len() }.into());
    }
    let question = Question::Choice(ChoiceQuestion {
        options: options.iter().map(|o| o.to_string()).collect(),
        multiple: correct.len() != 1,
        correct: Some(correct),
        shuffle: false,
        key: None,
    });
    let mut task = new_task(id, points, question);
    task.prompt = prompt.to_string();
    Ok(task)
}

/// Adds a task at the end; its id must be new. An unsealed task is sealed from the lab.
pub fn add_task(lab: &mut Lab, mut task: Task) -> Result<(), ExerciseError> {
    if task.id.trim().is_empty() || lab.exercises.task(&task.id).is_some() {
        return Err(ExerciseError::BadId(task.id));
    }
    if lab.exercises.student {
        return Err(ExerciseError::StudentVersion("tasks cannot be added"));
    }
    if !task.is_sealed() {
        let salt = seal::fresh_salt(&task.id);
        seal::seal_task(&mut task, &lab.machine, &salt)?;
    }
    lab.exercises.tasks.push(task);
    Ok(())
}

/// Removes task `id`; returns it.
pub fn remove_task(lab: &mut Lab, id: &str) -> Result<Task, ExerciseError> {
    let index = lab
        .exercises
        .tasks
        .iter()
        .position(|t| t.id == id)
        .ok_or_else(|| ExerciseError::NoSuchTask(id.into()))?;
    Ok(lab.exercises.tasks.remove(index))
}

/// Moves task `id` to position `to` (clamped to the list).
pub fn move_task(lab: &mut Lab, id: &str, to: usize) -> Result<(), ExerciseError> {
    let task = remove_task(lab, id)?;
    let to = to.min(lab.exercises.tasks.len());
    lab.exercises.tasks.insert(to, task);
    Ok(())
}

/// Recomputes every key from the lab's current machine (after the instructor changed the lab),
/// with salts from `salt(id)`. Refused on a student version, whose plain sources are gone.
pub fn reseal_all(lab: &mut Lab, mut salt: impl FnMut(&str) -> String) -> Result<(), ExerciseError> {
    if lab.exercises.student {
        return Err(ExerciseError::StudentVersion("its answers cannot be recomputed"));
    }
    let machine = &lab.machine;
    for task in &mut lab.exercises.tasks {
        let s = salt(&task.id);
        seal::seal_task(task, machine, &s)?;
    }
    Ok(())
}

/// The right answer to every non-goal task, computed live from the instructor's lab (translate
/// from its machine, numeric from the query, choice from the correct set): "fill in the
/// solution" in instructor mode, and the solution the course tests grade. Tasks whose plain
/// source is gone (a student version) are left out.
pub fn solution_answers(lab: &Lab) -> Vec<(String, super::task::Answer)> {
    use super::task::Answer;
    use crate::sim::mmu::Outcome;
    let m = &lab.machine;
    let mut out = Vec::new();
    for task in &lab.exercises.tasks {
        let answer = match &task.question {
            Question::Translate(q) => {
                let Ok(p) = m.find_process(&q.process) else { continue };
                let Ok(t) = m.translate(p, q.va, q.access, q.mode) else { continue };
                match t.outcome {
                    Outcome::Mapped(mp) => {
                        Answer::Address { pa: mp.pa.get(), byte: mp.value.filter(|_| q.ask_byte) }
                    }
                    Outcome::Fault(f) => Answer::Fault(f.kind),
                }
            }
            Question::Goal(_) => continue,
            Question::Numeric(q) => {
                let Some(Ok(value)) = q.query.as_ref().map(|query| query.evaluate(m)) else { continue };
                Answer::Number(format!("{value}"))
            }
            Question::Choice(q) => {
                let Some(correct) = &q.correct else { continue };
                Answer::Choice(correct.clone())
            }
        };
        out.push((task.id.clone(), answer));
    }
    out
}

/// A task id not used yet in `lab`: `prefix`, then `prefix-2`, `prefix-3`, ...
pub fn unused_id(lab: &Lab, prefix: &str) -> String {
    let prefix = if prefix.trim().is_empty() { "task" } else { prefix.trim() };
    std::iter::once(prefix.to_string())
        .chain((2u32..).map(|n| format!("{prefix}-{n}")))
        .find(|id| lab.exercises.task(id).is_none())
        .unwrap_or_else(|| prefix.to_string())
}

/// Recomputes the key of task `id` from the lab's machine with a fresh salt, after the
/// instructor edited its question (address, access, query, correct options...).
pub fn reseal_task(lab: &mut Lab, id: &str) -> Result<(), ExerciseError> {
    if lab.exercises.student {
        return Err(ExerciseError::StudentVersion("its answers cannot be recomputed"));
    }
    let machine = &lab.machine;
    let task = lab.exercises.task_mut(id).ok_or_else(|| ExerciseError::NoSuchTask(id.into()))?;
    seal::seal_task(task, machine, &seal::fresh_salt(id))?;
    Ok(())
}

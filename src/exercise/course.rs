//! Example exercise labs built in code: every task kind, locks and randomization declarations,
//! so the GUI has data to show and the tests have templates to generate from. Each function
//! returns the instructor's lab (the students' starting state, with plain sources and sealed
//! keys; salts are seeded so the JSON is stable); [`solve`] turns one into a full-marks solution.

use super::author::{self, add_task, ask_choice, ask_number, ask_translation, goal, require_entry_state};
use super::condition::Condition;
use super::feedback::{FeedbackPolicy, Reveal};
use super::generate::{FrameSlot, PageSlot};
use super::grade::ExerciseError;
use super::locks::LockTarget;
use super::query::{NumericQuery, TlbCount};
use super::seal;
use super::task::{Answer, Question, Task};
use crate::lab::Lab;
use crate::sim::format::Role;
use crate::sim::table;
use crate::sim::tlb::{TlbConfig, TlbPolicy};
use crate::sim::{Access, FaultKind, Machine, MachineError, MapRequest, MapTarget, Mode, presets};

mod labs;
pub use labs::{exam_format, exam16, linear_table, processes_shared, x86_64_huge};

/// Why an example lab could not be built (a bug in this file, never user input).
#[derive(Debug, thiserror::Error)]
pub enum CourseError {
    #[error(transparent)]
    Machine(#[from] MachineError),
    #[error(transparent)]
    Exercise(#[from] ExerciseError),
    #[error("{0}")]
    Other(String),
}

fn map(m: &mut Machine, process: usize, va: u64, pages: u64, flags: &[&str]) -> Result<(), MachineError> {
    let size = m.format().page_size();
    let request = MapRequest {
        va,
        len: pages * size,
        target: MapTarget::Alloc,
        page_size: None,
        flags: Some(flags.iter().map(|f| f.to_string()).collect()),
    };
    m.map(process, &request).map(|_| ())
}

fn write_at(m: &mut Machine, process: usize, va: u64, bytes: &[u8]) -> Result<(), CourseError> {
    let pa = [Mode::User, Mode::Supervisor]
        .into_iter()
        .find_map(|mode| m.translate(process, va, Access::Read, mode).ok()?.pa())
        .ok_or_else(|| CourseError::Other(format!("{va:#x} is not mapped")))?;
    m.write_phys(pa, bytes)?;
    Ok(())
}

fn leaf_entry(m: &Machine, process: usize, va: u64) -> Option<table::EntryRef> {
    let root = m.processes().get(process)?.root;
    table::entry_path(m.mem(), m.format(), root, va).ok()?.last().copied()
}

fn text(mut task: Task, title: &str, prompt: &str, hints: &[&str], explanation: &str) -> Task {
    task.title = title.to_string();
    if !prompt.is_empty() {
        task.prompt = prompt.to_string();
    }
    task.hints = hints.iter().map(|h| h.to_string()).collect();
    task.explanation = explanation.to_string();
    task
}

/// The course's feedback policy: the explanation opens with the right answer or after three
/// wrong attempts, and a right answer after that earns nothing (so reading it and retrying
/// does not pay).
pub fn course_policy() -> FeedbackPolicy {
    FeedbackPolicy { reveal: Reveal::AfterAttempts, attempts: 3, ..FeedbackPolicy::default() }
}

fn with_points(mut task: Task, points: u32) -> Task {
    task.points = points;
    task
}

/// x86-64: walks, permissions, faults and processes. Translate, numeric, choice and goal tasks;
/// the code page's leaf entry is locked; the data page, an unmapped page, the goal's page and
/// the goal's frame are randomized per student.
pub fn x86_64_walks() -> Result<Lab, CourseError> {
    let format = presets::by_name("x86-64").ok_or_else(|| CourseError::Other("no x86-64 preset".into()))?;
    let mut m = Machine::new(format, 16 << 20)?;
    map(&mut m, 0, 0x40_0000, 1, &["U/S"])?;
    map(&mut m, 0, 0x60_0000, 2, &["R/W", "U/S", "NX"])?;
    map(&mut m, 0, 0x7fff_f000, 1, &["R/W", "U/S"])?;
    map(&mut m, 0, 0xffff_8000_0000_0000, 1, &["R/W", "NX"])?;
    m.add_process("other")?;
    write_at(&mut m, 0, 0x40_0000, &[0x55, 0x48, 0x89, 0xe5])?;
    write_at(&mut m, 0, 0x60_0010, b"hello, pages")?;
    let mut lab = Lab::new(
        "x86-64: walks, permissions and faults",
        "Process **init** has code at `0x40_0000`, data at `0x60_0000`, a stack page at \
         `0x7fff_f000` and a kernel page at `0xffff_8000_0000_0000`. Process **other** is empty. \
         Walk the tables, predict faults, then change the tables as asked.",
        m,
    );
    let t = ask_translation(&lab, "walk-data", 0, 0x60_0010, Access::Read, Mode::User, true)?;
    add_task(
        &mut lab,
        with_points(
            text(
                t,
                "Walk to the data",
                "",
                &[
                    "Split the address into four 9-bit indices and a 12-bit offset.",
                    "The byte is an ASCII letter.",
                ],
                "The walk reads PML4[0], PDPT[0], PD[3] and PT[0]; the offset 0x10 is added to the frame.",
            ),
            2,
        ),
    )?;
    let t = ask_translation(&lab, "write-code", 0, 0x40_0123, Access::Write, Mode::User, false)?;
    add_task(
        &mut lab,
        text(
            t,
            "Write to code",
            "",
            &["Look at R/W in every entry of the walk."],
            "The leaf has R/W=0: a user write to a read-only page is a protection fault (#PF with P=1, W=1, U=1).",
        ),
    )?;
    let t = ask_translation(&lab, "user-kernel", 0, 0xffff_8000_0000_0040, Access::Read, Mode::User, false)?;
    add_task(
        &mut lab,
        text(
            t,
            "User reads the kernel",
            "",
            &["U/S must be set at every level for a user access."],
            "The kernel page has U/S=0, so user mode may not touch it even though it is present.",
        ),
    )?;
    let t = ask_translation(&lab, "unmapped", 0, 0x50_0000, Access::Read, Mode::User, false)?;
    add_task(
        &mut lab,
        text(t, "Nothing there", "", &[], "No page is mapped at this address: the walk finds a clear P bit."),
    )?;
    let t = ask_number(&lab, "index-bits", 1, NumericQuery::IndexBits { level: 0 }, None)?;
    add_task(
        &mut lab,
        text(
            t,
            "Index bits",
            "How many bits of a virtual address index the PML4?",
            &["A table fills one 4 KiB frame with 8-byte entries."],
            "The index selects one entry of a table: log2 of the entries per table.",
        ),
    )?;
    let t = ask_number(&lab, "table-frames", 2, NumericQuery::TableFrames { process: "init".into() }, None)?;
    add_task(
        &mut lab,
        text(
            t,
            "Table frames",
            "How many frames do the page tables of **init** occupy (all levels)?",
            &["Count the tables on the walks to each mapped region; shared tables count once."],
            "One PML4, then for each region the PDPT, PD and PT on its walk; a table shared by two regions counts once.",
        ),
    )?;
    let mut t = ask_number(&lab, "linear-size", 1, NumericQuery::LinearTableBytes, None)?;
    if let Question::Numeric(q) = &mut t.question {
        q.unit = "bytes".into();
    }
    add_task(
        &mut lab,
        text(
            t,
            "A linear table",
            "How many bytes would one linear page table for the whole 48-bit address space take? \
             (Powers like `2^20` and sizes like `64k` are accepted.)",
            &["Count the pages of a 48-bit address space, then multiply by the entry size."],
            "Pages in the address space times the entry size: far too much for every process, hence the tree.",
        ),
    )?;
    let mut t = ask_choice(
        "why-tree",
        1,
        "Why does a multi-level table usually take less memory than a linear one?",
        &[
            "Its entries are smaller.",
            "Tables for unmapped regions are simply not allocated.",
            "The TLB stores the lower levels.",
            "It maps larger pages only.",
        ],
        &[1],
    )?;
    if let Question::Choice(q) = &mut t.question {
        q.shuffle = true;
    }
    add_task(
        &mut lab,
        text(
            t,
            "Why a tree",
            "",
            &[],
            "A clear entry at an upper level stands for a whole region with no tables below it.",
        ),
    )?;
    let t = ask_choice(
        "user-write-bits",
        2,
        "For a user-mode write to succeed on x86-64, which bits must be set in **every** entry of the walk?",
        &["P", "R/W", "U/S", "NX", "D"],
        &[0, 1, 2],
    )?;
    add_task(
        &mut lab,
        text(
            t,
            "Rights across levels",
            "",
            &["Rights combine: the most restrictive entry wins."],
            "P, R/W and U/S combine over all levels; NX must be clear and D is set by the CPU.",
        ),
    )?;
    let g = goal(
        "map-frame",
        3,
        Condition::AllOf(vec![
            Condition::Translates {
                process: "init".into(),
                va: 0x80_0000,
                access: Access::Write,
                mode: Mode::User,
                frame: Some(0x2a),
            },
            Condition::Faults {
                process: "init".into(),
                va: 0x80_0000,
                access: Access::Execute,
                mode: Mode::User,
                kind: Some(FaultKind::ExecuteProtection),
            },
        ]),
    );
    add_task(
        &mut lab,
        text(
            g,
            "Map a page",
            "In **init**, map the page at `0x80_0000` so that user-mode writes work and land in frame `0x2a`, \
             while instruction fetches from it fault.",
            &["`pagelab map LAB 0x80_0000 --to FRAME*4096 --flags R/W,U/S,NX`"],
            "A writable, non-executable user page: R/W=1, U/S=1, NX=1 on the leaf.",
        ),
    )?;
    let g = goal(
        "no-exec-stack",
        2,
        Condition::Faults {
            process: "init".into(),
            va: 0x7fff_f000,
            access: Access::Execute,
            mode: Mode::User,
            kind: Some(FaultKind::ExecuteProtection),
        },
    );
    add_task(
        &mut lab,
        text(
            g,
            "A stack that does not run",
            "Make instruction fetches from the stack page `0x7fff_f000` of **init** fault.",
            &["Which bit forbids fetches?"],
            "Setting NX on the leaf is enough: NX at any level forbids fetches.",
        ),
    )?;
    let g = goal("share-kernel", 2, Condition::KernelHalfShared { a: "init".into(), b: "other".into() });
    add_task(
        &mut lab,
        text(
            g,
            "One kernel for all",
            "Make **other** use the same kernel tables as **init**.",
            &["Processes ▸ right-click ▸ Share kernel half."],
            "Copying the upper root entries shares every kernel table below them.",
        ),
    )?;
    if let Some(code) = leaf_entry(&lab.machine, 0, 0x40_0000) {
        lab.locks.lock(LockTarget::Entry(code.entry_addr));
    }
    if let Some(kernel) = leaf_entry(&lab.machine, 0, 0xffff_8000_0000_0000) {
        lab.locks.lock(LockTarget::Entry(kernel.entry_addr));
    }
    let r = &mut lab.exercises.randomize;
    r.pages.push(PageSlot {
        process: "init".into(),
        va: 0x60_0000,
        within: [0x60_0000, 0x7000_0000],
        move_frame: true,
        random_offset: false,
    });
    r.pages.push(PageSlot {
        process: "init".into(),
        va: 0x50_0000,
        within: [0x1000_0000, 0x2000_0000],
        move_frame: false,
        random_offset: true,
    });
    r.pages.push(PageSlot {
        process: "init".into(),
        va: 0x80_0000,
        within: [0x2000_0000, 0x3000_0000],
        move_frame: false,
        random_offset: false,
    });
    r.frames.push(FrameSlot { frame: 0x2a, within: Some([0x100, 0x1000]) });
    author::reseal_all(&mut lab, |id| seal::seeded_salt(64, id))?;
    lab.exercises.feedback = Some(course_policy());
    Ok(lab)
}

/// RISC-V Sv39: walks with Svade, a megapage, TLB hits after a replay, a value with a
/// tolerance, an entry state to reach, and a locked second process.
pub fn sv39_tlb() -> Result<Lab, CourseError> {
    let format = presets::by_name("sv39").ok_or_else(|| CourseError::Other("no sv39 preset".into()))?;
    let mut m = Machine::new(format, 16 << 20)?;
    map(&mut m, 0, 0x1000, 1, &["R", "X", "U", "A"])?;
    map(&mut m, 0, 0x2000, 3, &["R", "W", "U", "A", "D"])?;
    map(&mut m, 0, 0x8000, 1, &["R", "W", "U"])?;
    let mega = MapRequest {
        va: 0x4000_0000,
        len: 0x20_0000,
        target: MapTarget::Alloc,
        page_size: Some(0x20_0000),
        flags: Some(vec!["R".into(), "W".into(), "U".into(), "A".into(), "D".into()]),
    };
    m.map(0, &mega)?;
    let b = m.add_process("monitor")?;
    map(&mut m, b, 0x1000, 1, &["R", "U", "A"])?;
    write_at(&mut m, 0, 0x2008, b"sv39")?;
    m.switch_to(0)?;
    let mut lab = Lab::new(
        "Sv39: walks, Svade and the TLB",
        "Process **a** (number 0) maps code at `0x1000`, data at `0x2000`–`0x4fff`, a page at \
         `0x8000` whose A bit is clear, and a 2 MiB megapage at `0x4000_0000`. The MMU uses \
         **Svade**: a clear A (or D, on a store) bit faults instead of being set. Process \
         **monitor** is locked.",
        m,
    );
    lab.machine.rename_process(0, "a")?;
    for (id, va, access, byte, title, explanation) in [
        (
            "walk-data",
            0x2008,
            Access::Read,
            true,
            "Walk to the data",
            "Three levels of 9 bits: L2[0], L1[0], L0[2], offset 8.",
        ),
        (
            "svade",
            0x8000,
            Access::Read,
            false,
            "A clear A bit",
            "With Svade a leaf with A=0 faults; software must set A.",
        ),
        (
            "megapage",
            0x4012_3456,
            Access::Read,
            false,
            "A megapage",
            "The L1 entry is a leaf (R=1): the low 21 bits are the offset.",
        ),
        (
            "store-code",
            0x1000,
            Access::Write,
            false,
            "Store to code",
            "W=0 on the leaf: a store page fault (scause 15).",
        ),
    ] {
        let t = ask_translation(&lab, id, 0, va, access, Mode::User, byte)?;
        add_task(&mut lab, text(t, title, "", &[], explanation))?;
    }
    let replay =
        vec![0x1000, 0x2000, 0x1004, 0x3000, 0x2008, 0x4000, 0x1008, 0x4000_0000, 0x2010, 0x4010_0000];
    let tlb = TlbConfig { entries: 4, ways: 4, policy: TlbPolicy::Lru, seed: 0, asid_tagging: true };
    let hits_query = NumericQuery::TlbReplay {
        process: "a".into(),
        addresses: replay.clone(),
        access: Access::Read,
        mode: Mode::User,
        tlb,
        count: TlbCount::Hits,
    };
    let hits = hits_query.evaluate(&lab.machine).map_err(CourseError::Other)?;
    let t = ask_number(&lab, "tlb-hits", 2, hits_query, None)?;
    add_task(
        &mut lab,
        text(
            t,
            "TLB hits",
            "Process **a** reads `0x1000, 0x2000, 0x1004, 0x3000, 0x2008, 0x4000, 0x1008, 0x4000_0000, \
             0x2010, 0x4010_0000` in this order. The TLB starts empty, has 4 entries, is fully \
             associative and replaces the least recently used entry. How many lookups hit?",
            &["A megapage needs one TLB entry for all of its 2 MiB."],
            "Misses fill entries; with 4 entries LRU evicts the page unused the longest.",
        ),
    )?;
    #[allow(clippy::cast_precision_loss)]
    let rate = hits / replay.len() as f64;
    let rate = super::task::Real::new(rate).ok_or_else(|| CourseError::Other("no hit rate".into()))?;
    let t = ask_number(&lab, "hit-rate", 1, NumericQuery::Value(rate), Some(0.02))?;
    add_task(
        &mut lab,
        text(
            t,
            "Hit rate",
            "What is the hit rate of that replay, as a fraction between 0 and 1 (±0.02)?",
            &[],
            "Hits divided by the number of lookups.",
        ),
    )?;
    let t = ask_number(&lab, "entries", 1, NumericQuery::EntriesPerTable { level: 2 }, None)?;
    add_task(
        &mut lab,
        text(
            t,
            "Entries per table",
            "How many entries does one Sv39 table hold?",
            &[],
            "A table fills one frame: divide the page size by the entry size.",
        ),
    )?;
    let t = ask_choice(
        "leaf-rule",
        1,
        "Which Sv39 entries (with V=1) are leaves?",
        &["R=1", "X=1", "W=1 with R=0", "R=0, W=0, X=0"],
        &[0, 1],
    )?;
    add_task(
        &mut lab,
        text(
            t,
            "Leaf or pointer",
            "",
            &[],
            "R or X set makes a leaf; W=1 with R=0 is reserved; all three clear points to the next table.",
        ),
    )?;
    // "Require this entry's state", authored from the solution: the 0x8000 leaf with A set.
    let mut solved = lab.clone();
    let entry =
        leaf_entry(&solved.machine, 0, 0x8000).ok_or_else(|| CourseError::Other("0x8000 unmapped".into()))?;
    solved.machine.set_field(entry.entry_addr, entry.level, "A", 1)?;
    let g = require_entry_state(&solved, "set-accessed", 0, 0x8000, entry.level)?;
    add_task(
        &mut lab,
        with_points(
            text(
                g,
                "Software sets A",
                "",
                &["Which bit does Svade leave to software?"],
                "Under Svade the OS sets A (and D before stores) itself.",
            ),
            2,
        ),
    )?;
    lab.locks.lock(LockTarget::Process("monitor"));
    lab.exercises.randomize.pages.push(PageSlot {
        process: "a".into(),
        va: 0x2000,
        within: [0x10_0000, 0x20_0000],
        move_frame: true,
        random_offset: true,
    });
    if let Some(Question::Choice(q)) = lab.exercises.task_mut("leaf-rule").map(|t| &mut t.question) {
        q.shuffle = true;
    }
    author::reseal_all(&mut lab, |id| seal::seeded_salt(39, id))?;
    lab.exercises.feedback = Some(course_policy());
    Ok(lab)
}

/// Every example lab, with a file-name stem.
pub fn all() -> Result<Vec<(&'static str, Lab)>, CourseError> {
    Ok(vec![
        ("linear-table", linear_table()?),
        ("x86-64-walks", x86_64_walks()?),
        ("x86-64-huge", x86_64_huge()?),
        ("processes-shared", processes_shared()?),
        ("sv39-tlb", sv39_tlb()?),
        ("exam16", exam16()?),
    ])
}

/// The instructor's solution to a lab built here or generated from one: the goal edits made on
/// the machine and every other task answered from the lab's plain sources. `instructor` is the
/// instructor's copy (with plain sources); the edits go onto a copy of `student`.
pub fn solve(instructor: &Lab, student: &Lab) -> Result<Lab, CourseError> {
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
fn reach(m: &mut Machine, leaf: &Condition, whole: &Condition) -> Result<(), CourseError> {
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
            let request = MapRequest {
                va: page,
                len: m.format().page_size(),
                target: MapTarget::To(frame << m.format().page_shift),
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
            let root = m.processes().get(p).map_or(0, |p| p.root);
            let path = table::entry_path(m.mem(), m.format(), root, *va).unwrap_or_default();
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
            let root = m.processes().get(p).map_or(0, |p| p.root);
            let path = table::entry_path(m.mem(), m.format(), root, *va).unwrap_or_default();
            if let Some(entry) = path.iter().find(|e| e.level == *level) {
                m.set_field(entry.entry_addr, *level, field, *value)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exercise::{grade, student_version};

    #[test]
    fn solutions_score_full_marks_and_fresh_student_versions_zero() {
        for (name, lab) in all().unwrap() {
            let student = student_version(&lab);
            let fresh = grade(&student);
            assert_eq!(fresh.total, 0, "{name}: {fresh:#?}");
            let solved = solve(&lab, &student).unwrap();
            let report = grade(&solved);
            assert_eq!(report.total, report.max, "{name}: {report:#?}");
            assert!(report.max > 10);
        }
    }
}

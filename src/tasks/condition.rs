//! Goal conditions ("make it so"): predicates on the machine state that a student reaches by
//! editing, evaluated with the core API (translate, entry paths, table sizes). Each result
//! carries a sentence that says what holds or what is missing, without giving the answer away.

use crate::sim::addr::hex_grouped;
use crate::sim::mmu::Outcome;
use crate::sim::table;
use crate::sim::{Access, FaultKind, Machine, Mode};
use crate::sim::{PhysAddr, VirtAddr};
use serde::{Deserialize, Serialize};

/// A checkable condition. Processes are named (or numbered) as `--process` takes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// Every condition holds.
    AllOf(Vec<Condition>),
    /// The access succeeds; with `frame`, the address lands in that physical frame
    /// (the base-page frame holding the physical address, also inside a huge page).
    Translates {
        process: String,
        va: u64,
        #[serde(default)]
        access: Access,
        #[serde(default)]
        mode: Mode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frame: Option<u64>,
    },
    /// The access faults; with `kind`, with that fault kind.
    Faults {
        process: String,
        va: u64,
        #[serde(default)]
        access: Access,
        #[serde(default)]
        mode: Mode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<FaultKind>,
    },
    /// The process's tables occupy at most `max` frames.
    TableFramesAtMost { process: String, max: u64 },
    /// The upper half of the root tables of `a` and `b` (the kernel half) point to the same
    /// tables or pages, and at least one of those entries is present.
    KernelHalfShared { a: String, b: String },
    /// On the walk for `va` in `process`, the entry at `level` has `field` equal to `value`.
    EntryField { process: String, va: u64, level: usize, field: String, value: u64 },
}

/// Whether a condition holds, and why (or why not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub passed: bool,
    pub detail: String,
}

impl Verdict {
    fn pass(detail: impl Into<String>) -> Self {
        Self { passed: true, detail: detail.into() }
    }

    fn fail(detail: impl Into<String>) -> Self {
        Self { passed: false, detail: detail.into() }
    }
}

fn access_words(access: Access, mode: Mode) -> String {
    format!("a {} {}", mode.label(), access.label())
}

impl Condition {
    /// The condition in plain words, for the task list ("0x4000_1000 in process B: a user write
    /// succeeds and lands in frame 0x2a").
    pub fn describe(&self) -> String {
        match self {
            Self::AllOf(all) => all.iter().map(Self::describe).collect::<Vec<_>>().join("; and "),
            Self::Translates { process, va, access, mode, frame } => {
                let frame = frame.map_or(String::new(), |f| format!(" and lands in frame {f:#x}"));
                format!(
                    "{} in process \"{process}\": {} succeeds{frame}",
                    hex_grouped(*va),
                    access_words(*access, *mode)
                )
            }
            Self::Faults { process, va, access, mode, kind } => {
                let kind = kind.map_or(String::new(), |k| format!(" ({})", k.id()));
                format!(
                    "{} in process \"{process}\": {} faults{kind}",
                    hex_grouped(*va),
                    access_words(*access, *mode)
                )
            }
            Self::TableFramesAtMost { process, max } => {
                format!("process \"{process}\" uses at most {max} frame(s) for page tables")
            }
            Self::KernelHalfShared { a, b } => {
                format!("processes \"{a}\" and \"{b}\" share the kernel half (upper root entries)")
            }
            Self::EntryField { process, va, level, field, value } => format!(
                "in process \"{process}\", the level-{level} entry for {} has {field} = {value:#x}",
                hex_grouped(*va)
            ),
        }
    }

    /// Evaluates the condition on `machine`. Never panics; a missing process fails the check.
    pub fn evaluate(&self, machine: &Machine) -> Verdict {
        match self {
            Self::AllOf(all) => {
                let failed: Vec<String> =
                    all.iter().map(|c| c.evaluate(machine)).filter(|v| !v.passed).map(|v| v.detail).collect();
                if failed.is_empty() {
                    Verdict::pass("every part holds")
                } else {
                    Verdict::fail(format!(
                        "{} of {} part(s) do not hold yet: {}",
                        failed.len(),
                        all.len(),
                        failed.join("; ")
                    ))
                }
            }
            Self::Translates { process, va, access, mode, frame } => {
                let Some(p) = find(machine, process) else { return no_process(process) };
                let Ok(t) = machine.translate(p, VirtAddr::new(*va), *access, *mode) else {
                    return no_process(process);
                };
                let what = format!("{} at {}", access_words(*access, *mode), hex_grouped(*va));
                match (&t.outcome, frame) {
                    (Outcome::Fault(fault), _) => {
                        Verdict::fail(format!("{what} faults: {}", fault.kind.describe()))
                    }
                    (Outcome::Mapped(mapped), Some(want)) => {
                        let got = mapped.pa.pfn(machine.format().page_shift).get();
                        if got == *want {
                            Verdict::pass(format!("{what} lands in frame {want:#x}"))
                        } else {
                            Verdict::fail(format!(
                                "{what} succeeds but lands in frame {got:#x}, not {want:#x}"
                            ))
                        }
                    }
                    (Outcome::Mapped(_), None) => Verdict::pass(format!("{what} succeeds")),
                }
            }
            Self::Faults { process, va, access, mode, kind } => {
                let Some(p) = find(machine, process) else { return no_process(process) };
                let Ok(t) = machine.translate(p, VirtAddr::new(*va), *access, *mode) else {
                    return no_process(process);
                };
                let what = format!("{} at {}", access_words(*access, *mode), hex_grouped(*va));
                match (&t.outcome, kind) {
                    (Outcome::Mapped(_), _) => Verdict::fail(format!("{what} does not fault")),
                    (Outcome::Fault(fault), Some(want)) if fault.kind != *want => Verdict::fail(format!(
                        "{what} faults, but because {}, not with {}",
                        fault.kind.describe(),
                        want.id()
                    )),
                    (Outcome::Fault(fault), _) => {
                        Verdict::pass(format!("{what} faults: {}", fault.kind.describe()))
                    }
                }
            }
            Self::TableFramesAtMost { process, max } => {
                let Some(p) = find(machine, process) else { return no_process(process) };
                let Ok(size) = machine.table_size(p) else { return no_process(process) };
                if size.frames <= *max {
                    Verdict::pass(format!("process \"{process}\" uses {} table frame(s)", size.frames))
                } else {
                    Verdict::fail(format!(
                        "process \"{process}\" uses {} table frame(s), more than {max}",
                        size.frames
                    ))
                }
            }
            Self::KernelHalfShared { a, b } => kernel_half_shared(machine, a, b),
            Self::EntryField { process, va, level, field, value } => {
                let Some(p) = find(machine, process) else { return no_process(process) };
                let Some(proc_ref) = machine.processes().get(p) else { return no_process(process) };
                let f = machine.format();
                let Some(def) = f.field_named_at(field, *level) else {
                    return Verdict::fail(format!("the format has no field {field} at level {level}"));
                };
                let path = table::entry_path(machine.mem(), f, proc_ref.root, VirtAddr::new(*va))
                    .unwrap_or_default();
                let Some(entry) = path.iter().find(|e| e.level == *level) else {
                    return Verdict::fail(format!(
                        "the walk for {} stops before level {level}",
                        hex_grouped(*va)
                    ));
                };
                let got = def.get(entry.raw);
                if got == *value {
                    Verdict::pass(format!("{field} = {got:#x} in the entry at {:#x}", entry.entry_addr))
                } else {
                    Verdict::fail(format!(
                        "{field} is {got:#x} in the level-{level} entry at {:#x}",
                        entry.entry_addr
                    ))
                }
            }
        }
    }

    /// Calls `visit` on every leaf condition (not `AllOf`), mutably: the variant generator
    /// rewrites addresses and frames through it.
    pub fn for_each_leaf_mut(&mut self, visit: &mut impl FnMut(&mut Condition)) {
        match self {
            Self::AllOf(all) => all.iter_mut().for_each(|c| c.for_each_leaf_mut(visit)),
            leaf => visit(leaf),
        }
    }

    /// Every leaf condition, in order.
    pub fn leaves(&self) -> Vec<&Condition> {
        match self {
            Self::AllOf(all) => all.iter().flat_map(Self::leaves).collect(),
            leaf => vec![leaf],
        }
    }
}

fn find(machine: &Machine, process: &str) -> Option<usize> {
    machine.find_process(process).ok()
}

fn no_process(process: &str) -> Verdict {
    Verdict::fail(format!("there is no process \"{process}\""))
}

fn kernel_half_shared(machine: &Machine, a: &str, b: &str) -> Verdict {
    let (Some(pa), Some(pb)) = (find(machine, a), find(machine, b)) else {
        return Verdict::fail(format!("processes \"{a}\" and \"{b}\" must both exist"));
    };
    let f = machine.format();
    let root = |p: usize| machine.processes().get(p).map_or(0, |p| p.root.get()) << f.page_shift;
    let (root_a, root_b) = (root(pa), root(pb));
    let entries = f.entries_at(0);
    let pte = u64::from(f.pte_bytes);
    let mut present = 0;
    for index in entries / 2..entries {
        let read =
            |root: u64| machine.mem().read_le(PhysAddr::new(root + index * pte), f.pte_bytes).unwrap_or(0);
        let (ra, rb) = (read(root_a), read(root_b));
        let (pres_a, pres_b) = (f.present(ra, 0), f.present(rb, 0));
        // Hardware sets A bits per walk, so only presence and the frame must agree.
        if pres_a != pres_b || (pres_a && f.frame(ra, 0) != f.frame(rb, 0)) {
            return Verdict::fail(format!("root entry {index:#x} differs between \"{a}\" and \"{b}\""));
        }
        if pres_a {
            present += 1;
        }
    }
    if present == 0 {
        Verdict::fail("the kernel half has no present entry in either process")
    } else {
        Verdict::pass(format!(
            "{present} kernel root entr{} shared",
            if present == 1 { "y is" } else { "ies are" }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{MapRequest, MapTarget, presets};

    fn machine() -> Machine {
        let mut m = Machine::new(presets::by_name("x86-64").unwrap(), 16 << 20).unwrap();
        let req = MapRequest {
            va: VirtAddr::new(0x40_0000),
            len: 0x1000,
            target: MapTarget::To(PhysAddr::new(0x2a000)),
            page_size: None,
            flags: Some(vec!["U/S".into()]),
        };
        m.map(0, &req).unwrap();
        m
    }

    #[test]
    fn translates_and_faults_follow_the_walk() {
        let m = machine();
        let read = Condition::Translates {
            process: "init".into(),
            va: 0x40_0010,
            access: Access::Read,
            mode: Mode::User,
            frame: Some(0x2a),
        };
        assert!(read.evaluate(&m).passed);
        let write = Condition::Faults {
            process: "init".into(),
            va: 0x40_0010,
            access: Access::Write,
            mode: Mode::User,
            kind: Some(FaultKind::WriteProtection),
        };
        assert!(write.evaluate(&m).passed);
        let all =
            Condition::AllOf(vec![read, Condition::TableFramesAtMost { process: "init".into(), max: 3 }]);
        let verdict = all.evaluate(&m);
        assert!(!verdict.passed, "4 table frames are in use");
        assert!(verdict.detail.contains("1 of 2"));
    }

    #[test]
    fn entry_field_and_missing_process() {
        let m = machine();
        let leaf = Condition::EntryField {
            process: "0".into(),
            va: 0x40_0000,
            level: 3,
            field: "R/W".into(),
            value: 0,
        };
        assert!(leaf.evaluate(&m).passed);
        let gone = Condition::TableFramesAtMost { process: "nobody".into(), max: 9 };
        assert!(!gone.evaluate(&m).passed);
    }

    #[test]
    fn kernel_half_sharing() {
        let mut m = machine();
        let req = MapRequest {
            va: VirtAddr::new(0xffff_8000_0000_0000),
            len: 0x1000,
            target: MapTarget::Alloc,
            page_size: None,
            flags: Some(vec!["R/W".into()]),
        };
        m.map(0, &req).unwrap();
        let b = m.add_process("b").unwrap();
        let shared = Condition::KernelHalfShared { a: "init".into(), b: "b".into() };
        assert!(!shared.evaluate(&m).passed);
        m.share_kernel_half(0, b).unwrap();
        assert!(shared.evaluate(&m).passed);
    }
}

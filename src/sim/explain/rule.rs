//! The deciding entry and the rule, per fault kind, in the words of the Intel SDM (Vol. 3A ch. 4)
//! for x86 and the teaching formats (which follow x86's rules); RISC-V's are in `rule_riscv`, and
//! the bits that granted a successful access in `grants`.

use super::grants::allowed;
use super::reserved::{self, Cause};
use super::rule_riscv::riscv_fault;
use super::{Decider, Rule};
use crate::sim::fault::{Access, FaultKind, Mode, PageFault};
use crate::sim::format::{Arch, PagingFormat, Role};
use crate::sim::machine::Machine;
use crate::sim::mmu::{Outcome, Rights, Translation, WalkStep};

/// The deciding entry, the rule and the rights combined down to that entry.
pub(super) fn decide(m: &Machine, t: &Translation) -> (Decider, Rule, Option<Rights>) {
    let (decider, rule, rights) = match &t.outcome {
        Outcome::Mapped(_) => allowed(m, t),
        Outcome::Fault(fault) => match m.format().arch {
            Arch::RiscV => riscv_fault(m, t, fault),
            Arch::X86 | Arch::Generic => x86_fault(m, t, fault),
        },
    };
    // A teaching format without permission fields has no rights to show.
    let f = m.format();
    let has_rights = f
        .fields
        .iter()
        .any(|field| matches!(field.role, Role::Writable | Role::User | Role::NoExecute | Role::Readable));
    (decider, rule, rights.filter(|_| has_rights))
}

pub(super) fn rule(text: impl Into<String>, reference: impl Into<String>) -> Rule {
    Rule { text: text.into(), reference: reference.into() }
}

/// The name the format gives the field with `role` at `level`, or a plain word.
pub(super) fn name_of(f: &PagingFormat, role: Role, level: usize) -> String {
    f.field(role, level).map_or_else(|| format!("{role:?}"), |field| field.name.clone())
}

pub(super) fn value_of(f: &PagingFormat, step: &WalkStep, role: Role) -> u64 {
    f.field(role, step.level).map_or(0, |field| field.get(step.raw))
}

pub(super) fn level_name(f: &PagingFormat, level: usize) -> String {
    f.levels.get(level).map_or_else(|| format!("level {level}"), |l| l.name.clone())
}

pub(super) fn entry(f: &PagingFormat, step: &WalkStep, field: &str, value: u64) -> Decider {
    Decider {
        level: Some(step.level),
        level_name: Some(level_name(f, step.level)),
        index: Some(step.index),
        entry_addr: Some(step.entry_addr),
        field: field.to_string(),
        value,
    }
}

pub(super) fn entry_role(f: &PagingFormat, step: &WalkStep, role: Role) -> Decider {
    entry(f, step, &name_of(f, role, step.level), value_of(f, step, role))
}

pub(super) fn no_entry(field: String, value: u64) -> Decider {
    Decider { level: None, level_name: None, index: None, entry_addr: None, field, value }
}

/// Where the SDM describes the entry formats of this paging mode (reserved bits live there).
fn sdm_entry_section(f: &PagingFormat) -> &'static str {
    if f.pte_bytes == 4 {
        "SDM Vol. 3A 4.3"
    } else if f.entries_at(0) == 4 {
        "SDM Vol. 3A 4.4.2"
    } else {
        "SDM Vol. 3A 4.5.4"
    }
}

/// The reference for a teaching format's rules.
pub(super) fn generic_reference(f: &PagingFormat) -> String {
    match f.name.as_str() {
        "ostep-multilevel" => "OSTEP ch. 20 (multi-level page tables)".into(),
        "ostep-linear" => "OSTEP ch. 18 (linear page tables)".into(),
        name => format!("format {name}: x86-style rules over the fields it defines"),
    }
}

/// The first step where `right` is no longer held (x86 rights combine over the levels).
fn first_losing(t: &Translation, right: impl Fn(&Rights) -> bool) -> Option<&WalkStep> {
    t.steps.iter().find(|s| !right(&s.rights))
}

/// The step at the fault's level (the last one read when the fault names none).
pub(super) fn step_at(t: &Translation, level: Option<usize>) -> Option<&WalkStep> {
    level.and_then(|l| t.steps.iter().rev().find(|s| s.level == l)).or(t.steps.last())
}

fn x86_fault(m: &Machine, t: &Translation, fault: &PageFault) -> (Decider, Rule, Option<Rights>) {
    let f = m.format();
    let x86 = f.arch == Arch::X86;
    let reference = |x86_ref: &str| if x86 { x86_ref.to_string() } else { generic_reference(f) };
    if fault.kind == FaultKind::TableOutsideMemory {
        return outside_memory(m, t, fault, reference("SDM Vol. 3A 4.5"));
    }
    let step = step_at(t, fault.level);
    let rights = step.map(|s| s.rights);
    let Some(step) = step else {
        return no_entry_fault(f, fault);
    };
    let (decider, rule, rights) = match fault.kind {
        FaultKind::NotPresent => {
            let mut text = format!(
                "a linear address has a translation only if every paging-structure entry used \
                 to translate it has {p}=1; this {} entry has {p}=0, so the walk stops here \
                 (#PF error code P=0)",
                level_name(f, step.level),
                p = name_of(f, Role::Present, step.level)
            );
            if let Some(slot) = super::search::swap_slot(m, step) {
                text.push_str(&format!(
                    "; if the OS model swapped the page out, its other bits name swap slot {slot}"
                ));
            }
            (entry_role(f, step, Role::Present), rule(text, reference("SDM Vol. 3A 4.7")), rights)
        }
        FaultKind::UserProtection => {
            let d = first_losing(t, |r| r.user).unwrap_or(step);
            let us = name_of(f, Role::User, d.level);
            (
                entry_role(f, d, Role::User),
                rule(
                    format!(
                        "user-mode accesses are allowed only to user-mode addresses: {us}=1 in every \
                         paging-structure entry controlling the translation; this {} entry has {us}=0",
                        level_name(f, d.level)
                    ),
                    reference("SDM Vol. 3A 4.6.1"),
                ),
                Some(d.rights),
            )
        }
        FaultKind::WriteProtection => {
            let d = first_losing(t, |r| r.write).unwrap_or(step);
            let rw = name_of(f, Role::Writable, d.level);
            let who = if fault.mode == Mode::User {
                format!(
                    "a user-mode write needs {rw}=1 in every paging-structure entry controlling the translation"
                )
            } else if x86 {
                format!(
                    "with CR0.WP=1, a supervisor-mode write needs {rw}=1 in every paging-structure \
                     entry controlling the translation"
                )
            } else {
                format!("a write needs {rw}=1 in every entry of the walk")
            };
            (
                entry_role(f, d, Role::Writable),
                rule(
                    format!("{who}; this {} entry has {rw}=0", level_name(f, d.level)),
                    reference("SDM Vol. 3A 4.6.1"),
                ),
                Some(d.rights),
            )
        }
        FaultKind::ExecuteProtection => {
            let d = first_losing(t, |r| r.execute).unwrap_or(step);
            let nx = name_of(f, Role::NoExecute, d.level);
            (
                entry_role(f, d, Role::NoExecute),
                rule(
                    format!(
                        "with IA32_EFER.NXE=1, instructions may be fetched only if {nx} (XD, bit 63) is 0 \
                         in every paging-structure entry controlling the translation; this {} entry has {nx}=1",
                        level_name(f, d.level)
                    ),
                    reference("SDM Vol. 3A 4.6.1"),
                ),
                Some(d.rights),
            )
        }
        FaultKind::SupervisorProtection => {
            let us = name_of(f, Role::User, step.level);
            let text = if fault.access == Access::Execute {
                format!(
                    "with CR4.SMEP=1, supervisor-mode instruction fetches from user-mode addresses \
                     ({us}=1 in every paging-structure entry) are not allowed"
                )
            } else {
                format!(
                    "with CR4.SMAP=1 and EFLAGS.AC=0, supervisor-mode data accesses to user-mode \
                     addresses ({us}=1 in every paging-structure entry) are not allowed"
                )
            };
            (entry_role(f, step, Role::User), rule(text, reference("SDM Vol. 3A 4.6.1")), rights)
        }
        FaultKind::ReservedBit => x86_reserved(m, step),
        FaultKind::InvalidEntry => (
            entry_role(f, step, Role::Present),
            rule(
                "the walk ran out of levels without reaching a page (a corrupt format or table)",
                reference("SDM Vol. 3A 4.5"),
            ),
            rights,
        ),
        _ => return no_entry_fault(f, fault),
    };
    (decider, rule, rights)
}

fn x86_reserved(m: &Machine, step: &WalkStep) -> (Decider, Rule, Option<Rights>) {
    let f = m.format();
    let section = sdm_entry_section(f);
    let causes = reserved::causes(f, m.settings(), step.raw, step.level, step.leaf);
    let level = level_name(f, step.level);
    let pae_pdpte = f.pte_bytes == 8 && f.entries_at(0) == 4 && step.level == 0;
    let (decider, text, reference) = match causes.first() {
        Some(Cause::Field { name, value }) => (
            entry(f, step, name, *value),
            format!("{name} is reserved in a {level} entry and must be 0; it holds {value:#x}"),
            section.to_string(),
        ),
        Some(Cause::NxWithoutNxe { name }) => (
            entry(f, step, name, 1),
            format!("with IA32_EFER.NXE=0, bit 63 ({name}/XD) is reserved and must be 0"),
            section.to_string(),
        ),
        Some(Cause::AboveMaxPhys { frame_name, frame, maxphyaddr, .. }) => (
            entry(f, step, frame_name, *frame),
            format!(
                "bits 51:{maxphyaddr} of the entry are reserved (MAXPHYADDR={maxphyaddr}); \
                 the {frame_name} field {frame:#x} sets some of them"
            ),
            section.to_string(),
        ),
        Some(Cause::SuperpageLowBits { frame_name, frame, low, high, .. }) => (
            entry(f, step, frame_name, *frame),
            format!(
                "in a {level} entry that maps a {} page, bits {high}:{low} are reserved (the page's \
                 frame must be aligned to its size); {frame_name} {frame:#x} is not",
                crate::sim::addr::format_size(1u64 << f.entry_span_shift(step.level).min(63))
            ),
            section.to_string(),
        ),
        _ => (
            entry(f, step, "reserved bits", step.raw),
            "a reserved bit is set in the entry".to_string(),
            section.to_string(),
        ),
    };
    let (text, reference) = if pae_pdpte {
        (
            format!(
                "{text}; a present PDPTE with a reserved bit set makes the MOV to CR3 that loads it \
                 raise #GP(0) (reported here at the walk)"
            ),
            "SDM Vol. 3A 4.4.1".to_string(),
        )
    } else {
        (format!("{text} (#PF with RSVD=1)"), format!("{reference} and 4.7"))
    };
    (decider, rule(text, reference), Some(step.rights))
}

/// The entry that points to a table beyond memory: the walk's last step, one level above the
/// fault (the entry it could not read is not a step). At level 0 it is the root register.
pub(super) fn pointer_to_outside<'a>(t: &'a Translation, fault: &PageFault) -> Option<&'a WalkStep> {
    t.steps.last().filter(|s| Some(s.level + 1) == fault.level)
}

pub(super) fn outside_memory(
    m: &Machine,
    t: &Translation,
    fault: &PageFault,
    reference: String,
) -> (Decider, Rule, Option<Rights>) {
    let f = m.format();
    let level = fault.level.unwrap_or(0);
    let pointer = pointer_to_outside(t, fault);
    let (decider, table) = match pointer {
        Some(p) => (entry_role(f, p, Role::Frame), f.frame(p.raw, p.level).checked_shl(f.page_shift)),
        None => (no_entry("root table frame (CR3 / satp.PPN)".into(), 0), None),
    };
    let at = table.map_or_else(|| "an address that does not exist".to_string(), |a| format!("{a:#x}"));
    let text = format!(
        "the {} table would be at {at}, beyond physical memory ({:#x} bytes): the pointer to it is wrong",
        level_name(f, level),
        m.mem().size()
    );
    (decider, rule(text, reference), pointer.map(|p| p.rights))
}

/// Faults decided before any entry is read: the address itself.
pub(super) fn no_entry_fault(f: &PagingFormat, fault: &PageFault) -> (Decider, Rule, Option<Rights>) {
    let top = f.va_bits.saturating_sub(1);
    let upper = fault.va.get().checked_shr(top).unwrap_or(0);
    match (fault.kind, f.arch) {
        (FaultKind::NonCanonical, Arch::RiscV) => (
            no_entry(format!("address bits 63:{top}"), upper),
            rule(
                format!(
                    "an {}-bit virtual address must have bits 63:{} all equal to bit {}, or a page fault occurs",
                    f.va_bits, f.va_bits, top
                ),
                "RISC-V privileged spec 4.4.1",
            ),
            None,
        ),
        (FaultKind::NonCanonical, _) => (
            no_entry(format!("address bits 63:{top}"), upper),
            rule(
                format!(
                    "a linear address is canonical when bits 63:{top} are all copies of bit {top}; a memory \
                     reference to a non-canonical address raises #GP(0), not a page fault: no entry is read"
                ),
                "SDM Vol. 1 3.3.7.1, Vol. 3A 4.5",
            ),
            None,
        ),
        _ => (
            no_entry(
                format!("address bits 63:{}", f.va_bits),
                fault.va.get().checked_shr(f.va_bits).unwrap_or(0),
            ),
            rule(
                format!("the address is wider than the format's {}-bit virtual address space", f.va_bits),
                generic_reference(f),
            ),
            None,
        ),
    }
}

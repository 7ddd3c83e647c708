//! The deciding entry and the rule, per fault kind and architecture, in the words of the Intel
//! SDM (Vol. 3A ch. 4) and the RISC-V privileged specification (4.3); and, for an access that
//! succeeds, the bits that granted it.

use super::reserved::{self, Cause};
use super::{Decider, Grant, Rule};
use crate::sim::fault::{Access, FaultKind, Mode, PageFault};
use crate::sim::format::{Arch, PagingFormat, Role};
use crate::sim::machine::Machine;
use crate::sim::mmu::{Outcome, Rights, RiscvAd, Translation, WalkStep};

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

fn rule(text: impl Into<String>, reference: impl Into<String>) -> Rule {
    Rule { text: text.into(), reference: reference.into() }
}

/// The name the format gives the field with `role` at `level`, or a plain word.
fn name_of(f: &PagingFormat, role: Role, level: usize) -> String {
    f.field(role, level).map_or_else(|| format!("{role:?}"), |field| field.name.clone())
}

fn value_of(f: &PagingFormat, step: &WalkStep, role: Role) -> u64 {
    f.field(role, step.level).map_or(0, |field| field.get(step.raw))
}

pub(super) fn level_name(f: &PagingFormat, level: usize) -> String {
    f.levels.get(level).map_or_else(|| format!("level {level}"), |l| l.name.clone())
}

fn entry(f: &PagingFormat, step: &WalkStep, field: &str, value: u64) -> Decider {
    Decider {
        level: Some(step.level),
        level_name: Some(level_name(f, step.level)),
        index: Some(step.index),
        entry_addr: Some(step.entry_addr),
        field: field.to_string(),
        value,
    }
}

fn entry_role(f: &PagingFormat, step: &WalkStep, role: Role) -> Decider {
    entry(f, step, &name_of(f, role, step.level), value_of(f, step, role))
}

fn no_entry(field: String, value: u64) -> Decider {
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
fn generic_reference(f: &PagingFormat) -> String {
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
    let step = step_at(t, fault.level);
    let rights = step.map(|s| s.rights);
    let Some(step) = step else {
        return no_entry_fault(f, fault);
    };
    let (decider, rule, rights) = match fault.kind {
        FaultKind::NotPresent => (
            entry_role(f, step, Role::Present),
            rule(
                format!(
                    "a linear address has a translation only if every paging-structure entry used \
                     to translate it has {}=1; this {} entry has {}=0, so the walk stops here \
                     (#PF error code P=0)",
                    name_of(f, Role::Present, step.level),
                    level_name(f, step.level),
                    name_of(f, Role::Present, step.level)
                ),
                reference("SDM Vol. 3A 4.7"),
            ),
            rights,
        ),
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
        FaultKind::TableOutsideMemory => outside_memory(m, t, step, reference("SDM Vol. 3A 4.5")),
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

fn outside_memory(
    m: &Machine,
    t: &Translation,
    step: &WalkStep,
    reference: String,
) -> (Decider, Rule, Option<Rights>) {
    let f = m.format();
    let parent = step.level.checked_sub(1).and_then(|l| t.steps.iter().find(|s| s.level == l));
    let decider = match parent {
        Some(p) => entry_role(f, p, Role::Frame),
        None => no_entry("root table frame".into(), step.table_addr >> f.page_shift),
    };
    let text = format!(
        "the {} table would be at {:#x}, beyond physical memory ({:#x} bytes): the pointer to it is wrong",
        level_name(f, step.level),
        step.table_addr,
        m.mem().size()
    );
    (decider, rule(text, reference), Some(step.rights))
}

/// Faults decided before any entry is read: the address itself.
fn no_entry_fault(f: &PagingFormat, fault: &PageFault) -> (Decider, Rule, Option<Rights>) {
    let top = f.va_bits.saturating_sub(1);
    let upper = fault.va.checked_shr(top).unwrap_or(0);
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
            no_entry(format!("address bits 63:{}", f.va_bits), fault.va.checked_shr(f.va_bits).unwrap_or(0)),
            rule(
                format!("the address is wider than the format's {}-bit virtual address space", f.va_bits),
                generic_reference(f),
            ),
            None,
        ),
    }
}

fn riscv_fault(m: &Machine, t: &Translation, fault: &PageFault) -> (Decider, Rule, Option<Rights>) {
    let f = m.format();
    let spec = |where_: &str| format!("RISC-V privileged spec {where_}");
    let Some(step) = step_at(t, fault.level) else {
        return no_entry_fault(f, fault);
    };
    // RISC-V takes the rights from the leaf alone: above it there are none to show.
    let rights = step.leaf.then_some(step.rights);
    let name = |role| name_of(f, role, step.level);
    let (decider, rule) = match fault.kind {
        FaultKind::NotPresent => (
            entry_role(f, step, Role::Present),
            rule(
                format!(
                    "if pte.v = 0, stop and raise a page-fault exception; this {} entry has V=0",
                    level_name(f, step.level)
                ),
                spec("4.3.2 step 3"),
            ),
        ),
        FaultKind::InvalidEntry
            if value_of(f, step, Role::Writable) == 1 && value_of(f, step, Role::Readable) == 0 =>
        {
            (
                entry_role(f, step, Role::Writable),
                rule(
                    "W=1 with R=0 is reserved (writable pages must also be readable): if pte.r = 0 and \
                 pte.w = 1, stop and raise a page-fault exception",
                    spec("4.3.1; 4.3.2 step 3"),
                ),
            )
        }
        FaultKind::InvalidEntry => (
            entry_role(f, step, Role::Readable),
            rule(
                "an entry with R=0 and X=0 points to a next-level table; at the last level (i < 0) \
                 there is none, so the walk raises a page-fault exception",
                spec("4.3.2 step 4"),
            ),
        ),
        FaultKind::ReservedBit => {
            let causes = reserved::causes(f, m.settings(), step.raw, step.level, step.leaf);
            match causes.first() {
                Some(Cause::PointerBit { name }) => (
                    entry(f, step, name, 1),
                    rule(
                        format!(
                            "for non-leaf PTEs the D, A and U bits are reserved and must be 0; {name}=1 here"
                        ),
                        spec("4.3.1; 4.3.2 step 3"),
                    ),
                ),
                Some(Cause::Field { name, value }) => (
                    entry(f, step, name, *value),
                    rule(
                        format!(
                            "{name} is reserved for future standard use (or an extension pagelab does not \
                             implement) and must be 0; if it is set the access page-faults"
                        ),
                        spec("4.4.1; 4.3.2 step 3"),
                    ),
                ),
                _ => (
                    entry(f, step, "reserved bits", step.raw),
                    rule("a reserved bit is set", spec("4.3.2 step 3")),
                ),
            }
        }
        FaultKind::UserProtection => (
            entry_role(f, step, Role::User),
            rule(
                format!(
                    "U-mode software may only access pages with {}=1; this leaf has {}=0",
                    name(Role::User),
                    name(Role::User)
                ),
                spec("4.3.1; 4.3.2 step 5"),
            ),
        ),
        FaultKind::SupervisorProtection if fault.access == Access::Execute => (
            entry_role(f, step, Role::User),
            rule(
                "S-mode may never execute code on pages with U=1, whatever sstatus.SUM",
                spec("4.3.1; 4.3.2 step 5"),
            ),
        ),
        FaultKind::SupervisorProtection => (
            entry_role(f, step, Role::User),
            rule(
                "S-mode loads and stores to pages with U=1 fault unless sstatus.SUM=1 (here SUM=0)",
                spec("4.3.1; 4.3.2 step 5"),
            ),
        ),
        FaultKind::ReadProtection => (
            entry_role(f, step, Role::Readable),
            rule(
                if m.settings().mxr {
                    "a load needs R=1, or X=1 with sstatus.MXR=1; this leaf has R=0 and X=0"
                } else {
                    "a load needs R=1 (or X=1 with sstatus.MXR=1; here MXR=0); this leaf has R=0"
                },
                spec("4.3.2 step 5"),
            ),
        ),
        FaultKind::WriteProtection => (
            entry_role(f, step, Role::Writable),
            rule("a store needs W=1 in the leaf; this leaf has W=0", spec("4.3.2 step 5")),
        ),
        FaultKind::ExecuteProtection => (
            entry_role(f, step, Role::Executable),
            rule("an instruction fetch needs X=1 in the leaf; this leaf has X=0", spec("4.3.2 step 5")),
        ),
        FaultKind::MisalignedSuperpage => {
            let low = f.entry_span_shift(step.level).saturating_sub(f.page_shift);
            (
                entry_role(f, step, Role::Frame),
                rule(
                    format!(
                        "if i > 0 and pte.ppn[i-1:0] != 0 this is a misaligned superpage: the low {low} bits of \
                         {} must be 0 for a {} page",
                        name(Role::Frame),
                        crate::sim::addr::format_size(1u64 << f.entry_span_shift(step.level).min(63))
                    ),
                    spec("4.3.2 step 6"),
                ),
            )
        }
        FaultKind::AccessedClear => (
            entry_role(f, step, Role::Accessed),
            rule(
                "with Svade, if pte.a = 0 the access raises a page fault and software must set A",
                spec("4.3.2 step 7 (Svade)"),
            ),
        ),
        FaultKind::DirtyClear => (
            entry_role(f, step, Role::Dirty),
            rule(
                "with Svade, a store with pte.d = 0 raises a page fault and software must set D",
                spec("4.3.2 step 7 (Svade)"),
            ),
        ),
        FaultKind::TableOutsideMemory => {
            let (d, r, _) = outside_memory(m, t, step, spec("4.3.2 step 2 (access fault)"));
            (d, r)
        }
        FaultKind::NonCanonical | FaultKind::OutOfRange => return no_entry_fault(f, fault),
    };
    (decider, rule, rights)
}

/// A successful access: decided by the leaf; the rule names what every level contributed.
fn allowed(m: &Machine, t: &Translation) -> (Decider, Rule, Option<Rights>) {
    let f = m.format();
    let Some(leaf) = t.steps.last() else {
        return (no_entry("none".into(), 0), rule("no entry was read", ""), None);
    };
    let role = match (f.arch, t.access, t.mode) {
        (_, Access::Write, _) => Role::Writable,
        (Arch::RiscV, Access::Execute, _) => Role::Executable,
        (Arch::RiscV, Access::Read, _) => Role::Readable,
        (_, Access::Execute, _) if f.field(Role::NoExecute, leaf.level).is_some() => Role::NoExecute,
        (_, _, Mode::User) if f.field(Role::User, leaf.level).is_some() => Role::User,
        _ => Role::Present,
    };
    let role = if f.field(role, leaf.level).is_some() { role } else { Role::Present };
    let granted: Vec<String> = grants(m, t).iter().map(|g| format!("{}={}", g.field, g.value)).collect();
    let mut seen = Vec::new();
    for g in granted {
        if !seen.contains(&g) {
            seen.push(g);
        }
    }
    let (text, reference) = match f.arch {
        Arch::X86 => (
            format!(
                "a {}-mode {} is allowed when the rights combined over every level permit it: {}",
                t.mode.label(),
                t.access.label(),
                seen.join(", ")
            ),
            "SDM Vol. 3A 4.6.1".to_string(),
        ),
        Arch::RiscV => (
            format!(
                "the leaf's R/W/X/U bits, the privilege mode, SUM and MXR allow a {}-mode {}: {}",
                t.mode.label(),
                t.access.label(),
                seen.join(", ")
            ),
            "RISC-V privileged spec 4.3.2 step 5".to_string(),
        ),
        Arch::Generic => {
            (format!("every entry of the walk is valid: {}", seen.join(", ")), generic_reference(f))
        }
    };
    (entry_role(f, leaf, role), rule(text, reference), Some(leaf.rights))
}

/// For a successful access: each bit, at each level, and each switch that allowed it.
pub(super) fn grants(m: &Machine, t: &Translation) -> Vec<Grant> {
    let f = m.format();
    let s = m.settings();
    let mut out = Vec::new();
    let bit = |step: &WalkStep, role: Role, why: &str| -> Option<Grant> {
        let field = f.field(role, step.level)?;
        Some(Grant {
            level: Some(step.level),
            entry_addr: Some(step.entry_addr),
            field: field.name.clone(),
            value: field.get(step.raw),
            why: why.to_string(),
        })
    };
    let switch = |name: &str, value: bool, why: &str| Grant {
        level: None,
        entry_addr: None,
        field: name.to_string(),
        value: u64::from(value),
        why: why.to_string(),
    };
    let Some(leaf) = t.steps.last() else { return out };
    let user_page = leaf.rights.user;
    match f.arch {
        Arch::X86 | Arch::Generic => {
            let x86 = f.arch == Arch::X86;
            for step in &t.steps {
                out.extend(bit(step, Role::Present, "the entry is present"));
                if t.mode == Mode::User {
                    out.extend(bit(step, Role::User, "user-mode accesses allowed at this level"));
                }
                if t.access == Access::Write && (t.mode == Mode::User || s.wp || !x86) {
                    out.extend(bit(step, Role::Writable, "writes allowed at this level"));
                }
                if t.access == Access::Execute && s.nxe {
                    out.extend(bit(step, Role::NoExecute, "fetches allowed at this level"));
                }
            }
            if x86 && t.mode == Mode::Supervisor {
                if t.access == Access::Write && !s.wp {
                    out.push(switch("CR0.WP", false, "supervisor-mode writes ignore R/W"));
                }
                if user_page && t.access == Access::Execute {
                    out.push(switch("CR4.SMEP", s.smep, "supervisor fetches from user pages allowed"));
                } else if user_page {
                    out.push(switch("CR4.SMAP", s.smap, "supervisor data accesses to user pages allowed"));
                }
            }
        }
        Arch::RiscV => {
            for step in &t.steps {
                out.extend(bit(step, Role::Present, "the entry is valid"));
            }
            match t.access {
                Access::Read if value_of(f, leaf, Role::Readable) == 1 => {
                    out.extend(bit(leaf, Role::Readable, "loads allowed"));
                }
                Access::Read => {
                    out.extend(bit(leaf, Role::Executable, "executable page"));
                    out.push(switch("sstatus.MXR", s.mxr, "loads from executable pages allowed"));
                }
                Access::Write => out.extend(bit(leaf, Role::Writable, "stores allowed")),
                Access::Execute => out.extend(bit(leaf, Role::Executable, "fetches allowed")),
            }
            match t.mode {
                Mode::User => out.extend(bit(leaf, Role::User, "U-mode may access the page")),
                Mode::Supervisor if user_page => {
                    out.extend(bit(leaf, Role::User, "a user page"));
                    out.push(switch("sstatus.SUM", s.sum, "S-mode loads and stores to U pages allowed"));
                }
                Mode::Supervisor => out.extend(bit(leaf, Role::User, "a supervisor page")),
            }
            if s.riscv_ad == RiscvAd::Svade {
                out.extend(bit(leaf, Role::Accessed, "Svade: A must already be set"));
                if t.access == Access::Write {
                    out.extend(bit(leaf, Role::Dirty, "Svade: D must already be set for a store"));
                }
            } else {
                out.push(switch("menvcfg.ADUE", true, "Svadu: hardware sets A and D"));
            }
        }
    }
    out
}

//! RISC-V's deciding entry and rule per fault kind, in the words of the privileged
//! specification: the walk algorithm of 4.3.2 (by step), the PTE format of 4.3.1 and 4.4.1.

use super::reserved::{self, Cause};
use super::rule::{
    entry, entry_role, level_name, name_of, no_entry_fault, outside_memory, rule, step_at, value_of,
};
use super::{Decider, Rule};
use crate::sim::fault::{Access, FaultKind, PageFault};
use crate::sim::format::Role;
use crate::sim::machine::Machine;
use crate::sim::mmu::{Rights, Translation};

pub(super) fn riscv_fault(
    m: &Machine,
    t: &Translation,
    fault: &PageFault,
) -> (Decider, Rule, Option<Rights>) {
    let f = m.format();
    let spec = |where_: &str| format!("RISC-V privileged spec {where_}");
    if fault.kind == FaultKind::TableOutsideMemory {
        return outside_memory(m, t, fault, spec("4.3.2 step 2 (an access fault, not a page fault)"));
    }
    let Some(step) = step_at(t, fault.level) else {
        return no_entry_fault(f, fault);
    };
    // RISC-V takes the rights from the leaf alone: above it there are none to show.
    let rights = step.leaf.then_some(step.rights);
    let name = |role| name_of(f, role, step.level);
    let (decider, rule) = match fault.kind {
        FaultKind::NotPresent => {
            let mut text = format!(
                "if pte.v = 0, stop and raise a page-fault exception; this {} entry has V=0",
                level_name(f, step.level)
            );
            if let Some(slot) = super::search::swap_slot(m, step) {
                text.push_str(&format!(
                    "; if the OS model swapped the page out, its other bits name swap slot {slot}"
                ));
            }
            (entry_role(f, step, Role::Present), rule(text, spec("4.3.2 step 3")))
        }
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
        FaultKind::NonCanonical | FaultKind::OutOfRange | FaultKind::TableOutsideMemory => {
            return no_entry_fault(f, fault);
        }
    };
    (decider, rule, rights)
}

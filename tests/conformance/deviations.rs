//! The known differences between QEMU 7.2's MMU emulation (TCG) and pagelab, each with the
//! manual's words that decide it, in one table. A difference is excluded only when a rule's
//! predicate matches the query and both results (never by counting); anything else fails the
//! suite. Issue 17 lists how these were found.

use super::compare::Case;
use pagelab::sim::{FaultKind, Translation};

/// One known deviation: what QEMU does, the specification pagelab follows, and the rule that
/// recognises it.
pub struct Deviation {
    pub name: &'static str,
    pub qemu_does: &'static str,
    pub spec: &'static str,
    pub applies: fn(&Case) -> bool,
}

pub const DEVIATIONS: &[Deviation] = &[
    Deviation {
        name: "riscv-pte-outside-memory",
        qemu_does: "raises a page fault when a PTE address has no memory behind it",
        spec: "RISC-V Privileged ISA, Supervisor-Level ISA, \"Virtual Address Translation \
               Process\" step 2: if accessing pte violates a PMA or PMP check, raise an \
               access-fault exception corresponding to the original access type (mcause 1, 5, 7)",
        applies: riscv_pte_outside_memory,
    },
    Deviation {
        name: "x86-rsvd-error-code-p-bit",
        qemu_does: "clears P in the #PF error code of a reserved-bit fault",
        spec: "Intel SDM Vol. 3A 4.7: P is 1 when the fault was caused by a page-level \
               protection violation or by a reserved bit set to 1 (RSVD=1 implies P=1)",
        applies: x86_rsvd_without_p,
    },
    Deviation {
        name: "x86-pae-pdpte-accessed",
        qemu_does: "sets bit 5 (A) of the PAE PDPTE it used",
        spec: "Intel SDM Vol. 3A 4.4.1 and Table 4-8: PAE PDPTEs are loaded into registers on \
               MOV to CR3, have no accessed flag, and bits 8:5 are reserved",
        applies: x86_pae_pdpte_accessed,
    },
    Deviation {
        name: "x86-pae-pdpte-reserved-at-access",
        qemu_does: "checks a PAE PDPTE's reserved bits at each access (#PF with RSVD)",
        spec: "Intel SDM Vol. 3A 4.4.1: the PDPTEs are loaded on MOV to CR3, and one with P=1 \
               and a reserved bit set makes that MOV raise #GP(0); pagelab reports #GP",
        applies: x86_pae_pdpte_reserved,
    },
];

/// The deviation that explains `case`, if any.
pub fn explain(case: &Case) -> Option<&'static Deviation> {
    DEVIATIONS.iter().find(|deviation| (deviation.applies)(case))
}

fn fault_kind(walk: &Translation) -> Option<FaultKind> {
    walk.fault().map(|f| f.kind)
}

/// pagelab: access fault (1/5/7) from a table outside memory; QEMU: the page fault (12/13/15) of
/// the same access type, at the same address, nothing else different.
fn riscv_pte_outside_memory(case: &Case) -> bool {
    let page_fault_for = |access_fault: u64| match access_fault {
        1 => Some(12),
        5 => Some(13),
        7 => Some(15),
        _ => None,
    };
    case.format.starts_with("sv")
        && fault_kind(case.walk) == Some(FaultKind::TableOutsideMemory)
        && case.expected.fault.and_then(page_fault_for) == case.observed.fault
        && case.expected.address == case.observed.address
        && case.expected.entries == case.observed.entries
}

/// x86 results code the #PF error code in the low 32 bits of `fault` above the vector (see the
/// x86 harness): bit 0 of the error code is P.
fn x86_rsvd_without_p(case: &Case) -> bool {
    const P: u64 = 1 << 8;
    case.format.starts_with("x86")
        && fault_kind(case.walk) == Some(FaultKind::ReservedBit)
        && case.expected.fault.is_some_and(|code| code & P != 0)
        && case.expected.fault.map(|code| code & !P) == case.observed.fault
        && case.expected.address == case.observed.address
        && case.expected.entries == case.observed.entries
}

fn x86_pae_pdpte_accessed(case: &Case) -> bool {
    const A: u64 = 1 << 5;
    case.format == "x86-pae"
        && case.expected.fault == case.observed.fault
        && case.entries_differ_only_by(A, |step| step == 0)
}

/// pagelab: #GP for a PDPTE with P=1 and a reserved bit; QEMU: #PF with P and RSVD (its own
/// error code has P clear, see the rule above) at the access.
fn x86_pae_pdpte_reserved(case: &Case) -> bool {
    case.format == "x86-pae"
        && fault_kind(case.walk) == Some(FaultKind::ReservedBit)
        && case.walk.fault().is_some_and(|f| f.level == Some(0))
        && case.observed.fault.is_some_and(|code| code & 0xff == 14)
        && case.expected.entries == case.observed.entries
}

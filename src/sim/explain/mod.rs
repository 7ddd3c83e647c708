//! "Why?" for one access: the entry and field that decided it, the architecture's rule in its own
//! words with a reference, the rights combined up to that entry, and the smallest changes that
//! make a faulting access succeed, each verified by walking a copy of the machine with it applied.
//!
//! Built on the one walk (`mmu::translate`): nothing here walks tables by itself, it reads the
//! walk's steps and asks the walk again after a change.
//!
//! A view shows [`explain`]'s result ([`Explanation::decided_by`], [`Explanation::rule`], each
//! fix's changes through [`Change::describe`] and its side effects) and applies a fix as one undo
//! step through the document, which enforces the exercise's locks:
//! `doc.run(&fix.label(), StepKind::Edit, |lab| fix.apply(&mut lab.machine).map_err(|e| EditError::Other(e.to_string())))`.
//! Explaining tries fixes on a copy of the machine: compute it on request (or once per document
//! generation), not every frame.

mod effects;
pub mod fix;
mod grants;
mod reserved;
mod rule;
mod rule_riscv;
mod search;

pub use fix::{Change, Fix, FixError, Switch};

use super::fault::{Access, Mode};
use super::machine::{Machine, MachineError};
use super::mmu::{Rights, Translation};
use crate::sim::address::{EntryAddr, VirtAddr};
use serde::Serialize;

/// The entry (or, with no entry, the address or switch) and field that decided an access.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decider {
    /// Level of the entry (0 = root); `None` when no entry decided (a non-canonical address).
    pub level: Option<usize>,
    pub level_name: Option<String>,
    pub index: Option<u64>,
    pub entry_addr: Option<EntryAddr>,
    /// The field as the format names it ("P", "R/W", "U/S", "NX", "V", "W", "PPN", ...), or what
    /// stands in for it ("address bits 63:47", "CR4.SMAP").
    pub field: String,
    pub value: u64,
}

/// The rule that applied, in the architecture's words, and where the manual states it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub text: String,
    pub reference: String,
}

/// One bit (or switch) that allowed a successful access.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub level: Option<usize>,
    /// `None` for a switch (CR0.WP, sstatus.SUM, ...).
    pub entry_addr: Option<EntryAddr>,
    pub field: String,
    pub value: u64,
    /// What this bit contributed, e.g. "user-mode access allowed at this level".
    pub why: String,
}

/// Everything "Why?" shows for one access.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    pub process: usize,
    /// The walk, as `translate` returns it.
    pub translation: Translation,
    pub decided_by: Decider,
    pub rule: Rule,
    /// Rights combined over the entries down to the deciding one (`None` when no entry was read).
    pub rights: Option<Rights>,
    /// For a successful access: the bits at each level (and switches) that granted it.
    pub grants: Vec<Grant>,
    /// For a fault: the verified fixes, fewest changed bits first; none is a superset of another.
    pub fixes: Vec<Fix>,
    /// The fault is a write to a page fork() shared copy-on-write: the OS's copy, not an edit of
    /// the tables, is what resolves it (the fixes still say what would make the access pass).
    #[serde(skip)]
    pub cow: Option<crate::sim::cow::CowPage>,
}

impl Explanation {
    pub fn is_fault(&self) -> bool {
        self.translation.fault().is_some()
    }
}

/// Explains the access `access` in `mode` to `va` by `process`, and for a fault finds the fixes.
/// Reads `machine` only (fixes are tried on a copy).
pub fn explain(
    machine: &Machine,
    process: usize,
    va: VirtAddr,
    access: Access,
    mode: Mode,
) -> Result<Explanation, MachineError> {
    let translation = machine.translate(process, va, access, mode)?;
    let (decided_by, mut rule, rights) = rule::decide(machine, &translation);
    stale_register_note(machine, &translation, &decided_by, &mut rule);
    let (grants, fixes) = match translation.fault() {
        None => (grants::grants(machine, &translation), Vec::new()),
        Some(_) => (Vec::new(), search::find_fixes(machine, process, &translation)),
    };
    let cow = translation
        .fault()
        .filter(|f| machine.is_cow_fault(process, va, access, f.kind))
        .and_then(|_| machine.cow_page(process, va));
    Ok(Explanation { process, translation, decided_by, rule, rights, grants, fixes, cow })
}

/// When the deciding entry is a PAE PDPTE read from its register and memory now holds another
/// value, says so: the entry shown is not what the PDPT in memory holds.
fn stale_register_note(machine: &Machine, t: &Translation, decided_by: &Decider, rule: &mut Rule) {
    let Some(step) = t.steps.first().filter(|s| s.from_register && decided_by.level == Some(s.level)) else {
        return;
    };
    let Ok(in_memory) = machine.mem().read_le(step.entry_addr.phys(), machine.format().pte_bytes) else {
        return;
    };
    if in_memory != step.raw {
        rule.text.push_str(&format!(
            "; the walk read PDPTE {} from its register, loaded at the last CR3 load: memory at {:#x} now \
             holds {in_memory:#x}, which counts only once CR3 is loaded again (SDM Vol. 3A 4.4.1)",
            step.index, step.entry_addr
        ));
    }
}

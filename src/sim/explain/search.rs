//! Finding the fixes: for the fault at hand, propose the changes each rule allows (set the bit at
//! every level that lacks it, flip a switch, map the page, clear a reserved bit, align the
//! frame), try each on one copy of the machine (memory journaled and rolled back between tries),
//! walk again, and if the walk now stops at another fault, extend the try with that fault's
//! changes. Only tries whose walk succeeds are kept; supersets of kept fixes are dropped.

use super::effects;
use super::fix::{Change, Fix, Switch, clear_low};
use super::reserved::{self, Cause};
use super::rule::{pointer_to_outside, step_at};
use crate::sim::VirtAddr;
use crate::sim::fault::{Access, FaultKind, Mode, PageFault};
use crate::sim::format::{Arch, Role};
use crate::sim::machine::Machine;
use crate::sim::mmu::{RiscvAd, Translation, WalkStep};
use crate::sim::os::SwapEncoding;
use std::collections::BTreeSet;

/// Most rounds of "walk, fault, change": a fault can uncover another (map a page, then its
/// upper entries need U/S), but no rule needs more.
const MAX_ROUNDS: usize = 4;
/// Most tries kept per round, so a pathological lab cannot make "Why?" slow.
const MAX_TRIES_PER_ROUND: usize = 64;

pub(super) fn find_fixes(machine: &Machine, process: usize, original: &Translation) -> Vec<Fix> {
    let mut work = machine.clone();
    let mut found: Vec<Fix> = Vec::new();
    let mut seen: BTreeSet<Vec<Change>> = BTreeSet::new();
    let mut tries: Vec<Vec<Change>> = vec![Vec::new()];
    for _ in 0..MAX_ROUNDS {
        let mut next = Vec::new();
        for chain in tries {
            if found.iter().any(|fix| is_subset(&fix.changes, &chain)) {
                continue;
            }
            match attempt(machine, &mut work, process, original, &chain) {
                Attempt::Fixed(fix) if !chain.is_empty() => found.push(fix),
                Attempt::Fixed(_) | Attempt::Refused => {}
                Attempt::Faulted(candidates) => {
                    for step in candidates {
                        if step.iter().any(|c| chain.iter().any(|d| same_target(c, d))) {
                            continue; // changing the same bit twice goes in circles
                        }
                        let mut longer = chain.clone();
                        longer.extend(step);
                        let mut key = longer.clone();
                        key.sort();
                        if seen.insert(key) && next.len() < MAX_TRIES_PER_ROUND {
                            next.push(longer);
                        }
                    }
                }
            }
        }
        if next.is_empty() {
            break;
        }
        tries = next;
    }
    let mut kept: Vec<Fix> = Vec::new();
    found.sort_by(|a, b| (a.bits, a.changes.len(), &a.changes).cmp(&(b.bits, b.changes.len(), &b.changes)));
    for fix in found {
        if !kept.iter().any(|k| fix.is_superset_of(k) || k.is_superset_of(&fix)) {
            kept.push(fix);
        }
    }
    kept
}

fn is_subset(small: &[Change], big: &[Change]) -> bool {
    small.iter().all(|c| big.contains(c))
}

/// Two changes of the same field of the same entry, or of the same switch, or two maps.
fn same_target(a: &Change, b: &Change) -> bool {
    match (a, b) {
        (Change::Field { entry_addr: x, field: f, .. }, Change::Field { entry_addr: y, field: g, .. }) => {
            x == y && f == g
        }
        (Change::Switch { switch: x, .. }, Change::Switch { switch: y, .. }) => x == y,
        (Change::Map { .. }, Change::Map { .. }) => true,
        _ => false,
    }
}

enum Attempt {
    Fixed(Fix),
    /// The walk still faults; these are the next changes to try.
    Faulted(Vec<Vec<Change>>),
    /// A change could not be made (e.g. no memory left to map).
    Refused,
}

/// Applies `chain` to `work` (a copy of `machine`), walks, and puts `work` back as it was.
fn attempt(
    machine: &Machine,
    work: &mut Machine,
    process: usize,
    original: &Translation,
    chain: &[Change],
) -> Attempt {
    let settings = *work.settings();
    let registers = work.pdptes;
    let pdptes_before = work.pdptes_in_memory();
    work.mem.begin();
    let applied = chain.iter().try_for_each(|c| c.apply(work));
    // As Fix::apply: a changed PAE PDPTE comes with its CR3 load.
    work.reload_cr3_if_pdptes_changed(pdptes_before);
    let result = match applied {
        Err(_) => Attempt::Refused,
        Ok(()) => match work.translate(process, original.va, original.access, original.mode) {
            Err(_) => Attempt::Refused,
            Ok(t) => match t.fault() {
                None => Attempt::Fixed(Fix {
                    changes: chain.to_vec(),
                    bits: bits_changed(machine, &t, chain),
                    side_effects: effects::side_effects(machine, work, process, original, chain),
                }),
                Some(fault) => Attempt::Faulted(candidates(work, process, &t, fault)),
            },
        },
    };
    work.mem.rollback();
    work.set_settings(settings);
    work.pdptes = registers;
    result
}

/// Bits that differ between the walk's entries before and after, plus flipped switches.
fn bits_changed(before: &Machine, t: &Translation, chain: &[Change]) -> u32 {
    let bytes = before.format().pte_bytes;
    let entries: u32 = t
        .steps
        .iter()
        .map(|s| {
            let old = before.mem().read_le(s.entry_addr.phys(), bytes).unwrap_or(0);
            (old ^ s.raw).count_ones()
        })
        .sum();
    let switches: u32 =
        chain.iter().filter(|c| matches!(c, Change::Switch { .. })).map(Change::flipped_bits).sum();
    entries + switches
}

fn set_role(m: &Machine, step: &WalkStep, role: Role, to: u64) -> Option<Change> {
    let field = m.format().field(role, step.level)?;
    let from = field.get(step.raw);
    (from != to).then(|| Change::Field {
        level: step.level,
        entry_addr: step.entry_addr,
        field: field.name.clone(),
        from,
        to,
    })
}

fn set_named(step: &WalkStep, name: &str, from: u64, to: u64) -> Change {
    Change::Field { level: step.level, entry_addr: step.entry_addr, field: name.to_string(), from, to }
}

fn flip(m: &Machine, switch: Switch, to: u64) -> Option<Change> {
    let from = switch.get(m.settings());
    (from != to).then_some(Change::Switch { switch, from, to })
}

/// One change per step that lacks `role`'s value `to` (x86 rights must hold at every level).
fn at_every_level(m: &Machine, t: &Translation, role: Role, to: u64) -> Vec<Change> {
    t.steps.iter().filter_map(|s| set_role(m, s, role, to)).collect()
}

/// The changes each rule allows for `fault`; each inner list is tried as one step.
fn candidates(m: &Machine, process: usize, t: &Translation, fault: &PageFault) -> Vec<Vec<Change>> {
    let f = m.format();
    let Some(step) = step_at(t, fault.level) else { return Vec::new() };
    let one = |c: Option<Change>| c.map(|c| vec![c]);
    let mut out: Vec<Option<Vec<Change>>> = Vec::new();
    let riscv = f.arch == Arch::RiscV;
    // PAE: the walk began at a PDPTE register that no longer matches memory (the PDPTE was edited
    // without a CR3 load, SDM Vol. 3A 4.4.1). Loading CR3 may be all the fault needs.
    if let Some(first) = t.steps.first().filter(|s| s.from_register)
        && usize::try_from(first.index).is_ok_and(|i| m.stale_pdptes().contains(&i))
    {
        out.push(Some(vec![Change::LoadCr3 { register: first.index }]));
    }
    match fault.kind {
        FaultKind::NotPresent => {
            // A cleared present bit over an otherwise filled entry: set it again (the side
            // effects warn when the bits may be a swap slot rather than a frame).
            let present_mask = f.field(Role::Present, step.level).map_or(0, |p| p.mask());
            if step.raw & !present_mask != 0 {
                out.push(one(set_role(m, step, Role::Present, 1)));
            }
            out.push(Some(vec![map_change(m, process, t)]));
        }
        FaultKind::UserProtection if riscv => out.push(one(set_role(m, step, Role::User, 1))),
        FaultKind::UserProtection => out.push(Some(at_every_level(m, t, Role::User, 1))),
        FaultKind::WriteProtection if riscv => out.push(one(set_role(m, step, Role::Writable, 1))),
        FaultKind::WriteProtection => {
            out.push(Some(at_every_level(m, t, Role::Writable, 1)));
            if fault.mode == Mode::Supervisor && f.arch == Arch::X86 {
                out.push(one(flip(m, Switch::Wp, 0)));
            }
        }
        FaultKind::ExecuteProtection if riscv => out.push(one(set_role(m, step, Role::Executable, 1))),
        FaultKind::ExecuteProtection => out.push(Some(at_every_level(m, t, Role::NoExecute, 0))),
        FaultKind::ReadProtection => {
            out.push(one(set_role(m, step, Role::Readable, 1)));
            if f.flag(step.raw, Role::Executable, step.level, false) {
                out.push(one(flip(m, Switch::Mxr, 1)));
            }
        }
        FaultKind::SupervisorProtection => {
            // Make it a supervisor page (clear U at the leaf: upper levels would take every page
            // under them from user mode), or lift the switch that forbids the access.
            out.push(one(set_role(m, step, Role::User, 0)));
            let switch = match (f.arch, fault.access) {
                (Arch::RiscV, Access::Execute) => None,
                (Arch::RiscV, _) => Some(Switch::Sum),
                (_, Access::Execute) => Some(Switch::Smep),
                _ => Some(Switch::Smap),
            };
            if let Some(switch) = switch {
                let to = u64::from(switch == Switch::Sum);
                out.push(one(flip(m, switch, to)));
            }
            if switch == Some(Switch::Smap) {
                // SDM 4.6: SMAP applies to explicit accesses only while EFLAGS.AC = 0.
                out.push(one(flip(m, Switch::Ac, 1)));
            }
        }
        FaultKind::ReservedBit => {
            for cause in reserved::causes(f, m.settings(), step.raw, step.level, step.leaf) {
                match cause {
                    Cause::Field { name, value } => out.push(Some(vec![set_named(step, &name, value, 0)])),
                    Cause::NxWithoutNxe { name } => {
                        out.push(Some(vec![set_named(step, &name, 1, 0)]));
                        out.push(one(flip(m, Switch::Nxe, 1)));
                    }
                    Cause::PointerBit { name } => out.push(Some(vec![set_named(step, &name, 1, 0)])),
                    Cause::AboveMaxPhys { frame_name, frame, clean, .. }
                    | Cause::SuperpageLowBits { frame_name, frame, clean, .. } => {
                        out.push(Some(vec![set_named(step, &frame_name, frame, clean)]));
                    }
                }
            }
        }
        FaultKind::InvalidEntry if riscv => {
            let has = |role| f.flag(step.raw, role, step.level, false);
            if has(Role::Writable) && !has(Role::Readable) {
                // Writable pages must be readable; an executable page may drop W instead.
                out.push(one(set_role(m, step, Role::Readable, 1)));
                if has(Role::Executable) && fault.access == Access::Execute {
                    out.push(one(set_role(m, step, Role::Writable, 0)));
                }
            } else {
                // A pointer at the last level: make it a leaf of the kind the access needs.
                let role = if fault.access == Access::Execute { Role::Executable } else { Role::Readable };
                out.push(one(set_role(m, step, role, 1)));
            }
        }
        FaultKind::MisalignedSuperpage => {
            if let Some(frame) = f.field(Role::Frame, step.level) {
                let value = frame.get(step.raw);
                let low = f.entry_span_shift(step.level).saturating_sub(f.page_shift);
                out.push(Some(vec![set_named(step, &frame.name, value, clear_low(value, low))]));
            }
        }
        FaultKind::AccessedClear => {
            out.push(one(set_role(m, step, Role::Accessed, 1)));
            out.push(one(flip(m, Switch::Adue, 1)));
        }
        FaultKind::DirtyClear => {
            out.push(one(set_role(m, step, Role::Dirty, 1)));
            out.push(one(flip(m, Switch::Adue, 1)));
        }
        // A pointer to a table beyond memory: unhook it (the next round maps the page afresh).
        FaultKind::TableOutsideMemory => {
            if let Some(pointer) = pointer_to_outside(t, fault) {
                out.push(one(set_role(m, pointer, Role::Present, 0)));
            }
        }
        // The address itself: no change of bits makes these succeed.
        FaultKind::NonCanonical | FaultKind::OutOfRange | FaultKind::InvalidEntry => {}
    }
    out.into_iter().flatten().filter(|c| !c.is_empty()).collect()
}

/// The swap slot a not-present leaf would name in the OS model's encoding (sim::os): only the
/// lab's swap area can tell a swapped-out page from an entry whose P bit was cleared by hand.
pub(super) fn swap_slot(m: &Machine, step: &WalkStep) -> Option<u64> {
    let f = m.format();
    if step.level != f.last_level() || f.present(step.raw, step.level) {
        return None;
    }
    SwapEncoding::for_format(f)?.decode(step.raw)
}

/// Maps the faulting base page with the fewest leaf flags the access needs.
fn map_change(m: &Machine, process: usize, t: &Translation) -> Change {
    let f = m.format();
    let leaf = f.last_level();
    let mut roles = Vec::new();
    match f.arch {
        Arch::RiscV => {
            match t.access {
                Access::Read => roles.push(Role::Readable),
                Access::Write => roles.extend([Role::Readable, Role::Writable]),
                Access::Execute => roles.push(Role::Executable),
            }
            if t.mode == Mode::User {
                roles.push(Role::User);
            }
            if m.settings().riscv_ad == RiscvAd::Svade {
                roles.push(Role::Accessed);
                if t.access == Access::Write {
                    roles.push(Role::Dirty);
                }
            }
        }
        Arch::X86 | Arch::Generic => {
            if t.access == Access::Write {
                roles.push(Role::Writable);
            }
            if t.mode == Mode::User {
                roles.push(Role::User);
            }
        }
    }
    let flags = roles.into_iter().filter_map(|r| f.field(r, leaf).map(|field| field.name.clone())).collect();
    let page_size = f.page_size();
    Change::Map { process, va: VirtAddr::new(t.va.get() & !(page_size - 1)), page_size, flags }
}

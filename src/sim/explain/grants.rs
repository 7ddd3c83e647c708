//! "Why is this allowed?": for an access that succeeds, the leaf that decided it, the rule, and
//! every bit at every level (and every switch) that granted it.

use super::rule::{entry_role, generic_reference, no_entry, rule, value_of};
use super::{Decider, Grant, Rule};
use crate::sim::fault::{Access, Mode};
use crate::sim::format::{Arch, Role};
use crate::sim::machine::Machine;
use crate::sim::mmu::{Rights, RiscvAd, Translation, WalkStep};

/// A successful access: decided by the leaf; the rule names what every level contributed.
pub(super) fn allowed(m: &Machine, t: &Translation) -> (Decider, Rule, Option<Rights>) {
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
                    if s.smap && s.ac {
                        out.push(switch(
                            "EFLAGS.AC",
                            true,
                            "SMAP lets explicit supervisor data accesses through",
                        ));
                    }
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

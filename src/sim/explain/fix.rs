//! A fix: a short list of changes (entry fields, MMU switches, or mapping the page) that makes a
//! faulting access succeed, with what else it changes. `Fix::apply` is the one way to make it
//! happen, used both to verify it on a copy and to apply it to a lab (through the document).

use crate::sim::addr::{format_size, hex_grouped};
use crate::sim::address::{EntryAddr, VirtAddr};
use crate::sim::format::{PagingFormat, low_mask};
use crate::sim::machine::{Machine, MachineError, MapRequest, MapTarget};
use crate::sim::mmu::{MmuSettings, RiscvAd};
use serde::Serialize;
use std::fmt;
use thiserror::Error;

/// An MMU switch a fix may flip (x86 control registers, RISC-V CSR fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Switch {
    /// CR0.WP
    Wp,
    /// CR4.SMEP
    Smep,
    /// CR4.SMAP
    Smap,
    /// EFLAGS.AC (STAC/CLAC): SMAP lets explicit supervisor data accesses through while set.
    Ac,
    /// IA32_EFER.NXE
    Nxe,
    /// sstatus.SUM
    Sum,
    /// sstatus.MXR
    Mxr,
    /// menvcfg.ADUE: Svadu (hardware A/D updates) instead of Svade.
    Adue,
}

impl Switch {
    /// The register field, as the manuals write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wp => "CR0.WP",
            Self::Smep => "CR4.SMEP",
            Self::Smap => "CR4.SMAP",
            Self::Ac => "EFLAGS.AC",
            Self::Nxe => "IA32_EFER.NXE",
            Self::Sum => "sstatus.SUM",
            Self::Mxr => "sstatus.MXR",
            Self::Adue => "menvcfg.ADUE",
        }
    }

    pub fn get(self, s: &MmuSettings) -> u64 {
        u64::from(match self {
            Self::Wp => s.wp,
            Self::Smep => s.smep,
            Self::Smap => s.smap,
            Self::Ac => s.ac,
            Self::Nxe => s.nxe,
            Self::Sum => s.sum,
            Self::Mxr => s.mxr,
            Self::Adue => s.riscv_ad == RiscvAd::Svadu,
        })
    }

    pub fn set(self, s: &mut MmuSettings, value: u64) {
        let on = value != 0;
        match self {
            Self::Wp => s.wp = on,
            Self::Smep => s.smep = on,
            Self::Smap => s.smap = on,
            Self::Ac => s.ac = on,
            Self::Nxe => s.nxe = on,
            Self::Sum => s.sum = on,
            Self::Mxr => s.mxr = on,
            Self::Adue => s.riscv_ad = if on { RiscvAd::Svadu } else { RiscvAd::Svade },
        }
    }
}

/// One change of a fix.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Change {
    /// Set a named field of the entry at `entry_addr` (a table at `level`) from `from` to `to`.
    Field { level: usize, entry_addr: EntryAddr, field: String, from: u64, to: u64 },
    /// Flip an MMU switch.
    Switch { switch: Switch, from: u64, to: u64 },
    /// Map the page at `va` in `process` to a fresh frame with these leaf flags (tables created
    /// as needed), as `pagelab map` would.
    Map { process: usize, va: VirtAddr, page_size: u64, flags: Vec<String> },
    /// Load CR3 again, so that the PAE PDPTE registers (here `register`, which differs from the
    /// PDPTE in memory) reread memory (SDM Vol. 3A 4.4.1): an edit of a PDPTE counts only then.
    LoadCr3 { register: u64 },
}

impl Change {
    /// The entry it writes (`None` for a switch).
    pub fn entry_addr(&self) -> Option<EntryAddr> {
        match self {
            Self::Field { entry_addr, .. } => Some(*entry_addr),
            Self::Switch { .. } | Self::Map { .. } | Self::LoadCr3 { .. } => None,
        }
    }

    /// The field's name, the switch's name, or "map".
    pub fn field(&self) -> &str {
        match self {
            Self::Field { field, .. } => field,
            Self::Switch { switch, .. } => switch.name(),
            Self::Map { .. } => "map",
            Self::LoadCr3 { .. } => "CR3",
        }
    }

    /// What the change sets, as (from, to): for a map, (0, 1), unmapped to mapped.
    pub fn from_to(&self) -> (u64, u64) {
        match self {
            Self::Field { from, to, .. } | Self::Switch { from, to, .. } => (*from, *to),
            Self::Map { .. } | Self::LoadCr3 { .. } => (0, 1),
        }
    }

    /// Makes the change; refuses when the entry or switch no longer holds `from` (the lab changed
    /// since the fix was found).
    pub fn apply(&self, m: &mut Machine) -> Result<(), FixError> {
        match self {
            Self::Field { level, entry_addr, field, from, to } => {
                let format = m.format();
                let def = format
                    .field_named_at(field, *level)
                    .ok_or_else(|| MachineError::NoSuchField { name: field.clone(), level: *level })?;
                let raw = m.mem().read_le(entry_addr.phys(), format.pte_bytes).map_err(MachineError::from)?;
                let found = def.get(raw);
                if found != *from {
                    return Err(FixError::Stale {
                        what: format!("{field} of the entry at {entry_addr:#x}"),
                        expected: *from,
                        found,
                    });
                }
                m.set_field(*entry_addr, *level, field, *to)?;
            }
            Self::Switch { switch, from, to } => {
                let found = switch.get(m.settings());
                if found != *from {
                    return Err(FixError::Stale { what: switch.name().to_string(), expected: *from, found });
                }
                switch.set(m.settings_mut(), *to);
            }
            Self::Map { process, va, page_size, flags } => {
                let request = MapRequest {
                    va: *va,
                    len: *page_size,
                    target: MapTarget::Alloc,
                    page_size: Some(*page_size),
                    flags: Some(flags.clone()),
                };
                m.map(*process, &request)?;
            }
            Self::LoadCr3 { register } => {
                let index = usize::try_from(*register).unwrap_or(usize::MAX);
                if !m.stale_pdptes().contains(&index) {
                    let what = format!("PDPTE register {register}");
                    return Err(FixError::Stale {
                        what: what + " (now equal to memory)",
                        expected: 1,
                        found: 0,
                    });
                }
                m.load_cr3();
            }
        }
        Ok(())
    }

    /// The change in words, naming the entry's level as the format does ("set R/W 0 -> 1 in
    /// the PT entry at 0x4000").
    pub fn describe(&self, format: &PagingFormat) -> String {
        match self {
            Self::Field { level, entry_addr, .. } => {
                let name = format.levels.get(*level).map_or("?", |l| l.name.as_str());
                self.to_string().replace(
                    &format!("in the entry at {entry_addr:#x}"),
                    &format!("in the {name} entry at {entry_addr:#x}"),
                )
            }
            _ => self.to_string(),
        }
    }

    /// Bits the change flips (a map counts the bits it writes; see `Fix::bits`).
    pub(super) fn flipped_bits(&self) -> u32 {
        let (from, to) = self.from_to();
        (from ^ to).count_ones()
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Field { entry_addr, field, from, to, .. } => {
                let wide = from.max(to) > &1;
                if wide {
                    write!(f, "set {field} {from:#x} -> {to:#x} in the entry at {entry_addr:#x}")
                } else {
                    write!(f, "set {field} {from} -> {to} in the entry at {entry_addr:#x}")
                }
            }
            Self::Switch { switch, from, to } => write!(f, "set {} {from} -> {to}", switch.name()),
            Self::Map { va, page_size, flags, .. } => {
                let flags = if flags.is_empty() { "no flags".to_string() } else { flags.join(",") };
                write!(
                    f,
                    "map the {} page at {} to a fresh frame ({flags})",
                    format_size(*page_size),
                    hex_grouped(va.get())
                )
            }
            Self::LoadCr3 { register } => write!(
                f,
                "load CR3 again (PDPTE register {register} still holds the entry loaded before memory changed)"
            ),
        }
    }
}

/// A verified fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// Applied in order (a map may create the tables a later change edits).
    pub changes: Vec<Change>,
    /// Bits the fix changes in entries on the walk and in switches (what the list is ordered by).
    pub bits: u32,
    /// What else the fix changes, in words.
    pub side_effects: Vec<String>,
}

impl Fix {
    /// Applies every change in order; on error the machine may be half changed, so run it inside
    /// a document step (all or nothing), e.g.
    /// `doc.run(&fix.label(), StepKind::Edit, |lab| fix.apply(&mut lab.machine).map_err(|e| EditError::Other(e.to_string())))`.
    pub fn apply(&self, m: &mut Machine) -> Result<(), FixError> {
        let pdptes_before = m.pdptes_in_memory();
        self.changes.iter().try_for_each(|c| c.apply(m))?;
        // A fix that edits a PAE PDPTE includes the CR3 load that makes it count (SDM 4.4.1),
        // as the kernel applying it would.
        m.reload_cr3_if_pdptes_changed(pdptes_before);
        Ok(())
    }

    /// "1 bit", "3 bits", or for a fix that changes no bit (a CR3 load) "no bit changed".
    pub fn bits_label(&self) -> String {
        match self.bits {
            0 => "no bit changed".to_string(),
            1 => "1 bit".to_string(),
            n => format!("{n} bits"),
        }
    }

    /// Words for the undo menu: "fix: set R/W 0 -> 1 in the entry at 0x3018".
    pub fn label(&self) -> String {
        let parts: Vec<String> = self.changes.iter().map(ToString::to_string).collect();
        format!("fix: {}", parts.join("; "))
    }

    /// Whether every change of `other` is also a change of this fix.
    pub fn is_superset_of(&self, other: &Fix) -> bool {
        other.changes.iter().all(|c| self.changes.contains(c))
    }
}

/// Why a fix could not be applied.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FixError {
    #[error(transparent)]
    Machine(#[from] MachineError),
    #[error("{what} is {found:#x}, not {expected:#x} as when the fix was found; explain the access again")]
    Stale { what: String, expected: u64, found: u64 },
}

/// `value` with the bits of `mask` cleared (used for frame alignment).
pub(super) fn clear_low(value: u64, bits: u32) -> u64 {
    value & !low_mask(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::presets;

    #[test]
    fn switches_read_back_what_they_set() {
        let all = [
            Switch::Wp,
            Switch::Smep,
            Switch::Smap,
            Switch::Ac,
            Switch::Nxe,
            Switch::Sum,
            Switch::Mxr,
            Switch::Adue,
        ];
        for switch in all {
            let mut s = MmuSettings::default();
            for value in [1, 0, 1] {
                switch.set(&mut s, value);
                assert_eq!(switch.get(&s), value, "{}", switch.name());
            }
        }
    }

    #[test]
    fn changes_name_the_level_and_compare_as_sets() {
        let f = presets::by_name("x86-64").unwrap();
        let c = Change::Field {
            level: 2,
            entry_addr: EntryAddr::new(0x3010),
            field: "R/W".into(),
            from: 0,
            to: 1,
        };
        assert_eq!(c.describe(&f), "set R/W 0 -> 1 in the PD entry at 0x3010");
        let wide = Change::Field {
            level: 3,
            entry_addr: EntryAddr::new(0x8),
            field: "Frame".into(),
            from: 0x202,
            to: 0x200,
        };
        assert_eq!(wide.to_string(), "set Frame 0x202 -> 0x200 in the entry at 0x8");
        let wp = Change::Switch { switch: Switch::Wp, from: 1, to: 0 };
        let one = Fix { changes: vec![c.clone()], bits: 1, side_effects: vec![] };
        let two = Fix { changes: vec![wp, c], bits: 2, side_effects: vec![] };
        assert!(two.is_superset_of(&one) && !one.is_superset_of(&two));
        assert_eq!(one.label(), "fix: set R/W 0 -> 1 in the entry at 0x3010");
    }
}

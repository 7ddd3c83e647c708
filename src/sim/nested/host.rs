//! The host's (second-stage) tables: Intel EPT with 4 or 5 levels (SDM Vol. 3C 29.3) and the
//! RISC-V H extension's G-stage Sv39x4 / Sv48x4 (privileged spec, "Two-Stage Address
//! Translation"). Their entries are not the guest's: EPT has R/W/X in bits 2:0 (an entry is
//! present when any is set) and a memory type in leaves; G-stage entries are RISC-V PTEs, with a
//! root table four times larger (two more index bits) and leaves that must have U=1.

use crate::sim::fault::Access;
use crate::sim::format::low_mask;
use serde::{Deserialize, Serialize};

/// The host's table format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKind {
    /// EPT with a 4-level walk (EPTP bits 5:3 = 3): 48-bit guest-physical addresses.
    Ept4,
    /// EPT with a 5-level walk (EPTP bits 5:3 = 4): 57-bit guest-physical addresses.
    Ept5,
    /// RISC-V hgatp.MODE = 8: 41-bit guest-physical addresses, a 16 KiB root.
    Sv39x4,
    /// RISC-V hgatp.MODE = 9: 50-bit guest-physical addresses, a 16 KiB root.
    Sv48x4,
}

/// EPT entry bits (SDM Vol. 3C, tables 29-1 to 29-6).
pub mod ept {
    /// Read access allowed (bit 0).
    pub const R: u64 = 1 << 0;
    /// Write access allowed (bit 1).
    pub const W: u64 = 1 << 1;
    /// Instruction fetches allowed (bit 2; supervisor-mode fetches when MBEC is on).
    pub const X: u64 = 1 << 2;
    /// Leaf memory type, bits 5:3: 0 UC, 1 WC, 4 WT, 5 WP, 6 WB; 2, 3 and 7 are reserved.
    pub const MEMTYPE_SHIFT: u32 = 3;
    /// Write-back, the memory type pagelab writes into leaves.
    pub const WB: u64 = 6 << MEMTYPE_SHIFT;
    /// Maps a 1 GiB (PDPTE) or 2 MiB (PDE) page (bit 7); reserved in PML4Es and PML5Es.
    pub const PS: u64 = 1 << 7;
}

/// RISC-V PTE bits used by the G-stage (same layout as Sv39/Sv48 entries).
pub mod gstage {
    pub const V: u64 = 1 << 0;
    pub const R: u64 = 1 << 1;
    pub const W: u64 = 1 << 2;
    pub const X: u64 = 1 << 3;
    /// G-stage accesses count as user accesses: a leaf without U faults.
    pub const U: u64 = 1 << 4;
    pub const A: u64 = 1 << 6;
    pub const D: u64 = 1 << 7;
    pub const PPN_SHIFT: u32 = 10;
    /// Bits 63:54 (N, PBMT, reserved): pagelab models none of them, so a set one faults.
    pub const RESERVED: u64 = !0 << 54;
}

/// Why a host entry stops the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostFaultKind {
    /// EPT violation: an entry is not present (bits 2:0 clear) or does not allow the access.
    EptViolation,
    /// EPT misconfiguration: an entry is encoded wrongly (write without read, a reserved memory
    /// type, a reserved bit set).
    EptMisconfiguration,
    /// RISC-V guest-page fault (causes 20, 21, 23).
    GuestPageFault,
}

impl HostKind {
    pub fn name(self) -> &'static str {
        match self {
            HostKind::Ept4 => "ept",
            HostKind::Ept5 => "ept5",
            HostKind::Sv39x4 => "sv39x4",
            HostKind::Sv48x4 => "sv48x4",
        }
    }

    pub fn by_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "ept" | "ept4" => Some(HostKind::Ept4),
            "ept5" => Some(HostKind::Ept5),
            "sv39x4" => Some(HostKind::Sv39x4),
            "sv48x4" => Some(HostKind::Sv48x4),
            _ => None,
        }
    }

    pub fn is_ept(self) -> bool {
        matches!(self, HostKind::Ept4 | HostKind::Ept5)
    }

    /// Index bits per level, root first: the x4 formats widen the root by 2 bits.
    pub fn index_bits(self) -> &'static [u32] {
        match self {
            HostKind::Ept4 => &[9, 9, 9, 9],
            HostKind::Ept5 => &[9, 9, 9, 9, 9],
            HostKind::Sv39x4 => &[11, 9, 9],
            HostKind::Sv48x4 => &[11, 9, 9, 9],
        }
    }

    pub fn levels(self) -> usize {
        self.index_bits().len()
    }

    /// Width of a guest-physical address.
    pub fn gpa_bits(self) -> u32 {
        12 + self.index_bits().iter().sum::<u32>()
    }

    /// Frames of the root table: 4 (16 KiB, 16 KiB aligned) for the x4 formats.
    pub fn root_frames(self) -> u64 {
        if self.is_ept() { 1 } else { 4 }
    }

    /// Entries in a table at `level`.
    pub fn entries_at(self, level: usize) -> u64 {
        self.index_bits().get(level).map_or(0, |&b| 1u64 << b)
    }

    /// log2 of the bytes an entry at `level` covers.
    pub fn span_shift(self, level: usize) -> u32 {
        12 + self.index_bits().iter().skip(level + 1).sum::<u32>()
    }

    pub fn index_of(self, gpa: u64, level: usize) -> u64 {
        let bits = self.index_bits().get(level).copied().unwrap_or(0);
        (gpa >> self.span_shift(level)) & low_mask(bits)
    }

    pub fn level_name(self, level: usize) -> String {
        if self.is_ept() {
            let names: &[&str] = if self == HostKind::Ept5 {
                &["PML5", "PML4", "PDPT", "PD", "PT"]
            } else {
                &["PML4", "PDPT", "PD", "PT"]
            };
            names.get(level).map_or_else(|| "?".into(), |n| format!("EPT {n}"))
        } else {
            format!("G-stage L{}", self.levels().saturating_sub(level + 1))
        }
    }

    /// Whether an entry at `level` may map a page: EPT PDPTEs and PDEs with PS, any RISC-V level.
    pub fn may_be_leaf(self, level: usize) -> bool {
        let last = self.levels() - 1;
        if self.is_ept() { level == last || (level + 3 > last && level < last) } else { level <= last }
    }

    /// The frame an entry points to (a table or a page).
    pub fn frame(self, raw: u64) -> u64 {
        if self.is_ept() { (raw >> 12) & low_mask(40) } else { (raw >> gstage::PPN_SHIFT) & low_mask(44) }
    }

    /// Whether the entry is present / valid.
    pub fn present(self, raw: u64) -> bool {
        if self.is_ept() { raw & (ept::R | ept::W | ept::X) != 0 } else { raw & gstage::V != 0 }
    }

    /// Whether a present entry at `level` maps a page.
    pub fn is_leaf(self, raw: u64, level: usize) -> bool {
        if self.is_ept() {
            level + 1 == self.levels() || (self.may_be_leaf(level) && raw & ept::PS != 0)
        } else {
            raw & (gstage::R | gstage::X) != 0
        }
    }

    /// Checks one present entry: `Some` fault when it stops the walk. `leaf` as [`Self::is_leaf`].
    pub fn check(self, raw: u64, level: usize, leaf: bool, access: Access) -> Option<HostFaultKind> {
        if self.is_ept() {
            let misconfigured = (raw & ept::W != 0 && raw & ept::R == 0)
                || (leaf && matches!((raw >> ept::MEMTYPE_SHIFT) & 7, 2 | 3 | 7))
                || (!leaf && raw & (0xf << 3) != 0)
                || (!self.may_be_leaf(level) && level + 1 < self.levels() && raw & ept::PS != 0);
            if misconfigured {
                return Some(HostFaultKind::EptMisconfiguration);
            }
            return None;
        }
        let invalid = raw & gstage::RESERVED != 0 || (raw & gstage::W != 0 && raw & gstage::R == 0);
        if invalid {
            return Some(HostFaultKind::GuestPageFault);
        }
        if leaf {
            let allowed = match access {
                Access::Read => raw & gstage::R != 0,
                Access::Write => raw & gstage::W != 0,
                Access::Execute => raw & gstage::X != 0,
            };
            // "G-stage address translation ... all memory accesses are considered to be user-level
            // accesses": U=0 faults; and a superpage's PPN must be aligned to its size.
            let low_frames = self.span_shift(level) - 12;
            let misaligned = self.frame(raw) & low_mask(low_frames) != 0;
            if !allowed || raw & gstage::U == 0 || misaligned {
                return Some(HostFaultKind::GuestPageFault);
            }
        } else if level + 1 == self.levels() {
            return Some(HostFaultKind::GuestPageFault);
        }
        None
    }

    /// EPT rights of one entry, for combining over the walk (an access needs every level's).
    pub fn ept_allows(raw: u64, access: Access) -> bool {
        match access {
            Access::Read => raw & ept::R != 0,
            Access::Write => raw & ept::W != 0,
            Access::Execute => raw & ept::X != 0,
        }
    }

    /// A pointer to the table at `frame`.
    pub fn table_entry(self, frame: u64) -> u64 {
        if self.is_ept() {
            ept::R | ept::W | ept::X | (frame << 12)
        } else {
            gstage::V | (frame << gstage::PPN_SHIFT)
        }
    }

    /// A leaf at `level` mapping `frame` with read, write and execute as given.
    pub fn leaf_entry(self, frame: u64, level: usize, read: bool, write: bool, exec: bool) -> u64 {
        let bit = |on: bool, b: u64| if on { b } else { 0 };
        if self.is_ept() {
            let ps = if level + 1 < self.levels() { ept::PS } else { 0 };
            bit(read, ept::R) | bit(write, ept::W) | bit(exec, ept::X) | ept::WB | ps | (frame << 12)
        } else {
            gstage::V
                | gstage::U
                | gstage::A
                | gstage::D
                | bit(read, gstage::R)
                | bit(write, gstage::W)
                | bit(exec, gstage::X)
                | (frame << gstage::PPN_SHIFT)
        }
    }
}

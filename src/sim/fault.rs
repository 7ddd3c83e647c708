//! Accesses and page faults: what was attempted, why it failed, at which level, and how the
//! architecture reports it (x86 #PF error code or #GP, RISC-V exception cause).

use super::address::VirtAddr;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of memory access being translated.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Default,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    #[default]
    Read,
    Write,
    Execute,
}

impl Access {
    pub const ALL: [Access; 3] = [Access::Read, Access::Write, Access::Execute];

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "r" | "read" | "load" => Some(Self::Read),
            "w" | "write" | "store" => Some(Self::Write),
            "x" | "exec" | "execute" | "fetch" => Some(Self::Execute),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Execute => "execute",
        }
    }
}

/// The privilege of the access: x86 CPL 3 vs 0-2, RISC-V U vs S.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Default,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    User,
    Supervisor,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "u" | "user" => Some(Self::User),
            "s" | "supervisor" | "kernel" => Some(Self::Supervisor),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Supervisor => "supervisor",
        }
    }
}

/// Why a translation failed.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// An entry on the walk has its present/valid bit clear.
    NotPresent,
    /// A write to a page that is not writable.
    WriteProtection,
    /// A user-mode access to a supervisor page.
    UserProtection,
    /// An instruction fetch from a page that is not executable (NX set, or X clear).
    ExecuteProtection,
    /// A RISC-V load from a page that is not readable (R=0 and not MXR with X=1).
    ReadProtection,
    /// A supervisor access to a user page that SMEP/SMAP (x86) or SUM (RISC-V) forbids.
    SupervisorProtection,
    /// A reserved bit is set in an entry.
    ReservedBit,
    /// The virtual address is not in canonical form.
    NonCanonical,
    /// The virtual address is wider than the format's virtual address space.
    OutOfRange,
    /// A RISC-V superpage whose physical page number is not aligned to its size.
    MisalignedSuperpage,
    /// RISC-V Svade: the leaf's A bit is clear.
    AccessedClear,
    /// RISC-V Svade: a store through a leaf whose D bit is clear.
    DirtyClear,
    /// An entry that is not valid as encoded (RISC-V W=1 with R=0; a pointer at the last level).
    InvalidEntry,
    /// A table pointer leads outside simulated physical memory.
    TableOutsideMemory,
}

impl FaultKind {
    /// Every kind, in the order pickers list them.
    pub const ALL: [FaultKind; 14] = [
        Self::NotPresent,
        Self::WriteProtection,
        Self::UserProtection,
        Self::ExecuteProtection,
        Self::ReadProtection,
        Self::SupervisorProtection,
        Self::ReservedBit,
        Self::NonCanonical,
        Self::OutOfRange,
        Self::MisalignedSuperpage,
        Self::AccessedClear,
        Self::DirtyClear,
        Self::InvalidEntry,
        Self::TableOutsideMemory,
    ];

    /// A short identifier used in JSON and the CLI.
    pub fn id(self) -> &'static str {
        match self {
            Self::NotPresent => "not-present",
            Self::WriteProtection => "write-protection",
            Self::UserProtection => "user-protection",
            Self::ExecuteProtection => "execute-protection",
            Self::ReadProtection => "read-protection",
            Self::SupervisorProtection => "supervisor-protection",
            Self::ReservedBit => "reserved-bit",
            Self::NonCanonical => "non-canonical",
            Self::OutOfRange => "out-of-range",
            Self::MisalignedSuperpage => "misaligned-superpage",
            Self::AccessedClear => "accessed-clear",
            Self::DirtyClear => "dirty-clear",
            Self::InvalidEntry => "invalid-entry",
            Self::TableOutsideMemory => "table-outside-memory",
        }
    }

    /// The cause in the architecture's own words: x86 names the present bit P, RISC-V the valid
    /// bit V (SDM 4.7; privileged spec 4.3.1/4.3.2).
    pub fn describe_in(self, arch: crate::sim::format::Arch) -> &'static str {
        use crate::sim::format::Arch;
        match (self, arch) {
            (Self::NotPresent, Arch::X86) => "the entry is not present (P=0)",
            (Self::NotPresent, Arch::RiscV) => "the entry is not valid (V=0)",
            _ => self.describe(),
        }
    }

    /// The cause in plain words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NotPresent => "the entry is not present (valid bit clear)",
            Self::WriteProtection => "write to a read-only page",
            Self::UserProtection => "user-mode access to a supervisor-only page",
            Self::ExecuteProtection => "instruction fetch from a non-executable page",
            Self::ReadProtection => "load from a page that is not readable",
            Self::SupervisorProtection => "supervisor access to a user page (forbidden by SMEP/SMAP or SUM)",
            Self::ReservedBit => "a reserved bit is set in the entry",
            Self::NonCanonical => "the address is not canonical (upper bits are not a sign extension)",
            Self::OutOfRange => "the address is beyond the virtual address space",
            Self::MisalignedSuperpage => "superpage frame number is not aligned to the page size",
            Self::AccessedClear => "the accessed bit is clear (Svade: software must set it)",
            Self::DirtyClear => "store with the dirty bit clear (Svade: software must set it)",
            Self::InvalidEntry => {
                "the entry's encoding is reserved (W=1 with R=0, or no leaf at the last level)"
            }
            Self::TableOutsideMemory => "a table pointer leads outside physical memory",
        }
    }
}

/// How the architecture itself reports the fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum ArchReport {
    /// x86 #PF (vector 14) with its error code (bits P, W/R, U/S, RSVD, I/D).
    X86PageFault { error_code: u32 },
    /// x86 #GP(0): non-canonical addresses raise a general-protection fault, not a page fault.
    X86GeneralProtection,
    /// RISC-V exception cause: 12 instruction, 13 load, 15 store/AMO page fault.
    RiscV { cause: u32 },
    /// Teaching formats have no architectural report.
    None,
}

/// x86 #PF error code bits (SDM Vol. 3A, 4.7).
pub mod x86_error {
    pub const P: u32 = 1 << 0;
    pub const W: u32 = 1 << 1;
    pub const U: u32 = 1 << 2;
    pub const RSVD: u32 = 1 << 3;
    pub const ID: u32 = 1 << 4;
}

impl ArchReport {
    /// What the fault is called: x86 raises #GP(0), not a page fault, for a non-canonical address.
    pub fn heading(&self) -> &'static str {
        match self {
            Self::X86GeneralProtection => "General-protection fault #GP(0)",
            _ => "Page fault",
        }
    }

    /// E.g. "#PF error code 0x7 (P=1 W=1 U=1 RSVD=0 I/D=0)" or "scause 15 (store/AMO page fault)".
    pub fn describe(&self) -> String {
        match *self {
            Self::X86PageFault { error_code } => {
                let bit = |b: u32| u32::from(error_code & b != 0);
                format!(
                    "#PF error code {error_code:#x} (P={} W={} U={} RSVD={} I/D={})",
                    bit(x86_error::P),
                    bit(x86_error::W),
                    bit(x86_error::U),
                    bit(x86_error::RSVD),
                    bit(x86_error::ID)
                )
            }
            Self::X86GeneralProtection => "#GP(0) general-protection fault".into(),
            Self::RiscV { cause } => {
                let what = match cause {
                    1 => "instruction access fault",
                    5 => "load access fault",
                    7 => "store/AMO access fault",
                    12 => "instruction page fault",
                    13 => "load page fault",
                    15 => "store/AMO page fault",
                    _ => "exception",
                };
                format!("scause {cause} ({what})")
            }
            Self::None => String::new(),
        }
    }
}

/// A failed translation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PageFault {
    pub kind: FaultKind,
    /// Level (0 = root) where the walk stopped; `None` when no entry was read.
    pub level: Option<usize>,
    pub va: VirtAddr,
    pub access: Access,
    pub mode: Mode,
    pub report: ArchReport,
}

impl fmt::Display for PageFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} fault at {:#x}: {}", self.access.label(), self.va, self.kind.describe())?;
        if let Some(level) = self.level {
            write!(f, " (level {level})")?;
        }
        let report = self.report.describe();
        if !report.is_empty() {
            write!(f, "; {report}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_description_lists_each_bit() {
        let r = ArchReport::X86PageFault { error_code: x86_error::P | x86_error::W | x86_error::U };
        assert_eq!(r.describe(), "#PF error code 0x7 (P=1 W=1 U=1 RSVD=0 I/D=0)");
    }

    #[test]
    fn access_and_mode_parse_common_spellings() {
        assert_eq!(Access::parse("EXEC"), Some(Access::Execute));
        assert_eq!(Access::parse("w"), Some(Access::Write));
        assert_eq!(Mode::parse("kernel"), Some(Mode::Supervisor));
        assert_eq!(Access::parse("jump"), None);
    }
}

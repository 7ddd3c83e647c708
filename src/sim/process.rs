//! Processes: a name, the root table's frame (CR3 / satp.PPN) and an address-space identifier.

use super::address::Pfn;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Process {
    pub name: String,
    /// Frame number of the root table (x86 CR3 >> 12, RISC-V satp.PPN, OSTEP's PDBR).
    pub root: Pfn,
    /// Address-space identifier (x86 PCID, RISC-V ASID) that tags this process's TLB entries.
    pub asid: u16,
}

impl Process {
    /// The register a student would load to switch to this process, e.g. "CR3 = 0x5000".
    pub fn root_register(&self, format: &super::format::PagingFormat) -> String {
        let addr = self.root.base(format.page_shift).map_or(0, u64::from);
        match format.arch {
            super::format::Arch::X86 => format!("CR3 = {addr:#x}"),
            super::format::Arch::RiscV => format!("satp.PPN = {:#x}", self.root),
            super::format::Arch::Generic => format!("PTBR = frame {:#x} ({addr:#x})", self.root),
        }
    }
}

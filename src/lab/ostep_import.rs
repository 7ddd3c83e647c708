//! Turns parsed OSTEP simulator output into labs: the multi-level toy's memory dump becomes
//! physical memory with the directory at PDBR; the linear simulator's table is placed in frames
//! just above the simulated physical memory (that simulator keeps it outside memory).

use super::file::{Lab, LabError};
use super::ostep::{OstepFile, OstepLinear, OstepMultilevel};
use crate::sim::Machine;
use crate::sim::mem::PhysMem;
use crate::sim::mmu::MmuSettings;
use crate::sim::presets;
use crate::sim::process::Process;
use crate::sim::{Pfn, PhysAddr};
use std::fmt::Write as _;

fn address_list(addresses: &[u64]) -> String {
    let mut out = String::new();
    for a in addresses {
        let _ = writeln!(out, "- `{a:#06x}`");
    }
    out
}

/// A lab from `paging-multilevel-translate.py` output.
pub fn multilevel_lab(problem: &OstepMultilevel) -> Result<Lab, LabError> {
    let format = presets::ostep_multilevel();
    let pages = problem.phys_pages.max(1);
    let mut mem = PhysMem::new(pages * format.page_size(), format.page_shift)
        .map_err(|e| LabError::new("memory", e))?;
    for (frame, bytes) in &problem.pages {
        mem.write(PhysAddr::new(frame << format.page_shift), bytes)
            .map_err(|e| LabError::new(format!("page {frame}"), e))?;
        if bytes.iter().any(|&b| b != 0) {
            let _ = mem.reserve(Pfn::new(*frame));
        }
    }
    let _ = mem.reserve(Pfn::new(problem.pdbr));
    let processes = vec![Process { name: "ostep".into(), root: Pfn::new(problem.pdbr), asid: 1 }];
    let machine = Machine::from_parts(format, mem, processes, 0, MmuSettings::default())
        .map_err(|e| LabError::new("PDBR", e))?;
    let seed = problem.seed.map_or(String::new(), |s| format!(" (seed {s})"));
    let description = format!(
        "Imported from OSTEP's `paging-multilevel-translate.py`{seed}.\n\n\
         32-byte pages, 15-bit virtual addresses, 128 physical pages. The page directory is in \
         page {} (PDBR). Each entry is one byte: bit 7 valid, bits 6:0 the PFN.\n\n\
         For each virtual address, find the physical address and the byte stored there, or the fault:\n\n{}",
        problem.pdbr,
        address_list(&problem.addresses)
    );
    Ok(Lab::new(&format!("OSTEP multi-level{seed}"), &description, machine))
}

/// A lab from `paging-linear-translate.py` output.
pub fn linear_lab(problem: &OstepLinear) -> Result<Lab, LabError> {
    let log2 = |what: &str, v: u64| -> Result<u32, LabError> {
        if v.is_power_of_two() {
            Ok(v.trailing_zeros())
        } else {
            Err(LabError::new(what, format!("{v} is not a power of two")))
        }
    };
    let va_bits = log2("address space size", problem.address_space)?;
    let page_shift = log2("page size", problem.page_size)?;
    let pa_bits = log2("phys mem size", problem.phys_mem)?;
    let format = presets::ostep_linear(va_bits, page_shift, pa_bits);
    format.validate().map_err(|e| LabError::new("sizes", e))?;
    let data_frames = problem.phys_mem >> page_shift;
    let table_frames = format.table_frames(0);
    let mem_size = (data_frames + table_frames) << page_shift;
    let mut mem = PhysMem::new(mem_size, page_shift).map_err(|e| LabError::new("memory", e))?;
    // The linear table sits in the frames just above the data frames.
    let root = Pfn::new(data_frames);
    let _ = mem.reserve_range(root, table_frames);
    let table_addr =
        root.base(page_shift).ok_or_else(|| LabError::new("table", "the table has no address"))?;
    for (vpn, &raw) in (0u64..).zip(&problem.entries) {
        let entry_addr = table_addr
            .entry(vpn, 4)
            .ok_or_else(|| LabError::new(format!("page table entry {vpn}"), "beyond physical memory"))?;
        mem.write_le(entry_addr.phys(), 4, u64::from(raw))
            .map_err(|e| LabError::new(format!("page table entry {vpn}"), e))?;
        if format.present(u64::from(raw), 0) {
            let _ = mem.reserve(Pfn::new(format.frame(u64::from(raw), 0)));
        }
    }
    let processes = vec![Process { name: "ostep".into(), root, asid: 1 }];
    let machine = Machine::from_parts(format, mem, processes, 0, MmuSettings::default())
        .map_err(|e| LabError::new("table", e))?;
    let seed = problem.seed.map_or(String::new(), |s| format!(" (seed {s})"));
    let description = format!(
        "Imported from OSTEP's `paging-linear-translate.py`{seed}.\n\n\
         Address space {} bytes, physical memory {} bytes, pages of {} bytes. The simulator keeps \
         the page table outside physical memory; here it sits in frame {root:#x}, just above it. \
         Each entry is 32 bits: bit 31 valid, the low bits the PFN.\n\n\
         For each virtual address, find the physical address or say it is invalid:\n\n{}",
        problem.address_space,
        problem.phys_mem,
        problem.page_size,
        address_list(&problem.addresses)
    );
    Ok(Lab::new(&format!("OSTEP linear page table{seed}"), &description, machine))
}

/// A lab from either simulator's output.
pub fn lab_from(file: &OstepFile) -> Result<Lab, LabError> {
    match file {
        OstepFile::Multilevel(m) => multilevel_lab(m),
        OstepFile::Linear(l) => linear_lab(l),
    }
}

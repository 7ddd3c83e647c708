//! The simulation core: paging formats, physical memory, tables, the MMU walk, processes.

pub mod tlb;
pub mod trace;

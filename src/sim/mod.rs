//! The simulation core: paging formats, physical memory, tables, the MMU walk, processes.

pub mod replace;

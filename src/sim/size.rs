//! Table-size accounting: how many table frames and bytes each level of a process's tree uses,
//! beside what a single linear table would need for the same format.

use super::address::Pfn;
use super::format::PagingFormat;
use super::mem::PhysMem;
use super::table;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LevelSize {
    pub level: usize,
    pub name: String,
    pub tables: u64,
    /// Bytes of the tables themselves (entries x entry size).
    pub bytes: u64,
    /// Frames the tables occupy (a PAE PDPT uses 32 bytes of one frame).
    pub frames: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SizeReport {
    pub levels: Vec<LevelSize>,
    pub tables: u64,
    pub bytes: u64,
    pub frames: u64,
    /// Bytes of memory the process maps (sum of its page sizes).
    pub mapped_bytes: u128,
    pub mapped_pages: u64,
    /// Bytes a one-level table covering the whole virtual address space would need.
    pub linear_bytes: u128,
}

/// Counts the tables reachable from `root` (each shared or repeated table once).
pub fn table_size(mem: &PhysMem, format: &PagingFormat, root: Pfn) -> SizeReport {
    let mut levels: Vec<LevelSize> = format
        .levels
        .iter()
        .enumerate()
        .map(|(level, l)| LevelSize { level, name: l.name.clone(), tables: 0, bytes: 0, frames: 0 })
        .collect();
    for t in table::tables(mem, format, root) {
        if let Some(l) = levels.get_mut(t.level) {
            l.tables += 1;
            l.bytes += format.table_bytes(t.level);
            l.frames += format.table_frames(t.level);
        }
    }
    let leaves = table::leaves(mem, format, root);
    SizeReport {
        tables: levels.iter().map(|l| l.tables).sum(),
        bytes: levels.iter().map(|l| l.bytes).sum(),
        frames: levels.iter().map(|l| l.frames).sum(),
        levels,
        mapped_bytes: leaves.iter().map(|l| 1u128 << l.page_shift).sum(),
        mapped_pages: leaves.len() as u64,
        linear_bytes: format.linear_table_bytes(),
    }
}

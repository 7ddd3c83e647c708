//! The page-table tree flattened into rows: built once per change of the lab, the expansion or
//! the filter, then drawn a screenful at a time. Plain data, testable without pixels.

use crate::sim::Machine;
use crate::sim::format::low_mask;
use crate::sim::table::{self, TableRef};
use crate::sim::{PhysAddr, VirtAddr};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// Points to a table at `child_addr`.
    Table { child_addr: u64, expanded: bool },
    /// Maps a page (of `1 << span_shift` bytes) at `frame`.
    Page { frame: u64 },
    /// Not present.
    Empty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeRow {
    pub level: usize,
    pub index: u64,
    pub entry_addr: u64,
    pub raw: u64,
    /// First virtual address the entry covers (canonical).
    pub va: u64,
    /// log2 of the bytes the entry covers.
    pub span_shift: u32,
    pub kind: RowKind,
}

impl TreeRow {
    pub fn va_end(&self) -> u64 {
        self.va.saturating_add(low_mask(self.span_shift.min(64)))
    }
}

/// What the rows were built from, so the cache knows when to rebuild.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowsKey {
    pub generation: u64,
    pub process: usize,
    pub present_only: bool,
    pub expanded: BTreeSet<u64>,
    pub keep: Option<u64>,
}

/// Rows of the tree under the active process's root, in table order (depth first). With
/// `present_only`, the entry at `keep` (the selected one) stays even when it is not present, so
/// that clearing its P/V bit does not make it vanish from under the user.
pub fn build_rows(
    machine: &Machine,
    process: usize,
    expanded: &BTreeSet<u64>,
    present_only: bool,
    keep: Option<u64>,
) -> Vec<TreeRow> {
    let mut rows = Vec::new();
    let Some(p) = machine.processes().get(process) else { return rows };
    let f = machine.format();
    let Some(root_addr) = p.root.base(f.page_shift) else { return rows };
    let mut on_path = BTreeSet::new();
    push_table(
        machine,
        TableRef { level: 0, addr: root_addr },
        0,
        expanded,
        Shown { present_only, keep },
        &mut on_path,
        &mut rows,
    );
    rows
}

/// Which entries of a table become rows.
#[derive(Clone, Copy)]
struct Shown {
    present_only: bool,
    keep: Option<u64>,
}

fn push_table(
    machine: &Machine,
    table: TableRef,
    base_va: u64,
    expanded: &BTreeSet<u64>,
    shown: Shown,
    on_path: &mut BTreeSet<u64>,
    rows: &mut Vec<TreeRow>,
) {
    let f = machine.format();
    let fits =
        table.addr.checked_add(f.table_bytes(table.level)).is_some_and(|e| e.get() <= machine.mem().size());
    // A table that (through corrupt pointers) contains itself is shown once, not forever.
    if !fits || !on_path.insert(table.addr.get()) {
        return;
    }
    let span = f.entry_span_shift(table.level);
    let mut entries = Vec::new();
    if shown.present_only {
        table::for_each_present(machine.mem(), f, table, |e| entries.push(e));
        let pte = u64::from(f.pte_bytes);
        let kept = shown.keep.and_then(|addr| {
            let offset = addr.checked_sub(table.addr.get())?;
            let index = offset / pte;
            (offset % pte == 0 && index < f.entries_at(table.level)).then_some(index)
        });
        if let Some(index) = kept
            && !entries.iter().any(|e| e.index == index)
            && let Ok(e) = table::read_entry(machine.mem(), f, table.addr, table.level, index)
        {
            let at = entries.partition_point(|other| other.index < index);
            entries.insert(at, e);
        }
    } else {
        for index in 0..f.entries_at(table.level) {
            if let Ok(e) = table::read_entry(machine.mem(), f, table.addr, table.level, index) {
                entries.push(e);
            }
        }
    }
    for e in entries {
        let va = f.canonicalize(base_va | (e.index << span));
        let kind = if !f.present(e.raw, e.level) {
            RowKind::Empty
        } else if f.is_leaf(e.raw, e.level) {
            RowKind::Page { frame: crate::sim::mmu::leaf_frame(f, machine.settings(), e.raw, e.level) }
        } else {
            let child_addr = table::child_table_addr(f, e.raw, e.level).map_or(u64::MAX, u64::from);
            RowKind::Table { child_addr, expanded: expanded.contains(&e.entry_addr.get()) }
        };
        rows.push(TreeRow {
            level: e.level,
            index: e.index,
            entry_addr: e.entry_addr.get(),
            raw: e.raw,
            va,
            span_shift: span,
            kind,
        });
        if let RowKind::Table { child_addr, expanded: true } = kind {
            let child = TableRef { level: table.level + 1, addr: PhysAddr::new(child_addr) };
            push_table(machine, child, base_va | (e.index << span), expanded, shown, on_path, rows);
        }
    }
    on_path.remove(&table.addr.get());
}

/// Entry addresses to expand so that `va`'s path is visible, and the entry that maps it.
pub fn path_to(machine: &Machine, process: usize, va: u64) -> (Vec<u64>, Option<u64>) {
    let Some(p) = machine.processes().get(process) else { return (Vec::new(), None) };
    let Ok(path) = table::entry_path(machine.mem(), machine.format(), p.root, VirtAddr::new(va)) else {
        return (Vec::new(), None);
    };
    let expand = path.iter().take(path.len().saturating_sub(1)).map(|e| e.entry_addr.get()).collect();
    (expand, path.last().map(|e| e.entry_addr.get()))
}

/// Expands every table under the root (used by "Expand all" and the frame-time benchmark).
pub fn all_table_entries(machine: &Machine, process: usize) -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    let Some(p) = machine.processes().get(process) else { return out };
    let f = machine.format();
    for t in table::tables(machine.mem(), f, p.root) {
        if t.level + 1 >= f.levels.len() {
            continue;
        }
        table::for_each_present(machine.mem(), f, t, |e| {
            if !f.is_leaf(e.raw, e.level) {
                out.insert(e.entry_addr.get());
            }
        });
    }
    out
}

/// The entry (in the active tree) whose child table starts at `table_addr`, with the chain of
/// entries above it: used to reveal a table clicked in the memory map.
pub fn path_to_table(machine: &Machine, process: usize, table_addr: u64) -> Option<Vec<u64>> {
    let p = machine.processes().get(process)?;
    let f = machine.format();
    let root = p.root.base(f.page_shift)?;
    if root.get() == table_addr {
        return Some(Vec::new());
    }
    let mut stack = vec![(TableRef { level: 0, addr: root }, Vec::<u64>::new())];
    let mut seen = BTreeSet::new();
    while let Some((t, chain)) = stack.pop() {
        if t.level + 1 >= f.levels.len() || !seen.insert(t) {
            continue;
        }
        let mut children = Vec::new();
        table::for_each_present(machine.mem(), f, t, |e| {
            if !f.is_leaf(e.raw, e.level)
                && let Some(c) = table::child_table_addr(f, e.raw, e.level)
            {
                children.push((e.entry_addr, c));
            }
        });
        for (entry_addr, child) in children {
            let mut next = chain.clone();
            next.push(entry_addr.get());
            if child.get() == table_addr {
                return Some(next);
            }
            stack.push((TableRef { level: t.level + 1, addr: child }, next));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::machine::{MapRequest, MapTarget};
    use crate::sim::presets;

    fn machine() -> Machine {
        let mut m = Machine::new(presets::by_name("x86-64").unwrap(), 64 << 20).unwrap();
        for va in [0x40_0000u64, 0x40_1000, 0x7fff_f000] {
            m.map(
                0,
                &MapRequest {
                    va: VirtAddr::new(va),
                    len: 0x1000,
                    target: MapTarget::Alloc,
                    page_size: None,
                    flags: None,
                },
            )
            .unwrap();
        }
        m
    }

    #[test]
    fn collapsed_tree_shows_only_root_entries() {
        let m = machine();
        let rows = build_rows(&m, 0, &BTreeSet::new(), true, None);
        assert_eq!(rows.len(), 1);
        assert!(matches!(rows[0].kind, RowKind::Table { expanded: false, .. }));
        assert_eq!(build_rows(&m, 0, &BTreeSet::new(), false, None).len(), 512);
    }

    #[test]
    fn fully_expanded_tree_lists_every_page_in_order() {
        let m = machine();
        let rows = build_rows(&m, 0, &all_table_entries(&m, 0), true, None);
        let pages: Vec<u64> =
            rows.iter().filter(|r| matches!(r.kind, RowKind::Page { .. })).map(|r| r.va).collect();
        assert_eq!(pages, vec![0x40_0000, 0x40_1000, 0x7fff_f000]);
        // 0x40_0000 and 0x7fff_f000 share PML4[0] but not the PDPT entry (bits 38:30 are 0 and
        // 1): 1 PML4 entry, 2 PDPT entries, 2 PD entries, 3 PT entries.
        assert_eq!(rows.len(), 8);
    }

    #[test]
    fn path_to_reveals_the_leaf() {
        let m = machine();
        let (expand, leaf) = path_to(&m, 0, 0x7fff_f123);
        assert_eq!(expand.len(), 3);
        let rows = build_rows(&m, 0, &expand.into_iter().collect(), true, None);
        assert!(rows.iter().any(|r| Some(r.entry_addr) == leaf && r.va == 0x7fff_f000));
    }

    #[test]
    fn tables_are_found_from_the_memory_map() {
        let m = machine();
        let leaf_table = crate::sim::table::entry_path(
            m.mem(),
            m.format(),
            m.processes()[0].root,
            VirtAddr::new(0x40_0000),
        )
        .unwrap()[3]
            .table_addr;
        let chain = path_to_table(&m, 0, leaf_table.get()).unwrap();
        assert_eq!(chain.len(), 3);
    }
}

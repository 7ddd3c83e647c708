//! Comparing two processes: every virtual range mapped in both to the same frames (shared), to
//! different frames, or in only one of them, with the rights each gives; and the page tables
//! both roots reach (a shared kernel half). Ranges are merged: one per run of pages that agree.

use super::address::{Pfn, PhysAddr, VirtAddr};
use super::fault::{Access, Mode};
use super::format::PagingFormat;
use super::machine::{Machine, MachineError};
use super::mem::PhysMem;
use super::mmu::Rights;
use super::table::{self, TableRef};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How a range relates the two processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RangeKind {
    /// Mapped in both, to the same physical frames.
    Shared,
    /// Mapped in both, to different frames.
    DifferentFrames,
    /// Mapped only in the first process.
    OnlyA,
    /// Mapped only in the second process.
    OnlyB,
}

impl RangeKind {
    pub fn id(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::DifferentFrames => "different-frames",
            Self::OnlyA => "only-a",
            Self::OnlyB => "only-b",
        }
    }
}

/// A run of virtual addresses `[start, start + bytes)` on which the two processes agree in kind
/// and rights.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Range {
    pub start: VirtAddr,
    pub bytes: u64,
    pub kind: RangeKind,
    /// Rights combined over the walk in each process (`None` where it is not mapped).
    pub rights_a: Option<Rights>,
    pub rights_b: Option<Rights>,
    /// Physical address `start` maps to in each process.
    pub pa_a: Option<PhysAddr>,
    pub pa_b: Option<PhysAddr>,
}

impl Range {
    /// Mapped in both with different rights.
    pub fn rights_differ(&self) -> bool {
        self.rights_a.is_some() && self.rights_b.is_some() && self.rights_a != self.rights_b
    }

    /// The last address of the range.
    pub fn last(&self) -> VirtAddr {
        VirtAddr::new(self.start.get().saturating_add(self.bytes.saturating_sub(1)))
    }
}

/// A page table that both roots reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SharedTable {
    pub level: usize,
    pub addr: PhysAddr,
    /// The first virtual address it translates (in the first process) and the bytes it covers.
    pub va: VirtAddr,
    pub span: u64,
    /// Its parent table is not shared: it is where the sharing starts.
    pub top: bool,
}

/// The comparison of processes `a` and `b`, ranges in address order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProcessDiff {
    pub a: usize,
    pub b: usize,
    pub ranges: Vec<Range>,
    pub shared_tables: Vec<SharedTable>,
}

/// One mapped page of one process: `[start, end)` to `pa` with `rights`.
struct Mapping {
    start: u128,
    end: u128,
    pa: u64,
    rights: Rights,
}

pub fn diff(m: &Machine, a: usize, b: usize) -> Result<ProcessDiff, MachineError> {
    let root = |i: usize| {
        m.processes().get(i).map(|p| p.root).ok_or_else(|| MachineError::NoSuchProcess(i.to_string()))
    };
    let (root_a, root_b) = (root(a)?, root(b)?);
    let pages_a = mappings(m, a, root_a)?;
    let pages_b = mappings(m, b, root_b)?;
    Ok(ProcessDiff {
        a,
        b,
        ranges: merge(sweep(&pages_a, &pages_b)),
        shared_tables: shared_tables(m.mem(), m.format(), root_a, root_b),
    })
}

fn mappings(m: &Machine, process: usize, root: Pfn) -> Result<Vec<Mapping>, MachineError> {
    let f = m.format();
    let mut out = Vec::new();
    for leaf in table::leaves(m.mem(), f, root) {
        // The rights combined over the levels, as the walk computes them for this page.
        let walk = m.translate(process, leaf.va, Access::Read, Mode::Supervisor)?;
        let Some(step) = walk.steps.last().filter(|s| s.entry_addr == leaf.entry.entry_addr) else {
            continue; // reached only through a corrupt tree: not a page the walk can use
        };
        let size = 1u128 << leaf.page_shift.min(64);
        // Shifted as the walk shifts a leaf's frame (high bits of a corrupt frame are dropped).
        let pa = leaf.frame.get().checked_shl(f.page_shift).unwrap_or(u64::MAX);
        let start = u128::from(leaf.va.get());
        out.push(Mapping { start, end: start + size, pa, rights: step.rights });
    }
    Ok(out)
}

/// One range per stretch between consecutive page boundaries of either process.
fn sweep(a: &[Mapping], b: &[Mapping]) -> Vec<Range> {
    let mut bounds: Vec<u128> = a.iter().chain(b).flat_map(|p| [p.start, p.end]).collect();
    bounds.sort_unstable();
    bounds.dedup();
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let (x, y) = (w[0], w[1]);
        while i < a.len() && a[i].end <= x {
            i += 1;
        }
        while j < b.len() && b[j].end <= x {
            j += 1;
        }
        let (pa, pb) = (covering(a, i, x), covering(b, j, x));
        // A corrupt tree can map a page at the top of physical addresses: wrap as before.
        let offset = |p: &Mapping| PhysAddr::new(p.pa.wrapping_add(u64::try_from(x - p.start).unwrap_or(0)));
        let kind = match (pa, pb) {
            (Some(p), Some(q)) if offset(p) == offset(q) => RangeKind::Shared,
            (Some(_), Some(_)) => RangeKind::DifferentFrames,
            (Some(_), None) => RangeKind::OnlyA,
            (None, Some(_)) => RangeKind::OnlyB,
            (None, None) => continue,
        };
        out.push(Range {
            start: VirtAddr::new(u64::try_from(x).unwrap_or(u64::MAX)),
            bytes: u64::try_from(y - x).unwrap_or(u64::MAX),
            kind,
            rights_a: pa.map(|p| p.rights),
            rights_b: pb.map(|p| p.rights),
            pa_a: pa.map(offset),
            pa_b: pb.map(offset),
        });
    }
    out
}

fn covering(list: &[Mapping], k: usize, x: u128) -> Option<&Mapping> {
    list.get(k).filter(|p| p.start <= x && x < p.end)
}

/// Joins neighbouring ranges of the same kind and rights.
fn merge(ranges: Vec<Range>) -> Vec<Range> {
    let mut out: Vec<Range> = Vec::with_capacity(ranges.len());
    for r in ranges {
        if let Some(last) = out.last_mut()
            && u128::from(last.start.get()) + u128::from(last.bytes) == u128::from(r.start.get())
            && last.kind == r.kind
            && last.rights_a == r.rights_a
            && last.rights_b == r.rights_b
        {
            last.bytes = last.bytes.saturating_add(r.bytes);
            continue;
        }
        out.push(r);
    }
    out
}

/// Every table reachable from a root, with the first virtual address it translates and its
/// parent table.
fn reach(mem: &PhysMem, f: &PagingFormat, root: Pfn) -> BTreeMap<TableRef, (u64, Option<TableRef>)> {
    let mut found = BTreeMap::new();
    let Some(addr) = root.base(f.page_shift) else { return found };
    let mut stack = vec![(TableRef { level: 0, addr }, 0u64, None)];
    while let Some((t, va, parent)) = stack.pop() {
        let fits = t.addr.checked_add(f.table_bytes(t.level)).is_some_and(|e| e.get() <= mem.size());
        if t.level >= f.levels.len() || !fits || found.contains_key(&t) {
            continue;
        }
        found.insert(t, (va, parent));
        let span = f.entry_span_shift(t.level);
        table::for_each_present(mem, f, t, |e| {
            if !f.is_leaf(e.raw, e.level)
                && let Some(child) = table::child_table_addr(f, e.raw, e.level)
            {
                let child_va = va | e.index.checked_shl(span).unwrap_or(0);
                stack.push((TableRef { level: t.level + 1, addr: child }, child_va, Some(t)));
            }
        });
    }
    found
}

fn shared_tables(mem: &PhysMem, f: &PagingFormat, root_a: Pfn, root_b: Pfn) -> Vec<SharedTable> {
    let in_a = reach(mem, f, root_a);
    let in_b: BTreeSet<TableRef> = reach(mem, f, root_b).into_keys().collect();
    let mut out: Vec<SharedTable> = in_a
        .iter()
        .filter(|(t, _)| in_b.contains(t))
        .map(|(t, &(va, parent))| SharedTable {
            level: t.level,
            addr: t.addr,
            va: VirtAddr::new(f.canonicalize(va)),
            span: t.level.checked_sub(1).map_or(f.va_space(), |p| 1u64 << f.entry_span_shift(p).min(63)),
            top: parent.is_none_or(|p| !in_b.contains(&p)),
        })
        .collect();
    out.sort_by_key(|s| (s.va, s.level));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::machine::{MapRequest, MapTarget};
    use crate::sim::presets;
    use crate::sim::{PhysAddr, VirtAddr};

    fn req(va: u64, len: u64, to: Option<u64>) -> MapRequest {
        let target = to.map_or(MapTarget::Alloc, |pa| MapTarget::To(PhysAddr::new(pa)));
        MapRequest { va: VirtAddr::new(va), len, target, page_size: None, flags: None }
    }

    #[test]
    fn ranges_split_by_kind_and_merge_when_they_agree() {
        let mut m = Machine::new(presets::by_name("sv39").unwrap(), 16 << 20).unwrap();
        let b = m.add_process("b").unwrap();
        m.map(0, &req(0x1000, 0x3000, Some(0x40_0000))).unwrap();
        m.map(b, &req(0x2000, 0x1000, Some(0x40_1000))).unwrap(); // same frame as a's 0x2000
        m.map(b, &req(0x3000, 0x2000, None)).unwrap();
        let d = diff(&m, 0, b).unwrap();
        let kinds: Vec<(u64, u64, RangeKind)> =
            d.ranges.iter().map(|r| (r.start.get(), r.bytes, r.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                (0x1000, 0x1000, RangeKind::OnlyA),
                (0x2000, 0x1000, RangeKind::Shared),
                (0x3000, 0x1000, RangeKind::DifferentFrames),
                (0x4000, 0x1000, RangeKind::OnlyB),
            ]
        );
        assert!(d.shared_tables.is_empty());
    }
}

//! xv6's `vmprint()` (MIT 6.1810's pgtbl lab) both ways: its output becomes an Sv39 lab whose
//! tables sit at their real physical addresses, and a lab's Sv39 tables print in the same format,
//! so a student can diff their kernel's output against a lab's, byte for byte.
//!
//! Two styles exist. Since 2024 the handout prints each entry's virtual address
//! (` .. ..0x0000000000200000: pte 0x... pa 0x...`, upper-half addresses sign-extended as Sv39
//! makes them); earlier handouts printed the entry's index (`.. ..511: pte 0x... pa 0x...`).
//! Lines that are neither a `page table` header nor an entry (the console's boot messages) are
//! ignored and counted, so a copied console transcript imports as is.

use super::file::Lab;
use crate::sim::Machine;
use crate::sim::format::{Arch, PagingFormat};
use crate::sim::machine::MachineError;
use crate::sim::mem::PhysMem;
use crate::sim::mmu::MmuSettings;
use crate::sim::presets;
use crate::sim::process::Process;
use crate::sim::table::{self, TableRef};
use crate::sim::{Pfn, PhysAddr};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use thiserror::Error;

/// Most physical memory an import may need: xv6 runs in 128 MiB at 0x80000000, so a table or page
/// above this is a typo or not xv6 (memory is sparse, but its size reaches the app's frame views).
pub const MAX_MEMORY: u64 = 16 << 30;

/// Sv39 pages and tables: 4 KiB.
const PAGE_SHIFT: u32 = 12;

/// How a dump names each entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Style {
    /// The 2024 handout: ` .. ..0x0000000000200000: pte ...` (the virtual address the entry maps).
    #[default]
    Address,
    /// Earlier handouts: `.. ..1: pte ...` (the entry's index in its table).
    Index,
}

/// One entry line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    /// 1 for the root table's entries, 3 for the last level's.
    pub depth: usize,
    /// The index the line names, or the virtual address it names.
    pub key: u64,
    pub pte: u64,
    pub pa: PhysAddr,
}

/// One `page table 0x...` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dump {
    pub line: usize,
    pub root_pa: PhysAddr,
    pub entries: Vec<Entry>,
}

/// A parsed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vmprint {
    pub dumps: Vec<Dump>,
    pub style: Style,
    /// Lines that were neither a header nor an entry (console messages).
    pub ignored_lines: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum VmprintError {
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: String },
    #[error("the file holds no `page table 0x...` line (is it vmprint() output?)")]
    Empty,
    #[error("cannot build the lab: {0}")]
    Machine(#[from] MachineError),
    #[error("vmprint prints Sv39 tables; this lab is {0}")]
    NotSv39(String),
}

fn line_error(line: usize, problem: impl Into<String>) -> VmprintError {
    VmprintError::Line { line, problem: problem.into() }
}

fn hex(line: usize, what: &str, text: &str) -> Result<u64, VmprintError> {
    let digits = text
        .strip_prefix("0x")
        .filter(|d| !d.is_empty() && d.len() <= 16)
        .ok_or_else(|| line_error(line, format!("{what} {text:?} is not 0x and at most 16 hex digits")))?;
    u64::from_str_radix(digits, 16)
        .map_err(|_| line_error(line, format!("{what} {text:?} is not a hex number")))
}

/// Parses an entry line (after any leading blanks, which start with `..`).
fn parse_entry(line: usize, text: &str) -> Result<(Entry, Style), VmprintError> {
    let mut rest = text.trim_start();
    let mut depth = 0;
    while let Some(after) = rest.strip_prefix("..") {
        depth += 1;
        rest = after.trim_start();
    }
    if depth > 3 {
        return Err(line_error(line, format!("{depth} levels of `..`; Sv39 has 3")));
    }
    let (key, tail) = rest
        .split_once(':')
        .ok_or_else(|| line_error(line, "expected `..INDEX: pte 0x... pa 0x...` or `..0xVA: pte ...`"))?;
    let (key, style) = if key.starts_with("0x") {
        (hex(line, "virtual address", key)?, Style::Address)
    } else {
        let index = key
            .parse::<u64>()
            .map_err(|_| line_error(line, format!("{key:?} is neither an index nor a 0x address")))?;
        (index, Style::Index)
    };
    let fields: Vec<&str> = tail.split_whitespace().collect();
    let [pte_word, pte, pa_word, pa] = fields.as_slice() else {
        return Err(line_error(line, "expected `pte 0x... pa 0x...` after the colon"));
    };
    if *pte_word != "pte" || *pa_word != "pa" {
        return Err(line_error(line, "expected `pte 0x... pa 0x...` after the colon"));
    }
    let entry =
        Entry { line, depth, key, pte: hex(line, "pte", pte)?, pa: PhysAddr::new(hex(line, "pa", pa)?) };
    Ok((entry, style))
}

/// Parses vmprint output: one or more `page table 0x...` blocks of entry lines.
pub fn parse(text: &str) -> Result<Vmprint, VmprintError> {
    let mut dumps: Vec<Dump> = Vec::new();
    let mut style = None;
    let mut ignored_lines = 0;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if let Some(rest) = trimmed.strip_prefix("page table") {
            let root_pa = PhysAddr::new(hex(line, "table address", rest.trim())?);
            dumps.push(Dump { line, root_pa, entries: Vec::new() });
        } else if trimmed.starts_with("..") {
            let (entry, entry_style) = parse_entry(line, raw)?;
            if style.is_some_and(|s| s != entry_style) {
                return Err(line_error(line, "entries mix indices and 0x addresses"));
            }
            style = Some(entry_style);
            let dump =
                dumps.last_mut().ok_or_else(|| line_error(line, "an entry before any `page table` line"))?;
            dump.entries.push(entry);
        } else {
            ignored_lines += usize::from(!trimmed.is_empty());
        }
    }
    if dumps.is_empty() {
        return Err(VmprintError::Empty);
    }
    Ok(Vmprint { dumps, style: style.unwrap_or_default(), ignored_lines })
}

/// RISC-V: an entry with any of R, W, X maps a page; without them it points to a table.
fn is_leaf(pte: u64) -> bool {
    pte & 0b1110 != 0
}

/// What [`build_lab`] read: entries written, tables and leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    pub processes: usize,
    pub entries: usize,
    pub tables: usize,
    /// Leaves by page size in bytes.
    pub pages_by_size: BTreeMap<u64, u64>,
    pub memory: u64,
    pub ignored_lines: usize,
}

/// Where every entry goes, checked against its parent line and its own `pa`.
struct Placed {
    /// Entry address -> (raw value, line).
    writes: BTreeMap<u64, (u64, usize)>,
    tables: BTreeSet<u64>,
    /// (first frame, frames) of each leaf.
    leaves: Vec<(u64, u64)>,
    pages_by_size: BTreeMap<u64, u64>,
    /// The highest byte needed, plus one, and the line that needs it.
    top: (u64, usize),
}

fn place(format: &PagingFormat, parsed: &Vmprint) -> Result<Placed, VmprintError> {
    let mut placed = Placed {
        writes: BTreeMap::new(),
        tables: BTreeSet::new(),
        leaves: Vec::new(),
        pages_by_size: BTreeMap::new(),
        top: (0, 0),
    };
    let need = |placed: &mut Placed, end: Option<u64>, line: usize| -> Result<(), VmprintError> {
        let end = end.filter(|&e| e <= MAX_MEMORY).ok_or_else(|| {
            line_error(
                line,
                format!("an address this high needs more than {} GiB of memory", MAX_MEMORY >> 30),
            )
        })?;
        if end > placed.top.0 {
            placed.top = (end, line);
        }
        Ok(())
    };
    for dump in &parsed.dumps {
        let root_pa = dump.root_pa.get();
        if !root_pa.is_multiple_of(1 << PAGE_SHIFT) {
            return Err(line_error(dump.line, format!("table address {root_pa:#x} is not 4 KiB aligned")));
        }
        need(&mut placed, root_pa.checked_add(1 << PAGE_SHIFT), dump.line)?;
        placed.tables.insert(root_pa);
        // The open tables along the current path: (table address, first address it maps).
        let mut path: Vec<(u64, u64)> = vec![(root_pa, 0)];
        for e in &dump.entries {
            let &(table_pa, base) = path.get(e.depth.wrapping_sub(1)).ok_or_else(|| {
                line_error(e.line, format!("a level-{} entry with no table entry above it", e.depth))
            })?;
            path.truncate(e.depth);
            let level = e.depth - 1;
            let span = format.entry_span_shift(level);
            let index = match parsed.style {
                Style::Index => e.key,
                Style::Address => (e.key >> span) & 511,
            };
            if index >= 512 {
                return Err(line_error(e.line, format!("index {index} is beyond a table's 512 entries")));
            }
            let va = base | (index << span);
            if parsed.style == Style::Address && e.key != format.canonicalize(va) {
                return Err(line_error(
                    e.line,
                    format!(
                        "address {:#x} is not where this entry maps: expected {:#x} (the start of entry \
                         {index}, sign-extended as Sv39 addresses are)",
                        e.key,
                        format.canonicalize(va)
                    ),
                ));
            }
            if e.pte & 1 == 0 {
                return Err(line_error(e.line, "the pte has V=0; vmprint prints valid entries only"));
            }
            let pa = e.pa.get();
            let frame_pa = format.frame(e.pte, level) << PAGE_SHIFT;
            if pa != frame_pa {
                return Err(line_error(
                    e.line,
                    format!("pa {pa:#x} is not the pte's PPN: that is pa {frame_pa:#x}"),
                ));
            }
            let entry_addr = table_pa + index * 8;
            if let Some(&(raw, first)) = placed.writes.get(&entry_addr)
                && raw != e.pte
            {
                return Err(line_error(
                    e.line,
                    format!("entry {entry_addr:#x} was {raw:#x} on line {first}, now {:#x}", e.pte),
                ));
            }
            placed.writes.insert(entry_addr, (e.pte, e.line));
            if is_leaf(e.pte) {
                let size = 1u64 << span;
                need(&mut placed, pa.checked_add(size), e.line)?;
                placed.leaves.push((pa >> PAGE_SHIFT, size >> PAGE_SHIFT));
                *placed.pages_by_size.entry(size).or_insert(0) += 1;
            } else if e.depth < 3 {
                need(&mut placed, pa.checked_add(1 << PAGE_SHIFT), e.line)?;
                placed.tables.insert(pa);
                path.push((pa, va));
            }
        }
    }
    Ok(placed)
}

/// An Sv39 lab from parsed vmprint output: memory just large enough for every table and page (to
/// the next MiB), each entry written at its table's real address, tables and pages reserved. One
/// process per `page table` block.
pub fn build_lab(parsed: &Vmprint, source: &str) -> Result<(Lab, ImportSummary), VmprintError> {
    let format = presets::riscv(3);
    let placed = place(&format, parsed)?;
    let memory = placed.top.0.next_multiple_of(1 << 20).max(1 << 20);
    let mut mem = PhysMem::new(memory, PAGE_SHIFT).map_err(|e| line_error(placed.top.1, e.to_string()))?;
    for (&addr, &(raw, line)) in &placed.writes {
        mem.write_le(PhysAddr::new(addr), 8, raw).map_err(|e| line_error(line, e.to_string()))?;
    }
    // Pages may be shared or overlap tables (a kernel maps its own memory): reserve what is free.
    for &table in &placed.tables {
        let _ = mem.reserve(PhysAddr::new(table).pfn(PAGE_SHIFT));
    }
    for &(first, count) in &placed.leaves {
        let _ = mem.reserve_range(Pfn::new(first), count);
    }
    let processes: Vec<Process> = parsed
        .dumps
        .iter()
        .enumerate()
        .map(|(i, d)| Process {
            name: if i == 0 { "xv6".into() } else { format!("xv6-{}", i + 1) },
            root: d.root_pa.pfn(PAGE_SHIFT),
            asid: u16::try_from(i + 1).unwrap_or(u16::MAX),
        })
        .collect();
    let machine = Machine::from_parts(format, mem, processes, 0, MmuSettings::default())?;
    let summary = ImportSummary {
        processes: parsed.dumps.len(),
        entries: placed.writes.len(),
        tables: placed.tables.len(),
        pages_by_size: placed.pages_by_size,
        memory,
        ignored_lines: parsed.ignored_lines,
    };
    let description = format!(
        "Imported from {source}, the output of xv6's vmprint() (MIT 6.1810, pgtbl lab).\n\n\
         Every table sits at the physical address the kernel printed, every entry holds the printed \
         pte, so walks read what xv6's MMU read. Only the entries vmprint printed exist: the pages' \
         contents are zero.\n\n`pagelab export vmprint LAB` prints the tables in the same format{}.\n",
        if parsed.style == Style::Index { " (with --indices, as this dump numbers entries)" } else { "" }
    );
    Ok((Lab::new("xv6 page table (vmprint)", &description, machine), summary))
}

/// The lab's tables as vmprint prints them: every process in order, or only `process`.
pub fn export(machine: &Machine, process: Option<usize>, style: Style) -> Result<String, VmprintError> {
    let format = machine.format();
    if format.arch != Arch::RiscV || format.levels.len() != 3 || format.pte_bytes != 8 {
        return Err(VmprintError::NotSv39(format.name.clone()));
    }
    let chosen: Vec<usize> = match process {
        Some(p) if p < machine.processes().len() => vec![p],
        Some(p) => return Err(MachineError::NoSuchProcess(p.to_string()).into()),
        None => (0..machine.processes().len()).collect(),
    };
    let mut out = String::new();
    for p in chosen {
        let Some(proc_) = machine.processes().get(p) else { continue };
        let Some(root) = proc_.root.base(PAGE_SHIFT) else { continue };
        let _ = writeln!(out, "page table 0x{root:016x}");
        print_table(machine, TableRef { level: 0, addr: root }, 0, style, &mut out);
    }
    Ok(out)
}

/// One table's valid entries, each followed by its subtree, as xv6's recursive vmprint does.
/// Recursion stops at the last level, so shared or cyclic tables cannot loop.
fn print_table(machine: &Machine, table: TableRef, base: u64, style: Style, out: &mut String) {
    let format = machine.format();
    let mem = machine.mem();
    if table.addr.checked_add(4096).is_none_or(|end| end.get() > mem.size()) {
        return;
    }
    let mut entries = Vec::new();
    table::for_each_present(mem, format, table, |e| entries.push(e));
    let span = format.entry_span_shift(table.level);
    for e in entries {
        let va = base | (e.index << span);
        let pa = format.frame(e.raw, e.level) << PAGE_SHIFT;
        let depth = table.level + 1;
        let key = match style {
            Style::Address => format!("{}0x{:016x}", " ..".repeat(depth), format.canonicalize(va)),
            Style::Index => format!("{}{}", vec![".."; depth].join(" "), e.index),
        };
        let _ = writeln!(out, "{key}: pte 0x{:016x} pa 0x{pa:016x}", e.raw);
        if !is_leaf(e.raw) && depth < 3 {
            print_table(machine, TableRef { level: depth, addr: PhysAddr::new(pa) }, va, style, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_styles_and_ignores_console_lines() {
        let text = "hart 1 starting\npage table 0x0000000087f6e000\n..0: pte 0x0000000021fda801 pa 0x0000000087f6a000\n";
        let parsed = parse(text).expect("parses");
        assert_eq!(parsed.style, Style::Index);
        assert_eq!(parsed.ignored_lines, 1);
        assert_eq!(parsed.dumps[0].root_pa, PhysAddr::new(0x87f6_e000));
        let e = &parsed.dumps[0].entries[0];
        assert_eq!((e.line, e.depth, e.key, e.pa), (3, 1, 0, PhysAddr::new(0x87f6_a000)));
        assert_eq!(parse("nothing\n"), Err(VmprintError::Empty));
    }
}

//! QEMU's monitor commands `info mem` and `info tlb` on an x86-64 guest (target/i386/monitor.c).
//!
//! `info mem`: one line per run of pages with equal rights, `START-END SIZE PROT` in hex without
//! 0x, PROT three characters `u`/`-` (user), `r`, `w`/`-` (writable). It shows neither page sizes
//! nor NX, so each run is mapped with the largest pages its alignment allows, and executable.
//!
//! `info tlb`: one line per mapped page, `VA: PA FLAGS`, FLAGS nine characters `X` (NX), `G`,
//! `P` (a large page), `D`, `A`, `C` (PCD), `T` (PWT), `U`, `W`, each `-` when clear. A large page
//! is 2 MiB, or 1 GiB when its addresses are 1 GiB aligned and the next line starts at least
//! 1 GiB later (QEMU prints one line per page, so a 2 MiB page is followed 2 MiB later).

use super::dump_lab::Mapping;
use super::procmaps::page_runs;
use crate::sim::PhysAddr;
use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InfoMemError {
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: String },
    #[error("the file holds no range line (is it `info mem` output?)")]
    Empty,
}

fn line_error(line: usize, problem: impl Into<String>) -> InfoMemError {
    InfoMemError::Line { line, problem: problem.into() }
}

fn hex(line: usize, what: &str, text: &str) -> Result<u64, InfoMemError> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if digits.is_empty() || digits.len() > 16 {
        return Err(line_error(line, format!("{what} {text:?} is not a hex number of at most 16 digits")));
    }
    u64::from_str_radix(digits, 16)
        .map_err(|_| line_error(line, format!("{what} {text:?} is not a hex number")))
}

/// Parses `info mem` output into mappings (runs split into 1 GiB, 2 MiB and 4 KiB pages where
/// aligned). Blank lines and a `(qemu) info mem` prompt line are skipped.
pub fn parse_info_mem(text: &str) -> Result<Vec<Mapping>, InfoMemError> {
    let mut mappings = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with("(qemu)") {
            continue;
        }
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        let [range, size, prot] = fields.as_slice() else {
            return Err(line_error(
                line,
                "expected `START-END SIZE PROT` (e.g. 0000000000400000-0000000000401000 0000000000001000 ur-)",
            ));
        };
        let (start, end) = range
            .split_once('-')
            .ok_or_else(|| line_error(line, format!("range {range:?} is not START-END")))?;
        let (start, end) = (hex(line, "start", start)?, hex(line, "end", end)?);
        if end <= start {
            return Err(line_error(line, format!("the range {start:#x}-{end:#x} is empty or reversed")));
        }
        if hex(line, "size", size)? != end - start {
            return Err(line_error(line, format!("size {size} is not end - start ({:#x})", end - start)));
        }
        let p: Vec<char> = prot.chars().collect();
        let [user, 'r', write] = p.as_slice() else {
            return Err(line_error(line, format!("rights {prot:?} are not three characters [u-]r[w-]")));
        };
        if !matches!(*user, 'u' | '-') || !matches!(*write, 'w' | '-') {
            return Err(line_error(line, format!("rights {prot:?} are not three characters [u-]r[w-]")));
        }
        if !start.is_multiple_of(4096) || !end.is_multiple_of(4096) {
            return Err(line_error(line, format!("the range {start:#x}-{end:#x} is not 4 KiB aligned")));
        }
        let mut flags = Vec::new();
        if *user == 'u' {
            flags.push("U/S".to_string());
        }
        if *write == 'w' {
            flags.push("R/W".to_string());
        }
        for (va, page_shift, count) in page_runs(start, end, &[30, 21, 12]) {
            let Some(run_end) = (count << page_shift).checked_add(va) else { continue };
            mappings.push(Mapping {
                line,
                start: va,
                end: run_end,
                page_shift,
                flags: flags.clone(),
                pa: None,
            });
        }
    }
    if mappings.is_empty() {
        return Err(InfoMemError::Empty);
    }
    Ok(mappings)
}

/// One `info tlb` line before its page size is known.
struct TlbLine {
    line: usize,
    va: u64,
    pa: u64,
    large: bool,
    flags: Vec<String>,
}

fn parse_tlb_line(line: usize, text: &str) -> Result<TlbLine, InfoMemError> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [va, pa, flags] = fields.as_slice() else {
        return Err(line_error(
            line,
            "expected `VA: PA FLAGS` (e.g. 0000000000400000: 0000000001234000 ----A--U-)",
        ));
    };
    let va =
        va.strip_suffix(':').ok_or_else(|| line_error(line, format!("{va:?} does not end in a colon")))?;
    let (va, pa) = (hex(line, "virtual address", va)?, hex(line, "physical address", pa)?);
    let chars: Vec<char> = flags.chars().collect();
    let names = ['X', 'G', 'P', 'D', 'A', 'C', 'T', 'U', 'W'];
    if chars.len() != names.len() || chars.iter().zip(names).any(|(&c, name)| c != name && c != '-') {
        return Err(line_error(
            line,
            format!("flags {flags:?} are not nine characters XGPDACTUW, each or -"),
        ));
    }
    let on = |i: usize| chars.get(i).is_some_and(|&c| c != '-');
    let mut names_on = Vec::new();
    for (i, name) in [(0, "NX"), (1, "G"), (3, "D"), (4, "A"), (5, "PCD"), (6, "PWT"), (7, "U/S"), (8, "R/W")]
    {
        if on(i) {
            names_on.push(name.to_string());
        }
    }
    if !va.is_multiple_of(4096) || !pa.is_multiple_of(4096) {
        return Err(line_error(line, format!("{va:#x} -> {pa:#x} is not 4 KiB aligned")));
    }
    Ok(TlbLine { line, va, pa, large: on(2), flags: names_on })
}

/// Parses `info tlb` output into one mapping per page, at the physical addresses it gives.
pub fn parse_info_tlb(text: &str) -> Result<Vec<Mapping>, InfoMemError> {
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with("(qemu)") {
            continue;
        }
        lines.push(parse_tlb_line(index + 1, trimmed)?);
    }
    let mut mappings = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let next_va = lines.get(i + 1).map(|n| n.va);
        let gib = 1u64 << 30;
        let one_gib = l.large
            && l.va.is_multiple_of(gib)
            && l.pa.is_multiple_of(gib)
            && next_va.is_none_or(|n| n.wrapping_sub(l.va) >= gib);
        let page_shift = match (l.large, one_gib) {
            (false, _) => 12,
            (true, false) => 21,
            (true, true) => 30,
        };
        let Some(end) = l.va.checked_add(1 << page_shift) else {
            return Err(line_error(l.line, "the page ends past the top of the address space"));
        };
        mappings.push(Mapping {
            line: l.line,
            start: l.va,
            end,
            page_shift,
            flags: l.flags.clone(),
            pa: Some(PhysAddr::new(l.pa)),
        });
    }
    if mappings.is_empty() {
        return Err(InfoMemError::Empty);
    }
    Ok(mappings)
}

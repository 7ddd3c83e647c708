//! Linux's page-table dump (x86-64 `/sys/kernel/debug/page_tables/*`, arch/x86/mm/dump_pagetables.c):
//! one line per run of equal entries, `0xSTART-0xEND  SIZE  FLAGS  LEVEL`, under `---[ name ]---`
//! section headers. Present runs become mappings with the level's page size (`pte` 4 KiB, `pmd`
//! 2 MiB, `pud` 1 GiB) and their rights; runs without flags are holes and are only counted.

use super::dump_lab::Mapping;
use thiserror::Error;

/// A parsed dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PtDump {
    pub mappings: Vec<Mapping>,
    /// Runs with no present entry (printed without flags).
    pub holes: usize,
    /// `---[ ... ]---` headers seen.
    pub sections: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PtDumpError {
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: String },
    #[error("the file holds no range line (is it a /sys/kernel/debug/page_tables file?)")]
    Empty,
}

fn line_error(line: usize, problem: impl Into<String>) -> PtDumpError {
    PtDumpError::Line { line, problem: problem.into() }
}

fn hex(line: usize, text: &str) -> Result<u64, PtDumpError> {
    text.strip_prefix("0x")
        .filter(|d| !d.is_empty() && d.len() <= 16)
        .and_then(|d| u64::from_str_radix(d, 16).ok())
        .ok_or_else(|| line_error(line, format!("{text:?} is not 0x and at most 16 hex digits")))
}

/// `4K`, `1020K`, `16777088T`: a decimal count of the unit (B, K, M, G, T, P, E).
fn size(line: usize, text: &str) -> Result<u64, PtDumpError> {
    let bad = || line_error(line, format!("size {text:?} is not a number followed by B, K, M, G, T, P or E"));
    let unit = text.chars().last().ok_or_else(bad)?;
    let shift = "BKMGTPE".find(unit).ok_or_else(bad)?;
    let count: u64 = text.get(..text.len() - 1).and_then(|n| n.parse().ok()).ok_or_else(bad)?;
    let shift = u32::try_from(shift * 10).map_err(|_| bad())?;
    count.checked_mul(1u64 << shift).ok_or_else(bad)
}

/// The page shift of a level name, or why the level cannot hold a page.
fn level_shift(line: usize, level: &str) -> Result<Option<u32>, PtDumpError> {
    match level {
        "pte" => Ok(Some(12)),
        "pmd" => Ok(Some(21)),
        "pud" => Ok(Some(30)),
        "p4d" | "pgd" => Ok(None),
        other => Err(line_error(line, format!("level {other:?} is not pte, pmd, pud, p4d or pgd"))),
    }
}

/// Parses a dump. Blank lines are skipped; every other line must be a header or a range.
pub fn parse(text: &str) -> Result<PtDump, PtDumpError> {
    let mut dump = PtDump { mappings: Vec::new(), holes: 0, sections: Vec::new() };
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix("---[").and_then(|r| r.strip_suffix("]---")) {
            dump.sections.push(name.trim().to_string());
            continue;
        }
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        let [range, size_text, flags @ .., level] = fields.as_slice() else {
            return Err(line_error(
                line,
                "expected `0xSTART-0xEND SIZE [FLAGS] LEVEL` or a `---[ name ]---` header",
            ));
        };
        let (start, end) = range
            .split_once('-')
            .ok_or_else(|| line_error(line, format!("range {range:?} is not 0xSTART-0xEND")))?;
        let (start, end) = (hex(line, start)?, hex(line, end)?);
        // The last run of the address space ends at 2^64, which the kernel prints as 0.
        let wraps = end == 0 && start != 0;
        if end <= start && !wraps {
            return Err(line_error(line, format!("the range {start:#x}-{end:#x} is empty or reversed")));
        }
        let bytes = size(line, size_text)?;
        let len = end.wrapping_sub(start);
        if bytes != len {
            return Err(line_error(
                line,
                format!("size {size_text} does not match the range, which holds {len:#x} bytes"),
            ));
        }
        let shift = level_shift(line, level)?;
        let mut mapping_flags = Vec::new();
        let mut present = false;
        for flag in flags.iter() {
            match *flag {
                "USR" => mapping_flags.push("U/S".to_string()),
                "RW" => {
                    present = true;
                    mapping_flags.push("R/W".to_string());
                }
                "ro" => present = true,
                "NX" => mapping_flags.push("NX".to_string()),
                "GLB" => mapping_flags.push("G".to_string()),
                "PCD" | "PWT" => mapping_flags.push((*flag).to_string()),
                // The PS bit comes with the level; PAT's position differs per level; x is no NX.
                "PSE" | "PAT" | "x" => {}
                other => {
                    return Err(line_error(
                        line,
                        format!("flag {other:?} is not one of USR, RW, ro, PWT, PCD, PSE, PAT, GLB, NX, x"),
                    ));
                }
            }
        }
        if !present {
            if !mapping_flags.is_empty() {
                return Err(line_error(line, "flags without RW or ro (every present run has one)"));
            }
            dump.holes += 1;
            continue;
        }
        if wraps {
            return Err(line_error(
                line,
                "a present run reaching the top of the address space (end 0x0) is not supported",
            ));
        }
        // A present run at p4d or pgd would be a 512 GiB page: keep it so it is listed as skipped.
        let page_shift = shift.unwrap_or(39);
        dump.mappings.push(Mapping { line, start, end, page_shift, flags: mapping_flags, pa: None });
    }
    if dump.mappings.is_empty() && dump.holes == 0 {
        return Err(PtDumpError::Empty);
    }
    Ok(dump)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_every_unit() {
        assert_eq!(size(1, "4K"), Ok(4096));
        assert_eq!(size(1, "1020K"), Ok(1020 << 10));
        assert_eq!(size(1, "512G"), Ok(512 << 30));
        assert!(size(1, "4Q").is_err());
        assert!(size(1, "K").is_err());
        assert!(size(1, "99999999999E").is_err());
    }

    #[test]
    fn the_last_hole_ends_at_zero() {
        // 2^64 - 0xffffffffffe00000 = 2 MiB.
        let dump =
            parse("0xffffffffffe00000-0x0000000000000000           2M                               pmd\n")
                .expect("parses");
        assert_eq!((dump.holes, dump.mappings.len()), (1, 0));
        let err = parse("0xffffffffffe00000-0x0000000000000000           2M     RW         PSE GLB NX pmd\n")
            .expect_err("present");
        assert!(err.to_string().starts_with("line 1: "), "{err}");
    }
}

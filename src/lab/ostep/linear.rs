//! `paging-linear-translate.py` (OSTEP chapter 18): a linear page table of 32-bit entries, the
//! problem it prints and, with `-c`, its answers.
//!
//! The layout read here:
//!
//! ```text
//! ARG seed 1                       optional; unknown ARG lines are ignored
//! ARG address space size 16k       required, like the two sizes below: k, m, g (powers of 1024)
//! ARG phys mem size 64k            or plain bytes, and each a power of two
//! ARG page size 4k
//! ARG verbose False
//! ARG addresses -1                 a decimal list instead of -1 must match the trace
//! (the explanation of the entry format: any text up to the table header)
//! Page Table (from entry 0 down to the max size)
//!   0x00000000                     or, with -v, `  [       0]  0x00000000`
//! Virtual Address Trace
//!   VA 0x00001cc4 (decimal:     7364) --> PA or invalid address?
//! For each virtual address, ...    (the closing sentences of problem files)
//! ```
//!
//! Accepted answers after `-->`, in the order they are tried:
//! - `PA or invalid address?`: a problem file;
//! - `0000ccc4 (decimal    52420) [VPN 1]`: [`LinearAnswer::Translated`];
//! - `Invalid (VPN 2 not valid)`: [`LinearAnswer::Invalid`];
//! - anything containing `segmentation violation`, `segfault`, `seg fault`, `out of bounds`,
//!   `out-of-bounds` or `invalid` (any case), as other OSTEP simulators print and as students
//!   answer the question "write down that it is an out-of-bounds address (e.g., segfault)". These
//!   do not say why the access fails, so it is inferred from the address: at or beyond the address
//!   space it is [`LinearAnswer::OutOfBounds`], otherwise [`LinearAnswer::Invalid`] for its VPN.
//!   The simulator itself never prints them: in the version the fixtures come from, an address
//!   beyond the address space (given with `-A`) stops `-c` with a Python `IndexError`.
//!
//! As for the multi-level files, answers are kept as written (a wrong PA is not refused) so that
//! they can be graded; only copies of one number that disagree (hex vs decimal) are refused.

use std::collections::BTreeSet;

use super::error::OstepError;
use super::linear_trace::read_trace;
use super::scan::{Cursor, Line, LineReader, split_arg};
use super::size::parse_size;

/// Bit 31 of an entry: the page is mapped.
pub const LINEAR_VALID_BIT: u32 = 1 << 31;

pub(super) const TABLE_HEADER: &str = "Page Table (from entry 0 down to the max size)";
pub(super) const TRACE_HEADER: &str = "Virtual Address Trace";
pub(super) const PROBLEM_QUESTION: &str = "PA or invalid address?";
/// The sentences that close a problem file.
pub(super) const PROBLEM_TRAILER: [&str; 2] = [
    "For each virtual address, write down the physical address it translates to",
    "OR write down that it is an out-of-bounds address (e.g., segfault).",
];

/// One problem (and possibly its answers) of the linear page table simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OstepLinear {
    /// `ARG seed`, if the file gives it.
    pub seed: Option<u64>,
    /// Bytes of virtual address space (a power of two).
    pub address_space: u64,
    /// Bytes of physical memory (a power of two).
    pub phys_mem: u64,
    /// Bytes per page (a power of two, at most the address space and the physical memory).
    pub page_size: u64,
    /// The raw page table entries, entry 0 first; `address_space / page_size` of them.
    pub entries: Vec<u32>,
    /// The virtual addresses to translate, in file order.
    pub addresses: Vec<u64>,
    /// One answer per address for solved files (`-c`), `None` for problems. Without addresses
    /// the two kinds print the same text, which reads as a problem.
    pub answers: Option<Vec<LinearAnswer>>,
}

impl OstepLinear {
    /// The VPN of an address, as the simulator computes it.
    #[must_use]
    pub fn vpn(&self, address: u64) -> u64 {
        address.checked_div(self.page_size).unwrap_or(0)
    }
}

/// The answer for one address of a solved linear file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinearAnswer {
    /// `--> 0000ccc4 (decimal    52420) [VPN 1]`.
    Translated { vpn: u64, pa: u64 },
    /// `-->  Invalid (VPN 2 not valid)`: the entry's valid bit is clear.
    Invalid { vpn: u64 },
    /// The address lies at or beyond the end of the address space.
    OutOfBounds,
}

/// Reads the output of `paging-linear-translate.py`, problem or solved, with or without `-v`.
///
/// # Errors
/// An [`OstepError`] with the line number when a size is missing, malformed or not a power of
/// two, the table has the wrong number of entries, a line breaks the layout, or two copies of a
/// number disagree.
pub fn parse_linear(text: &str) -> Result<OstepLinear, OstepError> {
    let mut reader = LineReader::new(text);
    let header = read_header(&mut reader)?;
    let sizes = header.sizes(&mut reader)?;
    let entries = read_entries(&mut reader, &sizes)?;
    let (addresses, answers) = read_trace(&mut reader, &sizes)?;
    if let Some((line, listed)) = header.listed_addresses
        && listed != addresses
    {
        return Err(OstepError::Mismatch {
            line,
            what: "addresses (ARG addresses against the trace)",
            expected: format!("{listed:?}"),
            found: format!("{addresses:?}"),
        });
    }
    Ok(OstepLinear {
        seed: header.seed,
        address_space: sizes.address_space,
        phys_mem: sizes.phys_mem,
        page_size: sizes.page_size,
        entries,
        addresses,
        answers,
    })
}

/// The ARG lines, each size with the line it came from.
#[derive(Default)]
struct Header {
    seed: Option<u64>,
    address_space: Option<(usize, u64)>,
    phys_mem: Option<(usize, u64)>,
    page_size: Option<(usize, u64)>,
    listed_addresses: Option<(usize, Vec<u64>)>,
}

pub(super) struct Sizes {
    pub address_space: u64,
    pub phys_mem: u64,
    pub page_size: u64,
}

impl Header {
    /// The three sizes, checked against each other; errors point at the table header.
    fn sizes(&self, reader: &mut LineReader<'_>) -> Result<Sizes, OstepError> {
        let (Some(address_space), Some(phys_mem), Some(page_size)) =
            (self.address_space, self.phys_mem, self.page_size)
        else {
            return Err(reader.expected_next(
                "the three ARG lines `address space size`, `phys mem size` and `page size` \
                 before the page table",
            ));
        };
        for ((line, size), what) in [(address_space, "address space size"), (phys_mem, "phys mem size")] {
            if page_size.1 > size {
                return Err(OstepError::Mismatch {
                    line,
                    what,
                    expected: format!("at least the page size ({})", page_size.1),
                    found: size.to_string(),
                });
            }
        }
        Ok(Sizes { address_space: address_space.1, phys_mem: phys_mem.1, page_size: page_size.1 })
    }
}

fn read_header(reader: &mut LineReader<'_>) -> Result<Header, OstepError> {
    let mut header = Header::default();
    let mut seen = BTreeSet::new();
    // ARG lines and the explanation of the entry format come before the table header; the
    // explanation is free text, so anything that is not an ARG line is passed over.
    while let Some(line) = reader.peek_nonblank() {
        if line.text.trim() == TABLE_HEADER {
            break;
        }
        reader.next_nonblank();
        let Some((name, value)) = split_arg(line.text) else {
            continue;
        };
        if !seen.insert(name) {
            return Err(OstepError::Duplicate { line: line.number, what: "ARG", value: name.to_owned() });
        }
        let sized = |what| parse_size(value, what, line.number).map(|size| Some((line.number, size)));
        match name {
            "seed" => {
                let seed = Cursor::new(value).decimal().filter(|_| value.bytes().all(|b| b.is_ascii_digit()));
                header.seed = Some(seed.ok_or_else(|| line.expected("a non-negative decimal seed"))?);
            }
            "address space size" => header.address_space = sized("address space size")?,
            "phys mem size" => header.phys_mem = sized("phys mem size")?,
            "page size" => header.page_size = sized("page size")?,
            "addresses" if value != "-1" => {
                let listed = value
                    .split(',')
                    .map(|item| item.trim().parse::<u64>().ok())
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| line.expected("-1 or a comma-separated list of decimal addresses"))?;
                header.listed_addresses = Some((line.number, listed));
            }
            // Forks of the simulator add options; their ARG lines do not change the layout.
            _ => {}
        }
    }
    Ok(header)
}

const ENTRY_LINE: &str =
    "a page table entry `0x%08x` (or `[  VPN]  0x%08x`) or the `Virtual Address Trace` header";

fn read_entries(reader: &mut LineReader<'_>, sizes: &Sizes) -> Result<Vec<u32>, OstepError> {
    if reader.next_nonblank().is_none() {
        return Err(reader.expected_at_end("the `Page Table (from entry 0 down to the max size)` header"));
    }
    let mut entries = Vec::new();
    let trace_line = loop {
        let Some(line) = reader.next_nonblank() else {
            return Err(reader.expected_at_end(ENTRY_LINE));
        };
        if line.text.trim() == TRACE_HEADER {
            break line;
        }
        entries.push(parse_entry(line, entries.len())?);
    };
    let expected = sizes.address_space / sizes.page_size;
    let found = u64::try_from(entries.len()).unwrap_or(u64::MAX);
    if found != expected {
        return Err(OstepError::Mismatch {
            line: trace_line.number,
            what: "number of page table entries (address space size / page size)",
            expected: expected.to_string(),
            found: found.to_string(),
        });
    }
    Ok(entries)
}

/// Reads `0x8000000c` or the verbose `[       1]  0x8000000c`, whose index must be `position`.
fn parse_entry(line: Line<'_>, position: usize) -> Result<u32, OstepError> {
    let mut cursor = Cursor::new(line.text);
    let index = if cursor.eat("[") {
        let index = cursor.decimal().filter(|_| cursor.eat("]"));
        Some(index.ok_or_else(|| line.expected(ENTRY_LINE))?)
    } else {
        None
    };
    let entry = cursor.hex_0x().filter(|_| cursor.at_end()).ok_or_else(|| line.expected(ENTRY_LINE))?;
    let position = u64::try_from(position).unwrap_or(u64::MAX);
    if let Some(index) = index
        && index != position
    {
        return Err(OstepError::Mismatch {
            line: line.number,
            what: "page table entry number",
            expected: position.to_string(),
            found: index.to_string(),
        });
    }
    u32::try_from(entry).map_err(|_| OstepError::OutOfRange {
        line: line.number,
        what: "page table entry",
        value: entry,
        limit: 1 << 32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "ARG seed 3\nARG address space size 16k\nARG phys mem size 64k\nARG page size 4k\n\
                        ARG verbose False\nARG addresses -1\n\nPage Table (from entry 0 down to the max size)\n";

    fn parse_with(table: &str, trace: &str) -> Result<OstepLinear, OstepError> {
        parse_linear(&format!("{HEAD}{table}\nVirtual Address Trace\n{trace}\n"))
    }

    const TABLE: &str = "  0x00000000\n  0x8000000c\n  0x00000000\n  0x00000000\n";

    #[test]
    fn reads_answers_of_every_kind() {
        let trace = "  VA 0x00001cc4 (decimal:     7364) --> 0000ccc4 (decimal    52420) [VPN 1]\n\
                     \x20 VA 0x000029b3 (decimal:    10675) -->  Invalid (VPN 2 not valid)\n\
                     \x20 VA 0x000029b3 (decimal:    10675) -->  segfault\n\
                     \x20 VA 0x00004000 (decimal:    16384) -->  SEGMENTATION VIOLATION\n";
        let answers = parse_with(TABLE, trace).map(|parsed| parsed.answers);
        assert_eq!(
            answers,
            Ok(Some(vec![
                LinearAnswer::Translated { vpn: 1, pa: 0xccc4 },
                LinearAnswer::Invalid { vpn: 2 },
                LinearAnswer::Invalid { vpn: 2 },
                LinearAnswer::OutOfBounds,
            ]))
        );
    }

    #[test]
    fn reads_verbose_entries() {
        let verbose = "  [       0]  0x00000000\n  [       1]  0x8000000c\n  [       2]  0x00000000\n  [       3]  0x00000000\n";
        let plain = parse_with(TABLE, "").map(|parsed| parsed.entries);
        assert_eq!(parse_with(verbose, "").map(|parsed| parsed.entries), plain);
        let misnumbered = verbose.replace("[       2]", "[       7]");
        assert!(matches!(parse_with(&misnumbered, ""), Err(OstepError::Mismatch { line: 11, .. })));
    }

    #[test]
    fn entry_count_must_match_the_sizes() {
        let short = "  0x00000000\n  0x8000000c\n";
        assert!(matches!(parse_with(short, ""), Err(OstepError::Mismatch { line: 12, .. })));
    }

    #[test]
    fn copies_of_an_address_must_agree() {
        let trace = "  VA 0x00001cc4 (decimal:     7365) --> PA or invalid address?\n";
        assert!(matches!(parse_with(TABLE, trace), Err(OstepError::Mismatch { line: 15, .. })));
    }

    #[test]
    fn sizes_must_fit_the_page() {
        let text = HEAD.replace("ARG page size 4k", "ARG page size 32k");
        assert!(matches!(parse_linear(&format!("{text}{TABLE}")), Err(OstepError::Mismatch { line: 2, .. })));
        let text = HEAD.replace("ARG page size 4k", "ARG page size 3k");
        assert!(matches!(parse_linear(&text), Err(OstepError::NotPowerOfTwo { line: 4, .. })));
    }

    #[test]
    fn listed_addresses_must_match_the_trace() {
        let text = HEAD.replace("ARG addresses -1", "ARG addresses 7364,1");
        let trace = "  VA 0x00001cc4 (decimal:     7364) --> PA or invalid address?\n";
        let result = parse_linear(&format!("{text}{TABLE}\nVirtual Address Trace\n{trace}"));
        assert!(matches!(result, Err(OstepError::Mismatch { line: 6, .. })));
    }
}

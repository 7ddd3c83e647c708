//! `paging-multilevel-translate.py` (OSTEP chapter 20): the problem it prints and, with `-c`, its
//! answers.
//!
//! The machine is fixed by the simulator: 32-byte pages, 15-bit virtual addresses, 128 physical
//! pages, a page directory and one level of page tables whose one-byte entries hold a valid bit (7)
//! and a PFN (bits 6:0). The layout read here:
//!
//! ```text
//! ARG seed 1                      optional; unknown ARG lines are ignored
//! ARG allocated 64
//! ARG num 5                       if present, the number of addresses must match
//!
//! page   0:7f7f...7f              one line per frame, 64 hex digits; any subset, any order
//! PDBR: 17  (decimal) [...]
//! Virtual Address 6c74: Translates To What Physical Address (And Fetches what Value)? Or Fault?
//! ```
//!
//! or, solved, one block per address:
//!
//! ```text
//! Virtual Address 0x6c74:
//!   --> pde index:0x1b [decimal 27] pde contents:0xa0 (valid 1, pfn 0x20 [decimal 32])
//!     --> pte index:0x3 [decimal 3] pte contents:0xe1 (valid 1, pfn 0x61 [decimal 97])
//!       --> Translates to Physical Address 0xc34 --> Value: 0x06
//! ```
//!
//! The parser keeps what the file claims: it checks that each line agrees with itself (hex and
//! decimal copies, valid bit and PFN against the entry byte) but not that an answer is right, so
//! that answers written by a student can be imported and graded against the simulator.

use std::collections::BTreeSet;

use super::error::OstepError;
use super::multilevel_answer::read_answer;
use super::scan::{Cursor, Line, LineReader, split_arg};

/// Bytes per page (and per page table: 32 one-byte entries).
pub const MULTILEVEL_PAGE_SIZE: u64 = 32;
/// Width of a virtual address.
pub const MULTILEVEL_VA_BITS: u32 = 15;
/// Frames of physical memory.
pub const MULTILEVEL_PHYS_PAGES: u64 = 128;
/// Entries in the page directory and in each page table (5 index bits per level).
pub const MULTILEVEL_ENTRIES: u64 = 32;

const VALID_BIT: u8 = 0x80;
const PFN_MASK: u8 = 0x7f;
const PROBLEM_QUESTION: &str = "Translates To What Physical Address (And Fetches what Value)? Or Fault?";

/// One problem (and possibly its answers) of the multi-level page table simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OstepMultilevel {
    /// `ARG seed`, if the file gives it.
    pub seed: Option<u64>,
    /// Always [`MULTILEVEL_PAGE_SIZE`] for files this parser accepts.
    pub page_size: u64,
    /// Always [`MULTILEVEL_VA_BITS`] for files this parser accepts.
    pub va_bits: u32,
    /// Always [`MULTILEVEL_PHYS_PAGES`] for files this parser accepts.
    pub phys_pages: u64,
    /// The memory dump: `(frame, 32 bytes)`, sorted by frame, no frame twice.
    pub pages: Vec<(u64, Vec<u8>)>,
    /// The frame that holds the page directory.
    pub pdbr: u64,
    /// The virtual addresses to translate, in file order.
    pub addresses: Vec<u64>,
    /// One answer per address for solved files (`-c`), `None` for problems. Without addresses
    /// the two kinds print the same text, which reads as a problem.
    pub answers: Option<Vec<MultilevelAnswer>>,
}

/// An entry as an answer reports it: where it sits in its table and the byte found there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRead {
    /// Index into the page directory or page table (below [`MULTILEVEL_ENTRIES`]).
    pub index: u64,
    /// The entry byte.
    pub contents: u8,
}

impl EntryRead {
    /// Bit 7: the entry maps something.
    #[must_use]
    pub fn valid(&self) -> bool {
        self.contents & VALID_BIT != 0
    }

    /// Bits 6:0: the frame of the next table or of the data page.
    #[must_use]
    pub fn pfn(&self) -> u64 {
        u64::from(self.contents & PFN_MASK)
    }
}

/// The answer for one address: the directory entry read, then how the walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultilevelAnswer {
    pub pde: EntryRead,
    pub outcome: MultilevelOutcome,
}

impl MultilevelAnswer {
    /// The page table entry, if the walk got that far.
    #[must_use]
    pub fn pte(&self) -> Option<EntryRead> {
        match self.outcome {
            MultilevelOutcome::PdeInvalid => None,
            MultilevelOutcome::PteInvalid { pte } | MultilevelOutcome::Translated { pte, .. } => Some(pte),
        }
    }

    /// How many entries the walk read (1 when the directory entry faulted, else 2).
    #[must_use]
    pub fn steps(&self) -> usize {
        if self.pte().is_some() { 2 } else { 1 }
    }
}

/// How a walk ended. The page table entry lives here so that a PTE is present exactly when the
/// walk reached one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultilevelOutcome {
    /// `--> Fault (page directory entry not valid)`: one step.
    PdeInvalid,
    /// `--> Fault (page table entry not valid)`: two steps.
    PteInvalid { pte: EntryRead },
    /// `--> Translates to Physical Address 0xc34 --> Value: 0x06`.
    Translated { pte: EntryRead, pa: u64, value: u8 },
}

/// Reads the output of `paging-multilevel-translate.py`, problem or solved.
///
/// # Errors
/// An [`OstepError`] with the line number when the layout is broken (a short or non-hex page line,
/// no `PDBR` line, a malformed answer block), a number is out of range (a frame, the PDBR or an
/// address), or the file disagrees with itself (`ARG num` against the addresses, hex against
/// decimal).
pub fn parse_multilevel(text: &str) -> Result<OstepMultilevel, OstepError> {
    let mut reader = LineReader::new(text);
    let header = read_header(&mut reader)?;
    let pages = read_pages(&mut reader)?;
    let pdbr = read_pdbr(&mut reader)?;
    let (addresses, answers) = read_addresses(&mut reader)?;
    if let Some((line, num)) = header.num {
        let found = u64::try_from(addresses.len()).unwrap_or(u64::MAX);
        if found != num {
            return Err(OstepError::Mismatch {
                line,
                what: "number of virtual addresses (ARG num)",
                expected: num.to_string(),
                found: found.to_string(),
            });
        }
    }
    Ok(OstepMultilevel {
        seed: header.seed,
        page_size: MULTILEVEL_PAGE_SIZE,
        va_bits: MULTILEVEL_VA_BITS,
        phys_pages: MULTILEVEL_PHYS_PAGES,
        pages,
        pdbr,
        addresses,
        answers,
    })
}

/// The `ARG` lines that matter: the seed, and `num` (with its line) to check the address count.
#[derive(Default)]
struct Header {
    seed: Option<u64>,
    num: Option<(usize, u64)>,
}

fn read_header(reader: &mut LineReader<'_>) -> Result<Header, OstepError> {
    let mut header = Header::default();
    let mut seen = BTreeSet::new();
    while let Some(line) = reader.peek_nonblank() {
        let Some((name, value)) = split_arg(line.text) else {
            break;
        };
        reader.next_nonblank();
        if !seen.insert(name) {
            return Err(OstepError::Duplicate { line: line.number, what: "ARG", value: name.to_owned() });
        }
        let number = || Cursor::new(value).decimal().filter(|_| value.bytes().all(|b| b.is_ascii_digit()));
        // Forks of the simulator add options; their ARG lines do not change the layout.
        match name {
            "seed" => {
                header.seed = Some(number().ok_or_else(|| line.expected("a non-negative decimal seed"))?);
            }
            "allocated" => {
                number().ok_or_else(|| line.expected("a decimal count of allocated pages"))?;
            }
            "num" => {
                let num = number().ok_or_else(|| line.expected("a decimal count of addresses"))?;
                header.num = Some((line.number, num));
            }
            _ => {}
        }
    }
    Ok(header)
}

const PAGE_LINE: &str = "a memory dump line `page   N:` followed by 64 hex digits";

fn read_pages(reader: &mut LineReader<'_>) -> Result<Vec<(u64, Vec<u8>)>, OstepError> {
    let mut pages: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut frames = BTreeSet::new();
    while let Some(line) = reader.peek_nonblank() {
        if !line.text.starts_with("page") {
            break;
        }
        reader.next_nonblank();
        let (frame, bytes) = parse_page_line(line)?;
        if !frames.insert(frame) {
            return Err(OstepError::Duplicate { line: line.number, what: "page", value: frame.to_string() });
        }
        pages.push((frame, bytes));
    }
    if pages.is_empty() {
        return Err(reader.expected_next(PAGE_LINE));
    }
    pages.sort_by_key(|&(frame, _)| frame);
    Ok(pages)
}

fn parse_page_line(line: Line<'_>) -> Result<(u64, Vec<u8>), OstepError> {
    let mut cursor = Cursor::new(line.text);
    let frame = (|| {
        cursor.need("page")?;
        let frame = cursor.decimal()?;
        cursor.need(":")?;
        Some(frame)
    })()
    .ok_or_else(|| line.expected(PAGE_LINE))?;
    if frame >= MULTILEVEL_PHYS_PAGES {
        return Err(OstepError::OutOfRange {
            line: line.number,
            what: "page",
            value: frame,
            limit: MULTILEVEL_PHYS_PAGES,
        });
    }
    let bytes = decode_hex_bytes(cursor.rest().trim())
        .filter(|bytes| u64::try_from(bytes.len()) == Ok(MULTILEVEL_PAGE_SIZE))
        .ok_or_else(|| line.expected(PAGE_LINE))?;
    Ok((frame, bytes))
}

/// Pairs of hex digits to bytes; `None` for an odd length or a non-hex character.
fn decode_hex_bytes(digits: &str) -> Option<Vec<u8>> {
    crate::sim::hex::decode(digits).ok()
}

const PDBR_LINE: &str = "a `PDBR: N  (decimal)` line";

fn read_pdbr(reader: &mut LineReader<'_>) -> Result<u64, OstepError> {
    let Some(line) = reader.next_nonblank() else {
        return Err(reader.expected_at_end(PDBR_LINE));
    };
    let mut cursor = Cursor::new(line.text);
    let pdbr = (|| {
        cursor.need("PDBR:")?;
        let pdbr = cursor.decimal()?;
        // The explanation after the number varies between versions; only its start is checked.
        (cursor.at_end() || cursor.rest().starts_with(char::is_whitespace)).then_some(pdbr)
    })()
    .ok_or_else(|| line.expected(PDBR_LINE))?;
    if pdbr >= MULTILEVEL_PHYS_PAGES {
        return Err(OstepError::OutOfRange {
            line: line.number,
            what: "PDBR",
            value: pdbr,
            limit: MULTILEVEL_PHYS_PAGES,
        });
    }
    Ok(pdbr)
}

const ADDRESS_LINE: &str = "a `Virtual Address XXXX:` line";

/// Whether the address lines seen so far were questions or solved blocks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Problem,
    Solved,
}

type Addresses = (Vec<u64>, Option<Vec<MultilevelAnswer>>);

fn read_addresses(reader: &mut LineReader<'_>) -> Result<Addresses, OstepError> {
    let mut addresses = Vec::new();
    let mut answers = Vec::new();
    let mut form = None;
    while let Some(line) = reader.next_nonblank() {
        let mut cursor = Cursor::new(line.text);
        let address = (|| {
            cursor.need("Virtual Address")?;
            let address = cursor.hex()?;
            cursor.need(":")?;
            Some(address)
        })()
        .ok_or_else(|| line.expected(ADDRESS_LINE))?;
        let limit = 1_u64 << MULTILEVEL_VA_BITS;
        if address >= limit {
            return Err(OstepError::OutOfRange {
                line: line.number,
                what: "virtual address",
                value: address,
                limit,
            });
        }
        let this_form = if cursor.at_end() {
            Form::Solved
        } else if cursor.rest().trim() == PROBLEM_QUESTION {
            Form::Problem
        } else {
            return Err(line
                .expected("`Virtual Address XXXX:` alone or followed by the question of the problem file"));
        };
        if form.is_some_and(|form| form != this_form) {
            return Err(line.expected(
                "all addresses as questions or all as solved blocks (this one differs from the first)",
            ));
        }
        form = Some(this_form);
        addresses.push(address);
        if this_form == Form::Solved {
            answers.push(read_answer(reader)?);
        }
    }
    let answers = (form == Some(Form::Solved)).then_some(answers);
    Ok((addresses, answers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(pdbr: u64) -> String {
        let mut text = String::from("ARG seed 7\nARG allocated 1\nARG num 1\n\n");
        for frame in 0..MULTILEVEL_PHYS_PAGES {
            let byte = if frame == pdbr { "81" } else { "7f" };
            text.push_str(&format!("page {frame:3}:{}\n", byte.repeat(32)));
        }
        text.push_str(&format!(
            "\nPDBR: {pdbr}  (decimal) [This means the page directory is held in this page]\n\n"
        ));
        text
    }

    #[test]
    fn reads_a_problem() {
        let mut text = dump(3);
        text.push_str(&format!("Virtual Address 0421: {PROBLEM_QUESTION}\n\n"));
        let parsed = parse_multilevel(&text).map_err(|e| e.to_string());
        let parsed = parsed
            .as_ref()
            .map(|p| (p.seed, p.pdbr, p.addresses.clone(), p.answers.is_none(), p.pages.len()));
        assert_eq!(parsed, Ok((Some(7), 3, vec![0x421], true, 128)));
    }

    #[test]
    fn reads_all_three_outcomes() {
        let mut text = dump(3).replace("ARG num 1", "ARG num 3");
        text.push_str(
            "Virtual Address 0x0421:\n  --> pde index:0x1 [decimal 1] pde contents:0x81 (valid 1, pfn 0x01 [decimal 1])\n    --> pte index:0x1 [decimal 1] pte contents:0x7f (valid 0, pfn 0x7f [decimal 127])\n      --> Fault (page table entry not valid)\n\
             Virtual Address 0x7c00:\n  --> pde index:0x1f [decimal 31] pde contents:0x7f (valid 0, pfn 0x7f [decimal 127])\n      --> Fault (page directory entry not valid)\n\
             Virtual Address 0x0021:\n  --> pde index:0x0 [decimal 0] pde contents:0x81 (valid 1, pfn 0x01 [decimal 1])\n    --> pte index:0x1 [decimal 1] pte contents:0x81 (valid 1, pfn 0x01 [decimal 1])\n      --> Translates to Physical Address 0x021 --> Value: 0x7f\n",
        );
        let answers = parse_multilevel(&text).map(|p| p.answers);
        let pte = EntryRead { index: 1, contents: 0x7f };
        let mapped = EntryRead { index: 1, contents: 0x81 };
        assert_eq!(
            answers,
            Ok(Some(vec![
                MultilevelAnswer { pde: mapped, outcome: MultilevelOutcome::PteInvalid { pte } },
                MultilevelAnswer {
                    pde: EntryRead { index: 31, contents: 0x7f },
                    outcome: MultilevelOutcome::PdeInvalid
                },
                MultilevelAnswer {
                    pde: EntryRead { index: 0, contents: 0x81 },
                    outcome: MultilevelOutcome::Translated { pte: mapped, pa: 0x21, value: 0x7f }
                },
            ]))
        );
    }

    #[test]
    fn mixed_forms_and_wrong_counts_are_refused() {
        let mut mixed = dump(3).replace("ARG num 1", "ARG num 2");
        mixed.push_str(&format!("Virtual Address 0421: {PROBLEM_QUESTION}\nVirtual Address 0x0421:\n"));
        assert!(matches!(parse_multilevel(&mixed), Err(OstepError::Expected { line: 137, .. })));
        let mut short = dump(3);
        short.push('\n');
        assert!(matches!(parse_multilevel(&short), Err(OstepError::Mismatch { line: 3, .. })));
    }

    #[test]
    fn hex_bytes_decode_strictly() {
        assert_eq!(decode_hex_bytes("00ff7f"), Some(vec![0, 0xff, 0x7f]));
        assert_eq!(decode_hex_bytes("0"), None);
        assert_eq!(decode_hex_bytes("+f"), None);
        assert_eq!(decode_hex_bytes("éé"), None);
    }
}

//! The answer blocks of `paging-multilevel-translate.py -c`: the directory entry line, the table
//! entry line when the walk gets that far, and the outcome.
//!
//! ```text
//!   --> pde index:0x1b [decimal 27] pde contents:0xa0 (valid 1, pfn 0x20 [decimal 32])
//!     --> pte index:0x3 [decimal 3] pte contents:0xe1 (valid 1, pfn 0x61 [decimal 97])
//!       --> Translates to Physical Address 0xc34 --> Value: 0x06
//! ```
//!
//! Each line must agree with itself; whether the answer is right is left to the caller.

use super::error::OstepError;
use super::multilevel::{EntryRead, MULTILEVEL_ENTRIES, MultilevelAnswer, MultilevelOutcome};
use super::scan::{Cursor, Line, LineReader};

const PDE_LINE: &str =
    "a `--> pde index:0x.. [decimal ..] pde contents:0x.. (valid .., pfn 0x.. [decimal ..])` line";
const AFTER_PDE: &str = "a `--> pte index:...` line or `--> Fault (page directory entry not valid)`";
const AFTER_PTE: &str = "`--> Translates to Physical Address 0x... --> Value: 0x..` or \
                         `--> Fault (page table entry not valid)`";

/// Reads the lines after `Virtual Address 0x....:` in a solved file.
pub(super) fn read_answer(reader: &mut LineReader<'_>) -> Result<MultilevelAnswer, OstepError> {
    let line = reader.next_nonblank().ok_or_else(|| reader.expected_at_end(PDE_LINE))?;
    let pde = parse_entry_line(line, "pde", PDE_LINE)?;

    let line = reader.next_nonblank().ok_or_else(|| reader.expected_at_end(AFTER_PDE))?;
    if is_fault(line.text, "page directory entry not valid") {
        return Ok(MultilevelAnswer { pde, outcome: MultilevelOutcome::PdeInvalid });
    }
    if !arrow_then(line.text, "pte") {
        return Err(line.expected(AFTER_PDE));
    }
    let pte = parse_entry_line(line, "pte", AFTER_PDE)?;

    let line = reader.next_nonblank().ok_or_else(|| reader.expected_at_end(AFTER_PTE))?;
    if is_fault(line.text, "page table entry not valid") {
        return Ok(MultilevelAnswer { pde, outcome: MultilevelOutcome::PteInvalid { pte } });
    }
    let mut cursor = Cursor::new(line.text);
    let (pa, value) = (|| {
        cursor.need("-->")?;
        cursor.need("Translates to Physical Address")?;
        let pa = cursor.hex()?;
        cursor.need("-->")?;
        cursor.need("Value:")?;
        let value = cursor.hex()?;
        cursor.at_end().then_some((pa, value))
    })()
    .ok_or_else(|| line.expected(AFTER_PTE))?;
    let value = u8::try_from(value).map_err(|_| OstepError::OutOfRange {
        line: line.number,
        what: "value",
        value,
        limit: 0x100,
    })?;
    Ok(MultilevelAnswer { pde, outcome: MultilevelOutcome::Translated { pte, pa, value } })
}

/// Whether a line starts with `-->` and then `word`, which is how answer lines tell themselves apart.
fn arrow_then(text: &str, word: &str) -> bool {
    let mut cursor = Cursor::new(text);
    cursor.eat("-->") && cursor.eat(word)
}

fn is_fault(text: &str, reason: &str) -> bool {
    let mut cursor = Cursor::new(text);
    cursor.eat("-->")
        && cursor.eat("Fault")
        && cursor.eat("(")
        && cursor.rest().trim_start().strip_suffix(')').is_some_and(|inner| inner.trim() == reason)
}

/// Reads `--> pde index:0x1b [decimal 27] pde contents:0xa0 (valid 1, pfn 0x20 [decimal 32])`
/// (or the same with `pte`) and checks that its copies of each number agree.
fn parse_entry_line(
    line: Line<'_>,
    label: &'static str,
    expected: &'static str,
) -> Result<EntryRead, OstepError> {
    let mut cursor = Cursor::new(line.text);
    let fields = (|| {
        cursor.need("-->")?;
        cursor.need(label)?;
        cursor.need("index:")?;
        let index = cursor.hex_0x()?;
        cursor.need("[decimal")?;
        let index_decimal = cursor.decimal()?;
        cursor.need("]")?;
        cursor.need(label)?;
        cursor.need("contents:")?;
        let contents = cursor.hex_0x()?;
        cursor.need("(valid")?;
        let valid = cursor.decimal()?;
        cursor.need(",")?;
        cursor.need("pfn")?;
        let pfn = cursor.hex_0x()?;
        cursor.need("[decimal")?;
        let pfn_decimal = cursor.decimal()?;
        cursor.need("])")?;
        cursor.at_end().then_some((index, index_decimal, contents, valid, pfn, pfn_decimal))
    })();
    let (index, index_decimal, contents, valid, pfn, pfn_decimal) =
        fields.ok_or_else(|| line.expected(expected))?;
    let mismatch = |what, expected: u64, found: u64| OstepError::Mismatch {
        line: line.number,
        what,
        expected: expected.to_string(),
        found: found.to_string(),
    };
    if index_decimal != index {
        return Err(mismatch("index in decimal (the hex index)", index, index_decimal));
    }
    if index >= MULTILEVEL_ENTRIES {
        return Err(OstepError::OutOfRange {
            line: line.number,
            what: "entry index",
            value: index,
            limit: MULTILEVEL_ENTRIES,
        });
    }
    let contents = u8::try_from(contents).map_err(|_| OstepError::OutOfRange {
        line: line.number,
        what: "entry contents",
        value: contents,
        limit: 0x100,
    })?;
    let entry = EntryRead { index, contents };
    if valid != u64::from(entry.valid()) {
        return Err(mismatch("valid (bit 7 of the contents)", u64::from(entry.valid()), valid));
    }
    if pfn != entry.pfn() {
        return Err(mismatch("pfn (bits 6:0 of the contents)", entry.pfn(), pfn));
    }
    if pfn_decimal != pfn {
        return Err(mismatch("pfn in decimal (the hex pfn)", pfn, pfn_decimal));
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_line_copies_must_agree() {
        let line = |text| Line { number: 4, text };
        let bad_valid = "--> pde index:0x1 [decimal 1] pde contents:0x81 (valid 0, pfn 0x01 [decimal 1])";
        assert!(matches!(
            parse_entry_line(line(bad_valid), "pde", PDE_LINE),
            Err(OstepError::Mismatch { line: 4, .. })
        ));
        let bad_index = "--> pde index:0x1 [decimal 2] pde contents:0x81 (valid 1, pfn 0x01 [decimal 1])";
        assert!(matches!(
            parse_entry_line(line(bad_index), "pde", PDE_LINE),
            Err(OstepError::Mismatch { .. })
        ));
        let big_index = "--> pde index:0x20 [decimal 32] pde contents:0x81 (valid 1, pfn 0x01 [decimal 1])";
        assert!(matches!(
            parse_entry_line(line(big_index), "pde", PDE_LINE),
            Err(OstepError::OutOfRange { .. })
        ));
        let big_byte = "--> pde index:0x1 [decimal 1] pde contents:0x181 (valid 1, pfn 0x01 [decimal 1])";
        assert!(matches!(
            parse_entry_line(line(big_byte), "pde", PDE_LINE),
            Err(OstepError::OutOfRange { .. })
        ));
    }
}

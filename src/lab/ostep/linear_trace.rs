//! The address trace of `paging-linear-translate.py`: one `VA` line per address, with the
//! question of a problem file or the answer of a solved one (see the `linear` module for the
//! answers accepted).

use super::error::OstepError;
use super::linear::{LinearAnswer, PROBLEM_QUESTION, PROBLEM_TRAILER, Sizes};
use super::scan::{Cursor, Line, LineReader};

/// Phrases that mark an answer as a fault without saying which kind (matched in lowercase).
const VAGUE_FAULTS: [&str; 6] =
    ["segmentation violation", "segfault", "seg fault", "out of bounds", "out-of-bounds", "invalid"];

type Trace = (Vec<u64>, Option<Vec<LinearAnswer>>);

const VA_LINE: &str = "a `VA 0x%08x (decimal: %8d) --> ...` line";

/// Reads the trace after its header, up to the end of the file.
pub(super) fn read_trace(reader: &mut LineReader<'_>, sizes: &Sizes) -> Result<Trace, OstepError> {
    let mut addresses = Vec::new();
    let mut answers = Vec::new();
    let mut solved = None;
    while let Some(line) = reader.peek_nonblank() {
        if PROBLEM_TRAILER.contains(&line.text.trim()) {
            break;
        }
        reader.next_nonblank();
        let (address, answer) = parse_va_line(line, sizes)?;
        let this_solved = answer.is_some();
        if solved.is_some_and(|solved| solved != this_solved) {
            return Err(line.expected(
                "all addresses as questions or all with answers (this one differs from the first)",
            ));
        }
        solved = Some(this_solved);
        addresses.push(address);
        answers.extend(answer);
    }
    // Only the closing sentences may follow the trace.
    while let Some(line) = reader.next_nonblank() {
        if !PROBLEM_TRAILER.contains(&line.text.trim()) {
            return Err(line.expected("the end of the file after the address trace"));
        }
    }
    Ok((addresses, (solved == Some(true)).then_some(answers)))
}

/// Reads one trace line; the answer is `None` for a question.
fn parse_va_line(line: Line<'_>, sizes: &Sizes) -> Result<(u64, Option<LinearAnswer>), OstepError> {
    let mut cursor = Cursor::new(line.text);
    let (address, decimal) = (|| {
        cursor.need("VA")?;
        let address = cursor.hex_0x()?;
        cursor.need("(decimal:")?;
        let decimal = cursor.decimal()?;
        cursor.need(")")?;
        cursor.need("-->")?;
        Some((address, decimal))
    })()
    .ok_or_else(|| line.expected(VA_LINE))?;
    check_copies(line, "virtual address in decimal (the hex address)", address, decimal)?;
    let answer_text = cursor.rest().trim();
    if answer_text == PROBLEM_QUESTION {
        return Ok((address, None));
    }
    if let Some(answer) = parse_translated(line, answer_text)? {
        return Ok((address, Some(answer)));
    }
    let mut cursor = Cursor::new(answer_text);
    let invalid_vpn = (|| {
        cursor.need("Invalid")?;
        cursor.need("(VPN")?;
        let vpn = cursor.decimal()?;
        cursor.need("not valid)")?;
        cursor.at_end().then_some(vpn)
    })();
    if let Some(vpn) = invalid_vpn {
        return Ok((address, Some(LinearAnswer::Invalid { vpn })));
    }
    let lower = answer_text.to_lowercase();
    if VAGUE_FAULTS.iter().any(|phrase| lower.contains(phrase)) {
        let answer = if address >= sizes.address_space {
            LinearAnswer::OutOfBounds
        } else {
            LinearAnswer::Invalid { vpn: address / sizes.page_size }
        };
        return Ok((address, Some(answer)));
    }
    Err(line.expected(
        "`PA or invalid address?`, `%08x (decimal %8d) [VPN n]`, `Invalid (VPN n not valid)` \
         or a segmentation violation after `-->`",
    ))
}

/// Reads `0000ccc4 (decimal    52420) [VPN 1]`; `Ok(None)` if the text is not of that shape.
fn parse_translated(line: Line<'_>, text: &str) -> Result<Option<LinearAnswer>, OstepError> {
    let mut cursor = Cursor::new(text);
    let fields = (|| {
        let pa = cursor.hex()?;
        cursor.need("(decimal")?;
        let decimal = cursor.decimal()?;
        cursor.need(")")?;
        cursor.need("[VPN")?;
        let vpn = cursor.decimal()?;
        cursor.need("]")?;
        cursor.at_end().then_some((pa, decimal, vpn))
    })();
    let Some((pa, decimal, vpn)) = fields else {
        return Ok(None);
    };
    check_copies(line, "physical address in decimal (the hex address)", pa, decimal)?;
    Ok(Some(LinearAnswer::Translated { vpn, pa }))
}

fn check_copies(line: Line<'_>, what: &'static str, hex: u64, decimal: u64) -> Result<(), OstepError> {
    if hex == decimal {
        Ok(())
    } else {
        Err(OstepError::Mismatch {
            line: line.number,
            what,
            expected: hex.to_string(),
            found: decimal.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: Sizes = Sizes { address_space: 1 << 14, phys_mem: 1 << 16, page_size: 1 << 12 };

    fn answer(text: &str) -> Result<(u64, Option<LinearAnswer>), OstepError> {
        parse_va_line(Line { number: 3, text }, &SIZES)
    }

    #[test]
    fn vague_faults_are_inferred_from_the_address() {
        let inside = "  VA 0x00002000 (decimal:     8192) -->  Segmentation Violation";
        assert_eq!(answer(inside), Ok((0x2000, Some(LinearAnswer::Invalid { vpn: 2 }))));
        let beyond = "  VA 0x00004001 (decimal:    16385) --> invalid";
        assert_eq!(answer(beyond), Ok((0x4001, Some(LinearAnswer::OutOfBounds))));
        let student = "  VA 0x00000001 (decimal:        1) --> Out-Of-Bounds (segfault)";
        assert_eq!(answer(student), Ok((1, Some(LinearAnswer::Invalid { vpn: 0 }))));
    }

    #[test]
    fn exact_forms_win_over_inference() {
        let named = "  VA 0x00004001 (decimal:    16385) -->  Invalid (VPN 9 not valid)";
        assert_eq!(answer(named), Ok((0x4001, Some(LinearAnswer::Invalid { vpn: 9 }))));
        let translated = "  VA 0x00000001 (decimal:        1) --> 0000c001 (decimal    49153) [VPN 0]";
        assert_eq!(answer(translated), Ok((1, Some(LinearAnswer::Translated { vpn: 0, pa: 0xc001 }))));
    }

    #[test]
    fn broken_lines_name_their_line() {
        for text in [
            "  VA 0x00000001 (decimal:        2) --> PA or invalid address?",
            "  VA 0x00000001 (decimal:        1) --> 0000c001 (decimal    1) [VPN 0]",
            "  VA 0x00000001 (decimal:        1) --> 42",
            "  VA 1 (decimal: 1) --> PA or invalid address?",
            "VA",
        ] {
            assert_eq!(answer(text).map_err(|error| error.line()), Err(3), "{text}");
        }
    }
}

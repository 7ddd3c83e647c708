//! Small scanning helpers shared by the OSTEP parsers: numbered lines and a cursor over one line.
//!
//! The simulators print fixed layouts, but files pass through editors and Windows checkouts, so
//! trailing whitespace and `\r` are ignored and runs of spaces inside a line are treated alike.

use super::error::OstepError;

/// How much of an offending line an error message repeats.
const FOUND_CHARS: usize = 60;

/// One input line: its 1-based number and its text without trailing whitespace.
#[derive(Debug, Clone, Copy)]
pub(super) struct Line<'a> {
    pub number: usize,
    pub text: &'a str,
}

impl Line<'_> {
    /// An `Expected` error pointing at this line.
    pub fn expected(&self, expected: &'static str) -> OstepError {
        OstepError::Expected { line: self.number, expected, found: quote(self.text) }
    }
}

/// The lines of a text, with blank lines skipped on request.
pub(super) struct LineReader<'a> {
    lines: std::iter::Peekable<std::iter::Enumerate<std::str::Lines<'a>>>,
    /// The number used for errors found at the end of the input (one past the last line).
    end_line: usize,
}

impl<'a> LineReader<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { lines: text.lines().enumerate().peekable(), end_line: text.lines().count().saturating_add(1) }
    }

    /// Skips blank lines and returns the next line without consuming it.
    pub fn peek_nonblank(&mut self) -> Option<Line<'a>> {
        while let Some((_, text)) = self.lines.peek() {
            if !text.trim().is_empty() {
                break;
            }
            self.lines.next();
        }
        self.lines
            .peek()
            .map(|&(index, text)| Line { number: index.saturating_add(1), text: text.trim_end() })
    }

    /// Skips blank lines and consumes the next line.
    pub fn next_nonblank(&mut self) -> Option<Line<'a>> {
        let line = self.peek_nonblank();
        self.lines.next();
        line
    }

    /// An `Expected` error for the next non-blank line, or for the end of the input.
    pub fn expected_next(&mut self, expected: &'static str) -> OstepError {
        match self.peek_nonblank() {
            Some(line) => line.expected(expected),
            None => self.expected_at_end(expected),
        }
    }

    /// An `Expected` error for the end of the input.
    pub fn expected_at_end(&self, expected: &'static str) -> OstepError {
        OstepError::Expected { line: self.end_line, expected, found: "end of input".to_owned() }
    }
}

/// A line shortened for an error message, quoted so that odd characters stay visible.
pub(super) fn quote(text: &str) -> String {
    let mut short: String = text.chars().take(FOUND_CHARS).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}

/// Splits an `ARG <name> <value>` line into name and value; `None` for other lines.
///
/// Names may contain spaces (`ARG address space size 16k`) and values may not, so the value is
/// the last word. A value can be empty (`ARG addressfile `), which leaves a name without a value.
pub(super) fn split_arg(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("ARG")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim();
    Some(match rest.rsplit_once(char::is_whitespace) {
        Some((name, value)) => (name.trim_end(), value),
        None => (rest, ""),
    })
}

/// A cursor over one line, for the fixed phrases and numbers the simulators print.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { rest: text }
    }

    /// The text not consumed yet.
    pub fn rest(&self) -> &'a str {
        self.rest
    }

    /// Whether only whitespace is left.
    pub fn at_end(&self) -> bool {
        self.rest.trim().is_empty()
    }

    /// Consumes `literal` (after optional whitespace) if the text continues with it.
    pub fn eat(&mut self, literal: &str) -> bool {
        match self.rest.trim_start().strip_prefix(literal) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// Like [`Self::eat`], as an `Option` so that sequences read with `?`.
    pub fn need(&mut self, literal: &str) -> Option<()> {
        self.eat(literal).then_some(())
    }

    /// A decimal number (after optional whitespace); `None` if absent or beyond `u64`.
    pub fn decimal(&mut self) -> Option<u64> {
        self.number(10)
    }

    /// A hexadecimal number with an optional `0x` (after optional whitespace).
    pub fn hex(&mut self) -> Option<u64> {
        self.eat("0x");
        self.number(16)
    }

    /// A hexadecimal number that must be written with `0x`.
    pub fn hex_0x(&mut self) -> Option<u64> {
        self.need("0x")?;
        self.number(16)
    }

    fn number(&mut self, radix: u32) -> Option<u64> {
        let text = self.rest.trim_start();
        let digits_end = text.find(|c: char| !c.is_digit(radix)).unwrap_or(text.len());
        let (digits, rest) = text.split_at_checked(digits_end)?;
        if digits.is_empty() {
            return None;
        }
        let value = u64::from_str_radix(digits, radix).ok()?;
        self.rest = rest;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_skips_blank_lines_and_numbers_from_one() {
        let mut reader = LineReader::new("a\r\n\n  \nb  \n");
        let first = reader.next_nonblank().map(|line| (line.number, line.text));
        let second = reader.next_nonblank().map(|line| (line.number, line.text));
        assert_eq!(first, Some((1, "a")));
        assert_eq!(second, Some((4, "b")));
        assert!(reader.next_nonblank().is_none());
        assert_eq!(reader.expected_at_end("x").line(), 5);
    }

    #[test]
    fn empty_input_ends_at_line_one() {
        let mut reader = LineReader::new("");
        assert_eq!(reader.expected_next("anything").line(), 1);
    }

    #[test]
    fn cursor_reads_numbers_and_phrases() {
        let mut cursor = Cursor::new("index:0x1b [decimal 27]");
        assert!(cursor.eat("index:"));
        assert_eq!(cursor.hex_0x(), Some(0x1b));
        assert!(cursor.eat("[decimal"));
        assert_eq!(cursor.decimal(), Some(27));
        assert!(cursor.eat("]"));
        assert!(cursor.at_end());
    }

    #[test]
    fn cursor_refuses_missing_and_oversized_numbers() {
        assert_eq!(Cursor::new("zz").hex(), None);
        assert_eq!(Cursor::new("0x").hex_0x(), None);
        assert_eq!(Cursor::new("99999999999999999999999").decimal(), None);
        assert_eq!(Cursor::new("12").hex_0x(), None);
    }

    #[test]
    fn arg_lines_split_at_the_last_word() {
        assert_eq!(split_arg("ARG address space size 16k"), Some(("address space size", "16k")));
        assert_eq!(split_arg("ARG seed 1"), Some(("seed", "1")));
        assert_eq!(split_arg("ARG addressfile"), Some(("addressfile", "")));
        assert_eq!(split_arg("ARGUMENT 1"), None);
    }

    #[test]
    fn quote_shortens_long_lines_on_char_boundaries() {
        let long = "é".repeat(100);
        let quoted = quote(&long);
        assert!(quoted.ends_with("…\""));
        assert_eq!(quoted.chars().filter(|&c| c == 'é').count(), FOUND_CHARS);
    }
}

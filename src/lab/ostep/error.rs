//! The one error type of the OSTEP importers: every variant names the 1-based line it refers to,
//! so a user can open the file at the spot that was refused.

use thiserror::Error;

/// Why an OSTEP simulator output was refused.
///
/// `line` is 1-based; a problem found at the end of the input points one past the last line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OstepError {
    /// The text does not look like the output of a simulator this module reads.
    #[error("line {line}: not the output of paging-multilevel-translate.py or paging-linear-translate.py")]
    Unrecognized { line: usize },
    /// A line (or the end of the input) is not what the layout requires at this point.
    #[error("line {line}: expected {expected}, found {found}")]
    Expected {
        line: usize,
        expected: &'static str,
        /// The offending text, shortened, or `end of input`.
        found: String,
    },
    /// A size is not a positive power of two.
    #[error("line {line}: {what} {value} is not a power of two")]
    NotPowerOfTwo { line: usize, what: &'static str, value: u64 },
    /// A number is well formed but outside what the simulator can produce.
    #[error("line {line}: {what} {value} is out of range (must be below {limit})")]
    OutOfRange { line: usize, what: &'static str, value: u64, limit: u64 },
    /// A number is too large to represent at all (a size with a suffix that overflows 64 bits).
    #[error("line {line}: {what} is too large")]
    TooLarge { line: usize, what: &'static str },
    /// The same thing is given twice.
    #[error("line {line}: {what} {value} appears twice")]
    Duplicate { line: usize, what: &'static str, value: String },
    /// Two places in the file that must agree do not (hex vs decimal, a count vs its header, ...).
    #[error("line {line}: {what}: expected {expected}, found {found}")]
    Mismatch { line: usize, what: &'static str, expected: String, found: String },
}

impl OstepError {
    /// The 1-based line the error refers to.
    #[must_use]
    pub fn line(&self) -> usize {
        match self {
            Self::Unrecognized { line }
            | Self::Expected { line, .. }
            | Self::NotPowerOfTwo { line, .. }
            | Self::OutOfRange { line, .. }
            | Self::TooLarge { line, .. }
            | Self::Duplicate { line, .. }
            | Self::Mismatch { line, .. } => *line,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_start_with_the_line() {
        let error =
            OstepError::Expected { line: 7, expected: "a `PDBR: N` line", found: "end of input".to_owned() };
        assert_eq!(error.line(), 7);
        assert_eq!(error.to_string(), "line 7: expected a `PDBR: N` line, found end of input");
    }
}

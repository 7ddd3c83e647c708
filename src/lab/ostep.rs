//! Import of OSTEP homework simulator output (remzi-arpacidusseau/ostep-homework).
//!
//! Two simulators print page tables that pagelab can load:
//! - `vm-smalltables/paging-multilevel-translate.py`: a memory dump with a two-level table
//!   ([`parse_multilevel`], [`OstepMultilevel`]);
//! - `vm-paging/paging-linear-translate.py`: a linear table of 32-bit entries
//!   ([`parse_linear`], [`OstepLinear`]).
//!
//! Both problem files and solved files (`-c`) are read; [`detect`] tells them apart and [`parse`]
//! does both steps. The parsers never panic, whatever the input, and report the line of the first
//! problem. The `render_*` functions print values back in the simulators' layout for tests that
//! generate problems.

mod error;
mod linear;
mod linear_trace;
mod multilevel;
mod multilevel_answer;
mod render;
mod scan;
mod size;

pub use error::OstepError;
pub use linear::{LINEAR_VALID_BIT, LinearAnswer, OstepLinear, parse_linear};
pub use multilevel::{
    EntryRead, MULTILEVEL_ENTRIES, MULTILEVEL_PAGE_SIZE, MULTILEVEL_PHYS_PAGES, MULTILEVEL_VA_BITS,
    MultilevelAnswer, MultilevelOutcome, OstepMultilevel, parse_multilevel,
};
pub use render::{
    render_linear_problem, render_linear_solved, render_multilevel_problem, render_multilevel_solved,
};

/// Which simulator printed a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OstepKind {
    /// `paging-multilevel-translate.py`.
    Multilevel,
    /// `paging-linear-translate.py`.
    Linear,
}

/// A parsed file of either kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OstepFile {
    Multilevel(OstepMultilevel),
    Linear(OstepLinear),
}

/// Guesses which simulator printed `text`, from lines only one of them prints; `None` when
/// neither (or both) kinds of line appear, e.g. for the page replacement simulator's output.
#[must_use]
pub fn detect(text: &str) -> Option<OstepKind> {
    let mut multilevel = false;
    let mut linear = false;
    for line in text.lines().map(str::trim) {
        multilevel |=
            line.starts_with("PDBR:") || line.starts_with("ARG allocated") || is_page_dump_line(line);
        linear |= line.starts_with("ARG address space size")
            || line.starts_with("ARG phys mem size")
            || line == linear::TABLE_HEADER
            || line == linear::TRACE_HEADER;
    }
    match (multilevel, linear) {
        (true, false) => Some(OstepKind::Multilevel),
        (false, true) => Some(OstepKind::Linear),
        _ => None,
    }
}

/// `page <decimal>:`, the start of a memory dump line.
fn is_page_dump_line(line: &str) -> bool {
    line.strip_prefix("page")
        .and_then(|rest| rest.trim_start().split_once(':'))
        .is_some_and(|(frame, _)| !frame.is_empty() && frame.bytes().all(|b| b.is_ascii_digit()))
}

/// Detects the kind of `text` and parses it.
///
/// # Errors
/// [`OstepError::Unrecognized`] when [`detect`] cannot tell the kind, otherwise the error of
/// [`parse_multilevel`] or [`parse_linear`].
pub fn parse(text: &str) -> Result<OstepFile, OstepError> {
    match detect(text) {
        Some(OstepKind::Multilevel) => parse_multilevel(text).map(OstepFile::Multilevel),
        Some(OstepKind::Linear) => parse_linear(text).map(OstepFile::Linear),
        None => Err(OstepError::Unrecognized { line: 1 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_uses_lines_only_one_simulator_prints() {
        assert_eq!(detect("page   3:00\nPDBR: 3"), Some(OstepKind::Multilevel));
        assert_eq!(detect("ARG seed 1\nARG address space size 16k\n"), Some(OstepKind::Linear));
        assert_eq!(detect("ARG seed 1\nARG addresses -1\nAccess: 1  MISS"), None);
        assert_eq!(detect("PDBR: 1\nVirtual Address Trace"), None);
        assert_eq!(detect(""), None);
        assert!(!is_page_dump_line("page:"));
        assert!(!is_page_dump_line("pages 3:"));
    }

    #[test]
    fn parse_refuses_unknown_text_at_line_one() {
        assert_eq!(parse("hello"), Err(OstepError::Unrecognized { line: 1 }));
    }
}

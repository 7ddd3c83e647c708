//! Memory sizes as the OSTEP simulators write them: `16k`, `64K`, `1m`, `1g` (powers of 1024) or a
//! plain number of bytes.

use super::error::OstepError;

/// The suffixes the simulators' `convert()` accepts, largest first so that rendering picks the
/// shortest spelling.
const UNITS: [(char, u64); 3] = [('g', 1 << 30), ('m', 1 << 20), ('k', 1 << 10)];

/// Parses a size and requires a power of two, as page-table arithmetic needs.
///
/// `what` names the size in errors (`"page size"`); `line` is where it was read.
pub(super) fn parse_size(text: &str, what: &'static str, line: usize) -> Result<u64, OstepError> {
    let bad = || OstepError::Expected {
        line,
        expected: "a size such as 16k, 64k, 1m, 1g or a plain number of bytes",
        found: super::scan::quote(text),
    };
    let (digits, multiplier) = match text.char_indices().last() {
        Some((at, last)) if last.is_ascii_alphabetic() => {
            let multiplier = UNITS
                .iter()
                .find(|(unit, _)| last.eq_ignore_ascii_case(unit))
                .map(|&(_, multiplier)| multiplier)
                .ok_or_else(bad)?;
            (text.get(..at).ok_or_else(bad)?, multiplier)
        }
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let count: u64 = digits.parse().map_err(|_| OstepError::TooLarge { line, what })?;
    let value = count.checked_mul(multiplier).ok_or(OstepError::TooLarge { line, what })?;
    if !value.is_power_of_two() {
        return Err(OstepError::NotPowerOfTwo { line, what, value });
    }
    Ok(value)
}

/// Writes a size the way a user would type it for the simulator: the largest exact unit.
pub(super) fn format_size(value: u64) -> String {
    UNITS
        .iter()
        .find(|&&(_, multiplier)| value != 0 && value.is_multiple_of(multiplier))
        .map_or_else(|| value.to_string(), |&(unit, multiplier)| format!("{}{unit}", value / multiplier))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_powers_of_1024() {
        assert_eq!(parse_size("16k", "size", 1), Ok(16 * 1024));
        assert_eq!(parse_size("64K", "size", 1), Ok(64 * 1024));
        assert_eq!(parse_size("1m", "size", 1), Ok(1 << 20));
        assert_eq!(parse_size("512m", "size", 1), Ok(512 << 20));
        assert_eq!(parse_size("1g", "size", 1), Ok(1 << 30));
        assert_eq!(parse_size("4096", "size", 1), Ok(4096));
    }

    #[test]
    fn non_powers_of_two_are_refused() {
        assert_eq!(
            parse_size("12k", "page size", 3),
            Err(OstepError::NotPowerOfTwo { line: 3, what: "page size", value: 12 * 1024 })
        );
        assert!(matches!(parse_size("0", "size", 1), Err(OstepError::NotPowerOfTwo { value: 0, .. })));
    }

    #[test]
    fn malformed_sizes_are_refused_without_panicking() {
        for text in ["", "k", "16x", "-16k", "1.5k", "16kk", "é", "16é"] {
            assert!(
                matches!(parse_size(text, "size", 9), Err(OstepError::Expected { line: 9, .. })),
                "{text:?}"
            );
        }
        assert!(matches!(parse_size("99999999999999999999g", "size", 1), Err(OstepError::TooLarge { .. })));
        assert!(matches!(parse_size("17179869184g", "size", 1), Err(OstepError::TooLarge { .. })));
    }

    #[test]
    fn format_picks_the_largest_exact_unit() {
        assert_eq!(format_size(16 * 1024), "16k");
        assert_eq!(format_size(1 << 20), "1m");
        assert_eq!(format_size(1 << 30), "1g");
        assert_eq!(format_size(1 << 40), "1024g");
        assert_eq!(format_size(512), "512");
        assert_eq!(format_size(0), "0");
    }
}

//! Parsing and printing of addresses and sizes typed by users: hex (`0x…`, `_` separators),
//! decimal, and sizes with units (`4k`, `2M`, `1GiB`).

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ParseError {
    #[error("empty value")]
    Empty,
    #[error("{text:?} is not a number (use hex like 0x7fff_0000 or decimal like 4096)")]
    NotANumber { text: String },
    #[error("{text:?} does not fit in 64 bits")]
    TooLarge { text: String },
    #[error("{text:?} is not a size (use e.g. 4k, 2m, 1g, 4096 or 0x1000)")]
    NotASize { text: String },
}

/// Parses hex (`0x` prefix, `_` allowed) or decimal (`_` allowed).
pub fn parse_u64(text: &str) -> Result<u64, ParseError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ParseError::Empty);
    }
    let cleaned: String = trimmed.chars().filter(|&c| c != '_').collect();
    let (digits, radix) = match cleaned.strip_prefix("0x").or_else(|| cleaned.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (cleaned.as_str(), 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(ParseError::NotANumber { text: trimmed.to_string() });
    }
    u64::from_str_radix(digits, radix).map_err(|_| ParseError::TooLarge { text: trimmed.to_string() })
}

/// Parses a size: a number optionally followed by k, m, g, t (powers of 1024, with optional
/// `i`/`b`: `4k`, `4K`, `4KiB`, `2MB`).
pub fn parse_size(text: &str) -> Result<u64, ParseError> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let unit_start =
        lower.find(|c: char| matches!(c, 'k' | 'm' | 'g' | 't' | 'p' | 'b') && !lower.starts_with("0x"));
    let (number, unit) = match unit_start {
        Some(i) => lower.split_at(i),
        None => (lower.as_str(), ""),
    };
    let shift = match unit.trim() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        "p" | "pb" | "pib" => 50,
        _ => return Err(ParseError::NotASize { text: t.to_string() }),
    };
    let n = parse_u64(number).map_err(|e| match e {
        ParseError::TooLarge { .. } => e,
        _ => ParseError::NotASize { text: t.to_string() },
    })?;
    n.checked_mul(1u64 << shift).ok_or(ParseError::TooLarge { text: t.to_string() })
}

/// "4 KiB", "2 MiB", "3 bytes", "1.5 KiB".
pub fn format_size(bytes: u64) -> String {
    format_size_u128(u128::from(bytes))
}

/// As [`format_size`], for sizes beyond 64 bits (linear tables of 57-bit address spaces).
pub fn format_size_u128(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut unit = 0;
    let mut scale: u128 = 1024;
    while unit + 1 < UNITS.len() && bytes >= scale * 1024 {
        scale *= 1024;
        unit += 1;
    }
    if bytes.is_multiple_of(scale) {
        format!("{} {}", bytes / scale, UNITS[unit])
    } else {
        format!("{:.1} {}", bytes as f64 / scale as f64, UNITS[unit])
    }
}

/// A field's value as people read it: small values in decimal (a flag's 0 or 1), larger ones in
/// hex.
pub fn field_value(value: u64) -> String {
    if value < 10 { value.to_string() } else { format!("{value:#x}") }
}

/// Hex with `_` every four digits: `0x7fff_ffff_f000`.
pub fn hex_grouped(value: u64) -> String {
    let digits = format!("{value:x}");
    let mut out = String::with_capacity(digits.len() + digits.len() / 4 + 2);
    out.push_str("0x");
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 4 == 0 {
            out.push('_');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_hex_and_decimal() {
        assert_eq!(parse_u64("0x7fff_0000"), Ok(0x7fff_0000));
        assert_eq!(parse_u64("4_096"), Ok(4096));
        assert_eq!(parse_u64(" 0XFF "), Ok(255));
        assert_eq!(parse_u64("0xffff_ffff_ffff_ffff"), Ok(u64::MAX));
        assert!(matches!(parse_u64("0x1_0000_0000_0000_0000"), Err(ParseError::TooLarge { .. })));
        assert!(matches!(parse_u64("0x"), Err(ParseError::NotANumber { .. })));
        assert!(matches!(parse_u64("12a"), Err(ParseError::NotANumber { .. })));
        assert!(matches!(parse_u64("-1"), Err(ParseError::NotANumber { .. })));
        assert_eq!(parse_u64(""), Err(ParseError::Empty));
    }

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("2M"), Ok(2 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("0x1000"), Ok(4096));
        assert_eq!(parse_size("20 MiB"), Ok(20 << 20));
        assert!(parse_size("4q").is_err());
        assert!(parse_size("99999999999999p").is_err());
    }

    #[test]
    fn printing() {
        assert_eq!(format_size(24 * 1024), "24 KiB");
        assert_eq!(format_size(512 << 30), "512 GiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(12), "12 B");
        assert_eq!(hex_grouped(0x7fff_ffff_f000), "0x7fff_ffff_f000");
        assert_eq!(hex_grouped(0x123), "0x123");
    }
}

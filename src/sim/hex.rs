//! Hexadecimal digits and byte strings: the one encoder and decoder that lab files (memory and
//! swap bytes), sealed answers and the OSTEP importer share.

/// The value of one hex digit (either case).
pub fn digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Bytes as lower-case hex, two digits a byte.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    text
}

/// Pairs of hex digits to bytes; the error says what is wrong and where.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("hex string has an odd number of digits ({})", text.len()));
    }
    let mut bytes = Vec::with_capacity(text.len() / 2);
    for (i, pair) in text.as_bytes().chunks_exact(2).enumerate() {
        match (pair.first().copied().and_then(digit), pair.get(1).copied().and_then(digit)) {
            (Some(h), Some(l)) => bytes.push(h << 4 | l),
            _ => return Err(format!("not a hex digit near position {}", i * 2)),
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strict_decoding() {
        assert_eq!(encode(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(decode("00AB7f"), Ok(vec![0x00, 0xab, 0x7f]));
        assert!(decode("abc").unwrap_err().contains("odd"));
        assert!(decode("0g").unwrap_err().contains("position 0"));
        assert_eq!(digit(b'F'), Some(15));
        assert_eq!(digit(b'x'), None);
    }
}

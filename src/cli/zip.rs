//! A minimal zip writer for the Gradescope autograder bundle: deflated entries, Unix
//! permissions (so `run_autograder` stays executable), a fixed timestamp (the same inputs give
//! the same bytes) and no zip64 (the bundle is a few megabytes; larger inputs are refused).

use flate2::Compression;
use flate2::write::DeflateEncoder;
use std::io::Write as _;

/// One file of the archive.
pub struct Entry {
    /// Path inside the archive, `/`-separated.
    pub name: String,
    pub data: Vec<u8>,
    pub executable: bool,
}

/// 1980-01-01 00:00, the earliest MS-DOS date (day 1, month 1, year 0 since 1980).
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;
/// Version 2.0 (deflate), made on Unix (3) so external attributes hold permission bits.
const VERSION_NEEDED: u16 = 20;
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
/// Bit 11: names are UTF-8.
const FLAGS: u16 = 1 << 11;
const DEFLATE: u16 = 8;

fn u32_of(n: usize, what: &str) -> anyhow::Result<u32> {
    u32::try_from(n).map_err(|_| anyhow::anyhow!("{what} is too large for a zip without zip64"))
}

fn u16_of(n: usize, what: &str) -> anyhow::Result<u16> {
    u16::try_from(n).map_err(|_| anyhow::anyhow!("{what} is too large for a zip"))
}

/// The bytes of a zip archive holding `entries` in order.
pub fn write(entries: &[Entry]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in entries {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&entry.data)?;
        let packed = encoder.finish()?;
        let mut crc = flate2::Crc::new();
        crc.update(&entry.data);
        let name = entry.name.as_bytes();
        let (name_len, packed_len, size) = (
            u16_of(name.len(), &entry.name)?,
            u32_of(packed.len(), &entry.name)?,
            u32_of(entry.data.len(), &entry.name)?,
        );
        let offset = u32_of(out.len(), "the archive")?;
        let common = |buf: &mut Vec<u8>| {
            buf.extend_from_slice(&FLAGS.to_le_bytes());
            buf.extend_from_slice(&DEFLATE.to_le_bytes());
            buf.extend_from_slice(&DOS_TIME.to_le_bytes());
            buf.extend_from_slice(&DOS_DATE.to_le_bytes());
            buf.extend_from_slice(&crc.sum().to_le_bytes());
            buf.extend_from_slice(&packed_len.to_le_bytes());
            buf.extend_from_slice(&size.to_le_bytes());
            buf.extend_from_slice(&name_len.to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes()); // extra field length
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&VERSION_NEEDED.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name);
        out.extend_from_slice(&packed);

        let mode: u32 = if entry.executable { 0o100_755 } else { 0o100_644 };
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&VERSION_MADE_BY.to_le_bytes());
        central.extend_from_slice(&VERSION_NEEDED.to_le_bytes());
        common(&mut central);
        central.extend_from_slice(&0u16.to_le_bytes()); // comment length
        central.extend_from_slice(&0u16.to_le_bytes()); // disk number
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&(mode << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let count = u16_of(entries.len(), "the number of files")?;
    let central_offset = u32_of(out.len(), "the archive")?;
    let central_len = u32_of(central.len(), "the directory")?;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // this disk
    out.extend_from_slice(&0u16.to_le_bytes()); // disk with the directory
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&central_len.to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    Ok(out)
}

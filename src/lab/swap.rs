//! The OS model's swap area in a lab file (`"swap": [{"slot": N, "bytes": [[offset, "hex"]]}]`,
//! left out while empty). A swapped-out page's PTE keeps only its slot number; without the
//! slot's bytes in the file the page would come back as zeros after a save and a reopen.

use super::file::{ByteRun, LabError, byte_runs};
use crate::sim::format::PagingFormat;
use crate::sim::hex::decode as hex_decode;
use crate::sim::os::{SwapEncoding, SwapPages};
use serde::{Deserialize, Serialize};

/// Most bytes the swap pages of a lab may hold once loaded: a bound on what a hostile file can
/// make us allocate (each page costs up to its last stored byte).
pub const MAX_SWAP_BYTES: u64 = 1 << 30;

/// One swap slot as stored; a page of zeros has no byte runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoredSwapPage {
    pub slot: u64,
    #[serde(default)]
    pub bytes: Vec<ByteRun>,
}

/// The on-disk form of the swap pages, by slot.
pub fn to_stored(pages: &SwapPages) -> Vec<StoredSwapPage> {
    pages
        .iter()
        .map(|(&slot, bytes)| StoredSwapPage {
            slot,
            bytes: bytes.as_deref().map(byte_runs).unwrap_or_default(),
        })
        .collect()
}

/// Checks the stored swap pages against the lab's format: each slot fits its swap entries and is
/// listed once, and each run lies inside a page.
///
/// # Errors
/// The first problem, at its JSON path (`swap[2].bytes[0]`).
pub fn from_stored(stored: &[StoredSwapPage], format: &PagingFormat) -> Result<SwapPages, LabError> {
    let mut pages = SwapPages::new();
    if stored.is_empty() {
        return Ok(pages);
    }
    let encoding = SwapEncoding::for_format(format).ok_or_else(|| {
        LabError::new("swap", format!("the {} format has no swap entries to name these slots", format.name))
    })?;
    let page_size = format.page_size();
    let mut total: u64 = 0;
    for (i, page) in stored.iter().enumerate() {
        let path = format!("swap[{i}]");
        if page.slot >= encoding.max_slots() {
            return Err(LabError::new(
                format!("{path}.slot"),
                format!(
                    "slot {} does not fit the format's swap entries ({} slots)",
                    page.slot,
                    encoding.max_slots()
                ),
            ));
        }
        let mut bytes = Vec::new();
        for (j, ByteRun(offset, hex)) in page.bytes.iter().enumerate() {
            let run_path = format!("{path}.bytes[{j}]");
            let run = hex_decode(hex).map_err(|e| LabError::new(&run_path, e))?;
            let end =
                offset.checked_add(run.len() as u64).filter(|&end| end <= page_size).ok_or_else(|| {
                    LabError::new(
                        &run_path,
                        format!(
                            "{} bytes at offset {offset:#x} overflow the {page_size}-byte page",
                            run.len()
                        ),
                    )
                })?;
            let grown = end.saturating_sub(bytes.len() as u64);
            total = total.saturating_add(grown);
            if total > MAX_SWAP_BYTES {
                return Err(LabError::new(
                    &run_path,
                    format!("the swap pages hold more than {MAX_SWAP_BYTES} bytes"),
                ));
            }
            // Fails only on a host whose addresses are narrower than the run's offset.
            let (start, end) = (usize::try_from(*offset), usize::try_from(end));
            let (Ok(start), Ok(end)) = (start, end) else {
                return Err(LabError::new(&run_path, "the run does not fit in this machine's memory"));
            };
            if bytes.len() < end {
                bytes.resize(end, 0);
            }
            if let Some(target) = bytes.get_mut(start..end) {
                target.copy_from_slice(&run);
            }
        }
        if pages.insert(page.slot, Some(bytes.into_boxed_slice())).is_some() {
            return Err(LabError::new(format!("{path}.slot"), format!("slot {} is listed twice", page.slot)));
        }
    }
    // Normalized as the swap area stores pages: trailing zeros dropped, zero pages as `None`.
    Ok(crate::sim::os::SwapArea::from_pages(pages).pages().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::presets;

    fn format(name: &str) -> PagingFormat {
        presets::by_name(name).unwrap()
    }

    fn page(slot: u64, runs: &[(u64, &str)]) -> StoredSwapPage {
        StoredSwapPage { slot, bytes: runs.iter().map(|&(o, h)| ByteRun(o, h.into())).collect() }
    }

    #[test]
    fn pages_round_trip_and_zero_pages_have_no_runs() {
        let stored = vec![page(0, &[(4, "0102")]), page(3, &[])];
        let pages = from_stored(&stored, &format("x86-64")).unwrap();
        assert_eq!(pages.get(&0), Some(&Some(Box::from(&[0u8, 0, 0, 0, 1, 2][..]))));
        assert_eq!(pages.get(&3), Some(&None));
        assert_eq!(to_stored(&pages), stored);
    }

    #[test]
    fn bad_slots_and_runs_are_refused_at_their_path() {
        let x86 = format("x86-64");
        let err = |stored: Vec<StoredSwapPage>, f: &PagingFormat| from_stored(&stored, f).unwrap_err().path;
        assert_eq!(err(vec![page(0, &[(4095, "0102")])], &x86), "swap[0].bytes[0]");
        assert_eq!(err(vec![page(0, &[]), page(1, &[(0, "zz")])], &x86), "swap[1].bytes[0]");
        assert_eq!(err(vec![page(1, &[]), page(1, &[])], &x86), "swap[1].slot");
        assert_eq!(err(vec![page(64, &[])], &format("ostep-multilevel")), "swap[0].slot");
        assert_eq!(err(vec![page(u64::MAX, &[(u64::MAX, "01")])], &x86), "swap[0].slot");
    }

    #[test]
    fn a_lab_file_carries_its_swap_and_names_bad_runs_by_path() {
        use crate::lab::Lab;
        let machine = crate::sim::Machine::new(format("x86-64"), 1 << 22).unwrap();
        let mut lab = Lab::new("t", "", machine);
        assert!(!lab.to_json().contains("\"swap\""), "left out while empty");
        lab.swap.insert(2, Some(Box::from(&b"hi"[..])));
        let json = lab.to_json();
        assert_eq!(Lab::from_json(&json).unwrap(), lab);
        let bad = json.replace("\"6869\"", "\"68x9\"");
        assert_eq!(Lab::from_json(&bad).unwrap_err().path, "swap[0].bytes[0]");
    }
}

//! The swap area and how a swapped-out page's slot is kept in its not-present PTE.
//!
//! Hardware ignores every other bit of an entry whose present/valid bit is clear (Intel SDM
//! Vol. 3A 4.5: bits 63:1 of a not-present entry are ignored; RISC-V: a PTE with V=0 faults and
//! its other bits are free for software). The OS model stores there:
//!
//! - the present bit stays 0, so the page faults;
//! - the *swap marker*, the lowest bit other than the present bit, is 1 (an all-zero entry is
//!   a page that was never loaded, or a clean zero page that was dropped);
//! - the slot number fills the remaining bits from the lowest up, skipping the present bit.
//!
//! On x86 and RISC-V (present bit 0) that is `raw = slot << 2 | 0b10`. On OSTEP's one-byte
//! entries (valid bit 7) the marker is bit 0 and the slot takes bits 1..=6 (64 slots).

use super::super::format::{PagingFormat, Role};
use std::collections::BTreeMap;

/// The bit layout of a swap entry for one paging format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwapEncoding {
    present_bit: u32,
    marker_bit: u32,
    pte_bits: u32,
}

impl SwapEncoding {
    /// The layout for `format`'s last-level entries; `None` when the format has no one-bit
    /// present field there or entries too narrow to hold a marker and a slot.
    #[must_use]
    pub fn for_format(format: &PagingFormat) -> Option<Self> {
        let present = format.field(Role::Present, format.last_level()).filter(|f| f.width == 1)?;
        let pte_bits = format.pte_bits().min(64);
        if pte_bits < 3 || present.lsb >= pte_bits {
            return None;
        }
        let marker_bit = if present.lsb == 0 { 1 } else { 0 };
        Some(Self { present_bit: present.lsb, marker_bit, pte_bits })
    }

    /// Bits that hold the slot number.
    #[must_use]
    pub const fn slot_bits(&self) -> u32 {
        self.pte_bits - 2
    }

    /// How many slots the entries can name.
    #[must_use]
    pub const fn max_slots(&self) -> u64 {
        if self.slot_bits() >= 64 { u64::MAX } else { 1u64 << self.slot_bits() }
    }

    /// Bit positions of the slot number, least significant first.
    fn slot_positions(&self) -> impl Iterator<Item = u32> + use<> {
        let (present, marker) = (self.present_bit, self.marker_bit);
        (0..self.pte_bits).filter(move |&bit| bit != present && bit != marker)
    }

    /// The not-present entry naming `slot`, or `None` if the slot does not fit.
    #[must_use]
    pub fn encode(&self, slot: u64) -> Option<u64> {
        if slot >= self.max_slots() {
            return None;
        }
        let mut raw = 1u64 << self.marker_bit;
        for (i, bit) in self.slot_positions().enumerate() {
            if slot >> i & 1 == 1 {
                raw |= 1u64 << bit;
            }
        }
        Some(raw)
    }

    /// The slot a not-present entry names, or `None` for a present entry or one without the
    /// marker.
    #[must_use]
    pub fn decode(&self, raw: u64) -> Option<u64> {
        if raw >> self.present_bit & 1 == 1 || raw >> self.marker_bit & 1 == 0 {
            return None;
        }
        let mut slot = 0;
        for (i, bit) in self.slot_positions().enumerate() {
            slot |= (raw >> bit & 1) << i;
        }
        Some(slot)
    }

    /// The layout in words, for the GUI and the README.
    #[must_use]
    pub fn describe(&self) -> String {
        let top = self.pte_bits - 1;
        if self.present_bit == 0 {
            format!("P/V (bit 0) = 0, bit 1 = swap marker, bits {top}:2 = swap slot")
        } else {
            format!(
                "valid (bit {}) = 0, bit {} = swap marker, the other bits = swap slot",
                self.present_bit, self.marker_bit
            )
        }
    }
}

/// The contents of a swap area, by slot: a page's bytes up to its last nonzero one, or `None`
/// for a page of zeros. This is what a lab file keeps of the swap area.
pub type SwapPages = BTreeMap<u64, Option<Box<[u8]>>>;

/// Swapped-out pages: slot number to page bytes. A page of zeros takes no room.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwapArea {
    /// Slots in use.
    slots: SwapPages,
    /// Page writes to swap so far.
    writes: u64,
    /// Page reads from swap so far.
    reads: u64,
}

impl SwapArea {
    /// A swap area holding `pages` (from a saved lab), with no reads or writes counted yet.
    #[must_use]
    pub fn from_pages(pages: SwapPages) -> Self {
        let slots =
            pages.into_iter().map(|(slot, bytes)| (slot, bytes.as_deref().and_then(trimmed))).collect();
        Self { slots, writes: 0, reads: 0 }
    }

    /// The pages held, by slot.
    #[must_use]
    pub const fn pages(&self) -> &SwapPages {
        &self.slots
    }

    /// The lowest free slot below `max_slots`, now taken (holding zeros), or `None` when full.
    pub fn allocate(&mut self, max_slots: u64) -> Option<u64> {
        let mut candidate = 0;
        for &used in self.slots.keys() {
            if used != candidate {
                break;
            }
            candidate += 1;
        }
        if candidate >= max_slots {
            return None;
        }
        self.slots.insert(candidate, None);
        Some(candidate)
    }

    /// Writes a page into `slot` (`None` or all zeros: a zero page).
    pub fn store(&mut self, slot: u64, bytes: Option<&[u8]>) {
        self.slots.insert(slot, bytes.and_then(trimmed));
        self.writes += 1;
    }

    /// Reads the page in `slot` into `out` (zeros for a zero page); false if the slot is unused.
    pub fn load(&mut self, slot: u64, out: &mut [u8]) -> bool {
        let Some(stored) = self.slots.get(&slot) else { return false };
        out.fill(0);
        if let Some(bytes) = stored {
            let n = bytes.len().min(out.len());
            if let (Some(dst), Some(src)) = (out.get_mut(..n), bytes.get(..n)) {
                dst.copy_from_slice(src);
            }
        }
        self.reads += 1;
        true
    }

    /// The bytes in `slot`: `Some(None)` for a zero page, `None` for an unused slot.
    #[must_use]
    pub fn get(&self, slot: u64) -> Option<Option<&[u8]>> {
        self.slots.get(&slot).map(|b| b.as_deref())
    }

    /// Slots in use, in order.
    pub fn used_slots(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.keys().copied()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Pages written to swap so far.
    #[must_use]
    pub const fn writes(&self) -> u64 {
        self.writes
    }

    /// Pages read back from swap so far.
    #[must_use]
    pub const fn reads(&self) -> u64 {
        self.reads
    }
}

/// A page's bytes up to its last nonzero one (reads fill the rest with zeros), so that equal
/// pages are stored alike however they were written; `None` for a page of zeros.
fn trimmed(bytes: &[u8]) -> Option<Box<[u8]>> {
    let end = bytes.iter().rposition(|&b| b != 0)? + 1;
    bytes.get(..end).map(Box::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::presets;

    fn encoding(name: &str) -> SwapEncoding {
        presets::by_name(name).and_then(|f| SwapEncoding::for_format(&f)).expect("encoding")
    }

    #[test]
    fn x86_and_riscv_put_the_slot_above_the_marker() {
        for name in ["x86-64", "x86-32", "sv39", "sv32"] {
            let e = encoding(name);
            assert_eq!(e.encode(5), Some(5 << 2 | 0b10), "{name}");
            assert_eq!(e.decode(5 << 2 | 0b10), Some(5));
            assert_eq!(e.decode(5 << 2 | 0b11), None, "present entries are not swap entries");
            assert_eq!(e.decode(0), None, "an empty entry is not a swap entry");
        }
        assert_eq!(encoding("x86-64").max_slots(), 1 << 62);
    }

    #[test]
    fn ostep_one_byte_entries_skip_the_valid_bit() {
        let e = encoding("ostep-multilevel");
        assert_eq!(e.max_slots(), 64);
        for slot in 0..64 {
            let raw = e.encode(slot).expect("fits");
            assert!(raw < 0x80, "valid bit 7 stays clear: {raw:#x}");
            assert_eq!(e.decode(raw), Some(slot));
        }
        assert_eq!(e.encode(64), None);
    }

    #[test]
    fn slots_are_reused_lowest_first_and_zero_pages_cost_nothing() {
        let mut swap = SwapArea::default();
        assert_eq!(swap.allocate(3), Some(0));
        assert_eq!(swap.allocate(3), Some(1));
        swap.store(1, Some(&[0, 0, 0]));
        assert_eq!(swap.get(1), Some(None));
        swap.store(0, Some(&[1, 2, 3]));
        let mut page = [9u8; 4];
        assert!(swap.load(0, &mut page));
        assert_eq!(page, [1, 2, 3, 0]);
        assert!(!swap.load(7, &mut page));
        assert_eq!(swap.allocate(3), Some(2));
        assert_eq!(swap.allocate(3), None);
    }

    #[test]
    fn pages_survive_a_trip_through_their_contents() {
        let mut swap = SwapArea::default();
        swap.store(0, Some(&[0, 7, 0, 0]));
        swap.store(2, None);
        let back = SwapArea::from_pages(swap.pages().clone());
        assert_eq!(back.pages(), swap.pages());
        assert_eq!(back.get(0), Some(Some(&[0u8, 7][..])), "trailing zeros are not kept");
        assert_eq!((back.writes(), back.reads()), (0, 0));
        let zeros: Box<[u8]> = Box::from(&[0u8, 0][..]);
        let padded =
            SwapArea::from_pages(BTreeMap::from([(0, Some(Box::from(&[0u8, 7, 0][..]))), (1, Some(zeros))]));
        assert_eq!(padded.get(0), Some(Some(&[0u8, 7][..])));
        assert_eq!(padded.get(1), Some(None), "a page of zeros is stored as one");
    }
}

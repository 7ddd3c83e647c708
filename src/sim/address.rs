//! The four kinds of address the core passes around, as distinct types so that one cannot be
//! used for another by accident: [`VirtAddr`] (what a program uses), [`PhysAddr`] (a byte of
//! simulated physical memory), [`Pfn`] (a physical frame number: CR3 >> 12, satp.PPN, a PTE's
//! frame field) and [`EntryAddr`] (the physical byte address of a page-table entry).
//!
//! Each is a plain `u64` underneath (`#[repr(transparent)]`, `#[serde(transparent)]`, so lab
//! files and JSON output are unchanged). Converting between kinds goes through a method named
//! for what it does (`Pfn::base`, `PhysAddr::pfn`, `EntryAddr::phys`); adding a byte count is
//! checked and returns `None` on overflow. There is no `Add`/`Sub` between kinds.

use super::addr::{ParseError, parse_u64};
use super::format::low_mask;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Defines the newtype, its constructor and accessor, and hex printing identical to a `u64`'s
/// (`{:#x}` prints `0x1000`; `Display` prints the same).
macro_rules! address_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        #[repr(transparent)]
        pub struct $name(u64);

        impl $name {
            pub const fn new(value: u64) -> Self {
                Self(value)
            }

            /// The number itself (for hardware fields, bit arithmetic inside a walk, printing).
            pub const fn get(self) -> u64 {
                self.0
            }

            /// Parses user input: hex (`0x…`, `_` allowed) or decimal.
            pub fn parse(text: &str) -> Result<Self, ParseError> {
                parse_u64(text).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:#x}", self.0)
            }
        }

        impl fmt::LowerHex for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::LowerHex::fmt(&self.0, f)
            }
        }

        impl fmt::UpperHex for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::UpperHex::fmt(&self.0, f)
            }
        }

        /// The schema of a bare `u64`, inlined: lab files and their schema do not change.
        impl schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                <u64 as schemars::JsonSchema>::schema_name()
            }

            fn schema_id() -> std::borrow::Cow<'static, str> {
                <u64 as schemars::JsonSchema>::schema_id()
            }

            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                <u64 as schemars::JsonSchema>::json_schema(generator)
            }
        }

        impl From<$name> for u64 {
            fn from(value: $name) -> u64 {
                value.0
            }
        }
    };
}

address_type!(
    /// A virtual address, as a program issues it (canonical or not: that is the format's rule).
    VirtAddr
);
address_type!(
    /// A physical byte address in simulated memory.
    PhysAddr
);
address_type!(
    /// A physical frame number: a physical address shifted right by the frame shift (x86
    /// CR3 >> 12, RISC-V satp.PPN, a PTE's frame field).
    Pfn
);
address_type!(
    /// The physical byte address of a page-table entry (a table's address plus index × entry
    /// size).
    EntryAddr
);

impl VirtAddr {
    /// The address `bytes` further on, or `None` past the top of the 64-bit space.
    pub fn checked_add(self, bytes: u64) -> Option<Self> {
        self.0.checked_add(bytes).map(Self)
    }

    /// The byte offset within a page of `1 << page_shift` bytes.
    pub fn offset_in_page(self, page_shift: u32) -> u64 {
        self.0 & low_mask(page_shift)
    }

    /// Whether the address is a multiple of `bytes` (a page size).
    pub fn is_aligned(self, bytes: u64) -> bool {
        bytes != 0 && self.0.is_multiple_of(bytes)
    }
}

impl PhysAddr {
    /// The address `bytes` further on, or `None` past the top of the 64-bit space.
    pub fn checked_add(self, bytes: u64) -> Option<Self> {
        self.0.checked_add(bytes).map(Self)
    }

    /// The frame holding this byte, for frames of `1 << frame_shift` bytes.
    pub fn pfn(self, frame_shift: u32) -> Pfn {
        Pfn(self.0.checked_shr(frame_shift).unwrap_or(0))
    }

    /// The byte offset within its frame.
    pub fn offset_in_frame(self, frame_shift: u32) -> u64 {
        self.0 & low_mask(frame_shift)
    }

    /// Whether the address is a multiple of `bytes` (a frame or entry size).
    pub fn is_aligned(self, bytes: u64) -> bool {
        bytes != 0 && self.0.is_multiple_of(bytes)
    }

    /// The address of entry `index` of the table at this address, with entries of `entry_bytes`
    /// bytes; `None` when it lies past the top of the 64-bit space.
    pub fn entry(self, index: u64, entry_bytes: u32) -> Option<EntryAddr> {
        let offset = index.checked_mul(u64::from(entry_bytes))?;
        self.0.checked_add(offset).map(EntryAddr)
    }
}

impl Pfn {
    /// The physical address of the frame's first byte, for frames of `1 << frame_shift` bytes;
    /// `None` when that address does not fit in 64 bits (a frame number read from a corrupt
    /// entry can be that large).
    pub fn base(self, frame_shift: u32) -> Option<PhysAddr> {
        let addr = self.0.checked_shl(frame_shift)?;
        (addr.checked_shr(frame_shift) == Some(self.0)).then_some(PhysAddr(addr))
    }

    /// The frame `frames` further on, or `None` past the largest frame number.
    pub fn checked_add(self, frames: u64) -> Option<Self> {
        self.0.checked_add(frames).map(Self)
    }

    /// The frame `frames` further on, stopping at the largest frame number (for the end of a
    /// run of frames that is then clipped to memory).
    pub fn saturating_add(self, frames: u64) -> Self {
        Self(self.0.saturating_add(frames))
    }

    /// How many frames `self` lies after `start`, or `None` when it lies before.
    pub fn frames_since(self, start: Pfn) -> Option<u64> {
        self.0.checked_sub(start.0)
    }
}

impl EntryAddr {
    /// The same byte as a physical address (an entry is bytes in memory).
    pub fn phys(self) -> PhysAddr {
        PhysAddr(self.0)
    }

    /// Whether the address is a multiple of the entry size (an entry never straddles two).
    pub fn is_aligned(self, entry_bytes: u32) -> bool {
        entry_bytes != 0 && self.0.is_multiple_of(u64::from(entry_bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_number_and_its_base_address() {
        // Frame 0x5 of 4 KiB frames starts at 0x5 * 0x1000 = 0x5000.
        assert_eq!(Pfn::new(5).base(12), Some(PhysAddr::new(0x5000)));
        // 0x5abc lies in frame 0x5abc / 0x1000 = 5, 0xabc bytes in.
        assert_eq!(PhysAddr::new(0x5abc).pfn(12), Pfn::new(5));
        assert_eq!(PhysAddr::new(0x5abc).offset_in_frame(12), 0xabc);
        // OSTEP's 32-byte pages: 0x6a5 is frame 0x35 (0x6a5 / 32 = 53), offset 5.
        assert_eq!(PhysAddr::new(0x6a5).pfn(5), Pfn::new(0x35));
        assert_eq!(PhysAddr::new(0x6a5).offset_in_frame(5), 5);
        // A frame number whose base needs more than 64 bits has none: 2^52 << 12 = 2^64.
        assert_eq!(Pfn::new(1 << 52).base(12), None);
        assert_eq!(Pfn::new((1 << 52) - 1).base(12), Some(PhysAddr::new(0xffff_ffff_ffff_f000)));
    }

    #[test]
    fn entries_of_a_table() {
        // Entry 3 of 8-byte entries in the table at 0x2000 is at 0x2000 + 24 = 0x2018.
        let entry = PhysAddr::new(0x2000).entry(3, 8).unwrap();
        assert_eq!(entry, EntryAddr::new(0x2018));
        assert_eq!(entry.phys(), PhysAddr::new(0x2018));
        assert!(entry.is_aligned(8));
        assert!(!EntryAddr::new(0x2014).is_aligned(8));
        assert!(EntryAddr::new(0x2014).is_aligned(4));
        assert_eq!(PhysAddr::new(u64::MAX - 15).entry(1, 8), Some(EntryAddr::new(u64::MAX - 7)));
        assert_eq!(PhysAddr::new(u64::MAX - 15).entry(2, 8), None);
    }

    #[test]
    fn adding_bytes_is_checked() {
        assert_eq!(VirtAddr::new(0x1000).checked_add(0x234), Some(VirtAddr::new(0x1234)));
        assert_eq!(VirtAddr::new(u64::MAX).checked_add(1), None);
        assert_eq!(PhysAddr::new(0xfff).checked_add(1), Some(PhysAddr::new(0x1000)));
        assert_eq!(PhysAddr::new(u64::MAX).checked_add(1), None);
        assert_eq!(Pfn::new(7).checked_add(2), Some(Pfn::new(9)));
        assert_eq!(Pfn::new(u64::MAX).saturating_add(2), Pfn::new(u64::MAX));
        assert_eq!(Pfn::new(9).frames_since(Pfn::new(7)), Some(2));
        assert_eq!(Pfn::new(7).frames_since(Pfn::new(9)), None);
        // 0x7fff_ffff_f123 is 0x123 bytes into its 4 KiB page.
        assert_eq!(VirtAddr::new(0x7fff_ffff_f123).offset_in_page(12), 0x123);
        assert!(VirtAddr::new(0x20_0000).is_aligned(2 << 20));
        assert!(!VirtAddr::new(0x20_1000).is_aligned(2 << 20));
        assert!(PhysAddr::new(0x3000).is_aligned(0x1000));
    }

    #[test]
    fn parsing_and_printing_as_plain_numbers() {
        assert_eq!(VirtAddr::parse("0x7fff_0000"), Ok(VirtAddr::new(0x7fff_0000)));
        assert_eq!(PhysAddr::parse("4096"), Ok(PhysAddr::new(0x1000)));
        assert!(Pfn::parse("twelve").is_err());
        assert_eq!(format!("{:#x}", PhysAddr::new(0x5000)), "0x5000");
        assert_eq!(format!("{}", VirtAddr::new(0x1000)), "0x1000");
        assert_eq!(format!("{:x}", Pfn::new(0xab)), "ab");
        assert_eq!(format!("{:#06x}", EntryAddr::new(0x18)), "0x0018");
        assert_eq!(u64::from(Pfn::new(3)), 3);
    }

    #[test]
    fn json_is_the_bare_number() {
        assert_eq!(serde_json::to_string(&Pfn::new(0x20)).unwrap(), "32");
        assert_eq!(serde_json::from_str::<VirtAddr>("4096").unwrap(), VirtAddr::new(0x1000));
    }
}

//! Paging formats as data: levels, index bits, page and entry sizes, named PTE fields and the
//! rules (leaf, permissions, address checks) that the MMU walk reads instead of `if arch == ..`.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Which family of hardware rules a format follows: how permissions combine, how faults are
/// reported and how the accessed/dirty bits behave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// Intel/AMD: U/S and R/W combine over every level, NX at any level, #PF error codes.
    X86,
    /// RISC-V Sv*: permissions from the leaf only, SUM/MXR, page-fault causes 12/13/15.
    RiscV,
    /// Teaching formats (OSTEP, custom): x86-style combination of whichever permission fields
    /// the format defines, no architectural error code.
    Generic,
}

/// What a PTE field means to the MMU.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Present / valid: the entry is used only when this bit is set.
    Present,
    /// Writes allowed (x86 R/W, RISC-V W).
    Writable,
    /// User-mode accessible (x86 U/S, RISC-V U).
    User,
    /// Set by hardware when the entry is used.
    Accessed,
    /// Set by hardware on a write through a leaf.
    Dirty,
    /// x86 PS: the entry maps a large page instead of pointing to a table.
    PageSize,
    /// Global: the translation survives address-space switches in the TLB.
    Global,
    /// x86 XD/NX: instruction fetches are not allowed.
    NoExecute,
    /// RISC-V R: loads allowed.
    Readable,
    /// RISC-V X: instruction fetches allowed.
    Executable,
    /// The frame number of the next table or of the page.
    Frame,
    /// Must be zero; a set bit is a reserved-bit fault.
    Reserved,
    /// Ignored by the MMU (software bits, caching attributes).
    Other,
}

/// A named bit field of a page-table entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    /// Least significant bit.
    pub lsb: u32,
    pub width: u32,
    pub role: Role,
    /// Levels (0 = root) where the field exists; `None` means every level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<usize>>,
    /// What the field does on this architecture (tooltips, docs).
    #[serde(default)]
    pub doc: String,
}

impl Field {
    pub fn mask(&self) -> u64 {
        low_mask(self.width) << self.lsb
    }

    pub fn get(&self, raw: u64) -> u64 {
        (raw >> self.lsb) & low_mask(self.width)
    }

    /// `raw` with this field replaced by `value` (truncated to the field's width).
    pub fn set(&self, raw: u64, value: u64) -> u64 {
        (raw & !self.mask()) | ((value & low_mask(self.width)) << self.lsb)
    }

    pub fn at_level(&self, level: usize) -> bool {
        self.levels.as_ref().is_none_or(|l| l.contains(&level))
    }

    pub fn is_flag(&self) -> bool {
        self.width == 1
    }
}

/// A mask of the low `bits` bits, saturating at 64.
pub fn low_mask(bits: u32) -> u64 {
    if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 }
}

/// One level of the tree, root first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub name: String,
    pub index_bits: u32,
    /// An entry at this level may map a page directly (a huge page / superpage). The last
    /// level always maps pages.
    #[serde(default)]
    pub huge: bool,
}

/// How the walk decides that an entry maps a page rather than pointing to a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LeafRule {
    /// Only the last level maps pages.
    LastLevel,
    /// x86: the PS bit at a level that allows huge pages.
    PageSizeBit,
    /// RISC-V: an entry with R or X set is a leaf, at any level.
    ReadOrExecute,
}

/// What the walk does with frame-number bits below a huge page's alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "rule")]
pub enum SuperpageLowBits {
    /// x86: they are reserved (a reserved-bit fault), except the PAT bit at `except_bit`.
    Reserved { except_bit: Option<u32> },
    /// RISC-V: a nonzero low PPN is a misaligned-superpage page fault.
    Misaligned,
    /// They are ignored.
    Ignored,
}

/// How many PDPTE registers PAE paging has.
pub const PDPTE_REGISTERS: usize = 4;

/// A complete paging format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PagingFormat {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub arch: Arch,
    pub va_bits: u32,
    pub pa_bits: u32,
    /// log2 of the base page size.
    pub page_shift: u32,
    /// Bytes per page-table entry: 1, 2, 4 or 8.
    pub pte_bytes: u32,
    pub levels: Vec<Level>,
    pub fields: Vec<Field>,
    pub leaf_rule: LeafRule,
    /// Virtual addresses must be sign-extended from bit `va_bits - 1` (x86-64, RISC-V).
    #[serde(default)]
    pub canonical: bool,
    pub superpage_low_bits: SuperpageLowBits,
    /// Field names set on a new leaf when the user names none (besides the present bit).
    #[serde(default)]
    pub default_leaf_flags: Vec<String>,
    /// Field names set on a new intermediate entry (besides the present bit).
    #[serde(default)]
    pub table_flags: Vec<String>,
}

/// Why a format definition is refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FormatError {
    #[error("a format needs at least one level")]
    NoLevels,
    #[error("too many levels ({0}); at most 8")]
    TooManyLevels(usize),
    #[error("entry size must be 1, 2, 4 or 8 bytes, not {0}")]
    BadEntrySize(u32),
    #[error("page offset bits must be between 1 and 40, not {0}")]
    BadPageShift(u32),
    #[error("level {level} ({name}) has {bits} index bits; allowed are 1 to 30")]
    BadIndexBits { level: usize, name: String, bits: u32 },
    #[error(
        "index bits ({index}) plus page offset bits ({offset}) make {sum}, but the virtual address has {va_bits} bits"
    )]
    VaBitsMismatch { index: u32, offset: u32, sum: u32, va_bits: u32 },
    #[error("physical address bits must be between the page offset ({page_shift}) and 64, not {pa_bits}")]
    BadPaBits { pa_bits: u32, page_shift: u32 },
    #[error("field {name} (bits {lsb}..{end}) does not fit in a {bits}-bit entry")]
    FieldOutOfEntry { name: String, lsb: u32, end: u32, bits: u32 },
    #[error("field {name} has width 0")]
    EmptyField { name: String },
    #[error("fields {a} and {b} overlap at level {level}")]
    Overlap { a: String, b: String, level: usize },
    #[error("level {level} has no {role:?} field")]
    MissingRole { role: Role, level: usize },
    #[error("level {level} has more than one {role:?} field")]
    DuplicateRole { role: Role, level: usize },
    #[error("field {name} has role {role:?} and must be 1 bit wide")]
    FlagWidth { name: String, role: Role },
    #[error("field {name} names level {level}, but the format has {levels} levels")]
    FieldLevel { name: String, level: usize, levels: usize },
    #[error("two fields are called {0}")]
    DuplicateName(String),
    #[error("the {rule:?} leaf rule needs a {role:?} field")]
    LeafRuleNeeds { rule: LeafRule, role: Role },
    #[error("the last level cannot be marked huge; it always maps pages")]
    HugeLastLevel,
    #[error(
        "the frame field at level {level} is {width} bits wide; it must hold at least one bit and at most {max}"
    )]
    FrameWidth { level: usize, width: u32, max: u32 },
    #[error("default flag {0} is not a field of the format")]
    UnknownFlag(String),
    #[error("a table of {entries} entries of {bytes} bytes is too large (at most 1 GiB)")]
    TableTooLarge { entries: u64, bytes: u32 },
}

impl PagingFormat {
    pub fn page_size(&self) -> u64 {
        1u64 << self.page_shift
    }

    pub fn pte_bits(&self) -> u32 {
        self.pte_bytes * 8
    }

    pub fn level_count(&self) -> usize {
        self.levels.len()
    }

    pub fn last_level(&self) -> usize {
        self.levels.len().saturating_sub(1)
    }

    /// Whether the root table is PAE's page-directory-pointer table of four entries, which the
    /// processor loads into registers on a CR3 load (SDM Vol. 3A 4.4.1): x86, 8-byte entries,
    /// four entries at the root.
    pub fn has_pdpte_registers(&self) -> bool {
        self.arch == Arch::X86 && self.pte_bytes == 8 && self.entries_at(0) == PDPTE_REGISTERS as u64
    }

    /// Entries in one table at `level`.
    pub fn entries_at(&self, level: usize) -> u64 {
        self.levels.get(level).map_or(0, |l| 1u64 << l.index_bits)
    }

    /// Bytes of one table at `level`.
    pub fn table_bytes(&self, level: usize) -> u64 {
        self.entries_at(level) * u64::from(self.pte_bytes)
    }

    /// Frames a table at `level` occupies (a linear table may span many; a PAE PDPT shares one).
    pub fn table_frames(&self, level: usize) -> u64 {
        self.table_bytes(level).div_ceil(self.page_size()).max(1)
    }

    /// log2 of the bytes one entry at `level` covers.
    pub fn entry_span_shift(&self, level: usize) -> u32 {
        self.page_shift + self.levels.iter().skip(level + 1).map(|l| l.index_bits).sum::<u32>()
    }

    /// The index into the table at `level` for virtual address `va`.
    pub fn index_of(&self, va: u64, level: usize) -> u64 {
        let bits = self.levels.get(level).map_or(0, |l| l.index_bits);
        (va >> self.entry_span_shift(level)) & low_mask(bits)
    }

    /// Levels where a page can be mapped, with the page's size as a shift, smallest first.
    pub fn page_sizes(&self) -> Vec<(usize, u32)> {
        let mut sizes: Vec<(usize, u32)> = (0..self.levels.len())
            .filter(|&l| l == self.last_level() || self.levels[l].huge)
            .map(|l| (l, self.entry_span_shift(l)))
            .collect();
        sizes.sort_by_key(|&(_, shift)| shift);
        sizes
    }

    /// The level that maps pages of `1 << shift` bytes, if the format has such pages.
    pub fn level_for_page_shift(&self, shift: u32) -> Option<usize> {
        self.page_sizes().into_iter().find(|&(_, s)| s == shift).map(|(l, _)| l)
    }

    /// The first field with `role` at `level`.
    pub fn field(&self, role: Role, level: usize) -> Option<&Field> {
        self.fields.iter().find(|f| f.role == role && f.at_level(level))
    }

    /// The fields that exist at `level`, in definition order.
    pub fn fields_at(&self, level: usize) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(move |f| f.at_level(level))
    }

    /// Whether a flag with `role` is set; `absent` when the format has no such field there.
    pub fn flag(&self, raw: u64, role: Role, level: usize, absent: bool) -> bool {
        self.field(role, level).map_or(absent, |f| f.get(raw) != 0)
    }

    pub fn present(&self, raw: u64, level: usize) -> bool {
        self.flag(raw, Role::Present, level, true)
    }

    pub fn frame(&self, raw: u64, level: usize) -> u64 {
        self.field(Role::Frame, level).map_or(0, |f| f.get(raw))
    }

    /// `raw` with `role` set to `value`; unchanged if the format has no such field there.
    pub fn with(&self, raw: u64, role: Role, level: usize, value: u64) -> u64 {
        self.field(role, level).map_or(raw, |f| f.set(raw, value))
    }

    /// Whether a present entry at `level` maps a page (rather than pointing to a table).
    pub fn is_leaf(&self, raw: u64, level: usize) -> bool {
        if level >= self.last_level() {
            return true;
        }
        match self.leaf_rule {
            LeafRule::LastLevel => false,
            LeafRule::PageSizeBit => {
                self.levels.get(level).is_some_and(|l| l.huge) && self.flag(raw, Role::PageSize, level, false)
            }
            LeafRule::ReadOrExecute => {
                self.flag(raw, Role::Readable, level, false) || self.flag(raw, Role::Executable, level, false)
            }
        }
    }

    /// Every field at `level` with its value in `raw`, in definition order.
    pub fn decode(&self, raw: u64, level: usize) -> Vec<(&str, u64)> {
        self.fields_at(level).map(|f| (f.name.as_str(), f.get(raw))).collect()
    }

    /// The names of the set one-bit fields, e.g. "P R/W U/S A".
    pub fn flag_summary(&self, raw: u64, level: usize) -> String {
        self.fields_at(level)
            .filter(|f| f.is_flag() && f.get(raw) != 0)
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Looks up a field by name (case-insensitive), at any level.
    pub fn field_by_name(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Looks up a field by name at a given level (names may repeat across levels, e.g. x86 bit 7).
    pub fn field_named_at(&self, name: &str, level: usize) -> Option<&Field> {
        self.fields.iter().find(|f| f.at_level(level) && f.name.eq_ignore_ascii_case(name))
    }

    /// Does a virtual address fit the format (canonical form or address width)?
    pub fn va_in_range(&self, va: u64) -> bool {
        if self.va_bits >= 64 {
            return true;
        }
        if self.canonical {
            let upper = va >> (self.va_bits - 1);
            upper == 0 || upper == low_mask(64 - (self.va_bits - 1))
        } else {
            va >> self.va_bits == 0
        }
    }

    /// The virtual address space size in bytes, saturating at u64::MAX.
    pub fn va_space(&self) -> u64 {
        if self.va_bits >= 64 { u64::MAX } else { 1u64 << self.va_bits }
    }

    /// Sign-extends a tree position (index bits + offset) to a canonical address.
    pub fn canonicalize(&self, va: u64) -> u64 {
        if !self.canonical || self.va_bits >= 64 || self.va_bits == 0 {
            return va;
        }
        let shift = 64 - self.va_bits;
        ((va << shift).cast_signed() >> shift).cast_unsigned()
    }

    /// Bytes a single-level (linear) table would need to map the whole virtual address space.
    pub fn linear_table_bytes(&self) -> u128 {
        let pages = 1u128 << (self.va_bits.saturating_sub(self.page_shift)).min(100);
        pages * u128::from(self.pte_bytes)
    }

    /// Checks that the format is consistent; every preset passes, custom ones may not.
    pub fn validate(&self) -> Result<(), FormatError> {
        if self.levels.is_empty() {
            return Err(FormatError::NoLevels);
        }
        if self.levels.len() > 8 {
            return Err(FormatError::TooManyLevels(self.levels.len()));
        }
        if ![1, 2, 4, 8].contains(&self.pte_bytes) {
            return Err(FormatError::BadEntrySize(self.pte_bytes));
        }
        if !(1..=40).contains(&self.page_shift) {
            return Err(FormatError::BadPageShift(self.page_shift));
        }
        for (level, l) in self.levels.iter().enumerate() {
            if !(1..=30).contains(&l.index_bits) {
                return Err(FormatError::BadIndexBits { level, name: l.name.clone(), bits: l.index_bits });
            }
            let entries = 1u64 << l.index_bits;
            if entries * u64::from(self.pte_bytes) > 1 << 30 {
                return Err(FormatError::TableTooLarge { entries, bytes: self.pte_bytes });
            }
        }
        if self.levels.last().is_some_and(|l| l.huge) {
            return Err(FormatError::HugeLastLevel);
        }
        let index: u32 = self.levels.iter().map(|l| l.index_bits).sum();
        let sum = index + self.page_shift;
        if sum != self.va_bits || sum > 64 {
            return Err(FormatError::VaBitsMismatch {
                index,
                offset: self.page_shift,
                sum,
                va_bits: self.va_bits,
            });
        }
        if self.pa_bits > 64 || self.pa_bits <= self.page_shift {
            return Err(FormatError::BadPaBits { pa_bits: self.pa_bits, page_shift: self.page_shift });
        }
        self.validate_fields()?;
        for name in self.default_leaf_flags.iter().chain(&self.table_flags) {
            if self.field_by_name(name).is_none() {
                return Err(FormatError::UnknownFlag(name.clone()));
            }
        }
        let needs = match self.leaf_rule {
            LeafRule::LastLevel => vec![],
            LeafRule::PageSizeBit => vec![Role::PageSize],
            LeafRule::ReadOrExecute => vec![Role::Readable, Role::Executable],
        };
        for role in needs {
            if !self.fields.iter().any(|f| f.role == role) {
                return Err(FormatError::LeafRuleNeeds { rule: self.leaf_rule, role });
            }
        }
        Ok(())
    }

    fn validate_fields(&self) -> Result<(), FormatError> {
        let bits = self.pte_bits();
        let levels = self.levels.len();
        for (i, f) in self.fields.iter().enumerate() {
            if f.width == 0 {
                return Err(FormatError::EmptyField { name: f.name.clone() });
            }
            let end = f.lsb.saturating_add(f.width);
            if end > bits {
                return Err(FormatError::FieldOutOfEntry {
                    name: f.name.clone(),
                    lsb: f.lsb,
                    end: end - 1,
                    bits,
                });
            }
            let is_flag_role = !matches!(f.role, Role::Frame | Role::Reserved | Role::Other);
            if is_flag_role && f.width != 1 {
                return Err(FormatError::FlagWidth { name: f.name.clone(), role: f.role });
            }
            if let Some(level) = f.levels.iter().flatten().find(|&&l| l >= levels) {
                return Err(FormatError::FieldLevel { name: f.name.clone(), level: *level, levels });
            }
            for g in &self.fields[..i] {
                let shared_level = (0..levels).find(|&l| f.at_level(l) && g.at_level(l));
                if let Some(level) = shared_level {
                    if g.name.eq_ignore_ascii_case(&f.name) {
                        return Err(FormatError::DuplicateName(f.name.clone()));
                    }
                    if f.mask() & g.mask() != 0 {
                        return Err(FormatError::Overlap { a: g.name.clone(), b: f.name.clone(), level });
                    }
                    if f.role == g.role && !matches!(f.role, Role::Reserved | Role::Other) {
                        return Err(FormatError::DuplicateRole { role: f.role, level });
                    }
                }
            }
        }
        for level in 0..levels {
            for role in [Role::Present, Role::Frame] {
                if self.field(role, level).is_none() {
                    return Err(FormatError::MissingRole { role, level });
                }
            }
            if let Some(frame) = self.field(Role::Frame, level) {
                let max = 64 - self.page_shift;
                if frame.width > max {
                    return Err(FormatError::FrameWidth { level, width: frame.width, max });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::presets;

    #[test]
    fn every_preset_is_valid() {
        for name in presets::NAMES {
            let format = presets::by_name(name).expect("preset exists");
            assert_eq!(format.validate(), Ok(()), "{name}");
        }
    }

    #[test]
    fn x86_64_indices_follow_the_sdm_bit_ranges() {
        let f = presets::by_name("x86-64").unwrap();
        // SDM 4.5: PML4 index = bits 47:39, PDPT 38:30, PD 29:21, PT 20:12.
        let va = 0x0000_7f12_3456_7000u64;
        assert_eq!(f.index_of(va, 0), (va >> 39) & 0x1ff);
        assert_eq!(f.index_of(va, 1), (va >> 30) & 0x1ff);
        assert_eq!(f.index_of(va, 2), (va >> 21) & 0x1ff);
        assert_eq!(f.index_of(va, 3), (va >> 12) & 0x1ff);
        assert_eq!(f.page_sizes(), vec![(3, 12), (2, 21), (1, 30)]);
    }

    #[test]
    fn canonical_check_matches_sign_extension() {
        let f = presets::by_name("x86-64").unwrap();
        assert!(f.va_in_range(0x0000_7fff_ffff_ffff));
        assert!(f.va_in_range(0xffff_8000_0000_0000));
        assert!(!f.va_in_range(0x0000_8000_0000_0000));
        assert!(!f.va_in_range(0xfff0_0000_0000_0000));
        assert_eq!(f.canonicalize(0x0000_8000_0000_0000), 0xffff_8000_0000_0000);
    }

    #[test]
    fn overlapping_custom_fields_are_refused() {
        let mut f = presets::by_name("ostep-multilevel").unwrap();
        f.fields.push(Field {
            name: "X".into(),
            lsb: 6,
            width: 2,
            role: Role::Other,
            levels: None,
            doc: String::new(),
        });
        assert!(matches!(f.validate(), Err(FormatError::Overlap { .. })));
    }

    #[test]
    fn index_bits_must_add_up() {
        let mut f = presets::by_name("x86-32").unwrap();
        f.va_bits = 33;
        assert!(matches!(f.validate(), Err(FormatError::VaBitsMismatch { sum: 32, .. })));
    }

    #[test]
    fn field_set_truncates_to_width() {
        let field = Field {
            name: "PFN".into(),
            lsb: 0,
            width: 7,
            role: Role::Frame,
            levels: None,
            doc: String::new(),
        };
        assert_eq!(field.set(0x80, 0xff), 0xff);
        assert_eq!(field.set(0x80, 0x100), 0x80);
        assert_eq!(field.get(0xda), 0x5a);
    }
}

//! The built-in paging formats: x86 (32-bit, PAE, 4- and 5-level), RISC-V Sv32/39/48/57 and the
//! OSTEP teaching formats. Bit positions follow the Intel SDM Vol. 3A ch. 4 and the RISC-V
//! privileged specification; each field carries the sentence a student sees in a tooltip.

use super::format::{Arch, Field, LeafRule, Level, PagingFormat, Role, SuperpageLowBits};

/// Names accepted by [`by_name`], in the order menus show them.
pub const NAMES: [&str; 10] = [
    "x86-32",
    "x86-pae",
    "x86-64",
    "x86-64-la57",
    "sv32",
    "sv39",
    "sv48",
    "sv57",
    "ostep-multilevel",
    "ostep-linear",
];

/// A preset by name (case-insensitive; a few common aliases are accepted).
pub fn by_name(name: &str) -> Option<PagingFormat> {
    let lower = name.to_ascii_lowercase();
    let format = match lower.as_str() {
        "x86-32" | "x86" | "i386" | "ia32" => x86_32(),
        "x86-pae" | "pae" => x86_pae(),
        "x86-64" | "x86_64" | "amd64" | "x86-64-4level" => x86_64(4),
        "x86-64-la57" | "x86-64-5level" | "la57" => x86_64(5),
        "sv32" => riscv(2),
        "sv39" => riscv(3),
        "sv48" => riscv(4),
        "sv57" => riscv(5),
        "ostep-multilevel" => ostep_multilevel(),
        "ostep-linear" => ostep_linear(14, 12, 16),
        _ => return None,
    };
    Some(format)
}

fn field(name: &str, lsb: u32, width: u32, role: Role, doc: &str) -> Field {
    Field { name: name.into(), lsb, width, role, levels: None, doc: doc.into() }
}

fn at(mut f: Field, levels: &[usize]) -> Field {
    f.levels = Some(levels.to_vec());
    f
}

fn level(name: &str, index_bits: u32, huge: bool) -> Level {
    Level { name: name.into(), index_bits, huge }
}

const P_DOC: &str = "Present: the entry is used only when set; otherwise any access faults (#PF with P=0).";
const RW_DOC: &str =
    "Read/write: writes are allowed only if set at every level (for supervisor writes, only when CR0.WP=1).";
const US_DOC: &str = "User/supervisor: user-mode accesses are allowed only if set at every level.";
const PWT_DOC: &str = "Page-level write-through (caching attribute; ignored by this simulator's walk).";
const PCD_DOC: &str = "Page-level cache disable (caching attribute; ignored by this simulator's walk).";
const A_DOC: &str = "Accessed: the processor sets it the first time the entry is used for a translation.";
const D_DOC: &str = "Dirty: set by the processor on the first write through this leaf entry.";
const PS_DOC: &str = "Page size: when set, the entry maps a large page instead of pointing to a page table.";
const G_DOC: &str =
    "Global: the TLB keeps the translation across CR3 loads (with CR4.PGE=1). Leaf entries only.";
const NX_DOC: &str = "Execute-disable: instruction fetches fault if set at any level (with EFER.NXE=1).";
const PAT_DOC: &str = "Page attribute table index bit (caching attribute; ignored by this simulator's walk).";
const AVL_DOC: &str = "Available to software: ignored by the processor.";

/// x86 32-bit paging with PSE: 10/10/12, 4-byte entries, 4 MiB pages through PDE.PS.
pub fn x86_32() -> PagingFormat {
    let fields = vec![
        field("P", 0, 1, Role::Present, P_DOC),
        field("R/W", 1, 1, Role::Writable, RW_DOC),
        field("U/S", 2, 1, Role::User, US_DOC),
        field("PWT", 3, 1, Role::Other, PWT_DOC),
        field("PCD", 4, 1, Role::Other, PCD_DOC),
        field("A", 5, 1, Role::Accessed, A_DOC),
        field("D", 6, 1, Role::Dirty, D_DOC),
        at(field("PS", 7, 1, Role::PageSize, PS_DOC), &[0]),
        at(field("PAT", 7, 1, Role::Other, PAT_DOC), &[1]),
        field("G", 8, 1, Role::Global, G_DOC),
        field("AVL", 9, 3, Role::Other, AVL_DOC),
        field(
            "Frame",
            12,
            20,
            Role::Frame,
            "Physical frame number: bits 31:12 of the address of the next table or page.",
        ),
    ];
    PagingFormat {
        name: "x86-32".into(),
        description: "Intel 32-bit paging (CR4.PSE=1): page directory and page table of 1024 4-byte entries, 4 KiB pages and 4 MiB pages.".into(),
        arch: Arch::X86,
        va_bits: 32,
        pa_bits: 32,
        page_shift: 12,
        pte_bytes: 4,
        levels: vec![level("PD", 10, true), level("PT", 10, false)],
        fields,
        leaf_rule: LeafRule::PageSizeBit,
        canonical: false,
        superpage_low_bits: SuperpageLowBits::Reserved { except_bit: Some(12) },
        default_leaf_flags: vec!["R/W".into(), "U/S".into()],
        table_flags: vec!["R/W".into(), "U/S".into()],
    }
}

/// The bits of a 64-bit x86 entry shared by PAE and 4/5-level paging, for the given levels.
fn x86_64bit_fields(all: &[usize], huge_levels: &[usize], pt_level: usize, rsvd_ps: &[usize]) -> Vec<Field> {
    let mut fields = vec![
        field("P", 0, 1, Role::Present, P_DOC),
        at(field("R/W", 1, 1, Role::Writable, RW_DOC), all),
        at(field("U/S", 2, 1, Role::User, US_DOC), all),
        field("PWT", 3, 1, Role::Other, PWT_DOC),
        field("PCD", 4, 1, Role::Other, PCD_DOC),
        at(field("A", 5, 1, Role::Accessed, A_DOC), all),
        at(field("D", 6, 1, Role::Dirty, D_DOC), all),
        at(field("PS", 7, 1, Role::PageSize, PS_DOC), huge_levels),
        at(field("PAT", 7, 1, Role::Other, PAT_DOC), &[pt_level]),
        at(field("G", 8, 1, Role::Global, G_DOC), all),
        field("AVL", 9, 3, Role::Other, AVL_DOC),
        field(
            "Frame",
            12,
            40,
            Role::Frame,
            "Physical frame number: bits 51:12 of the address of the next table or page.",
        ),
        at(field("AVL2", 52, 11, Role::Other, AVL_DOC), all),
        at(field("NX", 63, 1, Role::NoExecute, NX_DOC), all),
    ];
    if !rsvd_ps.is_empty() {
        fields.push(at(
            field(
                "PS (reserved)",
                7,
                1,
                Role::Reserved,
                "Reserved at this level: must be 0 (no page of this size exists).",
            ),
            rsvd_ps,
        ));
    }
    fields
}

/// x86 PAE paging: 2/9/9/12, 8-byte entries, 2 MiB pages, NX in bit 63.
pub fn x86_pae() -> PagingFormat {
    let mut fields = x86_64bit_fields(&[1, 2], &[1], 2, &[]);
    // SDM Tables 4-9 to 4-11: PAE directory and table entries have no ignored bits above the
    // address, as 4-level entries do: bits 62:M are reserved (51:M are, as MAXPHYADDR says).
    fields.retain(|f| f.name != "AVL2");
    fields.push(at(
        field("Reserved 62:52", 52, 11, Role::Reserved, "Reserved in a PAE entry: must be 0."),
        &[1, 2],
    ));
    // SDM table 4-8: a PDPTE has no R/W, U/S, A, D, PS, G or XD; those bits are reserved.
    fields.push(at(field("Reserved 2:1", 1, 2, Role::Reserved, "Reserved in a PAE PDPTE: must be 0."), &[0]));
    fields.push(at(field("Reserved 8:5", 5, 4, Role::Reserved, "Reserved in a PAE PDPTE: must be 0."), &[0]));
    fields.push(at(
        field("Reserved 63:52", 52, 12, Role::Reserved, "Reserved in a PAE PDPTE: must be 0."),
        &[0],
    ));
    PagingFormat {
        name: "x86-pae".into(),
        description: "Intel PAE paging: a 4-entry PDPT, then page directory and page table of 512 8-byte entries; 4 KiB and 2 MiB pages; NX.".into(),
        arch: Arch::X86,
        va_bits: 32,
        pa_bits: 52,
        page_shift: 12,
        pte_bytes: 8,
        levels: vec![level("PDPT", 2, false), level("PD", 9, true), level("PT", 9, false)],
        fields,
        leaf_rule: LeafRule::PageSizeBit,
        canonical: false,
        superpage_low_bits: SuperpageLowBits::Reserved { except_bit: Some(12) },
        default_leaf_flags: vec!["R/W".into(), "U/S".into()],
        table_flags: vec!["R/W".into(), "U/S".into()],
    }
}

/// x86-64 4-level (9/9/9/9/12) or 5-level (LA57) paging with 2 MiB and 1 GiB pages.
pub fn x86_64(levels: usize) -> PagingFormat {
    let five = levels == 5;
    let (names, name, va_bits): (&[&str], &str, u32) = if five {
        (&["PML5", "PML4", "PDPT", "PD", "PT"], "x86-64-la57", 57)
    } else {
        (&["PML4", "PDPT", "PD", "PT"], "x86-64", 48)
    };
    let n = names.len();
    let all: Vec<usize> = (0..n).collect();
    let huge = [n - 3, n - 2];
    let rsvd: Vec<usize> = (0..n - 3).collect();
    let level_list = names.iter().enumerate().map(|(i, name)| level(name, 9, huge.contains(&i))).collect();
    PagingFormat {
        name: name.into(),
        description: if five {
            "Intel 5-level paging (CR4.LA57=1): 57-bit canonical addresses, five tables of 512 8-byte entries; 4 KiB, 2 MiB and 1 GiB pages; NX.".into()
        } else {
            "Intel/AMD 4-level paging: 48-bit canonical addresses, four tables of 512 8-byte entries; 4 KiB, 2 MiB and 1 GiB pages; NX.".into()
        },
        arch: Arch::X86,
        va_bits,
        pa_bits: 52,
        page_shift: 12,
        pte_bytes: 8,
        levels: level_list,
        fields: x86_64bit_fields(&all, &huge, n - 1, &rsvd),
        leaf_rule: LeafRule::PageSizeBit,
        canonical: true,
        superpage_low_bits: SuperpageLowBits::Reserved { except_bit: Some(12) },
        default_leaf_flags: vec!["R/W".into(), "U/S".into()],
        table_flags: vec!["R/W".into(), "U/S".into()],
    }
}

/// RISC-V Sv32 (2 levels), Sv39 (3), Sv48 (4) or Sv57 (5).
pub fn riscv(levels: usize) -> PagingFormat {
    let sv32 = levels == 2;
    let (pte_bytes, index_bits, ppn_width) = if sv32 { (4, 10, 22) } else { (8, 9, 44) };
    let va_bits = 12 + index_bits * u32::try_from(levels).unwrap_or(0);
    let pa_bits = if sv32 { 34 } else { 56 };
    let name = format!("sv{va_bits}");
    let mut fields = vec![
        field(
            "V",
            0,
            1,
            Role::Present,
            "Valid: the entry is used only when set; otherwise the access page-faults.",
        ),
        field(
            "R",
            1,
            1,
            Role::Readable,
            "Readable: loads allowed (or with MXR, when X is set). R or X set makes the entry a leaf.",
        ),
        field("W", 2, 1, Role::Writable, "Writable: stores allowed. W=1 with R=0 is reserved and faults."),
        field(
            "X",
            3,
            1,
            Role::Executable,
            "Executable: instruction fetches allowed. R or X set makes the entry a leaf.",
        ),
        field(
            "U",
            4,
            1,
            Role::User,
            "User: U-mode may access the page; S-mode only with SUM=1 (never to execute).",
        ),
        field(
            "G",
            5,
            1,
            Role::Global,
            "Global mapping: exists in every address space (TLB keeps it across ASIDs).",
        ),
        field(
            "A",
            6,
            1,
            Role::Accessed,
            "Accessed: with Svade an access with A=0 page-faults; with Svadu hardware sets it.",
        ),
        field(
            "D",
            7,
            1,
            Role::Dirty,
            "Dirty: with Svade a store with D=0 page-faults; with Svadu hardware sets it.",
        ),
        field("RSW", 8, 2, Role::Other, "Reserved for supervisor software: ignored by hardware."),
        field("PPN", 10, ppn_width, Role::Frame, "Physical page number of the next table or of the page."),
    ];
    if !sv32 {
        fields.push(field(
            "Reserved",
            54,
            7,
            Role::Reserved,
            "Reserved for future standard use: must be 0 or the access page-faults.",
        ));
        fields.push(field(
            "PBMT",
            61,
            2,
            Role::Reserved,
            "Page-based memory types (Svpbmt, not implemented here): must be 0.",
        ));
        fields.push(field(
            "N",
            63,
            1,
            Role::Reserved,
            "NAPOT translation contiguity (Svnapot, not implemented here): must be 0.",
        ));
    }
    let level_list =
        (0..levels).map(|i| level(&format!("L{}", levels - 1 - i), index_bits, i + 1 < levels)).collect();
    PagingFormat {
        description: format!(
            "RISC-V {} paging: {levels} levels of {} {pte_bytes}-byte entries; leaves at any level (R or X set); superpages must be aligned.",
            name.to_uppercase().replace("SV", "Sv"),
            1u32 << index_bits
        ),
        name,
        arch: Arch::RiscV,
        va_bits,
        pa_bits,
        page_shift: 12,
        pte_bytes,
        levels: level_list,
        fields,
        leaf_rule: LeafRule::ReadOrExecute,
        canonical: !sv32,
        superpage_low_bits: SuperpageLowBits::Misaligned,
        default_leaf_flags: vec!["R".into(), "W".into(), "U".into(), "A".into(), "D".into()],
        table_flags: vec![],
    }
}

/// OSTEP's multi-level toy: 15-bit addresses, 32-byte pages, 5/5/5, 1-byte entries.
pub fn ostep_multilevel() -> PagingFormat {
    PagingFormat {
        name: "ostep-multilevel".into(),
        description: "OSTEP's two-level toy (paging-multilevel-translate.py): 15-bit virtual addresses, 32-byte pages, 12-bit physical addresses; one-byte entries with bit 7 valid and bits 6:0 the PFN.".into(),
        arch: Arch::Generic,
        va_bits: 15,
        pa_bits: 12,
        page_shift: 5,
        pte_bytes: 1,
        levels: vec![level("PD", 5, false), level("PT", 5, false)],
        fields: vec![
            field("Valid", 7, 1, Role::Present, "Valid: the entry is used only when set."),
            field("PFN", 0, 7, Role::Frame, "Page frame number of the page table (in a PDE) or of the page (in a PTE)."),
        ],
        leaf_rule: LeafRule::LastLevel,
        canonical: false,
        superpage_low_bits: SuperpageLowBits::Ignored,
        default_leaf_flags: vec![],
        table_flags: vec![],
    }
}

/// OSTEP's linear table (paging-linear-translate.py): one level, 32-bit entries, bit 31 valid.
/// Sizes are log2 of the address space, the page and physical memory (16k/4k/64k by default).
pub fn ostep_linear(va_bits: u32, page_shift: u32, pa_bits: u32) -> PagingFormat {
    let vpn_bits = va_bits.saturating_sub(page_shift);
    let pfn_bits = pa_bits.saturating_sub(page_shift).clamp(1, 31);
    PagingFormat {
        name: "ostep-linear".into(),
        description: format!(
            "OSTEP's linear page table (paging-linear-translate.py): {va_bits}-bit virtual addresses, {}-byte pages, one table of {} 4-byte entries; bit 31 valid, low bits the PFN.",
            1u64 << page_shift.min(63),
            1u64 << vpn_bits.min(63)
        ),
        arch: Arch::Generic,
        va_bits,
        pa_bits,
        page_shift,
        pte_bytes: 4,
        levels: vec![level("PT", vpn_bits, false)],
        fields: vec![
            field("Valid", 31, 1, Role::Present, "Valid: the entry is used only when set."),
            field("PFN", 0, pfn_bits, Role::Frame, "Page frame number of the page."),
        ],
        leaf_rule: LeafRule::LastLevel,
        canonical: false,
        superpage_low_bits: SuperpageLowBits::Ignored,
        default_leaf_flags: vec![],
        table_flags: vec![],
    }
}

/// A default memory size that suits the format: the OSTEP sizes, else 256 MiB (sparse).
pub fn default_memory(format: &PagingFormat) -> u64 {
    match format.name.as_str() {
        "ostep-multilevel" => 128 * 32,
        "ostep-linear" => {
            (1u64 << format.pa_bits.min(40)) + format.table_bytes(0).next_multiple_of(format.page_size())
        }
        _ => 256 << 20,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sv39_ppn_sits_at_bit_10_and_va_is_39_bits() {
        let f = riscv(3);
        assert_eq!(f.va_bits, 39);
        let ppn = f.field(Role::Frame, 0).unwrap();
        assert_eq!((ppn.lsb, ppn.width), (10, 44));
        assert_eq!(f.page_sizes(), vec![(2, 12), (1, 21), (0, 30)]);
    }

    #[test]
    fn sv32_has_4_mib_megapages_and_34_bit_pa() {
        let f = riscv(2);
        assert_eq!((f.va_bits, f.pa_bits, f.pte_bytes), (32, 34, 4));
        assert_eq!(f.page_sizes(), vec![(1, 12), (0, 22)]);
    }

    #[test]
    fn pae_pdpt_is_four_entries_in_32_bytes() {
        let f = x86_pae();
        assert_eq!(f.entries_at(0), 4);
        assert_eq!(f.table_bytes(0), 32);
        assert_eq!(f.table_frames(0), 1);
        assert!(f.field(Role::Writable, 0).is_none());
    }

    #[test]
    fn la57_has_five_levels_and_57_bits() {
        let f = x86_64(5);
        assert_eq!(f.levels.len(), 5);
        assert_eq!(f.va_bits, 57);
        assert!(f.va_in_range(0xff00_0000_0000_0000));
        assert!(!f.va_in_range(0x0100_0000_0000_0000));
    }

    #[test]
    fn unknown_names_are_none() {
        assert!(by_name("vax").is_none());
        assert!(by_name("SV39").is_some());
    }
}

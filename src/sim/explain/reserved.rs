//! Which reserved bits of an entry are set, one cause per rule, in the order the walk checks
//! them (mmu.rs `check_entry`): reserved fields, XD without NXE, bits above MAXPHYADDR, RISC-V
//! pointer bits, superpage frame bits below the alignment.

use crate::sim::format::{Arch, PagingFormat, Role, SuperpageLowBits, low_mask};
use crate::sim::mmu::{MAX_PHYS_BITS, MmuSettings, pse36_address_bits};

/// One reason an entry has a reserved bit set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Cause {
    /// A field the format marks reserved holds a nonzero value.
    Field { name: String, value: u64 },
    /// x86 XD/NX set while IA32_EFER.NXE=0.
    NxWithoutNxe { name: String },
    /// x86 address bits 51:MAXPHYADDR set: the frame field with those bits cleared is `clean`.
    AboveMaxPhys { frame_name: String, frame: u64, clean: u64, maxphyaddr: u32 },
    /// RISC-V A, D or U in a pointer to the next table.
    PointerBit { name: String },
    /// x86 superpage frame bits below the page's alignment (bits `low..=high` of the entry).
    SuperpageLowBits { frame_name: String, frame: u64, clean: u64, low: u32, high: u32 },
}

/// Every cause present in `raw` at `level`, in the walk's order.
pub(super) fn causes(
    format: &PagingFormat,
    settings: &MmuSettings,
    raw: u64,
    level: usize,
    leaf: bool,
) -> Vec<Cause> {
    let mut out = Vec::new();
    for field in format.fields_at(level).filter(|f| f.role == Role::Reserved) {
        let value = field.get(raw);
        if value != 0 {
            out.push(Cause::Field { name: field.name.clone(), value });
        }
    }
    if format.arch == Arch::X86
        && !settings.nxe
        && let Some(nx) = format.field(Role::NoExecute, level).filter(|f| f.get(raw) != 0)
    {
        out.push(Cause::NxWithoutNxe { name: nx.name.clone() });
    }
    let frame_field = format.field(Role::Frame, level);
    let maxphyaddr = u32::from(settings.maxphyaddr.clamp(32, MAX_PHYS_BITS));
    let above = low_mask(u32::from(MAX_PHYS_BITS)) & !low_mask(maxphyaddr);
    if format.arch == Arch::X86
        && format.pte_bytes == 8
        && raw & above != 0
        && let Some(frame) = frame_field
    {
        let value = frame.get(raw);
        let clean = frame.get(raw & !above);
        out.push(Cause::AboveMaxPhys { frame_name: frame.name.clone(), frame: value, clean, maxphyaddr });
    }
    if format.arch == Arch::RiscV && !leaf {
        for role in [Role::Accessed, Role::Dirty, Role::User] {
            if let Some(field) = format.field(role, level).filter(|f| f.get(raw) != 0) {
                out.push(Cause::PointerBit { name: field.name.clone() });
            }
        }
    }
    if leaf
        && level < format.last_level()
        && let SuperpageLowBits::Reserved { except_bit } = format.superpage_low_bits
        && let Some(frame) = frame_field
    {
        let low_frames = format.entry_span_shift(level).saturating_sub(format.page_shift);
        let mut mask = low_mask(low_frames.min(frame.width)) << frame.lsb;
        if let Some(bit) = except_bit.filter(|&b| b < 64) {
            mask &= !(1u64 << bit);
        }
        mask &= !pse36_address_bits(format, settings, level);
        if raw & mask != 0 {
            let low = mask.trailing_zeros();
            let high = 63 - mask.leading_zeros();
            out.push(Cause::SuperpageLowBits {
                frame_name: frame.name.clone(),
                frame: frame.get(raw),
                clean: frame.get(raw & !mask),
                low,
                high,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::presets;

    #[test]
    fn x86_2mib_page_bits_20_13_are_reserved_but_pat_is_not() {
        let f = presets::by_name("x86-64").unwrap();
        let s = MmuSettings::default();
        // P, PS, frame 0x201: bit 12 is PAT (allowed), so no cause.
        let pat = 0x201u64 << 12 | 0x81;
        assert_eq!(causes(&f, &s, pat, 2, true), vec![]);
        let low = 0x202u64 << 12 | 0x81;
        assert_eq!(
            causes(&f, &s, low, 2, true),
            vec![Cause::SuperpageLowBits {
                frame_name: "Frame".into(),
                frame: 0x202,
                clean: 0x200,
                low: 13,
                high: 20
            }]
        );
    }

    #[test]
    fn riscv_pointer_bits_and_reserved_fields() {
        let f = presets::by_name("sv39").unwrap();
        let s = MmuSettings::default();
        let pointer_with_a = 0x41; // V, A
        assert_eq!(causes(&f, &s, pointer_with_a, 0, false), vec![Cause::PointerBit { name: "A".into() }]);
        assert_eq!(causes(&f, &s, pointer_with_a | 0x2, 0, true), vec![], "A is fine in a leaf");
        let n_bit = 1u64 << 63 | 0x3;
        assert_eq!(causes(&f, &s, n_bit, 2, true), vec![Cause::Field { name: "N".into(), value: 1 }]);
    }
}

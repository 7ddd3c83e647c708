//! The walk replay makes on a TLB miss, over a format compiled into masks. `mmu::translate`
//! reads the format as data, looking each field up by its role at every level (a scan of the
//! format's fields); [`CompiledFormat`] does those look-ups once, when a machine is built, and
//! keeps per level the masks and shifts the walk needs. [`translate_compiled`] then walks with
//! a few AND and shift instructions per level and keeps its steps and A/D writes in fixed
//! arrays. It is `mmu::translate` step for step (same entries, outcome and writes; tests check
//! it on the sort trace and on random tables of six formats), without the byte at the physical
//! address and the fault's report, which only a display needs.
//!
//! The MMU switches ([`MmuSettings`]) are read at every walk, not compiled in, since they can
//! change between two walks through `Machine::settings_mut`.

use super::address::{EntryAddr, PhysAddr};
use super::fault::{Access, FaultKind};
use super::format::{Arch, LeafRule, PagingFormat, Role, SuperpageLowBits, low_mask};
use super::mem::PhysMem;
use super::mmu::{
    AdTiming, AdUpdate, MAX_PHYS_BITS, Mapped, MmuSettings, PSE36_LSB, Request, Rights, RiscvAd, WalkRoot,
    WalkStep, check_rights_for,
};

/// Formats with more levels than this are walked by [`mmu::translate`] only (none of the
/// valid ones: a format has at most 8 levels).
///
/// [`mmu::translate`]: super::mmu::translate
pub const MAX_FAST_LEVELS: usize = 8;

/// A one-bit (or, in a format that was not validated, wider) field as a mask: set when any of
/// its bits is, which is what `Field::get(raw) != 0` means. `absent` is the answer where the
/// format has no such field at that level (the `absent` argument of `PagingFormat::flag`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FlagMask {
    mask: u64,
    absent: bool,
}

impl FlagMask {
    fn of(format: &PagingFormat, role: Role, level: usize, absent: bool) -> Self {
        let mask = format.field(role, level).map_or(0, |f| field_mask(f.lsb, f.width));
        Self { mask, absent: absent && format.field(role, level).is_none() }
    }

    #[inline(always)]
    fn test(self, raw: u64) -> bool {
        if self.mask == 0 { self.absent } else { raw & self.mask != 0 }
    }
}

/// `Field::set(raw, 1)` as masks: clear `clear`, then or in `set` (both 0 without the field).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SetOne {
    clear: u64,
    set: u64,
}

impl SetOne {
    fn of(format: &PagingFormat, role: Role, level: usize) -> Self {
        format.field(role, level).map_or(Self::default(), |f| Self {
            clear: field_mask(f.lsb, f.width),
            set: (1 & low_mask(f.width)).checked_shl(f.lsb).unwrap_or(0),
        })
    }

    #[inline(always)]
    fn apply(self, raw: u64) -> u64 {
        (raw & !self.clear) | self.set
    }
}

/// `low_mask(width) << lsb`, without overflowing the shift for a field beyond bit 63.
fn field_mask(lsb: u32, width: u32) -> u64 {
    low_mask(width).checked_shl(lsb).unwrap_or(0)
}

/// What the walk needs of one level, looked up once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct LevelMasks {
    /// The index of a virtual address: `(va >> index_shift) & index_mask`. `index_shift` is
    /// also log2 of the bytes one entry covers.
    index_shift: u32,
    index_mask: u64,
    present: FlagMask,
    /// The last level: every present entry is a leaf.
    always_leaf: bool,
    /// A present entry with any of these bits set is a leaf (x86 PS where the level allows
    /// huge pages; RISC-V R|X; 0 where only the last level maps pages).
    leaf_bits: u64,
    frame_lsb: u32,
    frame_width_mask: u64,
    /// Reserved fields, together.
    reserved: u64,
    /// The frame field's bits below a superpage's alignment that are reserved (x86, but not the
    /// PAT bit); 0 at the last level and where the format does not reserve them.
    superpage_reserved: u64,
    writable: FlagMask,
    user: FlagMask,
    readable: FlagMask,
    executable: FlagMask,
    no_execute: FlagMask,
    accessed: FlagMask,
    dirty: FlagMask,
    global: FlagMask,
    set_accessed: SetOne,
    set_dirty: SetOne,
}

impl LevelMasks {
    /// The frame field of `raw` (`PagingFormat::frame`).
    #[inline(always)]
    fn frame(&self, raw: u64) -> u64 {
        raw.checked_shr(self.frame_lsb).unwrap_or(0) & self.frame_width_mask
    }
}

/// A paging format compiled into per-level masks for [`translate_compiled`]: what
/// `PagingFormat`'s field look-ups answer, computed once. Only a format's own fields go in;
/// the walk reads the MMU switches each time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledFormat {
    arch: Arch,
    leaf_rule: LeafRule,
    misaligned_superpages: bool,
    page_shift: u32,
    pte_bytes: u32,
    va_bits: u32,
    canonical: bool,
    has_pdpte_registers: bool,
    level_count: usize,
    levels: [LevelMasks; MAX_FAST_LEVELS],
}

impl CompiledFormat {
    /// Compiles `format`; `None` when it has more than [`MAX_FAST_LEVELS`] levels.
    pub fn new(format: &PagingFormat) -> Option<Self> {
        let level_count = format.levels.len();
        if level_count > MAX_FAST_LEVELS {
            return None;
        }
        let mut levels = [LevelMasks::default(); MAX_FAST_LEVELS];
        for (level, masks) in levels.iter_mut().enumerate().take(level_count) {
            *masks = Self::level(format, level);
        }
        Some(Self {
            arch: format.arch,
            leaf_rule: format.leaf_rule,
            misaligned_superpages: format.superpage_low_bits == SuperpageLowBits::Misaligned,
            page_shift: format.page_shift,
            pte_bytes: format.pte_bytes,
            va_bits: format.va_bits,
            canonical: format.canonical,
            has_pdpte_registers: format.has_pdpte_registers(),
            level_count,
            levels,
        })
    }

    fn level(format: &PagingFormat, level: usize) -> LevelMasks {
        let last = level >= format.last_level();
        let flag = |role| FlagMask::of(format, role, level, false);
        let huge = format.levels.get(level).is_some_and(|l| l.huge);
        let leaf_bits = match format.leaf_rule {
            LeafRule::LastLevel => 0,
            LeafRule::PageSizeBit if huge => flag(Role::PageSize).mask,
            LeafRule::PageSizeBit => 0,
            LeafRule::ReadOrExecute => flag(Role::Readable).mask | flag(Role::Executable).mask,
        };
        let frame = format.field(Role::Frame, level);
        let index_shift = format.entry_span_shift(level);
        let superpage_reserved = match (format.superpage_low_bits, frame) {
            (SuperpageLowBits::Reserved { except_bit }, Some(frame)) if !last => {
                let low = index_shift.saturating_sub(format.page_shift);
                let mut mask = field_mask(frame.lsb, low.min(frame.width));
                if let Some(bit) = except_bit.filter(|&b| b < 64) {
                    mask &= !(1u64 << bit);
                }
                mask
            }
            _ => 0,
        };
        LevelMasks {
            index_shift,
            index_mask: low_mask(format.levels.get(level).map_or(0, |l| l.index_bits)),
            present: FlagMask::of(format, Role::Present, level, true),
            always_leaf: last,
            leaf_bits,
            frame_lsb: frame.map_or(0, |f| f.lsb),
            frame_width_mask: frame.map_or(0, |f| low_mask(f.width)),
            reserved: format
                .fields_at(level)
                .filter(|f| f.role == Role::Reserved)
                .fold(0, |mask, f| mask | field_mask(f.lsb, f.width)),
            superpage_reserved,
            writable: FlagMask::of(format, Role::Writable, level, true),
            user: FlagMask::of(format, Role::User, level, true),
            readable: flag(Role::Readable),
            executable: flag(Role::Executable),
            no_execute: flag(Role::NoExecute),
            accessed: flag(Role::Accessed),
            dirty: flag(Role::Dirty),
            global: flag(Role::Global),
            set_accessed: SetOne::of(format, Role::Accessed, level),
            set_dirty: SetOne::of(format, Role::Dirty, level),
        }
    }

    /// Whether the entry `raw` at `level` has its dirty flag set (true for a format without
    /// one there: such a page never needs a dirty-bit assist).
    pub fn dirty(&self, raw: u64, level: usize) -> bool {
        let dirty = self.levels.get(level).map_or(FlagMask::default(), |l| l.dirty);
        FlagMask { absent: dirty.mask == 0, ..dirty }.test(raw)
    }

    /// `PagingFormat::va_in_range`.
    fn va_in_range(&self, va: u64) -> bool {
        if self.va_bits >= 64 {
            return true;
        }
        if self.canonical {
            let upper = va >> self.va_bits.saturating_sub(1);
            upper == 0 || upper == low_mask(64 - self.va_bits.saturating_sub(1))
        } else {
            va >> self.va_bits == 0
        }
    }
}

/// The MMU switches as the walk uses them, worked out once per walk.
#[derive(Clone, Copy)]
struct Switches {
    /// x86 with EFER.NXE clear: NX is a reserved bit.
    nx_reserved: bool,
    /// x86 with EFER.NXE set: NX takes execute permission away.
    nx_honoured: bool,
    /// Bits 51:MAXPHYADDR of a 64-bit x86 entry (0 otherwise).
    above_maxphyaddr: u64,
    /// PSE-36's address bits of a large-page x86-32 entry (0 otherwise; see
    /// `mmu::pse36_address_bits`).
    pse36: u64,
    as_walked: bool,
    svade: bool,
}

impl Switches {
    fn new(compiled: &CompiledFormat, settings: &MmuSettings) -> Self {
        let x86 = compiled.arch == Arch::X86;
        let maxphyaddr = u32::from(settings.maxphyaddr.clamp(32, MAX_PHYS_BITS));
        let above_maxphyaddr = if x86 && compiled.pte_bytes == 8 && maxphyaddr < u32::from(MAX_PHYS_BITS) {
            low_mask(u32::from(MAX_PHYS_BITS)) & !low_mask(maxphyaddr)
        } else {
            0
        };
        let pse36 = if settings.pse36 && x86 && compiled.pte_bytes == 4 {
            let m = u32::from(settings.maxphyaddr).clamp(32, 40);
            low_mask(m - 32) << PSE36_LSB
        } else {
            0
        };
        Self {
            nx_reserved: x86 && !settings.nxe,
            nx_honoured: settings.nxe,
            above_maxphyaddr,
            pse36,
            as_walked: settings.ad_timing == AdTiming::AsWalked && compiled.arch != Arch::RiscV,
            svade: settings.riscv_ad == RiscvAd::Svade,
        }
    }
}

/// What [`translate_compiled`] (and [`translate_fast`]) fill in: the steps and A/D writes of
/// [`mmu::translate`], kept in fixed arrays (no allocation; the caller reuses one value, so they
/// are not even copied), and the outcome without what only a display needs (the fault's
/// report, the byte at the physical address).
///
/// [`mmu::translate`]: super::mmu::translate
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FastTranslation {
    steps: [WalkStep; MAX_FAST_LEVELS],
    step_count: usize,
    updates: [AdUpdate; MAX_FAST_LEVELS],
    update_count: usize,
    /// The page reached (its `value` is always `None`), or the fault's kind.
    pub outcome: Result<Mapped, FaultKind>,
}

impl Default for FastTranslation {
    fn default() -> Self {
        const NO_RIGHTS: Rights = Rights { read: false, write: false, execute: false, user: false };
        const NO_STEP: WalkStep = WalkStep {
            level: 0,
            index: 0,
            table_addr: PhysAddr::new(0),
            entry_addr: EntryAddr::new(0),
            raw: 0,
            leaf: false,
            rights: NO_RIGHTS,
            from_register: false,
            sets_accessed: false,
            sets_dirty: false,
        };
        const NO_UPDATE: AdUpdate = AdUpdate { level: 0, entry_addr: EntryAddr::new(0), old: 0, new: 0 };
        Self {
            steps: [NO_STEP; MAX_FAST_LEVELS],
            step_count: 0,
            updates: [NO_UPDATE; MAX_FAST_LEVELS],
            update_count: 0,
            outcome: Err(FaultKind::NotPresent),
        }
    }
}

impl FastTranslation {
    /// The entries read, root first (as `Translation::steps`).
    pub fn steps(&self) -> &[WalkStep] {
        self.steps.get(..self.step_count).unwrap_or_default()
    }

    /// The accessed/dirty writes (as `Translation::ad_updates`: a faulting walk has some only
    /// under [`AdTiming::AsWalked`]).
    pub fn ad_updates(&self) -> &[AdUpdate] {
        self.updates.get(..self.update_count).unwrap_or_default()
    }

    // The walk reads at most one entry per level and writes at most one per entry read, and
    // formats have at most MAX_FAST_LEVELS levels: the arrays never fill.
    #[inline(always)]
    fn push_step(&mut self, step: WalkStep) {
        if let Some(slot) = self.steps.get_mut(self.step_count) {
            *slot = step;
            self.step_count += 1;
        }
    }

    /// Sets A (and D on a leaf when `write`) in the entry of step `at`, marking the step, and
    /// records the write (merged with an earlier one to the same entry: a cyclic table can
    /// reach an entry twice).
    #[inline]
    fn set_ad(&mut self, compiled: &CompiledFormat, at: usize, write: bool) {
        let Some(step) = self.steps.get_mut(..self.step_count).and_then(|s| s.get_mut(at)) else { return };
        if step.from_register {
            return;
        }
        let Some(masks) = compiled.levels.get(step.level) else { return };
        let (level, entry_addr, old) = (step.level, step.entry_addr, step.raw);
        let mut new = masks.set_accessed.apply(old);
        step.sets_accessed = new != old;
        if step.leaf && write {
            let with_dirty = masks.set_dirty.apply(new);
            step.sets_dirty = with_dirty != new;
            new = with_dirty;
        }
        if old == new {
            return;
        }
        let updates = self.updates.get_mut(..self.update_count).unwrap_or_default();
        if let Some(update) = updates.iter_mut().find(|u| u.entry_addr == entry_addr) {
            update.new |= new;
        } else if let Some(slot) = self.updates.get_mut(self.update_count) {
            *slot = AdUpdate { level, entry_addr, old, new };
            self.update_count += 1;
        }
    }
}

/// `mmu::translate` for replay's misses: the same walk, step for step, with its steps and
/// writes in `out` (which the caller reuses) instead of vectors, and without the byte at the
/// physical address or the fault's report. Compiles `format` first: replay keeps the machine's
/// compiled format and calls [`translate_compiled`]. Returns false, leaving `out` alone, for a
/// format of more than [`MAX_FAST_LEVELS`] levels (then call `mmu::translate`).
pub fn translate_fast(
    mem: &PhysMem,
    format: &PagingFormat,
    root: impl Into<WalkRoot>,
    settings: &MmuSettings,
    request: Request,
    out: &mut FastTranslation,
) -> bool {
    let Some(compiled) = CompiledFormat::new(format) else { return false };
    translate_compiled(mem, &compiled, root.into(), settings, request, out);
    true
}

/// Reads the entry of `bytes` bytes at `addr`, as `PhysMem::read_le`: `None` beyond memory.
/// Looks the storage chunk up once, instead of copying through a buffer.
#[inline(always)]
fn read_entry(mem: &PhysMem, addr: u64, bytes: u32) -> Option<u64> {
    let end = addr.checked_add(u64::from(bytes))?;
    if end > mem.size() {
        return None;
    }
    let Some((start, chunk)) = mem.chunk_at(PhysAddr::new(addr)) else { return Some(0) };
    let offset = usize::try_from(addr - start.get()).ok()?;
    // Fixed widths, so that each read is one load rather than a copy of a variable length.
    let entry = match bytes {
        8 => chunk.get(offset..offset + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_le_bytes),
        4 => chunk
            .get(offset..offset + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| u64::from(u32::from_le_bytes(b))),
        2 => chunk
            .get(offset..offset + 2)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(|b| u64::from(u16::from_le_bytes(b))),
        1 => chunk.get(offset).copied().map(u64::from),
        _ => None,
    };
    // An entry wider than a chunk (a format with 2-byte pages), or an odd width: the general read.
    entry.or_else(|| mem.read_le(PhysAddr::new(addr), bytes).ok())
}

type Stop = FaultKind;

/// The walk of `mmu::translate` over a compiled format (see the module's doc); the result is in
/// `out`. Never panics, never writes memory.
pub fn translate_compiled(
    mem: &PhysMem,
    compiled: &CompiledFormat,
    root: WalkRoot,
    settings: &MmuSettings,
    request: Request,
    out: &mut FastTranslation,
) {
    out.step_count = 0;
    out.update_count = 0;
    out.outcome = walk(mem, compiled, root, settings, request, out);
}

#[inline]
fn walk(
    mem: &PhysMem,
    compiled: &CompiledFormat,
    root: WalkRoot,
    settings: &MmuSettings,
    request: Request,
    out: &mut FastTranslation,
) -> Result<Mapped, Stop> {
    let va = request.va.get();
    if !compiled.va_in_range(va) {
        return Err(if compiled.canonical { FaultKind::NonCanonical } else { FaultKind::OutOfRange });
    }
    let switches = Switches::new(compiled, settings);
    let pdptes = root.pdptes.filter(|_| compiled.has_pdpte_registers);
    let page_shift = compiled.page_shift;
    let pte_bytes = compiled.pte_bytes;
    let mut table_addr =
        root.frame.get().checked_shl(page_shift).filter(|a| a >> page_shift == root.frame.get());
    let mut rights = READ | WRITE | EXECUTE | USER;
    // Whether an entry read from memory still lacks its A bit (warm tables: none does).
    let mut lacks_accessed = false;
    let levels = compiled.levels.get(..compiled.level_count).unwrap_or_default();
    for (level, masks) in levels.iter().enumerate() {
        let index = (va >> masks.index_shift) & masks.index_mask;
        let entry_addr = table_addr
            .and_then(|t| t.checked_add(index * u64::from(pte_bytes)))
            .ok_or(FaultKind::TableOutsideMemory)?;
        let register = match pdptes {
            Some(registers) if level == 0 => {
                usize::try_from(index).ok().and_then(|i| registers.get(i).copied())
            }
            _ => None,
        };
        let raw = match register {
            Some(raw) => raw,
            None => read_entry(mem, entry_addr, pte_bytes).ok_or(FaultKind::TableOutsideMemory)?,
        };
        let present = masks.present.test(raw);
        let leaf = present && (masks.always_leaf || raw & masks.leaf_bits != 0);
        if present {
            rights = combine(compiled.arch, masks, switches, rights, raw, leaf);
        }
        out.push_step(WalkStep {
            level,
            index,
            table_addr: PhysAddr::new(table_addr.unwrap_or_default()),
            entry_addr: EntryAddr::new(entry_addr),
            raw,
            leaf,
            rights: rights_of(rights),
            from_register: register.is_some(),
            sets_accessed: false,
            sets_dirty: false,
        });
        if !present {
            return Err(FaultKind::NotPresent);
        }
        lacks_accessed |= register.is_none() && masks.set_accessed.apply(raw) != raw;
        check_entry(compiled, masks, switches, raw, leaf)?;
        if !leaf && switches.as_walked {
            // QEMU sets A once the entry passed the present and reserved-bit checks.
            out.set_ad(compiled, out.step_count.saturating_sub(1), false);
        }
        if leaf {
            let rights = rights_of(rights);
            return finish_leaf(
                compiled,
                masks,
                switches,
                settings,
                request,
                out,
                raw,
                level,
                rights,
                lacks_accessed,
            );
        }
        let frame = masks.frame(raw);
        table_addr = frame.checked_shl(page_shift);
    }
    // Unreachable for valid formats (the last level is always a leaf), but never panic.
    Err(FaultKind::InvalidEntry)
}

/// [`Rights`] as bits while the walk combines them (kept in one register, not four bytes).
const READ: u8 = 1;
const WRITE: u8 = 2;
const EXECUTE: u8 = 4;
const USER: u8 = 8;

fn rights_of(bits: u8) -> Rights {
    Rights {
        read: bits & READ != 0,
        write: bits & WRITE != 0,
        execute: bits & EXECUTE != 0,
        user: bits & USER != 0,
    }
}

/// `bit` if `on`, else 0.
#[inline(always)]
fn bit_if(on: bool, bit: u8) -> u8 {
    u8::from(on) * bit
}

/// Rights after this entry: x86 combines over all levels; RISC-V takes the leaf's.
#[inline(always)]
fn combine(arch: Arch, masks: &LevelMasks, switches: Switches, so_far: u8, raw: u64, leaf: bool) -> u8 {
    match arch {
        Arch::RiscV if !leaf => so_far,
        Arch::RiscV => {
            bit_if(masks.readable.test(raw), READ)
                | bit_if(raw & masks.writable.mask != 0, WRITE)
                | bit_if(masks.executable.test(raw), EXECUTE)
                | bit_if(raw & masks.user.mask != 0, USER)
        }
        Arch::X86 | Arch::Generic => {
            let nx = switches.nx_honoured && masks.no_execute.test(raw);
            let kept = READ
                | bit_if(masks.writable.test(raw), WRITE)
                | bit_if(!nx, EXECUTE)
                | bit_if(masks.user.test(raw), USER);
            READ | (so_far & kept)
        }
    }
}

/// Checks that apply to every present entry: reserved bits and reserved encodings.
#[inline(always)]
fn check_entry(
    compiled: &CompiledFormat,
    masks: &LevelMasks,
    switches: Switches,
    raw: u64,
    leaf: bool,
) -> Result<(), Stop> {
    let riscv = compiled.arch == Arch::RiscV;
    let reserved = raw & (masks.reserved | switches.above_maxphyaddr) != 0;
    let nx_reserved = switches.nx_reserved && masks.no_execute.test(raw);
    let pointer_reserved =
        riscv && !leaf && (masks.accessed.test(raw) || masks.dirty.test(raw) || (raw & masks.user.mask != 0));
    if reserved || nx_reserved || pointer_reserved {
        return Err(FaultKind::ReservedBit);
    }
    if riscv && raw & masks.writable.mask != 0 && !masks.readable.test(raw) {
        return Err(FaultKind::InvalidEntry);
    }
    if leaf
        && compiled.leaf_rule == LeafRule::ReadOrExecute
        && !masks.readable.test(raw)
        && !masks.executable.test(raw)
    {
        // A pointer where the last level must hold a leaf (RISC-V walk step 4: i < 0).
        return Err(FaultKind::InvalidEntry);
    }
    // PSE-36's address bits are not reserved; those above MAXPHYADDR still are.
    if leaf && raw & masks.superpage_reserved & !switches.pse36 != 0 {
        return Err(FaultKind::ReservedBit);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)] // the walk's state, passed apart to stay in registers
#[inline(always)]
fn finish_leaf(
    compiled: &CompiledFormat,
    masks: &LevelMasks,
    switches: Switches,
    settings: &MmuSettings,
    request: Request,
    out: &mut FastTranslation,
    raw: u64,
    level: usize,
    rights: Rights,
    lacks_accessed: bool,
) -> Result<Mapped, Stop> {
    if let Some(kind) = check_rights_for(compiled.arch, settings, rights, request.access, request.mode) {
        return Err(kind);
    }
    let span = masks.index_shift;
    let low_frames = span.saturating_sub(compiled.page_shift);
    let frame = masks.frame(raw);
    if compiled.misaligned_superpages && frame & low_mask(low_frames) != 0 {
        return Err(FaultKind::MisalignedSuperpage);
    }
    let write = request.access == Access::Write;
    match compiled.arch {
        Arch::RiscV => {
            let needs_a = !(masks.accessed.mask == 0 || raw & masks.accessed.mask != 0);
            let needs_d = write && !(masks.dirty.mask == 0 || raw & masks.dirty.mask != 0);
            if needs_a || needs_d {
                if switches.svade {
                    return Err(if needs_a { FaultKind::AccessedClear } else { FaultKind::DirtyClear });
                }
                // Svadu: the leaf is the last step read.
                out.set_ad(compiled, out.step_count.saturating_sub(1), write);
            }
        }
        Arch::X86 | Arch::Generic => {
            // Warm tables: every entry has its A (and the leaf its D for a write), so set_ad would
            // find nothing to set on any step; the steps already say so.
            let with_accessed = masks.set_accessed.apply(raw);
            let leaf_lacks_dirty = write && masks.set_dirty.apply(with_accessed) != with_accessed;
            if lacks_accessed || leaf_lacks_dirty {
                // As walked, the upper entries got their A on the way down: only the leaf is left.
                let first = if switches.as_walked { out.step_count.saturating_sub(1) } else { 0 };
                for at in first..out.step_count {
                    out.set_ad(compiled, at, write);
                }
            }
        }
    }
    let mut base = (frame & !low_mask(low_frames)).checked_shl(compiled.page_shift).unwrap_or(0);
    // PSE-36 (x86-32 large pages only): physical address bits 39:32 come from entry bits 20:13.
    if !masks.always_leaf {
        base |= ((raw & switches.pse36) >> PSE36_LSB) << 32;
    }
    let pa = base | (request.va.get() & low_mask(span));
    let global = masks.global.test(raw);
    Ok(Mapped { pa: PhysAddr::new(pa), value: None, page_shift: span, leaf_level: level, global, rights })
}

//! `translate()`: a pure page walk over physical memory. It returns every step, the outcome and
//! the accessed/dirty writes that hardware would make; the caller decides whether to apply them.
//! The loop runs at most `levels` times, so corrupt or cyclic tables cannot hang it.

use super::address::{EntryAddr, Pfn, PhysAddr, VirtAddr};
use super::fault::{Access, ArchReport, FaultKind, Mode, PageFault, x86_error};
use super::format::{Arch, LeafRule, PDPTE_REGISTERS, PagingFormat, Role, SuperpageLowBits, low_mask};
use super::mem::PhysMem;
use serde::{Deserialize, Serialize};

/// How RISC-V handles a clear A bit or a store with a clear D bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RiscvAd {
    /// Svade: the access page-faults and software sets the bits.
    #[default]
    Svade,
    /// Svadu: hardware sets the bits.
    Svadu,
}

/// When an x86 walk writes its accessed (A) and dirty (D) flags. The manuals leave it open:
/// SDM Vol. 3A 4.8 says the processor sets A "in any paging-structure entry that is used during
/// linear-address translation", without saying whether a walk that then faults has used them.
/// Applies to formats whose A/D follow x86 (x86 and the generic teaching formats); RISC-V's
/// A/D are decided by Svade/Svadu, where only the leaf has them, so there the two are the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AdTiming {
    /// A (and D on the leaf for a write) only once the whole walk succeeded and the access is
    /// allowed: what Linux's KVM documents for Intel processors ("Update accessed and dirty bits
    /// after guest pagetable walk"). A faulting walk writes nothing.
    #[default]
    AfterWalk,
    /// QEMU TCG's reading: A is set in each upper-level entry as the walk passes it (once it is
    /// present with no reserved bit set), even when the walk then faults; the leaf's A/D only
    /// when the access is allowed.
    AsWalked,
}

impl AdTiming {
    /// The lab file leaves the default out.
    pub fn is_default(&self) -> bool {
        *self == AdTiming::AfterWalk
    }
}

/// Control-register switches that change the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MmuSettings {
    /// x86 CR0.WP: supervisor writes honour read-only pages.
    pub wp: bool,
    /// x86 CR4.SMEP: supervisor fetches from user pages fault.
    pub smep: bool,
    /// x86 CR4.SMAP (with EFLAGS.AC=0): supervisor data accesses to user pages fault.
    pub smap: bool,
    /// x86 EFLAGS.AC: with SMAP, explicit supervisor data accesses to user pages are allowed
    /// while it is 1 (SDM Vol. 3A 4.6: "If CR4.SMAP = 1 ... data may be read from any user-mode
    /// address with a protection key for which read access is permitted" only "if EFLAGS.AC =
    /// 1 and the access is explicit"). Every access here is explicit: implicit supervisor
    /// accesses (the processor's own reads of the GDT, IDT or TSS, which SMAP checks whatever AC
    /// is) are outside this model. Left out of lab files while it is clear.
    #[serde(skip_serializing_if = "is_false")]
    pub ac: bool,
    /// x86 EFER.NXE: the NX bit is honoured (otherwise it is reserved).
    pub nxe: bool,
    /// RISC-V sstatus.SUM: S-mode may load and store to U pages.
    pub sum: bool,
    /// RISC-V sstatus.MXR: loads from executable pages are allowed.
    pub mxr: bool,
    /// RISC-V accessed/dirty handling.
    pub riscv_ad: RiscvAd,
    /// x86 MAXPHYADDR (CPUID 80000008H:EAX\[7:0\]): in PAE and 4/5-level entries, address bits
    /// 51:MAXPHYADDR are reserved (SDM Vol. 3A 4.4.2 and 4.5.4). Real CPUs have 36 to 52; QEMU's
    /// default CPU has 40. Left out of lab files while it is 52.
    #[serde(skip_serializing_if = "is_full_width")]
    pub maxphyaddr: u8,
    /// x86-32 PSE-36 (CPUID.01H:EDX.PSE-36): bits 20:13 of a PDE that maps a 4 MiB page hold
    /// physical address bits 39:32 (SDM Vol. 3A 4.3, Table 4-4), up to MAXPHYADDR (at most 40
    /// here); without it those bits are reserved. Left out of lab files while it is off.
    #[serde(skip_serializing_if = "is_false")]
    pub pse36: bool,
    /// When x86 walks write A/D (see [`AdTiming`]). Left out of lab files while it is the
    /// default.
    #[serde(skip_serializing_if = "AdTiming::is_default")]
    pub ad_timing: AdTiming,
}

/// The widest physical address x86 defines (and the default).
pub const MAX_PHYS_BITS: u8 = 52;

fn is_false(on: &bool) -> bool {
    !*on
}

fn is_full_width(bits: &u8) -> bool {
    *bits == MAX_PHYS_BITS
}

impl Default for MmuSettings {
    fn default() -> Self {
        Self {
            wp: true,
            smep: false,
            smap: false,
            nxe: true,
            sum: false,
            mxr: false,
            riscv_ad: RiscvAd::Svade,
            ac: false,
            pse36: false,
            maxphyaddr: MAX_PHYS_BITS,
            ad_timing: AdTiming::AfterWalk,
        }
    }
}

/// Effective rights after combining the entries read so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rights {
    pub read: bool,
    pub write: bool,
    pub execute: bool,
    pub user: bool,
}

impl Rights {
    /// "rwx" with "-" for a right not granted, then "user" or "supervisor" (`long`), or "U"/"S".
    pub fn text(&self, long: bool) -> String {
        let flag = |on: bool, c: char| if on { c } else { '-' };
        let who = match (self.user, long) {
            (true, true) => "user",
            (false, true) => "supervisor",
            (true, false) => "U",
            (false, false) => "S",
        };
        format!("{}{}{} {who}", flag(self.read, 'r'), flag(self.write, 'w'), flag(self.execute, 'x'))
    }
}

/// One entry read by the walk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WalkStep {
    pub level: usize,
    pub index: u64,
    /// Physical address of the table this entry belongs to.
    pub table_addr: PhysAddr,
    pub entry_addr: EntryAddr,
    pub raw: u64,
    /// The entry maps a page (rather than pointing to the next table).
    pub leaf: bool,
    /// Rights combined over this entry and those above it.
    pub rights: Rights,
    /// The entry came from a PAE PDPTE register loaded with CR3 (SDM 4.4.1), not from memory
    /// (`entry_addr` is where it was loaded from).
    #[serde(default)]
    pub from_register: bool,
    /// The walk sets this entry's accessed flag (it was clear; see [`AdTiming`] for when).
    #[serde(default)]
    pub sets_accessed: bool,
    /// The walk sets this entry's dirty flag (a write through a leaf whose D was clear).
    #[serde(default)]
    pub sets_dirty: bool,
}

/// A write hardware makes to set accessed/dirty bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AdUpdate {
    pub level: usize,
    pub entry_addr: EntryAddr,
    pub old: u64,
    pub new: u64,
}

/// The physical page a successful walk reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Mapped {
    pub pa: PhysAddr,
    /// The byte at `pa`, or `None` when `pa` is beyond physical memory.
    pub value: Option<u8>,
    /// log2 of the page size (12 for 4 KiB, 21 for 2 MiB, ...).
    pub page_shift: u32,
    pub leaf_level: usize,
    pub global: bool,
    pub rights: Rights,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Outcome {
    Mapped(Mapped),
    Fault(PageFault),
}

/// The full record of one translation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Translation {
    pub va: VirtAddr,
    pub access: Access,
    pub mode: Mode,
    pub steps: Vec<WalkStep>,
    pub outcome: Outcome,
    pub ad_updates: Vec<AdUpdate>,
}

impl Translation {
    pub fn pa(&self) -> Option<PhysAddr> {
        match &self.outcome {
            Outcome::Mapped(m) => Some(m.pa),
            Outcome::Fault(_) => None,
        }
    }

    pub fn fault(&self) -> Option<&PageFault> {
        match &self.outcome {
            Outcome::Fault(f) => Some(f),
            Outcome::Mapped(_) => None,
        }
    }
}

/// What the walk is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub va: VirtAddr,
    pub access: Access,
    pub mode: Mode,
}

/// Where a walk starts: the root table's frame (CR3 or satp) and, for PAE, the four PDPTEs the
/// processor loaded into registers with CR3 (SDM Vol. 3A 4.4.1), which the walk uses instead of
/// memory. A bare frame number (`From<Pfn>`) walks as if CR3 had just been loaded: the PDPTEs
/// are read from memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkRoot {
    pub frame: Pfn,
    pub pdptes: Option<[u64; PDPTE_REGISTERS]>,
}

impl From<Pfn> for WalkRoot {
    fn from(frame: Pfn) -> Self {
        Self { frame, pdptes: None }
    }
}

/// Walks the tables under `root` (a frame number, or a [`WalkRoot`] with PAE's PDPTE
/// registers) for `request`. Never panics, never writes.
pub fn translate(
    mem: &PhysMem,
    format: &PagingFormat,
    root: impl Into<WalkRoot>,
    settings: &MmuSettings,
    request: Request,
) -> Translation {
    let root = root.into();
    let store = Growable { steps: Vec::with_capacity(format.levels.len()), updates: Vec::new() };
    let mut walk = Walk { mem, format, settings, request, store, pdptes: pdpte_registers(format, root) };
    // A faulting walk has writes only under AdTiming::AsWalked (the upper entries it passed).
    let outcome = match walk.run(root.frame.get()) {
        Ok(mapped) => Outcome::Mapped(mapped),
        Err((kind, level)) => Outcome::Fault(walk.fault(kind, level)),
    };
    Translation {
        va: request.va,
        access: request.access,
        mode: request.mode,
        steps: walk.store.steps,
        outcome,
        ad_updates: walk.store.updates,
    }
}

pub use super::fast_walk::{FastTranslation, MAX_FAST_LEVELS, translate_fast};

/// The PDPTE registers a walk uses: only for formats that have them.
fn pdpte_registers(format: &PagingFormat, root: WalkRoot) -> Option<[u64; PDPTE_REGISTERS]> {
    root.pdptes.filter(|_| format.has_pdpte_registers())
}

/// Where a walk keeps the entries it read and the A/D writes it makes.
trait WalkStore {
    /// Whether the walk reads the byte at the physical address (for the display).
    const READS_VALUE: bool;
    fn push_step(&mut self, step: WalkStep);
    fn steps(&self) -> &[WalkStep];
    fn step_mut(&mut self, at: usize) -> Option<&mut WalkStep>;
    fn push_update(&mut self, update: AdUpdate);
    fn update_for(&mut self, entry_addr: EntryAddr) -> Option<&mut AdUpdate>;
}

/// [`translate`]'s store: vectors, which become the [`Translation`].
struct Growable {
    steps: Vec<WalkStep>,
    updates: Vec<AdUpdate>,
}

impl WalkStore for Growable {
    const READS_VALUE: bool = true;

    fn push_step(&mut self, step: WalkStep) {
        self.steps.push(step);
    }

    fn steps(&self) -> &[WalkStep] {
        &self.steps
    }

    fn step_mut(&mut self, at: usize) -> Option<&mut WalkStep> {
        self.steps.get_mut(at)
    }

    fn push_update(&mut self, update: AdUpdate) {
        self.updates.push(update);
    }

    fn update_for(&mut self, entry_addr: EntryAddr) -> Option<&mut AdUpdate> {
        self.updates.iter_mut().find(|u| u.entry_addr == entry_addr)
    }
}

/// Whether combined `rights` allow the access: the walk's final check, and the check a TLB hit
/// makes with the rights cached in its entry (x86: U/S, R/W with CR0.WP, NX, SMEP/SMAP; RISC-V: U
/// with SUM, R/W/X with MXR). `None` when the access is allowed.
#[inline]
pub fn check_rights(
    format: &PagingFormat,
    settings: &MmuSettings,
    rights: Rights,
    access: Access,
    mode: Mode,
) -> Option<FaultKind> {
    check_rights_for(format.arch, settings, rights, access, mode)
}

/// [`check_rights`] for a format of the family `arch` (all it depends on of the format).
#[inline]
pub fn check_rights_for(
    arch: Arch,
    settings: &MmuSettings,
    rights: Rights,
    access: Access,
    mode: Mode,
) -> Option<FaultKind> {
    match arch {
        Arch::RiscV => {
            match mode {
                Mode::User if !rights.user => return Some(FaultKind::UserProtection),
                Mode::Supervisor if rights.user && (access == Access::Execute || !settings.sum) => {
                    return Some(FaultKind::SupervisorProtection);
                }
                _ => {}
            }
            let (allowed, kind) = match access {
                Access::Read => (rights.read || (settings.mxr && rights.execute), FaultKind::ReadProtection),
                Access::Write => (rights.write, FaultKind::WriteProtection),
                Access::Execute => (rights.execute, FaultKind::ExecuteProtection),
            };
            (!allowed).then_some(kind)
        }
        Arch::X86 | Arch::Generic => {
            let x86 = arch == Arch::X86;
            match mode {
                Mode::User => {
                    if !rights.user {
                        return Some(FaultKind::UserProtection);
                    }
                    if access == Access::Write && !rights.write {
                        return Some(FaultKind::WriteProtection);
                    }
                }
                Mode::Supervisor => {
                    if x86 && rights.user && access == Access::Execute && settings.smep {
                        return Some(FaultKind::SupervisorProtection);
                    }
                    if x86 && rights.user && access != Access::Execute && settings.smap && !settings.ac {
                        return Some(FaultKind::SupervisorProtection);
                    }
                    if access == Access::Write && (settings.wp || !x86) && !rights.write {
                        return Some(FaultKind::WriteProtection);
                    }
                }
            }
            (access == Access::Execute && !rights.execute).then_some(FaultKind::ExecuteProtection)
        }
    }
}

type Stop = (FaultKind, Option<usize>);

/// The lowest entry bit of PSE-36's physical address bits 39:32 (SDM Table 4-4: bits 20:13).
pub const PSE36_LSB: u32 = 13;

/// The bits of a leaf entry at `level` that PSE-36 makes physical address bits (M−1):32, or 0
/// where it does not apply: x86 32-bit entries (4 bytes) mapping a large page, with the switch
/// on. SDM Table 4-4: "Bits (M–1):32 of physical address" in bits (M–20):13, where M is the
/// minimum of 40 and MAXPHYADDR; "Bits 21:(M–19)" stay reserved.
pub fn pse36_address_bits(format: &PagingFormat, settings: &MmuSettings, level: usize) -> u64 {
    let applies =
        settings.pse36 && format.arch == Arch::X86 && format.pte_bytes == 4 && level < format.last_level();
    if !applies {
        return 0;
    }
    let m = u32::from(settings.maxphyaddr).clamp(32, 40);
    low_mask(m - 32) << PSE36_LSB
}

/// The frame number a leaf maps as the tree and inspector show it: the format's frame field, and
/// with PSE-36 (x86-32 4 MiB pages) entry bits 20:13 moved to where they belong, physical
/// address bits 39:32, as the walk uses them.
pub fn leaf_frame(format: &PagingFormat, settings: &MmuSettings, raw: u64, level: usize) -> u64 {
    let frame = format.frame(raw, level);
    let high_bits = pse36_address_bits(format, settings, level);
    if high_bits == 0 {
        return frame;
    }
    let shift = format.page_shift.min(32);
    (frame & !(high_bits >> shift)) | (((raw & high_bits) >> PSE36_LSB) << (32 - shift))
}

struct Walk<'a, S> {
    mem: &'a PhysMem,
    format: &'a PagingFormat,
    settings: &'a MmuSettings,
    request: Request,
    store: S,
    pdptes: Option<[u64; PDPTE_REGISTERS]>,
}

impl<S: WalkStore> Walk<'_, S> {
    fn run(&mut self, root: u64) -> Result<Mapped, Stop> {
        let format = self.format;
        if !format.va_in_range(self.request.va.get()) {
            let kind = if format.canonical { FaultKind::NonCanonical } else { FaultKind::OutOfRange };
            return Err((kind, None));
        }
        let mut table_addr = root.checked_shl(format.page_shift).filter(|a| a >> format.page_shift == root);
        let mut rights = Rights { read: true, write: true, execute: true, user: true };
        for level in 0..format.levels.len() {
            let index = format.index_of(self.request.va.get(), level);
            let entry_addr = table_addr
                .and_then(|t| t.checked_add(index * u64::from(format.pte_bytes)))
                .ok_or((FaultKind::TableOutsideMemory, Some(level)))?;
            let register = if level == 0 {
                self.pdptes.and_then(|r| r.get(usize::try_from(index).ok()?).copied())
            } else {
                None
            };
            let raw = match register {
                Some(raw) => raw,
                None => self
                    .mem
                    .read_le(PhysAddr::new(entry_addr), format.pte_bytes)
                    .map_err(|_| (FaultKind::TableOutsideMemory, Some(level)))?,
            };
            let present = format.present(raw, level);
            let leaf = present && format.is_leaf(raw, level);
            if present {
                rights = self.combine(rights, raw, level, leaf);
            }
            self.store.push_step(WalkStep {
                level,
                index,
                table_addr: PhysAddr::new(table_addr.unwrap_or_default()),
                entry_addr: EntryAddr::new(entry_addr),
                raw,
                leaf,
                rights,
                from_register: register.is_some(),
                sets_accessed: false,
                sets_dirty: false,
            });
            if !present {
                return Err((FaultKind::NotPresent, Some(level)));
            }
            self.check_entry(raw, level, leaf)?;
            if !leaf && self.as_walked() {
                // QEMU sets A once the entry passed the present and reserved-bit checks.
                self.set_ad(self.store.steps().len().saturating_sub(1), false);
            }
            if leaf {
                return self.finish_leaf(raw, level, rights);
            }
            table_addr = format.frame(raw, level).checked_shl(format.page_shift);
        }
        // Unreachable for valid formats (the last level is always a leaf), but never panic.
        Err((FaultKind::InvalidEntry, Some(format.last_level())))
    }

    /// Rights after this entry: x86 combines over all levels; RISC-V takes the leaf's.
    fn combine(&self, so_far: Rights, raw: u64, level: usize, leaf: bool) -> Rights {
        let f = self.format;
        match f.arch {
            Arch::RiscV => {
                if !leaf {
                    return so_far;
                }
                Rights {
                    read: f.flag(raw, Role::Readable, level, false),
                    write: f.flag(raw, Role::Writable, level, false),
                    execute: f.flag(raw, Role::Executable, level, false),
                    user: f.flag(raw, Role::User, level, false),
                }
            }
            Arch::X86 | Arch::Generic => {
                let nx = self.settings.nxe && f.flag(raw, Role::NoExecute, level, false);
                Rights {
                    read: true,
                    write: so_far.write && f.flag(raw, Role::Writable, level, true),
                    execute: so_far.execute && !nx,
                    user: so_far.user && f.flag(raw, Role::User, level, true),
                }
            }
        }
    }

    /// Checks that apply to every present entry: reserved bits and reserved encodings.
    fn check_entry(&self, raw: u64, level: usize, leaf: bool) -> Result<(), Stop> {
        let f = self.format;
        let reserved = f.fields_at(level).any(|field| field.role == Role::Reserved && field.get(raw) != 0);
        let nx_reserved =
            f.arch == Arch::X86 && !self.settings.nxe && f.flag(raw, Role::NoExecute, level, false);
        // Bits 51:MAXPHYADDR of a 64-bit x86 entry are reserved (SDM 4.4.2, 4.5.4); 32-bit
        // paging entries have no such bits.
        let maxphyaddr = u32::from(self.settings.maxphyaddr.clamp(32, MAX_PHYS_BITS));
        let above_maxphyaddr = f.arch == Arch::X86
            && f.pte_bytes == 8
            && maxphyaddr < u32::from(MAX_PHYS_BITS)
            && raw & (low_mask(u32::from(MAX_PHYS_BITS)) & !low_mask(maxphyaddr)) != 0;
        let pointer_reserved = f.arch == Arch::RiscV
            && !leaf
            && [Role::Accessed, Role::Dirty, Role::User]
                .into_iter()
                .any(|role| f.flag(raw, role, level, false));
        if reserved || nx_reserved || pointer_reserved || above_maxphyaddr {
            return Err((FaultKind::ReservedBit, Some(level)));
        }
        if f.arch == Arch::RiscV
            && f.flag(raw, Role::Writable, level, false)
            && !f.flag(raw, Role::Readable, level, false)
        {
            return Err((FaultKind::InvalidEntry, Some(level)));
        }
        if leaf
            && f.leaf_rule == LeafRule::ReadOrExecute
            && !f.flag(raw, Role::Readable, level, false)
            && !f.flag(raw, Role::Executable, level, false)
        {
            // A pointer where the last level must hold a leaf (RISC-V walk step 4: i < 0).
            return Err((FaultKind::InvalidEntry, Some(level)));
        }
        if leaf
            && level < f.last_level()
            && let SuperpageLowBits::Reserved { except_bit } = f.superpage_low_bits
        {
            // PSE-36's address bits are not reserved; those above MAXPHYADDR still are.
            let low = self.superpage_low_bits(raw, level, except_bit)
                & !pse36_address_bits(f, self.settings, level);
            if low != 0 {
                return Err((FaultKind::ReservedBit, Some(level)));
            }
        }
        Ok(())
    }

    /// The raw bits of the frame field that lie below a superpage's alignment.
    fn superpage_low_bits(&self, raw: u64, level: usize, except_bit: Option<u32>) -> u64 {
        let f = self.format;
        let Some(frame) = f.field(Role::Frame, level) else { return 0 };
        let low = f.entry_span_shift(level) - f.page_shift;
        let mut mask = low_mask(low.min(frame.width)) << frame.lsb;
        if let Some(bit) = except_bit.filter(|&b| b < 64) {
            mask &= !(1u64 << bit);
        }
        raw & mask
    }

    fn finish_leaf(&mut self, raw: u64, level: usize, rights: Rights) -> Result<Mapped, Stop> {
        let f = self.format;
        self.check_rights(rights, level)?;
        let span = f.entry_span_shift(level);
        let low_frames = span - f.page_shift;
        // With PSE-36, physical address bits 39:32 come from entry bits 20:13.
        let frame = leaf_frame(f, self.settings, raw, level);
        if f.superpage_low_bits == SuperpageLowBits::Misaligned && frame & low_mask(low_frames) != 0 {
            return Err((FaultKind::MisalignedSuperpage, Some(level)));
        }
        self.ad_updates(raw, level)?;
        let base = (frame & !low_mask(low_frames)).checked_shl(f.page_shift).unwrap_or(0);
        let pa = base | (self.request.va.get() & low_mask(span));
        let pa = PhysAddr::new(pa);
        let value = if S::READS_VALUE { self.mem.read_u8(pa).ok() } else { None };
        let global = f.flag(raw, Role::Global, level, false);
        Ok(Mapped { pa, value, page_shift: span, leaf_level: level, global, rights })
    }

    fn check_rights(&self, rights: Rights, level: usize) -> Result<(), Stop> {
        let Request { access, mode, .. } = self.request;
        match check_rights(self.format, self.settings, rights, access, mode) {
            Some(kind) => Err((kind, Some(level))),
            None => Ok(()),
        }
    }

    /// x86: A on every entry used, D on the leaf for a write. RISC-V: the leaf only, per Svade/Svadu.
    fn ad_updates(&mut self, leaf_raw: u64, leaf_level: usize) -> Result<(), Stop> {
        let f = self.format;
        let write = self.request.access == Access::Write;
        match f.arch {
            Arch::RiscV => {
                let a = f.flag(leaf_raw, Role::Accessed, leaf_level, true);
                let d = f.flag(leaf_raw, Role::Dirty, leaf_level, true);
                let needs_a = !a;
                let needs_d = write && !d;
                if !(needs_a || needs_d) {
                    return Ok(());
                }
                if self.settings.riscv_ad == RiscvAd::Svade {
                    let kind = if needs_a { FaultKind::AccessedClear } else { FaultKind::DirtyClear };
                    return Err((kind, Some(leaf_level)));
                }
                // Svadu: the leaf is the last step read.
                self.set_ad(self.store.steps().len().saturating_sub(1), write);
            }
            Arch::X86 | Arch::Generic => {
                // As walked, the upper entries got their A on the way down: only the leaf is left.
                let first = if self.as_walked() { self.store.steps().len().saturating_sub(1) } else { 0 };
                for at in first..self.store.steps().len() {
                    self.set_ad(at, write);
                }
            }
        }
        Ok(())
    }

    /// Whether this walk follows [`AdTiming::AsWalked`] (formats whose A/D follow x86).
    fn as_walked(&self) -> bool {
        self.settings.ad_timing == AdTiming::AsWalked && self.format.arch != Arch::RiscV
    }

    /// Sets A (and D on a leaf when `write`) in the entry of step `at`, marking the step.
    fn set_ad(&mut self, at: usize, write: bool) {
        let f = self.format;
        let Some(step) = self.store.step_mut(at).filter(|step| !step.from_register) else { return };
        let (level, entry_addr, old) = (step.level, step.entry_addr, step.raw);
        let mut new = f.with(old, Role::Accessed, level, 1);
        step.sets_accessed = new != old;
        if step.leaf && write {
            let with_dirty = f.with(new, Role::Dirty, level, 1);
            step.sets_dirty = with_dirty != new;
            new = with_dirty;
        }
        self.merge_update(level, entry_addr, old, new);
    }

    fn merge_update(&mut self, level: usize, entry_addr: EntryAddr, old: u64, new: u64) {
        if old == new {
            return;
        }
        // A cyclic table can reach the same entry twice: merge so the writes agree.
        if let Some(update) = self.store.update_for(entry_addr) {
            update.new |= new;
        } else {
            self.store.push_update(AdUpdate { level, entry_addr, old, new });
        }
    }

    fn fault(&self, kind: FaultKind, level: Option<usize>) -> PageFault {
        let Request { va, access, mode } = self.request;
        PageFault { kind, level, va, access, mode, report: self.report(kind, level) }
    }

    fn report(&self, kind: FaultKind, level: Option<usize>) -> ArchReport {
        let Request { access, mode, .. } = self.request;
        match self.format.arch {
            Arch::X86 => {
                if kind == FaultKind::NonCanonical {
                    return ArchReport::X86GeneralProtection;
                }
                // PAE's four PDPTEs are loaded with CR3 (SDM 4.4.1): "If any of the PDPTEs sets
                // both the P flag (bit 0) and any reserved bit, the MOV to CR instruction causes
                // a general-protection exception". The walk reports the bad PDPTE, as #GP.
                let pae_pdpte = level == Some(0) && self.format.has_pdpte_registers();
                if kind == FaultKind::ReservedBit && pae_pdpte {
                    return ArchReport::X86GeneralProtection;
                }
                if matches!(kind, FaultKind::OutOfRange | FaultKind::TableOutsideMemory) {
                    return ArchReport::None;
                }
                let mut code = 0;
                if kind != FaultKind::NotPresent {
                    code |= x86_error::P;
                }
                if access == Access::Write {
                    code |= x86_error::W;
                }
                if mode == Mode::User {
                    code |= x86_error::U;
                }
                if kind == FaultKind::ReservedBit {
                    code |= x86_error::RSVD;
                }
                // SDM 4.7: I/D is reported only with SMEP, or with PAE-style entries and NXE.
                let pae_style = self.format.pte_bytes == 8;
                if access == Access::Execute && (self.settings.smep || (pae_style && self.settings.nxe)) {
                    code |= x86_error::ID;
                }
                ArchReport::X86PageFault { error_code: code }
            }
            Arch::RiscV => {
                // Privileged spec, "Virtual Address Translation Process" step 2: a PTE read
                // that fails a PMA or PMP check (here: no memory there) raises an access-fault
                // exception of the original access type, not a page fault.
                let outside = kind == FaultKind::TableOutsideMemory;
                let cause = match (access, outside) {
                    (Access::Execute, false) => 12,
                    (Access::Read, false) => 13,
                    (Access::Write, false) => 15,
                    (Access::Execute, true) => 1,
                    (Access::Read, true) => 5,
                    (Access::Write, true) => 7,
                };
                ArchReport::RiscV { cause }
            }
            Arch::Generic => ArchReport::None,
        }
    }
}

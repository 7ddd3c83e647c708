//! The OS model's state: the pool of user frames and the page in each, the clock hand, the swap
//! area, what is known of the future (for OPT) and the statistics. The fault handler itself is
//! in `handler.rs`.

use super::super::cow::CowEvent;
use super::super::fault::{Access, FaultKind, Mode};
use super::super::format::{PagingFormat, Role, low_mask};
use super::super::machine::{Machine, MachineError};
use super::super::mmu::Translation;
use super::super::replace::{self, SplitMix64};
use super::super::table::{self, EntryRef, TableError};
use super::future::{Future, PageKey};
use super::settings::{OsModel, OsSettings, SettingsError};
use super::stats::{OsCounters, OsReport};
use super::swap::{SwapArea, SwapEncoding, SwapPages};
use crate::sim::address::{Pfn, VirtAddr};
use std::collections::{BTreeMap, HashMap, HashSet};
use thiserror::Error;

/// Largest base page the OS model pages in and out: each swap-in and swap-out holds a whole page
/// in memory, so a custom format with 4 GiB pages must not reach it.
pub const MAX_PAGE_SIZE: u64 = 1 << 21;

/// Why the OS model could not start or could not resolve a fault.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum OsError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(
        "the {0} format has no room for swap entries (it needs a one-bit present field in its last-level entries)"
    )]
    NoSwapEncoding(String),
    #[error("the OS model is manual: the fault is left for the student to repair")]
    Manual,
    #[error("a {0} fault is not one the OS model resolves")]
    NotHandled(&'static str),
    #[error("there is no process {0}")]
    NoProcess(usize),
    #[error("{va:#x} lies in a large page; the OS model pages base pages only")]
    LargePage { va: VirtAddr },
    #[error("{va:#x} is present already; there is nothing to load")]
    AlreadyPresent { va: VirtAddr },
    #[error("no frame for a user page: physical memory is full and no page can be evicted")]
    NoFrame,
    #[error("the swap area is full ({slots} slots)")]
    SwapFull { slots: u64 },
    #[error(
        "the {name} format's {size:#x}-byte pages are too large for the OS model (it pages base pages of at most {max:#x} bytes)"
    )]
    PageTooLarge { name: String, size: u64, max: u64 },
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Machine(#[from] MachineError),
}

/// A page held in one of the model's frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resident {
    pub key: PageKey,
    /// Load sequence number (FIFO order; 1 for the first page ever loaded).
    pub loaded: u64,
    /// The access that last used the page (LRU order).
    pub last_use: u64,
    /// The swap slot holding a copy of the page, if it has one (it came from swap, or was
    /// written there before): a clean page with a slot is evicted without a write.
    pub swap_slot: Option<u64>,
    /// The model's own reference bit, for formats without an accessed bit.
    pub(super) soft_referenced: bool,
}

/// One frame of the pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserFrame {
    /// Physical frame number.
    pub pfn: Pfn,
    pub page: Option<Resident>,
}

/// How a fault was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The page had never been loaded: a zero-filled frame.
    FirstTouch,
    /// The page was read back from its swap slot.
    SwapIn { slot: u64 },
    /// A clean page without a swap copy that was dropped earlier: zero-filled again.
    Refill,
    /// RISC-V Svade: the handler set the accessed (and for a store the dirty) bit.
    AccessBits,
    /// A write to a copy-on-write page: copied to a new frame, or (`copied: false`) made
    /// writable in place for its last owner.
    CopyOnWrite { copied: bool },
}

impl Resolution {
    /// Whether a page was loaded into a frame (a page fault that costs a frame).
    #[must_use]
    pub const fn loads_page(self) -> bool {
        !matches!(self, Resolution::AccessBits | Resolution::CopyOnWrite { .. })
    }

    #[must_use]
    pub fn describe(self) -> String {
        match self {
            Resolution::FirstTouch => "first touch (zero-filled)".into(),
            Resolution::SwapIn { slot } => format!("swap-in from slot {slot}"),
            Resolution::Refill => "refill of a dropped clean page (zero-filled)".into(),
            Resolution::AccessBits => "A/D bits set by software (Svade)".into(),
            Resolution::CopyOnWrite { copied: true } => {
                "copy-on-write: the page copied for the writer".into()
            }
            Resolution::CopyOnWrite { copied: false } => {
                "copy-on-write: last owner, made writable without a copy".into()
            }
        }
    }
}

/// A page taken out of its frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eviction {
    pub key: PageKey,
    /// The frame it left.
    pub frame: Pfn,
    /// Its process's ASID, for the TLB invalidation.
    pub asid: u16,
    /// The PTE's dirty bit when it was evicted.
    pub dirty: bool,
    /// Where its contents are now (`None`: a clean zero page, simply dropped).
    pub swap_slot: Option<u64>,
    /// It was dirty and so written to swap.
    pub written_back: bool,
    /// The not-present entry written in place of the mapping.
    pub pte: u64,
}

/// What the fault handler did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handled {
    pub key: PageKey,
    pub resolution: Resolution,
    /// The frame the page went into (page loads).
    pub frame: Option<Pfn>,
    pub evicted: Option<Eviction>,
    /// Pages whose accessed bit the clock hand cleared on its way to the victim.
    pub cleared: Vec<PageKey>,
    /// A copy-on-write fault's copy (or reuse); its page and ASID are to be invalidated in the
    /// TLB (INVLPG / SFENCE.VMA).
    pub cow: Option<CowEvent>,
}

/// One access made through the model (reference strings, the frames view).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsAccess {
    pub key: PageKey,
    pub access: Access,
    /// The last walk: the access's translation or its unresolved fault.
    pub translation: Translation,
    /// What the handler did, in order (usually nothing, or one page load).
    pub handled: Vec<Handled>,
    /// Why a fault stayed unresolved, if the handler tried.
    pub error: Option<OsError>,
}

impl OsAccess {
    /// The page was in memory (no page had to be loaded).
    #[must_use]
    pub fn hit(&self) -> bool {
        self.translation.fault().is_none() && !self.handled.iter().any(|h| h.resolution.loads_page())
    }

    /// The page load, if the access caused one.
    #[must_use]
    pub fn page_load(&self) -> Option<&Handled> {
        self.handled.iter().find(|h| h.resolution.loads_page())
    }
}

/// The operating system's memory manager for one machine.
#[derive(Clone, Debug)]
pub struct Os {
    pub(super) settings: OsSettings,
    pub(super) page_shift: u32,
    pub(super) leaf_level: usize,
    pub(super) encoding: SwapEncoding,
    /// Bits of a new user page's leaf, without frame, A or D.
    pub(super) leaf_template: u64,
    pub(super) frames: Vec<UserFrame>,
    pub(super) hand: usize,
    pub(super) resident: HashMap<PageKey, usize>,
    pub(super) ever_loaded: HashSet<PageKey>,
    pub(super) swap: SwapArea,
    /// Which page each swap slot belongs to.
    pub(super) slot_owners: BTreeMap<u64, PageKey>,
    pub(super) counters: Vec<OsCounters>,
    /// Accesses so far (the LRU clock).
    pub(super) now: u64,
    /// Pages loaded so far (the FIFO clock).
    pub(super) loads: u64,
    pub(super) rng: SplitMix64,
    /// The future and the access count when it was set (its position 0 is the next access).
    pub(super) future: Option<(Future, u64)>,
    /// Copy-on-write faults resolved, in order (the timeline).
    pub(super) cow_events: Vec<CowEvent>,
}

impl Os {
    /// A model with no page loaded yet, for machines of `format`.
    ///
    /// # Errors
    /// Bad settings, or a format whose entries cannot hold a swap slot.
    pub fn new(settings: OsSettings, format: &PagingFormat) -> Result<Self, OsError> {
        settings.validate()?;
        if format.page_size() > MAX_PAGE_SIZE {
            return Err(OsError::PageTooLarge {
                name: format.name.clone(),
                size: format.page_size(),
                max: MAX_PAGE_SIZE,
            });
        }
        let encoding =
            SwapEncoding::for_format(format).ok_or_else(|| OsError::NoSwapEncoding(format.name.clone()))?;
        let leaf_level = format.last_level();
        let flags: Vec<String> = super::super::replay::demand_flags(format)
            .into_iter()
            .filter(|name| {
                format
                    .field_named_at(name, leaf_level)
                    .is_none_or(|f| !matches!(f.role, Role::Accessed | Role::Dirty))
            })
            .collect();
        let leaf_template = table::leaf_bits(format, leaf_level, &flags)?;
        Ok(Self {
            settings,
            page_shift: format.page_shift,
            leaf_level,
            encoding,
            leaf_template,
            frames: Vec::new(),
            hand: 0,
            resident: HashMap::new(),
            ever_loaded: HashSet::new(),
            swap: SwapArea::default(),
            slot_owners: BTreeMap::new(),
            counters: Vec::new(),
            now: 0,
            loads: 0,
            rng: SplitMix64::new(settings.seed),
            future: None,
            cow_events: Vec::new(),
        })
    }

    /// The model starting from a saved swap area (a lab's), so that a page swapped out before
    /// the lab was saved reads its bytes back. Which page a slot belongs to is learnt when the
    /// page is evicted again.
    #[must_use]
    pub fn with_swap(mut self, pages: SwapPages) -> Self {
        self.swap = SwapArea::from_pages(pages);
        self
    }

    #[must_use]
    pub const fn settings(&self) -> &OsSettings {
        &self.settings
    }

    /// The frames of the pool, in slot order (the clock hand's order). The pool grows up to the
    /// frame limit as faults need frames.
    #[must_use]
    pub fn frames(&self) -> &[UserFrame] {
        &self.frames
    }

    /// The clock hand (an index into [`Self::frames`]) for the clock policies.
    #[must_use]
    pub const fn hand(&self) -> Option<usize> {
        if self.settings.policy.has_hand() { Some(self.hand) } else { None }
    }

    #[must_use]
    pub const fn swap(&self) -> &SwapArea {
        &self.swap
    }

    #[must_use]
    pub const fn encoding(&self) -> &SwapEncoding {
        &self.encoding
    }

    /// Swap slots with the page each belongs to, by slot.
    #[must_use]
    pub const fn slot_owners(&self) -> &BTreeMap<u64, PageKey> {
        &self.slot_owners
    }

    /// Accesses the model was told of so far.
    #[must_use]
    pub const fn accesses(&self) -> u64 {
        self.now
    }

    /// The page containing `va` in `process`.
    #[must_use]
    pub fn key(&self, process: usize, va: VirtAddr) -> PageKey {
        PageKey { process, va: VirtAddr::new(va.get() & !low_mask(self.page_shift)) }
    }

    /// The frame slot holding a page, if it is resident.
    #[must_use]
    pub fn slot_of(&self, key: PageKey) -> Option<usize> {
        self.resident.get(&key).copied()
    }

    /// Gives OPT the accesses to come, starting with the next one.
    pub fn set_future(&mut self, future: Future) {
        self.future = Some((future, self.now));
    }

    /// Whether the handler answers faults of `kind` (demand paging: not-present faults and the
    /// RISC-V Svade accessed/dirty faults).
    #[must_use]
    pub fn handles(&self, kind: FaultKind) -> bool {
        self.settings.model == OsModel::Demand
            && matches!(kind, FaultKind::NotPresent | FaultKind::AccessedClear | FaultKind::DirtyClear)
    }

    pub(super) fn counters_mut(&mut self, process: usize) -> &mut OsCounters {
        if self.counters.len() <= process {
            self.counters.resize_with(process + 1, OsCounters::default);
        }
        let last = self.counters.len() - 1;
        let index = process.min(last);
        &mut self.counters[index]
    }

    /// The counters of one process.
    #[must_use]
    pub fn counters(&self, process: usize) -> OsCounters {
        self.counters.get(process).cloned().unwrap_or_default()
    }

    /// The counters of every process together.
    #[must_use]
    pub fn total(&self) -> OsCounters {
        let mut total = OsCounters::default();
        for counters in &self.counters {
            total.add(counters);
        }
        total
    }

    /// The statistics, with processes named from `machine`.
    #[must_use]
    pub fn report(&self, machine: &Machine) -> OsReport {
        let mut per_process = BTreeMap::new();
        for (index, counters) in self.counters.iter().enumerate() {
            let name =
                machine.processes.get(index).map_or_else(|| format!("process {index}"), |p| p.name.clone());
            per_process.insert(name, counters.clone());
        }
        OsReport {
            model: self.settings.model.key(),
            policy: self.settings.policy.key(),
            frames: self.settings.frames,
            frames_used: self.frames.iter().filter(|f| f.page.is_some()).count(),
            swap_slots: self.swap.len(),
            total: self.total(),
            per_process,
        }
    }

    /// Tells the model of an access (LRU's clock, OPT's position, the software reference bit).
    /// The replayer calls it for every TLB lookup, hits included: an idealized LRU that real
    /// hardware cannot give an OS, which is why kernels approximate it with the clock.
    pub fn touch(&mut self, process: usize, va: VirtAddr) {
        self.now += 1;
        self.counters_mut(process).accesses += 1;
        let key = self.key(process, va);
        let now = self.now;
        if let Some(&slot) = self.resident.get(&key)
            && let Some(page) = self.frames.get_mut(slot).and_then(|f| f.page.as_mut())
        {
            page.last_use = now;
            page.soft_referenced = true;
        }
    }

    /// One access through the model: the walk, and on a fault the model handles, the handler
    /// and the walk again. Accessed/dirty bits are written as hardware would.
    ///
    /// # Errors
    /// [`MachineError::NoSuchProcess`] for a bad process index.
    pub fn access(
        &mut self,
        machine: &mut Machine,
        process: usize,
        va: VirtAddr,
        access: Access,
        mode: Mode,
    ) -> Result<OsAccess, MachineError> {
        self.touch(process, va);
        let key = self.key(process, va);
        let mut handled = Vec::new();
        // A not-present fault, then an Svade fault at most: three rounds always suffice.
        for _ in 0..3 {
            let translation = machine.access(process, va, access, mode)?;
            let takes = |kind: FaultKind| self.takes(machine, process, va, access, kind);
            let Some(kind) = translation.fault().map(|f| f.kind).filter(|&kind| takes(kind)) else {
                return Ok(OsAccess { key, access, translation, handled, error: None });
            };
            match self.handle_fault(machine, process, va, access, kind) {
                Ok(done) => handled.push(done),
                Err(error) => return Ok(OsAccess { key, access, translation, handled, error: Some(error) }),
            }
        }
        let translation = machine.access(process, va, access, mode)?;
        Ok(OsAccess { key, access, translation, handled, error: None })
    }

    /// The leaf entry of a page: the last-level entry on its walk, whatever its state, or
    /// `None` when a table on the way is missing or a large page covers it.
    #[must_use]
    pub fn leaf_entry(&self, machine: &Machine, key: PageKey) -> Option<EntryRef> {
        let root = machine.processes.get(key.process)?.root;
        let path = table::entry_path(&machine.mem, &machine.format, root, key.va).ok()?;
        path.last().copied().filter(|e| e.level == self.leaf_level)
    }

    /// The bits the clock policies read for frame `slot`, from its page's PTE.
    #[must_use]
    pub fn frame_bits(&self, machine: &Machine, slot: usize) -> FrameBits {
        let stale = FrameBits { referenced: false, dirty: false, stale: true };
        let Some(frame) = self.frames.get(slot) else { return stale };
        let Some(page) = &frame.page else { return stale };
        let format = &machine.format;
        let level = self.leaf_level;
        match self.leaf_entry(machine, page.key) {
            Some(e) if format.present(e.raw, level) && format.frame(e.raw, level) == frame.pfn.get() => {
                FrameBits {
                    referenced: format.flag(e.raw, Role::Accessed, level, page.soft_referenced),
                    dirty: format.flag(e.raw, Role::Dirty, level, true),
                    stale: false,
                }
            }
            _ => stale,
        }
    }

    /// Position of the current access in the known future.
    pub(super) fn position(&self, ahead: u64) -> Option<u64> {
        let (_, origin) = self.future.as_ref()?;
        (self.now + ahead).checked_sub(origin + 1)
    }

    /// Per frame, the position of its page's next use (OPT), given the current position.
    pub(super) fn next_uses(&self, position: Option<u64>) -> Vec<Option<u64>> {
        let (Some((future, _)), Some(now)) = (&self.future, position) else {
            return vec![None; self.frames.len()];
        };
        self.frames.iter().map(|f| f.page.as_ref().and_then(|p| future.next_use(p.key, now))).collect()
    }

    /// The frame the next eviction would take, if the next access faulted now; `None` while a
    /// frame is free. Changes nothing (the clock's sweep is played on copies of the bits).
    #[must_use]
    pub fn next_victim(&self, machine: &Machine) -> Option<usize> {
        let full = self.frames.len() >= self.settings.frames as usize;
        if !full || self.frames.iter().any(|f| f.page.is_none()) {
            return None;
        }
        let bits = self.pool_bits(machine);
        let next_uses = self.next_uses(self.position(1));
        let mut pool = pooled(&self.frames, bits, next_uses);
        let policy = self.settings.policy;
        Some(replace::choose_victim(policy, &mut pool, self.hand, &mut self.rng.clone(), &mut Vec::new()))
    }

    /// The bits the clock policies read, per frame (the list policies read none: no PTE is read).
    pub(super) fn pool_bits(&self, machine: &Machine) -> Vec<FrameBits> {
        if self.settings.policy.has_hand() {
            (0..self.frames.len()).map(|slot| self.frame_bits(machine, slot)).collect()
        } else {
            vec![FrameBits { referenced: false, dirty: false, stale: false }; self.frames.len()]
        }
    }
}

/// A frame's bits as the clock policies see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameBits {
    /// The PTE's accessed bit (or the model's own reference bit for formats without one).
    pub referenced: bool,
    /// The PTE's dirty bit (formats without one: always dirty).
    pub dirty: bool,
    /// The frame's page is no longer mapped there (the tables were edited behind the model).
    pub stale: bool,
}

/// A frame of the pool as the replacement engine ([`replace::choose_victim`]) sees it.
pub(super) struct Pooled<'a> {
    frame: &'a UserFrame,
    bits: FrameBits,
    next_use: Option<u64>,
}

/// The pool for the replacement engine: each frame with its bits and its page's next use.
pub(super) fn pooled(
    frames: &[UserFrame],
    bits: Vec<FrameBits>,
    next_uses: Vec<Option<u64>>,
) -> Vec<Pooled<'_>> {
    frames
        .iter()
        .zip(bits)
        .zip(next_uses.into_iter().chain(std::iter::repeat(None)))
        .map(|((frame, bits), next_use)| Pooled { frame, bits, next_use })
        .collect()
}

impl replace::Candidate for Pooled<'_> {
    fn occupied(&self) -> bool {
        self.frame.page.is_some()
    }
    fn loaded(&self) -> u64 {
        self.frame.page.as_ref().map_or(u64::MAX, |p| p.loaded)
    }
    fn last_use(&self) -> u64 {
        self.frame.page.as_ref().map_or(u64::MAX, |p| p.last_use)
    }
    fn next_use(&self) -> Option<u64> {
        self.next_use
    }
    fn referenced(&self) -> bool {
        self.bits.referenced
    }
    fn dirty(&self) -> bool {
        self.bits.dirty
    }
    fn clear_referenced(&mut self) {
        self.bits.referenced = false;
    }
}

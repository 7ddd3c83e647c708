//! Trace replay: drives a [`Machine`] and a TLB through an access trace one record at a time and
//! keeps the statistics a student compares across TLB shapes, page sizes and ASID modes.
//!
//! Conventions (those of `fixtures/traces/README.md`, so counts agree with a plain cache model):
//! - every distinct base page a record touches is one TLB lookup, in address order; a lackey `M`
//!   (modify) record is one lookup per page, checked as a write;
//! - a miss walks the tables once (its memory references are the entries it read), applies the
//!   accessed/dirty writes and fills one entry of the leaf's page size (a 2 MiB leaf, one entry);
//! - with demand mapping, a not-present fault maps a fresh frame (base page size, the format's
//!   default flags) and the walk is repeated: the fault and the second walk are counted, the
//!   lookup is not counted again. Without it, the fault is counted and the page skipped;
//! - a hit is checked against the rights cached in the entry, never against memory: an edited
//!   entry has no effect until the page is invalidated (stale entries, as on hardware). A hit
//!   that the cached rights refuse counts as a hit and a fault, without a walk;
//! - a write that hits an entry cached while the page was clean walks again to set the dirty bit
//!   (a dirty-bit assist): it stays a hit, and the walk is counted.
//!
//! - with an OS model set ([`Replayer::set_os`]) in demand-paging mode, not-present faults (and the
//!   RISC-V Svade accessed/dirty faults) go to its handler instead: it loads the page into one of
//!   its limited frames, evicting a victim if need be, and the walk is repeated. The fault and
//!   the second walk are counted as above (`demand_maps` counts the page loads); an eviction
//!   invalidates the victim's TLB entry. Every lookup, hit or miss, is reported to the model
//!   (LRU's order and OPT's position in the future);
//!
//! Memory stays flat whatever the trace length: records are consumed as they stream in, and the
//! per-step details live in one reused buffer.
//!
//! Speed: a run counts a record in the page of its access class's last hit in a few instructions
//! ([`HitHint`]s: one for fetches, two for data), and a miss walks with [`mmu::translate_fast`],
//! the walk of [`mmu::translate`] without allocation; both are exact (see their tests).

use super::address::{PhysAddr, VirtAddr};
use super::fast_walk::{self, CompiledFormat};
use super::fault::{Access, FaultKind, Mode};
use super::format::{Arch, PagingFormat, Role, low_mask};
use super::machine::{Machine, MapRequest, MapTarget};
use super::mmu::{
    self, AdUpdate, FastTranslation, Mapped, MmuSettings, Outcome, Request, Rights, WalkRoot, WalkStep,
    check_rights,
};
use super::os::{Os, OsReport};
use super::tlb::{AccessClass, HitHint, Tlb, TlbConfig, TlbEntry, TlbStats, Tlbs, TlbsConfigError};
use super::tlb_driver::Fill;
use super::trace::{
    AccessKind, BATCH_RECORDS, LackeyRecord, TraceError, TraceReader, TraceRecord, page_span,
};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use thiserror::Error;

/// How many pages of one record [`StepOutcome::pages`] details (a record may touch millions).
pub const MAX_DETAILED_PAGES: usize = 16;

/// Flags of a demand-mapped page: the format's defaults, plus execute permission where the
/// format grants it by a bit (RISC-V X), since a trace fetches instructions from such pages too.
pub(crate) fn demand_flags(format: &PagingFormat) -> Vec<String> {
    let mut flags = format.default_leaf_flags.clone();
    if let Some(x) = format.fields.iter().find(|f| f.role == Role::Executable)
        && !flags.contains(&x.name)
    {
        flags.push(x.name.clone());
    }
    flags
}

/// Costs behind the effective access time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Costs {
    /// One TLB probe, paid by every lookup.
    pub tlb_hit_ns: f64,
    /// One memory access: the data access itself and each entry a walk reads.
    pub memory_ns: f64,
}

impl Default for Costs {
    fn default() -> Self {
        Self { tlb_hit_ns: 1.0, memory_ns: 100.0 }
    }
}

/// Everything that shapes a replay besides the machine and the trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReplayConfig {
    /// The data TLB when `itlb` is set, else the one unified TLB.
    pub tlb: TlbConfig,
    /// A separate instruction TLB: instruction fetches use it, loads and stores `tlb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itlb: Option<TlbConfig>,
    /// Resolve not-present faults by mapping a fresh frame (first touch of a page).
    pub demand_map: bool,
    /// Privilege of every access (traces of user programs: [`Mode::User`]).
    pub mode: Mode,
    pub costs: Costs,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            tlb: TlbConfig::default(),
            itlb: None,
            demand_map: false,
            mode: Mode::User,
            costs: Costs::default(),
        }
    }
}

/// What a TLB entry caches: the result of a successful walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedTranslation {
    /// Physical address of the first byte of the page.
    pub frame_base: PhysAddr,
    /// log2 of the page size (12, 21, 22, 30, ...).
    pub page_shift: u32,
    /// Rights combined over the walk, as the hardware checks them on a hit.
    pub rights: Rights,
    pub global: bool,
    /// Whether the leaf was dirty when cached. A `Cell` because a dirty-bit assist updates the
    /// cached entry in place, and the TLB hands out shared references only (a refill would reset
    /// the entry's replacement age).
    dirty: Cell<bool>,
}

impl CachedTranslation {
    fn new(mapped: &Mapped, dirty: bool) -> Self {
        Self {
            frame_base: PhysAddr::new(mapped.pa.get() & !low_mask(mapped.page_shift)),
            page_shift: mapped.page_shift,
            rights: mapped.rights,
            global: mapped.global,
            dirty: Cell::new(dirty),
        }
    }

    /// Whether a write may proceed without a walk to set the dirty bit.
    pub fn dirty(&self) -> bool {
        self.dirty.get()
    }

    /// The physical address of `va` (which must lie in the cached page).
    pub fn pa(&self, va: VirtAddr) -> PhysAddr {
        PhysAddr::new(self.pa_raw(va.get()))
    }

    /// [`Self::pa`] on bare numbers, for the replay loop's hit path.
    #[inline]
    fn pa_raw(&self, va: u64) -> u64 {
        self.frame_base.get() | (va & low_mask(self.page_shift))
    }

    /// Whether a fresh walk reached the same page with the same rights; when not, the entry is
    /// stale (the tables changed and nobody invalidated it).
    pub fn agrees_with(&self, mapped: &Mapped) -> bool {
        self.same_page(&Self::new(mapped, false))
    }

    /// What the TLB driver caches: this translation, for its page.
    fn into_fill(self) -> Fill<Self> {
        Fill { page_shift: self.page_shift, global: self.global, payload: self }
    }

    /// The same translation, whatever the dirty state.
    fn same_page(&self, other: &Self) -> bool {
        self.frame_base == other.frame_base
            && self.page_shift == other.page_shift
            && self.rights == other.rights
            && self.global == other.global
    }
}

/// Counters of one process, or of all of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// TLB lookups: one per distinct base page per record.
    pub lookups: u64,
    pub hits: u64,
    pub misses: u64,
    /// Page walks: one per miss, plus the repeat after a demand map and dirty-bit assists.
    pub walks: u64,
    /// Entries read by those walks.
    pub walk_memory_refs: u64,
    /// Write hits on an entry cached clean, which walk again to set the dirty bit.
    pub dirty_assists: u64,
    /// Faults of every kind (a demand-mapped page counts one).
    pub faults: u64,
    /// Faults by kind, keyed by the kind's id (`not-present`, `write-protection`, ...).
    pub faults_by_kind: BTreeMap<FaultKind, u64>,
    /// Not-present faults resolved by mapping a fresh frame.
    pub demand_maps: u64,
    /// Not-present faults that demand mapping could not resolve (e.g. memory is full).
    pub demand_map_failures: u64,
}

impl Counters {
    #[cold]
    fn count_fault(&mut self, kind: FaultKind) {
        self.faults += 1;
        *self.faults_by_kind.entry(kind).or_insert(0) += 1;
    }

    fn add(&mut self, other: &Counters) {
        self.lookups += other.lookups;
        self.hits += other.hits;
        self.misses += other.misses;
        self.walks += other.walks;
        self.walk_memory_refs += other.walk_memory_refs;
        self.dirty_assists += other.dirty_assists;
        self.faults += other.faults;
        for (&kind, &count) in &other.faults_by_kind {
            *self.faults_by_kind.entry(kind).or_insert(0) += count;
        }
        self.demand_maps += other.demand_maps;
        self.demand_map_failures += other.demand_map_failures;
    }

    /// Hits per lookup, or `None` before the first lookup.
    pub fn hit_rate(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)] // a ratio: 2^53 lookups are out of reach
        (self.lookups > 0).then(|| self.hits as f64 / self.lookups as f64)
    }

    /// Mean time per lookup: a TLB probe and the data access every time, plus one memory access
    /// per entry read by walks. Fault handling is not priced.
    pub fn effective_access_ns(&self, costs: &Costs) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        (self.lookups > 0).then(|| {
            let lookups = self.lookups as f64;
            let refs = self.walk_memory_refs as f64;
            costs.tlb_hit_ns + costs.memory_ns + refs * costs.memory_ns / lookups
        })
    }

    fn summary(self, costs: &Costs) -> Summary {
        Summary {
            hit_rate: self.hit_rate(),
            effective_access_ns: self.effective_access_ns(costs),
            counters: self,
        }
    }
}

/// Counters with the rates derived from them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub counters: Counters,
    pub hit_rate: Option<f64>,
    pub effective_access_ns: Option<f64>,
}

/// The statistics of a replay so far.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplayStats {
    /// Trace records replayed.
    pub records: u64,
    /// Changes of the active process during the replay.
    pub switches: u64,
    #[serde(flatten)]
    pub total: Summary,
    /// By process name, sorted.
    pub per_process: BTreeMap<String, Summary>,
    pub costs: Costs,
    /// The data TLB's shape when split, else the unified TLB's.
    pub tlb_config: TlbConfig,
    /// The instruction TLB's shape, when the TLBs are split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub itlb_config: Option<TlbConfig>,
    /// The TLBs' own counters (lookups, inserts, evictions, flushes, invalidations), added up
    /// over both when split.
    pub tlb: TlbStats,
    /// When split: the instruction TLB's counters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub itlb: Option<TlbStats>,
    /// When split: the data TLB's counters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtlb: Option<TlbStats>,
    /// The OS model's counters, when one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<OsReport>,
}

/// How one lookup ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageResult {
    Mapped { pa: PhysAddr },
    Fault(FaultKind),
}

/// One TLB lookup of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageOutcome {
    /// The address looked up: the record's own address in its first page, a page base after.
    pub va: VirtAddr,
    pub hit: bool,
    /// Entries read by walks for this lookup (0 for a plain hit).
    pub walk_refs: u64,
    pub dirty_assist: bool,
    pub demand_mapped: bool,
    pub result: PageResult,
    /// The fault was left alone: resolving it would change a locked process.
    pub refused: bool,
}

/// What one record did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepOutcome<'a> {
    /// The process the record ran in.
    pub process: usize,
    /// The record switched the active process.
    pub switched: bool,
    /// Lookups the record made (one per distinct base page).
    pub lookups: u64,
    /// The first [`MAX_DETAILED_PAGES`] lookups, in address order.
    pub pages: &'a [PageOutcome],
}

/// Records [`Replayer::run_to_end`] replays between two progress reports (and cancel checks):
/// a few milliseconds of work.
pub const PROGRESS_RECORDS: u64 = 1 << 16;

/// How [`Replayer::run_to_end`] ended, with the records it replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The trace ended.
    Finished { records: u64 },
    /// `cancel` was set; the trace may go on from here.
    Cancelled { records: u64 },
}

/// A record named a process the lab does not have.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("the trace names process {0:?}, which the lab does not have")]
pub struct UnknownProcess(pub String);

/// Why one record could not be replayed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RecordError {
    #[error(transparent)]
    UnknownProcess(#[from] UnknownProcess),
    #[error(
        "the access to {va:#x} faults and resolving it would change process \"{process}\", which the exercise locks"
    )]
    Locked { process: String, va: VirtAddr },
}

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("line {line}: the trace names process {name:?}, which the lab does not have")]
    UnknownProcess { line: u64, name: String },
    #[error(
        "line {line}: the access to {va:#x} faults and resolving it would change process \"{process}\", which the exercise locks; replay stopped there"
    )]
    Locked { line: u64, process: String, va: VirtAddr },
}

/// [`check_rights`] for every combination of cached rights and access under one set of MMU
/// switches and one mode: a batch of hits looks its answer up instead of deciding again.
#[derive(Clone, Copy, Debug)]
struct RightsTable {
    settings: MmuSettings,
    mode: Mode,
    /// By [`RightsTable::index`]: bit 0 read, 1 write, 2 execute allowed.
    allowed: [u8; 16],
}

impl RightsTable {
    fn new(machine: &Machine, mode: Mode) -> Self {
        let mut allowed = [0u8; 16];
        for (index, slot) in allowed.iter_mut().enumerate() {
            let bit = |n: usize| index >> n & 1 == 1;
            let rights = Rights { read: bit(0), write: bit(1), execute: bit(2), user: bit(3) };
            for access in Access::ALL {
                if check_rights(&machine.format, &machine.settings, rights, access, mode).is_none() {
                    *slot |= Self::access_bit(access);
                }
            }
        }
        Self { settings: machine.settings, mode, allowed }
    }

    /// Rebuilds the table if the machine's switches changed since it was built.
    #[inline]
    fn follow(&mut self, machine: &Machine, mode: Mode) {
        if self.settings != machine.settings || self.mode != mode {
            *self = Self::new(machine, mode);
        }
    }

    fn index(rights: Rights) -> usize {
        usize::from(rights.read)
            | usize::from(rights.write) << 1
            | usize::from(rights.execute) << 2
            | usize::from(rights.user) << 3
    }

    fn access_bit(access: Access) -> u8 {
        match access {
            Access::Read => 1,
            Access::Write => 2,
            Access::Execute => 4,
        }
    }

    #[inline]
    fn allows(&self, rights: Rights, access: Access) -> bool {
        self.allowed.get(Self::index(rights)).is_some_and(|bits| bits & Self::access_bit(access) != 0)
    }
}

/// The replayer's [`HitHint`]s: the instruction fetches', then the two latest data pages'.
type Hints = [HitHint; 3];

/// A record's page found at a hint: the hint, and the cached rights and dirty state to check.
struct AtHint<'h> {
    hint: &'h HitHint,
    rights: Rights,
    dirty: bool,
}

/// Whether `addr` falls in the page of the last hit of `class` (one hint for fetches, two for
/// data) while the TLB is unchanged since: the one look-up behind both the batch loop and the
/// single-record path. Counts nothing.
#[inline(always)]
fn at_hint<'h>(
    tlbs: &Tlbs<CachedTranslation>,
    hints: &'h Hints,
    class: AccessClass,
    addr: u64,
) -> Option<AtHint<'h>> {
    let tlb = tlbs.get(class);
    let asid = tlb.current_asid();
    let candidates = match class {
        AccessClass::Instruction => &hints[..1],
        AccessClass::Data => &hints[1..],
    };
    candidates.iter().find_map(|hint| {
        let cached = tlb.hinted(asid, addr, hint)?.payload();
        Some(AtHint { hint, rights: cached.rights, dirty: cached.dirty() })
    })
}

/// Replays traces through a TLB in front of a machine's page tables.
#[derive(Clone, Debug)]
pub struct Replayer {
    config: ReplayConfig,
    tlb: Tlbs<CachedTranslation>,
    /// By process index.
    per_process: Vec<Counters>,
    /// The process whose ASID the TLB was last switched to.
    current: Option<usize>,
    records: u64,
    switches: u64,
    /// Reused for every step, so stepping allocates nothing.
    details: Vec<PageOutcome>,
    /// The operating system that answers faults, if any.
    os: Option<Os>,
    /// Processes (by name) that demand mapping and the OS model may not change.
    locked: Vec<String>,
    /// Where the last hits were: instruction fetches, then the two latest data pages (a fetch
    /// and a load interleave, and so do stack and heap accesses), so each keeps its shortcut.
    hints: Hints,
    /// The miss walk's result, reused (its fixed arrays are not cleared for each walk); boxed,
    /// so that the fields the hit path reads stay close together.
    fast: Box<FastTranslation>,
}

/// The result of a walk (or two, around a demand map), before it reaches the TLB.
struct Walked {
    result: PageResult,
    refs: u64,
    demand_mapped: bool,
    fill: Option<CachedTranslation>,
    /// Pages the OS model evicted meanwhile, as (va, ASID), to invalidate in the TLB.
    evicted: Vec<(u64, u16)>,
    /// A fault demand mapping or the OS model would have resolved, left alone (locked process).
    refused: bool,
}

/// Before the walk: a not-present fault, nothing read, nothing to cache.
impl Default for Walked {
    fn default() -> Self {
        Self {
            result: PageResult::Fault(FaultKind::NotPresent),
            refs: 0,
            demand_mapped: false,
            fill: None,
            evicted: Vec::new(),
            refused: false,
        }
    }
}

/// Whether a walk may resolve a fault by changing the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolve {
    /// Demand mapping is off (an OS model, if any, still answers its faults).
    Off,
    DemandMap,
    /// The process is locked: a fault that demand mapping or the OS model would resolve stops
    /// the replay instead.
    Locked,
}

impl Default for Replayer {
    /// The default TLB (ReplayConfig::default(): 64 entries, 4 ways, LRU, ASID-tagged).
    fn default() -> Self {
        // A constant shape that the unit tests check is valid; input never reaches here.
        Self::new(ReplayConfig::default()).unwrap_or_else(|_| unreachable!("the default TLB shape is valid"))
    }
}

impl Replayer {
    pub fn new(config: ReplayConfig) -> Result<Self, TlbsConfigError> {
        let tlb = Tlbs::new(config.tlb.clone(), config.itlb.clone())?;
        Ok(Self {
            config,
            tlb,
            per_process: Vec::new(),
            current: None,
            records: 0,
            switches: 0,
            details: Vec::with_capacity(MAX_DETAILED_PAGES),
            os: None,
            locked: Vec::new(),
            hints: [HitHint::default(); 3],
            fast: Box::default(),
        })
    }

    /// Sets (or removes) the operating system that answers faults; it replaces plain demand
    /// mapping while set.
    pub fn set_os(&mut self, os: Option<Os>) {
        self.os = os;
    }

    /// The OS model, to show its frames and statistics.
    pub fn os(&self) -> Option<&Os> {
        self.os.as_ref()
    }

    /// The OS model, e.g. to give OPT the future.
    pub fn os_mut(&mut self) -> Option<&mut Os> {
        self.os.as_mut()
    }

    pub fn config(&self) -> &ReplayConfig {
        &self.config
    }

    /// The data TLB when split, else the one unified TLB.
    pub fn tlb(&self) -> &Tlb<CachedTranslation> {
        self.tlb.data()
    }

    /// The TLBs (one unified, or an instruction and a data TLB), to show their entries.
    pub fn tlbs(&self) -> &Tlbs<CachedTranslation> {
        &self.tlb
    }

    /// The TLBs, to invalidate pages (INVLPG, SFENCE.VMA) or flush them.
    pub fn tlbs_mut(&mut self) -> &mut Tlbs<CachedTranslation> {
        &mut self.tlb
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// Replays one record.
    pub fn step(
        &mut self,
        machine: &mut Machine,
        record: &TraceRecord,
    ) -> Result<StepOutcome<'_>, RecordError> {
        let (process, switched, lookups) = self.replay(machine, record, true)?;
        Ok(StepOutcome { process, switched, lookups, pages: &self.details })
    }

    /// Replays one record: (process, switched, lookups). With `detailed`, the first pages'
    /// outcomes are kept for [`StepOutcome::pages`]; a whole run skips that.
    fn replay(
        &mut self,
        machine: &mut Machine,
        record: &TraceRecord,
        detailed: bool,
    ) -> Result<(usize, bool, u64), RecordError> {
        let switched = self.follow_process(machine, record.process.as_deref())?;
        let process = self.current.unwrap_or(0);
        let locked = !self.locked.is_empty()
            && machine.processes.get(process).is_some_and(|p| self.locked.contains(&p.name));
        let resolve = if locked && (self.config.demand_map || self.os.is_some()) {
            Resolve::Locked
        } else if self.config.demand_map {
            Resolve::DemandMap
        } else {
            Resolve::Off
        };
        self.records += 1;
        self.details.clear();
        let access = access_of(record.kind);
        let shift = machine.format.page_shift;
        if self.per_process.len() <= process {
            self.per_process.resize_with(process + 1, Counters::default);
        }
        let Some(counters) = self.per_process.get_mut(process) else { return Ok((process, switched, 0)) };
        let mut lookups = 0;
        // pages_touched, without RangeInclusive's bookkeeping: most records touch one page.
        let (first, last) = page_span(record.addr, record.size, shift);
        let mut page = first;
        loop {
            let va = page.checked_shl(shift).map_or(record.addr, |base| base.max(record.addr));
            let os = self.os.as_mut();
            let outcome = lookup(
                &mut self.tlb,
                &mut self.hints,
                &mut self.fast,
                counters,
                &self.config,
                machine,
                os,
                process,
                va,
                access,
                resolve,
            );
            lookups += 1;
            if outcome.refused {
                let process = machine.processes.get(process).map(|p| p.name.clone()).unwrap_or_default();
                return Err(RecordError::Locked { process, va: VirtAddr::new(va) });
            }
            if detailed && self.details.len() < MAX_DETAILED_PAGES {
                self.details.push(outcome);
            }
            if page >= last {
                break;
            }
            page += 1;
        }
        Ok((process, switched, lookups))
    }

    /// Replays the whole trace; returns the number of records replayed.
    pub fn run<R: BufRead>(
        &mut self,
        machine: &mut Machine,
        trace: &mut TraceReader<R>,
    ) -> Result<u64, ReplayError> {
        self.run_some(machine, trace, u64::MAX)
    }

    /// Replays at most `max_records` records (a GUI plays a long trace in slices); returns how
    /// many were replayed, fewer only at the end of the trace.
    pub fn run_some<R: BufRead>(
        &mut self,
        machine: &mut Machine,
        trace: &mut TraceReader<R>,
        max_records: u64,
    ) -> Result<u64, ReplayError> {
        let mut done = 0;
        // The shortcut needs the replayer to follow the machine's active process, which the
        // first full step makes sure of (nothing else changes the machine during the run).
        let mut following = false;
        // Lackey lines parsed ahead: `batch[next..parsed]` are the reader's next records.
        let mut batch = [LackeyRecord::default(); BATCH_RECORDS];
        let (mut next, mut parsed) = (0, 0);
        let mut allowed = RightsTable::new(machine, self.config.mode);
        while done < max_records {
            // Runs of hits at the hints are counted in a tight loop; the first record that is
            // not one is replayed in full, and the loop goes on in the same batch.
            if following && self.os.is_none() {
                if next == parsed {
                    next = 0;
                    parsed = trace.peek_batch(&mut batch).len();
                }
                let room = usize::try_from(max_records - done).unwrap_or(usize::MAX);
                let records = batch.get(next..parsed).unwrap_or_default();
                let records = records.get(..room.min(records.len())).unwrap_or_default();
                if !records.is_empty() {
                    allowed.follow(machine, self.config.mode);
                    let hits = self.hits_at_hints(machine, &allowed, records);
                    trace.consume_batch(records.get(..hits).unwrap_or_default());
                    next += hits;
                    done += hits as u64;
                    if let Some(missed) = records.get(hits) {
                        trace.consume_batch(std::slice::from_ref(missed));
                        next += 1;
                        self.replay_in_run(machine, &missed.record(), trace.line())?;
                        done += 1;
                    }
                    continue;
                }
            }
            // The iterator reads on from where the batch's records end.
            (next, parsed) = (0, 0);
            let Some(record) = trace.next() else { break };
            let record = record?;
            if !(following && self.hit_at_hint(machine, &record)) {
                self.replay_in_run(machine, &record, trace.line())?;
                following = true;
            }
            done += 1;
        }
        Ok(done)
    }

    /// Replays one record of a run in full; an error names the record's `line`.
    fn replay_in_run(
        &mut self,
        machine: &mut Machine,
        record: &TraceRecord,
        line: u64,
    ) -> Result<(), ReplayError> {
        match self.replay(machine, record, false) {
            Ok(_) => Ok(()),
            Err(RecordError::UnknownProcess(UnknownProcess(name))) => {
                Err(ReplayError::UnknownProcess { line, name })
            }
            Err(RecordError::Locked { process, va }) => Err(ReplayError::Locked { line, process, va }),
        }
    }

    /// How many of `records`, from the first, are hits at the hints ([`Replayer::hit_at_hint`]'s
    /// common case, with the rights check looked up in `allowed`), counted as that counts them.
    /// Stops at the first that is not; the caller must know that the replayer follows the
    /// machine's active process and has no OS model (which sees every lookup).
    #[inline]
    fn hits_at_hints(&mut self, machine: &Machine, allowed: &RightsTable, records: &[LackeyRecord]) -> usize {
        let Some(counters) = self.current.and_then(|process| self.per_process.get_mut(process)) else {
            return 0;
        };
        let shift = machine.format.page_shift;
        let mut hits = 0;
        for record in records {
            let (first, last) = page_span(record.addr, record.size, shift);
            if first != last {
                break;
            }
            let access = access_of(record.kind);
            let class = AccessClass::of(access);
            let Some(at) = at_hint(&self.tlb, &self.hints, class, record.addr) else { break };
            if !allowed.allows(at.rights, access) || (access == Access::Write && !at.dirty) {
                break;
            }
            self.tlb.get_mut(class).count_hinted_hit(at.hint);
            hits += 1;
        }
        let counted = hits as u64;
        counters.lookups += counted;
        counters.hits += counted;
        self.records += counted;
        hits
    }

    /// Replays the rest of the trace at full speed, in slices of [`PROGRESS_RECORDS`]: after
    /// each, `progress` gets the records replayed so far, and a set `cancel` stops the run
    /// there (it is read between slices). For a "Run to end" on a background thread, which
    /// owns the replayer, machine and reader meanwhile and hands them back at the end.
    /// A bad record stops the run with the same error as [`Replayer::run`]; the records before
    /// it stay replayed.
    pub fn run_to_end<R: BufRead>(
        &mut self,
        machine: &mut Machine,
        trace: &mut TraceReader<R>,
        cancel: &AtomicBool,
        mut progress: impl FnMut(u64),
    ) -> Result<RunEnd, ReplayError> {
        let mut records = 0;
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Ok(RunEnd::Cancelled { records });
            }
            let done = self.run_some(machine, trace, PROGRESS_RECORDS)?;
            records += done;
            progress(records);
            if done < PROGRESS_RECORDS {
                return Ok(RunEnd::Finished { records });
            }
        }
    }

    /// The common record of a run in a few instructions: one page, in the page of the last hit
    /// of its access class, allowed by the cached rights and needing no dirty-bit assist. Then
    /// it counts exactly what [`Replayer::replay`] would (a lookup, a hit, the TLB's own counts
    /// and its LRU order) and returns true; otherwise it changes nothing and returns false.
    /// The caller must know that the replayer follows the machine's active process.
    #[inline]
    fn hit_at_hint(&mut self, machine: &Machine, record: &TraceRecord) -> bool {
        if record.process.is_some() || self.os.is_some() {
            return false;
        }
        let Some(counters) = self.current.and_then(|process| self.per_process.get_mut(process)) else {
            return false;
        };
        let (first, last) = page_span(record.addr, record.size, machine.format.page_shift);
        if first != last {
            return false;
        }
        let access = access_of(record.kind);
        let class = AccessClass::of(access);
        let Some(at) = at_hint(&self.tlb, &self.hints, class, record.addr) else { return false };
        let refused = check_rights(&machine.format, &machine.settings, at.rights, access, self.config.mode);
        if refused.is_some() || (access == Access::Write && !at.dirty) {
            return false;
        }
        self.tlb.get_mut(class).count_hinted_hit(at.hint);
        counters.lookups += 1;
        counters.hits += 1;
        self.records += 1;
        true
    }

    /// The statistics so far, per process (named from `machine`) and in total.
    pub fn stats(&self, machine: &Machine) -> ReplayStats {
        let costs = self.config.costs;
        let mut total = Counters::default();
        let mut per_process = BTreeMap::new();
        for (index, process) in machine.processes.iter().enumerate() {
            let counters = self.per_process.get(index).cloned().unwrap_or_default();
            total.add(&counters);
            per_process.insert(process.name.clone(), counters.summary(&costs));
        }
        // Counters of processes deleted since (by index beyond the list) still count in the total.
        for counters in self.per_process.iter().skip(machine.processes.len()) {
            total.add(counters);
        }
        ReplayStats {
            records: self.records,
            switches: self.switches,
            total: total.summary(&costs),
            per_process,
            costs,
            tlb_config: self.config.tlb.clone(),
            itlb_config: self.config.itlb.clone(),
            tlb: self.tlb.stats(),
            itlb: self.tlb.instruction().map(Tlb::stats),
            dtlb: self.tlb.is_split().then(|| self.tlb.data().stats()),
            os: self.os.as_ref().map(|os| os.report(machine)),
        }
    }

    /// Whether a cached entry disagrees with what a walk of the current tables gives for its page
    /// (walked for the process owning its ASID, or the active one for global or untagged entries).
    /// A page that no access can reach any more counts as stale too.
    pub fn is_stale(&self, machine: &Machine, entry: &TlbEntry<CachedTranslation>) -> bool {
        let owner = machine
            .processes
            .iter()
            .position(|p| p.asid == entry.asid())
            .filter(|_| self.config.tlb.asid_tagging && !entry.global())
            .unwrap_or(machine.active);
        let Ok(root) = machine.walk_root(owner) else { return true };
        // The first access the page allows shows its translation (a walk for a refused access
        // reports only the fault).
        let attempts = [Mode::User, Mode::Supervisor]
            .into_iter()
            .flat_map(|mode| [Access::Read, Access::Execute].map(|access| (access, mode)));
        for (access, mode) in attempts {
            let request = Request { va: VirtAddr::new(entry.base()), access, mode };
            let walk = mmu::translate(&machine.mem, &machine.format, root, &machine.settings, request);
            if let Outcome::Mapped(mapped) = walk.outcome {
                return !entry.payload().agrees_with(&mapped);
            }
        }
        true
    }

    /// Names the processes whose faults may not be resolved by changing their tables (the
    /// exercise's locked processes): a record that would stops the replay with an error.
    pub fn set_locked(&mut self, names: impl IntoIterator<Item = String>) {
        self.locked = names.into_iter().collect();
    }

    /// Turns demand mapping on or off for the records that follow.
    pub fn set_demand_map(&mut self, on: bool) {
        self.config.demand_map = on;
    }

    /// One access made outside a trace (the GUI's MMU panel): a lookup for the active process in
    /// `mode`, a walk and a fill on a miss, counted like a trace lookup but never demand-mapped.
    pub fn access(&mut self, machine: &mut Machine, va: VirtAddr, access: Access, mode: Mode) -> PageOutcome {
        self.follow_active(machine);
        let process = self.current.unwrap_or(0);
        if self.per_process.len() <= process {
            self.per_process.resize_with(process + 1, Counters::default);
        }
        let config = ReplayConfig { mode, demand_map: false, ..self.config.clone() };
        let Some(counters) = self.per_process.get_mut(process) else {
            return PageOutcome {
                va,
                hit: false,
                walk_refs: 0,
                dirty_assist: false,
                demand_mapped: false,
                result: PageResult::Fault(FaultKind::NotPresent),
                refused: false,
            };
        };
        // No OS model either: the fault itself is what the student asked to see.
        lookup(
            &mut self.tlb,
            &mut self.hints,
            &mut self.fast,
            counters,
            &config,
            machine,
            None,
            process,
            va.get(),
            access,
            Resolve::Off,
        )
    }

    /// Follows the machine's active process: a change switches the TLB's address space, which
    /// flushes the non-global entries without ASID tagging (a CR3 write without PCIDs). Returns
    /// whether the process changed.
    pub fn follow_active(&mut self, machine: &Machine) -> bool {
        let active = machine.active.min(machine.processes.len().saturating_sub(1));
        if self.per_process.len() < machine.processes.len() {
            self.per_process.resize_with(machine.processes.len(), Counters::default);
        }
        // The ASID too: deleting a process can give the same index to another one.
        if self.current == Some(active) && self.tlb.current_asid() == machine.active_process().asid {
            return false;
        }
        let switched = self.current.is_some();
        self.current = Some(active);
        self.tlb.switch_asid(machine.active_process().asid);
        if switched {
            self.switches += 1;
        }
        switched
    }

    /// Follows a record's process (if it names one) and the machine's active process: a change
    /// switches the TLB's address space (a flush of non-global entries without ASID tagging).
    fn follow_process(&mut self, machine: &mut Machine, name: Option<&str>) -> Result<bool, UnknownProcess> {
        if let Some(name) = name.filter(|&name| machine.active_process().name != name) {
            let index = machine.find_process(name).map_err(|_| UnknownProcess(name.to_string()))?;
            machine.switch_to(index).map_err(|_| UnknownProcess(name.to_string()))?;
        }
        Ok(self.follow_active(machine))
    }
}

/// One TLB lookup (see [`lookup_in_tlb`]). On x86 a page fault also drops the faulting page's TLB
/// entries (SDM Vol. 3A 4.10.4.1: "a page-fault exception ... invalidates any TLB entries that
/// correspond to the faulting linear address"), so a stale entry that faulted is not used again.
/// RISC-V has no such rule: a stale entry stays until SFENCE.VMA (privileged spec 4.2.1).
#[allow(clippy::too_many_arguments)] // the replayer's fields, borrowed apart
#[inline]
fn lookup(
    tlbs: &mut Tlbs<CachedTranslation>,
    hints: &mut Hints,
    fast: &mut FastTranslation,
    counters: &mut Counters,
    config: &ReplayConfig,
    machine: &mut Machine,
    os: Option<&mut Os>,
    process: usize,
    va: u64,
    access: Access,
    resolve: Resolve,
) -> PageOutcome {
    let outcome =
        lookup_in_tlb(tlbs, hints, fast, counters, config, machine, os, process, va, access, resolve);
    if machine.format.arch == Arch::X86 && matches!(outcome.result, PageResult::Fault(_)) {
        tlbs.drop_faulting_page(va);
    }
    outcome
}

/// One TLB lookup, and what a hit or a miss leads to. A free function over the replayer's
/// fields so the process's counters and the TLB can be borrowed together.
#[allow(clippy::too_many_arguments)] // the replayer's fields, borrowed apart
#[inline]
fn lookup_in_tlb(
    tlbs: &mut Tlbs<CachedTranslation>,
    hints: &mut Hints,
    fast: &mut FastTranslation,
    counters: &mut Counters,
    config: &ReplayConfig,
    machine: &mut Machine,
    mut os: Option<&mut Os>,
    process: usize,
    va: u64,
    access: Access,
    resolve: Resolve,
) -> PageOutcome {
    let mode = config.mode;
    if let Some(os) = os.as_deref_mut() {
        os.touch(process, VirtAddr::new(va));
    }
    let class = AccessClass::of(access);
    let tlb = tlbs.get_mut(class);
    let asid = tlb.current_asid();
    counters.lookups += 1;
    let mut outcome = PageOutcome {
        va: VirtAddr::new(va),
        hit: false,
        walk_refs: 0,
        dirty_assist: false,
        demand_mapped: false,
        result: PageResult::Mapped { pa: PhysAddr::new(0) },
        refused: false,
    };
    // A data lookup that missed both hints replaces the older one.
    let hint = match class {
        AccessClass::Instruction => &mut hints[0],
        AccessClass::Data => {
            hints.swap(1, 2);
            &mut hints[1]
        }
    };
    if let Some(entry) = tlb.lookup_hinted(asid, va, hint) {
        counters.hits += 1;
        outcome.hit = true;
        let cached = entry.payload();
        if let Some(kind) = check_rights(&machine.format, &machine.settings, cached.rights, access, mode) {
            if os.as_deref().is_some_and(|os| os.takes(machine, process, VirtAddr::new(va), access, kind)) {
                // A write to a copy-on-write page cached read-only: the walk faults the same
                // way, the handler copies the page and invalidates this entry, the retry fills.
                let walked = walk_and_fill(tlbs, class, va, || {
                    walk(machine, fast, os, process, va, access, mode, resolve, counters)
                });
                outcome.refused = walked.refused;
                outcome.walk_refs = walked.refs;
                outcome.result = walked.result;
                return outcome;
            }
            counters.count_fault(kind);
            outcome.result = PageResult::Fault(kind);
            return outcome;
        }
        outcome.result = PageResult::Mapped { pa: PhysAddr::new(cached.pa_raw(va)) };
        if access != Access::Write || cached.dirty() {
            return outcome;
        }
        counters.dirty_assists += 1;
        outcome.dirty_assist = true;
        let mut walked = walk(machine, fast, os, process, va, access, mode, resolve, counters);
        invalidate_evicted(tlbs, &mut walked);
        outcome.refused = walked.refused;
        return finish_assist(tlbs, class, va, walked, outcome);
    }
    counters.misses += 1;
    let walked = walk_and_fill(tlbs, class, va, || {
        walk(machine, fast, os, process, va, access, mode, resolve, counters)
    });
    outcome.refused = walked.refused;
    outcome.walk_refs = walked.refs;
    outcome.demand_mapped = walked.demand_mapped;
    outcome.result = walked.result;
    outcome
}

/// A miss (or a copy-on-write retry) through the TLB driver: walks, invalidates the pages the
/// OS model evicted meanwhile, then caches the walk's translation. Returns the walk, its
/// translation taken.
fn walk_and_fill(
    tlbs: &mut Tlbs<CachedTranslation>,
    class: AccessClass,
    va: u64,
    walk: impl FnOnce() -> Walked,
) -> Walked {
    let mut walked = Walked::default();
    let Ok(_driven) = tlbs.walk_and_fill(class, va, |tlbs| {
        walked = walk();
        invalidate_evicted(tlbs, &mut walked);
        Ok::<_, Infallible>(walked.fill.take().map(CachedTranslation::into_fill))
    });
    walked
}

/// After a dirty-bit assist: marks the cached entry dirty, or replaces it if the walk found
/// another translation (the entry was stale).
fn finish_assist(
    tlbs: &mut Tlbs<CachedTranslation>,
    class: AccessClass,
    va: u64,
    walked: Walked,
    mut outcome: PageOutcome,
) -> PageOutcome {
    outcome.walk_refs = walked.refs;
    outcome.demand_mapped = walked.demand_mapped;
    outcome.result = walked.result;
    if let Some(translation) = walked.fill {
        let tlb = tlbs.get(class);
        match tlb.peek(tlb.current_asid(), va).map(TlbEntry::payload) {
            Some(cached) if cached.same_page(&translation) => cached.dirty.set(true),
            _ => {
                tlbs.fill(class, va, translation.into_fill());
            }
        }
    }
    outcome
}

/// Removes the TLB entries (instruction and data) of pages the OS model evicted during a walk.
fn invalidate_evicted(tlb: &mut Tlbs<CachedTranslation>, walked: &mut Walked) {
    for (va, asid) in walked.evicted.drain(..) {
        tlb.invalidate_page(va, Some(asid));
    }
}

/// Walks for `va`; on a not-present fault with demand mapping, maps a fresh page and walks again
/// (or, with an OS model, lets its handler resolve the fault and walks again).
/// Applies the accessed/dirty writes of a successful walk. Kept out of line: the hit path,
/// which runs a thousand times as often, then stays small.
#[cold]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn walk(
    machine: &mut Machine,
    fast: &mut FastTranslation,
    mut os: Option<&mut Os>,
    process: usize,
    va: u64,
    access: Access,
    mode: Mode,
    resolve: Resolve,
    counters: &mut Counters,
) -> Walked {
    let mut walked = Walked::default();
    // A page load, then an Svade fault: two handler calls resolve any fault the OS model takes.
    let mut os_rounds = 0;
    loop {
        // Each round from the root again: the OS model or a demand map may reload CR3 (PAE).
        let Ok(root) = machine.walk_root(process) else { return walked };
        let (refs, outcome) = walk_once(machine, fast, root, Request { va: VirtAddr::new(va), access, mode });
        counters.walks += 1;
        counters.walk_memory_refs += refs;
        walked.refs += refs;
        match outcome {
            Ok((mapped, dirty)) => {
                walked.result = PageResult::Mapped { pa: mapped.pa };
                walked.fill = Some(CachedTranslation::new(&mapped, dirty));
                return walked;
            }
            Err(kind) => {
                counters.count_fault(kind);
                walked.result = PageResult::Fault(kind);
                if resolve == Resolve::Locked {
                    let os_handles = os
                        .as_deref()
                        .is_some_and(|os| os.takes(machine, process, VirtAddr::new(va), access, kind));
                    let would_map = os.is_none() && kind == FaultKind::NotPresent && !walked.demand_mapped;
                    walked.refused = os_handles || would_map;
                    return walked;
                }
                if let Some(os) =
                    os.as_deref_mut().filter(|os| os.takes(machine, process, VirtAddr::new(va), access, kind))
                {
                    os_rounds += 1;
                    if os_rounds > 2 {
                        return walked;
                    }
                    match os.handle_fault(machine, process, VirtAddr::new(va), access, kind) {
                        Ok(handled) => {
                            if handled.resolution.loads_page() {
                                counters.demand_maps += 1;
                                walked.demand_mapped = true;
                            }
                            if let Some(eviction) = handled.evicted {
                                walked.evicted.push((eviction.key.va.get(), eviction.asid));
                            }
                            if let Some(cow) = &handled.cow {
                                // The kernel's INVLPG / SFENCE.VMA of the writer's read-only entry.
                                walked.evicted.push((cow.va.get(), cow.asid));
                            }
                            continue;
                        }
                        Err(_) => {
                            counters.demand_map_failures += 1;
                            return walked;
                        }
                    }
                }
                if kind != FaultKind::NotPresent || resolve != Resolve::DemandMap || walked.demand_mapped {
                    return walked;
                }
                let page = machine.format.page_size();
                let request = MapRequest {
                    va: VirtAddr::new(va & !(page - 1)),
                    len: page,
                    target: MapTarget::Alloc,
                    page_size: None,
                    flags: Some(demand_flags(&machine.format)),
                };
                if machine.map(process, &request).is_err() {
                    counters.demand_map_failures += 1;
                    return walked;
                }
                counters.demand_maps += 1;
                walked.demand_mapped = true;
            }
        }
    }
}

/// One walk for replay: the entries it read and, when it reached a page, the page and its dirty
/// bit after the walk's accessed/dirty writes, which are applied. Uses the allocation-free
/// [`mmu::translate_fast`] (the same walk as [`mmu::translate`], checked by a test).
fn walk_once(
    machine: &mut Machine,
    fast: &mut FastTranslation,
    root: WalkRoot,
    request: Request,
) -> (u64, Result<(Mapped, bool), FaultKind>) {
    let count = |steps: &[WalkStep]| u64::try_from(steps.len()).unwrap_or(u64::MAX);
    if let Some(compiled) = machine.compiled.as_deref() {
        // The machine compiled its format when it was built; the format never changes after.
        debug_assert_eq!(
            Some(compiled),
            CompiledFormat::new(&machine.format).as_ref(),
            "stale compiled format"
        );
        fast_walk::translate_compiled(&machine.mem, compiled, root, &machine.settings, request, fast);
        let refs = count(fast.steps());
        return match fast.outcome {
            Ok(mapped) => {
                let dirty = leaf_dirty_compiled(compiled, fast.steps(), fast.ad_updates(), mapped.leaf_level);
                if !fast.ad_updates().is_empty() {
                    machine.apply_ad_updates(fast.ad_updates());
                }
                (refs, Ok((mapped, dirty)))
            }
            Err(kind) => {
                // Writes of a faulting walk: the upper entries' A under AdTiming::AsWalked.
                machine.apply_ad_updates(fast.ad_updates());
                (refs, Err(kind))
            }
        };
    }
    let translation = mmu::translate(&machine.mem, &machine.format, root, &machine.settings, request);
    let refs = count(&translation.steps);
    // A faulting walk writes too under AdTiming::AsWalked (the upper entries it passed).
    machine.apply_ad(&translation);
    match translation.outcome {
        Outcome::Mapped(mapped) => {
            let dirty =
                leaf_dirty(&machine.format, &translation.steps, &translation.ad_updates, mapped.leaf_level);
            (refs, Ok((mapped, dirty)))
        }
        Outcome::Fault(fault) => (refs, Err(fault.kind)),
    }
}

/// [`leaf_dirty`] over a compiled format.
fn leaf_dirty_compiled(
    compiled: &CompiledFormat,
    steps: &[WalkStep],
    updates: &[AdUpdate],
    leaf_level: usize,
) -> bool {
    let Some(leaf) = steps.iter().rev().find(|step| step.leaf) else { return true };
    let raw = updates
        .iter()
        .find(|update| update.entry_addr == leaf.entry_addr)
        .map_or(leaf.raw, |update| update.new);
    compiled.dirty(raw, leaf_level)
}

/// The leaf's dirty bit after the walk's own updates; formats without one never need an assist.
fn leaf_dirty(format: &PagingFormat, steps: &[WalkStep], updates: &[AdUpdate], leaf_level: usize) -> bool {
    let Some(leaf) = steps.iter().rev().find(|step| step.leaf) else { return true };
    let raw = updates
        .iter()
        .find(|update| update.entry_addr == leaf.entry_addr)
        .map_or(leaf.raw, |update| update.new);
    format.flag(raw, Role::Dirty, leaf_level, true)
}

/// The access a trace record makes: a modify needs write permission (and dirties the page).
pub fn access_of(kind: AccessKind) -> Access {
    match kind {
        AccessKind::Instr => Access::Execute,
        AccessKind::Load => Access::Read,
        AccessKind::Store | AccessKind::Modify => Access::Write,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::mmu::MmuSettings;
    use crate::sim::presets;

    /// Every combination of leaf flags, switches, access and mode: the hit-path check must agree
    /// with the walk's own verdict, so a cached entry behaves as the page table did.
    #[test]
    fn check_rights_agrees_with_the_walk() {
        let cases: [(&str, &[&str], &[&str]); 2] =
            [("x86-64", &["R/W", "U/S", "NX"], &[]), ("sv39", &["R", "W", "X", "U"], &["A", "D"])];
        let mut compared = 0;
        for (preset, optional, always) in cases {
            for subset in 0u32..1 << optional.len() {
                let mut flags: Vec<String> = always.iter().map(|f| (*f).to_string()).collect();
                flags.extend(
                    optional
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| subset >> i & 1 == 1)
                        .map(|(_, f)| f.to_string()),
                );
                let format = presets::by_name(preset).expect("preset");
                let mut machine = Machine::new(format, 1 << 20).expect("machine");
                let request = MapRequest {
                    va: VirtAddr::new(0x40_0000),
                    len: 0x1000,
                    target: MapTarget::Alloc,
                    page_size: None,
                    flags: Some(flags),
                };
                if machine.map(0, &request).is_err() {
                    continue; // e.g. RISC-V W without R or X is still a leaf the walk refuses
                }
                for switches in 0u32..16 {
                    let bit = |n: u32| switches >> n & 1 == 1;
                    machine.settings = MmuSettings {
                        wp: bit(0),
                        smep: bit(1),
                        smap: bit(2),
                        nxe: true,
                        sum: bit(1),
                        mxr: bit(3),
                        ..MmuSettings::default()
                    };
                    for access in Access::ALL {
                        for mode in [Mode::User, Mode::Supervisor] {
                            let t = machine
                                .translate(0, VirtAddr::new(0x40_0123), access, mode)
                                .expect("process");
                            let Some(rights) = t.steps.last().map(|s| s.rights) else { continue };
                            let expected = match &t.outcome {
                                Outcome::Mapped(_) => None,
                                Outcome::Fault(f) if f.kind == FaultKind::InvalidEntry => continue,
                                Outcome::Fault(f) => Some(f.kind),
                            };
                            let got = check_rights(&machine.format, &machine.settings, rights, access, mode);
                            assert_eq!(got, expected, "{preset} {subset:b} {switches:b} {access:?} {mode:?}");
                            compared += 1;
                        }
                    }
                }
            }
        }
        assert!(compared > 500, "{compared}");
    }

    /// The table a batch of hits looks rights up in answers as `check_rights` does, for every
    /// cached rights, access, mode and combination of the switches that matter to it.
    #[test]
    fn the_rights_table_answers_as_check_rights() {
        for preset in ["x86-64", "sv39", "ostep-multilevel"] {
            let mut machine =
                Machine::new(presets::by_name(preset).expect("preset"), 1 << 20).expect("machine");
            for switches in 0u32..64 {
                let bit = |n: u32| switches >> n & 1 == 1;
                machine.settings = MmuSettings {
                    wp: bit(0),
                    smep: bit(1),
                    smap: bit(2),
                    ac: bit(3),
                    sum: bit(4),
                    mxr: bit(5),
                    ..MmuSettings::default()
                };
                for mode in [Mode::User, Mode::Supervisor] {
                    let table = RightsTable::new(&machine, mode);
                    for index in 0..16 {
                        let bit = |n: usize| index >> n & 1 == 1;
                        let rights = Rights { read: bit(0), write: bit(1), execute: bit(2), user: bit(3) };
                        for access in Access::ALL {
                            let expected =
                                check_rights(&machine.format, &machine.settings, rights, access, mode)
                                    .is_none();
                            assert_eq!(
                                table.allows(rights, access),
                                expected,
                                "{preset} {switches:b} {rights:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn run_to_end_reports_progress_and_stops_when_cancelled() {
        let format = presets::by_name("x86-64").expect("preset");
        let records = PROGRESS_RECORDS * 2 + 5;
        let text: String =
            (0..records).map(|i| format!("I  {:08x},4\n", 0x40_0000 + (i % 64) * 0x1000)).collect();
        let config = ReplayConfig { demand_map: true, ..ReplayConfig::default() };

        let mut machine = Machine::new(format.clone(), 1 << 24).expect("machine");
        let mut replayer = Replayer::new(config.clone()).expect("tlb");
        let mut trace = TraceReader::new(text.as_bytes());
        let mut reports = Vec::new();
        let end = replayer.run_to_end(&mut machine, &mut trace, &AtomicBool::new(false), |n| reports.push(n));
        assert_eq!(end.expect("valid trace"), RunEnd::Finished { records });
        assert_eq!(reports, vec![PROGRESS_RECORDS, PROGRESS_RECORDS * 2, records]);

        // The same counts as one plain run.
        let mut plain_machine = Machine::new(format, 1 << 24).expect("machine");
        let mut plain = Replayer::new(config).expect("tlb");
        plain.run(&mut plain_machine, &mut TraceReader::new(text.as_bytes())).expect("valid trace");
        assert_eq!(replayer.stats(&machine), plain.stats(&plain_machine));

        // Cancelled before the first slice: nothing replayed, and the trace can go on.
        let mut trace = TraceReader::new(text.as_bytes());
        let end = replayer.run_to_end(&mut machine, &mut trace, &AtomicBool::new(true), |_| {});
        assert_eq!(end.expect("no error"), RunEnd::Cancelled { records: 0 });
        assert_eq!(replayer.run_some(&mut machine, &mut trace, 3).expect("valid"), 3);
    }

    #[test]
    fn a_huge_record_details_only_the_first_pages() {
        let mut machine =
            Machine::new(presets::by_name("x86-64").expect("preset"), 1 << 24).expect("machine");
        let config = ReplayConfig { demand_map: true, ..ReplayConfig::default() };
        let mut replayer = Replayer::new(config).expect("tlb");
        let record = TraceRecord { kind: AccessKind::Load, addr: 0x1000, size: 100 << 12, process: None };
        let step = replayer.step(&mut machine, &record).expect("step");
        assert_eq!(step.lookups, 100);
        assert_eq!(step.pages.len(), MAX_DETAILED_PAGES);
        assert!(step.pages.iter().all(|p| !p.hit && p.demand_mapped));
        assert_eq!(replayer.stats(&machine).total.counters.demand_maps, 100);
    }
}

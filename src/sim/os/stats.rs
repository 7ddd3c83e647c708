//! What the OS model counts, per process and in total.

use serde::Serialize;
use std::collections::BTreeMap;

/// Counters of one process (evictions and write-backs count for the process that lost the page).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OsCounters {
    /// Accesses the OS model was told of (every access of a reference string; every TLB lookup
    /// of a trace replay).
    pub accesses: u64,
    /// Page faults resolved by loading a page: `first_touch + swap_ins + refills`.
    pub faults: u64,
    /// Loads of a page never loaded before: a zero-filled frame.
    pub first_touch: u64,
    /// Loads of a page read back from its swap slot.
    pub swap_ins: u64,
    /// Loads of a clean page without a swap copy that was dropped earlier: zero-filled again, no
    /// I/O.
    pub refills: u64,
    /// Pages taken out of a frame to make room.
    pub evictions: u64,
    /// Evicted pages that were dirty and so written to swap.
    pub write_backs: u64,
    /// RISC-V Svade faults (A clear, or a store with D clear) the handler answered by setting
    /// the bit; no page moves.
    pub ad_faults: u64,
    /// Faults the model could not resolve (no frame, swap full, a large page, ...).
    pub failures: u64,
    /// Writes to copy-on-write pages resolved: `cow_copies + cow_reuses`.
    #[serde(skip_serializing_if = "is_zero")]
    pub cow_faults: u64,
    /// Copy-on-write faults that copied the page for the writer.
    #[serde(skip_serializing_if = "is_zero")]
    pub cow_copies: u64,
    /// Copy-on-write faults of a last owner: the page made writable without a copy.
    #[serde(skip_serializing_if = "is_zero")]
    pub cow_reuses: u64,
    /// TLB invalidations the model issued (INVLPG / SFENCE.VMA of the writer's page after each
    /// copy-on-write fault).
    #[serde(skip_serializing_if = "is_zero")]
    pub tlb_invalidations: u64,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl OsCounters {
    pub(super) fn add(&mut self, other: &OsCounters) {
        self.accesses += other.accesses;
        self.faults += other.faults;
        self.first_touch += other.first_touch;
        self.swap_ins += other.swap_ins;
        self.refills += other.refills;
        self.evictions += other.evictions;
        self.write_backs += other.write_backs;
        self.ad_faults += other.ad_faults;
        self.failures += other.failures;
        self.cow_faults += other.cow_faults;
        self.cow_copies += other.cow_copies;
        self.cow_reuses += other.cow_reuses;
        self.tlb_invalidations += other.tlb_invalidations;
    }
}

/// The OS model's statistics, ready to print or serialize.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OsReport {
    pub model: &'static str,
    pub policy: &'static str,
    /// The frame limit.
    pub frames: u32,
    /// Frames holding a page now.
    pub frames_used: usize,
    /// Swap slots in use.
    pub swap_slots: usize,
    #[serde(flatten)]
    pub total: OsCounters,
    /// By process name, sorted.
    pub per_process: BTreeMap<String, OsCounters>,
}

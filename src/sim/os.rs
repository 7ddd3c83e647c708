//! The operating system that answers page faults: per lab, *manual* (faults are reported and
//! the student repairs the tables) or *demand paging* with a limited pool of user frames.
//!
//! On a not-present fault the handler takes a free frame of the pool, or evicts a page chosen
//! by the lab's policy (FIFO, LRU, OPT, Clock, enhanced Clock or random, with the orders and ties
//! of [`crate::sim::replace`]). Clock reads and clears the accessed bits in the real PTEs;
//! enhanced Clock reads A and D there too. A dirty victim is written to the swap area; the
//! victim's PTE becomes not present and keeps its swap slot in the bits the hardware ignores
//! (see [`SwapEncoding`]); a later fault on it reads the page back. The frame is filled (zeros,
//! or the swap copy), mapped, and the access retried. Evictions report the victim's page and
//! ASID so that a TLB in front can invalidate it.
//!
//! A write to a copy-on-write page (after [`crate::sim::fork`]) is resolved as Linux does (see
//! [`crate::sim::cow`]): a copy for the writer while others share the frame, the page made
//! writable in place for the last owner; each resolution asks the TLB in front to invalidate the
//! writer's stale read-only entry and is kept for the timeline ([`Os::cow_events`]). Copies come
//! from general memory, not from the pool of user frames: the pool holds pages the model loaded,
//! and a fork shares pages the lab mapped.

mod cow;
mod future;
mod handler;
mod model;
mod refs;
mod settings;
mod stats;
mod swap;

pub use future::{Future, PageKey};
pub use model::FrameBits;
pub use model::{Eviction, Handled, Os, OsAccess, OsError, Resident, Resolution, UserFrame};
pub use refs::{
    RefAccess, RefError, RefRun, RefTarget, RefToken, StepRecord, fault_curve, from_trace, parse_refs,
    ref_base, resolve,
};
pub use settings::{MAX_FRAMES, OsModel, OsSettings, SettingsError};
pub use stats::{OsCounters, OsReport};
pub use swap::{SwapArea, SwapEncoding, SwapPages};

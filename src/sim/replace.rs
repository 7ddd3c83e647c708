//! Page replacement: which resident page goes when a new one must come in.
//!
//! A pure simulator over a reference string (page numbers, each a read or a write) with a fixed
//! number of frames. [`Replacer`] steps one access at a time so a view can animate it; [`simulate`]
//! replays a whole string and [`fault_curve`] sweeps the frame count for a plot (where FIFO shows
//! Belady's anomaly). Nothing here does I/O or panics on input.
//!
//! OPT breaks ties the way OSTEP's `paging-policy.py` does, so that tool's solved outputs can serve
//! as fixtures; FIFO, LRU and OPT list frames in that tool's order too.

mod policy;
mod replacer;

mod run;
mod victim;

pub use victim::{Candidate, choose_victim};

pub use super::rng::SplitMix64;
pub use policy::{ParsePolicyError, Policy};
pub use replacer::{AccessOutcome, Frame, ReplaceError, Replacer};
pub use run::{
    DEFAULT_SEED, Reference, Run, Step, fault_curve, fault_curve_seeded, reads, simulate, simulate_seeded,
};

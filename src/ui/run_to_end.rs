//! "Run to end": the rest of an open trace replayed at full speed on a background thread, on
//! copies of the lab's machine and TLB ([`ReplayJob`]), with progress and Cancel. The tree, the
//! TLB and the plots change once, when the run ends (or is cancelled: what was replayed is kept
//! and playback can go on from there).

use super::plots::PlotSeries;
use super::trace_player::TracePlayer;
use crate::doc::tlb::ReplayJob;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Records replayed between two checks of the cancel flag (a few milliseconds of work).
const CHUNK: u64 = 1 << 14;

/// What the thread hands back: the copies it replayed on, the player (positioned where the run
/// stopped), the plot data and how it ended.
pub struct RunResult {
    pub job: ReplayJob,
    pub player: TracePlayer,
    pub series: PlotSeries,
    /// `Err` holds the message of a record that could not be replayed (the run stops there).
    pub outcome: Result<(), String>,
    pub cancelled: bool,
    pub elapsed: Duration,
}

/// A run in progress.
pub struct RunToEnd {
    /// The trace's file name, for the panel.
    pub name: String,
    cancel: Arc<AtomicBool>,
    records: Arc<AtomicU64>,
    consumed: Arc<AtomicU64>,
    file_len: u64,
    /// Records the player had replayed before the run.
    records_before: u64,
    handle: Option<JoinHandle<RunResult>>,
}

impl RunToEnd {
    /// Starts replaying the rest of `player`'s trace on a thread.
    pub fn start(job: ReplayJob, mut player: TracePlayer, mut series: PlotSeries) -> Self {
        let cancel = Arc::new(AtomicBool::new(false));
        let records = Arc::new(AtomicU64::new(player.records));
        let (consumed, file_len) = player.counters();
        let name = player.name();
        let records_before = player.records;
        let handle = {
            let cancel = Arc::clone(&cancel);
            let records = Arc::clone(&records);
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut job = job;
                let mut outcome = Ok(());
                let mut cancelled = false;
                player.playing = false;
                while !player.finished {
                    if cancel.load(Ordering::Relaxed) {
                        cancelled = true;
                        break;
                    }
                    if let Err(e) =
                        player.run_sampled(&mut job.replayer, &mut job.machine, &mut series, CHUNK)
                    {
                        outcome = Err(e);
                        break;
                    }
                    records.store(player.records, Ordering::Relaxed);
                }
                RunResult { job, player, series, outcome, cancelled, elapsed: started.elapsed() }
            })
        };
        Self { name, cancel, records, consumed, file_len, records_before, handle: Some(handle) }
    }

    /// Asks the thread to stop after its current chunk.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelling(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Records replayed by this run so far.
    pub fn records_done(&self) -> u64 {
        self.records.load(Ordering::Relaxed).saturating_sub(self.records_before)
    }

    /// Bytes of the file consumed, and its length.
    pub fn bytes(&self) -> (u64, u64) {
        (self.consumed.load(Ordering::Relaxed).min(self.file_len), self.file_len)
    }

    /// Fraction of the file consumed (compressed bytes for a gzip file).
    pub fn progress(&self) -> f32 {
        let (done, total) = self.bytes();
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)] // a progress bar
        if total == 0 { 0.0 } else { (done as f64 / total as f64).min(1.0) as f32 }
    }

    /// The result once the thread has finished; `None` while it runs. A thread that panicked
    /// gives an error (the lab was never touched: the run worked on copies).
    pub fn poll(&mut self) -> Option<Result<RunResult, String>> {
        if !self.handle.as_ref().is_some_and(JoinHandle::is_finished) {
            return None;
        }
        let handle = self.handle.take()?;
        Some(
            handle
                .join()
                .map_err(|_| "the background replay stopped unexpectedly; the lab is unchanged".into()),
        )
    }

    /// Waits for the thread (tests, and closing a lab while a run is in progress).
    pub fn wait(mut self) -> Option<Result<RunResult, String>> {
        let handle = self.handle.take()?;
        Some(handle.join().map_err(|_| "the background replay stopped unexpectedly".into()))
    }
}

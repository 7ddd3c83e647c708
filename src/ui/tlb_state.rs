//! The TLB the app runs in front of the lab's tables: a [`Replayer`](crate::sim::replay::Replayer) (the TLB and its
//! statistics) that the MMU panel's accesses and trace playback go through, the trace player,
//! the plot data and the background sweep. Like hardware state it is neither saved in the lab
//! nor undone, and starts empty when another lab is opened. Here too: the actions of the TLB
//! panel, the trace player and the plots, and how the app applies them.

use super::app::PagelabApp;
use super::plots::{self, PlotKind, PlotSeries, Sample, SweepJob, SweepResult, SweepShape, tables_key};
use super::run_to_end::RunToEnd;
use super::trace_player::TracePlayer;
use crate::doc::Document;
use crate::doc::tlb::TlbCommand;
use crate::sim::VirtAddr;
use crate::sim::mmu::{Outcome, Translation};
use crate::sim::replay::{Costs, PageResult, ReplayConfig};
use crate::sim::tlb::{AccessClass, TlbConfig};
use crate::sim::{Access, Mode};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

/// Longest a frame spends replaying, whatever the speed asks: the UI stays responsive.
const SLICE_BUDGET: Duration = Duration::from_millis(25);
/// Records replayed between two checks of the clock and the plot windows.
const CHUNK: u64 = 2048;

/// What the TLB panel, the trace player and the plots ask the app to do.
#[derive(Clone, Debug, PartialEq)]
pub enum TlbAction {
    /// Rebuild the TLB with this shape (the data TLB when an instruction TLB is given too): it
    /// starts empty, with fresh statistics.
    Configure(TlbConfig, Option<TlbConfig>),
    /// INVLPG / SFENCE.VMA for one address (global entries too).
    InvalidatePage(u64),
    /// Drop the active process's non-global entries (INVPCID single context, SFENCE.VMA x0, asid).
    InvalidateActiveAsid,
    FlushNonGlobal,
    FlushAll,
    OpenTrace(PathBuf),
    CloseTrace,
    /// Read the trace again from its start (the lab and the TLB stay as they are).
    Rewind,
    Play,
    Pause,
    Step,
    /// Replay the rest of the trace at full speed on a background thread.
    RunToEnd,
    /// Stop a run to the end (what it replayed so far is kept).
    CancelRun,
    StartSweep(SweepShape),
    CancelSweep,
    ExportCsv(PlotKind, PathBuf),
    ExportPng(PlotKind, PathBuf),
}

/// What the last access performed through the TLB did, for the MMU panel.
#[derive(Clone, Debug, PartialEq)]
pub struct AccessReport {
    /// The lab's architecture, for the fault's wording.
    pub arch: crate::sim::Arch,
    /// Which of split TLBs the access used (`None`: the unified TLB).
    pub tlb: Option<AccessClass>,
    pub va: u64,
    pub access: Access,
    pub mode: Mode,
    pub hit: bool,
    pub result: PageResult,
    /// Entries read by the walk (0 on a plain hit).
    pub walk_refs: u64,
    /// A write hit on an entry cached clean walked again to set the dirty bit.
    pub dirty_assist: bool,
    /// On a hit through a stale entry: what the tables say now.
    pub stale: Option<String>,
}

impl AccessReport {
    /// One line: "TLB hit -> 0x1234", "TLB miss: walk read 4 entries -> page fault: ...".
    pub fn summary(&self) -> String {
        let result = match self.result {
            PageResult::Mapped { pa } => {
                format!("-> physical address {}", crate::sim::addr::hex_grouped(pa.get()))
            }
            PageResult::Fault(kind) => format!("-> page fault: {}", kind.describe_in(self.arch)),
        };
        let tlb = AccessClass::short_name(self.tlb);
        if self.hit {
            let assist = if self.dirty_assist {
                format!(" (walk read {} entries to set D)", self.walk_refs)
            } else {
                String::new()
            };
            format!("{tlb} hit{assist} {result}")
        } else {
            // A walk that faults caches nothing.
            let filled =
                if matches!(self.result, PageResult::Fault(_)) { "nothing cached" } else { "entry filled" };
            format!("{tlb} miss: walk read {} entries, {filled} {result}", self.walk_refs)
        }
    }
}

/// The TLB panel's, player's and plots' fields (UI state: not saved, not undone).
pub struct TlbUi {
    /// The configuration being edited (the data TLB's when split); applied with a button.
    pub draft: TlbConfig,
    /// Whether the draft splits instruction and data TLBs.
    pub draft_split: bool,
    /// The instruction TLB of the draft, used when `draft_split`.
    pub draft_itlb: TlbConfig,
    pub invalidate_text: String,
    pub costs: Costs,
    pub trace_path: String,
    /// Records replayed per frame while playing.
    pub speed: u32,
    pub demand_map: bool,
    /// Lookups per hit-rate point for the next playback.
    pub window: u64,
    pub sweep_shape: SweepShape,
    pub export_plot: PlotKind,
    pub export_path: String,
    pub last_access: Option<AccessReport>,
    /// The player's last message (error or end of trace).
    pub message: Option<(String, bool)>,
    /// The plots window's last message (exports, sweep).
    pub plot_message: Option<(String, bool)>,
    /// Where each plot was drawn last (PNG export crops the screenshot to it).
    pub plot_rects: BTreeMap<PlotKind, egui::Rect>,
    pub pending_png: Option<(PlotKind, PathBuf)>,
    /// (TLB, set, way) of stale entries, and the state they were computed for. The TLB is
    /// `None` for a unified one.
    pub stale: Option<(StaleKey, BTreeSet<StaleSlot>)>,
}

/// What the stale marks depend on: the lab and the TLB's contents.
pub type StaleKey = (u64, crate::sim::tlb::TlbStats, u64);
/// A stale entry's place: which TLB (`None`: unified), set and way.
pub type StaleSlot = (Option<AccessClass>, usize, usize);

impl TlbUi {
    /// Forgets what belongs to the lab that was open (another one replaces it).
    pub fn forget_lab(&mut self) {
        self.last_access = None;
        self.stale = None;
    }
}

impl Default for TlbUi {
    fn default() -> Self {
        Self {
            draft: TlbConfig::default(),
            draft_split: false,
            draft_itlb: TlbConfig { entries: 32, ways: 4, ..TlbConfig::default() },
            invalidate_text: String::new(),
            costs: Costs::default(),
            trace_path: String::new(),
            speed: 5000,
            demand_map: true,
            window: plots::DEFAULT_WINDOW,
            sweep_shape: SweepShape::FullyAssociative,
            export_plot: PlotKind::HitRate,
            export_path: String::new(),
            last_access: None,
            message: None,
            plot_message: None,
            plot_rects: BTreeMap::new(),
            pending_png: None,
            stale: None,
        }
    }
}

/// What runs through the document's TLB: the trace player, the plot data and the sweep, and
/// the TLB shape to give the next lab's TLB. (The TLB itself is the document's: `Document::tlb`.)
pub struct TlbSim {
    /// The shape last configured, kept when another lab opens.
    pub config: ReplayConfig,
    pub player: Option<TracePlayer>,
    pub series: PlotSeries,
    pub sweep: Option<SweepJob>,
    /// "Run to end" in progress (the player is inside it meanwhile).
    pub run: Option<RunToEnd>,
    pub sweep_result: Option<SweepResult>,
    png_tx: Sender<Result<PathBuf, String>>,
    png_rx: Receiver<Result<PathBuf, String>>,
    /// Bumped whenever the TLB is rebuilt, so views can tell one TLB from the next.
    pub epoch: u64,
}

impl Default for TlbSim {
    fn default() -> Self {
        Self::new()
    }
}

impl TlbSim {
    pub fn new() -> Self {
        let (png_tx, png_rx) = channel();
        Self {
            config: ReplayConfig::default(),
            player: None,
            series: PlotSeries::default(),
            sweep: None,
            run: None,
            sweep_result: None,
            png_tx,
            png_rx,
            epoch: 0,
        }
    }

    pub fn png_sender(&self) -> Sender<Result<PathBuf, String>> {
        self.png_tx.clone()
    }

    /// An empty TLB of the same shape in the (new) document, fresh statistics and plots (another
    /// lab was opened). An open trace starts again from its beginning.
    pub fn reset(&mut self, doc: &mut Document) {
        if doc.tlb_command(TlbCommand::Configure(self.config.clone())).is_err() {
            self.config = doc.tlb().config().clone();
        }
        self.series.clear();
        self.epoch += 1;
        if let Some(job) = self.sweep.take() {
            job.cancel();
        }
        if let Some(run) = self.run.take() {
            // The run worked on the old lab's copies: stop it and take the player back.
            run.cancel();
            if let Some(Ok(result)) = run.wait() {
                self.player = Some(result.player);
            }
        }
        self.sweep_result = None;
        if let Some(player) = &self.player
            && let Ok(fresh) = TracePlayer::open(&player.path)
        {
            self.player = Some(fresh);
        }
    }

    /// Performs an access for the active process through the TLB: a hit uses the cached entry
    /// (even a stale one, as hardware does), a miss walks, writes A/D bits and fills. Returns
    /// what happened and the walk memory gives now (for the tree's highlight and the history).
    pub fn perform(
        &mut self,
        doc: &mut Document,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<(AccessReport, Translation), String> {
        doc.tlb_follow_active();
        let m = &doc.lab().machine;
        let arch = m.format().arch;
        let class = AccessClass::of(access);
        let tlbs = doc.tlb().tlbs();
        let tlb = tlbs.get(class);
        let cached_stale = tlb.peek(tlb.current_asid(), va).map(|entry| doc.tlb().is_stale(m, entry));
        let which = tlbs.is_split().then_some(class);
        let mut walk = m.translate(m.active(), VirtAddr::new(va), access, mode).map_err(|e| e.to_string())?;
        let outcome = doc.access_through_tlb(VirtAddr::new(va), access, mode).map_err(|e| e.to_string())?;
        let stale = (outcome.hit && cached_stale == Some(true)).then(|| match &walk.outcome {
            Outcome::Mapped(mapped) => {
                format!(
                    "the tables now say physical address {}",
                    crate::sim::addr::hex_grouped(mapped.pa.get())
                )
            }
            Outcome::Fault(fault) => {
                format!("the tables now say: page fault, {}", fault.kind.describe_in(arch))
            }
        });
        if outcome.hit && !outcome.dirty_assist {
            // No walk happened, so nothing was written.
            walk.ad_updates.clear();
        }
        let report = AccessReport {
            arch: doc.lab().machine.format().arch,
            tlb: which,
            va,
            access,
            mode,
            hit: outcome.hit,
            result: outcome.result,
            walk_refs: outcome.walk_refs,
            dirty_assist: outcome.dirty_assist,
            stale,
        };
        Ok((report, walk))
    }
}

impl PagelabApp {
    /// Per-frame work: follow process switches (a flush without ASID tagging), play a slice of
    /// the trace, collect the sweep's and the PNG export's news.
    pub(super) fn tlb_tick(&mut self, ctx: &egui::Context) {
        self.doc.tlb_follow_active();
        if self.tlb.player.as_ref().is_some_and(|p| p.playing) {
            let budget = u64::from(self.state.tlb.speed.max(1));
            self.play(budget, false);
            ctx.request_repaint();
        }
        self.poll_run_to_end(ctx);
        if let Some(job) = self.tlb.sweep.as_mut() {
            match job.poll() {
                Some(Ok(points)) => {
                    let label = job.label.clone();
                    self.state.tlb.plot_message =
                        Some((format!("Sweep done: {} sizes ({label}).", points.len()), false));
                    self.tlb.sweep_result = Some(SweepResult { label, points });
                    self.tlb.sweep = None;
                }
                Some(Err(e)) => {
                    self.state.tlb.plot_message = Some((format!("Sweep: {e}"), e != "cancelled"));
                    self.tlb.sweep = None;
                }
                None => ctx.request_repaint_after(Duration::from_millis(100)),
            }
        }
        while let Ok(result) = self.tlb.png_rx.try_recv() {
            self.state.tlb.plot_message = Some(match result {
                Ok(path) => (format!("Saved {}", path.display()), false),
                Err(e) => (format!("PNG export: {e}"), true),
            });
        }
    }

    /// Replays up to `budget` records (one step in detail when `single`) through the document:
    /// the slices of one playback share one undo step, and a record that would change a locked
    /// process stops the playback.
    fn play(&mut self, budget: u64, single: bool) {
        let Some(player) = self.tlb.player.as_mut() else { return };
        if player.batch_generation != Some(self.doc.generation)
            && self.tlb.series.hit_rate.is_empty()
            && self.tlb.series.misses.is_empty()
        {
            self.tlb.series = PlotSeries::new(self.state.tlb.window);
        }
        let label = format!("replay of {}", player.name());
        let series = &mut self.tlb.series;
        let result = self.doc.replay(&label, self.state.tlb.demand_map, |replayer, machine| {
            let started = Instant::now();
            let mut left = budget;
            while left > 0 && !player.finished && started.elapsed() < SLICE_BUDGET {
                let result = if single {
                    let stepped = player.step(replayer, machine).map(u64::from);
                    series.sample(Sample::of(replayer), machine, tables_key(machine, replayer));
                    stepped
                } else {
                    player.run_sampled(replayer, machine, series, left.min(CHUNK))
                };
                match result {
                    Ok(0) => break,
                    Ok(n) => left = left.saturating_sub(n),
                    Err(e) => return Some(e),
                }
                if single {
                    break;
                }
            }
            None
        });
        player.batch_generation = Some(self.doc.generation);
        let error = match result {
            Ok(error) => error,
            Err(e) => Some(e.to_string()),
        };
        if let Some(e) = error {
            player.playing = false;
            self.state.tlb.message = Some((format!("{e} (paused; Play goes on with the next line)"), true));
        } else if player.finished {
            let records = player.records;
            let machine = &self.doc.lab().machine;
            let key = tables_key(machine, self.doc.tlb());
            self.tlb.series.finish(Sample::of(self.doc.tlb()), machine, key);
            self.state.tlb.message = Some((format!("End of trace: {records} records replayed."), false));
        }
    }

    /// Hands the open trace to a background run on copies of the machine and the TLB.
    fn start_run_to_end(&mut self) {
        let Some(mut player) = self.tlb.player.take() else { return };
        if player.finished {
            self.tlb.player = Some(player);
            return;
        }
        if player.batch_generation != Some(self.doc.generation)
            && self.tlb.series.hit_rate.is_empty()
            && self.tlb.series.misses.is_empty()
        {
            self.tlb.series = PlotSeries::new(self.state.tlb.window);
        }
        player.playing = false;
        let job = self.doc.replay_job(self.state.tlb.demand_map);
        let series = std::mem::replace(&mut self.tlb.series, PlotSeries::new(self.state.tlb.window));
        self.state.tlb.message = None;
        self.tlb.run = Some(RunToEnd::start(job, player, series));
    }

    /// Installs a finished run's result as one undo step, or says why it was not kept.
    fn poll_run_to_end(&mut self, ctx: &egui::Context) {
        let Some(run) = self.tlb.run.as_mut() else { return };
        let Some(result) = run.poll() else {
            ctx.request_repaint_after(Duration::from_millis(50));
            return;
        };
        self.tlb.run = None;
        let result = match result {
            Ok(result) => result,
            Err(e) => {
                self.state.tlb.message = Some((e, true));
                return;
            }
        };
        let mut player = result.player;
        let label = format!("replay of {}", player.name());
        let records = player.records;
        let seconds = result.elapsed.as_secs_f64();
        match self.doc.finish_replay_job(&label, result.job) {
            Ok(()) => {
                player.batch_generation = Some(self.doc.generation);
                self.tlb.series = result.series;
                self.tlb.epoch += 1;
                let message = match (&result.outcome, result.cancelled, player.finished) {
                    (Err(e), _, _) => (format!("{e} (stopped there; Play goes on with the next line)"), true),
                    (Ok(()), true, _) => (
                        format!(
                            "Run cancelled after {records} records ({seconds:.1} s); Play goes on from there."
                        ),
                        false,
                    ),
                    _ => (format!("End of trace: {records} records replayed ({seconds:.1} s)."), false),
                };
                self.state.tlb.message = Some(message);
                self.tlb.player = Some(player);
            }
            Err(e) => {
                // The lab is as the user left it; the player's position went with the run.
                let message = format!("Run to end: {e}. The trace is back at its start.");
                self.state.tlb.message = Some((message.clone(), true));
                self.state.error(message);
                self.tlb.player = TracePlayer::open(&player.path).ok();
            }
        }
    }

    /// Applies one action of the TLB panel, the trace player or the plots.
    pub(super) fn run_tlb(&mut self, action: TlbAction) {
        let touches_trace = matches!(
            action,
            TlbAction::OpenTrace(_)
                | TlbAction::CloseTrace
                | TlbAction::Rewind
                | TlbAction::Play
                | TlbAction::Step
                | TlbAction::RunToEnd
                | TlbAction::Configure(..)
        );
        if touches_trace && self.tlb.run.is_some() {
            self.state.tlb.message =
                Some(("The trace is running to its end: wait for it or press Cancel first.".into(), true));
            return;
        }
        match action {
            TlbAction::Configure(tlb, itlb) => {
                let config = ReplayConfig {
                    tlb,
                    itlb,
                    demand_map: self.doc.tlb().config().demand_map,
                    ..ReplayConfig::default()
                };
                match self.doc.tlb_command(TlbCommand::Configure(config.clone())) {
                    Ok(_) => {
                        self.tlb.config = config;
                        self.tlb.series = PlotSeries::new(self.state.tlb.window);
                        self.tlb.epoch += 1;
                        self.state.tlb.last_access = None;
                        self.state.info("TLB rebuilt: empty, statistics reset");
                    }
                    Err(e) => self.state.error(format!("TLB: {e}")),
                }
            }
            TlbAction::InvalidatePage(va) => {
                let n = self.doc.tlb_command(TlbCommand::InvalidatePage(va)).unwrap_or(0);
                self.state.info(format!(
                    "invalidated {va:#x}: {n} entr{} removed",
                    if n == 1 { "y" } else { "ies" }
                ));
            }
            TlbAction::InvalidateActiveAsid => {
                let asid = self.doc.lab().machine.active_process().asid;
                let n = self.doc.tlb_command(TlbCommand::InvalidateActiveAsid).unwrap_or(0);
                self.state.info(format!(
                    "flushed ASID {asid}: {n} entr{} removed",
                    if n == 1 { "y" } else { "ies" }
                ));
            }
            TlbAction::FlushNonGlobal => {
                let n = self.doc.tlb_command(TlbCommand::FlushNonGlobal).unwrap_or(0);
                self.state.info(format!("flushed non-global entries: {n} removed"));
            }
            TlbAction::FlushAll => {
                let n = self.doc.tlb_command(TlbCommand::FlushAll).unwrap_or(0);
                self.state.info(format!("flushed the whole TLB: {n} entries removed"));
            }
            TlbAction::OpenTrace(path) => match TracePlayer::open(&path) {
                Ok(player) => {
                    self.state.tlb.trace_path = path.display().to_string();
                    self.state.tlb.message =
                        Some((format!("Opened {}: press Play or Step.", player.name()), false));
                    self.tlb.player = Some(player);
                    self.tlb.series = PlotSeries::new(self.state.tlb.window);
                    self.tlb.sweep_result = None;
                    self.dock.open(super::dock::Pane::Tlb);
                }
                Err(e) => {
                    self.state.tlb.message = Some((e.clone(), true));
                    self.state.error(e);
                }
            },
            TlbAction::CloseTrace => {
                self.tlb.player = None;
                self.state.tlb.message = None;
            }
            TlbAction::Rewind => {
                if let Some(player) = &self.tlb.player {
                    match TracePlayer::open(&player.path) {
                        Ok(fresh) => {
                            self.tlb.player = Some(fresh);
                            self.state.tlb.message = Some(("Back at the start of the trace.".into(), false));
                        }
                        Err(e) => self.state.tlb.message = Some((e, true)),
                    }
                }
            }
            TlbAction::Play => {
                if let Some(player) = self.tlb.player.as_mut() {
                    player.playing = !player.finished;
                    self.state.tlb.message = None;
                }
            }
            TlbAction::Pause => {
                if let Some(player) = self.tlb.player.as_mut() {
                    player.playing = false;
                }
            }
            TlbAction::Step => {
                if let Some(player) = self.tlb.player.as_mut() {
                    player.playing = false;
                }
                self.state.tlb.message = None;
                self.play(1, true);
            }
            TlbAction::RunToEnd => self.start_run_to_end(),
            TlbAction::CancelRun => {
                if let Some(run) = &self.tlb.run {
                    run.cancel();
                }
            }
            TlbAction::StartSweep(shape) => match &self.tlb.player {
                Some(player) => {
                    if let Some(job) = self.tlb.sweep.take() {
                        job.cancel();
                    }
                    let base = ReplayConfig {
                        demand_map: self.state.tlb.demand_map,
                        ..self.doc.tlb().config().clone()
                    };
                    let m = self.doc.lab().machine.clone();
                    self.tlb.sweep = Some(SweepJob::start(player.path.clone(), m, base, shape));
                    self.state.tlb.plot_message = Some(("Sweep running…".into(), false));
                }
                None => self.state.tlb.plot_message = Some(("Open a trace first.".into(), true)),
            },
            TlbAction::CancelSweep => {
                if let Some(job) = &self.tlb.sweep {
                    job.cancel();
                }
            }
            TlbAction::ExportCsv(kind, path) => {
                let text = plots::csv(kind, &self.tlb);
                self.state.tlb.plot_message = Some(match crate::lab::io::write_atomic(&path, &text) {
                    Ok(()) => (
                        format!("Saved {} ({} rows)", path.display(), text.lines().count().saturating_sub(1)),
                        false,
                    ),
                    Err(e) => (format!("Cannot write {}: {e}", path.display()), true),
                });
            }
            TlbAction::ExportPng(kind, path) => {
                self.dock.open(super::dock::Pane::Plots);
                self.state.tlb.pending_png = Some((kind, path));
            }
        }
    }

    /// The non-dry-run access of the MMU panel, through the TLB.
    pub(super) fn perform_through_tlb(
        &mut self,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<(Translation, String, PageResult), String> {
        let (report, walk) = self.tlb.perform(&mut self.doc, va, access, mode)?;
        let mut message = format!("{va:#x}: {}", report.summary());
        if report.stale.is_some() {
            message.push_str(" (stale TLB entry)");
        }
        let outcome = report.result;
        self.state.tlb.last_access = Some(report);
        Ok((walk, message, outcome))
    }
}

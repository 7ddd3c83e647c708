//! Trace playback in the app: a trace file streamed record by record through the app's TLB and
//! the lab's tables (never held in memory whole), with a progress measure in bytes of the file;
//! and its controls (open by typed path, play / pause / step / rewind, speed, demand mapping).

use super::plots::{PlotSeries, Sample, tables_key};
use super::run_to_end::RunToEnd;
use super::state::{Action, UiState};
use super::theme;
use super::tlb_state::{TlbAction, TlbSim};
use crate::sim::Machine;
use crate::sim::replay::{PageResult, RecordError, ReplayError, Replayer};
use crate::sim::tlb::AccessClass;
use crate::sim::trace::{AccessKind, TraceInput, TraceReader};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts the bytes read through it, so progress can be shown as bytes of the file consumed
/// (for a gzip file, compressed bytes: the decompressed length is unknown until the end).
#[derive(Debug)]
pub struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    pub fn new(inner: R) -> (Self, Arc<AtomicU64>) {
        let count = Arc::new(AtomicU64::new(0));
        (Self { inner, count: Arc::clone(&count) }, count)
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(u64::try_from(n).unwrap_or(0), Ordering::Relaxed);
        Ok(n)
    }
}

/// A trace file being read: the reader, and how much of the file it consumed.
pub type TraceFile = TraceReader<TraceInput<BufReader<CountingReader<File>>>>;

/// Opens a trace (plain or gzip, lackey or plain format) for streaming.
pub fn open_trace(path: &Path) -> Result<(TraceFile, Arc<AtomicU64>, u64), String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let (counting, consumed) = CountingReader::new(file);
    let reader = TraceReader::auto_pipelined(BufReader::with_capacity(1 << 16, counting))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((reader, consumed, len))
}

/// Whether a dropped file is a trace rather than a lab: by extension (.gz, .trace, .txt are
/// traces, .json is a lab), else by content (a lab is JSON and starts with `{`).
pub fn looks_like_trace(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("gz" | "trace" | "txt") => true,
        Some("json") => false,
        _ => {
            let mut head = [0u8; 256];
            let n = File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
            let text = head.get(..n).unwrap_or_default();
            let first = text.iter().find(|b| !b.is_ascii_whitespace());
            n > 0 && first != Some(&b'{')
        }
    }
}

/// A trace being played.
pub struct TracePlayer {
    pub path: PathBuf,
    reader: TraceFile,
    consumed: Arc<AtomicU64>,
    file_len: u64,
    pub playing: bool,
    pub finished: bool,
    /// Records replayed from this file.
    pub records: u64,
    /// What the last single step did, for the panel.
    pub last_step: Option<String>,
    /// The document generation after this player's last change: when the document moved on
    /// (an edit, an undo), the next slice starts a new undo step.
    pub batch_generation: Option<u64>,
}

impl TracePlayer {
    pub fn open(path: &Path) -> Result<Self, String> {
        let (reader, consumed, file_len) = open_trace(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            consumed,
            file_len,
            playing: false,
            finished: false,
            records: 0,
            last_step: None,
            batch_generation: None,
        })
    }

    /// The file name, for messages and undo labels.
    pub fn name(&self) -> String {
        self.path.file_name().map_or_else(|| self.path.display().to_string(), |n| n.to_string_lossy().into())
    }

    /// Fraction of the file's bytes consumed so far.
    pub fn progress(&self) -> f32 {
        if self.finished {
            return 1.0;
        }
        let consumed = self.consumed.load(Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)] // a progress bar
        if self.file_len == 0 { 0.0 } else { (consumed as f64 / self.file_len as f64).min(1.0) as f32 }
    }

    /// The shared count of bytes consumed, and the file's length (for a run on another thread).
    pub fn counters(&self) -> (Arc<AtomicU64>, u64) {
        (Arc::clone(&self.consumed), self.file_len)
    }

    pub fn bytes(&self) -> (u64, u64) {
        (self.consumed.load(Ordering::Relaxed).min(self.file_len), self.file_len)
    }

    /// The trace line last read (for error messages).
    pub fn line(&self) -> u64 {
        self.reader.line()
    }

    /// Replays up to `max` records; returns how many. The end of the trace sets `finished`.
    pub fn run(&mut self, replayer: &mut Replayer, machine: &mut Machine, max: u64) -> Result<u64, String> {
        let before = replayer.records();
        let result = replayer.run_some(machine, &mut self.reader, max);
        let done = replayer.records() - before;
        self.records += done;
        match result {
            Ok(n) => {
                if n < max {
                    self.finished = true;
                    self.playing = false;
                }
                Ok(done)
            }
            Err(ReplayError::Trace(e)) => Err(format!("{}: {e}", self.name())),
            Err(e @ (ReplayError::UnknownProcess { .. } | ReplayError::Locked { .. })) => {
                Err(format!("{}: {e}", self.name()))
            }
        }
    }

    /// Replays up to `max` records, stopping early at the end of a plot window, and samples the
    /// plots: the one loop body of playback and of "Run to end". Returns how many it replayed.
    pub fn run_sampled(
        &mut self,
        replayer: &mut Replayer,
        machine: &mut Machine,
        series: &mut PlotSeries,
        max: u64,
    ) -> Result<u64, String> {
        let to_window = series.lookups_to_window_end(replayer.tlbs().stats().lookups);
        let result = self.run(replayer, machine, max.min(to_window));
        series.sample(Sample::of(replayer), machine, tables_key(machine, replayer));
        if result.is_ok() && self.finished {
            series.finish(Sample::of(replayer), machine, tables_key(machine, replayer));
        }
        result
    }

    /// Replays one record and describes what it did.
    pub fn step(&mut self, replayer: &mut Replayer, machine: &mut Machine) -> Result<bool, String> {
        let Some(record) = self.reader.next() else {
            self.finished = true;
            self.playing = false;
            return Ok(false);
        };
        let line = self.reader.line();
        let record = record.map_err(|e| format!("{}: {e}", self.name()))?;
        let tlb = AccessClass::short_name(replayer.tlbs().is_split().then(|| record.kind.class()));
        let step = replayer.step(machine, &record).map_err(|e: RecordError| {
            let stopped = if matches!(e, RecordError::Locked { .. }) { "; replay stopped there" } else { "" };
            format!("{}: line {line}: {e}{stopped}", self.name())
        })?;
        self.records += 1;
        let kind = match record.kind {
            AccessKind::Instr => "fetch",
            AccessKind::Load => "load",
            AccessKind::Store => "store",
            AccessKind::Modify => "modify",
        };
        let pages: Vec<String> = step
            .pages
            .iter()
            .map(|p| {
                let what = if p.hit { "hit" } else { "miss" };
                let result = match p.result {
                    PageResult::Mapped { pa } => format!("-> {pa:#x}"),
                    PageResult::Fault(kind) => format!("fault: {}", kind.describe_in(machine.format().arch)),
                };
                let walk = if p.walk_refs > 0 {
                    format!(", walk read {} entries", p.walk_refs)
                } else {
                    String::new()
                };
                let demand = if p.demand_mapped { ", demand-mapped" } else { "" };
                format!("{tlb} {what}{walk}{demand} {result}")
            })
            .collect();
        let process = machine.processes().get(step.process).map_or("?", |p| p.name.as_str());
        self.last_step = Some(format!(
            "line {line}: {kind} {:#x} ({} byte(s), {process}): {}",
            record.addr,
            record.size.max(1),
            pages.join("; ")
        ));
        Ok(true)
    }
}

/// Speeds offered by the slider: records per frame.
pub const MAX_SPEED: u32 = 200_000;

pub fn trace_player_ui(ui: &mut egui::Ui, tlb: &TlbSim, state: &mut UiState, actions: &mut Vec<Action>) {
    let dark = ui.visuals().dark_mode;
    let ui_state = &mut state.tlb;
    ui.horizontal(|ui| {
        let label = ui.label("Trace file:");
        let response = ui
            .add(
                egui::TextEdit::singleline(&mut ui_state.trace_path)
                    .hint_text("lackey or plain trace, .gz allowed")
                    .desired_width(240.0),
            )
            .labelled_by(label.id);
        let enter = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Open trace").clicked() || enter) && !ui_state.trace_path.trim().is_empty() {
            actions.push(Action::Tlb(TlbAction::OpenTrace(PathBuf::from(ui_state.trace_path.trim()))));
        }
    });
    if let Some(run) = tlb.run.as_ref() {
        run_to_end_ui(ui, run, actions);
        return;
    }
    let Some(player) = tlb.player.as_ref() else {
        ui.label("Open a trace (or drop one on the window) to replay it through the TLB.");
        return;
    };
    ui.horizontal(|ui| {
        let (play_label, play_action) =
            if player.playing { ("Pause", TlbAction::Pause) } else { ("Play", TlbAction::Play) };
        if ui.add_enabled(!player.finished, egui::Button::new(play_label)).clicked() {
            actions.push(Action::Tlb(play_action));
        }
        if ui
            .add_enabled(!player.finished, egui::Button::new("Step"))
            .on_hover_text("Replay one record")
            .clicked()
        {
            actions.push(Action::Tlb(TlbAction::Step));
        }
        if ui
            .add_enabled(!player.finished, egui::Button::new("Run to end"))
            .on_hover_text(
                "Replay the rest of the trace at full speed in the background; the tree, the TLB and the plots change once, at the end (one undo step)",
            )
            .clicked()
        {
            actions.push(Action::Tlb(TlbAction::RunToEnd));
        }
        if ui
            .button("Rewind")
            .on_hover_text("Start the trace again (the lab and the TLB stay as they are)")
            .clicked()
        {
            actions.push(Action::Tlb(TlbAction::Rewind));
        }
        if ui.button("Close trace").clicked() {
            actions.push(Action::Tlb(TlbAction::CloseTrace));
        }
    });
    ui.horizontal(|ui| {
        let label = ui.label("Speed (records per frame):");
        ui.add(egui::Slider::new(&mut ui_state.speed, 1..=MAX_SPEED).logarithmic(true)).labelled_by(label.id);
    });
    ui.checkbox(&mut ui_state.demand_map, "Demand mapping")
        .on_hover_text("The first touch of an unmapped page maps a fresh frame (counted as a fault)");
    let (done, total) = player.bytes();
    let text = format!(
        "{}: {} records, {} of {}{}",
        player.name(),
        player.records,
        crate::sim::addr::format_size(done),
        crate::sim::addr::format_size(total),
        if player.finished { " (end of trace)" } else { "" }
    );
    ui.add(egui::ProgressBar::new(player.progress()).text(text));
    if let Some(step) = &player.last_step {
        ui.label(egui::RichText::new(step).monospace());
    }
    if let Some((message, error)) = &ui_state.message {
        let color = if *error { theme::fault_color(dark) } else { ui.visuals().text_color() };
        ui.colored_label(color, message);
    }
}

/// A run to the end in progress: its progress and Cancel (the other controls wait for it).
fn run_to_end_ui(ui: &mut egui::Ui, run: &RunToEnd, actions: &mut Vec<Action>) {
    ui.horizontal(|ui| {
        ui.spinner();
        ui.label(format!("Running {} to its end in the background…", run.name));
        let cancel = ui
            .add_enabled(!run.is_cancelling(), egui::Button::new("Cancel"))
            .on_hover_text("Stop here: what was replayed so far is kept, and Play goes on from there");
        if cancel.clicked() {
            actions.push(Action::Tlb(TlbAction::CancelRun));
        }
    });
    let (done, total) = run.bytes();
    let text = format!(
        "{} records, {} of {}",
        run.records_done(),
        crate::sim::addr::format_size(done),
        crate::sim::addr::format_size(total)
    );
    ui.add(egui::ProgressBar::new(run.progress()).text(text));
    ui.label(
        egui::RichText::new("The lab changes when the run ends; an edit made meanwhile discards the run.")
            .weak(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn traces_are_told_from_labs_by_extension_or_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::File::create(&path).and_then(|mut f| f.write_all(text.as_bytes())).expect("write");
            path
        };
        assert!(looks_like_trace(&write("a.gz", "x")));
        assert!(looks_like_trace(&write("a.trace", "{")));
        assert!(!looks_like_trace(&write("a.json", "0x1000 r")));
        assert!(looks_like_trace(&write("plain", "0x1000 r\n")));
        assert!(!looks_like_trace(&write("lab", "  {\"format\": \"pagelab-lab\"}")));
    }

    #[test]
    fn the_counting_reader_counts_what_the_trace_reader_consumed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.txt");
        std::fs::write(&path, "0x1000 r\n0x2000 w\n").expect("write");
        let (mut reader, consumed, len) = open_trace(&path).expect("opens");
        assert_eq!(len, 18);
        assert_eq!(reader.by_ref().count(), 2);
        assert_eq!(consumed.load(Ordering::Relaxed), 18);
    }
}

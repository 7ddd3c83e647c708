//! The statistics plots (egui_plot): TLB hit rate per window of lookups and cumulative misses
//! during trace playback, page-table bytes per process over time against the linear table, and
//! a sweep of hit rate against TLB size run on a background thread. Plot data exports as CSV,
//! a plot as a PNG cropped from a screenshot of the window.

use super::state::{Action, UiState};
use super::theme;
use super::tlb_state::{TlbAction, TlbSim};
use super::trace_player::open_trace;
use crate::sim::Machine;
use crate::sim::addr::{format_size, format_size_u128};
use crate::sim::replay::{ReplayConfig, Replayer};
use crate::sim::table;
use crate::sim::tlb::{TlbConfig, TlbPolicy};
use egui_plot::{Corner, GridMark, HLine, HoverPosition, Legend, Line, LineStyle, Plot, Points};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError, channel};

/// TLB sizes of the sweep: 4 to 4096 entries, powers of two.
pub const SWEEP_SIZES: [usize; 11] = [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

/// Past this many points a series halves its resolution (and doubles its window), so a trace of
/// billions of records keeps plots light.
const MAX_POINTS: usize = 20_000;

/// Lookups per hit-rate point unless the user chooses otherwise.
pub const DEFAULT_WINDOW: u64 = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlotKind {
    HitRate,
    Misses,
    TableBytes,
    Sweep,
}

impl PlotKind {
    pub const ALL: [PlotKind; 4] =
        [PlotKind::HitRate, PlotKind::Misses, PlotKind::TableBytes, PlotKind::Sweep];

    pub fn label(self) -> &'static str {
        match self {
            PlotKind::HitRate => "TLB hit rate",
            PlotKind::Misses => "Cumulative misses",
            PlotKind::TableBytes => "Page-table bytes",
            PlotKind::Sweep => "Hit rate vs TLB size",
        }
    }

    /// A file name for exports.
    pub fn stem(self) -> &'static str {
        match self {
            PlotKind::HitRate => "hit-rate",
            PlotKind::Misses => "misses",
            PlotKind::TableBytes => "table-bytes",
            PlotKind::Sweep => "sweep",
        }
    }
}

/// The TLB shapes a sweep tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepShape {
    /// Every size fully associative with LRU.
    FullyAssociative,
    /// The current TLB's ways (capped by the size) and policy.
    CurrentWays,
}

/// Data sampled during playback.
#[derive(Clone, Debug)]
pub struct PlotSeries {
    /// Lookups per hit-rate point.
    pub window: u64,
    window_start: (u64, u64),
    /// (lookups at the window's end, hit rate in % over the window).
    pub hit_rate: Vec<[f64; 2]>,
    /// (lookups, misses so far).
    pub misses: Vec<[f64; 2]>,
    /// Per process name: (lookups, bytes of its tables).
    pub table_bytes: BTreeMap<String, Vec<[f64; 2]>>,
    /// What a one-level table for the whole address space would take.
    pub linear_bytes: f64,
    /// Table bytes are recounted only when this key changes (tables grow by demand maps).
    tables_key: Option<(u64, u64)>,
    last_tables: Vec<(String, u64)>,
}

impl Default for PlotSeries {
    fn default() -> Self {
        Self::new(DEFAULT_WINDOW)
    }
}

/// Counters the series samples, read from the replayer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    pub lookups: u64,
    pub hits: u64,
    pub misses: u64,
}

impl Sample {
    /// The replayer's counters now (both TLBs when split).
    pub fn of(replayer: &Replayer) -> Self {
        let s = replayer.tlbs().stats();
        Self { lookups: s.lookups, hits: s.hits, misses: s.misses }
    }
}

/// The counters the plots' table sizes depend on: tables change with demand maps and edits.
pub fn tables_key(machine: &Machine, replayer: &Replayer) -> (u64, u64) {
    let demand_maps = replayer.stats(machine).total.counters.demand_maps;
    (demand_maps, machine.processes().len() as u64)
}

/// Bytes of the tables reachable from each process's root, by name.
pub fn table_bytes(m: &Machine) -> Vec<(String, u64)> {
    m.processes()
        .iter()
        .map(|p| {
            let bytes = table::tables(m.mem(), m.format(), p.root)
                .iter()
                .map(|t| m.format().table_bytes(t.level))
                .sum();
            (p.name.clone(), bytes)
        })
        .collect()
}

#[allow(clippy::cast_precision_loss)] // plot coordinates
fn f(value: u64) -> f64 {
    value as f64
}

impl PlotSeries {
    pub fn new(window: u64) -> Self {
        Self {
            window: window.max(1),
            window_start: (0, 0),
            hit_rate: Vec::new(),
            misses: Vec::new(),
            table_bytes: BTreeMap::new(),
            linear_bytes: 0.0,
            tables_key: None,
            last_tables: Vec::new(),
        }
    }

    /// Starts over (a new TLB, another lab), keeping the window.
    pub fn clear(&mut self) {
        *self = Self::new(self.window);
    }

    /// Lookups still needed to close the current window.
    pub fn lookups_to_window_end(&self, lookups: u64) -> u64 {
        (self.window_start.0 + self.window).saturating_sub(lookups).max(1)
    }

    /// Closes a window if `now` passed its end. `tables_key` changes whenever the tables may
    /// have (demand maps, edits); only then are they recounted.
    pub fn sample(&mut self, now: Sample, m: &Machine, tables_key: (u64, u64)) {
        if now.lookups < self.window_start.0 + self.window {
            return;
        }
        self.close_window(now, m, tables_key);
    }

    /// Closes the current window even if short (end of the trace, a pause).
    pub fn finish(&mut self, now: Sample, m: &Machine, tables_key: (u64, u64)) {
        if now.lookups > self.window_start.0 {
            self.close_window(now, m, tables_key);
        }
    }

    fn close_window(&mut self, now: Sample, m: &Machine, tables_key: (u64, u64)) {
        let lookups = now.lookups.saturating_sub(self.window_start.0);
        let hits = now.hits.saturating_sub(self.window_start.1);
        if lookups > 0 {
            self.hit_rate.push([f(now.lookups), 100.0 * f(hits) / f(lookups)]);
        }
        self.misses.push([f(now.lookups), f(now.misses)]);
        if self.tables_key != Some(tables_key) {
            self.last_tables = table_bytes(m);
            self.tables_key = Some(tables_key);
        }
        for (name, bytes) in &self.last_tables {
            self.table_bytes.entry(name.clone()).or_default().push([f(now.lookups), f(*bytes)]);
        }
        #[allow(clippy::cast_precision_loss)]
        {
            self.linear_bytes = m.format().linear_table_bytes() as f64;
        }
        self.window_start = (now.lookups, now.hits);
        if self.hit_rate.len() > MAX_POINTS {
            self.halve();
        }
    }

    /// Halves the resolution: merges pairs of hit-rate windows (weighted by their lookups) and
    /// keeps every other point of the cumulative series.
    fn halve(&mut self) {
        let mut merged = Vec::with_capacity(self.hit_rate.len() / 2 + 1);
        let mut previous_end = 0.0;
        for pair in self.hit_rate.chunks(2) {
            let (start, end) = (previous_end, pair.last().map_or(previous_end, |p| p[0]));
            let mut hits = 0.0;
            let mut prev = start;
            for p in pair {
                hits += p[1] * (p[0] - prev);
                prev = p[0];
            }
            if end > start {
                merged.push([end, hits / (end - start)]);
            }
            previous_end = end;
        }
        self.hit_rate = merged;
        let keep_odd = |v: &mut Vec<[f64; 2]>| {
            let kept: Vec<[f64; 2]> = v.iter().skip(1).step_by(2).copied().collect();
            *v = kept;
        };
        keep_odd(&mut self.misses);
        self.table_bytes.values_mut().for_each(keep_odd);
        self.window = self.window.saturating_mul(2);
    }
}

/// One TLB size's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepPoint {
    pub entries: usize,
    pub ways: usize,
    pub lookups: u64,
    pub hits: u64,
    pub misses: u64,
}

impl SweepPoint {
    pub fn hit_rate(&self) -> f64 {
        if self.lookups == 0 { 0.0 } else { 100.0 * f(self.hits) / f(self.lookups) }
    }
}

/// The TLB of one sweep size.
pub fn sweep_config(base: &TlbConfig, shape: SweepShape, entries: usize) -> TlbConfig {
    match shape {
        SweepShape::FullyAssociative => {
            TlbConfig { entries, ways: entries, policy: TlbPolicy::Lru, ..base.clone() }
        }
        SweepShape::CurrentWays => {
            // The largest power of two up to the current ways: the sets stay a power of two.
            let cap = base.ways.min(entries).max(1);
            let ways = 1usize << (usize::BITS - 1 - cap.leading_zeros());
            TlbConfig { entries, ways, ..base.clone() }
        }
    }
}

/// Replays the trace at `path` once, through one TLB of each size side by side (each with its
/// own copy of the machine, as demand mapping changes it). `progress` gets the fraction of the
/// file read and returns false to cancel. Memory stays flat: records stream through.
pub fn run_sweep(
    path: &Path,
    machine: &Machine,
    base: &ReplayConfig,
    shape: SweepShape,
    mut progress: impl FnMut(f32) -> bool,
) -> Result<Vec<SweepPoint>, String> {
    let (mut reader, consumed, len) = open_trace(path)?;
    let mut runs: Vec<(Replayer, Machine)> = SWEEP_SIZES
        .iter()
        .map(|&entries| {
            // Split TLBs: both halves get the size of the point.
            let config = ReplayConfig {
                tlb: sweep_config(&base.tlb, shape, entries),
                itlb: base.itlb.as_ref().map(|itlb| sweep_config(itlb, shape, entries)),
                ..base.clone()
            };
            Replayer::new(config).map(|r| (r, machine.clone())).map_err(|e| format!("{entries} entries: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let mut records = 0u64;
    while let Some(record) = reader.next() {
        let record = record.map_err(|e| e.to_string())?;
        for (replayer, m) in &mut runs {
            replayer.step(m, &record).map_err(|e| format!("line {}: {e}", reader.line()))?;
        }
        records += 1;
        if records.is_multiple_of(4096) {
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)] // a progress fraction
            let fraction =
                if len == 0 { 0.0 } else { (consumed.load(Ordering::Relaxed) as f64 / len as f64) as f32 };
            if !progress(fraction.min(1.0)) {
                return Err("cancelled".into());
            }
        }
    }
    Ok(runs
        .iter()
        .map(|(replayer, m)| {
            let c = replayer.stats(m).total.counters;
            let config = &replayer.config().tlb;
            SweepPoint {
                entries: config.entries,
                ways: config.ways,
                lookups: c.lookups,
                hits: c.hits,
                misses: c.misses,
            }
        })
        .collect())
}

enum SweepMessage {
    Progress(f32),
    Done(Result<Vec<SweepPoint>, String>),
}

/// A sweep running on its own thread.
pub struct SweepJob {
    rx: Receiver<SweepMessage>,
    cancel: Arc<AtomicBool>,
    pub progress: f32,
    pub label: String,
}

/// A finished sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepResult {
    pub label: String,
    pub points: Vec<SweepPoint>,
}

impl SweepJob {
    pub fn start(path: PathBuf, machine: Machine, base: ReplayConfig, shape: SweepShape) -> Self {
        let (tx, rx) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&cancel);
        let mut label = match shape {
            SweepShape::FullyAssociative => "fully associative, LRU".to_string(),
            SweepShape::CurrentWays => format!("up to {} ways, {:?}", base.tlb.ways, base.tlb.policy),
        };
        if base.itlb.is_some() {
            label.push_str("; split: iTLB and dTLB each of that size");
        }
        std::thread::spawn(move || {
            let result = run_sweep(&path, &machine, &base, shape, |fraction| {
                let _ = tx.send(SweepMessage::Progress(fraction));
                !stop.load(Ordering::Relaxed)
            });
            let _ = tx.send(SweepMessage::Done(result));
        });
        Self { rx, cancel, progress: 0.0, label }
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Takes the thread's news: `Some` once it finished.
    pub fn poll(&mut self) -> Option<Result<Vec<SweepPoint>, String>> {
        loop {
            match self.rx.try_recv() {
                Ok(SweepMessage::Progress(p)) => self.progress = p,
                Ok(SweepMessage::Done(result)) => return Some(result),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => return Some(Err("the sweep stopped unexpectedly".into())),
            }
        }
    }
}

/// The CSV text of one plot's data.
pub fn csv(kind: PlotKind, tlb: &TlbSim) -> String {
    let s = &tlb.series;
    let mut out = String::new();
    match kind {
        PlotKind::HitRate => {
            out.push_str("lookups,hit_rate_percent\n");
            for [x, y] in &s.hit_rate {
                let _ = writeln!(out, "{x},{y:.4}");
            }
        }
        PlotKind::Misses => {
            out.push_str("lookups,cumulative_misses\n");
            for [x, y] in &s.misses {
                let _ = writeln!(out, "{x},{y}");
            }
        }
        PlotKind::TableBytes => {
            out.push_str("process,lookups,table_bytes\n");
            for (name, points) in &s.table_bytes {
                for [x, y] in points {
                    let _ = writeln!(out, "{},{x},{y}", csv_field(name));
                }
            }
            let _ = writeln!(out, "linear table,,{}", s.linear_bytes);
        }
        PlotKind::Sweep => {
            out.push_str("entries,ways,lookups,hits,misses,hit_rate_percent\n");
            for p in tlb.sweep_result.iter().flat_map(|r| &r.points) {
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{:.4}",
                    p.entries,
                    p.ways,
                    p.lookups,
                    p.hits,
                    p.misses,
                    p.hit_rate()
                );
            }
        }
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Cuts `rect` (in points) out of a screenshot and writes it as a PNG.
pub fn save_png_crop(
    image: &egui::ColorImage,
    rect: egui::Rect,
    pixels_per_point: f32,
    path: &Path,
) -> Result<(), String> {
    let [width, height] = image.size;
    let to_px = |v: f32, max: usize| -> usize {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped to the image
        let px = (v * pixels_per_point).round().max(0.0) as usize;
        px.min(max)
    };
    let (x0, y0) = (to_px(rect.min.x, width), to_px(rect.min.y, height));
    let (x1, y1) = (to_px(rect.max.x, width), to_px(rect.max.y, height));
    if x1 <= x0 || y1 <= y0 {
        return Err("the plot is not on screen".into());
    }
    let mut bytes = Vec::with_capacity((x1 - x0) * (y1 - y0) * 4);
    for y in y0..y1 {
        for x in x0..x1 {
            let pixel = image.pixels.get(y * width + x).copied().unwrap_or_default();
            bytes.extend_from_slice(&pixel.to_array());
        }
    }
    let (w, h) = (
        u32::try_from(x1 - x0).map_err(|e| e.to_string())?,
        u32::try_from(y1 - y0).map_err(|e| e.to_string())?,
    );
    let buffer = image::RgbaImage::from_raw(w, h, bytes).ok_or("the crop has the wrong size")?;
    buffer
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Integer grid marks, at most about eight, for log2 axes.
fn integer_marks(input: egui_plot::GridInput) -> Vec<GridMark> {
    let (min, max) = input.bounds;
    let step = ((max - min) / 8.0).ceil().max(1.0);
    let mut marks = Vec::new();
    let mut value = (min / step).floor() * step;
    while value <= max && marks.len() < 64 {
        if value >= min {
            marks.push(GridMark { value, step_size: step });
        }
        value += step;
    }
    marks
}

/// 1500 as "1.5k", 2000000 as "2M": axis labels of lookup counts.
fn count_label(value: f64) -> String {
    let (scaled, suffix) = match value.abs() {
        v if v >= 1e9 => (value / 1e9, "G"),
        v if v >= 1e6 => (value / 1e6, "M"),
        v if v >= 1e3 => (value / 1e3, "k"),
        _ => (value, ""),
    };
    let text = format!("{scaled:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{suffix}")
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // axis labels of log2 values
fn pow2_label(value: f64) -> u64 {
    if value <= 0.0 {
        1
    } else if value >= 63.0 {
        u64::MAX
    } else {
        2f64.powf(value).round() as u64
    }
}

fn log2_points(points: &[[f64; 2]]) -> Vec<[f64; 2]> {
    points.iter().map(|[x, y]| [*x, y.max(1.0).log2()]).collect()
}

/// The plots: hit rate over the trace, table sizes, sweeps; PNG export.
pub fn plots_ui(
    ui: &mut egui::Ui,
    tlb: &TlbSim,
    m: &Machine,
    state: &mut UiState,
    actions: &mut Vec<Action>,
) {
    let dark = ui.visuals().dark_mode;
    let t = &mut state.tlb;
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Hit-rate window (lookups):");
        ui.add(egui::DragValue::new(&mut t.window).range(100..=10_000_000).speed(100)).labelled_by(label.id);
        ui.label(format!("(in use: {})", tlb.series.window));
        ui.separator();
        ui.label("Sweep:");
        ui.radio_value(&mut t.sweep_shape, SweepShape::FullyAssociative, "fully associative LRU");
        ui.radio_value(&mut t.sweep_shape, SweepShape::CurrentWays, "current ways and policy");
        match &tlb.sweep {
            Some(job) => {
                ui.add(egui::ProgressBar::new(job.progress).desired_width(140.0).show_percentage());
                if ui.button("Cancel sweep").clicked() {
                    actions.push(Action::Tlb(TlbAction::CancelSweep));
                }
            }
            None => {
                let enabled = tlb.player.is_some();
                let button = ui
                    .add_enabled(enabled, egui::Button::new("Run sweep"))
                    .on_hover_text("Replay the loaded trace from its start through TLBs of 4 to 4096 entries")
                    .on_disabled_hover_text("Open a trace first");
                if button.clicked() {
                    actions.push(Action::Tlb(TlbAction::StartSweep(t.sweep_shape)));
                }
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        egui::ComboBox::from_label("Plot to export").selected_text(t.export_plot.label()).show_ui(ui, |ui| {
            for kind in PlotKind::ALL {
                ui.selectable_value(&mut t.export_plot, kind, kind.label());
            }
        });
        let label = ui.label("Export path:");
        ui.add(
            egui::TextEdit::singleline(&mut t.export_path)
                .hint_text("plot.csv or plot.png")
                .desired_width(220.0),
        )
        .labelled_by(label.id);
        let path = PathBuf::from(t.export_path.trim());
        let has_path = !t.export_path.trim().is_empty();
        if ui.add_enabled(has_path, egui::Button::new("Export CSV")).clicked() {
            actions.push(Action::Tlb(TlbAction::ExportCsv(t.export_plot, path.with_extension("csv"))));
        }
        if ui.add_enabled(has_path, egui::Button::new("Export PNG")).clicked() {
            actions.push(Action::Tlb(TlbAction::ExportPng(t.export_plot, path.with_extension("png"))));
        }
    });
    if let Some((message, error)) = &t.plot_message {
        let color = if *error { theme::fault_color(dark) } else { ui.visuals().text_color() };
        ui.colored_label(color, message);
    }
    let spacing = ui.spacing().item_spacing;
    // Two plots a row when the pane is wide enough for both, else one (a narrow docked pane).
    let columns = if ui.available_width() >= 820.0 { 2 } else { 1 };
    let rows = 4 / columns;
    let height = ((ui.available_height() - rows as f32 * 24.0 - spacing.y * 3.0) / rows as f32).max(160.0);
    let width = ((ui.available_width() - spacing.x * (columns - 1) as f32) / columns as f32).max(200.0);
    let mut rects = BTreeMap::new();
    let kinds = [PlotKind::HitRate, PlotKind::Misses, PlotKind::TableBytes, PlotKind::Sweep];
    egui::Grid::new("plots-grid").num_columns(columns).spacing(spacing).show(ui, |ui| {
        for row in kinds.chunks(columns) {
            for &kind in row {
                // PNG exports take the heading, the axes and the legend along with the plot.
                let block = ui.vertical(|ui| {
                    ui.strong(kind.label());
                    plot_ui(ui, kind, tlb, m, egui::vec2(width, height), dark);
                });
                rects.insert(kind, block.response.rect);
            }
            ui.end_row();
        }
    });
    t.plot_rects = rects;
    if let Some((kind, path)) = t.pending_png.take() {
        match t.plot_rects.get(&kind).copied() {
            Some(rect) => {
                let ppp = ui.ctx().pixels_per_point();
                let tx = tlb.png_sender();
                ui.ctx().request_screenshot(move |image| {
                    let result = save_png_crop(&image, rect, ppp, &path).map(|()| path);
                    let _ = tx.send(result);
                });
                t.plot_message = Some(("Saving the PNG…".into(), false));
            }
            None => t.plot_message = Some(("That plot is not on screen.".into(), true)),
        }
    }
}

/// Draws one plot at `size`.
fn plot_ui(ui: &mut egui::Ui, kind: PlotKind, tlb: &TlbSim, m: &Machine, size: egui::Vec2, dark: bool) {
    let s = &tlb.series;
    // Legends go where the data usually is not.
    let corner = match kind {
        PlotKind::Misses => Corner::LeftTop,
        PlotKind::TableBytes => Corner::RightTop,
        PlotKind::HitRate | PlotKind::Sweep => Corner::RightBottom,
    };
    let plot = Plot::new(kind.stem())
        .width(size.x)
        .height(size.y)
        .legend(Legend::default().position(corner))
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_boxed_zoom(false);
    let plot =
        if kind == PlotKind::Sweep { plot } else { plot.x_axis_formatter(|mark, _| count_label(mark.value)) };
    match kind {
        PlotKind::HitRate => {
            plot.x_axis_label("lookups").y_axis_label("hit rate (%)").include_y(100.0).show(ui, |p| {
                p.line(
                    Line::new(format!("per {} lookups", s.window), s.hit_rate.clone())
                        .color(theme::ok_color(dark)),
                );
            })
        }
        PlotKind::Misses => {
            plot.x_axis_label("lookups").y_axis_label("misses").include_y(0.0).show(ui, |p| {
                p.line(Line::new("misses so far", s.misses.clone()).color(theme::fault_color(dark)));
            })
        }
        PlotKind::TableBytes => {
            let linear = m.format().linear_table_bytes();
            #[allow(clippy::cast_precision_loss)] // a plot coordinate
            let linear_y = (linear.max(1) as f64).log2();
            plot.x_axis_label("lookups")
                .y_axis_label("bytes (log scale)")
                // Room above the linear table's line for the legend.
                .include_y(linear_y + 8.0)
                .include_y(10.0)
                .y_grid_spacer(integer_marks)
                .y_axis_formatter(|mark, _| format_size(pow2_label(mark.value)))
                .label_formatter(|pos| {
                    Some(match pos {
                        HoverPosition::NearDataPoint { plot_name, position, .. } => {
                            format!("{plot_name}\n{}", format_size(pow2_label(position.y)))
                        }
                        HoverPosition::Elsewhere { position } => format_size(pow2_label(position.y)),
                    })
                })
                .show(ui, |p| {
                    for (i, (name, points)) in s.table_bytes.iter().enumerate() {
                        p.line(
                            Line::new(name.clone(), log2_points(points)).color(theme::level_color(i, dark)),
                        );
                    }
                    p.add(
                        HLine::new(format!("linear table ({})", format_size_u128(linear)), linear_y)
                            .color(theme::offset_color(dark))
                            .style(LineStyle::dashed_loose()),
                    );
                })
        }
        PlotKind::Sweep => {
            let points: Vec<[f64; 2]> = tlb
                .sweep_result
                .iter()
                .flat_map(|r| &r.points)
                .map(|p| [f(p.entries as u64).log2(), p.hit_rate()])
                .collect();
            let name = tlb.sweep_result.as_ref().map_or("run a sweep".to_string(), |r| r.label.clone());
            plot.x_axis_label("TLB entries")
                .y_axis_label("hit rate (%)")
                .x_grid_spacer(integer_marks)
                .x_axis_formatter(|mark, _| pow2_label(mark.value).to_string())
                .label_formatter(|pos| {
                    let (HoverPosition::NearDataPoint { position, .. }
                    | HoverPosition::Elsewhere { position }) = *pos;
                    Some(format!("{} entries: {:.3}%", pow2_label(position.x), position.y))
                })
                .include_y(100.0)
                .show(ui, |p| {
                    p.line(Line::new(name.clone(), points.clone()).color(theme::level_color(4, dark)));
                    p.add(Points::new(name, points).radius(4.0).color(theme::level_color(4, dark)));
                })
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::presets;

    #[test]
    fn windows_close_on_their_lookup_count_and_keep_exact_rates() {
        let m = Machine::new(presets::x86_64(4), 1 << 22).expect("machine");
        let mut s = PlotSeries::new(100);
        s.sample(Sample { lookups: 99, hits: 90, misses: 9 }, &m, (0, 0));
        assert!(s.hit_rate.is_empty());
        s.sample(Sample { lookups: 120, hits: 100, misses: 20 }, &m, (0, 0));
        assert_eq!(s.hit_rate, vec![[120.0, 100.0 * 100.0 / 120.0]]);
        assert_eq!(s.lookups_to_window_end(150), 70);
        s.finish(Sample { lookups: 140, hits: 120, misses: 20 }, &m, (0, 0));
        assert_eq!(s.hit_rate.last(), Some(&[140.0, 100.0]));
        assert_eq!(s.misses, vec![[120.0, 20.0], [140.0, 20.0]]);
        assert_eq!(s.table_bytes.get("init").map(Vec::len), Some(2));
    }

    #[test]
    fn counts_are_labelled_with_suffixes() {
        assert_eq!(count_label(0.0), "0");
        assert_eq!(count_label(1500.0), "1.5k");
        assert_eq!(count_label(2_000_000.0), "2M");
        assert_eq!(count_label(1_250_000.0), "1.25M");
    }

    #[test]
    fn halving_merges_windows_by_their_lookups() {
        let m = Machine::new(presets::x86_64(4), 1 << 22).expect("machine");
        let mut s = PlotSeries::new(10);
        s.sample(Sample { lookups: 10, hits: 10, misses: 0 }, &m, (0, 0));
        s.sample(Sample { lookups: 40, hits: 10, misses: 30 }, &m, (0, 0));
        s.halve();
        assert_eq!(s.hit_rate, vec![[40.0, 25.0]]);
        assert_eq!(s.window, 20);
        assert_eq!(s.misses, vec![[40.0, 30.0]]);
    }

    #[test]
    fn sweep_shapes_keep_sets_a_power_of_two() {
        let base = TlbConfig { entries: 1536, ways: 12, ..TlbConfig::default() };
        for entries in SWEEP_SIZES {
            for shape in [SweepShape::FullyAssociative, SweepShape::CurrentWays] {
                let c = sweep_config(&base, shape, entries);
                assert!(c.validate().is_ok(), "{entries} {shape:?}: {c:?}");
            }
        }
        assert_eq!(sweep_config(&base, SweepShape::CurrentWays, 64).ways, 8);
    }

    #[test]
    fn a_sweep_gives_one_point_per_size_and_bigger_tlbs_never_miss_more() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.txt");
        let text: String = (0..3000u64).map(|i| format!("{:#x} r\n", ((i * 7) % 300) << 12)).collect();
        std::fs::write(&path, text).expect("write");
        let m = Machine::new(presets::x86_64(4), 16 << 20).expect("machine");
        let base = ReplayConfig { demand_map: true, ..ReplayConfig::default() };
        let points = run_sweep(&path, &m, &base, SweepShape::FullyAssociative, |_| true).expect("sweep");
        assert_eq!(points.iter().map(|p| p.entries).collect::<Vec<_>>(), SWEEP_SIZES.to_vec());
        assert!(points.iter().all(|p| p.lookups == 3000));
        assert!(points.windows(2).all(|w| w[1].misses <= w[0].misses), "{points:?}");
        assert_eq!(points.last().map(|p| p.misses), Some(300), "4096 entries: compulsory misses only");
        let csv_text = {
            let mut tlb = TlbSim::new();
            tlb.sweep_result = Some(SweepResult { label: "t".into(), points });
            csv(PlotKind::Sweep, &tlb)
        };
        assert_eq!(csv_text.lines().count(), 12);
        assert!(csv_text.starts_with("entries,ways,lookups,hits,misses,hit_rate_percent\n4,4,3000,"));
    }

    #[test]
    fn a_split_sweep_sizes_both_tlbs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.txt");
        // 8 pages cycled, each fetched then loaded: the fetch goes to the iTLB, the load to the
        // dTLB, and each point gives both TLBs its size.
        let text: String = (0..800u64)
            .map(|i| format!("{:#x} {}\n", (i / 2 % 8) << 12, if i % 2 == 0 { "x" } else { "r" }))
            .collect();
        std::fs::write(&path, text).expect("write");
        let m = Machine::new(presets::x86_64(4), 16 << 20).expect("machine");
        let itlb = Some(TlbConfig::default());
        let base = ReplayConfig { demand_map: true, itlb, ..ReplayConfig::default() };
        let points = run_sweep(&path, &m, &base, SweepShape::FullyAssociative, |_| true).expect("sweep");
        assert!(points.iter().all(|p| p.lookups == 800));
        let at = |entries: usize| points.iter().find(|p| p.entries == entries).map(|p| p.misses);
        // 8 entries each: every page misses once in the iTLB and once in the dTLB.
        assert_eq!(at(8), Some(16));
        // 4 entries each, LRU over 8 pages cycled: every lookup misses.
        assert_eq!(at(4), Some(800));
    }
}

//! The frames view: the OS model at work on a copy of the lab. Type a reference string (or load
//! a trace), step through it one access at a time and watch each user frame: which page of which
//! process it holds, that page's A/D bits read from its PTE, the clock hand and the next victim;
//! the swap area with the not-present PTEs that name its slots; the statistics; and a plot of
//! page faults against the number of frames (Belady's anomaly shows for FIFO).
//!
//! The run works on its own copy of the lab's machine, so stepping never changes the lab; the
//! OS settings (model, frames, policy, seed) are the lab's and are saved with it.

use super::state::Action;
use super::theme;
use crate::lab::Lab;
use crate::sim::addr::hex_grouped;
use crate::sim::os::{self, OsCounters, OsModel, OsSettings, RefAccess, RefRun, StepRecord};
use crate::sim::replace::Policy;
use crate::sim::trace::TraceReader;
use crate::sim::{Access, Machine, VirtAddr};
use egui::RichText;
use std::path::Path;

/// The classic string where FIFO does worse with 4 frames than with 3.
pub const BELADY_STRING: &str = "1,2,3,4,1,2,5,1,2,3,4,5";
/// Most accesses taken from a trace file (the view steps them one by one).
pub const MAX_TRACE_ACCESSES: usize = 20_000;
/// Most frames on the fault plot.
const MAX_PLOT_FRAMES: u32 = 16;
/// The fault plot runs the model once per frame count and policy: only for short inputs.
const MAX_PLOT_ACCESSES: usize = 4_000;

/// What the run is made of: the typed reference string or a loaded trace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Input {
    Refs(String),
    Trace(String),
}

/// The view's state (not saved, not undone).
#[derive(Default)]
pub struct FramesView {
    pub refs_text: String,
    pub trace_path: String,
    /// A loaded trace's accesses; it replaces the reference string until cleared.
    trace: Option<(String, Vec<RefAccess>)>,
    pub run: Option<RefRun>,
    /// What the run was built from: (lab generation, settings, input).
    key: Option<(u64, OsSettings, Input)>,
    pub error: Option<String>,
    /// Faults against frames per policy, for the plot.
    pub curve: Vec<(Policy, Vec<(u32, u64)>)>,
}

/// One user frame as the view shows it: built from the run, then drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameRow {
    pub slot: usize,
    pub pfn: u64,
    /// "-" for a free frame.
    pub process: String,
    /// The page's number in the reference string, or its address.
    pub page: String,
    /// Accessed and dirty bits and the raw PTE, read from memory.
    pub accessed: Option<bool>,
    pub dirty: Option<bool>,
    pub pte: Option<u64>,
    /// The PTE's set one-bit fields ("P R/W U/S A D").
    pub flags: String,
    pub hand: bool,
    pub next_victim: bool,
}

/// How a page is called: its number above the reference-string base, else its address.
pub fn page_name(machine: &Machine, va: VirtAddr) -> String {
    let base = os::ref_base(machine.format());
    let shift = machine.format().page_shift;
    match va.get().checked_sub(base.get()) {
        Some(offset) if offset >> shift < 1 << 20 => format!("page {}", offset >> shift),
        _ => format!("page at {}", hex_grouped(va.get())),
    }
}

fn process_name(machine: &Machine, process: usize) -> String {
    machine.processes().get(process).map_or_else(|| format!("#{process}"), |p| p.name.clone())
}

/// The rows of the frames table, in slot order.
pub fn frame_rows(run: &RefRun) -> Vec<FrameRow> {
    let (m, model) = (run.machine(), run.os());
    let victim = model.next_victim(m);
    model
        .frames()
        .iter()
        .enumerate()
        .map(|(slot, frame)| {
            let hand = model.hand() == Some(slot);
            let next_victim = victim == Some(slot);
            let Some(page) = &frame.page else {
                let free = String::from("-");
                return FrameRow {
                    slot,
                    pfn: frame.pfn.get(),
                    process: free.clone(),
                    page: free,
                    accessed: None,
                    dirty: None,
                    pte: None,
                    flags: String::new(),
                    hand,
                    next_victim,
                };
            };
            let entry = model.leaf_entry(m, page.key);
            let level = m.format().last_level();
            let bits = model.frame_bits(m, slot);
            let has = |role| m.format().field(role, level).is_some();
            FrameRow {
                slot,
                pfn: frame.pfn.get(),
                process: process_name(m, page.key.process),
                page: page_name(m, page.key.va),
                accessed: has(crate::sim::Role::Accessed).then_some(bits.referenced),
                dirty: has(crate::sim::Role::Dirty).then_some(bits.dirty),
                pte: entry.map(|e| e.raw),
                flags: entry.map(|e| m.format().flag_summary(e.raw, level)).unwrap_or_default(),
                hand,
                next_victim,
            }
        })
        .collect()
}

/// One step of the log in words.
pub fn describe_step(machine: &Machine, step: &StepRecord) -> String {
    let what = if step.access.access == Access::Write { "write" } else { "read" };
    let head = format!(
        "{}: {} {} of {}",
        step.index + 1,
        what,
        page_name(machine, step.access.va),
        process_name(machine, step.access.process)
    );
    if let Some(error) = &step.error {
        return format!("{head}: fault not resolved: {error}");
    }
    if let Some(kind) = step.fault {
        return format!("{head}: page fault ({}), left to the student", kind.id());
    }
    if let Some(cow) = &step.cow {
        return format!("{head}: copy-on-write fault, {}", cow.describe());
    }
    let Some(load) = &step.load else { return format!("{head}: hit") };
    let mut text = format!(
        "{head}: page fault, {} into frame {}",
        load.resolution.describe(),
        hex_grouped(load.frame.unwrap_or_default().get())
    );
    if let Some(evicted) = load.evicted {
        let fate = match (evicted.written_back, evicted.swap_slot) {
            (true, Some(slot)) => format!("dirty, written to swap slot {slot}"),
            (false, Some(slot)) => format!("clean, its copy stays in swap slot {slot}"),
            _ => "clean, dropped".to_string(),
        };
        text += &format!(
            "; evicted {} of {} ({fate})",
            page_name(machine, evicted.key.va),
            process_name(machine, evicted.key.process)
        );
    }
    text
}

impl FramesView {
    fn input(&self) -> Input {
        match &self.trace {
            Some((path, _)) => Input::Trace(path.clone()),
            None => Input::Refs(self.refs_text.clone()),
        }
    }

    /// Rebuilds the run when the lab, its OS settings or the input changed.
    pub fn sync(&mut self, lab: &Lab, generation: u64) {
        let key = (generation, lab.os, self.input());
        if self.key.as_ref() == Some(&key) {
            return;
        }
        self.key = Some(key);
        self.run = None;
        self.error = None;
        self.curve.clear();
        let accesses = match &self.trace {
            Some((_, accesses)) => accesses.clone(),
            None => match os::parse_refs(&self.refs_text).and_then(|t| os::resolve(&lab.machine, &t)) {
                Ok(accesses) => accesses,
                Err(e) => {
                    self.error = Some(e.to_string());
                    return;
                }
            },
        };
        if accesses.len() <= MAX_PLOT_ACCESSES && !accesses.is_empty() {
            self.curve = plot_curves(&lab.machine, lab.os, &accesses);
        }
        match RefRun::new(lab.machine.clone(), lab.os, accesses) {
            Ok(run) => self.run = Some(run.with_swap(lab.swap.clone())),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Reads a trace file (valgrind lackey or plain): one access per page each record touches.
    pub fn load_trace(&mut self, machine: &Machine, path: &Path) -> Result<usize, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let reader = TraceReader::auto(std::io::BufReader::new(file)).map_err(|e| e.to_string())?;
        let records =
            reader.take(MAX_TRACE_ACCESSES).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
        let accesses = os::from_trace(machine, &records, MAX_TRACE_ACCESSES).map_err(|e| e.to_string())?;
        let count = accesses.len();
        self.trace = Some((path.display().to_string(), accesses));
        Ok(count)
    }
}

/// The fault curve of the lab's policy, with FIFO, LRU and OPT beside it.
fn plot_curves(
    machine: &Machine,
    settings: OsSettings,
    accesses: &[RefAccess],
) -> Vec<(Policy, Vec<(u32, u64)>)> {
    let mut distinct: Vec<(usize, u64)> =
        accesses.iter().map(|a| (a.process, a.va.get() >> machine.format().page_shift)).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let max =
        u32::try_from(distinct.len() + 1).unwrap_or(u32::MAX).clamp(settings.frames, MAX_PLOT_FRAMES).max(1);
    let mut policies = vec![settings.policy];
    for policy in [Policy::Fifo, Policy::Lru, Policy::Opt] {
        if !policies.contains(&policy) {
            policies.push(policy);
        }
    }
    policies
        .into_iter()
        .map(|policy| (policy, os::fault_curve(machine, OsSettings { policy, ..settings }, accesses, max)))
        .collect()
}

/// The frames view in its own window.
pub fn frames_view_ui(
    ui: &mut egui::Ui,
    lab: &Lab,
    generation: u64,
    view: &mut FramesView,
    actions: &mut Vec<Action>,
) {
    settings_ui(ui, lab, actions);
    input_ui(ui, lab, view);
    view.sync(lab, generation);
    let dark = ui.visuals().dark_mode;
    if let Some(error) = &view.error {
        ui.colored_label(theme::fault_color(dark), error);
    }
    let Some(run) = view.run.as_mut() else { return };
    ui.horizontal(|ui| {
        if ui.add_enabled(!run.is_done(), egui::Button::new("Step")).clicked() {
            run.step();
        }
        if ui.add_enabled(!run.is_done(), egui::Button::new("Run")).clicked() {
            run.run();
        }
        if ui.button("Reset").clicked() {
            view.key = None;
        }
        ui.label(format!("access {} of {}", run.log().len(), run.accesses().len()));
    });
    if view.key.is_none() {
        return; // rebuilt next frame
    }
    let Some(run) = view.run.as_ref() else { return };
    if lab.os.model == OsModel::Manual {
        ui.label("Manual model: faults are only reported. Choose demand paging to let the OS load pages.");
    }
    if let Some(last) = run.log().last() {
        let resolved_fault = last.cow.is_some();
        let color =
            if last.hit && !resolved_fault { theme::ok_color(dark) } else { theme::fault_color(dark) };
        ui.colored_label(color, describe_step(run.machine(), last));
    }
    ui.separator();
    // Side by side when the pane is wide enough for the frames table beside the statistics;
    // one above the other in a narrow docked pane (nothing overlaps).
    if ui.available_width() >= 1000.0 {
        ui.columns(2, |columns| {
            if let [left, right] = columns {
                frames_table_ui(left, run);
                swap_ui(left, run);
                super::cow_view::cow_ui(left, run);
                left.add_space(6.0);
                log_ui(left, run);
                stats_ui(right, run);
                plot_ui(right, &view.curve, lab.os.frames);
            }
        });
    } else {
        frames_table_ui(ui, run);
        swap_ui(ui, run);
        super::cow_view::cow_ui(ui, run);
        ui.add_space(6.0);
        log_ui(ui, run);
        ui.add_space(6.0);
        stats_ui(ui, run);
        plot_ui(ui, &view.curve, lab.os.frames);
    }
}

fn settings_ui(ui: &mut egui::Ui, lab: &Lab, actions: &mut Vec<Action>) {
    let mut settings = lab.os;
    ui.horizontal(|ui| {
        let label = ui.label("OS model:");
        egui::ComboBox::from_id_salt("os-model")
            .selected_text(settings.model.label())
            .show_ui(ui, |ui| {
                for model in OsModel::ALL {
                    ui.selectable_value(&mut settings.model, model, model.label());
                }
            })
            .response
            .labelled_by(label.id);
        let label = ui.label("Frames:");
        ui.add(egui::DragValue::new(&mut settings.frames).range(1..=64)).labelled_by(label.id);
        let label = ui.label("Replacement:");
        egui::ComboBox::from_id_salt("os-policy")
            .selected_text(settings.policy.label())
            .show_ui(ui, |ui| {
                for policy in Policy::ALL {
                    ui.selectable_value(&mut settings.policy, policy, policy.label());
                }
            })
            .response
            .labelled_by(label.id);
        let label = ui.label("Seed:");
        ui.add(egui::DragValue::new(&mut settings.seed)).labelled_by(label.id);
    });
    if settings != lab.os {
        actions.push(Action::SetOs(settings));
    }
}

fn input_ui(ui: &mut egui::Ui, lab: &Lab, view: &mut FramesView) {
    ui.horizontal(|ui| {
        let label = ui.label("Reference string:");
        let edit = egui::TextEdit::singleline(&mut view.refs_text)
            .hint_text("e.g. 1,2,3w,init:4 or 0x400000")
            .font(egui::TextStyle::Monospace)
            .desired_width(420.0);
        if ui.add(edit).labelled_by(label.id).changed() {
            view.trace = None;
        }
        if ui.button("Belady's string").clicked() {
            view.refs_text = BELADY_STRING.into();
            view.trace = None;
        }
    });
    ui.horizontal(|ui| {
        let label = ui.label("Trace file:");
        let edit = egui::TextEdit::singleline(&mut view.trace_path)
            .hint_text("lackey or plain trace")
            .desired_width(420.0);
        ui.add(edit).labelled_by(label.id);
        if ui.button("Load trace").clicked() {
            let path = std::path::PathBuf::from(view.trace_path.trim());
            if let Err(e) = view.load_trace(&lab.machine, &path) {
                view.error = Some(e);
                view.trace = None;
            }
        }
        if let Some((path, accesses)) = &view.trace {
            ui.label(format!("{} accesses from {path}", accesses.len()));
            if ui.button("Use the reference string").clicked() {
                view.trace = None;
            }
        }
    });
    ui.label(
        RichText::new(
            "Page N is N pages above the reference base; w marks a write. Each access walks the tables (no TLB here), so A is set on every access.",
        )
        .small(),
    );
}

fn bit(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "1",
        Some(false) => "0",
        None => "-",
    }
}

fn frames_table_ui(ui: &mut egui::Ui, run: &RefRun) {
    let rows = frame_rows(run);
    let limit = run.os().settings().frames;
    ui.heading(format!(
        "User frames ({} of {limit} in use)",
        rows.iter().filter(|r| r.pte.is_some()).count()
    ));
    if rows.is_empty() {
        ui.label("No frame used yet: step to the first fault.");
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    egui::ScrollArea::vertical().id_salt("frames-rows").max_height(300.0).show_rows(
        ui,
        row_height,
        rows.len(),
        |ui, range| {
            egui::Grid::new("frames-grid").striped(true).num_columns(8).show(ui, |ui| {
                for title in ["Frame", "Process", "Page", "A", "D", "PTE", "Flags", ""] {
                    ui.strong(title);
                }
                ui.end_row();
                for row in rows.get(range).unwrap_or(&[]) {
                    ui.monospace(format!("{}: {}", row.slot, hex_grouped(row.pfn)));
                    ui.label(&row.process);
                    ui.label(&row.page);
                    ui.monospace(bit(row.accessed));
                    ui.monospace(bit(row.dirty));
                    ui.monospace(row.pte.map_or("-".into(), hex_grouped));
                    ui.label(&row.flags);
                    let mut marks = Vec::new();
                    if row.hand {
                        marks.push("hand");
                    }
                    if row.next_victim {
                        marks.push("next victim");
                    }
                    ui.label(marks.join(", "));
                    ui.end_row();
                }
            });
        },
    );
}

fn swap_ui(ui: &mut egui::Ui, run: &RefRun) {
    let (m, model) = (run.machine(), run.os());
    ui.add_space(6.0);
    ui.heading(format!("Swap ({} slots used)", model.swap().len()));
    ui.label(RichText::new(format!("Swapped-out PTE: {}", model.encoding().describe())).small());
    if model.swap().is_empty() {
        ui.label("Nothing written to swap yet.");
        return;
    }
    egui::Grid::new("swap-grid").striped(true).num_columns(4).show(ui, |ui| {
        for title in ["Slot", "Page", "PTE", "Decoded"] {
            ui.strong(title);
        }
        ui.end_row();
        for slot in model.swap().used_slots() {
            ui.monospace(slot.to_string());
            let Some(key) = model.slot_owners().get(&slot) else {
                // A slot saved with the lab: its page is known once the run evicts it again.
                ui.label("(saved with the lab)");
                ui.end_row();
                continue;
            };
            ui.label(format!("{} of {}", page_name(m, key.va), process_name(m, key.process)));
            let raw = model.leaf_entry(m, *key).map(|e| e.raw);
            ui.monospace(raw.map_or("-".into(), hex_grouped));
            let decoded = match raw {
                Some(raw) if m.format().present(raw, m.format().last_level()) => {
                    "present (clean copy in swap)".to_string()
                }
                Some(raw) => model
                    .encoding()
                    .decode(raw)
                    .map_or("not present, no slot".into(), |s| format!("not present, swap slot {s}")),
                None => "-".into(),
            };
            ui.label(decoded);
            ui.end_row();
        }
    });
}

/// Reads one counter, for a row of the statistics table.
type CounterOf = fn(&OsCounters) -> u64;

fn stats_ui(ui: &mut egui::Ui, run: &RefRun) {
    let model = run.os();
    ui.heading("Statistics");
    let hits = run.log().iter().filter(|s| s.hit).count();
    ui.label(format!("{} accesses, {hits} hits", run.log().len()));
    let mut columns: Vec<(String, OsCounters)> = run
        .machine()
        .processes()
        .iter()
        .enumerate()
        .map(|(index, p)| (p.name.clone(), model.counters(index)))
        .filter(|(_, c)| c.accesses > 0)
        .collect();
    if columns.len() != 1 {
        columns.push(("all".into(), model.total()));
    }
    let mut rows: Vec<(&str, CounterOf)> = vec![
        ("page faults", |c| c.faults),
        ("  first touch", |c| c.first_touch),
        ("  swap-in", |c| c.swap_ins),
        ("  refill", |c| c.refills),
        ("evictions", |c| c.evictions),
        ("dirty write-backs", |c| c.write_backs),
        ("A/D faults (Svade)", |c| c.ad_faults),
    ];
    // Copy-on-write rows once a forked lab has had such a fault (no page loads: counted apart).
    if model.total().cow_faults > 0 {
        rows.extend([
            ("copy-on-write faults", (|c| c.cow_faults) as CounterOf),
            ("  copied", |c| c.cow_copies),
            ("  last owner, no copy", |c| c.cow_reuses),
            ("TLB invalidations", |c| c.tlb_invalidations),
        ]);
    }
    egui::Grid::new("os-stats").striped(true).num_columns(columns.len() + 1).show(ui, |ui| {
        ui.label("");
        for (name, _) in &columns {
            ui.strong(name);
        }
        ui.end_row();
        for (title, value) in rows {
            ui.label(title);
            for (_, counters) in &columns {
                ui.monospace(value(counters).to_string());
            }
            ui.end_row();
        }
    });
}

fn plot_ui(ui: &mut egui::Ui, curve: &[(Policy, Vec<(u32, u64)>)], frames: u32) {
    ui.add_space(6.0);
    ui.heading("Page faults against frames");
    if curve.is_empty() {
        ui.label(format!("The plot needs a reference string of 1 to {MAX_PLOT_ACCESSES} accesses."));
        return;
    }
    let dark = ui.visuals().dark_mode;
    egui_plot::Plot::new("fault-curve")
        .height(240.0)
        .legend(egui_plot::Legend::default().position(egui_plot::Corner::LeftBottom))
        .x_axis_label("frames")
        .y_axis_label("page faults")
        .include_y(0.0)
        .allow_scroll(false)
        .show(ui, |plot| {
            // The lab's own policy first and wider, so a curve that coincides with it shows on top.
            for (index, (policy, points)) in curve.iter().enumerate() {
                let color = theme::level_color(index, dark);
                let series: Vec<[f64; 2]> = points.iter().map(|&(x, y)| [f64::from(x), y as f64]).collect();
                plot.line(
                    egui_plot::Line::new(policy.label(), series.clone())
                        .width(if index == 0 { 5.0 } else { 2.0 })
                        .color(color),
                );
                plot.points(egui_plot::Points::new(policy.label(), series).radius(3.5).color(color));
            }
            plot.vline(
                egui_plot::VLine::new("frames now", f64::from(frames)).color(theme::offset_color(dark)),
            );
        });
    for (policy, points) in curve {
        let text: Vec<String> = points.iter().map(|(x, y)| format!("{x}:{y}")).collect();
        ui.label(RichText::new(format!("{}: {}", policy.label(), text.join("  "))).small().monospace());
    }
}

fn log_ui(ui: &mut egui::Ui, run: &RefRun) {
    ui.heading("Accesses");
    let log = run.log();
    if log.is_empty() {
        ui.label("Press Step to make the first access, or Run to make them all.");
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    egui::ScrollArea::vertical().id_salt("frames-log").max_height(180.0).stick_to_bottom(true).show_rows(
        ui,
        row_height,
        log.len(),
        |ui, range| {
            for step in log.get(range).unwrap_or(&[]) {
                ui.label(describe_step(run.machine(), step));
            }
        },
    );
}

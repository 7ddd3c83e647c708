//! The TLB panel: trace playback, the TLB's shape (applied with a button, which empties it),
//! invalidations (INVLPG / SFENCE.VMA, per ASID, flushes), its contents with stale entries
//! marked, the statistics with the effective access time, and the page-table sizes. Also the
//! line the MMU panel shows after an access went through the TLB.

use super::state::{Action, UiState};
use super::theme;
use super::tlb_state::{AccessReport, StaleSlot, TlbAction, TlbSim};
use super::trace_player::trace_player_ui;
use crate::doc::Document;
use crate::sim::addr::{format_size, hex_grouped, parse_u64};
use crate::sim::format::Arch;
use crate::sim::replay::{CachedTranslation, Costs, ReplayConfig, Summary};
use crate::sim::tlb::{AccessClass, Tlb, TlbConfig, TlbPolicy, validate_tlbs};
use crate::sim::{Access, Machine, Mode};
use egui::{RichText, vec2};
use std::collections::BTreeSet;

/// Height of one row of the contents table.
const ROW_HEIGHT: f32 = 20.0;
/// Column widths of the contents table.
const COLUMNS: [(&str, f32); 8] = [
    ("Set/way", 58.0),
    ("ASID", 34.0),
    ("Virtual page", 150.0),
    ("Size", 52.0),
    ("Frame base", 96.0),
    ("Rights", 42.0),
    ("G", 12.0),
    ("", 42.0),
];

pub fn tlb_panel_ui(
    ui: &mut egui::Ui,
    doc: &Document,
    tlb: &TlbSim,
    state: &mut UiState,
    actions: &mut Vec<Action>,
) {
    let m = &doc.lab().machine;
    let tlbs = doc.tlb().tlbs();
    ui.heading("TLB");
    for (class, t) in tlbs.all() {
        let config = t.config();
        ui.label(format!(
            "{}: {} entries, {} way(s) ({} set(s)), {} · {} valid",
            tlb_name(class),
            config.entries,
            config.ways,
            t.sets(),
            policy_name(config.policy),
            t.len()
        ));
    }
    ui.label(if doc.tlb().config().tlb.asid_tagging {
        "ASID tagging on: entries of other processes stay"
    } else {
        "ASID tagging off: a process switch flushes non-global entries"
    });
    egui::ScrollArea::vertical().id_salt("tlb-scroll").auto_shrink([false, false]).show(ui, |ui| {
        egui::CollapsingHeader::new("Trace replay").default_open(true).show(ui, |ui| {
            trace_player_ui(ui, tlb, state, actions);
        });
        egui::CollapsingHeader::new("Configuration").default_open(false).show(ui, |ui| {
            config_ui(ui, doc.tlb().config(), state, actions);
        });
        egui::CollapsingHeader::new("Invalidation").default_open(true).show(ui, |ui| {
            invalidation_ui(ui, m, state, actions);
        });
        egui::CollapsingHeader::new("Contents").default_open(true).show(ui, |ui| {
            contents_ui(ui, doc, tlb, state);
        });
        egui::CollapsingHeader::new("Statistics").default_open(true).show(ui, |ui| {
            statistics_ui(ui, m, doc, state);
        });
        egui::CollapsingHeader::new("Sizes").default_open(true).show(ui, |ui| {
            super::sizes::sizes_ui(ui, doc, &mut state.sizes);
        });
    });
}

fn policy_name(policy: TlbPolicy) -> &'static str {
    match policy {
        TlbPolicy::Lru => "LRU",
        TlbPolicy::Fifo => "FIFO",
        TlbPolicy::Random => "random",
        TlbPolicy::Plru => "tree pseudo-LRU",
    }
}

/// "TLB", or which half of split TLBs.
pub fn tlb_name(class: Option<AccessClass>) -> &'static str {
    match class {
        None => "TLB",
        Some(AccessClass::Instruction) => "Instruction TLB (iTLB)",
        Some(AccessClass::Data) => "Data TLB (dTLB)",
    }
}

/// Entries, ways, replacement and seed of one TLB; `prefix` tells two TLBs' fields apart.
fn shape_grid(ui: &mut egui::Ui, prefix: &str, draft: &mut TlbConfig) {
    let name = |field: &str| {
        if prefix.is_empty() { field.to_string() } else { format!("{prefix} {}", field.to_lowercase()) }
    };
    egui::Grid::new(("tlb-config", prefix)).num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
        let label = ui.label(name("Entries"));
        ui.add(egui::DragValue::new(&mut draft.entries).range(1..=crate::sim::tlb::MAX_TLB_ENTRIES))
            .labelled_by(label.id);
        ui.end_row();
        let label = ui.label(name("Ways"));
        ui.horizontal(|ui| {
            ui.add(egui::DragValue::new(&mut draft.ways).range(1..=draft.entries.max(1)))
                .labelled_by(label.id);
            if ui.small_button("fully associative").clicked() {
                draft.ways = draft.entries;
            }
            if ui.small_button("direct-mapped").clicked() {
                draft.ways = 1;
            }
        });
        ui.end_row();
        let label = ui.label(name("Replacement"));
        egui::ComboBox::from_id_salt(("tlb-policy", prefix))
            .selected_text(policy_name(draft.policy))
            .show_ui(ui, |ui| {
                for policy in [TlbPolicy::Lru, TlbPolicy::Fifo, TlbPolicy::Random, TlbPolicy::Plru] {
                    ui.selectable_value(&mut draft.policy, policy, policy_name(policy));
                }
            })
            .response
            .labelled_by(label.id);
        ui.end_row();
        let label = ui.label(name("Seed (random)"));
        ui.add(egui::DragValue::new(&mut draft.seed)).labelled_by(label.id);
        ui.end_row();
    });
}

fn config_ui(ui: &mut egui::Ui, current: &ReplayConfig, state: &mut UiState, actions: &mut Vec<Action>) {
    let t = &mut state.tlb;
    ui.checkbox(&mut t.draft_split, "Split instruction and data TLBs").on_hover_text(
        "Instruction fetches (execute accesses, lackey I records) use the iTLB; loads and stores the dTLB",
    );
    if t.draft_split {
        ui.label(RichText::new(tlb_name(Some(AccessClass::Data))).strong());
    }
    shape_grid(ui, if t.draft_split { "dTLB" } else { "" }, &mut t.draft);
    if t.draft_split {
        ui.add_space(4.0);
        ui.label(RichText::new(tlb_name(Some(AccessClass::Instruction))).strong());
        shape_grid(ui, "iTLB", &mut t.draft_itlb);
    }
    ui.checkbox(&mut t.draft.asid_tagging, "ASID tagging (off: a process switch flushes non-global entries)");
    let itlb = t.draft_split.then(|| t.draft_itlb.clone());
    let valid = validate_tlbs(&t.draft, itlb.as_ref());
    if let Err(e) = &valid {
        ui.colored_label(theme::fault_color(ui.visuals().dark_mode), e.to_string());
    }
    ui.horizontal(|ui| {
        let apply = ui.add_enabled(valid.is_ok(), egui::Button::new("Apply (empties the TLB)"));
        if apply.clicked() {
            actions.push(Action::Tlb(TlbAction::Configure(t.draft.clone(), itlb.clone())));
        }
        let changed = t.draft != current.tlb || itlb != current.itlb;
        if changed && ui.button("Revert").clicked() {
            t.draft = current.tlb.clone();
            t.draft_split = current.itlb.is_some();
            if let Some(itlb) = &current.itlb {
                t.draft_itlb = itlb.clone();
            }
        }
    });
}

fn invalidation_ui(ui: &mut egui::Ui, m: &Machine, state: &mut UiState, actions: &mut Vec<Action>) {
    let dark = ui.visuals().dark_mode;
    let page_op = match m.format().arch {
        Arch::X86 => "INVLPG",
        Arch::RiscV => "SFENCE.VMA",
        Arch::Generic => "Invalidate page",
    };
    ui.horizontal(|ui| {
        let label = ui.label("Address to invalidate:");
        ui.add(
            egui::TextEdit::singleline(&mut state.tlb.invalidate_text)
                .hint_text("0x40_1000")
                .font(egui::TextStyle::Monospace)
                .desired_width(140.0),
        )
        .labelled_by(label.id);
        let parsed = parse_u64(&state.tlb.invalidate_text);
        let button = ui
            .add_enabled(parsed.is_ok(), egui::Button::new(page_op))
            .on_hover_text("Remove every entry covering this address, global ones too");
        if button.clicked()
            && let Ok(va) = parsed
        {
            actions.push(Action::Tlb(TlbAction::InvalidatePage(va)));
        }
        if ui.small_button("from MMU").on_hover_text("The MMU panel's address").clicked() {
            state.tlb.invalidate_text = state.mmu.addr_text.clone();
        }
    });
    let text = state.tlb.invalidate_text.trim();
    if !text.is_empty()
        && let Err(e) = parse_u64(text)
    {
        ui.colored_label(theme::fault_color(dark), e.to_string());
    }
    ui.horizontal_wrapped(|ui| {
        let p = m.active_process();
        if ui
            .button(format!("Flush ASID {}", p.asid))
            .on_hover_text(format!("Drop the non-global entries of \"{}\" (the active process)", p.name))
            .clicked()
        {
            actions.push(Action::Tlb(TlbAction::InvalidateActiveAsid));
        }
        if ui.button("Flush non-global").on_hover_text("As a CR3 write without PCIDs").clicked() {
            actions.push(Action::Tlb(TlbAction::FlushNonGlobal));
        }
        if ui.button("Flush all").on_hover_text("Global entries too").clicked() {
            actions.push(Action::Tlb(TlbAction::FlushAll));
        }
    });
}

/// The (TLB, set, way) of every entry that disagrees with the tables, recomputed only when the
/// lab or the TLB changed.
fn stale_entries(doc: &Document, tlb: &TlbSim, state: &mut UiState) -> BTreeSet<StaleSlot> {
    let tlbs = doc.tlb().tlbs();
    let key = (doc.generation, tlbs.stats(), tlb.epoch);
    if state.tlb.stale.as_ref().is_none_or(|(k, _)| *k != key) {
        let m = &doc.lab().machine;
        let stale = tlbs
            .all()
            .flat_map(|(class, t)| t.entries().map(move |slot| (class, slot)))
            .filter(|(_, slot)| doc.tlb().is_stale(m, slot.entry))
            .map(|(class, slot)| (class, slot.set, slot.way))
            .collect();
        state.tlb.stale = Some((key, stale));
    }
    state.tlb.stale.as_ref().map(|(_, s)| s.clone()).unwrap_or_default()
}

fn cell(ui: &mut egui::Ui, width: f32, text: impl Into<egui::WidgetText>) {
    ui.add_sized(vec2(width, ROW_HEIGHT), egui::Label::new(text).truncate());
}

fn contents_ui(ui: &mut egui::Ui, doc: &Document, tlb: &TlbSim, state: &mut UiState) {
    let dark = ui.visuals().dark_mode;
    let stale = stale_entries(doc, tlb, state);
    let tlbs = doc.tlb().tlbs();
    if tlbs.is_empty() {
        ui.label("Empty: accesses (Enter in the MMU panel) and trace records fill it.");
        return;
    }
    if !stale.is_empty() {
        ui.colored_label(
            theme::fault_color(dark),
            format!(
                "{} stale entr{}: the tables changed and nobody invalidated them",
                stale.len(),
                if stale.len() == 1 { "y" } else { "ies" }
            ),
        );
    }
    for (class, t) in tlbs.all() {
        if let Some(class) = class {
            ui.label(RichText::new(format!("{} ({} valid)", tlb_name(Some(class)), t.len())).strong());
        }
        if t.is_empty() {
            ui.label("Empty.");
            continue;
        }
        contents_table(ui, class, t, &stale, dark);
    }
}

/// One TLB's valid entries, a row each, stale ones marked.
fn contents_table(
    ui: &mut egui::Ui,
    class: Option<AccessClass>,
    t: &Tlb<CachedTranslation>,
    stale: &BTreeSet<StaleSlot>,
    dark: bool,
) {
    let slots: Vec<_> = t.entries().collect();
    // Both ways: a wide table scrolls instead of widening the panel.
    let height = if class.is_some() { 160.0 } else { 220.0 };
    egui::ScrollArea::both()
        .id_salt(("tlb-contents", class))
        .max_height(height)
        .auto_shrink([false, true])
        .show_rows(ui, ROW_HEIGHT, slots.len() + 1, |ui, rows| {
            if rows.start == 0 {
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = 4.0;
                    for (name, width) in COLUMNS {
                        cell(ui, width, RichText::new(name).strong());
                    }
                });
            }
            let rows = rows.start.saturating_sub(1)..rows.end.saturating_sub(1);
            for slot in slots.get(rows).unwrap_or_default() {
                let e = slot.entry;
                let c = e.payload();
                let is_stale = stale.contains(&(class, slot.set, slot.way));
                let r = c.rights;
                let flag = |on: bool, ch: &str| if on { ch.to_string() } else { "-".into() };
                let rights = format!(
                    "{}{}{} {}",
                    flag(r.read, "r"),
                    flag(r.write, "w"),
                    flag(r.execute, "x"),
                    if r.user { "U" } else { "S" }
                );
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = 4.0;
                    let mono = |text: String| RichText::new(text).monospace();
                    cell(ui, COLUMNS[0].1, mono(format!("{}/{}", slot.set, slot.way)));
                    cell(ui, COLUMNS[1].1, mono(if e.global() { "-".into() } else { e.asid().to_string() }));
                    cell(ui, COLUMNS[2].1, mono(hex_grouped(e.base())));
                    cell(ui, COLUMNS[3].1, mono(format_size(e.page_size())));
                    cell(ui, COLUMNS[4].1, mono(hex_grouped(c.frame_base.get())));
                    cell(ui, COLUMNS[5].1, mono(rights));
                    cell(ui, COLUMNS[6].1, mono(if e.global() { "G".into() } else { String::new() }));
                    if is_stale {
                        cell(
                            ui,
                            COLUMNS[7].1,
                            RichText::new("STALE").monospace().strong().color(theme::fault_color(dark)),
                        );
                    }
                });
            }
        });
}

fn costs_ui(ui: &mut egui::Ui, costs: &mut Costs) {
    ui.horizontal(|ui| {
        let label = ui.label("TLB hit (ns):");
        ui.add(egui::DragValue::new(&mut costs.tlb_hit_ns).range(0.0..=1e6).speed(0.1)).labelled_by(label.id);
        let label = ui.label("Memory access (ns):");
        ui.add(egui::DragValue::new(&mut costs.memory_ns).range(0.0..=1e6).speed(1.0)).labelled_by(label.id);
    });
}

fn statistics_ui(ui: &mut egui::Ui, m: &Machine, doc: &Document, state: &mut UiState) {
    costs_ui(ui, &mut state.tlb.costs);
    let costs = state.tlb.costs;
    let stats = doc.tlb().stats(m);
    let mut rows: Vec<(String, &Summary)> = vec![("Total".to_string(), &stats.total)];
    rows.extend(stats.per_process.iter().map(|(name, s)| (name.clone(), s)));
    egui::ScrollArea::horizontal().id_salt("tlb-stats-scroll").show(ui, |ui| stats_grid_ui(ui, rows, &costs));
    let total = &stats.total.counters;
    if !total.faults_by_kind.is_empty() {
        ui.label(RichText::new("Faults by kind").strong());
        for (kind, count) in &total.faults_by_kind {
            ui.monospace(format!("  {count:>8}  {}", kind.describe_in(m.format().arch)));
        }
    }
    for (class, t) in doc.tlb().tlbs().all() {
        let Some(class) = class else { continue };
        let s = t.stats();
        ui.label(format!(
            "{}: {} lookups, {} hits ({}), {} misses",
            tlb_name(Some(class)),
            s.lookups,
            s.hits,
            s.hit_rate().map_or("-".into(), |r| format!("{:.3}%", 100.0 * r)),
            s.misses
        ));
    }
    ui.label(format!(
        "Records {} · switches {} · TLB inserts {} · evictions {} · flushes {} · pages invalidated {}",
        stats.records,
        stats.switches,
        stats.tlb.inserts,
        stats.tlb.evictions,
        stats.tlb.flushes,
        stats.tlb.page_invalidations
    ));
    ui.label(
        RichText::new(
            "EAT: a TLB probe and the data access every time, plus one memory access per entry a walk reads.",
        )
        .small(),
    );
}

/// One row per counter, one column per process (after the total): narrow panels fit it.
fn stats_grid_ui(ui: &mut egui::Ui, columns: Vec<(String, &Summary)>, costs: &Costs) {
    type Cell = fn(&Summary, &Costs) -> String;
    let rows: [(&str, Cell); 10] = [
        ("Lookups", |s, _| s.counters.lookups.to_string()),
        ("Hits", |s, _| s.counters.hits.to_string()),
        ("Misses", |s, _| s.counters.misses.to_string()),
        ("Hit rate", |s, _| s.counters.hit_rate().map_or("-".into(), |r| format!("{:.3}%", 100.0 * r))),
        ("Walks", |s, _| s.counters.walks.to_string()),
        ("Entries read by walks", |s, _| s.counters.walk_memory_refs.to_string()),
        ("Faults", |s, _| s.counters.faults.to_string()),
        ("Demand maps", |s, _| s.counters.demand_maps.to_string()),
        ("Dirty-bit assists", |s, _| s.counters.dirty_assists.to_string()),
        ("Effective access", |s, costs| {
            s.counters.effective_access_ns(costs).map_or("-".into(), |ns| format!("{ns:.2} ns"))
        }),
    ];
    egui::Grid::new("tlb-stats").striped(true).num_columns(columns.len() + 1).spacing([14.0, 4.0]).show(
        ui,
        |ui| {
            ui.label("");
            for (name, _) in &columns {
                ui.label(RichText::new(name).strong());
            }
            ui.end_row();
            for (label, value) in rows {
                ui.label(label);
                for (_, summary) in &columns {
                    ui.monospace(value(summary, costs));
                }
                ui.end_row();
            }
        },
    );
}

/// The MMU panel's line about the access last performed through the TLB, when it is the one
/// the panel shows.
pub fn access_report_ui(ui: &mut egui::Ui, state: &UiState, va: u64, access: Access, mode: Mode) {
    let Some(report) =
        state.tlb.last_access.as_ref().filter(|r| r.va == va && r.access == access && r.mode == mode)
    else {
        return;
    };
    let dark = ui.visuals().dark_mode;
    report_ui(ui, report, dark);
}

fn report_ui(ui: &mut egui::Ui, report: &AccessReport, dark: bool) {
    ui.add_space(4.0);
    let color = match (&report.stale, report.result) {
        (Some(_), _) | (None, crate::sim::replay::PageResult::Fault(_)) => theme::fault_color(dark),
        _ => theme::ok_color(dark),
    };
    ui.label(RichText::new(format!("Last access: {}", report.summary())).strong().color(color));
    if let Some(now) = &report.stale {
        let fault = theme::fault_color(dark);
        ui.colored_label(fault, "The translation used a STALE TLB entry:");
        ui.colored_label(fault, format!("{now}."));
        ui.colored_label(fault, "Invalidate the page (TLB panel) to see the change.");
    }
}

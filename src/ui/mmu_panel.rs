//! The live MMU panel: type an address, pick the access and the mode, and watch the walk: the
//! address as a strip of coloured index fields, one row per entry read, then the physical
//! address and its byte or the page fault with its cause, level and architectural report.

use super::state::{Action, UiState};
use super::theme;
use crate::doc::Edit;
use crate::lab::Lab;
use crate::sim::VirtAddr;
use crate::sim::addr::{format_size, hex_grouped, parse_u64};
use crate::sim::format::{Arch, PagingFormat, low_mask};
use crate::sim::mmu::{AdTiming, MmuSettings, Outcome, RiscvAd, Translation};
use crate::sim::{Access, Machine, Mode};
use egui::{Color32, RichText, Sense, vec2};

pub fn mmu_ui(ui: &mut egui::Ui, lab: &Lab, generation: u64, state: &mut UiState, actions: &mut Vec<Action>) {
    let m = &lab.machine;
    let dark = ui.visuals().dark_mode;
    let va = inputs_ui(ui, m, state, actions);
    if lab.nested.is_some() {
        // The walk below is the native machine's; the guest's is two-dimensional.
        ui.colored_label(
            theme::fault_color(dark),
            "A nested lab: this panel walks the host machine's own process. The guest's walk \
             through the host's tables is in the Nested walk tab (View > Nested walk).",
        );
        if ui.button("Show the Nested walk").clicked() {
            actions.push(Action::OpenPane(super::dock::Pane::Nested));
        }
    }
    egui::ScrollArea::both().id_salt("mmu-scroll").auto_shrink([false, false]).show(ui, |ui| {
        if let Some(va) = va {
            address_strip_ui(ui, m.format(), va, dark);
            ui.add_space(6.0);
            let t = match m.translate(m.active(), VirtAddr::new(va), state.mmu.access, state.mmu.mode) {
                Ok(t) => t,
                Err(e) => {
                    ui.colored_label(theme::fault_color(dark), e.to_string());
                    return;
                }
            };
            walk_ui(ui, m, &t, dark);
            outcome_ui(ui, m, &t, dark);
            super::why::why_ui(ui, m, generation, &t, state, actions);
            super::tlb_panel::access_report_ui(ui, state, t.va.get(), t.access, t.mode);
            let performed =
                state.last_walk.as_ref().filter(|w| w.va == t.va && w.access == t.access && w.mode == t.mode);
            if let Some(done) = performed.filter(|w| !w.ad_updates.is_empty()) {
                ad_ui(ui, m, done, "The last access wrote");
            } else if !t.ad_updates.is_empty() {
                ad_ui(ui, m, &t, "Performing it (Enter) will write");
            }
            state.preview = Some(t);
        } else {
            state.preview = None;
        }
        ui.add_space(8.0);
        super::pdpte_view::pdpte_ui(ui, m, actions);
        ui.add_space(4.0);
        settings_ui(ui, m, actions);
        ui.add_space(8.0);
        history_ui(ui, m, state, actions, dark);
    });
}

fn inputs_ui(ui: &mut egui::Ui, m: &Machine, state: &mut UiState, actions: &mut Vec<Action>) -> Option<u64> {
    let dark = ui.visuals().dark_mode;
    let mut perform = false;
    ui.horizontal(|ui| {
        let label = ui.label("Virtual address:");
        let edit = egui::TextEdit::singleline(&mut state.mmu.addr_text)
            .hint_text("hex 0x… or decimal")
            .font(egui::TextStyle::Monospace)
            .desired_width(220.0);
        let response = ui.add(edit).labelled_by(label.id);
        if response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            perform = true;
        }
        if ui
            .button("Translate")
            .on_hover_text("Perform the access (Enter): A/D bits are written unless Dry run is on")
            .clicked()
        {
            perform = true;
        }
    });
    let parsed = parse_u64(&state.mmu.addr_text);
    match &parsed {
        Ok(va) if !m.format().va_in_range(*va) => {
            let what = if m.format().canonical { "not canonical" } else { "beyond the address space" };
            ui.colored_label(
                theme::fault_color(dark),
                format!("{va:#x} is {what} for {} ({} bits)", m.format().name, m.format().va_bits),
            );
        }
        Ok(_) => {}
        Err(_) if state.mmu.addr_text.trim().is_empty() => {
            ui.label("Type an address to see its walk.");
        }
        Err(e) => {
            ui.colored_label(theme::fault_color(dark), e.to_string());
        }
    }
    ui.horizontal_wrapped(|ui| {
        ui.label("Access:");
        for a in Access::ALL {
            ui.radio_value(&mut state.mmu.access, a, a.label());
        }
        ui.separator();
        ui.label("Mode:");
        ui.radio_value(&mut state.mmu.mode, Mode::User, "user");
        ui.radio_value(&mut state.mmu.mode, Mode::Supervisor, "supervisor");
        ui.separator();
        ui.checkbox(&mut state.mmu.dry_run, "Dry run")
            .on_hover_text("Walk without writing accessed/dirty bits");
    });
    let va = parsed.ok();
    if perform && let Some(va) = va {
        actions.push(Action::Translate {
            va,
            access: state.mmu.access,
            mode: state.mmu.mode,
            process: m.active(),
        });
    }
    va
}

/// The address as bits, coloured by the index field of each level and the offset.
fn address_strip_ui(ui: &mut egui::Ui, f: &PagingFormat, va: u64, dark: bool) {
    // An address outside the address space is drawn whole, so the offending upper bits show.
    let outside = !f.va_in_range(va);
    let bits = if outside { 64 } else { f.va_bits.min(64) };
    let width = ui.available_width().min(900.0);
    let cell = (width / bits.max(1) as f32).clamp(6.0, 16.0);
    let (rect, _) = ui.allocate_exact_size(vec2(cell * bits as f32, 22.0), Sense::hover());
    let painter = ui.painter_at(rect);
    let field_of_bit = |bit: u32| -> Option<usize> {
        if bit < f.page_shift {
            return None;
        }
        (0..f.levels.len()).find(|&l| {
            let lo = f.entry_span_shift(l);
            bit >= lo && bit < lo + f.levels[l].index_bits
        })
    };
    for i in 0..bits {
        let bit = bits - 1 - i;
        let color = if bit >= f.va_bits {
            theme::fault_color(dark)
        } else {
            field_of_bit(bit).map_or(theme::offset_color(dark), |l| theme::level_color(l, dark))
        };
        let cell_rect =
            egui::Rect::from_min_size(rect.min + vec2(i as f32 * cell, 0.0), vec2(cell - 1.0, 22.0));
        painter.rect_filled(cell_rect, 1.0, color.gamma_multiply(0.35));
        let digit = if (va >> bit) & 1 == 1 { "1" } else { "0" };
        let ink = if dark { Color32::WHITE } else { Color32::BLACK };
        painter.text(
            cell_rect.center(),
            egui::Align2::CENTER_CENTER,
            digit,
            egui::FontId::monospace((cell * 0.9).min(13.0)),
            ink,
        );
    }
    ui.horizontal_wrapped(|ui| {
        for l in 0..f.levels.len() {
            let lo = f.entry_span_shift(l);
            let hi = lo + f.levels[l].index_bits - 1;
            let index = f.index_of(va, l);
            ui.label(
                RichText::new(format!("{} [{hi}:{lo}] = {index:#x} ({index})", f.levels[l].name))
                    .monospace()
                    .color(theme::level_color(l, dark)),
            );
        }
        let offset = va & low_mask(f.page_shift);
        ui.label(
            RichText::new(format!("offset [{}:0] = {offset:#x}", f.page_shift - 1))
                .monospace()
                .color(theme::offset_color(dark)),
        );
        if outside && f.va_bits < 64 {
            let upper = va >> f.va_bits;
            let rule = if f.canonical {
                format!("must all equal bit {} (sign extension)", f.va_bits - 1)
            } else {
                "must be 0".to_string()
            };
            ui.label(
                RichText::new(format!("bits [63:{}] = {upper:#x} {rule}", f.va_bits))
                    .monospace()
                    .color(theme::fault_color(dark)),
            );
        }
    });
}

fn walk_ui(ui: &mut egui::Ui, m: &Machine, t: &Translation, dark: bool) {
    let f = m.format();
    // Short cells so that all six columns fit a side panel: the long forms are in tooltips.
    egui::Grid::new("walk").striped(true).num_columns(6).spacing(vec2(10.0, 4.0)).show(ui, |ui| {
        for h in ["Level", "Index", "Entry at", "Raw", "Fields", "Rights\nso far"] {
            ui.label(RichText::new(h).strong());
        }
        ui.end_row();
        for s in &t.steps {
            let name = f.levels.get(s.level).map_or("?", |l| l.name.as_str());
            let target = if !f.present(s.raw, s.level) {
                "not present".to_string()
            } else if s.leaf {
                format!("maps frame {:#x}", f.frame(s.raw, s.level))
            } else {
                format!("points to the table at {:#x}", f.frame(s.raw, s.level) << f.page_shift)
            };
            ui.label(RichText::new(name).color(theme::level_color(s.level, dark)).strong())
                .on_hover_text(format!("{name} entry {:#x}: {target}", s.index));
            ui.monospace(format!("{:#x}", s.index)).on_hover_text(format!("index {} in decimal", s.index));
            if s.from_register {
                ui.monospace(format!("PDPTE{} register", s.index)).on_hover_text(format!(
                    "Read from the PDPTE register loaded with CR3 (SDM 4.4.1), not from memory at {:#x}",
                    s.entry_addr
                ));
            } else {
                ui.monospace(format!("{:#x}", s.entry_addr));
            }
            ui.monospace(format!("{:#x}", s.raw)).on_hover_text(format!(
                "{:#0w$x}",
                s.raw,
                w = (f.pte_bytes * 2 + 2) as usize
            ));
            let sets = match (s.sets_accessed, s.sets_dirty) {
                (true, true) => "  sets A, D",
                (true, false) => "  sets A",
                (false, true) => "  sets D",
                (false, false) => "",
            };
            let rule = match (f.arch, m.settings().ad_timing) {
                (Arch::RiscV, _) => "Svadu: in the leaf, once the access is allowed",
                (_, AdTiming::AfterWalk) => "after the whole walk succeeded",
                (_, AdTiming::AsWalked) => "as the walk passed this entry",
            };
            let fields = ui.monospace(format!("{}{sets}", f.flag_summary(s.raw, s.level)));
            if sets.is_empty() {
                fields.on_hover_text(&target);
            } else {
                fields.on_hover_text(format!("{target}\nThe access{sets} in this entry ({rule})"));
            }
            let r = s.rights;
            let (rights, long) = match f.arch {
                Arch::RiscV if !s.leaf => ("leaf".to_string(), "RISC-V: the leaf alone decides".to_string()),
                _ => (
                    r.text(false),
                    format!(
                        "combined over the levels read so far: {}{}{}, {}",
                        if r.read { "read" } else { "no read" },
                        if r.write { ", write" } else { ", no write" },
                        if r.execute { ", execute" } else { ", no execute" },
                        if r.user { "user and supervisor" } else { "supervisor only" }
                    ),
                ),
            };
            ui.monospace(rights).on_hover_text(long);
            ui.end_row();
        }
    });
}

fn outcome_ui(ui: &mut egui::Ui, m: &Machine, t: &Translation, dark: bool) {
    ui.add_space(4.0);
    match &t.outcome {
        Outcome::Mapped(mp) => {
            let value = mp.value.map_or("(beyond physical memory)".into(), |v| format!("{v:#04x}"));
            ui.label(
                RichText::new(format!(
                    "-> physical address {}   byte there: {value}",
                    hex_grouped(mp.pa.get())
                ))
                .size(18.0)
                .color(theme::ok_color(dark)),
            );
            ui.label(format!(
                "{} page{}",
                format_size(1u64 << mp.page_shift.min(63)),
                if mp.global { ", global" } else { "" }
            ));
        }
        Outcome::Fault(fault) => {
            let level = fault
                .level
                .and_then(|l| m.format().levels.get(l))
                .map_or("before any entry was read".to_string(), |l| format!("at the {} level", l.name));
            ui.label(
                RichText::new(format!(
                    "{}: {}",
                    fault.report.heading(),
                    fault.kind.describe_in(m.format().arch)
                ))
                .size(18.0)
                .color(theme::fault_color(dark)),
            );
            ui.label(format!("{} access in {} mode, {level}", t.access.label(), t.mode.label()));
            let report = fault.report.describe();
            if !report.is_empty() {
                ui.monospace(report);
            }
        }
    }
}

fn ad_ui(ui: &mut egui::Ui, m: &Machine, t: &Translation, heading: &str) {
    let f = m.format();
    ui.label(RichText::new(heading).strong());
    for u in &t.ad_updates {
        let name = f.levels.get(u.level).map_or("?", |l| l.name.as_str());
        let changed = f.flag_summary(u.new & !u.old, u.level);
        ui.monospace(format!(
            "  {name} entry at {:#x}: sets {changed}  ({:#x} -> {:#x})",
            u.entry_addr, u.old, u.new
        ));
    }
}

fn settings_ui(ui: &mut egui::Ui, m: &Machine, actions: &mut Vec<Action>) {
    egui::CollapsingHeader::new("MMU switches").default_open(false).show(ui, |ui| {
        let mut s: MmuSettings = *m.settings();
        match m.format().arch {
            Arch::X86 => {
                ui.checkbox(&mut s.wp, "CR0.WP: supervisor writes respect read-only pages");
                ui.checkbox(&mut s.nxe, "EFER.NXE: honour the NX bit (otherwise it is reserved)");
                ui.checkbox(&mut s.smep, "CR4.SMEP: supervisor may not execute user pages");
                ui.checkbox(&mut s.smap, "CR4.SMAP: supervisor may not read/write user pages");
                ui.checkbox(&mut s.ac, "EFLAGS.AC: SMAP lets supervisor data accesses through")
                    .on_hover_text("SDM 4.6: with AC=1, explicit supervisor reads and writes of user pages are allowed under SMAP (implicit accesses are not modelled)");
                let x86_32 = m.format().pte_bytes == 4;
                if x86_32 {
                    ui.checkbox(&mut s.pse36, "PSE-36: 4 MiB pages above 4 GiB")
                        .on_hover_text("PDE bits 20:13 of a 4 MiB page are physical address bits 39:32, up to MAXPHYADDR (SDM 4.3, Table 4-4); off: they are reserved");
                }
                if !x86_32 || s.pse36 {
                    let top = if x86_32 { 40 } else { 52 };
                    ui.horizontal(|ui| {
                        let label = ui.label("MAXPHYADDR:");
                        ui.add(egui::DragValue::new(&mut s.maxphyaddr).range(36..=top))
                            .labelled_by(label.id)
                            .on_hover_text("Physical-address width: entry bits 51:MAXPHYADDR are reserved (52 = none; QEMU's default CPU has 40)");
                    });
                }
                ad_timing_ui(ui, &mut s);
            }
            Arch::RiscV => {
                ui.checkbox(&mut s.sum, "sstatus.SUM: S-mode may load/store user pages");
                ui.checkbox(&mut s.mxr, "sstatus.MXR: loads from executable pages allowed");
                ui.horizontal(|ui| {
                    ui.label("A/D bits:");
                    ui.radio_value(&mut s.riscv_ad, RiscvAd::Svade, "Svade (fault)");
                    ui.radio_value(&mut s.riscv_ad, RiscvAd::Svadu, "Svadu (hardware sets)");
                });
            }
            Arch::Generic => {
                ui.label("This teaching format has no MMU switches.");
            }
        }
        if s != *m.settings() {
            actions.push(Action::Edit(Edit::Settings(s)));
        }
    });
}

/// The x86 A/D timing: the manuals leave open whether a walk that faults sets A in the entries
/// it passed.
fn ad_timing_ui(ui: &mut egui::Ui, s: &mut MmuSettings) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Accessed/dirty flags:").on_hover_text(
            "SDM 4.8 does not say whether a walk that faults has used its upper entries. \
             Intel CPUs (as KVM documents them) set A/D only after a successful walk; QEMU sets A \
             in each upper entry as it passes, even when the walk then faults.",
        );
        ui.radio_value(&mut s.ad_timing, AdTiming::AfterWalk, "after a successful walk (Intel)");
        ui.radio_value(&mut s.ad_timing, AdTiming::AsWalked, "as the walk passes each entry (QEMU)");
    });
}

fn history_ui(ui: &mut egui::Ui, m: &Machine, state: &mut UiState, actions: &mut Vec<Action>, dark: bool) {
    ui.label(RichText::new("History (click to re-run)").strong());
    if state.history.is_empty() {
        ui.label("Accesses you perform (Enter) appear here.");
    }
    let mut rerun = None;
    for item in &state.history {
        let process = m.processes().get(item.process).map_or("?", |p| p.name.as_str());
        let text = format!(
            "{} {} {} [{process}] {}",
            hex_grouped(item.va),
            item.access.label(),
            item.mode.label(),
            item.summary
        );
        let color = if item.fault { theme::fault_color(dark) } else { ui.visuals().text_color() };
        if ui.selectable_label(false, RichText::new(text).monospace().color(color)).clicked() {
            rerun = Some(item.clone());
        }
    }
    if let Some(item) = rerun {
        state.mmu.addr_text = format!("{:#x}", item.va);
        let process = if item.process < m.processes().len() { item.process } else { m.active() };
        actions.push(Action::Translate { va: item.va, access: item.access, mode: item.mode, process });
    }
}

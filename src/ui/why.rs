//! "Why?" in the MMU panel: for a fault, the entry and bit that decided it, the rule in the
//! manual's words and the verified fixes, each with an Apply button (one undo step, refused by
//! exercise locks); for a successful access, the bits that granted it. The explanation tries
//! fixes on copies of the machine, so it is worked out once per lab change and access, and only
//! while the section is open.

use super::state::{Action, UiState};
use super::theme;
use crate::doc::Edit;
use crate::sim::VirtAddr;
use crate::sim::addr::field_value;
use crate::sim::explain::{self, Explanation};
use crate::sim::{Access, Machine, Mode, Translation};

/// The explanation last worked out, and for what.
pub struct WhyCache {
    key: (u64, usize, u64, Access, Mode),
    result: Result<Explanation, String>,
}

/// The section under the walk's outcome.
pub fn why_ui(
    ui: &mut egui::Ui,
    m: &Machine,
    generation: u64,
    walk: &Translation,
    state: &mut UiState,
    actions: &mut Vec<Action>,
) {
    let (va, access, mode, process) = (walk.va.get(), walk.access, walk.mode, m.active());
    let title = if walk.fault().is_some() { "Why? and how to fix it" } else { "Why is this allowed?" };
    egui::CollapsingHeader::new(title).id_salt("why").show(ui, |ui| {
        let key = (generation, process, va, access, mode);
        if state.why.as_ref().is_none_or(|c| c.key != key) {
            let result =
                explain::explain(m, process, VirtAddr::new(va), access, mode).map_err(|e| e.to_string());
            state.why = Some(WhyCache { key, result });
        }
        let Some(cache) = state.why.as_ref() else { return };
        match &cache.result {
            Ok(e) => explanation_ui(ui, m, e, key, actions),
            Err(e) => {
                ui.colored_label(theme::fault_color(ui.visuals().dark_mode), e);
            }
        }
    });
}

fn explanation_ui(
    ui: &mut egui::Ui,
    m: &Machine,
    e: &Explanation,
    (_, process, va, access, mode): (u64, usize, u64, Access, Mode),
    actions: &mut Vec<Action>,
) {
    let d = &e.decided_by;
    if e.is_fault() {
        let place = match (&d.level_name, d.index, d.entry_addr) {
            (Some(level), Some(index), Some(addr)) => format!("the {level} entry {index:#x} at {addr:#x}"),
            _ => "the address itself".to_string(),
        };
        if let Some(cow) = &e.cow {
            ui.colored_label(
                theme::ok_color(ui.visuals().dark_mode),
                format!(
                    "A copy-on-write page ({}; frame {:#x}, {} owner{}): fork() shared it read-only. A demand-paging OS copies it for the writer (or, for its last owner, makes it writable); the fixes below change the tables by hand instead.",
                    cow.bit.describe(),
                    cow.frame,
                    cow.owners,
                    if cow.owners == 1 { "" } else { "s" }
                ),
            );
        }
        ui.label(format!("Decided by {place}: {} = {}", d.field, field_value(d.value)));
        ui.label(format!("Rule: {}", e.rule.text));
        ui.weak(&e.rule.reference);
        if let Some(r) = e.rights {
            ui.label(format!("Rights combined down to that entry: {}", r.text(true)));
        }
        ui.add_space(4.0);
        if e.fixes.is_empty() {
            ui.label("No change to entries or switches makes this access succeed.");
        }
        for (n, fix) in e.fixes.iter().enumerate() {
            ui.group(|ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.strong(format!("Fix {n} ({})", fix.bits_label()));
                    if ui
                        .button(format!("Apply fix {n}"))
                        .on_hover_text("One undoable step; an exercise's locks refuse it")
                        .clicked()
                    {
                        actions.push(Action::Edit(Edit::ApplyFix {
                            process,
                            va: VirtAddr::new(va),
                            access,
                            mode,
                            fix: n,
                        }));
                    }
                });
                for change in &fix.changes {
                    ui.label(change.describe(m.format()));
                }
                for effect in &fix.side_effects {
                    ui.weak(format!("• {effect}"));
                }
            });
        }
    } else {
        ui.label(format!("Rule: {}", e.rule.text));
        ui.weak(&e.rule.reference);
        for g in &e.grants {
            let place = match (g.level.and_then(|l| m.format().levels.get(l)), g.entry_addr) {
                (Some(level), Some(addr)) => format!("{} entry at {addr:#x}", level.name),
                _ => "switch".to_string(),
            };
            ui.label(format!("{place}: {} = {}: {}", g.field, field_value(g.value), g.why));
        }
    }
}

//! What `pagelab generate` varies, declared from the screen: the MMU panel's page moves to a
//! random address within a range (and to random frames), declarations listed with Remove; and
//! the preview of variant N (each task's answer in that variant, the lab left as it is).

use super::exercises::change_exercises;
use super::state::{Action, UiState};
use super::theme;
use crate::exercise::generate::PageSlot;
use crate::exercise::{generate, seal};
use crate::lab::Lab;
use crate::sim::addr::{hex_grouped, parse_u64};
use egui::RichText;

/// Each task's id and its answer in one variant.
pub type VariantAnswers = Vec<(String, String)>;

/// The randomize form's own state.
#[derive(Clone, Debug, Default)]
pub struct RandomizeUi {
    /// Where the page may move: the range's start and end, as typed.
    pub from: String,
    pub to: String,
    pub move_frame: bool,
    pub seed: u64,
    /// The last preview: the seed and each task's answer in that variant, or why it failed.
    pub preview: Option<(u64, Result<VariantAnswers, String>)>,
    pub error: Option<String>,
}

/// Each task's answer in variant `seed` of `lab`.
pub fn preview(lab: &Lab, seed: u64) -> Result<VariantAnswers, String> {
    let variant = generate(lab, seed).map_err(|e| e.to_string())?;
    Ok(variant
        .exercises
        .tasks
        .iter()
        .map(|t| (t.id.clone(), seal::expected_text(t, &variant.machine).unwrap_or_else(|| "?".into())))
        .collect())
}

pub fn randomize_ui(ui: &mut egui::Ui, lab: &Lab, state: &mut UiState, actions: &mut Vec<Action>) {
    let dark = ui.visuals().dark_mode;
    ui.label(RichText::new("Randomize (pagelab generate)").strong());
    let declared = &lab.exercises.randomize;
    for (i, slot) in declared.pages.iter().enumerate() {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "page {} of {} moves within {}..{}{}",
                hex_grouped(slot.va),
                slot.process,
                hex_grouped(slot.within[0]),
                hex_grouped(slot.within[1]),
                if slot.move_frame { ", to new frames" } else { "" }
            ));
            if ui.small_button(format!("Remove page {}", i + 1)).clicked() {
                change_exercises(lab, actions, |copy| {
                    if i < copy.exercises.randomize.pages.len() {
                        copy.exercises.randomize.pages.remove(i);
                    }
                });
            }
        });
    }
    for slot in &declared.frames {
        ui.label(format!("frame {:#x} is drawn among free frames", slot.frame));
    }
    let form = &mut state.exercises.randomize;
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Move within:");
        ui.add(egui::TextEdit::singleline(&mut form.from).hint_text("0x1000_0000").desired_width(110.0))
            .labelled_by(label.id);
        let label = ui.label("to:");
        ui.add(egui::TextEdit::singleline(&mut form.to).hint_text("0x2000_0000").desired_width(110.0))
            .labelled_by(label.id);
        ui.checkbox(&mut form.move_frame, "new frames too");
    });
    let va = parse_u64(&state.mmu.addr_text).ok();
    let form = &mut state.exercises.randomize;
    let vary = ui.add_enabled(va.is_some(), egui::Button::new("Vary the MMU panel's page")).on_hover_text(
        "Each variant moves the page of the MMU panel's address (in the active process) into the range",
    );
    if vary.clicked()
        && let Some(va) = va
    {
        match (parse_u64(&form.from), parse_u64(&form.to)) {
            (Ok(from), Ok(to)) if from < to => {
                let page = va & !(lab.machine.format().page_size() - 1);
                let slot = PageSlot {
                    process: lab.machine.active_process().name.clone(),
                    va: page,
                    within: [from, to],
                    move_frame: form.move_frame,
                    random_offset: false,
                };
                form.error = None;
                change_exercises(lab, actions, |copy| copy.exercises.randomize.pages.push(slot));
            }
            _ => form.error = Some("Type the range to move within: a start below its end.".into()),
        }
    }
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Variant:");
        ui.add(egui::DragValue::new(&mut form.seed)).labelled_by(label.id);
        let can = !lab.exercises.randomize.is_empty();
        if ui.add_enabled(can, egui::Button::new("Preview variant")).clicked() {
            form.preview = Some((form.seed, preview(lab, form.seed)));
        }
    });
    if let Some(err) = &form.error {
        ui.colored_label(theme::fault_color(dark), err);
    }
    if let Some((seed, result)) = &form.preview {
        match result {
            Ok(answers) => {
                ui.label(format!("Variant {seed}:"));
                for (id, answer) in answers {
                    ui.label(format!("  {id}: {answer}"));
                }
            }
            Err(e) => {
                ui.colored_label(theme::fault_color(dark), format!("Variant {seed} cannot be made: {e}"));
            }
        }
    }
}

//! What `pagelab generate` varies, declared from the screen: the MMU panel's page moves to a
//! random address within a range (to random frames too, with a random offset if asked), a frame
//! number the tasks use is drawn among free frames, declarations listed with Remove; and
//! the preview of variant N (each task's answer in that variant, the lab left as it is).

use super::exercises::change_exercises;
use super::state::{Action, UiState};
use super::theme;
use crate::exercise::generate::PageSlot;
use crate::exercise::{generate, seal};
use crate::lab::Lab;
use crate::sim::addr::{hex_grouped, parse_u64};
use crate::sim::{Pfn, VirtAddr};
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
    /// Task addresses inside the page get a random offset too.
    pub random_offset: bool,
    /// A frame number tasks use ("map X to frame F"), drawn among free frames, optionally
    /// within a range of frame numbers; all as typed.
    pub frame: String,
    pub frame_from: String,
    pub frame_to: String,
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
                hex_grouped(slot.va.get()),
                slot.process,
                hex_grouped(slot.within[0].get()),
                hex_grouped(slot.within[1].get()),
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
    for (i, slot) in declared.frames.iter().enumerate() {
        ui.horizontal_wrapped(|ui| {
            let within =
                slot.within.map_or(String::new(), |[from, to]| format!(" between {from:#x} and {to:#x}"));
            ui.label(format!("frame {:#x} is drawn among free frames{within}", slot.frame));
            if ui.small_button(format!("Remove frame {}", i + 1)).clicked() {
                change_exercises(lab, actions, |copy| {
                    if i < copy.exercises.randomize.frames.len() {
                        copy.exercises.randomize.frames.remove(i);
                    }
                });
            }
        });
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
        ui.checkbox(&mut form.random_offset, "random offset in the page");
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
                    va: VirtAddr::new(page),
                    within: [VirtAddr::new(from), VirtAddr::new(to)],
                    move_frame: form.move_frame,
                    random_offset: form.random_offset,
                };
                form.error = None;
                change_exercises(lab, actions, |copy| copy.exercises.randomize.pages.push(slot));
            }
            _ => form.error = Some("Type the range to move within: a start below its end.".into()),
        }
    }
    frame_form_ui(ui, lab, form, actions);
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

/// A frame number the tasks use, declared to be drawn among free frames (within a range of frame
/// numbers, or anywhere when the range is left empty).
fn frame_form_ui(ui: &mut egui::Ui, lab: &Lab, form: &mut RandomizeUi, actions: &mut Vec<Action>) {
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Frame number:");
        ui.add(egui::TextEdit::singleline(&mut form.frame).hint_text("0x40").desired_width(70.0))
            .labelled_by(label.id);
        let label = ui.label("drawn among frames:");
        ui.add(egui::TextEdit::singleline(&mut form.frame_from).hint_text("any").desired_width(70.0))
            .labelled_by(label.id);
        let label = ui.label("up to:");
        ui.add(egui::TextEdit::singleline(&mut form.frame_to).hint_text("any").desired_width(70.0))
            .labelled_by(label.id);
        let vary = ui
            .button("Vary this frame")
            .on_hover_text("Each variant replaces this frame number, wherever tasks use it, by a free frame");
        if !vary.clicked() {
            return;
        }
        let frames = lab.machine.mem().frame_count();
        let range = match (form.frame_from.trim(), form.frame_to.trim()) {
            ("", "") => Ok(None),
            (from, to) => match (parse_u64(from), parse_u64(to)) {
                (Ok(from), Ok(to)) if from < to && to <= frames => Ok(Some([Pfn::new(from), Pfn::new(to)])),
                _ => Err(format!("Type a range of frame numbers, a start below its end, up to {frames:#x}.")),
            },
        };
        match (parse_u64(&form.frame), range) {
            (Ok(frame), Ok(within)) if frame < frames => {
                form.error = None;
                let slot = crate::exercise::generate::FrameSlot { frame: Pfn::new(frame), within };
                change_exercises(lab, actions, |copy| copy.exercises.randomize.frames.push(slot));
            }
            (Ok(_), Ok(_)) | (Err(_), Ok(_)) => {
                form.error = Some(format!("Type a frame number below {frames:#x}."));
            }
            (_, Err(e)) => form.error = Some(e),
        }
    });
}

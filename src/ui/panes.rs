//! What each tab of the dock draws: the views, given what they read (the document, the TLB) and
//! where they write (UI state, actions).

use super::dock::Pane;
use super::state::{Action, UiState};
use super::tlb_state::TlbSim;
use super::{exercises, frames_view, inspector, memmap, mmu_panel, plots, processes, tlb_panel, tree};
use crate::doc::{Document, Edit};
use egui_tiles::{Behavior, SimplificationOptions, TileId, Tiles, UiResponse};

/// The views' borrows for one frame of the dock.
pub struct Views<'a> {
    pub doc: &'a Document,
    pub tlb: &'a TlbSim,
    pub state: &'a mut UiState,
    pub actions: &'a mut Vec<Action>,
    /// Panes closed by their tab's close button this frame.
    pub closed: Vec<Pane>,
}

/// No pane gets narrower or lower than this: room for the tree's index, range and flags columns
/// and for one row of the inspector's fields.
pub const MIN_PANE: f32 = 150.0;

impl Behavior<Pane> for Views<'_> {
    fn pane_ui(&mut self, ui: &mut egui::Ui, _tile_id: TileId, pane: &mut Pane) -> UiResponse {
        let (doc, state, actions) = (self.doc, &mut *self.state, &mut *self.actions);
        let lab = doc.lab();
        egui::Frame::new().inner_margin(egui::Margin::symmetric(6, 4)).show(ui, |ui| match *pane {
            Pane::Tree => tree::tree_ui(ui, doc, state, actions),
            Pane::Memory => memmap::memory_ui(ui, doc, state, actions),
            Pane::Mmu => mmu_panel::mmu_ui(ui, lab, doc.generation, state, actions),
            Pane::Tlb => tlb_panel::tlb_panel_ui(ui, doc, self.tlb, state, actions),
            other => {
                // Wide tables scroll sideways; text panels wrap to the width they have.
                let area = if matches!(other, Pane::Frames | Pane::Formats | Pane::Nested) {
                    egui::ScrollArea::both()
                } else {
                    egui::ScrollArea::vertical()
                };
                area.id_salt(("pane", other.title())).auto_shrink([false, false]).show(
                    ui,
                    |ui| match other {
                        Pane::Processes => {
                            processes::processes_ui(ui, lab, state, actions);
                            super::compare_view::compare_ui(ui, &lab.machine, doc.generation, state);
                        }
                        Pane::Inspector => inspector::inspector_ui(ui, lab, state, actions),
                        Pane::Exercises => exercises::exercises_ui(ui, lab, state, actions),
                        Pane::Frames => {
                            frames_view::frames_view_ui(ui, lab, doc.generation, &mut state.frames, actions)
                        }
                        Pane::Plots => plots::plots_ui(ui, self.tlb, &lab.machine, state, actions),
                        Pane::Formats => super::formats_view::formats_view_ui(
                            ui,
                            &lab.machine,
                            doc.generation,
                            &state.mmu.addr_text,
                            state.mmu.access,
                            state.mmu.mode,
                            &mut state.formats,
                        ),
                        Pane::Nested => super::nested_view::nested_view_ui(
                            ui,
                            lab,
                            &state.mmu.addr_text,
                            state.mmu.access,
                            state.mmu.mode,
                        ),
                        _ => description_ui(ui, doc, state, actions),
                    },
                );
            }
        });
        UiResponse::None
    }

    fn tab_title_for_pane(&mut self, pane: &Pane) -> egui::WidgetText {
        pane.title().into()
    }

    fn is_tab_closable(&self, _tiles: &Tiles<Pane>, _tile_id: TileId) -> bool {
        true
    }

    fn on_tab_close(&mut self, tiles: &mut Tiles<Pane>, tile_id: TileId) -> bool {
        if let Some(pane) = tiles.get_pane(&tile_id) {
            self.closed.push(*pane);
        }
        true
    }

    fn tab_bar_height(&self, style: &egui::Style) -> f32 {
        // Tabs read at the body text size, so a zoomed UI (projector) keeps its tabs legible.
        style.text_styles.get(&egui::TextStyle::Body).map_or(14.0, |f| f.size) + 12.0
    }

    fn gap_width(&self, _style: &egui::Style) -> f32 {
        3.0
    }

    fn min_size(&self) -> f32 {
        MIN_PANE
    }

    fn simplification_options(&self) -> SimplificationOptions {
        super::dock::simplification()
    }
}

/// The lab's title and description, its Markdown rendered (tables included); editable below.
pub fn description_ui(ui: &mut egui::Ui, doc: &Document, state: &mut UiState, actions: &mut Vec<Action>) {
    let lab = doc.lab();
    if !lab.description.trim_start().starts_with('#') {
        ui.heading(if lab.title.is_empty() { "Untitled lab" } else { &lab.title });
    }
    if lab.description.trim().is_empty() {
        ui.label("This lab has no description yet.");
    } else {
        egui_commonmark::CommonMarkViewer::new().show(ui, &mut state.markdown, &lab.description);
    }
    ui.separator();
    let edit = egui::CollapsingHeader::new("Edit title and description").id_salt("edit-description").show(
        ui,
        |ui| {
            // Drafts keep every keystroke; the lab changes (one undo step) when a field is left.
            let draft =
                state.description_draft.get_or_insert_with(|| (lab.title.clone(), lab.description.clone()));
            let title = ui.add(egui::TextEdit::singleline(&mut draft.0).hint_text("Title"));
            let body =
                ui.add(egui::TextEdit::multiline(&mut draft.1).desired_rows(8).desired_width(f32::INFINITY));
            if (title.lost_focus() || body.lost_focus())
                && (draft.0 != lab.title || draft.1 != lab.description)
            {
                actions.push(Action::Edit(Edit::Retitle {
                    title: draft.0.clone(),
                    description: draft.1.clone(),
                }));
            }
            title.has_focus() || body.has_focus()
        },
    );
    if !edit.body_returned.unwrap_or(false) {
        // Not being typed in: follow the lab (an undo, another lab opened).
        state.description_draft = None;
    }
}

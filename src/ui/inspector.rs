//! The entry inspector: every field of the selected entry as a toggle (one-bit fields) or an
//! editable number (frame number, multi-bit fields), named as the format names them, with the
//! architecture's meaning in a tooltip. Each change is an undoable write of the entry's bytes.

use super::rows::RowKind;
use super::state::{Action, UiState};
use super::theme;
use crate::doc::Edit;
use crate::lab::Lab;
use crate::sim::PhysAddr;
use crate::sim::addr::{format_size, parse_u64};
use crate::sim::format::{Role, low_mask};
use crate::sim::{EntryAddr, VirtAddr};

pub fn inspector_ui(ui: &mut egui::Ui, lab: &Lab, state: &mut UiState, actions: &mut Vec<Action>) {
    let m = &lab.machine;
    let f = m.format();
    let Some(row) = state.selected.and_then(|addr| state.rows.iter().find(|r| r.entry_addr == addr)).copied()
    else {
        ui.label("Select an entry in the tree to see and edit its fields.");
        return;
    };
    // Read the live bytes: the row cache may be a frame old.
    let raw = m.mem().read_le(PhysAddr::new(row.entry_addr), f.pte_bytes).unwrap_or(row.raw);
    if state.raw_edit_source != Some(raw) {
        state.raw_edit = format!("{raw:#x}");
        state.raw_edit_source = Some(raw);
    }
    let level_name = f.levels.get(row.level).map_or("?", |l| l.name.as_str());
    ui.horizontal_wrapped(|ui| {
        ui.heading(format!("{level_name} entry {:#x}", row.index));
        ui.label(format!(
            "at physical address {:#x} · covers {} from {}",
            row.entry_addr,
            format_size(1u64 << row.span_shift.min(63)),
            crate::sim::addr::hex_grouped(row.va)
        ));
        match row.kind {
            RowKind::Page { frame } => {
                ui.label(format!("· maps frame {frame:#x}"));
            }
            RowKind::Table { child_addr, .. } => {
                ui.label(format!("· points to the table at {child_addr:#x}"));
            }
            RowKind::Empty => {
                ui.label("· not present");
            }
        }
    });
    ui.horizontal(|ui| {
        let label = ui.label("Raw value:");
        let response = ui
            .add(
                egui::TextEdit::singleline(&mut state.raw_edit)
                    .font(egui::TextStyle::Monospace)
                    .desired_width(200.0),
            )
            .labelled_by(label.id);
        if response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))
            || ui.button("Write").clicked()
        {
            match parse_u64(&state.raw_edit) {
                Ok(value) if value <= low_mask(f.pte_bits()) => {
                    actions.push(Action::Edit(Edit::SetEntry {
                        entry_addr: EntryAddr::new(row.entry_addr),
                        raw: value,
                    }));
                }
                Ok(value) => state.error(format!("{value:#x} does not fit a {}-byte entry", f.pte_bytes)),
                Err(e) => state.error(format!("raw value: {e}")),
            }
        }
        ui.monospace(format!("now {raw:#0w$x}", w = (f.pte_bytes * 2 + 2) as usize));
    });
    ui.horizontal_wrapped(|ui| {
        for field in f.fields_at(row.level) {
            let value = field.get(raw);
            let tooltip = format!(
                "{} (bit{} {})\n{}",
                field.name,
                if field.width > 1 { "s" } else { "" },
                bit_range(field.lsb, field.width),
                field.doc
            );
            if field.is_flag() && field.role != Role::Frame {
                let mut on = value != 0;
                let color = if field.role == Role::Reserved && on {
                    Some(theme::fault_color(ui.visuals().dark_mode))
                } else {
                    None
                };
                let mut text = egui::RichText::new(&field.name).monospace();
                if let Some(c) = color {
                    text = text.color(c);
                }
                if ui.checkbox(&mut on, text).on_hover_text(tooltip).changed() {
                    actions.push(Action::Edit(Edit::SetField {
                        entry_addr: EntryAddr::new(row.entry_addr),
                        level: row.level,
                        field: field.name.clone(),
                        value: u64::from(on),
                    }));
                }
            } else {
                ui.label(egui::RichText::new(format!("{}:", field.name)).monospace()).on_hover_text(&tooltip);
                let mut v = value;
                let drag =
                    egui::DragValue::new(&mut v).hexadecimal(1, false, true).range(0..=low_mask(field.width));
                if ui.add(drag).on_hover_text(tooltip).changed() {
                    actions.push(Action::Edit(Edit::SetField {
                        entry_addr: EntryAddr::new(row.entry_addr),
                        level: row.level,
                        field: field.name.clone(),
                        value: v,
                    }));
                }
            }
        }
    });
    if let RowKind::Page { .. } = row.kind
        && ui.button("Unmap this page").clicked()
    {
        actions.push(Action::Edit(Edit::Unmap {
            process: m.active(),
            va: VirtAddr::new(row.va),
            len: 1u64 << row.span_shift.min(63),
        }));
    }
}

fn bit_range(lsb: u32, width: u32) -> String {
    if width <= 1 { format!("{lsb}") } else { format!("{}:{lsb}", lsb + width - 1) }
}

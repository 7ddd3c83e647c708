//! The "Nested walk" view: a guest access's two-dimensional walk ([`crate::sim::nested`]) as the
//! grid textbooks draw (a row per guest level, then the final address; a column per host level,
//! then the guest entry's own read), each cell the number of its memory reference, then every
//! reference in order and how the walk ended, naming the dimension that failed. It only draws:
//! the walk is computed by the caller (it is pure and at most 35 references).

use super::theme;
use crate::lab::Lab;
use crate::sim::addr::parse_u64;
use crate::sim::nested::{Dimension, NestedFault, NestedTranslation};
use crate::sim::{Access, Mode, VirtAddr};
use egui::RichText;

/// The whole view for a lab: walks `addr_text` in the lab's nested setup and draws it.
pub fn nested_view_ui(ui: &mut egui::Ui, lab: &Lab, addr_text: &str, access: Access, mode: Mode) {
    let Some(setup) = &lab.nested else {
        ui.label("This lab has no guest: make one with `pagelab new --format x86-64 --nested ept`.");
        return;
    };
    let Ok(va) = parse_u64(addr_text) else {
        ui.label("Type a guest-virtual address in the MMU panel to walk it in two dimensions.");
        return;
    };
    let t = setup.translate(lab.machine.mem(), lab.machine.format(), VirtAddr::new(va), access, mode);
    ui.label(format!(
        "{va:#x} ({} {}): {} guest on {} host tables",
        mode.label(),
        access.label(),
        lab.machine.format().name,
        setup.host.name()
    ));
    nested_grid_ui(ui, &t, setup.host.levels());
    ui.separator();
    nested_refs_ui(ui, &t);
}

/// The grid of reference numbers: guest levels down, host levels across, the guest entry's read
/// in the last column; `·` where the walk did not go.
pub fn nested_grid_ui(ui: &mut egui::Ui, t: &NestedTranslation, host_levels: usize) {
    let dark = ui.visuals().dark_mode;
    let host_name = |level: usize| {
        t.refs
            .iter()
            .find(|r| r.dimension == Dimension::Host && r.level == level)
            .map_or_else(|| format!("host level {level}"), |r| r.level_name.clone())
    };
    let guest_name = |level: usize| {
        t.refs
            .iter()
            .find(|r| r.dimension == Dimension::Guest && r.level == level)
            .map_or_else(|| format!("guest level {level}"), |r| format!("guest {}", r.level_name))
    };
    egui::Grid::new("nested-grid").striped(true).num_columns(host_levels + 2).show(ui, |ui| {
        ui.strong("guest \\ host");
        for level in 0..host_levels {
            ui.strong(RichText::new(host_name(level)).color(theme::level_color(level, dark)));
        }
        ui.strong("guest entry");
        ui.end_row();
        for row in t.grid(host_levels) {
            match row.guest_level {
                Some(g) => ui.label(RichText::new(guest_name(g)).color(theme::level_color(g, dark))),
                None => ui.label("data (final gpa)"),
            };
            for cell in &row.host {
                number_ui(ui, *cell);
            }
            if row.guest_level.is_some() {
                match row.guest {
                    Some(n) => ui.strong(n.to_string()),
                    None => ui.weak("·"),
                };
            }
            ui.end_row();
        }
    });
}

fn number_ui(ui: &mut egui::Ui, n: Option<usize>) {
    match n {
        Some(n) => ui.label(n.to_string()),
        None => ui.weak("·"),
    };
}

/// Every reference in order, then the outcome or the fault with its dimension.
pub fn nested_refs_ui(ui: &mut egui::Ui, t: &NestedTranslation) {
    let dark = ui.visuals().dark_mode;
    egui::ScrollArea::vertical().id_salt("nested-refs").max_height(320.0).show(ui, |ui| {
        egui::Grid::new("nested-refs-grid").striped(true).num_columns(5).show(ui, |ui| {
            for r in &t.refs {
                ui.label(format!("{}", r.number));
                ui.label(match r.dimension {
                    Dimension::Guest => "guest",
                    Dimension::Host => "host",
                });
                ui.label(RichText::new(&r.level_name).font(theme::mono(12.0)));
                ui.label(
                    RichText::new(format!("{:#x} = {:#018x}", r.entry_addr, r.raw)).font(theme::mono(12.0)),
                );
                let to = r.hpa.map(|h| format!(" -> hpa {h:#x}")).unwrap_or_default();
                ui.label(format!("gpa {:#x}{to}", r.gpa));
                ui.end_row();
            }
        });
    });
    match &t.outcome {
        Ok((gpa, hpa)) => {
            ui.colored_label(
                theme::ok_color(dark),
                format!("{} references: gpa {gpa:#x}, hpa {hpa:#x}", t.refs.len()),
            );
        }
        Err(NestedFault::Guest { report, .. }) => {
            ui.colored_label(theme::fault_color(dark), format!("guest fault: {report}"));
        }
        Err(NestedFault::Host { gpa, report, .. }) => {
            ui.colored_label(theme::fault_color(dark), format!("host fault at gpa {gpa:#x}: {report}"));
        }
    }
}

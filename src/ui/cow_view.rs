//! Copy-on-write in the frames view: the frames fork() shares with their owner counts, and the
//! timeline of copy-on-write faults the run resolved (which process wrote which page, the copy
//! or the last owner's reuse, the counts after, and the TLB entry the kernel invalidated).

use crate::sim::addr::hex_grouped;
use crate::sim::os::RefRun;

/// Rows shown before "… more".
const MAX_ROWS: usize = 200;

pub fn cow_ui(ui: &mut egui::Ui, run: &RefRun) {
    let shares = run.machine().shares();
    let events = run.os().cow_events();
    if shares.is_empty() && events.is_empty() {
        return;
    }
    ui.add_space(6.0);
    ui.heading("Copy-on-write");
    ui.label(format!(
        "{} frame{} shared by fork; {} copy-on-write fault{} resolved",
        shares.len(),
        if shares.len() == 1 { "" } else { "s" },
        events.len(),
        if events.len() == 1 { "" } else { "s" }
    ));
    if !events.is_empty() {
        egui::CollapsingHeader::new("Timeline").id_salt("cow-timeline").default_open(true).show(ui, |ui| {
            egui::ScrollArea::vertical().id_salt("cow-timeline-rows").max_height(180.0).show(ui, |ui| {
                for (n, event) in events.iter().enumerate().take(MAX_ROWS) {
                    ui.label(format!("{}. {}", n + 1, event.describe()));
                    ui.label(
                        egui::RichText::new(format!(
                            "   TLB: invalidated {} for ASID {} (the read-only entry is stale)",
                            hex_grouped(event.va.get()),
                            event.asid
                        ))
                        .weak(),
                    );
                }
                if events.len() > MAX_ROWS {
                    ui.label(format!("… {} more", events.len() - MAX_ROWS));
                }
            });
        });
    }
    if !shares.is_empty() {
        egui::CollapsingHeader::new("Shared frames").id_salt("cow-shares").show(ui, |ui| {
            egui::Grid::new("cow-shares-grid").striped(true).num_columns(2).show(ui, |ui| {
                ui.strong("Frame");
                ui.strong("Owners");
                ui.end_row();
                for (frame, owners) in shares.iter().take(MAX_ROWS) {
                    ui.monospace(hex_grouped(frame.get()));
                    ui.label(owners.to_string());
                    ui.end_row();
                }
            });
            if shares.len() > MAX_ROWS {
                ui.label(format!("… {} more", shares.len() - MAX_ROWS));
            }
        });
    }
}

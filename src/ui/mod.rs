//! The desktop app (eframe/egui). Views read the lab and push [`state::Action`]s; the app
//! applies them after drawing, through [`crate::doc::Document`], the one write path of a lab.

pub mod app;
pub mod commands;
pub mod compare_view;
pub mod cow_view;
pub mod dialogs;
pub mod dock;
pub mod dump_dialog;
pub mod exercises;
pub mod formats_view;
pub mod frames_view;
pub mod inspector;
pub mod memmap;
pub mod menus;
pub mod mmu_panel;
pub mod nested_view;
pub mod panes;
pub mod pdpte_view;
pub mod plots;
pub mod processes;
pub mod procmaps_dialog;
pub mod randomize_view;
pub mod recovery;
pub mod rows;
pub mod run_to_end;
pub mod sizes;
pub mod state;
pub mod task_editor;
pub mod theme;
pub mod tlb_panel;
pub mod tlb_state;
pub mod trace_player;
pub mod tree;
pub mod tree_columns;
pub mod why;

use crate::lab::{Lab, samples};
use crate::sim::{Machine, presets};
use std::path::PathBuf;
use std::process::ExitCode;

/// A new lab: a sample by name ("welcome", "x86-64", "sv39", ...) or an empty lab of a preset
/// ("empty:x86-64").
pub fn new_lab(name: &str) -> Option<Lab> {
    if let Some(preset) = name.strip_prefix("empty:") {
        let format = presets::by_name(preset)?;
        let memory = presets::default_memory(&format);
        let machine = Machine::new(format, memory).ok()?;
        return Some(Lab::new(&format!("New {preset} lab"), "", machine));
    }
    samples::build(name).ok()
}

/// The lab shown at start: two x86-64 processes to explore.
#[allow(clippy::expect_used)] // the built-in preset is valid (tests build it)
pub fn welcome_lab() -> Lab {
    samples::welcome().unwrap_or_else(|_| {
        let machine = Machine::new(presets::x86_64(4), 64 << 20).expect("the x86-64 preset is valid");
        Lab::new("Welcome to pagelab", "", machine)
    })
}

/// Opens the desktop app; returns a failure exit code when no window can be opened.
pub fn run(lab: Option<PathBuf>) -> ExitCode {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1500.0, 950.0])
            .with_min_inner_size([900.0, 600.0])
            .with_title("pagelab"),
        ..Default::default()
    };
    let result = eframe::run_native(
        "pagelab",
        options,
        Box::new(move |cc| {
            let recovery = recovery::Recovery::from_env();
            recovery.install_panic_hook();
            let app = app::PagelabApp::new(welcome_lab(), None).restore(cc.storage).with_startup_file(lab);
            Ok(Box::new(app.with_recovery(recovery)))
        }),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pagelab: cannot open a window ({e}).");
            eprintln!(
                "No graphical display seems to be available. The command line works without one: run `pagelab --help`."
            );
            ExitCode::FAILURE
        }
    }
}

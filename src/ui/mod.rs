//! The desktop app (eframe/egui). Views read the lab and push [`state::Action`]s; the app
//! applies them after drawing, through [`doc::Document`], which keeps undo snapshots.

pub mod app;
pub mod dialogs;
pub mod doc;
pub mod inspector;
pub mod memmap;
pub mod menus;
pub mod mmu_panel;
pub mod processes;
pub mod rows;
pub mod state;
pub mod theme;
pub mod tree;

use crate::lab::Lab;
use crate::sim::machine::{MapRequest, MapTarget};
use crate::sim::{Machine, presets};
use std::path::PathBuf;
use std::process::ExitCode;

/// A new lab: "welcome" (an x86-64 layout to explore) or an empty lab of a preset.
pub fn new_lab(name: &str) -> Option<Lab> {
    if name == "welcome" {
        return Some(welcome_lab());
    }
    let format = presets::by_name(name)?;
    let memory = crate::cli::edit::default_memory(&format);
    let machine = Machine::new(format, memory).ok()?;
    Some(Lab::new(&format!("New {name} lab"), "", machine))
}

/// The lab shown at start: a small x86-64 process to explore.
pub fn welcome_lab() -> Lab {
    let fallback = || {
        Lab::new("Welcome", "", Machine::new(presets::x86_64(4), 64 << 20).expect("x86-64 preset is valid"))
    };
    let Some(format) = presets::by_name("x86-64") else { return fallback() };
    let Ok(mut m) = Machine::new(format, 64 << 20) else { return fallback() };
    let regions: [(u64, u64, &[&str]); 4] = [
        (0x40_0000, 0x3000, &["U/S"]),
        (0x60_0000, 0x2000, &["R/W", "U/S", "NX"]),
        (0x7fff_ffff_c000, 0x4000, &["R/W", "U/S", "NX"]),
        (0xffff_8000_0000_0000, 0x2000, &["R/W", "G"]),
    ];
    for (va, len, flags) in regions {
        let request = MapRequest {
            va,
            len,
            target: MapTarget::Alloc,
            page_size: None,
            flags: Some(flags.iter().map(|s| s.to_string()).collect()),
        };
        let _ = m.map(0, &request);
    }
    Lab::new(
        "Welcome to pagelab",
        "# Welcome\nAn x86-64 process with code at 0x400000, data at 0x600000, a stack below 0x7fff_ffff_ffff and a kernel page at 0xffff_8000_0000_0000.\nType an address in the MMU panel and press Enter; toggle bits in the inspector; map pages with Ctrl+M.",
        m,
    )
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
            Ok(Box::new(app::PagelabApp::new(welcome_lab(), None).restore(cc.storage).with_startup_file(lab)))
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

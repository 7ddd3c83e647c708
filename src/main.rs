//! The `pagelab` binary: no arguments (or a lab path) opens the desktop app; a subcommand runs
//! the headless CLI.

#![warn(clippy::unwrap_used, clippy::expect_used)]

use pagelab::cli::{self, Cli};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Cli::parse_args(std::env::args_os().collect());
    match &args.command {
        Some(command) => match cli::run(command) {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        None => gui(args.lab),
    }
}

#[cfg(feature = "gui")]
fn gui(lab: Option<std::path::PathBuf>) -> ExitCode {
    pagelab::ui::run(lab)
}

#[cfg(not(feature = "gui"))]
fn gui(_lab: Option<std::path::PathBuf>) -> ExitCode {
    eprintln!(
        "this pagelab was built without the desktop app (feature \"gui\"); use a subcommand, see --help"
    );
    ExitCode::FAILURE
}

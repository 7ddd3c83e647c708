//! The headless command line: clap subcommands on top of `sim` and `lab`.

pub mod policy;

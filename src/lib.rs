//! pagelab: a lab for building, editing and probing real page tables.
//!
//! `sim` is the simulation core (pure, no I/O, never panics on input); `lab` is the lab file;
//! `exercise` the tasks, grading and variants stored in it;
//! `cli` the headless command line; `ui` the desktop app (feature `gui`).

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod cli;
pub mod doc;
pub mod exercise;
pub mod fuzzing;
pub mod lab;
pub mod sim;
#[cfg(feature = "gui")]
pub mod ui;

//! pagelab: a lab for building, editing and probing real page tables.
//!
//! `sim` is the simulation core (pure, no I/O, never panics on input); `tasks` the exercise
//! data a lab stores (tasks, sealed answers, locks); `lab` is the lab file; `exercise` the
//! grading, authoring and variants of a lab's tasks; `doc` the document every edit goes through;
//! `cli` the headless command line; `ui` the desktop app (feature `gui`).

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod cli;
pub mod doc;
pub mod exercise;
pub mod fuzzing;
pub mod lab;
pub mod sim;
pub mod tasks;
#[cfg(feature = "gui")]
pub mod ui;

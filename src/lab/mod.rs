//! The lab file: serde types, versioning, validation with JSON paths, atomic saves, imports.

pub mod file;
pub mod io;

pub use file::{Lab, LabError};

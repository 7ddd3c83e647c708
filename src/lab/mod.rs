//! The lab file: serde types, versioning, validation with JSON paths, the OS model's swap
//! contents, atomic saves, and the importers (`ostep` reads the text OSTEP's homework
//! simulators print), and the sample labs.

pub mod dump_import;
pub mod dump_lab;
pub mod file;
pub mod format_compare;
pub mod io;
pub mod nested;
pub mod ostep;
pub mod ostep_import;
pub mod procmaps;
pub mod ptdump;
pub mod qemu_info;
pub mod recovery;
pub mod samples;
pub mod schema;
pub mod schema_link;
pub mod swap;
pub mod vmprint;

pub use file::{Lab, LabError};

//! The lab file and its importers.
//!
//! `ostep` reads the text that OSTEP's homework simulators print, so their problems can be loaded
//! into the simulator and their answers checked against it.

pub mod ostep;

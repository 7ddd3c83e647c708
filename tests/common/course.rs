//! The course in labs/course/ as data: the instructor's files are the source (edited as JSON or
//! in the app), each with its student copy beside it (`NAME-student.json`).
#![allow(dead_code)] // each test file uses some of these

use pagelab::lab::Lab;
use std::path::{Path, PathBuf};

pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/course")
}

/// The instructor's copy of one course lab, by file stem ("linear-table").
pub fn lab(stem: &str) -> Lab {
    let path = dir().join(format!("{stem}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Lab::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every instructor copy, by stem, in name order.
pub fn all() -> Vec<(String, Lab)> {
    let mut stems: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok()?.path().file_stem()?.to_str().map(str::to_string))
        .filter(|stem| !stem.ends_with("-student"))
        .collect();
    stems.sort();
    stems.into_iter().map(|stem| (stem.clone(), lab(&stem))).collect()
}

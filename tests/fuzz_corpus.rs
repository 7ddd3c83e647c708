//! Replays the fuzz corpus on stable: every file cargo-fuzz kept (fuzz/corpus/TARGET/) runs
//! through the same entry point as its fuzz target (pagelab::fuzzing), so CI checks on every run
//! that none of them panics. The fuzzers themselves need nightly features; see README.

use std::path::Path;

fn replay(target: &str, entry: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let result = std::panic::catch_unwind(|| entry(&data));
        assert!(result.is_ok(), "{} panicked", file.display());
    }
    files.len()
}

#[test]
fn every_lab_file_of_the_corpus_runs_clean() {
    assert!(replay("lab_file", pagelab::fuzzing::lab_file) > 0, "the corpus has files");
}

#[test]
fn every_trace_of_the_corpus_runs_clean() {
    assert!(replay("trace_replay", pagelab::fuzzing::trace_replay) > 0, "the corpus has files");
}

//! README.md's command examples, run as they are written, so they stay true.
//!
//! - Every line of a `sh` block that starts with `pagelab` runs (from a scratch directory where
//!   `labs/` and `tests/` are the repository's), in order, and must succeed.
//! - A block whose first line starts with `$ pagelab` is a transcript: each `$` line runs, and
//!   its output must be the lines that follow, where a line `...` stands for any number of lines.
//!   The HTML comment just before such a block, `<!-- readme-test: NAME=PATH ... -->`, says which
//!   repository files to copy in first under which names.

use std::path::{Path, PathBuf};
use std::process::Command;

const PAGELAB: &str = env!("CARGO_BIN_EXE_pagelab");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory that sees the repository's labs/ and tests/.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for sub in ["labs", "tests"] {
        std::os::unix::fs::symlink(repo().join(sub), dir.path().join(sub)).expect("symlink");
    }
    dir
}

struct Block {
    /// The line of the README where the block starts (1-based), for messages.
    line: usize,
    lang: String,
    lines: Vec<String>,
    /// The `readme-test` comment before it: files to copy in.
    setup: Vec<(String, String)>,
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    let mut setup = Vec::new();
    for (i, line) in readme.lines().enumerate() {
        if let Some(block) = current.as_mut() {
            if line.starts_with("```") {
                out.push(current.take().expect("a block"));
            } else {
                block.lines.push(line.to_string());
            }
        } else if let Some(lang) = line.strip_prefix("```") {
            current = Some(Block {
                line: i + 1,
                lang: lang.trim().to_string(),
                lines: Vec::new(),
                setup: std::mem::take(&mut setup),
            });
        } else if let Some(rest) = line.strip_prefix("<!-- readme-test:") {
            setup = rest
                .trim_end_matches("-->")
                .split_whitespace()
                .filter_map(|pair| pair.split_once('=').map(|(a, b)| (a.to_string(), b.to_string())))
                .collect();
        } else if !line.trim().is_empty() {
            setup.clear();
        }
    }
    out
}

fn run(dir: &Path, command: &str, where_: &str) -> String {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"pagelab"), "{where_}: not a pagelab command");
    let out = Command::new(PAGELAB).args(&words[1..]).current_dir(dir).output().expect("pagelab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{where_}: `{command}` failed: {stderr}");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `expected` matches `actual` line by line (trailing spaces ignored); `...` matches any run.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first.trim() == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => {
            actual.first().is_some_and(|a| a.trim_end() == first.trim_end()) && matches(rest, &actual[1..])
        }
    }
}

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).expect("README.md")
}

#[test]
fn every_command_in_the_sh_blocks_runs() {
    let dir = scratch();
    let mut ran = 0;
    for block in blocks(&readme()).iter().filter(|b| b.lang == "sh") {
        for (k, line) in block.lines.iter().enumerate() {
            let command = line.split(" #").next().unwrap_or("").trim();
            if command.starts_with("pagelab ") {
                run(dir.path(), command, &format!("README.md:{}", block.line + 1 + k));
                ran += 1;
            }
        }
    }
    assert!(ran >= 15, "the CLI block was found ({ran} commands)");
}

#[test]
fn every_transcript_prints_what_it_shows() {
    let mut checked = 0;
    for block in
        blocks(&readme()).iter().filter(|b| b.lines.first().is_some_and(|l| l.starts_with("$ pagelab")))
    {
        let dir = scratch();
        for (name, path) in &block.setup {
            std::fs::copy(repo().join(path), dir.path().join(name))
                .unwrap_or_else(|e| panic!("copy {path}: {e}"));
        }
        let mut k = 0;
        while k < block.lines.len() {
            let command = block.lines[k].strip_prefix("$ ").expect("a command line").to_string();
            let end = (k + 1..block.lines.len())
                .find(|&j| block.lines[j].starts_with("$ "))
                .unwrap_or(block.lines.len());
            let where_ = format!("README.md:{}", block.line + 1 + k);
            let output = run(dir.path(), &command, &where_);
            let actual: Vec<&str> = output.lines().collect();
            let expected = &block.lines[k + 1..end];
            assert!(
                matches(expected, &actual),
                "{where_}: `{command}` printed\n{output}\nbut the README shows\n{}",
                expected.join("\n")
            );
            checked += 1;
            k = end;
        }
    }
    assert!(checked >= 5, "the transcripts were found ({checked})");
}

#[test]
fn the_matcher_takes_ellipses_for_any_lines() {
    let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(matches(&e(&["a", "...", "d"]), &["a", "b", "c", "d"]));
    assert!(matches(&e(&["a", "...", "d"]), &["a", "d"]));
    assert!(!matches(&e(&["a", "...", "d"]), &["a", "b", "c"]));
    assert!(!matches(&e(&["a", "b"]), &["a", "c"]));
}

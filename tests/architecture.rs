//! Dependencies point one way: the core (sim, lab, exercise, doc) knows neither the app (ui)
//! nor the command line (cli), and sim (the machine) knows nothing above it. Checked on the
//! sources, so a `use` that breaks the direction fails CI with the file and line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether a line of code (comments aside) names `crate::<name>` as a path.
fn names_module(line: &str, name: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    let path = format!("crate::{name}");
    code.match_indices(&path).any(|(at, _)| {
        let after = code.get(at + path.len()..).and_then(|rest| rest.chars().next());
        !matches!(after, Some(c) if c.is_alphanumeric() || c == '_')
    })
}

/// Lines under `src/<module>` (the module's directory and its `<module>.rs`) that name one of
/// `forbidden` as `crate::<name>` or `super::<name>` from the top.
fn offending_lines(module: &str, forbidden: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    if src.join(module).is_dir() {
        rust_files(&src.join(module), &mut files);
    }
    let single = src.join(format!("{module}.rs"));
    if single.exists() {
        files.push(single);
    }
    assert!(!files.is_empty(), "no sources for {module}");
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            if forbidden.iter().any(|name| names_module(line, name)) {
                found.push(format!("{}:{}: {}", file.display(), number + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_core_uses_neither_the_app_nor_the_command_line() {
    for module in ["sim", "lab", "exercise", "doc"] {
        let lines = offending_lines(module, &["ui", "cli"]);
        assert!(lines.is_empty(), "{module} must not depend on ui or cli:\n{}", lines.join("\n"));
    }
}

#[test]
fn the_machine_knows_nothing_above_it() {
    let lines = offending_lines("sim", &["lab", "exercise", "doc"]);
    assert!(lines.is_empty(), "sim must not depend on lab, exercise or doc:\n{}", lines.join("\n"));
}

#[test]
fn the_command_line_and_the_app_do_not_use_each_other() {
    let lines = offending_lines("ui", &["cli"]);
    assert!(lines.is_empty(), "ui must not depend on cli:\n{}", lines.join("\n"));
    let lines = offending_lines("cli", &["ui"]);
    assert!(lines.is_empty(), "cli must not depend on ui:\n{}", lines.join("\n"));
}

#[test]
fn the_check_reads_paths_not_names_that_start_alike() {
    assert!(names_module("use crate::ui::app::PagelabApp;", "ui"));
    assert!(names_module("    let x = crate::cli::edit::load_lab(path);", "cli"));
    assert!(!names_module("use crate::uid::Thing;", "ui"));
    assert!(!names_module("// see crate::ui::app for the app", "ui"));
    assert!(!names_module("use crate::sim::Machine;", "ui"));
}

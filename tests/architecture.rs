//! Dependencies point one way: the core (sim, tasks, lab, exercise, doc) knows neither the app
//! (ui) nor the command line (cli), and inside the core each layer uses only those below it:
//! sim (the machine) <- tasks (the exercise data a lab stores) <- lab (the file) <- exercise
//! (grading a lab) <- doc (the document). So lab and exercise never import each other both
//! ways. Checked on the sources, so a `use` that breaks the direction fails CI with the file
//! and line.

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

/// The core's layers, lowest first: each may use only the layers before it.
const CORE_LAYERS: [&str; 5] = ["sim", "tasks", "lab", "exercise", "doc"];

/// Lines under `src/<module>` (the module's directory and its `<module>.rs`) that name one of
/// `forbidden` as `crate::<name>`.
fn offending_lines(module: &str, forbidden: &[&str]) -> Vec<String> {
    offending_lines_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), module, forbidden)
}

/// [`offending_lines`] in the source tree at `src`.
fn offending_lines_in(src: &Path, module: &str, forbidden: &[&str]) -> Vec<String> {
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
    for module in CORE_LAYERS {
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
fn each_core_layer_uses_only_the_layers_below_it() {
    for (at, module) in CORE_LAYERS.iter().enumerate() {
        let above = &CORE_LAYERS[at + 1..];
        let lines = offending_lines(module, above);
        assert!(lines.is_empty(), "{module} must not depend on {}:\n{}", above.join(", "), lines.join("\n"));
    }
}

#[test]
fn the_lab_file_does_not_use_the_exercises_above_it() {
    let lines = offending_lines("lab", &["exercise", "doc"]);
    assert!(lines.is_empty(), "lab must not depend on exercise or doc:\n{}", lines.join("\n"));
    let lines = offending_lines("tasks", &["lab", "exercise", "doc"]);
    assert!(lines.is_empty(), "tasks must not depend on lab, exercise or doc:\n{}", lines.join("\n"));
}

#[test]
fn the_check_finds_a_use_that_points_the_wrong_way() {
    // A tree in which the lab file imports the exercises again (the old cycle), one in which
    // the exercise data reaches up to the lab, and one that only mentions them in comments.
    let src = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = src.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lab/file.rs", "use crate::sim::Machine;\nuse crate::exercise::{Exercises, Locks};\n");
    write("tasks/mod.rs", "pub mod task;\n");
    write("tasks/task.rs", "fn f() { let _ = crate::lab::Lab::from_json(\"\"); }\n");
    write("exercise.rs", "// crate::doc is above us\nuse crate::lab::Lab;\n");
    let lab = offending_lines_in(src.path(), "lab", &["exercise", "doc"]);
    assert_eq!(lab.len(), 1, "{lab:?}");
    assert!(lab[0].ends_with("file.rs:2: use crate::exercise::{Exercises, Locks};"), "{lab:?}");
    let tasks = offending_lines_in(src.path(), "tasks", &["lab", "exercise", "doc"]);
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert!(tasks[0].contains("task.rs:1:"), "{tasks:?}");
    assert!(offending_lines_in(src.path(), "exercise", &["doc"]).is_empty());
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

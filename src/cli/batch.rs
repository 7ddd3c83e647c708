//! `pagelab check --reference COPY SUBMISSIONS_DIR --csv grades.csv`: grades a folder of
//! submissions against the instructor's copy, on every core, into one CSV row per file (name,
//! the points of each task, total, problems). An unreadable file is a row with its problem,
//! never a stop.

use super::edit::load_lab;
use crate::exercise::{self, Report};
use crate::lab::{Lab, io};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// How deep under the folder labs are looked for (a folder per student is common).
const MAX_DEPTH: usize = 4;

/// The .json files under `dir` (or `dir` itself when it is a file), sorted by path.
pub fn lab_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if dir.is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), 0)];
    while let Some((folder, depth)) = pending.pop() {
        let entries =
            std::fs::read_dir(&folder).with_context(|| format!("cannot read {}", folder.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden {
                continue;
            }
            if path.is_dir() && depth < MAX_DEPTH {
                pending.push((path, depth + 1));
            } else if path.is_file() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Grades every file with `grade`, on up to `available_parallelism` threads, in input order
/// (`None` for a file whose thread died, so rows never shift).
fn grade_all<T: Send>(files: &[PathBuf], grade: impl Fn(&Path) -> T + Sync) -> Vec<Option<T>> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, files.len().max(1));
    let next = AtomicUsize::new(0);
    let mut graded: Vec<(usize, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(index) else { break };
                        mine.push((index, grade(path)));
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut out: Vec<Option<T>> = files.iter().map(|_| None).collect();
    for (index, value) in graded.drain(..) {
        if let Some(slot) = out.get_mut(index) {
            *slot = Some(value);
        }
    }
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn row(name: &str, reference: &Lab, graded: &Result<Report, String>) -> String {
    let mut cells = vec![field(name)];
    match graded {
        Ok(report) => {
            for task in &reference.exercises.tasks {
                let earned = report.tasks.iter().find(|t| t.id == task.id).map_or(0, |t| t.earned);
                cells.push(earned.to_string());
            }
            cells.push(report.total.to_string());
            cells.push(field(&report.warnings.join("; ")));
        }
        Err(problem) => {
            cells.extend(reference.exercises.tasks.iter().map(|_| String::new()));
            cells.push("0".into());
            cells.push(field(problem));
        }
    }
    cells.join(",")
}

/// Grades the labs under `folder` against `reference_path` and writes the CSV to `csv`.
pub fn check_folder(folder: &Path, reference_path: &Path, csv: &Path) -> anyhow::Result<String> {
    let reference = load_lab(reference_path)?;
    let files = lab_files(folder)?;
    let graded: Vec<Result<Report, String>> = grade_all(&files, |path| {
        load_lab(path).map(|lab| exercise::grade_against(&lab, &reference)).map_err(|e| format!("{e:#}"))
    })
    .into_iter()
    .map(|g| g.unwrap_or_else(|| Err("internal error while grading this file".into())))
    .collect();
    let mut header = vec!["name".to_string()];
    header.extend(reference.exercises.tasks.iter().map(|t| field(&t.id)));
    header.extend(["total".to_string(), "problems".to_string()]);
    let mut text = header.join(",") + "\n";
    for (path, result) in files.iter().zip(&graded) {
        let name = path.strip_prefix(folder).unwrap_or(path).display().to_string();
        text.push_str(&row(&name, &reference, result));
        text.push('\n');
    }
    io::write_atomic(csv, &text).with_context(|| format!("cannot write {}", csv.display()))?;
    let unreadable = graded.iter().filter(|g| g.is_err()).count();
    let altered = graded.iter().filter(|g| g.as_ref().is_ok_and(|r| !r.integrity.is_empty())).count();
    Ok(format!(
        "graded {} submission(s) against {} (max {} points) into {}: {unreadable} unreadable, {altered} altered\n",
        files.len(),
        reference_path.display(),
        reference.exercises.max_points(),
        csv.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(field("alice.json"), "alice.json");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn parallel_grading_keeps_the_input_order() {
        let files: Vec<PathBuf> = (0..50).map(|i| PathBuf::from(format!("{i:02}"))).collect();
        let out = grade_all(&files, |p| p.display().to_string());
        assert_eq!(out, files.iter().map(|p| Some(p.display().to_string())).collect::<Vec<_>>());
    }
}

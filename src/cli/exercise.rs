//! `pagelab check` (autograding one file; a folder with `--csv` is batch grading, see
//! `batch`) and `pagelab generate` (seeded per-student variants). The JSON that `check --json`
//! prints is documented in docs/check-json-schema.md; `--gradescope` writes Gradescope's
//! results.json, and reports an unusable submission there as a failed test.

use super::edit::load_lab;
use crate::exercise::{self, Report};
use crate::lab::{Lab, io};
use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::PathBuf;

/// The `schema` value of `check --json`; bumped when a field changes meaning or disappears.
pub const CHECK_SCHEMA: &str = "pagelab-check/1";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The lab to grade (a student's saved work). With --csv: a folder of submissions. With
    /// --gradescope it may be a folder holding the one submitted lab (/autograder/submission).
    pub lab: PathBuf,
    /// Print JSON for autograders (see docs/check-json-schema.md).
    #[arg(long)]
    pub json: bool,
    /// Grade with the tasks of this lab (the copy handed out, or the template regenerated with
    /// the student's seed), so that edited keys or conditions in the student's file do not count.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Also write Gradescope's results.json here: `score`, and one test per task (`name`,
    /// `number`, `score`, `max_score`, `status`, `output` in Markdown, `visibility`).
    /// A missing, unreadable or tampered submission is reported there as a failed test.
    #[arg(long)]
    pub gradescope: Option<PathBuf>,
    /// Grade every lab (.json) in the folder LAB against --reference, in parallel, and write
    /// one row per file: name, the points of each task, total, problems.
    #[arg(long, requires = "reference", conflicts_with_all = ["json", "gradescope"])]
    pub csv: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The template: an instructor's lab with exercises and `randomize` declarations.
    pub template: PathBuf,
    /// The variant's seed (e.g. a student number); the same seed gives the same file.
    #[arg(long)]
    pub seed: u64,
    /// Output lab file.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Write the instructor's copy (plain answers kept) instead of the student version.
    #[arg(long)]
    pub instructor: bool,
}

pub fn check(args: &CheckArgs) -> anyhow::Result<String> {
    if let Some(csv) = &args.csv {
        let reference = args.reference.as_deref().context("--csv needs --reference")?;
        return super::batch::check_folder(&args.lab, reference, csv);
    }
    let reference = args.reference.as_deref().map(load_lab).transpose()?;
    let loaded = match &args.gradescope {
        Some(_) => super::autograder::find_submission(&args.lab)
            .and_then(|path| load_lab(&path).map(|lab| (path, lab))),
        None => load_lab(&args.lab).map(|lab| (args.lab.clone(), lab)),
    };
    let (path, lab) = match (loaded, &args.gradescope) {
        (Ok(found), _) => found,
        (Err(e), Some(results)) => {
            // Gradescope shows results.json, not our exit status: say there what went wrong.
            let max = reference.as_ref().map_or(0, |r| r.exercises.max_points());
            let message = format!("The submission could not be graded: {e:#}");
            write_json(results, &unusable_submission_json(&message, max))?;
            return Ok(format!("{message}\nwrote {}\n", results.display()));
        }
        (Err(e), None) => return Err(e),
    };
    let mut report = match &reference {
        Some(reference) => exercise::grade_against(&lab, reference),
        None => exercise::grade(&lab),
    };
    if reference.is_none() && lab.exercises.student {
        // Said first: without the instructor's copy, the keys come from the file being graded.
        report.warnings.insert(0, UNREFERENCED.to_string());
    }
    if let Some(results) = &args.gradescope {
        write_json(results, &gradescope_json(reference.as_ref().unwrap_or(&lab), &report))?;
    }
    let shown = path.display().to_string();
    if args.json {
        return Ok(serde_json::to_string_pretty(&check_json(&shown, &lab, &report))? + "\n");
    }
    Ok(check_text(&shown, &lab, &report))
}

fn write_json(path: &std::path::Path, value: &Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    io::write_atomic(path, &text).with_context(|| format!("cannot write {}", path.display()))
}

/// Gradescope's results for a submission that could not be read: one failed test saying why.
pub fn unusable_submission_json(message: &str, max: u32) -> Value {
    json!({
        "score": 0,
        "output": message,
        "output_format": "md",
        "tests": [{
            "name": "Submission",
            "number": "1",
            "score": 0,
            "max_score": max,
            "status": "failed",
            "output": message,
            "output_format": "md",
            "visibility": "visible",
        }],
    })
}

/// The `check --json` document.
pub fn check_json(path: &str, lab: &Lab, report: &Report) -> Value {
    let tasks: Vec<Value> = report
        .tasks
        .iter()
        .map(|t| {
            let title = lab.exercises.task(&t.id).map(|task| task.title.clone()).unwrap_or_default();
            json!({
                "id": t.id,
                "title": title,
                "kind": t.kind.id(),
                "points": t.points,
                "earned": t.earned,
                "passed": t.passed,
                "answered": t.answered,
                "feedback": t.feedback,
                "attempts": t.attempts,
                "wrong_attempts": t.wrong_attempts,
            })
        })
        .collect();
    json!({
        "schema": CHECK_SCHEMA,
        "lab": path,
        "title": lab.title,
        "seed": lab.exercises.seed,
        "total": report.total,
        "max": report.max,
        "passed": report.passed(),
        "answered": report.answered(),
        "count": report.tasks.len(),
        "tasks": tasks,
        "warnings": report.warnings,
    })
}

/// The warning a student file graded without `--reference` gets.
const UNREFERENCED: &str = "graded with the keys stored in this file, which its owner could have edited; \
     grade with --reference INSTRUCTOR_COPY to trust the result";

/// Gradescope's results.json for one submission: the total and one test per task, with the
/// titles and visibility of `tasks_from` (the reference when there is one). A submission
/// altered where students should not change it gets one more test, failed, worth nothing,
/// that lists what was altered.
pub fn gradescope_json(tasks_from: &Lab, report: &Report) -> Value {
    let mut tests: Vec<Value> = report
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let task = tasks_from.exercises.task(&t.id);
            let title = task.map(|task| task.title.clone()).unwrap_or_default();
            let name = if title.is_empty() { t.id.clone() } else { format!("{} ({})", title, t.id) };
            let visibility = task.map(|task| task.visibility).unwrap_or_default();
            let mut output = t.feedback.clone();
            if t.attempts > 0 {
                let _ = write!(
                    output,
                    "\n\nChecks recorded: {} ({} wrong before the right answer)",
                    t.attempts, t.wrong_attempts
                );
            }
            if let Some(explanation) = &t.explanation {
                let _ = write!(output, "\n\n**Explanation**\n\n{explanation}");
            }
            json!({
                "name": name,
                "number": (i + 1).to_string(),
                "score": t.earned,
                "max_score": t.points,
                "status": if t.passed { "passed" } else { "failed" },
                "output": output,
                "output_format": "md",
                "visibility": visibility.id(),
            })
        })
        .collect();
    if !report.integrity.is_empty() {
        tests.push(json!({
            "name": "Submission integrity",
            "number": (tests.len() + 1).to_string(),
            "score": 0,
            "max_score": 0,
            "status": "failed",
            "output": format!(
                "The submission was changed where students should not change it; it was graded with the instructor's tasks and keys.\n\n{}",
                report.integrity.iter().map(|w| format!("- {w}")).collect::<Vec<_>>().join("\n")
            ),
            "output_format": "md",
            "visibility": "visible",
        }));
    }
    let mut results = json!({ "score": report.total, "tests": tests });
    if !report.warnings.is_empty() {
        results["output"] =
            json!(report.warnings.iter().map(|w| format!("- {w}")).collect::<Vec<_>>().join("\n"));
        results["output_format"] = json!("md");
    }
    results
}

fn check_text(path: &str, lab: &Lab, report: &Report) -> String {
    let mut out = format!("{} ({path})\n", lab.title);
    if report.warnings.first().is_some_and(|w| w == UNREFERENCED) {
        let _ = writeln!(out, "note: {UNREFERENCED}");
    }
    let width = report.tasks.iter().map(|t| t.id.len()).max().unwrap_or(0);
    for t in &report.tasks {
        let mark = if t.passed {
            "ok"
        } else if t.answered {
            "no"
        } else {
            "--"
        };
        let _ = writeln!(
            out,
            "  [{mark}] {:<width$}  {:<9} {:>3}/{:<3} {}",
            t.id,
            t.kind.id(),
            t.earned,
            t.points,
            t.feedback
        );
    }
    let _ = writeln!(
        out,
        "total: {}/{} ({} of {} task(s) passed)",
        report.total,
        report.max,
        report.passed(),
        report.tasks.len()
    );
    for w in report.warnings.iter().filter(|w| *w != UNREFERENCED) {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

pub fn generate(args: &GenerateArgs) -> anyhow::Result<String> {
    let template = load_lab(&args.template)?;
    if template.exercises.randomize.is_empty() {
        bail!(
            "{}: the template declares nothing to randomize (\"randomize\": pages or frames), so every seed would give the same variant; hand out the lab itself, or declare what varies",
            args.template.display()
        );
    }
    if exercise::lint::identical_variants(&template) {
        bail!(
            "{}: the template's randomize gives the same lab for every seed (the ranges leave no other choice), so every student would get the same variant; widen the ranges or declare more",
            args.template.display()
        );
    }
    let variant = exercise::generate(&template, args.seed)
        .with_context(|| format!("{}: cannot make a variant", args.template.display()))?;
    let out = if args.instructor { variant } else { exercise::student_version(&variant) };
    io::save(&out, &args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
    Ok(format!(
        "wrote {} ({} version of \"{}\", seed {}, {} task(s), {} point(s))\n",
        args.output.display(),
        if args.instructor { "instructor" } else { "student" },
        out.title,
        args.seed,
        out.exercises.tasks.len(),
        out.exercises.max_points()
    ))
}

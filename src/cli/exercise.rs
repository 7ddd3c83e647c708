//! `pagelab check` (autograding) and `pagelab generate` (seeded per-student variants). The JSON
//! that `check --json` prints is documented in docs/check-json-schema.md.

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
    /// The lab to grade (a student's saved work).
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
    #[arg(long)]
    pub gradescope: Option<PathBuf>,
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
    let lab = load_lab(&args.lab)?;
    let mut report = match &args.reference {
        Some(path) => exercise::grade_against(&lab, &load_lab(path)?),
        None => exercise::grade(&lab),
    };
    if args.reference.is_none() && lab.exercises.student {
        // Said first: without the instructor's copy, the keys come from the file being graded.
        report.warnings.insert(0, UNREFERENCED.to_string());
    }
    if let Some(path) = &args.gradescope {
        let results = gradescope_json(&lab, &report);
        let text = serde_json::to_string_pretty(&results)? + "\n";
        io::write_atomic(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        return Ok(serde_json::to_string_pretty(&check_json(
            &args.lab.display().to_string(),
            &lab,
            &report,
        ))? + "\n");
    }
    Ok(check_text(&args.lab.display().to_string(), &lab, &report))
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

/// Gradescope's results.json for one submission: the total and one test per task.
pub fn gradescope_json(lab: &Lab, report: &Report) -> Value {
    let tests: Vec<Value> = report
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let title = lab.exercises.task(&t.id).map(|task| task.title.clone()).unwrap_or_default();
            let name = if title.is_empty() { t.id.clone() } else { format!("{} ({})", title, t.id) };
            json!({
                "name": name,
                "number": (i + 1).to_string(),
                "score": t.earned,
                "max_score": t.points,
                "status": if t.passed { "passed" } else { "failed" },
                "output": t.feedback,
                "output_format": "md",
                "visibility": "visible",
            })
        })
        .collect();
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

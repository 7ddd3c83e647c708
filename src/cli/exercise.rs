//! `pagelab check` (autograding) and `pagelab generate` (seeded per-student variants). The JSON
//! that `check --json` prints is documented in docs/check-json-schema.md.

use super::edit::load_lab;
use crate::exercise::{self, Report};
use crate::lab::{Lab, io};
use anyhow::Context;
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
    let report = match &args.reference {
        Some(path) => exercise::grade_against(&lab, &load_lab(path)?),
        None => exercise::grade(&lab),
    };
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

fn check_text(path: &str, lab: &Lab, report: &Report) -> String {
    let mut out = format!("{} ({path})\n", lab.title);
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
    for w in &report.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

pub fn generate(args: &GenerateArgs) -> anyhow::Result<String> {
    let template = load_lab(&args.template)?;
    let variant = exercise::generate(&template, args.seed)
        .with_context(|| format!("{}: cannot make a variant", args.template.display()))?;
    let out = if args.instructor { variant } else { exercise::student_version(&variant) };
    io::save(&out, &args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
    let mut text = format!(
        "wrote {} ({} version of \"{}\", seed {}, {} task(s), {} point(s))\n",
        args.output.display(),
        if args.instructor { "instructor" } else { "student" },
        out.title,
        args.seed,
        out.exercises.tasks.len(),
        out.exercises.max_points()
    );
    if template.exercises.randomize.is_empty() {
        // Not an error (a fixed exercise is a valid handout), but never silent: every seed gives
        // the same file.
        text.push_str(
            "note: the template declares nothing to randomize (\"randomize\": pages or frames), so every seed gives this same variant\n",
        );
    }
    Ok(text)
}

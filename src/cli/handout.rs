//! What an instructor hands out and checks before release: `pagelab export` (the student copy,
//! or with `--exam` a copy for grading only) and `pagelab solve` (the model solution, checked to
//! score full marks while the handout scores zero, with the author-time checks as notes); and `pagelab schema`, the lab file's JSON Schema.

use super::edit::{load_lab, save_lab};
use crate::exercise;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SolveArgs {
    /// The instructor's copy (with the plain sources of the answers).
    pub lab: PathBuf,
    /// Where to write the solved handout.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
#[command(subcommand_negates_reqs = true, args_conflicts_with_subcommands = true)]
pub struct ExportArgs {
    /// Another format instead of a student copy: `pagelab export vmprint LAB`.
    #[command(subcommand)]
    pub to: Option<ExportTo>,
    /// The instructor's copy.
    #[arg(required = true)]
    pub lab: Option<PathBuf>,
    /// The student copy to write.
    #[arg(short = 'o', long = "output", required = true)]
    pub output: Option<PathBuf>,
    /// For grading only: no keys and no explanations (nothing can be checked on the student's
    /// machine); only `pagelab check --reference INSTRUCTOR_COPY` grades it.
    #[arg(long)]
    pub exam: bool,
}

#[derive(Debug, Subcommand)]
pub enum ExportTo {
    /// Print an Sv39 lab's tables as xv6's vmprint() does (MIT 6.1810 pgtbl lab).
    Vmprint(super::import::VmprintExportArgs),
}

pub fn export(args: &ExportArgs) -> anyhow::Result<String> {
    let (lab_path, output) = match (&args.to, &args.lab, &args.output) {
        (Some(ExportTo::Vmprint(vmprint)), _, _) => return super::import::export_vmprint(vmprint),
        (None, Some(lab), Some(output)) => (lab, output),
        _ => bail!("export needs a lab and -o OUTPUT (or: export vmprint LAB)"),
    };
    let lab = load_lab(lab_path)?;
    if lab.exercises.student {
        bail!("{} is already a student copy; export from the instructor's copy", lab_path.display());
    }
    let out = if args.exam { exercise::exam_version(&lab) } else { exercise::student_version(&lab) };
    save_lab(&out, output)?;
    Ok(format!(
        "wrote {} ({} copy of \"{}\", {} task(s), {} point(s))\n",
        output.display(),
        if args.exam { "exam" } else { "student" },
        out.title,
        out.exercises.tasks.len(),
        out.exercises.max_points()
    ))
}

pub fn solve(args: &SolveArgs) -> anyhow::Result<String> {
    let instructor = load_lab(&args.lab)?;
    if instructor.exercises.student {
        bail!(
            "{} is a student copy, which holds no solution; pass the instructor's copy",
            args.lab.display()
        );
    }
    let handout = exercise::student_version(&instructor);
    let solved = exercise::solve::solve(&instructor, &handout)
        .with_context(|| format!("{}: cannot reach the goals", args.lab.display()))?;
    save_lab(&solved, &args.output)?;
    let full = exercise::grade_against(&solved, &instructor);
    let zero = exercise::grade_against(&handout, &instructor);
    let mut out = format!(
        "wrote {}: the solution scores {}/{} against {}; the handout scores {}/{}\n",
        args.output.display(),
        full.total,
        full.max,
        args.lab.display(),
        zero.total,
        zero.max
    );
    let mut problems = String::new();
    for t in full.tasks.iter().filter(|t| !t.passed) {
        let _ = writeln!(problems, "  the solution fails {}: {}", t.id, t.feedback);
    }
    for t in zero.tasks.iter().filter(|t| t.earned > 0) {
        let _ = writeln!(problems, "  the handout already earns {}: {}", t.id, t.feedback);
    }
    if !problems.is_empty() {
        out.push_str(&problems);
        bail!("{out}fix these tasks before handing the lab out");
    }
    for w in exercise::lint::author_warnings(&instructor) {
        let _ =
            writeln!(out, "note: {}{}", w.task.map(|t| format!("task {t}: ")).unwrap_or_default(), w.message);
    }
    Ok(out)
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Write the schema to this file instead of standard output.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
}

/// `pagelab schema`: the JSON Schema of lab files (the one kept in docs/lab.schema.json).
pub fn schema(args: &SchemaArgs) -> anyhow::Result<String> {
    let text = crate::lab::schema::lab_schema_json();
    match &args.output {
        None => Ok(text),
        Some(path) => {
            crate::lab::io::write_atomic(path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(format!("wrote {}\n", path.display()))
        }
    }
}

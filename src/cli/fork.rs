//! `pagelab fork`: fork a process (copy-on-write, or an eager copy with `--no-cow`) through the
//! document with the exercise's locks enforced, and save the lab in place or to `-o OUT`, as
//! `set` and `explain --apply` do.

use super::edit::{editing, load_lab, pick_process, save_lab};
use crate::doc::Edit;
use crate::sim::Arch;
use crate::sim::addr::format_size;
use crate::sim::fork::{CowBit, ForkReport, TableUsage};
use anyhow::anyhow;
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ForkArgs {
    pub lab: PathBuf,
    /// The parent: a process name or number (default: the active process).
    #[arg(long)]
    pub process: Option<String>,
    /// The child's name (default: the parent's name and "-child").
    #[arg(long)]
    pub name: Option<String>,
    /// Copy every user page into a fresh frame now, instead of sharing them copy-on-write.
    #[arg(long)]
    pub no_cow: bool,
    /// Write the changed lab here instead of over LAB.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Print what the fork did as JSON (`parent`, `child`, `cow`, page and table counts).
    #[arg(long)]
    pub json: bool,
}

fn usage_json(u: &TableUsage) -> serde_json::Value {
    serde_json::json!({ "tables": u.tables, "frames": u.frames, "bytes": u.bytes })
}

/// The report as JSON: names and indices of both processes, the free bit that marks
/// copy-on-write pages (`null` for an eager copy), and the same counts as the text.
fn report_json(
    parent: (usize, &str),
    child: &str,
    bit: Option<String>,
    report: &ForkReport,
) -> serde_json::Value {
    serde_json::json!({
        "parent": parent.1,
        "parent_index": parent.0,
        "child": child,
        "child_index": report.child,
        "cow": report.cow,
        "cow_bit": bit,
        "cow_pages": report.cow_pages,
        "shared_read_only": report.shared_read_only,
        "copied_pages": report.copied_pages,
        "kernel_entries_shared": report.kernel_entries_shared,
        "tables_copied": report.tables_copied,
        "tables_before": usage_json(&report.tables_before),
        "tables_after": usage_json(&report.tables_after),
    })
}

fn usage(u: &TableUsage) -> String {
    format!("{} tables in {} frames, {}", u.tables, u.frames, format_size(u.bytes))
}

pub fn run(args: &ForkArgs) -> anyhow::Result<String> {
    let lab = load_lab(&args.lab)?;
    let process = pick_process(&lab.machine, args.process.as_deref())?;
    let parent = lab.machine.processes().get(process).map(|p| p.name.clone()).unwrap_or_default();
    let name = args.name.clone().unwrap_or_else(|| format!("{parent}-child"));
    let cow = !args.no_cow;
    let bit = CowBit::of(lab.machine.format());
    let generic = lab.machine.format().arch == Arch::Generic;
    let mut doc = editing(lab);
    let applied = doc.apply(&Edit::Fork { process, name: name.clone(), cow })?;
    let report = applied.fork.ok_or_else(|| anyhow!("the fork made no report"))?;
    let out_path = args.output.as_ref().unwrap_or(&args.lab);
    save_lab(doc.lab(), out_path)?;
    if args.json {
        let bit = if cow { bit.map(|b| b.describe()) } else { None };
        let mut json = report_json((process, &parent), &name, bit, &report);
        json["output"] = out_path.display().to_string().into();
        return Ok(serde_json::to_string_pretty(&json)? + "\n");
    }
    let mut out = String::new();
    if cow {
        let bit = bit.map(|b| b.describe()).unwrap_or_default();
        let _ = writeln!(out, "forked process \"{parent}\" as \"{name}\" (copy-on-write, marked in {bit})");
        let _ = writeln!(
            out,
            "  user pages: {} writable ones now read-only and copy-on-write in both, {} read-only ones shared",
            report.cow_pages, report.shared_read_only
        );
    } else {
        let _ = writeln!(out, "forked process \"{parent}\" as \"{name}\" (eager copy)");
        let _ = writeln!(out, "  user pages: {} copied into fresh frames", report.copied_pages);
    }
    if generic {
        let _ = writeln!(out, "  kernel half: none in this teaching format (every root entry is user)");
    } else {
        let _ = writeln!(
            out,
            "  kernel half: {} root entr{} shared (the same kernel tables)",
            report.kernel_entries_shared,
            if report.kernel_entries_shared == 1 { "y" } else { "ies" }
        );
    }
    let _ = writeln!(
        out,
        "  page tables: {} copied for the child; before {}, after {}",
        report.tables_copied,
        usage(&report.tables_before),
        usage(&report.tables_after)
    );
    let _ = writeln!(out, "wrote {}", out_path.display());
    Ok(out)
}

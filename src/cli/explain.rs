//! `pagelab explain`: why an access faults or succeeds, and the verified fixes, one of which
//! `--apply` makes through the document with the exercise's locks enforced, like `map` and
//! `unmap`.

use super::edit::{editing, load_lab, parse_addr, save_lab};
use super::show::{WalkAccessArgs, walk_json};
use crate::doc::EditError;
use crate::doc::history::StepKind;
use crate::exercise::LockTarget;
use crate::lab::Lab;
use crate::sim::ArchReport;
use crate::sim::VirtAddr;
use crate::sim::addr::{field_value, hex_grouped};
use crate::sim::explain::{self, Change, Explanation, Fix};
use crate::sim::format::PagingFormat;
use crate::sim::mmu::{Outcome, Rights};
use anyhow::bail;
use clap::Args;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    pub lab: PathBuf,
    /// Virtual address (hex 0x... with optional `_`, or decimal).
    pub addr: String,
    #[command(flatten)]
    pub walk: WalkAccessArgs,
    /// Print JSON: outcome, decided_by, rule, rights, grants, fixes.
    #[arg(long)]
    pub json: bool,
    /// Apply fix N (counting from 0, in the order listed) and save the lab.
    #[arg(long, value_name = "N")]
    pub apply: Option<usize>,
    /// With --apply: write the changed lab here instead of over LAB.
    #[arg(short = 'o', long = "output", requires = "apply")]
    pub output: Option<PathBuf>,
}

pub fn explain(args: &ExplainArgs) -> anyhow::Result<String> {
    let lab = load_lab(&args.lab)?;
    let (process, access, mode) = args.walk.resolve(&lab.machine)?;
    let va = parse_addr("virtual address", &args.addr)?;
    let explanation = explain::explain(&lab.machine, process, VirtAddr::new(va), access, mode)?;
    if let Some(n) = args.apply {
        return apply(lab, &explanation, n, args);
    }
    if args.json {
        return Ok(serde_json::to_string_pretty(&explanation_json(&lab, &explanation))? + "\n");
    }
    Ok(explanation_text(&lab, &explanation))
}

fn apply(lab: Lab, e: &Explanation, n: usize, args: &ExplainArgs) -> anyhow::Result<String> {
    let t = &e.translation;
    if !e.is_fault() {
        bail!("the {} {} of {:#x} succeeds: there is nothing to fix", t.mode.label(), t.access.label(), t.va);
    }
    let Some(fix) = e.fixes.get(n) else {
        bail!(
            "there is no fix {n}: explain offers {} fix(es) for this access{}",
            e.fixes.len(),
            if e.fixes.is_empty() { String::new() } else { format!(" (0 to {})", e.fixes.len() - 1) }
        );
    };
    let mut doc = editing(lab);
    doc.run(&fix.label(), StepKind::Edit, |lab| fix.apply(&mut lab.machine).map_err(EditError::from))?;
    let out_path = args.output.as_ref().unwrap_or(&args.lab);
    save_lab(doc.lab(), out_path)?;
    let after = doc.lab().machine.translate(e.process, t.va, t.access, t.mode)?;
    let result = match &after.outcome {
        Outcome::Mapped(m) => {
            format!("now succeeds: {} -> {}", hex_grouped(t.va.get()), hex_grouped(m.pa.get()))
        }
        Outcome::Fault(f) => format!("still faults: {}", f.kind.describe()),
    };
    let changes: Vec<String> = fix.changes.iter().map(|c| c.describe(doc.lab().machine.format())).collect();
    Ok(format!(
        "applied fix {n}: {}\nthe {} {} {result}\nwrote {}\n",
        changes.join("; "),
        t.mode.label(),
        t.access.label(),
        out_path.display()
    ))
}

/// Whether the exercise's locks would refuse a change (the document decides; this only marks it).
fn locked(lab: &Lab, process: usize, change: &Change) -> bool {
    let m = &lab.machine;
    match change {
        Change::Field { entry_addr, .. } => lab.locks.is_locked(m, LockTarget::Entry(entry_addr.get())),
        Change::Map { .. } => {
            m.processes().get(process).is_some_and(|p| lab.locks.is_locked(m, LockTarget::Process(&p.name)))
        }
        Change::Switch { .. } | Change::LoadCr3 { .. } => false,
    }
}

fn rights_json(r: &Option<Rights>) -> Value {
    r.map_or(
        Value::Null,
        |r| json!({ "read": r.read, "write": r.write, "execute": r.execute, "user": r.user }),
    )
}

fn change_json(format: &PagingFormat, change: &Change) -> Value {
    let (from, to) = change.from_to();
    let mut v = json!({
        "entry_addr": change.entry_addr(),
        "field": change.field(),
        "from": from,
        "to": to,
        "description": change.describe(format),
    });
    match change {
        Change::Field { level, .. } => {
            v["kind"] = json!("field");
            v["level"] = json!(level);
        }
        Change::Switch { .. } => v["kind"] = json!("switch"),
        Change::LoadCr3 { register } => {
            v["kind"] = json!("load-cr3");
            v["register"] = json!(register);
        }
        Change::Map { va, page_size, flags, .. } => {
            v["kind"] = json!("map");
            v["va"] = json!(va);
            v["page_size"] = json!(page_size);
            v["flags"] = json!(flags);
        }
    }
    v
}

fn fix_json(lab: &Lab, process: usize, fix: &Fix) -> Value {
    json!({
        "changes": fix.changes.iter().map(|c| change_json(lab.machine.format(), c)).collect::<Vec<_>>(),
        "side_effects": fix.side_effects,
        "bits": fix.bits,
        "locked": fix.changes.iter().any(|c| locked(lab, process, c)),
    })
}

/// The `explain --json` document (see the README).
pub fn explanation_json(lab: &Lab, e: &Explanation) -> Value {
    let m = &lab.machine;
    let t = &e.translation;
    let d = &e.decided_by;
    let mut v = json!({
        "va": t.va,
        "process": m.processes().get(e.process).map(|p| p.name.clone()),
        "access": t.access.label(),
        "mode": t.mode.label(),
        "decided_by": {
            "level": d.level,
            "level_name": d.level_name,
            "index": d.index,
            "entry_addr": d.entry_addr,
            "field": d.field,
            "value": d.value,
        },
        "rule": { "text": e.rule.text, "reference": e.rule.reference },
        "rights": rights_json(&e.rights),
        "grants": e.grants.iter().map(|g| json!({
            "level": g.level, "entry_addr": g.entry_addr, "field": g.field, "value": g.value, "why": g.why,
        })).collect::<Vec<_>>(),
        "fixes": e.fixes.iter().map(|f| fix_json(lab, e.process, f)).collect::<Vec<_>>(),
        "steps": walk_json(m, e.process, t)["steps"].clone(),
    });
    if let Some(cow) = &e.cow {
        v["cow"] = json!({ "frame": cow.frame, "owners": cow.owners, "bit": cow.bit.describe() });
    }
    match &t.outcome {
        Outcome::Mapped(mapped) => {
            v["outcome"] = json!("ok");
            v["pa"] = json!(mapped.pa);
        }
        Outcome::Fault(fault) => {
            v["outcome"] = json!("fault");
            let mut details = json!({
                "kind": fault.kind.id(),
                "description": fault.kind.describe_in(m.format().arch),
                "report": fault.report.describe(),
            });
            if let ArchReport::X86PageFault { error_code } = fault.report {
                details["error_code"] = json!(error_code);
            }
            if let ArchReport::RiscV { cause } = fault.report {
                details["cause"] = json!(cause);
            }
            v["fault"] = details;
        }
    }
    v
}

fn rights_text(r: &Rights) -> String {
    r.text(true)
}

/// The explanation in lines a student reads top to bottom.
pub fn explanation_text(lab: &Lab, e: &Explanation) -> String {
    let m = &lab.machine;
    let t = &e.translation;
    let name = m.processes().get(e.process).map_or("?", |p| p.name.as_str());
    let mut out = format!(
        "{} {} of {} in process \"{name}\": ",
        t.mode.label(),
        t.access.label(),
        hex_grouped(t.va.get())
    );
    match &t.outcome {
        Outcome::Mapped(mapped) => {
            let _ = writeln!(out, "allowed, physical address {}", hex_grouped(mapped.pa.get()));
        }
        Outcome::Fault(fault) => {
            let report = fault.report.describe();
            let report = if report.is_empty() { String::new() } else { format!("; {report}") };
            let _ = writeln!(
                out,
                "{} ({}){report}",
                fault.report.heading(),
                fault.kind.describe_in(m.format().arch)
            );
        }
    }
    let d = &e.decided_by;
    match (d.entry_addr, &d.level_name, d.index) {
        (Some(addr), Some(level), Some(index)) => {
            let _ = writeln!(
                out,
                "  decided by: {level} entry index {index:#x} at {addr:#x} (level {}): {} = {}",
                d.level.unwrap_or(0),
                d.field,
                field_value(d.value)
            );
        }
        _ => {
            let _ = writeln!(out, "  decided by: {} = {} (no entry was read)", d.field, field_value(d.value));
        }
    }
    let _ = writeln!(out, "  rule: {} ({})", e.rule.text, e.rule.reference);
    if let Some(cow) = &e.cow {
        let _ = writeln!(
            out,
            "  copy-on-write: fork() shared this page read-only ({}; frame {:#x}, {} owner(s)); a demand-paging OS copies it for the writer, the fixes below edit the tables instead",
            cow.bit.describe(),
            cow.frame,
            cow.owners
        );
    }
    if let Some(r) = &e.rights {
        let _ = writeln!(out, "  rights combined down to that entry: {}", rights_text(r));
    }
    if !e.grants.is_empty() {
        let _ = writeln!(out, "  allowed by:");
        for g in &e.grants {
            let place = match (g.level, g.entry_addr) {
                (Some(level), Some(addr)) => {
                    let name = m.format().levels.get(level).map_or("?", |l| l.name.as_str());
                    format!("{name} entry at {addr:#x}")
                }
                _ => "switch".to_string(),
            };
            let _ = writeln!(out, "    {}={} ({place}): {}", g.field, g.value, g.why);
        }
    }
    if e.is_fault() {
        if e.fixes.is_empty() {
            let _ = writeln!(out, "  no change of entries or switches makes this access succeed");
        } else {
            let _ =
                writeln!(out, "  fixes (each verified: the access succeeds after it; apply with --apply N):");
        }
        for (i, fix) in e.fixes.iter().enumerate() {
            let lock = if fix.changes.iter().any(|c| locked(lab, e.process, c)) {
                " [locked by the exercise: --apply is refused]"
            } else {
                ""
            };
            let _ = writeln!(out, "    {i}. ({}){lock}", fix.bits_label());
            for c in &fix.changes {
                let _ = writeln!(out, "       {}", c.describe(m.format()));
            }
            for s in &fix.side_effects {
                let _ = writeln!(out, "       side effect: {s}");
            }
        }
    }
    out
}

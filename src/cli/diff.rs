//! `pagelab diff`: two processes side by side: ranges shared, mapped to different frames or in
//! only one, rights that differ, and the page tables both roots reach.

use super::edit::{load_lab, pick_process};
use crate::sim::Machine;
use crate::sim::addr::{format_size, hex_grouped};
use crate::sim::compare::{self, ProcessDiff, RangeKind};
use crate::sim::mmu::Rights;
use anyhow::bail;
use clap::Args;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DiffArgs {
    pub lab: PathBuf,
    /// The two processes (name or number): `--process A --process B`.
    #[arg(long = "process", required = true, num_args = 1)]
    pub processes: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &DiffArgs) -> anyhow::Result<String> {
    let [a, b] = args.processes.as_slice() else {
        bail!("give exactly two processes: --process A --process B (got {})", args.processes.len());
    };
    let lab = load_lab(&args.lab)?;
    let m = &lab.machine;
    let (a, b) = (pick_process(m, Some(a))?, pick_process(m, Some(b))?);
    let d = compare::diff(m, a, b)?;
    if args.json {
        return Ok(serde_json::to_string_pretty(&diff_json(m, &d))? + "\n");
    }
    Ok(diff_text(m, &d))
}

fn name(m: &Machine, i: usize) -> String {
    m.processes().get(i).map_or_else(|| i.to_string(), |p| p.name.clone())
}

fn rights_text(r: &Rights) -> String {
    let flag = |on: bool, c: char| if on { c } else { '-' };
    let who = if r.user { "user" } else { "supervisor" };
    format!("{}{}{} {who}", flag(r.read, 'r'), flag(r.write, 'w'), flag(r.execute, 'x'))
}

fn kind_text(m: &Machine, d: &ProcessDiff, kind: RangeKind) -> String {
    match kind {
        RangeKind::Shared => "shared".into(),
        RangeKind::DifferentFrames => "different frames".into(),
        RangeKind::OnlyA => format!("only in {}", name(m, d.a)),
        RangeKind::OnlyB => format!("only in {}", name(m, d.b)),
    }
}

pub fn diff_text(m: &Machine, d: &ProcessDiff) -> String {
    let (a, b) = (name(m, d.a), name(m, d.b));
    let mut out = format!("process \"{a}\" and process \"{b}\" ({}):\n", m.format().name);
    if d.ranges.is_empty() {
        out.push_str("  neither maps anything\n");
    }
    for r in &d.ranges {
        let rights = match (&r.rights_a, &r.rights_b) {
            (Some(x), Some(y)) if x == y => rights_text(x),
            (Some(x), Some(y)) => format!("{a} {} | {b} {}  (rights differ)", rights_text(x), rights_text(y)),
            (Some(x), None) | (None, Some(x)) => rights_text(x),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:>21}-{:<21} {:>9}  {:<18} {rights}",
            hex_grouped(r.start.get()),
            hex_grouped(r.last().get()),
            format_size(r.bytes),
            kind_text(m, d, r.kind)
        );
    }
    let tops: Vec<_> = d.shared_tables.iter().filter(|t| t.top).collect();
    let _ = writeln!(out, "page tables both roots reach: {}", d.shared_tables.len());
    for t in tops {
        let level = m.format().levels.get(t.level).map_or("?", |l| l.name.as_str());
        let below = d
            .shared_tables
            .iter()
            .filter(|s| {
                s.va >= t.va && s.va.get() <= t.va.get().saturating_add(t.span - 1) && s.level > t.level
            })
            .count();
        let _ = writeln!(
            out,
            "  the {level} at {:#x} (the {} from {}) and {below} shared table(s) below it",
            t.addr,
            format_size(t.span),
            hex_grouped(t.va.get())
        );
    }
    out
}

pub fn diff_json(m: &Machine, d: &ProcessDiff) -> Value {
    let rights = |r: &Option<Rights>| {
        r.map_or(
            Value::Null,
            |r| json!({ "read": r.read, "write": r.write, "execute": r.execute, "user": r.user }),
        )
    };
    let ranges: Vec<Value> = d
        .ranges
        .iter()
        .map(|r| {
            json!({
                "start": r.start,
                "last": r.last(),
                "bytes": r.bytes,
                "kind": r.kind.id(),
                "rights_a": rights(&r.rights_a),
                "rights_b": rights(&r.rights_b),
                "rights_differ": r.rights_differ(),
                "pa_a": r.pa_a,
                "pa_b": r.pa_b,
            })
        })
        .collect();
    let tables: Vec<Value> = d
        .shared_tables
        .iter()
        .map(|t| {
            json!({
                "level": t.level,
                "level_name": m.format().levels.get(t.level).map(|l| l.name.clone()),
                "addr": t.addr,
                "va": t.va,
                "span": t.span,
                "top": t.top,
            })
        })
        .collect();
    json!({
        "format": m.format().name,
        "a": name(m, d.a),
        "b": name(m, d.b),
        "ranges": ranges,
        "shared_tables": tables,
    })
}

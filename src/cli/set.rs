//! `pagelab set`: edit fields of one page-table entry by the format's field names, through the
//! document with the exercise's locks enforced (as the app's inspector and `map` do).

use super::edit::{editing, load_lab, parse_addr, pick_process, save_lab};
use crate::doc::history::StepKind;
use crate::sim::Machine;
use crate::sim::addr::parse_u64;
use crate::sim::format::low_mask;
use crate::sim::table::{self, TableRef};
use crate::sim::{EntryAddr, PhysAddr};
use anyhow::{anyhow, bail};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SetArgs {
    pub lab: PathBuf,
    #[arg(long)]
    pub process: Option<String>,
    /// Physical address of the entry (as `translate` and `explain` print it).
    #[arg(long)]
    pub entry: String,
    /// FIELD=VALUE pairs by the format's field names (P=0, R/W=1, PFN=0x1234) or the aliases
    /// `map --flags` accepts (write=1, user=0, nx=1, global=1, ...).
    #[arg(required = true, value_name = "FIELD=VALUE")]
    pub fields: Vec<String>,
    /// Write the changed lab here instead of over LAB.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
}

/// The level of the table in `process`'s tree that holds the entry at `entry_addr`.
/// The table in `process`'s tree that holds the entry at `entry_addr`.
fn entry_table(m: &Machine, process: usize, entry_addr: u64) -> anyhow::Result<TableRef> {
    let f = m.format();
    let p = m.processes().get(process).ok_or_else(|| anyhow!("no process {process}"))?;
    let pte = u64::from(f.pte_bytes);
    if !entry_addr.is_multiple_of(pte) {
        bail!("--entry {entry_addr:#x} is not aligned to the {pte}-byte entry size");
    }
    table::tables(m.mem(), f, p.root)
        .into_iter()
        .find(|t| t.addr.get() <= entry_addr && entry_addr - t.addr.get() < f.table_bytes(t.level))
        .ok_or_else(|| {
            anyhow!(
                "--entry {entry_addr:#x} is not in any page table of process \"{}\" (see `pagelab translate` for entry addresses)",
                p.name
            )
        })
}

pub fn run(args: &SetArgs) -> anyhow::Result<String> {
    let lab = load_lab(&args.lab)?;
    let m = &lab.machine;
    let f = m.format();
    let process = pick_process(m, args.process.as_deref())?;
    let entry = parse_addr("--entry", &args.entry)?;
    let table = entry_table(m, process, entry)?;
    let level = table.level;
    let level_name = f.levels.get(level).map_or("?", |l| l.name.as_str()).to_string();
    let mut assignments: Vec<(String, u64)> = Vec::new();
    for text in &args.fields {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| anyhow!("{text:?}: give FIELD=VALUE, e.g. P=1 or PFN=0x1234"))?;
        let field = table::field_named_or_alias(f, name.trim(), level).ok_or_else(|| {
            let known: Vec<&str> = f.fields_at(level).map(|f| f.name.as_str()).collect();
            anyhow!("no field {:?} in a {level_name} entry; its fields are {}", name.trim(), known.join(", "))
        })?;
        let value = parse_u64(value).map_err(|e| anyhow!("{text:?}: {e}"))?;
        if value > low_mask(field.width) {
            bail!(
                "{text:?}: {value:#x} does not fit the {}-bit field {} (0 to {:#x})",
                field.width,
                field.name,
                low_mask(field.width)
            );
        }
        if assignments.iter().any(|(n, _)| *n == field.name) {
            bail!("{} is given twice", field.name);
        }
        assignments.push((field.name.clone(), value));
    }
    let before = m.mem().read_le(PhysAddr::new(entry), f.pte_bytes)?;
    let names: Vec<String> = assignments.iter().map(|(n, v)| format!("{n}={v:#x}")).collect();
    let label = format!("set {} of entry at {entry:#x}", names.join(" "));
    let mut doc = editing(lab);
    doc.run(&label, StepKind::Edit, |lab| {
        for (name, value) in &assignments {
            lab.machine.set_field(EntryAddr::new(entry), level, name, *value)?;
        }
        Ok(())
    })?;
    let out_path = args.output.as_ref().unwrap_or(&args.lab);
    save_lab(doc.lab(), out_path)?;
    let m = &doc.lab().machine;
    let after = m.mem().read_le(PhysAddr::new(entry), m.format().pte_bytes)?;
    let digits = (m.format().pte_bytes * 2) as usize + 2;
    let mut out = format!(
        "{level_name} entry at {entry:#x}: {before:#0digits$x} [{}] -> {after:#0digits$x} [{}]\n",
        m.format().flag_summary(before, level),
        m.format().flag_summary(after, level),
    );
    // A shared table (a kernel half) changes for every process that reaches it.
    let others: Vec<String> = m
        .processes()
        .iter()
        .enumerate()
        .filter(|&(i, p)| {
            i != process && table::tables(m.mem(), m.format(), p.root).binary_search(&table).is_ok()
        })
        .map(|(_, p)| format!("\"{}\"", p.name))
        .collect();
    if !others.is_empty() {
        out.push_str(&format!(
            "note: the {level_name} at {:#x} is also used by process {}: the change applies there too\n",
            table.addr,
            others.join(", ")
        ));
    }
    out.push_str(&format!("wrote {}\n", out_path.display()));
    Ok(out)
}

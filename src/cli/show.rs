//! `pagelab validate`, `translate` and `size`: commands that read a lab and report on it.

use super::edit::{load_lab, parse_addr, pick_process};
use crate::lab::{format_compare, procmaps};
use crate::sim::VirtAddr;
use crate::sim::addr::{format_size, format_size_u128, hex_grouped};
use crate::sim::fork::CowBit;
use crate::sim::mmu::{Outcome, Translation};
use crate::sim::size::SizeReport;
use crate::sim::{Access, ArchReport, Machine, Mode};
use anyhow::anyhow;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    pub lab: PathBuf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AccessArg {
    Read,
    Write,
    /// An instruction fetch ("execute", as the app says; "exec" works too).
    #[value(name = "execute", alias = "exec")]
    Exec,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ModeArg {
    User,
    Supervisor,
}

impl From<AccessArg> for Access {
    fn from(arg: AccessArg) -> Self {
        match arg {
            AccessArg::Read => Access::Read,
            AccessArg::Write => Access::Write,
            AccessArg::Exec => Access::Execute,
        }
    }
}

impl From<ModeArg> for Mode {
    fn from(arg: ModeArg) -> Self {
        match arg {
            ModeArg::User => Mode::User,
            ModeArg::Supervisor => Mode::Supervisor,
        }
    }
}

/// Which access a walk is made for (`--process`, `--access`, `--mode`), shared by `translate`
/// and `explain`.
#[derive(Debug, Args)]
pub struct WalkAccessArgs {
    #[arg(long)]
    pub process: Option<String>,
    #[arg(long, value_enum, default_value = "read")]
    pub access: AccessArg,
    #[arg(long, value_enum, default_value = "user")]
    pub mode: ModeArg,
}

impl WalkAccessArgs {
    /// The process picked in `m` (the active one without `--process`), the access and the mode.
    pub fn resolve(&self, m: &Machine) -> anyhow::Result<(usize, Access, Mode)> {
        let process = pick_process(m, self.process.as_deref())?;
        Ok((process, Access::from(self.access), Mode::from(self.mode)))
    }
}

#[derive(Debug, Args)]
pub struct TranslateArgs {
    pub lab: PathBuf,
    #[command(flatten)]
    pub walk: WalkAccessArgs,
    /// Print a JSON array, one object per address (with --compare: one object per format).
    #[arg(long)]
    pub json: bool,
    /// Rebuild the process's layout in x86-64, x86-64-la57, sv39, sv48 and sv57 with 4 KiB and
    /// 2 MiB pages and walk the address in each: levels, index bits, entries read, references,
    /// table bytes (one address).
    #[arg(long)]
    pub compare: bool,
    /// Nested lab: paging-structure caches (SDM 4.10.3) of N entries per level in both
    /// dimensions; the addresses walk in order through them and the average references per
    /// walk are reported with and without.
    #[arg(long, value_name = "N")]
    pub psc: Option<String>,
    /// Nested lab: a nested TLB (guest-physical -> host-physical pages) of N entries.
    #[arg(long, value_name = "N")]
    pub ntlb: Option<String>,
    /// Virtual addresses (hex 0x... with optional `_`, or decimal).
    #[arg(required = true)]
    pub addrs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SizeArgs {
    pub lab: PathBuf,
    #[arg(long)]
    pub json: bool,
    /// Also rebuild a process's mapped layout in x86-64, x86-64-la57, sv39, sv48 and sv57 with 4 KiB
    /// and 2 MiB pages, and compare the page tables each needs.
    #[arg(long)]
    pub compare: bool,
    /// The process to compare (name or index; default: the active one).
    #[arg(long, requires = "compare")]
    pub process: Option<String>,
}

pub fn validate(args: &ValidateArgs) -> anyhow::Result<String> {
    let lab = load_lab(&args.lab)?;
    let m = &lab.machine;
    let mut out = format!(
        "{}: ok\n  title: {}\n  format: {}\n  memory: {} ({} frames in use)\n",
        args.lab.display(),
        lab.title,
        m.format().name,
        format_size(m.mem().size()),
        m.mem().allocated_count()
    );
    if let Some(n) = &lab.nested {
        let _ = writeln!(
            out,
            "  nested: {} guest on {} host tables, host root frame {:#x}, guest root at guest-physical {:#x}",
            m.format().name,
            n.host.name(),
            n.host_root,
            n.guest_root_gpa
        );
    }
    for (i, p) in m.processes().iter().enumerate() {
        let size = m.table_size(i)?;
        let active = if i == m.active() { " (active)" } else { "" };
        let _ = writeln!(
            out,
            "  process {i} \"{}\"{active}: ASID {}, root frame {:#x}, {} page(s) mapped, {} table(s)",
            p.name, p.asid, p.root, size.mapped_pages, size.tables
        );
    }
    Ok(out)
}

pub fn translate(args: &TranslateArgs) -> anyhow::Result<String> {
    let lab = load_lab(&args.lab)?;
    let m = &lab.machine;
    let (process, access, mode) = args.walk.resolve(m)?;
    if let Some(setup) = &lab.nested {
        if args.compare {
            return Err(anyhow!("--compare walks one dimension; this lab is nested"));
        }
        let caches = super::nested::cache_config(args.psc.as_deref(), args.ntlb.as_deref())?;
        let mut addrs = Vec::with_capacity(args.addrs.len());
        for text in &args.addrs {
            addrs.push(parse_addr(&format!("address {text:?}"), text)?);
        }
        return Ok(super::nested::translate(&lab, setup, &addrs, access, mode, caches, args.json));
    }
    if args.psc.is_some() || args.ntlb.is_some() {
        return Err(anyhow!("--psc and --ntlb apply to nested labs (pagelab new --nested ept)"));
    }
    if args.compare {
        return compare_formats(args, m, process, access, mode);
    }
    let mut walks = Vec::with_capacity(args.addrs.len());
    for text in &args.addrs {
        let va = parse_addr(&format!("address {text:?}"), text)?;
        walks.push(m.translate(process, VirtAddr::new(va), access, mode)?);
    }
    if args.json {
        let array: Vec<Value> = walks.iter().map(|t| walk_json(m, process, t)).collect();
        return Ok(serde_json::to_string_pretty(&array)? + "\n");
    }
    let mut out = String::new();
    for t in &walks {
        out.push_str(&walk_text(m, process, t));
    }
    Ok(out)
}

/// `translate --compare`: one address walked in every comparable format.
fn compare_formats(
    args: &TranslateArgs,
    m: &Machine,
    process: usize,
    access: Access,
    mode: Mode,
) -> anyhow::Result<String> {
    let [text] = args.addrs.as_slice() else {
        return Err(anyhow!("--compare walks one address; {} were given", args.addrs.len()));
    };
    let va = parse_addr(&format!("address {text:?}"), text)?;
    let regions = procmaps::regions_of(m, process)?;
    let rows = format_compare::compare_walks(&regions, crate::sim::VirtAddr::new(va), access, mode);
    if args.json {
        return Ok(serde_json::to_string_pretty(&super::format_compare::json(&rows))? + "\n");
    }
    let name = m.processes().get(process).map_or("", |p| p.name.as_str());
    let header = super::format_compare::header(va, mode.label(), access.label(), name, regions.len());
    Ok(super::format_compare::text(&header, &rows))
}

/// A walk in readable lines, like a textbook's worked example.
pub fn walk_text(m: &Machine, process: usize, t: &Translation) -> String {
    let f = m.format();
    let p = &m.processes()[process.min(m.processes().len() - 1)];
    let digits = (f.pte_bytes * 2) as usize;
    let cow_bit = CowBit::of(f);
    let mut out = format!(
        "Virtual address {} ({} {}, process \"{}\", {}):\n",
        hex_grouped(t.va.get()),
        t.mode.label(),
        t.access.label(),
        p.name,
        p.root_register(f)
    );
    for s in &t.steps {
        let name = f.levels.get(s.level).map_or("?", |l| l.name.as_str());
        let mut flags = f.flag_summary(s.raw, s.level);
        if s.leaf && cow_bit.as_ref().is_some_and(|b| b.is_set(s.raw)) {
            flags.push_str(if flags.is_empty() { "COW" } else { " COW" });
        }
        let frame = f.frame(s.raw, s.level);
        let target = if !f.present(s.raw, s.level) {
            "not present".to_string()
        } else if s.leaf {
            format!("page frame {frame:#x} ({})", format_size(1u64 << f.entry_span_shift(s.level).min(63)))
        } else {
            format!("next table at {:#x}", frame << f.page_shift)
        };
        let indent = "  ".repeat(s.level + 1);
        // A PAE PDPTE comes from its register (loaded with CR3), which may differ from memory.
        let source = if s.from_register { "register loaded from" } else { "entry at" };
        let _ = writeln!(
            out,
            "{indent}--> {name} index {:#x} [decimal {}]: {source} {:#x} = {:#0w$x} [{flags}] -> {target}",
            s.index,
            s.index,
            s.entry_addr,
            s.raw,
            w = digits + 2
        );
    }
    let indent = "  ".repeat(t.steps.len() + 1);
    match &t.outcome {
        Outcome::Mapped(mp) => {
            let value = mp.value.map_or("(beyond physical memory)".to_string(), |v| format!("{v:#04x}"));
            let _ =
                writeln!(out, "{indent}--> physical address {} --> value {value}", hex_grouped(mp.pa.get()));
        }
        Outcome::Fault(fault) => {
            let level = fault
                .level
                .and_then(|l| f.levels.get(l))
                .map_or(String::new(), |l| format!(" at the {} level", l.name));
            let report = fault.report.describe();
            let report = if report.is_empty() { String::new() } else { format!("; {report}") };
            let _ =
                writeln!(out, "{indent}--> page fault: {}{level}{report}", fault.kind.describe_in(f.arch));
            if m.is_cow_fault(process, t.va, t.access, fault.kind)
                && let Some(page) = m.cow_page(process, t.va)
            {
                let _ = writeln!(
                    out,
                    "{indent}    a copy-on-write page ({} set; frame {:#x}, {} owner{}): a demand-paging OS copies it for the writer (`replay` with the OS model does)",
                    page.bit.describe(),
                    page.frame,
                    page.owners,
                    if page.owners == 1 { "" } else { "s" }
                );
            }
        }
    }
    out
}

/// One address's walk as JSON (the `translate --json` schema, documented in the README).
pub fn walk_json(m: &Machine, process: usize, t: &Translation) -> Value {
    let f = m.format();
    let steps: Vec<Value> = t
        .steps
        .iter()
        .map(|s| {
            let fields: serde_json::Map<String, Value> =
                f.decode(s.raw, s.level).into_iter().map(|(n, v)| (n.to_string(), json!(v))).collect();
            json!({
                "level": s.level,
                "level_name": f.levels.get(s.level).map(|l| l.name.clone()),
                "index": s.index,
                "entry_addr": s.entry_addr,
                "raw": s.raw,
                "leaf": s.leaf,
                "fields": fields,
                "from_register": s.from_register,
                "sets_accessed": s.sets_accessed,
                "sets_dirty": s.sets_dirty,
            })
        })
        .collect();
    let mut obj = json!({
        "va": t.va,
        "process": m.processes().get(process).map(|p| p.name.clone()),
        "access": t.access.label(),
        "mode": t.mode.label(),
        "steps": steps,
    });
    match &t.outcome {
        Outcome::Mapped(mp) => {
            obj["outcome"] = json!("ok");
            obj["pa"] = json!(mp.pa);
            obj["value"] = json!(mp.value);
            obj["page_size"] = json!(1u64 << mp.page_shift.min(63));
        }
        Outcome::Fault(fault) => {
            let mut details = json!({
                "kind": fault.kind.id(),
                "description": fault.kind.describe_in(f.arch),
                "level": fault.level,
                "level_name": fault.level.and_then(|l| f.levels.get(l)).map(|l| l.name.clone()),
                "report": fault.report.describe(),
            });
            match fault.report {
                ArchReport::X86PageFault { error_code } => {
                    details["vector"] = json!("#PF");
                    details["error_code"] = json!(error_code);
                }
                ArchReport::X86GeneralProtection => details["vector"] = json!("#GP"),
                ArchReport::RiscV { cause } => details["cause"] = json!(cause),
                ArchReport::None => {}
            }
            if m.is_cow_fault(process, t.va, t.access, fault.kind)
                && let Some(page) = m.cow_page(process, t.va)
            {
                details["cow"] = json!({ "frame": page.frame, "owners": page.owners });
            }
            obj["outcome"] = json!("fault");
            obj["fault"] = details;
        }
    }
    obj
}

pub fn size(args: &SizeArgs) -> anyhow::Result<String> {
    let lab = load_lab(&args.lab)?;
    let m = &lab.machine;
    let reports: Vec<SizeReport> =
        (0..m.processes().len()).map(|i| m.table_size(i)).collect::<Result<_, _>>()?;
    let comparison = if args.compare {
        let process = pick_process(m, args.process.as_deref())?;
        let regions = procmaps::regions_of(m, process)?;
        let name = m.processes().get(process).map(|p| p.name.clone()).unwrap_or_default();
        let source = format!("process \"{name}\" of {}", args.lab.display());
        Some((name, regions.len(), procmaps::compare(&regions, &source)))
    } else {
        None
    };
    if args.json {
        let processes: Vec<Value> = reports
            .iter()
            .zip(m.processes())
            .map(|(r, p)| {
                let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
                v["name"] = json!(p.name);
                v["asid"] = json!(p.asid);
                v
            })
            .collect();
        let mut doc = json!({ "format": m.format().name, "linear_bytes": m.format().linear_table_bytes(), "processes": processes });
        if let Some((name, _, rows)) = &comparison {
            doc["comparison_process"] = json!(name);
            doc["comparison"] = super::procmaps::comparison_json(rows);
        }
        return Ok(serde_json::to_string_pretty(&doc).map_err(|e| anyhow!(e))? + "\n");
    }
    let mut out = String::new();
    for (r, p) in reports.iter().zip(m.processes()) {
        let _ = writeln!(
            out,
            "process \"{}\" (ASID {}): {} page(s) mapped, {}",
            p.name,
            p.asid,
            r.mapped_pages,
            format_size_u128(r.mapped_bytes)
        );
        let _ = writeln!(out, "  {:<8} {:>8} {:>12}", "level", "tables", "bytes");
        for l in &r.levels {
            let _ = writeln!(out, "  {:<8} {:>8} {:>12}", l.name, l.tables, format_size(l.bytes));
        }
        let _ = writeln!(out, "  {:<8} {:>8} {:>12}", "total", r.tables, format_size(r.bytes));
        let _ = writeln!(
            out,
            "  a linear table for the whole address space: {}",
            format_size_u128(r.linear_bytes)
        );
    }
    if let Some((name, regions, rows)) = &comparison {
        let _ = writeln!(
            out,
            "\nprocess \"{name}\" rebuilt in other formats ({regions} region(s) of mapped pages, contents not copied):"
        );
        out.push_str(&super::procmaps::comparison_text(rows));
    }
    Ok(out)
}

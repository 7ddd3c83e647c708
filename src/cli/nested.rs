//! Nested labs on the command line: `new --nested HOST`, `map --guest` / `map --host`, and
//! `translate` printing the two-dimensional walk (each reference numbered, the guest-level x
//! host-level grid, the dimension that faulted), optionally through page-walk caches.

use super::edit::{editing, parse_addr, save_lab};
use crate::doc::EditError;
use crate::doc::history::StepKind;
use crate::lab::Lab;
use crate::sim::addr::{format_size, parse_size};
use crate::sim::address::{PhysAddr, VirtAddr};
use crate::sim::fault::{Access, Mode};
use crate::sim::format::PagingFormat;
use crate::sim::nested::cache::{CacheConfig, CachedWalker, NestedReplayer, TraceCost};
use crate::sim::nested::{HostKind, NestedFault, NestedSetup, NestedTranslation, max_refs};
use crate::sim::trace::TraceRecord;
use anyhow::{anyhow, bail};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;

/// The host kind named by `--nested`.
pub fn host_by_name(name: &str) -> anyhow::Result<HostKind> {
    HostKind::by_name(name)
        .ok_or_else(|| anyhow!("--nested: unknown host {name:?}; choose ept, ept5, sv39x4 or sv48x4"))
}

/// Makes `lab` nested on `host`: the host root and the guest's root table in its memory.
pub fn make_nested(lab: &mut Lab, host: HostKind) -> anyhow::Result<()> {
    let guest = lab.machine.format().clone();
    let setup = NestedSetup::create(&mut lab.machine, &guest, host).map_err(|e| anyhow!("--nested: {e}"))?;
    lab.nested = Some(setup);
    Ok(())
}

/// The words `new` prints for a nested lab.
pub fn created(path: &Path, lab: &Lab, setup: &NestedSetup) -> String {
    format!(
        "created {} ({} guest on {} host tables, {} of host-physical memory, host root frame {:#x}, guest root at guest-physical {:#x})\n",
        path.display(),
        lab.machine.format().name,
        setup.host.name(),
        format_size(lab.machine.mem().size()),
        setup.host_root,
        setup.guest_root_gpa
    )
}

/// What `map --guest` or `map --host` maps.
pub struct NestedMap<'a> {
    pub host: bool,
    pub addr: u64,
    pub len: Option<u64>,
    pub to: Option<u64>,
    pub page_size: Option<u64>,
    pub flags: Option<&'a str>,
}

fn host_rights(flags: Option<&str>) -> anyhow::Result<(bool, bool, bool)> {
    let Some(flags) = flags else { return Ok((true, true, true)) };
    let mut rwx = (false, false, false);
    for flag in flags.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        match flag.to_ascii_uppercase().as_str() {
            "R" => rwx.0 = true,
            "W" => rwx.1 = true,
            "X" => rwx.2 = true,
            "NONE" => {}
            other => bail!("--flags: host entries take R, W and X, not {other:?}"),
        }
    }
    Ok(rwx)
}

/// `pagelab map LAB --guest VA` / `--host GPA`, as one document step.
pub fn map(path: &Path, lab: Lab, req: &NestedMap<'_>) -> anyhow::Result<String> {
    let Some(mut setup) = lab.nested else {
        bail!(
            "{} is not a nested lab (make one with `pagelab new --format x86-64 --nested ept`)",
            path.display()
        );
    };
    let size = req.page_size.unwrap_or(4096);
    if !req.host && size != 4096 {
        bail!("--page-size: guest pages are 4 KiB here");
    }
    let len = req.len.unwrap_or(size);
    let pages = len.div_ceil(size).max(1);
    let guest = lab.machine.format().clone();
    let rwx = if req.host { host_rights(req.flags)? } else { (true, true, true) };
    let guest_flags: Vec<&str> = match (req.host, req.flags) {
        (true, _) => Vec::new(),
        (false, Some(f)) => f.split(',').map(str::trim).filter(|s| !s.is_empty()).collect(),
        (false, None) => guest.default_leaf_flags.iter().map(String::as_str).collect(),
    };
    let (dimension, what) = if req.host { ("host", "guest-physical") } else { ("guest", "guest-virtual") };
    let label = format!("map {dimension} {:#x} ({})", req.addr, format_size(len));
    let mut doc = editing(lab);
    let mapped = doc.run(&label, StepKind::Edit, |lab| {
        let err = |e: crate::sim::nested::NestedError| EditError::Other(e.to_string());
        let mut first_target = None;
        for page in 0..pages {
            let offset =
                page.checked_mul(size).ok_or_else(|| EditError::Other("--length is too long".into()))?;
            let addr =
                req.addr.checked_add(offset).ok_or_else(|| EditError::Other("the range wraps".into()))?;
            let target = match req.to {
                Some(to) => to.checked_add(offset).ok_or_else(|| EditError::Other("--to wraps".into()))?,
                None if req.host => {
                    let frames = size / 4096;
                    let first = lab
                        .machine
                        .alloc_frames(frames, frames)
                        .map_err(|e| EditError::Other(e.to_string()))?;
                    first.get() << 12
                }
                None => setup.alloc_guest_frame(&mut lab.machine).map_err(err)? << 12,
            };
            if req.host {
                setup.map_host(&mut lab.machine, addr, target, size, rwx).map_err(err)?;
            } else {
                setup
                    .map_guest_to(
                        &mut lab.machine,
                        &guest,
                        VirtAddr::new(addr),
                        PhysAddr::new(target),
                        &guest_flags,
                    )
                    .map_err(err)?;
            }
            first_target.get_or_insert(target);
        }
        lab.nested = Some(setup);
        Ok(first_target.unwrap_or(0))
    })?;
    save_lab(doc.lab(), path)?;
    let to_what = if req.host { "host-physical" } else { "guest-physical" };
    Ok(format!(
        "mapped {pages} {dimension} page(s) of {} at {what} {:#x} to {to_what} {mapped:#x}\n",
        format_size(size),
        req.addr
    ))
}

/// Page-walk cache sizes from `translate --psc N --ntlb N`.
pub fn cache_config(psc: Option<&str>, ntlb: Option<&str>) -> anyhow::Result<CacheConfig> {
    let size = |flag: &str, v: Option<&str>| -> anyhow::Result<usize> {
        v.map(|t| {
            t.trim().parse::<usize>().map_err(|_| anyhow!("--{flag}: {t:?} is not a number of entries"))
        })
        .transpose()
        .map(|n| n.unwrap_or(0))
    };
    let psc = size("psc", psc)?;
    Ok(CacheConfig { guest_psc: psc, host_psc: psc, nested_tlb: size("ntlb", ntlb)? })
}

/// `pagelab translate` on a nested lab: each address's 2D walk (through the caches when
/// `caches` has any), in text or JSON.
pub fn translate(
    lab: &Lab,
    setup: &NestedSetup,
    addrs: &[u64],
    access: Access,
    mode: Mode,
    caches: CacheConfig,
    as_json: bool,
) -> String {
    let mem = lab.machine.mem();
    let guest = lab.machine.format();
    let mut cached = CachedWalker::new(caches, guest.levels.len(), setup.host.levels());
    let mut walks = Vec::with_capacity(addrs.len());
    let (mut refs_without, mut refs_with) = (0u64, 0u64);
    for &va in addrs {
        let va = VirtAddr::new(va);
        let full = setup.translate(mem, guest, va, access, mode);
        refs_without += full.refs.len() as u64;
        let walk = if caches.is_off() { full } else { cached.walk(setup, mem, guest, va, access, mode) };
        refs_with += walk.refs.len() as u64;
        walks.push(walk);
    }
    let n = addrs.len().max(1) as f64;
    let (avg_without, avg_with) = (refs_without as f64 / n, refs_with as f64 / n);
    if as_json {
        let array: Vec<Value> = walks.iter().map(|t| walk_json(guest, setup.host, t, access, mode)).collect();
        let value = if caches.is_off() {
            Value::Array(array)
        } else {
            json!({
                "walks": array,
                "caches": caches,
                "stats": cached.stats,
                "refs_without": refs_without,
                "refs_with": refs_with,
                "avg_without": avg_without,
                "avg_with": avg_with,
            })
        };
        return serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
    }
    let mut out = String::new();
    for t in &walks {
        out.push_str(&walk_text(guest, setup.host, t, access, mode));
    }
    if !caches.is_off() {
        let s = cached.stats;
        let _ = writeln!(
            out,
            "caches: guest PSC {} and host PSC {} entries per level, nested TLB {} entries: {} guest PSC hits, {} host PSC hits, {} nested TLB hits",
            caches.guest_psc,
            caches.host_psc,
            caches.nested_tlb,
            s.guest_psc_hits,
            s.host_psc_hits,
            s.nested_tlb_hits
        );
        let _ = writeln!(
            out,
            "references per walk: {avg_without:.1} without caches, {avg_with:.1} with ({refs_without} and {refs_with} over {} walks)",
            addrs.len()
        );
    }
    out
}

fn host_label(host: HostKind) -> &'static str {
    match host {
        HostKind::Ept4 => "EPT (4 levels)",
        HostKind::Ept5 => "EPT (5 levels)",
        HostKind::Sv39x4 => "Sv39x4 G-stage",
        HostKind::Sv48x4 => "Sv48x4 G-stage",
    }
}

/// One 2D walk as numbered lines, the grid, and the outcome.
pub fn walk_text(
    guest: &PagingFormat,
    host: HostKind,
    t: &NestedTranslation,
    access: Access,
    mode: Mode,
) -> String {
    let most = max_refs(guest.levels.len(), host.levels());
    let mut out = format!(
        "{:#x}: {}, {}; {} guest on {} (up to {most} references)\n",
        t.va,
        access.label(),
        mode.label(),
        guest.name,
        host_label(host)
    );
    let name_width = t.refs.iter().map(|r| r.level_name.len()).max().unwrap_or(0);
    for r in &t.refs {
        let what = match (r.dimension, r.guest_level) {
            (crate::sim::nested::Dimension::Guest, _) => {
                format!("guest entry at gpa {:#x}", r.gpa)
            }
            (_, Some(g)) => format!(
                "translates gpa {:#x} (the guest {} entry)",
                r.gpa,
                guest.levels.get(g).map_or("?", |l| l.name.as_str())
            ),
            (_, None) => format!("translates gpa {:#x} (the data)", r.gpa),
        };
        let to = r.hpa.map(|h| format!(" -> hpa {h:#x}")).unwrap_or_default();
        let dim = match r.dimension {
            crate::sim::nested::Dimension::Guest => "guest",
            crate::sim::nested::Dimension::Host => "host",
        };
        let _ = writeln!(
            out,
            "  {:>2}  {dim:<5}  {:<name_width$}  [{:>3}]  {:#x} = {:#018x}  {what}{to}",
            r.number, r.level_name, r.index, r.entry_addr, r.raw
        );
    }
    match &t.outcome {
        Ok((gpa, hpa)) => {
            let _ = writeln!(out, "  {} references: gpa {gpa:#x}, hpa {hpa:#x}", t.refs.len());
        }
        Err(NestedFault::Guest { kind, level, report, .. }) => {
            let level = guest.levels.get(*level).map_or("?", |l| l.name.as_str());
            let _ = writeln!(
                out,
                "  {} references; fault in the guest dimension at guest {level}: {} ({report})",
                t.refs.len(),
                kind.describe_in(guest.arch)
            );
        }
        Err(NestedFault::Host { kind, level, gpa, guest_table_access, report, .. }) => {
            let translating = if *guest_table_access { "a guest table entry" } else { "the final address" };
            let _ = writeln!(
                out,
                "  {} references; fault in the host dimension ({}) at {} translating gpa {gpa:#x} ({translating}): {report}",
                t.refs.len(),
                kind_words(*kind),
                host.level_name(*level)
            );
        }
    }
    out.push_str(&grid_text(guest, host, t));
    out
}

fn kind_words(kind: crate::sim::nested::HostFaultKind) -> &'static str {
    use crate::sim::nested::HostFaultKind as K;
    match kind {
        K::EptViolation => "EPT violation",
        K::EptMisconfiguration => "EPT misconfiguration",
        K::GuestPageFault => "guest-page fault",
    }
}

/// The grid: a row per guest level reached (then the data's row), a column per host level,
/// then the guest entry's own reference; `.` where the walk did not go (or a cache skipped it).
pub fn grid_text(guest: &PagingFormat, host: HostKind, t: &NestedTranslation) -> String {
    let rows = t.grid(host.levels());
    if rows.is_empty() {
        return String::new();
    }
    let headers: Vec<String> = (0..host.levels()).map(|l| host.level_name(l)).collect();
    let width = headers.iter().map(String::len).max().unwrap_or(4).max(4);
    let row_names: Vec<String> = rows
        .iter()
        .map(|r| match r.guest_level {
            Some(g) => guest.levels.get(g).map_or_else(|| "?".into(), |l| l.name.clone()),
            None => "data".into(),
        })
        .collect();
    let first = row_names.iter().map(String::len).max().unwrap_or(4).max(5);
    let mut out = format!("  {:<first$}", "grid");
    for h in &headers {
        let _ = write!(out, "  {h:>width$}");
    }
    out.push_str("  guest\n");
    let cell = |n: Option<usize>| n.map_or_else(|| ".".to_string(), |n| n.to_string());
    for (row, name) in rows.iter().zip(&row_names) {
        let _ = write!(out, "  {name:<first$}");
        for n in &row.host {
            let _ = write!(out, "  {:>width$}", cell(*n));
        }
        if row.guest_level.is_some() {
            let _ = write!(out, "  {:>5}", cell(row.guest));
        }
        out.push('\n');
    }
    out
}

/// One 2D walk as JSON: every step with `dimension`, `level`, `entry_addr`, `gpa` and `hpa`
/// (null until a host leaf resolves it), the grid, and the outcome or the fault.
pub fn walk_json(
    guest: &PagingFormat,
    host: HostKind,
    t: &NestedTranslation,
    access: Access,
    mode: Mode,
) -> Value {
    let mut obj = json!({
        "va": t.va,
        "access": access.label(),
        "mode": mode.label(),
        "guest_format": guest.name,
        "host": host.name(),
        "refs": t.refs.len(),
        "max_refs": max_refs(guest.levels.len(), host.levels()),
        "steps": t.refs,
        "grid": t.grid(host.levels()),
    });
    match &t.outcome {
        Ok((gpa, hpa)) => {
            obj["outcome"] = json!("ok");
            obj["gpa"] = json!(gpa);
            obj["hpa"] = json!(hpa);
        }
        Err(fault) => {
            obj["outcome"] = json!("fault");
            obj["fault"] = json!(fault);
            if let NestedFault::Host { kind, .. } = fault {
                obj["fault"]["description"] = json!(kind_words(*kind));
            }
        }
    }
    obj
}

/// Parses `--page-size` for `map --host`.
pub fn parse_page_size(text: Option<&str>) -> anyhow::Result<Option<u64>> {
    text.map(|p| parse_size(p).map_err(|e| anyhow!("--page-size: {e}"))).transpose()
}

/// Parses `--to` for a nested map.
pub fn parse_to(text: Option<&str>) -> anyhow::Result<Option<u64>> {
    text.map(|t| parse_addr("--to", t)).transpose()
}

/// `pagelab replay` on a nested lab: the trace's pages through a guest TLB of `tlb_entries`,
/// each miss a 2D walk costed without and with the caches.
pub fn replay(
    lab: &Lab,
    setup: &NestedSetup,
    records: impl Iterator<Item = anyhow::Result<TraceRecord>>,
    tlb_entries: usize,
    mode: Mode,
    caches: CacheConfig,
) -> anyhow::Result<TraceCost> {
    let guest = lab.machine.format();
    let mut replayer = NestedReplayer::new(caches, tlb_entries, guest.levels.len(), setup.host.levels());
    for record in records {
        let record = record?;
        let access = if record.kind.is_instruction() {
            Access::Execute
        } else if record.kind.is_write() {
            Access::Write
        } else {
            Access::Read
        };
        for page in record.pages(12) {
            let va = if page == record.addr >> 12 { record.addr } else { page << 12 };
            replayer.access(setup, lab.machine.mem(), guest, VirtAddr::new(va), access, mode);
        }
    }
    Ok(replayer.finish())
}

/// The words (or JSON) of a nested replay.
pub fn replay_report(
    trace: &Path,
    cost: &TraceCost,
    tlb_entries: usize,
    as_json: bool,
) -> anyhow::Result<String> {
    if as_json {
        let mut value = json!(cost);
        value["tlb_entries"] = json!(tlb_entries);
        return Ok(serde_json::to_string_pretty(&value)? + "\n");
    }
    let mut out = format!(
        "nested replay of {}: {} page accesses, {} guest TLB hits, {} misses ({} faulted), a {tlb_entries}-entry TLB\n",
        trace.display(),
        cost.accesses,
        cost.tlb_hits,
        cost.misses,
        cost.faults
    );
    let c = cost.config;
    if c.is_off() {
        let _ = writeln!(
            out,
            "references per miss: {:.1} (no page-walk caches: --psc N --ntlb N add them)",
            cost.avg_without
        );
    } else {
        let _ = writeln!(
            out,
            "references per miss: {:.1} without page-walk caches, {:.1} with (guest PSC {}, host PSC {} entries per level, nested TLB {} entries)",
            cost.avg_without, cost.avg_with, c.guest_psc, c.host_psc, c.nested_tlb
        );
        let s = cost.stats;
        let _ = writeln!(
            out,
            "hits: guest PSC {}, host PSC {}, nested TLB {} (of {} lookups)",
            s.guest_psc_hits,
            s.host_psc_hits,
            s.nested_tlb_hits,
            s.nested_tlb_hits + s.nested_tlb_misses
        );
    }
    Ok(out)
}

//! `pagelab import proc-maps FILE -o LAB [--format F] [--page-size 4k|2m|1g] [--compare]`: a
//! real process's layout as a lab, and its page-table size across formats and page sizes.

use crate::lab::{io, procmaps};
use crate::sim::addr::{format_size, format_size_u128, parse_size};
use crate::sim::presets;
use crate::sim::size::table_size;
use anyhow::{Context, anyhow};
use clap::Args;
use std::fmt::Write as _;
use std::path::Path;

/// The formats and largest page sizes `--compare` reports, in this order.
pub const COMPARED: [(&str, u64); 4] =
    [("x86-64", 4 << 10), ("x86-64", 2 << 20), ("x86-64-la57", 4 << 10), ("x86-64-la57", 2 << 20)];

#[derive(Debug, Args, Default)]
pub struct ProcMapsArgs {
    /// proc-maps: paging format of the new lab (x86-64, x86-64-la57, sv39, sv48, sv57, ...).
    #[arg(long)]
    pub format: Option<String>,
    /// proc-maps: largest page size, used where a region's alignment allows (4k, 2m, 1g).
    #[arg(long)]
    pub page_size: Option<String>,
    /// proc-maps: also print the table size for x86-64 and x86-64-la57 with 4 KiB and 2 MiB pages.
    #[arg(long)]
    pub compare: bool,
}

impl ProcMapsArgs {
    /// Whether any proc-maps option was given.
    pub fn given(&self) -> bool {
        self.format.is_some() || self.page_size.is_some() || self.compare
    }
}

pub fn import(args: &ProcMapsArgs, file: &Path, text: &str, output: &Path) -> anyhow::Result<String> {
    let format_name = args.format.as_deref().unwrap_or("x86-64");
    let format = presets::by_name(format_name).ok_or_else(|| {
        anyhow!("unknown format {format_name:?}; choose one of {}", presets::NAMES.join(", "))
    })?;
    let page = match args.page_size.as_deref() {
        Some(text) => parse_size(text).map_err(|e| anyhow!("--page-size: {e}"))?,
        None => format.page_size(),
    };
    let regions = procmaps::parse(text).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let source = file.display().to_string();
    let (lab, summary) = procmaps::build_lab(&regions, format, page, &source)
        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    io::save(&lab, output).with_context(|| format!("cannot write {}", output.display()))?;
    let m = &lab.machine;
    let size = table_size(&m.mem, &m.format, m.active_process().root);
    let mut out = format!(
        "imported {} into {}: {} of {} regions mapped for {} ({})\n",
        file.display(),
        output.display(),
        summary.mapped_regions,
        summary.regions,
        m.format.name,
        summary
            .pages_by_size
            .iter()
            .map(|(size, count)| format!("{count} x {}", format_size(*size)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (region, reason) in &summary.skipped {
        let _ = writeln!(out, "  skipped line {}: {}: {}", region.line, region.summary(), reason.describe());
    }
    let _ = writeln!(out, "page tables: {} table(s), {}", size.tables, format_size(size.bytes));
    if args.compare {
        out.push_str(&compare(&regions, &source)?);
    }
    Ok(out)
}

/// The table-size comparison across [`COMPARED`].
fn compare(regions: &[procmaps::Region], source: &str) -> anyhow::Result<String> {
    let mut out =
        format!("\n{:<14} {:>8} {:>8} {:>12} {:>16}\n", "format", "pages", "tables", "bytes", "linear table");
    for (name, page) in COMPARED {
        let format = presets::by_name(name).ok_or_else(|| anyhow!("missing preset {name}"))?;
        let (lab, _) =
            procmaps::build_lab(regions, format, page, source).map_err(|e| anyhow!("{name}: {e}"))?;
        let m = &lab.machine;
        let size = table_size(&m.mem, &m.format, m.active_process().root);
        let _ = writeln!(
            out,
            "{:<14} {:>8} {:>8} {:>12} {:>16}",
            name,
            format_size(page),
            size.tables,
            format_size(size.bytes),
            format_size_u128(size.linear_bytes)
        );
    }
    Ok(out)
}

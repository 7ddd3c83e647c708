//! `pagelab import proc-maps FILE -o LAB [--format F] [--page-size 4k|2m|1g] [--compare]`: a
//! real process's layout as a lab, and its page-table size across formats and page sizes.

use crate::lab::procmaps::ComparisonRow;
use crate::lab::{io, procmaps};
use crate::sim::addr::{format_size, format_size_u128, parse_size};
use crate::sim::presets;
use crate::sim::size::table_size;
use anyhow::{Context, anyhow};
use clap::Args;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;

#[derive(Debug, Args, Default)]
pub struct ProcMapsArgs {
    /// proc-maps: paging format of the new lab (x86-64, x86-64-la57, sv39, sv48, sv57, ...).
    #[arg(long)]
    pub format: Option<String>,
    /// proc-maps: largest page size, used where a region's alignment allows (4k, 2m, 1g).
    #[arg(long)]
    pub page_size: Option<String>,
    /// proc-maps: also print the table size for x86-64, x86-64-la57, sv39, sv48 and sv57 with 4 KiB
    /// and 2 MiB pages.
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
    let size = table_size(m.mem(), m.format(), m.active_process().root);
    let mut out = format!(
        "imported {} into {}: {} of {} regions mapped for {} ({})\n",
        file.display(),
        output.display(),
        summary.mapped_regions,
        summary.regions,
        m.format().name,
        procmaps::pages_summary(&summary.pages_by_size)
    );
    for (region, reason) in &summary.skipped {
        let _ = writeln!(out, "  skipped line {}: {}: {}", region.line, region.summary(), reason.describe());
    }
    let _ = writeln!(out, "page tables: {} table(s), {}", size.tables, format_size(size.bytes));
    if args.compare {
        out.push('\n');
        out.push_str(&comparison_text(&procmaps::compare(&regions, &source)));
    }
    Ok(out)
}

/// A [`procmaps::compare`] as a table, one line per format and page size: tables, their bytes and
/// a linear table's, then the pages mapped and what was skipped (or why the row has no numbers).
pub fn comparison_text(rows: &[ComparisonRow]) -> String {
    let mut out = format!(
        "{:<14} {:>8} {:>8} {:>12} {:>16}  {}\n",
        "format", "pages", "tables", "bytes", "linear table", "mapped"
    );
    for row in rows {
        let (tables, bytes, note) = match &row.outcome {
            Ok(size) => {
                let mut note = procmaps::pages_summary(&size.pages_by_size);
                if size.skipped_regions > 0 {
                    let _ = write!(note, "; {} region(s) out of range skipped", size.skipped_regions);
                }
                (size.tables.to_string(), format_size(size.bytes), note)
            }
            Err(e) => ("-".to_string(), "-".to_string(), format!("cannot build: {e}")),
        };
        let _ = writeln!(
            out,
            "{:<14} {:>8} {tables:>8} {bytes:>12} {:>16}  {note}",
            row.format,
            format_size(row.max_page),
            format_size_u128(row.linear_bytes)
        );
    }
    out
}

/// A [`procmaps::compare`] as a JSON array (the `size --compare --json` schema): `format`,
/// `max_page`, `linear_bytes`, then `tables`, `bytes`, `pages_by_size` (page size in bytes ->
/// count) and `skipped_regions`, or `error` (and nulls) for a format that cannot take the layout.
pub fn comparison_json(rows: &[ComparisonRow]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            // Past u64, which no preset reaches, a float keeps the magnitude.
            let linear =
                u64::try_from(row.linear_bytes).map_or_else(|_| json!(row.linear_bytes as f64), |b| json!(b));
            let mut obj = json!({
                "format": row.format,
                "max_page": row.max_page,
                "linear_bytes": linear,
                "tables": null,
                "bytes": null,
                "pages_by_size": null,
                "skipped_regions": null,
            });
            match &row.outcome {
                Ok(size) => {
                    let pages: serde_json::Map<String, Value> = size
                        .pages_by_size
                        .iter()
                        .map(|(page, count)| (page.to_string(), json!(count)))
                        .collect();
                    obj["tables"] = json!(size.tables);
                    obj["bytes"] = json!(size.bytes);
                    obj["pages_by_size"] = Value::Object(pages);
                    obj["skipped_regions"] = json!(size.skipped_regions);
                }
                Err(e) => obj["error"] = json!(e.to_string()),
            }
            obj
        })
        .collect();
    Value::Array(rows)
}

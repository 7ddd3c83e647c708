//! `pagelab translate LAB ADDR --compare [--json]`: one address walked in every comparable format
//! ([`crate::lab::format_compare`]), as a table with the entries each walk read, or as JSON (one
//! object per format).

use crate::lab::format_compare::{FormatOutcome, FormatWalk};
use crate::sim::addr::{format_size, hex_grouped};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// `9+9+9+9 +12`: the index bits of each level, root first, then the page offset.
fn bits_summary(row: &FormatWalk) -> String {
    let levels: Vec<String> = row.index_bits.iter().map(|b| b.width().to_string()).collect();
    format!("{} +{}", levels.join("+"), row.offset_bits)
}

/// The outcome in a few words; physical addresses differ between rebuilt labs (fresh frames), so
/// the table says what was reached rather than where.
fn outcome_short(row: &FormatWalk) -> String {
    match &row.outcome {
        FormatOutcome::Mapped { page_size, .. } => format!("mapped, {} page", format_size(*page_size)),
        FormatOutcome::Fault { kind, level, .. } => {
            let at = level
                .and_then(|l| row.index_bits.get(l))
                .map_or(String::new(), |b| format!(" at {}", b.name));
            format!("fault: {kind}{at}")
        }
        other => other.describe(),
    }
}

/// The rows as text: a summary table, then each format's entries read.
pub fn text(header: &str, rows: &[FormatWalk]) -> String {
    let mut out = format!("{header}\n");
    let _ = writeln!(
        out,
        "{:<12} {:>6} {:>6}  {:<15} {:>4} {:>6} {:>9}  outcome",
        "format", "pages", "levels", "index bits", "refs", "tables", "bytes"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "{:<12} {:>6} {:>6}  {:<15} {:>4} {:>6} {:>9}  {}",
            row.format,
            format_size(row.page_size),
            row.levels(),
            bits_summary(row),
            row.refs_per_walk(),
            row.tables,
            format_size(row.table_bytes),
            outcome_short(row)
        );
    }
    let _ = writeln!(out, "\nEntries read (index bits = index, at entry address):");
    for row in rows {
        let label = format!("{} {}", row.format, format_size(row.page_size));
        let entries: Vec<String> = row
            .steps
            .iter()
            .map(|s| {
                let bits =
                    row.index_bits.get(s.level).map_or(String::new(), |b| format!(" {}:{}", b.high, b.low));
                format!("{}{bits} = {:#x} at {:#x}", s.level_name, s.index, s.entry_addr)
            })
            .collect();
        let entries = if entries.is_empty() { "none".to_string() } else { entries.join(", ") };
        let _ = writeln!(out, "  {label:<18} {entries}");
    }
    out
}

/// The rows as a JSON array, one object per format: `format`, `page_size` (the largest page the
/// rebuild uses), `levels`, `va_bits`, `index_bits` (per level: `name`, `high`, `low`, `bits`,
/// `index`), `offset_bits`, `refs_per_walk`, `steps` (`level`, `level_name`, `index`,
/// `entry_addr`, `raw`, `leaf`), `tables`, `table_frames`, `table_bytes`, `skipped_regions`,
/// `outcome` (`ok`, `fault`, `not-representable`, `error`) and, by outcome, `pa` and
/// `leaf_page_size`, `fault` (`kind`, `description`, `level`), or `error`.
pub fn json(rows: &[FormatWalk]) -> Value {
    Value::Array(rows.iter().map(row_json).collect())
}

fn row_json(row: &FormatWalk) -> Value {
    let index_bits: Vec<Value> = row
        .index_bits
        .iter()
        .map(|b| json!({ "name": b.name, "high": b.high, "low": b.low, "bits": b.width(), "index": b.index }))
        .collect();
    let steps: Vec<Value> = row
        .steps
        .iter()
        .map(|s| {
            json!({
                "level": s.level,
                "level_name": s.level_name,
                "index": s.index,
                "entry_addr": s.entry_addr,
                "raw": s.raw,
                "leaf": s.leaf,
            })
        })
        .collect();
    let mut obj = json!({
        "format": row.format,
        "page_size": row.page_size,
        "levels": row.levels(),
        "va_bits": row.va_bits,
        "index_bits": index_bits,
        "offset_bits": row.offset_bits,
        "refs_per_walk": row.refs_per_walk(),
        "steps": steps,
        "tables": row.tables,
        "table_frames": row.table_frames,
        "table_bytes": row.table_bytes,
        "skipped_regions": row.skipped_regions,
        "outcome": row.outcome.id(),
    });
    match &row.outcome {
        FormatOutcome::Mapped { pa, page_size } => {
            obj["pa"] = json!(pa);
            obj["leaf_page_size"] = json!(page_size);
        }
        FormatOutcome::Fault { kind, description, level } => {
            obj["fault"] = json!({ "kind": kind, "description": description, "level": level });
        }
        FormatOutcome::NotRepresentable { .. } | FormatOutcome::CannotBuild(_) => {
            obj["error"] = json!(row.outcome.describe());
        }
    }
    obj
}

/// The first line of the text output.
pub fn header(va: u64, mode: &str, access: &str, process: &str, regions: usize) -> String {
    format!(
        "Virtual address {} ({mode} {access}) of process \"{process}\", its layout ({regions} region(s)) \
         rebuilt in each format:",
        hex_grouped(va)
    )
}

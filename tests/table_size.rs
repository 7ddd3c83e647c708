//! The textbook page-table sizes, built through the CLI (`pagelab new`, `map --length`,
//! `size --json`) and the API: x86 32-bit with 20 MiB mapped contiguously needs one directory and
//! five tables (24 KiB); x86-64 with 4 GiB of 4 KiB pages needs 2048 + 4 + 1 + 1 tables (about
//! 8 MiB); a linear table is 4 MiB for x86-32 and 512 GiB for x86-64.

use pagelab::sim::{PhysAddr, VirtAddr};
use std::process::Command;

use pagelab::sim::{Machine, MapRequest, MapTarget, presets};
use serde_json::Value;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn pagelab(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pagelab")).args(args).output().expect("pagelab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pagelab {args:?}: {stderr}");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn size_json(lab: &str) -> Value {
    serde_json::from_str(&pagelab(&["size", lab, "--json"])).expect("size --json prints JSON")
}

fn level_tables(process: &Value) -> Vec<u64> {
    process["levels"]
        .as_array()
        .expect("levels")
        .iter()
        .map(|l| l["tables"].as_u64().expect("tables"))
        .collect()
}

/// 20 MiB of 4 KiB pages is 5120 PTEs; a page table holds 1024 of them (4 MiB), so five tables,
/// and one directory: six 4 KiB frames, 24 KiB.
#[test]
fn x86_32_twenty_mib_needs_a_directory_and_five_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = dir.path().join("x86-32.json");
    let lab = lab.to_str().expect("utf-8 path");
    pagelab(&["new", "--format", "x86-32", "-o", lab]);
    pagelab(&["map", lab, "0", "--length", "20m"]);
    let size = size_json(lab);
    let process = &size["processes"][0];
    assert_eq!(level_tables(process), vec![1, 5]);
    assert_eq!(process["tables"], 6);
    assert_eq!(process["bytes"], 24 * KIB);
    assert_eq!(process["mapped_pages"], 5 * 1024);
    assert_eq!(process["mapped_bytes"], 20 * MIB);
    assert_eq!(size["linear_bytes"], 4 * MIB, "2^20 entries of 4 bytes");

    let text = pagelab(&["size", lab]);
    assert!(text.contains("24 KiB") && text.contains("4 MiB"), "{text}");
}

/// Not aligned to a table's span, the same 20 MiB touches six page tables.
#[test]
fn x86_32_twenty_mib_off_a_four_mib_boundary_needs_six_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = dir.path().join("x86-32.json");
    let lab = lab.to_str().expect("utf-8 path");
    pagelab(&["new", "--format", "x86-32", "-o", lab]);
    pagelab(&["map", lab, "0x0020_0000", "--length", "20m"]);
    assert_eq!(level_tables(&size_json(lab)["processes"][0]), vec![1, 6]);
}

/// 4 GiB of 4 KiB pages is 2^20 PTEs: 2048 page tables of 512 entries, 4 page directories,
/// one PDPT and the PML4 — 2054 frames, 8216 KiB.
#[test]
fn x86_64_four_gib_of_small_pages_needs_2054_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = dir.path().join("x86-64.json");
    let lab = lab.to_str().expect("utf-8 path");
    pagelab(&["new", "--format", "x86-64", "--memory", "8g", "-o", lab]);
    pagelab(&["map", lab, "0", "--length", "4g", "--to", "0x1_0000_0000"]);
    let size = size_json(lab);
    let process = &size["processes"][0];
    assert_eq!(level_tables(process), vec![1, 1, 4, 2048]);
    assert_eq!(process["tables"], 2054);
    assert_eq!(process["bytes"], 2054 * 4 * KIB);
    assert_eq!(process["mapped_pages"], 1 << 20);
    assert_eq!(process["mapped_bytes"], 4 * GIB);
    assert_eq!(size["linear_bytes"], 512 * GIB, "2^36 entries of 8 bytes");
}

/// Through the API, with 2 MiB pages: 1 GiB is 512 PDEs of one page directory and needs no page
/// table at all (SDM 4.5.4: a PDE with PS = 1 maps a 2-MByte page).
#[test]
fn x86_64_large_pages_need_no_page_tables() {
    let mut m = Machine::new(presets::by_name("x86-64").expect("preset"), 8 * GIB).expect("machine");
    let request = MapRequest {
        va: VirtAddr::new(0x7f00_0000_0000),
        len: GIB,
        target: MapTarget::To(PhysAddr::new(2 * GIB)),
        page_size: Some(2 * MIB),
        flags: None,
    };
    assert_eq!(m.map(0, &request), Ok(512));
    let report = m.table_size(0).expect("process");
    let tables: Vec<u64> = report.levels.iter().map(|l| l.tables).collect();
    assert_eq!(tables, vec![1, 1, 1, 0]);
    assert_eq!(report.bytes, 3 * 4 * KIB);
    assert_eq!(report.mapped_pages, 512);
    assert_eq!(report.mapped_bytes, u128::from(GIB));
}

/// A linear table maps the whole address space with one entry per page: 2^32 / 2^12 entries of
/// 4 bytes = 4 MiB for x86-32; 2^48 / 2^12 entries of 8 bytes = 512 GiB for x86-64.
#[test]
fn linear_table_sizes() {
    let x86_32 = presets::by_name("x86-32").expect("preset");
    let x86_64 = presets::by_name("x86-64").expect("preset");
    assert_eq!(x86_32.linear_table_bytes(), u128::from(4 * MIB));
    assert_eq!(x86_64.linear_table_bytes(), u128::from(512 * GIB));
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = dir.path().join("empty.json");
    let lab = lab.to_str().expect("utf-8 path");
    pagelab(&["new", "--format", "x86-64", "-o", lab]);
    let size = size_json(lab);
    assert_eq!(size["linear_bytes"], 512 * GIB);
    assert_eq!(size["processes"][0]["linear_bytes"], 512 * GIB);
    assert_eq!(level_tables(&size["processes"][0]), vec![1, 0, 0, 0], "an empty process has its root");
}

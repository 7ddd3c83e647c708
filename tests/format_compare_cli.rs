//! `pagelab translate LAB ADDR --compare [--json]` end to end on the x86-64 sample lab, whose
//! editor has one 2 MiB heap page at 0x5555_5560_0000 (src/lab/samples.rs) and whose addresses
//! are 47-bit user addresses, as on x86-64 Linux.
// Test arithmetic on small, known values: the cast lints guard src/.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

use serde_json::Value;
use std::process::Command;

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pagelab"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("pagelab runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn compare_json(extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["translate", "labs/x86-64.json", "--compare", "--json"];
    args.extend_from_slice(extra);
    let (ok, stdout, stderr) = run(&args);
    assert!(ok, "{stderr}");
    serde_json::from_str::<Value>(&stdout).expect("JSON").as_array().expect("an array").clone()
}

fn row<'a>(rows: &'a [Value], format: &str, page: u64) -> &'a Value {
    rows.iter().find(|r| r["format"] == format && r["page_size"] == page).expect("row")
}

#[test]
fn json_has_one_object_per_format_with_the_issue_s_fields() {
    let rows = compare_json(&["--process", "editor", "0x5555_5560_1234"]);
    assert_eq!(rows.len(), 10, "5 formats x (4 KiB, 2 MiB)");
    for r in &rows {
        for field in ["format", "page_size", "refs_per_walk", "steps", "table_bytes", "outcome"] {
            assert!(r.get(field).is_some(), "{field} in {r}");
        }
        let steps = r["steps"].as_array().expect("steps");
        assert_eq!(r["refs_per_walk"].as_u64(), Some(steps.len() as u64));
    }
    // Hand-worked: a 4 KiB page costs one reference per level (x86-64 4, LA57 5, Sv48 4, Sv57
    // 5); the editor's heap is one 2 MiB page where the rebuild may use them: one fewer.
    for (format, levels) in [("x86-64", 4), ("x86-64-la57", 5), ("sv48", 4), ("sv57", 5)] {
        let small = row(&rows, format, 4096);
        let large = row(&rows, format, 2 << 20);
        assert_eq!(small["refs_per_walk"], levels, "{format}");
        assert_eq!(large["refs_per_walk"], levels - 1, "{format}");
        assert_eq!((small["outcome"].as_str(), large["outcome"].as_str()), (Some("ok"), Some("ok")));
        assert_eq!(large["leaf_page_size"], 2 << 20);
        assert_eq!(small["levels"], levels);
        let widths: Vec<u64> = small["index_bits"]
            .as_array()
            .expect("bits")
            .iter()
            .map(|b| b["bits"].as_u64().expect("n"))
            .collect();
        assert_eq!(widths, vec![9; levels as usize], "{format}: 9 index bits a level");
        // 0x5555_5560_1234: bits 47:39 = 0xaa (0x5555_5560_1234 >> 39 = 0xaa).
        let pml4 = &small["index_bits"][levels as usize - 4];
        assert_eq!(
            (pml4["high"].as_u64(), pml4["low"].as_u64(), pml4["index"].as_u64()),
            (Some(47), Some(39), Some(0xaa))
        );
    }
    // Sv39 cannot hold a 47-bit address: no walk at all.
    for page in [4096, 2 << 20] {
        let sv39 = row(&rows, "sv39", page);
        assert_eq!(sv39["outcome"], "not-representable");
        assert_eq!(sv39["refs_per_walk"], 0);
        assert_eq!(sv39["index_bits"].as_array().map(Vec::len), Some(3));
    }
    // Tables take whole 4 KiB frames in these formats.
    for r in &rows {
        assert_eq!(r["table_bytes"].as_u64(), r["table_frames"].as_u64().map(|f| f * 4096), "{r}");
    }
}

#[test]
fn text_lists_each_format_and_the_entries_read() {
    let (ok, out, stderr) = run(&["translate", "labs/x86-64.json", "--compare", "0x7fff_ffff_d008"]);
    assert!(ok, "{stderr}");
    assert!(out.starts_with("Virtual address 0x7fff_ffff_d008 (user read) of process \"shell\""), "{out}");
    assert_eq!(out.matches("not representable").count(), 2, "{out}");
    assert!(out.contains("PML4 47:39 = 0xff at "), "{out}");
}

#[test]
fn compare_takes_one_address() {
    let (ok, _, stderr) = run(&["translate", "labs/x86-64.json", "--compare", "0x1000", "0x2000"]);
    assert!(!ok);
    assert!(stderr.contains("--compare walks one address; 2 were given"), "{stderr}");
}

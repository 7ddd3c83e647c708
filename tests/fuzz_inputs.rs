//! Malformed input must give a clear error, never a panic (or a hang): lab files truncated,
//! retyped, extended with unknown fields, with bad versions, huge numbers, bad hex, broken custom
//! formats or random byte mutations; and bad addresses, sizes and files given to the CLI binary.

use pagelab::sim::{PhysAddr, VirtAddr};
use std::path::Path;
use std::process::{Command, Output};

use pagelab::lab::{Lab, LabError};
use pagelab::sim::{Machine, MapRequest, MapTarget, presets};
use proptest::prelude::*;
use serde_json::{Value, json};

fn sample_lab(format: &str) -> Lab {
    let mut m = Machine::new(presets::by_name(format).expect("preset"), 64 << 20).expect("machine");
    m.map(
        0,
        &MapRequest {
            va: VirtAddr::new(0x40_0000),
            len: 0x3000,
            target: MapTarget::Alloc,
            page_size: None,
            flags: None,
        },
    )
    .expect("map");
    m.add_process("second").expect("process");
    m.write_phys(PhysAddr::new(0x10_0010), b"pagelab").expect("write");
    Lab::new("sample", "a *small* lab", m)
}

fn sample_json() -> String {
    sample_lab("x86-64").to_json()
}

fn custom_json() -> Value {
    let mut value: Value = serde_json::from_str(&sample_lab("sv39").to_json()).expect("JSON");
    let mut format = serde_json::to_value(presets::by_name("sv39").expect("preset")).expect("format");
    format["name"] = "my-sv39".into();
    value["paging"] = format;
    value
}

/// A refusal that says where or what: a non-empty path or message.
fn refused(text: &str) -> LabError {
    match Lab::from_json(text) {
        Ok(_) => panic!("accepted a malformed lab:\n{}", text.chars().take(400).collect::<String>()),
        Err(e) => {
            assert!(!e.path.is_empty() || !e.message.is_empty(), "an error without path or message");
            assert!(!e.message.is_empty(), "error at {} has no message", e.path);
            e
        }
    }
}

fn refused_value(value: &Value) -> LabError {
    refused(&value.to_string())
}

fn with(mut value: Value, pointer: &str, new: Value) -> Value {
    *value.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}")) = new;
    value
}

#[test]
fn the_sample_is_valid() {
    let json = sample_json();
    assert_eq!(Lab::from_json(&json).map(|l| l.to_json()), Ok(json));
    let custom = custom_json();
    assert!(custom["paging"].is_object(), "a renamed preset is stored as a custom format");
    assert!(Lab::from_json(&custom.to_string()).is_ok());
}

#[test]
fn truncated_files_are_refused() {
    let json = sample_json();
    let end = json.trim_end().len();
    let cuts: Vec<usize> =
        (0..end).step_by(7).chain([end - 1]).filter(|&i| json.is_char_boundary(i)).collect();
    for cut in cuts {
        let e = refused(&json[..cut]);
        assert!(e.message.contains("JSON") || !e.path.is_empty(), "cut at {cut}: {e}");
    }
    refused("");
    refused("   ");
}

/// Every value of the file, one at a time, replaced by a value of another type.
#[test]
fn wrong_types_at_every_path_are_refused_with_that_path() {
    fn paths(value: &Value, here: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => map.iter().for_each(|(k, v)| paths(v, format!("{here}/{k}"), out)),
            Value::Array(items) => {
                items.iter().enumerate().for_each(|(i, v)| paths(v, format!("{here}/{i}"), out))
            }
            _ => {}
        }
        out.push(here);
    }
    for original in [serde_json::from_str::<Value>(&sample_json()).expect("JSON"), custom_json()] {
        let mut all = Vec::new();
        paths(&original, String::new(), &mut all);
        all.retain(|p| !p.is_empty());
        assert!(all.len() > 40, "{} paths", all.len());
        for pointer in all {
            let current = original.pointer(&pointer).expect("path exists");
            let replacements: Vec<Value> = match current {
                Value::String(_) => vec![json!(12), json!(null), json!([]), json!({})],
                Value::Number(_) => {
                    vec![json!("7"), json!(-1), json!(1.5), json!(null), json!(true)]
                }
                Value::Bool(_) => vec![json!("true"), json!(1), json!(null)],
                Value::Array(_) => vec![json!({}), json!("x"), json!(3)],
                // Not `[]`: serde reads a struct from a sequence of its fields, by design.
                Value::Object(_) => vec![json!("x"), json!(3), json!(null)],
                Value::Null => vec![json!("x")],
            };
            let in_free_text = ["/title", "/description", "/paging/description"].contains(&pointer.as_str())
                || pointer.ends_with("/doc");
            for new in replacements {
                let changed = with(original.clone(), &pointer, new.clone());
                let result = Lab::from_json(&changed.to_string());
                if in_free_text && new.is_null() {
                    continue;
                }
                let Err(e) = result else {
                    // A different number of the right type may still be valid: check it loads sanely.
                    assert!(
                        matches!(new, Value::Number(_)) && current.is_number()
                            || current.is_string() && new.is_string(),
                        "{pointer} = {new} accepted"
                    );
                    continue;
                };
                let dotted = pointer.trim_start_matches('/').replace('/', ".");
                let first = dotted.split('.').next().unwrap_or_default();
                assert!(!e.path.is_empty(), "{pointer} = {new}: no path in {e}");
                assert!(e.path.starts_with(first), "{pointer} = {new}: error at {} ({})", e.path, e.message);
            }
        }
    }
}

#[test]
fn unknown_fields_are_refused() {
    let original: Value = serde_json::from_str(&sample_json()).expect("JSON");
    for pointer in ["", "/memory", "/memory/frames/0", "/settings"] {
        let mut changed = original.clone();
        changed
            .pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{pointer} is an object"))
            .insert("surprise".into(), json!(1));
        let e = refused_value(&changed);
        assert!(
            e.message.contains("surprise") || e.path.contains("surprise") || !e.path.is_empty(),
            "{pointer}: {e}"
        );
    }
    let custom = custom_json();
    for pointer in ["/paging", "/paging/levels/0", "/paging/fields/0"] {
        let mut changed = custom.clone();
        changed
            .pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .expect("object")
            .insert("surprise".into(), json!(1));
        let e = refused_value(&changed);
        assert!(e.path.starts_with("paging"), "{pointer}: {e}");
    }
}

#[test]
fn bad_versions_and_markers_are_refused() {
    let original: Value = serde_json::from_str(&sample_json()).expect("JSON");
    for version in
        [json!(0), json!(2), json!(-1), json!("1"), json!(1.5), json!(null), json!(1e30), json!(u64::MAX)]
    {
        let e = refused_value(&with(original.clone(), "/version", version.clone()));
        assert_eq!(e.path, "version", "{version}: {e}");
    }
    let mut missing = original.clone();
    missing.as_object_mut().expect("object").remove("version");
    assert_eq!(refused_value(&missing).path, "version");
    for marker in [json!("pagelab-lap"), json!(1), json!(null)] {
        assert_eq!(refused_value(&with(original.clone(), "/format", marker)).path, "format");
    }
    for not_an_object in ["[]", "1", "\"lab\"", "null"] {
        refused(not_an_object);
    }
}

/// Numbers far outside what they describe: refused quickly, never an overflow or a hang.
#[test]
fn huge_numbers_are_refused() {
    let original: Value = serde_json::from_str(&sample_json()).expect("JSON");
    let cases: Vec<(&str, Value)> = vec![
        ("/memory/size", json!(u64::MAX)),
        ("/memory/size", json!(0)),
        ("/memory/size", json!(4095)),
        ("/memory/allocated", json!([[0, u64::MAX]])),
        ("/memory/allocated", json!([[u64::MAX, 1]])),
        ("/memory/allocated", json!([[16383, 2]])),
        ("/memory/frames/0/frame", json!(u64::MAX)),
        ("/memory/frames/0/frame", json!(1u64 << 40)),
        ("/memory/frames/0/bytes/0/0", json!(u64::MAX)),
        ("/memory/frames/0/bytes/0/0", json!(4096)),
        ("/processes/0/root", json!(u64::MAX)),
        ("/processes/0/root", json!(16384)),
        ("/processes/0/asid", json!(70000)),
        ("/active", json!(1_000_000_000u64)),
        ("/active", json!(2)),
    ];
    for (pointer, value) in cases {
        let e = refused_value(&with(original.clone(), pointer, value.clone()));
        let first = pointer.trim_start_matches('/').split('/').next().unwrap_or_default();
        assert!(e.path.starts_with(first), "{pointer} = {value}: {e}");
    }
    let text = sample_json().replacen("\"size\": 67108864", "\"size\": 184467440737095516150", 1);
    assert_eq!(refused(&text).path, "memory.size", "a number beyond 64 bits");
}

/// A sparse memory of 2^52 bytes is fine, but a file that claims 2^40 allocated frames would take
/// hours and terabytes to load: it is refused.
#[test]
fn huge_allocation_counts_cost_one_run_each() {
    // Allocated frames are kept as runs: 2^40 frames listed as one run are one entry, and runs
    // beyond memory are refused with their path.
    let original: Value = serde_json::from_str(&sample_json()).expect("JSON");
    let huge = with(original.clone(), "/memory/size", json!(1u64 << 52));
    assert!(Lab::from_json(&huge.to_string()).is_ok(), "a large sparse memory is allowed");
    let lab = Lab::from_json(&with(huge.clone(), "/memory/allocated", json!([[0, 1u64 << 40]])).to_string())
        .expect("one big run loads");
    assert_eq!(lab.machine.mem().allocated_count(), 1u64 << 40);
    assert_eq!(lab.machine.mem().allocated_runs().run_count(), 1);
    let lab = Lab::from_json(
        &with(huge.clone(), "/memory/allocated", json!(vec![[0u64, 1u64 << 20]; 64])).to_string(),
    )
    .expect("repeated runs load");
    assert_eq!(lab.machine.mem().allocated_count(), 1u64 << 20, "a frame listed twice is allocated once");
    let e = refused_value(&with(huge, "/memory/allocated", json!([[0, 1u64 << 41]])));
    assert_eq!(e.path, "memory.allocated[0]", "{e}");
    // x86-64 addresses at most 2^52 bytes of physical memory.
    let e = refused_value(&with(original, "/memory/size", json!(1u64 << 53)));
    assert!(e.message.contains("52-bit"), "{e}");
}

#[test]
fn bad_hex_is_refused_with_its_path() {
    let original: Value = serde_json::from_str(&sample_json()).expect("JSON");
    for hex in ["0", "abc", "zz", "0x00", "é1", "00 11", "-1"] {
        let e = refused_value(&with(original.clone(), "/memory/frames/0/bytes/0/1", json!(hex)));
        assert_eq!(e.path, "memory.frames[0].bytes[0]", "{hex:?}: {e}");
    }
    let e =
        refused_value(&with(original.clone(), "/memory/frames/0/bytes/0", json!([4090, "00112233445566"])));
    assert_eq!(e.path, "memory.frames[0].bytes[0]", "{e}");
    assert!(e.message.contains("overflow"), "{e}");
}

/// Custom formats that contradict themselves are refused at `paging`, with the reason.
#[test]
fn inconsistent_custom_formats_are_refused() {
    let custom = custom_json();
    let paging = |pointer: &str, value: Value| with(custom.clone(), &format!("/paging{pointer}"), value);
    let field = json!({"name": "Y", "lsb": 6, "width": 2, "role": "other"});
    let mut cases: Vec<(Value, &str)> = vec![
        (paging("/levels", json!([])), "at least one level"),
        (paging("/pte_bytes", json!(3)), "entry size"),
        (paging("/pte_bytes", json!(0)), "entry size"),
        (paging("/page_shift", json!(0)), "page offset"),
        (paging("/page_shift", json!(63)), "page offset"),
        (paging("/levels/0/index_bits", json!(0)), "index bits"),
        (paging("/levels/0/index_bits", json!(31)), "index bits"),
        (paging("/levels/0/index_bits", json!(4_000_000_000u64)), "index bits"),
        (paging("/va_bits", json!(40)), "virtual address"),
        (paging("/va_bits", json!(u32::MAX)), "virtual address"),
        (paging("/pa_bits", json!(12)), "physical address"),
        (paging("/pa_bits", json!(65)), "physical address"),
        (paging("/fields/0/lsb", json!(64)), "does not fit"),
        (paging("/fields/0/lsb", json!(u32::MAX)), "does not fit"),
        (paging("/fields/0/width", json!(0)), "width 0"),
        (paging("/fields/0/width", json!(u32::MAX)), "does not fit"),
        (paging("/fields/1/width", json!(2)), "1 bit wide"),
        (paging("/fields/8/width", json!(3)), "overlap"),
        (paging("/default_leaf_flags", json!(["Q"])), "Q"),
        (paging("/levels/2/huge", json!(true)), "last level"),
        (paging("/leaf_rule", json!("page-size-bit")), "PageSize"),
        (paging("/arch", json!("vax")), ""),
    ];
    let mut overlapping = custom.clone();
    overlapping["paging"]["fields"].as_array_mut().expect("fields").push(field);
    cases.push((overlapping, "overlap"));
    let mut bad_level = custom.clone();
    bad_level["paging"]["fields"][0]["levels"] = json!([7]);
    cases.push((bad_level, "levels"));
    let mut no_present = custom.clone();
    no_present["paging"]["fields"].as_array_mut().expect("fields").remove(0);
    cases.push((no_present, "Present"));
    let mut duplicate = custom.clone();
    let v = duplicate["paging"]["fields"][0].clone();
    duplicate["paging"]["fields"].as_array_mut().expect("fields").push(v);
    cases.push((duplicate, ""));
    let mut nine = custom.clone();
    let level = nine["paging"]["levels"][0].clone();
    nine["paging"]["levels"] = json!(vec![level; 9]);
    cases.push((nine, "too many levels"));
    let mut wide = custom.clone();
    wide["paging"]["levels"] = json!([{"name": "L1", "index_bits": 28, "huge": false}]);
    wide["paging"]["leaf_rule"] = json!("last-level");
    cases.push((wide, "too large"));
    for (value, reason) in cases {
        let e = refused_value(&value);
        assert!(e.path.starts_with("paging"), "{reason}: {e}");
        assert!(e.message.contains(reason), "expected {reason:?} in: {e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Random edits of a valid file: refused with a message, or loaded into a lab that saves,
    /// reloads and translates without panicking.
    #[test]
    fn random_byte_mutations_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..6),
    ) {
        let mut bytes = sample_json().into_bytes();
        for (at, kind, byte) in edits {
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => {
                    bytes.remove(i);
                }
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        match Lab::from_json(&text) {
            Err(e) => prop_assert!(!e.message.is_empty()),
            Ok(lab) => {
                let again = Lab::from_json(&lab.to_json());
                prop_assert_eq!(again.as_ref(), Ok(&lab));
                for va in [0u64, 0x40_0000, 0x40_2fff, u64::MAX] {
                    for p in 0..lab.machine.processes().len() {
                        let _ = lab.machine.translate(p, VirtAddr::new(va), pagelab::sim::Access::Write, pagelab::sim::Mode::User);
                    }
                }
                let _ = lab.machine.table_size(0);
            }
        }
    }
}

// ---------------------------------------------------------------- the CLI

fn pagelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pagelab")).args(args).output().expect("pagelab runs")
}

fn assert_refused(args: &[&str]) -> String {
    let out = pagelab(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "pagelab {args:?} succeeded: {}", String::from_utf8_lossy(&out.stdout));
    assert!(!stderr.trim().is_empty(), "pagelab {args:?}: nothing on stderr");
    assert!(!stderr.contains("panicked"), "pagelab {args:?} panicked: {stderr}");
    stderr
}

fn new_lab(dir: &Path, format: &str) -> String {
    let lab = dir.join(format!("{format}.json")).to_str().expect("utf-8").to_string();
    let out = pagelab(&["new", "--format", format, "-o", &lab]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    lab
}

#[test]
fn malformed_addresses_and_sizes_get_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = new_lab(dir.path(), "x86-64");
    let lab = lab.as_str();
    let before = std::fs::read_to_string(lab).expect("lab");
    for addr in
        ["zzz", "0x", "-1", "0x1_0000_0000_0000_0000", "", "0xg", "1e5", "18446744073709551616", "0x 10"]
    {
        let stderr = assert_refused(&["translate", lab, addr]);
        assert!(stderr.contains("address") || stderr.contains(&format!("'{addr}'")), "{addr:?}: {stderr}");
    }
    assert_refused(&["translate", lab]);
    assert_refused(&["translate", lab, "--access", "jump", "0"]);
    assert_refused(&["translate", lab, "--mode", "root", "0"]);
    assert_refused(&["translate", lab, "--process", "nobody", "0"]);
    assert_refused(&["translate", lab, "--process", "7", "0"]);
    let map_cases: &[&[&str]] = &[
        &["0x1", "--length", "-5"],
        &["0x1000", "--length", "5q"],
        &["0x1000", "--length", "99999999999999p"],
        &["0x1000", "--length", "0x"],
        &["0x1001"],
        &["0x1000", "--page-size", "3k"],
        &["0x1000", "--page-size", "8k"],
        &["0x1000", "--page-size", "0"],
        &["0x1000", "--page-size", "2m"],
        &["0x1000", "--to", "zz"],
        &["0x1000", "--to", "0x1001"],
        &["0x1000", "--to", "0xffff_ffff_ffff_f000"],
        &["0x1000", "--to", "0x1000", "--alloc"],
        &["0x1000", "--flags", "bogus"],
        &["0x1000", "--flags", "AVL=9"],
        &["0x1000", "--flags", "AVL=zz"],
        &["0xffff_ffff_ffff_f000", "--length", "0x10000"],
        &["0x0000_8000_0000_0000"],
        &["0", "--length", "1p"],
        &["0", "--length", "16g"],
        &["0", "--process", "nobody"],
    ];
    for case in map_cases {
        let mut args = vec!["map", lab];
        args.extend_from_slice(case);
        assert_refused(&args);
        assert_eq!(
            std::fs::read_to_string(lab).expect("lab"),
            before,
            "a failed map {case:?} left the lab unchanged"
        );
    }
    for case in [
        &["zz"][..],
        &["0", "--length", "x"],
        &["0x0000_8000_0000_0000"],
        &["0xffff_ffff_ffff_f000", "--length", "0x2000"],
        &["0", "--process", "9"],
    ] {
        let mut args = vec!["unmap", lab];
        args.extend_from_slice(case);
        assert_refused(&args);
    }
}

#[test]
fn bad_formats_files_and_imports_get_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.json");
    let out = out.to_str().expect("utf-8");
    for case in [
        &["--format", "vax"][..],
        &["--format", "x86-64", "--memory", "0"],
        &["--format", "x86-64", "--memory", "3k"],
        &["--format", "x86-64", "--memory", "1e9"],
        &["--format", "x86-64", "--page-size", "4k"],
        &["--format", "ostep-linear", "--address-space", "3k"],
        &["--format", "ostep-linear", "--page-size", "0"],
        &["--format", "ostep-linear", "--address-space", "16", "--page-size", "32"],
        &["--format", "ostep-linear", "--address-space", "1g", "--page-size", "1"],
        &["--format", "ostep-linear", "--memory", "12k"],
    ] {
        let mut args = vec!["new", "-o", out];
        args.extend_from_slice(case);
        assert_refused(&args);
    }
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"format\": \"pagelab-lab\", \"version\": 1, \"paging\": ").expect("write");
    let garbage = garbage.to_str().expect("utf-8");
    let missing = dir.path().join("missing.json");
    let missing = missing.to_str().expect("utf-8");
    for file in [garbage, missing] {
        assert!(assert_refused(&["validate", file]).contains(file));
        assert_refused(&["size", file]);
        assert_refused(&["translate", file, "0"]);
        assert_refused(&["map", file, "0"]);
        assert_refused(&["unmap", file, "0"]);
        assert_refused(&["import", "ostep-multilevel", file, "-o", out]);
        assert_refused(&["import", "ostep-linear", file, "-o", out]);
    }
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ostep/multilevel_s1_n5_problem.txt");
    assert_refused(&["import", "ostep-linear", fixture, "-o", out]);
    assert_refused(&[
        "import",
        "ostep-multilevel",
        fixture,
        "-o",
        dir.path().join("no/such/dir/x.json").to_str().expect("utf-8"),
    ]);
    assert_refused(&["import", "ostep-paging", fixture, "-o", out]);
    assert!(!Path::new(out).exists(), "no failed command wrote {out}");
}

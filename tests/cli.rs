//! The CLI binary end to end in a temporary directory: new, map, unmap, validate, translate
//! (text and JSON), size and import, with the lab file checked between steps.

use pagelab::sim::Pfn;
use std::path::{Path, PathBuf};
use std::process::Command;

use pagelab::lab::Lab;
use pagelab::sim::presets;
use serde_json::Value;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Self(tempfile::tempdir().expect("tempdir"))
    }

    fn path(&self, name: &str) -> String {
        self.0.path().join(name).to_str().expect("utf-8 path").to_string()
    }
}

fn pagelab(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pagelab")).args(args).output().expect("pagelab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pagelab {args:?} failed: {stderr}");
    assert!(stderr.is_empty(), "pagelab {args:?} wrote to stderr: {stderr}");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn translate_json(lab: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["translate", lab, "--json"];
    args.extend_from_slice(extra);
    let json: Value = serde_json::from_str(&pagelab(&args)).expect("JSON");
    json.as_array().expect("an array").clone()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).expect("lab file")
}

fn load(path: &str) -> Lab {
    Lab::from_json(&read(path)).expect("a valid lab")
}

#[test]
fn new_creates_a_valid_lab_for_every_preset() {
    let dir = Dir::new();
    for name in presets::NAMES {
        let lab = dir.path(&format!("{name}.json"));
        let out = pagelab(&["new", "--format", name, "-o", &lab, "--title", "Hello"]);
        assert!(out.contains(name), "{out}");
        let loaded = load(&lab);
        assert_eq!(*loaded.machine.format(), presets::by_name(name).expect("preset"));
        assert_eq!(loaded.title, "Hello");
        assert_eq!(loaded.machine.processes().len(), 1);
        let summary = pagelab(&["validate", &lab]);
        assert!(
            summary.contains(": ok") && summary.contains(name) && summary.contains("process 0"),
            "{summary}"
        );
        let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.0.path())
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
    }
}

#[test]
fn map_translate_unmap_round_trip_on_x86_64() {
    let dir = Dir::new();
    let lab = dir.path("lab.json");
    pagelab(&["new", "--format", "x86-64", "--memory", "64m", "-o", &lab]);
    let fresh = read(&lab);

    let out = pagelab(&["map", &lab, "0x40_0000", "--length", "0x3000", "--flags", "R/W,U/S"]);
    assert!(out.contains("mapped 3 page(s)"), "{out}");
    let walks = translate_json(&lab, &["0x40_1234", "0x0040_2fff", "4198400"]);
    assert_eq!(walks.len(), 3);
    for (w, va) in walks.iter().zip([0x40_1234u64, 0x40_2fff, 0x40_1000]) {
        assert_eq!(w["va"], va);
        assert_eq!(w["outcome"], "ok", "{w}");
        let pa = w["pa"].as_u64().expect("pa");
        assert_eq!(pa & 0xfff, va & 0xfff, "the offset is kept");
        assert_eq!(w["page_size"], 4096);
        let steps = w["steps"].as_array().expect("steps");
        assert_eq!(steps.len(), 4);
        // SDM 4.5: the indices are VA bits 47:39, 38:30, 29:21 and 20:12.
        let indices: Vec<u64> = steps.iter().map(|s| s["index"].as_u64().expect("index")).collect();
        assert_eq!(indices, vec![0, 0, 2, (va >> 12) & 0x1ff]);
        assert_eq!(steps[3]["leaf"], true);
        assert_eq!(steps[3]["fields"]["P"], 1);
        assert_eq!(steps[3]["raw"].as_u64().expect("raw") & !0xfff, pa & !0xfff);
        for s in steps {
            assert_eq!(s["entry_addr"].as_u64().expect("entry_addr") % 8, 0);
        }
        assert!(w.get("fault").is_none());
    }

    let text = pagelab(&["translate", &lab, "0x40_1234", "0x50_0000"]);
    assert_eq!(text.matches("Virtual address").count(), 2, "{text}");
    for level in ["PML4", "PDPT", "PD", "PT"] {
        assert!(text.contains(&format!("--> {level} index")), "{text}");
    }
    assert!(text.contains("physical address") && text.contains("page fault"), "{text}");

    let size: Value = serde_json::from_str(&pagelab(&["size", &lab, "--json"])).expect("JSON");
    assert_eq!(size["processes"][0]["tables"], 4);
    assert_eq!(size["processes"][0]["mapped_pages"], 3);

    let out = pagelab(&["unmap", &lab, "0x40_0000", "--length", "12k"]);
    assert!(out.contains("unmapped 3 page(s)"), "{out}");
    let w = &translate_json(&lab, &["0x40_1234"])[0];
    assert_eq!(w["outcome"], "fault");
    assert_eq!(w["fault"]["kind"], "not-present");
    assert_eq!(w["fault"]["vector"], "#PF");
    assert_eq!(w["fault"]["error_code"], 4, "SDM 4.7: a user-mode read of a non-present page");
    assert_eq!(read(&lab), fresh, "map then unmap restores the file byte for byte");
}

#[test]
fn access_mode_and_flags_reach_the_walk() {
    let dir = Dir::new();
    let lab = dir.path("lab.json");
    pagelab(&["new", "--format", "x86-64", "-o", &lab]);
    pagelab(&["map", &lab, "0x1000", "--flags", "U/S,NX"]);
    pagelab(&["map", &lab, "0x4000_0000", "--page-size", "2m", "--to", "0x20_0000", "--flags", "R/W"]);
    let w = &translate_json(&lab, &["--access", "write", "0x1008"])[0];
    assert_eq!(w["fault"]["kind"], "write-protection", "{w}");
    assert_eq!(w["fault"]["error_code"], 0b111);
    assert_eq!(w["access"], "write");
    let w = &translate_json(&lab, &["--access", "exec", "0x1008"])[0];
    assert_eq!(w["fault"]["kind"], "execute-protection", "{w}");
    assert_eq!(w["fault"]["error_code"], 0b10101);
    let w = &translate_json(&lab, &["--mode", "user", "0x4012_3456"])[0];
    assert_eq!(w["fault"]["kind"], "user-protection", "{w}");
    let w = &translate_json(
        &lab,
        &["--mode", "supervisor", "--access", "write", "--process", "init", "0x4012_3456"],
    )[0];
    assert_eq!(w["outcome"], "ok", "{w}");
    assert_eq!(w["pa"], 0x20_0000 + 0x12_3456);
    assert_eq!(w["page_size"], 2 << 20);
    assert_eq!(w["steps"].as_array().map(Vec::len), Some(3));
    assert_eq!(w["mode"], "supervisor");
    let w = &translate_json(&lab, &["--process", "0", "0x0000_8000_0000_0000"])[0];
    assert_eq!(w["fault"]["kind"], "non-canonical");
    assert_eq!(w["fault"]["vector"], "#GP");
    assert_eq!(w["steps"].as_array().map(Vec::len), Some(0));

    let loaded = load(&lab);
    assert_eq!(loaded.machine.table_size(0).expect("size").mapped_pages, 2);
    assert!(loaded.machine.mem().is_allocated(Pfn::new(0x200)), "a --to frame is reserved");
}

#[test]
fn sv39_faults_report_their_cause() {
    let dir = Dir::new();
    let lab = dir.path("sv39.json");
    pagelab(&["new", "--format", "sv39", "-o", &lab]);
    pagelab(&["map", &lab, "0x1000", "--flags", "R,X,U,A"]);
    let w = &translate_json(&lab, &["--access", "exec", "0x1000"])[0];
    assert_eq!(w["outcome"], "ok", "{w}");
    let w = &translate_json(&lab, &["--access", "write", "0x1000"])[0];
    assert_eq!(w["fault"]["cause"], 15, "{w}");
    let w = &translate_json(&lab, &["--mode", "supervisor", "0x1000"])[0];
    assert_eq!(w["fault"]["cause"], 13, "{w}");
    let w = &translate_json(&lab, &["0x40_0000_0000"])[0];
    assert_eq!(w["fault"]["kind"], "non-canonical", "{w}");
    assert_eq!(w["fault"]["cause"], 13);
    let text = pagelab(&["translate", &lab, "--access", "write", "0x1000"]);
    assert!(text.contains("scause 15"), "{text}");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ostep/")).join(name)
}

#[test]
fn imports_give_labs_that_validate_and_translate() {
    let dir = Dir::new();
    for (kind, file, va, expected_pa) in [
        ("ostep-multilevel", "multilevel_s1_n5_solved.txt", "0x6c74", 0xc34u64),
        ("ostep-linear", "linear_s1_default_problem.txt", "0x1cc4", 0xccc4),
    ] {
        let lab = dir.path(&format!("{kind}.json"));
        let out = pagelab(&["import", kind, fixture(file).to_str().expect("utf-8"), "-o", &lab]);
        assert!(out.contains("imported"), "{out}");
        assert!(pagelab(&["validate", &lab]).contains(kind));
        let w = &translate_json(&lab, &[va])[0];
        assert_eq!(w["pa"], expected_pa, "{kind}: {w}");
        let loaded = load(&lab);
        assert!(loaded.description.contains("OSTEP"), "{}", loaded.description);
        assert_eq!(Lab::from_json(&loaded.to_json()), Ok(loaded.clone()), "{kind} round-trips");
        let text = pagelab(&["size", &lab]);
        assert!(text.contains("linear table"), "{text}");
    }
}

#[test]
fn the_lab_file_is_versioned_json_with_compact_memory() {
    let dir = Dir::new();
    let lab = dir.path("lab.json");
    pagelab(&["new", "--format", "x86-32", "--memory", "4g", "-o", &lab]);
    pagelab(&["map", &lab, "0x0804_8000", "--to", "0x0010_0000", "--length", "8k"]);
    let json: Value = serde_json::from_str(&read(&lab)).expect("JSON");
    assert_eq!(json["format"], "pagelab-lab");
    assert_eq!(json["version"], 1);
    assert_eq!(json["paging"], "x86-32");
    assert_eq!(json["memory"]["size"], 4u64 << 30);
    let frames: Vec<u64> = json["memory"]["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(|f| f["frame"].as_u64().expect("frame"))
        .collect();
    assert_eq!(frames, vec![0, 1], "only the directory and the one page table hold bytes");
    let allocated = json["memory"]["allocated"].as_array().expect("allocated");
    assert_eq!(allocated.len(), 2, "runs: the two tables, then the two data frames: {allocated:?}");
    assert_eq!(allocated[1], serde_json::json!([0x100, 2]));
}

/// The CLI takes `--access execute`, the app's word, as well as the older `exec`.
#[test]
fn access_execute_is_accepted_beside_exec() {
    let dir = Dir::new();
    let lab = dir.path("lab.json");
    pagelab(&["new", "--format", "x86-64", "-o", &lab]);
    pagelab(&["map", &lab, "0x1000", "--flags", "U/S"]);
    let execute = translate_json(&lab, &["--access", "execute", "0x1000"]);
    let exec = translate_json(&lab, &["--access", "exec", "0x1000"]);
    assert_eq!(execute, exec);
    assert_eq!(execute[0]["access"], "execute", "{:?}", execute[0]);
}

#[test]
fn a_mistyped_subcommand_gets_a_suggestion_not_the_desktop_app() {
    let out = Command::new(env!("CARGO_BIN_EXE_pagelab"))
        .args(["explian", "lab.json"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("pagelab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("unrecognized subcommand 'explian'"), "{stderr}");
    assert!(stderr.contains("explain"), "clap suggests the nearest subcommand: {stderr}");
    assert!(!stderr.contains("cannot open a window"), "{stderr}");
    // A path ending in .json is a lab for the app, even when it does not exist yet: the app
    // is asked for (and says there is no display here), not a subcommand.
    let out = Command::new(env!("CARGO_BIN_EXE_pagelab"))
        .arg("no-such-lab.json")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("pagelab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("unrecognized subcommand"), "{stderr}");
}

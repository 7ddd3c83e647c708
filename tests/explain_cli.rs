//! `pagelab explain` and `pagelab set` end to end: the JSON field names, `--apply` writing a lab
//! where the access succeeds, and locks refusing both, on the sample x86-64 lab (whose code page
//! at 0x5555_5555_4000 is user, read-only and executable, as its description says).

use pagelab::exercise::LockTarget;
use pagelab::lab::Lab;
use serde_json::Value;
use std::process::{Command, Output};

const CODE: &str = "0x5555_5555_4000";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pagelab")).args(args).output().expect("pagelab runs")
}

fn pagelab(args: &[&str]) -> String {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pagelab {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).expect("utf-8")
}

fn pagelab_fails(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "pagelab {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&pagelab(args)).expect("JSON")
}

/// The walk of a user write in process shell, from `translate --json`.
fn write_walk(lab: &str) -> Value {
    json(&["translate", lab, "--process", "shell", "--access", "write", "--json", CODE])[0].clone()
}

fn temp_copy(dir: &tempfile::TempDir, name: &str) -> String {
    let path = dir.path().join(name);
    std::fs::copy("labs/x86-64.json", &path).expect("copy the sample");
    path.to_str().expect("utf-8").to_string()
}

#[test]
fn explain_json_has_the_documented_fields() {
    let e = json(&["explain", "labs/x86-64.json", CODE, "--process", "shell", "--access", "write", "--json"]);
    let walk = write_walk("labs/x86-64.json");
    let leaf = &walk["steps"][3];
    assert_eq!(e["outcome"], "fault");
    assert_eq!(e["fault"]["kind"], "write-protection");
    let d = &e["decided_by"];
    assert_eq!(d["level"], 3);
    assert_eq!(d["index"], leaf["index"]);
    assert_eq!(d["entry_addr"], leaf["entry_addr"]);
    assert_eq!(d["field"], "R/W");
    assert_eq!(d["value"], 0);
    assert!(e["rule"]["text"].as_str().is_some_and(|t| t.contains("R/W=1")));
    assert!(e["rule"]["reference"].as_str().is_some_and(|r| r.contains("SDM")));
    let fixes = e["fixes"].as_array().expect("fixes");
    assert_eq!(fixes.len(), 1, "{fixes:?}");
    let change = &fixes[0]["changes"][0];
    assert_eq!(change["entry_addr"], leaf["entry_addr"]);
    assert_eq!((&change["field"], &change["from"], &change["to"]), (&"R/W".into(), &0.into(), &1.into()));
    assert!(fixes[0]["side_effects"].is_array());
    let ok = json(&["explain", "labs/x86-64.json", CODE, "--process", "shell", "--access", "exec", "--json"]);
    assert_eq!(ok["outcome"], "ok");
    assert_eq!(ok["fixes"], Value::Array(vec![]));
    assert!(ok["grants"].as_array().is_some_and(|g| !g.is_empty()));
}

#[test]
fn apply_writes_a_lab_where_the_access_succeeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = temp_copy(&dir, "lab.json");
    let out = dir.path().join("fixed.json");
    let out = out.to_str().expect("utf-8");
    let before = std::fs::read_to_string(&lab).expect("lab");
    let text = pagelab(&[
        "explain",
        &lab,
        CODE,
        "--process",
        "shell",
        "--access",
        "write",
        "--apply",
        "0",
        "-o",
        out,
    ]);
    assert!(text.contains("now succeeds"), "{text}");
    assert_eq!(write_walk(out)["outcome"], "ok");
    assert_eq!(std::fs::read_to_string(&lab).expect("lab"), before, "-o leaves LAB alone");
    assert_eq!(write_walk(&lab)["outcome"], "fault");
    let err =
        pagelab_fails(&["explain", &lab, CODE, "--process", "shell", "--access", "write", "--apply", "5"]);
    assert!(err.contains("no fix 5"), "{err}");
    let err =
        pagelab_fails(&["explain", &lab, CODE, "--process", "shell", "--access", "read", "--apply", "0"]);
    assert!(err.contains("nothing to fix"), "{err}");
}

/// A copy of the sample with the shell's code-page leaf locked, as an exercise would.
fn locked_copy(dir: &tempfile::TempDir) -> (String, u64) {
    let path = temp_copy(dir, "locked.json");
    let mut lab = Lab::from_json(&std::fs::read_to_string(&path).expect("lab")).expect("lab");
    let leaf = write_walk(&path)["steps"][3]["entry_addr"].as_u64().expect("entry_addr");
    lab.locks.lock(LockTarget::Entry(leaf));
    std::fs::write(&path, lab.to_json()).expect("write");
    (path, leaf)
}

#[test]
fn locks_refuse_set_and_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (lab, leaf) = locked_copy(&dir);
    let before = std::fs::read_to_string(&lab).expect("lab");
    let entry = format!("{leaf:#x}");
    let err = pagelab_fails(&["set", &lab, "--process", "shell", "--entry", &entry, "R/W=1"]);
    assert!(err.contains("locked by the exercise"), "{err}");
    let text = pagelab(&["explain", &lab, CODE, "--process", "shell", "--access", "write"]);
    assert!(text.contains("locked by the exercise"), "{text}");
    let err =
        pagelab_fails(&["explain", &lab, CODE, "--process", "shell", "--access", "write", "--apply", "0"]);
    assert!(err.contains("locked by the exercise"), "{err}");
    assert_eq!(std::fs::read_to_string(&lab).expect("lab"), before, "a refused edit writes nothing");
}

#[test]
fn set_edits_fields_by_name_and_refuses_bad_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = temp_copy(&dir, "lab.json");
    let leaf = write_walk(&lab)["steps"][3]["entry_addr"].as_u64().expect("entry_addr");
    let entry = format!("{leaf:#x}");
    let out = pagelab(&["set", &lab, "--process", "shell", "--entry", &entry, "R/W=1", "NX=1"]);
    assert!(out.contains("PT entry"), "{out}");
    let walk = write_walk(&lab);
    assert_eq!(walk["outcome"], "ok");
    assert_eq!(walk["steps"][3]["fields"]["NX"], 1);
    for (arg, message) in [
        ("Q=1", "no field \"Q\""),
        ("R/W=2", "does not fit the 1-bit field R/W"),
        ("Frame=0x10000000000", "does not fit the 40-bit field Frame"),
        ("P", "FIELD=VALUE"),
        ("PS=1", "no field \"PS\""),
    ] {
        let err = pagelab_fails(&["set", &lab, "--process", "shell", "--entry", &entry, arg]);
        assert!(err.contains(message), "{arg}: {err}");
    }
    let err = pagelab_fails(&["set", &lab, "--process", "shell", "--entry", "0x3ff_f000", "P=0"]);
    assert!(err.contains("not in any page table"), "{err}");
    let err =
        pagelab_fails(&["set", &lab, "--process", "shell", "--entry", &format!("{:#x}", leaf + 1), "P=0"]);
    assert!(err.contains("not aligned"), "{err}");
    // The kernel half's tables are shared (the sample's description): the edit says so.
    let kernel = json(&["translate", &lab, "--process", "shell", "--json", "0xffff_ffff_8000_0000"]);
    let pd = format!("{:#x}", kernel[0]["steps"][2]["entry_addr"].as_u64().expect("entry_addr"));
    let out = pagelab(&["set", &lab, "--process", "shell", "--entry", &pd, "U/S=1"]);
    assert!(out.contains("also used by process \"editor\""), "{out}");
}

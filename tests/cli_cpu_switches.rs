//! `pagelab new`'s CPU switches: --maxphyaddr, --pse36 and --ad-timing end up in the lab's MMU
//! settings, and are refused with a reason where they mean nothing.

use pagelab::lab::Lab;
use pagelab::sim::mmu::AdTiming;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pagelab")).args(args).output().expect("pagelab runs")
}

fn lab(path: &std::path::Path) -> Lab {
    Lab::from_json(&std::fs::read_to_string(path).expect("lab file")).expect("valid lab")
}

#[test]
fn new_sets_maxphyaddr_pse36_and_the_ad_timing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("pae.json");
    let path = out.to_str().expect("utf-8");
    let done =
        run(&["new", "--format", "x86-pae", "-o", path, "--maxphyaddr", "40", "--ad-timing", "as-walked"]);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let settings = *lab(&out).machine.settings();
    assert_eq!((settings.maxphyaddr, settings.ad_timing, settings.pse36), (40, AdTiming::AsWalked, false));
    let text = std::fs::read_to_string(&out).expect("file");
    assert!(text.contains("\"ad_timing\": \"as-walked\""), "{text}");

    let done = run(&["new", "--format", "x86-32", "-o", path, "--pse36", "--maxphyaddr", "36"]);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let settings = *lab(&out).machine.settings();
    assert!(settings.pse36);
    assert_eq!(settings.maxphyaddr, 36);
}

#[test]
fn new_refuses_switches_that_mean_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("x.json");
    let path = out.to_str().expect("utf-8");
    for (args, words) in [
        (vec!["--format", "x86-64", "--pse36"], "--pse36 applies to x86-32"),
        (vec!["--format", "x86-32", "--maxphyaddr", "36"], "--maxphyaddr applies"),
        (vec!["--format", "x86-32", "--pse36", "--maxphyaddr", "44"], "36 to 40"),
        (vec!["--format", "x86-64", "--maxphyaddr", "30"], "36 to 52"),
        (vec!["--format", "sv39", "--ad-timing", "as-walked"], "--ad-timing applies to x86"),
        (vec!["--format", "x86-64", "--ad-timing", "sometimes"], "after-walk or as-walked"),
    ] {
        let mut all = vec!["new", "-o", path];
        all.extend(args.iter().copied());
        let done = run(&all);
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert!(!done.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(words), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?} wrote a lab");
    }
}

/// `translate` on a PAE lab says the PDPTE came from its register (SDM 4.4.1), and its JSON has
/// `from_register` and the A/D marks.
#[test]
fn translate_marks_the_pdpte_register() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("pae.json");
    let path = out.to_str().expect("utf-8");
    assert!(run(&["new", "--format", "x86-pae", "-o", path]).status.success());
    assert!(run(&["map", path, "0x400000"]).status.success());
    let text = run(&["translate", path, "0x400123"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("PDPT index 0x0 [decimal 0]: register loaded from"), "{text}");
    let json = run(&["translate", path, "--json", "0x400123"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let steps = &json[0]["steps"];
    assert_eq!(steps[0]["from_register"], true);
    assert_eq!(steps[1]["from_register"], false);
    // A read of a fresh mapping sets A in the PDE and PTE (the PDPTE has no A: SDM Table 4-8).
    assert_eq!(steps[0]["sets_accessed"], false);
    assert_eq!(steps[1]["sets_accessed"], true);
    assert_eq!(steps[2]["sets_accessed"], true);
    assert_eq!(steps[2]["sets_dirty"], false);
}

//! Nested labs from the command line: `new --nested`, `map --guest` / `--host`, and `translate`
//! printing the 2D walk. Expected counts and orders come from the SDM's description of EPT
//! (Vol. 3C 29.3.2: each guest paging-structure address and the final guest-physical address
//! go through the EPT walk) and the privileged spec's two-stage translation, not from the code.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn run(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pagelab")).current_dir(dir).args(args).output().expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (success, stdout, stderr) = run(dir, args);
    assert!(success, "{args:?}: {stderr}");
    stdout
}

fn json(dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(dir, args)).expect("JSON")
}

const VA: &str = "0x7f1234567abc";

#[test]
fn a_4_on_4_walk_from_the_cli_takes_24_numbered_references() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let out = ok(d, &["new", "--format", "x86-64", "--nested", "ept", "-o", "g.json"]);
    assert!(out.contains("x86-64 guest on ept host tables"), "{out}");
    let out = ok(d, &["validate", "g.json"]);
    assert!(out.contains("nested: x86-64 guest on ept host tables"), "{out}");
    ok(d, &["map", "g.json", "--guest", "0x7f1234567000", "--flags", "R/W,U/S"]);
    let walks = json(d, &["translate", "g.json", VA, "--json"]);
    let walk = &walks[0];
    assert_eq!(walk["outcome"], "ok");
    assert_eq!(walk["refs"], 24);
    let steps = walk["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 24);
    // SDM order: per guest level, 4 EPT reads (PML4E, PDPTE, PDE, PTE) then the guest entry;
    // then 4 EPT reads for the final guest-physical address.
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(step["number"], i + 1);
        let (dimension, level) = if i < 20 {
            if i % 5 == 4 { ("guest", i / 5) } else { ("host", i % 5) }
        } else {
            ("host", i - 20)
        };
        assert_eq!(step["dimension"], dimension, "step {}", i + 1);
        assert_eq!(step["level"], level, "step {}", i + 1);
        assert!(step["entry_addr"].is_u64() && step["gpa"].is_u64(), "step {}", i + 1);
    }
    // Each EPT PTE read resolves the address the next guest read reads (its hpa), and the last
    // one the data's host-physical address.
    for g in 0..4 {
        assert_eq!(steps[g * 5 + 3]["hpa"], steps[g * 5 + 4]["entry_addr"]);
        assert_eq!(steps[g * 5 + 3]["gpa"], steps[g * 5 + 4]["gpa"]);
    }
    assert_eq!(steps[23]["hpa"], walk["hpa"]);
    assert_eq!(walk["hpa"].as_u64().expect("hpa") & 0xfff, 0xabc);
    // The grid: guest level x host level, row g = 5g+1..5g+4 then the guest entry 5g+5.
    assert_eq!(walk["grid"][2]["host"], serde_json::json!([11, 12, 13, 14]));
    assert_eq!(walk["grid"][2]["guest"], 15);
    assert_eq!(walk["grid"][4]["host"], serde_json::json!([21, 22, 23, 24]));

    let text = ok(d, &["translate", "g.json", VA]);
    assert!(text.contains("24 references: gpa"), "{text}");
    let grid_rows: Vec<Vec<&str>> = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("grid"))
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(grid_rows[0], ["PML4", "1", "2", "3", "4", "5"]);
    assert_eq!(grid_rows[3], ["PT", "16", "17", "18", "19", "20"]);
    assert_eq!(grid_rows[4], ["data", "21", "22", "23", "24"]);
}

#[test]
fn a_host_fault_names_the_dimension_and_the_guest_physical_address() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    ok(d, &["new", "--format", "x86-64", "--nested", "ept", "-o", "g.json"]);
    // The guest points its page at guest-physical 0x8000_0000, which the host never mapped.
    ok(d, &["map", "g.json", "--guest", "0x400000", "--to", "0x80000000"]);
    let walk = &json(d, &["translate", "g.json", "0x400010", "--access", "write", "--json"])[0];
    assert_eq!(walk["outcome"], "fault");
    assert_eq!(walk["fault"]["dimension"], "host");
    assert_eq!(walk["fault"]["kind"], "ept-violation");
    assert_eq!(walk["fault"]["gpa"], 0x8000_0010u64);
    assert_eq!(walk["fault"]["guest_table_access"], false);
    let text = ok(d, &["translate", "g.json", "0x400010"]);
    assert!(text.contains("fault in the host dimension (EPT violation)"), "{text}");
    assert!(text.contains("gpa 0x80000010"), "{text}");
    // Once the host maps that guest-physical page, the same walk completes in 24 references.
    let out = ok(d, &["map", "g.json", "--host", "0x80000000", "--to", "0x200000"]);
    assert!(out.contains("to host-physical 0x200000"), "{out}");
    let walk = &json(d, &["translate", "g.json", "0x400010", "--json"])[0];
    assert_eq!(walk["outcome"], "ok");
    assert_eq!(walk["hpa"], 0x20_0010u64);
    assert_eq!(walk["refs"], 24);
    // A host page without W: a write is an EPT violation on the final address, a read is not.
    ok(d, &["map", "g.json", "--host", "0x80000000", "--to", "0x200000", "--flags", "R,X"]);
    let walk = &json(d, &["translate", "g.json", "0x400010", "--access", "write", "--json"])[0];
    assert_eq!(walk["fault"]["kind"], "ept-violation");
    assert_eq!(json(d, &["translate", "g.json", "0x400010", "--json"])[0]["outcome"], "ok");
    // A guest fault is the guest's: no host dimension, an unmapped guest address.
    let walk = &json(d, &["translate", "g.json", "0x800000", "--json"])[0];
    assert_eq!(walk["fault"]["dimension"], "guest");
    assert_eq!(walk["fault"]["kind"], "not-present");
}

#[test]
fn sv39_on_sv39x4_takes_15_references_and_reports_guest_page_faults_by_cause() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    ok(d, &["new", "--format", "sv39", "--nested", "sv39x4", "-o", "r.json"]);
    ok(d, &["map", "r.json", "--guest", "0x40001000", "--flags", "R,W,U,A,D"]);
    let walk = &json(d, &["translate", "r.json", "0x40001234", "--json"])[0];
    // 3 guest levels x (3 G-stage levels + 1) + 3 = 15.
    assert_eq!(walk["refs"], 15);
    assert_eq!(walk["max_refs"], 15);
    // The guest points at an unmapped guest-physical page: a guest-page fault, cause 21 for a
    // load and 23 for a store, htval = gpa >> 2.
    ok(d, &["map", "r.json", "--guest", "0x40002000", "--to", "0x10000000", "--flags", "R,W,U,A,D"]);
    for (access, cause) in [("read", 21), ("write", 23)] {
        let walk = &json(d, &["translate", "r.json", "0x40002008", "--access", access, "--json"])[0];
        assert_eq!(walk["fault"]["kind"], "guest-page-fault");
        assert_eq!(walk["fault"]["gpa"], 0x1000_0008u64);
        let report = walk["fault"]["report"].as_str().expect("report");
        assert!(report.contains(&format!("scause {cause}, htval {:#x}", 0x1000_0008u64 >> 2)), "{report}");
    }
}

#[test]
fn nested_commands_refuse_what_does_not_fit() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let (success, _, err) = run(d, &["new", "--format", "x86-64", "--nested", "sv39x4", "-o", "x.json"]);
    assert!(!success && err.contains("EPT"), "{err}");
    let (success, _, err) = run(d, &["new", "--format", "x86-64", "--nested", "npt9", "-o", "x.json"]);
    assert!(!success && err.contains("--nested"), "{err}");
    ok(d, &["new", "--format", "x86-64", "-o", "plain.json"]);
    let (success, _, err) = run(d, &["map", "plain.json", "--guest", "0x1000"]);
    assert!(!success && err.contains("not a nested lab"), "{err}");
    let (success, _, err) = run(d, &["translate", "plain.json", "0x1000", "--psc", "4"]);
    assert!(!success && err.contains("nested"), "{err}");
    ok(d, &["new", "--format", "x86-64", "--nested", "ept", "-o", "g.json"]);
    let (success, _, err) = run(d, &["map", "g.json", "0x1000"]);
    assert!(!success && err.contains("--guest"), "{err}");
    let (success, _, err) =
        run(d, &["map", "g.json", "--host", "0x1000", "--to", "0x1000", "--page-size", "2m"]);
    assert!(!success && err.contains("aligned"), "{err}");
}

#[test]
fn page_walk_caches_from_the_cli_cut_the_second_walk() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    ok(d, &["new", "--format", "x86-64", "--nested", "ept", "-o", "g.json"]);
    ok(d, &["map", "g.json", "--guest", "0x400000", "--length", "8k"]);
    // Two pages in one 2 MiB region, all guest frames in guest-physical 0..2 MiB. With every
    // cache on, the second walk: guest PDE cache hit (guest PML4, PDPT, PD rows skipped), the
    // guest PT page's gpa in the nested TLB (0), the guest PTE (1), the data page's gpa a nested
    // TLB miss whose host walk starts below the cached EPT PDE (1): 2 references. The first walk
    // already gains from the host PSC: its first host walk reads 4 EPT entries, the next four
    // only the EPT PTE: 4 + 1 + 3 x (1 + 1) + 1 = 12.
    let out =
        json(d, &["translate", "g.json", "0x400000", "0x401000", "--psc", "8", "--ntlb", "8", "--json"]);
    assert_eq!(out["walks"][0]["refs"], 12);
    assert_eq!(out["walks"][1]["refs"], 2);
    assert_eq!(out["refs_without"], 48);
    assert_eq!(out["refs_with"], 14);
    assert_eq!(out["avg_with"], 7.0);
    let text = ok(d, &["translate", "g.json", "0x400000", "0x401000", "--psc", "8", "--ntlb", "8"]);
    assert!(text.contains("references per walk: 24.0 without caches, 7.0 with"), "{text}");
}

#[test]
fn replay_of_a_trace_on_a_nested_lab_reports_references_per_miss() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    ok(d, &["new", "--format", "x86-64", "--nested", "ept", "-o", "g.json"]);
    ok(d, &["map", "g.json", "--guest", "0x400000", "--length", "8k"]);
    // Four accesses, two pages: 0x400008 and 0x400010 hit the guest TLB; the two misses cost
    // 24 each without caches, and 12 then 2 with them (worked out in
    // page_walk_caches_from_the_cli_cut_the_second_walk): 7.0 per miss.
    std::fs::write(d.join("t.trace"), "0x400000 r\n0x400008 r\n0x401000 w\n0x400010 r\n").expect("writes");
    let out =
        json(d, &["replay", "g.json", "t.trace", "--tlb", "64", "--psc", "16", "--ntlb", "16", "--json"]);
    assert_eq!(out["accesses"], 4);
    assert_eq!(out["tlb_hits"], 2);
    assert_eq!(out["misses"], 2);
    assert_eq!(out["refs_without"], 48);
    assert_eq!(out["refs_with"], 14);
    assert_eq!(out["avg_without"], 24.0);
    assert_eq!(out["avg_with"], 7.0);
    let text = ok(d, &["replay", "g.json", "t.trace", "--psc", "16", "--ntlb", "16"]);
    assert!(text.contains("references per miss: 24.0 without page-walk caches, 7.0 with"), "{text}");
    // A one-entry guest TLB: 0x400010 misses after 0x401000 evicted its page; that third walk
    // finds everything cached (the guest PTE, 1 reference): 12 + 2 + 1 = 15 over 3 misses.
    let out =
        json(d, &["replay", "g.json", "t.trace", "--tlb", "1", "--psc", "16", "--ntlb", "16", "--json"]);
    assert_eq!((out["misses"].as_u64(), out["refs_with"].as_u64()), (Some(3), Some(15)));
}

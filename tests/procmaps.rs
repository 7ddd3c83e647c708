//! `/proc/PID/maps` import: a small hand-written maps file, imported for 4- and 5-level x86-64
//! (and Sv48, Sv39) with 4 KiB and 2 MiB pages; the table counts were worked out by hand below.
//! Also through the real binary: `pagelab import proc-maps` then `pagelab size --json`.

use pagelab::lab::procmaps::{self, SkipReason};
use pagelab::sim::VirtAddr;
use pagelab::sim::size::table_size;
use pagelab::sim::{Access, Mode, presets};
use serde_json::Value;
use std::process::Command;

const PAGELAB: &str = env!("CARGO_BIN_EXE_pagelab");
const KIB4: u64 = 4 << 10;
const MIB2: u64 = 2 << 20;

/// x86-64 index fields: PML4 47:39, PDPT 38:30, PD 29:21, PT 20:12 (LA57 adds PML5 56:48).
///
/// line 1-2  0x400000, 0x401000 code: PML4[0] PDPT[0] PD[2] PT[0], PT[1]; 2 pages
/// line 3    heap 0x600000-0xa00000 (4 MiB, 2 MiB aligned): PD[3] and PD[4] of the same PD;
///           1024 pages of 4 KiB, or 2 pages of 2 MiB
/// line 4    libc text 0x7f00_0000_0000 + 2 MiB (aligned): PML4[254] PDPT[0] PD[0]; 512 pages or 1
/// line 5    libc guard ---p: no entries
/// line 6    libc data 0x7f00_0040_0000 + 16 KiB: PML4[254] PDPT[0] PD[2]; 4 pages
/// line 7    stack 0x7fff_fffd_e000-0x7fff_ffff_f000: PML4[255] PDPT[511] PD[511] PT[478..=510]; 33
/// line 8    vsyscall 0xffff_ffff_ff60_0000 (--xp): PML4[511] PDPT[511] PD[507] PT[0]; 1 page
const MAPS: &str = "\
00400000-00401000 r--p 00000000 08:01 1234                       /usr/bin/demo
00401000-00402000 r-xp 00001000 08:01 1234                       /usr/bin/demo
00600000-00a00000 rw-p 00000000 00:00 0                          [heap]
7f0000000000-7f0000200000 r-xp 00000000 08:01 99                 /usr/lib/libc.so.6
7f0000200000-7f0000400000 ---p 00200000 08:01 99                 /usr/lib/libc.so.6
7f0000400000-7f0000404000 rw-p 00200000 08:01 99                 /usr/lib/libc.so.6
7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                  [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0          [vsyscall]
";

/// Tables per level, root first.
fn tables_per_level(format: &str, page: u64) -> (Vec<u64>, u64) {
    let regions = procmaps::parse(MAPS).expect("the maps file parses");
    let format = presets::by_name(format).expect("preset");
    let (lab, _) = procmaps::build_lab(&regions, format, page, "test").expect("imports");
    let m = &lab.machine;
    let size = table_size(m.mem(), m.format(), m.active_process().root);
    (size.levels.iter().map(|l| l.tables).collect(), size.bytes)
}

#[test]
fn four_level_x86_64_with_4k_pages() {
    // PML4: 1. PDPTs: under PML4[0], [254], [255], [511] = 4. PDs: one under each PDPT = 4.
    // PTs: PD[2], PD[3], PD[4] of the low PD; PD[0], PD[2] of libc's; the stack's; vsyscall's = 7.
    assert_eq!(tables_per_level("x86-64", KIB4), (vec![1, 4, 4, 7], 16 * 4096));
}

#[test]
fn four_level_x86_64_with_2m_pages() {
    // The heap (PD[3], PD[4]) and libc's text (PD[0]) become 2 MiB leaves: 3 PTs fewer.
    assert_eq!(tables_per_level("x86-64", MIB2), (vec![1, 4, 4, 4], 13 * 4096));
}

#[test]
fn five_level_x86_64_adds_a_level_on_top() {
    // PML5: 1; PML4s: under PML5[0] (every user region) and PML5[511] (vsyscall) = 2; the rest as
    // with four levels.
    assert_eq!(tables_per_level("x86-64-la57", KIB4), (vec![1, 2, 4, 4, 7], 18 * 4096));
    assert_eq!(tables_per_level("x86-64-la57", MIB2), (vec![1, 2, 4, 4, 4], 15 * 4096));
}

#[test]
fn sv48_has_the_x86_64_shape_and_sv39_drops_what_it_cannot_address() {
    assert_eq!(tables_per_level("sv48", KIB4), (vec![1, 4, 4, 7], 16 * 4096));
    // Sv39 addresses 39 bits, sign-extended from bit 38: libc (near 2^47) and the stack lie
    // beyond, vsyscall (all ones above bit 38) is canonical. Left: the root; L1 tables under
    // root[0] and root[511]; L0 tables for slots 2, 3 and 4 of the low one, and vsyscall's.
    assert_eq!(tables_per_level("sv39", KIB4), (vec![1, 2, 4], 7 * 4096));
    let regions = procmaps::parse(MAPS).expect("parses");
    let (_, summary) = procmaps::build_lab(&regions, presets::riscv(3), KIB4, "t").expect("imports");
    let skipped: Vec<(usize, SkipReason)> =
        summary.skipped.iter().map(|(r, why)| (r.line, why.clone())).collect();
    assert_eq!(
        skipped,
        vec![
            (4, SkipReason::OutOfRange),
            (5, SkipReason::NoAccess),
            (6, SkipReason::OutOfRange),
            (7, SkipReason::OutOfRange),
        ]
    );
}

#[test]
fn pages_and_rights_follow_the_maps_file() {
    let regions = procmaps::parse(MAPS).expect("parses");
    let (lab, summary) = procmaps::build_lab(&regions, presets::x86_64(4), MIB2, "t").expect("imports");
    // 4 KiB: code 2 + libc data 4 + stack 33 + vsyscall 1; 2 MiB: heap 2 + libc text 1.
    assert_eq!(summary.pages_by_size.into_iter().collect::<Vec<_>>(), vec![(KIB4, 40), (MIB2, 3)]);
    let m = &lab.machine;
    let walk =
        |va: u64, access: Access| m.translate(0, VirtAddr::new(va), access, Mode::User).expect("process");
    assert!(walk(0x40_0000, Access::Read).fault().is_none());
    assert!(walk(0x40_0000, Access::Execute).fault().is_some(), "r--p is NX");
    assert!(walk(0x40_1000, Access::Execute).fault().is_none(), "r-xp executes");
    assert!(walk(0x40_1000, Access::Write).fault().is_some(), "r-xp is read-only");
    assert!(walk(0x9f_fff8, Access::Write).fault().is_none(), "the heap is writable");
    assert_eq!(walk(0x9f_fff8, Access::Write).steps.len(), 3, "through a 2 MiB leaf");
    assert!(walk(0x7f00_0020_0000, Access::Read).fault().is_some(), "the guard has no entry");
    assert!(walk(0x7fff_ffff_e000, Access::Write).fault().is_none(), "the stack is writable");
    assert_eq!(m.active_process().name, "demo");
}

#[test]
fn the_cli_imports_and_size_reports_the_tables() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let maps = dir.path().join("maps");
    std::fs::write(&maps, MAPS).expect("write maps");
    let cases =
        [("x86-64", "4k", 16u64), ("x86-64", "2m", 13), ("x86-64-la57", "4k", 18), ("x86-64-la57", "2m", 15)];
    for (format, page, tables) in cases {
        let lab = dir.path().join(format!("{format}-{page}.json"));
        let out = Command::new(PAGELAB)
            .args(["import", "proc-maps"])
            .arg(&maps)
            .arg("-o")
            .arg(&lab)
            .args(["--format", format, "--page-size", page])
            .output()
            .expect("run pagelab");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("7 of 8 regions mapped"), "{stdout}");
        assert!(stdout.contains("skipped line 5"), "{stdout}");
        let out = Command::new(PAGELAB).arg("size").arg(&lab).arg("--json").output().expect("run pagelab");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let json: Value = serde_json::from_slice(&out.stdout).expect("size --json is JSON");
        let process = &json["processes"][0];
        assert_eq!(process["tables"].as_u64(), Some(tables), "{format} {page}: {json}");
        assert_eq!(process["bytes"].as_u64(), Some(tables * 4096), "{format} {page}");
    }
}

#[test]
fn the_cli_compares_formats_and_refuses_malformed_files_with_the_line() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let maps = dir.path().join("maps");
    std::fs::write(&maps, MAPS).expect("write maps");
    let lab = dir.path().join("lab.json");
    let out = Command::new(PAGELAB)
        .args(["import", "proc-maps"])
        .arg(&maps)
        .arg("-o")
        .arg(&lab)
        .arg("--compare")
        .output()
        .expect("run pagelab");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Vec<&str>> =
        stdout.lines().filter(|l| l.starts_with("x86-64")).map(|l| l.split_whitespace().collect()).collect();
    let tables: Vec<&str> = rows.iter().filter_map(|r| r.get(3).copied()).collect();
    assert_eq!(tables, vec!["16", "13", "18", "15"], "{stdout}");

    let bad = dir.path().join("bad");
    std::fs::write(&bad, "00400000-00401000 r-xp 00000000 08:01 1 /bin/x\n00500000-00501000 rwq 0 0:0 0\n")
        .expect("write");
    let out = Command::new(PAGELAB)
        .args(["import", "proc-maps"])
        .arg(&bad)
        .arg("-o")
        .arg(&lab)
        .output()
        .expect("run pagelab");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: permissions \"rwq\""), "{stderr}");
}

/// Imports `maps` into an x86-64 lab with 4 KiB pages in `dir`, and returns the lab's path.
fn import_lab(dir: &std::path::Path, name: &str, maps: &str) -> std::path::PathBuf {
    let file = dir.join(format!("{name}.maps"));
    std::fs::write(&file, maps).expect("write maps");
    let lab = dir.join(format!("{name}.json"));
    let out = Command::new(PAGELAB)
        .args(["import", "proc-maps"])
        .arg(&file)
        .arg("-o")
        .arg(&lab)
        .output()
        .expect("run pagelab");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    lab
}

fn size_of(lab: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(PAGELAB).arg("size").arg(lab).args(extra).output().expect("run pagelab")
}

#[test]
fn size_compare_prints_the_labs_layout_in_every_format() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let lab = import_lab(dir.path(), "demo", MAPS);
    let out = size_of(&lab, &["--compare"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The usual per-process report comes first, then the comparison.
    let usual = stdout.find("process \"demo\" (ASID").expect("per-process report");
    let compared = stdout.find("process \"demo\" rebuilt in other formats").expect("comparison");
    assert!(usual < compared, "{stdout}");
    let rows: Vec<Vec<&str>> = stdout[compared..]
        .lines()
        .filter(|l| l.starts_with("x86-64") || l.starts_with("sv"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let formats: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[2])).collect();
    let expected = [
        ("x86-64", "KiB"),
        ("x86-64", "MiB"),
        ("x86-64-la57", "KiB"),
        ("x86-64-la57", "MiB"),
        ("sv39", "KiB"),
        ("sv39", "MiB"),
        ("sv48", "KiB"),
        ("sv48", "MiB"),
        ("sv57", "KiB"),
        ("sv57", "MiB"),
    ];
    assert_eq!(formats, expected, "{stdout}");
    // The lab's process reads back as the maps file (less the ---p guard): the same tables as an
    // import into each format (worked out by hand above).
    let tables: Vec<&str> = rows.iter().filter_map(|r| r.get(3).copied()).collect();
    assert_eq!(tables[..5], ["16", "13", "18", "15", "7"], "{stdout}");
    assert!(stdout.contains("3 region(s) out of range skipped"), "Sv39: libc and the stack\n{stdout}");

    let by_name = size_of(&lab, &["--compare", "--process", "demo"]);
    assert_eq!(String::from_utf8_lossy(&by_name.stdout), stdout, "demo is the active process");
    let unknown = size_of(&lab, &["--compare", "--process", "nobody"]);
    assert!(!unknown.status.success());
    let without_compare = size_of(&lab, &["--process", "demo"]);
    assert!(!without_compare.status.success(), "--process needs --compare");
}

#[test]
fn size_compare_json_adds_a_row_per_format_and_keeps_the_other_fields() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // Code, heap and stack all below 512 GiB: one PML4 entry, so LA57 adds just its PML5.
    let small = "\
00400000-00402000 r-xp 00000000 08:01 12                       /usr/bin/demo
00600000-00a00000 rw-p 00000000 00:00 0                        [heap]
7ffd0000-7ffd2000 rw-p 00000000 00:00 0                        [stack]
";
    let lab = import_lab(dir.path(), "small", small);
    let plain: Value = serde_json::from_slice(&size_of(&lab, &["--json"]).stdout).expect("JSON");
    let out = size_of(&lab, &["--json", "--compare"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("size --compare --json is JSON");
    for field in ["format", "linear_bytes", "processes"] {
        assert_eq!(json[field], plain[field], "{field} unchanged");
    }
    assert!(plain.get("comparison").is_none(), "only with --compare");
    let rows = json["comparison"].as_array().expect("comparison array");
    assert_eq!(rows.len(), 10);
    let row = |format: &str, page: u64| {
        rows.iter()
            .find(|r| r["format"] == format && r["max_page"] == page)
            .unwrap_or_else(|| panic!("row {format} {page}: {json}"))
    };
    let x86 = row("x86-64", KIB4);
    for field in ["format", "max_page", "tables", "bytes", "linear_bytes", "pages_by_size", "skipped_regions"]
    {
        assert!(!x86[field].is_null(), "{field}: {x86}");
    }
    assert!(x86.get("error").is_none(), "{x86}");
    let tables = |r: &Value| r["tables"].as_u64().expect("tables");
    // PML4; a PDPT; PDs for PDPT[0] and PDPT[1] (the stack is near 2 GiB); PTs for the code,
    // the two heap slots and the stack.
    assert_eq!(tables(x86), 1 + 1 + 2 + 4);
    assert_eq!(x86["bytes"].as_u64(), Some(tables(x86) * 4096));
    assert_eq!(x86["linear_bytes"].as_u64(), Some(8 << 36));
    assert_eq!(x86["pages_by_size"]["4096"].as_u64(), Some(2 + 1024 + 2));
    assert_eq!(tables(row("x86-64-la57", KIB4)), tables(x86) + 1, "one more level on top");
    assert_eq!(tables(row("x86-64-la57", MIB2)), tables(row("x86-64", MIB2)) + 1);
    assert_eq!(row("x86-64", MIB2)["pages_by_size"]["2097152"].as_u64(), Some(2), "the heap");

    // A layout Sv39 cannot address at all: its rows carry an error instead of numbers.
    let high = import_lab(dir.path(), "high", "7ffffffde000-7ffffffff000 rw-p 0 00:00 0 [stack]\n");
    let json: Value = serde_json::from_slice(&size_of(&high, &["--json", "--compare"]).stdout).expect("JSON");
    let rows = json["comparison"].as_array().expect("comparison array");
    let sv39: Vec<&Value> = rows.iter().filter(|r| r["format"] == "sv39").collect();
    assert_eq!(sv39.len(), 2);
    for r in sv39 {
        let error = r["error"].as_str().expect("an error text");
        assert!(error.contains("no region fits the sv39 address space"), "{error}");
        assert!(r["tables"].is_null(), "{r}");
    }
    assert!(rows.iter().filter(|r| r["format"] != "sv39").all(|r| r.get("error").is_none()));
}

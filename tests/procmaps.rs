//! `/proc/PID/maps` import: a small hand-written maps file, imported for 4- and 5-level x86-64
//! (and Sv48, Sv39) with 4 KiB and 2 MiB pages; the table counts were worked out by hand below.
//! Also through the real binary: `pagelab import proc-maps` then `pagelab size --json`.

use pagelab::lab::procmaps::{self, SkipReason};
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
    let size = table_size(&m.mem, &m.format, m.active_process().root);
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
    let walk = |va: u64, access: Access| m.translate(0, va, access, Mode::User).expect("process");
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

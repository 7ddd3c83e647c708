//! Real kernels' page-table dumps: xv6's vmprint (imported at its real physical addresses and
//! exported back byte for byte), Linux's x86-64 ptdump and QEMU's `info mem` (mapped with their
//! page sizes and rights, checked by walking addresses in the resulting labs).

use pagelab::lab::{Lab, io};
use pagelab::sim::{Access, Mode};
use pagelab::sim::{PhysAddr, VirtAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

const PAGELAB: &str = env!("CARGO_BIN_EXE_pagelab");

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dumps").join(name)
}

/// Runs pagelab; returns (success, stdout, stderr).
fn pagelab(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(PAGELAB).args(args).output().expect("runs pagelab");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Imports `file` (a path) as `kind` into a fresh lab; returns the lab, its path and the output.
fn import(kind: &str, file: &Path) -> (Lab, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_path = dir.path().join("lab.json");
    let (ok, stdout, stderr) =
        pagelab(&["import", kind, &file.to_string_lossy(), "-o", &out_path.to_string_lossy()]);
    assert!(ok, "import {kind} {}: {stderr}", file.display());
    let lab = io::load(&out_path).expect("the imported lab loads");
    (lab, dir, stdout)
}

fn import_text(kind: &str, text: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("dump.txt");
    std::fs::write(&file, text).expect("writes");
    let out = dir.path().join("lab.json");
    pagelab(&["import", kind, &file.to_string_lossy(), "-o", &out.to_string_lossy()])
}

fn walk(lab: &Lab, va: u64, access: Access, mode: Mode) -> pagelab::sim::mmu::Translation {
    lab.machine.translate(0, VirtAddr::new(va), access, mode).expect("process 0")
}

// ---- xv6 vmprint ----

#[test]
fn vmprint_round_trips_byte_for_byte_in_both_styles() {
    for (file, extra) in [("xv6-vmprint.txt", None), ("xv6-vmprint-2020.txt", Some("--indices"))] {
        let path = data(file);
        let (_, dir, _) = import("vmprint", &path);
        let lab_path = dir.path().join("lab.json");
        let mut args = vec!["export", "vmprint", lab_path.to_str().expect("utf-8")];
        args.extend(extra);
        let (ok, exported, stderr) = pagelab(&args);
        assert!(ok, "{stderr}");
        let original = std::fs::read_to_string(&path).expect("reads");
        assert_eq!(exported, original, "{file}");
        // --process by name gives the same single dump.
        args.extend(["--process", "xv6"]);
        assert_eq!(pagelab(&args).1, original);
    }
}

/// The handout's dump by hand: va 0x1000 has VPN[2] = 0, VPN[1] = 0, VPN[0] = 1, so the walk
/// reads the root at 0x87f22000 entry 0, the table at 0x87f1e000 (the root entry's pa) entry 0,
/// the table at 0x87f1d000 entry 1 (address 0x87f1d008), whose pte 0x21fc70d7 has PPN 0x87f1c
/// and V, R, W, U, A, D set: a user write succeeds at pa 0x87f1c000 + offset.
#[test]
fn vmprint_tables_sit_at_their_real_physical_addresses() {
    let (lab, _dir, out) = import("vmprint", &data("xv6-vmprint.txt"));
    assert_eq!(lab.machine.format().name, "sv39");
    let t = walk(&lab, 0x1234, Access::Write, Mode::User);
    assert!(t.fault().is_none(), "{:?}", t.outcome);
    let entries: Vec<u64> = t.steps.iter().map(|s| s.entry_addr.get()).collect();
    assert_eq!(entries, vec![0x87f2_2000, 0x87f1_e000, 0x87f1_d008]);
    assert_eq!(t.steps.last().map(|s| s.raw), Some(0x21fc_70d7));
    assert_eq!(t.pa(), Some(PhysAddr::new(0x87f1_c234)));
    // The trampoline (last line): VPN[2] = 255 (sign-extended 0xffffffffc0000000), VPN[1] = 511,
    // VPN[0] = 511; pte 0x2000184b is V, R, X, A without U: a supervisor fetch reaches 0x80006000.
    let t = walk(&lab, 0xffff_ffff_ffff_f000, Access::Execute, Mode::Supervisor);
    assert_eq!(t.pa(), Some(PhysAddr::new(0x8000_6000)));
    assert!(walk(&lab, 0xffff_ffff_ffff_f000, Access::Read, Mode::User).fault().is_some(), "no U");
    // Memory reaches the highest page printed (0x87f53000, ending 0x87f54000), to the next MiB.
    assert_eq!(lab.machine.mem().size(), 0x8800_0000);
    // 11 entries in 5 tables (root, two middle, two last-level), 7 leaf pages.
    assert!(out.contains("1 process(es), 11 entries in 5 table(s), pages 7 x 4 KiB"), "{out}");
}

#[test]
fn vmprint_errors_name_the_line() {
    let head = "page table 0x0000000087f22000\n";
    let cases = [
        // pa is not the pte's PPN (0x21fc7801 >> 10 << 12 = 0x87f1e000).
        (" ..0x0000000000000000: pte 0x0000000021fc7801 pa 0x0000000087f1f000\n", 2, "PPN"),
        // A second-level line with no first-level line above it.
        (" .. ..0x0000000000000000: pte 0x0000000021fc7401 pa 0x0000000087f1d000\n", 2, "above"),
        // Entry 0 of the root maps 0..1 GiB, not 0x40000000 (which is entry 1's start): fine;
        // 0x40001000 is no entry's start.
        (" ..0x0000000040001000: pte 0x0000000021fc7801 pa 0x0000000087f1e000\n", 2, "expected 0x40000000"),
        (" ..0x0000000000000000: pte 0x0000000021fc7800 pa 0x0000000087f1e000\n", 2, "V=0"),
        (" ..0x0000000000000000: pte 0x21fc7801\n", 2, "pte 0x... pa 0x..."),
        // A table at 1 TiB: beyond any xv6 memory.
        (" ..0x0000000000000000: pte 0x0000004000000001 pa 0x0000010000000000\n", 2, "GiB"),
    ];
    for (line, number, expected) in cases {
        let (ok, _, stderr) = import_text("vmprint", &format!("{head}{line}"));
        assert!(!ok, "{line}");
        assert!(stderr.contains(&format!("line {number}: ")), "{line}: {stderr}");
        assert!(stderr.contains(expected), "{line}: {stderr}");
    }
    let (ok, _, stderr) = import_text("vmprint", "hello\n");
    assert!(!ok && stderr.contains("no `page table"), "{stderr}");
}

// ---- Linux ptdump ----

/// Expectations from tests/data/dumps/linux-ptdump.txt read by hand.
#[test]
fn ptdump_maps_each_range_with_its_page_size_and_flags() {
    let (lab, _dir, out) = import("ptdump", &data("linux-ptdump.txt"));
    // 15 present runs. 4 KiB pages: 512 in the direct map's first 2 MiB, 3 vmalloc, 94 kernel
    // data (0x5e000), 5 modules, 2 fixmap, 1 vsyscall = 617. 2 MiB: 511 + 9 + 4 = 524. 1 GiB: 1.
    assert!(out.contains("15 range(s) mapped (617 x 4 KiB, 524 x 2 MiB, 1 x 1 GiB"), "{out}");
    assert!(out.contains("0 skipped"), "{out}");
    assert!(out.contains("8 unmapped run(s) in 9 section(s)"), "{out}");
    let p = lab.machine.format();
    let bit = |raw: u64, name: &str| {
        let field = p.field_by_name(name).expect("field");
        raw >> field.lsb & 1 == 1
    };
    // (address, walk steps = 4 for pte, 3 for pmd, 2 for pud, R/W, U/S, NX, G)
    let cases: [(u64, usize, bool, bool, bool, bool); 8] = [
        (0xffff_8880_0000_0000, 4, true, false, true, true),
        (0xffff_8880_0009_9000, 4, false, false, true, true),
        (0xffff_8880_0020_0000, 3, true, false, true, true),
        (0xffff_8880_4000_0000, 2, true, false, true, true),
        (0xffff_ffff_8100_0000, 3, false, false, false, true),
        (0xffff_ffff_82a5_d000, 4, true, false, true, true),
        (0xffff_ffff_c000_0000, 4, false, false, false, true),
        (0xffff_ffff_ff60_0000, 4, false, true, false, true),
    ];
    for (va, steps, rw, user, nx, global) in cases {
        let t = walk(&lab, va, Access::Read, Mode::Supervisor);
        assert!(t.fault().is_none(), "{va:#x}: {:?}", t.outcome);
        assert_eq!(t.steps.len(), steps, "{va:#x}");
        let leaf = t.steps.last().expect("a leaf").raw;
        assert_eq!(
            (bit(leaf, "R/W"), bit(leaf, "U/S"), bit(leaf, "NX"), bit(leaf, "G")),
            (rw, user, nx, global),
            "{va:#x}"
        );
    }
    // The rights act: kernel text runs but is not writable; the direct map is not executable;
    // only the vsyscall page is open to user mode; holes are not mapped.
    assert!(walk(&lab, 0xffff_ffff_8100_0000, Access::Execute, Mode::Supervisor).fault().is_none());
    assert!(walk(&lab, 0xffff_ffff_8100_0000, Access::Write, Mode::Supervisor).fault().is_some());
    assert!(walk(&lab, 0xffff_8880_0000_0000, Access::Execute, Mode::Supervisor).fault().is_some());
    assert!(walk(&lab, 0xffff_8880_0000_0000, Access::Read, Mode::User).fault().is_some());
    assert!(walk(&lab, 0xffff_ffff_ff60_0000, Access::Read, Mode::User).fault().is_none());
    assert!(walk(&lab, 0xffff_c900_0000_2000, Access::Read, Mode::Supervisor).fault().is_some());
    // PCD kept on the uncached vmalloc page.
    let t = walk(&lab, 0xffff_c900_0000_3000, Access::Read, Mode::Supervisor);
    assert!(bit(t.steps.last().expect("leaf").raw, "PCD"));
}

#[test]
fn ptdump_lists_what_it_cannot_represent() {
    // Line 2: a 128 GiB run of 1 GiB pages (over the 64 GiB cap); line 3: a pmd run not 2 MiB
    // aligned; line 4: a present pgd run (a 512 GiB page); line 5: fine.
    let text = "\
---[ Low Kernel Mapping ]---
0xffff888000000000-0xffff88a000000000         128G     RW         PSE GLB NX pud
0xffff88a000001000-0xffff88a000201000           2M     RW         PSE GLB NX pmd
0xffff890000000000-0xffff898000000000         512G     RW             GLB NX pgd
0xffffffff81000000-0xffffffff81200000           2M     ro         PSE GLB x  pmd
";
    let (ok, out, stderr) = import_text("ptdump", text);
    assert!(ok, "{stderr}");
    assert!(out.contains("1 range(s) mapped (1 x 2 MiB"), "{out}");
    assert!(out.contains("3 skipped"), "{out}");
    assert!(
        out.contains("skipped line 2: 0xffff888000000000-0xffff88a000000000: beyond the import limit"),
        "{out}"
    );
    assert!(out.contains("skipped line 3: ") && out.contains("not aligned to its 2 MiB pages"), "{out}");
    assert!(out.contains("skipped line 4: ") && out.contains("512 GiB pages do not exist"), "{out}");
}

#[test]
fn ptdump_errors_name_the_line() {
    let good = "0xffff888000000000-0xffff888000001000           4K     RW                 GLB NX pte\n";
    let cases = [
        ("0xffff888000000000-0xffff888000002000           4K     RW     GLB NX pte\n", "size 4K"),
        ("0xffff888000000000-0xffff888000001000           4K     RW     GLB NX  pxe\n", "level"),
        ("0xffff888000000000-0xffff888000001000           4K     RW     BIG NX pte\n", "flag \"BIG\""),
        ("0xffff888000001000-0xffff888000000000           4K     RW     GLB NX pte\n", "reversed"),
        ("0xffff888000000000                              4K     RW     GLB NX pte\n", "0xSTART-0xEND"),
    ];
    for (line, expected) in cases {
        let (ok, _, stderr) = import_text("ptdump", &format!("---[ x ]---\n{good}{line}"));
        assert!(!ok, "{line}");
        assert!(stderr.contains("line 3: ") && stderr.contains(expected), "{line}: {stderr}");
    }
}

// ---- QEMU info mem ----

#[test]
fn info_mem_ranges_walk_to_present_pages_with_their_rights() {
    let (lab, _dir, out) = import("qemu-info-mem", &data("qemu-info-mem.txt"));
    // Runs split by alignment: 1 + 2 + 33 (0x21000) + 94 (0x5e000) 4 KiB pages, 13 2 MiB pages
    // (0x1a00000 at a 16 MiB-aligned start), the direct map's first GiB as one 1 GiB page.
    assert!(out.contains("(130 x 4 KiB, 13 x 2 MiB, 1 x 1 GiB"), "{out}");
    let ok = |va, access, mode| walk(&lab, va, access, mode).fault().is_none();
    // ur-: user code, readable and executable, not writable.
    assert!(ok(0x40_0000, Access::Read, Mode::User) && ok(0x40_0000, Access::Execute, Mode::User));
    assert!(!ok(0x40_0000, Access::Write, Mode::User));
    // urw: data and stack.
    assert!(ok(0x60_1000, Access::Write, Mode::User) && ok(0x7fff_ffff_e000, Access::Write, Mode::User));
    assert!(!ok(0x60_2000, Access::Read, Mode::User), "past the data");
    // -rw: the direct map, supervisor only, one 1 GiB page (two steps: PML4, PDPT leaf).
    assert!(ok(0xffff_8880_3fff_f000, Access::Write, Mode::Supervisor));
    assert!(!ok(0xffff_8880_0000_0000, Access::Read, Mode::User));
    assert_eq!(walk(&lab, 0xffff_8880_0000_0000, Access::Read, Mode::Supervisor).steps.len(), 2);
    // -r-: kernel text in 2 MiB pages, read-only even for the kernel (CR0.WP).
    let text = walk(&lab, 0xffff_ffff_8100_0000, Access::Read, Mode::Supervisor);
    assert!(text.fault().is_none() && text.steps.len() == 3);
    assert!(!ok(0xffff_ffff_8100_0000, Access::Write, Mode::Supervisor));
}

#[test]
fn info_mem_errors_name_the_line() {
    let good = "0000000000400000-0000000000401000 0000000000001000 ur-\n";
    let cases = [
        ("0000000000400000-0000000000402000 0000000000001000 ur-\n", "size"),
        ("0000000000600000-0000000000601000 0000000000001000 uxw\n", "rights"),
        ("0000000000600000-0000000000601000 ur-\n", "START-END SIZE PROT"),
        ("0000000000600800-0000000000601800 0000000000001000 urw\n", "4 KiB aligned"),
    ];
    for (line, expected) in cases {
        let (ok, _, stderr) = import_text("qemu-info-mem", &format!("(qemu) info mem\n{good}{line}"));
        assert!(!ok, "{line}");
        assert!(stderr.contains("line 3: ") && stderr.contains(expected), "{line}: {stderr}");
    }
}

/// tests/data/dumps/qemu-info-tlb.txt by hand: two 4 KiB pages, a 2 MiB page at 0x600000 (not
/// 1 GiB aligned), the direct map's 1 GiB page at pa 0 (1 GiB aligned, the next line 0x7f81000000
/// bytes later), and two 2 MiB kernel text pages (the second follows the first 2 MiB later).
#[test]
fn info_tlb_pages_sit_at_their_physical_addresses() {
    let (lab, _dir, out) = import("qemu-info-tlb", &data("qemu-info-tlb.txt"));
    assert!(out.contains("6 range(s) mapped (2 x 4 KiB, 3 x 2 MiB, 1 x 1 GiB"), "{out}");
    let pa = |va, access, mode| walk(&lab, va, access, mode).pa();
    assert_eq!(pa(0x40_0123, Access::Execute, Mode::User), Some(PhysAddr::new(0x123_4123)));
    assert_eq!(pa(0x40_0123, Access::Write, Mode::User), None, "no W");
    assert_eq!(pa(0x40_1008, Access::Write, Mode::User), Some(PhysAddr::new(0x123_5008)));
    assert_eq!(pa(0x40_1008, Access::Execute, Mode::User), None, "X is NX");
    assert_eq!(pa(0x60_1234, Access::Write, Mode::User), Some(PhysAddr::new(0x140_1234)));
    assert_eq!(pa(0xffff_8880_1234_5678, Access::Write, Mode::Supervisor), Some(PhysAddr::new(0x1234_5678)));
    assert_eq!(walk(&lab, 0xffff_8880_1234_5678, Access::Read, Mode::Supervisor).steps.len(), 2, "1 GiB");
    assert_eq!(pa(0xffff_ffff_8120_0010, Access::Execute, Mode::Supervisor), Some(PhysAddr::new(0x120_0010)));
    assert_eq!(pa(0xffff_ffff_8100_0000, Access::Write, Mode::Supervisor), None, "no W");
    assert_eq!(walk(&lab, 0xffff_ffff_8100_0000, Access::Read, Mode::Supervisor).steps.len(), 3, "2 MiB");
    let (ok, _, stderr) = import_text("qemu-info-tlb", "0000000000400000: 0000000001234000 ----A--Z-\n");
    assert!(!ok && stderr.contains("line 1: ") && stderr.contains("XGPDACTUW"), "{stderr}");
}

// ---- the sample labs ----

#[test]
fn the_imported_sample_labs_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (kind, file) in [
        ("vmprint", "xv6-vmprint"),
        ("ptdump", "linux-ptdump"),
        ("qemu-info-mem", "qemu-info-mem"),
        ("qemu-info-tlb", "qemu-info-tlb"),
    ] {
        // Imported from the repository's root, as the committed file was.
        let dir = tempfile::tempdir().expect("dir");
        let fresh_path = dir.path().join("lab.json");
        let out = Command::new(PAGELAB)
            .current_dir(root)
            .args(["import", kind, &format!("tests/data/dumps/{file}.txt"), "-o"])
            .arg(&fresh_path)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // The `$schema` link is relative to where each is saved; the rest must be the same.
        let fresh = pagelab::lab::Lab { schema: None, ..io::load(&fresh_path).expect("loads") };
        let saved_path = root.join(format!("labs/imports/{file}.json"));
        let saved = io::load(&saved_path).unwrap_or_else(|e| panic!("{}: {e}", saved_path.display()));
        let saved = pagelab::lab::Lab { schema: None, ..saved };
        assert_eq!(
            saved, fresh,
            "labs/imports/{file}.json is out of date: pagelab import {kind} tests/data/dumps/{file}.txt -o labs/imports/{file}.json"
        );
    }
}

/// Every sample with each line cut short or bytes swapped: the parsers and builders return an
/// error or a lab, never panic.
#[test]
fn mangled_dumps_are_refused_or_imported_never_a_panic() {
    use pagelab::lab::{dump_lab, ptdump, qemu_info, vmprint};
    let run = |name: &str, text: &str| match name {
        "xv6-vmprint.txt" | "xv6-vmprint-2020.txt" => {
            if let Ok(parsed) = vmprint::parse(text) {
                let _ = vmprint::build_lab(&parsed, "t");
            }
        }
        "linux-ptdump.txt" => {
            if let Ok(dump) = ptdump::parse(text) {
                let _ = dump_lab::build_lab(&dump.mappings, "t", "t");
            }
        }
        "qemu-info-mem.txt" => {
            if let Ok(m) = qemu_info::parse_info_mem(text) {
                let _ = dump_lab::build_lab(&m, "t", "t");
            }
        }
        _ => {
            if let Ok(m) = qemu_info::parse_info_tlb(text) {
                let _ = dump_lab::build_lab(&m, "t", "t");
            }
        }
    };
    for name in [
        "xv6-vmprint.txt",
        "xv6-vmprint-2020.txt",
        "linux-ptdump.txt",
        "qemu-info-mem.txt",
        "qemu-info-tlb.txt",
    ] {
        let text = std::fs::read_to_string(data(name)).expect("reads");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let chars: Vec<char> = line.chars().collect();
            for cut in (0..chars.len()).step_by(3) {
                let mut mangled: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                mangled[i] = chars[..cut].iter().collect();
                run(name, &mangled.join("\n"));
                let mut swapped = chars.clone();
                swapped[cut] = ['f', '0', '-', '.', ' ', 'x', '7'][cut % 7];
                mangled[i] = swapped.iter().collect();
                run(name, &mangled.join("\n"));
            }
        }
    }
}

/// A lab built by pagelab (the Sv39 sample: two processes sharing a kernel half, 4 KiB and
/// 2 MiB pages) exported, imported and exported again: the text is the same, and every mapped
/// page of both processes translates to the same physical address with the same rights.
#[test]
fn an_sv39_lab_survives_export_and_import() {
    use pagelab::lab::{samples, vmprint};
    use pagelab::sim::table;
    let original = samples::build("sv39").expect("the sample");
    let text = vmprint::export(&original.machine, None, vmprint::Style::Address).expect("exports");
    assert_eq!(text.matches("page table 0x").count(), 2);
    let (imported, _) = vmprint::build_lab(&vmprint::parse(&text).expect("parses"), "t").expect("builds");
    assert_eq!(vmprint::export(&imported.machine, None, vmprint::Style::Address).expect("exports"), text);
    let m = &original.machine;
    let mut checked = 0;
    for (p, process) in m.processes().iter().enumerate() {
        for leaf in table::leaves(m.mem(), m.format(), process.root) {
            for (access, mode) in
                [(Access::Read, Mode::User), (Access::Write, Mode::User), (Access::Execute, Mode::Supervisor)]
            {
                let before = m.translate(p, leaf.va, access, mode).expect("process").pa();
                let after = imported.machine.translate(p, leaf.va, access, mode).expect("process").pa();
                assert_eq!(before, after, "process {p} {:#x} {access:?} {mode:?}", leaf.va);
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "{checked}");
}

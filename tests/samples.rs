//! The sample labs: every labs/*.json loads, validates and equals what `lab::samples` builds (so
//! the files stay up to date), `pagelab sample` writes them, and the x86-64 and Sv39 layouts
//! behave as their descriptions say.

use pagelab::sim::{PhysAddr, VirtAddr};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use pagelab::lab::{Lab, io, samples};
use pagelab::sim::mmu::Outcome;
use pagelab::sim::{Access, FaultKind, Machine, Mode, presets};

const LABS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/labs");
const PAGELAB: &str = env!("CARGO_BIN_EXE_pagelab");
const REGENERATE: &str = "regenerate with: for n in $(pagelab sample --list | cut -d' ' -f1); do \
                          pagelab sample $n -o labs/$n.json; done";

fn lab_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(LABS)
        .unwrap_or_else(|e| panic!("{LABS}: {e}"))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{e}")).path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

fn sample(name: &str) -> Lab {
    samples::build(name).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_lab_file_loads_and_equals_its_sample() {
    let files = lab_files();
    let on_disk: BTreeSet<String> = files.iter().map(|path| stem(path)).collect();
    let built: BTreeSet<String> = samples::names().map(str::to_string).collect();
    assert_eq!(on_disk, built, "labs/ holds exactly one file per sample; {REGENERATE}");
    for path in &files {
        let name = stem(path);
        let loaded = io::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Saved in labs/, a sample links to the repository's docs/lab.schema.json.
        let expected = Lab { schema: Some("../docs/lab.schema.json".into()), ..sample(&name) };
        assert_eq!(loaded, expected, "labs/{name}.json is out of date; {REGENERATE}");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text, expected.to_json(), "labs/{name}.json is out of date; {REGENERATE}");
        assert!(!loaded.title.is_empty() && loaded.description.len() > 200, "{name} needs a description");
    }
}

#[test]
fn there_is_a_sample_for_every_preset() {
    let formats: BTreeSet<String> =
        samples::names().map(|name| sample(name).machine.format().name.clone()).collect();
    for preset in presets::NAMES {
        assert!(formats.contains(preset), "no sample uses {preset}");
    }
}

#[test]
fn the_cli_lists_and_writes_the_samples() {
    let out = Command::new(PAGELAB).args(["sample", "--list"]).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success());
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_string))
        .collect();
    assert_eq!(listed, samples::names().collect::<Vec<_>>());

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("sv39.json");
    let out = Command::new(PAGELAB)
        .args(["sample", "sv39", "-o"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let written = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    // Saved alone in a folder, the sample gets pagelab's schema beside it and a link to it.
    let expected = Lab { schema: Some("lab.schema.json".into()), ..sample("sv39") };
    assert_eq!(written, expected.to_json());
    assert!(dir.path().join("lab.schema.json").is_file());

    let out = Command::new(PAGELAB)
        .args(["sample", "vax", "-o"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("x86-64"), "the error lists the samples");
}

/// `Ok((pa, page_shift, global))` or the fault's kind.
fn try_access(
    m: &Machine,
    process: usize,
    va: u64,
    access: Access,
    mode: Mode,
) -> Result<(u64, u32, bool), FaultKind> {
    let walk = m.translate(process, VirtAddr::new(va), access, mode).unwrap_or_else(|e| panic!("{e}"));
    match walk.outcome {
        Outcome::Mapped(mapped) => Ok((mapped.pa.get(), mapped.page_shift, mapped.global)),
        Outcome::Fault(fault) => Err(fault.kind),
    }
}

fn byte_at(m: &Machine, pa: u64) -> u8 {
    m.mem().read_u8(PhysAddr::new(pa)).unwrap_or_else(|e| panic!("{e}"))
}

/// What both layouts promise: code is executable and not writable from user mode, data is not
/// executable, the stack sits near the top of the user half, and the kernel half is
/// supervisor-only, global and shared by both processes.
fn check_layout(lab: &str, code: u64, data: u64, stack: u64, kernel: u64) {
    let m = sample(lab).machine;
    let names: Vec<&str> = m.processes().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["shell", "editor"], "{lab}");
    let user = Mode::User;
    for process in 0..2 {
        let at = |va, access, mode| try_access(&m, process, va, access, mode);
        assert!(at(code, Access::Execute, user).is_ok(), "{lab}: code executes");
        assert!(at(code, Access::Read, user).is_ok(), "{lab}: code is readable");
        assert_eq!(
            at(code, Access::Write, user),
            Err(FaultKind::WriteProtection),
            "{lab}: code is read-only"
        );
        assert!(at(data, Access::Write, user).is_ok(), "{lab}: data is writable");
        assert_eq!(at(data, Access::Execute, user), Err(FaultKind::ExecuteProtection), "{lab}: data is NX");
        assert!(at(stack, Access::Write, user).is_ok(), "{lab}: the stack is writable");
        assert_eq!(at(kernel, Access::Read, user), Err(FaultKind::UserProtection), "{lab}: kernel from user");
        let (_, shift, global) =
            at(kernel, Access::Read, Mode::Supervisor).unwrap_or_else(|k| panic!("{lab}: {k:?}"));
        assert!(global, "{lab}: kernel pages are global");
        assert_eq!(shift, 21, "{lab}: the kernel text is a 2 MiB page");
    }
    // Same virtual addresses, different frames for the programs; the same frame for the kernel.
    let pa = |process, va, mode| try_access(&m, process, va, Access::Read, mode).map(|(pa, _, _)| pa);
    assert_ne!(pa(0, data, user), pa(1, data, user), "{lab}: each process has its own data");
    assert_eq!(pa(0, kernel, Mode::Supervisor), pa(1, kernel, Mode::Supervisor), "{lab}: one kernel");
    // Shared below the root: the kernel walk reads the same second-level table in both.
    let second_table = |process| {
        let walk = m
            .translate(process, VirtAddr::new(kernel), Access::Read, Mode::Supervisor)
            .unwrap_or_else(|e| panic!("{e}"));
        (walk.steps[0].table_addr, walk.steps[1].table_addr)
    };
    let (root0, below0) = second_table(0);
    let (root1, below1) = second_table(1);
    assert_ne!(root0, root1, "{lab}: each process has its own root");
    assert_eq!(below0, below1, "{lab}: the kernel's tables are shared");
    // Recognisable bytes: the data pages start with the program's name.
    let data_pa = pa(0, data, user).unwrap_or_else(|k| panic!("{k:?}"));
    assert_eq!(byte_at(&m, data_pa), b's', "{lab}: \"shell: ...\"");
    // The stack is in the last 64 KiB below the top of the user half (bit va_bits - 2 clear).
    let top = 1u64 << (m.format().va_bits - 1);
    assert!(stack < top && top - stack <= 0x1_0000, "{lab}: stack {stack:#x}");
}

#[test]
fn the_x86_64_layout_behaves_as_described() {
    let (code, data, stack, kernel) =
        (0x5555_5555_4000, 0x5555_5555_8000, 0x7fff_ffff_e000, 0xffff_ffff_8000_0000);
    check_layout("x86-64", code, data, stack, kernel);
    let m = sample("x86-64").machine;
    // The editor's heap is a 2 MiB page; the C library's frame is shared.
    let big_heap =
        try_access(&m, 1, 0x5555_5560_1234, Access::Write, Mode::User).unwrap_or_else(|k| panic!("{k:?}"));
    assert_eq!(big_heap.1, 21);
    assert_eq!(byte_at(&m, big_heap.0), b'h', "\"heap: ...\" at offset 0x1234");
    let libc = 0x7fff_f7c0_0000;
    assert_eq!(
        try_access(&m, 0, libc, Access::Execute, Mode::User).map(|r| r.0),
        try_access(&m, 1, libc, Access::Execute, Mode::User).map(|r| r.0)
    );
    // The welcome lab is the same machine with other words around it.
    let welcome = sample("welcome");
    assert_eq!(welcome.machine, m);
    assert!(welcome.title.contains("Welcome"));
}

#[test]
fn the_sv39_layout_behaves_as_described() {
    check_layout("sv39", 0x1_0000, 0x1_3000, 0x3f_ffff_e000, 0xffff_ffff_8000_0000);
    let m = sample("sv39").machine;
    // Supervisor code may not read user pages unless SUM is set.
    assert_eq!(
        try_access(&m, 0, 0x1_3000, Access::Read, Mode::Supervisor),
        Err(FaultKind::SupervisorProtection)
    );
}

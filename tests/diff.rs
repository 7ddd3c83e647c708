//! Comparing two processes (`sim::compare` and `pagelab diff`) against layouts whose answer is
//! known: the sample x86-64 lab, as its description lays it out (PIE programs at the same
//! addresses in different frames, one shared C library page, a kernel half built once and shared
//! through the PML4's entries 256-511), a hand-built lab, and a clone (fork without COW).

use pagelab::sim::compare::{self, RangeKind};
use pagelab::sim::machine::{MapRequest, MapTarget};
use pagelab::sim::{EntryAddr, PhysAddr, VirtAddr};
use pagelab::sim::{Machine, presets};
use serde_json::Value;
use std::process::Command;

const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;
const LIBC: u64 = 0x7fff_f7c0_0000;

fn pagelab(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pagelab")).args(args).output().expect("pagelab runs");
    assert!(out.status.success(), "pagelab {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn sample_x86_64_shares_the_kernel_half_and_nothing_of_the_user_halves_but_libc() {
    let json: Value = serde_json::from_str(&pagelab(&[
        "diff",
        "labs/x86-64.json",
        "--process",
        "shell",
        "--process",
        "editor",
        "--json",
    ]))
    .expect("JSON");
    assert_eq!((json["a"].as_str(), json["b"].as_str()), (Some("shell"), Some("editor")));
    let ranges = json["ranges"].as_array().expect("ranges");
    let start = |r: &Value| r["start"].as_u64().expect("start");
    let kind = |r: &Value| r["kind"].as_str().expect("kind").to_string();
    // The kernel half: text (2 MiB), data (2 pages), stacks (2 pages), all shared, supervisor.
    let kernel: Vec<&Value> = ranges.iter().filter(|r| start(r) >= KERNEL_HALF).collect();
    let kernel_bytes: u64 = kernel.iter().map(|r| r["bytes"].as_u64().expect("bytes")).sum();
    assert_eq!(kernel_bytes, (2 << 20) + 2 * 4096 + 2 * 4096);
    assert!(kernel.iter().all(|r| kind(r) == "shared" && r["rights_a"]["user"] == false), "{kernel:?}");
    // The user half: only the C library page is shared; code, data and stack are at the same
    // addresses in different frames; the heaps are in one process each.
    let user: Vec<(u64, String)> =
        ranges.iter().filter(|r| start(r) < KERNEL_HALF).map(|r| (start(r), kind(r))).collect();
    let expected: Vec<(u64, &str)> = vec![
        (0x5555_5555_4000, "different-frames"),
        (0x5555_5555_8000, "different-frames"),
        (0x5555_5555_a000, "only-a"),
        (0x5555_5560_0000, "only-b"),
        (LIBC, "shared"),
        (0x7fff_ffff_d000, "different-frames"),
    ];
    let got: Vec<(u64, &str)> = user.iter().map(|(s, k)| (*s, k.as_str())).collect();
    assert_eq!(got, expected);
    // Code (3 pages) stays one line: the pages agree in kind and rights.
    assert_eq!(ranges[0]["bytes"], 3 * 4096);
    // Shared tables: all in the kernel half, and the sharing starts below the PML4 (each process
    // has its own root), at the PDPTs the kernel half's root entries point to.
    let tables = json["shared_tables"].as_array().expect("tables");
    assert!(!tables.is_empty());
    assert!(tables.iter().all(|t| t["va"].as_u64().expect("va") >= KERNEL_HALF), "{tables:?}");
    assert!(tables.iter().filter(|t| t["top"] == true).all(|t| t["level_name"] == "PDPT"));
    let text = pagelab(&["diff", "labs/x86-64.json", "--process", "shell", "--process", "editor"]);
    assert!(text.contains("only in shell") && text.contains("only in editor"), "{text}");
    let shared_lines = text.lines().filter(|l| l.contains("iB  shared")).count();
    assert_eq!(shared_lines, 4, "libc and three kernel ranges, one line each: {text}");
}

fn machine() -> Machine {
    Machine::new(presets::by_name("x86-64").expect("preset"), 16 << 20).expect("machine")
}

fn map(m: &mut Machine, process: usize, va: u64, pages: u64, to: Option<u64>, flags: &[&str]) {
    let request = MapRequest {
        va: VirtAddr::new(va),
        len: pages * 4096,
        target: to.map_or(MapTarget::Alloc, |pa| MapTarget::To(PhysAddr::new(pa))),
        page_size: None,
        flags: Some(flags.iter().map(|f| f.to_string()).collect()),
    };
    m.map(process, &request).expect("map");
}

#[test]
fn rights_that_differ_split_a_shared_range() {
    let mut m = machine();
    let b = m.add_process("b").expect("process");
    // Four pages at the same frames in both; the third is read-only in b.
    map(&mut m, 0, 0x10_0000, 4, Some(0x80_0000), &["R/W", "U/S"]);
    map(&mut m, b, 0x10_0000, 2, Some(0x80_0000), &["R/W", "U/S"]);
    map(&mut m, b, 0x10_2000, 1, Some(0x80_2000), &["U/S"]);
    map(&mut m, b, 0x10_3000, 1, Some(0x80_3000), &["R/W", "U/S"]);
    let d = compare::diff(&m, 0, b).expect("diff");
    let got: Vec<(u64, u64, RangeKind, bool)> =
        d.ranges.iter().map(|r| (r.start.get(), r.bytes, r.kind, r.rights_differ())).collect();
    assert_eq!(
        got,
        vec![
            (0x10_0000, 0x2000, RangeKind::Shared, false),
            (0x10_2000, 0x1000, RangeKind::Shared, true),
            (0x10_3000, 0x1000, RangeKind::Shared, false),
        ]
    );
    assert!(d.shared_tables.is_empty(), "separate roots, separate tables");
}

#[test]
fn a_2mib_page_against_4kib_pages_is_compared_page_by_page() {
    let mut m = machine();
    let b = m.add_process("b").expect("process");
    let huge = MapRequest {
        va: VirtAddr::new(0x20_0000),
        len: 2 << 20,
        target: MapTarget::To(PhysAddr::new(0x40_0000)),
        page_size: Some(2 << 20),
        flags: None,
    };
    m.map(0, &huge).expect("huge");
    // b maps the second 4 KiB of that range to the same frame, the third elsewhere.
    map(&mut m, b, 0x20_1000, 1, Some(0x40_1000), &["R/W", "U/S"]);
    map(&mut m, b, 0x20_2000, 1, None, &["R/W", "U/S"]);
    let d = compare::diff(&m, 0, b).expect("diff");
    let got: Vec<(u64, u64, RangeKind)> = d.ranges.iter().map(|r| (r.start.get(), r.bytes, r.kind)).collect();
    assert_eq!(
        got,
        vec![
            (0x20_0000, 0x1000, RangeKind::OnlyA),
            (0x20_1000, 0x1000, RangeKind::Shared),
            (0x20_2000, 0x1000, RangeKind::DifferentFrames),
            (0x20_3000, (2 << 20) - 0x3000, RangeKind::OnlyA),
        ]
    );
}

#[test]
fn a_clone_shares_every_page_and_no_table() {
    let mut m = machine();
    map(&mut m, 0, 0x40_0000, 3, None, &["R/W", "U/S"]);
    map(&mut m, 0, 0x7fff_0000_0000, 1, None, &["U/S"]);
    let child = m.clone_process(0, "child").expect("clone");
    let d = compare::diff(&m, 0, child).expect("diff");
    let got: Vec<(u64, u64, RangeKind)> = d.ranges.iter().map(|r| (r.start.get(), r.bytes, r.kind)).collect();
    assert_eq!(
        got,
        vec![(0x40_0000, 0x3000, RangeKind::Shared), (0x7fff_0000_0000, 0x1000, RangeKind::Shared)]
    );
    assert!(d.shared_tables.is_empty(), "clone_process copies every table");
}

#[test]
fn cyclic_tables_end_and_are_compared_once() {
    let mut m = machine();
    map(&mut m, 0, 0x40_0000, 1, None, &["R/W", "U/S"]);
    let b = m.clone_process(0, "b").expect("clone");
    // Point a's PDPT entry 1 back at the PML4 (frame 0): a cycle through the root.
    let t = m
        .translate(0, VirtAddr::new(0x40_0000), pagelab::sim::Access::Read, pagelab::sim::Mode::User)
        .expect("walk");
    let pdpt_entry_1 = t.steps[1].entry_addr.get() + 8;
    m.set_entry(EntryAddr::new(pdpt_entry_1), 0x7).expect("entry");
    let d = compare::diff(&m, 0, b).expect("diff");
    assert!(d.ranges.iter().any(|r| r.start.get() == 0x40_0000 && r.kind == RangeKind::Shared));
    let explained = pagelab::sim::explain::explain(
        &m,
        0,
        VirtAddr::new(0x4000_0000),
        pagelab::sim::Access::Read,
        pagelab::sim::Mode::User,
    );
    assert!(explained.is_ok());
}

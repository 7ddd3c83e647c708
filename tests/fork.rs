//! fork() with copy-on-write on the sample x86-64 and Sv39 labs, whose layouts their
//! descriptions give (README, `pagelab sample --list`):
//!
//! - x86-64, process "shell": code 3 pages r-x, data 1 page rw-, heap 2 pages rw-, one page of
//!   the C library r-x (the same frame as "editor"), stack 2 pages rw-: 9 user pages, 5 of them
//!   writable. Tables: PML4 1, PDPT 4, PD 4, PT 5 = 14, of which the kernel half (two PDPTs
//!   and two tables under each) is shared with "editor": 6. The lab holds 14 + 14 - 6 = 22
//!   distinct tables of 4 KiB.
//! - Sv39, process "shell": code 3 pages r-x, data 1 page rw-, heap 2 pages rw-, stack 2 pages
//!   rw-: 8 user pages, 5 writable. Tables: root 1, L1 3, L0 3 = 7, of which the kernel half
//!   (one L1 and one L0) is shared: 2. The lab holds 7 + 7 - 2 = 12 tables of 4 KiB.
//!
//! A fork copies the root and every table of the user half: x86-64 14 - 6 = 8, Sv39 7 - 2 = 5.

use pagelab::doc::{Document, Edit};
use pagelab::exercise::{LockTarget, Locks};
use pagelab::lab::{Lab, io};
use pagelab::sim::compare::{self, RangeKind};
use pagelab::sim::fork::{CowBit, ForkError, table_usage};
use pagelab::sim::os::{Os, OsModel, OsSettings, Resolution};
use pagelab::sim::replace::Policy;
use pagelab::sim::{Access, FaultKind, Machine, Mode};
use pagelab::sim::{Pfn, PhysAddr, VirtAddr};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const PAGELAB: &str = env!("CARGO_BIN_EXE_pagelab");

struct Sample {
    path: &'static str,
    /// A writable data page of "shell".
    data: u64,
    user_pages: u64,
    writable_pages: u64,
    tables_before: u64,
    tables_copied: u64,
    /// The COW bit: x86 AVL's lowest bit, RISC-V RSW's.
    cow_bit: u32,
}

const X86_64: Sample = Sample {
    path: "labs/x86-64.json",
    data: 0x5555_5555_8000,
    user_pages: 9,
    writable_pages: 5,
    tables_before: 22,
    tables_copied: 8,
    cow_bit: 9,
};

const SV39: Sample = Sample {
    path: "labs/sv39.json",
    data: 0x1_3000,
    user_pages: 8,
    writable_pages: 5,
    tables_before: 12,
    tables_copied: 5,
    cow_bit: 8,
};

fn load(path: &str) -> Lab {
    io::load(Path::new(path)).expect("sample lab")
}

fn pa(m: &Machine, process: usize, va: u64) -> Option<u64> {
    (m.translate(process, VirtAddr::new(va), Access::Read, Mode::User).ok()?.pa()).map(u64::from)
}

fn leaf_raw(m: &Machine, process: usize, va: u64) -> u64 {
    let t = m.translate(process, VirtAddr::new(va), Access::Read, Mode::User).expect("walk");
    t.steps.last().expect("a step").raw
}

/// The lab with "shell" forked copy-on-write as "child"; returns the document and the child.
fn forked(sample: &Sample) -> (Document, usize) {
    let mut doc = Document::new(load(sample.path), None);
    let shell = doc.lab().machine.find_process("shell").expect("shell");
    let applied = doc.apply(&Edit::Fork { process: shell, name: "child".into(), cow: true }).expect("fork");
    let report = applied.fork.expect("a report");
    assert_eq!(report.cow_pages, sample.writable_pages, "{}", sample.path);
    assert_eq!(report.cow_pages + report.shared_read_only, sample.user_pages, "{}", sample.path);
    (doc, report.child)
}

fn user_leaves(m: &Machine, process: usize) -> Vec<pagelab::sim::table::Leaf> {
    let f = m.format();
    let half = f.entries_at(0) / 2;
    pagelab::sim::table::leaves(m.mem(), f, m.processes()[process].root)
        .into_iter()
        .filter(|l| f.index_of(l.va.get(), 0) < half)
        .collect()
}

#[test]
fn after_a_fork_both_processes_read_the_same_frames_read_only_and_marked() {
    for sample in [X86_64, SV39] {
        let (doc, child) = forked(&sample);
        let m = &doc.lab().machine;
        let shell = m.find_process("shell").expect("shell");
        let leaves = user_leaves(m, shell);
        assert_eq!(leaves.len() as u64, sample.user_pages, "{}", sample.path);
        let cow = CowBit::of(m.format()).expect("a COW bit");
        assert_eq!(cow.bit, sample.cow_bit);
        let f = m.format();
        for leaf in &leaves {
            assert_eq!(
                pa(m, child, leaf.va.get()),
                pa(m, shell, leaf.va.get()),
                "{} {:#x}",
                sample.path,
                leaf.va
            );
            assert!(pa(m, shell, leaf.va.get()).is_some());
            // Nothing is writable any more; what was writable carries the mark in both.
            for process in [shell, child] {
                let raw = leaf_raw(m, process, leaf.va.get());
                assert!(!f.flag(raw, pagelab::sim::Role::Writable, leaf.level, false));
                assert_eq!(raw, leaf_raw(m, shell, leaf.va.get()), "the same leaf bits in both");
            }
            assert!(m.shares().owners(leaf.frame) >= 2, "{:#x} counted", leaf.va);
        }
        let marked = leaves.iter().filter(|l| cow.is_set(l.entry.raw)).count() as u64;
        assert_eq!(marked, sample.writable_pages, "{}", sample.path);
        // The child has its own root and its own user tables.
        assert_ne!(m.processes()[child].root, m.processes()[shell].root);
    }
}

#[test]
fn table_frames_and_bytes_grow_by_the_copied_tables() {
    for sample in [X86_64, SV39] {
        let lab = load(sample.path);
        let before = table_usage(&lab.machine);
        assert_eq!(
            (before.tables, before.frames, before.bytes),
            (sample.tables_before, sample.tables_before, sample.tables_before * 4096)
        );
        let (doc, _) = forked(&sample);
        let after = table_usage(&doc.lab().machine);
        let expected = sample.tables_before + sample.tables_copied;
        // x86-64: 22 + 8 = 30 tables, 120 KiB; Sv39: 12 + 5 = 17 tables, 68 KiB.
        assert_eq!(
            (after.tables, after.frames, after.bytes),
            (expected, expected, expected * 4096),
            "{}",
            sample.path
        );
        let applied_report = {
            let mut d = Document::new(load(sample.path), None);
            let shell = d.lab().machine.find_process("shell").expect("shell");
            d.apply(&Edit::Fork { process: shell, name: "c".into(), cow: true })
                .expect("fork")
                .fork
                .expect("report")
        };
        assert_eq!(applied_report.tables_copied, sample.tables_copied);
        assert_eq!(applied_report.tables_before, before);
        assert_eq!(applied_report.tables_after, after);
    }
}

#[test]
fn the_childs_first_write_copies_one_frame_and_the_parents_later_write_copies_none() {
    for sample in [X86_64, SV39] {
        let (doc, child) = forked(&sample);
        let mut m = doc.into_lab().machine;
        let shell = m.find_process("shell").expect("shell");
        let shared = pa(&m, shell, sample.data).expect("mapped") >> 12;
        let parent_leaf = leaf_raw(&m, shell, sample.data);
        assert_eq!(m.shares().owners(Pfn::new(shared)), 2);
        let settings = OsSettings { model: OsModel::Demand, ..OsSettings::demand(8, Policy::Clock) };
        let mut os = Os::new(settings, m.format()).expect("OS model");

        let allocated = m.mem().allocated_count();
        let done = os
            .access(&mut m, child, VirtAddr::new(sample.data + 8), Access::Write, Mode::User)
            .expect("access");
        assert!(done.translation.fault().is_none(), "{}: resolved", sample.path);
        let handled: Vec<_> = done.handled.iter().map(|h| h.resolution).collect();
        assert_eq!(handled, vec![Resolution::CopyOnWrite { copied: true }]);
        assert_eq!(m.mem().allocated_count(), allocated + 1, "exactly one frame copied");
        let copy = pa(&m, child, sample.data).expect("mapped") >> 12;
        assert_ne!(copy, shared);
        assert_eq!(leaf_raw(&m, shell, sample.data), parent_leaf, "the parent's mapping is untouched");
        assert_eq!(m.shares().owners(Pfn::new(shared)), 1);
        let event = done.handled[0].cow.clone().expect("an event");
        assert_eq!(
            (event.va.get(), event.old_frame.get(), event.new_frame.map(u64::from)),
            (sample.data, shared, Some(copy))
        );
        assert_eq!((event.owners_before, event.owners_after), (2, 1));
        assert_eq!(event.process_name, "child");

        let done =
            os.access(&mut m, shell, VirtAddr::new(sample.data), Access::Write, Mode::User).expect("access");
        assert!(done.translation.fault().is_none());
        assert_eq!(m.mem().allocated_count(), allocated + 1, "no copy for the last owner");
        assert_eq!(pa(&m, shell, sample.data).map(|pa| pa >> 12), Some(shared), "it keeps its frame");
        let event = done.handled[0].cow.clone().expect("an event");
        assert_eq!((event.new_frame, event.owners_before, event.owners_after), (None, 1, 1));

        // Both pages are writable now, unmarked; one event each on the timeline; two TLB
        // invalidations issued.
        let cow = CowBit::of(m.format()).expect("bit");
        for p in [shell, child] {
            let t = m.translate(p, VirtAddr::new(sample.data), Access::Write, Mode::User).expect("walk");
            assert!(t.fault().is_none());
            assert!(!cow.is_set(leaf_raw(&m, p, sample.data)));
        }
        assert_eq!(os.cow_events().len(), 2);
        assert_eq!(os.total().tlb_invalidations, 2);
        assert_eq!((os.total().cow_copies, os.total().cow_reuses), (1, 1));
    }
}

#[test]
fn the_manual_os_model_only_reports_a_cow_fault() {
    let (doc, child) = forked(&X86_64);
    let mut m = doc.into_lab().machine;
    let before = m.clone();
    let mut os = Os::new(OsSettings::default(), m.format()).expect("manual model");
    assert_eq!(os.settings().model, OsModel::Manual);
    let done =
        os.access(&mut m, child, VirtAddr::new(X86_64.data), Access::Write, Mode::User).expect("access");
    assert_eq!(done.translation.fault().map(|f| f.kind), Some(FaultKind::WriteProtection));
    assert!(done.handled.is_empty());
    assert!(m.is_cow_fault(child, VirtAddr::new(X86_64.data), Access::Write, FaultKind::WriteProtection));
    assert_eq!(m.shares(), before.shares());
    // A write to a read-only page that fork did not mark (code) is a real fault, not COW.
    assert!(!m.is_cow_fault(
        child,
        VirtAddr::new(0x5555_5555_4000),
        Access::Write,
        FaultKind::WriteProtection
    ));
}

#[test]
fn undo_of_a_fork_restores_the_lab() {
    for sample in [X86_64, SV39] {
        let original = load(sample.path);
        let (mut doc, _) = forked(&sample);
        assert!(!doc.lab().machine.shares().is_empty());
        assert_eq!(doc.undo_label().as_deref(), Some("fork as child (copy-on-write)"));
        doc.undo();
        assert_eq!(*doc.lab(), original, "{}", sample.path);
        doc.redo();
        assert_eq!(doc.lab().machine.processes().len(), original.machine.processes().len() + 1);
        assert!(!doc.lab().machine.shares().is_empty(), "redo puts the share counts back");
    }
}

#[test]
fn save_and_load_keep_the_share_counts_and_old_labs_have_none() {
    let (doc, _) = forked(&X86_64);
    let lab = doc.into_lab();
    let json = lab.to_json();
    let back = Lab::from_json(&json).expect("loads");
    assert_eq!(back, lab);
    let counts: Vec<(u64, u32)> = back.machine.shares().iter().map(|(f, n)| (f.get(), n)).collect();
    assert_eq!(counts.len(), 9, "one per user page of shell");
    // The C library page was shared with "editor" already: three owners; the others two.
    let shell = back.machine.find_process("shell").expect("shell");
    let libc = pa(&back.machine, shell, 0x7fff_f7c0_0000).expect("libc") >> 12;
    for (frame, owners) in counts {
        assert_eq!(owners, if frame == libc { 3 } else { 2 }, "frame {frame:#x}");
    }
    assert!(!load(X86_64.path).to_json().contains("\"shares\""), "labs without a fork stay as they were");
    let bad = json.replacen("\"shares\": [\n    [\n      ", "\"shares\": [\n    [\n      99999999", 1);
    assert_eq!(Lab::from_json(&bad).map(|_| ()).unwrap_err().path, "shares[0]");
}

#[test]
fn diff_after_a_fork_reports_every_user_page_shared() {
    for sample in [X86_64, SV39] {
        let (doc, child) = forked(&sample);
        let m = &doc.lab().machine;
        let shell = m.find_process("shell").expect("shell");
        let diff = compare::diff(m, shell, child).expect("diff");
        let user_bytes: u64 =
            diff.ranges.iter().filter(|r| r.rights_a.is_some_and(|r| r.user)).map(|r| r.bytes).sum();
        assert_eq!(user_bytes, sample.user_pages * 4096, "{}", sample.path);
        assert!(diff.ranges.iter().all(|r| r.kind == RangeKind::Shared), "{:?}", diff.ranges);
    }
}

#[test]
fn an_eager_fork_copies_every_user_page_and_leaves_the_parent_alone() {
    let mut doc = Document::new(load(X86_64.path), None);
    let m = &doc.lab().machine;
    let shell = m.find_process("shell").expect("shell");
    let leaves_before = user_leaves(m, shell);
    let allocated = m.mem().allocated_count();
    let report = doc
        .apply(&Edit::Fork { process: shell, name: "copy".into(), cow: false })
        .expect("fork")
        .fork
        .expect("report");
    let m = &doc.lab().machine;
    assert_eq!(report.copied_pages, 9);
    // 9 pages of 4 KiB and 8 tables: 17 frames.
    assert_eq!(m.mem().allocated_count(), allocated + 17);
    assert!(m.shares().is_empty());
    assert_eq!(user_leaves(m, shell), leaves_before, "the parent's leaves are untouched");
    let diff = compare::diff(m, shell, report.child).expect("diff");
    for r in diff.ranges.iter().filter(|r| r.rights_a.is_some_and(|r| r.user)) {
        assert_eq!(r.kind, RangeKind::DifferentFrames, "{r:?}");
    }
    for leaf in &leaves_before {
        let (a, b) =
            (pa(m, shell, leaf.va.get()).expect("a"), pa(m, report.child, leaf.va.get()).expect("b"));
        let byte = |pa: u64| m.mem().read_u8(PhysAddr::new(pa)).expect("byte");
        assert_eq!(byte(a), byte(b), "the same contents at {:#x}", leaf.va);
    }
}

#[test]
fn formats_without_a_software_bit_refuse_cow_but_fork_eagerly() {
    let mut lab = load("labs/ostep-multilevel.json");
    let err = lab.machine.fork(0, "child", true).unwrap_err();
    assert!(matches!(err, ForkError::NoCowBit(_)), "{err}");
    assert!(err.to_string().contains("--no-cow"));
    let report = lab.machine.fork(0, "child", false).expect("eager fork");
    assert!(report.copied_pages > 0);
}

#[test]
fn a_locked_parent_refuses_a_cow_fork_but_not_an_eager_one() {
    let mut lab = load(X86_64.path);
    let mut locks = Locks::default();
    locks.lock(LockTarget::Process("shell"));
    lab.locks = locks;
    let mut doc = Document::new(lab, None);
    doc.enforce_locks = true;
    let shell = doc.lab().machine.find_process("shell").expect("shell");
    let before = doc.lab().clone();
    let err = doc.apply(&Edit::Fork { process: shell, name: "c".into(), cow: true }).unwrap_err();
    assert!(err.to_string().contains("locked"), "{err}");
    assert_eq!(*doc.lab(), before);
    doc.apply(&Edit::Fork { process: shell, name: "c".into(), cow: false })
        .expect("an eager fork reads the parent only");
}

fn pagelab(args: &[&str], dir: &Path) -> String {
    let out = Command::new(PAGELAB).args(args).current_dir(dir).output().expect("pagelab runs");
    assert!(out.status.success(), "pagelab {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn cli_fork_translate_and_replay_resolve_cow() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lab = Path::new(env!("CARGO_MANIFEST_DIR")).join(X86_64.path);
    let lab = lab.to_str().expect("path");
    let out = pagelab(&["fork", lab, "--process", "shell", "--name", "kid", "-o", "f.json"], dir.path());
    assert!(out.contains("5 writable ones now read-only and copy-on-write"), "{out}");
    assert!(
        out.contains("before 22 tables in 22 frames, 88 KiB, after 30 tables in 30 frames, 120 KiB"),
        "{out}"
    );
    // The same fork as JSON, from the original lab: the counts the text gave.
    let json: Value = serde_json::from_str(&pagelab(
        &["fork", lab, "--process", "shell", "--name", "kid", "-o", "g.json", "--json"],
        dir.path(),
    ))
    .expect("JSON");
    assert_eq!((json["parent"].as_str(), json["child"].as_str()), (Some("shell"), Some("kid")));
    assert_eq!((json["cow"].as_bool(), json["cow_pages"].as_u64()), (Some(true), Some(5)));
    assert_eq!(json["cow_bit"], "AVL bit 9");
    assert_eq!(json["tables_before"]["tables"], 22);
    assert_eq!(
        (json["tables_after"]["tables"].as_u64(), json["tables_after"]["bytes"].as_u64()),
        (Some(30), Some(120 * 1024))
    );
    assert_eq!(json["tables_copied"], 8, "30 - 22 tables: the child's own copies");
    let out = pagelab(
        &["translate", "f.json", "--process", "kid", "--access", "write", "0x5555_5555_8000"],
        dir.path(),
    );
    assert!(out.contains("page fault: write to a read-only page"), "{out}");
    assert!(out.contains("a copy-on-write page (AVL bit 9 set"), "{out}");
    let json: Value = serde_json::from_str(&pagelab(
        &["translate", "f.json", "--process", "kid", "--access", "write", "--json", "0x5555_5555_8000"],
        dir.path(),
    ))
    .expect("JSON");
    assert_eq!(json[0]["fault"]["cow"]["owners"], 2);
    // The child reads (fills the TLB read-only), writes (a hit that faults: copied), the parent
    // writes (the last owner: no copy), the child writes again (a hit on its writable copy).
    std::fs::write(
        dir.path().join("t.txt"),
        "0x555555558000 r kid\n0x555555558010 w kid\n0x555555558000 w shell\n0x555555558020 w kid\n",
    )
    .expect("trace");
    let json: Value = serde_json::from_str(&pagelab(
        &["replay", "f.json", "t.txt", "--frames", "4", "--json", "--save", "r.json"],
        dir.path(),
    ))
    .expect("JSON");
    let os = &json["os"];
    assert_eq!(
        (os["cow_faults"].as_u64(), os["cow_copies"].as_u64(), os["cow_reuses"].as_u64()),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(os["tlb_invalidations"], 2);
    assert_eq!(json["faults"], 2, "two write-protection faults, both resolved");
    let out = pagelab(
        &["translate", "r.json", "--process", "kid", "--access", "write", "0x5555_5555_8000"],
        dir.path(),
    );
    assert!(out.contains("physical address"), "{out}");
    // Without the OS model the fault stays.
    let json: Value =
        serde_json::from_str(&pagelab(&["replay", "f.json", "t.txt", "--json"], dir.path())).expect("JSON");
    assert_eq!(json["faults"], 3);
}

#[test]
fn set_accepts_the_aliases_map_accepts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lab = Path::new(env!("CARGO_MANIFEST_DIR")).join(X86_64.path);
    let out = pagelab(
        &[
            "set",
            lab.to_str().expect("path"),
            "--process",
            "shell",
            "--entry",
            "0xfaa0",
            "write=1",
            "nx=1",
            "-o",
            "s.json",
        ],
        dir.path(),
    );
    assert!(out.contains("-> 0x800000000000c007 [P R/W U/S NX]"), "{out}");
    let out = Command::new(PAGELAB)
        .args(["set", "s.json", "--process", "shell", "--entry", "0xfaa0", "write=1", "R/W=0"])
        .current_dir(dir.path())
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("R/W is given twice"));
}

#[test]
fn a_large_page_is_copied_whole_and_an_unmap_gives_up_its_share() {
    let mut lab = load(X86_64.path);
    let m = &mut lab.machine;
    let editor = m.find_process("editor").expect("editor");
    let heap = 0x5555_5560_0000; // the editor's 2 MiB heap page
    let child = m.fork(editor, "child", true).expect("fork").child;
    let mut os = Os::new(OsSettings::demand(4, Policy::Fifo), m.format()).expect("OS model");
    let allocated = m.mem().allocated_count();
    let done = os.access(m, child, VirtAddr::new(heap + 0x1234), Access::Write, Mode::User).expect("access");
    assert!(done.translation.fault().is_none());
    assert_eq!(m.mem().allocated_count(), allocated + 512, "2 MiB = 512 frames of 4 KiB");
    let copy = pa(m, child, heap).expect("mapped");
    assert_eq!(copy % (2 << 20), 0, "the copy is aligned to its size");
    // The child unmaps its stack: the parent is the stack's only owner again and writes in place.
    let stack = 0x7fff_ffff_d000;
    let frame = pa(m, editor, stack).expect("stack") >> 12;
    assert_eq!(m.shares().owners(Pfn::new(frame)), 2);
    m.unmap(child, VirtAddr::new(stack), 0x1000).expect("unmap");
    assert_eq!(m.shares().owners(Pfn::new(frame)), 1);
    let allocated = m.mem().allocated_count();
    let done = os.access(m, editor, VirtAddr::new(stack), Access::Write, Mode::User).expect("access");
    assert_eq!(done.handled[0].resolution, Resolution::CopyOnWrite { copied: false });
    assert_eq!(m.mem().allocated_count(), allocated);
}

#[test]
fn a_page_the_os_model_loaded_and_a_fork_shared_is_not_evicted_from_under_the_child() {
    let format = pagelab::sim::presets::by_name("x86-64").expect("preset");
    let mut m = Machine::new(format, 4 << 20).expect("machine");
    let mut os = Os::new(OsSettings::demand(1, Policy::Fifo), m.format()).expect("OS model");
    let (a, b) = (0x40_0000, 0x40_1000);
    os.access(&mut m, 0, VirtAddr::new(a), Access::Write, Mode::User).expect("load a");
    let frame = pa(&m, 0, a).expect("a mapped");
    m.write_phys(PhysAddr::new(frame), b"parent data").expect("write");
    let child = m.fork(0, "child", true).expect("fork").child;
    // The pool's one frame holds a, which the child now shares: b needs a frame, and a's must
    // not be the victim.
    let done = os.access(&mut m, 0, VirtAddr::new(b), Access::Read, Mode::User).expect("load b");
    assert!(done.translation.fault().is_none());
    assert!(done.handled.iter().all(|h| h.evicted.is_none()), "nothing evicted");
    assert_eq!(pa(&m, child, a), Some(frame));
    assert_eq!(pa(&m, 0, a), Some(frame));
    assert_eq!(m.mem().read_u8(PhysAddr::new(frame)).expect("byte"), b'p');
    assert_ne!(pa(&m, 0, b).map(|pa| pa >> 12), Some(frame >> 12));
}

/// explain on a copy-on-write write fault says so (text and JSON), and on an ordinary
/// read-only page it does not.
#[test]
fn explain_names_a_copy_on_write_page() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("forked.json");
    let pagelab = env!("CARGO_BIN_EXE_pagelab");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(pagelab).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let lab_arg = lab.to_str().unwrap();
    run(&["fork", "labs/welcome.json", "--process", "shell", "-o", lab_arg]);
    // The data page was writable: now copy-on-write. The code page was read-only: shared as is.
    let data = run(&[
        "explain",
        lab_arg,
        "0x555555558000",
        "--process",
        "shell-child",
        "--access",
        "write",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(v["cow"]["owners"], 2);
    assert_eq!(v["cow"]["bit"], "AVL bit 9");
    let text = run(&["explain", lab_arg, "0x555555558000", "--process", "shell-child", "--access", "write"]);
    assert!(text.contains("copy-on-write: fork() shared this page read-only"), "{text}");
    let code = run(&[
        "explain",
        lab_arg,
        "0x555555554000",
        "--process",
        "shell-child",
        "--access",
        "write",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&code).unwrap();
    assert!(v.get("cow").is_none(), "a read-only code page is not copy-on-write");
}

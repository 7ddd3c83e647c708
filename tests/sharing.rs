//! Tables shared between processes are never freed while a root reaches them, the frame allocator
//! copes with huge pages, and a lab the write path produces always loads back.

use pagelab::sim::{Pfn, PhysAddr, VirtAddr};
use std::collections::BTreeMap;

use pagelab::lab::{Lab, io};
use pagelab::sim::runs::Runs;
use pagelab::sim::{Access, Machine, MapRequest, MapTarget, Mode, presets, table};
use proptest::prelude::*;

mod common;

const GIB: u64 = 1 << 30;

fn map(va: u64, len: u64) -> MapRequest {
    MapRequest { va: VirtAddr::new(va), len, target: MapTarget::Alloc, page_size: None, flags: None }
}

fn x86_64_lab() -> Lab {
    io::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/labs/x86-64.json")))
        .expect("sample lab")
}

/// Every frame a table reachable from some root occupies, with the process that reaches it.
fn reachable_tables(m: &Machine) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    for p in m.processes() {
        for t in table::tables(m.mem(), m.format(), p.root) {
            let first = t.addr.get() >> m.format().page_shift;
            for f in first..first + m.format().table_frames(t.level) {
                out.insert(f, p.name.clone());
            }
        }
    }
    out
}

/// No frame is both a reachable table and a data page, and no reachable table is free.
fn assert_tables_are_safe(m: &Machine, context: &str) {
    let tables = reachable_tables(m);
    for (&frame, owner) in &tables {
        assert!(
            m.mem().is_allocated(Pfn::new(frame)),
            "{context}: frame {frame:#x} is a table of {owner} but the allocator has it free"
        );
    }
    for p in m.processes() {
        for leaf in table::leaves(m.mem(), m.format(), p.root) {
            let count = 1u64 << (leaf.page_shift - m.format().page_shift);
            for f in leaf.frame.get()..leaf.frame.get() + count {
                if let Some(owner) = tables.get(&f) {
                    panic!(
                        "{context}: {}'s page {:#x} maps frame {f:#x}, a table of {owner}",
                        p.name, leaf.va
                    );
                }
            }
        }
    }
}

/// The reproducer from the issue: unmapping a range in the shared kernel half of one process
/// emptied a table that another process still used; the next map handed it out as a data page.
#[test]
fn unmapping_the_shared_kernel_half_keeps_the_other_process_tables() {
    let mut lab = x86_64_lab();
    let m = &mut lab.machine;
    let shell = m.find_process("shell").expect("shell");
    let editor = m.find_process("editor").expect("editor");
    let va = 0xffff_c900_0000_0000;
    let editor_walk = m.translate(editor, VirtAddr::new(va), Access::Read, Mode::Supervisor).expect("walk");
    let editor_pdpt = editor_walk.steps[1].table_addr.get() >> 12;
    m.unmap(shell, VirtAddr::new(va), 1 << 20).expect("unmap");
    m.map(shell, &map(0x2000_0000, 64 << 10)).expect("map");
    assert!(
        m.mem().is_allocated(Pfn::new(editor_pdpt)),
        "editor's PDPT at frame {editor_pdpt:#x} is still allocated"
    );
    for page in 0..16u64 {
        let t = m
            .translate(shell, VirtAddr::new(0x2000_0000 + page * 0x1000), Access::Read, Mode::User)
            .expect("walk");
        let pa = t.pa().expect("mapped");
        assert_ne!(pa.get() >> 12, editor_pdpt, "shell's page {page} got editor's PDPT");
    }
    assert_tables_are_safe(m, "after the reproducer");
}

/// 64 pages of 1 GiB: the allocator keeps them as runs, the lab saves, and it loads back equal in
/// a few kilobytes of file (it used to save a lab that load refused).
#[test]
fn sixty_four_gib_pages_map_save_and_load() {
    let mut m = Machine::new(presets::by_name("x86-64").expect("preset"), 128 * GIB).expect("machine");
    let request = MapRequest { page_size: Some(GIB), ..map(0x40_0000_0000, 64 * GIB) };
    assert_eq!(m.map(0, &request), Ok(64));
    assert!(m.mem().allocated_runs().run_count() <= 4, "{} runs", m.mem().allocated_runs().run_count());
    let lab = Lab::new("huge", "", m);
    let json = lab.to_json();
    assert!(json.len() < 16 << 10, "the file is small: {} bytes", json.len());
    let back = Lab::from_json(&json).expect("what is saved loads");
    assert_eq!(back, lab);
    let t = back
        .machine
        .translate(0, VirtAddr::new(0x40_0000_0000 + 63 * GIB + 5), Access::Read, Mode::User)
        .expect("walk");
    assert!(t.pa().is_some());
}

/// A hand-made hostile lab: a custom format with 2^40-byte pages and bytes written into several
/// frames. It opens, and the memory model holds only the chunks written.
#[test]
fn a_lab_with_one_tib_pages_opens_in_bounded_memory() {
    let stored = serde_json::json!([
        {"frame": 1, "bytes": [[0, "ff"], [0x0012_3456_789a_u64, "0102"]]},
        {"frame": 5, "bytes": [[0xff_ffff_fff0u64, "aa"]]},
    ]);
    let value = common::huge_page_lab_json(40, 16, 8, 8, stored);
    let lab = Lab::from_json(&value.to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert!(lab.machine.mem().stored_bytes() <= 4 * 4096, "{} bytes", lab.machine.mem().stored_bytes());
    assert_eq!(lab.machine.mem().read_u8(PhysAddr::new((1 << 40) + 0x0012_3456_789b)).ok(), Some(2));
    assert_eq!(lab.machine.mem().read_u8(PhysAddr::new((5 << 40) + 0xff_ffff_fff0)).ok(), Some(0xaa));
    let again = Lab::from_json(&lab.to_json()).expect("round trip");
    assert_eq!(again, lab);
}

#[derive(Clone, Debug)]
enum Op {
    Map { process: usize, slot: u64, pages: u64, large: bool },
    Unmap { process: usize, slot: u64, pages: u64 },
    MapKernel { process: usize, slot: u64 },
    UnmapKernel { process: usize, slot: u64 },
    ShareKernelHalf { from: usize, to: usize },
    Clone { from: usize },
    Delete { process: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4usize, 0..8u64, 1..4u64, any::<bool>()).prop_map(|(process, slot, pages, large)| Op::Map {
            process,
            slot,
            pages,
            large
        }),
        (0..4usize, 0..8u64, 1..600u64).prop_map(|(process, slot, pages)| Op::Unmap { process, slot, pages }),
        (0..4usize, 0..4u64).prop_map(|(process, slot)| Op::MapKernel { process, slot }),
        (0..4usize, 0..4u64).prop_map(|(process, slot)| Op::UnmapKernel { process, slot }),
        (0..4usize, 0..4usize).prop_map(|(from, to)| Op::ShareKernelHalf { from, to }),
        (0..4usize).prop_map(|from| Op::Clone { from }),
        (0..4usize).prop_map(|process| Op::Delete { process }),
    ]
}

/// Kernel addresses one PML4 entry apart in their upper bits, so sharing and unmapping empty
/// whole subtrees.
fn kernel_va(slot: u64) -> u64 {
    0xffff_8000_0000_0000 + slot * (1 << 39) / 2
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random map/unmap/share-kernel-half/clone/delete sequences across processes: no frame is
    /// ever both a table some root reaches and a data page or a free frame.
    #[test]
    fn reachable_tables_are_never_freed_or_handed_out(ops in prop::collection::vec(op(), 1..40)) {
        let mut m = Machine::new(presets::by_name("x86-64").expect("preset"), 64 << 20).expect("machine");
        let mut clones = 0;
        for (step, op) in ops.iter().enumerate() {
            let n = m.processes().len();
            let _ = match *op {
                Op::Map { process, slot, pages, large } => {
                    let size = if large { 2 << 20 } else { 0x1000 };
                    let request = MapRequest { page_size: Some(size), ..map(0x4000_0000 + slot * (2 << 20), pages * size) };
                    m.map(process % n, &request).map(|_| ())
                }
                Op::Unmap { process, slot, pages } => {
                    m.unmap(process % n, VirtAddr::new(0x4000_0000 + slot * (2 << 20)), pages * 0x1000).map(|_| ())
                }
                Op::MapKernel { process, slot } => m.map(process % n, &map(kernel_va(slot), 0x2000)).map(|_| ()),
                Op::UnmapKernel { process, slot } => m.unmap(process % n, VirtAddr::new(kernel_va(slot)), 0x2000).map(|_| ()),
                Op::ShareKernelHalf { from, to } => m.share_kernel_half(from % n, to % n).map(|_| ()),
                Op::Clone { from } => {
                    clones += 1;
                    m.clone_process(from % n, &format!("clone{clones}")).map(|_| ())
                }
                Op::Delete { process } => m.remove_process(process % n),
            };
            assert_tables_are_safe(&m, &format!("step {step}: {op:?}"));
        }
        let json = Lab::new("p", "", m.clone()).to_json();
        let back = Lab::from_json(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.machine, m, "what the write path produced loads back equal");
    }
}

#[test]
fn runs_of_in_use_frames_cover_large_pages() {
    let mut m = Machine::new(presets::by_name("x86-64").expect("preset"), 4 * GIB).expect("machine");
    m.map(0, &MapRequest { page_size: Some(GIB), ..map(GIB, GIB) }).expect("map");
    let data: Runs = m.data_frames_in_use();
    assert_eq!(data.run_count(), 1);
    assert_eq!(data.len(), GIB >> 12);
}

//! The TLB in the desktop app, driven through egui_kittest: accesses from the MMU panel go through
//! the TLB (a miss then a hit), an edited PTE leaves a stale entry until INVLPG, a process switch
//! without ASID tagging flushes, a plain trace steps and plays (one undo step for the whole
//! replay), the sweep gives one point per TLB size, /proc/PID/maps imports from the GUI, and the
//! Sizes section compares the layout across formats on its own thread (outdated once the lab
//! changes).
#![cfg(feature = "gui")]

#[path = "common/gui.rs"]
mod gui;
use gui::{click, stats};
use pagelab::sim::VirtAddr;

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::lab::Lab;
use pagelab::sim::machine::{MapRequest, MapTarget};
use pagelab::sim::{Machine, presets};
use pagelab::ui::app::PagelabApp;
use pagelab::ui::plots::{PlotKind, SWEEP_SIZES};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Read-only code at 0x400000 (3 pages), data at 0x600000 (2 pages), one global kernel page.
fn test_lab() -> Lab {
    let mut m = Machine::new(presets::x86_64(4), 64 << 20).unwrap();
    let regions: [(u64, u64, &[&str]); 3] = [
        (0x40_0000, 0x3000, &["U/S"]),
        (0x60_0000, 0x2000, &["R/W", "U/S", "NX"]),
        (0xffff_8000_0000_0000, 0x1000, &["R/W", "G"]),
    ];
    for (va, len, flags) in regions {
        let flags = Some(flags.iter().map(|f| f.to_string()).collect());
        m.map(
            0,
            &MapRequest { va: VirtAddr::new(va), len, target: MapTarget::Alloc, page_size: None, flags },
        )
        .unwrap();
    }
    Lab::new("TLB test lab", "", m)
}

fn harness_with(app: PagelabApp) -> Harness<'static, PagelabApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1700.0, 1100.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    h
}

fn harness() -> Harness<'static, PagelabApp> {
    let mut app = PagelabApp::new(test_lab(), None);
    app.dock.open(pagelab::ui::dock::Pane::Tlb);
    harness_with(app)
}

fn type_into(h: &mut Harness<'static, PagelabApp>, label: &str, text: &str) {
    let field = h.get_by_label(label);
    field.focus();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    field.type_text(text);
    h.run();
}

fn write_trace(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_same_access_twice_is_a_miss_then_a_hit() {
    let mut h = harness();
    type_into(&mut h, "Virtual address:", "0x400010");
    click(&mut h, "Translate");
    h.get_by_label_contains("Last access: TLB miss: walk read 4 entries");
    assert_eq!(h.state().doc.tlb().tlb().len(), 1, "the miss filled one entry");
    click(&mut h, "Translate");
    h.get_by_label_contains("Last access: TLB hit -> physical address");
    let total = stats(&h).total.counters;
    assert_eq!((total.lookups, total.hits, total.misses, total.walks), (2, 1, 1, 1));
    // The contents table lists the entry: its page, size and rights.
    assert!(h.query_all_by_label("0x40_0000").count() >= 1);
    // Its rights, as the walk combined them (the walk table shows the same text).
    assert!(h.query_all_by_label("r-x U").count() >= 2, "the TLB contents list the entry's rights");
    // The history records both accesses; the status line says hit.
    assert_eq!(h.state().state.history.len(), 2);
    assert!(h.state().state.status.text.contains("TLB hit"), "{}", h.state().state.status.text);
}

#[test]
fn an_edited_pte_keeps_its_old_translation_marked_stale_until_a_page_fault_or_invlpg() {
    let mut h = harness();
    type_into(&mut h, "Virtual address:", "0x400000");
    click(&mut h, "Translate");
    assert!(h.query_by_label("STALE").is_none());
    // Make the code page writable in the inspector: memory changes, the TLB does not.
    // Select the leaf entry (through accesskit: the row is wider than the centre panel, and a
    // pointer at its middle would land on the TLB panel).
    h.get_by_label_contains("PT[0x0]  0x40_0000").click_accesskit();
    h.run();
    assert!(h.state().state.selected.is_some(), "the leaf is selected");
    click(&mut h, "R/W");
    h.get_by_label("STALE");
    h.get_by_label_contains("1 stale entry");
    click(&mut h, "Translate");
    h.get_by_label_contains("Last access: TLB hit");
    h.get_by_label("The translation used a STALE TLB entry:");
    h.get_by_label_contains("the tables now say physical address");
    // A write still faults: the cached rights are the old, read-only ones.
    h.get_by_label("write").click();
    h.run();
    click(&mut h, "Translate");
    h.get_by_label_contains("Last access: TLB hit -> page fault: write to a read-only page");
    let m = &h.state().doc.lab().machine;
    let walk = m
        .translate(0, VirtAddr::new(0x40_0000), pagelab::sim::Access::Write, pagelab::sim::Mode::User)
        .unwrap();
    assert!(walk.fault().is_none(), "memory already allows the write");
    // SDM 4.10.4.1: the #PF invalidated the faulting page's entry, so the retry walks again.
    assert!(h.query_by_label("STALE").is_none(), "the page fault dropped the stale entry");
    assert_eq!(h.state().doc.tlb().tlb().len(), 0);
    click(&mut h, "Translate");
    h.get_by_label_contains("Last access: TLB miss");
    assert!(h.query_by_label_contains("page fault").is_none(), "the fresh walk allows the write");
}

#[test]
fn without_asid_tagging_a_process_switch_flushes_but_global_entries_stay() {
    let mut h = harness();
    h.get_by_label("Configuration").click();
    h.run();
    h.get_by_label_contains("ASID tagging (off").click();
    h.run();
    click(&mut h, "Apply (empties the TLB)");
    assert!(!h.state().doc.tlb().config().tlb.asid_tagging);
    for va in ["0x400000", "0xffff800000000000"] {
        type_into(&mut h, "Virtual address:", va);
        h.get_by_label("supervisor").click();
        h.run();
        click(&mut h, "Translate");
    }
    assert_eq!(h.state().doc.tlb().tlb().len(), 2);
    // A new process becomes the active one: a CR3 write.
    click(&mut h, "Add");
    assert_eq!(h.state().doc.lab().machine.active(), 1);
    let entries: Vec<bool> = h.state().doc.tlb().tlb().entries().map(|s| s.entry.global()).collect();
    assert_eq!(entries, vec![true], "only the global kernel page survives");
    assert_eq!(stats(&h).switches, 1);
}

#[test]
fn split_tlbs_send_fetches_to_the_itlb_and_data_to_the_dtlb() {
    let mut h = harness();
    h.get_by_label("Configuration").click();
    h.run();
    h.get_by_label("Split instruction and data TLBs").click();
    h.run();
    // The iTLB's own fields appear; an impossible shape is refused before Apply.
    type_into(&mut h, "iTLB entries", "6");
    h.get_by_label_contains("instruction TLB: ");
    type_into(&mut h, "iTLB entries", "8");
    click(&mut h, "Apply (empties the TLB)");
    let config = h.state().doc.tlb().config().clone();
    assert_eq!(config.itlb.map(|i| i.entries), Some(8));
    assert_eq!(config.tlb.entries, 64, "the data TLB keeps its shape");
    h.get_by_label_contains("Instruction TLB (iTLB): 8 entries");

    type_into(&mut h, "Virtual address:", "0x400000");
    h.get_by_label("execute").click();
    h.run();
    click(&mut h, "Translate");
    h.get_by_label_contains("Last access: iTLB miss");
    // A read of the same page misses in the dTLB: the halves are separate.
    h.get_by_label("read").click();
    h.run();
    click(&mut h, "Translate");
    h.get_by_label_contains("Last access: dTLB miss");
    h.get_by_label("execute").click();
    h.run();
    click(&mut h, "Translate");
    h.get_by_label_contains("Last access: iTLB hit");
    let tlbs = h.state().doc.tlb();
    assert_eq!(tlbs.tlbs().instruction().map(|t| t.len()), Some(1));
    assert_eq!(tlbs.tlbs().data().len(), 1);
    h.get_by_label_contains("Instruction TLB (iTLB) (1 valid)");
    h.get_by_label_contains("Data TLB (dTLB) (1 valid)");
    h.get_by_label_contains("Instruction TLB (iTLB): 2 lookups, 1 hits (50.000%), 1 misses");
    // One INVLPG empties both.
    type_into(&mut h, "Address to invalidate:", "0x400000");
    click(&mut h, "INVLPG");
    assert!(h.state().doc.tlb().tlbs().is_empty());
    assert!(h.state().state.status.text.contains("2 entries removed"), "{}", h.state().state.status.text);
}

#[test]
fn with_asid_tagging_entries_survive_switches() {
    let mut h = harness();
    type_into(&mut h, "Virtual address:", "0x600000");
    click(&mut h, "Translate");
    click(&mut h, "Add");
    // Back to the first process (its name also labels its statistics row, so by action).
    h.state_mut().push(pagelab::ui::state::Action::Edit(pagelab::doc::Edit::SwitchProcess { process: 0 }));
    h.run();
    assert_eq!(h.state().doc.tlb().tlb().len(), 1, "tagged with ASID 1, kept");
    click(&mut h, "Translate");
    h.get_by_label_contains("Last access: TLB hit");
}

#[test]
fn stepping_a_plain_trace_updates_the_stats_and_undo_reverts_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    // 0x900000 is unmapped: demand mapping (on by default) maps it.
    let trace =
        write_trace(dir.path(), "t.txt", "0x400000 r\n0x400008 r\n0x600000 w\n0x900000 w\n0x900010 r\n");
    let mut h = harness();
    let original = h.state().doc.lab().clone();
    type_into(&mut h, "Trace file:", &trace.display().to_string());
    click(&mut h, "Open trace");
    click(&mut h, "Step");
    h.get_by_label_contains("line 1: load 0x400000");
    click(&mut h, "Step");
    h.get_by_label_contains("line 2: load 0x400008 (1 byte(s), init): TLB hit");
    let s = stats(&h);
    assert_eq!(
        (s.records, s.total.counters.lookups, s.total.counters.hits, s.total.counters.misses),
        (2, 2, 1, 1)
    );
    // The statistics grid shows the same numbers (in the total and the process's row).
    assert_eq!(h.query_all_by_label("50.000%").count(), 2);
    click(&mut h, "Play");
    h.run_steps(4);
    let s = stats(&h);
    assert_eq!(s.records, 5);
    assert_eq!((s.total.counters.lookups, s.total.counters.hits, s.total.counters.misses), (5, 2, 3));
    assert_eq!(s.total.counters.demand_maps, 1);
    h.get_by_label_contains("End of trace: 5 records replayed.");
    assert_ne!(*h.state().doc.lab(), original, "walks set A/D bits, the demand map added a page");
    // The windowed series closed its last window at the end.
    assert_eq!(h.state().tlb.series.hit_rate.last(), Some(&[5.0, 40.0]));
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run();
    assert_eq!(*h.state().doc.lab(), original, "one undo step reverts the whole replay");
}

#[test]
fn the_sweep_produces_one_point_per_size_and_exports_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let text: String =
        (0..2000u64).map(|i| format!("{:#x} r\n", 0x40_0000 + ((i * 13) % 200) * 0x1000)).collect();
    let trace = write_trace(dir.path(), "sweep.trace", &text);
    let mut h = harness();
    type_into(&mut h, "Trace file:", &trace.display().to_string());
    click(&mut h, "Open trace");
    // The plots window opens over the TLB panel.
    h.get_by_label("View").click();
    h.run();
    click(&mut h, "Plots");
    assert!(h.state().dock.is_open(pagelab::ui::dock::Pane::Plots));
    h.get_by_label("Run sweep").scroll_to_me();
    h.run();
    h.get_by_label("Run sweep").click();
    h.run_steps(1);
    let started = Instant::now();
    while h.state().tlb.sweep_result.is_none() {
        let message = h.state().state.tlb.plot_message.clone();
        assert!(h.state().tlb.sweep.is_some(), "the sweep stopped: {message:?}");
        assert!(started.elapsed() < Duration::from_secs(120), "the sweep did not finish");
        std::thread::sleep(Duration::from_millis(20));
        h.run_steps(1);
    }
    h.run();
    let points = &h.state().tlb.sweep_result.as_ref().unwrap().points;
    assert_eq!(points.iter().map(|p| p.entries).collect::<Vec<_>>(), SWEEP_SIZES.to_vec());
    assert!(points.iter().all(|p| p.lookups == 2000));
    h.get_by_label_contains("Sweep done: 11 sizes");
    h.state_mut().state.tlb.export_plot = PlotKind::Sweep;
    let csv = dir.path().join("sweep.csv");
    type_into(&mut h, "Export path:", &csv.display().to_string());
    click(&mut h, "Export CSV");
    let written = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(written.lines().count(), 1 + SWEEP_SIZES.len(), "{written}");
    assert!(written.lines().last().unwrap().starts_with("4096,4096,2000,1800,200,"), "{written}");
}

#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn a_dropped_trace_opens_in_the_player_and_a_dropped_lab_opens_as_the_lab() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path(), "accesses", "0x400000 r\n");
    let mut h = harness();
    h.input_mut().dropped_files.push(std::sync::Arc::new(Dropped(trace.clone())));
    h.run();
    assert_eq!(h.state().tlb.player.as_ref().map(|p| p.path.clone()), Some(trace));
    let lab_path = dir.path().join("other.json");
    let mut other = test_lab();
    other.title = "Dropped lab".into();
    pagelab::lab::io::save(&other, &lab_path).unwrap();
    h.input_mut().dropped_files.push(std::sync::Arc::new(Dropped(lab_path)));
    h.run();
    assert_eq!(h.state().doc.lab().title, "Dropped lab");
}

#[test]
fn proc_maps_import_from_the_gui_shows_the_table_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let maps = dir.path().join("maps");
    std::fs::write(
        &maps,
        "00400000-00402000 r-xp 00000000 08:01 12 /usr/bin/demo\n\
         00600000-00a00000 rw-p 00000000 00:00 0 [heap]\n\
         7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0 [stack]\n",
    )
    .unwrap();
    let mut h = harness();
    h.state_mut().state.procmaps_dialog = Some(Default::default());
    h.run();
    type_into(&mut h, "Maps file:", &maps.display().to_string());
    click(&mut h, "2 MiB");
    click(&mut h, "Import");
    let m = &h.state().doc.lab().machine;
    assert_eq!(m.active_process().name, "demo");
    // PML4, two PDPTs, two PDs, PTs for the code and the stack (the heap is two 2 MiB pages).
    assert_eq!(m.table_size(0).unwrap().tables, 7);
    assert!(h.state().state.procmaps_dialog.is_none());
    h.get_by_label_contains("demo: 7 table(s), 28 KiB");
    h.get_by_label_contains("a linear table for the whole 48-bit address space would take 512 GiB");
}

// ---- The Sizes section: the layout compared across formats ----

/// Clicks "Compare across formats" and steps until the thread's result is in, for a few seconds
/// at most. The Sizes section sits low in the TLB panel's scroll area: click through accesskit.
fn compare(h: &mut Harness<'static, PagelabApp>) {
    h.get_by_label("Compare across formats").click_accesskit();
    h.run_steps(1);
    if h.state().state.sizes.job.is_some() {
        h.get_by_label("Comparing...");
    }
    let started = Instant::now();
    while h.state().state.sizes.job.is_some() {
        assert!(started.elapsed() < Duration::from_secs(30), "the comparison did not finish");
        std::thread::sleep(Duration::from_millis(20));
        h.run_steps(1);
    }
    h.run();
    assert_eq!(h.state().state.sizes.error, None);
    assert!(h.query_by_label("Comparing...").is_none());
}

#[test]
fn the_comparison_lists_every_format_and_goes_outdated_when_the_lab_changes() {
    let mut h = harness();
    let x86_labels = h.query_all_by_label("x86-64").count();
    assert!(h.query_by_label("Pages up to").is_none(), "no table before the first comparison");
    h.get_by_label_contains("rebuilds the active process's mapped layout");
    compare(&mut h);

    // The model: the rows of a comparison of the active process's layout.
    let expected = pagelab::lab::procmaps::compare(
        &pagelab::lab::procmaps::regions_of(&h.state().doc.lab().machine, 0).unwrap(),
        "t",
    );
    let comparison = h.state().state.sizes.comparison.clone().expect("a comparison");
    assert_eq!(comparison.rows, expected);
    assert_eq!((comparison.process_name.as_str(), comparison.regions), ("init", 3));
    // The view: a row per format and page size (x86-64 is also the lab's format elsewhere).
    h.get_by_label("Pages up to");
    assert_eq!(h.query_all_by_label("x86-64").count(), x86_labels + 2);
    assert_eq!(h.query_all_by_label("x86-64-la57").count(), 2);
    assert_eq!(h.query_all_by_label("sv57").count(), 2);
    // PML4, PDPTs under PML4[0] and PML4[256], a PD under each, PTs for the code (PD[2]), the
    // data (PD[3]) and the kernel page: 8 tables; LA57 adds its PML5 and a second PML4 (the
    // kernel half lies under PML5[511]).
    let tables = |i: usize| comparison.rows[i].outcome.as_ref().unwrap().tables;
    assert_eq!((tables(0), tables(2)), (8, 10));
    // The lab as it is (x86-64, 4 KiB pages only) is marked; Sv39 cannot address the kernel page.
    h.get_by_label("this lab");
    assert_eq!(h.query_all_by_label("1 region(s) out of range").count(), 2, "Sv39 4 KiB and 2 MiB");
    assert!(h.query_by_label_contains("The lab changed since").is_none());

    // Map one more page: the numbers stay, marked outdated.
    let request = MapRequest {
        va: VirtAddr::new(0x80_0000),
        len: 0x1000,
        target: MapTarget::Alloc,
        page_size: None,
        flags: None,
    };
    h.state_mut().push(pagelab::ui::state::Action::Edit(pagelab::doc::Edit::Map { process: 0, request }));
    h.run();
    assert_eq!(h.state().doc.lab().machine.table_size(0).unwrap().mapped_pages, 7);
    h.get_by_label_contains("The lab changed since this comparison: Compare again");
    assert_eq!(h.query_all_by_label("x86-64-la57").count(), 2, "the old rows still show");

    // Comparing again brings the numbers up to date: the new page shares the code's tables.
    compare(&mut h);
    assert!(h.query_by_label_contains("The lab changed since").is_none());
    let comparison = h.state().state.sizes.comparison.clone().expect("a comparison");
    assert_eq!(comparison.regions, 4);
    assert_eq!(comparison.rows[0].outcome.as_ref().unwrap().tables, 9, "0x800000 is PD[4]: a PT more");
}

/// A student lab whose process is locked: playing a trace with demand mapping stops at the record
/// that would map a page into it, says so, and leaves the locked tables as they were. (Replay used
/// to map pages into a locked process.)
#[test]
fn playing_a_trace_stops_where_demand_mapping_would_change_a_locked_process() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path(), "t.txt", "0x400000 r\n0x900000 w\n0x900010 r\n");
    let mut lab = test_lab();
    lab.locks.lock(pagelab::exercise::LockTarget::Process("init"));
    lab.exercises.student = true;
    let mut app = PagelabApp::new(lab, None);
    app.dock.open(pagelab::ui::dock::Pane::Tlb);
    let mut h = harness_with(app);
    assert!(h.state().doc.enforce_locks);
    let before = h.state().doc.lab().machine.clone();
    type_into(&mut h, "Trace file:", &trace.display().to_string());
    click(&mut h, "Open trace");
    click(&mut h, "Play");
    h.run_steps(4);
    h.get_by_label_contains(
        "line 2: the access to 0x900000 faults and resolving it would change process \"init\"",
    );
    assert_eq!(stats(&h).total.counters.demand_maps, 0);
    let after = &h.state().doc.lab().machine;
    let translate = |m: &Machine| {
        m.translate(0, VirtAddr::new(0x90_0000), pagelab::sim::Access::Read, pagelab::sim::Mode::User)
    };
    assert!(translate(after).unwrap().fault().is_some(), "nothing was mapped into the locked process");
    assert_eq!(translate(&before).unwrap().fault(), translate(after).unwrap().fault());
}

/// The MMU panel words outcomes as the architecture does: a non-canonical address raises #GP(0),
/// not a page fault; x86 calls the present bit P; a walk that faults caches nothing; and the
/// history records what an access through a stale TLB entry gave, not what the tables say now.
#[test]
fn outcomes_are_worded_as_the_architecture_reports_them() {
    let mut h = harness();
    type_into(&mut h, "Virtual address:", "0x0000800000000000");
    h.get_by_label_contains("General-protection fault #GP(0)");
    // The strip shows all 64 bits, and says which upper bits break the rule.
    h.get_by_label_contains("bits [63:48] = 0x0 must all equal bit 47 (sign extension)");
    assert!(h.query_by_label_contains("Page fault").is_none());
    type_into(&mut h, "Virtual address:", "0x900000");
    h.get_by_label_contains("Page fault: the entry is not present (P=0)");
    click(&mut h, "Translate");
    // PML4[0] and PDPT[0] are present, PD[4] (0x800000-0x9fffff) is not: three entries read.
    h.get_by_label_contains("Last access: TLB miss: walk read 3 entries, nothing cached -> page fault");
    // Cache 0x400000, then clear its P bit: the next access hits the stale entry.
    type_into(&mut h, "Virtual address:", "0x400000");
    click(&mut h, "Translate");
    let m = &h.state().doc.lab().machine;
    let leaf = m
        .translate(0, VirtAddr::new(0x40_0000), pagelab::sim::Access::Read, pagelab::sim::Mode::User)
        .unwrap();
    let entry_addr = leaf.steps.last().unwrap().entry_addr;
    let clear_p = pagelab::doc::Edit::SetField { entry_addr, level: 3, field: "P".into(), value: 0 };
    h.state_mut().push(pagelab::ui::state::Action::Edit(clear_p));
    h.run();
    click(&mut h, "Translate");
    h.get_by_label_contains("Last access: TLB hit -> physical address");
    let newest = &h.state().state.history[0];
    assert!(!newest.fault && newest.summary.starts_with("->"), "{}", newest.summary);
}

//! The Sizes section's comparison across formats, driven through egui_kittest: the button runs
//! the comparison on its own thread ("Comparing..." meanwhile), the table lists every compared
//! format with the lab's own row marked, and an edit to the lab marks the numbers outdated until
//! the comparison runs again.
#![cfg(feature = "gui")]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::lab::Lab;
use pagelab::lab::procmaps;
use pagelab::sim::machine::{MapRequest, MapTarget};
use pagelab::sim::{Machine, presets};
use pagelab::ui::app::PagelabApp;
use pagelab::ui::doc::Edit;
use pagelab::ui::state::Action;
use std::time::{Duration, Instant};

/// Read-only code at 0x400000 (3 pages), data at 0x600000 (2 pages), one kernel page.
fn test_lab() -> Lab {
    let mut m = Machine::new(presets::x86_64(4), 64 << 20).unwrap();
    let regions: [(u64, u64, &[&str]); 3] = [
        (0x40_0000, 0x3000, &["U/S"]),
        (0x60_0000, 0x2000, &["R/W", "U/S", "NX"]),
        (0xffff_8000_0000_0000, 0x1000, &["R/W", "G"]),
    ];
    for (va, len, flags) in regions {
        let flags = Some(flags.iter().map(|f| f.to_string()).collect());
        m.map(0, &MapRequest { va, len, target: MapTarget::Alloc, page_size: None, flags }).unwrap();
    }
    Lab::new("Sizes test lab", "", m)
}

fn harness() -> Harness<'static, PagelabApp> {
    let mut app = PagelabApp::new(test_lab(), None);
    app.prefs.show_tlb = true;
    let mut h = Harness::builder()
        .with_size(egui::vec2(1700.0, 1100.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    h
}

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
    let expected = procmaps::compare(&procmaps::regions_of(&h.state().doc.lab.machine, 0).unwrap(), "t");
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
    let request =
        MapRequest { va: 0x80_0000, len: 0x1000, target: MapTarget::Alloc, page_size: None, flags: None };
    h.state_mut().push(Action::Edit(Edit::Map { process: 0, request }));
    h.run();
    assert_eq!(h.state().doc.lab.machine.table_size(0).unwrap().mapped_pages, 7);
    h.get_by_label_contains("The lab changed since this comparison: Compare again");
    assert_eq!(h.query_all_by_label("x86-64-la57").count(), 2, "the old rows still show");

    // Comparing again brings the numbers up to date: the new page shares the code's tables.
    compare(&mut h);
    assert!(h.query_by_label_contains("The lab changed since").is_none());
    let comparison = h.state().state.sizes.comparison.clone().expect("a comparison");
    assert_eq!(comparison.regions, 4);
    assert_eq!(comparison.rows[0].outcome.as_ref().unwrap().tables, 9, "0x800000 is PD[4]: a PT more");
}

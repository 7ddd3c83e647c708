//! Processes ▸ right-click ▸ Compare with…, driven through egui_kittest on the welcome lab, whose
//! description says: the two programs use the same addresses in different frames, share the C
//! library page and the kernel half, and each has a heap the other lacks.
#![cfg(feature = "gui")]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::sim::VirtAddr;
use pagelab::ui::app::PagelabApp;
use pagelab::ui::dock::Pane;

#[test]
fn compare_with_lists_shared_different_and_own_ranges() {
    let mut app = PagelabApp::new(pagelab::ui::welcome_lab(), None);
    app.dock.open(Pane::Processes);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    h.get_all_by_label("shell").next().expect("the process list").click_secondary();
    h.run();
    h.get_by_label("Compare with…").click();
    h.run();
    // The submenu's entry: the rightmost "editor" (the submenu opens beside the context menu).
    let entry = h.get_all_by_label("editor").max_by(|a, b| a.rect().min.x.total_cmp(&b.rect().min.x));
    entry.expect("the submenu").click();
    h.run();
    h.get_by_label("\"shell\" compared with \"editor\"");
    assert!(h.query_all_by_label("shared").count() >= 2, "the C library page and the kernel half");
    assert!(h.query_all_by_label("different frames").count() >= 1, "code, data and stack");
    assert!(h.query_all_by_label("only in shell").count() >= 1, "the shell's heap");
    assert!(h.query_all_by_label("only in editor").count() >= 1, "the editor's heap");
    h.get_by_label_contains("Page tables both roots reach:");
    h.get_by_label("Close comparison").click();
    h.run();
    assert!(h.state().state.compare.is_none());
}

/// While the comparison is open, the tree marks entries in tables both processes reach and pages
/// both map to the same frames, and the memory map marks exactly the frames behind them: for each
/// page of shell, a walk in editor decides whether it is shared.
#[test]
fn the_tree_and_the_memory_map_mark_what_the_compared_processes_share() {
    use pagelab::sim::compare;
    use pagelab::sim::{Access, Mode, Outcome, table};
    use pagelab::ui::compare_view::SharedMarks;

    let lab = pagelab::ui::welcome_lab();
    let m = &lab.machine;
    let index = |name: &str| m.processes().iter().position(|p| p.name == name).unwrap();
    let (shell, editor) = (index("shell"), index("editor"));
    let d = compare::diff(m, shell, editor).unwrap();
    let marks = SharedMarks::of(m, &d, "shell", "editor");
    let pa = |process: usize, va: u64| match m.translate(
        process,
        VirtAddr::new(va),
        Access::Read,
        Mode::Supervisor,
    ) {
        Ok(t) => match t.outcome {
            Outcome::Mapped(mapped) => Some(mapped.pa),
            Outcome::Fault(_) => None,
        },
        Err(_) => None,
    };
    let (mut shared, mut own) = (0, 0);
    for leaf in table::leaves(m.mem(), m.format(), m.processes()[shell].root) {
        let same =
            pa(shell, leaf.va.get()).is_some() && pa(shell, leaf.va.get()) == pa(editor, leaf.va.get());
        assert_eq!(marks.page_shared(leaf.va.get(), 1 << leaf.page_shift), same, "page {:#x}", leaf.va);
        assert_eq!(marks.frames_shared(leaf.frame.get(), 1), same, "frame of page {:#x}", leaf.va);
        if same { shared += 1 } else { own += 1 }
    }
    assert!(shared >= 2 && own >= 3, "the C library and kernel pages; code, data, stack ({shared}, {own})");
    // Tables: the roots differ; the kernel half's tables are reached by both.
    let root_of = |p: usize| m.processes()[p].root.get() << m.format().page_shift;
    assert!(!marks.entry_shared(root_of(shell)) && !marks.entry_shared(root_of(editor)));
    assert!(d.shared_tables.iter().all(|t| marks.entry_shared(t.addr.get())));

    // In the app: rows of shared pages and tables carry the mark in their label, others don't.
    let mut app = PagelabApp::new(lab.clone(), None);
    app.dock.open(Pane::Processes);
    app.state.compare = Some(pagelab::ui::compare_view::CompareView::new(shell, editor));
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    // The tree's heading and the memory map's legend say what the green edge means.
    assert_eq!(h.query_all_by_label("shared by shell and editor").count(), 2);
    let mark = "(shared by shell and editor)";
    let rows = h.state().state.rows.len();
    let marked = h.query_all_by_label_contains(mark).count();
    assert!(marked >= 1 && marked < rows, "{marked} of {rows} rows marked");
    h.get_by_label("Close comparison").scroll_to_me();
    h.run();
    h.get_by_label("Close comparison").click();
    h.run();
    assert_eq!(h.query_all_by_label_contains(mark).count(), 0);
}

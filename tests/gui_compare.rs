//! Processes ▸ right-click ▸ Compare with…, driven through egui_kittest on the welcome lab, whose
//! description says: the two programs use the same addresses in different frames, share the C
//! library page and the kernel half, and each has a heap the other lacks.
#![cfg(feature = "gui")]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
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

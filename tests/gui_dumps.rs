//! File ▸ Import ▸ Kernel page-table dump… in the app, driven through egui_kittest: xv6's vmprint
//! output becomes the lab (an Sv39 machine whose root is the printed "page table" address), and
//! a file that cannot be read is reported in the dialog, the lab untouched.
#![cfg(feature = "gui")]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::ui::app::PagelabApp;

fn harness() -> Harness<'static, PagelabApp> {
    let app = PagelabApp::new(pagelab::ui::welcome_lab(), None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    h
}

fn open_dialog(h: &mut Harness<'static, PagelabApp>) {
    h.get_by_label("File").click();
    h.run();
    h.get_by_label("Import").click();
    h.run();
    h.get_by_label("Kernel page-table dump…").click();
    h.run();
    assert!(h.state().state.dump_dialog.is_some());
}

fn import(h: &mut Harness<'static, PagelabApp>, path: &str) {
    let field = h.get_by_label("Dump file:");
    field.focus();
    field.type_text(path);
    h.run();
    h.get_by_label("Import").click();
    h.run();
}

#[test]
fn a_vmprint_dump_becomes_the_lab() {
    let mut h = harness();
    open_dialog(&mut h);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dumps/xv6-vmprint.txt");
    import(&mut h, path);
    let lab = h.state().doc.lab();
    assert_eq!(lab.machine.format().name, "sv39");
    // The file prints one "page table 0x0000000087f22000": one process, its root at that address.
    assert_eq!(lab.machine.processes().len(), 1);
    assert_eq!(lab.machine.processes()[0].root.get() << 12, 0x87f2_2000);
    assert!(h.state().state.dump_dialog.is_none(), "the dialog closes");
}

#[test]
fn an_unreadable_file_is_reported_in_the_dialog() {
    let mut h = harness();
    let before = h.state().doc.lab().clone();
    open_dialog(&mut h);
    import(&mut h, "/nonexistent/vmprint.txt");
    assert!(
        h.state()
            .state
            .dump_dialog
            .as_ref()
            .and_then(|d| d.error.as_ref())
            .is_some_and(|e| e.contains("cannot read"))
    );
    assert_eq!(*h.state().doc.lab(), before);
}

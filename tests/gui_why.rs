//! "Why?" in the MMU panel, driven through egui_kittest: a user write to the welcome lab's code
//! page faults on the leaf's R/W bit (SDM 4.6.1); the first fix sets that bit, Apply makes the
//! write succeed, and one undo takes the fix back.
#![cfg(feature = "gui")]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::sim::VirtAddr;
use pagelab::sim::{Access, Mode};
use pagelab::ui::app::PagelabApp;

const CODE: u64 = 0x5555_5555_4000;

fn write_succeeds(app: &PagelabApp) -> bool {
    let m = &app.doc.lab().machine;
    m.translate(m.active(), VirtAddr::new(CODE), Access::Write, Mode::User).unwrap().fault().is_none()
}

#[test]
fn why_names_the_leafs_rw_bit_and_its_fix_makes_the_write_succeed_in_one_undoable_step() {
    let app = PagelabApp::new(pagelab::ui::welcome_lab(), None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    assert!(!write_succeeds(h.state()), "the code page is read-only to start with");
    h.get_by_label("write").click();
    h.run();
    let field = h.get_by_label("Virtual address:");
    field.focus();
    field.type_text("0x555555554000");
    h.run();
    h.get_by_label("Why? and how to fix it").click();
    h.run();
    // The welcome lab's code page: the PT entry has P and U/S but not R/W.
    h.get_by_label_contains("Decided by the PT entry");
    h.get_by_label_contains(": R/W = 0");
    h.get_by_label_contains("SDM Vol. 3A 4.6");
    h.get_by_label("Apply fix 0").click();
    h.run();
    assert!(write_succeeds(h.state()), "fix 0 makes the user write succeed");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run();
    assert!(!write_succeeds(h.state()), "one undo takes the fix back");
}

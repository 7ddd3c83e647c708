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

/// PAE (SDM Vol. 3A 4.4.1): PDPTE 0 was made present in memory after the last CR3 load, so the
/// walk, which reads the register, still finds P=0. Why? says the entry came from the register
/// and offers loading CR3 as the fix; Apply reloads the registers and the read succeeds.
#[test]
fn why_offers_load_cr3_for_a_stale_pdpte_register_and_apply_reloads_it() {
    const DATA: u64 = 0x0804_8000;
    let mut lab = pagelab::lab::samples::build("x86-pae").expect("sample");
    let m = &mut lab.machine;
    let pdpte0 = pagelab::sim::EntryAddr::new(m.processes()[0].root.get() << 12);
    m.set_field(pdpte0, 0, "P", 0).expect("clear P");
    m.load_cr3();
    m.set_field(pdpte0, 0, "P", 1).expect("set P in memory only");
    assert_eq!(m.stale_pdptes(), vec![0]);
    let app = PagelabApp::new(lab, None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    let field = h.get_by_label("Virtual address:");
    field.focus();
    field.type_text("0x8048000");
    h.run();
    h.get_by_label("Why? and how to fix it").click();
    h.run();
    h.get_by_label_contains("PDPTE 0 from its register");
    h.get_by_label_contains("load CR3 again");
    h.get_by_label_contains("Fix 0 (no bit changed)");
    h.get_by_label("Apply fix 0").click();
    h.run();
    let m = &h.state().doc.lab().machine;
    assert!(m.stale_pdptes().is_empty(), "the registers were reloaded");
    let t = m.translate(0, VirtAddr::new(DATA), Access::Read, Mode::User).unwrap();
    assert!(t.fault().is_none(), "{:?}", t.outcome);
}

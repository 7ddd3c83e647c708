//! The "Nested walk" view (src/ui/nested_view.rs) on its own through egui_kittest: the 4-on-4
//! grid with its 24 numbered references (Bhargava et al.'s figure: row g holds 5g+1..5g+5), and
//! a host fault naming its guest-physical address.
#![cfg(feature = "gui")]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::lab::Lab;
use pagelab::sim::nested::{HostKind, NestedMachine, NestedSetup, NestedTranslation};
use pagelab::sim::{Access, Machine, Mode, PhysAddr, VirtAddr, presets};
use pagelab::ui::nested_view;

const VA: u64 = 0x0000_7f12_3456_7abc;

#[test]
fn the_grid_numbers_all_24_references_by_guest_and_host_level() {
    let mut m = NestedMachine::new(presets::x86_64(4), HostKind::Ept4, 64 << 20).expect("machine");
    m.map_guest(VirtAddr::new(VA & !0xfff), &["R/W", "U/S"]).expect("maps");
    let t = m.translate(VirtAddr::new(VA), Access::Read, Mode::User);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1000.0, 400.0))
        .build_ui_state(|ui, t: &mut NestedTranslation| nested_view::nested_grid_ui(ui, t, 4), t);
    h.run();
    for name in ["EPT PML4", "EPT PDPT", "EPT PD", "EPT PT", "guest PML4", "guest PT", "data (final gpa)"] {
        h.get_by_label(name);
    }
    for n in 1..=24 {
        assert_eq!(h.query_all_by_label(&n.to_string()).count(), 1, "reference {n} once");
    }
}

/// x86-64 on 4-level EPT: the guest maps 0x40_0000 to guest-physical 0x8000_0000, which the
/// host never backed (an EPT violation on the final translation).
fn unbacked_guest_page() -> Lab {
    let mut lab = Lab::new("n", "", Machine::new(presets::x86_64(4), 16 << 20).expect("machine"));
    let guest = lab.machine.format().clone();
    let mut setup = NestedSetup::create(&mut lab.machine, &guest, HostKind::Ept4).expect("setup");
    setup
        .map_guest_to(
            &mut lab.machine,
            &guest,
            VirtAddr::new(0x40_0000),
            PhysAddr::new(0x8000_0000),
            &["R/W", "U/S"],
        )
        .expect("maps");
    lab.nested = Some(setup);
    lab
}

#[test]
fn the_view_of_a_lab_names_a_host_fault_and_its_guest_physical_address() {
    let lab = unbacked_guest_page();
    let mut h = Harness::builder().with_size(egui::vec2(1200.0, 700.0)).build_ui_state(
        |ui, lab: &mut Lab| nested_view::nested_view_ui(ui, lab, "0x400010", Access::Read, Mode::User),
        lab,
    );
    h.run();
    assert!(h.query_all_by_label_contains("host fault at gpa 0x80000010").count() == 1);
    assert!(h.query_all_by_label_contains("VM exit 48").count() == 1);
    // The header and the first three references of each host walk read an EPT PML4 entry.
    assert!(h.query_all_by_label("EPT PML4").count() > 1);
}

/// In the app, a nested lab opens its "Nested walk" tab, which walks the MMU panel's address.
#[test]
fn a_nested_lab_opens_its_walk_tab_in_the_app() {
    use pagelab::ui::app::PagelabApp;
    use pagelab::ui::dock::Pane;
    let lab = unbacked_guest_page();
    let mut app = PagelabApp::new(lab, None);
    app.state.mmu.addr_text = "0x400010".into();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1920.0, 1080.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    assert!(h.state().dock.is_shown(Pane::Nested));
    assert!(h.query_all_by_label_contains("host fault at gpa 0x80000010").count() == 1);
    // The MMU panel says that its own walk is the native machine's, and leads to the guest's.
    assert!(h.query_all_by_label_contains("A nested lab: this panel walks the host machine").count() == 1);
    h.state_mut().dock.close(Pane::Nested);
    h.run();
    assert!(!h.state().dock.is_shown(Pane::Nested));
    h.get_by_label("Show the Nested walk").click();
    h.run();
    assert!(h.state().dock.is_shown(Pane::Nested));
}

//! The MMU panel's CPU switches and PAE's PDPTE registers, driven through egui_kittest: AC,
//! the A/D timing and PSE-36 (x86-32 only) change the lab's settings; a PDPTE edited in memory
//! shows as STALE beside its register, the walk reads the register, and Load CR3 clears it.
#![cfg(feature = "gui")]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::doc::Edit;
use pagelab::lab::Lab;
use pagelab::sim::EntryAddr;
use pagelab::sim::mmu::AdTiming;
use pagelab::sim::{Machine, MapRequest, MapTarget, presets};
use pagelab::sim::{PhysAddr, VirtAddr};
use pagelab::ui::app::PagelabApp;

/// PAE: 0x4000_0000 (PDPTE 1) mapped to 0x50_0000.
fn pae_lab() -> Lab {
    let mut m = Machine::new(presets::by_name("x86-pae").expect("preset"), 64 << 20).expect("machine");
    let request = MapRequest {
        va: VirtAddr::new(0x4000_0000),
        len: 0x1000,
        target: MapTarget::To(PhysAddr::new(0x50_0000)),
        page_size: None,
        flags: None,
    };
    m.map(0, &request).expect("map");
    Lab::new("pae", "", m)
}

fn harness(lab: Lab) -> Harness<'static, PagelabApp> {
    let app = PagelabApp::new(lab, None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1400.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    h
}

#[test]
fn switches_change_the_settings_and_pse36_is_offered_for_x86_32_only() {
    let mut h = harness(pae_lab());
    h.get_by_label("MMU switches").click();
    h.run();
    assert!(h.query_by_label("PSE-36: 4 MiB pages above 4 GiB").is_none(), "PAE has no PSE-36");
    h.get_by_label("EFLAGS.AC: SMAP lets supervisor data accesses through").click();
    h.run();
    assert!(h.state().doc.lab().machine.settings().ac);
    h.get_by_label("as the walk passes each entry (QEMU)").click();
    h.run();
    assert_eq!(h.state().doc.lab().machine.settings().ad_timing, AdTiming::AsWalked);

    let x86_32 = Machine::new(presets::by_name("x86-32").expect("preset"), 64 << 20).expect("machine");
    let mut h = harness(Lab::new("x86-32", "", x86_32));
    h.get_by_label("MMU switches").click();
    h.run();
    assert!(
        h.query_by_label("MAXPHYADDR:").is_none(),
        "32-bit entries have no MAXPHYADDR bits without PSE-36"
    );
    h.get_by_label("PSE-36: 4 MiB pages above 4 GiB").click();
    h.run();
    assert!(h.state().doc.lab().machine.settings().pse36);
    h.get_by_label("MAXPHYADDR:");
}

#[test]
fn an_edited_pdpte_shows_stale_until_load_cr3() {
    let mut h = harness(pae_lab());
    assert!(h.query_by_label_contains("STALE").is_none());
    let pdpte1 = (h.state().doc.lab().machine.processes()[0].root.get() << 12) + 8;
    h.state_mut().doc.apply(&Edit::SetEntry { entry_addr: EntryAddr::new(pdpte1), raw: 0 }).expect("edit");
    let field = h.get_by_label("Virtual address:");
    field.focus();
    field.type_text("0x40000000");
    h.run();
    h.get_by_label_contains("STALE: memory holds 0x0");
    h.get_by_label_contains("The PDPTE registers differ from memory");
    // The walk still reaches the page through the register, and says where PDPTE1 came from.
    h.get_by_label("PDPTE1 register");
    h.get_by_label_contains("physical address 0x50_0000");
    assert!(h.query_all_by_label_contains("sets A").count() >= 1, "the walk marks the entries it sets A in");
    h.get_by_label("Load CR3").click();
    h.run();
    assert!(h.state().doc.lab().machine.stale_pdptes().is_empty());
    assert!(h.query_by_label_contains("STALE").is_none());
    let m = &h.state().doc.lab().machine;
    let t = m
        .translate(0, VirtAddr::new(0x4000_0000), pagelab::sim::Access::Read, pagelab::sim::Mode::Supervisor)
        .expect("walk");
    assert!(t.fault().is_some(), "the register now holds the cleared PDPTE");
}

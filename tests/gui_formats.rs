//! The "Compare formats" view (src/ui/formats_view.rs) driven through egui_kittest on its own:
//! the rows of the sample x86-64 lab's stack address, which Sv39 cannot hold, drawn in columns;
//! and the background thread that fills the tab.
#![cfg(feature = "gui")]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::lab::format_compare;
use pagelab::lab::samples;
use pagelab::sim::{Access, Mode, VirtAddr};
use pagelab::ui::formats_view::{self, FormatsView};

/// The x86-64 sample's stack page (0x7fff_ffff_d000, see src/lab/samples.rs): 47 bits.
const STACK: u64 = 0x7fff_ffff_d008;

fn sample() -> pagelab::lab::Lab {
    samples::build("x86-64").expect("the x86-64 sample")
}

#[test]
fn the_view_draws_one_row_per_format_with_levels_refs_and_outcomes() {
    let lab = sample();
    let rows =
        format_compare::compare_process(&lab.machine, 0, VirtAddr::new(STACK), Access::Read, Mode::User)
            .expect("rows");
    let mut h = Harness::builder().with_size(egui::vec2(2400.0, 700.0)).build_ui_state(
        |ui, rows: &mut Vec<format_compare::FormatWalk>| formats_view::formats_ui(ui, rows),
        rows,
    );
    h.run();
    // Two rows per format (4 KiB and 2 MiB), each named by the format.
    for format in ["x86-64", "x86-64-la57", "sv39", "sv48", "sv57"] {
        assert_eq!(h.query_all_by_label(format).count(), 2, "{format}");
    }
    h.get_by_label("refs per miss");
    // Sv39 cannot hold the 47-bit stack, in either page size; every other column maps it.
    assert_eq!(h.query_all_by_label("not representable").count(), 2);
    assert_eq!(h.query_all_by_label("mapped, 4 KiB page").count(), 8);
    // The PML4 row of x86-64: bits 47:39 of 0x7fff_ffff_d008 are 0xff.
    assert!(h.query_all_by_label_contains("PML4 47:39 [0xff] @").count() >= 2);
    // Levels and references per miss: 4 and 4 in the four 4-level columns, 5 and 5 in the four
    // 5-level ones (a table count may add more), 3 levels and no reference in Sv39's two.
    assert!(h.query_all_by_label("4").count() >= 8);
    assert!(h.query_all_by_label("5").count() >= 8);
    assert!(h.query_all_by_label("0").count() >= 2);
}

#[test]
fn the_tab_fills_on_a_background_thread_and_redoes_it_when_the_address_changes() {
    let lab = sample();
    let state = (lab, FormatsView::default(), format!("{STACK:#x}"));
    let mut h = Harness::builder().with_size(egui::vec2(2400.0, 700.0)).build_ui_state(
        |ui, (lab, view, addr): &mut (pagelab::lab::Lab, FormatsView, String)| {
            formats_view::formats_view_ui(ui, &lab.machine, 1, addr, Access::Read, Mode::User, view)
        },
        state,
    );
    // The thread answers within moments; stepping waits for it (no timing asserted).
    for _ in 0..2000 {
        h.step();
        if !h.state().1.busy() && h.state().1.rows.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    h.run();
    assert_eq!(h.query_all_by_label("not representable").count(), 2);
    // Address 0 is unmapped in the sample: every column faults, Sv39 included.
    h.state_mut().2 = "0".into();
    for _ in 0..2000 {
        h.step();
        let view = &h.state().1;
        if !view.busy() && view.rows.as_ref().is_some_and(|((_, _, va, _, _), _)| *va == 0) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    h.run();
    assert_eq!(h.query_all_by_label("page fault").count(), 10);
    h.state_mut().2 = "not an address".into();
    h.run();
    h.get_by_label("Type an address in the MMU panel to walk it in every format.");
}

/// In the app: View ▸ Compare formats opens the tab below the MMU panel, and it walks the address
/// typed in the MMU panel.
#[test]
fn view_opens_the_tab_and_it_follows_the_mmu_panels_address() {
    use pagelab::ui::app::PagelabApp;
    use pagelab::ui::dock::Pane;
    let app = PagelabApp::new(sample(), None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1920.0, 1080.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    h.get_by_label("View").click();
    h.run();
    h.get_by_label("Compare formats").click();
    h.run();
    assert!(h.state().dock.is_shown(Pane::Formats));
    h.state_mut().state.mmu.addr_text = format!("{STACK:#x}");
    for _ in 0..2000 {
        h.step();
        let view = &h.state().state.formats;
        if !view.busy() && view.rows.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    h.run();
    // Sv39 with 4 KiB and with 2 MiB pages cannot hold a 47-bit address.
    assert_eq!(h.query_all_by_label("not representable").count(), 2);
}

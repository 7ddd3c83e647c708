//! Helpers for the app's kittest tests (each file that needs them includes this with `#[path]`).
#![allow(dead_code)] // each test file uses some of these

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::sim::replay::ReplayStats;
use pagelab::ui::app::PagelabApp;

/// Clicks a widget as a user would: scrolled into view first (docked panels are not always tall
/// enough to show all of a panel at once).
pub fn click(h: &mut Harness<'static, PagelabApp>, label: &str) {
    h.get_by_label(label).scroll_to_me();
    h.run();
    h.get_by_label(label).click();
    h.run();
}

/// The statistics of the TLB in front of the lab.
pub fn stats(h: &Harness<'static, PagelabApp>) -> ReplayStats {
    let app = h.state();
    app.doc.tlb().stats(&app.doc.lab().machine)
}

//! The frames view driven through egui_kittest: open it from the View menu, type a reference
//! string, step through it, and check the frames, the statistics and the fault curve.
#![cfg(feature = "gui")]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::lab::Lab;
use pagelab::sim::os::{OsModel, OsSettings};
use pagelab::sim::replace::Policy;
use pagelab::sim::{Machine, presets};
use pagelab::ui::app::PagelabApp;

fn lab(policy: Policy, frames: u32) -> Lab {
    let machine = Machine::new(presets::by_name("x86-64").expect("preset"), 16 << 20).expect("machine");
    let mut lab = Lab::new("Frames test", "", machine);
    lab.os = OsSettings { model: OsModel::Demand, frames, policy, seed: 0 };
    lab
}

fn harness(lab: Lab) -> Harness<'static, PagelabApp> {
    let app = PagelabApp::new(lab, None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1500.0, 1000.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    h
}

fn open_frames_view(h: &mut Harness<'static, PagelabApp>) {
    h.get_by_label("View").click();
    h.run();
    h.get_by_label("Frames and page faults").click();
    h.run();
    assert!(h.state().dock.is_open(pagelab::ui::dock::Pane::Frames), "the View menu opens the frames view");
}

fn type_refs(h: &mut Harness<'static, PagelabApp>, text: &str) {
    let field = h.get_by_label("Reference string:");
    field.focus();
    field.type_text(text);
    h.run();
}

/// At least one widget's label contains `text` (a step shows in the status line and the log).
fn shows(h: &Harness<'static, PagelabApp>, text: &str) {
    assert!(h.query_all_by_label_contains(text).next().is_some(), "nothing shows {text:?}");
}

fn click(h: &mut Harness<'static, PagelabApp>, label: &str) {
    h.get_by_label(label).click();
    h.run();
}

#[test]
fn stepping_beladys_string_fills_frames_then_evicts_the_oldest() {
    let mut h = harness(lab(Policy::Fifo, 3));
    open_frames_view(&mut h);
    type_refs(&mut h, "1,2,3,4,1,2,5,1,2,3,4,5");
    for _ in 0..3 {
        click(&mut h, "Step");
    }
    let run = h.state().state.frames.run.as_ref().expect("a run");
    assert_eq!(run.log().len(), 3);
    assert_eq!(run.os().frames().len(), 3, "three frames, one page each");
    shows(&h, "3: read page 3 of init: page fault, first touch");

    click(&mut h, "Step");
    let run = h.state().state.frames.run.as_ref().expect("a run");
    let last = run.log().last().expect("a step");
    let evicted = last.load.as_ref().and_then(|l| l.evicted).expect("the fourth page evicts");
    assert_eq!(evicted.key.va.get(), 0x1000_1000, "FIFO: page 1, the oldest, goes");
    shows(&h, "evicted page 1 of init (clean, dropped)");

    click(&mut h, "Run");
    let run = h.state().state.frames.run.as_ref().expect("a run");
    assert!(run.is_done());
    assert_eq!(run.os().total().faults, 9);
    assert_eq!(run.os().total().first_touch, 5);
    shows(&h, "12 accesses, 3 hits");
    // The plot's data: Belady's anomaly for FIFO, none for OPT.
    let curve = &h.state().state.frames.curve;
    let fifo = curve.iter().find(|(p, _)| *p == Policy::Fifo).map(|(_, c)| c.clone()).expect("FIFO curve");
    assert!(fifo.contains(&(3, 9)) && fifo.contains(&(4, 10)), "{fifo:?}");
    shows(&h, "FIFO: 1:12  2:12  3:9  4:10");
}

#[test]
fn clock_shows_its_hand_and_the_next_victim() {
    let mut h = harness(lab(Policy::Clock, 2));
    open_frames_view(&mut h);
    type_refs(&mut h, "1,2w,3");
    click(&mut h, "Step");
    click(&mut h, "Step");
    h.get_by_label("hand, next victim");
    click(&mut h, "Step");
    // Both A bits were set: the hand cleared them and took slot 0; it now points at slot 1.
    let run = h.state().state.frames.run.as_ref().expect("a run");
    assert_eq!(run.os().hand(), Some(1));
    shows(&h, "evicted page 1 of init");
}

#[test]
fn settings_changed_in_the_view_are_saved_in_the_lab() {
    let mut h = harness(lab(Policy::Fifo, 3));
    open_frames_view(&mut h);
    type_refs(&mut h, "1,2,3,4w,1,2,5,1,2,3,4,5");
    click(&mut h, "Run");
    h.state_mut().push(pagelab::ui::state::Action::SetOs(OsSettings::demand(4, Policy::Fifo)));
    h.run();
    assert_eq!(h.state().doc.lab().os.frames, 4);
    assert!(h.state().doc.dirty, "an OS setting is part of the lab");
    let run = h.state().state.frames.run.as_ref().expect("a new run");
    assert!(run.log().is_empty(), "a setting change starts the run again");
    click(&mut h, "Run");
    let run = h.state().state.frames.run.as_ref().expect("a run");
    assert_eq!(run.os().total().faults, 10, "4 frames: one more fault than 3 (Belady)");
    shows(&h, "Swap (");
}

#[test]
fn a_bad_reference_string_says_where() {
    let mut h = harness(lab(Policy::Lru, 3));
    open_frames_view(&mut h);
    type_refs(&mut h, "1,2,x");
    shows(&h, "reference 3 (\"x\")");
    assert!(h.state().state.frames.run.is_none());
}

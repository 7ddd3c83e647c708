//! fork() in the app, driven through egui_kittest on the welcome lab: Processes ▸ Fork (copy-on-write)
//! (under the list, and in a process's context menu) makes a child that reads every user page from its parent's frames, marks
//! them copy-on-write in the tree, dots the shared frames in the memory map and opens the
//! comparison; one undo takes it back. With demand paging, the frames view's timeline lists the
//! first write's copy and the last owner's write without a copy.
#![cfg(feature = "gui")]

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::lab::Lab;
use pagelab::sim::VirtAddr;
use pagelab::sim::os::{OsModel, OsSettings};
use pagelab::sim::replace::Policy;
use pagelab::sim::{Access, Mode, Outcome, table};
use pagelab::ui::app::PagelabApp;
use pagelab::ui::dock::Pane;

/// The welcome lab's data page (read-write in shell, in frame 0x12 per its tree).
const DATA: u64 = 0x5555_5555_8000;

fn harness(lab: Lab) -> Harness<'static, PagelabApp> {
    let mut app = PagelabApp::new(lab, None);
    app.dock.open(Pane::Processes);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    h
}

/// Forks the active process (shell) with the button under the process list; the process's
/// context menu offers the same two forks.
fn fork_shell(h: &mut Harness<'static, PagelabApp>) {
    h.get_all_by_label("shell").next().expect("the process list").click_secondary();
    h.run();
    assert_eq!(h.query_all_by_label("Fork (copy-on-write)").count(), 2, "in the menu and under the list");
    assert_eq!(h.query_all_by_label("Fork (eager copy)").count(), 2);
    h.key_press(Key::Escape);
    h.run();
    h.get_by_label("Fork (copy-on-write)").click();
    h.run();
}

fn pa(lab: &Lab, process: usize, va: u64) -> Option<u64> {
    match lab.machine.translate(process, VirtAddr::new(va), Access::Read, Mode::User).ok()?.outcome {
        Outcome::Mapped(m) => Some(m.pa.get()),
        Outcome::Fault(_) => None,
    }
}

#[test]
fn fork_shares_every_user_page_and_one_undo_takes_it_back() {
    let mut h = harness(pagelab::ui::welcome_lab());
    fork_shell(&mut h);
    let lab = h.state().doc.lab().clone();
    let names: Vec<&str> = lab.machine.processes().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["shell", "editor", "shell-child"]);
    assert_eq!(lab.machine.active(), 2, "the child runs after the fork");
    // Every page of the parent reads the same frame in the child.
    let user_pages: Vec<u64> =
        table::leaves(lab.machine.mem(), lab.machine.format(), lab.machine.processes()[0].root)
            .iter()
            .map(|leaf| leaf.va.get())
            .filter(|&va| pa(&lab, 0, va).is_some())
            .collect();
    assert!(user_pages.len() >= 6);
    for va in &user_pages {
        assert_eq!(pa(&lab, 2, *va), pa(&lab, 0, *va), "page {va:#x}");
    }
    // The comparison opened, the tree says copy-on-write, the memory map dots the shared frames.
    h.get_by_label("\"shell\" compared with \"shell-child\"");
    assert!(h.query_all_by_label_contains("copy-on-write, 2 owners").count() >= 1);
    assert!(h.query_all_by_label_contains("shared by fork (").count() == 1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run();
    assert_eq!(h.state().doc.lab().machine.processes().len(), 2, "one undo step");
    assert!(h.state().state.compare.is_none(), "the comparison closes with the child");
}

#[test]
fn the_frames_view_lists_the_copy_then_the_last_owners_write() {
    let mut lab = pagelab::ui::welcome_lab();
    lab.os = OsSettings { model: OsModel::Demand, frames: 8, policy: Policy::Fifo, seed: 0 };
    let mut h = harness(lab);
    fork_shell(&mut h);
    let frame = pa(h.state().doc.lab(), 0, DATA).expect("mapped") >> 12;
    h.state_mut().dock.open(Pane::Frames);
    h.run();
    let field = h.get_by_label("Reference string:");
    field.focus();
    field.type_text("shell-child:0x5555_5555_8000w shell:0x5555_5555_8000w");
    h.run();
    for _ in 0..2 {
        h.get_by_label("Step").scroll_to_me();
        h.run();
        h.get_by_label("Step").click();
        h.run();
    }
    // The child's write copies the shared frame (one owner left); the parent's write then finds
    // itself the last owner and gets its page made writable without a copy.
    let copy = format!("1. \"shell-child\" wrote 0x5555_5555_8000: copied frame {frame:#x} to");
    assert!(h.query_all_by_label_contains(&copy).count() == 1, "{copy}");
    assert!(h.query_all_by_label_contains("(1 owner left)").count() >= 1);
    // The access log calls the parent's write a copy-on-write fault, not a hit.
    assert!(
        h.query_all_by_label_contains("2: write page at 0x5555_5555_8000 of shell: copy-on-write fault")
            .count()
            >= 1
    );
    let reuse = format!(
        "2. \"shell\" wrote 0x5555_5555_8000: last owner of frame {frame:#x}: made writable, no copy"
    );
    h.get_by_label(&reuse);
    assert!(h.query_all_by_label_contains("TLB: invalidated 0x5555_5555_8000").count() == 2);
    // The statistics count them apart from page loads: two faults, one copy, one reuse.
    h.get_by_label("copy-on-write faults");
    assert_eq!(h.query_all_by_label_contains("last owner, no copy").count(), 1, "the reuse row");
}

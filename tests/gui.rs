//! The desktop app driven through egui_kittest: real widgets found by their labels, real
//! clicks and typing, assertions on the lab's bytes and on what the panels show.
#![cfg(feature = "gui")]

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use pagelab::sim::VirtAddr;
use pagelab::sim::table;
use pagelab::ui::app::PagelabApp;
use pagelab::ui::welcome_lab;

/// A small x86-64 lab of its own, so that the tests do not depend on the samples' layout:
/// read-only code at 0x400000, data at 0x600000, a stack below 0x8000_0000, one kernel page.
fn test_lab() -> pagelab::lab::Lab {
    use pagelab::sim::machine::{MapRequest, MapTarget};
    let mut m = pagelab::sim::Machine::new(pagelab::sim::presets::x86_64(4), 64 << 20).unwrap();
    let regions: [(u64, u64, &[&str]); 4] = [
        (0x40_0000, 0x3000, &["U/S"]),
        (0x60_0000, 0x2000, &["R/W", "U/S", "NX"]),
        (0x7fff_c000, 0x4000, &["R/W", "U/S", "NX"]),
        (0xffff_8000_0000_0000, 0x1000, &["R/W", "G"]),
    ];
    for (va, len, flags) in regions {
        let flags = Some(flags.iter().map(|f| f.to_string()).collect());
        m.map(
            0,
            &MapRequest { va: VirtAddr::new(va), len, target: MapTarget::Alloc, page_size: None, flags },
        )
        .unwrap();
    }
    pagelab::lab::Lab::new("GUI test lab", "", m)
}

fn harness() -> Harness<'static, PagelabApp> {
    let app = PagelabApp::new(test_lab(), None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1500.0, 1000.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    h
}

fn leaf_raw(app: &PagelabApp, va: u64) -> u64 {
    let m = &app.doc.lab().machine;
    let path = table::entry_path(m.mem(), m.format(), m.active_process().root, VirtAddr::new(va)).unwrap();
    path.last().unwrap().raw
}

fn type_address(h: &mut Harness<'static, PagelabApp>, text: &str) {
    let field = h.get_by_label("Virtual address:");
    field.focus();
    field.type_text(text);
    h.run();
}

#[test]
fn toggling_a_pte_bit_writes_the_entry_bytes() {
    let mut h = harness();
    let before = leaf_raw(h.state(), 0x40_0000);
    assert_eq!(before & 0b10, 0, "the code page starts read-only");
    h.get_by_label_contains("PT[0x0]  0x40_0000").click();
    h.run();
    h.get_by_label("R/W").click();
    h.run();
    let after = leaf_raw(h.state(), 0x40_0000);
    assert_eq!(after, before | 0b10, "only R/W (bit 1) changed");
    assert!(h.state().doc.dirty);
    assert!(h.state().title().starts_with('●'), "the title marks unsaved changes: {}", h.state().title());
    // The Raw field follows the checkbox: pressing Write keeps the edit instead of reverting it.
    assert_eq!(h.state().state.raw_edit, format!("{after:#x}"));
    h.get_by_label("Write").click();
    h.run();
    assert_eq!(leaf_raw(h.state(), 0x40_0000), after, "Write wrote the value shown");
}

#[test]
fn typing_an_address_shows_the_physical_address_or_the_fault() {
    let mut h = harness();
    type_address(&mut h, "0x600010");
    let m = &h.state().doc.lab().machine;
    let pa = m
        .translate(0, VirtAddr::new(0x60_0010), pagelab::sim::Access::Read, pagelab::sim::Mode::User)
        .unwrap()
        .pa()
        .unwrap();
    h.get_by_label_contains(&format!("physical address {}", pagelab::sim::addr::hex_grouped(pa.get())));
    // The live walk's path is highlighted in the tree as a preview, level by level; nothing was
    // performed yet, so nothing says it wrote.
    for step in 1..=4 {
        h.get_by_label_contains(&format!("(preview step {step})"));
    }
    assert_eq!(h.query_all_by_label_contains("(walk step").count(), 0);
    assert!(h.query_by_label_contains("The last access wrote").is_none());
    let leaf_row = h.get_by_label_contains("(preview step 4)").accesskit_node().label().unwrap_or_default();
    assert!(leaf_row.starts_with("PT[0x0]  0x60_0000"), "{leaf_row}");
    // Performing it makes it the walk, and the panel says what it wrote until an undo.
    h.get_by_label("Translate").click();
    h.run();
    assert_eq!(h.query_all_by_label_contains("(walk step").count(), 4);
    assert_eq!(h.query_all_by_label_contains("(preview step").count(), 0);
    h.get_by_label_contains("The last access wrote");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run();
    assert!(h.query_by_label_contains("The last access wrote").is_none(), "the undo reverted the access");
    assert_eq!(h.query_all_by_label_contains("(walk step").count(), 0);
    let field = h.get_by_label("Virtual address:");
    field.focus();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    field.type_text("0x900000");
    h.run();
    h.get_by_label_contains("Page fault: the entry is not present");
}

#[test]
fn switching_process_changes_the_result_for_the_same_address() {
    let mut h = harness();
    type_address(&mut h, "0x400000");
    h.get_by_label_contains("-> physical address");
    h.get_by_label("Add").click();
    h.run();
    assert_eq!(h.state().doc.lab().machine.processes().len(), 2);
    h.get_by_label_contains("Page fault: the entry is not present");
    h.get_by_label("init").click();
    h.run();
    assert_eq!(h.state().doc.lab().machine.active(), 0);
    h.get_by_label_contains("-> physical address");
}

#[test]
fn mapping_through_the_dialog_makes_the_fault_go_away_and_undo_restores_the_lab() {
    let mut h = harness();
    let original = h.state().doc.lab().clone();
    type_address(&mut h, "0x900010");
    h.get_by_label_contains("Page fault");
    h.get_by_label("Map…").click();
    h.run();
    let va = h.get_by_label("Virtual address");
    va.focus();
    va.type_text("0x900000");
    h.run();
    h.get_by_label("Map").click();
    h.run();
    assert!(h.state().state.map_dialog.is_none(), "the dialog closes after a successful map");
    h.get_by_label_contains("-> physical address");
    assert!(h.query_by_label_contains("Page fault").is_none());
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run();
    assert_eq!(*h.state().doc.lab(), original, "undo restores the lab exactly");
    h.get_by_label_contains("Page fault");
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    h.run();
    assert_ne!(*h.state().doc.lab(), original, "redo maps again");
}

#[test]
fn mapping_over_an_existing_page_shows_the_error_in_the_dialog() {
    let mut h = harness();
    h.get_by_label("Map…").click();
    h.run();
    let va = h.get_by_label("Virtual address");
    va.focus();
    va.type_text("0x400000");
    h.run();
    h.get_by_label("Map").click();
    h.run();
    let error = h
        .state()
        .state
        .map_dialog
        .as_ref()
        .and_then(|d| d.error.clone())
        .expect("dialog stays open with the error");
    assert!(error.contains("already mapped"), "{error}");
    // Shown in the dialog (and repeated in the status line).
    assert!(h.query_all_by_label_contains("already mapped").count() >= 2);
}

#[test]
fn opening_a_malformed_file_shows_an_error_and_keeps_the_lab() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(
        &path,
        r#"{"format": "pagelab-lab", "version": 1, "paging": "x86-64", "memory": {"size": "lots"}}"#,
    )
    .unwrap();
    let mut h = harness();
    let before = h.state().doc.lab().clone();
    h.key_press_modifiers(Modifiers::COMMAND, Key::O);
    h.run();
    let field = h.get_by_label("Path:");
    field.focus();
    field.type_text(&path.display().to_string());
    h.run();
    h.get_by_label("Open").click();
    h.run();
    assert_eq!(*h.state().doc.lab(), before);
    let message = h.state().state.file_error.clone().expect("an error is shown");
    assert!(message.contains("memory.size"), "{message}");
    h.get_by_label_contains("Could not open");
}

#[test]
fn saving_and_reopening_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.json");
    let mut h = harness();
    h.state_mut().push(pagelab::ui::state::Action::SaveAs(path.clone()));
    h.run();
    assert!(!h.state().doc.dirty);
    let saved = pagelab::lab::io::load(&path).unwrap();
    assert_eq!(saved, *h.state().doc.lab());
}

#[test]
fn a_lab_given_at_launch_is_opened_and_a_bad_one_keeps_the_welcome_lab() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    let mut lab = welcome_lab();
    lab.title = "From disk".into();
    pagelab::lab::io::save(&lab, &good).unwrap();
    let app = PagelabApp::new(welcome_lab(), None).with_startup_file(Some(good.clone()));
    assert_eq!(app.doc.lab().title, "From disk");
    assert_eq!(app.doc.path.as_deref(), Some(good.as_path()));

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{ not json").unwrap();
    let app = PagelabApp::new(welcome_lab(), None).with_startup_file(Some(bad));
    assert_eq!(*app.doc.lab(), welcome_lab());
    assert!(app.state.file_error.as_deref().is_some_and(|e| e.contains("not valid JSON")));
}

#[test]
fn without_a_display_the_app_says_so_and_exits_non_zero() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pagelab"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pagelab --help"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn quitting_or_opening_with_unsaved_changes_asks_first() {
    let mut h = harness();
    h.get_by_label("Add").click();
    h.run();
    assert!(h.state().doc.dirty);
    h.state_mut().push(pagelab::ui::state::Action::New("empty:sv39".into()));
    h.run();
    assert_eq!(
        h.state().doc.lab().machine.format().name,
        "x86-64",
        "nothing is lost before the user answers"
    );
    assert!(h.state().state.pending_discard.is_some(), "the app asks");
    h.get_by_label_contains("Unsaved changes");
    h.get_by_label("Cancel").click();
    h.run();
    assert!(h.state().state.pending_discard.is_none());
    h.state_mut().push(pagelab::ui::state::Action::New("empty:sv39".into()));
    h.run();
    h.get_by_label("Discard changes").click();
    h.run();
    assert_eq!(h.state().doc.lab().machine.format().name, "sv39");
    assert!(!h.state().doc.dirty);
}

/// Accesses set A/D bits in one undo step of their own, so Ctrl+Z after a few accesses and an
/// edit undoes the edit in one press; the next press undoes the accesses together.
#[test]
fn undo_after_accesses_and_an_edit_undoes_the_edit_in_one_press() {
    let mut h = harness();
    let original = h.state().doc.lab().clone();
    for va in ["0x600010", "0x601010", "0x400000"] {
        let field = h.get_by_label("Virtual address:");
        field.focus();
        h.key_press_modifiers(Modifiers::COMMAND, Key::A);
        field.type_text(va);
        h.run();
        h.get_by_label("Translate").click();
        h.run();
    }
    let accessed = h.state().doc.lab().clone();
    assert_ne!(accessed, original, "the accesses wrote accessed bits");
    assert_eq!(h.state().doc.undo_label().as_deref(), Some("3 accesses"));
    h.get_by_label_contains("PT[0x0]  0x40_0000").click();
    h.run();
    h.get_by_label("R/W").click();
    h.run();
    assert_ne!(*h.state().doc.lab(), accessed, "the edit changed the entry");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run();
    assert_eq!(*h.state().doc.lab(), accessed, "one press undid the edit and kept the accesses");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run();
    assert_eq!(*h.state().doc.lab(), original, "the second press undid the three accesses");
}

/// With "Present only" on, clearing the selected entry's P bit keeps it in the tree and in the
/// inspector (it used to vanish and be deselected), where it can be set again.
#[test]
fn clearing_p_keeps_the_selected_entry_in_view() {
    let mut h = harness();
    assert!(h.state().state.present_only);
    h.get_by_label_contains("PT[0x0]  0x40_0000").click();
    h.run();
    let selected = h.state().state.selected;
    assert!(selected.is_some());
    h.get_by_label("P").click();
    h.run();
    assert_eq!(leaf_raw(h.state(), 0x40_0000) & 1, 0, "P is clear");
    assert_eq!(h.state().state.selected, selected, "still selected");
    h.get_by_label_contains("PT[0x0]  0x40_0000");
    // The inspector still shows the entry's fields, P among them, to set it again.
    h.get_by_label("P");
    h.get_by_label("· not present");
}

/// MAXPHYADDR is typed into the MMU switches, as an undoable settings edit (its effect on walks
/// is tested in tests/x86_64_rules.rs).
#[test]
fn maxphyaddr_is_an_mmu_switch() {
    let mut h = harness();
    h.get_by_label("MMU switches").click();
    h.run();
    let field = h.get_by_label("MAXPHYADDR:");
    field.click();
    h.run();
    let field = h.get_by_label("MAXPHYADDR:");
    field.focus();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_label("MAXPHYADDR:").type_text("40");
    h.key_press(Key::Enter);
    h.run();
    assert_eq!(h.state().doc.lab().machine.settings().maxphyaddr, 40);
    assert_eq!(h.state().doc.undo_label().as_deref(), Some("change MMU settings"));
}

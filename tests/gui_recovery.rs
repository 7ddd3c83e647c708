//! Crash recovery in the app, driven through egui_kittest: work that a crashed app left in the
//! recovery directory is offered at start, Restore brings it back (unsaved, with its lab's path)
//! and Discard removes it; unsaved changes are autosaved, and a clean document removes the file.
#![cfg(feature = "gui")]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::doc::Edit;
use pagelab::lab::recovery;
use pagelab::lab::{Lab, io};
use pagelab::ui::app::PagelabApp;
use pagelab::ui::recovery::{AUTOSAVE_EVERY, Recovery};
use pagelab::ui::state::Action;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// A pid no running process has: beyond any Linux pid_max (elsewhere the planted files are
/// made old enough instead).
const GONE: u32 = u32::MAX;

fn lab(title: &str) -> Lab {
    let machine =
        pagelab::sim::Machine::new(pagelab::sim::presets::by_name("sv39").unwrap(), 1 << 22).unwrap();
    Lab::new(title, "", machine)
}

fn harness(recovery_dir: &Path) -> Harness<'static, PagelabApp> {
    let app = PagelabApp::new(lab("Start"), None).with_recovery(Recovery::in_dir(recovery_dir));
    let mut h = Harness::builder()
        .with_size(egui::vec2(1500.0, 1000.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    h
}

/// A recovery file as a crashed app leaves it: `work` belonging to `source`, copied now.
fn plant(dir: &Path, work: &Lab, source: Option<&Path>) -> PathBuf {
    let file = dir.join(recovery::file_name(GONE));
    recovery::write(&file, &recovery::to_json(work, source, SystemTime::now())).unwrap();
    if !cfg!(target_os = "linux") {
        let old = SystemTime::now() - Duration::from_secs(2 * 3600);
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
    }
    file
}

fn unsaved_work() -> Lab {
    let mut work = lab("Unsaved work");
    work.machine.add_process("second").unwrap();
    work
}

#[test]
fn work_a_crash_left_is_offered_and_restore_brings_it_back_unsaved() {
    let dir = tempfile::tempdir().unwrap();
    let lab_path = dir.path().join("lab.json");
    io::save(&lab("Saved before the crash"), &lab_path).unwrap();
    let recovery_dir = dir.path().join("recovery");
    let planted = plant(&recovery_dir, &unsaved_work(), Some(&lab_path));

    let mut h = harness(&recovery_dir);
    h.get_by_label_contains("Restore unsaved work from");
    h.get_by_label("Restore").click();
    h.run();

    let app = h.state();
    assert_eq!(*app.doc.lab(), unsaved_work());
    assert!(app.doc.dirty, "restored work is still unsaved");
    assert_eq!(app.doc.path.as_deref(), Some(lab_path.as_path()), "Save writes it to its lab");
    assert!(h.query_by_label_contains("Restore unsaved work from").is_none(), "the offer is answered");
    let own = app.recovery.file().unwrap().to_path_buf();
    assert!(!planted.exists() && own.exists(), "this app keeps the work in its own recovery file");

    h.state_mut().push(Action::Save);
    h.run();
    // Saved with the link to the schema that the first save wrote beside the lab.
    let expected = pagelab::lab::Lab { schema: Some("lab.schema.json".into()), ..unsaved_work() };
    assert_eq!(io::load(&lab_path).unwrap(), expected);
    assert!(!h.state().doc.dirty);
    assert!(!own.exists(), "a clean save removes the recovery file");
}

#[test]
fn discard_removes_the_recovery_file_and_keeps_the_lab_open() {
    let dir = tempfile::tempdir().unwrap();
    let planted = plant(dir.path(), &unsaved_work(), None);
    let mut h = harness(dir.path());
    h.get_by_label_contains("Restore unsaved work from");
    h.get_by_label("Discard").click();
    h.run();
    assert!(!planted.exists());
    assert_eq!(h.state().doc.lab().title, "Start");
    assert!(!h.state().doc.dirty);
    assert!(h.query_by_label_contains("Restore unsaved work from").is_none());
}

#[test]
fn work_older_than_its_saved_lab_is_not_offered() {
    let dir = tempfile::tempdir().unwrap();
    let lab_path = dir.path().join("lab.json");
    let planted = plant(&dir.path().join("recovery"), &unsaved_work(), Some(&lab_path));
    io::save(&lab("Saved after the copy"), &lab_path).unwrap();
    // The file system's clock may be coarser than the copy's time stamp: date the save clearly
    // after the copy rather than rely on a short sleep.
    let later = std::time::SystemTime::now() + Duration::from_secs(10);
    std::fs::File::options().write(true).open(&lab_path).unwrap().set_modified(later).unwrap();
    let h = harness(&dir.path().join("recovery"));
    assert!(h.query_by_label_contains("Restore unsaved work from").is_none());
    assert!(!planted.exists(), "the obsolete copy is removed");
}

#[test]
fn unsaved_changes_are_autosaved_at_most_every_minute_and_discarding_them_removes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    assert!(h.query_by_label_contains("Restore unsaved work from").is_none(), "nothing to offer");
    let file = h.state().recovery.file().unwrap().to_path_buf();
    assert!(!file.exists(), "a clean document has no recovery file");

    h.state_mut().push(Action::Edit(Edit::AddProcess { name: "b".into() }));
    h.run();
    h.state_mut().recovery.wait_for_writer();
    let copy = recovery::read(&file).unwrap();
    assert_eq!(copy.lab, *h.state().doc.lab(), "the first unsaved change is copied at once");
    assert_eq!(copy.source, None);

    h.state_mut().push(Action::Edit(Edit::AddProcess { name: "c".into() }));
    h.run();
    h.state_mut().recovery.wait_for_writer();
    assert_eq!(recovery::read(&file).unwrap().lab.machine.processes().len(), 2, "not again within a minute");
    let app = h.state_mut();
    app.recovery.tick(&app.doc, Instant::now() + AUTOSAVE_EVERY);
    app.recovery.wait_for_writer();
    assert_eq!(recovery::read(&file).unwrap().lab, *app.doc.lab(), "a minute later, the new state");

    h.state_mut().push(Action::DiscardChanges);
    h.run();
    assert!(!file.exists(), "discarded changes leave nothing to recover");
}

#[test]
fn a_panic_writes_the_latest_copy_of_the_unsaved_work() {
    use pagelab::doc::Document;
    use pagelab::ui::recovery::COPY_EVERY;
    let dir = tempfile::tempdir().unwrap();
    let mut recovery = Recovery::in_dir(dir.path());
    let file = recovery.file().unwrap().to_path_buf();
    let mut doc = Document::new(lab("Work"), None);
    doc.apply(&Edit::AddProcess { name: "b".into() }).unwrap();
    let start = Instant::now();
    recovery.tick(&doc, start);
    recovery.wait_for_writer();
    doc.apply(&Edit::AddProcess { name: "c".into() }).unwrap();
    // Copied for the hook, but not written: the next autosave is a minute away.
    recovery.tick(&doc, start + COPY_EVERY);
    recovery.wait_for_writer();
    assert_eq!(recovery::read(&file).unwrap().lab.machine.processes().len(), 2);

    // The hook stays for the rest of this test binary: a clean document below leaves it
    // nothing to write when other tests fail.
    recovery.install_panic_hook();
    assert!(std::thread::spawn(|| panic!("a bug (expected by this test)")).join().is_err());
    assert_eq!(recovery::read(&file).unwrap().lab, *doc.lab(), "the panic wrote the latest copy");
    doc.dirty = false;
    recovery.tick(&doc, start);
    assert!(!file.exists());
}

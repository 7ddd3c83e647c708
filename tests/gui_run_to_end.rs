//! "Run to end" in the trace player: the rest of the trace replays on a background thread while
//! the panel shows progress and Cancel; the lab, the TLB statistics and the plots change once,
//! as one undo step; a cancelled run keeps what it replayed and Play goes on from there; a run
//! whose lab was edited meanwhile is refused and the edit is kept.
#![cfg(feature = "gui")]

#[path = "common/gui.rs"]
mod gui;
use gui::{click, stats};
use pagelab::sim::VirtAddr;

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::doc::Edit;
use pagelab::lab::Lab;
use pagelab::sim::machine::{MapRequest, MapTarget};
use pagelab::sim::trace::TraceReader;
use pagelab::sim::{Machine, presets};
use pagelab::ui::app::PagelabApp;
use pagelab::ui::plots::PlotSeries;
use pagelab::ui::run_to_end::RunToEnd;
use pagelab::ui::trace_player::TracePlayer;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Code at 0x400000 (one page); everything else is demand-mapped by the replay.
fn test_lab() -> Lab {
    let mut m = Machine::new(presets::x86_64(4), 64 << 20).unwrap();
    let request = MapRequest {
        va: VirtAddr::new(0x40_0000),
        len: 0x1000,
        target: MapTarget::Alloc,
        page_size: None,
        flags: Some(vec!["U/S".into(), "R/W".into()]),
    };
    m.map(0, &request).unwrap();
    Lab::new("Run to end", "", m)
}

fn harness() -> Harness<'static, PagelabApp> {
    let mut app = PagelabApp::new(test_lab(), None);
    app.dock.open(pagelab::ui::dock::Pane::Tlb);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1700.0, 1100.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    h
}

/// `rounds` passes over 40 consecutive pages from 0x900000, one load per page: 40 × rounds
/// records, 40 first touches (each a miss and a demand map); the default TLB (64 entries, 4-way,
/// 16 sets) holds 40 consecutive pages (2 or 3 per set), so every later access hits.
fn write_loop_trace(dir: &Path, rounds: u64) -> PathBuf {
    let text: String = (0..rounds)
        .flat_map(|_| (0..40u64).map(|page| format!("{:#x} r\n", 0x90_0000 + page * 0x1000)))
        .collect();
    let path = dir.join("loop.txt");
    std::fs::write(&path, text).unwrap();
    path
}

fn open_trace(h: &mut Harness<'static, PagelabApp>, path: &Path) {
    let field = h.get_by_label("Trace file:");
    field.focus();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_label("Trace file:").type_text(&path.display().to_string());
    h.run();
    click(h, "Open trace");
}

/// Presses Run to end. The spinner keeps the app repainting while the run works, so frames are
/// stepped by hand from here on.
fn start_run(h: &mut Harness<'static, PagelabApp>) {
    h.get_by_label("Run to end").scroll_to_me();
    h.run();
    h.get_by_label("Run to end").click();
    h.run_steps(2);
}

/// Steps the app until the run has ended (its result installed), or fails after a while.
fn wait_for_run(h: &mut Harness<'static, PagelabApp>) {
    let started = Instant::now();
    while h.state().tlb.run.is_some() {
        assert!(started.elapsed() < Duration::from_secs(120), "the run never ended");
        std::thread::sleep(Duration::from_millis(20));
        h.run_steps(1);
    }
    h.run_steps(3);
}

#[test]
fn run_to_end_replays_the_rest_in_the_background_as_one_undo_step() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_loop_trace(dir.path(), 250);
    let mut h = harness();
    let original = h.state().doc.lab().clone();
    open_trace(&mut h, &trace);
    click(&mut h, "Step");
    assert_eq!(stats(&h).records, 1);
    start_run(&mut h);
    wait_for_run(&mut h);
    let s = stats(&h);
    assert_eq!(s.records, 10_000);
    assert_eq!(
        (s.total.counters.lookups, s.total.counters.misses, s.total.counters.hits),
        (10_000, 40, 9_960)
    );
    assert_eq!(s.total.counters.demand_maps, 40);
    h.get_by_label_contains("End of trace: 10000 records replayed");
    assert!(h.state().tlb.player.as_ref().is_some_and(|p| p.finished));
    // The plots got the run's windows (the last one closed at the end of the trace).
    let series = &h.state().tlb.series;
    assert_eq!(series.misses.last(), Some(&[10_000.0, 40.0]));
    // The step and the run were one playback: one undo goes back to the lab before it.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run();
    assert_eq!(*h.state().doc.lab(), original, "one undo step reverts the whole replay");
}

#[test]
fn a_cancelled_run_keeps_what_it_replayed_and_play_goes_on_from_there() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_loop_trace(dir.path(), 25_000);
    let lab = test_lab();
    let mut doc = pagelab::doc::Document::new(lab, None);
    let player = TracePlayer::open(&trace).unwrap();
    let run = RunToEnd::start(doc.replay_job(true), player, PlotSeries::default());
    // A million records take the replayer well over the moment it takes to set the flag.
    run.cancel();
    let result = run.wait().unwrap().unwrap();
    assert!(result.cancelled && result.outcome.is_ok());
    let mut player = result.player;
    let done = player.records;
    assert!(done < 1_000_000, "cancelled before the end ({done} records)");
    doc.finish_replay_job("replay", result.job).unwrap();
    assert_eq!(doc.tlb().stats(&doc.lab().machine).records, done);
    // Going on from where the run stopped replays each record exactly once.
    doc.replay("replay", true, |replayer, machine| {
        while !player.finished {
            player.run(replayer, machine, 1 << 16).unwrap();
        }
    })
    .unwrap();
    let s = doc.tlb().stats(&doc.lab().machine);
    assert_eq!((s.records, s.total.counters.misses, s.total.counters.demand_maps), (1_000_000, 40, 40));
}

#[test]
fn an_edit_made_while_the_run_works_wins_over_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_loop_trace(dir.path(), 10);
    let mut doc = pagelab::doc::Document::new(test_lab(), None);
    let job = doc.replay_job(true);
    let mut player = TracePlayer::open(&trace).unwrap();
    let mut job = job;
    player.run(&mut job.replayer, &mut job.machine, 1_000).unwrap();
    doc.apply(&Edit::AddProcess { name: "meanwhile".into() }).unwrap();
    let edited = doc.lab().clone();
    let refused = doc.finish_replay_job("replay", job);
    assert!(refused.unwrap_err().to_string().contains("changed while the trace ran"));
    assert_eq!(*doc.lab(), edited, "the user's edit is kept, the run is not installed");
    assert_eq!(doc.tlb().stats(&doc.lab().machine).records, 0);
}

#[test]
fn the_player_shows_progress_and_cancel_while_the_run_works() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_loop_trace(dir.path(), 25_000);
    let mut h = harness();
    open_trace(&mut h, &trace);
    start_run(&mut h);
    assert!(h.state().tlb.run.is_some());
    h.get_by_label_contains("to its end in the background");
    // The other controls wait for the run; Cancel stops it.
    assert!(h.query_by_label("Play").is_none());
    h.get_by_label("Cancel").click();
    h.run_steps(2);
    wait_for_run(&mut h);
    h.get_by_label_contains("Run cancelled after");
    let records = stats(&h).records;
    assert!(records > 0 && records < 1_000_000, "{records}");
    assert!(h.state().tlb.player.as_ref().is_some_and(|p| !p.finished && p.records == records));
    // A fresh reader agrees on the total: the run and the file are the same trace.
    let file = std::fs::File::open(&trace).unwrap();
    assert_eq!(TraceReader::new(std::io::BufReader::new(file)).count(), 1_000_000);
}

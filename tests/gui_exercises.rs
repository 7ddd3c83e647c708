//! Exercises in the desktop app: an instructor authors a task from what is on screen, previews
//! it as a student and answers it; a student copy refuses edits to locked parts.
#![cfg(feature = "gui")]

#[path = "common/course.rs"]
mod course;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::lab::Lab;
use pagelab::sim::machine::{MapRequest, MapTarget};
use pagelab::sim::{Access, Machine, Mode, presets};
use pagelab::sim::{Pfn, VirtAddr};
use pagelab::ui::app::PagelabApp;

fn lab() -> Lab {
    let mut m = Machine::new(presets::x86_64(4), 16 << 20).unwrap();
    let flags = Some(vec!["R/W".to_string(), "U/S".to_string()]);
    m.map(
        0,
        &MapRequest {
            va: VirtAddr::new(0x60_0000),
            len: 0x1000,
            target: MapTarget::Alloc,
            page_size: None,
            flags,
        },
    )
    .unwrap();
    let pa = m.translate(0, VirtAddr::new(0x60_0010), Access::Read, Mode::User).unwrap().pa().unwrap();
    m.write_phys(pa, &[0x5a]).unwrap();
    Lab::new("Exercise test", "", m)
}

fn harness(lab: Lab) -> Harness<'static, PagelabApp> {
    let mut app = PagelabApp::new(lab, None);
    app.dock.open(pagelab::ui::dock::Pane::Exercises);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    h
}

/// Instructor mode with one task: the translation of 0x600010 (the test lab's data page).
fn instructor_asking_a_translation() -> Harness<'static, PagelabApp> {
    let mut h = harness(lab());
    h.get_by_label("Instructor").click();
    h.run();
    type_into(&mut h, "Virtual address:", "0x600010");
    h.get_by_label("Ask this translation").click();
    h.run();
    h
}

fn type_into(h: &mut Harness<'static, PagelabApp>, label: &str, text: &str) {
    let field = h.get_by_label(label);
    field.focus();
    field.type_text(text);
    h.run();
}

#[test]
fn author_a_translation_task_then_answer_it_as_a_student() {
    let mut h = instructor_asking_a_translation();
    let tasks = &h.state().doc.lab().exercises.tasks;
    assert_eq!(tasks.len(), 1, "the task was added to the lab");
    let json = h.state().doc.lab().to_json();
    let pa = h
        .state()
        .doc
        .lab()
        .machine
        .translate(0, VirtAddr::new(0x60_0010), Access::Read, Mode::User)
        .unwrap()
        .pa()
        .unwrap();
    assert!(!json.contains(&pa.to_string()), "the expected address is sealed, not stored");

    h.get_by_label("Preview as student").click();
    h.run();
    h.get_by_label_contains("t1 (1 pt)").click();
    h.run();
    // A wrong answer first: feedback at once, no points.
    type_into(&mut h, "Physical address:", "0x1234");
    type_into(&mut h, "Byte:", "0x5a");
    h.get_by_label("Check").click();
    h.run();
    h.get_by_label_contains("Not yet");
    h.get_by_label_contains("Score 0 / 1");

    let pa_field = h.get_by_label("Physical address:");
    pa_field.focus();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    pa_field.type_text(&format!("{pa:#x}"));
    h.run();
    h.get_by_label("Check").click();
    h.run();
    h.get_by_label_contains("Right: ");
    h.get_by_label_contains("Score 1 / 1");
    let saved = h.state().doc.lab().exercises.tasks[0].answer.clone();
    assert!(saved.is_some(), "the answer is saved in the lab");
}

#[test]
fn a_student_copy_refuses_edits_to_locked_processes() {
    let mut instructor = lab();
    instructor.locks.lock(pagelab::exercise::LockTarget::Process("init"));
    let student = pagelab::exercise::student_version(&instructor);
    let mut h = harness(student);
    let before = h.state().doc.lab().clone();
    h.get_by_label("Map…").click();
    h.run();
    type_into(&mut h, "Virtual address", "0x900000");
    h.get_by_label("Map").click();
    h.run();
    assert_eq!(*h.state().doc.lab(), before, "the locked process is unchanged");
    // Said in the map dialog and in the status line.
    assert!(h.query_all_by_label_contains("locked by the exercise").count() >= 1);
}

/// Text typed into a task's Title and Prompt, a few keys per frame as a person types, stays in the
/// fields and is saved when the field is left (it used to vanish, and the task kept "t1").
#[test]
fn an_instructor_types_a_title_and_a_prompt_and_they_are_kept() {
    let mut h = instructor_asking_a_translation();
    h.get_by_label_contains("t1 (1 pt)").click();
    h.run();
    let title = h.get_by_label("Title:");
    title.focus();
    h.run();
    for piece in ["Where ", "does it ", "go?"] {
        h.get_by_label("Title:").type_text(piece);
        h.run();
    }
    let prompt = h.get_by_label("Prompt (Markdown):");
    prompt.focus();
    h.run();
    for piece in ["Translate ", "**0x600010**."] {
        h.get_by_label("Prompt (Markdown):").type_text(piece);
        h.run();
    }
    // Leave the field: focus the address box again.
    h.get_by_label("Virtual address:").focus();
    h.run();
    let task = &h.state().doc.lab().exercises.tasks[0];
    assert!(task.title.ends_with("Where does it go?"), "{:?}", task.title);
    assert!(task.prompt.ends_with("Translate **0x600010**."), "{:?}", task.prompt);
}

/// A goal made from the selected entry's current state already holds; the panel says so at once,
/// so the instructor changes the entry before handing the lab out.
#[test]
fn a_goal_that_already_holds_is_flagged_when_it_is_made() {
    let mut h = harness(lab());
    h.get_by_label("Instructor").click();
    h.run();
    // Through accesskit: the row is wider than the centre panel.
    h.get_by_label_contains("PT[0x0]  0x60_0000").click_accesskit();
    h.run();
    assert!(h.state().state.selected.is_some(), "the leaf is selected");
    h.get_by_label("Require the selected entry's state").click();
    h.run();
    assert_eq!(h.state().doc.lab().exercises.tasks.len(), 1);
    assert!(h.query_all_by_label_contains("already holds in the lab as it is").count() >= 1);
}

/// The course's linear table handed out (explanations sealed): a wrong number hides the
/// explanation, `four` is not counted, the right one (2^12 = 4096: 12 offset bits) opens it,
/// and the Checks are recorded in the lab.
#[test]
fn the_explanation_opens_only_with_the_right_answer_and_checks_are_recorded() {
    let instructor = course::lab("linear-table");
    let explanation = instructor.exercises.task("offset-bits").unwrap().explanation.clone();
    let student = Lab::from_json(&pagelab::exercise::student_version(&instructor).to_json()).unwrap();
    let mut h = harness(student);
    h.get_by_label_contains("Offset bits (1 pt)").click();
    h.run();
    type_into(&mut h, "Answer:", "11");
    h.get_by_label("Check").click();
    h.run();
    h.get_by_label_contains("Not yet");
    assert!(h.query_by_label("Explanation").is_none(), "a wrong answer shows no explanation");

    let field = h.get_by_label("Answer:");
    field.focus();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Answer:").type_text("four");
    h.run();
    h.get_by_label("Check").click();
    h.run();
    h.get_by_label_contains("not counted as an attempt");
    assert!(h.query_by_label("Explanation").is_none(), "an unreadable answer reveals nothing");

    let field = h.get_by_label("Answer:");
    field.focus();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Answer:").type_text("12");
    h.run();
    h.get_by_label("Check").click();
    h.run();
    h.get_by_label_contains("Right: ");
    h.get_by_label("Explanation");
    h.get_by_label(&explanation);
    let attempts = &h.state().doc.lab().exercises.task("offset-bits").unwrap().attempts;
    assert_eq!(attempts.iter().map(|a| a.passed).collect::<Vec<_>>(), [false, true]);
}

/// Selects all of the field `label` and types `lines`, one Enter between them.
fn replace_lines(h: &mut Harness<'static, PagelabApp>, label: &str, lines: &[&str]) {
    h.get_by_label(label).focus();
    h.run();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            h.key_press(egui::Key::Enter);
            h.run();
        }
        h.get_by_label(label).type_text(line);
        h.run();
    }
}

/// An instructor makes a numeric and a multiple-choice task from the screen, types hints, an
/// explanation, options and the right option; all of it is in the lab saved and reopened, and
/// the choice's key follows the right option.
#[test]
fn an_instructor_makes_numeric_and_choice_tasks_with_hints_and_explanations() {
    let mut h = harness(lab());
    h.get_by_label("Instructor").click();
    h.run();
    h.get_by_label("Ask this number").click();
    h.run();
    replace_lines(&mut h, "Hints (one a line):", &["Count the offset.", "A page is 4 KiB."]);
    replace_lines(&mut h, "Explanation (Markdown):", &["2^12 = 4096: **12** bits."]);
    h.get_by_label("Virtual address:").focus();
    h.run();

    h.get_by_label("Ask a choice").click();
    h.run();
    replace_lines(&mut h, "Options (one a line):", &["Read only", "Read and write", "Neither"]);
    replace_lines(&mut h, "Right options (numbers):", &["2"]);
    replace_lines(&mut h, "Hints (one a line):", &["Look at R/W."]);
    h.get_by_label("Virtual address:").focus();
    h.run();

    // Duplicate the choice task, then delete the copy.
    h.get_by_label("Duplicate").click_accesskit();
    h.run();
    assert_eq!(h.state().doc.lab().exercises.tasks.len(), 3);
    assert_eq!(h.state().state.exercises.selected.as_deref(), Some("t2-2"));
    h.get_by_label("Delete task").click_accesskit();
    h.run();

    let reopened = Lab::from_json(&h.state().doc.lab().to_json()).unwrap();
    let tasks = &reopened.exercises.tasks;
    assert_eq!(tasks.len(), 2, "{tasks:#?}");
    assert_eq!(tasks[0].kind().id(), "numeric");
    assert_eq!(tasks[0].hints, ["Count the offset.", "A page is 4 KiB."]);
    assert_eq!(tasks[0].explanation, "2^12 = 4096: **12** bits.");
    assert_eq!(tasks[1].kind().id(), "choice");
    assert_eq!(tasks[1].hints, ["Look at R/W."]);
    let pagelab::exercise::Question::Choice(q) = &tasks[1].question else { panic!("a choice task") };
    assert_eq!(q.options, ["Read only", "Read and write", "Neither"]);
    assert_eq!(q.correct, Some(std::collections::BTreeSet::from([1])));
    // The key was sealed again: option 2 (index 1) is right for a student, option 1 is not.
    let mut student = Lab::from_json(&pagelab::exercise::student_version(&reopened).to_json()).unwrap();
    let id = tasks[1].id.clone();
    let wrong =
        pagelab::exercise::submit(&mut student, &id, pagelab::exercise::Answer::Choice([0].into())).unwrap();
    assert!(!wrong.passed);
    let right =
        pagelab::exercise::submit(&mut student, &id, pagelab::exercise::Answer::Choice([1].into())).unwrap();
    assert!(right.passed, "{right:?}");
    // 4 KiB pages: 12 offset bits, worked by hand.
    let numeric =
        pagelab::exercise::submit(&mut student, &tasks[0].id, pagelab::exercise::Answer::Number("12".into()))
            .unwrap();
    assert!(numeric.passed, "{numeric:?}");
}

/// The instructor declares from the screen that the asked page moves (to new frames too) within
/// a range, previews a variant, and the template then gives students different answers.
#[test]
fn an_instructor_randomizes_the_asked_page_and_variants_differ() {
    let mut h = instructor_asking_a_translation();
    type_into(&mut h, "Move within:", "0x1000_0000");
    type_into(&mut h, "to:", "0x2000_0000");
    // Through accesskit: the form is below the fold of the docked pane.
    h.get_by_label("new frames too").click_accesskit();
    h.run();
    h.get_by_label("Vary the MMU panel's page").click_accesskit();
    h.run();
    let lab = h.state().doc.lab().clone();
    let slot = &lab.exercises.randomize.pages[0];
    assert_eq!(
        (slot.va.get(), slot.within.map(VirtAddr::get), slot.move_frame),
        (0x60_0000, [0x1000_0000, 0x2000_0000], true)
    );
    h.get_by_label("Preview variant").click_accesskit();
    h.run();
    h.get_by_label_contains("Variant 0:");
    let one = pagelab::ui::randomize_view::preview(&lab, 1).unwrap();
    let two = pagelab::ui::randomize_view::preview(&lab, 2).unwrap();
    assert!(one[0].1.starts_with("physical address"), "{one:?}");
    assert_ne!(one, two, "two seeds give two different answers");
    // And the moved page lies in the declared range in every variant.
    for seed in [1, 2, 3] {
        let variant = pagelab::exercise::generate(&lab, seed).unwrap();
        let pagelab::exercise::Question::Translate(q) = &variant.exercises.tasks[0].question else {
            panic!()
        };
        assert!((0x1000_0000..0x2000_0000).contains(&q.va.get()), "{:#x}", q.va);
    }
}

/// The task editor previews the prompt's Markdown as it is typed, and Move down / Move up reorder
/// the tasks (one undo step each).
#[test]
fn the_prompt_previews_its_markdown_and_tasks_move_down_and_up() {
    let mut h = harness(lab());
    h.get_by_label("Instructor").click();
    h.run();
    h.get_by_label("Ask this number").click();
    h.run();
    replace_lines(&mut h, "Prompt (Markdown):", &["How many **offset** bits?"]);
    h.get_by_label("Preview of the prompt").click();
    h.run();
    // Rendered: the bold word is its own piece of text, without the asterisks.
    assert!(h.query_all_by_label("offset").count() >= 1);
    h.get_by_label("Virtual address:").focus();
    h.run();
    h.get_by_label("Ask a choice").click();
    h.run();
    let kinds = |h: &Harness<'static, PagelabApp>| -> Vec<&'static str> {
        h.state().doc.lab().exercises.tasks.iter().map(|t| t.kind().id()).collect()
    };
    assert_eq!(kinds(&h), ["numeric", "choice"]);
    // The choice task (the last) is selected: it cannot move down, only up.
    h.get_by_label("Move up").click_accesskit();
    h.run();
    assert_eq!(kinds(&h), ["choice", "numeric"]);
    h.get_by_label("Move down").click_accesskit();
    h.run();
    assert_eq!(kinds(&h), ["numeric", "choice"]);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run();
    assert_eq!(kinds(&h), ["choice", "numeric"], "one undo step per move");
}

/// A frame number is declared to vary from the screen (within a range of frames), a bad range
/// is refused where it was typed, and Remove takes the declaration back.
#[test]
fn an_instructor_declares_a_frame_to_vary_and_removes_it() {
    let mut h = instructor_asking_a_translation();
    type_into(&mut h, "Frame number:", "0x40");
    type_into(&mut h, "drawn among frames:", "0x100");
    type_into(&mut h, "up to:", "0x80");
    h.get_by_label("Vary this frame").click_accesskit();
    h.run();
    assert!(h.state().doc.lab().exercises.randomize.frames.is_empty());
    h.get_by_label_contains("Type a range of frame numbers");
    replace_lines(&mut h, "up to:", &["0x200"]);
    h.get_by_label("Vary this frame").click_accesskit();
    h.run();
    let frames = &h.state().doc.lab().exercises.randomize.frames;
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (frames[0].frame.get(), frames[0].within.map(|w| w.map(Pfn::get))),
        (0x40, Some([0x100, 0x200]))
    );
    h.get_by_label("Remove frame 1").click_accesskit();
    h.run();
    assert!(h.state().doc.lab().exercises.randomize.frames.is_empty());
}

/// The four task kinds made from the screen, each with a typed title, prompt, hints and
/// explanation; saved through the app to a file, opened in a new window, everything is there.
#[test]
fn every_task_kind_made_on_screen_keeps_its_typed_text_through_save_and_open() {
    let mut h = harness(lab());
    h.get_by_label("Instructor").click();
    h.run();
    let fill = |h: &mut Harness<'static, PagelabApp>, kind: &str| {
        replace_lines(h, "Title:", &[&format!("The {kind} task")]);
        replace_lines(h, "Prompt (Markdown):", &[&format!("Work out the **{kind}**."), "Then check."]);
        replace_lines(h, "Hints (one a line):", &[&format!("First {kind} hint."), "Second hint."]);
        replace_lines(h, "Explanation (Markdown):", &[&format!("Why the {kind} answer is right.")]);
        // Leave the fields: each edit is committed when focus moves on.
        h.get_by_label("Virtual address:").focus();
        h.run();
    };
    type_into(&mut h, "Virtual address:", "0x600010");
    h.get_by_label("Ask this translation").click();
    h.run();
    fill(&mut h, "translate");
    h.get_by_label_contains("PT[0x0]  0x60_0000").click_accesskit();
    h.run();
    h.get_by_label("Require the selected entry's state").click();
    h.run();
    fill(&mut h, "goal");
    h.get_by_label("Ask this number").click();
    h.run();
    fill(&mut h, "numeric");
    h.get_by_label("Ask a choice").click();
    h.run();
    replace_lines(&mut h, "Options (one a line):", &["Yes", "No"]);
    replace_lines(&mut h, "Right options (numbers):", &["1"]);
    fill(&mut h, "choice");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authored.json");
    h.state_mut().push(pagelab::ui::state::Action::SaveAs(path.clone()));
    h.run();
    assert!(!h.state().doc.dirty);

    let reopened = harness(pagelab::lab::io::load(&path).unwrap());
    let tasks = &reopened.state().doc.lab().exercises.tasks;
    let kinds: Vec<&str> = tasks.iter().map(|t| t.kind().id()).collect();
    assert_eq!(kinds, ["translate", "goal", "numeric", "choice"]);
    for (task, kind) in tasks.iter().zip(["translate", "goal", "numeric", "choice"]) {
        assert_eq!(task.title, format!("The {kind} task"));
        assert_eq!(task.prompt, format!("Work out the **{kind}**.\nThen check."));
        assert_eq!(task.hints, [format!("First {kind} hint."), "Second hint.".to_string()]);
        assert_eq!(task.explanation, format!("Why the {kind} answer is right."));
        // The reopened window lists it by its title.
        reopened.get_by_label_contains(&format!("The {kind} task"));
    }
}

//! Author-time checks (`exercise::lint::author_warnings`), on labs whose contents are known by
//! hand: the course's linear table maps pages 0x0000, 0x1000-0x2fff and 0xf000, writes
//! "linear" at 0x1234 and 0x2a at 0xf010 (frames start zeroed, so the byte at 0x1000 is 0), and
//! leaves 0x5000 unmapped; exam16 randomizes only its pages 0x1200 and 0x7000.

#[path = "common/course.rs"]
mod course;

use pagelab::exercise::author::{self, ask_translation, require_entry_state};
use pagelab::exercise::generate::PageSlot;
use pagelab::exercise::lint::author_warnings;
use pagelab::exercise::{FeedbackPolicy, Question, Reveal};
use pagelab::lab::Lab;
use pagelab::sim::{Access, Mode, VirtAddr};

fn warnings_for(lab: &Lab, id: &str) -> Vec<String> {
    author_warnings(lab).into_iter().filter(|w| w.task.as_deref() == Some(id)).map(|w| w.message).collect()
}

#[test]
fn a_goal_the_handout_already_meets_is_flagged() {
    let mut lab = course::lab("linear-table");
    // The entry for 0x1000 as it is now: the goal holds before the student does anything.
    let task = require_entry_state(&lab, "as-is", 0, 0x1000, 0).unwrap();
    author::add_task(&mut lab, task).unwrap();
    assert!(warnings_for(&lab, "as-is").iter().any(|w| w.contains("already holds")));
    // The course's own goal (map the heap at 0x4000) does not hold yet.
    assert!(warnings_for(&lab, "map-heap").is_empty());
}

#[test]
fn byte_questions_that_need_no_reasoning_are_flagged() {
    let mut lab = course::lab("linear-table");
    for (id, va) in [("faulting-byte", 0x5000), ("zero-byte", 0x1000), ("real-byte", 0x1234)] {
        let task = ask_translation(&lab, id, 0, VirtAddr::new(va), Access::Read, Mode::User, true).unwrap();
        author::add_task(&mut lab, task).unwrap();
    }
    assert!(warnings_for(&lab, "faulting-byte").iter().any(|w| w.contains("the access faults")));
    assert!(warnings_for(&lab, "zero-byte").iter().any(|w| w.contains("0x00")));
    assert!(warnings_for(&lab, "real-byte").is_empty(), "{:?}", warnings_for(&lab, "real-byte"));
}

#[test]
fn a_prompt_or_revealable_explanation_holding_the_answer_is_flagged() {
    let mut lab = course::lab("linear-table");
    // `unmapped` asks about 0x5000, which faults: not present.
    let task = lab.exercises.task_mut("unmapped").unwrap();
    task.prompt = "Read 0x5000. Hint: it is not-present.".into();
    task.explanation = "The entry is not present.".into();
    let found = warnings_for(&lab, "unmapped");
    assert!(found.iter().any(|w| w.starts_with("the prompt contains the answer")), "{found:?}");
    // The course reveals explanations after 3 wrong attempts, so the explanation counts too...
    assert!(found.iter().any(|w| w.starts_with("the explanation contains the answer")), "{found:?}");
    // ...but not when it only opens with the right answer.
    lab.exercises.feedback =
        Some(FeedbackPolicy { reveal: Reveal::WhenCorrect, ..FeedbackPolicy::default() });
    let found = warnings_for(&lab, "unmapped");
    assert!(!found.iter().any(|w| w.starts_with("the explanation")), "{found:?}");
    // A number inside a longer one is not the answer: offset-bits (12) vs "4120".
    let task = lab.exercises.task_mut("offset-bits").unwrap();
    task.prompt = "Address 4120: how many offset bits?".into();
    assert!(warnings_for(&lab, "offset-bits").is_empty());
    lab.exercises.task_mut("offset-bits").unwrap().prompt = "Is it 12 bits?".into();
    assert!(!warnings_for(&lab, "offset-bits").is_empty());
}

#[test]
fn randomization_that_changes_nothing_is_flagged() {
    // exam16's t2 reads 0x3477, a page randomize leaves alone: every student gets its address.
    // t1 reads 0x12a0 on the randomized page 0x1200.
    let exam = course::lab("exam16");
    assert!(warnings_for(&exam, "t2").iter().any(|w| w.contains("same in every variant")));
    assert!(warnings_for(&exam, "t1").is_empty(), "{:?}", warnings_for(&exam, "t1"));
    assert!(author_warnings(&exam).iter().all(|w| w.task.is_some()), "exam16's variants differ");

    // The stack page 0xf000 may move only within [0xe000, 0xf000): one free page, 0xe000, so
    // every seed moves it there, keeping its frame and offsets: all variants are the same.
    // (The choice task's options are not shuffled either: a new order would be a difference.)
    let mut lab = course::lab("linear-table");
    lab.exercises.randomize = Default::default();
    if let Question::Choice(q) = &mut lab.exercises.task_mut("linear-cost").unwrap().question {
        q.shuffle = false;
    }
    lab.exercises.randomize.pages.push(PageSlot {
        process: "init".into(),
        va: VirtAddr::new(0xf000),
        within: [VirtAddr::new(0xe000), VirtAddr::new(0xf000)],
        move_frame: false,
        random_offset: false,
    });
    let whole: Vec<String> =
        author_warnings(&lab).into_iter().filter(|w| w.task.is_none()).map(|w| w.message).collect();
    assert!(whole.iter().any(|w| w.contains("same variant")), "{whole:?}");

    // `pagelab generate` refuses such a template and says why.
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.json");
    std::fs::write(&template, lab.to_json()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pagelab"))
        .args(["generate", template.to_str().unwrap(), "--seed", "4", "-o"])
        .arg(dir.path().join("variant.json"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("same lab for every seed"), "{err}");
}

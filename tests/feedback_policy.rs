//! The feedback policy on a student's copy: a wrong answer hides the explanation and a right one
//! opens it; `four` is not an attempt and reveals nothing; attempts are saved with their times;
//! after N wrong attempts the explanation opens and a right answer then earns only the
//! policy's credit; retries may cost points; graders re-judge recorded attempts with their own
//! keys. Also: explanations are sealed in the student copy, and the exam copy has no keys.
//!
//! The lab is the course's linear table (labs/course/linear-table.json): 4 KiB pages, 16-bit
//! addresses, 4-byte entries. Worked by hand: offset bits = log2(4096) = 12; entries per table
//! = 2^(16-12) = 16; the 2-point `big-table` asks for 2^20 entries x 4 bytes = 4194304.

#[path = "common/course.rs"]
mod course;

use pagelab::exercise::author::solution_answers;
use pagelab::exercise::{
    Answer, FeedbackPolicy, Reveal, exam_version, grade, grade_against, student_version, submit_at,
};
use pagelab::lab::Lab;
use serde_json::Value;

fn number(text: &str) -> Answer {
    Answer::Number(text.to_string())
}

/// The student copy as a student opens it (through JSON, like a file handed out).
fn handout(instructor: &Lab) -> Lab {
    Lab::from_json(&student_version(instructor).to_json()).unwrap()
}

fn explanation_of(lab: &Lab, id: &str) -> String {
    lab.exercises.task(id).unwrap().explanation.clone()
}

#[test]
fn a_wrong_answer_hides_the_explanation_a_right_one_opens_it_and_attempts_are_saved() {
    let instructor = course::lab("linear-table");
    let mut lab = handout(&instructor);

    let wrong = submit_at(&mut lab, "offset-bits", number("11"), 100).unwrap();
    assert!(!wrong.passed && wrong.explanation.is_none(), "{wrong:?}");
    assert_eq!(wrong.attempts, 1);

    // `four` cannot be read: not stored, not counted, nothing revealed, a format hint instead.
    let unreadable = submit_at(&mut lab, "offset-bits", number("four"), 101).unwrap();
    assert!(unreadable.feedback.starts_with("not counted as an attempt"), "{}", unreadable.feedback);
    assert!(unreadable.explanation.is_none() && !unreadable.passed);
    let task = lab.exercises.task("offset-bits").unwrap();
    assert_eq!(task.attempts.len(), 1);
    assert_eq!(task.answer, Some(number("11")));

    // 2^12 = 4096: 12 offset bits (written as 0xc, a spelling the key accepts too).
    let right = submit_at(&mut lab, "offset-bits", number("0xc"), 102).unwrap();
    assert!(right.passed, "{right:?}");
    assert_eq!(right.earned, 1, "one wrong attempt costs nothing without a penalty");
    assert_eq!(right.explanation.as_deref(), Some(explanation_of(&instructor, "offset-bits").as_str()));

    // Saved and reopened: the attempts (time, answer, verdict) are in the file.
    let reopened = Lab::from_json(&lab.to_json()).unwrap();
    let attempts = &reopened.exercises.task("offset-bits").unwrap().attempts;
    let times: Vec<u64> = attempts.iter().map(|a| a.at).collect();
    assert_eq!(times, [100, 102]);
    assert_eq!(attempts.iter().map(|a| a.passed).collect::<Vec<_>>(), [false, true]);
    let report = grade(&reopened);
    let t = report.tasks.iter().find(|t| t.id == "offset-bits").unwrap();
    assert_eq!((t.earned, t.attempts, t.wrong_attempts), (1, 2, 1));
}

#[test]
fn after_three_wrong_attempts_the_explanation_opens_and_a_right_answer_earns_nothing() {
    let instructor = course::lab("linear-table");
    assert_eq!(
        instructor.exercises.feedback.as_ref().map(|p| (p.reveal, p.attempts)),
        Some((Reveal::AfterAttempts, 3))
    );
    let mut lab = handout(&instructor);
    let text = explanation_of(&instructor, "entries");
    for (i, guess) in ["15", "17"].iter().enumerate() {
        let r = submit_at(&mut lab, "entries", number(guess), i as u64).unwrap();
        assert!(r.explanation.is_none(), "after {} wrong attempt(s): {r:?}", i + 1);
    }
    let third = submit_at(&mut lab, "entries", number("8"), 3).unwrap();
    assert_eq!(third.explanation.as_deref(), Some(text.as_str()), "the third wrong attempt opens it");
    // 2^4 = 16 entries: right, but after the explanation was shown.
    let late = submit_at(&mut lab, "entries", number("16"), 4).unwrap();
    assert!(late.passed && late.after_reveal, "{late:?}");
    assert_eq!(late.earned, 0);
    assert!(late.feedback.contains("only after the explanation was shown"), "{}", late.feedback);
}

#[test]
fn retry_penalty_and_credit_after_reveal_are_per_task_percentages() {
    let mut instructor = course::lab("linear-table");
    // big-table is worth 2 points: with a 50% penalty per wrong attempt, right after one
    // wrong attempt earns 1.
    instructor.exercises.task_mut("big-table").unwrap().feedback =
        Some(FeedbackPolicy { retry_penalty: 50, ..FeedbackPolicy::default() });
    let mut lab = handout(&instructor);
    submit_at(&mut lab, "big-table", number("4MiB"), 1).unwrap();
    let report = grade(&lab);
    let t = report.tasks.iter().find(|t| t.id == "big-table").unwrap();
    // 4 MiB = 4194304 is right at the first attempt: full marks.
    assert_eq!((t.passed, t.earned), (true, 2), "{t:?}");

    let mut lab = handout(&instructor);
    submit_at(&mut lab, "big-table", number("4096"), 1).unwrap();
    let r = submit_at(&mut lab, "big-table", number("4194304"), 2).unwrap();
    assert_eq!((r.passed, r.earned), (true, 1), "{r:?}");
    // The penalty never makes the score negative: four wrong attempts at 50% leave 0.
    let mut lab = handout(&instructor);
    for i in 0..4 {
        submit_at(&mut lab, "big-table", number("1"), i).unwrap();
    }
    assert_eq!(submit_at(&mut lab, "big-table", number("2^22"), 9).unwrap().earned, 0);

    // Credit after reveal: 50% of 2 points once the explanation was shown.
    let mut instructor = course::lab("linear-table");
    instructor.exercises.task_mut("big-table").unwrap().feedback = Some(FeedbackPolicy {
        reveal: Reveal::AfterAttempts,
        attempts: 1,
        credit_after_reveal: 50,
        ..FeedbackPolicy::default()
    });
    let mut lab = handout(&instructor);
    assert!(submit_at(&mut lab, "big-table", number("0"), 1).unwrap().explanation.is_some());
    assert_eq!(submit_at(&mut lab, "big-table", number("4194304"), 2).unwrap().earned, 1);
}

#[test]
fn graders_judge_recorded_attempts_with_their_own_keys() {
    let instructor = course::lab("linear-table");
    let mut lab = handout(&instructor);
    submit_at(&mut lab, "entries", number("15"), 1).unwrap();
    submit_at(&mut lab, "entries", number("16"), 2).unwrap();
    // The student marks the wrong attempt as right in the JSON.
    let mut json: Value = serde_json::from_str(&lab.to_json()).unwrap();
    for task in json["exercises"]["tasks"].as_array_mut().unwrap() {
        if task["id"] == "entries" {
            task["attempts"][0]["passed"] = Value::Bool(true);
        }
    }
    let edited = Lab::from_json(&json.to_string()).unwrap();
    let report = grade_against(&edited, &instructor);
    let t = report.tasks.iter().find(|t| t.id == "entries").unwrap();
    assert_eq!((t.attempts, t.wrong_attempts, t.passed), (2, 1, true), "{t:?}");
}

#[test]
fn student_copies_carry_no_plain_explanation_and_the_exam_copy_no_keys() {
    for (name, instructor) in course::all() {
        let student = student_version(&instructor).to_json();
        for task in &instructor.exercises.tasks {
            assert!(!student.contains(&task.explanation), "{name}/{}: plain explanation", task.id);
        }
        let exam: Value = serde_json::from_str(&exam_version(&instructor).to_json()).unwrap();
        assert_eq!(exam["exercises"]["exam"], true);
        let text = exam["exercises"].to_string();
        for word in [
            "\"key\"",
            "\"salt\"",
            "\"hash\"",
            "\"explanation\"",
            "\"sealed_explanation\"",
            "\"query\"",
            "\"correct\"",
        ] {
            assert!(!text.contains(word), "{name}: {word} in the exam copy");
        }
        for task in &instructor.exercises.tasks {
            assert!(!text.contains(&task.explanation), "{name}/{}: explanation in the exam copy", task.id);
        }
        // The exam copy is graded with the instructor's copy: answered from the solution it
        // scores full marks on the non-goal tasks.
        let mut answered = Lab::from_json(&exam.to_string()).unwrap();
        let alone = grade(&answered);
        assert!(alone.warnings.iter().any(|w| w.contains("exam copy")), "{name}: {alone:?}");
        for (id, answer) in solution_answers(&instructor) {
            answered.exercises.task_mut(&id).unwrap().answer = Some(answer);
        }
        let report = grade_against(&answered, &instructor);
        assert!(report.integrity.is_empty(), "{name}: {:?}", report.integrity);
        for t in report.tasks.iter().filter(|t| t.kind.id() != "goal") {
            assert!(t.passed, "{name}/{}: {}", t.id, t.feedback);
        }
    }
}

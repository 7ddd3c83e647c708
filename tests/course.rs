//! The course in labs/course/ (JSON files are the source): for every instructor copy, the solution scores
//! full marks, the untouched student version scores zero, the student copy holds no plain
//! answers, and each student file is the handout of its instructor file
//! (`UPDATE_COURSE=1 cargo test --test course` rewrites them after an edit).

#[path = "common/course.rs"]
mod course;
use pagelab::exercise::solve;

use pagelab::exercise::author::solution_answers;
use pagelab::exercise::{Answer, grade, student_version};
use pagelab::lab::Lab;
use serde_json::Value;

fn leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Array(a) => a.iter().for_each(|v| leaves(v, out)),
        Value::Object(o) => o.values().for_each(|v| leaves(v, out)),
        other => out.push(other.to_string()),
    }
}

#[test]
fn the_course_has_six_to_eight_labs_with_text() {
    let labs = course::all();
    assert!((6..=8).contains(&labs.len()), "{} labs", labs.len());
    for (name, lab) in &labs {
        assert!(!lab.title.is_empty() && !lab.description.is_empty(), "{name}");
        assert!(lab.exercises.tasks.len() >= 5, "{name}");
        for task in &lab.exercises.tasks {
            assert!(!task.title.is_empty() && !task.prompt.is_empty(), "{name}/{}", task.id);
            assert!(!task.explanation.is_empty(), "{name}/{}", task.id);
        }
    }
}

#[test]
fn solutions_score_full_marks_and_student_versions_zero() {
    for (name, lab) in course::all() {
        let student = Lab::from_json(&student_version(&lab).to_json()).unwrap();
        let fresh = grade(&student);
        assert_eq!(fresh.total, 0, "{name}: {fresh:#?}");
        assert!(fresh.tasks.iter().all(|t| !t.feedback.contains("cannot be graded")), "{name}: {fresh:#?}");
        let solved = solve::solve(&lab, &student).unwrap();
        let report = grade(&Lab::from_json(&solved.to_json()).unwrap());
        assert_eq!(report.total, report.max, "{name}: {report:#?}");
        assert!(report.max >= 10, "{name}");
    }
}

#[test]
fn student_copies_hold_no_plain_answers() {
    for (name, lab) in course::all() {
        let json: Value = serde_json::from_str(&student_version(&lab).to_json()).unwrap();
        let tasks = json["exercises"]["tasks"].as_array().unwrap();
        for task in tasks {
            let (kind, body) = task["question"].as_object().unwrap().iter().next().unwrap();
            for plain in ["query", "correct", "shuffle"] {
                assert!(body.get(plain).is_none(), "{name}: {plain} in {task}");
            }
            assert!(task.get("answer").is_none() && task.get("notes").is_none(), "{name}: {task}");
            if kind != "goal" {
                assert!(body.get("key").is_some(), "{name}: {kind} task without a key");
            }
        }
        for (id, answer) in solution_answers(&lab) {
            let task = tasks.iter().find(|t| t["id"] == Value::String(id.clone())).unwrap();
            let mut values = Vec::new();
            leaves(&task["question"], &mut values);
            let forbidden: Vec<String> = match &answer {
                Answer::Address { pa, byte } => {
                    let mut f = vec![pa.to_string(), format!("\"{pa:#x}\"")];
                    f.extend(byte.map(|b| format!("\"{b:#04x}\"")));
                    f
                }
                Answer::Fault(kind) => vec![format!("\"{}\"", kind.id())],
                Answer::Number(text) => vec![text.clone(), format!("\"{text}\"")],
                Answer::Choice(set) => vec![serde_json::to_string(set).unwrap()],
                Answer::Checked => vec![],
            };
            for f in &forbidden {
                assert!(!values.contains(f), "{name}/{id}: plain answer {f} in {}", task["question"]);
            }
        }
    }
}

#[test]
fn each_student_copy_is_the_handout_of_its_instructor_copy() {
    // The instructor files are the source; a student file is what "Export for students" makes of
    // it (UPDATE_COURSE=1 cargo test --test course rewrites the student files after an edit).
    for (name, lab) in course::all() {
        let mut handout = student_version(&lab);
        // Stored in labs/course/: editors find the lab file's schema two folders up.
        handout.schema = Some("../../docs/lab.schema.json".into());
        let json = handout.to_json();
        let path = course::dir().join(format!("{name}-student.json"));
        if std::env::var_os("UPDATE_COURSE").is_some() {
            std::fs::write(&path, &json).unwrap();
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(stored, json, "{} is stale; run UPDATE_COURSE=1 cargo test --test course", path.display());
        Lab::from_json(&stored).unwrap();
    }
}

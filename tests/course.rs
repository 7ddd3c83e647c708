//! The course in labs/course/ (JSON files are the source): for every instructor copy, the
//! solution scores full marks, the untouched student version scores zero, and each student file
//! is the handout of its instructor file (`UPDATE_COURSE=1 cargo test --test course` rewrites
//! them after an edit). tests/exercises.rs checks that student copies hold no plain answers.

#[path = "common/course.rs"]
mod course;
use pagelab::exercise::solve;

use pagelab::exercise::{grade, student_version};
use pagelab::lab::Lab;

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

//! Exercises end to end: every task kind graded right and wrong, student versions without plain
//! answers, locks refusing edits through the CLI, seeded variants, and `check --json` from the
//! real binary.

#[path = "common/course.rs"]
mod course;
use pagelab::exercise::solve;
use pagelab::sim::{EntryAddr, PhysAddr, VirtAddr};

use pagelab::exercise::author::{
    self, add_task, ask_choice, ask_number, ask_translation, goal, solution_answers,
};
use pagelab::exercise::task::{Question, TranslateQuestion};
use pagelab::exercise::{
    Answer, Condition, NumericQuery, TaskKind, generate, grade, grade_against, reveal_hint, student_version,
    submit,
};
use pagelab::lab::Lab;
use pagelab::sim::{Access, FaultKind, Machine, MapRequest, MapTarget, Mode, presets};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_pagelab");

fn small_lab() -> Lab {
    let mut m = Machine::new(presets::by_name("x86-64").unwrap(), 16 << 20).unwrap();
    let req = MapRequest {
        va: VirtAddr::new(0x40_0000),
        len: 0x1000,
        target: MapTarget::To(PhysAddr::new(0x12_3000)),
        page_size: None,
        flags: Some(vec!["U/S".into()]),
    };
    m.map(0, &req).unwrap();
    m.write_phys(PhysAddr::new(0x12_3045), &[0xab]).unwrap();
    Lab::new("small", "", m)
}

fn report_of(lab: &Lab, id: &str) -> (u32, bool, u32) {
    let report = grade(lab);
    let t = report.tasks.iter().find(|t| t.id == id).unwrap();
    (t.earned, t.passed, t.points)
}

#[test]
fn translate_tasks_grade_address_byte_and_fault() {
    let mut lab = small_lab();
    let t = ask_translation(&lab, "pa", 0, VirtAddr::new(0x40_0045), Access::Read, Mode::User, true).unwrap();
    add_task(&mut lab, t).unwrap();
    let t = ask_translation(&lab, "fault", 0, VirtAddr::new(0x40_0045), Access::Write, Mode::User, false)
        .unwrap();
    add_task(&mut lab, t).unwrap();
    assert_eq!(report_of(&lab, "pa"), (0, false, 1), "unanswered earns nothing");

    let right = submit(&mut lab, "pa", Answer::Address { pa: 0x12_3045, byte: Some(0xab) }).unwrap();
    assert!(right.passed && right.earned == 1, "{right:?}");
    let wrong_byte = submit(&mut lab, "pa", Answer::Address { pa: 0x12_3045, byte: Some(0) }).unwrap();
    assert!(!wrong_byte.passed && wrong_byte.earned == 0);
    assert!(wrong_byte.feedback.contains("byte"));
    let wrong_pa = submit(&mut lab, "pa", Answer::Address { pa: 0x12_3046, byte: Some(0xab) }).unwrap();
    assert_eq!((wrong_pa.passed, wrong_pa.earned), (false, 0));
    assert!(!submit(&mut lab, "pa", Answer::Fault(FaultKind::NotPresent)).unwrap().passed);

    let right = submit(&mut lab, "fault", Answer::Fault(FaultKind::WriteProtection)).unwrap();
    assert_eq!((right.passed, right.earned), (true, 1));
    let wrong = submit(&mut lab, "fault", Answer::Fault(FaultKind::UserProtection)).unwrap();
    assert_eq!((wrong.passed, wrong.earned), (false, 0));
    assert!(submit(&mut lab, "fault", Answer::Number("1".into())).is_err(), "wrong answer kind");
}

#[test]
fn numeric_tasks_exact_and_with_tolerance() {
    let mut lab = small_lab();
    let t = ask_number(&lab, "page", 2, NumericQuery::PageSize, None).unwrap();
    add_task(&mut lab, t).unwrap();
    let t =
        ask_number(&lab, "frames", 3, NumericQuery::TableFrames { process: "init".into() }, None).unwrap();
    add_task(&mut lab, t).unwrap();
    let value = pagelab::exercise::Real::new(7.25).unwrap();
    let t = ask_number(&lab, "approx", 1, NumericQuery::Value(value), Some(0.01)).unwrap();
    add_task(&mut lab, t).unwrap();

    for right in ["4096", "0x1000", "4k", "2^12"] {
        let r = submit(&mut lab, "page", Answer::Number(right.into())).unwrap();
        assert_eq!((r.passed, r.earned), (true, 2), "{right}");
    }
    let r = submit(&mut lab, "page", Answer::Number("8192".into())).unwrap();
    assert_eq!((r.passed, r.earned), (false, 0));
    let r = submit(&mut lab, "page", Answer::Number("lots".into())).unwrap();
    assert!(!r.passed && r.feedback.contains("not a number"));

    assert!(submit(&mut lab, "frames", Answer::Number("4".into())).unwrap().passed);
    assert!(!submit(&mut lab, "frames", Answer::Number("5".into())).unwrap().passed);

    for right in ["7.25", "7.241", "7.259", "7.2555"] {
        assert!(submit(&mut lab, "approx", Answer::Number(right.into())).unwrap().passed, "{right}");
    }
    for wrong in ["7.27", "7.23", "7"] {
        let r = submit(&mut lab, "approx", Answer::Number(wrong.into())).unwrap();
        assert_eq!((r.passed, r.earned), (false, 0), "{wrong}");
    }
}

#[test]
fn choice_tasks_need_exactly_the_right_set() {
    let mut lab = small_lab();
    add_task(&mut lab, ask_choice("one", 1, "?", &["a", "b", "c"], &[1]).unwrap()).unwrap();
    add_task(&mut lab, ask_choice("many", 2, "?", &["a", "b", "c"], &[0, 2]).unwrap()).unwrap();
    assert!(submit(&mut lab, "one", Answer::Choice(BTreeSet::from([1]))).unwrap().passed);
    assert!(!submit(&mut lab, "one", Answer::Choice(BTreeSet::from([0]))).unwrap().passed);
    let r = submit(&mut lab, "many", Answer::Choice(BTreeSet::from([2, 0]))).unwrap();
    assert_eq!((r.passed, r.earned), (true, 2));
    let r = submit(&mut lab, "many", Answer::Choice(BTreeSet::from([0]))).unwrap();
    assert_eq!((r.passed, r.earned), (false, 0));
    assert!(submit(&mut lab, "many", Answer::Choice(BTreeSet::from([7]))).is_err());
    assert!(ask_choice("bad", 1, "?", &["a"], &[3]).is_err());
}

#[test]
fn goal_tasks_are_graded_on_the_state() {
    let mut lab = small_lab();
    let frame_goal = goal(
        "map",
        3,
        Condition::AllOf(vec![
            Condition::Translates {
                process: "init".into(),
                va: 0x80_0000,
                access: Access::Write,
                mode: Mode::User,
                frame: Some(0x2a),
            },
            Condition::TableFramesAtMost { process: "init".into(), max: 5 },
        ]),
    );
    add_task(&mut lab, frame_goal).unwrap();
    let fault_goal = goal(
        "nx",
        2,
        Condition::Faults {
            process: "init".into(),
            va: 0x40_0000,
            access: Access::Execute,
            mode: Mode::User,
            kind: Some(FaultKind::ExecuteProtection),
        },
    );
    add_task(&mut lab, fault_goal).unwrap();
    assert_eq!(report_of(&lab, "map"), (0, false, 3));
    assert_eq!(report_of(&lab, "nx"), (0, false, 2));

    // A wrong edit: the right page, the wrong frame.
    let mut wrong = lab.clone();
    let req = |to: u64| MapRequest {
        va: VirtAddr::new(0x80_0000),
        len: 0x1000,
        target: MapTarget::To(PhysAddr::new(to)),
        page_size: None,
        flags: Some(vec!["R/W".into(), "U/S".into()]),
    };
    wrong.machine.map(0, &req(0x2b000)).unwrap();
    let r = submit(&mut wrong, "map", Answer::Checked).unwrap();
    assert_eq!((r.passed, r.earned), (false, 0));
    assert!(r.feedback.contains("frame 0x2b"), "{}", r.feedback);

    lab.machine.map(0, &req(0x2a000)).unwrap();
    assert_eq!(report_of(&lab, "map"), (3, true, 3));
    let t = lab.machine.translate(0, VirtAddr::new(0x40_0000), Access::Read, Mode::User).unwrap();
    let leaf = t.steps.last().unwrap();
    lab.machine.set_field(leaf.entry_addr, leaf.level, "NX", 1).unwrap();
    assert_eq!(report_of(&lab, "nx"), (2, true, 2));
    assert_eq!(grade(&lab).total, 5);
}

#[test]
fn entry_state_tasks_come_from_the_instructors_screen() {
    let lab = small_lab();
    let mut solved = lab.clone();
    let t = solved.machine.translate(0, VirtAddr::new(0x40_0000), Access::Read, Mode::User).unwrap();
    let leaf = t.steps.last().unwrap().clone();
    solved.machine.set_field(leaf.entry_addr, leaf.level, "R/W", 1).unwrap();
    let task = author::require_entry_state(&solved, "rw", 0, 0x40_0000, leaf.level).unwrap();
    let mut lab = lab;
    add_task(&mut lab, task).unwrap();
    assert_eq!(report_of(&lab, "rw").0, 0);
    lab.machine.set_field(leaf.entry_addr, leaf.level, "R/W", 1).unwrap();
    assert_eq!(report_of(&lab, "rw").0, 1);
}

#[test]
fn hints_are_revealed_one_at_a_time_and_saved() {
    let mut lab = small_lab();
    let mut t = ask_number(&lab, "page", 1, NumericQuery::PageSize, None).unwrap();
    t.hints = vec!["first".into(), "second".into()];
    add_task(&mut lab, t).unwrap();
    assert_eq!(reveal_hint(&mut lab, "page").unwrap().as_deref(), Some("first"));
    assert_eq!(reveal_hint(&mut lab, "page").unwrap().as_deref(), Some("second"));
    assert_eq!(reveal_hint(&mut lab, "page").unwrap(), None);
    submit(&mut lab, "page", Answer::Number("4096".into())).unwrap();
    let back = Lab::from_json(&lab.to_json()).unwrap();
    assert_eq!(back, lab, "answers and hints survive a save");
    assert_eq!(back.exercises.task("page").unwrap().shown_hints().len(), 2);
    assert!(reveal_hint(&mut lab, "nope").is_err());
}

/// Every JSON number and string inside `value`.
fn leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Array(a) => a.iter().for_each(|v| leaves(v, out)),
        Value::Object(o) => o.values().for_each(|v| leaves(v, out)),
        other => out.push(other.to_string()),
    }
}

#[test]
fn student_versions_carry_no_plain_answers() {
    for (name, instructor) in course::all() {
        let student = student_version(&instructor);
        let json: Value = serde_json::from_str(&student.to_json()).unwrap();
        let tasks = json["exercises"]["tasks"].as_array().unwrap();
        assert_eq!(json["exercises"]["student"], Value::Bool(true));
        assert!(json["exercises"].get("randomize").is_none());
        for task in tasks {
            for key in ["notes", "answer", "hints_shown"] {
                assert!(task.get(key).is_none(), "{name}: {key} in {task}");
            }
            let (kind, body) = task["question"].as_object().unwrap().iter().next().unwrap();
            for plain in ["query", "correct", "shuffle"] {
                assert!(body.get(plain).is_none(), "{name}: {plain} in {task}");
            }
            if kind != "goal" {
                assert!(body.get("key").is_some(), "{name}: {kind} task without a key");
            }
        }
        // No expected value appears in the question data (keys, conditions, addresses).
        for (id, answer) in solution_answers(&instructor) {
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
            let whole = serde_json::to_string(&task["question"]).unwrap();
            if let Answer::Choice(set) = &answer {
                assert!(!whole.contains(&serde_json::to_string(set).unwrap()));
            }
        }
        // The instructor's copy does hold them (so the check above can fail).
        let instructor_json = instructor.to_json();
        assert!(instructor_json.contains("\"correct\""), "{name}");
        assert!(instructor_json.contains("\"query\"") || instructor_json.contains("\"numeric\""), "{name}");
        // And the untouched student version is gradable and scores zero.
        let fresh = grade(&Lab::from_json(&student.to_json()).unwrap());
        assert_eq!(fresh.total, 0);
        assert!(
            fresh
                .tasks
                .iter()
                .all(|t| t.feedback != "this task cannot be graded: its expected answer was never sealed")
        );
    }
}

#[test]
fn plain_labs_are_unchanged_by_the_exercise_fields() {
    let lab = small_lab();
    let json = lab.to_json();
    assert!(!json.contains("exercises") && !json.contains("locks"));
    assert_eq!(Lab::from_json(&json).unwrap(), lab);
}

#[test]
fn bad_exercises_are_refused_with_a_json_path() {
    let mut lab = small_lab();
    add_task(&mut lab, ask_choice("c", 1, "?", &["a", "b"], &[0]).unwrap()).unwrap();
    let t = ask_number(&lab, "n", 1, NumericQuery::PageSize, None).unwrap();
    add_task(&mut lab, t).unwrap();
    let json = lab.to_json();
    let err = Lab::from_json(&json.replace("\"id\": \"n\"", "\"id\": \"c\"")).unwrap_err();
    assert_eq!(err.path, "exercises.tasks[1].id");
    let err = Lab::from_json(&json.replace("\"points\": 1,", "\"points\": \"one\",")).unwrap_err();
    assert_eq!(err.path, "exercises.tasks[0].points");
    let mut v: Value = serde_json::from_str(&json).unwrap();
    v["exercises"]["tasks"][1]["question"]["numeric"]["tolerance"] = serde_json::json!(-1.0);
    let err = Lab::from_json(&v.to_string()).unwrap_err();
    assert_eq!(err.path, "exercises.tasks[1].question.numeric.tolerance");
}

// ---------------------------------------------------------------- CLI

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, lab: &Lab) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lab.to_json()).unwrap();
    path
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn locked_parts_refuse_cli_edits() {
    let dir = tempfile::tempdir().unwrap();
    let x86 = student_version(&course::lab("x86-64-walks"));
    let path = write(dir.path(), "x86.json", &x86);
    let before = std::fs::read_to_string(&path).unwrap();
    // The code page's leaf entry is locked.
    let (ok, _, err) = run(&["unmap", s(&path), "0x40_0000"]);
    assert!(!ok && err.contains("locked"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before, "a refused edit writes nothing");
    // Other entries are free to change.
    let (ok, _, err) = run(&["map", s(&path), "0x90_0000", "--flags", "R/W,U/S"]);
    assert!(ok, "{err}");

    let sv39 = student_version(&course::lab("sv39-tlb"));
    let path = write(dir.path(), "sv39.json", &sv39);
    let (ok, _, err) = run(&["map", s(&path), "--process", "monitor", "0x5000"]);
    assert!(!ok && err.contains("process \"monitor\" is locked"), "{err}");
    let (ok, _, err) = run(&["unmap", s(&path), "--process", "monitor", "0x1000"]);
    assert!(!ok && err.contains("locked"), "{err}");
    let (ok, _, err) = run(&["map", s(&path), "--process", "a", "0x9000"]);
    assert!(ok, "{err}");
    let lab = Lab::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(lab.locks.is_locked(&lab.machine, pagelab::exercise::LockTarget::Process("monitor")));
}

#[test]
fn check_json_has_the_documented_fields_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let instructor = course::lab("x86-64-walks");
    let student = student_version(&instructor);
    let fresh = write(dir.path(), "fresh.json", &student);
    let solved = write(dir.path(), "solved.json", &solve::solve(&instructor, &student).unwrap());

    let mut partial = student.clone();
    submit(&mut partial, "index-bits", Answer::Number("9".into())).unwrap();
    submit(&mut partial, "why-tree", Answer::Choice(BTreeSet::from([0]))).unwrap();
    let partial = write(dir.path(), "partial.json", &partial);

    let parse = |path: &Path, extra: &[&str]| -> Value {
        let mut args = vec!["check", s(path), "--json"];
        args.extend_from_slice(extra);
        let (ok, out, err) = run(&args);
        assert!(ok, "check must exit 0 on a usable lab: {err}");
        serde_json::from_str(&out).unwrap()
    };
    let doc = parse(&partial, &[]);
    for field in
        ["schema", "lab", "title", "seed", "total", "max", "passed", "answered", "count", "tasks", "warnings"]
    {
        assert!(doc.get(field).is_some(), "missing {field}");
    }
    assert_eq!(doc["schema"], "pagelab-check/1");
    assert_eq!(doc["total"], 1);
    assert_eq!(doc["max"], instructor.exercises.max_points());
    assert_eq!(doc["answered"], 2);
    let tasks = doc["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), instructor.exercises.tasks.len());
    assert_eq!(doc["count"], tasks.len());
    for t in tasks {
        for field in ["id", "title", "kind", "points", "earned", "passed", "answered", "feedback"] {
            assert!(t.get(field).is_some(), "task without {field}: {t}");
        }
        assert!(["translate", "goal", "numeric", "choice"].contains(&t["kind"].as_str().unwrap()));
    }
    let by_id = |id: &str| tasks.iter().find(|t| t["id"] == id).unwrap().clone();
    assert_eq!(
        (by_id("index-bits")["earned"].clone(), by_id("index-bits")["passed"].clone()),
        (1.into(), true.into())
    );
    assert_eq!(by_id("why-tree")["earned"], 0);
    assert_eq!(by_id("why-tree")["answered"], true);

    assert_eq!(parse(&fresh, &[])["total"], 0);
    let full = parse(&solved, &[]);
    assert_eq!(full["total"], full["max"]);
    let full = parse(&solved, &["--reference", s(&write(dir.path(), "ref.json", &instructor))]);
    assert_eq!(full["total"], full["max"], "{full}");
    assert_eq!(full["warnings"], Value::Array(vec![]), "{full}");

    let (ok, out, _) = run(&["check", s(&partial)]);
    assert!(ok && out.contains("total: 1/"), "{out}");

    // Unusable files exit non-zero.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"format\": \"pagelab-lab\"}").unwrap();
    assert!(!run(&["check", s(&junk), "--json"]).0);
    assert!(!run(&["check", s(&dir.path().join("missing.json"))]).0);
}

#[test]
fn a_reference_defeats_edited_keys() {
    let instructor = course::lab("x86-64-walks");
    let handed_out = student_version(&instructor);
    let mut cheat = handed_out.clone();
    // The student reseals task "unmapped" with a hash of their own (wrong) answer.
    let task = cheat.exercises.task_mut("unmapped").unwrap();
    task.answer = Some(Answer::Fault(FaultKind::UserProtection));
    if let Question::Translate(TranslateQuestion { key: Some(key), .. }) = &mut task.question {
        key.outcome = pagelab::exercise::seal::hash(&key.salt, "fault:user-protection");
    }
    assert_eq!(grade(&cheat).total, 1, "alone, the edited key fools grading");
    let report = grade_against(&cheat, &handed_out);
    assert_eq!(report.total, 0);
    assert!(report.warnings.iter().any(|w| w.contains("differs")), "{:?}", report.warnings);
    // An edited locked entry is reported too.
    let mut edited = handed_out.clone();
    let entry = *edited.locks.entries.iter().next().unwrap();
    edited.machine.set_entry(EntryAddr::new(entry), 0).unwrap();
    assert!(grade_against(&edited, &handed_out).warnings.iter().any(|w| w.contains("locked")));
}

#[test]
fn generate_is_deterministic_per_seed_and_differs_across_seeds() {
    let dir = tempfile::tempdir().unwrap();
    for (name, template) in course::all() {
        let tpl = write(dir.path(), &format!("{name}.json"), &template);
        let out = |seed: &str, file: &str| {
            let path = dir.path().join(file);
            let (ok, _, err) = run(&["generate", s(&tpl), "--seed", seed, "-o", s(&path)]);
            assert!(ok, "{name}: {err}");
            std::fs::read_to_string(path).unwrap()
        };
        let a = out("7", "a.json");
        assert_eq!(a, out("7", "b.json"), "{name}: same seed, same file");
        let c = out("8", "c.json");
        assert_ne!(a, c, "{name}: different seeds, different files");

        // The variants differ in the questions themselves, not only in salts.
        let va = |lab: &Lab| -> Vec<u64> {
            lab.exercises
                .tasks
                .iter()
                .filter_map(|t| match &t.question {
                    Question::Translate(q) => Some(q.va.get()),
                    _ => None,
                })
                .collect()
        };
        let (a, c) = (Lab::from_json(&a).unwrap(), Lab::from_json(&c).unwrap());
        assert_ne!(va(&a), va(&c), "{name}");
        assert_ne!(va(&a), va(&template), "{name}");
        assert!(a.exercises.student && a.exercises.seed == Some(7));
        assert_eq!(grade(&a).total, 0, "{name}: a fresh variant scores zero");

        // The library gives the same file, and the variant's own solution scores full marks.
        let variant = generate(&template, 7).unwrap();
        // (The file's `$schema` leads from where it was written; the library's copy keeps the
        // template's.)
        assert_eq!(Lab { schema: None, ..student_version(&variant) }, Lab { schema: None, ..a.clone() });
        let solved = solve::solve(&variant, &a).unwrap();
        let report = grade(&solved);
        assert_eq!(report.total, report.max, "{name}: {report:#?}");
        // Graded against a regenerated reference, too.
        assert_eq!(grade_against(&solved, &a).total, report.max);
        // The template's solution does not fit the variant.
        let template_answers = solve::solve(&template, &a).unwrap();
        assert!(grade(&template_answers).total < report.max, "{name}");
    }
    // Prompts follow the moved addresses.
    let variant = generate(&course::lab("x86-64-walks"), 3).unwrap();
    let task = variant.exercises.task("map-frame").unwrap();
    assert!(!task.prompt.contains("0x80_0000") && !task.prompt.contains("`0x2a`"), "{}", task.prompt);
    assert_eq!(task.kind(), TaskKind::Goal);
    assert!(!run(&["generate", "/no/such/template.json", "--seed", "1", "-o", "/tmp/x.json"]).0);
}

#[test]
fn example_data_files_are_current() {
    // UPDATE_DATA=1 cargo test --test exercises rewrites them. Course labs are sealed with seeded
    // salts, so their student versions are reproducible too.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for (name, lab) in course::all() {
        for (suffix, mut version) in [("", lab.clone()), ("-student", student_version(&lab))] {
            // The copies here are not beside docs/: no `$schema` pointing two folders up.
            version.schema = None;
            let path = data.join(format!("exercise-{name}{suffix}.json"));
            let json = version.to_json();
            if std::env::var_os("UPDATE_DATA").is_some() {
                std::fs::create_dir_all(&data).unwrap();
                std::fs::write(&path, &json).unwrap();
            }
            let stored = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                stored,
                json,
                "{} is stale; run UPDATE_DATA=1 cargo test --test exercises",
                path.display()
            );
        }
    }
}

#[test]
fn instructors_edit_and_reseal_tasks() {
    let mut lab = small_lab();
    let id = author::unused_id(&lab, "walk");
    let t = ask_translation(&lab, &id, 0, VirtAddr::new(0x40_0000), Access::Read, Mode::User, false).unwrap();
    add_task(&mut lab, t).unwrap();
    assert_eq!(author::unused_id(&lab, "walk"), "walk-2");
    assert!(add_task(&mut lab, ask_choice("walk", 1, "?", &["a"], &[0]).unwrap()).is_err(), "duplicate id");
    // The instructor changes the address: the old key is stale until resealed.
    if let Some(Question::Translate(q)) = lab.exercises.task_mut("walk").map(|t| &mut t.question) {
        q.va = VirtAddr::new(0x40_0008);
    }
    let task = lab.exercises.task("walk").unwrap().clone();
    assert_eq!(pagelab::exercise::seal::is_current(&task, &lab.machine), Some(false));
    author::reseal_task(&mut lab, "walk").unwrap();
    let task = lab.exercises.task("walk").unwrap().clone();
    assert_eq!(pagelab::exercise::seal::is_current(&task, &lab.machine), Some(true));
    assert_eq!(
        pagelab::exercise::seal::expected_text(&task, &lab.machine).as_deref(),
        Some("physical address 0x123008")
    );
    assert!(submit(&mut lab, "walk", Answer::Address { pa: 0x12_3008, byte: None }).unwrap().passed);
    // A student version cannot be resealed or extended.
    let mut student = student_version(&lab);
    assert!(author::reseal_task(&mut student, "walk").is_err());
    assert!(author::add_task(&mut student, goal("g", 1, Condition::AllOf(vec![]))).is_err());
}

/// `generate` refuses a template that declares nothing to randomize, with the reason (every seed
/// would give the same variant); it used to write identical copies silently.
#[test]
fn generate_refuses_a_template_that_randomizes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut template = course::lab("linear-table");
    template.exercises.randomize = Default::default();
    let tpl = write(dir.path(), "fixed.json", &template);
    let out = dir.path().join("out.json");
    let (ok, _, err) = run(&["generate", s(&tpl), "--seed", "3", "-o", s(&out)]);
    assert!(!ok && err.contains("declares nothing to randomize"), "{err}");
    assert!(!out.exists());
}

/// Grading a student file without the instructor's copy says first that the keys come from the
/// file; `--gradescope` writes Gradescope's results: the score and one test per task.
#[test]
fn check_warns_without_a_reference_and_writes_gradescope_results() {
    let dir = tempfile::tempdir().unwrap();
    let (name, template) = ("linear-table", course::lab("linear-table"));
    let tpl = write(dir.path(), &format!("{name}.json"), &template);
    let handout = dir.path().join("handout.json");
    let (ok, _, err) = run(&["generate", s(&tpl), "--seed", "5", "-o", s(&handout)]);
    assert!(ok, "{err}");
    let (ok, text, err) = run(&["check", s(&handout)]);
    assert!(ok, "{err}");
    assert!(
        text.lines().nth(1).is_some_and(|l| l.starts_with("note: graded with the keys stored in this file")),
        "{text}"
    );
    let instructor = dir.path().join("instructor.json");
    let (ok, _, err) = run(&["generate", s(&tpl), "--seed", "5", "--instructor", "-o", s(&instructor)]);
    assert!(ok, "{err}");
    let results = dir.path().join("results.json");
    let (ok, text, err) =
        run(&["check", s(&handout), "--reference", s(&instructor), "--gradescope", s(&results)]);
    assert!(ok, "{err}");
    assert!(!text.contains("note: graded with the keys"), "{text}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let tests = results["tests"].as_array().unwrap();
    let handed_out = Lab::from_json(&std::fs::read_to_string(&handout).unwrap()).unwrap();
    assert_eq!(tests.len(), handed_out.exercises.tasks.len());
    assert_eq!(results["score"], 0, "an untouched handout scores nothing");
    for (i, test) in tests.iter().enumerate() {
        assert_eq!(test["number"], (i + 1).to_string());
        assert_eq!(test["status"], "failed");
        assert_eq!(test["score"], 0);
        assert_eq!(test["max_score"], handed_out.exercises.tasks[i].points);
        assert_eq!(test["output_format"], "md");
        assert_eq!(test["visibility"], "visible");
        assert!(test["name"].as_str().is_some_and(|n| n.contains(&handed_out.exercises.tasks[i].id)));
    }
}

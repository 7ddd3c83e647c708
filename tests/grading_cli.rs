//! Grading a class from the command line: `pagelab autograder` (the generated run_autograder
//! run in a temporary root on a correct, a partly correct, a tampered, an unreadable and a
//! missing submission, with results.json checked against Gradescope's documented fields),
//! `pagelab solve`, `pagelab export --exam`, `check --csv` and per-task visibility.
//!
//! The course's x86-64 lab is worth 19 points over 12 tasks (docs/check-json-schema.md shows
//! its `"max": 19`); exam16 hands its results out after the grades are published.

use flate2::read::DeflateDecoder;
use serde_json::Value;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_pagelab");

fn course(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/course").join(name)
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Extracts a zip (deflated entries, no comment, no zip64) into `dir`, keeping Unix
/// permissions, by the layout of the zip specification (APPNOTE 4.3): end of central directory
/// record last, central entries, local headers.
fn unzip(zip: &[u8], dir: &Path) -> Vec<String> {
    let end = zip.len() - 22;
    assert_eq!(u32_at(zip, end), 0x0605_4b50, "end of central directory");
    let count = u16_at(zip, end + 10);
    let mut at = u32_at(zip, end + 16) as usize;
    let mut names = Vec::new();
    for _ in 0..count {
        assert_eq!(u32_at(zip, at), 0x0201_4b50);
        assert_eq!(u16_at(zip, at + 10), 8, "deflated");
        let (packed, size) = (u32_at(zip, at + 20) as usize, u32_at(zip, at + 24) as usize);
        let (name_len, extra, comment) = (u16_at(zip, at + 28), u16_at(zip, at + 30), u16_at(zip, at + 32));
        let mode = u32_at(zip, at + 38) >> 16;
        let local = u32_at(zip, at + 42) as usize;
        let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).unwrap();
        at += 46 + name_len + extra + comment;
        assert_eq!(u32_at(zip, local), 0x0403_4b50);
        let data_at = local + 30 + u16_at(zip, local + 26) + u16_at(zip, local + 28);
        let mut data = Vec::new();
        DeflateDecoder::new(&zip[data_at..data_at + packed]).read_to_end(&mut data).unwrap();
        assert_eq!(data.len(), size, "{name}");
        let mut crc = flate2::Crc::new();
        crc.update(&data);
        assert_eq!(crc.sum(), u32_at(zip, local + 14), "{name}: CRC");
        let path = dir.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &data).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o777)).unwrap();
        names.push(name);
    }
    names
}

/// Gradescope's documented result fields: a numeric `score`, and tests with `score`,
/// `max_score`, `status` passed/failed, `name`, `output` and a known `visibility`.
fn check_gradescope_fields(results: &Value) {
    assert!(results["score"].is_number(), "{results}");
    let tests = results["tests"].as_array().unwrap();
    assert!(!tests.is_empty());
    for t in tests {
        assert!(t["score"].is_number() && t["max_score"].is_number(), "{t}");
        assert!(["passed", "failed"].contains(&t["status"].as_str().unwrap()), "{t}");
        assert!(t["name"].is_string() && t["output"].is_string(), "{t}");
        let visibility = t["visibility"].as_str().unwrap();
        assert!(["visible", "hidden", "after_due_date", "after_published"].contains(&visibility), "{t}");
    }
}

/// PATH with `first` searched before the rest.
fn path_with(first: Option<&Path>) -> std::ffi::OsString {
    let mut path = std::ffi::OsString::new();
    if let Some(dir) = first {
        path.push(dir);
        path.push(":");
    }
    path.push(std::env::var_os("PATH").unwrap_or_default());
    path
}

struct Autograder {
    root: tempfile::TempDir,
    script: PathBuf,
    /// Where setup.sh installed pagelab, once it has run; until then the test's own binary.
    installed: Option<PathBuf>,
}

impl Autograder {
    fn new(reference: &Path) -> Self {
        let root = tempfile::tempdir().unwrap();
        let zip = root.path().join("autograder.zip");
        let (ok, out, err) = run(&["autograder", s(reference), "-o", s(&zip)]);
        assert!(ok && out.contains("wrote"), "{out}{err}");
        // Gradescope unpacks the zip into /autograder/source and copies run_autograder up.
        let source = root.path().join("source");
        let names = unzip(&std::fs::read(&zip).unwrap(), &source);
        for needed in [
            "setup.sh",
            "run_autograder",
            "reference.json",
            "pagelab/Cargo.toml",
            "pagelab/Cargo.lock",
            "pagelab/src/main.rs",
        ] {
            assert!(names.iter().any(|n| n == needed), "{needed} missing from {names:?}");
        }
        let setup = std::fs::read_to_string(source.join("setup.sh")).unwrap();
        assert!(setup.contains("--no-default-features"), "{setup}");
        Autograder { script: source.join("run_autograder"), root, installed: None }
    }

    /// Runs the zip's setup.sh as Gradescope would, but offline (the crates it needs are in
    /// cargo's cache once this test suite was built), with its build kept between runs, and
    /// pagelab installed into the temporary root instead of /usr/local/bin.
    fn run_setup(&mut self) {
        let source = self.script.with_file_name("");
        let bin = self.root.path().join("bin");
        let cargo_dir = std::env::var_os("CARGO").map(PathBuf::from);
        let cargo_dir = cargo_dir.as_deref().and_then(Path::parent);
        let out = Command::new("bash")
            .arg(source.join("setup.sh"))
            .env("PATH", path_with(cargo_dir))
            .env("CARGO_NET_OFFLINE", "true")
            .env("CARGO_TARGET_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("autograder-setup"))
            .env("PAGELAB_INSTALL_DIR", &bin)
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "setup.sh failed:\n{stdout}\n{stderr}");
        // Its last step runs the installed binary.
        assert!(stdout.contains("pagelab "), "{stdout}");
        assert!(bin.join("pagelab").is_file());
        self.installed = Some(bin);
    }

    /// Runs run_autograder with `files` as the submission; returns results.json.
    fn grade(&self, files: &[(&str, &[u8])]) -> Value {
        let submission = self.root.path().join("submission");
        let _ = std::fs::remove_dir_all(&submission);
        std::fs::create_dir_all(&submission).unwrap();
        for (name, data) in files {
            std::fs::write(submission.join(name), data).unwrap();
        }
        let results = self.root.path().join("results/results.json");
        let _ = std::fs::remove_file(&results);
        let mut command = Command::new(&self.script);
        command.env("PAGELAB_AUTOGRADER_ROOT", self.root.path());
        match &self.installed {
            None => command.env("PAGELAB", BIN),
            Some(bin) => command.env_remove("PAGELAB").env("PATH", path_with(Some(bin))),
        };
        let status = command.status().unwrap();
        assert!(status.success());
        let results: Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
        check_gradescope_fields(&results);
        results
    }
}

fn solved(dir: &Path) -> PathBuf {
    let out = dir.join("solved.json");
    let (ok, text, err) = run(&["solve", s(&course("x86-64-walks.json")), "-o", s(&out)]);
    assert!(ok, "{text}{err}");
    out
}

#[test]
fn run_autograder_grades_correct_partial_tampered_unreadable_and_missing_submissions() {
    let grader = Autograder::new(&course("x86-64-walks.json"));
    let dir = tempfile::tempdir().unwrap();
    let solution = std::fs::read(solved(dir.path())).unwrap();

    let full = grader.grade(&[("my-lab.json", &solution)]);
    assert_eq!(full["score"], 19);
    let tests = full["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 12);
    assert!(tests.iter().all(|t| t["status"] == "passed" && t["score"] == t["max_score"]));

    // Partly correct: the solution with the first task's answer removed (walk-data, 2 points).
    let mut partial: Value = serde_json::from_slice(&solution).unwrap();
    partial["exercises"]["tasks"][0].as_object_mut().unwrap().remove("answer");
    let partial = grader.grade(&[("lab.json", partial.to_string().as_bytes()), ("notes.txt", b"hi")]);
    assert_eq!(partial["score"], 17);
    assert_eq!(partial["tests"][0]["status"], "failed");

    // Tampered: the handout with walk-data's key replaced by the hash of a wrong answer and
    // that wrong answer given. Graded with the instructor's key: no points, and a failed
    // integrity test says what was altered.
    let mut tampered: Value =
        serde_json::from_slice(&std::fs::read(course("x86-64-walks-student.json")).unwrap()).unwrap();
    let task = &mut tampered["exercises"]["tasks"][0];
    assert_eq!(task["id"], "walk-data");
    task["question"]["translate"]["key"]["outcome"] = Value::String("00".repeat(32));
    task["answer"] = serde_json::json!({"address": {"pa": 0, "byte": 0}});
    let tampered = grader.grade(&[("lab.json", tampered.to_string().as_bytes())]);
    assert_eq!(tampered["score"], 0);
    let last = tampered["tests"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["name"], "Submission integrity");
    assert_eq!(last["status"], "failed");
    assert!(last["output"].as_str().unwrap().contains("walk-data"), "{last}");

    for (files, says) in
        [(vec![("lab.json", b"{ not json".as_slice())], "not valid JSON"), (vec![], "no lab file")]
    {
        let results = grader.grade(&files);
        assert_eq!(results["score"], 0);
        let test = &results["tests"][0];
        assert_eq!((test["status"].as_str(), test["max_score"].as_u64()), (Some("failed"), Some(19)));
        assert!(test["output"].as_str().unwrap().contains(says), "{test}");
    }
}

/// The whole Gradescope path on this machine: setup.sh builds the headless CLI from the source
/// in the zip (with `--locked --no-default-features`, as on Gradescope's image), and
/// run_autograder, finding that pagelab on its PATH, gives the model solution full marks and
/// the handout none.
#[test]
fn setup_sh_builds_the_cli_that_run_autograder_then_uses() {
    let mut grader = Autograder::new(&course("x86-64-walks.json"));
    grader.run_setup();
    let dir = tempfile::tempdir().unwrap();
    let solution = std::fs::read(solved(dir.path())).unwrap();
    // Saving wrote the JSON Schema beside the lab; a student who hands in the whole folder
    // hands it in too, and it is not taken for a second lab.
    let schema = std::fs::read(dir.path().join("lab.schema.json")).unwrap();
    let full = grader.grade(&[("my-lab.json", &solution), ("lab.schema.json", &schema)]);
    assert_eq!(full["score"], 19);
    let handout = std::fs::read(course("x86-64-walks-student.json")).unwrap();
    let none = grader.grade(&[("my-lab.json", &handout)]);
    assert_eq!(none["score"], 0);
}

#[test]
fn solve_scores_full_marks_and_refuses_a_student_copy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("solved.json");
    let (ok, text, err) = run(&["solve", s(&course("x86-64-walks.json")), "-o", s(&out)]);
    assert!(ok, "{err}");
    assert!(text.contains("the solution scores 19/19") && text.contains("the handout scores 0/19"), "{text}");
    let (ok, text, _) = run(&["check", s(&out), "--reference", s(&course("x86-64-walks.json"))]);
    assert!(ok && text.contains("total: 19/19"), "{text}");
    let (ok, _, err) = run(&["solve", s(&course("x86-64-walks-student.json")), "-o", s(&out)]);
    assert!(!ok && err.contains("student copy"), "{err}");
}

#[test]
fn check_csv_grades_a_folder_one_row_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    std::fs::create_dir_all(subs.join("dave")).unwrap();
    std::fs::copy(solved(dir.path()), subs.join("alice.json")).unwrap();
    std::fs::copy(course("x86-64-walks-student.json"), subs.join("bob.json")).unwrap();
    std::fs::write(subs.join("carol.json"), "[]").unwrap();
    std::fs::copy(solved(dir.path()), subs.join("dave/lab.json")).unwrap();
    let csv = dir.path().join("grades.csv");
    let (ok, text, err) =
        run(&["check", "--reference", s(&course("x86-64-walks.json")), s(&subs), "--csv", s(&csv)]);
    assert!(ok, "{err}");
    assert!(text.starts_with("graded 4 submission(s)") && text.contains("1 unreadable"), "{text}");
    let rows: Vec<Vec<String>> = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    // name, 12 tasks, total, problems.
    assert_eq!(rows[0].len(), 15);
    assert_eq!(
        (rows[0][0].as_str(), rows[0][1].as_str(), rows[0][13].as_str()),
        ("name", "walk-data", "total")
    );
    let names: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["alice.json", "bob.json", "carol.json", "dave/lab.json"]);
    assert_eq!((rows[1][1].as_str(), rows[1][13].as_str()), ("2", "19"));
    assert_eq!(rows[2][13], "0");
    assert!(rows[3][14].contains("a lab file is a JSON object"), "{:?}", rows[3]);
    assert_eq!(rows[4][13], "19");
}

#[test]
fn export_exam_and_gradescope_visibility_per_task() {
    let dir = tempfile::tempdir().unwrap();
    let exam = dir.path().join("exam.json");
    let (ok, text, err) = run(&["export", s(&course("exam16.json")), "--exam", "-o", s(&exam)]);
    assert!(ok && text.contains("exam copy"), "{text}{err}");
    let results = dir.path().join("results.json");
    let (ok, _, err) =
        run(&["check", s(&exam), "--reference", s(&course("exam16.json")), "--gradescope", s(&results)]);
    assert!(ok, "{err}");
    let results: Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    check_gradescope_fields(&results);
    let tests = results["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 12, "no integrity test: an exam copy is what was handed out");
    assert!(tests.iter().all(|t| t["visibility"] == "after_published"), "{results}");
}

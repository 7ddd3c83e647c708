//! `pagelab autograder INSTRUCTOR_COPY -o autograder.zip`: the bundle Gradescope's autograder
//! expects. `setup.sh` installs a Rust toolchain and builds the headless CLI from the source in
//! the zip (`--no-default-features`, no GUI libraries needed); `run_autograder` runs
//! `pagelab check` on /autograder/submission against the embedded instructor copy and writes
//! /autograder/results/results.json. `PAGELAB_AUTOGRADER_ROOT` replaces /autograder (to try it
//! locally or in tests) and `PAGELAB` names the binary to run.

use super::edit::load_lab;
use super::zip;
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct AutograderArgs {
    /// The instructor's copy: submissions are graded with its tasks and keys only.
    pub reference: PathBuf,
    /// The zip to write.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// The pagelab source to include and build on Gradescope (default: the source this
    /// binary was built from, when it is still there).
    #[arg(long)]
    pub source: Option<PathBuf>,
}

/// Gradescope runs setup.sh once, as root, from /autograder/source, with network access.
const SETUP: &str = r#"#!/usr/bin/env bash
# Made by `pagelab autograder`. Gradescope runs this once, as root, in /autograder/source:
# install a Rust toolchain and build the headless pagelab CLI from the source in this zip.
# To try it elsewhere: PAGELAB_INSTALL_DIR (default /usr/local/bin) is where pagelab goes, and
# cargo's own CARGO_TARGET_DIR and CARGO_NET_OFFLINE are honoured.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v cc >/dev/null || ! command -v curl >/dev/null; then
  apt-get update
  apt-get install -y --no-install-recommends curl ca-certificates build-essential
fi
if ! command -v cargo >/dev/null; then
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain stable
  # shellcheck disable=SC1091
  source "$HOME/.cargo/env"
fi
cargo build --release --locked --no-default-features --manifest-path pagelab/Cargo.toml
target="${CARGO_TARGET_DIR:-pagelab/target}"
install_dir="${PAGELAB_INSTALL_DIR:-/usr/local/bin}"
mkdir -p "$install_dir"
install -m 755 "$target/release/pagelab" "$install_dir/pagelab"
"$install_dir/pagelab" --version
"#;

/// Gradescope runs run_autograder for every submission.
const RUN: &str = r#"#!/usr/bin/env bash
# Made by `pagelab autograder`. Grades the lab in $ROOT/submission against the instructor's
# copy in $ROOT/source/reference.json (keys in the submission are ignored) and writes
# $ROOT/results/results.json. ROOT is /autograder unless PAGELAB_AUTOGRADER_ROOT says otherwise.
ROOT="${PAGELAB_AUTOGRADER_ROOT:-/autograder}"
PAGELAB="${PAGELAB:-pagelab}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
if ! "$PAGELAB" check "$ROOT/submission" --reference "$ROOT/source/reference.json" --gradescope "$RESULTS"; then
  # pagelab itself could not run (not installed, or the instructor copy unreadable): still a result.
  cat > "$RESULTS" <<'JSON'
{
  "score": 0,
  "output": "The autograder could not run pagelab; please tell your instructor.",
  "tests": [
    {
      "name": "Autograder",
      "number": "1",
      "score": 0,
      "max_score": 0,
      "status": "failed",
      "output": "The autograder could not run pagelab; please tell your instructor.",
      "visibility": "visible"
    }
  ]
}
JSON
fi
exit 0
"#;

/// The submitted lab in `path`: `path` itself when it is a file, else the one lab (.json) in
/// the folder; several files are narrowed to those that read as labs.
pub fn find_submission(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if !path.is_dir() {
        bail!("{} does not exist", path.display());
    }
    let files = super::batch::lab_files(path)?;
    match files.as_slice() {
        [] => bail!("no lab file (.json) was submitted in {}", path.display()),
        [one] => Ok(one.clone()),
        _ => {
            let labs: Vec<&PathBuf> = files.iter().filter(|f| load_lab(f).is_ok()).collect();
            match labs.as_slice() {
                [one] => Ok((*one).clone()),
                [] => bail!(
                    "none of the {} .json files submitted is a readable pagelab lab ({})",
                    files.len(),
                    names(&files, path)
                ),
                _ => {
                    bail!("{} labs were submitted ({}); submit exactly one", labs.len(), names(&files, path))
                }
            }
        }
    }
}

fn names(files: &[PathBuf], root: &Path) -> String {
    files
        .iter()
        .map(|f| f.strip_prefix(root).unwrap_or(f).display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The files of the source needed to build the CLI: the manifest, the lock file, src/ and
/// benches/ (the manifest names the benches, so cargo wants them).
fn source_files(root: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for name in ["Cargo.toml", "Cargo.lock"] {
        let data =
            std::fs::read(root.join(name)).with_context(|| format!("{}: no {name}", root.display()))?;
        out.push((name.to_string(), data));
    }
    for dir in ["src", "benches"] {
        let mut pending = vec![root.join(dir)];
        while let Some(folder) = pending.pop() {
            let entries =
                std::fs::read_dir(&folder).with_context(|| format!("cannot read {}", folder.display()))?;
            for entry in entries.flatten() {
                let path = entry.path();
                if entry.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                if path.is_dir() {
                    pending.push(path);
                } else if let Ok(relative) = path.strip_prefix(root) {
                    let name =
                        relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>();
                    out.push((name.join("/"), std::fs::read(&path)?));
                }
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn default_source() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.join("Cargo.toml").is_file().then_some(dir)
}

pub fn run(args: &AutograderArgs) -> anyhow::Result<String> {
    let reference = load_lab(&args.reference)?;
    if reference.exercises.tasks.is_empty() {
        bail!("{}: the lab has no exercises to grade", args.reference.display());
    }
    if reference.exercises.exam {
        bail!("{}: this is an exam copy without keys; pass the instructor's copy", args.reference.display());
    }
    let source = match &args.source {
        Some(dir) => dir.clone(),
        None => {
            default_source().context("the pagelab source is not where it was built: pass --source DIR")?
        }
    };
    let mut entries = vec![
        zip::Entry { name: "setup.sh".into(), data: SETUP.into(), executable: true },
        zip::Entry { name: "run_autograder".into(), data: RUN.into(), executable: true },
        zip::Entry {
            name: "reference.json".into(),
            data: reference.to_json().into_bytes(),
            executable: false,
        },
    ];
    for (name, data) in source_files(&source)? {
        entries.push(zip::Entry { name: format!("pagelab/{name}"), data, executable: false });
    }
    let bytes = zip::write(&entries)?;
    write_bytes(&args.output, &bytes)?;
    Ok(format!(
        "wrote {} ({} files, {} KiB): setup.sh builds pagelab on Gradescope, run_autograder grades the submission against \"{}\" ({} task(s), {} point(s))\n",
        args.output.display(),
        entries.len(),
        bytes.len().div_ceil(1024),
        reference.title,
        reference.exercises.tasks.len(),
        reference.exercises.max_points()
    ))
}

fn write_bytes(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("zip.tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write {}", path.display()))
}

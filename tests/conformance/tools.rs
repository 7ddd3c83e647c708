//! The suite's outside tools: finding QEMU and the assemblers, assembling the probes at test
//! time, and running QEMU with a watchdog. Without the tools the suite skips loudly, unless
//! `CI=true`, where a missing tool fails the test.

use pagelab::sim::mmu::Request;
use pagelab::sim::{Access, Mode, PhysAddr, Translation};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where `.ci/run` unpacks QEMU when the system's packages cannot be installed side by side.
const UNPACKED_QEMU: &str = ".cache/pagelab-qemu/usr/bin";

/// A program on PATH, or in `$PAGELAB_QEMU_DIR`, or in `~/.cache/pagelab-qemu/usr/bin`.
pub fn find(program: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("PAGELAB_QEMU_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(UNPACKED_QEMU));
    }
    dirs.into_iter().map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}

/// The tools a suite needs, or None after saying loudly that it is skipped (a panic under CI).
pub fn require(suite: &str, programs: &[&str]) -> Option<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for program in programs {
        match find(program) {
            Some(path) => found.push(path),
            None => missing.push(*program),
        }
    }
    if missing.is_empty() {
        return Some(found);
    }
    let message = format!(
        "QEMU conformance suite {suite}: SKIPPED, {} not found (install qemu-system-misc, \
         qemu-system-x86 and binutils-riscv64-unknown-elf; see tests/conformance/README.md)",
        missing.join(", ")
    );
    if std::env::var("CI").is_ok_and(|value| value == "true") {
        panic!("{message}; CI=true makes this a failure");
    }
    say(&format!("\n!!!!!!!! {message} !!!!!!!!\n"));
    None
}

/// Writes to the test's stderr past the test harness's capture, so that `cargo test` shows it
/// (a skipped suite and the per-format summaries belong in every CI log).
pub fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Runs a command to completion, failing the test with its output if it fails.
pub fn run_ok(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Links a probe's `object` into `elf` for the linker's `emulation`, with the suite's linker
/// script `script`.
pub fn link(ld: &Path, emulation: &str, script: &str, object: &Path, elf: &Path) {
    run_ok(
        Command::new(ld)
            .args(["-m", emulation, "--no-warn-rwx-segments", "-T"])
            .arg(source(script))
            .arg("-o")
            .arg(elf)
            .arg(object),
    );
}

/// A fresh scratch directory for one suite (removed when dropped).
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// The suite's source directory (the probes and linker scripts).
pub fn source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance").join(name)
}

/// Runs QEMU and returns what the probe printed on the serial port. A probe that hangs (a
/// divergence the probe cannot recover from) is killed after `limit`; the output so far is
/// returned, and the harness reports the queries that never answered.
pub fn run_qemu(command: &mut Command, limit: Duration) -> String {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > limit => {
                eprintln!("{command:?}: still running after {limit:?}, killed");
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for QEMU: {e}"),
        }
    }
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    if !stderr.trim().is_empty() {
        eprintln!("QEMU said: {stderr}");
    }
    reader.join().unwrap_or_default()
}

/// One probe output line: "Q" then hex words.
pub fn parse_lines(output: &str) -> Vec<Vec<u64>> {
    output
        .lines()
        .filter_map(|line| line.trim().strip_prefix('Q'))
        .map(|rest| rest.split_whitespace().filter_map(|word| u64::from_str_radix(word, 16).ok()).collect())
        .collect()
}

/// Up to `wanted` queries from `next` (which may decline, returning `None`), giving up after 20
/// tries per wanted query: a scenario whose tables leave few usable addresses still finishes.
pub fn collect_queries<Q>(wanted: usize, max: usize, mut next: impl FnMut() -> Option<Q>) -> Vec<Q> {
    let mut queries = Vec::new();
    let mut attempts = 0;
    while queries.len() < wanted.min(max) && attempts < wanted * 20 {
        attempts += 1;
        if let Some(query) = next() {
            queries.push(query);
        }
    }
    queries
}

/// Writes the run's inputs for QEMU's loader: pagelab's physical memory `[from, to)` as the RAM
/// image, and the query block. Returns their paths (RAM image, queries).
pub fn write_run_inputs(
    dir: &std::path::Path,
    mem: &pagelab::sim::mem::PhysMem,
    [from, to]: [u64; 2],
    block: &[u8],
) -> (PathBuf, PathBuf) {
    let ram = dir.join("ram.bin");
    let queries = dir.join("queries.bin");
    let mut bytes = vec![0u8; usize::try_from(to - from).expect("a small image")];
    mem.read(PhysAddr::new(from), &mut bytes).expect("RAM image");
    std::fs::write(&ram, &bytes).expect("write RAM image");
    std::fs::write(&queries, block).expect("write queries");
    (ram, queries)
}

/// Runs a probe `elf` in QEMU (`qemu`: the program and its machine's arguments) with the query
/// block loaded at `qbase` and the RAM image at `tables`; returns what the probe printed.
pub fn run_probe(
    qemu: &mut Command,
    elf: &Path,
    (block, qbase): (&Path, u64),
    (ram, tables): (&Path, u64),
) -> String {
    run_qemu(
        qemu.arg("-kernel")
            .arg(elf)
            .arg("-device")
            .arg(format!("loader,file={},addr={qbase:#x},force-raw=on", block.display()))
            .arg("-device")
            .arg(format!("loader,file={},addr={tables:#x},force-raw=on", ram.display())),
        Duration::from_secs(120),
    )
}

/// A query's 64-byte record, as both probes read it: [0] va; [1] control: bits 1:0 the access
/// (0 read, 1 write, 2 fetch), bit 2 user, the architecture's `switches` bits, bits 11:8 the
/// walk's entry count; [2..7] the walked entries' physical addresses; [7] for a write, where
/// its mark should land (`lands_at`; the probe reports 0xdead when it is not there).
pub fn query_record(request: &Request, walk: &Translation, switches: u64, lands_at: Option<u64>) -> [u64; 8] {
    let mut record = [0u64; 8];
    record[0] = request.va.get();
    let access = match request.access {
        Access::Read => 0,
        Access::Write => 1,
        Access::Execute => 2,
    };
    let user = u64::from(request.mode == Mode::User) << 2;
    let steps = walk.steps.len() as u64;
    record[1] = access | user | switches | steps << 8;
    for (slot, step) in record[2..7].iter_mut().zip(&walk.steps) {
        *slot = step.entry_addr.get();
    }
    if request.access == Access::Write {
        record[7] = lands_at.unwrap_or(0);
    }
    record
}

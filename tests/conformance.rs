//! Conformance against QEMU: random page tables built in pagelab are loaded into QEMU's RAM, a
//! bare-metal probe performs each query there, and pagelab's translation of the same query must
//! give the same outcome, physical address, fault cause or error code and A/D bits. QEMU's known
//! deviations are excluded by rule (tests/conformance/deviations.rs). Without QEMU the suite
//! says it is skipping; with CI=true that is a failure. See tests/conformance/README.md.
// Test arithmetic on small, known values: the cast lints guard src/.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

#[path = "conformance/compare.rs"]
mod compare;
#[path = "conformance/deviations.rs"]
mod deviations;
#[path = "conformance/riscv.rs"]
mod riscv;
#[path = "conformance/scenario.rs"]
mod scenario;
#[path = "conformance/tools.rs"]
mod tools;
#[path = "conformance/x86.rs"]
mod x86;

use compare::Tally;

/// Scenarios per format: 3 (4,500 queries), or `$PAGELAB_CONFORMANCE_RUNS` for a longer soak.
fn runs() -> usize {
    std::env::var("PAGELAB_CONFORMANCE_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3)
}

fn check(format: &str, tally: Option<Tally>) {
    let Some(tally) = tally else { return };
    let mut report = tally.summary(format);
    for name in tally.explained.keys() {
        if let Some(deviation) = deviations::DEVIATIONS.iter().find(|d| d.name == *name) {
            report.push_str(&format!("\n  {name}: QEMU {}. Spec: {}", deviation.qemu_does, deviation.spec));
        }
    }
    tools::say(&report);
    assert!(tally.queries > 0, "{format}: no queries ran");
    let shown: Vec<&String> = tally.unexplained.iter().take(10).collect();
    assert!(
        tally.unexplained.is_empty(),
        "{format}: {} differences from QEMU that no known deviation explains; the first:\n{}",
        tally.unexplained.len(),
        shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn sv32_agrees_with_qemu() {
    check("sv32", riscv::run("sv32", 0x5332, runs(), 1500));
}

#[test]
fn sv39_agrees_with_qemu() {
    check("sv39", riscv::run("sv39", 0x5339, runs(), 1500));
}

#[test]
fn sv48_agrees_with_qemu() {
    check("sv48", riscv::run("sv48", 0x5348, runs(), 1500));
}

#[test]
fn sv57_agrees_with_qemu() {
    check("sv57", riscv::run("sv57", 0x5357, runs(), 1500));
}

#[test]
fn x86_64_agrees_with_qemu() {
    check("x86-64", x86::run("x86-64", 0x8664, runs(), 1500));
}

#[test]
fn x86_64_la57_agrees_with_qemu() {
    check("x86-64-la57", x86::run("x86-64-la57", 0x8657, runs(), 1500));
}

#[test]
fn x86_32_agrees_with_qemu() {
    check("x86-32", x86::run("x86-32", 0x8632, runs(), 1500));
}

#[test]
fn x86_pae_agrees_with_qemu() {
    check("x86-pae", x86::run("x86-pae", 0x8650, runs(), 1500));
}

//! OSTEP problems through the importer and the MMU: every fixture problem, imported and walked,
//! gives exactly the answers of its solved file (read here with a small reader of our own, not
//! the project's parser); the CLI gives the same in JSON; and random problems of any seed and
//! size agree with a reference walker written from the OSTEP READMEs.
// Test arithmetic on small, known values: the cast lints guard src/.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

use pagelab::sim::{PhysAddr, VirtAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

use pagelab::lab::Lab;
use pagelab::lab::ostep::{
    OstepLinear, OstepMultilevel, parse_linear, parse_multilevel, render_linear_problem,
    render_multilevel_problem,
};
use pagelab::lab::ostep_import::{linear_lab, multilevel_lab};
use pagelab::sim::mmu::Outcome;
use pagelab::sim::{Access, FaultKind, Mode, Translation};
use proptest::prelude::*;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ostep/");

/// What a solved file says about one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    Translated {
        pa: u64,
        value: Option<u8>,
    },
    /// The walk stopped at the page directory entry (multilevel) or the only entry (linear).
    FirstEntryInvalid,
    /// The walk read the directory entry, then found the page table entry invalid.
    SecondEntryInvalid,
}

fn fixtures(prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .expect("fixture directory exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with("_problem.txt"))
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no {prefix}*_problem.txt fixtures in {FIXTURES}");
    found
}

fn solved_path(problem: &Path) -> PathBuf {
    let name = problem.file_name().and_then(|n| n.to_str()).expect("utf-8 name");
    problem.with_file_name(name.replace("_problem.txt", "_solved.txt"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn hex(text: &str) -> u64 {
    let digits = text.trim().trim_start_matches("0x");
    u64::from_str_radix(digits, 16).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// Reads `Virtual Address 0x6c74:` blocks of `paging-multilevel-translate.py -c` output.
fn multilevel_answers(solved: &str) -> Vec<(u64, Expected)> {
    let mut answers: Vec<(u64, Option<Expected>)> = Vec::new();
    for line in solved.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Virtual Address ") {
            answers.push((hex(rest.trim_end_matches(':')), None));
            continue;
        }
        let Some((_, current)) = answers.last_mut() else {
            continue;
        };
        if let Some(rest) = line.strip_prefix("--> Translates to Physical Address ") {
            let (pa, value) = rest.split_once(" --> Value: ").expect("value after the address");
            *current = Some(Expected::Translated { pa: hex(pa), value: Some(hex(value) as u8) });
        } else if line == "--> Fault (page directory entry not valid)" {
            *current = Some(Expected::FirstEntryInvalid);
        } else if line == "--> Fault (page table entry not valid)" {
            *current = Some(Expected::SecondEntryInvalid);
        }
    }
    answers.into_iter().map(|(va, e)| (va, e.unwrap_or_else(|| panic!("no answer for {va:#x}")))).collect()
}

/// Reads `VA 0x00001cc4 (decimal: 7364) --> ...` lines of `paging-linear-translate.py -c` output.
fn linear_answers(solved: &str) -> Vec<(u64, Expected)> {
    solved
        .lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("VA "))
        .map(|rest| {
            let (va, answer) = rest.split_once("-->").expect("an answer after -->");
            let va = hex(va.split_whitespace().next().expect("the address"));
            let answer = answer.trim();
            let expected = if answer.starts_with("Invalid") {
                Expected::FirstEntryInvalid
            } else {
                Expected::Translated { pa: hex(answer.split_whitespace().next().expect("pa")), value: None }
            };
            (va, expected)
        })
        .collect()
}

/// Checks one walk against what the simulator answered.
fn check_walk(context: &str, t: &Translation, expected: Expected) {
    match (expected, &t.outcome) {
        (Expected::Translated { pa, value }, Outcome::Mapped(m)) => {
            assert_eq!(m.pa, PhysAddr::new(pa), "{context}: physical address");
            if let Some(value) = value {
                assert_eq!(m.value, Some(value), "{context}: value at {pa:#x}");
            }
        }
        (Expected::FirstEntryInvalid | Expected::SecondEntryInvalid, Outcome::Fault(f)) => {
            let steps = if expected == Expected::FirstEntryInvalid { 1 } else { 2 };
            assert_eq!(f.kind, FaultKind::NotPresent, "{context}: {f}");
            assert_eq!(t.steps.len(), steps, "{context}: entries read before the fault");
            assert_eq!(f.level, Some(steps - 1), "{context}: level of the invalid entry");
        }
        (expected, outcome) => panic!("{context}: expected {expected:?}, got {outcome:?}"),
    }
}

fn walk(lab: &Lab, va: u64) -> Translation {
    lab.machine.translate(0, VirtAddr::new(va), Access::Read, Mode::User).expect("process 0 exists")
}

#[test]
fn every_multilevel_fixture_translates_as_its_solved_file_says() {
    for problem_path in fixtures("multilevel_") {
        let problem = parse_multilevel(&read(&problem_path)).expect("problem parses");
        let lab = multilevel_lab(&problem).expect("problem imports");
        let answers = multilevel_answers(&read(&solved_path(&problem_path)));
        assert_eq!(answers.len(), problem.addresses.len(), "{}", problem_path.display());
        assert_eq!(answers.iter().map(|a| a.0).collect::<Vec<_>>(), problem.addresses);
        for (va, expected) in answers {
            let context = format!("{} {va:#06x}", problem_path.display());
            check_walk(&context, &walk(&lab, va), expected);
        }
    }
}

#[test]
fn every_linear_fixture_translates_as_its_solved_file_says() {
    for problem_path in fixtures("linear_") {
        let problem = parse_linear(&read(&problem_path)).expect("problem parses");
        let lab = linear_lab(&problem).expect("problem imports");
        let answers = linear_answers(&read(&solved_path(&problem_path)));
        assert_eq!(answers.len(), problem.addresses.len(), "{}", problem_path.display());
        assert_eq!(answers.iter().map(|a| a.0).collect::<Vec<_>>(), problem.addresses);
        for (va, expected) in answers {
            let context = format!("{} {va:#06x}", problem_path.display());
            check_walk(&context, &walk(&lab, va), expected);
        }
    }
}

fn pagelab(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_pagelab")).args(args).output().expect("pagelab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pagelab {args:?} failed: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    out
}

fn byte_at(problem: &OstepMultilevel, addr: u64) -> u64 {
    let (frame, offset) = (addr / 32, (addr % 32) as usize);
    problem.pages.iter().find(|(f, _)| *f == frame).map_or(0, |(_, bytes)| u64::from(bytes[offset]))
}

#[test]
fn cli_import_then_translate_json_matches_the_solved_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    for problem_path in fixtures("multilevel_") {
        let lab_path = dir.path().join("lab.json");
        let problem = parse_multilevel(&read(&problem_path)).expect("problem parses");
        let answers = multilevel_answers(&read(&solved_path(&problem_path)));
        let file = problem_path.to_str().expect("utf-8 path");
        let lab = lab_path.to_str().expect("utf-8 path");
        pagelab(&["import", "ostep-multilevel", file, "-o", lab]);
        let mut args = vec!["translate", lab, "--json"];
        let addrs: Vec<String> = answers.iter().map(|(va, _)| format!("{va:#x}")).collect();
        args.extend(addrs.iter().map(String::as_str));
        let out = pagelab(&args);
        let json: Value = serde_json::from_slice(&out.stdout).expect("translate --json prints JSON");
        let walks = json.as_array().expect("an array, one object per address");
        assert_eq!(walks.len(), answers.len());
        for (w, &(va, expected)) in walks.iter().zip(&answers) {
            let context = format!("{} {va:#06x}: {w}", problem_path.display());
            assert_eq!(w["va"], va, "{context}");
            let steps = w["steps"].as_array().expect("steps");
            // OSTEP README: "the upper five bits of a virtual address are used to index into a
            // page directory"; the next five index the page of the page table.
            let pde_index = (va >> 10) & 0x1f;
            let pde_addr = problem.pdbr * 32 + pde_index;
            let pde = byte_at(&problem, pde_addr);
            assert_eq!(steps[0]["index"], pde_index, "{context}");
            assert_eq!(steps[0]["entry_addr"], pde_addr, "{context}");
            assert_eq!(steps[0]["raw"], pde, "{context}");
            if steps.len() > 1 {
                let pte_index = (va >> 5) & 0x1f;
                let pte_addr = (pde & 0x7f) * 32 + pte_index;
                assert_eq!(steps[1]["index"], pte_index, "{context}");
                assert_eq!(steps[1]["entry_addr"], pte_addr, "{context}");
                assert_eq!(steps[1]["raw"], byte_at(&problem, pte_addr), "{context}");
            }
            match expected {
                Expected::Translated { pa, value } => {
                    assert_eq!(w["outcome"], "ok", "{context}");
                    assert_eq!(w["pa"], pa, "{context}");
                    assert_eq!(
                        w["value"],
                        u64::from(value.expect("multilevel answers give a value")),
                        "{context}"
                    );
                    assert_eq!(steps.len(), 2, "{context}");
                    assert!(w.get("fault").is_none(), "{context}");
                }
                Expected::FirstEntryInvalid | Expected::SecondEntryInvalid => {
                    let n = if expected == Expected::FirstEntryInvalid { 1 } else { 2 };
                    assert_eq!(w["outcome"], "fault", "{context}");
                    assert_eq!(steps.len(), n, "{context}");
                    assert_eq!(w["fault"]["kind"], "not-present", "{context}");
                    assert_eq!(w["fault"]["level"], n - 1, "{context}");
                    assert!(w.get("pa").is_none(), "{context}");
                }
            }
        }
    }
}

#[test]
fn cli_import_of_a_linear_fixture_translates_like_its_solved_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let problem_path = &fixtures("linear_")[0];
    let lab = dir.path().join("linear.json");
    let lab = lab.to_str().expect("utf-8 path");
    pagelab(&["import", "ostep-linear", problem_path.to_str().expect("utf-8 path"), "-o", lab]);
    let answers = linear_answers(&read(&solved_path(problem_path)));
    let mut args = vec!["translate", lab, "--json"];
    let addrs: Vec<String> = answers.iter().map(|(va, _)| va.to_string()).collect();
    args.extend(addrs.iter().map(String::as_str));
    let json: Value = serde_json::from_slice(&pagelab(&args).stdout).expect("JSON");
    for (w, &(va, expected)) in json.as_array().expect("array").iter().zip(&answers) {
        assert_eq!(w["va"], va);
        assert_eq!(w["steps"].as_array().map(Vec::len), Some(1), "{w}");
        match expected {
            Expected::Translated { pa, .. } => {
                assert_eq!(w["outcome"], "ok", "{w}");
                assert_eq!(w["pa"], pa, "{w}");
            }
            _ => {
                assert_eq!(w["outcome"], "fault", "{w}");
                assert_eq!(w["fault"]["kind"], "not-present", "{w}");
            }
        }
    }
}

// ---------------------------------------------------------------- any seed and size

/// The multi-level walk as the OSTEP README states it: "Use the PDBR to find the relevant page
/// table entries for this virtual page. Then find if it is valid. If so, use the translation to
/// form a final physical address. Using this address, you can find the VALUE". PTE/PDE format:
/// "VALID | PFN6 ... PFN0"; 32-byte pages; 5 offset bits, 5 PTE index bits, 5 PDE index bits.
fn reference_multilevel(memory: &[u8], pdbr: u64, va: u64) -> Expected {
    let byte = |addr: u64| memory[addr as usize];
    let pde = byte(pdbr * 32 + ((va >> 10) & 0x1f));
    if pde & 0x80 == 0 {
        return Expected::FirstEntryInvalid;
    }
    let pte = byte(u64::from(pde & 0x7f) * 32 + ((va >> 5) & 0x1f));
    if pte & 0x80 == 0 {
        return Expected::SecondEntryInvalid;
    }
    let pa = u64::from(pte & 0x7f) * 32 + (va & 0x1f);
    Expected::Translated { pa, value: Some(byte(pa)) }
}

/// The linear walk as the OSTEP README states it: "the left-most (high-order) bit is the valid
/// bit; the remaining bits, if valid is 1, is the PFN", and the physical address is "the physical
/// page ... shifted into the proper spot OR the offset".
fn reference_linear(entries: &[u32], page_size: u64, va: u64) -> Expected {
    let entry = entries[(va / page_size) as usize];
    if entry & 0x8000_0000 == 0 {
        return Expected::FirstEntryInvalid;
    }
    let pfn = u64::from(entry & 0x7fff_ffff);
    Expected::Translated { pa: pfn * page_size + va % page_size, value: None }
}

/// Random memory as the simulator would dump it: 128 pages of 32 bytes; the directory and the
/// table pages hold a mix of valid entries (any PFN) and invalid ones (0x7f or anything below 0x80).
fn multilevel_problem() -> impl Strategy<Value = OstepMultilevel> {
    let entry = prop_oneof![
        3 => Just(0x7fu8),
        2 => 0x80u8..=0xff,
        1 => 0u8..0x80,
    ];
    let page = prop_oneof![proptest::collection::vec(any::<u8>(), 32), proptest::collection::vec(entry, 32),];
    (
        proptest::collection::vec(page, 128),
        0u64..128,
        proptest::collection::vec(0u64..(1 << 15), 0..24),
        proptest::option::of(0u64..1000),
    )
        .prop_map(|(pages, pdbr, addresses, seed)| OstepMultilevel {
            seed,
            page_size: 32,
            va_bits: 15,
            phys_pages: 128,
            pages: pages.into_iter().enumerate().map(|(frame, bytes)| (frame as u64, bytes)).collect(),
            pdbr,
            addresses,
            answers: None,
        })
}

/// Sizes as the simulator accepts them: powers of two, the page smaller than the address space,
/// the address space no larger than physical memory; valid entries name a physical page.
fn linear_problem() -> impl Strategy<Value = OstepLinear> {
    (1u32..=14, 1u32..=10, 0u32..=6, 0u32..=100)
        .prop_flat_map(|(page_shift, vpn_bits, extra_pa_bits, used)| {
            let va_bits = page_shift + vpn_bits;
            let pa_bits = va_bits + extra_pa_bits;
            let phys_pages = 1u32 << (pa_bits - page_shift);
            let entry = (0u32..100, 0..phys_pages)
                .prop_map(move |(roll, pfn)| if roll < used { 0x8000_0000 | pfn } else { 0 });
            (
                Just((page_shift, va_bits, pa_bits)),
                proptest::collection::vec(entry, 1usize << vpn_bits),
                proptest::collection::vec(0u64..(1 << va_bits), 0..24),
                proptest::option::of(0u64..1000),
            )
        })
        .prop_map(|((page_shift, va_bits, pa_bits), entries, addresses, seed)| OstepLinear {
            seed,
            address_space: 1 << va_bits,
            phys_mem: 1 << pa_bits,
            page_size: 1 << page_shift,
            entries,
            addresses,
            answers: None,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_multilevel_problem_translates_as_the_readme_says(problem in multilevel_problem()) {
        let text = render_multilevel_problem(&problem);
        let parsed = parse_multilevel(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let lab = multilevel_lab(&parsed).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let memory: Vec<u8> = problem.pages.iter().flat_map(|(_, bytes)| bytes.iter().copied()).collect();
        for &va in &problem.addresses {
            let expected = reference_multilevel(&memory, problem.pdbr, va);
            check_walk(&format!("{va:#06x}"), &walk(&lab, va), expected);
        }
    }

    #[test]
    fn any_linear_problem_translates_as_the_readme_says(problem in linear_problem()) {
        let text = render_linear_problem(&problem);
        let parsed = parse_linear(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let lab = linear_lab(&parsed).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for &va in &problem.addresses {
            let expected = reference_linear(&problem.entries, problem.page_size, va);
            check_walk(&format!("{va:#x}"), &walk(&lab, va), expected);
        }
    }
}

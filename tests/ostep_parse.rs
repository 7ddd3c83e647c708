//! The OSTEP importers against the real simulator outputs in tests/data/ostep: every file
//! parses, problem and solved files agree, the solved answers match a decode of the bytes done
//! here by hand, rendering reproduces the files byte for byte, and broken input gives errors with
//! line numbers instead of panics.

use std::path::PathBuf;

use pagelab::lab::ostep::{
    LinearAnswer, MultilevelAnswer, MultilevelOutcome, OstepError, OstepKind, OstepLinear, OstepMultilevel,
    detect, parse, parse_linear, parse_multilevel, render_linear_problem, render_linear_solved,
    render_multilevel_problem, render_multilevel_solved,
};
use proptest::prelude::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ostep/");
const MULTILEVEL_SEEDS: [u32; 3] = [1, 2, 3];
const LINEAR_SEEDS: [u32; 2] = [1, 2];

fn fixture(name: &str) -> String {
    let path = PathBuf::from(FIXTURES).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn multilevel(seed: u32, kind: &str) -> (String, OstepMultilevel) {
    let text = fixture(&format!("multilevel_s{seed}_n5_{kind}.txt"));
    let parsed = parse_multilevel(&text).unwrap_or_else(|error| panic!("seed {seed} {kind}: {error}"));
    (text, parsed)
}

fn linear(seed: u32, kind: &str) -> (String, OstepLinear) {
    let text = fixture(&format!("linear_s{seed}_default_{kind}.txt"));
    let parsed = parse_linear(&text).unwrap_or_else(|error| panic!("seed {seed} {kind}: {error}"));
    (text, parsed)
}

// ---------------------------------------------------------------- every fixture file

#[test]
fn every_fixture_file_is_detected_and_parsed_or_refused_by_kind() {
    let mut seen = 0;
    for entry in std::fs::read_dir(FIXTURES).expect("fixture directory") {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if !name.ends_with(".txt") {
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(&path).expect("fixture text");
        let expected_kind = if name.starts_with("multilevel_") {
            Some(OstepKind::Multilevel)
        } else if name.starts_with("linear_") {
            Some(OstepKind::Linear)
        } else {
            // The page replacement simulator prints no page table.
            None
        };
        assert_eq!(detect(&text), expected_kind, "{name}");
        match expected_kind {
            Some(_) => assert!(parse(&text).is_ok(), "{name}: {:?}", parse(&text)),
            None => assert_eq!(parse(&text), Err(OstepError::Unrecognized { line: 1 }), "{name}"),
        }
        // The wrong parser refuses without panicking.
        match expected_kind {
            Some(OstepKind::Multilevel) => assert!(parse_linear(&text).is_err(), "{name}"),
            Some(OstepKind::Linear) => assert!(parse_multilevel(&text).is_err(), "{name}"),
            None => {
                assert!(parse_linear(&text).is_err(), "{name}");
                assert!(parse_multilevel(&text).is_err(), "{name}");
            }
        }
    }
    assert_eq!(seen, 14, "fixture files");
}

#[test]
fn multilevel_fixtures_have_the_simulator_machine() {
    let expected_pdbr = [(1, 17), (2, 122), (3, 30)];
    for (seed, pdbr) in expected_pdbr {
        for kind in ["problem", "solved"] {
            let (_, parsed) = multilevel(seed, kind);
            assert_eq!(parsed.seed, Some(u64::from(seed)));
            assert_eq!((parsed.page_size, parsed.va_bits, parsed.phys_pages), (32, 15, 128));
            assert_eq!(parsed.pdbr, pdbr);
            let frames: Vec<u64> = parsed.pages.iter().map(|(frame, _)| *frame).collect();
            assert_eq!(frames, (0..128).collect::<Vec<_>>());
            assert!(parsed.pages.iter().all(|(_, bytes)| bytes.len() == 32));
            assert_eq!(parsed.addresses.len(), 5);
            assert_eq!(parsed.answers.is_some(), kind == "solved");
        }
    }
    let (_, first) = multilevel(1, "problem");
    assert_eq!(first.addresses, vec![0x6c74, 0x6b22, 0x03df, 0x69dc, 0x317a]);
    assert_eq!(first.pages.first().map(|(_, bytes)| bytes.get(6).copied()), Some(Some(0xb2)));
}

#[test]
fn linear_fixtures_have_the_default_sizes() {
    for seed in LINEAR_SEEDS {
        for kind in ["problem", "solved"] {
            let (_, parsed) = linear(seed, kind);
            assert_eq!(parsed.seed, Some(u64::from(seed)));
            assert_eq!(
                (parsed.address_space, parsed.phys_mem, parsed.page_size),
                (16 << 10, 64 << 10, 4 << 10)
            );
            assert_eq!(parsed.entries.len(), 4);
            assert_eq!(parsed.addresses.len(), 5);
            assert_eq!(parsed.answers.is_some(), kind == "solved");
        }
    }
    let (_, first) = linear(1, "problem");
    assert_eq!(first.entries, vec![0, 0x8000_000c, 0, 0]);
    assert_eq!(first.addresses, vec![0x1cc4, 0x29b3, 0x327a, 0x0601, 0x01d0]);
}

// ---------------------------------------------------------------- problem and solved agree

#[test]
fn multilevel_problem_and_solved_agree() {
    for seed in MULTILEVEL_SEEDS {
        let (_, problem) = multilevel(seed, "problem");
        let (_, solved) = multilevel(seed, "solved");
        assert_eq!(OstepMultilevel { answers: None, ..solved.clone() }, problem, "seed {seed}");
        assert_eq!(solved.answers.as_ref().map(Vec::len), Some(problem.addresses.len()));
    }
}

#[test]
fn linear_problem_and_solved_agree() {
    for seed in LINEAR_SEEDS {
        let (_, problem) = linear(seed, "problem");
        let (_, solved) = linear(seed, "solved");
        assert_eq!(OstepLinear { answers: None, ..solved.clone() }, problem, "seed {seed}");
        assert_eq!(solved.answers.as_ref().map(Vec::len), Some(problem.addresses.len()));
    }
}

// ---------------------------------------------------------------- answers against a hand decode

/// The byte at a physical address of the dump, looked up without the library's help.
fn byte_at(memory: &OstepMultilevel, physical: u64) -> u8 {
    let (frame, offset) = (physical / 32, physical % 32);
    let (_, bytes) =
        memory.pages.iter().find(|(f, _)| *f == frame).unwrap_or_else(|| panic!("frame {frame} missing"));
    bytes[usize::try_from(offset).expect("offset")]
}

/// The walk of OSTEP chapter 20, written out: PDE at pdbr*32 + VA[14:10], PTE at pfn*32 + VA[9:5].
fn hand_walk(memory: &OstepMultilevel, va: u64) -> MultilevelAnswer {
    use pagelab::lab::ostep::EntryRead;
    let pde_index = (va >> 10) & 0x1f;
    let pde = byte_at(memory, memory.pdbr * 32 + pde_index);
    let pde_read = EntryRead { index: pde_index, contents: pde };
    if pde >> 7 == 0 {
        return MultilevelAnswer { pde: pde_read, outcome: MultilevelOutcome::PdeInvalid };
    }
    let pte_index = (va >> 5) & 0x1f;
    let pte = byte_at(memory, u64::from(pde & 0x7f) * 32 + pte_index);
    let pte_read = EntryRead { index: pte_index, contents: pte };
    if pte >> 7 == 0 {
        return MultilevelAnswer { pde: pde_read, outcome: MultilevelOutcome::PteInvalid { pte: pte_read } };
    }
    let pa = (u64::from(pte & 0x7f) << 5) | (va & 0x1f);
    MultilevelAnswer {
        pde: pde_read,
        outcome: MultilevelOutcome::Translated { pte: pte_read, pa, value: byte_at(memory, pa) },
    }
}

#[test]
fn multilevel_answers_match_a_hand_decode() {
    let mut outcomes = [0_usize; 3];
    for seed in MULTILEVEL_SEEDS {
        let (_, solved) = multilevel(seed, "solved");
        let answers = solved.answers.clone().expect("solved answers");
        for (&va, answer) in solved.addresses.iter().zip(&answers) {
            assert_eq!(*answer, hand_walk(&solved, va), "seed {seed} va {va:#x}");
            assert_eq!(answer.steps(), if answer.outcome == MultilevelOutcome::PdeInvalid { 1 } else { 2 });
            assert_eq!(answer.pde.valid(), answer.pde.contents >= 0x80);
            let slot = match answer.outcome {
                MultilevelOutcome::Translated { .. } => 0,
                MultilevelOutcome::PteInvalid { .. } => 1,
                MultilevelOutcome::PdeInvalid => 2,
            };
            outcomes[slot] += 1;
        }
    }
    // The fixtures hold translations and PTE faults (no PDE fault happens with these seeds).
    assert_eq!(outcomes, [11, 4, 0]);
}

#[test]
fn linear_answers_match_a_hand_decode() {
    let mut outcomes = [0_usize; 2];
    for seed in LINEAR_SEEDS {
        let (_, solved) = linear(seed, "solved");
        let answers = solved.answers.clone().expect("solved answers");
        for (&va, answer) in solved.addresses.iter().zip(&answers) {
            let vpn = va / solved.page_size;
            let entry = solved.entries[usize::try_from(vpn).expect("vpn")];
            let expected = if entry >> 31 == 1 {
                let pfn = u64::from(entry & 0x7fff_ffff);
                outcomes[0] += 1;
                LinearAnswer::Translated { vpn, pa: pfn * solved.page_size + va % solved.page_size }
            } else {
                outcomes[1] += 1;
                LinearAnswer::Invalid { vpn }
            };
            assert_eq!(*answer, expected, "seed {seed} va {va:#x}");
            assert_eq!(solved.vpn(va), vpn);
        }
    }
    assert_eq!(outcomes, [1, 9]);
}

// ---------------------------------------------------------------- rendering reproduces the files

#[test]
fn rendering_reproduces_the_fixtures_byte_for_byte() {
    for seed in MULTILEVEL_SEEDS {
        let (problem_text, problem) = multilevel(seed, "problem");
        assert_eq!(render_multilevel_problem(&problem), problem_text, "multilevel seed {seed}");
        let (solved_text, solved) = multilevel(seed, "solved");
        assert_eq!(render_multilevel_solved(&solved), Some(solved_text), "multilevel seed {seed}");
    }
    for seed in LINEAR_SEEDS {
        let (problem_text, problem) = linear(seed, "problem");
        assert_eq!(render_linear_problem(&problem), problem_text, "linear seed {seed}");
        let (solved_text, solved) = linear(seed, "solved");
        assert_eq!(render_linear_solved(&solved), Some(solved_text), "linear seed {seed}");
    }
}

#[test]
fn verbose_and_crlf_forms_read_the_same() {
    let (text, plain) = linear(1, "solved");
    let mut index = 0;
    let verbose: String = text
        .lines()
        .map(|line| {
            if line.starts_with("  0x") {
                index += 1;
                format!("  [{:8}]  {}\r\n", index - 1, line.trim())
            } else {
                format!("{line}\r\n")
            }
        })
        .collect::<String>()
        .replace("ARG verbose False", "ARG verbose True");
    assert_eq!(parse_linear(&verbose), Ok(plain));
    let (text, parsed) = multilevel(2, "solved");
    assert_eq!(parse_multilevel(&text.replace('\n', "\r\n")), Ok(parsed));
}

// ---------------------------------------------------------------- malformed input

fn error_line(result: Result<impl std::fmt::Debug, OstepError>) -> usize {
    match result {
        Ok(value) => panic!("accepted: {value:?}"),
        Err(error) => {
            assert!(error.to_string().starts_with(&format!("line {}: ", error.line())));
            error.line()
        }
    }
}

/// Replaces the 1-based line `number` of `text`.
fn with_line(text: &str, number: usize, replacement: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(index, line)| if index + 1 == number { replacement } else { line })
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn multilevel_errors_name_the_line() {
    let (text, _) = multilevel(1, "solved");
    // Line 5 is `page   0:...`.
    let truncated = with_line(&text, 5, "page   0:7f7f7f7f7f7fb27f7f7f");
    assert_eq!(error_line(parse_multilevel(&truncated)), 5);
    let bad_hex = with_line(&text, 6, &format!("page   1:{}", "zz".repeat(32)));
    assert_eq!(error_line(parse_multilevel(&bad_hex)), 6);
    let duplicate = with_line(&text, 6, &format!("page   0:{}", "00".repeat(32)));
    assert!(matches!(parse_multilevel(&duplicate), Err(OstepError::Duplicate { line: 6, .. })));
    let beyond = with_line(&text, 6, &format!("page 128:{}", "00".repeat(32)));
    assert!(matches!(parse_multilevel(&beyond), Err(OstepError::OutOfRange { line: 6, .. })));
    // Line 134 is the PDBR line; without it the first address is where it was expected.
    let no_pdbr = with_line(&text, 134, "");
    let error = parse_multilevel(&no_pdbr).expect_err("no PDBR");
    assert_eq!(error.line(), 136);
    assert!(error.to_string().contains("PDBR"), "{error}");
    let big_pdbr = with_line(&text, 134, "PDBR: 128  (decimal)");
    assert!(matches!(parse_multilevel(&big_pdbr), Err(OstepError::OutOfRange { line: 134, .. })));
    // Line 137 is the first PDE line, 138 its PTE line, 139 the outcome.
    let bad_pde = with_line(
        &text,
        137,
        "  --> pde index:0x1b [decimal 27] pde contents:0xa0 (valid 0, pfn 0x20 [decimal 32])",
    );
    assert!(matches!(parse_multilevel(&bad_pde), Err(OstepError::Mismatch { line: 137, .. })));
    let pde_fault_after_pte = with_line(&text, 139, "      --> Fault (page directory entry not valid)");
    assert_eq!(error_line(parse_multilevel(&pde_fault_after_pte)), 139);
    let garbage_outcome =
        with_line(&text, 139, "      --> Translates to Physical Address 0xc34 --> Value: 0x100");
    assert!(matches!(parse_multilevel(&garbage_outcome), Err(OstepError::OutOfRange { line: 139, .. })));
    let big_address = with_line(&text, 136, "Virtual Address 0x8000:");
    assert!(matches!(parse_multilevel(&big_address), Err(OstepError::OutOfRange { line: 136, .. })));
    // Cut after the first answer block: ARG num (line 3) no longer matches.
    let cut: String = text.lines().take(139).map(|line| format!("{line}\n")).collect();
    assert!(matches!(parse_multilevel(&cut), Err(OstepError::Mismatch { line: 3, .. })));
    // Cut inside a block: the missing line is expected at the end of the input.
    let cut: String = text.lines().take(137).map(|line| format!("{line}\n")).collect();
    assert_eq!(error_line(parse_multilevel(&cut)), 138);
}

#[test]
fn linear_errors_name_the_line() {
    let (text, _) = linear(1, "solved");
    let odd_size = with_line(&text, 2, "ARG address space size 12k");
    assert!(matches!(parse_linear(&odd_size), Err(OstepError::NotPowerOfTwo { line: 2, value: 12288, .. })));
    let bad_size = with_line(&text, 4, "ARG page size 4q");
    assert_eq!(error_line(parse_linear(&bad_size)), 4);
    let no_size = with_line(&text, 3, "");
    assert_eq!(error_line(parse_linear(&no_size)), 16);
    // Lines 17-20 are the table, 23-27 the trace.
    let bad_entry = with_line(&text, 18, "  0x8000000g");
    assert_eq!(error_line(parse_linear(&bad_entry)), 18);
    let wide_entry = with_line(&text, 18, "  0x180000000");
    assert!(matches!(parse_linear(&wide_entry), Err(OstepError::OutOfRange { line: 18, .. })));
    let missing_entry = with_line(&text, 20, "");
    assert!(matches!(parse_linear(&missing_entry), Err(OstepError::Mismatch { line: 22, .. })));
    let bad_answer = with_line(&text, 24, "  VA 0x000029b3 (decimal:    10675) -->  maybe");
    assert_eq!(error_line(parse_linear(&bad_answer)), 24);
    let question = with_line(&text, 24, "  VA 0x000029b3 (decimal:    10675) --> PA or invalid address?");
    assert_eq!(error_line(parse_linear(&question)), 24);
    let bad_decimal =
        with_line(&text, 23, "  VA 0x00001cc4 (decimal:     7364) --> 0000ccc4 (decimal    52421) [VPN 1]");
    assert!(matches!(parse_linear(&bad_decimal), Err(OstepError::Mismatch { line: 23, .. })));
    let trailing = format!("{text}Traceback (most recent call last):\n");
    assert_eq!(error_line(parse_linear(&trailing)), 29);
}

#[test]
fn empty_and_blank_inputs_are_refused_at_their_end() {
    assert_eq!(error_line(parse_multilevel("")), 1);
    assert_eq!(error_line(parse_linear("")), 1);
    assert_eq!(error_line(parse_multilevel("\n\n")), 3);
    assert_eq!(parse(""), Err(OstepError::Unrecognized { line: 1 }));
}

#[test]
fn every_prefix_of_every_fixture_is_handled_without_panicking() {
    for name in [
        "multilevel_s1_n5_problem.txt",
        "multilevel_s3_n5_solved.txt",
        "linear_s2_default_problem.txt",
        "linear_s1_default_solved.txt",
    ] {
        let text = fixture(name);
        let line_count = text.lines().count();
        // Every cut from the PDBR line on (and in all of a linear file), every line end, and a
        // sample inside the memory dump, whose every cut would cost the debug build tens of seconds
        // for no new paths.
        let answers_start = text.find("PDBR:").unwrap_or(0);
        let cuts = (0..=text.len()).filter(|&cut| {
            cut >= answers_start || cut % 97 == 0 || text.as_bytes().get(cut.wrapping_sub(1)) == Some(&b'\n')
        });
        for cut in cuts.filter(|&cut| text.is_char_boundary(cut)) {
            let prefix = &text[..cut];
            let at_line_end = prefix.is_empty() || prefix.ends_with('\n');
            let results = [
                parse_multilevel(prefix).map(|_| ()),
                parse_linear(prefix).map(|_| ()),
                // detect() then one of the above: checked where a line ends to save time.
                if at_line_end { parse(prefix).map(|_| ()) } else { Ok(()) },
            ];
            for result in results {
                if let Err(error) = result {
                    assert!((1..=line_count + 1).contains(&error.line()), "{name} cut {cut}: {error}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------- properties

fn any_multilevel() -> impl Strategy<Value = OstepMultilevel> {
    (
        proptest::option::of(any::<u64>()),
        proptest::collection::btree_map(0_u64..128, proptest::collection::vec(any::<u8>(), 32), 1..20),
        0_u64..128,
        proptest::collection::vec(0_u64..(1 << 15), 0..12),
    )
        .prop_map(|(seed, pages, pdbr, addresses)| OstepMultilevel {
            seed,
            page_size: 32,
            va_bits: 15,
            phys_pages: 128,
            pages: pages.into_iter().collect(),
            pdbr,
            addresses,
            answers: None,
        })
}

fn any_linear() -> impl Strategy<Value = OstepLinear> {
    (proptest::option::of(any::<u64>()), 0_u32..6, 0_u32..4, 4_u32..20)
        .prop_flat_map(|(seed, table_bits, extra_phys_bits, page_bits)| {
            let page_size = 1_u64 << page_bits;
            let address_space = page_size << table_bits;
            let phys_mem = address_space << extra_phys_bits;
            let entries = 1_usize << table_bits;
            (
                Just((seed, address_space, phys_mem, page_size)),
                proptest::collection::vec(any::<u32>(), entries),
                proptest::collection::vec(0..address_space * 2, 0..8),
            )
        })
        .prop_map(|((seed, address_space, phys_mem, page_size), entries, addresses)| OstepLinear {
            seed,
            address_space,
            phys_mem,
            page_size,
            entries,
            addresses,
            answers: None,
        })
}

/// Answers as the simulator would give them (plus out-of-bounds for addresses past the end).
fn solve_linear(problem: &OstepLinear) -> Vec<LinearAnswer> {
    problem
        .addresses
        .iter()
        .map(|&va| {
            let vpn = va / problem.page_size;
            match usize::try_from(vpn).ok().and_then(|vpn| problem.entries.get(vpn)) {
                None => LinearAnswer::OutOfBounds,
                Some(entry) if entry >> 31 == 1 => LinearAnswer::Translated {
                    vpn,
                    pa: u64::from(entry & 0x7fff_ffff) * problem.page_size + va % problem.page_size,
                },
                Some(_) => LinearAnswer::Invalid { vpn },
            }
        })
        .collect()
}

/// Answers by the hand walk, with missing frames read as zero bytes.
fn solve_multilevel(problem: &OstepMultilevel) -> Vec<MultilevelAnswer> {
    let mut full = problem.clone();
    full.pages = (0..128)
        .map(|frame| {
            let bytes = problem
                .pages
                .iter()
                .find(|(f, _)| *f == frame)
                .map_or_else(|| vec![0; 32], |(_, b)| b.clone());
            (frame, bytes)
        })
        .collect();
    problem.addresses.iter().map(|&va| hand_walk(&full, va)).collect()
}

proptest! {
    #[test]
    fn multilevel_render_then_parse_is_identity(problem in any_multilevel()) {
        prop_assert_eq!(parse_multilevel(&render_multilevel_problem(&problem)), Ok(problem.clone()));
        // Without addresses a solved file looks like a problem file, so answers read back as None.
        let answers = Some(solve_multilevel(&problem)).filter(|answers| !answers.is_empty());
        let solved = OstepMultilevel { answers, ..problem };
        match render_multilevel_solved(&solved) {
            Some(text) => {
                prop_assert_eq!(detect(&text), Some(OstepKind::Multilevel));
                prop_assert_eq!(parse_multilevel(&text), Ok(solved));
            }
            None => prop_assert!(solved.addresses.is_empty()),
        }
    }

    #[test]
    fn linear_render_then_parse_is_identity(problem in any_linear()) {
        prop_assert_eq!(parse_linear(&render_linear_problem(&problem)), Ok(problem.clone()));
        let answers = Some(solve_linear(&problem)).filter(|answers| !answers.is_empty());
        let solved = OstepLinear { answers, ..problem };
        match render_linear_solved(&solved) {
            Some(text) => {
                prop_assert_eq!(detect(&text), Some(OstepKind::Linear));
                prop_assert_eq!(parse_linear(&text), Ok(solved));
            }
            None => prop_assert!(solved.addresses.is_empty()),
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let text = String::from_utf8_lossy(&bytes);
        let line_count = text.lines().count();
        for result in [parse_multilevel(&text).map(|_| ()), parse_linear(&text).map(|_| ()), parse(&text).map(|_| ())] {
            if let Err(error) = result {
                prop_assert!((1..=line_count + 1).contains(&error.line()));
            }
        }
    }

    #[test]
    fn fixture_lines_with_random_edits_never_panic(
        seed in 1_u32..4,
        line in 1_usize..150,
        replacement in "[ -~]{0,80}",
    ) {
        let (text, _) = multilevel(seed, "solved");
        let edited = with_line(&text, line, &replacement);
        if let Err(error) = parse_multilevel(&edited) {
            prop_assert!(error.line() <= text.lines().count() + 1);
        }
        let (text, _) = linear(1 + seed % 2, "solved");
        let edited = with_line(&text, line % 30, &replacement);
        if let Err(error) = parse_linear(&edited) {
            prop_assert!(error.line() <= text.lines().count() + 1);
        }
    }
}

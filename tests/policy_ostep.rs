//! Page replacement against OSTEP's `paging-policy.py` outputs, hand-worked clock and random runs,
//! invariants by proptest, and the `pagelab policy` command.

use std::path::{Path, PathBuf};

use clap::Parser;
use pagelab::cli::policy::{PolicyArgs, PolicyChoice, run};
use pagelab::sim::replace::{
    Policy, Reference, ReplaceError, Replacer, Run, SplitMix64, fault_curve, reads, simulate, simulate_seeded,
};
use proptest::prelude::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ostep/");
const BELADY: [u64; 12] = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];

// ---------------------------------------------------------------------------------------------
// OSTEP fixtures

/// One `Access:` line of a solved `paging-policy.py` output.
#[derive(Debug)]
struct ExpectedAccess {
    page: u64,
    hit: bool,
    replaced: Option<u64>,
    frames: Vec<u64>,
    hits: u64,
    misses: u64,
}

/// A solved `paging-policy.py` output: its settings, every access and the final totals.
#[derive(Debug)]
struct Fixture {
    policy: Policy,
    cache_size: usize,
    accesses: Vec<ExpectedAccess>,
    final_hits: u64,
    final_misses: u64,
}

fn field_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let (_, rest) = line.split_once(key)?;
    rest.split(|c: char| c.is_whitespace() || c == ']').find(|word| !word.is_empty())
}

fn parse_access(line: &str) -> Option<ExpectedAccess> {
    let rest = line.strip_prefix("Access:")?;
    let mut words = rest.split_whitespace();
    let page = words.next()?.parse().ok()?;
    let hit = match words.next()? {
        "HIT" => true,
        "MISS" => false,
        _ => return None,
    };
    let (_, after_open) = rest.split_once('[')?;
    let (inside, _) = after_open.split_once(']')?;
    let frames = inside
        .split(',')
        .map(str::trim)
        .filter(|word| !word.is_empty())
        .map(str::parse)
        .collect::<Result<Vec<u64>, _>>()
        .ok()?;
    let replaced = match field_after(rest, "Replaced:")? {
        "-" => None,
        number => Some(number.parse().ok()?),
    };
    Some(ExpectedAccess {
        page,
        hit,
        replaced,
        frames,
        hits: field_after(rest, "Hits:")?.parse().ok()?,
        misses: field_after(rest, "Misses:")?.parse().ok()?,
    })
}

fn parse_fixture(path: &Path) -> Fixture {
    let text = std::fs::read_to_string(path).expect("fixture is readable");
    let mut policy = None;
    let mut cache_size = None;
    let mut final_stats = None;
    let mut accesses = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("ARG policy ") {
            policy = Some(name.parse::<Policy>().expect("known policy"));
        } else if let Some(size) = line.strip_prefix("ARG cachesize ") {
            cache_size = Some(size.trim().parse::<usize>().expect("numeric cache size"));
        } else if line.starts_with("Access:") {
            accesses.push(parse_access(line).unwrap_or_else(|| panic!("bad access line {line:?}")));
        } else if line.starts_with("FINALSTATS") {
            let hits = field_after(line, "hits").and_then(|n| n.parse().ok());
            let misses = field_after(line, "misses").and_then(|n| n.parse().ok());
            final_stats = hits.zip(misses);
        }
    }
    let (final_hits, final_misses) = final_stats.expect("FINALSTATS line");
    Fixture {
        policy: policy.expect("ARG policy line"),
        cache_size: cache_size.expect("ARG cachesize line"),
        accesses,
        final_hits,
        final_misses,
    }
}

fn policy_fixture_paths() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .expect("fixture directory")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("policy_") && name.ends_with("_solved.txt"))
        })
        .collect();
    paths.sort();
    paths
}

#[test]
fn every_ostep_policy_fixture_matches_line_by_line() {
    let paths = policy_fixture_paths();
    assert!(paths.len() >= 4, "expected the policy fixtures, found {paths:?}");
    for path in paths {
        let name = path.display();
        let fixture = parse_fixture(&path);
        assert!(!fixture.accesses.is_empty(), "{name}: no accesses");
        // The string comes from the trace itself: seeded fixtures print `ARG addresses -1`.
        let pages: Vec<u64> = fixture.accesses.iter().map(|access| access.page).collect();
        let run = simulate(fixture.policy, fixture.cache_size, &reads(&pages)).expect("frames > 0");
        assert_eq!(run.steps.len(), fixture.accesses.len(), "{name}");
        let mut hits = 0;
        let mut misses = 0;
        for (index, (step, expected)) in run.steps.iter().zip(&fixture.accesses).enumerate() {
            let at = format!("{name}, access {} (page {})", index + 1, expected.page);
            assert_eq!(step.page, expected.page, "{at}");
            assert_eq!(step.outcome.hit, expected.hit, "{at}: hit/miss");
            assert_eq!(step.outcome.victim, expected.replaced, "{at}: replaced page");
            assert_eq!(step.outcome.frames_after, expected.frames, "{at}: frames");
            if step.outcome.hit {
                hits += 1;
            } else {
                misses += 1;
            }
            assert_eq!((hits, misses), (expected.hits, expected.misses), "{at}: counts");
        }
        assert_eq!(run.hits, fixture.final_hits, "{name}: final hits");
        assert_eq!(run.misses, fixture.final_misses, "{name}: final misses");
        assert_eq!(run.write_backs, 0, "{name}: reads only");
    }
}

#[test]
fn beladys_anomaly_shows_for_fifo_only() {
    let refs = reads(&BELADY);
    let fifo = fault_curve(Policy::Fifo, &refs, 5);
    assert_eq!(fifo.get(2), Some(&(3, 9)));
    assert_eq!(fifo.get(3), Some(&(4, 10)));
    for policy in [Policy::Lru, Policy::Opt] {
        let curve = fault_curve(policy, &refs, 6);
        assert!(curve.windows(2).all(|pair| pair[1].1 <= pair[0].1), "{policy}: {curve:?}");
    }
}

#[test]
fn opt_matches_the_ostep_chapter_example_and_its_tie_break() {
    // OSTEP ch. 22, figure 22.1: 6 hits, 5 misses with 3 frames.
    let pages = [0, 1, 2, 0, 1, 3, 0, 3, 1, 2, 1];
    let run = simulate(Policy::Opt, 3, &reads(&pages)).expect("frames > 0");
    assert_eq!((run.hits, run.misses), (6, 5));
    let victims: Vec<Option<u64>> = run.steps.iter().map(|step| step.outcome.victim).collect();
    // At the access to 3, page 2 is used furthest ahead. At the second access to 2, pages 0 and 3
    // are never used again; paging-policy.py keeps the last in load order as the victim: 3.
    assert_eq!(victims[5], Some(2));
    assert_eq!(victims[9], Some(3));
    assert_eq!(run.steps[9].outcome.frames_after, vec![0, 1, 2]);
}

// ---------------------------------------------------------------------------------------------
// Hand-worked clock, enhanced clock and random runs

fn use_bits(replacer: &Replacer) -> Vec<bool> {
    replacer.frames().iter().map(|frame| frame.used).collect()
}

#[test]
fn clock_gives_second_chances_and_clears_use_bits_as_the_hand_passes() {
    let mut clock = Replacer::new(Policy::Clock, 3, 0).expect("frames > 0");
    for page in [1, 2, 3] {
        assert!(!clock.access(page, false, &[]).hit);
    }
    assert_eq!(clock.hand(), Some(0));
    assert_eq!(use_bits(&clock), vec![true, true, true]);

    // Every bit is set: the hand clears all three, comes back to slot 0 and takes page 1.
    let outcome = clock.access(4, false, &[]);
    assert_eq!(outcome.victim, Some(1));
    assert_eq!(outcome.frames_after, vec![4, 2, 3]);
    assert_eq!(outcome.hand, Some(1));
    assert_eq!(use_bits(&clock), vec![true, false, false]);

    // A hit sets the use bit again and does not move the hand.
    let outcome = clock.access(2, false, &[]);
    assert!(outcome.hit);
    assert_eq!(outcome.hand, Some(1));
    assert_eq!(use_bits(&clock), vec![true, true, false]);

    // Page 2 gets its second chance (bit cleared, hand moves on); page 3 goes. FIFO would take 2.
    let outcome = clock.access(5, false, &[]);
    assert_eq!(outcome.victim, Some(3));
    assert_eq!(outcome.frames_after, vec![4, 2, 5]);
    assert_eq!(outcome.hand, Some(0));
    assert_eq!(use_bits(&clock), vec![true, false, true]);

    let fifo = simulate(Policy::Fifo, 3, &reads(&[1, 2, 3, 4, 2, 5])).expect("frames > 0");
    assert_eq!(fifo.steps[5].outcome.victim, Some(2));
}

#[test]
fn enhanced_clock_prefers_clean_unused_victims_and_counts_write_backs() {
    let mut clock = Replacer::new(Policy::EnhancedClock, 3, 0).expect("frames > 0");
    clock.access(1, true, &[]);
    clock.access(2, false, &[]);
    clock.access(3, true, &[]);
    let bits: Vec<(bool, bool)> = clock.frames().iter().map(|f| (f.used, f.dirty)).collect();
    assert_eq!(bits, vec![(true, true), (true, false), (true, true)]);

    // No (0,0) and no (0,1): the second pass clears every use bit, then page 2, now (0,0), goes.
    // Plain clock would have taken dirty page 1 and paid a write-back.
    let outcome = clock.access(4, false, &[]);
    assert_eq!(outcome.victim, Some(2));
    assert!(!outcome.victim_dirty);
    assert_eq!(outcome.frames_after, vec![1, 4, 3]);
    assert_eq!(outcome.hand, Some(2));
    let bits: Vec<(bool, bool)> = outcome.slots_after.iter().map(|f| (f.used, f.dirty)).collect();
    assert_eq!(bits, vec![(false, true), (true, false), (false, true)]);

    // From the hand at slot 2: page 3 is (0,1), which beats page 4's (1,0). It is dirty: write-back.
    let outcome = clock.access(5, false, &[]);
    assert_eq!(outcome.victim, Some(3));
    assert!(outcome.victim_dirty);
    assert_eq!(outcome.frames_after, vec![1, 4, 5]);
    assert_eq!(outcome.hand, Some(0));

    let refs = [
        Reference::write(1),
        Reference::read(2),
        Reference::write(3),
        Reference::read(4),
        Reference::read(5),
    ];
    let enhanced = simulate(Policy::EnhancedClock, 3, &refs).expect("frames > 0");
    assert_eq!((enhanced.misses, enhanced.write_backs), (5, 1));
    let plain = simulate(Policy::Clock, 3, &refs).expect("frames > 0");
    assert_eq!(plain.steps[3].outcome.victim, Some(1));
    assert_eq!(plain.write_backs, 1);
    assert!(plain.steps[3].outcome.victim_dirty);
}

fn victims(run: &Run) -> Vec<Option<u64>> {
    run.steps.iter().map(|step| step.outcome.victim).collect()
}

#[test]
fn random_is_deterministic_per_seed() {
    let mut source = SplitMix64::new(5);
    let pages: Vec<u64> = (0..200).map(|_| u64::try_from(source.below(12)).expect("small")).collect();
    let refs = reads(&pages);
    let first = simulate_seeded(Policy::Random, 4, &refs, 42).expect("frames > 0");
    let again = simulate_seeded(Policy::Random, 4, &refs, 42).expect("frames > 0");
    assert_eq!(first, again);
    let distinct: std::collections::BTreeSet<Vec<Option<u64>>> = (0..8)
        .map(|seed| victims(&simulate_seeded(Policy::Random, 4, &refs, seed).expect("frames > 0")))
        .collect();
    assert!(distinct.len() > 1, "the seed should change the victims");
}

#[test]
fn zero_frames_and_empty_strings_do_not_panic() {
    for policy in Policy::ALL {
        assert_eq!(simulate(policy, 0, &reads(&BELADY)).err(), Some(ReplaceError::NoFrames));
        let empty = simulate(policy, 3, &[]).expect("frames > 0");
        assert!(empty.steps.is_empty());
        assert!(fault_curve(policy, &[], 3).iter().all(|&(_, misses)| misses == 0));
    }
}

// ---------------------------------------------------------------------------------------------
// Invariants

fn reference_strategy() -> impl Strategy<Value = Vec<Reference>> {
    prop::collection::vec(
        (0u64..10, any::<bool>()).prop_map(|(page, write)| Reference { page, write }),
        0..80,
    )
}

proptest! {
    #[test]
    fn opt_never_misses_more_than_any_policy(
        refs in reference_strategy(),
        frames in 1usize..6,
        seed in any::<u64>(),
    ) {
        let opt = simulate(Policy::Opt, frames, &refs).expect("frames > 0");
        for policy in Policy::ALL {
            let run = simulate_seeded(policy, frames, &refs, seed).expect("frames > 0");
            prop_assert!(opt.misses <= run.misses, "{} beat OPT", policy);
            prop_assert_eq!(run.hits + run.misses, refs.len() as u64);
            prop_assert_eq!(run.steps.len(), refs.len());
            prop_assert!(run.write_backs <= run.misses);
            for step in &run.steps {
                prop_assert!(step.outcome.frames_after.contains(&step.page));
                prop_assert!(step.outcome.frames_after.len() <= frames);
            }
        }
    }

    #[test]
    fn stack_policies_never_gain_misses_with_more_frames(refs in reference_strategy()) {
        for policy in [Policy::Lru, Policy::Opt] {
            let curve = fault_curve(policy, &refs, 6);
            prop_assert!(curve.windows(2).all(|pair| pair[1].1 <= pair[0].1), "{}", policy);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The `pagelab policy` command

#[derive(Debug, Parser)]
struct PolicyCli {
    #[command(flatten)]
    args: PolicyArgs,
}

fn parse_cli(words: &[&str]) -> Result<PolicyArgs, clap::Error> {
    PolicyCli::try_parse_from(std::iter::once("policy").chain(words.iter().copied())).map(|cli| cli.args)
}

#[test]
fn cli_prints_each_access_and_totals() {
    let args = parse_cli(&["--policy", "fifo", "--frames", "3", "--refs", "1,2,3,4,1,2,5,1,2,3,4,5"])
        .expect("valid arguments");
    let text = run(&args).expect("runs");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 1 + 12 + 1, "{text}");
    assert!(lines[5].contains("MISS") && lines[5].contains("[2, 3, 4]"), "{text}");
    assert!(lines[9].contains("HIT"), "{text}");
    assert_eq!(lines.last().copied(), Some("hits 3  misses 9  hit rate 25.00%  write-backs 0"));
}

#[test]
fn cli_json_has_totals_and_steps() {
    let args = parse_cli(&["--policy", "lru", "--frames", "2", "--refs", "1w,2,1,3", "--json"])
        .expect("valid arguments");
    let json: serde_json::Value = serde_json::from_str(&run(&args).expect("runs")).expect("JSON");
    assert_eq!(json["hits"], 1);
    assert_eq!(json["misses"], 3);
    assert_eq!(json["hit_rate"], 0.25);
    assert_eq!(json["write_backs"], 0);
    let steps = json["steps"].as_array().expect("steps array");
    assert_eq!(steps.len(), 4);
    assert_eq!(steps[2]["hit"], true);
    assert_eq!(steps[2]["frames"], serde_json::json!([2, 1]));
    assert_eq!(steps[3]["victim"], 2);
    assert_eq!(steps[3]["frames"], serde_json::json!([1, 3]));
    assert_eq!(steps[0]["victim"], serde_json::Value::Null);
    assert!(steps[0].get("hand").is_none() && steps[0].get("slots").is_none());
}

#[test]
fn cli_reads_trace_files_with_writes_and_comments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("refs.txt");
    std::fs::write(&path, "# a store, then enough loads to push it out\n1 w\n2\n3 # load\n")
        .expect("write trace");
    let args = PolicyArgs {
        policy: PolicyChoice::Fifo,
        seed: 0,
        frames: 1,
        refs: None,
        trace: Some(path),
        json: true,
    };
    let json: serde_json::Value = serde_json::from_str(&run(&args).expect("runs")).expect("JSON");
    assert_eq!(json["misses"], 3);
    assert_eq!(json["write_backs"], 1);
    assert_eq!(json["steps"][1]["victim_dirty"], true);
    assert_eq!(json["steps"][0]["write"], true);
}

#[test]
fn cli_refuses_bad_input() {
    assert!(parse_cli(&["--policy", "fifo", "--frames", "3"]).is_err(), "no references");
    assert!(
        parse_cli(&["--policy", "fifo", "--frames", "3", "--refs", "1", "--trace", "t.txt"]).is_err(),
        "refs and trace together"
    );
    assert!(parse_cli(&["--policy", "mru", "--frames", "3", "--refs", "1"]).is_err());
    assert!(parse_cli(&["--policy", "fifo", "--frames", "3", "--refs", "1,x"]).is_err());

    let zero = parse_cli(&["--policy", "opt", "--frames", "0", "--refs", "1,2"]).expect("parses");
    assert!(run(&zero).is_err());
    let missing = PolicyArgs {
        policy: PolicyChoice::Clock,
        seed: 0,
        frames: 2,
        refs: None,
        trace: Some(PathBuf::from("/nonexistent/pagelab/trace.txt")),
        json: false,
    };
    assert!(run(&missing).is_err());
}

#[test]
fn cli_clock_output_shows_the_hand_and_bits() {
    let args =
        parse_cli(&["--policy", "clock", "--frames", "2", "--refs", "1,2w,3"]).expect("valid arguments");
    let text = run(&args).expect("runs");
    // After 3 replaces 1 in slot 0, the hand rests on slot 1, whose bit it cleared in passing.
    assert!(text.contains("[3*, ^2']"), "{text}");
    let json_args = parse_cli(&["--policy", "clock", "--frames", "2", "--refs", "1,2w,3", "--json"])
        .expect("valid arguments");
    let json: serde_json::Value = serde_json::from_str(&run(&json_args).expect("runs")).expect("JSON");
    assert_eq!(json["steps"][2]["hand"], 1);
    assert_eq!(
        json["steps"][2]["slots"],
        serde_json::json!([
            {"page": 3, "used": true, "dirty": false},
            {"page": 2, "used": false, "dirty": true},
        ])
    );
    let seeded = parse_cli(&["--policy", "random", "--seed", "9", "--frames", "2", "--refs", "1,2,3,4"])
        .expect("valid arguments");
    assert_eq!(run(&seeded).expect("runs"), run(&seeded).expect("runs"));
}

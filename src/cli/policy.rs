//! `pagelab policy`: replay a reference string under a page-replacement policy and print each step.
//!
//! The reference string comes from `--refs 1,2,3w,...` or a trace file with one page per line
//! (an optional `w` or `r` after the number marks a write or a read; `#` starts a comment). The
//! output is a table of accesses and totals, or with `--json` an object for scripts and graders.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{ArgGroup, Args, ValueEnum};
use serde::Serialize;

use crate::sim::replace::{AccessOutcome, Frame, Policy, Reference, Run, simulate_seeded};

/// The policies as command-line values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyChoice {
    /// First in, first out.
    Fifo,
    /// Least recently used.
    Lru,
    /// Belady's optimal policy (looks ahead in the string).
    Opt,
    /// Second chance with a use bit per frame.
    Clock,
    /// Clock over (use, dirty) classes.
    #[value(alias = "eclock")]
    EnhancedClock,
    /// A seeded random victim.
    #[value(alias = "rand")]
    Random,
}

impl From<PolicyChoice> for Policy {
    fn from(choice: PolicyChoice) -> Self {
        match choice {
            PolicyChoice::Fifo => Policy::Fifo,
            PolicyChoice::Lru => Policy::Lru,
            PolicyChoice::Opt => Policy::Opt,
            PolicyChoice::Clock => Policy::Clock,
            PolicyChoice::EnhancedClock => Policy::EnhancedClock,
            PolicyChoice::Random => Policy::Random,
        }
    }
}

/// Arguments of `pagelab policy`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["refs", "trace"])))]
pub struct PolicyArgs {
    /// Replacement policy.
    #[arg(long, value_enum)]
    pub policy: PolicyChoice,
    /// Seed for the random policy; the same seed replays the same victims.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Number of physical frames.
    #[arg(long)]
    pub frames: usize,
    /// Reference string: comma-separated page numbers, each optionally followed by w (write) or r.
    #[arg(long, value_delimiter = ',', value_parser = parse_reference, conflicts_with = "trace")]
    pub refs: Option<Vec<Reference>>,
    /// Trace file: one page number per line, optional trailing w/r, # comments.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Print a JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A reference string entry that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceParseError {
    /// Nothing where a page number belongs.
    #[error("empty reference (expected a page number)")]
    Empty,
    /// Not a decimal or 0x-prefixed hexadecimal page number.
    #[error("`{0}` is not a page number (decimal or 0x hex, optionally followed by w or r)")]
    BadPage(String),
}

/// Parses `12`, `12w`, `12 r` or `0x1f w`: a page number and whether it is written.
///
/// # Errors
/// [`ReferenceParseError`] when the token is empty or the number does not parse.
pub fn parse_reference(token: &str) -> Result<Reference, ReferenceParseError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(ReferenceParseError::Empty);
    }
    // Hex digits contain neither w nor r, so a trailing letter is always the access kind.
    let (number, write) = if let Some(rest) = token.strip_suffix(['w', 'W']) {
        (rest.trim_end(), true)
    } else if let Some(rest) = token.strip_suffix(['r', 'R']) {
        (rest.trim_end(), false)
    } else {
        (token, false)
    };
    let parsed = match number.strip_prefix("0x").or_else(|| number.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => number.parse::<u64>(),
    };
    let page = parsed.map_err(|_| ReferenceParseError::BadPage(token.to_owned()))?;
    Ok(Reference { page, write })
}

/// Parses a trace: one reference per line, `#` comments, blank lines ignored.
///
/// # Errors
/// The first line that does not parse, with its 1-based number.
pub fn parse_trace(text: &str) -> Result<Vec<Reference>> {
    let mut refs = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let content = line.split_once('#').map_or(line, |(before, _)| before).trim();
        if content.is_empty() {
            continue;
        }
        let reference =
            parse_reference(content).with_context(|| format!("line {}", index.saturating_add(1)))?;
        refs.push(reference);
    }
    Ok(refs)
}

fn read_trace(path: &Path) -> Result<Vec<Reference>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read trace {}", path.display()))?;
    parse_trace(&text).with_context(|| format!("bad trace {}", path.display()))
}

/// Runs `pagelab policy` and returns the text to print.
///
/// # Errors
/// No reference source, an unreadable or malformed trace, or zero frames.
pub fn run(args: &PolicyArgs) -> Result<String> {
    let refs = match (&args.refs, &args.trace) {
        (Some(refs), None) => refs.clone(),
        (None, Some(path)) => read_trace(path)?,
        (Some(_), Some(_)) => anyhow::bail!("give either --refs or --trace, not both"),
        (None, None) => anyhow::bail!("give a reference string with --refs or --trace"),
    };
    let policy = Policy::from(args.policy);
    let run = simulate_seeded(policy, args.frames, &refs, args.seed)
        .with_context(|| format!("cannot simulate {policy} with {} frames", args.frames))?;
    if args.json {
        let report = JsonReport::new(&run, args.seed);
        let mut text = serde_json::to_string_pretty(&report)?;
        text.push('\n');
        Ok(text)
    } else {
        Ok(render_table(&run)?)
    }
}

/// The `--json` output; field names are a contract with scripts.
#[derive(Debug, Serialize)]
struct JsonReport {
    policy: Policy,
    frames: usize,
    seed: u64,
    references: usize,
    hits: u64,
    misses: u64,
    hit_rate: f64,
    write_backs: u64,
    steps: Vec<JsonStep>,
}

#[derive(Debug, Serialize)]
struct JsonStep {
    page: u64,
    write: bool,
    hit: bool,
    victim: Option<u64>,
    victim_dirty: bool,
    frames: Vec<u64>,
    /// Clock policies only: the hand and each slot's use and dirty bits.
    #[serde(skip_serializing_if = "Option::is_none")]
    hand: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    slots: Option<Vec<Frame>>,
}

impl JsonReport {
    fn new(run: &Run, seed: u64) -> Self {
        Self {
            policy: run.policy,
            frames: run.frames,
            seed,
            references: run.steps.len(),
            hits: run.hits,
            misses: run.misses,
            hit_rate: run.hit_rate(),
            write_backs: run.write_backs,
            steps: run
                .steps
                .iter()
                .map(|step| JsonStep {
                    page: step.page,
                    write: step.is_write,
                    hit: step.outcome.hit,
                    victim: step.outcome.victim,
                    victim_dirty: step.outcome.victim_dirty,
                    frames: step.outcome.frames_after.clone(),
                    hand: step.outcome.hand,
                    slots: run.policy.has_hand().then(|| step.outcome.slots_after.clone()),
                })
                .collect(),
        }
    }
}

fn render_table(run: &Run) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    writeln!(
        out,
        "policy {}, {} frames, {} references (frames listed {})",
        run.policy,
        run.frames,
        run.steps.len(),
        run.policy.frame_order()
    )?;
    let with_hand = run.policy.has_hand();
    write!(out, "{:>6}  {:<8}  {:<6}  {:<8}  frames", "#", "access", "result", "victim")?;
    if with_hand {
        write!(out, " (* use bit, ' dirty, ^ hand)")?;
    }
    out.push('\n');
    for (index, step) in run.steps.iter().enumerate() {
        let access = format!("{}{}", step.page, if step.is_write { "w" } else { "" });
        let result = if step.outcome.hit { "HIT" } else { "MISS" };
        let victim = match step.outcome.victim {
            // A dirty victim is written back before its frame is reused.
            Some(page) if step.outcome.victim_dirty => format!("{page} wb"),
            Some(page) => page.to_string(),
            None => "-".to_owned(),
        };
        let frames =
            if with_hand { render_slots(&step.outcome) } else { render_pages(&step.outcome.frames_after) };
        writeln!(out, "{:>6}  {access:<8}  {result:<6}  {victim:<8}  {frames}", index.saturating_add(1))?;
    }
    writeln!(
        out,
        "hits {}  misses {}  hit rate {:.2}%  write-backs {}",
        run.hits,
        run.misses,
        run.hit_rate() * 100.0,
        run.write_backs
    )?;
    Ok(out)
}

fn render_pages(pages: &[u64]) -> String {
    let listed: Vec<String> = pages.iter().map(u64::to_string).collect();
    format!("[{}]", listed.join(", "))
}

fn render_slots(outcome: &AccessOutcome) -> String {
    let listed: Vec<String> = outcome
        .slots_after
        .iter()
        .enumerate()
        .map(|(slot, frame)| {
            format!(
                "{}{}{}{}",
                if outcome.hand == Some(slot) { "^" } else { "" },
                frame.page,
                if frame.used { "*" } else { "" },
                if frame.dirty { "'" } else { "" }
            )
        })
        .collect();
    format!("[{}]", listed.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_with_and_without_kind() {
        assert_eq!(parse_reference("12"), Ok(Reference::read(12)));
        assert_eq!(parse_reference(" 12w "), Ok(Reference::write(12)));
        assert_eq!(parse_reference("12 R"), Ok(Reference::read(12)));
        assert_eq!(parse_reference("0x1f w"), Ok(Reference::write(31)));
    }

    #[test]
    fn bad_references_are_explained() {
        assert_eq!(parse_reference(" "), Err(ReferenceParseError::Empty));
        assert_eq!(parse_reference("x"), Err(ReferenceParseError::BadPage("x".to_owned())));
        assert!(parse_reference("-1").is_err());
        assert!(parse_reference("w").is_err());
    }

    #[test]
    fn traces_skip_comments_and_blank_lines() -> Result<()> {
        let refs = parse_trace("# header\n1\n\n2 w # store\n  3r\n")?;
        assert_eq!(refs, vec![Reference::read(1), Reference::write(2), Reference::read(3)]);
        Ok(())
    }

    #[test]
    fn trace_errors_name_the_line() {
        let error = parse_trace("1\n2\nthree\n").err().map(|e| format!("{e:#}"));
        assert_eq!(
            error.as_deref(),
            Some("line 3: `three` is not a page number (decimal or 0x hex, optionally followed by w or r)")
        );
    }
}

//! `pagelab replay`: streams an access trace (valgrind lackey or plain, optionally gzipped)
//! through a TLB in front of a lab's page tables and prints the statistics.

use super::edit::{load_lab, pick_process};
use super::show::ModeArg;
use crate::lab::io;
use crate::sim::Mode;
use crate::sim::replay::{Costs, ReplayConfig, ReplayStats, Replayer, Summary};
use crate::sim::tlb::{TlbConfig, TlbPolicy};
use crate::sim::trace::TraceReader;
use anyhow::{Context, anyhow, bail};
use clap::{Args, ValueEnum};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PolicyArg {
    Lru,
    Fifo,
    Random,
    Plru,
}

impl From<PolicyArg> for TlbPolicy {
    fn from(policy: PolicyArg) -> Self {
        match policy {
            PolicyArg::Lru => TlbPolicy::Lru,
            PolicyArg::Fifo => TlbPolicy::Fifo,
            PolicyArg::Random => TlbPolicy::Random,
            PolicyArg::Plru => TlbPolicy::Plru,
        }
    }
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    pub lab: PathBuf,
    /// Trace file: valgrind lackey output or one address a line (`ADDR [r|w|x [PROCESS]]`),
    /// plain or gzip-compressed; `-` reads standard input.
    pub trace: PathBuf,
    /// Process that runs the trace (default: the lab's active one). Plain-trace lines that name
    /// a process switch to it.
    #[arg(long)]
    pub process: Option<String>,
    /// TLB shape: ENTRIES (fully associative) or ENTRIESxWAYS, e.g. 64x4.
    #[arg(long, default_value = "64x4")]
    pub tlb: String,
    #[arg(long, value_enum, default_value = "lru")]
    pub policy: PolicyArg,
    /// Seed of the random replacement policy.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Do not tag TLB entries with ASIDs: every process switch flushes non-global entries.
    #[arg(long)]
    pub no_asid_tagging: bool,
    /// Map a fresh frame on the first touch of an unmapped page (counted as a fault).
    #[arg(long)]
    pub demand_map: bool,
    /// Privilege of the accesses.
    #[arg(long, value_enum, default_value = "user")]
    pub mode: ModeArg,
    /// Cost of a TLB probe in ns, for the effective access time.
    #[arg(long, default_value_t = Costs::default().tlb_hit_ns)]
    pub tlb_ns: f64,
    /// Cost of a memory access in ns (the data access and each entry a walk reads).
    #[arg(long, default_value_t = Costs::default().memory_ns)]
    pub memory_ns: f64,
    /// Save the lab as the replay left it (demand-mapped pages, accessed/dirty bits).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Print the statistics as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Parses `ENTRIES` or `ENTRIESxWAYS`.
pub fn parse_tlb_shape(text: &str) -> anyhow::Result<(usize, usize)> {
    let number = |part: &str| {
        part.trim()
            .parse::<usize>()
            .map_err(|_| anyhow!("--tlb {text:?}: expected ENTRIES or ENTRIESxWAYS, e.g. 64x4"))
    };
    match text.to_ascii_lowercase().split_once('x') {
        Some((entries, ways)) => Ok((number(entries)?, number(ways)?)),
        None => {
            let entries = number(text)?;
            Ok((entries, entries))
        }
    }
}

fn open_trace(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    if path == Path::new("-") {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let file = File::open(path).with_context(|| format!("cannot open trace {}", path.display()))?;
    Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
}

pub fn run(args: &ReplayArgs) -> anyhow::Result<String> {
    let mut lab = load_lab(&args.lab)?;
    let process = pick_process(&lab.machine, args.process.as_deref())?;
    lab.machine.switch_to(process)?;
    let (entries, ways) = parse_tlb_shape(&args.tlb)?;
    if !(args.tlb_ns.is_finite() && args.memory_ns.is_finite() && args.tlb_ns >= 0.0 && args.memory_ns >= 0.0)
    {
        bail!("--tlb-ns and --memory-ns must be finite and not negative");
    }
    let config = ReplayConfig {
        tlb: TlbConfig {
            entries,
            ways,
            policy: args.policy.into(),
            seed: args.seed,
            asid_tagging: !args.no_asid_tagging,
        },
        demand_map: args.demand_map,
        mode: match args.mode {
            ModeArg::User => Mode::User,
            ModeArg::Supervisor => Mode::Supervisor,
        },
        costs: Costs { tlb_hit_ns: args.tlb_ns, memory_ns: args.memory_ns },
    };
    let mut replayer = Replayer::new(config).map_err(|e| anyhow!("--tlb {}: {e}", args.tlb))?;
    let input = open_trace(&args.trace)?;
    let mut trace = TraceReader::auto(input).map_err(|e| anyhow!("{}: {e}", args.trace.display()))?;
    replayer.run(&mut lab.machine, &mut trace).map_err(|e| anyhow!("{}: {e}", args.trace.display()))?;
    if let Some(path) = &args.save {
        io::save(&lab, path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let stats = replayer.stats(&lab.machine);
    if args.json {
        return Ok(serde_json::to_string_pretty(&stats)? + "\n");
    }
    Ok(stats_text(&stats, &args.trace, args.demand_map))
}

fn policy_name(policy: TlbPolicy) -> &'static str {
    match policy {
        TlbPolicy::Lru => "LRU",
        TlbPolicy::Fifo => "FIFO",
        TlbPolicy::Random => "random",
        TlbPolicy::Plru => "tree-PLRU",
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    #[allow(clippy::cast_precision_loss)] // a percentage for display
    let value = part as f64 * 100.0 / whole as f64;
    format!("{value:.3} %")
}

fn summary_lines(out: &mut String, summary: &Summary, costs: &Costs, indent: &str) {
    let c = &summary.counters;
    let _ = writeln!(out, "{indent}lookups            {:>12}", c.lookups);
    let _ = writeln!(out, "{indent}hits               {:>12}  ({})", c.hits, percent(c.hits, c.lookups));
    let _ = writeln!(out, "{indent}misses             {:>12}  ({})", c.misses, percent(c.misses, c.lookups));
    let _ = writeln!(out, "{indent}walks              {:>12}", c.walks);
    let _ = writeln!(out, "{indent}walk memory refs   {:>12}", c.walk_memory_refs);
    if c.dirty_assists > 0 {
        let _ = writeln!(out, "{indent}dirty-bit assists  {:>12}", c.dirty_assists);
    }
    let kinds: Vec<String> = c.faults_by_kind.iter().map(|(kind, n)| format!("{n} {}", kind.id())).collect();
    let kinds = if kinds.is_empty() { String::new() } else { format!("  ({})", kinds.join(", ")) };
    let _ = writeln!(out, "{indent}faults             {:>12}{kinds}", c.faults);
    if c.demand_maps > 0 || c.demand_map_failures > 0 {
        let _ = writeln!(out, "{indent}demand maps        {:>12}", c.demand_maps);
    }
    if c.demand_map_failures > 0 {
        let _ = writeln!(out, "{indent}demand-map failures{:>12}", c.demand_map_failures);
    }
    if let Some(eat) = summary.effective_access_ns {
        let _ = writeln!(
            out,
            "{indent}effective access   {eat:>12.2} ns  (TLB {} ns, memory {} ns)",
            costs.tlb_hit_ns, costs.memory_ns
        );
    }
}

/// The statistics as aligned lines.
pub fn stats_text(stats: &ReplayStats, trace: &Path, demand_map: bool) -> String {
    let tlb = &stats.tlb_config;
    let mut out = format!(
        "{}: {} records; TLB {} entries x {} ways, {}, ASID tagging {}, demand mapping {}\n",
        trace.display(),
        stats.records,
        tlb.entries,
        tlb.ways,
        policy_name(tlb.policy),
        if tlb.asid_tagging { "on" } else { "off" },
        if demand_map { "on" } else { "off" },
    );
    summary_lines(&mut out, &stats.total, &stats.costs, "");
    let active: Vec<_> = stats.per_process.iter().filter(|(_, s)| s.counters.lookups > 0).collect();
    if active.len() > 1 || stats.switches > 0 {
        let _ = writeln!(out, "process switches   {:>12}", stats.switches);
        for (name, summary) in active {
            let _ = writeln!(out, "process \"{name}\":");
            summary_lines(&mut out, summary, &stats.costs, "  ");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlb_shapes_parse() {
        assert_eq!(parse_tlb_shape("64x4").unwrap(), (64, 4));
        assert_eq!(parse_tlb_shape("1536X12").unwrap(), (1536, 12));
        assert_eq!(parse_tlb_shape("16").unwrap(), (16, 16));
        assert!(parse_tlb_shape("x4").is_err());
        assert!(parse_tlb_shape("64x").is_err());
        assert!(parse_tlb_shape("-1").is_err());
    }
}

//! `pagelab replay`: streams an access trace (valgrind lackey or plain, optionally gzipped)
//! through a TLB in front of a lab's page tables and prints the statistics. With `--frames N`
//! (or a lab whose OS model is demand paging) the OS model answers page faults with N user
//! frames and a replacement policy, and `--fault-curve MAX` replays once per frame count.

use super::edit::{load_lab, pick_process};
use super::policy::PolicyChoice;
use super::show::ModeArg;
use crate::doc::EditError;
use crate::doc::history::StepKind;
use crate::lab::{Lab, io};
use crate::sim::Mode;
use crate::sim::os::{Future, Os, OsModel, OsReport, OsSettings};
use crate::sim::replace::Policy;
use crate::sim::replay::{Costs, ReplayConfig, ReplayStats, Replayer, Summary};
use crate::sim::tlb::{TlbConfig, TlbPolicy, TlbStats, TlbsConfigError};
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
    /// Split the TLB: a separate instruction TLB of this shape (ENTRIES or ENTRIESxWAYS) for
    /// instruction fetches (lackey `I` records, plain `x` lines); --tlb is then the data TLB.
    /// Both use --policy and --seed.
    #[arg(long, value_name = "SHAPE")]
    pub itlb: Option<String>,
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
    /// Demand paging through the OS model with N frames for user pages (instead of
    /// --demand-map's unlimited fresh frames). Default: the lab's OS settings, if its model is
    /// demand paging.
    #[arg(long, value_name = "N", conflicts_with = "demand_map")]
    pub frames: Option<u32>,
    /// Page replacement when the OS model's frames are full (default: the lab's, else clock).
    /// OPT reads the whole trace first to know the future.
    #[arg(long, value_enum, value_name = "POLICY")]
    pub replacement: Option<PolicyChoice>,
    /// Seed of the random replacement policy (default: the lab's).
    #[arg(long, value_name = "SEED")]
    pub replacement_seed: Option<u64>,
    /// Also replay with 1, 2, ..., MAX frames and print the page faults of each (a fault curve;
    /// FIFO may show Belady's anomaly).
    #[arg(long, value_name = "MAX")]
    pub fault_curve: Option<u32>,
    /// Save the lab as the replay left it (demand-mapped pages, accessed/dirty bits).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Print the statistics as JSON.
    #[arg(long)]
    pub json: bool,
    /// Nested lab: paging-structure caches of N entries per level in both dimensions (the
    /// guest TLB is --tlb's entries, fully associative).
    #[arg(long, value_name = "N")]
    pub psc: Option<String>,
    /// Nested lab: a nested TLB of N guest-physical pages.
    #[arg(long, value_name = "N")]
    pub ntlb: Option<String>,
}

/// Parses `ENTRIES` or `ENTRIESxWAYS` (of the `--tlb` option).
pub fn parse_tlb_shape(text: &str) -> anyhow::Result<(usize, usize)> {
    parse_shape("--tlb", text)
}

/// Parses `ENTRIES` or `ENTRIESxWAYS` given to `option`.
fn parse_shape(option: &str, text: &str) -> anyhow::Result<(usize, usize)> {
    let number = |part: &str| {
        part.trim()
            .parse::<usize>()
            .map_err(|_| anyhow!("{option} {text:?}: expected ENTRIES or ENTRIESxWAYS, e.g. 64x4"))
    };
    match text.to_ascii_lowercase().split_once('x') {
        Some((entries, ways)) => Ok((number(entries)?, number(ways)?)),
        None => {
            let entries = number(text)?;
            Ok((entries, entries))
        }
    }
}

fn open_trace(path: &Path) -> anyhow::Result<Box<dyn BufRead + Send>> {
    if path == Path::new("-") {
        return Ok(Box::new(BufReader::with_capacity(1 << 16, std::io::stdin())));
    }
    let file = File::open(path).with_context(|| format!("cannot open trace {}", path.display()))?;
    Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
}

/// The OS model the replay uses: the command line's choice over the lab's; `None` without one.
fn os_settings(args: &ReplayArgs, lab: &Lab) -> anyhow::Result<Option<OsSettings>> {
    let from_lab = lab.os.model == OsModel::Demand && !args.demand_map;
    if args.frames.is_none() && !from_lab {
        if args.replacement.is_some() || args.fault_curve.is_some() {
            bail!("--replacement and --fault-curve need the OS model: give --frames N");
        }
        return Ok(None);
    }
    let mut settings = lab.os;
    settings.model = OsModel::Demand;
    if let Some(frames) = args.frames {
        settings.frames = frames;
    }
    if let Some(policy) = args.replacement {
        settings.policy = Policy::from(policy);
    }
    if let Some(seed) = args.replacement_seed {
        settings.seed = seed;
    }
    settings.validate().map_err(|e| anyhow!("--frames: {e}"))?;
    Ok(Some(settings))
}

/// One whole replay of the trace on `lab`; returns the replayer.
fn replay_once(
    args: &ReplayArgs,
    lab: &mut Lab,
    config: &ReplayConfig,
    os: Option<OsSettings>,
) -> anyhow::Result<Replayer> {
    let mut replayer = Replayer::new(config.clone()).map_err(|e| match (e, &args.itlb) {
        (TlbsConfigError::Instruction(e), Some(itlb)) => anyhow!("--itlb {itlb}: {e}"),
        (TlbsConfigError::Data(e) | TlbsConfigError::Unified(e), _) => anyhow!("--tlb {}: {e}", args.tlb),
        (e, _) => anyhow!("{e}"),
    })?;
    if let Some(settings) = os {
        replayer.set_os(Some(Os::new(settings, lab.machine.format())?.with_swap(lab.swap.clone())));
    }
    // A script replays under the same rules as a student: locked processes are not changed.
    replayer.set_locked(lab.locks.processes.iter().cloned());
    let input = open_trace(&args.trace)?;
    let mut trace =
        TraceReader::auto_pipelined(input).map_err(|e| anyhow!("{}: {e}", args.trace.display()))?;
    if os.is_some_and(|s| s.policy.needs_future()) {
        // OPT needs the future: read the whole trace first.
        let records = trace
            .by_ref()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!("{}: {e}", args.trace.display()))?;
        let future =
            Future::of_trace(&lab.machine, &records).map_err(|e| anyhow!("{}: {e}", args.trace.display()))?;
        if let Some(os) = replayer.os_mut() {
            os.set_future(future);
        }
        for (index, record) in records.iter().enumerate() {
            replayer
                .step(&mut lab.machine, record)
                .map_err(|e| anyhow!("{}: record {}: {e}", args.trace.display(), index + 1))?;
        }
    } else {
        replayer.run(&mut lab.machine, &mut trace).map_err(|e| anyhow!("{}: {e}", args.trace.display()))?;
    }
    if let Some(os) = replayer.os() {
        // The tables now name slots of this swap area: the lab keeps it, so --save writes it.
        lab.swap = os.swap().pages().clone();
    }
    Ok(replayer)
}

pub fn run(args: &ReplayArgs) -> anyhow::Result<String> {
    let mut lab = load_lab(&args.lab)?;
    if let Some(setup) = lab.nested {
        let caches = super::nested::cache_config(args.psc.as_deref(), args.ntlb.as_deref())?;
        let (entries, _) = parse_tlb_shape(&args.tlb)?;
        let mode = Mode::from(args.mode);
        let trace = TraceReader::auto_pipelined(open_trace(&args.trace)?)
            .map_err(|e| anyhow!("{}: {e}", args.trace.display()))?;
        let records = trace.map(|r| r.map_err(|e| anyhow!("{}: {e}", args.trace.display())));
        let cost = super::nested::replay(&lab, &setup, records, entries, mode, caches)?;
        return super::nested::replay_report(&args.trace, &cost, entries, args.json);
    }
    if args.psc.is_some() || args.ntlb.is_some() {
        bail!("--psc and --ntlb apply to nested labs (pagelab new --nested ept)");
    }
    let process = pick_process(&lab.machine, args.process.as_deref())?;
    // Which process runs is the replay's choice, not an edit of the lab.
    lab.machine.switch_to(process)?;
    let (entries, ways) = parse_tlb_shape(&args.tlb)?;
    if !(args.tlb_ns.is_finite() && args.memory_ns.is_finite() && args.tlb_ns >= 0.0 && args.memory_ns >= 0.0)
    {
        bail!("--tlb-ns and --memory-ns must be finite and not negative");
    }
    let os = os_settings(args, &lab)?;
    let shape = |(entries, ways)| TlbConfig {
        entries,
        ways,
        policy: args.policy.into(),
        seed: args.seed,
        asid_tagging: !args.no_asid_tagging,
    };
    let itlb = args.itlb.as_deref().map(|text| parse_shape("--itlb", text)).transpose()?;
    let config = ReplayConfig {
        tlb: shape((entries, ways)),
        itlb: itlb.map(shape),
        demand_map: args.demand_map,
        mode: Mode::from(args.mode),
        costs: Costs { tlb_hit_ns: args.tlb_ns, memory_ns: args.memory_ns },
    };
    let pristine = args.fault_curve.map(|_| lab.clone());
    // Through the document, as every change of a lab: what the replay writes (A/D bits, demand
    // maps, the OS model's page moves) is checked against the exercise's locks.
    let mut doc = super::edit::editing(lab);
    let replayer = doc
        .run("replay", StepKind::Replay, |lab| {
            replay_once(args, lab, &config, os).map_err(|e| EditError::Other(format!("{e:#}")))
        })
        .map_err(|e| anyhow!("{e}"))?;
    let lab = doc.into_lab();
    if let Some(path) = &args.save {
        io::save(&lab, path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let stats = replayer.stats(&lab.machine);
    let mut curve = Vec::new();
    if let (Some(max), Some(pristine), Some(settings)) = (args.fault_curve, pristine, os) {
        if max == 0 || max > crate::sim::os::MAX_FRAMES {
            bail!("--fault-curve takes 1 to {} frames", crate::sim::os::MAX_FRAMES);
        }
        for frames in 1..=max {
            let mut copy = pristine.clone();
            let settings = OsSettings { frames, ..settings };
            let replayer = replay_once(args, &mut copy, &config, Some(settings))?;
            curve.push((frames, replayer.os().map_or(0, |os| os.total().faults)));
        }
    }
    if args.json {
        let mut value = serde_json::to_value(&stats)?;
        if let (Some(object), false) = (value.as_object_mut(), curve.is_empty()) {
            object.insert("fault_curve".into(), serde_json::to_value(&curve)?);
        }
        return Ok(serde_json::to_string_pretty(&value)? + "\n");
    }
    let mut out = stats_text(&stats, &args.trace, args.demand_map || os.is_some());
    if let Some(report) = &stats.os {
        os_text(&mut out, report);
    }
    if !curve.is_empty() {
        let points: Vec<String> =
            curve.iter().map(|(frames, faults)| format!("{frames}: {faults}")).collect();
        let _ = writeln!(out, "page faults by frames  {}", points.join(", "));
    }
    Ok(out)
}

/// The OS model's statistics as aligned lines.
fn os_text(out: &mut String, report: &OsReport) {
    let _ = writeln!(out, "OS model: demand paging, {} frames, {} replacement", report.frames, report.policy);
    let lines = |out: &mut String, c: &crate::sim::os::OsCounters, indent: &str| {
        let _ = writeln!(
            out,
            "{indent}page faults        {:>12}  ({} first touch, {} swap-in, {} refill)",
            c.faults, c.first_touch, c.swap_ins, c.refills
        );
        let _ = writeln!(out, "{indent}evictions          {:>12}", c.evictions);
        let _ = writeln!(out, "{indent}dirty write-backs  {:>12}", c.write_backs);
        if c.ad_faults > 0 {
            let _ = writeln!(out, "{indent}A/D faults (Svade) {:>12}", c.ad_faults);
        }
        if c.cow_faults > 0 {
            let _ = writeln!(
                out,
                "{indent}copy-on-write      {:>12}  ({} copied, {} last owner without a copy; {} TLB invalidations)",
                c.cow_faults, c.cow_copies, c.cow_reuses, c.tlb_invalidations
            );
        }
        if c.failures > 0 {
            let _ = writeln!(out, "{indent}unresolved faults  {:>12}", c.failures);
        }
    };
    lines(out, &report.total, "");
    let _ = writeln!(out, "swap slots used    {:>12}", report.swap_slots);
    let active: Vec<_> = report.per_process.iter().filter(|(_, c)| c.accesses > 0).collect();
    if active.len() > 1 {
        for (name, counters) in active {
            let _ = writeln!(out, "OS, process \"{name}\":");
            lines(out, counters, "  ");
        }
    }
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

/// One split TLB's line: its shape and hit rate.
fn split_line(out: &mut String, name: &str, config: &TlbConfig, stats: &TlbStats) {
    let _ = writeln!(
        out,
        "  {name} ({} x {}) lookups {:>10}, hits {:>10} ({}), misses {:>10}",
        config.entries,
        config.ways,
        stats.lookups,
        stats.hits,
        percent(stats.hits, stats.lookups),
        stats.misses
    );
}

/// The statistics as aligned lines.
pub fn stats_text(stats: &ReplayStats, trace: &Path, demand_map: bool) -> String {
    let tlb = &stats.tlb_config;
    let shape = match &stats.itlb_config {
        Some(itlb) => format!(
            "split TLB: iTLB {} entries x {} ways, dTLB {} entries x {} ways",
            itlb.entries, itlb.ways, tlb.entries, tlb.ways
        ),
        None => format!("TLB {} entries x {} ways", tlb.entries, tlb.ways),
    };
    let mut out = format!(
        "{}: {} records; {shape}, {}, ASID tagging {}, demand mapping {}\n",
        trace.display(),
        stats.records,
        policy_name(tlb.policy),
        if tlb.asid_tagging { "on" } else { "off" },
        if demand_map { "on" } else { "off" },
    );
    summary_lines(&mut out, &stats.total, &stats.costs, "");
    if let (Some(itlb_config), Some(itlb), Some(dtlb)) = (&stats.itlb_config, &stats.itlb, &stats.dtlb) {
        split_line(&mut out, "iTLB", itlb_config, itlb);
        split_line(&mut out, "dTLB", tlb, dtlb);
    }
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

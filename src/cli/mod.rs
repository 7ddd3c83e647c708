//! The headless command line (clap): scripting and autograding on top of `sim` and `lab`.

pub mod autograder;
pub mod batch;
pub mod diff;
pub mod edit;
pub mod exercise;
pub mod explain;
pub mod fork;
pub mod format_compare;
pub mod handout;
pub mod import;
pub mod nested;
pub mod policy;
pub mod procmaps;
pub mod replay;
pub mod samples;
pub mod set;
pub mod show;
pub mod zip;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// pagelab: build, edit and probe real page tables. With no subcommand it opens the desktop app.
#[derive(Debug, Parser)]
#[command(name = "pagelab", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// A lab file to open in the desktop app.
    pub lab: Option<PathBuf>,
}

/// The command line when its first word is not a lab to open: a subcommand is required, so a
/// mistyped one gets clap's "unrecognized subcommand" with a suggestion.
#[derive(Debug, Parser)]
#[command(name = "pagelab", version, about)]
pub struct SubcommandCli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses `args` (the program name first). Only an existing file, or a path ending in
    /// .json, is a lab for the app; any other first word must be a subcommand.
    pub fn parse_args(args: Vec<std::ffi::OsString>) -> Self {
        let first = args.get(1).map(PathBuf::from);
        let lab_or_option = first.as_ref().is_none_or(|p| {
            let text = p.to_string_lossy();
            text.starts_with('-') || p.is_file() || text.to_ascii_lowercase().ends_with(".json")
        });
        if lab_or_option {
            Cli::parse_from(args)
        } else {
            let SubcommandCli { command } = SubcommandCli::parse_from(args);
            Cli { command: Some(command), lab: None }
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new lab with one empty process.
    New(edit::NewArgs),
    /// Map a page or a range of pages.
    Map(edit::MapArgs),
    /// Unmap a page or a range, freeing tables that become empty.
    Unmap(edit::UnmapArgs),
    /// Check a lab file and summarize it.
    Validate(show::ValidateArgs),
    /// Walk the page tables for one or more addresses.
    Translate(show::TranslateArgs),
    /// Page-table size per process and level, beside a linear table's size.
    Size(show::SizeArgs),
    /// Why an access faults (or succeeds): the deciding entry and rule, and verified fixes.
    Explain(explain::ExplainArgs),
    /// Set fields of one page-table entry by the format's names (P=0, R/W=1, PFN=0x1234).
    Set(set::SetArgs),
    /// Compare two processes: shared ranges, different frames, rights, shared tables.
    Diff(diff::DiffArgs),
    /// fork() a process: its own user tables, the kernel half shared, the pages copy-on-write.
    Fork(fork::ForkArgs),
    /// Import OSTEP simulator output, a /proc/PID/maps, or a kernel's page-table dump (vmprint,
    /// ptdump, QEMU info mem / info tlb).
    Import(import::ImportArgs),
    /// Simulate page replacement on a reference string (FIFO, LRU, OPT, Clock, ...).
    Policy(policy::PolicyArgs),
    /// Replay a memory-access trace through a TLB and the lab's page tables.
    Replay(replay::ReplayArgs),
    /// Write one of the sample labs (or list them).
    Sample(samples::SampleArgs),
    /// Grade a lab's exercises: per-task results, points and total (exit 0 unless the file is unusable).
    Check(exercise::CheckArgs),
    /// Make a per-student variant of an exercise template, reproducible from the seed.
    Generate(exercise::GenerateArgs),
    /// Write the student copy of an instructor's lab (or, with --exam, a copy for grading only);
    /// `export vmprint LAB` prints an Sv39 lab's tables as xv6's vmprint() does.
    Export(handout::ExportArgs),
    /// Write the model solution of an instructor's lab and check it scores full marks.
    Solve(handout::SolveArgs),
    /// Write a Gradescope autograder zip (setup.sh, run_autograder, the instructor's copy).
    Autograder(autograder::AutograderArgs),
    /// Print the JSON Schema of lab files (docs/lab.schema.json), for editors.
    Schema(handout::SchemaArgs),
}

/// Runs a subcommand; returns what to print on standard output.
pub fn run(command: &Command) -> anyhow::Result<String> {
    match command {
        Command::New(args) => edit::new(args),
        Command::Map(args) => edit::map(args),
        Command::Unmap(args) => edit::unmap(args),
        Command::Validate(args) => show::validate(args),
        Command::Translate(args) => show::translate(args),
        Command::Size(args) => show::size(args),
        Command::Explain(args) => explain::explain(args),
        Command::Set(args) => set::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Fork(args) => fork::run(args),
        Command::Import(args) => import::run(args),
        Command::Policy(args) => policy::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Sample(args) => samples::run(args),
        Command::Check(args) => exercise::check(args),
        Command::Generate(args) => exercise::generate(args),
        Command::Export(args) => handout::export(args),
        Command::Solve(args) => handout::solve(args),
        Command::Autograder(args) => autograder::run(args),
        Command::Schema(args) => handout::schema(args),
    }
}

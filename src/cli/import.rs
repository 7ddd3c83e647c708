//! `pagelab import`: labs from the output of OSTEP's paging simulators, and from a real
//! process's `/proc/PID/maps` (see [`super::procmaps`]).

use super::procmaps::{self, ProcMapsArgs};
use crate::lab::{io, ostep, ostep_import};
use anyhow::{Context, anyhow, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ImportKind {
    /// Output of paging-multilevel-translate.py (problem or solved with -c).
    OstepMultilevel,
    /// Output of paging-linear-translate.py (problem or solved with -c).
    OstepLinear,
    /// A process's /proc/PID/maps (or a saved copy): its regions mapped, contents not copied.
    ProcMaps,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    pub kind: ImportKind,
    pub file: PathBuf,
    /// Output lab file.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    #[command(flatten)]
    pub proc_maps: ProcMapsArgs,
}

pub fn run(args: &ImportArgs) -> anyhow::Result<String> {
    if !matches!(args.kind, ImportKind::ProcMaps) && args.proc_maps.given() {
        bail!("--format, --page-size and --compare apply to proc-maps imports only");
    }
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let where_ = |e: &dyn std::fmt::Display| anyhow!("{}: {e}", args.file.display());
    let lab = match args.kind {
        ImportKind::OstepMultilevel => ostep::parse_multilevel(&text)
            .map_err(|e| where_(&e))
            .and_then(|p| ostep_import::multilevel_lab(&p).map_err(|e| where_(&e)))?,
        ImportKind::OstepLinear => ostep::parse_linear(&text)
            .map_err(|e| where_(&e))
            .and_then(|p| ostep_import::linear_lab(&p).map_err(|e| where_(&e)))?,
        ImportKind::ProcMaps => return procmaps::import(&args.proc_maps, &args.file, &text, &args.output),
    };
    io::save(&lab, &args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
    Ok(format!("imported {} into {}\n", args.file.display(), args.output.display()))
}

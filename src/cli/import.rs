//! `pagelab import`: labs from the output of OSTEP's paging simulators.

use crate::lab::{io, ostep, ostep_import};
use anyhow::{Context, anyhow};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ImportKind {
    /// Output of paging-multilevel-translate.py (problem or solved with -c).
    OstepMultilevel,
    /// Output of paging-linear-translate.py (problem or solved with -c).
    OstepLinear,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    pub kind: ImportKind,
    pub file: PathBuf,
    /// Output lab file.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

pub fn run(args: &ImportArgs) -> anyhow::Result<String> {
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
    };
    io::save(&lab, &args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
    Ok(format!("imported {} into {}\n", args.file.display(), args.output.display()))
}

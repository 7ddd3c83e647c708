//! `pagelab sample`: writes one of the built-in sample labs, or lists them.

use crate::lab::{io, samples};
use anyhow::{Context, bail};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The sample's name (see --list).
    #[arg(required_unless_present = "list")]
    pub name: Option<String>,
    /// Output lab file.
    #[arg(short = 'o', long = "output", required_unless_present = "list")]
    pub output: Option<PathBuf>,
    /// List the samples: name, then title.
    #[arg(long, conflicts_with_all = ["name", "output"])]
    pub list: bool,
}

pub fn run(args: &SampleArgs) -> anyhow::Result<String> {
    if args.list {
        let mut out = String::new();
        for name in samples::names() {
            let lab = samples::build(name)?;
            let _ = writeln!(out, "{name:<18} {}", lab.title);
        }
        return Ok(out);
    }
    let (Some(name), Some(output)) = (&args.name, &args.output) else {
        bail!("give a sample name and -o LAB, or --list");
    };
    let lab = samples::build(name)?;
    io::save(&lab, output).with_context(|| format!("cannot write {}", output.display()))?;
    Ok(format!("wrote {} ({})\n", output.display(), lab.title))
}

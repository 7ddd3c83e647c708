//! `pagelab import`: labs from the output of OSTEP's paging simulators, from a real process's
//! `/proc/PID/maps` (see [`super::procmaps`]), and from real kernels' page-table dumps (xv6's
//! vmprint, Linux's ptdump, QEMU's `info mem`); and `pagelab export vmprint`, the way back.

use super::procmaps::{self, ProcMapsArgs};
use crate::lab::dump_import::{self, DumpKind};
use crate::lab::{io, ostep, ostep_import, vmprint};
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
    /// xv6's vmprint() output (MIT 6.1810 pgtbl lab): an Sv39 lab, tables at their real addresses.
    Vmprint,
    /// Linux's x86-64 /sys/kernel/debug/page_tables/* dump: its mappings, page sizes and rights.
    Ptdump,
    /// QEMU monitor `info mem` output (x86-64 guest): its ranges and rights.
    QemuInfoMem,
    /// QEMU monitor `info tlb` output (x86-64 guest): each page at its physical address.
    QemuInfoTlb,
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
        ImportKind::Vmprint => return import_dump(args, DumpKind::Vmprint, &text),
        ImportKind::Ptdump => return import_dump(args, DumpKind::Ptdump, &text),
        ImportKind::QemuInfoMem => return import_dump(args, DumpKind::QemuInfoMem, &text),
        ImportKind::QemuInfoTlb => return import_dump(args, DumpKind::QemuInfoTlb, &text),
    };
    io::save(&lab, &args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
    Ok(format!("imported {} into {}\n", args.file.display(), args.output.display()))
}

/// A kernel's page-table dump, through the same core entry point as the app's import dialog.
fn import_dump(args: &ImportArgs, kind: DumpKind, text: &str) -> anyhow::Result<String> {
    let (lab, detail) =
        dump_import::import(kind, text, &args.file.display().to_string()).map_err(|e| anyhow!(e))?;
    io::save(&lab, &args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
    Ok(format!("imported {} into {}{detail}", args.file.display(), args.output.display()))
}

#[derive(Debug, Args)]
pub struct VmprintExportArgs {
    /// An Sv39 lab.
    pub lab: PathBuf,
    /// Print only this process (name or index); every process otherwise.
    #[arg(long)]
    pub process: Option<String>,
    /// Name entries by index (`.. ..511:`), as handouts before 2024 did, not by virtual address.
    #[arg(long)]
    pub indices: bool,
}

/// `pagelab export vmprint LAB [--process P] [--indices]`.
pub fn export_vmprint(args: &VmprintExportArgs) -> anyhow::Result<String> {
    let lab = io::load(&args.lab).map_err(|e| anyhow!("{}: {e}", args.lab.display()))?;
    let process = match &args.process {
        Some(key) => Some(lab.machine.find_process(key).map_err(|e| anyhow!("--process: {e}"))?),
        None => None,
    };
    let style = if args.indices { vmprint::Style::Index } else { vmprint::Style::Address };
    vmprint::export(&lab.machine, process, style).map_err(|e| anyhow!("{}: {e}", args.lab.display()))
}

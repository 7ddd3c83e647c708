//! `pagelab import`: labs from the output of OSTEP's paging simulators, from a real process's
//! `/proc/PID/maps` (see [`super::procmaps`]), and from real kernels' page-table dumps (xv6's
//! vmprint, Linux's ptdump, QEMU's `info mem`); and `pagelab export vmprint`, the way back.

use super::procmaps::{self, ProcMapsArgs};
use crate::lab::{dump_lab, io, ostep, ostep_import, ptdump, qemu_info, vmprint};
use crate::sim::addr::format_size;
use anyhow::{Context, anyhow, bail};
use clap::{Args, ValueEnum};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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
        ImportKind::Vmprint => return import_vmprint(&args.file, &text, &args.output),
        ImportKind::Ptdump => {
            let dump = ptdump::parse(&text).map_err(|e| where_(&e))?;
            let describe = format!(
                "Imported from {}, a Linux x86-64 page-table dump (/sys/kernel/debug/page_tables). \
                 Each present run is mapped with its level's page size (pte 4 KiB, pmd 2 MiB, pud 1 GiB) \
                 and its rights (USR: U/S, RW: R/W, NX, GLB: G, PCD, PWT) onto fresh, zero frames: \
                 the dump holds no physical addresses.",
                args.file.display()
            );
            let holes = format!("{} unmapped run(s) in {} section(s)", dump.holes, dump.sections.len());
            return import_mappings(
                args,
                &dump.mappings,
                "Linux kernel page tables (ptdump)",
                &describe,
                &holes,
            );
        }
        ImportKind::QemuInfoMem => {
            let mappings = qemu_info::parse_info_mem(&text).map_err(|e| where_(&e))?;
            let describe = format!(
                "Imported from {}, QEMU's `info mem` (x86-64 guest). It shows neither page sizes \
                 nor NX: each range is mapped with the largest pages its alignment allows, executable, \
                 onto fresh, zero frames.",
                args.file.display()
            );
            return import_mappings(args, &mappings, "Guest page tables (QEMU info mem)", &describe, "");
        }
        ImportKind::QemuInfoTlb => {
            let mappings = qemu_info::parse_info_tlb(&text).map_err(|e| where_(&e))?;
            let describe = format!(
                "Imported from {}, QEMU's `info tlb` (x86-64 guest): each page at the physical \
                 address QEMU printed, with its rights and A/D bits. A large page is 2 MiB unless its \
                 addresses are 1 GiB aligned and the next page starts at least 1 GiB later.",
                args.file.display()
            );
            return import_mappings(args, &mappings, "Guest page tables (QEMU info tlb)", &describe, "");
        }
    };
    io::save(&lab, &args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
    Ok(format!("imported {} into {}\n", args.file.display(), args.output.display()))
}

fn import_vmprint(file: &Path, text: &str, output: &Path) -> anyhow::Result<String> {
    let where_ = |e: &dyn std::fmt::Display| anyhow!("{}: {e}", file.display());
    let parsed = vmprint::parse(text).map_err(|e| where_(&e))?;
    let (lab, summary) = vmprint::build_lab(&parsed, &file.display().to_string()).map_err(|e| where_(&e))?;
    io::save(&lab, output).with_context(|| format!("cannot write {}", output.display()))?;
    let pages = summary
        .pages_by_size
        .iter()
        .map(|(size, count)| format!("{count} x {}", format_size(*size)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = format!(
        "imported {} into {}: {} process(es), {} entries in {} table(s), pages {pages}; memory {}\n",
        file.display(),
        output.display(),
        summary.processes,
        summary.entries,
        summary.tables,
        format_size(summary.memory)
    );
    if summary.ignored_lines > 0 {
        let _ = writeln!(out, "  ignored {} line(s) that are not vmprint output", summary.ignored_lines);
    }
    Ok(out)
}

fn import_mappings(
    args: &ImportArgs,
    mappings: &[dump_lab::Mapping],
    title: &str,
    describe: &str,
    note: &str,
) -> anyhow::Result<String> {
    let (lab, summary) = dump_lab::build_lab(mappings, title, describe)
        .map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    io::save(&lab, &args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
    let note = if note.is_empty() { String::new() } else { format!(" ({note})") };
    Ok(format!(
        "imported {} into {}{note}: {}",
        args.file.display(),
        args.output.display(),
        dump_lab::summary_text(&summary)
    ))
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

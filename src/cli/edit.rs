//! `pagelab new`, `map` and `unmap`: commands that change a lab file (saved atomically).

use crate::doc::{Document, Edit};
use crate::lab::{Lab, io};
use crate::sim::addr::{format_size, parse_size, parse_u64};
use crate::sim::machine::{MapRequest, MapTarget};
use crate::sim::mmu::{AdTiming, MAX_PHYS_BITS};
use crate::sim::{Arch, Machine, presets};
use crate::sim::{PhysAddr, VirtAddr};
use anyhow::{Context, anyhow, bail};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct NewArgs {
    /// Paging format: x86-32, x86-pae, x86-64, x86-64-la57, sv32, sv39, sv48, sv57,
    /// ostep-multilevel, ostep-linear.
    #[arg(long)]
    pub format: String,
    /// Output lab file.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Physical memory size (e.g. 64m, 4g); defaults to a size that suits the format.
    #[arg(long)]
    pub memory: Option<String>,
    /// For ostep-linear: the address-space size (default 16k).
    #[arg(long)]
    pub address_space: Option<String>,
    /// For ostep-linear: the page size (default 4k).
    #[arg(long)]
    pub page_size: Option<String>,
    /// The lab's title.
    #[arg(long)]
    pub title: Option<String>,
    /// x86 MAXPHYADDR, 36 to 52 (default 52): entry address bits at or above it are reserved.
    /// For PAE and x86-64, and for x86-32 with --pse36 (36 to 40 there).
    #[arg(long)]
    pub maxphyaddr: Option<u8>,
    /// x86-32: PSE-36, 4 MiB pages above 4 GiB (PDE bits 20:13 are physical bits 39:32).
    #[arg(long)]
    pub pse36: bool,
    /// x86: when walks set accessed/dirty flags: after-walk (the default: only after a
    /// successful walk, as Intel CPUs do per KVM) or as-walked (QEMU: A on each upper entry as
    /// the walk passes it, even when it then faults).
    #[arg(long, value_name = "after-walk|as-walked")]
    pub ad_timing: Option<String>,
    /// Nested paging: host tables (ept, ept5, sv39x4, sv48x4) under a guest of --format, whose
    /// tables live in guest-physical memory; memory is then host-physical.
    #[arg(long, value_name = "HOST")]
    pub nested: Option<String>,
}

#[derive(Debug, Args)]
pub struct MapArgs {
    pub lab: PathBuf,
    /// Process name or number (default: the active process).
    #[arg(long)]
    pub process: Option<String>,
    /// Virtual address of the first page (hex 0x... or decimal).
    pub va: String,
    /// Bytes to map (rounded up to whole pages); default one page.
    #[arg(long)]
    pub length: Option<String>,
    /// Physical address of the first frame (consecutive frames follow).
    #[arg(long, conflicts_with = "alloc")]
    pub to: Option<String>,
    /// Take fresh frames from the allocator (the default).
    #[arg(long)]
    pub alloc: bool,
    /// Page size: 4k, 2m, 1g, 4m, ... (one the format has).
    #[arg(long)]
    pub page_size: Option<String>,
    /// Comma-separated leaf flags, e.g. "R/W,U/S,NX" or "R,W,X,U"; the present bit is implied.
    /// Without it the format's defaults apply. "none" sets only the present bit.
    #[arg(long)]
    pub flags: Option<String>,
    /// Nested lab: map guest virtual pages in the guest's tables (ADDR is a guest-virtual
    /// address, --to a guest-physical one; fresh guest-physical frames by default).
    #[arg(long, conflicts_with_all = ["host", "process"])]
    pub guest: bool,
    /// Nested lab: map guest-physical pages in the host's tables (ADDR is guest-physical, --to
    /// host-physical; --flags from R, W, X, all three by default).
    #[arg(long, conflicts_with = "process")]
    pub host: bool,
}

#[derive(Debug, Args)]
pub struct UnmapArgs {
    pub lab: PathBuf,
    #[arg(long)]
    pub process: Option<String>,
    /// Virtual address of the first page.
    pub va: String,
    /// Bytes to unmap; default one page.
    #[arg(long)]
    pub length: Option<String>,
}

/// Loads a lab for a command, with the file name in the error.
pub fn load_lab(path: &Path) -> anyhow::Result<Lab> {
    io::load(path).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// A document for a command that edits a lab: the same write path as the app, with the
/// exercise's locks enforced (a script cannot change what a student could not).
pub fn editing(lab: Lab) -> Document {
    let mut doc = Document::new(lab, None);
    doc.enforce_locks = true;
    doc
}

pub fn save_lab(lab: &Lab, path: &Path) -> anyhow::Result<()> {
    io::save(lab, path).with_context(|| format!("cannot write {}", path.display()))
}

/// The process a command acts on: by name or number, else the active one.
pub fn pick_process(machine: &Machine, key: Option<&str>) -> anyhow::Result<usize> {
    match key {
        Some(k) => Ok(machine.find_process(k)?),
        None => Ok(machine.active()),
    }
}

pub fn parse_addr(what: &str, text: &str) -> anyhow::Result<u64> {
    parse_u64(text).map_err(|e| anyhow!("{what}: {e}"))
}

fn parse_len(text: Option<&str>) -> anyhow::Result<Option<u64>> {
    text.map(|t| parse_size(t).map_err(|e| anyhow!("--length: {e}"))).transpose()
}

pub fn new(args: &NewArgs) -> anyhow::Result<String> {
    let mut format = presets::by_name(&args.format).ok_or_else(|| {
        anyhow!("unknown format {:?}; choose one of {}", args.format, presets::NAMES.join(", "))
    })?;
    let size_arg = |name: &str, v: &Option<String>| -> anyhow::Result<Option<u64>> {
        v.as_deref().map(|t| parse_size(t).map_err(|e| anyhow!("--{name}: {e}"))).transpose()
    };
    let memory = size_arg("memory", &args.memory)?;
    let space = size_arg("address-space", &args.address_space)?;
    let page = size_arg("page-size", &args.page_size)?;
    if format.name == "ostep-linear" {
        let log2 = |name: &str, v: u64| -> anyhow::Result<u32> {
            if v.is_power_of_two() {
                Ok(v.trailing_zeros())
            } else {
                bail!("--{name} must be a power of two, not {v}")
            }
        };
        let va_bits = space.map(|s| log2("address-space", s)).transpose()?.unwrap_or(format.va_bits);
        let page_shift = page.map(|p| log2("page-size", p)).transpose()?.unwrap_or(format.page_shift);
        let pa_bits = memory.map(|m| log2("memory", m)).transpose()?.unwrap_or(format.pa_bits);
        format = presets::ostep_linear(va_bits, page_shift, pa_bits);
    } else if space.is_some() || page.is_some() {
        bail!("--address-space and --page-size apply to ostep-linear only");
    }
    format.validate().map_err(|e| anyhow!("{e}"))?;
    let mem_size = if format.name == "ostep-linear" {
        presets::default_memory(&format)
    } else {
        memory.unwrap_or_else(|| presets::default_memory(&format))
    };
    let host = args.nested.as_deref().map(super::nested::host_by_name).transpose()?;
    let mut machine = Machine::new(format, mem_size)?;
    apply_x86_switches(args, &mut machine)?;
    let title = args.title.clone().unwrap_or_else(|| format!("New {} lab", machine.format().name));
    let mut lab = Lab::new(&title, "", machine);
    if let Some(host) = host {
        super::nested::make_nested(&mut lab, host)?;
    }
    save_lab(&lab, &args.output)?;
    if let Some(setup) = &lab.nested {
        return Ok(super::nested::created(&args.output, &lab, setup));
    }
    Ok(format!(
        "created {} ({}, {} of physical memory, process \"{}\" with root frame {:#x})\n",
        args.output.display(),
        lab.machine.format().name,
        format_size(lab.machine.mem().size()),
        lab.machine.processes()[0].name,
        lab.machine.processes()[0].root
    ))
}

/// `new`'s CPU switches: MAXPHYADDR, PSE-36 and the A/D timing, each refused where it means
/// nothing.
fn apply_x86_switches(args: &NewArgs, machine: &mut Machine) -> anyhow::Result<()> {
    let format = machine.format();
    let x86 = format.arch == Arch::X86;
    let x86_32 = x86 && format.pte_bytes == 4;
    if args.pse36 && !x86_32 {
        bail!("--pse36 applies to x86-32 only (PAE and x86-64 reach 52 bits without it)");
    }
    let mut settings = *machine.settings();
    settings.pse36 = args.pse36;
    if let Some(bits) = args.maxphyaddr {
        // SDM 4.1.4: MAXPHYADDR is at most 52; CPUs with PAE report at least 36. With PSE-36,
        // 4 MiB pages reach 40 bits at most (SDM 4.3).
        let top = if x86_32 { 40 } else { MAX_PHYS_BITS };
        if !x86 || (x86_32 && !args.pse36) {
            bail!("--maxphyaddr applies to x86-pae, x86-64, x86-64-la57, and x86-32 with --pse36");
        }
        if !(36..=top).contains(&bits) {
            bail!("--maxphyaddr must be 36 to {top} for {}, not {bits}", format.name);
        }
        if !x86_32 && machine.mem().size() > 1u64 << bits {
            bail!(
                "--maxphyaddr {bits}: physical memory of {} does not fit in {bits}-bit addresses",
                format_size(machine.mem().size())
            );
        }
        settings.maxphyaddr = bits;
    }
    if let Some(text) = &args.ad_timing {
        if !x86 {
            bail!("--ad-timing applies to x86 formats (RISC-V's A/D follow Svade/Svadu)");
        }
        settings.ad_timing = match text.as_str() {
            "after-walk" => AdTiming::AfterWalk,
            "as-walked" => AdTiming::AsWalked,
            other => bail!("--ad-timing: expected after-walk or as-walked, not {other:?}"),
        };
    }
    machine.set_settings(settings);
    Ok(())
}

pub fn map(args: &MapArgs) -> anyhow::Result<String> {
    let lab = load_lab(&args.lab)?;
    if args.guest || args.host {
        let request = super::nested::NestedMap {
            host: args.host,
            addr: parse_addr("address", &args.va)?,
            len: parse_len(args.length.as_deref())?,
            to: super::nested::parse_to(args.to.as_deref())?,
            page_size: super::nested::parse_page_size(args.page_size.as_deref())?,
            flags: args.flags.as_deref(),
        };
        return super::nested::map(&args.lab, lab, &request);
    }
    if lab.nested.is_some() {
        bail!(
            "{} is a nested lab: say --guest (a guest-virtual page) or --host (a guest-physical page)",
            args.lab.display()
        );
    }
    let process = pick_process(&lab.machine, args.process.as_deref())?;
    let va = parse_addr("virtual address", &args.va)?;
    let len = parse_len(args.length.as_deref())?;
    let page_size = args
        .page_size
        .as_deref()
        .map(|p| parse_size(p).map_err(|e| anyhow!("--page-size: {e}")))
        .transpose()?;
    let target = match &args.to {
        Some(pa) => MapTarget::To(PhysAddr::new(parse_addr("--to", pa)?)),
        None => MapTarget::Alloc,
    };
    let flags = args
        .flags
        .as_ref()
        .map(|f| f.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect());
    let size = page_size.unwrap_or(lab.machine.format().page_size());
    let request = MapRequest { va: VirtAddr::new(va), len: len.unwrap_or(size), target, page_size, flags };
    let name = lab.machine.processes()[process].name.clone();
    let mut doc = editing(lab);
    let pages = doc.apply(&Edit::Map { process, request })?.pages;
    save_lab(doc.lab(), &args.lab)?;
    Ok(format!("mapped {pages} page(s) of {} at {va:#x} in process \"{name}\"\n", format_size(size)))
}

pub fn unmap(args: &UnmapArgs) -> anyhow::Result<String> {
    let lab = load_lab(&args.lab)?;
    let process = pick_process(&lab.machine, args.process.as_deref())?;
    let va = parse_addr("virtual address", &args.va)?;
    let len = parse_len(args.length.as_deref())?.unwrap_or(lab.machine.format().page_size());
    let name = lab.machine.processes()[process].name.clone();
    let mut doc = editing(lab);
    let applied = doc.apply(&Edit::Unmap { process, va: VirtAddr::new(va), len })?;
    save_lab(doc.lab(), &args.lab)?;
    Ok(format!("unmapped {} page(s) in process \"{name}\"\n", applied.pages))
}

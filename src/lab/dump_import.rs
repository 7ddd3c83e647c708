//! Labs from real kernels' page-table dumps, one entry point for the command line and the app:
//! xv6's `vmprint()` output, Linux's ptdump, and QEMU's `info mem` / `info tlb`. The parsers are
//! in `vmprint.rs`, `ptdump.rs` and `qemu_info.rs`; the x86-64 labs are built by `dump_lab.rs`.

use super::{Lab, dump_lab, ptdump, qemu_info, vmprint};
use crate::sim::addr::format_size;
use std::fmt::Write as _;

/// Which dump a text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpKind {
    /// xv6's vmprint() output (MIT 6.1810 pgtbl lab): an Sv39 lab, tables at their real addresses.
    Vmprint,
    /// Linux's x86-64 /sys/kernel/debug/page_tables/* dump: its mappings, page sizes and rights.
    Ptdump,
    /// QEMU monitor `info mem` (x86-64 guest): its ranges and rights.
    QemuInfoMem,
    /// QEMU monitor `info tlb` (x86-64 guest): each page at its physical address.
    QemuInfoTlb,
}

impl DumpKind {
    pub const ALL: [DumpKind; 4] =
        [DumpKind::Vmprint, DumpKind::Ptdump, DumpKind::QemuInfoMem, DumpKind::QemuInfoTlb];

    /// How menus and dialogs name it.
    pub fn label(self) -> &'static str {
        match self {
            DumpKind::Vmprint => "xv6 vmprint()",
            DumpKind::Ptdump => "Linux ptdump (x86-64)",
            DumpKind::QemuInfoMem => "QEMU info mem (x86-64)",
            DumpKind::QemuInfoTlb => "QEMU info tlb (x86-64)",
        }
    }
}

/// The lab a dump describes, and what was imported, in words that follow "imported FILE into
/// OUT" (": 2 process(es), …", or " (notes): …" with the runs that could not be built).
/// `source` names the file in the lab's description and in errors.
pub fn import(kind: DumpKind, text: &str, source: &str) -> Result<(Lab, String), String> {
    let where_ = |e: &dyn std::fmt::Display| format!("{source}: {e}");
    match kind {
        DumpKind::Vmprint => {
            let parsed = vmprint::parse(text).map_err(|e| where_(&e))?;
            let (lab, summary) = vmprint::build_lab(&parsed, source).map_err(|e| where_(&e))?;
            let pages = super::procmaps::pages_summary(&summary.pages_by_size);
            let mut out = format!(
                ": {} process(es), {} entries in {} table(s), pages {pages}; memory {}\n",
                summary.processes,
                summary.entries,
                summary.tables,
                format_size(summary.memory)
            );
            if summary.ignored_lines > 0 {
                let _ =
                    writeln!(out, "  ignored {} line(s) that are not vmprint output", summary.ignored_lines);
            }
            Ok((lab, out))
        }
        DumpKind::Ptdump => {
            let dump = ptdump::parse(text).map_err(|e| where_(&e))?;
            let describe = format!(
                "Imported from {source}, a Linux x86-64 page-table dump (/sys/kernel/debug/page_tables). \
                 Each present run is mapped with its level's page size (pte 4 KiB, pmd 2 MiB, pud 1 GiB) \
                 and its rights (USR: U/S, RW: R/W, NX, GLB: G, PCD, PWT) onto fresh, zero frames: \
                 the dump holds no physical addresses."
            );
            let holes = format!("{} unmapped run(s) in {} section(s)", dump.holes, dump.sections.len());
            mappings_lab(&dump.mappings, "Linux kernel page tables (ptdump)", &describe, &holes, source)
        }
        DumpKind::QemuInfoMem => {
            let mappings = qemu_info::parse_info_mem(text).map_err(|e| where_(&e))?;
            let describe = format!(
                "Imported from {source}, QEMU's `info mem` (x86-64 guest). It shows neither page sizes \
                 nor NX: each range is mapped with the largest pages its alignment allows, executable, \
                 onto fresh, zero frames."
            );
            mappings_lab(&mappings, "Guest page tables (QEMU info mem)", &describe, "", source)
        }
        DumpKind::QemuInfoTlb => {
            let mappings = qemu_info::parse_info_tlb(text).map_err(|e| where_(&e))?;
            let describe = format!(
                "Imported from {source}, QEMU's `info tlb` (x86-64 guest): each page at the physical \
                 address QEMU printed, with its rights and A/D bits. A large page is 2 MiB unless its \
                 addresses are 1 GiB aligned and the next page starts at least 1 GiB later."
            );
            mappings_lab(&mappings, "Guest page tables (QEMU info tlb)", &describe, "", source)
        }
    }
}

fn mappings_lab(
    mappings: &[dump_lab::Mapping],
    title: &str,
    describe: &str,
    note: &str,
    source: &str,
) -> Result<(Lab, String), String> {
    let (lab, summary) =
        dump_lab::build_lab(mappings, title, describe).map_err(|e| format!("{source}: {e}"))?;
    let note = if note.is_empty() { String::new() } else { format!(" ({note})") };
    Ok((lab, format!("{note}: {}", dump_lab::summary_text(&summary))))
}

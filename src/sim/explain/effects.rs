//! What else a fix changes, in words: pages under a non-leaf entry that gain or lose a right,
//! other processes that share the edited table, switches that act on every page, frames and
//! tables a map allocates, and the other accesses to the same page whose outcome changes.

use super::fix::{Change, Switch};
use super::rule::level_name;
use crate::sim::addr::format_size;
use crate::sim::fault::{Access, Mode};
use crate::sim::format::Role;
use crate::sim::machine::Machine;
use crate::sim::mmu::Translation;
use crate::sim::table::{self, TableRef};
use std::collections::BTreeSet;

/// Most entries looked at when counting the pages under an entry.
const COUNT_LIMIT: u64 = 1 << 20;

pub(super) fn side_effects(
    before: &Machine,
    after: &Machine,
    process: usize,
    original: &Translation,
    chain: &[Change],
) -> Vec<String> {
    let mut out = Vec::new();
    let walk_after = after.translate(process, original.va, original.access, original.mode).ok();
    for change in chain {
        match change {
            Change::Field { level, entry_addr, field, from, to } => {
                let f = after.format();
                let role = f.field_named_at(field, *level).map_or(Role::Other, |d| d.role);
                let step =
                    walk_after.as_ref().and_then(|t| t.steps.iter().find(|s| s.entry_addr == *entry_addr));
                let old_step = original.steps.iter().find(|s| s.entry_addr == *entry_addr);
                if role == Role::Present
                    && let Some(slot) = old_step.and_then(|s| super::search::swap_slot(before, s))
                {
                    out.push(format!(
                        "the entry's other bits also read as swap slot {slot} in the OS model's encoding: \
                         if the page was swapped out, setting {field} maps frame {:#x}, not its contents",
                        f.frame(old_step.map_or(0, |s| s.raw), *level)
                    ));
                }
                if role == Role::Frame {
                    out.push(format!(
                        "the entry at {entry_addr:#x} now points to frame {to:#x} instead of {from:#x}: \
                         the page shows what that frame holds"
                    ));
                }
                if let Some(step) = step.filter(|s| !s.leaf) {
                    out.push(under_entry(after, step.level, step.raw, role, *to, entry_addr.get()));
                }
                if let Some(step) = step {
                    let sharing =
                        sharers(before, process, TableRef { level: step.level, addr: step.table_addr });
                    if !sharing.is_empty() {
                        out.push(format!(
                            "the {} at {:#x} holding this entry is also used by {}: the change applies there too",
                            level_name(f, step.level),
                            step.table_addr,
                            sharing.join(", ")
                        ));
                    }
                }
            }
            Change::Switch { switch, to, .. } => out.push(switch_effect(*switch, *to).to_string()),
            Change::Map { .. } => {
                let new_frames = after.mem().allocated_count().saturating_sub(before.mem().allocated_count());
                let tables = new_frames.saturating_sub(1);
                let pa = walk_after.as_ref().and_then(Translation::pa).map_or(0, u64::from);
                let mut text = format!(
                    "allocates a fresh, zeroed frame at {:#x} for the page",
                    pa & !(after.format().page_size() - 1)
                );
                if tables > 0 {
                    text.push_str(&format!(" and {tables} new table frame(s) on the way"));
                }
                out.push(text);
                if let Some(slot) = original.steps.last().and_then(|s| super::search::swap_slot(before, s)) {
                    out.push(format!(
                        "the old entry reads as swap slot {slot} in the OS model's encoding: if the page was \
                         swapped out, its contents are no longer reached (demand paging would read them back)"
                    ));
                }
                // The not-present entry's table may be shared (a kernel half): the page appears
                // in every process that reaches it.
                if let Some(last) = original.steps.last() {
                    let sharing =
                        sharers(before, process, TableRef { level: last.level, addr: last.table_addr });
                    if !sharing.is_empty() {
                        out.push(format!(
                            "the {} at {:#x} that gets the new entry is also used by {}: the page appears there too",
                            level_name(after.format(), last.level),
                            last.table_addr,
                            sharing.join(", ")
                        ));
                    }
                }
            }
            Change::LoadCr3 { .. } => out.push(
                "reloads all four PDPTE registers from memory; the TLB's non-global entries are \
                 flushed too (a CR3 load does, SDM Vol. 3A 4.10.4.1)"
                    .to_string(),
            ),
        }
    }
    out.extend(other_accesses(before, after, process, original));
    out
}

/// "also makes the other 511 mapped pages under this PD entry (1 GiB) user-accessible".
fn under_entry(m: &Machine, level: usize, raw: u64, role: Role, to: u64, entry_addr: u64) -> String {
    let f = m.format();
    let span = format_size(1u64 << f.entry_span_shift(level).min(63));
    let (pages, complete) = mappings_under(m, level, raw);
    let others = pages.saturating_sub(1);
    let what = match (role, to) {
        (Role::User, 1) => "user-accessible",
        (Role::User, _) => "supervisor-only",
        (Role::Writable, 1) => "writable",
        (Role::Writable, _) => "read-only",
        (Role::NoExecute, 0) => "executable",
        (Role::NoExecute, _) => "non-executable",
        (Role::Present, 1) => "reachable",
        _ => "affected by this change",
    };
    let at_least = if complete { "" } else { "at least " };
    let name = level_name(f, level);
    if others == 0 {
        format!(
            "this {name} entry at {entry_addr:#x} covers {span}: any page mapped under it later is {what} too"
        )
    } else {
        format!(
            "also makes the other {at_least}{others} mapped page(s) under this {name} entry at {entry_addr:#x} \
             ({span} of address space) {what}"
        )
    }
}

/// Mappings (leaves) in the subtree under a non-leaf entry, and whether the count is complete.
fn mappings_under(m: &Machine, level: usize, raw: u64) -> (u64, bool) {
    let f = m.format();
    let Some(child) = table::child_table_addr(f, raw, level) else { return (0, true) };
    let mut stack = vec![TableRef { level: level + 1, addr: child }];
    let mut seen = BTreeSet::new();
    let (mut count, mut looked) = (0u64, 0u64);
    while let Some(t) = stack.pop() {
        let fits = t.addr.checked_add(f.table_bytes(t.level)).is_some_and(|e| e.get() <= m.mem().size());
        if t.level >= f.levels.len() || !fits || !seen.insert(t) {
            continue;
        }
        table::for_each_present(m.mem(), f, t, |e| {
            looked += 1;
            if f.is_leaf(e.raw, e.level) {
                count += 1;
            } else if let Some(addr) = table::child_table_addr(f, e.raw, e.level) {
                stack.push(TableRef { level: e.level + 1, addr });
            }
        });
        if looked > COUNT_LIMIT {
            return (count, false);
        }
    }
    (count, true)
}

/// Names of the other processes whose tree reaches `table`.
fn sharers(m: &Machine, process: usize, table: TableRef) -> Vec<String> {
    m.processes()
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != process)
        .filter(|(_, p)| table::tables(m.mem(), m.format(), p.root).binary_search(&table).is_ok())
        .map(|(_, p)| format!("process \"{}\"", p.name))
        .collect()
}

fn switch_effect(switch: Switch, to: u64) -> &'static str {
    match (switch, to) {
        (Switch::Wp, 0) => {
            "CR0.WP=0: supervisor-mode writes ignore R/W on every page of every process \
             (the kernel can no longer rely on read-only pages, e.g. for copy-on-write)"
        }
        (Switch::Smep, 0) => {
            "CR4.SMEP=0: supervisor-mode fetches from every user page are allowed, in every process"
        }
        (Switch::Smap, 0) => {
            "CR4.SMAP=0: supervisor-mode data accesses to every user page are allowed, in every process \
             (kernels instead set EFLAGS.AC with STAC around one access)"
        }
        (Switch::Ac, 1) => {
            "EFLAGS.AC=1 (STAC): explicit supervisor-mode data accesses to user pages pass SMAP \
             until CLAC, as a kernel does around one copy from or to user memory"
        }
        (Switch::Nxe, 1) => {
            "IA32_EFER.NXE=1: NX becomes meaningful on every page: fetches from NX pages fault"
        }
        (Switch::Sum, 1) => {
            "sstatus.SUM=1: S-mode loads and stores to every U page are allowed \
             (kernels set it only around copies from and to user memory)"
        }
        (Switch::Mxr, 1) => "sstatus.MXR=1: loads from every executable page are allowed",
        (Switch::Adue, 1) => {
            "menvcfg.ADUE=1 (Svadu): hardware sets A and D on every page instead of faulting"
        }
        _ => "changes how every access in every process is checked",
    }
}

/// The other (access, mode) pairs on the same address whose outcome the fix changes, as at most
/// two lines: what it also allows, and what faults now that did not.
fn other_accesses(before: &Machine, after: &Machine, process: usize, original: &Translation) -> Vec<String> {
    let (mut allows, mut refuses) = (Vec::new(), Vec::new());
    for mode in [Mode::User, Mode::Supervisor] {
        for access in Access::ALL {
            if (access, mode) == (original.access, original.mode) {
                continue;
            }
            let walk = |m: &Machine| m.translate(process, original.va, access, mode).ok();
            let (Some(old), Some(new)) = (walk(before), walk(after)) else { continue };
            let what = format!("{}-mode {}", mode.label(), access.label());
            match (old.fault(), new.fault()) {
                (Some(_), None) => allows.push(what),
                (None, Some(fault)) => refuses.push(format!("{what} ({})", fault.kind.id())),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    if !allows.is_empty() {
        out.push(format!("also allows on this page: {}", allows.join(", ")));
    }
    if !refuses.is_empty() {
        out.push(format!("now faults on this page, allowed before: {}", refuses.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::VirtAddr;
    use crate::sim::machine::{MapRequest, MapTarget};
    use crate::sim::presets;

    #[test]
    fn pages_under_a_pd_entry_are_counted_from_memory() {
        let mut m = Machine::new(presets::by_name("x86-64").unwrap(), 16 << 20).unwrap();
        let request = MapRequest {
            va: VirtAddr::new(0x40_0000),
            len: 0x3000,
            target: MapTarget::Alloc,
            page_size: None,
            flags: None,
        };
        m.map(0, &request).unwrap();
        let t = m.translate(0, VirtAddr::new(0x40_0000), Access::Read, Mode::User).unwrap();
        let pd = &t.steps[2];
        assert_eq!(mappings_under(&m, pd.level, pd.raw), (3, true));
        let text = under_entry(&m, pd.level, pd.raw, Role::User, 1, pd.entry_addr.get());
        assert!(text.contains("other 2 mapped page(s)") && text.contains("2 MiB"), "{text}");
    }
}

//! Reference strings through the OS model: the text form (`1,2,3w`, `init:7`, `0x4000w`), the
//! accesses it stands for, a run stepped one access at a time, and the fault curve.
//!
//! Page `N` of a reference string is the page `N` pages above [`ref_base`] in the named process
//! (the active one by default); a hex address names the page containing it. A `w` suffix makes
//! the access a write (an `r` suffix, or none, a read).

use super::super::fault::{Access, FaultKind, Mode};
use super::super::format::PagingFormat;
use super::super::machine::Machine;
use super::super::replay::{UnknownProcess, access_of};
use super::super::trace::{TraceRecord, pages_touched};
use super::future::{Future, PageKey};
use super::model::{Handled, Os, OsError};
use super::settings::{OsModel, OsSettings};
use super::swap::SwapPages;
use crate::sim::address::VirtAddr;
use thiserror::Error;

/// One entry of a reference string as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefToken {
    pub process: Option<String>,
    pub target: RefTarget,
    pub write: bool,
}

/// What a reference names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefTarget {
    /// A page number, counted from [`ref_base`].
    Page(u64),
    /// A virtual address (`0x...`).
    Address(VirtAddr),
}

/// An entry that does not parse or does not fit the lab.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("reference {number} ({token:?}): {message}")]
pub struct RefError {
    /// 1-based position in the string.
    pub number: usize,
    pub token: String,
    pub message: String,
}

/// Parses a reference string: entries separated by commas or white space.
///
/// # Errors
/// The first entry that is not `[PROCESS:]PAGE[w|r]` or `[PROCESS:]0xADDR[w|r]`.
pub fn parse_refs(text: &str) -> Result<Vec<RefToken>, RefError> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .enumerate()
        .map(|(i, token)| {
            parse_token(token).map_err(|message| RefError { number: i + 1, token: token.into(), message })
        })
        .collect()
}

fn parse_token(token: &str) -> Result<RefToken, String> {
    let (process, rest) = match token.rsplit_once(':') {
        Some((name, rest)) if !name.is_empty() => (Some(name.to_string()), rest),
        Some(_) => return Err("a process name goes before the colon".into()),
        None => (None, token),
    };
    let (number, write) = match rest.char_indices().last() {
        Some((at, 'w' | 'W')) => (rest.get(..at).unwrap_or(""), true),
        Some((at, 'r' | 'R')) => (rest.get(..at).unwrap_or(""), false),
        _ => (rest, false),
    };
    let target = if let Some(hex) = number.strip_prefix("0x").or_else(|| number.strip_prefix("0X")) {
        let digits: String = hex.chars().filter(|&c| c != '_').collect();
        RefTarget::Address(VirtAddr::new(
            u64::from_str_radix(&digits, 16).map_err(|_| format!("{number:?} is not a hex address"))?,
        ))
    } else {
        RefTarget::Page(number.parse::<u64>().map_err(|_| {
            format!(
                "expected a page number or a 0x address, with an optional w (write) suffix; found {number:?}"
            )
        })?)
    };
    Ok(RefToken { process, target, write })
}

/// The virtual address of page 0 of a reference string: 256 MiB up where the address space
/// allows (clear of the sample labs' mappings), else 0.
#[must_use]
pub fn ref_base(format: &PagingFormat) -> VirtAddr {
    VirtAddr::new(if format.va_bits >= 32 { 0x1000_0000 } else { 0 })
}

/// One access of a run: a page of a process, read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefAccess {
    pub process: usize,
    pub va: VirtAddr,
    pub access: Access,
}

/// The accesses a parsed reference string stands for in `machine`.
///
/// # Errors
/// An unknown process, or a page beyond the virtual address space.
pub fn resolve(machine: &Machine, tokens: &[RefToken]) -> Result<Vec<RefAccess>, RefError> {
    let format = &machine.format;
    tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let fail = |message: String| RefError { number: i + 1, token: describe(token), message };
            let process = match &token.process {
                Some(name) => machine.find_process(name).map_err(|e| fail(e.to_string()))?,
                None => machine.active,
            };
            let va = match token.target {
                RefTarget::Address(va) => va,
                RefTarget::Page(page) => page
                    .checked_shl(format.page_shift)
                    .filter(|offset| offset >> format.page_shift == page)
                    .and_then(|offset| ref_base(format).checked_add(offset))
                    .ok_or_else(|| fail(format!("page {page} is beyond the address space")))?,
            };
            if !format.va_in_range(va.get()) {
                return Err(fail(format!("{va:#x} is beyond the {}-bit address space", format.va_bits)));
            }
            let access = if token.write { Access::Write } else { Access::Read };
            Ok(RefAccess { process, va, access })
        })
        .collect()
}

fn describe(token: &RefToken) -> String {
    let process = token.process.as_ref().map_or(String::new(), |p| format!("{p}:"));
    let target = match token.target {
        RefTarget::Page(page) => page.to_string(),
        RefTarget::Address(va) => format!("{va:#x}"),
    };
    format!("{process}{target}{}", if token.write { "w" } else { "" })
}

/// The accesses of trace records, one per distinct page a record touches (as the replayer
/// counts lookups), at most `limit` of them.
///
/// # Errors
/// [`UnknownProcess`] when a record names a process the machine does not have.
pub fn from_trace<'a>(
    machine: &Machine,
    records: impl IntoIterator<Item = &'a TraceRecord>,
    limit: usize,
) -> Result<Vec<RefAccess>, UnknownProcess> {
    let shift = machine.format.page_shift;
    let mut process = machine.active;
    let mut accesses = Vec::new();
    for record in records {
        if let Some(name) = &record.process {
            process = machine.find_process(name).map_err(|_| UnknownProcess(name.clone()))?;
        }
        for page in pages_touched(record.addr, record.size, shift) {
            if accesses.len() >= limit {
                return Ok(accesses);
            }
            let va = VirtAddr::new(page.checked_shl(shift).map_or(record.addr, |base| base.max(record.addr)));
            accesses.push(RefAccess { process, va, access: access_of(record.kind) });
        }
    }
    Ok(accesses)
}

/// What one access of a run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRecord {
    /// 0-based position in the run.
    pub index: usize,
    pub access: RefAccess,
    /// The page was resident.
    pub hit: bool,
    /// The page load the access caused, with its eviction.
    pub load: Option<Handled>,
    /// A fault left unresolved (manual model, a protection fault, a failed handler).
    pub fault: Option<FaultKind>,
    /// A write to a copy-on-write page the handler resolved (a fault, though no page loaded).
    pub cow: Option<crate::sim::cow::CowEvent>,
    pub error: Option<String>,
}

/// A reference string run through the OS model on its own copy of a machine.
#[derive(Clone, Debug)]
pub struct RefRun {
    machine: Machine,
    os: Os,
    accesses: Vec<RefAccess>,
    log: Vec<StepRecord>,
}

impl RefRun {
    /// A run of `accesses` on `machine` (OPT is told the whole string).
    ///
    /// # Errors
    /// Settings the model refuses, or a format without room for swap entries.
    pub fn new(machine: Machine, settings: OsSettings, accesses: Vec<RefAccess>) -> Result<Self, OsError> {
        let mut os = Os::new(settings, &machine.format)?;
        os.set_future(Future::new(accesses.iter().map(|a| os.key(a.process, a.va))));
        Ok(Self { machine, os, accesses, log: Vec::new() })
    }

    /// The run starting from a saved swap area (see [`Os::with_swap`]).
    #[must_use]
    pub fn with_swap(mut self, pages: SwapPages) -> Self {
        self.os = self.os.with_swap(pages);
        self
    }

    /// Makes the next access; `None` at the end.
    pub fn step(&mut self) -> Option<&StepRecord> {
        let index = self.log.len();
        let access = *self.accesses.get(index)?;
        let record =
            match self.os.access(&mut self.machine, access.process, access.va, access.access, Mode::User) {
                Ok(done) => StepRecord {
                    index,
                    access,
                    hit: done.hit(),
                    load: done.page_load().cloned(),
                    fault: done.translation.fault().map(|f| f.kind),
                    cow: done.handled.iter().find_map(|h| h.cow.clone()),
                    error: done.error.map(|e| e.to_string()),
                },
                Err(e) => StepRecord {
                    index,
                    access,
                    hit: false,
                    load: None,
                    fault: None,
                    cow: None,
                    error: Some(e.to_string()),
                },
            };
        self.log.push(record);
        self.log.last()
    }

    /// Makes every remaining access.
    pub fn run(&mut self) {
        while self.step().is_some() {}
    }

    #[must_use]
    pub fn is_done(&self) -> bool {
        self.log.len() >= self.accesses.len()
    }

    #[must_use]
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    #[must_use]
    pub fn os(&self) -> &Os {
        &self.os
    }

    #[must_use]
    pub fn accesses(&self) -> &[RefAccess] {
        &self.accesses
    }

    /// The accesses made so far, in order.
    #[must_use]
    pub fn log(&self) -> &[StepRecord] {
        &self.log
    }

    /// The page an access names.
    #[must_use]
    pub fn key(&self, access: &RefAccess) -> PageKey {
        self.os.key(access.process, access.va)
    }
}

/// Page faults (page loads) for every frame count from 1 to `max_frames`, through the OS model
/// with demand paging on copies of `machine`: `(frames, faults)` sorted by frames.
#[must_use]
pub fn fault_curve(
    machine: &Machine,
    settings: OsSettings,
    accesses: &[RefAccess],
    max_frames: u32,
) -> Vec<(u32, u64)> {
    (1..=max_frames)
        .filter_map(|frames| {
            let settings = OsSettings { frames, model: OsModel::Demand, ..settings };
            let mut run = RefRun::new(machine.clone(), settings, accesses.to_vec()).ok()?;
            run.run();
            Some((frames, run.os().total().faults))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::presets;

    #[test]
    fn tokens_parse_with_processes_suffixes_and_addresses() {
        let tokens = parse_refs("1, 2w init:3 0x4000_1000W\t5r").expect("parses");
        assert_eq!(tokens.len(), 5);
        assert_eq!(tokens[1], RefToken { process: None, target: RefTarget::Page(2), write: true });
        assert_eq!(tokens[2].process.as_deref(), Some("init"));
        assert_eq!(tokens[3].target, RefTarget::Address(VirtAddr::new(0x4000_1000)));
        assert!(tokens[3].write);
        assert!(!tokens[4].write);
        let error = parse_refs("1,x,3").expect_err("x is not a page");
        assert_eq!((error.number, error.token.as_str()), (2, "x"));
        assert!(parse_refs(":3").is_err());
    }

    #[test]
    fn pages_resolve_above_the_base_and_unknown_processes_are_refused() {
        let machine = Machine::new(presets::by_name("x86-64").expect("preset"), 1 << 22).expect("machine");
        let accesses = resolve(&machine, &parse_refs("0,2w").expect("parses")).expect("resolves");
        assert_eq!(
            accesses[1],
            RefAccess { process: 0, va: VirtAddr::new(0x1000_2000), access: Access::Write }
        );
        assert!(resolve(&machine, &parse_refs("nobody:1").expect("parses")).is_err());
        let ostep =
            Machine::new(presets::by_name("ostep-multilevel").expect("preset"), 1 << 12).expect("machine");
        assert_eq!(resolve(&ostep, &parse_refs("3").expect("parses")).expect("resolves")[0].va.get(), 3 * 32);
        assert!(resolve(&ostep, &parse_refs("1024").expect("parses")).is_err());
    }
}

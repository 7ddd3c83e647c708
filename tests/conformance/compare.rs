//! What a query's result is made of on both sides (pagelab's expectation and what the probe saw
//! in QEMU), and the comparison that names the parts that differ.

use super::deviations;
use pagelab::sim::mmu::{Outcome, Request};
use pagelab::sim::{MmuSettings, Translation};
use std::fmt::Debug;

/// One query's result: the fault's code (RISC-V mcause, x86 vector and error code) or success,
/// the faulting address (mtval, CR2), the value read through the mapping (which names the
/// physical address, see the probes), and the walked entries as the access left them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub fault: Option<u64>,
    pub address: u64,
    pub value: u64,
    pub entries: Vec<u64>,
}

/// A query's result on both sides, with pagelab's walk for the rules that explain differences.
pub struct Case<'a> {
    pub format: &'a str,
    /// The format's number of levels.
    pub levels: usize,
    /// The switches pagelab walked with.
    pub settings: &'a MmuSettings,
    pub walk: &'a Translation,
    pub expected: &'a Seen,
    pub observed: &'a Seen,
    /// What QEMU should print by pagelab's walk of the tables as QEMU reads them, where a rule
    /// needs it (x86.rs: PAE PDPTE bits QEMU ignores).
    pub qemu_view: Option<&'a Seen>,
}

impl Case<'_> {
    /// The parts that differ: "fault", "address" (only when both fault), "value" (only when both
    /// succeed), "entries".
    pub fn differences(&self) -> Vec<&'static str> {
        let (e, o) = (self.expected, self.observed);
        let mut parts = Vec::new();
        if e.fault != o.fault {
            parts.push("fault");
        } else if e.fault.is_some() {
            if e.address != o.address {
                parts.push("address");
            }
        } else if e.value != o.value {
            parts.push("value");
        }
        if e.entries != o.entries {
            parts.push("entries");
        }
        parts
    }

    /// Whether the entries agree except for bits in `mask` that QEMU set on the steps `steps`.
    pub fn entries_differ_only_by(&self, mask: u64, steps: impl Fn(usize) -> bool) -> bool {
        let (e, o) = (&self.expected.entries, &self.observed.entries);
        e.len() == o.len()
            && e.iter().zip(o).enumerate().all(|(step, (&want, &got))| {
                want == got || (steps(step) && got & !mask == want && got & mask != 0)
            })
    }
}

/// The per-format tally the suite prints and checks.
#[derive(Default, Debug)]
pub struct Tally {
    pub queries: usize,
    pub agreed: usize,
    /// pagelab's outcomes over all queries ("mapped" or the fault kind): what the run covered.
    pub outcomes: std::collections::BTreeMap<String, usize>,
    /// Differences a deviation rule explains, by the rule's name.
    pub explained: std::collections::BTreeMap<&'static str, usize>,
    /// Descriptions of the differences nothing explains (the suite fails on any).
    pub unexplained: Vec<String>,
}

impl Tally {
    pub fn summary(&self, format: &str) -> String {
        let explained: Vec<String> = self.explained.iter().map(|(name, n)| format!("{name}: {n}")).collect();
        let outcomes: Vec<String> = self.outcomes.iter().map(|(name, n)| format!("{name} {n}")).collect();
        format!(
            "{format}: {} queries, {} agreed, explained by known QEMU deviations [{}], {} unexplained\n  \
             pagelab outcomes: {}",
            self.queries,
            self.agreed,
            explained.join(", "),
            self.unexplained.len(),
            outcomes.join(", ")
        )
    }
}

impl Tally {
    /// Counts pagelab's outcome for `walk`.
    pub fn count_outcome(&mut self, walk: &Translation) {
        let name = match walk.fault() {
            Some(fault) => format!("{:?}", fault.kind),
            None => "mapped".to_string(),
        };
        *self.outcomes.entry(name).or_default() += 1;
    }
}

impl Tally {
    /// The probe's answer to query `index` of run `run` (its output line), counting the query
    /// and pagelab's outcome for it; a query the probe never answered is unexplained.
    pub fn answer<'a>(
        &mut self,
        lines: &'a [Vec<u64>],
        run: usize,
        index: usize,
        walk: &Translation,
    ) -> Option<&'a Vec<u64>> {
        self.queries += 1;
        self.count_outcome(walk);
        let words = lines.get(index);
        if words.is_none() {
            self.unexplained.push(format!("run {run} query {index}: no answer from the probe"));
        }
        words
    }

    /// Counts a compared query: agreed, explained by known deviations (by rule), or unexplained
    /// with `describe` of the parts that differ.
    pub fn judge(&mut self, case: &Case, run: usize, index: usize, describe: impl FnOnce(&[&str]) -> String) {
        let parts = case.differences();
        if parts.is_empty() {
            self.agreed += 1;
        } else if let Some(rules) = deviations::explain(case) {
            for rule in rules {
                *self.explained.entry(rule.name).or_default() += 1;
            }
        } else {
            self.unexplained.push(format!("run {run} query {index}: {}", describe(&parts)));
        }
    }
}

/// An unexplained difference in words: the access and its `switches`, both sides' results,
/// pagelab's outcome and the walked entries as they were before the access (`originals`).
pub fn describe(
    request: &Request,
    switches: &str,
    walk: &Translation,
    [expected, observed]: [&Seen; 2],
    originals: &dyn Debug,
    parts: &[&str],
) -> String {
    format!(
        "{:?} {:?} va={:#x} {switches} differs in {parts:?}\n  pagelab {expected:x?} ({})\n  qemu    {observed:x?}\n  walk {originals:x?}",
        request.mode,
        request.access,
        request.va,
        match &walk.outcome {
            Outcome::Mapped(m) => format!("pa {:#x}", m.pa),
            Outcome::Fault(f) => format!("{:?} at level {:?}", f.kind, f.level),
        },
    )
}

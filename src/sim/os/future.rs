//! The future accesses, for OPT: known when a reference string or a recorded trace is replayed.

use super::super::address::VirtAddr;
use super::super::machine::Machine;
use super::super::replay::UnknownProcess;
use super::super::trace::{TraceRecord, pages_touched};
use std::collections::HashMap;

/// A page of one process: the unit the OS model loads and evicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PageKey {
    /// Index of the process in the machine.
    pub process: usize,
    /// Base virtual address of the page.
    pub va: VirtAddr,
}

/// Every access to come, as positions per page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Future {
    positions: HashMap<PageKey, Vec<u64>>,
    len: u64,
}

impl Future {
    /// The future made of these accesses, in order.
    pub fn new(keys: impl IntoIterator<Item = PageKey>) -> Self {
        let mut future = Self::default();
        for key in keys {
            future.positions.entry(key).or_default().push(future.len);
            future.len += 1;
        }
        future
    }

    /// The accesses of a trace as the replayer makes them: one per distinct page a record
    /// touches, in address order, in the record's process (or the one before it, starting from
    /// the machine's active process).
    ///
    /// # Errors
    /// [`UnknownProcess`] when a record names a process the machine does not have.
    pub fn of_trace<'a>(
        machine: &Machine,
        records: impl IntoIterator<Item = &'a TraceRecord>,
    ) -> Result<Self, UnknownProcess> {
        let shift = machine.format.page_shift;
        let mut process = machine.active;
        let mut keys = Vec::new();
        for record in records {
            if let Some(name) = &record.process {
                process = machine.find_process(name).map_err(|_| UnknownProcess(name.clone()))?;
            }
            for page in pages_touched(record.addr, record.size, shift) {
                let va = page.checked_shl(shift).unwrap_or(0);
                keys.push(PageKey { process, va: VirtAddr::new(va) });
            }
        }
        Ok(Self::new(keys))
    }

    /// Accesses in the future.
    #[must_use]
    pub const fn len(&self) -> u64 {
        self.len
    }

    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first access to `key` after position `now`, if any.
    #[must_use]
    pub fn next_use(&self, key: PageKey, now: u64) -> Option<u64> {
        let positions = self.positions.get(&key)?;
        let after = positions.partition_point(|&p| p <= now);
        positions.get(after).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_use_is_strictly_after_now() {
        let key = |va| PageKey { process: 0, va: VirtAddr::new(va) };
        let future = Future::new([key(1), key(2), key(1), key(3)]);
        assert_eq!(future.len(), 4);
        assert_eq!(future.next_use(key(1), 0), Some(2));
        assert_eq!(future.next_use(key(1), 2), None);
        assert_eq!(future.next_use(key(3), 0), Some(3));
        assert_eq!(future.next_use(key(9), 0), None);
    }
}

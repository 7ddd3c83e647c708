//! The OS model's copy-on-write handler: which faults it takes, and the resolution with its
//! counters and timeline (the copying itself is [`Machine::resolve_cow`]).

use super::super::cow::CowEvent;
use super::super::fault::{Access, FaultKind};
use super::super::machine::Machine;
use super::model::{Handled, Os, OsError, Resolution};
use super::settings::OsModel;
use crate::sim::address::VirtAddr;

impl Os {
    /// Whether the handler answers this fault: [`Os::handles`]'s kinds, and with demand paging
    /// a write to a copy-on-write page.
    #[must_use]
    pub fn takes(
        &self,
        machine: &Machine,
        process: usize,
        va: VirtAddr,
        access: Access,
        kind: FaultKind,
    ) -> bool {
        self.handles(kind)
            || (self.settings.model == OsModel::Demand && machine.is_cow_fault(process, va, access, kind))
    }

    /// Copy-on-write faults resolved so far, in order (the frames view's timeline).
    #[must_use]
    pub fn cow_events(&self) -> &[CowEvent] {
        &self.cow_events
    }

    /// Resolves a write to a copy-on-write page and counts the TLB invalidation the kernel
    /// issues for the writer's stale read-only entry (the TLB in front performs it).
    pub(super) fn copy_on_write(
        &mut self,
        machine: &mut Machine,
        process: usize,
        va: VirtAddr,
    ) -> Result<Handled, OsError> {
        let event = machine.resolve_cow(process, va).map_err(|e| match e {
            super::super::cow::CowError::Machine(m) => OsError::Machine(m),
            // Checked before the call: the page is copy-on-write.
            super::super::cow::CowError::NotCow { .. } => {
                OsError::NotHandled(FaultKind::WriteProtection.id())
            }
        })?;
        let copied = event.new_frame.is_some();
        let counters = self.counters_mut(process);
        counters.cow_faults += 1;
        counters.tlb_invalidations += 1;
        if copied {
            counters.cow_copies += 1;
        } else {
            counters.cow_reuses += 1;
        }
        self.cow_events.push(event.clone());
        Ok(Handled {
            key: self.key(process, va),
            resolution: Resolution::CopyOnWrite { copied },
            frame: event.new_frame,
            evicted: None,
            cleared: Vec::new(),
            cow: Some(event),
        })
    }
}

//! The TLB the app drives in front of the document's lab: a core component owned beside the lab
//! (hardware state: not saved, not undone, empty again when another lab opens). Views read it
//! with [`Document::tlb`] and change it with [`TlbCommand`]s; accesses and trace replays through
//! it are document steps, since they write A/D bits and may demand-map pages.

use super::history::{LabParts, StepKind};
use super::{Document, EditError};
use crate::sim::fault::{Access, Mode};
use crate::sim::replay::{PageOutcome, ReplayConfig, Replayer};
use crate::sim::tlb::TlbsConfigError;
use crate::sim::{Machine, VirtAddr};

/// A replay on another thread ("Run to end"): copies of the lab's machine (journaling what the
/// replay overwrites) and of the TLB, taken at one document generation. The replay runs on the
/// copies; [`Document::finish_replay_job`] makes the result one undo step, or refuses it when the
/// lab changed in the meantime (so nothing the user did meanwhile is overwritten).
#[derive(Debug)]
pub struct ReplayJob {
    pub machine: Machine,
    pub replayer: Replayer,
    generation: u64,
}

/// A change to the TLB alone (the lab is untouched).
#[derive(Clone, Debug, PartialEq)]
pub enum TlbCommand {
    /// Rebuild the TLB(s) with this configuration: empty, with fresh statistics.
    Configure(ReplayConfig),
    /// INVLPG / SFENCE.VMA for one address (global entries too).
    InvalidatePage(u64),
    /// Drop the active process's non-global entries (INVPCID single context, SFENCE.VMA x0, asid).
    InvalidateActiveAsid,
    FlushNonGlobal,
    FlushAll,
}

impl Document {
    /// The TLB in front of the lab, read-only.
    pub fn tlb(&self) -> &Replayer {
        &self.tlb
    }

    /// Applies a TLB command; returns how many entries it removed.
    pub fn tlb_command(&mut self, command: TlbCommand) -> Result<u64, TlbsConfigError> {
        let tlbs = self.tlb.tlbs_mut();
        let removed = match command {
            TlbCommand::Configure(config) => {
                self.tlb = Replayer::new(config)?;
                self.tlb.follow_active(&self.lab.machine);
                0
            }
            TlbCommand::InvalidatePage(va) => tlbs.invalidate_page(va, None),
            TlbCommand::InvalidateActiveAsid => tlbs.invalidate_asid(self.lab.machine.active_process().asid),
            TlbCommand::FlushNonGlobal => tlbs.flush_non_global(),
            TlbCommand::FlushAll => tlbs.flush_all(),
        };
        Ok(u64::try_from(removed).unwrap_or(u64::MAX))
    }

    /// Follows a process switch (a flush of non-global entries without ASID tagging); true if
    /// the address space changed.
    pub fn tlb_follow_active(&mut self) -> bool {
        self.tlb.follow_active(&self.lab.machine)
    }

    /// An access for the active process through the TLB: a hit uses the cached entry (even a
    /// stale one, as hardware does); a miss walks, writes A/D bits (one undo step with the
    /// accesses around it) and fills.
    pub fn access_through_tlb(
        &mut self,
        va: VirtAddr,
        access: Access,
        mode: Mode,
    ) -> Result<PageOutcome, EditError> {
        self.run_with_tlb(&format!("access {va:#x}"), StepKind::Access, |lab, tlb| {
            Ok(tlb.access(&mut lab.machine, va, access, mode))
        })
    }

    /// Replays through the TLB as one step named `label` (the slices of one replay share an
    /// undo step): `replay` gets the TLB and the machine. While locks are enforced, a record
    /// whose fault would change a locked process stops the replay with an error.
    pub fn replay<R>(
        &mut self,
        label: &str,
        demand_map: bool,
        replay: impl FnOnce(&mut Replayer, &mut Machine) -> R,
    ) -> Result<R, EditError> {
        self.tlb.set_demand_map(demand_map);
        let locked = if self.enforce_locks { self.lab.locks.processes.clone() } else { Default::default() };
        self.tlb.set_locked(locked);
        self.run_with_tlb(label, StepKind::Replay, |lab, tlb| Ok(replay(tlb, &mut lab.machine)))
    }

    /// Copies of the machine and the TLB for a replay on another thread, set up like
    /// [`Document::replay`] (demand mapping, the locked processes).
    pub fn replay_job(&mut self, demand_map: bool) -> ReplayJob {
        self.tlb.set_demand_map(demand_map);
        let locked = if self.enforce_locks { self.lab.locks.processes.clone() } else { Default::default() };
        self.tlb.set_locked(locked);
        let mut machine = self.lab.machine.clone();
        machine.begin_journal();
        ReplayJob { machine, replayer: self.tlb.clone(), generation: self.generation }
    }

    /// Installs what a [`ReplayJob`] produced as one undo step named `label`. Refused, with the
    /// lab untouched, when the lab changed since the job was taken or the replay changed a
    /// locked process.
    pub fn finish_replay_job(&mut self, label: &str, job: ReplayJob) -> Result<(), EditError> {
        if job.generation != self.generation {
            return Err(EditError::Other(
                "the lab changed while the trace ran in the background, so the run's result was not kept"
                    .into(),
            ));
        }
        let ReplayJob { mut machine, replayer, .. } = job;
        let journal = machine.commit_journal();
        let parts_before = LabParts::of(&self.lab);
        if self.enforce_locks {
            parts_before.locks.check_journal(&parts_before.processes, &journal, &machine)?;
        }
        self.lab.machine = machine;
        self.tlb = replayer;
        self.record(label, StepKind::Replay, journal, parts_before);
        Ok(())
    }
}

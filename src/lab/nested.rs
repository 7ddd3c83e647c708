//! The lab file's optional `"nested"` object: a host (EPT or a RISC-V G-stage) whose tables
//! live in the lab's memory (which is then host-physical memory) and a guest, of the lab's
//! paging format, whose tables live in guest-physical frames that the host maps. Labs without
//! it load as before.

use super::file::LabError;
use crate::sim::format::PagingFormat;
use crate::sim::mem::PhysMem;
use crate::sim::nested::{HostKind, NestedSetup};
use serde::{Deserialize, Serialize};

/// The `"nested"` object as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoredNested {
    /// The host's tables: `ept` (4-level), `ept5`, `sv39x4` or `sv48x4`.
    pub host: String,
    /// Host frame of the host's root table (EPTP / hgatp.PPN).
    pub host_root: u64,
    /// Guest-physical address of the guest's root table (guest CR3 / vsatp.PPN << 12).
    pub guest_root: u64,
    /// The next guest-physical frame `map --guest` hands out.
    #[serde(default)]
    pub next_guest_frame: u64,
}

impl StoredNested {
    pub fn of(setup: &NestedSetup) -> Self {
        Self {
            host: setup.host.name().to_string(),
            host_root: setup.host_root,
            guest_root: setup.guest_root_gpa,
            next_guest_frame: setup.next_guest_frame,
        }
    }

    /// Checks the stored values against the lab's memory and format; errors name the field
    /// (`nested.host`, `nested.host_root`, ...).
    pub fn to_setup(&self, mem: &PhysMem, guest: &PagingFormat) -> Result<NestedSetup, LabError> {
        let host = HostKind::by_name(&self.host).ok_or_else(|| {
            LabError::new(
                "nested.host",
                format!("unknown host {:?}; known: ept, ept5, sv39x4, sv48x4", self.host),
            )
        })?;
        let setup = NestedSetup {
            host,
            host_root: self.host_root,
            guest_root_gpa: self.guest_root,
            next_guest_frame: self.next_guest_frame,
        };
        setup
            .validate(mem, guest)
            .map_err(|(field, message)| LabError::new(format!("nested.{field}"), message))?;
        Ok(setup)
    }
}

//! Nested (two-dimensional) paging: a guest with its own tables in guest-physical memory, on a
//! host whose tables (Intel EPT, or the RISC-V H extension's G-stage Sv39x4/Sv48x4) translate
//! every guest-physical address to a host-physical one. A guest access walks the guest tables;
//! each guest entry's address (starting with the guest root, which CR3/vsatp gives as a
//! guest-physical address) and then the final guest-physical address are themselves walked
//! through the host tables (SDM Vol. 3C 29.3.2; privileged spec, "Two-Stage Address
//! Translation"). With n guest and m host levels a miss costs n x (m + 1) + m references: 24 for
//! 4 on 4, 35 for 5 on 5 (Bhargava et al., ASPLOS 2008).
//!
//! [`translate`] is pure: it returns every reference numbered in order with its dimension and
//! level, and a fault that says which dimension failed. A/D bits are neither checked nor written
//! in either dimension (a dry walk); the guest's MMU switches are fixed (x86: CR0.WP=1, NXE=1,
//! no SMEP/SMAP; RISC-V: SUM=0, MXR=0).

pub mod cache;
pub mod host;
pub mod machine;
pub mod setup;

pub use host::{HostFaultKind, HostKind};
pub use machine::{NestedError, NestedMachine};
pub use setup::{HostMem, NestedSetup};

use crate::sim::address::{EntryAddr, PhysAddr, VirtAddr};
use crate::sim::fault::{Access, FaultKind, Mode};
use crate::sim::format::{Arch, PagingFormat, Role, low_mask};
use crate::sim::mem::PhysMem;
use serde::Serialize;

/// Which tables a reference reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dimension {
    Guest,
    Host,
}

/// One memory reference of a 2D walk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NestedRef {
    /// Its number in the walk, from 1.
    pub number: usize,
    pub dimension: Dimension,
    /// The level read, root = 0, in its dimension's tables.
    pub level: usize,
    pub level_name: String,
    /// The guest level whose entry this host walk translates (`None` for the final address's
    /// host walk); for a guest reference, its own level.
    pub guest_level: Option<usize>,
    pub index: u64,
    /// Host-physical address of the entry read (every reference reads host-physical memory).
    pub entry_addr: EntryAddr,
    pub raw: u64,
    /// For a guest reference: the entry's guest-physical address. For a host reference: the
    /// guest-physical address being translated. Guest- and host-physical addresses are both
    /// [`PhysAddr`]: each is a physical address, in the guest's or the host's space.
    pub gpa: PhysAddr,
    /// The host-physical address the reference resolved, when it completed a translation: a host
    /// leaf gives the translated address.
    pub hpa: Option<PhysAddr>,
    pub leaf: bool,
}

/// How a 2D walk ended when it failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "dimension", rename_all = "kebab-case")]
pub enum NestedFault {
    /// The guest's own tables refused: a guest #PF (x86) or a guest page fault delivered to
    /// VS-mode (RISC-V causes 12/13/15).
    Guest { kind: FaultKind, level: usize, va: VirtAddr, report: String },
    /// The host's tables refused while translating `gpa`: an EPT violation or misconfiguration
    /// (VM exit) or a RISC-V guest-page fault (cause 20/21/23, htval = gpa >> 2).
    Host {
        kind: HostFaultKind,
        level: usize,
        gpa: PhysAddr,
        va: VirtAddr,
        /// The translation was of a guest table entry (an implicit access), not the final address.
        guest_table_access: bool,
        report: String,
    },
}

impl NestedFault {
    pub fn dimension(&self) -> Dimension {
        match self {
            NestedFault::Guest { .. } => Dimension::Guest,
            NestedFault::Host { .. } => Dimension::Host,
        }
    }
}

/// The result of [`translate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NestedTranslation {
    pub va: VirtAddr,
    pub refs: Vec<NestedRef>,
    /// The guest-physical and host-physical addresses, or the fault.
    pub outcome: Result<(PhysAddr, PhysAddr), NestedFault>,
}

/// One row of the two-dimensional grid: a guest level's entry (or, last, the final address)
/// and the numbers of the references that resolved it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GridRow {
    /// The guest level whose entry this row reads; `None` for the final guest-physical address.
    pub guest_level: Option<usize>,
    /// Reference numbers of the host walk, by host level (`None` where the walk did not get).
    pub host: Vec<Option<usize>>,
    /// The number of the guest entry's own read (`None` on the final row or when not reached).
    pub guest: Option<usize>,
}

impl NestedTranslation {
    /// The walk as the grid textbooks draw (guest level x host level), each cell the number of
    /// its reference: rows for the guest levels the walk reached, then the final address's row
    /// when its host walk began. `host_levels` sizes the rows.
    pub fn grid(&self, host_levels: usize) -> Vec<GridRow> {
        let mut rows: Vec<GridRow> = Vec::new();
        for r in &self.refs {
            let row_key = r.guest_level;
            let row = match rows.last_mut() {
                Some(last) if last.guest_level == row_key && last.guest.is_none() => last,
                _ => {
                    rows.push(GridRow { guest_level: row_key, host: vec![None; host_levels], guest: None });
                    let Some(last) = rows.last_mut() else { continue };
                    last
                }
            };
            match r.dimension {
                Dimension::Host => {
                    if let Some(cell) = row.host.get_mut(r.level) {
                        *cell = Some(r.number);
                    }
                }
                Dimension::Guest => row.guest = Some(r.number),
            }
        }
        rows
    }
}

/// What a guest access walks.
pub struct NestedView<'a> {
    pub mem: &'a PhysMem,
    pub guest: &'a PagingFormat,
    /// Guest-physical address of the guest's root table (CR3 / vsatp.PPN << 12).
    pub guest_root_gpa: u64,
    pub host: HostKind,
    /// Host frame of the host's root table (EPTP / hgatp.PPN).
    pub host_root: u64,
}

/// RISC-V exception causes for an access kind: page fault, guest-page fault.
fn riscv_causes(access: Access) -> (u64, u64) {
    match access {
        Access::Execute => (12, 20),
        Access::Read => (13, 21),
        Access::Write => (15, 23),
    }
}

struct Walker<'a, 'b> {
    v: &'b NestedView<'a>,
    va: u64,
    access: Access,
    refs: Vec<NestedRef>,
}

impl Walker<'_, '_> {
    fn push(&mut self, mut r: NestedRef) {
        r.number = self.refs.len() + 1;
        self.refs.push(r);
    }

    fn host_fault(
        &self,
        kind: HostFaultKind,
        level: usize,
        gpa: u64,
        guest_level: Option<usize>,
    ) -> NestedFault {
        let guest_table_access = guest_level.is_some();
        let report = match kind {
            HostFaultKind::GuestPageFault => {
                let (_, cause) = riscv_causes(self.access);
                format!(
                    "guest-page fault, scause {cause}, htval {:#x} (gpa >> 2), stval {:#x}",
                    gpa >> 2,
                    self.va
                )
            }
            HostFaultKind::EptViolation => format!(
                "VM exit 48 (EPT violation), guest-physical address {gpa:#x}, guest linear address {:#x}, {}",
                self.va,
                if guest_table_access {
                    "during a guest paging-structure access"
                } else {
                    "translating the final address"
                }
            ),
            HostFaultKind::EptMisconfiguration => {
                format!("VM exit 49 (EPT misconfiguration), guest-physical address {gpa:#x}")
            }
        };
        NestedFault::Host {
            kind,
            level,
            gpa: PhysAddr::new(gpa),
            va: VirtAddr::new(self.va),
            guest_table_access,
            report,
        }
    }

    /// Walks `gpa` through the host tables; reads of guest tables are reads, the final address
    /// uses the access itself.
    fn host_walk(&mut self, gpa: u64, guest_level: Option<usize>) -> Result<u64, NestedFault> {
        let host = self.v.host;
        let access = if guest_level.is_some() { Access::Read } else { self.access };
        if gpa >> host.gpa_bits().min(63) != 0 {
            // Beyond the guest-physical width: EPT never sees such an address from a 52-bit
            // guest frame field; the G-stage requires the bits above 41/50 to be zero.
            let kind =
                if host.is_ept() { HostFaultKind::EptViolation } else { HostFaultKind::GuestPageFault };
            return Err(self.host_fault(kind, 0, gpa, guest_level));
        }
        let mut table = self.v.host_root.checked_shl(12).unwrap_or(u64::MAX);
        let mut allowed = true;
        for level in 0..host.levels() {
            let index = host.index_of(gpa, level);
            let entry_addr = table.saturating_add(index * 8);
            let raw = self.v.mem.read_le(PhysAddr::new(entry_addr), 8).unwrap_or(0);
            let present = host.present(raw);
            let leaf = present && host.is_leaf(raw, level);
            let span = host.span_shift(level);
            let hpa = (leaf && present)
                .then(|| ((host.frame(raw) << 12) & !low_mask(span)) | (gpa & low_mask(span)));
            self.push(NestedRef {
                number: 0,
                dimension: Dimension::Host,
                level,
                level_name: host.level_name(level),
                guest_level,
                index,
                entry_addr: EntryAddr::new(entry_addr),
                raw,
                gpa: PhysAddr::new(gpa),
                hpa: hpa.map(PhysAddr::new),
                leaf,
            });
            if !present {
                let kind =
                    if host.is_ept() { HostFaultKind::EptViolation } else { HostFaultKind::GuestPageFault };
                return Err(self.host_fault(kind, level, gpa, guest_level));
            }
            if let Some(kind) = host.check(raw, level, leaf, access) {
                return Err(self.host_fault(kind, level, gpa, guest_level));
            }
            allowed &= !host.is_ept() || HostKind::ept_allows(raw, access);
            if let Some(hpa) = hpa {
                if !allowed {
                    return Err(self.host_fault(HostFaultKind::EptViolation, level, gpa, guest_level));
                }
                return Ok(hpa);
            }
            table = host.frame(raw) << 12;
        }
        Err(self.host_fault(HostFaultKind::GuestPageFault, host.levels() - 1, gpa, guest_level))
    }

    fn guest_fault(&self, kind: FaultKind, level: usize, mode: Mode) -> NestedFault {
        let g = self.v.guest;
        let report = if g.arch == Arch::RiscV {
            let (cause, _) = riscv_causes(self.access);
            format!("page fault in the guest, vscause {cause}, vstval {:#x}", self.va)
        } else {
            let p = u32::from(kind != FaultKind::NotPresent);
            let w = u32::from(self.access == Access::Write) << 1;
            let u = u32::from(mode == Mode::User) << 2;
            let rsvd = u32::from(kind == FaultKind::ReservedBit) << 3;
            let id = u32::from(self.access == Access::Execute) << 4;
            format!(
                "guest #PF, error code {:#x}, guest CR2 {:#x} (no VM exit)",
                p | w | u | rsvd | id,
                self.va
            )
        };
        NestedFault::Guest { kind, level, va: VirtAddr::new(self.va), report }
    }

    fn run(&mut self, mode: Mode) -> Result<(PhysAddr, PhysAddr), NestedFault> {
        let g = self.v.guest;
        if !g.va_in_range(self.va) {
            let kind = if g.canonical { FaultKind::NonCanonical } else { FaultKind::OutOfRange };
            return Err(self.guest_fault(kind, 0, mode));
        }
        let riscv = g.arch == Arch::RiscV;
        let pte = u64::from(g.pte_bytes);
        let (mut write_ok, mut user_ok, mut exec_ok) = (true, true, true);
        let mut table_gpa = self.v.guest_root_gpa;
        for level in 0..g.levels.len() {
            let index = g.index_of(self.va, level);
            let entry_gpa = table_gpa.saturating_add(index * pte);
            let entry_hpa = self.host_walk(entry_gpa, Some(level))?;
            let raw = self.v.mem.read_le(PhysAddr::new(entry_hpa), g.pte_bytes).unwrap_or(0);
            let present = g.present(raw, level);
            let leaf = present && g.is_leaf(raw, level);
            self.push(NestedRef {
                number: 0,
                dimension: Dimension::Guest,
                level,
                level_name: g.levels.get(level).map_or_else(|| "?".into(), |l| l.name.clone()),
                guest_level: Some(level),
                index,
                entry_addr: EntryAddr::new(entry_hpa),
                raw,
                gpa: PhysAddr::new(entry_gpa),
                hpa: None,
                leaf,
            });
            if !present {
                return Err(self.guest_fault(FaultKind::NotPresent, level, mode));
            }
            let flag = |role: Role, absent: bool| g.flag(raw, role, level, absent);
            if riscv && flag(Role::Writable, false) && !flag(Role::Readable, false) {
                return Err(self.guest_fault(FaultKind::InvalidEntry, level, mode));
            }
            if !riscv {
                write_ok &= flag(Role::Writable, true);
                user_ok &= flag(Role::User, true);
                exec_ok &= !flag(Role::NoExecute, false);
            }
            if !leaf {
                if level + 1 == g.levels.len() {
                    return Err(self.guest_fault(FaultKind::InvalidEntry, level, mode));
                }
                table_gpa = g.frame(raw, level).checked_shl(g.page_shift).unwrap_or(u64::MAX);
                continue;
            }
            let (read_ok, user) = if riscv {
                write_ok = flag(Role::Writable, false);
                exec_ok = flag(Role::Executable, false);
                (flag(Role::Readable, false), flag(Role::User, false))
            } else {
                (true, user_ok)
            };
            let kind = match (self.access, mode) {
                (_, Mode::User) if !user => Some(FaultKind::UserProtection),
                // RISC-V with SUM=0: supervisor loads/stores to user pages fault; fetches always.
                (_, Mode::Supervisor) if riscv && user => Some(FaultKind::SupervisorProtection),
                (Access::Write, _) if !write_ok => Some(FaultKind::WriteProtection),
                (Access::Execute, _) if !exec_ok => Some(FaultKind::ExecuteProtection),
                (Access::Read, _) if !read_ok => Some(FaultKind::ReadProtection),
                _ => None,
            };
            if let Some(kind) = kind {
                return Err(self.guest_fault(kind, level, mode));
            }
            let span = g.entry_span_shift(level);
            let low_frames = span - g.page_shift;
            let frame = g.frame(raw, level);
            if riscv && frame & low_mask(low_frames) != 0 {
                return Err(self.guest_fault(FaultKind::MisalignedSuperpage, level, mode));
            }
            let base = (frame & !low_mask(low_frames)).checked_shl(g.page_shift).unwrap_or(0);
            let gpa = base | (self.va & low_mask(span));
            let hpa = self.host_walk(gpa, None)?;
            return Ok((PhysAddr::new(gpa), PhysAddr::new(hpa)));
        }
        Err(self.guest_fault(FaultKind::InvalidEntry, g.levels.len().saturating_sub(1), mode))
    }
}

/// Walks `va` for `access` in `mode` through the guest's tables and, for every guest-physical
/// address that walk touches, the host's. Never panics, never writes.
pub fn translate(view: &NestedView<'_>, va: VirtAddr, access: Access, mode: Mode) -> NestedTranslation {
    let va = va.get();
    let capacity = view.guest.levels.len() * (view.host.levels() + 1) + view.host.levels();
    let mut w = Walker { v: view, va, access, refs: Vec::with_capacity(capacity) };
    let outcome = w.run(mode);
    NestedTranslation { va: VirtAddr::new(va), refs: w.refs, outcome }
}

/// The most references a 2D walk of `guest_levels` on `host_levels` makes: each guest level's
/// entry needs a host walk and the entry itself, then the final address needs a host walk.
pub fn max_refs(guest_levels: usize, host_levels: usize) -> usize {
    guest_levels * (host_levels + 1) + host_levels
}

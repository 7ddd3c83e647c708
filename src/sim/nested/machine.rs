//! A guest on a host, in one host-physical memory: the host's tables (EPT / G-stage), the
//! guest's tables in guest-physical frames that the host maps, and the guest's data pages. Builds
//! both dimensions' mappings; [`NestedMachine::translate`] walks them in two dimensions.

use super::host::HostKind;
use super::setup::{NestedSetup, check_pair};
use super::{NestedTranslation, NestedView};
use crate::sim::address::{PhysAddr, VirtAddr};
use crate::sim::fault::{Access, Mode};
use crate::sim::format::PagingFormat;
use crate::sim::mem::{MemError, PhysMem};
use crate::sim::table::TableError;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NestedError {
    #[error(
        "a {guest} guest cannot run on {host} host tables (x86 guests use EPT, RISC-V guests Sv39x4/Sv48x4)"
    )]
    Mismatch { guest: String, host: &'static str },
    #[error("the guest format must use 4 KiB pages and 8-byte entries ({0} does not)")]
    GuestFormat(String),
    #[error("guest-physical address {gpa:#x} is beyond the host's {bits}-bit guest-physical space")]
    GpaTooWide { gpa: u64, bits: u32 },
    #[error("{what} {addr:#x} is not aligned to the page size {size:#x}")]
    Misaligned { what: &'static str, addr: u64, size: u64 },
    #[error("{0:#x} bytes is not a host page size of this format (4 KiB, 2 MiB or 1 GiB)")]
    PageSize(u64),
    #[error("host memory: {0}")]
    Mem(#[from] MemError),
    #[error("guest table: {0}")]
    Table(#[from] TableError),
    #[error(
        "guest-physical address {0:#x} is not mapped by the host, so the guest cannot write its table there"
    )]
    Unbacked(u64),
    #[error("host-physical address {0:#x} (and the page from it) is beyond host-physical memory")]
    HostBeyondMemory(u64),
    #[error("{0:#x} is not a virtual address of the guest's format")]
    GuestVa(u64),
    #[error("guest address {va:#x} is inside a huge page mapped at guest level {level}")]
    GuestHugePage { va: u64, level: usize },
}

/// A nested machine: host memory and tables, and one guest address space.
#[derive(Clone, Debug)]
pub struct NestedMachine {
    mem: PhysMem,
    guest: PagingFormat,
    setup: NestedSetup,
}

impl NestedMachine {
    /// An empty host (a root table) and a guest whose root table is at guest-physical frame 0,
    /// backed by a fresh host frame. `mem_size` is host-physical memory.
    pub fn new(guest: PagingFormat, host: HostKind, mem_size: u64) -> Result<Self, NestedError> {
        check_pair(&guest, host)?;
        let mut mem = PhysMem::new(mem_size, 12)?;
        let setup = NestedSetup::create(&mut mem, &guest, host)?;
        Ok(Self { mem, guest, setup })
    }

    pub fn mem(&self) -> &PhysMem {
        &self.mem
    }

    pub fn guest_format(&self) -> &PagingFormat {
        &self.guest
    }

    pub fn setup(&self) -> &NestedSetup {
        &self.setup
    }

    pub fn host(&self) -> HostKind {
        self.setup.host
    }

    /// Host frame of the host root (EPTP / hgatp.PPN).
    pub fn host_root(&self) -> u64 {
        self.setup.host_root
    }

    pub fn guest_root_gpa(&self) -> u64 {
        self.setup.guest_root_gpa
    }

    pub fn view(&self) -> NestedView<'_> {
        self.setup.view(&self.mem, &self.guest)
    }

    pub fn translate(&self, va: VirtAddr, access: Access, mode: Mode) -> NestedTranslation {
        super::translate(&self.view(), va, access, mode)
    }

    /// Maps guest-physical `gpa` to host-physical `hpa` with a host page of `size` bytes.
    pub fn map_host(
        &mut self,
        gpa: u64,
        hpa: u64,
        size: u64,
        rwx: (bool, bool, bool),
    ) -> Result<(), NestedError> {
        self.setup.map_host(&mut self.mem, gpa, hpa, size, rwx)
    }

    /// A fresh guest-physical frame, backed by a fresh host frame mapped read/write/execute.
    pub fn alloc_guest_frame(&mut self) -> Result<u64, NestedError> {
        self.setup.alloc_guest_frame(&mut self.mem)
    }

    /// The host-physical address of guest-physical `gpa`, ignoring rights (where the builder
    /// writes). Guest- and host-physical addresses are both [`PhysAddr`]: each is a physical
    /// address, in the guest's or the host's space.
    pub fn host_address(&self, gpa: PhysAddr) -> Option<PhysAddr> {
        self.setup.host_address(&self.mem, gpa)
    }

    /// Maps guest virtual page `va` to a fresh guest-physical frame (with host backing) with the
    /// guest format's `flags` (`R/W`, `U/S`, `NX`; `R`, `W`, `X`, `U`), allocating guest tables in
    /// guest-physical memory as needed. Returns the page's guest-physical address.
    pub fn map_guest(&mut self, va: VirtAddr, flags: &[&str]) -> Result<PhysAddr, NestedError> {
        self.setup.map_guest(&mut self.mem, &self.guest, va, flags)
    }

    /// Maps guest virtual page `va` to guest-physical `gpa` (4 KiB), whether or not the host maps
    /// `gpa` (a guest may point at memory its host never gave it: an EPT violation later).
    pub fn map_guest_to(&mut self, va: VirtAddr, gpa: PhysAddr, flags: &[&str]) -> Result<(), NestedError> {
        self.setup.map_guest_to(&mut self.mem, &self.guest, va, gpa, flags)
    }

    /// Writes a raw 8-byte entry at host-physical `hpa` (tests and exercises that break an entry).
    pub fn write_entry(&mut self, hpa: PhysAddr, raw: u64) -> Result<(), NestedError> {
        self.mem.write_le(hpa, 8, raw)?;
        Ok(())
    }
}

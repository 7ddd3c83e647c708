//! A guest on a host, in one host-physical memory: the host's tables (EPT / G-stage), the
//! guest's tables in guest-physical frames that the host maps, and the guest's data pages. Builds
//! both dimensions' mappings; [`NestedMachine::translate`] walks them in two dimensions.

use super::host::HostKind;
use super::{NestedTranslation, NestedView};
use crate::sim::fault::{Access, Mode};
use crate::sim::format::{Arch, PagingFormat};
use crate::sim::mem::{MemError, PhysMem};
use crate::sim::table::{self, TableError};
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
}

/// A nested machine: host memory and tables, and one guest address space.
#[derive(Clone, Debug)]
pub struct NestedMachine {
    mem: PhysMem,
    guest: PagingFormat,
    host: HostKind,
    host_root: u64,
    guest_root_gpa: u64,
    /// Next free guest-physical frame, for guest tables and pages the machine allocates.
    next_gpa_frame: u64,
}

impl NestedMachine {
    /// An empty host (a root table) and a guest whose root table is at guest-physical frame 0,
    /// backed by a fresh host frame. `mem_size` is host-physical memory.
    pub fn new(guest: PagingFormat, host: HostKind, mem_size: u64) -> Result<Self, NestedError> {
        let riscv = guest.arch == Arch::RiscV;
        if riscv == host.is_ept() {
            return Err(NestedError::Mismatch { guest: guest.name.clone(), host: host.name() });
        }
        if guest.page_shift != 12 || guest.pte_bytes != 8 {
            return Err(NestedError::GuestFormat(guest.name.clone()));
        }
        let mut mem = PhysMem::new(mem_size, 12)?;
        // The x4 root: 16 KiB, aligned to 16 KiB (hgatp.PPN[1:0] are zero).
        let host_root = mem.alloc_aligned(host.root_frames(), host.root_frames())?;
        let mut m = Self { mem, guest, host, host_root, guest_root_gpa: 0, next_gpa_frame: 0 };
        m.guest_root_gpa = m.alloc_guest_frame()? << 12;
        Ok(m)
    }

    pub fn mem(&self) -> &PhysMem {
        &self.mem
    }

    pub fn guest_format(&self) -> &PagingFormat {
        &self.guest
    }

    pub fn host(&self) -> HostKind {
        self.host
    }

    /// Host frame of the host root (EPTP / hgatp.PPN).
    pub fn host_root(&self) -> u64 {
        self.host_root
    }

    pub fn guest_root_gpa(&self) -> u64 {
        self.guest_root_gpa
    }

    pub fn view(&self) -> NestedView<'_> {
        NestedView {
            mem: &self.mem,
            guest: &self.guest,
            guest_root_gpa: self.guest_root_gpa,
            host: self.host,
            host_root: self.host_root,
        }
    }

    pub fn translate(&self, va: u64, access: Access, mode: Mode) -> NestedTranslation {
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
        let host = self.host;
        let level = (0..host.levels())
            .filter(|&l| host.may_be_leaf(l))
            .find(|&l| 1u64.checked_shl(host.span_shift(l)) == Some(size))
            .filter(|_| size <= 1 << 30)
            .ok_or(NestedError::PageSize(size))?;
        if gpa >> host.gpa_bits() != 0 {
            return Err(NestedError::GpaTooWide { gpa, bits: host.gpa_bits() });
        }
        for (what, addr) in [("guest-physical address", gpa), ("host-physical address", hpa)] {
            if addr % size != 0 {
                return Err(NestedError::Misaligned { what, addr, size });
            }
        }
        let mut table = self.host_root << 12;
        for l in 0..level {
            let entry = table + host.index_of(gpa, l) * 8;
            let raw = self.mem.read_le(entry, 8)?;
            if host.present(raw) && !host.is_leaf(raw, l) {
                table = host.frame(raw) << 12;
                continue;
            }
            let frame = self.mem.alloc(1)?;
            self.mem.write_le(entry, 8, host.table_entry(frame))?;
            table = frame << 12;
        }
        let (r, w, x) = rwx;
        let entry = table + host.index_of(gpa, level) * 8;
        self.mem.write_le(entry, 8, host.leaf_entry(hpa >> 12, level, r, w, x))?;
        Ok(())
    }

    /// A fresh guest-physical frame, backed by a fresh host frame mapped read/write/execute.
    pub fn alloc_guest_frame(&mut self) -> Result<u64, NestedError> {
        let gpa_frame = self.next_gpa_frame;
        let hpa_frame = self.mem.alloc(1)?;
        self.map_host(gpa_frame << 12, hpa_frame << 12, 4096, (true, true, true))?;
        self.next_gpa_frame += 1;
        Ok(gpa_frame)
    }

    /// The host-physical address of `gpa`, ignoring rights (where the builder writes).
    pub fn host_address(&self, gpa: u64) -> Option<u64> {
        let host = self.host;
        let mut table = self.host_root << 12;
        for level in 0..host.levels() {
            let raw = self.mem.read_le(table + host.index_of(gpa, level) * 8, 8).ok()?;
            if !host.present(raw) {
                return None;
            }
            if host.is_leaf(raw, level) {
                let span = host.span_shift(level);
                let mask = (1u64 << span) - 1;
                return Some(((host.frame(raw) << 12) & !mask) | (gpa & mask));
            }
            table = host.frame(raw) << 12;
        }
        None
    }

    /// Maps guest virtual page `va` to a fresh guest-physical frame (with host backing) with the
    /// guest format's `flags` (`R/W`, `U/S`, `NX`; `R`, `W`, `X`, `U`), allocating guest tables in
    /// guest-physical memory as needed. Returns the page's guest-physical address.
    pub fn map_guest(&mut self, va: u64, flags: &[&str]) -> Result<u64, NestedError> {
        let gpa = self.alloc_guest_frame()? << 12;
        self.map_guest_to(va, gpa, flags)?;
        Ok(gpa)
    }

    /// Maps guest virtual page `va` to guest-physical `gpa` (4 KiB), whether or not the host maps
    /// `gpa` (a guest may point at memory its host never gave it: an EPT violation later).
    pub fn map_guest_to(&mut self, va: u64, gpa: u64, flags: &[&str]) -> Result<(), NestedError> {
        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        let g = self.guest.clone();
        let last = g.last_level();
        let mut table_gpa = self.guest_root_gpa;
        for level in 0..last {
            let entry_gpa = table_gpa + g.index_of(va, level) * 8;
            let hpa = self.host_address(entry_gpa).ok_or(NestedError::Unbacked(entry_gpa))?;
            let raw = self.mem.read_le(hpa, 8)?;
            if g.present(raw, level) && !g.is_leaf(raw, level) {
                table_gpa = g.frame(raw, level) << 12;
                continue;
            }
            let frame = self.alloc_guest_frame()?;
            self.mem.write_le(hpa, 8, table::table_entry(&g, level, frame))?;
            table_gpa = frame << 12;
        }
        let entry_gpa = table_gpa + g.index_of(va, last) * 8;
        let hpa = self.host_address(entry_gpa).ok_or(NestedError::Unbacked(entry_gpa))?;
        let leaf = table::leaf_bits(&g, last, &flags)?;
        let leaf = g.with(leaf, crate::sim::format::Role::Frame, last, gpa >> 12);
        self.mem.write_le(hpa, 8, leaf)?;
        Ok(())
    }

    /// Writes a raw 8-byte entry at host-physical `hpa` (tests and exercises that break an entry).
    pub fn write_entry(&mut self, hpa: u64, raw: u64) -> Result<(), NestedError> {
        self.mem.write_le(hpa, 8, raw)?;
        Ok(())
    }
}

//! Where a guest and its host live in one host-physical memory ([`NestedSetup`]: the host's
//! table kind and root, the guest's root as a guest-physical address, the next guest frame to
//! hand out) and the builders that map in either dimension. They work on any [`HostMem`]: the
//! standalone [`super::NestedMachine`]'s memory, or a lab's [`Machine`] inside a document step
//! (so a lab's nested edits are journaled and undoable like any other).

use super::host::HostKind;
use super::machine::NestedError;
use super::{NestedTranslation, NestedView};
use crate::sim::address::{Pfn, PhysAddr, VirtAddr};
use crate::sim::fault::{Access, Mode};
use crate::sim::format::{Arch, PagingFormat, Role, low_mask};
use crate::sim::machine::Machine;
use crate::sim::mem::{MemError, PhysMem};
use crate::sim::table;

/// Host-physical memory the builders read, write and allocate from.
pub trait HostMem {
    fn phys(&self) -> &PhysMem;
    /// Writes an 8-byte entry at host-physical `addr`.
    fn write_entry(&mut self, addr: PhysAddr, raw: u64) -> Result<(), MemError>;
    /// `count` zeroed contiguous frames aligned to `align` frames; returns the first.
    fn alloc_frames(&mut self, count: u64, align: u64) -> Result<Pfn, MemError>;
}

impl HostMem for PhysMem {
    fn phys(&self) -> &PhysMem {
        self
    }
    fn write_entry(&mut self, addr: PhysAddr, raw: u64) -> Result<(), MemError> {
        self.write_le(addr, 8, raw)
    }
    fn alloc_frames(&mut self, count: u64, align: u64) -> Result<Pfn, MemError> {
        self.alloc_aligned(count, align)
    }
}

impl HostMem for Machine {
    fn phys(&self) -> &PhysMem {
        self.mem()
    }
    fn write_entry(&mut self, addr: PhysAddr, raw: u64) -> Result<(), MemError> {
        self.write_phys_le(addr, 8, raw)
    }
    fn alloc_frames(&mut self, count: u64, align: u64) -> Result<Pfn, MemError> {
        Machine::alloc_frames(self, count, align)
    }
}

/// A guest on a host: everything a 2D walk needs besides memory and the guest's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NestedSetup {
    pub host: HostKind,
    /// Host frame of the host's root table (EPTP / hgatp.PPN).
    pub host_root: u64,
    /// Guest-physical address of the guest's root table (guest CR3 / vsatp.PPN << 12).
    pub guest_root_gpa: u64,
    /// The next guest-physical frame the builders hand out (guest tables and pages).
    pub next_guest_frame: u64,
}

/// Checks that a guest format can run on `host`: same architecture, 4 KiB pages, 8-byte entries.
pub fn check_pair(guest: &PagingFormat, host: HostKind) -> Result<(), NestedError> {
    if (guest.arch == Arch::RiscV) == host.is_ept() {
        return Err(NestedError::Mismatch { guest: guest.name.clone(), host: host.name() });
    }
    if guest.page_shift != 12 || guest.pte_bytes != 8 {
        return Err(NestedError::GuestFormat(guest.name.clone()));
    }
    Ok(())
}

impl NestedSetup {
    /// An empty host root (16 KiB for the x4 kinds) and a guest root table at guest-physical
    /// frame 0, backed by a fresh host frame.
    pub fn create(mem: &mut impl HostMem, guest: &PagingFormat, host: HostKind) -> Result<Self, NestedError> {
        check_pair(guest, host)?;
        let host_root = mem.alloc_frames(host.root_frames(), host.root_frames())?.get();
        let mut setup = Self { host, host_root, guest_root_gpa: 0, next_guest_frame: 0 };
        setup.guest_root_gpa = setup.alloc_guest_frame(mem)? << 12;
        Ok(setup)
    }

    pub fn view<'a>(&self, mem: &'a PhysMem, guest: &'a PagingFormat) -> NestedView<'a> {
        NestedView {
            mem,
            guest,
            guest_root_gpa: self.guest_root_gpa,
            host: self.host,
            host_root: self.host_root,
        }
    }

    /// The 2D walk of `va` (see [`super::translate`]).
    pub fn translate(
        &self,
        mem: &PhysMem,
        guest: &PagingFormat,
        va: VirtAddr,
        access: Access,
        mode: Mode,
    ) -> NestedTranslation {
        super::translate(&self.view(mem, guest), va, access, mode)
    }

    /// Maps guest-physical `gpa` to host-physical `hpa` with a host page of `size` bytes
    /// (4 KiB, 2 MiB or 1 GiB) and the rights `rwx`, making host tables as needed.
    pub fn map_host(
        &self,
        mem: &mut impl HostMem,
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
        let end = hpa.checked_add(size).ok_or(NestedError::HostBeyondMemory(hpa))?;
        if end > mem.phys().size() {
            return Err(NestedError::HostBeyondMemory(hpa));
        }
        let mut table = self.host_root << 12;
        for l in 0..level {
            let entry = table + host.index_of(gpa, l) * 8;
            let raw = mem.phys().read_le(PhysAddr::new(entry), 8)?;
            if host.present(raw) && !host.is_leaf(raw, l) {
                table = host.frame(raw) << 12;
                continue;
            }
            let frame = mem.alloc_frames(1, 1)?.get();
            mem.write_entry(PhysAddr::new(entry), host.table_entry(frame))?;
            table = frame << 12;
        }
        let (r, w, x) = rwx;
        let entry = table + host.index_of(gpa, level) * 8;
        mem.write_entry(PhysAddr::new(entry), host.leaf_entry(hpa >> 12, level, r, w, x))?;
        Ok(())
    }

    /// The host leaf that maps guest-physical `gpa`, ignoring rights: the host-physical address
    /// and the log2 of the leaf's span.
    pub fn host_leaf(&self, mem: &PhysMem, gpa: PhysAddr) -> Option<(PhysAddr, u32)> {
        let host = self.host;
        let gpa = gpa.get();
        if gpa >> host.gpa_bits() != 0 {
            return None;
        }
        let mut table = self.host_root << 12;
        for level in 0..host.levels() {
            let raw = mem.read_le(PhysAddr::new(table + host.index_of(gpa, level) * 8), 8).ok()?;
            if !host.present(raw) {
                return None;
            }
            if host.is_leaf(raw, level) {
                let span = host.span_shift(level);
                let mask = low_mask(span);
                return Some((PhysAddr::new(((host.frame(raw) << 12) & !mask) | (gpa & mask)), span));
            }
            table = host.frame(raw) << 12;
        }
        None
    }

    /// The host-physical address of guest-physical `gpa`, ignoring rights (where the builders
    /// write).
    pub fn host_address(&self, mem: &PhysMem, gpa: PhysAddr) -> Option<PhysAddr> {
        self.host_leaf(mem, gpa).map(|(hpa, _)| hpa)
    }

    /// A fresh guest-physical frame, backed by a fresh host frame mapped read/write/execute.
    /// Guest-physical frames the host already maps (by hand) are skipped, a whole host leaf at
    /// a time, so they are never remapped under the guest.
    pub fn alloc_guest_frame(&mut self, mem: &mut impl HostMem) -> Result<u64, NestedError> {
        let mut gpa_frame = self.next_guest_frame;
        while let Some((_, span)) = self.host_leaf(mem.phys(), PhysAddr::new(gpa_frame << 12)) {
            let frames_per_leaf = 1u64 << (span - 12);
            gpa_frame = (gpa_frame | (frames_per_leaf - 1)) + 1;
        }
        let hpa_frame = mem.alloc_frames(1, 1)?.get();
        self.map_host(mem, gpa_frame << 12, hpa_frame << 12, 4096, (true, true, true))?;
        self.next_guest_frame = gpa_frame + 1;
        Ok(gpa_frame)
    }

    /// Maps guest virtual page `va` to a fresh guest-physical frame (with host backing) with
    /// the guest format's `flags`; returns the page's guest-physical address.
    pub fn map_guest(
        &mut self,
        mem: &mut impl HostMem,
        guest: &PagingFormat,
        va: VirtAddr,
        flags: &[&str],
    ) -> Result<PhysAddr, NestedError> {
        let gpa = PhysAddr::new(self.alloc_guest_frame(mem)? << 12);
        self.map_guest_to(mem, guest, va, gpa, flags)?;
        Ok(gpa)
    }

    /// Maps guest virtual page `va` to guest-physical `gpa` (4 KiB), whether or not the host
    /// maps `gpa` (a guest may point at memory its host never gave it: an EPT violation
    /// later). Guest tables are allocated in guest-physical memory as needed.
    pub fn map_guest_to(
        &mut self,
        mem: &mut impl HostMem,
        guest: &PagingFormat,
        va: VirtAddr,
        gpa: PhysAddr,
        flags: &[&str],
    ) -> Result<(), NestedError> {
        let (va, gpa) = (va.get(), gpa.get());
        if !guest.va_in_range(va) {
            return Err(NestedError::GuestVa(va));
        }
        if !gpa.is_multiple_of(4096) {
            return Err(NestedError::Misaligned { what: "guest-physical address", addr: gpa, size: 4096 });
        }
        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        let last = guest.last_level();
        let leaf = table::leaf_bits(guest, last, &flags)?;
        let mut table_gpa = self.guest_root_gpa;
        for level in 0..last {
            let entry_gpa = table_gpa + guest.index_of(va, level) * 8;
            let hpa = self
                .host_address(mem.phys(), PhysAddr::new(entry_gpa))
                .ok_or(NestedError::Unbacked(entry_gpa))?;
            let raw = mem.phys().read_le(hpa, 8)?;
            if guest.present(raw, level) && !guest.is_leaf(raw, level) {
                table_gpa = guest.frame(raw, level) << 12;
                continue;
            }
            if guest.present(raw, level) {
                return Err(NestedError::GuestHugePage { va, level });
            }
            let frame = self.alloc_guest_frame(mem)?;
            mem.write_entry(hpa, table::table_entry(guest, level, Pfn::new(frame)))?;
            table_gpa = frame << 12;
        }
        let entry_gpa = table_gpa + guest.index_of(va, last) * 8;
        let hpa = self
            .host_address(mem.phys(), PhysAddr::new(entry_gpa))
            .ok_or(NestedError::Unbacked(entry_gpa))?;
        let leaf = guest.with(leaf, Role::Frame, last, gpa >> 12);
        mem.write_entry(hpa, leaf)?;
        Ok(())
    }

    /// Checks a stored setup against its memory and guest format (a lab being loaded): the
    /// pair fits, the host root lies in memory, the guest root is an aligned guest-physical
    /// address. Returns the field at fault and why.
    pub fn validate(&self, mem: &PhysMem, guest: &PagingFormat) -> Result<(), (&'static str, String)> {
        check_pair(guest, self.host).map_err(|e| ("host", e.to_string()))?;
        let end = self.host_root.checked_add(self.host.root_frames());
        if end.is_none_or(|e| e > mem.frame_count()) {
            return Err((
                "host_root",
                format!(
                    "host root frame {:#x} is beyond host-physical memory ({} frames)",
                    self.host_root,
                    mem.frame_count()
                ),
            ));
        }
        if !self.host_root.is_multiple_of(self.host.root_frames()) {
            return Err((
                "host_root",
                format!("an {} root is 16 KiB aligned; frame {:#x} is not", self.host.name(), self.host_root),
            ));
        }
        if !self.guest_root_gpa.is_multiple_of(4096) || self.guest_root_gpa >> self.host.gpa_bits() != 0 {
            return Err((
                "guest_root",
                format!(
                    "{:#x} is not a 4 KiB-aligned guest-physical address below 2^{}",
                    self.guest_root_gpa,
                    self.host.gpa_bits()
                ),
            ));
        }
        if self.next_guest_frame > low_mask(self.host.gpa_bits() - 12) {
            return Err((
                "next_guest_frame",
                format!("{:#x} is beyond the guest-physical space", self.next_guest_frame),
            ));
        }
        Ok(())
    }
}

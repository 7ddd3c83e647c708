//! Simulated physical memory: sparse frames of real bytes (a frame that was never written reads
//! as zeros and costs nothing) and a deterministic frame allocator (lowest free frame first).

use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MemError {
    #[error("physical address {addr:#x} (+{len} bytes) is beyond physical memory ({size:#x} bytes)")]
    OutOfRange { addr: u64, len: u64, size: u64 },
    #[error("frame {frame:#x} is beyond physical memory ({frames} frames)")]
    FrameOutOfRange { frame: u64, frames: u64 },
    #[error("out of physical memory: no {count} free contiguous frame(s) among {frames}")]
    OutOfFrames { count: u64, frames: u64 },
    #[error("physical memory of {0:#x} bytes is not a positive multiple of the page size")]
    BadSize(u64),
}

/// Physical memory of `frame_count` frames of `1 << frame_shift` bytes.
#[derive(Clone)]
pub struct PhysMem {
    frame_shift: u32,
    frame_count: u64,
    data: BTreeMap<u64, Box<[u8]>>,
    allocated: BTreeSet<u64>,
    /// Lowest frame that might be free: keeps sequential allocation O(log n).
    free_hint: u64,
}

/// Equal when sizes, allocation and every byte agree (the allocator's hint and frames that
/// were written back to zeros do not matter).
impl PartialEq for PhysMem {
    fn eq(&self, other: &Self) -> bool {
        fn nonzero(m: &PhysMem) -> Vec<(u64, &[u8])> {
            m.data.iter().filter(|(_, b)| b.iter().any(|&x| x != 0)).map(|(&f, b)| (f, &b[..])).collect()
        }
        self.frame_shift == other.frame_shift
            && self.frame_count == other.frame_count
            && self.allocated == other.allocated
            && nonzero(self) == nonzero(other)
    }
}

impl Eq for PhysMem {}

/// A summary: frames of real bytes would flood test output.
impl std::fmt::Debug for PhysMem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhysMem")
            .field("frame_size", &self.frame_size())
            .field("frame_count", &self.frame_count)
            .field("stored_frames", &self.data.keys().collect::<Vec<_>>())
            .field("allocated", &self.allocated.len())
            .finish()
    }
}

impl PhysMem {
    /// Memory of `size` bytes in frames of `1 << frame_shift` bytes.
    pub fn new(size: u64, frame_shift: u32) -> Result<Self, MemError> {
        let frame = 1u64.checked_shl(frame_shift).ok_or(MemError::BadSize(size))?;
        if size == 0 || !size.is_multiple_of(frame) || frame_shift > 40 {
            return Err(MemError::BadSize(size));
        }
        Ok(Self {
            frame_shift,
            frame_count: size >> frame_shift,
            data: BTreeMap::new(),
            allocated: BTreeSet::new(),
            free_hint: 0,
        })
    }

    pub fn frame_shift(&self) -> u32 {
        self.frame_shift
    }

    pub fn frame_size(&self) -> u64 {
        1 << self.frame_shift
    }

    pub fn frame_count(&self) -> u64 {
        self.frame_count
    }

    pub fn size(&self) -> u64 {
        self.frame_count << self.frame_shift
    }

    pub fn contains_frame(&self, frame: u64) -> bool {
        frame < self.frame_count
    }

    fn check(&self, addr: u64, len: u64) -> Result<(), MemError> {
        match addr.checked_add(len) {
            Some(end) if end <= self.size() => Ok(()),
            _ => Err(MemError::OutOfRange { addr, len, size: self.size() }),
        }
    }

    /// Reads `buf.len()` bytes at `addr`; the range may cross frames.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        self.check(addr, buf.len() as u64)?;
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr + done as u64;
            let frame = a >> self.frame_shift;
            let offset = (a & (self.frame_size() - 1)) as usize;
            let n = (buf.len() - done).min(self.frame_size() as usize - offset);
            let dst = &mut buf[done..done + n];
            match self.data.get(&frame) {
                Some(bytes) => dst.copy_from_slice(&bytes[offset..offset + n]),
                None => dst.fill(0),
            }
            done += n;
        }
        Ok(())
    }

    /// Writes `bytes` at `addr`; the range may cross frames.
    pub fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), MemError> {
        self.check(addr, bytes.len() as u64)?;
        let frame_size = self.frame_size() as usize;
        let mut done = 0usize;
        while done < bytes.len() {
            let a = addr + done as u64;
            let frame = a >> self.frame_shift;
            let offset = (a & (self.frame_size() - 1)) as usize;
            let n = (bytes.len() - done).min(frame_size - offset);
            let src = &bytes[done..done + n];
            if let Some(existing) = self.data.get_mut(&frame) {
                existing[offset..offset + n].copy_from_slice(src);
            } else if src.iter().any(|&b| b != 0) {
                let mut fresh = vec![0u8; frame_size].into_boxed_slice();
                fresh[offset..offset + n].copy_from_slice(src);
                self.data.insert(frame, fresh);
            }
            done += n;
        }
        Ok(())
    }

    pub fn read_u8(&self, addr: u64) -> Result<u8, MemError> {
        let mut b = [0u8; 1];
        self.read(addr, &mut b)?;
        Ok(b[0])
    }

    /// Reads a little-endian value of `bytes` (1..=8) bytes.
    pub fn read_le(&self, addr: u64, bytes: u32) -> Result<u64, MemError> {
        let mut buf = [0u8; 8];
        let n = (bytes as usize).min(8);
        self.read(addr, &mut buf[..n])?;
        Ok(u64::from_le_bytes(buf))
    }

    /// Writes the low `bytes` (1..=8) bytes of `value`, little-endian.
    pub fn write_le(&mut self, addr: u64, bytes: u32, value: u64) -> Result<(), MemError> {
        let n = (bytes as usize).min(8);
        self.write(addr, &value.to_le_bytes()[..n])
    }

    /// Zeroes `count` frames from `first` (drops their storage).
    pub fn zero_frames(&mut self, first: u64, count: u64) {
        let end = first.saturating_add(count);
        let doomed: Vec<u64> = self.data.range(first..end).map(|(&f, _)| f).collect();
        for f in doomed {
            self.data.remove(&f);
        }
    }

    /// The bytes of a frame, if it holds any nonzero byte.
    pub fn frame_bytes(&self, frame: u64) -> Option<&[u8]> {
        self.data.get(&frame).map(|b| &b[..])
    }

    /// Frames holding nonzero bytes, in order.
    pub fn stored_frames(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.data.iter().map(|(&f, b)| (f, &b[..]))
    }

    /// Drops storage of frames that became all zeros (keeps saves compact).
    pub fn compact(&mut self) {
        self.data.retain(|_, b| b.iter().any(|&x| x != 0));
    }

    pub fn is_allocated(&self, frame: u64) -> bool {
        self.allocated.contains(&frame)
    }

    /// Allocated frames, in order.
    pub fn allocated(&self) -> impl Iterator<Item = u64> + '_ {
        self.allocated.iter().copied()
    }

    pub fn allocated_count(&self) -> u64 {
        self.allocated.len() as u64
    }

    /// Marks a frame as in use (for frames chosen by the user rather than the allocator).
    pub fn reserve(&mut self, frame: u64) -> Result<(), MemError> {
        if !self.contains_frame(frame) {
            return Err(MemError::FrameOutOfRange { frame, frames: self.frame_count });
        }
        self.allocated.insert(frame);
        Ok(())
    }

    /// Allocates the lowest run of `count` free contiguous frames, zeroed.
    pub fn alloc(&mut self, count: u64) -> Result<u64, MemError> {
        self.alloc_aligned(count, 1)
    }

    /// Allocates the lowest run of `count` free contiguous frames starting at a multiple of
    /// `align` frames (large pages need aligned frames), zeroed.
    pub fn alloc_aligned(&mut self, count: u64, align: u64) -> Result<u64, MemError> {
        let count = count.max(1);
        let align = align.max(1);
        let out_of_frames = MemError::OutOfFrames { count, frames: self.frame_count };
        let mut start = self.free_hint.div_ceil(align).checked_mul(align).ok_or(out_of_frames.clone())?;
        loop {
            let end = start.checked_add(count).filter(|&e| e <= self.frame_count);
            let Some(end) = end else { return Err(out_of_frames) };
            match self.allocated.range(start..end).next_back() {
                Some(&busy) => {
                    start = (busy + 1).div_ceil(align).checked_mul(align).ok_or(out_of_frames.clone())?;
                }
                None => break,
            }
        }
        for f in start..start + count {
            self.allocated.insert(f);
        }
        self.zero_frames(start, count);
        if self.free_hint == start || (count == 1 && align == 1) {
            self.free_hint = start + count;
        }
        Ok(start)
    }

    /// Returns frames to the allocator and zeroes them.
    pub fn free(&mut self, first: u64, count: u64) {
        for f in first..first.saturating_add(count) {
            self.allocated.remove(&f);
        }
        self.zero_frames(first, count);
        self.free_hint = self.free_hint.min(first);
    }

    /// Frees a frame without zeroing it (a data page whose contents the user may still inspect).
    pub fn release(&mut self, frame: u64) {
        self.allocated.remove(&frame);
        self.free_hint = self.free_hint.min(frame);
    }

    /// Resizes memory; refuses to cut off frames that are allocated or hold data.
    pub fn resize(&mut self, size: u64) -> Result<(), MemError> {
        if size == 0 || !size.is_multiple_of(self.frame_size()) {
            return Err(MemError::BadSize(size));
        }
        let frames = size >> self.frame_shift;
        let highest = self.allocated.iter().next_back().copied().into_iter();
        let highest = highest.chain(self.data.keys().next_back().copied()).max();
        if let Some(h) = highest.filter(|&h| h >= frames) {
            return Err(MemError::FrameOutOfRange { frame: h, frames });
        }
        self.frame_count = frames;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritten_memory_reads_zero_and_stores_nothing() {
        let mut m = PhysMem::new(1 << 20, 12).unwrap();
        assert_eq!(m.read_le(0x1234, 8).unwrap(), 0);
        m.write_le(0x2000, 8, 0).unwrap();
        assert_eq!(m.stored_frames().count(), 0);
    }

    #[test]
    fn little_endian_round_trip_across_a_frame_boundary() {
        let mut m = PhysMem::new(1 << 20, 12).unwrap();
        m.write_le(0xffc, 8, 0x1122_3344_5566_7788).unwrap();
        assert_eq!(m.read_u8(0xffc).unwrap(), 0x88);
        assert_eq!(m.read_u8(0x1003).unwrap(), 0x11);
        assert_eq!(m.read_le(0xffc, 8).unwrap(), 0x1122_3344_5566_7788);
    }

    #[test]
    fn out_of_range_is_an_error_not_a_panic() {
        let mut m = PhysMem::new(0x2000, 12).unwrap();
        assert!(m.read_le(0x1ffc, 8).is_err());
        assert!(m.write_le(u64::MAX - 2, 8, 1).is_err());
        assert!(PhysMem::new(0x1001, 12).is_err());
        assert!(PhysMem::new(0, 12).is_err());
    }

    #[test]
    fn allocator_takes_lowest_free_runs() {
        let mut m = PhysMem::new(16 << 12, 12).unwrap();
        assert_eq!(m.alloc(1).unwrap(), 0);
        assert_eq!(m.alloc(1).unwrap(), 1);
        m.reserve(3).unwrap();
        assert_eq!(m.alloc(2).unwrap(), 4);
        assert_eq!(m.alloc(1).unwrap(), 2);
        m.free(1, 1);
        assert_eq!(m.alloc(1).unwrap(), 1);
        assert!(m.alloc(11).is_err());
        assert_eq!(m.alloc(10).unwrap(), 6);
        assert!(m.alloc(1).is_err());
    }

    #[test]
    fn aligned_allocation_skips_to_the_alignment() {
        let mut m = PhysMem::new(64 << 12, 12).unwrap();
        assert_eq!(m.alloc(1).unwrap(), 0);
        assert_eq!(m.alloc_aligned(8, 8).unwrap(), 8);
        assert_eq!(m.alloc(1).unwrap(), 1);
        m.reserve(20).unwrap();
        assert_eq!(m.alloc_aligned(16, 16).unwrap(), 32);
        assert!(m.alloc_aligned(32, 32).is_err());
    }

    #[test]
    fn freed_frames_are_zeroed() {
        let mut m = PhysMem::new(4 << 12, 12).unwrap();
        let f = m.alloc(1).unwrap();
        m.write_le(f << 12, 4, 0xdead_beef).unwrap();
        m.free(f, 1);
        assert_eq!(m.read_le(f << 12, 4).unwrap(), 0);
    }

    #[test]
    fn resize_refuses_to_drop_used_frames() {
        let mut m = PhysMem::new(8 << 12, 12).unwrap();
        m.reserve(6).unwrap();
        assert!(m.resize(4 << 12).is_err());
        assert!(m.resize(16 << 12).is_ok());
        assert_eq!(m.frame_count(), 16);
    }
}

//! Simulated physical memory: real bytes stored in chunks of at most 4 KiB (a chunk that was never
//! written reads as zeros and costs nothing, so even a 1 TiB frame costs only what is written into
//! it), and a deterministic frame allocator (lowest free frame first) that keeps allocated frames
//! as runs. Changes can be journaled: a journal records the bytes and allocation state that a
//! change overwrote, so a failed operation rolls back and an undo step restores, without ever
//! copying the whole memory.

use super::address::{Pfn, PhysAddr};
use super::runs::Runs;
use std::collections::BTreeMap;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MemError {
    #[error("physical address {addr:#x} (+{len} bytes) is beyond physical memory ({size:#x} bytes)")]
    OutOfRange { addr: PhysAddr, len: u64, size: u64 },
    #[error("frame {frame:#x} is beyond physical memory ({frames} frames)")]
    FrameOutOfRange { frame: u64, frames: u64 },
    #[error("out of physical memory: no {count} free contiguous frame(s) among {frames}")]
    OutOfFrames { count: u64, frames: u64 },
    #[error("physical memory of {0:#x} bytes is not a positive multiple of the page size")]
    BadSize(u64),
}

/// Largest storage chunk: bigger frames are stored in pieces of this size.
const MAX_CHUNK_SHIFT: u32 = 12;

/// A change of allocation state: `(start, end, the runs of [start, end) allocated before)`.
type AllocChange = (u64, u64, Vec<(u64, u64)>);

/// What a change overwrote: the old contents of every chunk it touched (first touch wins) and the
/// old allocation state of every frame range it changed, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Journal {
    chunk_shift: u32,
    chunks: BTreeMap<u64, Option<Box<[u8]>>>,
    alloc: Vec<AllocChange>,
    frame_count: Option<u64>,
}

impl Journal {
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.alloc.is_empty() && self.frame_count.is_none()
    }

    /// The chunks the change touched, as (first address, old bytes; `None` for zeros).
    pub fn old_chunks(&self) -> impl Iterator<Item = (u64, Option<&[u8]>)> {
        self.chunks.iter().map(|(&c, b)| (c << self.chunk_shift, b.as_deref()))
    }

    /// Bytes the journal holds (for undo accounting).
    pub fn heap_bytes(&self) -> usize {
        let chunks: usize = self.chunks.values().map(|c| c.as_ref().map_or(0, |b| b.len()) + 32).sum();
        let alloc: usize = self.alloc.iter().map(|(_, _, runs)| 40 + runs.len() * 16).sum();
        chunks + alloc
    }

    /// Appends a later journal of the same memory (its older images lose to ours).
    pub fn absorb(&mut self, later: Journal) {
        if self.is_empty() {
            self.chunk_shift = later.chunk_shift;
        }
        for (chunk, old) in later.chunks {
            self.chunks.entry(chunk).or_insert(old);
        }
        self.alloc.extend(later.alloc);
        if self.frame_count.is_none() {
            self.frame_count = later.frame_count;
        }
    }
}

/// Physical memory of `frame_count` frames of `1 << frame_shift` bytes.
#[derive(Clone)]
pub struct PhysMem {
    frame_shift: u32,
    frame_count: u64,
    chunk_shift: u32,
    /// Chunk index (address >> chunk_shift) -> bytes.
    data: BTreeMap<u64, Box<[u8]>>,
    allocated: Runs,
    /// Open journals, innermost last; changes are recorded in the innermost.
    journals: Vec<Journal>,
}

/// Equal when sizes, allocation and every byte agree (chunks written back to zeros do not matter).
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

/// A summary: chunks of real bytes would flood test output.
impl std::fmt::Debug for PhysMem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhysMem")
            .field("frame_size", &self.frame_size())
            .field("frame_count", &self.frame_count)
            .field("stored_chunks", &self.data.len())
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
            chunk_shift: frame_shift.min(MAX_CHUNK_SHIFT),
            data: BTreeMap::new(),
            allocated: Runs::new(),
            journals: Vec::new(),
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

    /// Bytes per storage chunk (the frame size, or 4 KiB for bigger frames).
    pub fn chunk_size(&self) -> u64 {
        1 << self.chunk_shift
    }

    pub fn contains_frame(&self, frame: Pfn) -> bool {
        frame.get() < self.frame_count
    }

    fn check(&self, addr: u64, len: u64) -> Result<(), MemError> {
        match addr.checked_add(len) {
            Some(end) if end <= self.size() => Ok(()),
            _ => Err(MemError::OutOfRange { addr: PhysAddr::new(addr), len, size: self.size() }),
        }
    }

    // ---- journaling ----

    /// Starts recording changes; every `begin` is closed by [`PhysMem::commit`] or
    /// [`PhysMem::rollback`]. Journals nest: an inner one commits into the outer one.
    pub fn begin(&mut self) {
        self.journals.push(Journal { chunk_shift: self.chunk_shift, ..Journal::default() });
    }

    /// Keeps the changes since the matching `begin`; returns what they overwrote when this was
    /// the outermost journal (for an undo step), else merges it into the enclosing one.
    pub fn commit(&mut self) -> Journal {
        let Some(journal) = self.journals.pop() else { return Journal::default() };
        match self.journals.last_mut() {
            Some(outer) => {
                outer.absorb(journal);
                Journal::default()
            }
            None => journal,
        }
    }

    /// Undoes the changes since the matching `begin`.
    pub fn rollback(&mut self) {
        if let Some(journal) = self.journals.pop() {
            self.restore(journal);
        }
    }

    /// Puts back what `journal` recorded, itself recorded in the open journal if any.
    fn restore(&mut self, journal: Journal) {
        for (start, end, was) in journal.alloc.into_iter().rev() {
            self.set_allocation(start, end, false);
            for (s, e) in was {
                self.set_allocation(s, e, true);
            }
        }
        for (chunk, old) in journal.chunks {
            self.note_chunk(chunk);
            match old {
                Some(bytes) => {
                    self.data.insert(chunk, bytes);
                }
                None => {
                    self.data.remove(&chunk);
                }
            }
        }
        if let Some(count) = journal.frame_count {
            self.note_frame_count();
            self.frame_count = count;
        }
    }

    /// Applies an undo journal and returns the journal that reverts that (redo, then undo again).
    pub fn revert(&mut self, journal: Journal) -> Journal {
        self.begin();
        self.restore(journal);
        // `begin` above made this the innermost journal; hand it back instead of merging it.
        self.journals.pop().unwrap_or_default()
    }

    fn note_chunk(&mut self, chunk: u64) {
        if let Some(journal) = self.journals.last_mut()
            && !journal.chunks.contains_key(&chunk)
        {
            journal.chunks.insert(chunk, self.data.get(&chunk).cloned());
        }
    }

    fn note_frame_count(&mut self) {
        if let Some(journal) = self.journals.last_mut()
            && journal.frame_count.is_none()
        {
            journal.frame_count = Some(self.frame_count);
        }
    }

    /// Marks `[start, end)` allocated or free, journaled.
    fn set_allocation(&mut self, start: u64, end: u64, allocated: bool) {
        if start >= end {
            return;
        }
        if let Some(journal) = self.journals.last_mut() {
            journal.alloc.push((start, end, self.allocated.intersect(start, end)));
        }
        if allocated {
            self.allocated.insert(start, end);
        } else {
            self.allocated.remove(start, end);
        }
    }

    // ---- bytes ----

    /// Reads `buf.len()` bytes at `addr`; the range may cross frames.
    #[allow(clippy::cast_possible_truncation)] // offsets within a chunk, and chunks fit in memory
    pub fn read(&self, addr: PhysAddr, buf: &mut [u8]) -> Result<(), MemError> {
        let addr = addr.get();
        self.check(addr, buf.len() as u64)?;
        let chunk_size = self.chunk_size();
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr + done as u64;
            let chunk = a >> self.chunk_shift;
            let offset = (a & (chunk_size - 1)) as usize;
            let n = (buf.len() - done).min(chunk_size as usize - offset);
            let dst = &mut buf[done..done + n];
            match self.data.get(&chunk) {
                Some(bytes) => dst.copy_from_slice(&bytes[offset..offset + n]),
                None => dst.fill(0),
            }
            done += n;
        }
        Ok(())
    }

    /// Writes `bytes` at `addr`; the range may cross frames.
    #[allow(clippy::cast_possible_truncation)] // offsets within a chunk, and chunks fit in memory
    pub fn write(&mut self, addr: PhysAddr, bytes: &[u8]) -> Result<(), MemError> {
        let addr = addr.get();
        self.check(addr, bytes.len() as u64)?;
        let chunk_size = self.chunk_size() as usize;
        let mut done = 0usize;
        while done < bytes.len() {
            let a = addr + done as u64;
            let chunk = a >> self.chunk_shift;
            let offset = (a & (self.chunk_size() - 1)) as usize;
            let n = (bytes.len() - done).min(chunk_size - offset);
            let src = &bytes[done..done + n];
            let stored = self.data.contains_key(&chunk);
            if stored || src.iter().any(|&b| b != 0) {
                self.note_chunk(chunk);
                let existing =
                    self.data.entry(chunk).or_insert_with(|| vec![0u8; chunk_size].into_boxed_slice());
                existing[offset..offset + n].copy_from_slice(src);
            }
            done += n;
        }
        Ok(())
    }

    pub fn read_u8(&self, addr: PhysAddr) -> Result<u8, MemError> {
        let mut b = [0u8; 1];
        self.read(addr, &mut b)?;
        Ok(b[0])
    }

    /// Reads a little-endian value of `bytes` (1..=8) bytes.
    pub fn read_le(&self, addr: PhysAddr, bytes: u32) -> Result<u64, MemError> {
        let mut buf = [0u8; 8];
        let n = (bytes as usize).min(8);
        self.read(addr, &mut buf[..n])?;
        Ok(u64::from_le_bytes(buf))
    }

    /// Writes the low `bytes` (1..=8) bytes of `value`, little-endian.
    pub fn write_le(&mut self, addr: PhysAddr, bytes: u32, value: u64) -> Result<(), MemError> {
        let n = (bytes as usize).min(8);
        self.write(addr, &value.to_le_bytes()[..n])
    }

    /// The chunk range that frames `[first, first + count)` cover.
    fn chunk_range(&self, first: u64, count: u64) -> (u64, u64) {
        let per_frame = self.frame_shift - self.chunk_shift;
        let start = first.checked_shl(per_frame).filter(|s| s >> per_frame == first).unwrap_or(u64::MAX);
        let end = first.saturating_add(count);
        let end = end.checked_shl(per_frame).filter(|e| e >> per_frame == end).unwrap_or(u64::MAX);
        (start, end)
    }

    /// Zeroes `count` frames from `first` (drops their storage).
    pub fn zero_frames(&mut self, first: Pfn, count: u64) {
        let (start, end) = self.chunk_range(first.get(), count);
        if start >= end {
            return;
        }
        let doomed: Vec<u64> = self.data.range(start..end).map(|(&c, _)| c).collect();
        for chunk in doomed {
            self.note_chunk(chunk);
            self.data.remove(&chunk);
        }
    }

    /// Copies `count` frames from `src` to `dst` (which must not overlap), chunk by chunk: only
    /// stored chunks are copied, so a huge, sparse frame costs what it stores.
    pub fn copy_frames(&mut self, src: Pfn, dst: Pfn, count: u64) -> Result<(), MemError> {
        let (src, dst) = (src.get(), dst.get());
        let in_range = |f: u64| f.checked_add(count).is_some_and(|end| end <= self.frame_count);
        if !in_range(src) || !in_range(dst) {
            return Err(MemError::FrameOutOfRange { frame: src.max(dst), frames: self.frame_count });
        }
        self.zero_frames(Pfn::new(dst), count);
        let (start, end) = self.chunk_range(src, count);
        let (dst_start, _) = self.chunk_range(dst, count);
        let stored: Vec<(u64, Box<[u8]>)> =
            self.data.range(start..end).map(|(&c, b)| (c, b.clone())).collect();
        for (chunk, bytes) in stored {
            let target = dst_start + (chunk - start);
            self.note_chunk(target);
            self.data.insert(target, bytes);
        }
        Ok(())
    }

    /// Whether frame `frame` holds any stored byte (a frame without one reads as zeros).
    pub fn frame_has_data(&self, frame: Pfn) -> bool {
        let (start, end) = self.chunk_range(frame.get(), 1);
        start < end && self.data.range(start..end).next().is_some()
    }

    /// The stored chunk holding `addr`, as (its first address, its bytes); `None` reads as zeros.
    pub fn chunk_at(&self, addr: PhysAddr) -> Option<(PhysAddr, &[u8])> {
        let chunk = addr.get() >> self.chunk_shift;
        self.data.get(&chunk).map(|b| (PhysAddr::new(chunk << self.chunk_shift), &b[..]))
    }

    /// Stored chunks as (first address, bytes), in address order.
    pub fn stored_chunks(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.data.iter().map(|(&c, b)| (c << self.chunk_shift, &b[..]))
    }

    /// Bytes the memory model holds for stored data (what a file or edits made it materialise).
    pub fn stored_bytes(&self) -> u64 {
        self.data.len() as u64 * self.chunk_size()
    }

    /// The bytes of a whole frame, or `None` when it holds no stored byte. Frames beyond
    /// `max_bytes` are refused (`Err`) rather than materialised.
    pub fn frame_copy(&self, frame: Pfn, max_bytes: u64) -> Result<Option<Vec<u8>>, MemError> {
        if !self.frame_has_data(frame) {
            return Ok(None);
        }
        // A frame with stored data lies in memory, so its base address exists.
        let Some(base) = frame.base(self.frame_shift) else { return Ok(None) };
        if self.frame_size() > max_bytes {
            return Err(MemError::OutOfRange { addr: base, len: self.frame_size(), size: max_bytes });
        }
        let mut bytes = vec![0u8; usize::try_from(self.frame_size()).unwrap_or(0)];
        self.read(base, &mut bytes)?;
        Ok(Some(bytes))
    }

    /// Drops storage of chunks that became all zeros (keeps saves compact).
    pub fn compact(&mut self) {
        let zero: Vec<u64> =
            self.data.iter().filter(|(_, b)| b.iter().all(|&x| x == 0)).map(|(&c, _)| c).collect();
        for chunk in zero {
            self.note_chunk(chunk);
            self.data.remove(&chunk);
        }
    }

    // ---- the allocator ----

    pub fn is_allocated(&self, frame: Pfn) -> bool {
        self.allocated.contains(frame.get())
    }

    /// Allocated frames as runs.
    pub fn allocated_runs(&self) -> &Runs {
        &self.allocated
    }

    pub fn allocated_count(&self) -> u64 {
        self.allocated.len()
    }

    /// Marks a frame as in use (for frames chosen by the user rather than the allocator).
    pub fn reserve(&mut self, frame: Pfn) -> Result<(), MemError> {
        self.reserve_range(frame, 1)
    }

    /// Marks `count` frames from `first` as in use.
    pub fn reserve_range(&mut self, first: Pfn, count: u64) -> Result<(), MemError> {
        let first = first.get();
        let end = first.checked_add(count).filter(|&e| e <= self.frame_count);
        let Some(end) = end else {
            return Err(MemError::FrameOutOfRange {
                frame: first.saturating_add(count).saturating_sub(1),
                frames: self.frame_count,
            });
        };
        if self.allocated.gaps(first, end).is_empty() {
            return Ok(());
        }
        self.set_allocation(first, end, true);
        Ok(())
    }

    /// Allocates the lowest run of `count` free contiguous frames, zeroed.
    pub fn alloc(&mut self, count: u64) -> Result<Pfn, MemError> {
        self.alloc_aligned(count, 1)
    }

    /// Allocates the lowest run of `count` free contiguous frames starting at a multiple of
    /// `align` frames (large pages need aligned frames), zeroed. Each step skips a whole
    /// allocated run, so the cost grows with the runs passed, not with the frames.
    pub fn alloc_aligned(&mut self, count: u64, align: u64) -> Result<Pfn, MemError> {
        let count = count.max(1);
        let align = align.max(1);
        let out_of_frames = || MemError::OutOfFrames { count, frames: self.frame_count };
        let align_up = |v: u64| v.div_ceil(align).checked_mul(align);
        let mut start = align_up(self.allocated.first_gap()).ok_or_else(out_of_frames)?;
        loop {
            let end =
                start.checked_add(count).filter(|&e| e <= self.frame_count).ok_or_else(out_of_frames)?;
            match self.allocated.last_overlap(start, end) {
                Some((_, busy_end)) => start = align_up(busy_end).ok_or_else(out_of_frames)?,
                None => break,
            }
        }
        self.set_allocation(start, start + count, true);
        self.zero_frames(Pfn::new(start), count);
        Ok(Pfn::new(start))
    }

    /// Returns frames to the allocator and zeroes them.
    pub fn free(&mut self, first: Pfn, count: u64) {
        self.release_range(first, count);
        self.zero_frames(first, count);
    }

    /// Frees frames without zeroing them (a data page whose contents the user may still inspect).
    pub fn release_range(&mut self, first: Pfn, count: u64) {
        let first = first.get();
        let end = first.saturating_add(count).min(self.frame_count);
        if self.allocated.last_overlap(first, end).is_some() {
            self.set_allocation(first, end, false);
        }
    }

    pub fn release(&mut self, frame: Pfn) {
        self.release_range(frame, 1);
    }

    /// Resizes memory; refuses to cut off frames that are allocated or hold data.
    pub fn resize(&mut self, size: u64) -> Result<(), MemError> {
        if size == 0 || !size.is_multiple_of(self.frame_size()) {
            return Err(MemError::BadSize(size));
        }
        let frames = size >> self.frame_shift;
        let highest_data = self.data.keys().next_back().map(|&c| c >> (self.frame_shift - self.chunk_shift));
        let highest = self.allocated.last().into_iter().chain(highest_data).max();
        if let Some(h) = highest.filter(|&h| h >= frames) {
            return Err(MemError::FrameOutOfRange { frame: h, frames });
        }
        self.note_frame_count();
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
        assert_eq!(m.read_le(PhysAddr::new(0x1234), 8).unwrap(), 0);
        m.write_le(PhysAddr::new(0x2000), 8, 0).unwrap();
        assert_eq!(m.stored_chunks().count(), 0);
    }

    #[test]
    fn little_endian_round_trip_across_a_frame_boundary() {
        let mut m = PhysMem::new(1 << 20, 12).unwrap();
        m.write_le(PhysAddr::new(0xffc), 8, 0x1122_3344_5566_7788).unwrap();
        assert_eq!(m.read_u8(PhysAddr::new(0xffc)).unwrap(), 0x88);
        assert_eq!(m.read_u8(PhysAddr::new(0x1003)).unwrap(), 0x11);
        assert_eq!(m.read_le(PhysAddr::new(0xffc), 8).unwrap(), 0x1122_3344_5566_7788);
    }

    #[test]
    fn out_of_range_is_an_error_not_a_panic() {
        let mut m = PhysMem::new(0x2000, 12).unwrap();
        assert!(m.read_le(PhysAddr::new(0x1ffc), 8).is_err());
        assert!(m.write_le(PhysAddr::new(u64::MAX - 2), 8, 1).is_err());
        assert!(PhysMem::new(0x1001, 12).is_err());
        assert!(PhysMem::new(0, 12).is_err());
    }

    #[test]
    fn allocator_takes_lowest_free_runs() {
        let mut m = PhysMem::new(16 << 12, 12).unwrap();
        assert_eq!(m.alloc(1).unwrap(), Pfn::new(0));
        assert_eq!(m.alloc(1).unwrap(), Pfn::new(1));
        m.reserve(Pfn::new(3)).unwrap();
        assert_eq!(m.alloc(2).unwrap(), Pfn::new(4));
        assert_eq!(m.alloc(1).unwrap(), Pfn::new(2));
        m.free(Pfn::new(1), 1);
        assert_eq!(m.alloc(1).unwrap(), Pfn::new(1));
        assert!(m.alloc(11).is_err());
        assert_eq!(m.alloc(10).unwrap(), Pfn::new(6));
        assert!(m.alloc(1).is_err());
    }

    #[test]
    fn aligned_allocation_skips_to_the_alignment() {
        let mut m = PhysMem::new(64 << 12, 12).unwrap();
        assert_eq!(m.alloc(1).unwrap(), Pfn::new(0));
        assert_eq!(m.alloc_aligned(8, 8).unwrap(), Pfn::new(8));
        assert_eq!(m.alloc(1).unwrap(), Pfn::new(1));
        m.reserve(Pfn::new(20)).unwrap();
        assert_eq!(m.alloc_aligned(16, 16).unwrap(), Pfn::new(32));
        assert!(m.alloc_aligned(32, 32).is_err());
    }

    #[test]
    fn freed_frames_are_zeroed() {
        let mut m = PhysMem::new(4 << 12, 12).unwrap();
        let f = m.alloc(1).unwrap();
        m.write_le(f.base(12).unwrap(), 4, 0xdead_beef).unwrap();
        m.free(f, 1);
        assert_eq!(m.read_le(f.base(12).unwrap(), 4).unwrap(), 0);
    }

    #[test]
    fn resize_refuses_to_drop_used_frames() {
        let mut m = PhysMem::new(8 << 12, 12).unwrap();
        m.reserve(Pfn::new(6)).unwrap();
        assert!(m.resize(4 << 12).is_err());
        assert!(m.resize(16 << 12).is_ok());
        assert_eq!(m.frame_count(), 16);
    }

    #[test]
    fn a_rolled_back_change_leaves_bytes_and_allocation_as_they_were() {
        let mut m = PhysMem::new(64 << 12, 12).unwrap();
        let f = m.alloc(2).unwrap();
        m.write_le(f.base(12).unwrap(), 8, 0x1122).unwrap();
        let before = m.clone();
        m.begin();
        m.write_le(f.base(12).unwrap(), 8, 0x3344).unwrap();
        m.write_le(PhysAddr::new(0x9000), 4, 7).unwrap();
        m.alloc_aligned(8, 8).unwrap();
        m.free(f, 2);
        m.rollback();
        assert_eq!(m, before);
        assert_eq!(m.read_le(f.base(12).unwrap(), 8).unwrap(), 0x1122);
    }

    #[test]
    fn nested_journals_commit_into_the_outer_one_and_revert_round_trips() {
        let mut m = PhysMem::new(64 << 12, 12).unwrap();
        let original = m.clone();
        m.begin();
        m.write_le(PhysAddr::new(0x1000), 8, 1).unwrap();
        m.begin();
        m.write_le(PhysAddr::new(0x1000), 8, 2).unwrap();
        m.reserve_range(Pfn::new(10), 5).unwrap();
        assert!(m.commit().is_empty(), "an inner commit hands its record to the outer journal");
        let undo = m.commit();
        let edited = m.clone();
        let redo = m.revert(undo);
        assert_eq!(m, original, "undo restores the first image of each chunk");
        let undo_again = m.revert(redo);
        assert_eq!(m, edited);
        m.revert(undo_again);
        assert_eq!(m, original);
    }

    #[test]
    fn huge_frames_store_only_the_chunks_written() {
        // 4 frames of 1 TiB (a custom format may have 2^40-byte pages).
        let mut m = PhysMem::new(4 << 40, 40).unwrap();
        for frame in 0..4u64 {
            m.write_le(PhysAddr::new((frame << 40) + 0x1234_5678), 8, 0xfeed).unwrap();
        }
        assert_eq!(m.stored_bytes(), 4 * 4096, "one 4 KiB chunk per write, not a whole frame");
        assert_eq!(m.read_le(PhysAddr::new((2 << 40) + 0x1234_5678), 8).unwrap(), 0xfeed);
        assert!(
            m.frame_copy(Pfn::new(1), 1 << 21).is_err(),
            "a whole 1 TiB frame is refused, not materialised"
        );
        let dst = 3;
        m.copy_frames(Pfn::new(0), Pfn::new(dst), 1).unwrap();
        assert_eq!(m.read_le(PhysAddr::new((dst << 40) + 0x1234_5678), 8).unwrap(), 0xfeed);
        assert_eq!(m.stored_bytes(), 4 * 4096);
    }

    #[test]
    fn allocation_is_kept_as_runs() {
        // 64 GiB of 2 MiB pages: 32,768 aligned runs of 512 frames merge into one run.
        let mut m = PhysMem::new(1 << 36, 12).unwrap();
        let root = m.alloc(1).unwrap();
        for _ in 0..32_767 {
            m.alloc_aligned(512, 512).unwrap();
        }
        assert_eq!(root, Pfn::new(0));
        assert_eq!(m.allocated_count(), 1 + 32_767 * 512);
        assert_eq!(m.allocated_runs().run_count(), 2, "the root, then one run of pages");
        assert!(m.alloc_aligned(512, 512).is_err(), "memory is full: the one 2 MiB slot left holds the root");
    }
}

//! What the RISC-V and x86 halves share in building a scenario: a machine whose data pages name
//! their own addresses, tables allocated inside the table frames, pages mapped through pagelab's
//! own `Machine::map` or written entry by entry and recorded for the queries, and how a query
//! picks an address in one of them.

use super::tools;
use pagelab::sim::mmu::{self, Request, WalkRoot};
use pagelab::sim::rng::SplitMix64;
use pagelab::sim::{
    Access, Machine, MapRequest, MapTarget, MmuSettings, Mode, Pfn, PhysAddr, Translation, VirtAddr, presets,
};
use std::path::{Path, PathBuf};

/// Where a suite keeps things in physical memory.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// The machine's memory size (from physical address 0).
    pub memory: u64,
    /// The first table frame (the conformance process's root); tables stay below `data`.
    pub tables: u64,
    /// The data pages `[data, data_end)`, where every mapped page lands.
    pub data: u64,
    pub data_end: u64,
}

/// A page the generator mapped: its virtual base, the physical base of its size-aligned block,
/// and log2 of its size.
pub struct Page {
    pub va: u64,
    pub pa_block: u64,
    pub shift: u32,
}

/// A scenario's machine, its random draws and the pages mapped so far.
pub struct Base {
    pub machine: Machine,
    pub rng: SplitMix64,
    /// The process whose root is at `layout.tables` (for `Machine::map`).
    pub process: usize,
    pub pages: Vec<Page>,
    /// Pages mapped through `Machine::map` (the rest are written entry by entry).
    pub api_pages: usize,
    layout: Layout,
    pte_bytes: u32,
}

impl Base {
    /// A machine of format `name` whose data pages hold 8-byte words: `code` (what a fetch
    /// there runs: the probe's trap back), then the word's physical address >> 3. Tables come
    /// from the allocator, kept inside the table frames: everything else is reserved, so the
    /// conformance process's root is the first table frame.
    pub fn new(name: &str, seed: u64, layout: Layout, code: [u8; 4], pte_bytes: u32) -> Base {
        let Layout { memory, tables, data, data_end } = layout;
        let format = presets::by_name(name).expect("preset");
        let mut machine = Machine::new(format, memory).expect("machine");
        let mut pattern = Vec::with_capacity((data_end - data) as usize);
        for word in (data..data_end).step_by(8) {
            pattern.extend_from_slice(&code);
            pattern.extend_from_slice(&((word >> 3) as u32).to_le_bytes());
        }
        machine.write_phys(PhysAddr::new(data), &pattern).expect("data pages");
        let frames = machine.mem().frame_count();
        machine.reserve_frames(Pfn::new(0), tables >> 12).expect("reserve below the tables");
        machine.reserve_frames(Pfn::new(data >> 12), frames - (data >> 12)).expect("reserve the rest");
        let process = machine.add_process("conformance").expect("process");
        assert_eq!(
            machine.processes()[process].root,
            Pfn::new(tables >> 12),
            "the root is the first table frame"
        );
        Base {
            machine,
            rng: SplitMix64::new(seed),
            process,
            pages: Vec::new(),
            api_pages: 0,
            layout,
            pte_bytes,
        }
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.rng.below(100) < percent
    }

    pub fn alloc_table(&mut self) -> Option<u64> {
        self.machine.alloc_frames(1, 1).ok().map(|frame| frame.get() << 12)
    }

    pub fn write(&mut self, addr: u64, value: u64) {
        self.machine.write_phys_le(PhysAddr::new(addr), self.pte_bytes, value).expect("entry write");
    }

    pub fn read(&self, addr: u64) -> u64 {
        self.machine.mem().read_le(PhysAddr::new(addr), self.pte_bytes).expect("entry read")
    }

    /// Where a page of `size` bytes goes: inside the data pages if it fits, else the aligned
    /// block that holds them.
    pub fn pa_block(&mut self, size: u64) -> u64 {
        let Layout { data, data_end, .. } = self.layout;
        if size <= data_end - data {
            data + (self.rng.below(((data_end - data) / size) as usize) as u64) * size
        } else {
            data & !(size - 1)
        }
    }

    /// Maps the page of `1 << shift` bytes at `va` (aligned) to `pa_block` (from
    /// [`Base::pa_block`]) through pagelab's own `Machine::map`, with `flags` by field name, so
    /// that the tables `map` builds are compared with QEMU too. A request `map` refuses (the
    /// range is taken, or a page larger than memory) maps nothing.
    pub fn map_with_api(&mut self, va: u64, shift: u32, pa_block: u64, flags: Vec<String>) {
        let size = 1u64 << shift;
        let va = va & !(size - 1);
        let request = MapRequest {
            va: VirtAddr::new(va),
            len: size,
            target: MapTarget::To(PhysAddr::new(pa_block)),
            page_size: Some(size),
            flags: Some(flags),
        };
        if self.machine.map(self.process, &request).is_ok() {
            self.pages.push(Page { va, pa_block, shift });
            self.api_pages += 1;
        }
    }

    /// Draws `flags` by name, each with its percentage.
    pub fn draw_flags(&mut self, flags: &mut Vec<String>, chances: &[(&str, usize)]) {
        for &(name, percent) in chances {
            if self.chance(percent) {
                flags.push(name.to_string());
            }
        }
    }

    /// Most queries (85%, once a page is mapped) go to a mapped page, at an address whose
    /// physical word lies in the data pages, `low` bytes into the word: `Some(Some(va))`, or
    /// `Some(None)` when the page reaches no data page. `None`: draw another kind of address.
    pub fn va_in_a_page(&mut self, low: u64) -> Option<Option<u64>> {
        if self.pages.is_empty() || !self.chance(85) {
            return None;
        }
        let Layout { data, data_end, .. } = self.layout;
        let page = &self.pages[self.rng.below(self.pages.len())];
        let start = page.pa_block.max(data);
        let end = (page.pa_block + (1 << page.shift)).min(data_end);
        if start >= end {
            return Some(None);
        }
        let target = (start + self.rng.below((end - start) as usize) as u64) & !7;
        Some(Some(page.va + (target - page.pa_block) + low))
    }

    /// Writes a leaf `value` at `entry` and records its page for the queries.
    pub fn write_leaf(&mut self, entry: u64, value: u64, page: Page) {
        self.write(entry, value);
        self.pages.push(page);
    }

    /// A query's access and privilege, drawn.
    pub fn draw_access(&mut self) -> (Access, Mode) {
        let access = [Access::Read, Access::Write, Access::Execute][self.rng.below(3)];
        let mode = if self.chance(50) { Mode::User } else { Mode::Supervisor };
        (access, mode)
    }

    /// pagelab's walk of `request` from `root` with `settings`.
    pub fn walk(&self, root: impl Into<WalkRoot>, settings: &MmuSettings, request: Request) -> Translation {
        mmu::translate(self.machine.mem(), self.machine.format(), root, settings, request)
    }

    /// Whether `walk` succeeds outside the data pages (where an access could reach a device:
    /// such a query is not asked).
    pub fn lands_outside_data(&self, walk: &Translation) -> bool {
        walk.pa().is_some_and(|pa| !(self.layout.data..self.layout.data_end).contains(&pa.get()))
    }
}

/// A suite's scenario: tables built at random, mostly through pagelab's own API, then queries
/// drawn on them.
pub trait Scenario {
    type Query;
    /// Maps one random page (or writes one random entry).
    fn map_random(&mut self);
    /// A random query, or `None` when this draw found no usable address.
    fn query(&mut self) -> Option<Self::Query>;
    /// The machine and the pages mapped so far.
    fn base(&self) -> &Base;
}

/// The seed of scenario `run` of a suite seeded with `seed`.
pub fn run_seed(seed: u64, run: usize) -> u64 {
    seed ^ (run as u64).wrapping_mul(0x9e37_79b9)
}

/// Builds a scenario's tables (300 random mappings), draws up to `per_run` queries (at most
/// `max`) and writes QEMU's inputs into `dir`: the memory in `image` and the query block
/// (`block`). Returns the queries and the paths of the RAM image and the query block.
pub fn prepare<S: Scenario>(
    name: &str,
    builder: &mut S,
    [per_run, max]: [usize; 2],
    dir: &Path,
    image: [u64; 2],
    block: impl FnOnce(&S, &[S::Query]) -> Vec<u8>,
) -> (Vec<S::Query>, PathBuf, PathBuf) {
    for _ in 0..300 {
        builder.map_random();
    }
    assert!(builder.base().api_pages > 0, "{name}: no page was mapped through Machine::map");
    let queries = tools::collect_queries(per_run, max, || builder.query());
    let bytes = block(builder, &queries);
    let (ram, queries_file) = tools::write_run_inputs(dir, builder.base().machine.mem(), image, &bytes);
    (queries, ram, queries_file)
}

//! The RISC-V half of the QEMU suite: random Sv32/39/48/57 tables written entry by entry into
//! pagelab's physical memory (valid and malformed entries, pages of every size the format has),
//! random queries in U- and S-mode with SUM and MXR, each translated by pagelab and performed by
//! the probe (riscv_probe.S) on `qemu-system-riscv64/32 -M virt -bios none`.
//!
//! Physical addresses are the same on both sides: pagelab's memory spans 0 to the end of QEMU's
//! RAM, the tables and the data pages lie in RAM, and the bytes from `TABLES` to `DATA_END` are
//! loaded into QEMU as they are in pagelab. QEMU sets A/D itself (as Svadu), so pagelab runs with
//! Svadu.

use super::compare::{self, Case, Seen, Tally};
use super::scenario::{self, Base, Layout, Page, Scenario};
use super::tools;
use pagelab::sim::mmu::{Request, RiscvAd};
use pagelab::sim::{Access, ArchReport, MmuSettings, Outcome, Pfn, Translation, VirtAddr};
use std::process::Command;

const RAM_BASE: u64 = 0x8000_0000;
const RAM_SIZE: u64 = 256 << 20;
/// The query block the probe reads (see riscv_probe.S).
const QBASE: u64 = 0x8010_0000;
const RECORD: usize = 64;
/// Table frames come from here up to `DATA`.
const TABLES: u64 = 0x8020_0000;
/// Data pages: every 8-byte word holds ECALL and its own physical address >> 3.
const DATA: u64 = 0x8040_0000;
const DATA_END: u64 = 0x80c0_0000;
/// A physical address with no memory on either side (for pointers that lead nowhere).
const NOWHERE: u64 = 0x2_0000_0000;
const MAX_QUERIES: usize = ((TABLES - QBASE) as usize / RECORD) - 1;

// PTE bits (privileged spec, Sv32/Sv39 PTE figures).
const V: u64 = 1;
const R: u64 = 1 << 1;
const W: u64 = 1 << 2;
const X: u64 = 1 << 3;
const U: u64 = 1 << 4;
const G: u64 = 1 << 5;
const A: u64 = 1 << 6;
const D: u64 = 1 << 7;

/// The PPN field of a PTE for the page or table at `pa`.
fn ppn_field(pa: u64) -> u64 {
    (pa >> 12) << 10
}

/// One format's shape, as the spec gives it.
struct Shape {
    levels: usize,
    index_bits: u32,
    pte_bytes: u32,
    xlen: u32,
}

impl Shape {
    fn of(name: &str) -> Shape {
        match name {
            "sv32" => Shape { levels: 2, index_bits: 10, pte_bytes: 4, xlen: 32 },
            "sv39" => Shape { levels: 3, index_bits: 9, pte_bytes: 8, xlen: 64 },
            "sv48" => Shape { levels: 4, index_bits: 9, pte_bytes: 8, xlen: 64 },
            "sv57" => Shape { levels: 5, index_bits: 9, pte_bytes: 8, xlen: 64 },
            other => panic!("not a RISC-V format: {other}"),
        }
    }

    fn va_bits(&self) -> u32 {
        12 + self.index_bits * self.levels as u32
    }

    /// log2 of the region an entry at `level` (0 = root) maps.
    fn span_shift(&self, level: usize) -> u32 {
        12 + self.index_bits * (self.levels - 1 - level) as u32
    }

    fn index(&self, va: u64, level: usize) -> u64 {
        (va >> self.span_shift(level)) & ((1 << self.index_bits) - 1)
    }

    /// Sv39 and up: bits above the VA width copy its top bit.
    fn canonical(&self, va: u64) -> u64 {
        if self.xlen == 32 {
            return va & 0xffff_ffff;
        }
        let unused = 64 - self.va_bits();
        (((va << unused) as i64) >> unused) as u64
    }

    fn satp(&self, root_ppn: u64) -> u64 {
        match self.levels {
            2 => (1 << 31) | root_ppn,
            levels => ((levels as u64 + 5) << 60) | root_ppn,
        }
    }

    fn xmask(&self) -> u64 {
        if self.xlen == 32 { 0xffff_ffff } else { u64::MAX }
    }
}

struct Query {
    request: Request,
    sum: bool,
    mxr: bool,
    walk: Translation,
    originals: Vec<u64>,
}

/// Builds one random scenario in pagelab's memory.
struct Builder {
    shape: Shape,
    base: Base,
}

impl Builder {
    fn new(name: &str, seed: u64) -> Builder {
        let shape = Shape::of(name);
        let layout = Layout { memory: RAM_BASE + RAM_SIZE, tables: TABLES, data: DATA, data_end: DATA_END };
        let ecall = 0x0000_0073u32.to_le_bytes();
        Builder { base: Base::new(name, seed, layout, ecall, shape.pte_bytes), shape }
    }

    /// Reserved bits 63:54 (Sv39 and up; Sv32 has none).
    fn maybe_reserved(&mut self, percent: usize) -> u64 {
        if self.shape.xlen == 64 && self.base.chance(percent) {
            1 << (54 + self.base.rng.below(10))
        } else {
            0
        }
    }

    /// A pointer to `table`, sometimes malformed: V clear, A/D/U set (reserved in a pointer),
    /// a reserved high bit, or leading outside memory.
    fn pointer(&mut self, table: u64) -> (u64, bool) {
        let roll = self.base.rng.below(100);
        let nowhere = ppn_field(NOWHERE + (self.base.rng.below(16) as u64) * 4096);
        let good = V | ppn_field(table);
        match roll {
            0..=2 => (good & !V, false),
            3..=5 => (good | [A, D, U][self.base.rng.below(3)], false),
            6..=7 => (good | self.maybe_reserved(100), false),
            8..=10 => (V | nowhere, false),
            _ => (good, true),
        }
    }

    /// A leaf's flags: mostly valid, sometimes V clear or the reserved W / W+X encodings.
    fn leaf_flags(&mut self) -> u64 {
        let rwx = [R, R | W, R | X, R | W | X, X, R, R | W, W, W | X][self.base.rng.below(9)];
        let mut flags = rwx;
        if !self.base.chance(3) {
            flags |= V;
        }
        for (bit, percent) in [(U, 50), (G, 20), (A, 75), (D, 50), (1 << 8, 10), (1 << 9, 10)] {
            if self.base.chance(percent) {
                flags |= bit;
            }
        }
        flags | self.maybe_reserved(3)
    }

    /// Maps one page through pagelab's own `Machine::map` (see [`Base::map_with_api`]): valid
    /// rights, the other flags drawn.
    fn map_with_api(&mut self, va: u64, leaf_level: usize) {
        let shift = self.shape.span_shift(leaf_level);
        let pa_block = self.base.pa_block(1u64 << shift);
        let rights: [&[&str]; 5] = [&["R"], &["R", "W"], &["R", "X"], &["R", "W", "X"], &["X"]];
        let mut flags: Vec<String> =
            rights[self.base.rng.below(rights.len())].iter().map(|f| f.to_string()).collect();
        self.base.draw_flags(&mut flags, &[("U", 50), ("G", 20), ("A", 75), ("D", 50)]);
        self.base.map_with_api(va, shift, pa_block, flags);
    }

    fn settings(sum: bool, mxr: bool) -> MmuSettings {
        MmuSettings { sum, mxr, riscv_ad: RiscvAd::Svadu, ..MmuSettings::default() }
    }
}

/// What pagelab says the probe must print for `query`.
fn expected(shape: &Shape, query: &Query) -> Seen {
    let mut entries = query.originals.clone();
    for update in &query.walk.ad_updates {
        if let Some(step) = query.walk.steps.iter().position(|s| s.entry_addr == update.entry_addr) {
            entries[step] = update.new;
        }
    }
    match &query.walk.outcome {
        Outcome::Mapped(mapped) => {
            Seen { fault: None, address: 0, value: (mapped.pa.get() >> 3) & 0xffff_ffff, entries }
        }
        Outcome::Fault(fault) => {
            let ArchReport::RiscV { cause } = fault.report else { panic!("not a RISC-V report: {fault:?}") };
            Seen {
                fault: Some(u64::from(cause)),
                address: query.request.va.get() & shape.xmask(),
                value: 0,
                entries,
            }
        }
    }
}

fn observed(shape: &Shape, words: &[u64]) -> Seen {
    let get = |i: usize| words.get(i).copied().unwrap_or(0);
    let cause = get(0);
    Seen {
        fault: (cause != shape.xmask()).then_some(cause),
        address: get(1),
        value: get(2) & 0xffff_ffff,
        entries: words.iter().skip(3).copied().collect(),
    }
}

fn query_block(shape: &Shape, queries: &[Query]) -> Vec<u8> {
    let mut block = vec![0u8; RECORD];
    block[..8].copy_from_slice(&(queries.len() as u64).to_le_bytes());
    block[8..16].copy_from_slice(&shape.satp(TABLES >> 12).to_le_bytes());
    for query in queries {
        let switches = u64::from(query.sum) << 3 | u64::from(query.mxr) << 4;
        let record =
            tools::query_record(&query.request, &query.walk, switches, query.walk.pa().map(u64::from));
        block.extend(record.iter().flat_map(|word| word.to_le_bytes()));
    }
    block
}

fn describe(query: &Query, expected: &Seen, observed: &Seen, parts: &[&str]) -> String {
    let switches = format!("sum={} mxr={}", query.sum, query.mxr);
    compare::describe(&query.request, &switches, &query.walk, [expected, observed], &query.originals, parts)
}

/// Runs `runs` scenarios of `per_run` queries for one format; returns the tally, or None when
/// the tools are missing (and not under CI).
pub fn run(name: &str, seed: u64, runs: usize, per_run: usize) -> Option<Tally> {
    let shape = Shape::of(name);
    let (qemu, bits, emulation) = if shape.xlen == 32 {
        ("qemu-system-riscv32", "32", "elf32lriscv")
    } else {
        ("qemu-system-riscv64", "64", "elf64lriscv")
    };
    let tools = tools::require(name, &[qemu, "riscv64-unknown-elf-as", "riscv64-unknown-elf-ld"])?;
    let dir = tools::scratch();
    let object = dir.path().join("probe.o");
    let elf = dir.path().join("probe.elf");
    tools::run_ok(
        Command::new(&tools[1])
            .arg(format!("-march=rv{bits}ia_zicsr"))
            .args(["--defsym", &format!("XLEN={bits}"), "-o"])
            .arg(&object)
            .arg(tools::source("riscv_probe.S")),
    );
    tools::link(&tools[2], emulation, "riscv.ld", &object, &elf);
    let mut tally = Tally::default();
    for run in 0..runs {
        let mut builder = Builder::new(name, scenario::run_seed(seed, run));
        let (queries, ram, block) = scenario::prepare(
            name,
            &mut builder,
            [per_run, MAX_QUERIES],
            dir.path(),
            [TABLES, DATA_END],
            |_, queries| query_block(&shape, queries),
        );
        let output = tools::run_probe(
            Command::new(&tools[0])
                .args(["-M", "virt", "-m", "256M", "-bios", "none", "-nographic", "-monitor", "none"])
                .args(["-serial", "stdio"]),
            &elf,
            (&block, QBASE),
            (&ram, TABLES),
        );
        let lines = tools::parse_lines(&output);
        for (index, query) in queries.iter().enumerate() {
            let want = expected(&shape, query);
            let Some(words) = tally.answer(&lines, run, index, &query.walk) else { continue };
            let got = observed(&shape, words);
            let settings = Builder::settings(query.sum, query.mxr);
            let levels = shape.levels;
            let case = Case {
                format: name,
                levels,
                settings: &settings,
                walk: &query.walk,
                expected: &want,
                observed: &got,
                qemu_view: None,
            };
            tally.judge(&case, run, index, |parts| describe(query, &want, &got, parts));
        }
    }
    Some(tally)
}

impl Scenario for Builder {
    type Query = Query;

    /// Maps one random page whose leaf sits at a random level, creating tables on the way (or
    /// following the ones there).
    fn map_random(&mut self) {
        let levels = self.shape.levels;
        // Mostly 4 KiB and the next size up; every size appears.
        let leaf_level = match self.base.rng.below(10) {
            0 => self.base.rng.below(levels),
            1..=3 => levels.saturating_sub(2),
            _ => levels - 1,
        };
        let va = self.shape.canonical(self.base.rng.next_u64() & ((1 << self.shape.va_bits()) - 1));
        if self.base.chance(30) {
            return self.map_with_api(va, leaf_level);
        }
        let mut table = TABLES;
        for level in 0..leaf_level {
            let entry = table + self.shape.index(va, level) * u64::from(self.shape.pte_bytes);
            let raw = self.base.read(entry);
            if raw == 0 {
                let Some(next) = self.base.alloc_table() else { return };
                let (pointer, usable) = self.pointer(next);
                self.base.write(entry, pointer);
                if !usable {
                    return;
                }
                table = next;
            } else if raw & (R | W | X) == 0
                && raw & V != 0
                && (raw >> 10) << 12 >= TABLES
                && (raw >> 10) << 12 < DATA
            {
                table = ((raw >> 10) & ((1 << 44) - 1)) << 12;
            } else {
                return;
            }
        }
        let entry = table + self.shape.index(va, leaf_level) * u64::from(self.shape.pte_bytes);
        if self.base.read(entry) != 0 {
            return;
        }
        let shift = self.shape.span_shift(leaf_level);
        let size = 1u64 << shift;
        let pa_block = self.base.pa_block(size);
        let mut pa = pa_block;
        if shift > 12 && self.base.chance(6) {
            pa += 4096 << self.base.rng.below((shift - 12) as usize); // misaligned superpage
        }
        let flags = self.leaf_flags();
        let value = flags | ppn_field(pa);
        self.base.write_leaf(entry, value, Page { va: va & !(size - 1), pa_block, shift });
    }

    /// A random query: mostly at a mapped page, where the physical address lands in the data
    /// pages; sometimes anywhere (unmapped, or non-canonical).
    fn query(&mut self) -> Option<Query> {
        let (access, mode) = self.base.draw_access();
        let (sum, mxr) = (self.base.chance(50), self.base.chance(50));
        let low = if access == Access::Execute { 0 } else { 4 };
        let va = if let Some(in_page) = self.base.va_in_a_page(low) {
            in_page?
        } else {
            let mut va = self.shape.canonical(self.base.rng.next_u64());
            if self.shape.xlen == 64 && self.base.chance(20) {
                va ^= 1 << (63 - self.base.rng.below(64 - self.shape.va_bits() as usize));
            }
            (va & !7) + low
        };
        let request = Request { va: VirtAddr::new(va), access, mode };
        let walk = self.base.walk(Pfn::new(TABLES >> 12), &Self::settings(sum, mxr), request);
        if self.base.lands_outside_data(&walk) {
            return None;
        }
        let originals = walk.steps.iter().map(|step| step.raw).collect();
        Some(Query { request, sum, mxr, walk, originals })
    }

    fn base(&self) -> &Base {
        &self.base
    }
}

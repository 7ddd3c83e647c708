//! The x86 half of the QEMU suite: random 4- and 5-level tables written entry by entry into
//! pagelab's physical memory (valid and malformed entries; 4 KiB, 2 MiB and 1 GiB pages), random
//! queries in ring 0 and ring 3 with CR0.WP, CR4.SMEP/SMAP, EFER.NXE and EFLAGS.AC, each
//! translated by pagelab and performed by the probe (x86_64_probe.S) on
//! `qemu-system-x86_64 -cpu max -kernel`. QEMU's TCG CPU has MAXPHYADDR 40; pagelab runs with
//! the same.
//!
//! Physical addresses are the same on both sides: pagelab's memory is QEMU's 256 MiB; PML4[0]
//! (PML5[0] with LA57) identity-maps the probe, the query block, the tables and the data pages,
//! and queries use the other 511 root entries.

use super::compare::{self, Case, Seen, Tally};
use super::scenario::{self, Base, Layout, Page, Scenario};
use super::tools;
use pagelab::sim::mmu::{AdTiming, Request, WalkRoot};
use pagelab::sim::{Access, ArchReport, FaultKind, MmuSettings, Mode, Outcome, Pfn, Translation, VirtAddr};
use std::process::Command;

const RAM_SIZE: u64 = 256 << 20;
const QBASE: u64 = 0x40_0000;
const RECORD: usize = 64;
const TABLES: u64 = 0x80_0000;
const DATA: u64 = 0x100_0000;
const DATA_END: u64 = 0x180_0000;
/// The 2 MiB page of the probe's ring-3 stubs and stack (user; every other identity page is
/// supervisor).
const USER_PAGE: u64 = 0x20_0000;
const MAX_QUERIES: usize = ((TABLES - QBASE) as usize / RECORD) - 1;
/// QEMU's TCG CPUs have a 40-bit physical address (CPUID 80000008H:EAX[7:0]).
const MAXPHYADDR: u8 = 40;

// Entry bits (SDM Vol. 3A Table 4-14 to 4-20).
const P: u64 = 1;
const RW: u64 = 1 << 1;
const US: u64 = 1 << 2;
const PWT: u64 = 1 << 3;
const PCD: u64 = 1 << 4;
const A: u64 = 1 << 5;
const D: u64 = 1 << 6;
const PS: u64 = 1 << 7;
const G: u64 = 1 << 8;
const NX: u64 = 1 << 63;
const FRAME: u64 = ((1 << 52) - 1) & !0xfff;
/// Reserved PAE PDPTE bits QEMU 7.2 does not check (2:1 and 8:5; SDM Table 4-8).
const PDPTE_BITS_QEMU_IGNORES: u64 = 0x1e6;
/// Reserved PAE PDPTE bits QEMU checks: 63:52 and 51:MAXPHYADDR.
const PDPTE_RESERVED_QEMU_CHECKS: u64 = !((1 << MAXPHYADDR) - 1);

/// The switches of one query (the probe's control bits 3..7).
#[derive(Clone, Copy, Debug)]
struct Switches {
    wp: bool,
    smep: bool,
    smap: bool,
    nxe: bool,
    ac: bool,
}

impl Switches {
    /// pagelab's settings for QEMU's CPU (`-cpu max`: PSE-36, MAXPHYADDR 40), whose A/D timing
    /// is "as walked".
    fn settings(self) -> MmuSettings {
        MmuSettings {
            pse36: true,
            wp: self.wp,
            smep: self.smep,
            smap: self.smap,
            ac: self.ac,
            nxe: self.nxe,
            maxphyaddr: MAXPHYADDR,
            ad_timing: AdTiming::AsWalked,
            ..MmuSettings::default()
        }
    }

    /// The same with pagelab's default A/D timing.
    fn default_timing(self) -> MmuSettings {
        MmuSettings { ad_timing: AdTiming::AfterWalk, ..self.settings() }
    }

    fn bits(self) -> u64 {
        u64::from(self.wp) << 3
            | u64::from(self.smep) << 4
            | u64::from(self.smap) << 5
            | u64::from(self.nxe) << 6
            | u64::from(self.ac) << 7
    }
}

struct Query {
    request: Request,
    switches: Switches,
    /// pagelab's walk with QEMU's A/D timing (as walked).
    walk: Translation,
    /// The same walk with pagelab's default timing (after a successful walk).
    default_walk: Translation,
    /// PAE, when a PDPTE's only reserved bits are in 2:1 and 8:5 (QEMU ignores those): the walk
    /// with those bits clear in the PDPTE registers, which is what QEMU does.
    qemu_view: Option<Translation>,
    originals: Vec<u64>,
}

/// The paging mode and its table shape (SDM Vol. 3A 4.3, 4.4, 4.5).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Paging {
    /// 32-bit paging with CR4.PSE (4 MiB pages) and PSE-36.
    Bits32,
    Pae,
    /// 4- or 5-level paging.
    Long,
}

struct Shape {
    paging: Paging,
    index_bits: &'static [u32],
    pte_bytes: u32,
}

impl Shape {
    fn of(name: &str) -> Shape {
        match name {
            "x86-32" => Shape { paging: Paging::Bits32, index_bits: &[10, 10], pte_bytes: 4 },
            "x86-pae" => Shape { paging: Paging::Pae, index_bits: &[2, 9, 9], pte_bytes: 8 },
            "x86-64" => Shape { paging: Paging::Long, index_bits: &[9, 9, 9, 9], pte_bytes: 8 },
            "x86-64-la57" => Shape { paging: Paging::Long, index_bits: &[9, 9, 9, 9, 9], pte_bytes: 8 },
            other => panic!("not an x86 format: {other}"),
        }
    }

    fn levels(&self) -> usize {
        self.index_bits.len()
    }

    fn span_shift(&self, level: usize) -> u32 {
        12 + self.index_bits.iter().skip(level + 1).sum::<u32>()
    }

    fn index(&self, va: u64, level: usize) -> u64 {
        (va >> self.span_shift(level)) & ((1 << self.index_bits[level]) - 1)
    }

    /// 4/5-level: bits above the VA width copy its top bit; otherwise 32 bits.
    fn canonical(&self, va: u64) -> u64 {
        if self.paging != Paging::Long {
            return va & 0xffff_ffff;
        }
        let unused = 64 - self.span_shift(0) - self.index_bits[0];
        (((va << unused) as i64) >> unused) as u64
    }

    /// The levels whose entries may map a page (PS=1 above the last level).
    fn leaf_levels(&self) -> Vec<usize> {
        let levels = self.levels();
        match self.paging {
            Paging::Bits32 => vec![0, 1],
            Paging::Pae => vec![1, 2],
            Paging::Long => vec![levels - 3, levels - 2, levels - 1],
        }
    }

    /// Whether `va` lies in the probe's own mappings (root entry 0 in 4/5-level paging, the
    /// identity-mapped 24 MiB otherwise).
    fn probes_own(&self, va: u64) -> bool {
        match self.paging {
            Paging::Long => self.canonical(va) == va && self.index(va, 0) == 0,
            _ => va < DATA_END,
        }
    }
}

struct Builder {
    shape: Shape,
    base: Base,
    /// The root table's address (CR3).
    root: u64,
}

impl Builder {
    fn new(name: &str, seed: u64) -> Builder {
        let shape = Shape::of(name);
        let layout = Layout { memory: RAM_SIZE, tables: TABLES, data: DATA, data_end: DATA_END };
        let int_0x80 = [0xcd, 0x80, 0x90, 0x90]; // int 0x80; nop; nop
        let base = Base::new(name, seed, layout, int_0x80, shape.pte_bytes);
        let mut builder = Builder { shape, base, root: TABLES };
        builder.identity_map();
        builder
    }

    fn entry_addr(&self, table: u64, va: u64, level: usize) -> u64 {
        table + self.shape.index(va, level) * u64::from(self.shape.pte_bytes)
    }

    /// 0..DATA_END, identity: supervisor pages except the probe's user page.
    fn identity_map(&mut self) {
        let user = |base: u64| if (USER_PAGE..USER_PAGE + (2 << 20)).contains(&base) { US } else { 0 };
        match self.shape.paging {
            Paging::Long | Paging::Pae => {
                let mut table = self.root;
                for _ in 0..self.shape.levels() - 2 {
                    let next = self.base.alloc_table().expect("identity table");
                    // A PAE PDPTE has P and the address only (its other bits are reserved).
                    let rights = if self.shape.paging == Paging::Pae { 0 } else { RW | US | A };
                    self.base.write(table, next | P | rights);
                    table = next;
                }
                for (index, base) in (0..DATA_END).step_by(2 << 20).enumerate() {
                    self.base.write(table + 8 * index as u64, base | P | RW | PS | A | D | user(base));
                }
            }
            Paging::Bits32 => {
                let table = self.base.alloc_table().expect("identity table");
                self.base.write(self.root, table | P | RW | US | A);
                for (index, base) in (0..4u64 << 20).step_by(4096).enumerate() {
                    self.base.write(table + 4 * index as u64, base | P | RW | A | D | user(base));
                }
                for (index, base) in (4u64 << 20..DATA_END).step_by(4 << 20).enumerate() {
                    self.base.write(self.root + 4 * (index as u64 + 1), base | P | RW | PS | A | D);
                }
            }
        }
    }

    /// Rights and malformations for a non-PDPTE entry.
    fn flags(&mut self, pointer: bool) -> u64 {
        let mut flags = 0;
        for (bit, percent) in
            [(P, 97), (RW, if pointer { 85 } else { 60 }), (US, if pointer { 85 } else { 60 })]
        {
            if self.base.chance(percent) {
                flags |= bit;
            }
        }
        for (bit, percent) in [(PWT, 10), (PCD, 10), (A, 70), (D, 50), (G, 20), (1 << 9, 10)] {
            if self.base.chance(percent) {
                flags |= bit;
            }
        }
        if self.shape.pte_bytes == 8 {
            for (bit, percent) in [(NX, 20), (1 << 52, 4)] {
                if self.base.chance(percent) {
                    flags |= bit;
                }
            }
            if self.base.chance(3) {
                flags |=
                    1 << (u32::from(MAXPHYADDR) + self.base.rng.below(52 - usize::from(MAXPHYADDR)) as u32);
            }
        }
        flags
    }

    /// A PAE PDPTE: P and the address, sometimes a reserved bit (2:1, 8:5, 63:52, or above
    /// MAXPHYADDR) or PWT/PCD.
    fn pdpte_flags(&mut self) -> u64 {
        let mut flags = if self.base.chance(97) { P } else { 0 };
        for (bit, percent) in [(PWT, 10), (PCD, 10)] {
            if self.base.chance(percent) {
                flags |= bit;
            }
        }
        // Only four PDPTEs exist, so a malformed one is made often.
        if self.base.chance(25) {
            let reserved = [1, 2, 5, 6, 7, 8, 52, 63, 40, 45];
            flags |= 1 << reserved[self.base.rng.below(reserved.len())];
        }
        flags
    }

    /// The bits an entry's frame field has at this paging mode (below MAXPHYADDR).
    fn usable_frame(&self, raw: u64) -> u64 {
        let top = if self.shape.pte_bytes == 4 { 32 } else { u32::from(MAXPHYADDR) };
        raw & ((1 << top) - 1) & !0xfff
    }

    /// Maps one page through pagelab's own `Machine::map` (see [`Base::map_with_api`]) with
    /// drawn flags.
    fn map_with_api(&mut self, va: u64, leaf_level: usize) {
        let shift = self.shape.span_shift(leaf_level);
        let pa_block = self.base.pa_block(1u64 << shift);
        let mut flags = Vec::new();
        let nx = if self.shape.pte_bytes == 8 { 25 } else { 0 };
        let chances = [("R/W", 60), ("U/S", 60), ("NX", nx), ("G", 20), ("A", 70), ("D", 50), ("PCD", 10)];
        self.base.draw_flags(&mut flags, &chances);
        self.base.map_with_api(va, shift, pa_block, flags);
    }

    /// For a PAE walk that stopped at a PDPTE whose reserved bits all lie in 2:1 and 8:5: the
    /// four PDPTEs with those bits clear.
    fn pdpte_bits_qemu_ignores(&self, walk: &Translation) -> Option<[u64; 4]> {
        let fault = walk.fault()?;
        let pdpte = walk.steps.first()?;
        let only_ignored =
            pdpte.raw & PDPTE_RESERVED_QEMU_CHECKS == 0 && pdpte.raw & PDPTE_BITS_QEMU_IGNORES != 0;
        if self.shape.paging != Paging::Pae
            || fault.kind != FaultKind::ReservedBit
            || fault.level != Some(0)
            || !only_ignored
        {
            return None;
        }
        let mut pdptes = [0; 4];
        for (index, slot) in pdptes.iter_mut().enumerate() {
            *slot = self.base.read(self.root + 8 * index as u64) & !PDPTE_BITS_QEMU_IGNORES;
        }
        Some(pdptes)
    }
}

fn expected(query: &Query) -> Seen {
    expected_of(query, &query.walk)
}

/// What the probe must print if `walk` is right.
fn expected_of(query: &Query, walk: &Translation) -> Seen {
    let mut entries: Vec<u64> = walk.steps.iter().map(|step| step.raw).collect();
    for update in &walk.ad_updates {
        if let Some(step) = walk.steps.iter().position(|s| s.entry_addr == update.entry_addr) {
            entries[step] = update.new;
        }
    }
    entries.truncate(query.walk.steps.len());
    match &walk.outcome {
        Outcome::Mapped(mapped) => {
            Seen { fault: None, address: 0, value: (mapped.pa.get() >> 3) & 0xffff_ffff, entries }
        }
        Outcome::Fault(fault) => match fault.report {
            ArchReport::X86PageFault { error_code } => Seen {
                fault: Some(14 | u64::from(error_code) << 8),
                address: query.request.va.get(),
                value: 0,
                entries,
            },
            ArchReport::X86GeneralProtection => Seen { fault: Some(13), address: 0, value: 0, entries },
            other => panic!("not an x86 report: {other:?}"),
        },
    }
}

/// The default timing against its own rule (SDM 4.8 as KVM documents Intel: A/D only after a
/// successful walk): the same outcome as QEMU's timing; no writes when the walk faults; the same
/// writes when it succeeds.
fn default_timing_problem(query: &Query) -> Option<String> {
    let (qemu, default) = (&query.walk, &query.default_walk);
    let writes_ok = match qemu.outcome {
        Outcome::Fault(_) => default.ad_updates.is_empty(),
        Outcome::Mapped(_) => default.ad_updates == qemu.ad_updates,
    };
    (default.outcome != qemu.outcome || !writes_ok).then(|| {
        format!(
            "the after-walk timing breaks its rule for {:x?}: {:x?} (as walked: {:x?})",
            query.request, default.ad_updates, qemu.ad_updates
        )
    })
}

fn observed(words: &[u64]) -> Seen {
    let get = |i: usize| words.get(i).copied().unwrap_or(0);
    let vector = get(0);
    Seen {
        fault: (vector != u64::MAX).then_some(vector | get(1) << 8),
        address: get(2),
        value: get(3) & 0xffff_ffff,
        entries: words.iter().skip(4).copied().collect(),
    }
}

fn query_block(builder: &Builder, queries: &[Query]) -> Vec<u8> {
    let mut block = vec![0u8; RECORD];
    block[..8].copy_from_slice(&(queries.len() as u64).to_le_bytes());
    block[8..16].copy_from_slice(&builder.root.to_le_bytes());
    // The probes' mode word: LA57 for the x86-64 probe, PAE for the 32-bit one.
    let mode = match builder.shape.paging {
        Paging::Long => builder.shape.levels() == 5,
        Paging::Pae => true,
        Paging::Bits32 => false,
    };
    block[16..24].copy_from_slice(&u64::from(mode).to_le_bytes());
    for query in queries {
        let landing = query.qemu_view.as_ref().unwrap_or(&query.walk);
        let record = tools::query_record(
            &query.request,
            &query.walk,
            query.switches.bits(),
            landing.pa().map(u64::from),
        );
        block.extend(record.iter().flat_map(|word| word.to_le_bytes()));
    }
    block
}

fn describe(query: &Query, expected: &Seen, observed: &Seen, parts: &[&str]) -> String {
    let switches = format!("{:?}", query.switches);
    compare::describe(&query.request, &switches, &query.walk, [expected, observed], &query.originals, parts)
}

/// Runs `runs` scenarios of `per_run` queries for "x86-32", "x86-pae", "x86-64" or
/// "x86-64-la57".
pub fn run(name: &str, seed: u64, runs: usize, per_run: usize) -> Option<Tally> {
    let tools = tools::require(name, &["qemu-system-x86_64", "as", "ld", "objcopy"])?;
    let dir = tools::scratch();
    let object = dir.path().join("probe.o");
    let elf = dir.path().join("probe.elf");
    let long = Shape::of(name).paging == Paging::Long;
    let (width, probe, emulation) =
        if long { ("--64", "x86_64_probe.S", "elf_x86_64") } else { ("--32", "x86_32_probe.S", "elf_i386") };
    // The probes include x86_probe_boot.inc from their own directory.
    tools::run_ok(
        Command::new(&tools[1])
            .args([width, "-I"])
            .arg(tools::source(""))
            .arg("-o")
            .arg(&object)
            .arg(tools::source(probe)),
    );
    if long {
        let elf64 = dir.path().join("probe64.elf");
        tools::link(&tools[2], emulation, "x86.ld", &object, &elf64);
        // QEMU's multiboot loader takes 32-bit ELF files only.
        tools::run_ok(Command::new(&tools[3]).args(["-O", "elf32-i386"]).arg(&elf64).arg(&elf));
    } else {
        tools::link(&tools[2], emulation, "x86.ld", &object, &elf);
    }
    let mut tally = Tally::default();
    for run in 0..runs {
        let mut builder = Builder::new(name, scenario::run_seed(seed, run));
        let (queries, ram, block) = scenario::prepare(
            name,
            &mut builder,
            [per_run, MAX_QUERIES],
            dir.path(),
            [TABLES, DATA_END],
            query_block,
        );
        let output = tools::run_probe(
            Command::new(&tools[0])
                .args(["-cpu", "max", "-m", "256M", "-nographic", "-monitor", "none", "-serial", "stdio"])
                .args(["-net", "none", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]),
            &elf,
            (&block, QBASE),
            (&ram, TABLES),
        );
        let lines = tools::parse_lines(&output);
        for (index, query) in queries.iter().enumerate() {
            let want = expected(query);
            let Some(words) = tally.answer(&lines, run, index, &query.walk) else { continue };
            if let Some(problem) = default_timing_problem(query) {
                tally.unexplained.push(format!("run {run} query {index}: {problem}"));
            }
            let got = observed(words);
            let settings = query.switches.settings();
            let levels = builder.shape.levels();
            let qemu_view = query.qemu_view.as_ref().map(|walk| expected_of(query, walk));
            let case = Case {
                format: name,
                levels,
                settings: &settings,
                walk: &query.walk,
                expected: &want,
                observed: &got,
                qemu_view: qemu_view.as_ref(),
            };
            tally.judge(&case, run, index, |parts| describe(query, &want, &got, parts));
        }
    }
    Some(tally)
}

impl Scenario for Builder {
    type Query = Query;

    fn map_random(&mut self) {
        let leaf_levels = self.shape.leaf_levels();
        // 4 KiB mostly, the larger pages often enough.
        let leaf_level = match self.base.rng.below(10) {
            0..=1 => leaf_levels[0],
            2..=4 => leaf_levels[leaf_levels.len() - 2],
            _ => leaf_levels[leaf_levels.len() - 1],
        };
        let bits = self.base.rng.next_u64();
        let mut va = self.shape.canonical(bits);
        if self.shape.probes_own(va) {
            va = self.shape.canonical(va | 1 << (self.shape.span_shift(0) + self.shape.index_bits[0] - 1));
        }
        if self.base.chance(30) {
            return self.map_with_api(va, leaf_level);
        }
        let mut table = self.root;
        for level in 0..leaf_level {
            let entry = self.entry_addr(table, va, level);
            let raw = self.base.read(entry);
            if raw == 0 {
                let Some(next) = self.base.alloc_table() else { return };
                let pdpte = self.shape.paging == Paging::Pae && level == 0;
                let mut pointer = if pdpte { self.pdpte_flags() } else { self.flags(true) } | next;
                // PS is reserved in a PML4E/PML5E; where it means a page it would end the walk.
                if self.shape.paging == Paging::Long && level < self.shape.levels() - 3 && self.base.chance(3)
                {
                    pointer |= PS;
                }
                self.base.write(entry, pointer);
                let clean = if pdpte { P | PWT | PCD } else { !PS & !(FRAME & !((1 << MAXPHYADDR) - 1)) };
                if pointer & P == 0 || pointer & !FRAME & !clean != 0 {
                    return;
                }
                table = next;
            } else if raw & P != 0 && raw & PS == 0 && (TABLES..DATA).contains(&self.usable_frame(raw)) {
                table = self.usable_frame(raw);
            } else {
                return;
            }
        }
        let entry = self.entry_addr(table, va, leaf_level);
        if self.base.read(entry) != 0 {
            return;
        }
        let shift = self.shape.span_shift(leaf_level);
        let size = 1u64 << shift;
        let pa_block = self.base.pa_block(size);
        let mut value = self.flags(false) | pa_block;
        if leaf_level < self.shape.levels() - 1 {
            value |= PS;
            if self.base.chance(12) {
                // Low frame bits of a large page: PAT (bit 12), reserved, or (32-bit paging
                // with PSE-36) physical address bits 39:32 in bits 20:13, where only bit 21
                // stays reserved, so it is picked as often as the others together.
                let bit = if self.shape.paging == Paging::Bits32 && self.base.chance(50) {
                    21
                } else {
                    12 + self.base.rng.below((shift - 12) as usize)
                };
                value |= 1 << bit;
            }
        }
        self.base.write_leaf(entry, value, Page { va: va & !(size - 1), pa_block, shift });
    }

    fn query(&mut self) -> Option<Query> {
        let (access, mode) = self.base.draw_access();
        let switches = Switches {
            wp: self.base.chance(70),
            smep: self.base.chance(50),
            smap: self.base.chance(50),
            nxe: self.base.chance(80),
            // EFLAGS.AC matters to supervisor accesses only (ring 3 runs with AC=0).
            ac: mode == Mode::Supervisor && self.base.chance(40),
        };
        let low = if access == Access::Execute { 0 } else { 4 };
        let va = if let Some(in_page) = self.base.va_in_a_page(low) {
            in_page?
        } else {
            let bits = self.base.rng.next_u64();
            let mut va = self.shape.canonical(bits);
            if self.shape.paging == Paging::Long && self.base.chance(15) {
                let va_bits = self.shape.span_shift(0) + self.shape.index_bits[0];
                va ^= 1 << (63 - self.base.rng.below(64 - va_bits as usize));
            }
            (va & !7) + low
        };
        if self.shape.probes_own(va) {
            return None;
        }
        let request = Request { va: VirtAddr::new(va), access, mode };
        let walk = self.base.walk(Pfn::new(self.root >> 12), &switches.settings(), request);
        if self.base.lands_outside_data(&walk) {
            return None;
        }
        let originals = walk.steps.iter().map(|step| step.raw).collect();
        let default_walk = self.base.walk(Pfn::new(self.root >> 12), &switches.default_timing(), request);
        let qemu_view = self.pdpte_bits_qemu_ignores(&walk).map(|pdptes| {
            let root = WalkRoot { frame: Pfn::new(self.root >> 12), pdptes: Some(pdptes) };
            self.base.walk(root, &switches.settings(), request)
        });
        Some(Query { request, switches, walk, default_walk, qemu_view, originals })
    }

    fn base(&self) -> &Base {
        &self.base
    }
}

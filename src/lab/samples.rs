//! The sample labs that ship in `labs/`, built with the core API so they stay valid as the core
//! evolves (a test checks that every `labs/NAME.json` equals what is built here).
//!
//! One lab per preset, each with a description of its format and things to try; small realistic
//! process layouts (code, data, heap, stack, a shared kernel half) for x86-64 and Sv39; an empty
//! x86-64 machine for trace replay; and [`welcome`], which the desktop app opens first.

use super::file::Lab;
use crate::sim::machine::{Machine, MachineError, MapRequest, MapTarget};
use crate::sim::{Access, Mode, presets};
use crate::sim::{PhysAddr, VirtAddr};
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SampleError {
    #[error("no sample lab called {name:?}; the samples are {known}")]
    Unknown { name: String, known: String },
    #[error("sample lab {name}: unknown preset {preset:?}")]
    UnknownPreset { name: &'static str, preset: &'static str },
    #[error("sample lab {name}: {source}")]
    Machine {
        name: &'static str,
        #[source]
        source: MachineError,
    },
    #[error("sample lab {name}: {va:#x} is not mapped, so its bytes cannot be written")]
    NotMapped { name: &'static str, va: u64 },
}

type Build = fn() -> Result<Lab, SampleError>;

/// Every sample, by name, in the order `pagelab sample --list` shows them.
const SAMPLES: [(&str, Build); 12] = [
    ("welcome", welcome),
    ("x86-64", x86_64),
    ("x86-64-empty", x86_64_empty),
    ("x86-64-la57", x86_64_la57),
    ("x86-32", x86_32),
    ("x86-pae", x86_pae),
    ("sv39", sv39),
    ("sv32", sv32),
    ("sv48", sv48),
    ("sv57", sv57),
    ("ostep-multilevel", ostep_multilevel),
    ("ostep-linear", ostep_linear),
];

/// The names of the samples, in listing order.
pub fn names() -> impl Iterator<Item = &'static str> {
    SAMPLES.iter().map(|&(name, _)| name)
}

/// Builds the sample called `name`.
pub fn build(name: &str) -> Result<Lab, SampleError> {
    let (_, build) = SAMPLES.iter().find(|(known, _)| *known == name).ok_or_else(|| {
        SampleError::Unknown { name: name.to_string(), known: names().collect::<Vec<_>>().join(", ") }
    })?;
    build()
}

const MIB: u64 = 1 << 20;
const PAGE: u64 = 0x1000;

/// Builds one sample's machine; errors name the sample.
struct Builder {
    name: &'static str,
    machine: Machine,
}

impl Builder {
    fn new(name: &'static str, preset: &'static str, memory: u64) -> Result<Self, SampleError> {
        let format = presets::by_name(preset).ok_or(SampleError::UnknownPreset { name, preset })?;
        let machine = Machine::new(format, memory).map_err(|source| SampleError::Machine { name, source })?;
        Ok(Self { name, machine })
    }

    fn check<T>(&self, result: Result<T, MachineError>) -> Result<T, SampleError> {
        result.map_err(|source| SampleError::Machine { name: self.name, source })
    }

    fn rename(&mut self, process: usize, new_name: &str) -> Result<(), SampleError> {
        let result = self.machine.rename_process(process, new_name);
        self.check(result)
    }

    fn add_process(&mut self, process_name: &str) -> Result<usize, SampleError> {
        let result = self.machine.add_process(process_name);
        self.check(result)
    }

    fn map_request(&mut self, process: usize, request: &MapRequest) -> Result<(), SampleError> {
        let result = self.machine.map(process, request);
        self.check(result).map(|_| ())
    }

    /// Maps `len` bytes at `va` in base pages of fresh frames.
    fn map(&mut self, process: usize, va: u64, len: u64, flags: &[&str]) -> Result<(), SampleError> {
        let request = MapRequest {
            va: VirtAddr::new(va),
            len,
            target: MapTarget::Alloc,
            page_size: None,
            flags: Some(owned(flags)),
        };
        self.map_request(process, &request)
    }

    /// Maps one large page of `size` bytes at `va` to fresh (aligned) frames.
    fn map_large(&mut self, process: usize, va: u64, size: u64, flags: &[&str]) -> Result<(), SampleError> {
        let request = MapRequest {
            va: VirtAddr::new(va),
            len: size,
            target: MapTarget::Alloc,
            page_size: Some(size),
            flags: Some(owned(flags)),
        };
        self.map_request(process, &request)
    }

    /// Maps one base page at `va` to the frame at physical address `pa` (sharing it).
    fn map_to(&mut self, process: usize, va: u64, pa: PhysAddr, flags: &[&str]) -> Result<(), SampleError> {
        let page = self.machine.format().page_size();
        let request = MapRequest {
            va: VirtAddr::new(va),
            len: page,
            target: MapTarget::To(pa),
            page_size: None,
            flags: Some(owned(flags)),
        };
        self.map_request(process, &request)
    }

    fn share_kernel_half(&mut self, from: usize, to: usize) -> Result<(), SampleError> {
        let result = self.machine.share_kernel_half(from, to);
        self.check(result).map(|_| ())
    }

    /// The physical address `va` maps to in `process`, whatever the page's rights.
    fn pa_of(&self, process: usize, va: u64) -> Result<PhysAddr, SampleError> {
        [Mode::User, Mode::Supervisor]
            .into_iter()
            .find_map(|mode| {
                self.machine.translate(process, VirtAddr::new(va), Access::Read, mode).ok()?.pa()
            })
            .ok_or(SampleError::NotMapped { name: self.name, va })
    }

    /// Writes `bytes` at virtual address `va` of `process` (within one page).
    fn poke(&mut self, process: usize, va: u64, bytes: &[u8]) -> Result<(), SampleError> {
        let pa = self.pa_of(process, va)?;
        let result = self.machine.write_phys(pa, bytes);
        self.check(result)
    }

    fn finish(self, title: &str, description: &str) -> Lab {
        Lab::new(title, description, self.machine)
    }
}

fn owned(flags: &[&str]) -> Vec<String> {
    flags.iter().map(|flag| (*flag).to_string()).collect()
}

/// x86-64 machine code: `push rbp; mov rbp, rsp` (a function prologue).
const X86_PROLOGUE: &[u8] = &[0x55, 0x48, 0x89, 0xe5];
/// RISC-V machine code: `addi sp, sp, -16` (a function prologue).
const RISCV_PROLOGUE: &[u8] = &[0x13, 0x01, 0x01, 0xff];

/// Leaf flags of the x86 layouts: code is read-only and executable, data is writable and NX,
/// the kernel's pages are supervisor-only and global.
mod x86_flags {
    pub const CODE: &[&str] = &["U/S"];
    pub const DATA: &[&str] = &["R/W", "U/S", "NX"];
    pub const KERNEL_CODE: &[&str] = &["G"];
    pub const KERNEL_DATA: &[&str] = &["R/W", "G", "NX"];
}

/// Leaf flags of the RISC-V layouts. A and D are set up front, as Linux does: with Svade (the
/// default) a clear A or D bit would make the first access fault.
mod riscv_flags {
    pub const CODE: &[&str] = &["R", "X", "U", "A"];
    pub const DATA: &[&str] = &["R", "W", "U", "A", "D"];
    pub const KERNEL_CODE: &[&str] = &["R", "X", "G", "A"];
    pub const KERNEL_DATA: &[&str] = &["R", "W", "G", "A", "D"];
}

/// The x86-64 two-process layout shared by [`x86_64`] and [`welcome`].
fn x86_64_layout(name: &'static str) -> Result<Builder, SampleError> {
    use x86_flags::{CODE, DATA, KERNEL_CODE, KERNEL_DATA};
    let mut b = Builder::new(name, "x86-64", 64 * MIB)?;
    let shell = 0;
    b.rename(shell, "shell")?;
    // The kernel half, built in the first process and then shared.
    let kernel_text = 0xffff_ffff_8000_0000;
    b.map_large(shell, kernel_text, 2 * MIB, KERNEL_CODE)?;
    b.poke(shell, kernel_text, &[0x48, 0x31, 0xc0, 0xc3])?; // xor rax, rax; ret
    let kernel_data = 0xffff_ffff_8200_0000;
    b.map(shell, kernel_data, 2 * PAGE, KERNEL_DATA)?;
    b.poke(shell, kernel_data, b"kernel data: the scheduler's run queue\0")?;
    let kernel_stacks = 0xffff_c900_0000_0000;
    b.map(shell, kernel_stacks, 2 * PAGE, KERNEL_DATA)?;
    let editor = b.add_process("editor")?;
    b.share_kernel_half(shell, editor)?;

    // Both programs are position-independent executables loaded at the same address: the same
    // virtual addresses, different frames.
    let code = 0x5555_5555_4000;
    let data = 0x5555_5555_8000;
    let heap = 0x5555_5555_a000;
    let stack = 0x7fff_ffff_d000;
    let libc = 0x7fff_f7c0_0000;
    for (process, greeting) in
        [(shell, &b"shell: PATH=/usr/bin:/bin\0"[..]), (editor, b"editor: hello.txt\0")]
    {
        b.map(process, code, 3 * PAGE, CODE)?;
        b.poke(process, code, X86_PROLOGUE)?;
        b.map(process, data, PAGE, DATA)?;
        b.poke(process, data, greeting)?;
        b.map(process, stack, 2 * PAGE, DATA)?;
        b.poke(process, stack + 2 * PAGE - 16, b"argv[0]\0")?;
    }
    b.map(shell, heap, 2 * PAGE, DATA)?;
    b.poke(shell, heap, b"heap: a command line\0")?;
    // The editor's big heap is one 2 MiB page (a transparent huge page).
    let big_heap = 0x5555_5560_0000;
    b.map_large(editor, big_heap, 2 * MIB, DATA)?;
    b.poke(editor, big_heap + 0x1234, b"heap: the text being edited\0")?;
    // One page of the C library's code, the same frame in both processes.
    b.map(shell, libc, PAGE, CODE)?;
    b.poke(shell, libc, X86_PROLOGUE)?;
    let libc_frame = b.pa_of(shell, libc)?;
    b.map_to(editor, libc, libc_frame, CODE)?;
    Ok(b)
}

const X86_64_LAYOUT_TOUR: &str = "\
Two processes, **shell** and **editor**, each with its own PML4 (CR3):

| region | virtual address | flags |
|---|---|---|
| code | `0x5555_5555_4000` (3 pages) | U/S: user, read-only, executable |
| data | `0x5555_5555_8000` | R/W U/S NX |
| heap | shell: `0x5555_5555_a000`; editor: one 2 MiB page at `0x5555_5560_0000` | R/W U/S NX |
| stack | `0x7fff_ffff_d000` (2 pages, just below the top of the user half) | R/W U/S NX |
| C library | `0x7fff_f7c0_0000` (the same frame in both) | U/S |
| kernel text | `0xffff_ffff_8000_0000`, one 2 MiB page | G: supervisor, global |
| kernel data, stacks | `0xffff_ffff_8200_0000`, `0xffff_c900_0000_0000` | R/W G NX |

The kernel half (PML4 entries 256-511) was built once and shared: both PML4s point to the
same lower tables, so a kernel mapping added later appears in both processes.";

/// The x86-64 layout: two processes, code/data/heap/stack, a shared kernel half, huge pages.
pub fn x86_64() -> Result<Lab, SampleError> {
    let b = x86_64_layout("x86-64")?;
    let description = format!(
        "**x86-64 4-level paging**: 48-bit canonical virtual addresses split 9/9/9/9/12 across \
PML4, PDPT, PD and PT, 8-byte entries, 4 KiB pages plus 2 MiB (PD.PS) and 1 GiB (PDPT.PS) pages. \
Rights combine over all four levels; NX (bit 63) forbids instruction fetches.\n\n{X86_64_LAYOUT_TOUR}\n\n\
Things to try:\n\
- Translate `0x5555_5555_4000` as an instruction fetch in user mode, then as a write: code is \
executable but not writable.\n\
- Fetch from the data page `0x5555_5555_8000`: NX makes it an execute-protection fault.\n\
- Read `0xffff_ffff_8000_0000` in user mode (a user-protection fault: U/S is clear) and in \
supervisor mode; compare the walk in both processes: from the PDPT on, the tables are the same.\n\
- Translate `0x5555_5560_1234` in **editor**: the walk stops at the PD (a 2 MiB page), one step \
shorter.\n\
- `pagelab size` shows what each process's tables cost next to a linear table's 512 GiB."
    );
    Ok(b.finish("x86-64: two processes and a shared kernel", &description))
}

/// The lab the desktop app opens first: the x86-64 layout with a guided tour.
pub fn welcome() -> Result<Lab, SampleError> {
    let b = x86_64_layout("welcome")?;
    let description = format!(
        "# Welcome to pagelab\n\n\
Page tables here are **bytes in simulated physical memory**: every entry you see was read from \
a frame, and every edit writes its encoded bytes. The tree is derived from memory, so a wrong \
frame number really points somewhere else.\n\n\
This lab is an x86-64 machine (4-level paging, 4 KiB pages, 2 MiB pages) running two processes.\n\n\
{X86_64_LAYOUT_TOUR}\n\n\
Start here:\n\
1. Translate `0x5555_5555_8000` in **shell** and follow the four steps of the walk: PML4, PDPT, \
PD, PT. The value at the end is the first byte of `shell: PATH=...`.\n\
2. Switch to **editor** and translate the same address: same virtual address, different frame.\n\
3. Try a user-mode write to the code page, a fetch from the data page and a user read of the \
kernel: three different faults, each with its x86 error code.\n\
4. Open another sample from the `labs/` folder (`pagelab sample --list` names them) to compare \
x86-32, PAE, 5-level paging, RISC-V Sv32/39/48/57 and the OSTEP teaching formats."
    );
    Ok(b.finish("Welcome to pagelab", &description))
}

/// An empty x86-64 machine, for trace replay with demand mapping.
pub fn x86_64_empty() -> Result<Lab, SampleError> {
    let b = Builder::new("x86-64-empty", "x86-64", 64 * MIB)?;
    Ok(b.finish(
        "x86-64: an empty machine for trace replay",
        "**x86-64 4-level paging** with one process and nothing mapped: an empty PML4.\n\n\
Replay a trace with demand mapping, so that the first touch of every page faults and maps a \
fresh frame:\n\n\
```\npagelab replay labs/x86-64-empty.json trace.gz --tlb 64x4 --policy lru --demand-map\n```\n\n\
Things to try: compare TLB shapes (`--tlb 16`, `--tlb 64x4`, `--tlb 1536x12`) and policies; \
save the result with `--save after.json` and run `pagelab size after.json` to see how many \
tables the program's pages needed.",
    ))
}

/// x86-64 with 5-level paging (LA57).
pub fn x86_64_la57() -> Result<Lab, SampleError> {
    use x86_flags::{CODE, DATA, KERNEL_DATA};
    let mut b = Builder::new("x86-64-la57", "x86-64-la57", 64 * MIB)?;
    b.rename(0, "bigdata")?;
    let code = 0x5555_5555_4000;
    b.map(0, code, PAGE, CODE)?;
    b.poke(0, code, X86_PROLOGUE)?;
    // Beyond 2^47: only reachable with a fifth level.
    let far = 0x00ab_cdef_0000_0000;
    b.map(0, far, PAGE, DATA)?;
    b.poke(0, far, b"data above 128 TiB\0")?;
    let stack = 0x00ff_ffff_ffff_e000;
    b.map(0, stack, PAGE, DATA)?;
    b.poke(0, stack + PAGE - 16, b"argv[0]\0")?;
    let kernel = 0xff11_0000_0000_0000;
    b.map(0, kernel, PAGE, KERNEL_DATA)?;
    b.poke(0, kernel, b"kernel direct map\0")?;
    Ok(b.finish(
        "x86-64 5-level paging (LA57)",
        "**x86-64 5-level paging** (CR4.LA57=1): 57-bit canonical addresses split 9/9/9/9/9/12 \
across PML5, PML4, PDPT, PD and PT. The user half grows from 128 TiB to 64 PiB.\n\n\
Mapped in process **bigdata**: code at `0x5555_5555_4000` (read-only, executable), data at \
`0x00ab_cdef_0000_0000` (far above the 4-level limit of `0x7fff_ffff_ffff`), the stack's last \
page `0x00ff_ffff_ffff_e000`, and a kernel page at `0xff11_0000_0000_0000` (supervisor only).\n\n\
Things to try:\n\
- Translate `0x00ab_cdef_0000_0000`: five steps instead of four.\n\
- Translate `0x0100_0000_0000_0000`: not canonical in 57 bits, a general-protection fault \
rather than a page fault.\n\
- Compare `pagelab size` with the x86-64 sample: one more table level for a handful of pages.",
    ))
}

/// x86 32-bit paging with PSE.
pub fn x86_32() -> Result<Lab, SampleError> {
    let mut b = Builder::new("x86-32", "x86-32", 64 * MIB)?;
    b.rename(0, "init")?;
    let code = 0x0804_8000;
    b.map(0, code, 2 * PAGE, &["U/S"])?;
    b.poke(0, code, &[0x55, 0x89, 0xe5])?; // push ebp; mov ebp, esp
    let data = 0x0804_a000;
    b.map(0, data, PAGE, &["R/W", "U/S"])?;
    b.poke(0, data, b"hello from 1985\0")?;
    let stack = 0xbfff_f000;
    b.map(0, stack, PAGE, &["R/W", "U/S"])?;
    b.poke(0, stack + PAGE - 16, b"argv[0]\0")?;
    // The kernel in one 4 MiB page at 3 GiB (the classic 3G/1G split).
    let kernel = 0xc000_0000;
    b.map_large(0, kernel, 4 * MIB, &["R/W", "G"])?;
    b.poke(0, kernel, b"kernel at 3 GiB\0")?;
    Ok(b.finish(
        "x86 32-bit paging",
        "**x86 32-bit paging** (the i386 scheme, with CR4.PSE): a page directory and page tables of \
1024 4-byte entries each, addresses split 10/10/12. A directory entry with PS set maps a 4 MiB \
page directly. There is no NX bit: every readable page is executable.\n\n\
Mapped: code at `0x0804_8000` (the classic ELF load address; read-only), data at `0x0804_a000`, \
the stack's top page at `0xbfff_f000`, and the kernel as one 4 MiB page at `0xc000_0000` \
(supervisor-only, global).\n\n\
Things to try:\n\
- Translate `0x0804_8000` with a write in user mode: R/W is clear, a protection fault with error \
code P|W|U.\n\
- Fetch from the data page: it works, there is no NX in this format.\n\
- Translate `0xc012_3456`: one step, the directory entry is the leaf.\n\
- The textbook number: map 20 MiB (`pagelab map LAB 0x1000_0000 --length 20m`) and run \
`pagelab size`: 5 more page tables, 4 KiB each. A linear table would be 4 MiB.",
    ))
}

/// x86 PAE paging.
pub fn x86_pae() -> Result<Lab, SampleError> {
    use x86_flags::{CODE, DATA, KERNEL_DATA};
    let mut b = Builder::new("x86-pae", "x86-pae", 64 * MIB)?;
    b.rename(0, "init")?;
    let code = 0x0804_8000;
    b.map(0, code, PAGE, CODE)?;
    b.poke(0, code, &[0x55, 0x89, 0xe5])?;
    let data = 0x0804_9000;
    b.map(0, data, PAGE, DATA)?;
    b.poke(0, data, b"PAE: 64-bit entries\0")?;
    let stack = 0xbfff_f000;
    b.map(0, stack, PAGE, DATA)?;
    let kernel = 0xc000_0000;
    b.map_large(0, kernel, 2 * MIB, KERNEL_DATA)?;
    b.poke(0, kernel, b"kernel at 3 GiB\0")?;
    Ok(b.finish(
        "x86 PAE paging",
        "**x86 PAE paging**: 32-bit virtual addresses split 2/9/9/12. CR3 points to a tiny page \
directory pointer table of 4 entries (one per GiB), then page directories and page tables of \
512 8-byte entries. Entries are 64 bits wide, so physical addresses can exceed 4 GiB and \
bit 63 is NX. A directory entry with PS set maps a 2 MiB page.\n\n\
Mapped: code at `0x0804_8000` (read-only, executable), data at `0x0804_9000` and the stack at \
`0xbfff_f000` (writable, NX), the kernel as one 2 MiB page at `0xc000_0000` (supervisor-only).\n\n\
Things to try:\n\
- Fetch from `0x0804_9000`: an execute-protection fault (the error code has I/D set).\n\
- Compare the walk of `0x0804_8000` with the x86-32 sample: three steps, and the first index is \
only 2 bits wide.\n\
- Turn off EFER.NXE in the settings and translate again: NX becomes a reserved bit.",
    ))
}

/// The Sv39 two-process layout.
pub fn sv39() -> Result<Lab, SampleError> {
    use riscv_flags::{CODE, DATA, KERNEL_CODE, KERNEL_DATA};
    let mut b = Builder::new("sv39", "sv39", 64 * MIB)?;
    let shell = 0;
    b.rename(shell, "shell")?;
    let kernel_text = 0xffff_ffff_8000_0000;
    b.map_large(shell, kernel_text, 2 * MIB, KERNEL_CODE)?;
    b.poke(shell, kernel_text, RISCV_PROLOGUE)?;
    let kernel_data = 0xffff_ffff_8200_0000;
    b.map(shell, kernel_data, 2 * PAGE, KERNEL_DATA)?;
    b.poke(shell, kernel_data, b"kernel data\0")?;
    let editor = b.add_process("editor")?;
    b.share_kernel_half(shell, editor)?;

    let code = 0x1_0000;
    let data = 0x1_3000;
    let heap = 0x1_5000;
    let stack = 0x3f_ffff_d000;
    for (process, greeting) in
        [(shell, &b"shell: PATH=/usr/bin:/bin\0"[..]), (editor, b"editor: hello.txt\0")]
    {
        b.map(process, code, 3 * PAGE, CODE)?;
        b.poke(process, code, RISCV_PROLOGUE)?;
        b.map(process, data, PAGE, DATA)?;
        b.poke(process, data, greeting)?;
        b.map(process, heap, 2 * PAGE, DATA)?;
        b.map(process, stack, 2 * PAGE, DATA)?;
        b.poke(process, stack + 2 * PAGE - 16, b"argv[0]\0")?;
    }
    b.poke(shell, heap, b"heap: a command line\0")?;
    b.poke(editor, heap, b"heap: the text being edited\0")?;
    Ok(b.finish(
        "RISC-V Sv39: two processes and a shared kernel",
        "**RISC-V Sv39**: 39-bit virtual addresses (bits 63-39 copy bit 38) split 9/9/9/12 over \
three levels of 512 8-byte entries; satp holds the root's page number and the ASID. Any level \
can hold a leaf: an entry with R or X set maps a 4 KiB page, a 2 MiB megapage or a 1 GiB \
gigapage, which must be aligned. Rights come from the leaf alone: R, W, X, U; G marks global \
mappings. Here A and D are preset because Svade (the default) faults when they are clear.\n\n\
Two processes, **shell** and **editor**:\n\n\
| region | virtual address | flags |\n|---|---|---|\n\
| code | `0x1_0000` (3 pages) | R X U A |\n\
| data | `0x1_3000` | R W U A D |\n\
| heap | `0x1_5000` (2 pages) | R W U A D |\n\
| stack | `0x3f_ffff_d000` (2 pages, just below the top of the user half) | R W U A D |\n\
| kernel text | `0xffff_ffff_8000_0000`, a 2 MiB megapage | R X G A |\n\
| kernel data | `0xffff_ffff_8200_0000` | R W G A D |\n\n\
The kernel half (root entries 256-511) is shared: both roots point to the same lower tables.\n\n\
Things to try:\n\
- Store to `0x1_0000` (a store page fault, cause 15) and fetch from `0x1_3000` (an instruction \
page fault, cause 12).\n\
- Read `0xffff_ffff_8000_0000` in user mode (U clear: fault) and in supervisor mode.\n\
- Read the shell's data page in supervisor mode: it faults unless SUM is on.\n\
- Clear the A bit of a data page's leaf and read it: Svade faults; switch to Svadu and the walk \
sets A instead.",
    ))
}

/// A small RISC-V layout for Sv32, Sv48 or Sv57.
fn riscv_small(
    name: &'static str,
    stack: u64,
    kernel: u64,
    kernel_page: u64,
) -> Result<Builder, SampleError> {
    use riscv_flags::{CODE, DATA, KERNEL_DATA};
    let mut b = Builder::new(name, name, 64 * MIB)?;
    b.rename(0, "init")?;
    let code = 0x1_0000;
    b.map(0, code, 2 * PAGE, CODE)?;
    b.poke(0, code, RISCV_PROLOGUE)?;
    let data = 0x1_2000;
    b.map(0, data, PAGE, DATA)?;
    b.poke(0, data, b"hello from RISC-V\0")?;
    b.map(0, stack, PAGE, DATA)?;
    b.poke(0, stack + PAGE - 16, b"argv[0]\0")?;
    if kernel_page == PAGE {
        b.map(0, kernel, PAGE, KERNEL_DATA)?;
    } else {
        b.map_large(0, kernel, kernel_page, KERNEL_DATA)?;
    }
    b.poke(0, kernel, b"kernel\0")?;
    Ok(b)
}

pub fn sv32() -> Result<Lab, SampleError> {
    let b = riscv_small("sv32", 0x7fff_f000, 0xc000_0000, 4 * MIB)?;
    Ok(b.finish(
        "RISC-V Sv32",
        "**RISC-V Sv32** (RV32): 32-bit virtual addresses split 10/10/12 over two levels of 1024 \
4-byte entries, like x86-32, but physical addresses are 34 bits (a 22-bit PPN) and a leaf may \
sit at the first level: a 4 MiB megapage.\n\n\
Mapped in **init**: code at `0x1_0000` (R X U), data at `0x1_2000` (R W U), the stack page \
`0x7fff_f000`, and the kernel as a 4 MiB megapage at `0xc000_0000` (R W G, no U).\n\n\
Things to try:\n\
- Translate `0xc012_3456` in supervisor mode: one step, the root entry is the leaf.\n\
- Set the megapage's PPN to an odd number: a misaligned superpage faults.\n\
- Edit a pointer entry to have W set but not R: a reserved encoding, the walk faults.",
    ))
}

pub fn sv48() -> Result<Lab, SampleError> {
    let b = riscv_small("sv48", 0x7fff_ffff_f000, 0xffff_ffff_8000_0000, 2 * MIB)?;
    Ok(b.finish(
        "RISC-V Sv48",
        "**RISC-V Sv48**: 48-bit virtual addresses split 9/9/9/9/12 over four levels of 512 8-byte \
entries (the same shape as x86-64's 4-level paging), with leaves possible at every level: 4 KiB \
pages, 2 MiB megapages, 1 GiB gigapages and 512 GiB terapages.\n\n\
Mapped in **init**: code at `0x1_0000`, data at `0x1_2000`, the stack's top page \
`0x7fff_ffff_f000`, and a 2 MiB kernel megapage at `0xffff_ffff_8000_0000`.\n\n\
Things to try:\n\
- Compare the walk of `0x1_2000` with the Sv39 sample: one more level.\n\
- Translate `0x8000_0000_0000`: bits 63-48 do not copy bit 47, the address is not canonical.",
    ))
}

pub fn sv57() -> Result<Lab, SampleError> {
    let b = riscv_small("sv57", 0x00ff_ffff_ffff_f000, 0xffff_ffff_8000_0000, 2 * MIB)?;
    Ok(b.finish(
        "RISC-V Sv57",
        "**RISC-V Sv57**: 57-bit virtual addresses split 9/9/9/9/9/12 over five levels of 512 \
8-byte entries, the RISC-V counterpart of x86 LA57.\n\n\
Mapped in **init**: code at `0x1_0000`, data at `0x1_2000`, the stack's top page \
`0x00ff_ffff_ffff_f000` (the very end of the user half), and a 2 MiB kernel megapage at \
`0xffff_ffff_8000_0000`.\n\n\
Things to try: translate the stack page and count the steps; then `pagelab size` to see what \
three scattered pages cost in tables at five levels.",
    ))
}

/// OSTEP's multi-level toy format.
pub fn ostep_multilevel() -> Result<Lab, SampleError> {
    // 128 frames of 32 bytes: the page directory takes frame 0.
    let mut b = Builder::new("ostep-multilevel", "ostep-multilevel", 128 * 32)?;
    b.rename(0, "process")?;
    b.map(0, 0x0000, 3 * 32, &[])?;
    b.poke(0, 0x0000, b"Hello, OSTEP! A 32-byte page...\0")?;
    b.poke(0, 0x0020, b"second page\0")?;
    b.map(0, 0x3c40, 32, &[])?;
    b.poke(0, 0x3c40, b"a page in the middle\0")?;
    b.map(0, 0x7fe0, 32, &[])?;
    b.poke(0, 0x7fe0, b"the last page\0")?;
    Ok(b.finish(
        "OSTEP multi-level page table",
        "**OSTEP's two-level toy** (the format of `paging-multilevel-translate.py`, OSTEP ch. 20): \
15-bit virtual addresses of 32-byte pages, so a 10-bit VPN split 5/5 into a page-directory \
index and a page-table index, and a 5-bit offset. Physical memory is 128 frames of 32 bytes \
(4 KiB). Entries are one byte: bit 7 valid, bits 6-0 the frame number.\n\n\
Mapped: `0x0000`-`0x005f` (three pages, starting with text), `0x3c40` and `0x7fe0`.\n\n\
Things to try:\n\
- Translate `0x3c45` by hand first: PDE index = VA[14:10], PTE index = VA[9:5], offset = VA[4:0]; \
then check the walk.\n\
- Translate `0x1000`: the directory entry is invalid, so the walk stops after one step (OSTEP \
prints \"Fault (page directory entry not valid)\").\n\
- Count the frames: the directory plus three page tables (4 frames), against the 1024 one-byte \
entries (32 frames) a linear table would need for the same address space.",
    ))
}

/// OSTEP's linear page table.
pub fn ostep_linear() -> Result<Lab, SampleError> {
    // 16 KiB address space, 4 KiB pages, 64 KiB physical memory; the table takes frame 0.
    let mut b = Builder::new("ostep-linear", "ostep-linear", 64 << 10)?;
    b.rename(0, "process")?;
    b.map(0, 0x0000, PAGE, &[])?;
    b.poke(0, 0x0000, b"page 0\0")?;
    b.map(0, 0x2000, 2 * PAGE, &[])?;
    b.poke(0, 0x2abc, b"VPN 2, offset 0xabc\0")?;
    b.poke(0, 0x3000, b"page 3\0")?;
    Ok(b.finish(
        "OSTEP linear page table",
        "**OSTEP's linear page table** (the format of `paging-linear-translate.py`, OSTEP ch. 18): \
one table indexed by the virtual page number. Here the address space is 16 KiB of 4 KiB pages \
(a 2-bit VPN and a 12-bit offset) and physical memory is 64 KiB. Each entry is 4 bytes: bit 31 \
valid, the low bits the frame number.\n\n\
Mapped: VPN 0, 2 and 3; VPN 1 is invalid.\n\n\
Things to try:\n\
- Translate `0x2abc`: VPN = 2, offset = 0xabc, PA = frame x 4096 + 0xabc.\n\
- Translate `0x1000`: an invalid entry, a fault.\n\
- `pagelab new --format ostep-linear --address-space 1m --page-size 1k -o big.json` and \
`pagelab size big.json`: how large the table grows with the address space.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_builds() {
        for name in names() {
            let lab = build(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(!lab.title.is_empty() && !lab.description.is_empty(), "{name}");
        }
        assert!(matches!(build("vax"), Err(SampleError::Unknown { .. })));
    }
}

//! The simulation core: paging formats, physical memory, tables, the MMU walk, processes.
//! Pure Rust: no egui, no file I/O, and no panics on any input.

pub mod addr;
pub mod address;
pub mod compare;
pub mod cow;
pub mod explain;
pub mod fast_walk;
pub mod fault;
pub mod fork;
pub mod format;
pub mod hex;
pub mod machine;
pub mod mem;
pub mod mmu;
pub mod nested;
pub mod os;
pub mod presets;
pub mod process;
pub mod replace;
pub mod replay;
pub mod rng;
pub mod runs;
pub mod size;
pub mod table;
pub mod tlb;
pub mod tlb_driver;
pub mod trace;

pub use address::{EntryAddr, Pfn, PhysAddr, VirtAddr};
pub use fault::{Access, ArchReport, FaultKind, Mode, PageFault};
pub use format::{Arch, PagingFormat, Role};
pub use machine::{Machine, MachineError, MapRequest, MapTarget};
pub use mmu::{MmuSettings, Outcome, Translation};

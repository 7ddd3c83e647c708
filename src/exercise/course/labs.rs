//! The rest of the course: a linear table, x86-64 huge pages and permissions, processes and
//! shared memory, a custom exam-style format and TLB locality. Same style as the labs in
//! `course.rs`: each function returns the instructor's lab, sealed with seeded salts.

use super::*;
use crate::exercise::task::Visibility;
use crate::sim::format::{Arch, Field, LeafRule, Level, PagingFormat, SuperpageLowBits};
use crate::sim::presets::ostep_linear;

fn number(
    lab: &Lab,
    id: &str,
    points: u32,
    query: NumericQuery,
    t: (&str, &str, &[&str], &str),
) -> Result<Task, CourseError> {
    let task = ask_number(lab, id, points, query, None)?;
    Ok(text(task, t.0, t.1, t.2, t.3))
}

fn value(v: f64) -> Result<NumericQuery, CourseError> {
    super::super::task::Real::new(v)
        .map(NumericQuery::Value)
        .ok_or_else(|| CourseError::Other(format!("bad value {v}")))
}

fn huge_map(m: &mut Machine, process: usize, va: u64, size: u64, flags: &[&str]) -> Result<(), MachineError> {
    let request = MapRequest {
        va,
        len: size,
        target: MapTarget::Alloc,
        page_size: Some(size),
        flags: Some(flags.iter().map(|f| f.to_string()).collect()),
    };
    m.map(process, &request).map(|_| ())
}

fn map_to(m: &mut Machine, process: usize, va: u64, frame: u64, flags: &[&str]) -> Result<(), MachineError> {
    let request = MapRequest {
        va,
        len: m.format().page_size(),
        target: MapTarget::To(frame << m.format().page_shift),
        page_size: None,
        flags: Some(flags.iter().map(|f| f.to_string()).collect()),
    };
    m.map(process, &request).map(|_| ())
}

/// A linear page table (OSTEP's format, 16-bit addresses and 4 KiB pages): translations, a
/// fault, the size of the table, and a page to map.
pub fn linear_table() -> Result<Lab, CourseError> {
    let mut m = Machine::new(ostep_linear(16, 12, 20), 1 << 20)?;
    map(&mut m, 0, 0x0000, 1, &[])?;
    map(&mut m, 0, 0x1000, 2, &[])?;
    map(&mut m, 0, 0xf000, 1, &[])?;
    write_at(&mut m, 0, 0x1234, b"linear")?;
    write_at(&mut m, 0, 0xf010, &[0x2a])?;
    let mut lab = Lab::new(
        "A linear page table",
        "The machine uses **one** table: 16-bit virtual addresses, 4 KiB pages, so the top 4 bits \
         are the virtual page number (VPN) and index the table directly; each 4-byte entry holds a \
         valid bit (bit 31) and the physical frame number (PFN). Process **init** maps code at \
         `0x0000`, two data pages and a stack page at `0xf000`.",
        m,
    );
    for (id, va, byte, title, hints, explanation) in [
        (
            "walk-data",
            0x1234,
            true,
            "Translate data",
            &["VPN = address >> 12; offset = address & 0xfff."][..],
            "The VPN selects the entry; its PFN shifted left by 12, plus the 12-bit offset, is the physical address.",
        ),
        (
            "walk-stack",
            0xf010,
            true,
            "Translate the stack",
            &["The stack is in the last page: VPN 15."][..],
            "Entry 15 holds the stack's frame; the offset is 0x010.",
        ),
        (
            "unmapped",
            0x5000,
            false,
            "An invalid entry",
            &["Is that entry valid?"][..],
            "That entry has its valid bit clear: the access faults (in OSTEP's words, it is invalid).",
        ),
    ] {
        let t = ask_translation(&lab, id, 0, va, Access::Read, Mode::User, byte)?;
        add_task(&mut lab, text(t, title, "", hints, explanation))?;
    }
    for (id, query, points, t) in [
        (
            "offset-bits",
            NumericQuery::OffsetBits,
            1,
            (
                "Offset bits",
                "How many bits of a virtual address are the page offset?",
                &["A page is 4 KiB."][..],
                "2^12 = 4096 bytes per page: 12 offset bits.",
            ),
        ),
        (
            "entries",
            NumericQuery::EntriesPerTable { level: 0 },
            1,
            (
                "Entries",
                "How many entries does the linear table have?",
                &["One entry per virtual page."][..],
                "16-bit addresses minus 12 offset bits leave 4 VPN bits: 2^4 = 16 entries.",
            ),
        ),
        (
            "table-bytes",
            NumericQuery::LinearTableBytes,
            1,
            (
                "Table size",
                "How many bytes does the table take?",
                &["Entries times bytes per entry."][..],
                "16 entries of 4 bytes: 64 bytes, whatever the process maps.",
            ),
        ),
        (
            "mapped",
            NumericQuery::MappedPages { process: "init".into() },
            1,
            (
                "Mapped pages",
                "How many pages does **init** map?",
                &[][..],
                "Code, two data pages and the stack.",
            ),
        ),
    ] {
        let task = number(&lab, id, points, query, t)?;
        add_task(&mut lab, task)?;
    }
    let t = number(
        &lab,
        "big-table",
        2,
        value(4.0 * f64::from(1u32 << 20))?,
        (
            "A 32-bit space",
            "With 32-bit virtual addresses, 4 KiB pages and 4-byte entries, how many bytes would one \
             linear table take? (Sizes like `4M` and powers like `2^22` are accepted.)",
            &["2^(32-12) entries."],
            "2^20 entries of 4 bytes: 4 MiB per process, even for a process that maps one page.",
        ),
    )?;
    add_task(&mut lab, t)?;
    let mut t = ask_choice(
        "linear-cost",
        1,
        "What does the size of a linear page table depend on?",
        &[
            "The size of the virtual address space and the page size.",
            "How many pages the process maps.",
            "The amount of physical memory in use.",
            "How many processes run.",
        ],
        &[0],
    )?;
    if let Question::Choice(q) = &mut t.question {
        q.shuffle = true;
    }
    add_task(
        &mut lab,
        text(t, "What it costs", "", &[], "A linear table has one entry per virtual page, used or not."),
    )?;
    let g = goal(
        "map-heap",
        2,
        Condition::Translates {
            process: "init".into(),
            va: 0x4000,
            access: Access::Write,
            mode: Mode::User,
            frame: Some(0x77),
        },
    );
    add_task(
        &mut lab,
        text(
            g,
            "Map a page",
            "Make virtual page 4 (`0x4000`) of **init** land in physical frame `0x77`.",
            &["Set entry 4: valid bit and PFN.", "`pagelab map LAB 0x4000 --to 0x77000`"],
            "Entry 4 gets Valid=1 and PFN=0x77; nothing else changes in a linear table.",
        ),
    )?;
    lab.exercises.randomize.pages.push(PageSlot {
        process: "init".into(),
        va: 0x1000,
        within: [0x5000, 0x8000],
        move_frame: true,
        random_offset: false,
    });
    lab.exercises.randomize.pages.push(PageSlot {
        process: "init".into(),
        va: 0x5000,
        within: [0x8000, 0xf000],
        move_frame: false,
        random_offset: true,
    });
    lab.exercises.randomize.frames.push(FrameSlot { frame: 0x77, within: Some([0x80, 0x100]) });
    author::reseal_all(&mut lab, |id| seal::seeded_salt(16, id))?;
    lab.exercises.feedback = Some(super::course_policy());
    Ok(lab)
}

/// x86-64 huge pages and permissions: a 2 MiB page, NX, U/S and R/W, fault kinds, and a page
/// to make writable from user mode.
pub fn x86_64_huge() -> Result<Lab, CourseError> {
    let format = presets::by_name("x86-64").ok_or_else(|| CourseError::Other("no x86-64 preset".into()))?;
    let mut m = Machine::new(format, 64 << 20)?;
    map(&mut m, 0, 0x40_0000, 1, &["U/S"])?;
    map(&mut m, 0, 0x60_0000, 1, &["R/W", "U/S", "NX"])?;
    map(&mut m, 0, 0x70_0000, 1, &["U/S", "NX"])?;
    huge_map(&mut m, 0, 0x4000_0000, 0x20_0000, &["R/W", "U/S", "NX"])?;
    huge_map(&mut m, 0, 0xffff_8000_0000_0000, 0x20_0000, &["R/W"])?;
    write_at(&mut m, 0, 0x4012_3456, b"huge")?;
    write_at(&mut m, 0, 0x60_0020, b"data")?;
    let mut lab = Lab::new(
        "x86-64: huge pages and permissions",
        "Process **init** maps read-only code at `0x40_0000`, data at `0x60_0000`, a read-only \
         page at `0x70_0000`, a **2 MiB** user page at `0x4000_0000` and a 2 MiB kernel page at \
         `0xffff_8000_0000_0000`. A PD entry with **PS=1** maps 2 MiB; a PDPT entry with PS=1 maps \
         1 GiB. R/W and U/S must be set at every level; NX at any level forbids fetches.",
        m,
    );
    for (id, va, access, mode, byte, title, hints, explanation) in [
        (
            "huge-walk",
            0x4012_3456u64,
            Access::Read,
            Mode::User,
            true,
            "Walk into a huge page",
            &["The walk stops at the PD: PS=1.", "The low 21 bits are the offset."][..],
            "PML4[0], PDPT[1], then PD[0] has PS=1: its frame plus the 21-bit offset 0x12_3456.",
        ),
        (
            "read-data",
            0x60_0020,
            Access::Read,
            Mode::User,
            true,
            "Read the data",
            &["A 4 KiB page: four 9-bit indices."][..],
            "PML4[0], PDPT[0], PD[3], then the PT entry of the page; the leaf allows user reads.",
        ),
        (
            "write-code",
            0x40_0010,
            Access::Write,
            Mode::User,
            false,
            "Write to code",
            &["Look at R/W on the leaf."][..],
            "R/W=0 on the leaf: a protection fault on a write.",
        ),
        (
            "exec-data",
            0x60_0000,
            Access::Execute,
            Mode::User,
            false,
            "Run the data",
            &["Which bit forbids fetches?"][..],
            "NX=1 on the leaf: the fetch faults.",
        ),
        (
            "user-kernel",
            0xffff_8000_0001_0000,
            Access::Read,
            Mode::User,
            false,
            "User reads the kernel",
            &["U/S on the 2 MiB leaf."][..],
            "U/S=0: user mode may not touch it, though it is present.",
        ),
        (
            "kernel-kernel",
            0xffff_8000_0001_0000,
            Access::Read,
            Mode::Supervisor,
            false,
            "The kernel reads itself",
            &["Supervisor mode ignores U/S=0."][..],
            "The same walk succeeds in supervisor mode: the 2 MiB frame plus offset 0x1_0000.",
        ),
    ] {
        let t = ask_translation(&lab, id, 0, va, access, mode, byte)?;
        add_task(&mut lab, text(t, title, "", hints, explanation))?;
    }
    for (id, query, t) in [
        (
            "offset-2m",
            value(21.0)?,
            (
                "Offset of a 2 MiB page",
                "How many offset bits does a 2 MiB page have?",
                &["2 MiB = 2^21 bytes."][..],
                "The PT level's 9 index bits join the 12-bit offset: 21 bits.",
            ),
        ),
        (
            "offset-1g",
            value(30.0)?,
            (
                "Offset of a 1 GiB page",
                "How many offset bits does a 1 GiB page (PS=1 in a PDPT entry) have?",
                &[][..],
                "12 + 9 + 9 = 30 bits: the PD and PT indices become offset.",
            ),
        ),
        (
            "tables",
            NumericQuery::Tables { process: "init".into() },
            (
                "Tables",
                "How many page tables (all levels) does **init** have?",
                &["A 2 MiB page needs no PT."][..],
                "PML4, two PDPTs (user and kernel), three PDs (one per PDPT entry in use) and two PTs (0x40_0000 and 0x60_0000/0x70_0000 sit under different PD entries); the 2 MiB pages need no PT.",
            ),
        ),
    ] {
        let task = number(&lab, id, 1, query, t)?;
        add_task(&mut lab, task)?;
    }
    let mut t = ask_choice(
        "ps-bit",
        1,
        "A PD entry has P=1 and PS=1. What does it do?",
        &[
            "It maps a 2 MiB page.",
            "It points to a page table.",
            "It maps a 1 GiB page.",
            "It is a reserved-bit fault.",
        ],
        &[0],
    )?;
    if let Question::Choice(q) = &mut t.question {
        q.shuffle = true;
    }
    add_task(
        &mut lab,
        text(t, "PS in a PD", "", &[], "PS=1 in a PD entry maps 2 MiB; in a PDPT entry it maps 1 GiB."),
    )?;
    let t = ask_choice(
        "huge-why",
        1,
        "What do huge pages save?",
        &["TLB entries", "Page-table memory and walk steps", "Physical memory for the data", "Nothing"],
        &[0, 1],
    )?;
    add_task(
        &mut lab,
        text(
            t,
            "Why huge pages",
            "",
            &[],
            "One TLB entry and one leaf cover 512 small pages; the data needs as much memory as before.",
        ),
    )?;
    let g = goal(
        "user-writable",
        3,
        Condition::AllOf(vec![
            Condition::Translates {
                process: "init".into(),
                va: 0x70_0100,
                access: Access::Write,
                mode: Mode::User,
                frame: None,
            },
            Condition::Faults {
                process: "init".into(),
                va: 0x70_0100,
                access: Access::Execute,
                mode: Mode::User,
                kind: Some(FaultKind::ExecuteProtection),
            },
        ]),
    );
    add_task(
        &mut lab,
        text(
            g,
            "Make it writable",
            "Make `0x70_0100` in **init** writable from user mode, and keep it non-executable.",
            &["R/W and U/S must be set at every level.", "Only the leaf lacks R/W here."],
            "Setting R/W on the PT entry is enough: the upper entries already allow user writes.",
        ),
    )?;
    if let Some(code) = leaf_entry(&lab.machine, 0, 0x40_0000) {
        lab.locks.lock(LockTarget::Entry(code.entry_addr));
    }
    lab.exercises.randomize.pages.push(PageSlot {
        process: "init".into(),
        va: 0x60_0000,
        within: [0x60_0000, 0x70_0000],
        move_frame: true,
        random_offset: true,
    });
    author::reseal_all(&mut lab, |id| seal::seeded_salt(2, id))?;
    lab.exercises.feedback = Some(super::course_policy());
    Ok(lab)
}

/// Two processes: a shared data frame mapped at different addresses, separate user halves,
/// and the kernel half to share.
pub fn processes_shared() -> Result<Lab, CourseError> {
    let format = presets::by_name("x86-64").ok_or_else(|| CourseError::Other("no x86-64 preset".into()))?;
    let mut m = Machine::new(format, 16 << 20)?;
    m.rename_process(0, "alice")?;
    let bob = m.add_process("bob")?;
    map(&mut m, 0, 0x40_0000, 1, &["U/S"])?;
    map(&mut m, bob, 0x40_0000, 1, &["U/S"])?;
    map_to(&mut m, 0, 0x1000_0000, 0x300, &["R/W", "U/S", "NX"])?;
    map_to(&mut m, bob, 0x2000_0000, 0x300, &["U/S", "NX"])?;
    map(&mut m, 0, 0xffff_8000_0000_0000, 2, &["R/W", "G"])?;
    write_at(&mut m, 0, 0x1000_0008, b"shared!")?;
    write_at(&mut m, 0, 0x40_0000, &[0xa1])?;
    write_at(&mut m, bob, 0x40_0000, &[0xb0])?;
    write_at(&mut m, 0, 0xffff_8000_0000_1000, b"kernel")?;
    let mut lab = Lab::new(
        "Processes and shared memory",
        "Processes **alice** and **bob** each have their own tables. Both have code at \
         `0x40_0000` (different frames). They share one frame: alice maps it read-write at \
         `0x1000_0000`, bob read-only at `0x2000_0000`. Only alice maps the kernel at \
         `0xffff_8000_0000_0000`.",
        m,
    );
    for (id, process, va, access, mode, byte, title, explanation) in [
        (
            "alice-code",
            0usize,
            0x40_0000u64,
            Access::Read,
            Mode::User,
            true,
            "Alice's code",
            "Alice's own PT maps 0x40_0000 to her frame.",
        ),
        (
            "bob-code",
            1,
            0x40_0000,
            Access::Read,
            Mode::User,
            true,
            "Bob's code",
            "The same virtual address in bob's tables reaches a different frame.",
        ),
        (
            "alice-shared",
            0,
            0x1000_0008,
            Access::Read,
            Mode::User,
            true,
            "Alice's buffer",
            "Alice's leaf points to the shared frame.",
        ),
        (
            "bob-shared",
            1,
            0x2000_0008,
            Access::Read,
            Mode::User,
            true,
            "Bob's view",
            "A different virtual address, the same frame and the same bytes.",
        ),
        (
            "bob-writes",
            1,
            0x2000_0008,
            Access::Write,
            Mode::User,
            false,
            "Bob writes",
            "Bob's leaf has R/W=0: rights are per mapping, not per frame.",
        ),
        (
            "alice-kernel",
            0,
            0xffff_8000_0000_1000,
            Access::Read,
            Mode::Supervisor,
            true,
            "The kernel in alice",
            "Alice's upper-half root entry leads to the kernel's tables.",
        ),
    ] {
        let t = ask_translation(&lab, id, process, va, access, mode, byte)?;
        add_task(&mut lab, text(t, title, "", &[], explanation))?;
    }
    for (id, query, t) in [
        (
            "alice-frames",
            NumericQuery::TableFrames { process: "alice".into() },
            (
                "Alice's tables",
                "How many frames do **alice**'s page tables occupy?",
                &["Count per region: PDPT, PD, PT; shared tables count once."][..],
                "One PML4 plus the tables on the walks to code, the buffer and the kernel.",
            ),
        ),
        (
            "bob-pages",
            NumericQuery::MappedPages { process: "bob".into() },
            (
                "Bob's pages",
                "How many pages does **bob** map?",
                &[][..],
                "His code and his view of the shared frame.",
            ),
        ),
    ] {
        let task = number(&lab, id, 1, query, t)?;
        add_task(&mut lab, task)?;
    }
    let t = ask_choice(
        "why-share",
        1,
        "Why do operating systems map the kernel into every process's upper half?",
        &[
            "System calls and interrupts need no switch of the root table.",
            "So that user code can read kernel data.",
            "The kernel's tables are shared, so they cost memory once.",
            "The CPU requires it to boot.",
        ],
        &[0, 2],
    )?;
    add_task(
        &mut lab,
        text(
            t,
            "One kernel",
            "",
            &[],
            "U/S=0 still keeps user code out; sharing the root entries shares every table below.",
        ),
    )?;
    let g = goal("share-kernel", 2, Condition::KernelHalfShared { a: "alice".into(), b: "bob".into() });
    add_task(
        &mut lab,
        text(
            g,
            "Share the kernel half",
            "Make **bob** use the same kernel tables as **alice**.",
            &["Copy the upper 256 PML4 entries.", "Processes ▸ right-click ▸ Share kernel half."],
            "Bob's PML4[256] now points to alice's kernel PDPT: one set of kernel tables for both.",
        ),
    )?;
    let g = goal(
        "bob-second-view",
        2,
        Condition::Translates {
            process: "bob".into(),
            va: 0x3000_0000,
            access: Access::Write,
            mode: Mode::User,
            frame: Some(0x300),
        },
    );
    add_task(
        &mut lab,
        text(
            g,
            "A second, writable view",
            "Map `0x3000_0000` in **bob** read-write for user mode onto the shared frame `0x300`.",
            &["`pagelab map LAB 0x3000_0000 --to 0x300000 --flags R/W,U/S --process bob`"],
            "Two leaves may point to one frame, each with its own rights.",
        ),
    )?;
    lab.locks.lock(LockTarget::Process("alice"));
    lab.exercises.randomize.pages.push(PageSlot {
        process: "bob".into(),
        va: 0x40_0000,
        within: [0x40_0000, 0x60_0000],
        move_frame: true,
        random_offset: true,
    });

    author::reseal_all(&mut lab, |id| seal::seeded_salt(7, id))?;
    lab.exercises.feedback = Some(super::course_policy());
    Ok(lab)
}

fn flag(name: &str, lsb: u32, role: Role, doc: &str) -> Field {
    Field { name: name.into(), lsb, width: 1, role, levels: None, doc: doc.into() }
}

/// The exam format: 16-bit addresses, two levels of 4 index bits, 256-byte pages, 2-byte
/// entries `V W U - - - - - PFN[7:0]`.
pub fn exam_format() -> PagingFormat {
    PagingFormat {
        name: "exam16".into(),
        description: "An exam-style toy: 16-bit virtual and physical addresses, 256-byte pages, two levels of 4 index bits (PD, PT), 2-byte entries: bit 15 V, bit 14 W, bit 13 U, bits 7:0 PFN.".into(),
        arch: Arch::Generic,
        va_bits: 16,
        pa_bits: 16,
        page_shift: 8,
        pte_bytes: 2,
        levels: vec![
            Level { name: "PD".into(), index_bits: 4, huge: false },
            Level { name: "PT".into(), index_bits: 4, huge: false },
        ],
        fields: vec![
            flag("V", 15, Role::Present, "Valid: the entry is used only when set."),
            flag("W", 14, Role::Writable, "Writable: writes are allowed only if set at both levels."),
            flag("U", 13, Role::User, "User: user-mode accesses are allowed only if set at both levels."),
            Field { name: "PFN".into(), lsb: 0, width: 8, role: Role::Frame, levels: None, doc: "Frame number of the page table (PD entry) or of the page (PT entry).".into() },
        ],
        leaf_rule: LeafRule::LastLevel,
        canonical: false,
        superpage_low_bits: SuperpageLowBits::Ignored,
        default_leaf_flags: vec!["W".into(), "U".into()],
        table_flags: vec!["W".into(), "U".into()],
    }
}

/// Exam-style questions on [`exam_format`]: index bits, sizes, translations by hand.
pub fn exam16() -> Result<Lab, CourseError> {
    let mut m = Machine::new(exam_format(), 1 << 16)?;
    map(&mut m, 0, 0x1200, 2, &["U"])?;
    map(&mut m, 0, 0x3400, 1, &["W", "U"])?;
    map(&mut m, 0, 0x5500, 1, &["U"])?;
    map(&mut m, 0, 0xf000, 1, &["W"])?;
    write_at(&mut m, 0, 0x12a0, &[0x3c])?;
    write_at(&mut m, 0, 0x3477, &[0x99])?;
    let mut lab = Lab::new(
        "Exam format: a 16-bit two-level table",
        "A format defined just for this lab (**exam16**): 16-bit addresses `PD(4) | PT(4) | \
         offset(8)`, 256-byte pages, 16-entry tables of **2-byte** entries: bit 15 `V`, bit 14 \
         `W`, bit 13 `U`, bits 7:0 `PFN`. W and U must be set at both levels. Process **init** \
         maps a few pages, some read-only and one kernel-only: read them in the tables. Work the questions by hand, then check in the table view.",
        m,
    );
    for (id, query, t) in [
        (
            "pd-bits",
            NumericQuery::IndexBits { level: 0 },
            ("PD index bits", "How many bits index the PD?", &[][..], "Bits 15:12 select the PD entry."),
        ),
        (
            "offset-bits",
            NumericQuery::OffsetBits,
            (
                "Offset bits",
                "How many bits are the page offset?",
                &["A page is 256 bytes."][..],
                "2^8 = 256: bits 7:0.",
            ),
        ),
        (
            "table-bytes",
            value(32.0)?,
            (
                "Table size",
                "How many bytes does one table (PD or PT) take?",
                &["Entries times entry size."][..],
                "16 entries of 2 bytes: 32 bytes, less than a page.",
            ),
        ),
        (
            "linear-bytes",
            NumericQuery::LinearTableBytes,
            (
                "A linear table instead",
                "How many bytes would a single linear table for all 16-bit addresses take?",
                &["How many pages does the address space have?"][..],
                "2^8 pages of 2 bytes: 512 bytes.",
            ),
        ),
        (
            "tables",
            NumericQuery::Tables { process: "init".into() },
            (
                "Tables in use",
                "How many tables (PD and PTs) does **init** have?",
                &["One PT per PD entry in use."][..],
                "The PD plus one PT for each PD entry in use.",
            ),
        ),
    ] {
        let task = number(&lab, id, 1, query, t)?;
        add_task(&mut lab, task)?;
    }
    for (id, va, access, mode, byte, title, explanation) in [
        (
            "t1",
            0x12a0u64,
            Access::Read,
            Mode::User,
            true,
            "Translate a read",
            "The top nibble picks the PD entry, the next the PT entry; the low byte is the offset.",
        ),
        (
            "t2",
            0x3477,
            Access::Write,
            Mode::User,
            false,
            "Write 0x3477",
            "PD[3], PT[4]: W=1 and U=1 at both levels, so the write lands.",
        ),
        (
            "t3",
            0x1310,
            Access::Write,
            Mode::User,
            false,
            "Write 0x1310",
            "PT[3] has W=0: a write-protection fault.",
        ),
        (
            "t4",
            0xf0f0,
            Access::Read,
            Mode::User,
            false,
            "User reads 0xf0f0",
            "PT[0] under PD[15] has U=0: user mode may not read it.",
        ),
        (
            "t5",
            0x7000,
            Access::Read,
            Mode::User,
            false,
            "Read an unmapped address",
            "The PD entry for that address has V=0: not present.",
        ),
    ] {
        let t = ask_translation(&lab, id, 0, va, access, mode, byte)?;
        add_task(
            &mut lab,
            text(t, title, "", &["Split: 4 bits PD, 4 bits PT, 8 bits offset."], explanation),
        )?;
    }
    let t = ask_choice(
        "decode",
        1,
        "A PT entry reads `0xa05c`. Which statements are true?",
        &["It is valid.", "It is writable.", "It is user-accessible.", "It maps frame 0x5c."],
        &[0, 2, 3],
    )?;
    add_task(
        &mut lab,
        text(
            t,
            "Decode an entry",
            "",
            &["0xa0 = 1010 0000."],
            "Bits 15 and 13 are set, bit 14 is clear; the low byte is the PFN.",
        ),
    )?;
    let g = goal(
        "make-writable",
        2,
        Condition::Translates {
            process: "init".into(),
            va: 0x5580,
            access: Access::Write,
            mode: Mode::User,
            frame: None,
        },
    );
    add_task(
        &mut lab,
        text(
            g,
            "Allow the write",
            "Make user-mode writes to `0x5580` succeed.",
            &["Which W bits are on the walk?"],
            "Set W in the PT entry; the PD entry already has W=1.",
        ),
    )?;
    lab.exercises.randomize.pages.push(PageSlot {
        process: "init".into(),
        va: 0x1200,
        within: [0x8000, 0xa000],
        move_frame: true,
        random_offset: true,
    });
    lab.exercises.randomize.pages.push(PageSlot {
        process: "init".into(),
        va: 0x7000,
        within: [0xa000, 0xf000],
        move_frame: false,
        random_offset: true,
    });
    author::reseal_all(&mut lab, |id| seal::seeded_salt(1616, id))?;
    // Exam-style: no explanation before the right answer, a quarter of the points lost per
    // wrong Check, and results shown on Gradescope once the grades are published.
    lab.exercises.feedback = Some(FeedbackPolicy { retry_penalty: 25, ..FeedbackPolicy::default() });
    for task in &mut lab.exercises.tasks {
        task.visibility = Visibility::AfterPublished;
    }
    Ok(lab)
}

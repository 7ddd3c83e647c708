//! Writers that print problems (and answers) in the simulators' exact layout, so that generated
//! problems go through the same importer as real files. For any value the parsers return,
//! parsing the rendered text gives the value back.
//!
//! What the structures do not keep is rebuilt: `ARG allocated` is the number of valid page table
//! entries reachable from the page directory (what the simulator allocated), `ARG num` the number
//! of addresses; linear files are printed without `-v` and with `ARG addresses -1`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::linear::{
    LinearAnswer, OstepLinear, PROBLEM_QUESTION, PROBLEM_TRAILER, TABLE_HEADER, TRACE_HEADER,
};
use super::multilevel::{EntryRead, MultilevelAnswer, MultilevelOutcome, OstepMultilevel};
use super::size::format_size;

/// The explanation the linear simulator prints between its ARG lines and the table.
const LINEAR_EXPLANATION: &str = "The format of the page table is simple:
The high-order (left-most) bit is the VALID bit.
  If the bit is 1, the rest of the entry is the PFN.
  If the bit is 0, the page is not valid.
Use verbose mode (-v) if you want to print the VPN # by
each entry of the page table.
";

/// The problem as `paging-multilevel-translate.py` prints it without `-c`.
#[must_use]
pub fn render_multilevel_problem(problem: &OstepMultilevel) -> String {
    let mut text = multilevel_preamble(problem);
    for address in &problem.addresses {
        // Writing to a String cannot fail.
        let _ = writeln!(
            text,
            "Virtual Address {address:04x}: Translates To What Physical Address (And Fetches what Value)? Or Fault?"
        );
    }
    text.push('\n');
    text
}

/// The problem with its answers, as `paging-multilevel-translate.py -c` prints it; `None` when
/// there are no answers or not one per address.
#[must_use]
pub fn render_multilevel_solved(problem: &OstepMultilevel) -> Option<String> {
    let answers = problem.answers.as_ref().filter(|answers| answers.len() == problem.addresses.len())?;
    let mut text = multilevel_preamble(problem);
    for (address, answer) in problem.addresses.iter().zip(answers) {
        let _ = writeln!(text, "Virtual Address 0x{address:04x}:");
        write_multilevel_answer(&mut text, answer);
    }
    text.push('\n');
    Some(text)
}

fn multilevel_preamble(problem: &OstepMultilevel) -> String {
    let mut text = String::new();
    if let Some(seed) = problem.seed {
        let _ = writeln!(text, "ARG seed {seed}");
    }
    let _ = writeln!(text, "ARG allocated {}", allocated_pages(problem));
    let _ = writeln!(text, "ARG num {}", problem.addresses.len());
    text.push('\n');
    for (frame, bytes) in &problem.pages {
        let _ = write!(text, "page {frame:3}:");
        for byte in bytes {
            let _ = write!(text, "{byte:02x}");
        }
        text.push('\n');
    }
    let _ = writeln!(
        text,
        "\nPDBR: {}  (decimal) [This means the page directory is held in this page]\n",
        problem.pdbr
    );
    text
}

fn write_multilevel_answer(text: &mut String, answer: &MultilevelAnswer) {
    write_entry(text, "  ", "pde", answer.pde);
    match answer.outcome {
        MultilevelOutcome::PdeInvalid => {
            text.push_str("      --> Fault (page directory entry not valid)\n");
        }
        MultilevelOutcome::PteInvalid { pte } => {
            write_entry(text, "    ", "pte", pte);
            text.push_str("      --> Fault (page table entry not valid)\n");
        }
        MultilevelOutcome::Translated { pte, pa, value } => {
            write_entry(text, "    ", "pte", pte);
            let _ = writeln!(
                text,
                "      --> Translates to Physical Address 0x{pa:03x} --> Value: 0x{value:02x}"
            );
        }
    }
}

fn write_entry(text: &mut String, indent: &str, label: &str, entry: EntryRead) {
    let (index, contents, pfn) = (entry.index, entry.contents, entry.pfn());
    let _ = writeln!(
        text,
        "{indent}--> {label} index:0x{index:x} [decimal {index}] {label} contents:0x{contents:x} \
         (valid {}, pfn 0x{pfn:02x} [decimal {pfn}])",
        u8::from(entry.valid())
    );
}

/// Valid page table entries reachable from the page directory: the simulator's `-a`.
fn allocated_pages(problem: &OstepMultilevel) -> usize {
    let frames: BTreeMap<u64, &[u8]> =
        problem.pages.iter().map(|(frame, bytes)| (*frame, bytes.as_slice())).collect();
    let entries = |frame: u64| {
        frames
            .get(&frame)
            .into_iter()
            .flat_map(|bytes| bytes.iter())
            .map(|&contents| EntryRead { index: 0, contents })
            .filter(EntryRead::valid)
    };
    entries(problem.pdbr).map(|pde| entries(pde.pfn()).count()).sum()
}

/// The problem as `paging-linear-translate.py` prints it without `-c` and `-v`.
#[must_use]
pub fn render_linear_problem(problem: &OstepLinear) -> String {
    let mut text = linear_preamble(problem);
    for &address in &problem.addresses {
        let _ = writeln!(text, "  VA 0x{address:08x} (decimal: {address:8}) --> {PROBLEM_QUESTION}");
    }
    text.push('\n');
    for sentence in PROBLEM_TRAILER {
        text.push_str(sentence);
        text.push('\n');
    }
    text.push('\n');
    text
}

/// The problem with its answers, as `paging-linear-translate.py -c` prints it; `None` when there
/// are no answers or not one per address. [`LinearAnswer::OutOfBounds`], which the simulator never
/// prints, is written as `SEGMENTATION VIOLATION` like OSTEP's segmentation simulators.
#[must_use]
pub fn render_linear_solved(problem: &OstepLinear) -> Option<String> {
    let answers = problem.answers.as_ref().filter(|answers| answers.len() == problem.addresses.len())?;
    let mut text = linear_preamble(problem);
    for (&address, answer) in problem.addresses.iter().zip(answers) {
        let _ = write!(text, "  VA 0x{address:08x} (decimal: {address:8}) --> ");
        let _ = match *answer {
            LinearAnswer::Translated { vpn, pa } => {
                writeln!(text, "{pa:08x} (decimal {pa:8}) [VPN {vpn}]")
            }
            LinearAnswer::Invalid { vpn } => writeln!(text, " Invalid (VPN {vpn} not valid)"),
            LinearAnswer::OutOfBounds => writeln!(text, " SEGMENTATION VIOLATION"),
        };
    }
    text.push('\n');
    Some(text)
}

fn linear_preamble(problem: &OstepLinear) -> String {
    let mut text = String::new();
    if let Some(seed) = problem.seed {
        let _ = writeln!(text, "ARG seed {seed}");
    }
    let _ = writeln!(text, "ARG address space size {}", format_size(problem.address_space));
    let _ = writeln!(text, "ARG phys mem size {}", format_size(problem.phys_mem));
    let _ = writeln!(text, "ARG page size {}", format_size(problem.page_size));
    text.push_str("ARG verbose False\nARG addresses -1\n\n\n");
    text.push_str(LINEAR_EXPLANATION);
    text.push('\n');
    text.push_str(TABLE_HEADER);
    text.push('\n');
    for entry in &problem.entries {
        let _ = writeln!(text, "  0x{entry:08x}");
    }
    text.push('\n');
    text.push_str(TRACE_HEADER);
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::ostep::{parse_linear, parse_multilevel};

    fn small_multilevel() -> OstepMultilevel {
        let mut pages: Vec<(u64, Vec<u8>)> = (0..128).map(|frame| (frame, vec![0x7f; 32])).collect();
        // Directory in frame 2, entry 1 -> table in frame 5, entries 0 and 3 valid.
        if let Some((_, directory)) = pages.get_mut(2)
            && let Some(pde) = directory.get_mut(1)
        {
            *pde = 0x85;
        }
        if let Some((_, table)) = pages.get_mut(5) {
            table.iter_mut().take(4).step_by(3).for_each(|pte| *pte = 0x80 | 9);
        }
        OstepMultilevel {
            seed: Some(4),
            page_size: 32,
            va_bits: 15,
            phys_pages: 128,
            pages,
            pdbr: 2,
            addresses: vec![0x0400, 0x7fff],
            answers: Some(vec![
                MultilevelAnswer {
                    pde: EntryRead { index: 1, contents: 0x85 },
                    outcome: MultilevelOutcome::Translated {
                        pte: EntryRead { index: 0, contents: 0x89 },
                        pa: 0x120,
                        value: 0x7f,
                    },
                },
                MultilevelAnswer {
                    pde: EntryRead { index: 31, contents: 0x7f },
                    outcome: MultilevelOutcome::PdeInvalid,
                },
            ]),
        }
    }

    #[test]
    fn multilevel_counts_allocated_pages_and_round_trips() {
        let problem = small_multilevel();
        let text = render_multilevel_problem(&problem);
        assert!(text.starts_with("ARG seed 4\nARG allocated 2\nARG num 2\n\npage   0:7f7f"));
        let reparsed = parse_multilevel(&text);
        assert_eq!(reparsed, Ok(OstepMultilevel { answers: None, ..problem.clone() }));
        let solved = render_multilevel_solved(&problem).unwrap_or_default();
        assert_eq!(parse_multilevel(&solved), Ok(problem));
    }

    #[test]
    fn solved_render_needs_one_answer_per_address() {
        let mut problem = small_multilevel();
        problem.addresses.push(0);
        assert_eq!(render_multilevel_solved(&problem), None);
    }

    #[test]
    fn linear_round_trips_with_every_answer() {
        let problem = OstepLinear {
            seed: None,
            address_space: 1 << 14,
            phys_mem: 1 << 16,
            page_size: 1 << 12,
            entries: vec![0, 0x8000_000c, 0, 0x8000_0001],
            addresses: vec![0x1cc4, 0x2000, 0x4000],
            answers: Some(vec![
                LinearAnswer::Translated { vpn: 1, pa: 0xccc4 },
                LinearAnswer::Invalid { vpn: 2 },
                LinearAnswer::OutOfBounds,
            ]),
        };
        let solved = render_linear_solved(&problem).unwrap_or_default();
        assert_eq!(parse_linear(&solved), Ok(problem.clone()));
        let text = render_linear_problem(&problem);
        assert_eq!(parse_linear(&text), Ok(OstepLinear { answers: None, ..problem }));
    }
}

//! Seeded variants (`pagelab generate`): a template lab declares which pages move and which
//! frames are drawn at random; the generator moves those pages to fresh virtual addresses and
//! frames (copying their bytes and flags), rewrites every task that refers to them (and the
//! `0x…` numbers in their text), shuffles choice options that ask for it, and reseals the answers
//! with salts from the seed. The same template and seed always give the same file.

use super::author;
use super::condition::Condition;
use super::grade::ExerciseError;
use super::query::NumericQuery;
use super::seal;
use super::task::{Question, Task};
use crate::lab::Lab;
use crate::sim::addr::hex_grouped;
use crate::sim::format::{Role, low_mask};
use crate::sim::replace::SplitMix64;
use crate::sim::table;
use crate::sim::{Machine, MachineError};
use crate::sim::{Pfn, VirtAddr};
pub use crate::tasks::randomize::{FrameSlot, PageSlot, Randomize};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GenerateError {
    #[error("a template must be an instructor's lab; this one is a student version")]
    StudentTemplate,
    #[error("randomize.pages[{slot}]: {message}")]
    Page { slot: usize, message: String },
    #[error("randomize.frames[{slot}]: {message}")]
    Frame { slot: usize, message: String },
    #[error(transparent)]
    Machine(#[from] MachineError),
    #[error(transparent)]
    Exercise(#[from] ExerciseError),
}

/// Attempts per random pick before giving up (the ranges are too crowded).
const TRIES: usize = 256;

/// A page that moved.
struct Move {
    process: usize,
    old_base: u64,
    size: u64,
    new_base: u64,
    random_offset: bool,
}

/// Frames that moved: `old..old + count` became `new..new + count`.
struct FrameMove {
    old: u64,
    count: u64,
    new: u64,
}

struct Variant {
    rng: SplitMix64,
    moves: Vec<Move>,
    frames: Vec<FrameMove>,
    offsets: BTreeMap<(usize, u64), u64>,
    /// Hex numbers in task text to replace: old value -> new value.
    text: BTreeMap<u64, u64>,
}

impl Variant {
    /// A value in `0..bound` (0 when `bound` is 0).
    fn below(&mut self, bound: u64) -> u64 {
        let scaled = (u128::from(self.rng.next_u64()) * u128::from(bound)) >> 64;
        u64::try_from(scaled).unwrap_or(0)
    }

    fn map_va(&mut self, process: usize, va: u64) -> u64 {
        let Some(i) =
            self.moves.iter().position(|m| m.process == process && va.wrapping_sub(m.old_base) < m.size)
        else {
            return va;
        };
        let (old_base, size, new_base, random) = {
            let m = &self.moves[i];
            (m.old_base, m.size, m.new_base, m.random_offset)
        };
        let offset = if random {
            match self.offsets.get(&(process, va)) {
                Some(&o) => o,
                None => {
                    let o = self.below(size);
                    self.offsets.insert((process, va), o);
                    o
                }
            }
        } else {
            va - old_base
        };
        let new = new_base + offset;
        self.text.insert(va, new);
        new
    }

    fn map_frame(&mut self, frame: u64) -> u64 {
        let new = self
            .frames
            .iter()
            .find(|f| frame.wrapping_sub(f.old) < f.count)
            .map_or(frame, |f| f.new + (frame - f.old));
        self.text.entry(frame).or_insert(new);
        new
    }
}

/// Every (process, address) the tasks refer to, so a moved page does not land on them.
fn referenced(lab: &Lab) -> BTreeSet<(usize, u64)> {
    let m = &lab.machine;
    let mut out = BTreeSet::new();
    let mut add = |process: &str, va: u64| {
        if let Ok(p) = m.find_process(process) {
            out.insert((p, va));
        }
    };
    for task in &lab.exercises.tasks {
        match &task.question {
            Question::Translate(q) => add(&q.process, q.va.get()),
            Question::Goal(g) => {
                for c in g.condition.leaves() {
                    match c {
                        Condition::Translates { process, va, .. }
                        | Condition::Faults { process, va, .. }
                        | Condition::EntryField { process, va, .. } => add(process, *va),
                        _ => {}
                    }
                }
            }
            Question::Numeric(q) => {
                if let Some(NumericQuery::TlbReplay { process, addresses, .. }) = &q.query {
                    addresses.iter().for_each(|&va| add(process, va));
                }
            }
            Question::Choice(_) => {}
        }
    }
    out
}

/// Whether a page mapped at `level` could be placed at `base` in the tree under `root`: the walk
/// stops at a non-present entry at or above that level.
fn page_is_free(m: &Machine, root: Pfn, base: u64, level: usize) -> bool {
    let path = table::entry_path(m.mem(), m.format(), root, VirtAddr::new(base)).unwrap_or_default();
    path.last().is_some_and(|last| !m.format().present(last.raw, last.level) && last.level <= level)
}

/// Makes the variant of `template` for `seed` (with plain answers: the instructor's copy).
pub fn generate(template: &Lab, seed: u64) -> Result<Lab, GenerateError> {
    if template.exercises.student {
        return Err(GenerateError::StudentTemplate);
    }
    let mut lab = template.clone();
    let mut v = Variant {
        rng: SplitMix64::new(seed),
        moves: Vec::new(),
        frames: Vec::new(),
        offsets: BTreeMap::new(),
        text: BTreeMap::new(),
    };
    let refs = referenced(template);
    let randomize = template.exercises.randomize.clone();
    let mut taken_frames: BTreeSet<u64> = BTreeSet::new();
    for (slot, page) in randomize.pages.iter().enumerate() {
        move_page(&mut lab.machine, &mut v, &refs, &mut taken_frames, slot, page)?;
    }
    for (slot, fs) in randomize.frames.iter().enumerate() {
        let m = &lab.machine;
        let [lo, hi] = fs.within.map_or([0, m.mem().frame_count()], |[lo, hi]| [lo.get(), hi.get()]);
        let hi = hi.min(m.mem().frame_count());
        let err = |message: &str| GenerateError::Frame { slot, message: message.into() };
        if lo >= hi {
            return Err(err("the frame range is empty"));
        }
        let in_use = m.data_frames_in_use();
        let pick = (0..TRIES)
            .map(|_| lo + v.below(hi - lo))
            .find(|f| {
                !m.mem().is_allocated(Pfn::new(*f)) && !in_use.contains(*f) && !taken_frames.contains(f)
            })
            .ok_or_else(|| err("no free frame found in the range"))?;
        taken_frames.insert(pick);
        v.frames.push(FrameMove { old: fs.frame.get(), count: 1, new: pick });
    }
    for task in &mut lab.exercises.tasks {
        rewrite_task(&lab.machine, &mut v, task);
    }
    for task in &mut lab.exercises.tasks {
        rewrite_text(&v.text, task);
    }
    lab.exercises.randomize = Default::default();
    lab.exercises.seed = Some(seed);
    author::reseal_all(&mut lab, |id| seal::seeded_salt(seed, id))?;
    Ok(lab)
}

fn move_page(
    m: &mut Machine,
    v: &mut Variant,
    refs: &BTreeSet<(usize, u64)>,
    taken_frames: &mut BTreeSet<u64>,
    slot: usize,
    page: &PageSlot,
) -> Result<(), GenerateError> {
    let err = |message: String| GenerateError::Page { slot, message };
    let process = m.find_process(&page.process).map_err(|e| err(e.to_string()))?;
    let root =
        m.processes().get(process).map(|p| p.root).ok_or_else(|| err(format!("no process {process}")))?;
    let f = m.format().clone();
    let path = table::entry_path(m.mem(), &f, root, page.va).unwrap_or_default();
    let leaf = path.last().copied().filter(|e| f.present(e.raw, e.level) && f.is_leaf(e.raw, e.level));
    let level = leaf.map_or(f.last_level(), |e| e.level);
    let span = f.entry_span_shift(level).min(63);
    let size = 1u64 << span;
    let old_base = page.va.get() & !low_mask(span);
    let lo = page.within[0].get().checked_next_multiple_of(size).unwrap_or(u64::MAX);
    let hi = page.within[1].get();
    if lo >= hi || hi - lo < size {
        return Err(err(format!("no {size:#x}-byte page fits in [{:#x}, {hi:#x})", page.within[0])));
    }
    let candidates = (hi - lo) / size;
    let frames_per_page = size >> f.page_shift;
    let clear = |v: &Variant, base: u64| {
        base != old_base
            && !refs.iter().any(|&(p, va)| p == process && va.wrapping_sub(base) < size)
            && !v.moves.iter().any(|mv| {
                mv.process == process
                    && (mv.new_base.wrapping_sub(base) < size || base.wrapping_sub(mv.new_base) < mv.size)
            })
    };
    for _ in 0..TRIES {
        let base = lo + v.below(candidates) * size;
        if !f.va_in_range(base) || !clear(v, base) || !page_is_free(m, root, base, level) {
            continue;
        }
        let Some(entry) = leaf else {
            v.moves.push(Move { process, old_base, size, new_base: base, random_offset: page.random_offset });
            return Ok(());
        };
        let old_frame = f.frame(entry.raw, level);
        let new_frame = if page.move_frame {
            let in_use = m.data_frames_in_use();
            let slots = m.mem().frame_count() / frames_per_page;
            let free = |first: u64| {
                (first..first + frames_per_page).all(|fr| {
                    !m.mem().is_allocated(Pfn::new(fr)) && !in_use.contains(fr) && !taken_frames.contains(&fr)
                })
            };
            match (0..TRIES).map(|_| v.below(slots) * frames_per_page).find(|&fr| free(fr)) {
                Some(fr) => fr,
                None => return Err(err("no free frames for the moved page".into())),
            }
        } else {
            old_frame
        };
        let backup = m.clone();
        let result = (|| -> Result<(), MachineError> {
            m.reserve_frames(Pfn::new(new_frame), frames_per_page)?;
            if page.move_frame {
                m.copy_frames(Pfn::new(old_frame), Pfn::new(new_frame), frames_per_page)?;
            }
            let bits = f.with(entry.raw, Role::Frame, level, 0);
            m.map_page_raw(root, VirtAddr::new(base), level, Pfn::new(new_frame), bits)?;
            m.unmap(process, VirtAddr::new(old_base), size)?;
            if page.move_frame {
                for fr in old_frame..old_frame + frames_per_page {
                    if !m.mem().is_allocated(Pfn::new(fr)) {
                        m.zero_frames(Pfn::new(fr), 1);
                    }
                }
            }
            Ok(())
        })();
        if result.is_err() {
            *m = backup;
            continue;
        }
        taken_frames.extend(new_frame..new_frame + frames_per_page);
        v.frames.push(FrameMove { old: old_frame, count: frames_per_page, new: new_frame });
        v.moves.push(Move { process, old_base, size, new_base: base, random_offset: page.random_offset });
        v.text.insert(old_base, base);
        return Ok(());
    }
    Err(err(format!("no free {size:#x}-byte page found in [{lo:#x}, {hi:#x})")))
}

fn rewrite_task(m: &Machine, v: &mut Variant, task: &mut Task) {
    let find = |p: &str| m.find_process(p).ok();
    match &mut task.question {
        Question::Translate(q) => {
            if let Some(p) = find(&q.process) {
                q.va = VirtAddr::new(v.map_va(p, q.va.get()));
            }
        }
        Question::Goal(g) => g.condition.for_each_leaf_mut(&mut |c| match c {
            Condition::Translates { process, va, frame, .. } => {
                if let Some(p) = find(process) {
                    *va = v.map_va(p, *va);
                }
                if let Some(fr) = frame {
                    *fr = v.map_frame(*fr);
                }
            }
            Condition::Faults { process, va, .. } | Condition::EntryField { process, va, .. } => {
                if let Some(p) = find(process) {
                    *va = v.map_va(p, *va);
                }
            }
            _ => {}
        }),
        Question::Numeric(q) => {
            if let Some(NumericQuery::TlbReplay { process, addresses, .. }) = &mut q.query
                && let Some(p) = find(process)
            {
                for va in addresses.iter_mut() {
                    *va = v.map_va(p, *va);
                }
            }
        }
        Question::Choice(q) => {
            if q.shuffle {
                let n = q.options.len();
                let mut order: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    let j = usize::try_from(v.below(u64::try_from(i + 1).unwrap_or(1))).unwrap_or(0);
                    order.swap(i, j);
                }
                // order[new] = old
                let options = order.iter().filter_map(|&old| q.options.get(old).cloned()).collect();
                q.options = options;
                if let Some(correct) = &q.correct {
                    q.correct = Some(
                        order
                            .iter()
                            .enumerate()
                            .filter(|(_, old)| correct.contains(old))
                            .map(|(new, _)| new)
                            .collect(),
                    );
                }
                q.shuffle = false;
            }
        }
    }
}

/// Replaces `0x…` numbers in the task's text that the variant changed.
fn rewrite_text(map: &BTreeMap<u64, u64>, task: &mut Task) {
    let fix = |text: &mut String| *text = replace_hex(text, map);
    fix(&mut task.prompt);
    fix(&mut task.title);
    fix(&mut task.explanation);
    task.hints.iter_mut().for_each(fix);
    if let Some(notes) = &mut task.notes {
        fix(notes);
    }
}

/// Replaces every whole `0x…` token whose value is a key of `map`, keeping `_` grouping.
pub fn replace_hex(text: &str, map: &BTreeMap<u64, u64>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("0x") {
        let preceded_by_word =
            rest[..start].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let len = after.find(|c: char| !(c.is_ascii_hexdigit() || c == '_')).unwrap_or(after.len());
        let token = &after[..len];
        let digits: String = token.chars().filter(|&c| c != '_').collect();
        let value = u64::from_str_radix(&digits, 16).ok();
        match value.and_then(|val| map.get(&val)).filter(|_| !preceded_by_word && !digits.is_empty()) {
            Some(&new) if token.contains('_') => out.push_str(&hex_grouped(new)),
            Some(&new) => out.push_str(&format!("{new:#x}")),
            None => {
                out.push_str("0x");
                out.push_str(token);
            }
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_tokens_are_replaced_whole() {
        let map = BTreeMap::from([(0x4000, 0x9000), (0x2a, 0x31)]);
        assert_eq!(
            replace_hex("read 0x4000 and 0x40001 and 0x4_000, frame 0x2a; 10x4000", &map),
            "read 0x9000 and 0x40001 and 0x9000, frame 0x31; 10x4000"
        );
    }
}

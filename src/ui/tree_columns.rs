//! The tree's columns: which of them fit the width the tree has, and their texts. The entry, its
//! range and its flags always stay; the walk mark, target, raw value and entry address follow
//! while they fit (compact mode drops the raw value and the entry address).

use super::rows::{RowKind, TreeRow};
use crate::sim::Machine;
use crate::sim::Pfn;
use crate::sim::addr::{format_size, hex_grouped};

/// A column of the tree, in display order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Col {
    Entry,
    Range,
    EntryAddr,
    Raw,
    Flags,
    Target,
    Step,
}

impl Col {
    pub fn header(self) -> &'static str {
        match self {
            Col::Entry => "Entry",
            Col::Range => "Virtual range",
            Col::EntryAddr => "Entry at",
            Col::Raw => "Raw value",
            Col::Flags => "Flags",
            Col::Target => "Points to",
            Col::Step => "Walk",
        }
    }

    /// Which columns give way first when the tree is narrow (last in this list goes first).
    const PRIORITY: [Col; 7] =
        [Col::Entry, Col::Range, Col::Flags, Col::Step, Col::Target, Col::Raw, Col::EntryAddr];

    /// Secondary columns, hidden in compact mode.
    fn secondary(self) -> bool {
        matches!(self, Col::Raw | Col::EntryAddr)
    }
}

/// The widest text of each column over a set of rows, in characters (the entry column in
/// characters after its indent).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TextWidths {
    pub entry: usize,
    pub range_full: usize,
    pub range_short: usize,
    pub range_start: usize,
    pub entry_addr: usize,
    pub raw: usize,
    pub flags: usize,
    pub target: usize,
}

impl TextWidths {
    /// Measured over `rows` (once per rebuild of the rows, not per frame).
    pub fn of(m: &Machine, rows: &[TreeRow]) -> Self {
        let mut w = Self { raw: (m.format().pte_bytes * 2 + 2) as usize, ..Self::default() };
        for row in rows {
            let c = Cells::of(m, row, RangeForm::Full);
            w.entry = w.entry.max(c.entry.chars().count());
            w.range_full = w.range_full.max(c.range.chars().count());
            w.range_short = w.range_short.max(Cells::range(row, RangeForm::Sized).chars().count());
            w.range_start = w.range_start.max(Cells::range(row, RangeForm::Start).chars().count());
            w.entry_addr = w.entry_addr.max(c.entry_addr.len());
            w.flags = w.flags.max(c.flags.len());
            w.target = w.target.max(c.target.len());
        }
        w
    }
}

/// The texts of one row, one per column.
pub struct Cells {
    pub entry: String,
    pub range: String,
    pub entry_addr: String,
    pub raw: String,
    pub flags: String,
    pub target: String,
}

/// "4 KiB page, frame 0x12", with "copy-on-write, 2 owners" when fork() shared it read-only.
pub fn page_words(m: &Machine, row: &TreeRow, frame: u64) -> String {
    let page = format!("{} page, frame {frame:#x}", format_size(1u64 << row.span_shift.min(63)));
    let cow = crate::sim::fork::CowBit::of(m.format()).is_some_and(|bit| bit.is_set(row.raw));
    match (cow, m.shares().owners(Pfn::new(frame))) {
        (true, owners) => {
            format!("{page}, copy-on-write, {owners} owner{}", if owners == 1 { "" } else { "s" })
        }
        (false, owners) if owners > 1 => format!("{page}, {owners} owners"),
        _ => page,
    }
}

impl Cells {
    pub fn of(m: &Machine, row: &TreeRow, range: RangeForm) -> Self {
        let f = m.format();
        let level = f.levels.get(row.level).map_or("?", |l| l.name.as_str());
        let target = match row.kind {
            RowKind::Table { child_addr, .. } => format!("table {child_addr:#x}"),
            RowKind::Page { frame } => page_words(m, row, frame),
            RowKind::Empty => "not present".into(),
        };
        Self {
            entry: format!("{level}[{:#x}]", row.index),
            range: Self::range(row, range),
            entry_addr: format!("@{:#x}", row.entry_addr),
            raw: format!("{:#0w$x}", row.raw, w = (f.pte_bytes * 2 + 2) as usize),
            flags: f.flag_summary(row.raw, row.level),
            target,
        }
    }

    fn range(row: &TreeRow, form: RangeForm) -> String {
        match form {
            RangeForm::Full => format!("{}–{}", hex_grouped(row.va), hex_grouped(row.va_end())),
            RangeForm::Sized => {
                format!("{} +{}", hex_grouped(row.va), format_size(1u64 << row.span_shift.min(63)))
            }
            RangeForm::Start => hex_grouped(row.va),
        }
    }

    pub fn text(&self, col: Col, step: &str) -> String {
        match col {
            Col::Entry => self.entry.clone(),
            Col::Range => self.range.clone(),
            Col::EntryAddr => self.entry_addr.clone(),
            Col::Raw => self.raw.clone(),
            Col::Flags => self.flags.clone(),
            Col::Target => self.target.clone(),
            Col::Step => step.to_string(),
        }
    }
}

/// How the range column reads: whole, as start and size, or the start alone (narrowest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeForm {
    Full,
    Sized,
    Start,
}

impl RangeForm {
    pub fn header(self) -> &'static str {
        match self {
            RangeForm::Full => "Virtual range",
            RangeForm::Sized => "Virtual address +size",
            RangeForm::Start => "Virtual address",
        }
    }
}

/// The columns shown and their widths in pixels, in display order.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub cols: Vec<(Col, f32)>,
    pub range: RangeForm,
}

/// Chooses the columns for `available` pixels: `char_width` per character, `entry_indent` the
/// pixels before the entry's text at the deepest level, `gap` between columns. The entry, range
/// and flags columns are always there; the range shortens to "start +size", then to its start,
/// before any other column is dropped. Spare width goes to the last column.
pub fn fit(
    w: &TextWidths,
    char_width: f32,
    entry_indent: f32,
    gap: f32,
    available: f32,
    compact: bool,
    walk: bool,
) -> Layout {
    // At least as wide as the header drawn above the column (the range's depends on its form),
    // so that headers of an empty tree do not run into each other.
    let px = |chars: usize, header: &str| (chars.max(header.chars().count()) as f32) * char_width + gap;
    let width = |col: Col, form: RangeForm| match col {
        Col::Entry => entry_indent + px(w.entry, col.header()),
        Col::Range => match form {
            RangeForm::Full => px(w.range_full, form.header()),
            RangeForm::Sized => px(w.range_short, form.header()),
            RangeForm::Start => px(w.range_start, form.header()),
        },
        Col::EntryAddr => px(w.entry_addr, col.header()),
        Col::Raw => px(w.raw, col.header()),
        Col::Flags => px(w.flags, col.header()),
        Col::Target => px(w.target, col.header()),
        Col::Step => px("preview 5".len(), col.header()),
    };
    // The walk column only while there is a walk to mark.
    let candidates: Vec<Col> = Col::PRIORITY
        .into_iter()
        .filter(|c| !(compact && c.secondary()) && (walk || *c != Col::Step))
        .collect();
    let choose = |form: RangeForm| -> (Vec<(Col, f32)>, bool, f32) {
        let mut used = 0.0;
        let mut chosen = Vec::new();
        let mut all = true;
        for (i, col) in candidates.iter().enumerate() {
            let cw = width(*col, form);
            if i < 3 || used + cw <= available {
                used += cw;
                chosen.push((*col, cw));
            } else {
                all = false;
            }
        }
        chosen.sort_by_key(|(c, _)| *c);
        (chosen, all, used)
    };
    // The full range when every column fits with it; else "start +size" when the three kept
    // columns fit with that; else the start alone.
    let (mut cols, all, _) = choose(RangeForm::Full);
    let mut range = RangeForm::Full;
    if !all {
        let kept = |form| width(Col::Entry, form) + width(Col::Range, form) + width(Col::Flags, form);
        range = if kept(RangeForm::Sized) <= available { RangeForm::Sized } else { RangeForm::Start };
        cols = choose(range).0;
    }
    let used: f32 = cols.iter().map(|(_, w)| w).sum();
    if let Some(last) = cols.last_mut()
        && used < available
    {
        last.1 += available - used;
    }
    Layout { cols, range }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths() -> TextWidths {
        // An x86-64 tree: "PML4[0x1ff]", a kernel range, 16-digit raw values.
        TextWidths {
            entry: 11,
            range_full: 43,
            range_short: 30,
            range_start: 21,
            entry_addr: 8,
            raw: 18,
            flags: 20,
            target: 27,
        }
    }

    #[test]
    fn a_wide_tree_shows_every_column_with_full_ranges() {
        let l = fit(&widths(), 8.0, 70.0, 10.0, 2000.0, false, true);
        let cols: Vec<Col> = l.cols.iter().map(|c| c.0).collect();
        assert_eq!(
            cols,
            vec![Col::Entry, Col::Range, Col::EntryAddr, Col::Raw, Col::Flags, Col::Target, Col::Step]
        );
        assert_eq!(l.range, RangeForm::Full);
        let total: f32 = l.cols.iter().map(|c| c.1).sum();
        assert!((total - 2000.0).abs() < 0.01, "the spare width goes to the last column");
    }

    #[test]
    fn a_narrow_tree_keeps_entry_range_and_flags_and_drops_the_entry_address_first() {
        // Entry 70+11*8+10=168, short range 30*8+10=250, flags 20*8+10=170: 588 px.
        let l = fit(&widths(), 8.0, 70.0, 10.0, 600.0, false, true);
        let cols: Vec<Col> = l.cols.iter().map(|c| c.0).collect();
        assert_eq!(cols, vec![Col::Entry, Col::Range, Col::Flags]);
        assert_eq!(l.range, RangeForm::Sized);
        // Even narrower: the three stay (the view clips them) rather than vanish.
        let l = fit(&widths(), 8.0, 70.0, 10.0, 200.0, false, true);
        assert_eq!(l.cols.len(), 3);
        assert_eq!(l.range, RangeForm::Start);
        // Between: the start alone keeps the three columns whole (168 + 178 + 170 = 516 px).
        let l = fit(&widths(), 8.0, 70.0, 10.0, 520.0, false, true);
        assert_eq!((l.cols.len(), l.range), (3, RangeForm::Start));
        // With room for the walk mark and the target but not the raw value.
        let l = fit(&widths(), 8.0, 70.0, 10.0, 588.0 + 90.0 + 230.0 + 5.0, false, true);
        let cols: Vec<Col> = l.cols.iter().map(|c| c.0).collect();
        assert_eq!(cols, vec![Col::Entry, Col::Range, Col::Flags, Col::Target, Col::Step]);
    }

    #[test]
    fn an_empty_tree_still_makes_each_column_as_wide_as_its_header() {
        // No rows (a nested lab's native process): the widths come from the headers alone, and
        // the range's header is the one of the form chosen ("Virtual address +size": 21 chars).
        for available in [400.0, 700.0, 2000.0] {
            let l = fit(&TextWidths::default(), 8.0, 0.0, 10.0, available, false, true);
            for (col, width) in &l.cols {
                let header = if *col == Col::Range { l.range.header() } else { col.header() };
                assert!(*width >= header.len() as f32 * 8.0, "{col:?} at {available} px: {width}");
            }
        }
    }

    #[test]
    fn without_a_walk_the_walk_column_leaves_its_room_to_the_others() {
        let l = fit(&widths(), 8.0, 70.0, 10.0, 2000.0, false, false);
        assert!(l.cols.iter().all(|(c, _)| *c != Col::Step));
        assert_eq!(l.cols.len(), 6);
    }

    #[test]
    fn compact_mode_hides_the_raw_value_and_the_entry_address() {
        let l = fit(&widths(), 8.0, 70.0, 10.0, 2000.0, true, true);
        assert!(l.cols.iter().all(|(c, _)| !matches!(c, Col::Raw | Col::EntryAddr)));
        assert_eq!(l.range, RangeForm::Full);
    }
}

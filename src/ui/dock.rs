//! The dock: every panel of the app is a tab in an egui_tiles tree that the user splits, stacks,
//! drags and closes. The layout persists between runs; View ▸ Reset layout restores the default.

use egui_tiles::{Container, Linear, LinearDir, SimplificationOptions, Tile, TileId, Tiles, Tree};
use serde::{Deserialize, Serialize};

/// The tree keeps at least this width (its entry, range and flags columns at 100%)...
pub const MIN_TREE_WIDTH: f32 = 460.0;
/// ... and the inspector this height (its header, the raw value and a row of fields).
pub const MIN_INSPECTOR_HEIGHT: f32 = 110.0;

/// One panel of the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Pane {
    Processes,
    Tree,
    Inspector,
    Memory,
    Mmu,
    Tlb,
    Exercises,
    Frames,
    Plots,
    Description,
    /// One address walked in every comparable format, side by side.
    Formats,
    /// A nested lab's two-dimensional walk (guest tables through the host's).
    Nested,
}

impl Pane {
    /// Every panel, in the order the View menu lists them.
    pub const ALL: [Pane; 12] = [
        Pane::Description,
        Pane::Processes,
        Pane::Tree,
        Pane::Inspector,
        Pane::Memory,
        Pane::Mmu,
        Pane::Tlb,
        Pane::Exercises,
        Pane::Frames,
        Pane::Plots,
        Pane::Formats,
        Pane::Nested,
    ];

    /// The tab's title (also the View menu's entry).
    pub fn title(self) -> &'static str {
        match self {
            Pane::Processes => "Processes",
            Pane::Tree => "Page tables",
            Pane::Inspector => "Entry inspector",
            Pane::Memory => "Physical memory",
            Pane::Mmu => "MMU",
            Pane::Tlb => "TLB and traces",
            Pane::Exercises => "Exercises",
            Pane::Frames => "Frames and page faults",
            Pane::Plots => "Plots",
            Pane::Description => "About this lab",
            Pane::Formats => "Compare formats",
            Pane::Nested => "Nested walk",
        }
    }

    /// The group a panel opens in when it is not in the layout: beside the panels it is used with.
    fn home(self) -> Home {
        match self {
            Pane::Processes | Pane::Description | Pane::Exercises => Home::Left,
            Pane::Tree => Home::Centre,
            Pane::Inspector => Home::Inspector,
            Pane::Memory => Home::Memory,
            Pane::Mmu => Home::Right,
            Pane::Tlb | Pane::Frames | Pane::Plots | Pane::Formats | Pane::Nested => Home::Lower,
        }
    }
}

/// The default layout's groups (tab containers), found again by the panes they hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Home {
    Left,
    Centre,
    Inspector,
    Memory,
    Right,
    Lower,
}

impl Home {
    /// Where a group of this home goes when it is not in the layout: beside the group of the
    /// first of these panes that is there, in that direction, after it (or before it).
    /// Left goes beside the whole column that holds the tree.
    fn anchors(self) -> &'static [(Pane, LinearDir, bool)] {
        use LinearDir::{Horizontal, Vertical};
        match self {
            Home::Left => &[(Pane::Tree, Horizontal, false)],
            Home::Centre => &[(Pane::Inspector, Vertical, false), (Pane::Mmu, Horizontal, false)],
            Home::Inspector => &[(Pane::Tree, Vertical, true), (Pane::Memory, Vertical, false)],
            Home::Memory => &[(Pane::Inspector, Vertical, true), (Pane::Tree, Vertical, true)],
            Home::Right => &[(Pane::Tlb, Vertical, false), (Pane::Tree, Horizontal, true)],
            Home::Lower => &[(Pane::Mmu, Vertical, true), (Pane::Tree, Horizontal, true)],
        }
    }

    /// The panes of the default layout that live in this group.
    fn members(self) -> &'static [Pane] {
        match self {
            Home::Left => &[Pane::Description, Pane::Processes, Pane::Exercises],
            Home::Centre => &[Pane::Tree],
            Home::Inspector => &[Pane::Inspector],
            Home::Memory => &[Pane::Memory],
            Home::Right => &[Pane::Mmu],
            Home::Lower => &[Pane::Tlb, Pane::Frames, Pane::Plots, Pane::Formats, Pane::Nested],
        }
    }
}

/// The dock's layout (saved between runs).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Dock {
    pub tree: Tree<Pane>,
}

impl Default for Dock {
    fn default() -> Self {
        Self::with_panes(&[Pane::Processes, Pane::Tree, Pane::Inspector, Pane::Memory, Pane::Mmu])
    }
}

impl Dock {
    /// The default arrangement holding `open` panes: a left column (description, processes and
    /// exercises as tabs) beside the tree, the tree above the inspector and the memory map in the middle, the MMU
    /// on the right above the TLB, frames and plots.
    pub fn with_panes(open: &[Pane]) -> Self {
        let mut tiles = Tiles::default();
        let group = |tiles: &mut Tiles<Pane>, home: Home| -> Option<TileId> {
            let ids: Vec<TileId> =
                home.members().iter().filter(|p| open.contains(p)).map(|p| tiles.insert_pane(*p)).collect();
            (!ids.is_empty()).then(|| tiles.insert_tab_tile(ids))
        };
        let left = group(&mut tiles, Home::Left);
        let centre = group(&mut tiles, Home::Centre);
        let inspector = group(&mut tiles, Home::Inspector);
        let memory = group(&mut tiles, Home::Memory);
        let right = group(&mut tiles, Home::Right);
        let lower = group(&mut tiles, Home::Lower);
        let middle =
            linear(&mut tiles, LinearDir::Vertical, &[(centre, 3.0), (inspector, 1.3), (memory, 0.9)]);
        let side = linear(&mut tiles, LinearDir::Vertical, &[(right, 3.0), (lower, 2.0)]);
        let root = linear(&mut tiles, LinearDir::Horizontal, &[(left, 1.1), (middle, 2.4), (side, 2.1)])
            .unwrap_or_else(|| tiles.insert_tab_tile(Vec::new()));
        Self { tree: Tree::new(egui::Id::unique("pagelab-dock"), root, tiles) }
    }

    /// Is this panel in the layout?
    pub fn is_open(&self, pane: Pane) -> bool {
        self.tree.tiles.find_pane(&pane).is_some()
    }

    /// Is this panel in the layout and the shown tab of its group?
    pub fn is_shown(&self, pane: Pane) -> bool {
        self.tree
            .tiles
            .find_pane(&pane)
            .is_some_and(|id| self.tree.is_visible(id) && self.tree.active_tiles().contains(&id))
    }

    /// Where the pane was drawn last (None when it is not shown).
    pub fn pane_rect(&self, pane: Pane) -> Option<egui::Rect> {
        let id = self.tree.tiles.find_pane(&pane)?;
        self.is_shown(pane).then(|| self.tree.tiles.rect(id)).flatten()
    }

    /// The panes in the layout.
    pub fn open_panes(&self) -> Vec<Pane> {
        Pane::ALL.into_iter().filter(|p| self.is_open(*p)).collect()
    }

    /// Shows a panel: brings its tab to the front, or adds it to its home group (made again
    /// where the default layout has it when the user closed the whole group).
    pub fn open(&mut self, pane: Pane) {
        if let Some(id) = self.tree.tiles.find_pane(&pane) {
            self.tree.make_active(|tile_id, _| tile_id == id);
            return;
        }
        let id = self.tree.tiles.insert_pane(pane);
        let group =
            pane.home().members().iter().filter_map(|p| self.tree.tiles.find_pane(p)).find_map(|member| {
                let parent = self.tree.tiles.parent_of(member)?;
                matches!(self.tree.tiles.get(parent), Some(Tile::Container(Container::Tabs(_))))
                    .then_some(parent)
            });
        match group {
            Some(tabs) => {
                if let Some(Tile::Container(Container::Tabs(tabs))) = self.tree.tiles.get_mut(tabs) {
                    tabs.add_child(id);
                    tabs.set_active(id);
                }
            }
            None => self.add_beside_root(pane, id),
        }
        self.tree.make_active(|tile_id, _| tile_id == id);
    }

    /// A pane whose group is gone: a new group where the default layout has it, split off the
    /// group of the pane it is used with (the TLB below the MMU, the inspector below the tree),
    /// or at the side of the whole dock when that pane is gone too.
    fn add_beside_root(&mut self, pane: Pane, id: TileId) {
        let tabs = self.tree.tiles.insert_tab_tile(vec![id]);
        let anchor = pane.home().anchors().iter().find_map(|(p, dir, after)| {
            let group = self.tree.tiles.parent_of(self.tree.tiles.find_pane(p)?)?;
            Some((group, *dir, *after))
        });
        let (anchor, dir, after) = match (anchor, self.tree.root()) {
            (Some(found), _) => found,
            (None, Some(root)) => (root, LinearDir::Horizontal, pane.home() != Home::Left),
            (None, None) => {
                self.tree.root = Some(tabs);
                return;
            }
        };
        let column = pane.home() == Home::Left;
        self.split(anchor, tabs, dir, after, column);
    }

    /// Puts `new` beside `anchor` in direction `dir` (after it or before it), in the anchor's
    /// container when that already runs in `dir`, else in a new container taking its place.
    /// With `column`, beside the outermost container around the anchor that runs across `dir`
    /// (the whole column), not beside the anchor's group alone.
    fn split(&mut self, mut anchor: TileId, new: TileId, dir: LinearDir, after: bool, column: bool) {
        while column
            && let Some(parent) = self.tree.tiles.parent_of(anchor)
            && !matches!(self.tree.tiles.get(parent), Some(Tile::Container(Container::Linear(l))) if l.dir == dir)
        {
            anchor = parent;
        }
        let parent = self.tree.tiles.parent_of(anchor);
        if let Some(parent) = parent
            && let Some(Tile::Container(Container::Linear(linear))) = self.tree.tiles.get_mut(parent)
            && linear.dir == dir
        {
            let at = linear.children.iter().position(|c| *c == anchor).map_or(0, |i| i + usize::from(after));
            let share = linear.shares[anchor] * 0.6;
            linear.children.insert(at, new);
            linear.shares.set_share(new, share);
            return;
        }
        let children = if after { vec![anchor, new] } else { vec![new, anchor] };
        let mut linear = Linear::new(dir, children);
        linear.shares.set_share(anchor, 3.0);
        linear.shares.set_share(new, 2.0);
        let container = self.tree.tiles.insert_container(linear);
        match parent {
            Some(parent) => {
                if let Some(Tile::Container(c)) = self.tree.tiles.get_mut(parent) {
                    let _ = c.replace_child(anchor, container);
                }
            }
            None => self.tree.root = Some(container),
        }
    }

    /// Gives the tree back the width of its kept columns (entry, range, flags) and the
    /// inspector the height of a row of fields when a drag (or a small window) left them less:
    /// their share of the container around them grows, taken from their neighbours. Drawn as
    /// laid out last frame, corrected for the next.
    pub fn keep_minimums(&mut self) {
        self.grow(Pane::Tree, LinearDir::Horizontal, MIN_TREE_WIDTH);
        self.grow(Pane::Inspector, LinearDir::Vertical, MIN_INSPECTOR_HEIGHT);
    }

    fn grow(&mut self, pane: Pane, dir: LinearDir, min: f32) {
        let Some(id) = self.tree.tiles.find_pane(&pane) else { return };
        let extent = |r: egui::Rect| if dir == LinearDir::Horizontal { r.width() } else { r.height() };
        let Some(size) = self.tree.tiles.rect(id).map(extent) else { return };
        if size >= min || !self.tree.is_visible(id) {
            return;
        }
        // The outermost tile holding the pane whose container runs in `dir`.
        let mut node = id;
        let parent = loop {
            let Some(parent) = self.tree.tiles.parent_of(node) else { return };
            if matches!(self.tree.tiles.get(parent), Some(Tile::Container(Container::Linear(l))) if l.dir == dir)
            {
                break parent;
            }
            node = parent;
        };
        let Some(room) = self.tree.tiles.rect(parent).map(extent) else { return };
        if room < min * 1.5 {
            return; // the window itself is too small: nothing to take from the neighbours
        }
        if let Some(Tile::Container(Container::Linear(linear))) = self.tree.tiles.get_mut(parent) {
            let total: f32 = linear.children.iter().map(|c| linear.shares[*c]).sum();
            let others = total - linear.shares[node];
            // share / (others + share) * room = target, with room for the gaps between tiles.
            let target = min + 12.0;
            linear.shares.set_share(node, target * others / (room - target));
        }
    }

    /// Removes a panel from the layout.
    pub fn close(&mut self, pane: Pane) {
        if let Some(id) = self.tree.tiles.find_pane(&pane) {
            self.tree.remove_recursively(id);
            self.tree.simplify(&simplification());
        }
    }

    /// Opens or closes a panel (the View menu's checkboxes).
    pub fn set_open(&mut self, pane: Pane, open: bool) {
        match (open, self.is_open(pane)) {
            (true, _) => self.open(pane),
            (false, true) => self.close(pane),
            (false, false) => {}
        }
    }
}

/// A container of the `some` children, with their shares; `None` when none is there.
fn linear(tiles: &mut Tiles<Pane>, dir: LinearDir, children: &[(Option<TileId>, f32)]) -> Option<TileId> {
    let present: Vec<(TileId, f32)> =
        children.iter().filter_map(|(id, share)| id.map(|id| (id, *share))).collect();
    match present.as_slice() {
        [] => None,
        [(only, _)] => Some(*only),
        _ => {
            let mut linear = Linear::new(dir, present.iter().map(|(id, _)| *id).collect());
            for (id, share) in &present {
                linear.shares.set_share(*id, *share);
            }
            Some(tiles.insert_container(linear))
        }
    }
}

/// Every pane keeps a tab bar (so it can be dragged and closed); empty groups go.
pub fn simplification() -> SimplificationOptions {
    SimplificationOptions { all_panes_must_have_tabs: true, ..SimplificationOptions::default() }
}

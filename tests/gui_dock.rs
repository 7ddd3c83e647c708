//! The docked layout, driven through egui_kittest at a laptop/projector size (1366x768): with the
//! TLB and Exercises panels open, the tree, the inspector's checkboxes and every column of the
//! MMU walk table stay on screen; the layout survives a restart; Reset layout restores it; the
//! zoom shortcuts scale the UI and are kept.
#![cfg(feature = "gui")]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pagelab::ui::app::PagelabApp;
use pagelab::ui::dock::{Dock, Pane};
use std::collections::HashMap;

const W: f32 = 1366.0;
const H: f32 = 768.0;

fn harness(app: PagelabApp) -> Harness<'static, PagelabApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(W, H))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PagelabApp| app.show(ui), app);
    h.run();
    h
}

fn welcome() -> PagelabApp {
    PagelabApp::new(pagelab::ui::welcome_lab(), None)
}

fn menu(h: &mut Harness<'static, PagelabApp>, menu: &str, item: &str) {
    h.get_by_label(menu).click();
    h.run();
    match h.query_by_role_and_label(egui::accesskit::Role::CheckBox, item) {
        Some(checkbox) => checkbox.click(),
        None => h.get_by_label(item).click(),
    }
    h.run();
}

/// `rect` lies within the pane's area (so it is drawn, not scrolled or clipped away) and within
/// the window.
fn assert_visible(h: &Harness<'static, PagelabApp>, pane: Pane, rect: egui::Rect, what: &str) {
    let area = h.state().dock.pane_rect(pane).unwrap_or_else(|| panic!("{pane:?} is not shown"));
    let window = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(W, H));
    assert!(area.expand(1.0).contains_rect(rect), "{what} at {rect:?} is outside its panel {area:?}");
    assert!(window.contains_rect(rect), "{what} at {rect:?} is outside the window");
}

#[test]
fn at_1366x768_with_tlb_and_exercises_open_the_tree_inspector_and_walk_table_stay_visible() {
    let mut h = harness(welcome());
    menu(&mut h, "View", "TLB and traces");
    menu(&mut h, "View", "Exercises");
    let dock = &h.state().dock;
    for pane in [Pane::Tree, Pane::Inspector, Pane::Mmu, Pane::Tlb, Pane::Exercises] {
        assert!(dock.is_shown(pane), "{pane:?} is shown in the default layout");
    }
    // A walk through the x86-64 tables and a selected leaf.
    let field = h.get_by_label("Virtual address:");
    field.focus();
    field.type_text("0x555555556000");
    h.run();
    h.get_by_label("Translate").click();
    h.run();
    h.get_by_label_contains("PT[0x156]").click();
    h.run();
    assert!(h.state().state.selected.is_some(), "the click selected the entry");

    // The tree keeps its index, range and flags columns.
    for header in ["Entry", "Flags"] {
        let rect = h.get_by_label(header).rect();
        assert_visible(&h, Pane::Tree, rect, header);
    }
    let range = ["Virtual range", "Virtual address +size", "Virtual address"]
        .into_iter()
        .find_map(|l| h.query_by_label(l));
    assert_visible(&h, Pane::Tree, range.expect("a range column").rect(), "the range column");
    let row = h.get_by_label_contains("PT[0x156]").rect();
    assert_visible(&h, Pane::Tree, row, "the selected row");

    // The inspector shows its checkboxes.
    for bit in ["R/W", "U/S", "NX"] {
        let rect = h.get_by_label(bit).rect();
        assert_visible(&h, Pane::Inspector, rect, bit);
    }

    // Every column of the walk table, headers and the leaf's row.
    // (The TLB panel below has some of the same headers: the MMU panel's are the ones asked.)
    // The leaf of this code page has P and U/S, no R/W and no NX: read and execute, user.
    let mmu = h.state().dock.pane_rect(Pane::Mmu).unwrap();
    for label in ["Level", "Index", "Entry at", "Raw", "Fields", "Rights\nso far", "r-x U"] {
        let rects: Vec<egui::Rect> = h.query_all_by_label(label).map(|n| n.rect()).collect();
        let rect =
            rects.iter().find(|r| r.intersects(mmu)).unwrap_or_else(|| panic!("{label} in the MMU panel"));
        assert_visible(&h, Pane::Mmu, *rect, label);
    }
}

#[test]
fn closing_a_tab_and_reopening_it_from_view_brings_it_back_where_it_was() {
    let mut h = harness(welcome());
    menu(&mut h, "View", "TLB and traces");
    let before = h.state().dock.pane_rect(Pane::Tlb).expect("the TLB is shown");
    let mmu = h.state().dock.pane_rect(Pane::Mmu).unwrap();
    assert!(before.min.y >= mmu.max.y - 1.0, "the TLB opens below the MMU, not over the tree");
    // Unticked in View: closed.
    menu(&mut h, "View", "TLB and traces");
    assert!(!h.state().dock.is_open(Pane::Tlb));
    menu(&mut h, "View", "TLB and traces");
    let after = h.state().dock.pane_rect(Pane::Tlb).unwrap();
    assert!((after.left() - before.left()).abs() < 1.0 && after.min.y >= mmu.max.y - 1.0);
}

#[test]
fn reset_layout_restores_the_default_panels() {
    let mut h = harness(welcome());
    menu(&mut h, "View", "Physical memory");
    menu(&mut h, "View", "Plots");
    assert!(!h.state().dock.is_open(Pane::Memory));
    assert!(h.state().dock.is_open(Pane::Plots));
    menu(&mut h, "View", "Reset layout");
    assert_eq!(h.state().dock.open_panes(), Dock::default().open_panes());
    assert!(h.state().dock.is_open(Pane::Memory) && !h.state().dock.is_open(Pane::Plots));
}

/// eframe's storage, in memory: what a restart reads back.
#[derive(Default)]
struct Memory(HashMap<String, String>);

impl eframe::Storage for Memory {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn the_layout_and_zoom_persist_across_a_restart() {
    use eframe::App;
    let mut h = harness(welcome());
    menu(&mut h, "View", "Processes");
    menu(&mut h, "View", "Frames and page faults");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Equals);
    h.run();
    assert!((h.state().prefs.zoom - 1.1).abs() < 1e-6, "Ctrl+= zooms in one step");
    assert!((h.ctx.zoom_factor() - 1.1).abs() < 1e-6, "the whole UI is scaled");
    let panes = h.state().dock.open_panes();
    let mut storage = Memory::default();
    h.state_mut().save(&mut storage);

    let restarted = welcome().restore(Some(&storage));
    assert_eq!(restarted.dock.open_panes(), panes);
    assert!(!restarted.dock.is_open(Pane::Processes) && restarted.dock.is_open(Pane::Frames));
    assert!((restarted.prefs.zoom - 1.1).abs() < 1e-6);
    let mut h = harness(restarted);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num0);
    h.run();
    assert_eq!(h.state().prefs.zoom, 1.0, "Ctrl+0 resets the zoom");
}

#[test]
fn the_welcome_description_is_a_tab_with_its_markdown_table_rendered() {
    let h = harness(welcome());
    assert!(h.state().dock.is_shown(Pane::Description), "the description is shown on open");
    // The "Start here" table's cells are laid out as cells, not as raw `|---|` text.
    assert!(h.query_by_label_contains("|---").is_none() && h.query_by_label_contains("| ---").is_none());
    assert!(h.query_all_by_label_contains("kernel text").count() >= 1);
}

#[test]
fn the_shortcuts_sheet_lists_what_the_menus_show() {
    let mut h = harness(welcome());
    h.key_press(egui::Key::F1);
    h.run();
    assert!(h.state().state.show_shortcuts, "F1 opens the sheet");
    // Each command's keys, as the File menu prints them beside the same names.
    for (name, keys) in
        [("Save", "Ctrl+S"), ("Save as", "Ctrl+Shift+S"), ("Redo", "Ctrl+Shift+Z  or  Ctrl+Y")]
    {
        h.get_by_label(name);
        h.get_by_label(keys);
    }
    // The command works from its key: Ctrl+M opens the map dialog.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::M);
    h.run();
    assert!(h.state().state.map_dialog.is_some());
}

#[test]
fn a_tree_dragged_too_narrow_gets_its_kept_columns_back() {
    use egui_tiles::{Container, Tile};
    let mut h = harness(welcome());
    // As if the user dragged the splitters: the tree's column gets a sliver of the width.
    let dock = &mut h.state_mut().dock;
    let mut node = dock.tree.tiles.find_pane(&Pane::Tree).unwrap();
    loop {
        let parent = dock.tree.tiles.parent_of(node).unwrap();
        if let Some(Tile::Container(Container::Linear(l))) = dock.tree.tiles.get_mut(parent)
            && l.dir == egui_tiles::LinearDir::Horizontal
        {
            l.shares.set_share(node, 0.05);
            break;
        }
        node = parent;
    }
    h.run();
    let width = h.state().dock.pane_rect(Pane::Tree).unwrap().width();
    assert!(width >= pagelab::ui::dock::MIN_TREE_WIDTH - 1.0, "the tree is {width} px wide");
    for header in ["Entry", "Flags"] {
        let rect = h.get_by_label(header).rect();
        assert_visible(&h, Pane::Tree, rect, header);
    }
}

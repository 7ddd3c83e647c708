//! UI state that is neither saved in the lab nor undone (selection, expansion, text fields,
//! open dialogs), the user's preferences (persisted between runs) and the actions views emit.

use super::rows::{RowsKey, TreeRow};
use crate::doc::Edit;
use crate::sim::fault::{Access, Mode};
use crate::sim::mmu::Translation;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// What views ask the app to do; applied after the frame is drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Edit(Edit),
    /// A fresh lab from a preset or sample name.
    New(String),
    Open(PathBuf),
    Save,
    SaveAs(PathBuf),
    Undo,
    Redo,
    /// Expand the tree down to the entry mapping this address and scroll to it.
    RevealVa(u64),
    /// Expand the tree down to this table (a frame clicked in the memory map).
    RevealTable(u64),
    /// Perform the MMU panel's access (re-run from history or Enter).
    Translate {
        va: u64,
        access: Access,
        mode: Mode,
        process: usize,
    },
    Quit,
    /// Save the student version of the lab (no plain answers) to this path.
    ExportStudent(PathBuf),
    /// "Export for grading only": no keys, no explanations (see `exercise::exam_version`).
    ExportExam(PathBuf),
    /// TLB, trace playback and plots (applied by `tlb_state`).
    Tlb(super::tlb_state::TlbAction),
    /// Replace the lab with a process layout read from a /proc/PID/maps file.
    ImportProcMaps(super::procmaps_dialog::ProcMapsRequest),
    /// A kernel's page-table dump (File ▸ Import ▸ Kernel page-table dump).
    ImportDump(std::path::PathBuf, crate::lab::dump_import::DumpKind),
    /// The user chose to lose unsaved changes: run the pending action.
    DiscardChanges,
    /// New OS-model settings for the lab (frames view).
    SetOs(crate::sim::os::OsSettings),
    /// A command from the menus or a shortcut (see `commands`).
    Command(super::commands::Command),
    /// Show a panel: bring its tab to the front, or put it back in the dock.
    OpenPane(super::dock::Pane),
}

/// Preferences kept between runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Prefs {
    pub dark: bool,
    pub recent: Vec<PathBuf>,
    /// The UI's scale (View ▸ Zoom; 1.0 is 100%).
    pub zoom: f32,
}

impl Default for Prefs {
    fn default() -> Self {
        Self { dark: true, recent: Vec::new(), zoom: 1.0 }
    }
}

impl Prefs {
    pub fn remember(&mut self, path: &std::path::Path) {
        self.recent.retain(|p| p != path);
        self.recent.insert(0, path.to_path_buf());
        self.recent.truncate(8);
    }
}

/// The MMU panel's inputs.
#[derive(Clone, Debug)]
pub struct MmuInput {
    pub addr_text: String,
    pub access: Access,
    pub mode: Mode,
    /// Leave memory untouched (no A/D writes) when performing an access.
    pub dry_run: bool,
}

impl Default for MmuInput {
    fn default() -> Self {
        Self { addr_text: String::new(), access: Access::Read, mode: Mode::User, dry_run: false }
    }
}

/// One line of the MMU history.
#[derive(Clone, Debug)]
pub struct HistoryItem {
    pub process: usize,
    pub va: u64,
    pub access: Access,
    pub mode: Mode,
    pub summary: String,
    pub fault: bool,
}

/// The map dialog's fields.
#[derive(Clone, Debug, Default)]
pub struct MapDialog {
    pub va: String,
    pub length: String,
    /// Index into the format's page sizes.
    pub size_index: usize,
    pub alloc: bool,
    pub frame_pa: String,
    pub flags: BTreeSet<String>,
    pub error: Option<String>,
}

/// The unmap dialog's fields.
#[derive(Clone, Debug, Default)]
pub struct UnmapDialog {
    pub va: String,
    pub length: String,
    pub error: Option<String>,
}

/// A typed-path dialog (open or save as): native dialogs are not available everywhere.
#[derive(Clone, Debug, Default)]
pub struct PathDialog {
    pub path: String,
    pub save: bool,
    pub error: Option<String>,
    /// Save the student version rather than the lab itself.
    pub export_student: bool,
    /// With `export_student`: the copy for grading only (no keys, no explanations).
    pub export_exam: bool,
}

/// An action waiting for "discard unsaved changes?".
#[derive(Clone, Debug, PartialEq)]
pub struct PendingDiscard {
    pub then: Action,
}

#[derive(Clone, Debug, Default)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

#[derive(Default)]
pub struct UiState {
    pub expanded: BTreeSet<u64>,
    pub present_only: bool,
    pub selected: Option<u64>,
    pub search_text: String,
    pub search_error: Option<String>,
    /// Scroll the tree so that this entry is visible (set by reveal actions).
    pub scroll_to_entry: Option<u64>,
    pub rows: Vec<TreeRow>,
    pub rows_key: Option<RowsKey>,
    /// The widest text of each tree column over `rows`.
    pub row_widths: super::tree_columns::TextWidths,
    /// The tree hides its secondary columns (raw value, entry address).
    pub compact_tree: bool,
    pub mmu: MmuInput,
    /// The last access performed (its path is highlighted in the tree) until the next one or
    /// an undo.
    pub last_walk: Option<Translation>,
    /// The MMU panel's live walk of the typed address, not performed (drawn as a preview).
    pub preview: Option<Translation>,
    pub history: Vec<HistoryItem>,
    pub map_dialog: Option<MapDialog>,
    pub unmap_dialog: Option<UnmapDialog>,
    pub path_dialog: Option<PathDialog>,
    pub pending_discard: Option<PendingDiscard>,
    /// The last file error, shown in a window until dismissed.
    pub file_error: Option<String>,
    pub status: Status,
    pub rename: Option<(usize, String)>,
    pub new_process_name: String,
    pub share_from: usize,
    pub raw_edit: String,
    /// The entry value `raw_edit` was filled from: when memory changes under it (a checkbox, an
    /// undo), the text follows, so Write never puts back an old value.
    pub raw_edit_source: Option<u64>,
    pub show_about: bool,
    pub show_shortcuts: bool,
    /// Two processes side by side (Processes ▸ right-click ▸ Compare with…).
    pub compare: Option<super::compare_view::CompareView>,
    /// The MMU panel's "Why?" for the current access, once worked out.
    pub why: Option<super::why::WhyCache>,
    /// The description's Markdown, laid out once.
    pub markdown: egui_commonmark::CommonMarkCache,
    /// The title and description being typed (kept until the field is left).
    pub description_draft: Option<(String, String)>,
    pub allow_close: bool,
    /// Frame uses for the memory map, rebuilt when the lab changes.
    pub frame_map: Option<super::memmap::FrameMap>,
    /// The native file chooser's answer, when one is open on its thread.
    pub browse: Option<std::sync::mpsc::Receiver<Option<PathBuf>>>,
    /// The frames view (OS model runs).
    pub frames: super::frames_view::FramesView,
    pub exercises: super::exercises::ExerciseUi,
    /// The TLB panel's, trace player's and plots' fields.
    pub tlb: super::tlb_state::TlbUi,
    pub procmaps_dialog: Option<super::procmaps_dialog::ProcMapsDialog>,
    pub dump_dialog: Option<super::dump_dialog::DumpDialog>,
    /// The TLB panel's Sizes section.
    pub sizes: super::sizes::SizesView,
    /// The "Compare formats" tab: the MMU panel's address walked in every comparable format.
    pub formats: super::formats_view::FormatsView,
}

impl UiState {
    pub fn new() -> Self {
        Self { present_only: true, ..Self::default() }
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.status = Status { text: text.into(), error: false };
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.status = Status { text: text.into(), error: true };
    }
}

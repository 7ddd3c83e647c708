//! The app's commands: one list that the menus, the keyboard shortcuts and the Help ▸ Keyboard
//! shortcuts sheet all read, so none of them can drift from the others.

use egui::{Key, KeyboardShortcut, Modifiers};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    NewLab,
    Open,
    Save,
    SaveAs,
    Quit,
    Undo,
    Redo,
    Map,
    Unmap,
    ZoomIn,
    ZoomOut,
    ZoomReset,
    ResetLayout,
    LabDescription,
    Shortcuts,
    About,
}

const CMD: Modifiers = Modifiers::COMMAND;
const SHIFT_CMD: Modifiers = Modifiers { shift: true, ..Modifiers::COMMAND };

impl Command {
    pub const ALL: [Command; 16] = [
        Command::NewLab,
        Command::Open,
        Command::Save,
        Command::SaveAs,
        Command::Quit,
        Command::Undo,
        Command::Redo,
        Command::Map,
        Command::Unmap,
        Command::ZoomIn,
        Command::ZoomOut,
        Command::ZoomReset,
        Command::ResetLayout,
        Command::LabDescription,
        Command::Shortcuts,
        Command::About,
    ];

    /// The menu item's text (and the sheet's name for it).
    pub fn name(self) -> &'static str {
        match self {
            Command::NewLab => "Welcome lab",
            Command::Open => "Open…",
            Command::Save => "Save",
            Command::SaveAs => "Save as…",
            Command::Quit => "Quit",
            Command::Undo => "Undo",
            Command::Redo => "Redo",
            Command::Map => "Map pages…",
            Command::Unmap => "Unmap pages…",
            Command::ZoomIn => "Zoom in",
            Command::ZoomOut => "Zoom out",
            Command::ZoomReset => "Reset zoom",
            Command::ResetLayout => "Reset layout",
            Command::LabDescription => "Lab description",
            Command::Shortcuts => "Keyboard shortcuts",
            Command::About => "About pagelab",
        }
    }

    /// Its keys: the first is the one menus show; the others also work.
    pub fn shortcuts(self) -> &'static [KeyboardShortcut] {
        macro_rules! k {
            ($modifiers:expr, $key:expr) => {
                KeyboardShortcut { modifiers: $modifiers, logical_key: $key }
            };
        }
        match self {
            Command::NewLab => &[k!(CMD, Key::N)],
            Command::Open => &[k!(CMD, Key::O)],
            Command::Save => &[k!(CMD, Key::S)],
            Command::SaveAs => &[k!(SHIFT_CMD, Key::S)],
            Command::Quit => &[k!(CMD, Key::Q)],
            Command::Undo => &[k!(CMD, Key::Z)],
            Command::Redo => &[k!(SHIFT_CMD, Key::Z), k!(CMD, Key::Y)],
            Command::Map => &[k!(CMD, Key::M)],
            Command::ZoomIn => &[k!(CMD, Key::Equals), k!(CMD, Key::Plus)],
            Command::ZoomOut => &[k!(CMD, Key::Minus)],
            Command::ZoomReset => &[k!(CMD, Key::Num0)],
            Command::Shortcuts => &[k!(Modifiers::NONE, Key::F1)],
            Command::Unmap | Command::ResetLayout | Command::LabDescription | Command::About => &[],
        }
    }

    /// The shortcut as the menus print it ("Ctrl+S"), or "".
    pub fn shortcut_text(self, ctx: &egui::Context) -> String {
        self.shortcuts().first().map(|s| ctx.format_shortcut(s)).unwrap_or_default()
    }

    /// The command whose shortcut was pressed this frame, if any (consumed). Shortcuts with more
    /// modifiers are tried first: Ctrl+Shift+Z must not be read as Ctrl+Z.
    pub fn pressed(ctx: &egui::Context) -> Vec<Command> {
        let mut all: Vec<(Command, KeyboardShortcut)> =
            Self::ALL.iter().flat_map(|c| c.shortcuts().iter().map(move |s| (*c, *s))).collect();
        all.sort_by_key(|(_, s)| std::cmp::Reverse(modifier_count(s.modifiers)));
        let mut pressed = Vec::new();
        for (command, shortcut) in all {
            if ctx.input_mut(|i| i.consume_shortcut(&shortcut)) && !pressed.contains(&command) {
                pressed.push(command);
            }
        }
        pressed
    }
}

fn modifier_count(m: Modifiers) -> u8 {
    u8::from(m.alt) + u8::from(m.shift) + u8::from(m.ctrl || m.command || m.mac_cmd)
}

/// A menu item for `command`, with its shortcut beside it; true when clicked.
pub fn item(ui: &mut egui::Ui, command: Command, enabled: bool) -> bool {
    item_named(ui, command, command.name(), enabled)
}

/// A menu item for `command` under another text (e.g. "Undo map 0x1000").
pub fn item_named(ui: &mut egui::Ui, command: Command, text: &str, enabled: bool) -> bool {
    let keys = command.shortcut_text(ui.ctx());
    let button = egui::Button::new(text);
    let button = if keys.is_empty() { button } else { button.shortcut_text(keys) };
    ui.add_enabled(enabled, button).clicked()
}

/// The Help ▸ Keyboard shortcuts sheet: every command that has keys, from the list above.
pub fn shortcuts_sheet_ui(ui: &mut egui::Ui) {
    egui::Grid::new("shortcuts-sheet").striped(true).num_columns(2).show(ui, |ui| {
        for command in Command::ALL {
            let keys: Vec<String> = command.shortcuts().iter().map(|s| ui.ctx().format_shortcut(s)).collect();
            if keys.is_empty() {
                continue;
            }
            ui.label(command.name().trim_end_matches('…'));
            ui.monospace(keys.join("  or  "));
            ui.end_row();
        }
        ui.label("Perform the MMU panel's access");
        ui.monospace("Enter");
        ui.end_row();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_commands_share_a_shortcut() {
        let all: Vec<KeyboardShortcut> =
            Command::ALL.iter().flat_map(|c| c.shortcuts().iter().copied()).collect();
        for (i, a) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(a), "{a:?} is bound twice");
        }
    }
}

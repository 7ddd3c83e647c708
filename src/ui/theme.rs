//! Colours and text sizes in one place, for light and dark themes. Sizes are large enough to
//! read on a projector.

use egui::{Color32, FontId};

/// Colour of level `level` (root = 0) in address strips, walk rows and the memory map.
pub fn level_color(level: usize, dark: bool) -> Color32 {
    const DARK: [Color32; 6] = [
        Color32::from_rgb(0xe0, 0x6c, 0x75),
        Color32::from_rgb(0xe5, 0xa5, 0x4b),
        Color32::from_rgb(0x98, 0xc3, 0x79),
        Color32::from_rgb(0x56, 0xb6, 0xc2),
        Color32::from_rgb(0x61, 0xaf, 0xef),
        Color32::from_rgb(0xc6, 0x78, 0xdd),
    ];
    const LIGHT: [Color32; 6] = [
        Color32::from_rgb(0xb0, 0x30, 0x3c),
        Color32::from_rgb(0xa0, 0x62, 0x00),
        Color32::from_rgb(0x3c, 0x7a, 0x1e),
        Color32::from_rgb(0x0b, 0x75, 0x80),
        Color32::from_rgb(0x1f, 0x5f, 0xbf),
        Color32::from_rgb(0x84, 0x35, 0xa0),
    ];
    let palette = if dark { &DARK } else { &LIGHT };
    palette[level % palette.len()]
}

/// Colour of the page-offset field.
pub fn offset_color(dark: bool) -> Color32 {
    if dark { Color32::from_gray(0xa0) } else { Color32::from_gray(0x60) }
}

pub fn fault_color(dark: bool) -> Color32 {
    if dark { Color32::from_rgb(0xff, 0x6b, 0x6b) } else { Color32::from_rgb(0xc0, 0x10, 0x10) }
}

pub fn ok_color(dark: bool) -> Color32 {
    if dark { Color32::from_rgb(0x7e, 0xd3, 0x7e) } else { Color32::from_rgb(0x1a, 0x7f, 0x1a) }
}

/// Background of rows on the last translation's path.
/// The live preview's path: fainter than a performed walk.
pub fn preview_highlight(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgba_unmultiplied(0x7b, 0xb0, 0xe5, 0x20)
    } else {
        Color32::from_rgba_unmultiplied(0x40, 0x90, 0xff, 0x28)
    }
}

pub fn walk_highlight(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgba_unmultiplied(0xe5, 0xc0, 0x7b, 0x38)
    } else {
        Color32::from_rgba_unmultiplied(0xff, 0xd0, 0x40, 0x70)
    }
}

/// What two compared processes share: the edge on tree rows and memory-map cells.
pub fn shared_color(dark: bool) -> Color32 {
    if dark { Color32::from_rgb(0x5f, 0xd0, 0x8a) } else { Color32::from_rgb(0x1e, 0x8c, 0x4a) }
}

/// The dot on memory-map cells whose frame fork() shares.
pub fn forked_color(dark: bool) -> Color32 {
    if dark { Color32::from_rgb(0xff, 0xe0, 0x80) } else { Color32::from_rgb(0x80, 0x30, 0x00) }
}

/// Memory-map colours: free, allocated but unused, data page.
pub fn free_color(dark: bool) -> Color32 {
    if dark { Color32::from_gray(0x30) } else { Color32::from_gray(0xe4) }
}

pub fn reserved_color(dark: bool) -> Color32 {
    if dark { Color32::from_gray(0x70) } else { Color32::from_gray(0xa8) }
}

pub fn data_color(dark: bool) -> Color32 {
    if dark { Color32::from_rgb(0x3f, 0x6f, 0xb0) } else { Color32::from_rgb(0x8a, 0xb4, 0xf0) }
}

pub fn empty_entry_color(dark: bool) -> Color32 {
    if dark { Color32::from_gray(0x80) } else { Color32::from_gray(0x90) }
}

pub fn mono(size: f32) -> FontId {
    FontId::monospace(size)
}

/// Base text sizes: a bit larger than egui's defaults so a room can read them.
pub fn apply(ctx: &egui::Context, dark: bool) {
    ctx.set_theme(if dark { egui::Theme::Dark } else { egui::Theme::Light });
    ctx.all_styles_mut(|style| {
        use egui::TextStyle;
        style.text_styles.insert(TextStyle::Body, FontId::proportional(15.0));
        style.text_styles.insert(TextStyle::Button, FontId::proportional(15.0));
        style.text_styles.insert(TextStyle::Monospace, FontId::monospace(14.0));
        style.text_styles.insert(TextStyle::Heading, FontId::proportional(19.0));
        style.text_styles.insert(TextStyle::Small, FontId::proportional(12.0));
        style.spacing.item_spacing = egui::vec2(8.0, 4.0);
    });
}

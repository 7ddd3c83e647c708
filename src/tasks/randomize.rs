//! What a variant template declares (`pagelab generate`): the pages that move and the frames
//! drawn at random per student, stored in the lab's exercises. The generator that reads it is
//! `exercise::generate`.

use crate::sim::{Pfn, VirtAddr};
use serde::{Deserialize, Serialize};

/// What a template varies per student.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Randomize {
    /// Pages (mapped or not) that move to a random virtual address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<PageSlot>,
    /// Frame numbers used by tasks (e.g. "map X to frame F") that are drawn among free frames.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<FrameSlot>,
}

impl Randomize {
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty() && self.frames.is_empty()
    }
}

fn yes() -> bool {
    true
}

/// A page of the template that moves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageSlot {
    /// Process name (or number).
    pub process: String,
    /// Any address in the page. An unmapped page moves to another unmapped address.
    pub va: VirtAddr,
    /// The new page starts in `[within[0], within[1])`.
    pub within: [VirtAddr; 2],
    /// A mapped page also moves to random free frames (its bytes move along).
    #[serde(default = "yes")]
    pub move_frame: bool,
    /// Task addresses inside the page get a random offset, not their template offset.
    #[serde(default)]
    pub random_offset: bool,
}

/// A frame number that tasks use and that is drawn at random among free frames.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FrameSlot {
    pub frame: Pfn,
    /// Draw among frames in `[within[0], within[1])`; default all of memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<[Pfn; 2]>,
}

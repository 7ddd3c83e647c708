//! The OS model's settings, saved in a lab: who answers page faults, how many frames user pages
//! may use, and which page goes when none is free.

use super::super::replace::Policy;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Most user frames a lab may give the OS model (a sweep of the fault curve runs once per count).
pub const MAX_FRAMES: u32 = 4096;

/// Who answers a page fault.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OsModel {
    /// Faults are reported and left alone: the student repairs the tables.
    #[default]
    Manual,
    /// Demand paging: a not-present fault loads the page into a frame (evicting one if need
    /// be) and the access is retried.
    Demand,
}

impl OsModel {
    pub const ALL: [OsModel; 2] = [OsModel::Manual, OsModel::Demand];

    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            OsModel::Manual => "Manual (faults are reported)",
            OsModel::Demand => "Demand paging",
        }
    }

    #[must_use]
    pub const fn key(self) -> &'static str {
        match self {
            OsModel::Manual => "manual",
            OsModel::Demand => "demand",
        }
    }
}

/// The OS model of a lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OsSettings {
    pub model: OsModel,
    /// Frames the fault handler may hold user pages in (tables come from the rest of memory).
    pub frames: u32,
    /// Which resident page is evicted when every frame is taken.
    pub policy: Policy,
    /// Seed of the random policy: the same seed evicts the same pages.
    pub seed: u64,
}

impl Default for OsSettings {
    fn default() -> Self {
        Self { model: OsModel::Manual, frames: 4, policy: Policy::Clock, seed: 0 }
    }
}

/// Settings that cannot run.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("the OS model needs between 1 and {MAX_FRAMES} frames, not {0}")]
    Frames(u32),
}

impl OsSettings {
    /// Demand paging with `frames` frames and `policy`.
    #[must_use]
    pub fn demand(frames: u32, policy: Policy) -> Self {
        Self { model: OsModel::Demand, frames, policy, seed: 0 }
    }

    /// Whether these are the defaults (a lab file then leaves them out).
    #[must_use]
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Checks the frame count.
    ///
    /// # Errors
    /// [`SettingsError::Frames`] when it is 0 or above [`MAX_FRAMES`].
    pub fn validate(&self) -> Result<(), SettingsError> {
        if (1..=MAX_FRAMES).contains(&self.frames) { Ok(()) } else { Err(SettingsError::Frames(self.frames)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_kebab_keys_and_defaults_fill_gaps() -> Result<(), serde_json::Error> {
        let settings: OsSettings =
            serde_json::from_str(r#"{"model": "demand", "policy": "enhanced-clock"}"#)?;
        assert_eq!(settings.model, OsModel::Demand);
        assert_eq!(settings.policy, Policy::EnhancedClock);
        assert_eq!(settings.frames, OsSettings::default().frames);
        assert!(serde_json::from_str::<OsSettings>(r#"{"frame": 3}"#).is_err());
        Ok(())
    }

    #[test]
    fn frame_counts_are_bounded() {
        assert!(OsSettings::demand(0, Policy::Fifo).validate().is_err());
        assert!(OsSettings::demand(MAX_FRAMES + 1, Policy::Fifo).validate().is_err());
        assert!(OsSettings::demand(3, Policy::Fifo).validate().is_ok());
    }
}

//! The replacement policies and their names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A page-replacement policy.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Evict the page that came in first.
    Fifo,
    /// Evict the page whose last use lies furthest back.
    Lru,
    /// Belady's optimal policy: evict the page whose next use lies furthest ahead.
    Opt,
    /// Second chance: a hand sweeps the frames, clearing use bits, and takes the first clear one.
    Clock,
    /// Clock over (use, dirty) classes: prefers unused clean pages, so fewer write-backs.
    EnhancedClock,
    /// A seeded pseudo-random victim; the same seed replays the same run.
    Random,
}

impl Policy {
    /// Every policy, in the order a menu lists them.
    pub const ALL: [Policy; 6] =
        [Policy::Fifo, Policy::Lru, Policy::Opt, Policy::Clock, Policy::EnhancedClock, Policy::Random];

    /// A short human-readable name.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Policy::Fifo => "FIFO",
            Policy::Lru => "LRU",
            Policy::Opt => "OPT",
            Policy::Clock => "Clock",
            Policy::EnhancedClock => "Enhanced clock",
            Policy::Random => "Random",
        }
    }

    /// The name used on the command line and in JSON.
    #[must_use]
    pub const fn key(self) -> &'static str {
        match self {
            Policy::Fifo => "fifo",
            Policy::Lru => "lru",
            Policy::Opt => "opt",
            Policy::Clock => "clock",
            Policy::EnhancedClock => "enhanced-clock",
            Policy::Random => "random",
        }
    }

    /// Whether the policy keeps pages in fixed slots swept by a hand (and so reports one).
    #[must_use]
    pub const fn has_hand(self) -> bool {
        matches!(self, Policy::Clock | Policy::EnhancedClock)
    }

    /// Whether the policy looks at future references (only OPT can, and only offline).
    #[must_use]
    pub const fn needs_future(self) -> bool {
        matches!(self, Policy::Opt)
    }

    /// What the order of [`crate::sim::replace::Replacer::frames`] means for this policy.
    #[must_use]
    pub const fn frame_order(self) -> &'static str {
        match self {
            Policy::Fifo => "oldest first",
            Policy::Lru => "least recently used first",
            Policy::Opt | Policy::Random => "in load order",
            Policy::Clock | Policy::EnhancedClock => "by slot",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A policy name that matches none of the policies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown replacement policy `{name}` (expected fifo, lru, opt, clock, enhanced-clock or random)")]
pub struct ParsePolicyError {
    /// The name as given.
    pub name: String,
}

impl FromStr for Policy {
    type Err = ParsePolicyError;

    /// Accepts the [`Policy::key`] names in any case plus the usual aliases.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let policy = match name.trim().to_ascii_lowercase().as_str() {
            "fifo" => Policy::Fifo,
            "lru" => Policy::Lru,
            "opt" | "optimal" | "min" | "belady" => Policy::Opt,
            "clock" | "second-chance" => Policy::Clock,
            "enhanced-clock" | "eclock" | "enhanced_clock" => Policy::EnhancedClock,
            "random" | "rand" => Policy::Random,
            _ => {
                return Err(ParsePolicyError { name: name.to_owned() });
            }
        };
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_from_str() {
        for policy in Policy::ALL {
            assert_eq!(policy.key().parse::<Policy>(), Ok(policy));
        }
    }

    #[test]
    fn aliases_and_case_are_accepted() {
        assert_eq!("OPT".parse::<Policy>(), Ok(Policy::Opt));
        assert_eq!("Rand".parse::<Policy>(), Ok(Policy::Random));
        assert_eq!("eclock".parse::<Policy>(), Ok(Policy::EnhancedClock));
    }

    #[test]
    fn unknown_name_is_reported() {
        let error = "mru".parse::<Policy>().err();
        assert_eq!(error, Some(ParsePolicyError { name: "mru".to_owned() }));
    }

    #[test]
    fn serde_uses_the_cli_keys() -> Result<(), serde_json::Error> {
        for policy in Policy::ALL {
            assert_eq!(serde_json::to_string(&policy)?, format!("\"{}\"", policy.key()));
        }
        Ok(())
    }
}

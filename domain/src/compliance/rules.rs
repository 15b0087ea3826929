//! `[compliance]`: the CONTU rule-of-five policy, and how long personal data is kept.
//!
//! Only the shape and defaults live here; what the numbers mean is decided in
//! the other modules of `compliance`.

use serde::{Deserialize, Serialize};

/// What happens to a copy beyond the yearly limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContuPolicy {
    /// Count, report, never intervene.
    Off,
    /// Deliver, and record a `compliance.warning` audit event.
    Warn,
    /// Record the delivery as held; nobody can download it until an officer releases it.
    Hold,
}

impl ContuPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Warn => "warn",
            Self::Hold => "hold",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplianceConfig {
    pub policy: ContuPolicy,
    pub copies_per_year: u32,
    pub publication_window_years: u32,
    pub retain_years: u32,
    pub pseudonymise_after_days: u32,
    pub similar_title_distance: u32,
    /// Whether copies asserted under CCL (conforms to copyright law) count toward
    /// `copies_per_year` as CCG copies do. Off by default: see `Work::counts`.
    pub count_ccl: bool,
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        Self {
            policy: ContuPolicy::Hold,
            copies_per_year: 5,
            publication_window_years: 5,
            retain_years: 3,
            pseudonymise_after_days: 90,
            similar_title_distance: 2,
            count_ccl: false,
        }
    }
}

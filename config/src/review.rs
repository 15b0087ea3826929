//! `[review]`: what each page finding does to a scan. `hold` keeps it for a person, `note`
//! records it with the job and lets the scan go out, `ignore` drops it. A hold must mean a
//! person is needed, so the defaults hold what a person has to look at (a blank page nobody
//! asked to remove, unreadable text, too low a resolution, a skew that could not be measured)
//! and only note what Quire put right itself (a large skew it measured and corrected, an
//! assumed resolution, a replaced text layer).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewAction {
    Hold,
    Note,
    Ignore,
}

/// Every finding code, with its default action and what it means (config/quire.toml says the
/// same).
pub const FINDINGS: &[(&str, ReviewAction, &str)] = &[
    ("quality.too_dark", ReviewAction::Hold, "the paper is dark"),
    (
        "quality.low_contrast",
        ReviewAction::Hold,
        "ink and paper are too close",
    ),
    (
        "quality.tiny_dpi",
        ReviewAction::Hold,
        "resolution below 150 dpi",
    ),
    (
        "quality.low_ocr_confidence",
        ReviewAction::Hold,
        "the text could not be read with confidence",
    ),
    (
        "quality.too_skewed",
        ReviewAction::Note,
        "a large skew, measured and corrected",
    ),
    (
        "quality.skew_uncertain",
        ReviewAction::Hold,
        "the skew could not be measured",
    ),
    (
        "page.dpi_assumed",
        ReviewAction::Note,
        "the file named no resolution; 300 dpi assumed",
    ),
    (
        "page.text_layer_replaced",
        ReviewAction::Note,
        "a PDF's own text layer was replaced",
    ),
    (
        "page.blank",
        ReviewAction::Hold,
        "a blank page that [processing] remove_blank did not remove",
    ),
    (
        "scan.blank",
        ReviewAction::Hold,
        "every page of the scan is blank",
    ),
];

/// Overrides of the defaults, by finding code: `"quality.too_skewed" = "hold"`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReviewConfig(pub BTreeMap<String, ReviewAction>);

impl ReviewConfig {
    /// What `code` does: the override, else the default; an unknown code holds (a finding
    /// Quire does not know is one a person should see).
    pub fn action(&self, code: &str) -> ReviewAction {
        self.0.get(code).copied().unwrap_or_else(|| {
            FINDINGS
                .iter()
                .find(|(c, _, _)| *c == code)
                .map(|(_, a, _)| *a)
                .unwrap_or(ReviewAction::Hold)
        })
    }
}

pub(crate) fn validate(c: &ReviewConfig, errors: &mut Vec<String>) {
    for code in c.0.keys() {
        if !FINDINGS.iter().any(|(known, _, _)| known == code) {
            errors.push(format!(
                "[review] `{code}`: not a finding code (one of {})",
                FINDINGS
                    .iter()
                    .map(|(c, _, _)| *c)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
}

//! `[processing]`: how pages are turned into a searchable PDF (see `config/quire.toml`).
//! Maps onto `quire_pipeline::ProcessOptions`; command-line flags override these per run.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessingConfig {
    pub languages: String,
    pub jobs: usize,
    pub deskew: bool,
    pub orientation: bool,
    pub orientation_min_confidence: f32,
    pub remove_blank: bool,
    pub max_megapixels: u32,
    pub max_memory_mb: u64,
    pub fallback_dpi: f32,
    pub jpeg_quality: u8,
    pub tessdata_dir: Option<PathBuf>,
    pub find_tables: bool,
    /// "pdf" or "pdfa" (PDF/A-2b).
    pub output_type: quire_pipeline::OutputType,
}

impl Default for ProcessingConfig {
    fn default() -> Self {
        let o = quire_pipeline::ProcessOptions::default();
        Self {
            languages: o.languages,
            jobs: o.jobs,
            deskew: o.deskew,
            orientation: o.orientation,
            orientation_min_confidence: o.orientation_min_confidence,
            remove_blank: o.remove_blank,
            max_megapixels: o.max_megapixels,
            max_memory_mb: o.max_memory_mb,
            fallback_dpi: o.fallback_dpi,
            jpeg_quality: o.jpeg_quality,
            tessdata_dir: o.tessdata_dir,
            find_tables: o.find_tables,
            output_type: o.output_type,
        }
    }
}

/// The smallest memory budget accepted: below it not even a letter-size 300-dpi colour page
/// (8.4 megapixels) fits, and every scan would be refused.
pub const MIN_MEMORY_MB: u64 = 64;

impl ProcessingConfig {
    /// Errors in `[processing]`, each naming its key, for `quire config check`.
    pub fn validate(&self, errors: &mut Vec<String>) {
        if self.max_memory_mb < MIN_MEMORY_MB {
            errors.push(format!(
                "[processing] max_memory_mb: {} MiB is below the minimum of {MIN_MEMORY_MB}",
                self.max_memory_mb
            ));
        }
    }

    pub fn to_options(&self) -> quire_pipeline::ProcessOptions {
        quire_pipeline::ProcessOptions {
            languages: self.languages.clone(),
            tessdata_dir: self.tessdata_dir.clone(),
            jobs: self.jobs,
            deskew: self.deskew,
            remove_blank: self.remove_blank,
            orientation: self.orientation,
            orientation_min_confidence: self.orientation_min_confidence,
            max_megapixels: self.max_megapixels,
            max_memory_mb: self.max_memory_mb,
            fallback_dpi: self.fallback_dpi,
            jpeg_quality: self.jpeg_quality,
            title: None,
            barcodes: false,
            find_tables: self.find_tables,
            output_type: self.output_type,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_budget_below_the_minimum_is_reported_by_key() {
        let mut errors = Vec::new();
        ProcessingConfig::default().validate(&mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let small = ProcessingConfig {
            max_memory_mb: 10,
            ..ProcessingConfig::default()
        };
        small.validate(&mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("[processing] max_memory_mb") && errors[0].contains("64"),
            "{}",
            errors[0]
        );
        assert_eq!(small.to_options().max_memory_mb, 10);
    }
}

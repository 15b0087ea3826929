//! The per-page quality report: what was found and done on each page, for `--report` JSON and
//! for the daemon, which holds pages with warnings for review and compares printed page numbers
//! with the pages a request asked for.

use std::path::PathBuf;

use serde::Serialize;

use crate::imaging::quality::QualityWarning;
use crate::pdf::ImageEncoding;

/// One warning on a page: a stable code and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    pub code: String,
    pub message: String,
}

impl From<&QualityWarning> for Warning {
    fn from(w: &QualityWarning) -> Self {
        Warning {
            code: w.code().into(),
            message: w.message(),
        }
    }
}

impl Warning {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Warning {
            code: code.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SkewReport {
    /// Measured skew in degrees, counter-clockwise positive.
    pub angle_deg: f32,
    /// 0 (no idea) to 1 (clean text page).
    pub confidence: f32,
    /// Whether the page was rotated to correct it.
    pub corrected: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PageTimings {
    pub decode_ms: f64,
    /// Orientation detection: tesseract OSD.
    pub orientation_ms: f64,
    pub deskew_ms: f64,
    pub analysis_ms: f64,
    /// Recognition: tesseract LSTM.
    pub ocr_ms: f64,
    pub encode_ms: f64,
}

impl PageTimings {
    pub fn tesseract_ms(&self) -> f64 {
        self.orientation_ms + self.ocr_ms
    }

    pub fn other_ms(&self) -> f64 {
        self.decode_ms + self.deskew_ms + self.analysis_ms + self.encode_ms
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PageReport {
    pub source_file: PathBuf,
    /// 1-based page within the source file.
    pub source_page: usize,
    /// 1-based page in the output; `None` when the page was removed as blank.
    pub output_page: Option<usize>,
    pub width_px: u32,
    pub height_px: u32,
    pub dpi_x: f32,
    pub dpi_y: f32,
    /// The file stated no resolution and the fallback was used.
    pub dpi_assumed: bool,
    /// Quarter turns applied to make the page upright, degrees clockwise (0, 90, 180, 270).
    pub rotation_applied: u32,
    /// Tesseract OSD confidence, when orientation was detected.
    pub orientation_confidence: Option<f32>,
    /// `None` for blank pages, where there is nothing to measure.
    pub skew: Option<SkewReport>,
    /// Mean word confidence 0–100; `None` without words.
    pub mean_ocr_confidence: Option<f32>,
    pub word_count: usize,
    pub blank: bool,
    pub ink_fraction: f32,
    /// The page carried a text layer before; it was replaced by new OCR.
    pub replaced_text_layer: bool,
    /// A page number printed in the top or bottom margin, as read.
    pub printed_page_number: Option<String>,
    pub image_encoding: ImageEncoding,
    /// Bytes this page takes in the output PDF (image, text layer, page object).
    pub bytes: u64,
    pub warnings: Vec<Warning>,
    /// The OCR text, lines separated by newlines.
    pub text: String,
    /// Perceptual hash of the processed page, for near-duplicate search
    /// ([`crate::similarity::perceptual_hash`]).
    pub fingerprint_phash: Vec<u8>,
    /// A barcode read on the page, when barcodes were looked for.
    pub barcode: Option<BarcodeFinding>,
    pub timings: PageTimings,
}

/// A barcode on a page, and what it makes the page.
#[derive(Debug, Clone, Serialize)]
pub struct BarcodeFinding {
    pub text: String,
    pub symbology: String,
    /// Share of the page inked outside the barcode (0–1).
    pub ink_outside: f32,
    /// `content`, `separator` (PATCH-T) or `request` (a cover or separator sheet naming a
    /// request). Sheets are left out of the output.
    pub sheet: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub producer: String,
    pub output: PathBuf,
    pub output_bytes: u64,
    pub sha256: String,
    pub languages: String,
    pub pages_in: usize,
    pub pages_out: usize,
    pub blank_pages_removed: usize,
    /// Cover and separator sheets recognised by their barcode and left out.
    pub barcode_sheets_removed: usize,
    /// Tesseract OCR engines started for this run: at most one per worker, and none when the
    /// processor's workers already had theirs from an earlier run.
    pub ocr_engines_started: usize,
    pub wall_seconds: f64,
    /// Summed over pages and threads: time inside tesseract (OSD and OCR) ...
    pub tesseract_seconds: f64,
    /// ... and time in everything else page-level (decode, deskew, checks, encoding).
    pub other_seconds: f64,
    pub pages: Vec<PageReport>,
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report holds only serialisable values")
    }

    /// Write the JSON report to `path`, all or nothing (temporary file, then rename).
    pub fn write_json(&self, path: &std::path::Path) -> std::io::Result<()> {
        use std::io::Write;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut temp = tempfile::Builder::new()
            .prefix(".quire-")
            .suffix(".json.part")
            .tempfile_in(dir)?;
        temp.write_all(self.to_json().as_bytes())?;
        temp.as_file().sync_all()?;
        temp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

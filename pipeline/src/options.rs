//! What a caller can ask of one processing run. Defaults match `[processing]` in
//! `config/quire.toml`; the binary maps its config onto this struct.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct ProcessOptions {
    /// Tesseract languages, `+`-joined (`eng+fra`).
    pub languages: String,
    /// Where traineddata lives; `None` lets tesseract use its built-in default.
    pub tessdata_dir: Option<PathBuf>,
    /// Worker threads, one OCR engine each. 0 means one per core.
    pub jobs: usize,
    /// Straighten skewed pages. Skew is measured and reported either way; the thresholds for
    /// acting on it (angle, confidence) belong to `imaging::deskew`.
    pub deskew: bool,
    /// Drop pages found blank instead of only flagging them.
    pub remove_blank: bool,
    /// Turn pages upright with tesseract OSD.
    pub orientation: bool,
    /// OSD confidence below which a detected rotation is not applied.
    pub orientation_min_confidence: f32,
    /// Decompression-bomb guard, checked from headers before anything is allocated.
    pub max_megapixels: u32,
    /// Memory, in MiB, the pages being processed at once may take together, as estimated from
    /// their headers (`input::estimated_peak_mb`). A page whose estimate alone is larger is
    /// refused; otherwise pages wait until enough of the budget is free.
    pub max_memory_mb: u64,
    /// Used when a file states no resolution.
    pub fallback_dpi: f32,
    /// JPEG quality (1–100) for grey and colour pages that are re-encoded. 75 is OCRmyPDF's
    /// (and libjpeg's) default, with the same quantisation tables, so pages match its quality;
    /// BENCHMARKS.md ("issue 19: file size") shows no visible loss at 150 dpi.
    pub jpeg_quality: u8,
    /// Title in the PDF metadata; the first input's file stem when `None`.
    pub title: Option<String>,
    /// Read barcodes (request cover sheets, PATCH-T separators) and leave such sheets out of
    /// the output. Costs tens of milliseconds a page, so the one-shot command leaves it off.
    pub barcodes: bool,
    /// Let tesseract look for tables during layout analysis. Off by default: it costs 5–10 % of
    /// OCR time, and the text layer places each word by its own box either way (only the
    /// reading order of copied table text can differ).
    pub find_tables: bool,
    /// Plain PDF or PDF/A-2b ([`crate::pdf::pdfa`]).
    pub output_type: crate::OutputType,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        Self {
            languages: "eng".into(),
            tessdata_dir: None,
            jobs: 0,
            deskew: true,
            remove_blank: false,
            orientation: true,
            orientation_min_confidence: 2.0,
            max_megapixels: 250,
            max_memory_mb: 2048,
            fallback_dpi: 300.0,
            jpeg_quality: 75,
            title: None,
            barcodes: false,
            find_tables: false,
            output_type: crate::OutputType::default(),
        }
    }
}

impl ProcessOptions {
    pub fn worker_count(&self) -> usize {
        if self.jobs > 0 {
            self.jobs
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }
}

//! Image quality checks on a page, and the warnings that the per-page quality report carries.
//!
//! `checks` looks only at pixels and resolution (too dark, too little contrast, too low a DPI).
//! Low OCR confidence and excessive skew are decided by the caller from OCR and deskew results;
//! the thresholds and constructors for those live here too so every warning has one home.

use image::GrayImage;
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// Below this resolution tesseract loses accuracy fast; 300 dpi is the norm for OCR.
pub const MIN_DPI: f32 = 150.0;
/// A page whose paper (its bright 90th percentile) is darker than this is too dark to trust.
pub const MIN_PAPER_LUMA: u8 = 150;
/// Paper (90th percentile) and ink (darkest 0.5%) closer than this read as a washed-out scan.
pub const MIN_CONTRAST: u8 = 60;
/// Paper and ink closer than this mean there is no ink at all: not a contrast problem.
const FAINT_INK: u8 = 20;
/// Mean word confidence (0–100) below which a page should be reviewed by a person.
pub const MIN_MEAN_OCR_CONFIDENCE: f32 = 70.0;
/// Residual skew (degrees) above which a page is reported as too skewed to be a good scan,
/// whether or not it was corrected: a page this far off often has clipped or distorted text.
pub const MAX_SKEW_DEG: f32 = 5.0;

/// One thing wrong with a page. Serialises as `{"code": …, "message": …, …values}`; the codes
/// are stable and meant for machines (the daemon holds pages for review on them).
#[derive(Debug, Clone, PartialEq)]
pub enum QualityWarning {
    /// The paper itself is dark: bad exposure, a coloured sheet or a photo of a page.
    TooDark { paper_luma: u8 },
    /// Ink and paper are too close in brightness.
    LowContrast { contrast: u8 },
    /// The resolution is too low for reliable OCR.
    TinyDpi { dpi: f32 },
    /// The OCR engine was unsure of what it read.
    LowOcrConfidence { mean_confidence: f32 },
    /// The page was scanned far off straight.
    TooSkewed { angle_deg: f32 },
    /// Skew could not be measured with confidence, so the page was left as it was.
    SkewUncertain { confidence: f32 },
}

impl QualityWarning {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooDark { .. } => "quality.too_dark",
            Self::LowContrast { .. } => "quality.low_contrast",
            Self::TinyDpi { .. } => "quality.tiny_dpi",
            Self::LowOcrConfidence { .. } => "quality.low_ocr_confidence",
            Self::TooSkewed { .. } => "quality.too_skewed",
            Self::SkewUncertain { .. } => "quality.skew_uncertain",
        }
    }

    /// A sentence for a person reviewing the page.
    pub fn message(&self) -> String {
        match self {
            Self::TooDark { paper_luma } => format!(
                "page is too dark: paper brightness {paper_luma}/255, expected at least {MIN_PAPER_LUMA}"
            ),
            Self::LowContrast { contrast } => format!(
                "page has low contrast: {contrast}/255 between ink and paper, expected at least {MIN_CONTRAST}"
            ),
            Self::TinyDpi { dpi } => {
                format!("resolution is {dpi:.0} dpi, below the {MIN_DPI:.0} dpi OCR needs")
            }
            Self::LowOcrConfidence { mean_confidence } => format!(
                "mean OCR confidence {mean_confidence:.0}% is below {MIN_MEAN_OCR_CONFIDENCE:.0}%"
            ),
            Self::TooSkewed { angle_deg } => {
                format!("page was skewed {angle_deg:.2}°, more than {MAX_SKEW_DEG:.0}°")
            }
            Self::SkewUncertain { confidence } => {
                format!(
                    "skew could not be measured reliably (confidence {confidence:.2}); page left unrotated"
                )
            }
        }
    }

    /// The warning for a page's mean OCR confidence (0–100), if it is too low. A page without
    /// words (`None`) gets no warning here: blank detection speaks for it.
    pub fn for_ocr_confidence(mean_confidence: Option<f32>) -> Option<Self> {
        mean_confidence
            .filter(|&c| c < MIN_MEAN_OCR_CONFIDENCE)
            .map(|mean_confidence| Self::LowOcrConfidence { mean_confidence })
    }

    /// The warning for a measured skew angle, if it is too large.
    pub fn for_skew(angle_deg: f32) -> Option<Self> {
        (angle_deg.abs() > MAX_SKEW_DEG).then_some(Self::TooSkewed { angle_deg })
    }
}

impl Serialize for QualityWarning {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("QualityWarning", 3)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("message", &self.message())?;
        match *self {
            Self::TooDark { paper_luma } => s.serialize_field("paper_luma", &paper_luma)?,
            Self::LowContrast { contrast } => s.serialize_field("contrast", &contrast)?,
            Self::TinyDpi { dpi } => s.serialize_field("dpi", &dpi)?,
            Self::LowOcrConfidence { mean_confidence } => {
                s.serialize_field("mean_confidence", &mean_confidence)?
            }
            Self::TooSkewed { angle_deg } => s.serialize_field("angle_deg", &angle_deg)?,
            Self::SkewUncertain { confidence } => s.serialize_field("confidence", &confidence)?,
        }
        s.end()
    }
}

/// Pixel and resolution checks of a page. Returns the warnings found, none for a good scan.
pub fn checks(page: &GrayImage, dpi: f32) -> Vec<QualityWarning> {
    let mut warnings = Vec::new();
    if dpi < MIN_DPI {
        warnings.push(QualityWarning::TinyDpi { dpi });
    }
    let histogram = histogram(page);
    let total: u64 = histogram.iter().sum();
    if total == 0 {
        return warnings;
    }
    let paper = percentile(&histogram, total, 0.90);
    // Text covers a few percent of a page, so the darkest half percent is ink when there is any.
    let ink = percentile(&histogram, total, 0.005);
    if paper < MIN_PAPER_LUMA {
        warnings.push(QualityWarning::TooDark { paper_luma: paper });
    }
    let contrast = paper.saturating_sub(ink);
    // Below FAINT_INK there is no ink at all (a blank page, which blank detection reports);
    // between it and MIN_CONTRAST there is ink, but faint.
    if (FAINT_INK..MIN_CONTRAST).contains(&contrast) {
        warnings.push(QualityWarning::LowContrast { contrast });
    }
    warnings
}

/// Luma histogram, sampling every other pixel of every other row: exact counts are not needed
/// and this keeps a 300-dpi page around a millisecond.
fn histogram(page: &GrayImage) -> [u64; 256] {
    let mut h = [0u64; 256];
    let w = page.width() as usize;
    if w == 0 {
        return h;
    }
    for row in page.as_raw().chunks_exact(w).step_by(2) {
        for &p in row.iter().step_by(2) {
            h[p as usize] += 1;
        }
    }
    h
}

fn percentile(histogram: &[u64; 256], total: u64, q: f64) -> u8 {
    let target = (total as f64 * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (v, &n) in histogram.iter().enumerate() {
        seen += n;
        if seen >= target {
            return v as u8;
        }
    }
    255
}

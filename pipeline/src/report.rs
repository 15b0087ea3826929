//! The per-page quality report: what was found and done on each page, for `--report` JSON and
//! for the daemon, which holds pages with warnings for review and compares printed page numbers
//! with the pages a request asked for.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::PipelineError;

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
    #[serde(serialize_with = "lossy_path")]
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
    #[serde(serialize_with = "lossy_path")]
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

/// A path as text for people and JSON. A file name may be any bytes the file system allows (a
/// scanner share written from another system, a name cut mid-character), and serde refuses a
/// path that is not UTF-8; the report shows such a name with U+FFFD in place of the bad bytes,
/// while the file itself keeps its real name.
fn lossy_path<S: serde::Serializer>(path: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

impl Report {
    pub fn to_json(&self) -> String {
        // Paths go out lossily (`lossy_path`) and maps have string keys, so nothing in a report
        // can fail to serialise.
        serde_json::to_string_pretty(self).expect("the report holds only serialisable values")
    }

    /// Write the JSON report to `path`, all or nothing (temporary file, then rename).
    pub fn write_json(&self, path: &Path) -> crate::error::Result<()> {
        write_output(path, ".json.part", self.to_json().as_bytes())
    }

    /// The OCR text of the pages in the PDF, in its order, one form feed (U+000C) between pages:
    /// OCRmyPDF's `--sidecar` format, which `pdftotext` also writes. A blank page kept in the PDF
    /// keeps its (empty) place; removed pages and barcode sheets have none.
    pub fn sidecar_text(&self) -> String {
        let mut pages: Vec<&PageReport> = self
            .pages
            .iter()
            .filter(|p| p.output_page.is_some())
            .collect();
        pages.sort_by_key(|p| p.output_page);
        pages
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("\u{c}")
    }

    /// Write [`Report::sidecar_text`] to `path`, all or nothing.
    pub fn write_sidecar(&self, path: &Path) -> crate::error::Result<()> {
        write_output(path, ".txt.part", self.sidecar_text().as_bytes())
    }
}

/// Write one output file all or nothing: a temporary file beside it, then a rename.
fn write_output(path: &Path, suffix: &str, bytes: &[u8]) -> crate::error::Result<()> {
    use std::io::Write;
    let write_err = |source: std::io::Error| PipelineError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = output_folder(path)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".quire-")
        .suffix(suffix)
        .permissions(output_permissions())
        .tempfile_in(dir)
        .map_err(|e| write_err(without_temp_path(e)))?;
    temp.write_all(bytes).map_err(write_err)?;
    temp.as_file().sync_all().map_err(write_err)?;
    temp.persist(path).map_err(|e| write_err(e.error))?;
    Ok(())
}

/// The folder an output file goes into, checked: a missing folder is reported as that folder,
/// not as the temporary file that could not be created in it. Callers may check every output
/// before a long run, so that it fails at once rather than after the work.
pub fn output_folder(path: &Path) -> crate::error::Result<PathBuf> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let problem = match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => return Ok(dir),
        Ok(_) => "is not a folder".to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            "is not a folder (a file is in its path)".to_owned()
        }
        Err(e) => format!("cannot be reached: {e}"),
    };
    Err(PipelineError::OutputFolder {
        path: path.to_owned(),
        dir,
        problem,
    })
}

/// tempfile names the temporary file in its errors (`... at path "/x/.quire-1a2b.pdf.part"`);
/// the person asked for another file, so only the cause is kept.
pub(crate) fn without_temp_path(e: std::io::Error) -> std::io::Error {
    let os_error = e.raw_os_error().or_else(|| {
        e.get_ref()
            .and_then(|wrapped| wrapped.source())
            .and_then(|cause| cause.downcast_ref::<std::io::Error>())
            .and_then(std::io::Error::raw_os_error)
    });
    match os_error {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => std::io::Error::from(e.kind()),
    }
}

/// The mode an output file is created with: 0666 less the process's umask, as any tool's
/// output (tempfile passes it to open(2), which applies the umask). A temporary file would
/// otherwise keep its private 0600 after the rename. Where outputs must stay private (the
/// daemon's spool), the folder they are written into is.
pub(crate) fn output_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o666)
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    #[test]
    fn a_report_on_a_file_whose_name_is_not_utf8_serialises() {
        let name = std::ffi::OsStr::from_bytes(b"IN8_\xff\xfe.png");
        let dir = tempfile::tempdir().unwrap();
        let report = Report {
            producer: "test".into(),
            output: dir.path().join(name).with_extension("pdf"),
            output_bytes: 0,
            sha256: String::new(),
            languages: "eng".into(),
            pages_in: 1,
            pages_out: 1,
            blank_pages_removed: 0,
            barcode_sheets_removed: 0,
            ocr_engines_started: 0,
            wall_seconds: 0.0,
            tesseract_seconds: 0.0,
            other_seconds: 0.0,
            pages: vec![PageReport {
                source_file: dir.path().join(name),
                source_page: 1,
                output_page: Some(1),
                width_px: 1,
                height_px: 1,
                dpi_x: 300.0,
                dpi_y: 300.0,
                dpi_assumed: false,
                rotation_applied: 0,
                orientation_confidence: None,
                skew: None,
                mean_ocr_confidence: None,
                word_count: 0,
                blank: true,
                ink_fraction: 0.0,
                replaced_text_layer: false,
                printed_page_number: None,
                image_encoding: ImageEncoding::Jpeg,
                bytes: 0,
                warnings: vec![],
                text: String::new(),
                fingerprint_phash: vec![],
                barcode: None,
                timings: PageTimings::default(),
            }],
        };
        let path = dir.path().join("report.json");
        report.write_json(&path).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let shown = json["pages"][0]["source_file"].as_str().unwrap();
        assert!(shown.ends_with("IN8_\u{fffd}\u{fffd}.png"), "{shown}");
        assert!(json["output"].as_str().unwrap().ends_with(".pdf"));
    }
}

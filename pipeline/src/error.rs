//! The one error type of the pipeline crate, with stable codes.
//!
//! Every decoding error names the file and, where it applies, the page (1-based) and the reason,
//! because an operator has to find the bad scan among many. This file defines errors only; it
//! does not decide what to do about them.

use std::fmt;
use std::path::PathBuf;

/// Where in the input an error happened: a file and, when known, a 1-based page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub page: Option<usize>,
}

impl Location {
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Self {
            file: file.into(),
            page: None,
        }
    }

    pub fn page(file: impl Into<PathBuf>, page: usize) -> Self {
        Self {
            file: file.into(),
            page: Some(page),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.page {
            Some(page) => write!(f, "{}, page {page}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("no input files given")]
    NoInput,
    #[error("{at}: cannot read: {source}")]
    Read {
        at: Location,
        source: std::io::Error,
    },
    #[error("{at}: unsupported input: {reason}")]
    Unsupported { at: Location, reason: String },
    #[error("{at}: the PDF is encrypted; decrypt it first (for example `qpdf --decrypt`)")]
    Encrypted { at: Location },
    #[error("{at}: the file is truncated: {reason}")]
    Truncated { at: Location, reason: String },
    #[error("{at}: the file is corrupt: {reason}")]
    Corrupt { at: Location, reason: String },
    #[error("{at}: the JBIG2 image cannot be decoded: {reason}")]
    Jbig2 { at: Location, reason: String },
    #[error(
        "{at}: page is {width}×{height} pixels ({megapixels:.0} megapixels), over the limit of \
         {limit} megapixels"
    )]
    TooLarge {
        at: Location,
        width: u64,
        height: u64,
        megapixels: f64,
        limit: u32,
    },
    #[error(
        "{at}: page is {width}×{height} pixels, {channels} byte(s) a pixel, and needs an \
         estimated {need_mb} MiB to process, over the memory budget of {budget_mb} MiB \
         (max_memory_mb)"
    )]
    OverMemoryBudget {
        at: Location,
        width: u32,
        height: u32,
        channels: usize,
        need_mb: u64,
        budget_mb: u64,
    },
    #[error(
        "{at}: the page carries text but no scanned image (a born-digital page); Quire only \
         processes scans"
    )]
    BornDigital { at: Location },
    #[error("cannot start tesseract for languages {languages:?}: {reason}")]
    OcrInit { languages: String, reason: String },
    #[error("{at}: OCR failed: {reason}")]
    Ocr { at: Location, reason: String },
    #[error("every page was blank and --remove-blank removed them all; no PDF written")]
    AllPagesRemoved,
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The output's folder is missing or not a folder: named as such, not as the temporary file
    /// the output is first written to.
    #[error("cannot write {path}: the folder {dir} {problem}")]
    OutputFolder {
        path: PathBuf,
        dir: PathBuf,
        problem: String,
    },
    /// The caller asked the run to stop (`quire process` on Ctrl-C); nothing was written.
    #[error("interrupted; no PDF written")]
    Interrupted,
    #[error("barcode `{text}` cannot be drawn as {symbology}: {reason}")]
    BarcodeEncode {
        text: String,
        symbology: &'static str,
        reason: String,
    },
    #[error("stored page fingerprint is corrupt: {reason}")]
    CorruptFingerprint { reason: String },
}

impl PipelineError {
    /// A stable machine-readable code, for logs, the report and the daemon's review queue.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoInput => "pipeline.input.none",
            Self::Read { .. } => "pipeline.input.read",
            Self::Unsupported { .. } => "pipeline.decode.unsupported",
            Self::Encrypted { .. } => "pipeline.decode.encrypted",
            Self::Truncated { .. } => "pipeline.decode.truncated",
            Self::Corrupt { .. } => "pipeline.decode.corrupt",
            Self::Jbig2 { .. } => "pipeline.decode.jbig2",
            Self::TooLarge { .. } => "pipeline.decode.too_large",
            Self::OverMemoryBudget { .. } => "pipeline.decode.over_memory_budget",
            Self::BornDigital { .. } => "pipeline.input.born_digital",
            Self::OcrInit { .. } => "pipeline.ocr.init",
            Self::Ocr { .. } => "pipeline.ocr.failed",
            Self::AllPagesRemoved => "pipeline.output.all_pages_removed",
            Self::Write { .. } => "pipeline.output.write",
            Self::OutputFolder { .. } => "pipeline.output.folder",
            Self::Interrupted => "pipeline.interrupted",
            // These two kept the codes they had when barcodes and fingerprints were intake's.
            Self::BarcodeEncode { .. } => "intake.barcode.encode",
            Self::CorruptFingerprint { .. } => "intake.similarity.corrupt_fingerprint",
        }
    }

    /// The input location the error is about, if any.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Read { at, .. }
            | Self::Unsupported { at, .. }
            | Self::Encrypted { at }
            | Self::Truncated { at, .. }
            | Self::Corrupt { at, .. }
            | Self::Jbig2 { at, .. }
            | Self::TooLarge { at, .. }
            | Self::OverMemoryBudget { at, .. }
            | Self::BornDigital { at }
            | Self::Ocr { at, .. } => Some(at),
            _ => None,
        }
    }
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

//! Page processing: scans in, a searchable PDF and a per-page quality report out.
//!
//! Decodes images and image-only PDFs, turns pages upright, deskews, OCRs with libtesseract (one
//! engine per worker thread), checks quality and writes a PDF with an invisible text layer.
//! Each page is also read for a cover-sheet barcode ([`barcode`]) and fingerprinted for
//! near-duplicate checks ([`similarity`]). It knows nothing of requests, jobs, the database or
//! delivery: intake's rules and the daemon's inbox live in `quire-intake`.
//!
//! Entry point: [`Processor`] (build once, reuse) and [`Processor::process`].

pub mod barcode;
pub mod document;
#[cfg(test)]
mod document_tests;
pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzz_api;
pub mod imaging;
pub mod input;
pub mod ocr;
pub mod options;
pub mod page;
pub mod page_number;
mod page_steps;
pub mod pdf;
pub mod progress;
pub mod report;
pub mod ycc;

pub use document::{ProcessedDocument, Processor};
pub use error::{Location, PipelineError};
pub use options::ProcessOptions;
pub use pdf::OutputType;
pub use progress::{Progress, Silent, TerminalBar};
pub use report::{PageReport, Report, Warning};
pub mod similarity;

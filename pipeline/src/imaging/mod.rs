//! Pixel-level page work: skew estimation and rotation, blank detection, image quality checks,
//! and shrinking a page to the resolution OCR needs.
//!
//! Everything here works on decoded `image` buffers and is pure computation: no files, no OCR, no
//! PDF. Orientation (90/180/270°) is not decided here; that needs tesseract OSD and lives with
//! the OCR code.

pub mod blank;
pub mod deskew;
pub mod quality;
pub mod resample;
mod rotate;
pub(crate) mod shrink;

#[cfg(test)]
mod blank_tests;
#[cfg(test)]
mod deskew_tests;
#[cfg(test)]
mod quality_tests;

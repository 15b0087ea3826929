//! A synthetic page generator for tests and benchmarks: known text, known skew, scanner noise.
//!
//! It renders article-like text (deterministic from a seed) with a DejaVu system font at a chosen
//! resolution, prints a page number, turns the page by a known angle, adds blur and noise like a
//! scanner, binarises on request, and writes the pages in every input format Quire accepts
//! (PNG, JPEG, TIFF with each compression, image-only PDFs as scanners write them). Each page
//! comes with its ground-truth text, and `cer` scores an OCR result against it.
//!
//! It is not a font renderer of record: no hyphenation, no columns, no pictures. It needs the
//! DejaVu fonts from Debian's fonts-dejavu-core at /usr/share/fonts/truetype/dejavu.

mod article;
mod cer;
pub mod cream;
mod degrade;
mod formats;
mod render;
mod rng;

pub use cer::cer;
pub use degrade::Degradation;
pub use formats::{Format, ImagePdf, PdfImageCodec, PdfPageImage, TiffCompression, write};
pub use render::{Typeface, render_page};

use image::GrayImage;

/// Everything that decides what a synthetic page looks like. Equal specs give equal pages.
#[derive(Debug, Clone, PartialEq)]
pub struct PageSpec {
    /// Seeds the text; page `n` of an article uses `seed` and `n` together.
    pub seed: u64,
    /// Printed at the foot of the page; page 1 also carries the article title.
    pub page_number: u32,
    pub dpi: f32,
    /// Paper size in inches (A4 by default).
    pub paper_in: (f32, f32),
    pub typeface: Typeface,
    /// Body text size in points.
    pub font_pt: f32,
    /// Scanner faults applied after rendering, skew included.
    pub degradation: Degradation,
}

impl Default for PageSpec {
    fn default() -> Self {
        PageSpec {
            seed: 1,
            page_number: 1,
            dpi: 300.0,
            paper_in: (8.27, 11.69),
            typeface: Typeface::Serif,
            font_pt: 11.0,
            degradation: Degradation::default(),
        }
    }
}

/// A rendered page and what is printed on it.
#[derive(Debug, Clone)]
pub struct SyntheticPage {
    pub image: GrayImage,
    /// The text as printed, lines separated by `\n` and paragraphs by a blank line, ending with
    /// the page number line.
    pub truth: String,
    pub dpi: f32,
    /// The skew applied, degrees counter-clockwise (the convention of
    /// `quire_pipeline::imaging::deskew`).
    pub skew_deg: f32,
}

/// The pages of an article: `pages` pages from `template`, numbered from 1.
pub fn render_article(template: &PageSpec, pages: u32) -> std::io::Result<Vec<SyntheticPage>> {
    (1..=pages)
        .map(|n| {
            render_page(&PageSpec {
                page_number: n,
                ..template.clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;

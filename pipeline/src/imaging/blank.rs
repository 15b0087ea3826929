//! Blank-page detection: is there anything printed on this page once the margins are ignored?
//!
//! In the spirit of NAPS2: a pixel is "ink" when darker than a whiteness threshold, and the page
//! is blank when the inked fraction of the page, margins excluded, is under a coverage threshold.
//! Scanner noise must not make a blank page look printed, so isolated specks are discounted by
//! counting ink only in small blocks that hold several dark pixels. It only flags; removing pages
//! is the caller's decision.

use image::GrayImage;

/// Fraction of the width and height ignored on every side: scanner edge shadows, punch holes.
pub const MARGIN_FRACTION: f32 = 0.06;
/// A pixel darker than this (0 black, 255 white) is ink.
pub const WHITE_THRESHOLD: u8 = 170;
/// A page whose ink fraction is below this is blank. A single printed line is about 0.3%.
pub const COVERAGE_THRESHOLD: f32 = 0.0015;
/// Side of the square blocks used to discount specks, in pixels.
const BLOCK: u32 = 4;
/// A block counts only when at least this many of its pixels are ink: specks are 1–2 pixels.
const MIN_INK_PER_BLOCK: u32 = 3;

/// What blank detection decided, with the measure it decided on.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BlankVerdict {
    pub blank: bool,
    /// Fraction of the page (margins excluded) that is ink, specks discounted, 0..=1.
    pub ink_fraction: f32,
}

/// Decides whether `page` is blank.
pub fn detect(page: &GrayImage) -> BlankVerdict {
    let (w, h) = page.dimensions();
    let mx = (w as f32 * MARGIN_FRACTION) as u32;
    let my = (h as f32 * MARGIN_FRACTION) as u32;
    let (x0, x1, y0, y1) = (mx, w.saturating_sub(mx), my, h.saturating_sub(my));
    if x1 <= x0 || y1 <= y0 {
        return BlankVerdict {
            blank: true,
            ink_fraction: 0.0,
        };
    }
    let raw = page.as_raw();
    let stride = w as usize;
    let mut ink: u64 = 0;
    let mut by = y0;
    while by < y1 {
        let bh = BLOCK.min(y1 - by);
        let mut bx = x0;
        while bx < x1 {
            let bw = BLOCK.min(x1 - bx);
            let mut dark = 0u32;
            for y in by..by + bh {
                let row = &raw[y as usize * stride + bx as usize..][..bw as usize];
                dark += row.iter().filter(|&&p| p < WHITE_THRESHOLD).count() as u32;
            }
            if dark >= MIN_INK_PER_BLOCK {
                ink += dark as u64;
            }
            bx += BLOCK;
        }
        by += BLOCK;
    }
    let area = (x1 - x0) as u64 * (y1 - y0) as u64;
    let ink_fraction = ink as f32 / area as f32;
    BlankVerdict {
        blank: ink_fraction < COVERAGE_THRESHOLD,
        ink_fraction,
    }
}

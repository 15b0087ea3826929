//! Skew estimation and rotation of page images.
//!
//! # Sign convention
//! Angles are in degrees and **positive means counter-clockwise as the page is seen on screen**:
//! a page whose text lines rise to the right has a positive skew. `rotate_*(img, a)` turns the
//! content counter-clockwise by `a`, so a page is straightened with
//! `rotate_gray(&page, est.correction_deg())`, i.e. `rotate_gray(&page, -est.angle_deg)`.
//!
//! # Method
//! Projection profiles, searched coarse to fine. The page is reduced by box averaging and
//! binarised (Otsu); the ink pixels are projected onto the vertical axis of a frame turned by a
//! candidate angle, and the profile is scored by the sum of squared differences of neighbouring
//! bins, which peaks when text lines fall into as few rows as possible. A sweep of ±15° on a
//! coarse reduction finds the neighbourhood, two finer sweeps at a finer reduction narrow it, and
//! a parabola through the best three scores gives the sub-step angle. The shape of the coarse
//! sweep (how far the peak stands out from the floor, and whether a rival peak exists) gives the
//! confidence. Orientation by quarter turns is not handled here.
//!
//! # Compared with Leptonica
//! Leptonica's `pixFindSkewSweepAndSearch` (linked already, through tesseract) was measured on
//! the pages of `deskew_tests.rs` by `examples/deskew_compare.rs` (BENCHMARKS.md, "Skew
//! estimation"): over 22 pages, this module's mean error is 0.004° and its worst 0.020°;
//! Leptonica's are 0.030° and 0.168°, and it was unsure (confidence below 3) of two of the four
//! small 150-dpi pages. Leptonica is only better on the real scan turned by a known angle
//! (0.003° against 0.017°, both far inside the 0.1° bound). This estimator is kept.
//!
//! Rotation keeps the page size (the physical page does not change), fills with white and uses
//! bilinear interpolation (see `rotate`); bilevel pages are rotated in grey and thresholded back
//! to two levels, which keeps strokes smoother than turning the bits directly.

use image::{GrayImage, RgbImage};

use super::rotate::rotate_raw;
use crate::ycc::Ycc420;

/// The search range, in degrees either side of zero.
pub const MAX_ANGLE_DEG: f32 = 15.0;
/// Below this, rotating costs more (interpolation blur) than it gains.
pub const MIN_ROTATION_DEG: f32 = 0.05;
/// Below this confidence the estimate should not be acted upon.
pub const MIN_CONFIDENCE: f32 = 0.35;

/// Width, in pixels, of the reduced page used for the fine search; the coarse search uses half.
/// About 100 dpi for an A4 page: lines of text stay separate and the work stays small.
const FINE_WIDTH: u32 = 1250;
/// Fewer ink pixels than this (at the fine reduction) means there is nothing to measure.
const MIN_INK_POINTS: usize = 400;
const COARSE_STEP_DEG: f32 = 0.25;
/// Ink is at least this much darker than the paper (grey levels, after reduction).
const INK_CONTRAST: u8 = 60;

/// A measured skew with how sure the measurement is.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SkewEstimate {
    /// Skew of the text lines in degrees, counter-clockwise positive, within ±15.
    pub angle_deg: f32,
    /// 0 (no idea: blank page, picture, no lines) to 1 (a clean text page).
    pub confidence: f32,
}

impl SkewEstimate {
    /// The angle to hand to `rotate_*` to straighten the page.
    pub fn correction_deg(&self) -> f32 {
        -self.angle_deg
    }

    /// Whether the page should be rotated: the estimate is trusted and large enough to matter.
    pub fn should_rotate(&self) -> bool {
        self.confidence >= MIN_CONFIDENCE && self.angle_deg.abs() >= MIN_ROTATION_DEG
    }
}

/// Estimates the skew of `page`, in ±15°. See the module documentation for the sign.
pub fn estimate_skew(page: &GrayImage) -> SkewEstimate {
    let unsure = SkewEstimate {
        angle_deg: 0.0,
        confidence: 0.0,
    };
    let fine_factor = ((page.width() as f32 / FINE_WIDTH as f32).round() as u32).max(1);
    let fine = InkPoints::of(page, fine_factor);
    if fine.len() < MIN_INK_POINTS {
        return unsure;
    }
    let coarse = InkPoints::of(page, fine_factor * 2);

    let steps = (MAX_ANGLE_DEG / COARSE_STEP_DEG).round() as i32;
    let sweep: Vec<(f32, f64)> = (-steps..=steps)
        .map(|i| {
            let a = i as f32 * COARSE_STEP_DEG;
            (a, coarse.score(a))
        })
        .collect();
    let (best_i, &(coarse_best, peak)) = sweep
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.1.total_cmp(&b.1.1))
        .expect("the sweep is never empty");
    let confidence = sweep_confidence(&sweep, best_i, peak);

    let mut centre = coarse_best;
    for (half_width, step) in [(0.5_f32, 0.05_f32), (0.06, 0.01)] {
        centre = fine.best_in(centre - half_width, centre + half_width, step);
    }
    let angle_deg = fine.parabolic_peak(centre, 0.01);
    SkewEstimate {
        angle_deg: angle_deg.clamp(-MAX_ANGLE_DEG, MAX_ANGLE_DEG),
        confidence,
    }
}

/// Confidence from the coarse sweep: a text page gives one peak standing well above the floor.
/// A page of pictures or noise gives a flat sweep; a page with rival line directions (tables,
/// diagrams) gives a second peak away from the first.
fn sweep_confidence(sweep: &[(f32, f64)], best_i: usize, peak: f64) -> f32 {
    let floor = sweep.iter().map(|s| s.1).fold(f64::INFINITY, f64::min);
    if peak <= 0.0 || peak <= floor {
        return 0.0;
    }
    let prominence = (peak - floor) / peak;
    let best_angle = sweep[best_i].0;
    let rival = (1..sweep.len().saturating_sub(1))
        .filter(|&i| (sweep[i].0 - best_angle).abs() > 2.0)
        .filter(|&i| sweep[i].1 >= sweep[i - 1].1 && sweep[i].1 >= sweep[i + 1].1)
        .map(|i| sweep[i].1)
        .fold(floor, f64::max);
    let rivalry = (rival - floor) / (peak - floor);
    let mut confidence = prominence * (1.0 - rivalry);
    // A peak at the edge of the range may lie outside it: the page is too skewed to measure.
    if best_i == 0 || best_i == sweep.len() - 1 {
        confidence *= 0.25;
    }
    confidence.clamp(0.0, 1.0) as f32
}

/// The ink pixels of a reduced, binarised page, as coordinates about the page centre.
struct InkPoints {
    xs: Vec<f32>,
    ys: Vec<f32>,
    /// Half the diagonal of the reduced page: no projection falls further from the centre.
    reach: f32,
}

impl InkPoints {
    fn of(page: &GrayImage, factor: u32) -> Self {
        let reduced = reduce(page, factor);
        // Otsu splits any histogram in two, even the sensor noise of a blank sheet; ink must also
        // be clearly darker than the paper.
        let paper = paper_level(&reduced);
        let threshold =
            imageproc::contrast::otsu_level(&reduced).min(paper.saturating_sub(INK_CONTRAST));
        let (w, h) = reduced.dimensions();
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        // A page of uniform grey has no ink whatever Otsu says.
        if threshold > 0 {
            for (y, row) in reduced.as_raw().chunks_exact(w as usize).enumerate() {
                for (x, &p) in row.iter().enumerate() {
                    if p < threshold {
                        let (dx, dy) = dither(x as u32, y as u32);
                        xs.push(x as f32 - cx + dx);
                        ys.push(y as f32 - cy + dy);
                    }
                }
            }
        }
        let reach = (cx * cx + cy * cy).sqrt() + 2.0;
        InkPoints { xs, ys, reach }
    }

    fn len(&self) -> usize {
        self.xs.len()
    }

    /// Sharpness of the projection profile with the frame turned by `angle_deg`.
    fn score(&self, angle_deg: f32) -> f64 {
        let (s, c) = angle_deg.to_radians().sin_cos();
        let bins = (2.0 * self.reach) as usize + 2;
        let mut profile = vec![0f32; bins];
        for (&x, &y) in self.xs.iter().zip(&self.ys) {
            // Splitting each pixel between its two nearest bins keeps the score smooth in the
            // angle, which the parabolic refinement relies on.
            let v = y * c + x * s + self.reach;
            let i = v as usize;
            let frac = v - i as f32;
            profile[i] += 1.0 - frac;
            profile[i + 1] += frac;
        }
        profile
            .windows(2)
            .map(|w| {
                let d = (w[1] - w[0]) as f64;
                d * d
            })
            .sum()
    }

    fn best_in(&self, from: f32, to: f32, step: f32) -> f32 {
        let n = ((to - from) / step).round() as i32;
        (0..=n)
            .map(|i| from + i as f32 * step)
            .map(|a| (a, self.score(a)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0.0, |(a, _)| a)
    }

    fn parabolic_peak(&self, centre: f32, step: f32) -> f32 {
        let (l, m, r) = (
            self.score(centre - step),
            self.score(centre),
            self.score(centre + step),
        );
        let curvature = l - 2.0 * m + r;
        if curvature >= 0.0 {
            return centre;
        }
        let offset = 0.5 * (l - r) / curvature;
        centre + (offset.clamp(-1.0, 1.0) as f32) * step
    }
}

/// A fixed pseudo-random position inside the pixel, each coordinate in -0.5..0.5.
///
/// Without it every point sits on the pixel grid, and at angles near 0° the projection lines up
/// with the grid: the score then favours exactly 0° and small skews are underestimated by a
/// few hundredths of a degree. Spreading points over their pixel's area removes that bias.
fn dither(x: u32, y: u32) -> (f32, f32) {
    let mut h = (u64::from(x) << 32 | u64::from(y)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 32;
    let unit = |bits: u64| (bits & 0xFFFF) as f32 / 65536.0 - 0.5;
    (unit(h), unit(h >> 16))
}

/// The grey level of the paper: the 90th percentile, as pages are mostly paper.
fn paper_level(page: &GrayImage) -> u8 {
    let mut histogram = [0u64; 256];
    page.as_raw()
        .iter()
        .for_each(|&p| histogram[p as usize] += 1);
    let target = page.as_raw().len() as u64 * 9 / 10;
    let mut seen = 0;
    for (level, &n) in histogram.iter().enumerate() {
        seen += n;
        if seen > target {
            return level as u8;
        }
    }
    255
}

/// Box-average reduction by an integer factor; the last partial row and column are dropped.
fn reduce(page: &GrayImage, factor: u32) -> GrayImage {
    if factor <= 1 {
        return page.clone();
    }
    let (w, h) = (page.width() / factor, page.height() / factor);
    let src_w = page.width() as usize;
    let raw = page.as_raw();
    let f = factor as usize;
    let area = (f * f) as u32;
    let mut out = Vec::with_capacity(w as usize * h as usize);
    let mut sums = vec![0u32; w as usize];
    for by in 0..h as usize {
        sums.iter_mut().for_each(|s| *s = 0);
        for y in by * f..by * f + f {
            let row = &raw[y * src_w..y * src_w + w as usize * f];
            for (sum, chunk) in sums.iter_mut().zip(row.chunks_exact(f)) {
                *sum += chunk.iter().map(|&p| p as u32).sum::<u32>();
            }
        }
        out.extend(sums.iter().map(|&s| (s / area) as u8));
    }
    GrayImage::from_raw(w, h, out).expect("buffer sized from the dimensions")
}

/// Turns a grey page counter-clockwise by `angle_deg` about its centre; same size, white fill,
/// bilinear interpolation.
pub fn rotate_gray(page: &GrayImage, angle_deg: f32) -> GrayImage {
    if angle_deg == 0.0 {
        return page.clone();
    }
    let (w, h) = page.dimensions();
    let raw = rotate_raw(page.as_raw(), w, h, 1, angle_deg, 255);
    GrayImage::from_raw(w, h, raw).expect("same size as the input")
}

/// Turns a colour page counter-clockwise by `angle_deg` about its centre; same size, white fill,
/// bilinear interpolation.
pub fn rotate_rgb(page: &RgbImage, angle_deg: f32) -> RgbImage {
    if angle_deg == 0.0 {
        return page.clone();
    }
    let (w, h) = page.dimensions();
    let raw = rotate_raw(page.as_raw(), w, h, 3, angle_deg, 255);
    RgbImage::from_raw(w, h, raw).expect("same size as the input")
}

/// Turns a colour page held as planes counter-clockwise by `angle_deg` about its centre; same
/// size, white fill, bilinear. One plane at a time, each old plane dropped as soon as its
/// turned copy is made, so at most one extra luma plane is alive (not a second page).
pub fn rotate_planes(page: Ycc420, angle_deg: f32) -> Ycc420 {
    let Ycc420 { luma, cb, cr } = page;
    let turned = rotate_gray(&luma, angle_deg);
    drop(luma);
    let luma = turned;
    // White paper has neutral chroma: the fill is 128, not 255.
    let chroma = |plane: GrayImage| {
        if angle_deg == 0.0 {
            return plane;
        }
        let (w, h) = plane.dimensions();
        let raw = rotate_raw(plane.as_raw(), w, h, 1, angle_deg, 128);
        GrayImage::from_raw(w, h, raw).expect("same size as the input")
    };
    let cb = chroma(cb);
    let cr = chroma(cr);
    Ycc420 { luma, cb, cr }
}

/// Turns a bilevel page (pixels 0 or 255) counter-clockwise by `angle_deg`; the result is
/// bilevel too, same size, white fill.
pub fn rotate_bilevel(page: &GrayImage, angle_deg: f32) -> GrayImage {
    if angle_deg == 0.0 {
        return page.clone();
    }
    // Interpolating in grey and thresholding at the midpoint places edges at sub-pixel accuracy
    // and keeps stroke widths, where turning the bits directly would leave jagged steps.
    let mut out = rotate_gray(page, angle_deg);
    out.pixels_mut()
        .for_each(|p| p.0[0] = if p.0[0] < 128 { 0 } else { 255 });
    out
}

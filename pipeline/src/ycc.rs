//! Large colour pages held as YCbCr 4:2:0 planes: a full-resolution luma plane and two chroma
//! planes at half width and half height, 1.5 bytes a pixel where interleaved RGB takes 3.
//!
//! The luma plane is the page's grey view (blank detection, skew, quality, fingerprints,
//! barcodes and OCR read it in place), every step works on one plane at a time, and the JPEG
//! encoder is fed YCbCr rows straight from the planes, so a 250-megapixel colour page never
//! exists as one RGB buffer after decoding (and, for PNG and strip TIFF, not even while it is
//! decoded: rows are converted as they arrive, see [`YccBuilder`]).
//!
//! Only pages above [`PLANAR_COLOUR_MIN_PIXELS`] are held this way; smaller colour pages stay
//! [`crate::page::Raster::Rgb`]; they are encoded 4:2:0 too, but from interleaved RGB
//! (`pdf::image_encode`).
//!
//! The conversion is JPEG's own (JFIF, BT.601 full range, the coefficients of `jpeg-encoder`):
//! a neutral pixel has luma equal to its grey level and chroma of exactly 128, so a page found
//! neutral while it is converted becomes a grey page, as [`crate::page::Raster::from_rgb`]
//! makes it.

use image::{GrayImage, RgbImage};

use crate::page::Raster;

/// Colour pages with more pixels than this are held as [`Ycc420`] planes.
///
/// 64 MP is an A4 page scanned at about 1150 dpi (A3 at about 800 dpi). Chroma at half
/// resolution is then still 575 dpi on A4 and 400 dpi on A3: finer than the eye resolves
/// colour at reading distance and finer than a printer's colour screen, which is why JPEG
/// cameras and scanners subsample chroma at far coarser scans. Below it, a page fits the
/// default memory budget (`max_memory_mb` 2048) alongside another as interleaved RGB
/// (64 MP × 3 bytes × 2.5 buffers = 458 MiB), so nothing is gained by changing its output.
pub const PLANAR_COLOUR_MIN_PIXELS: u64 = 64_000_000;

/// A colour page as YCbCr 4:2:0 planes. `cb` and `cr` are `ceil(width / 2)` by
/// `ceil(height / 2)`; each chroma sample is the mean over the (up to) 2×2 luma pixels it
/// covers.
#[derive(Debug, Clone)]
pub struct Ycc420 {
    pub luma: GrayImage,
    pub cb: GrayImage,
    pub cr: GrayImage,
}

/// The chroma planes' size for a page of `width` × `height`.
pub fn chroma_size(width: u32, height: u32) -> (u32, u32) {
    (width.div_ceil(2), height.div_ceil(2))
}

// JFIF RGB -> YCbCr in 16-bit fixed point, as `jpeg_encoder::rgb_to_ycbcr` computes it; the
// luma weights add up to exactly 1 and the chroma weights to exactly 0, so grey stays grey.
const Y_R: i32 = 19595;
const Y_G: i32 = 38470;
const Y_B: i32 = 7471;
const CB_R: i32 = -11059;
const CB_G: i32 = -21709;
const CB_B: i32 = 32768;
const CR_R: i32 = 32768;
const CR_G: i32 = -27439;
const CR_B: i32 = -5329;
const HALF: i32 = 1 << 15;
const OFFSET: i32 = 128 << 16;

#[inline]
fn luma_of(r: i32, g: i32, b: i32) -> u8 {
    ((Y_R * r + Y_G * g + Y_B * b + HALF) >> 16) as u8
}

/// The mean of `n` chroma sums (each without its +128 offset), rounded.
#[inline]
fn chroma_mean(sum: i32, n: i32) -> u8 {
    // Never negative: a pixel's chroma sum is at least -255 * 32768, above -128 << 16.
    let total = sum + n * OFFSET + n * HALF;
    (total / (n << 16)).clamp(0, 255) as u8
}

/// Converts one row pair (or a last lone row) of interleaved RGB, `width` pixels a row, into
/// luma rows and one row of each chroma plane. Returns whether every pixel was neutral.
fn convert_rows(
    rows: &[&[u8]],
    width: usize,
    luma: &mut [u8],
    cb: &mut [u8],
    cr: &mut [u8],
) -> bool {
    let mut neutral = true;
    let cw = width.div_ceil(2);
    let mut cb_sums = vec![0i32; cw];
    let mut cr_sums = vec![0i32; cw];
    for (i, row) in rows.iter().enumerate() {
        let out = &mut luma[i * width..(i + 1) * width];
        for (x, (px, y)) in row.chunks_exact(3).zip(out.iter_mut()).enumerate() {
            let (r, g, b) = (i32::from(px[0]), i32::from(px[1]), i32::from(px[2]));
            neutral &= px[0] == px[1] && px[1] == px[2];
            *y = luma_of(r, g, b);
            cb_sums[x / 2] += CB_R * r + CB_G * g + CB_B * b;
            cr_sums[x / 2] += CR_R * r + CR_G * g + CR_B * b;
        }
    }
    let n_rows = rows.len() as i32;
    for (c, (cb_out, cr_out)) in cb.iter_mut().zip(cr.iter_mut()).enumerate() {
        let n_cols = if 2 * c + 1 < width { 2 } else { 1 };
        *cb_out = chroma_mean(cb_sums[c], n_rows * n_cols);
        *cr_out = chroma_mean(cr_sums[c], n_rows * n_cols);
    }
    neutral
}

/// What a converted page becomes: grey when every pixel was neutral, planes otherwise.
fn finish(luma: GrayImage, cb: GrayImage, cr: GrayImage, neutral: bool) -> Raster {
    if neutral {
        drop((cb, cr));
        Raster::from_gray(luma)
    } else {
        Raster::Ycc420(Ycc420 { luma, cb, cr })
    }
}

/// Builds the planes of a page from its RGB rows as a decoder delivers them, top to bottom,
/// so that no full RGB buffer is ever made: only one pending row is kept.
pub struct YccBuilder {
    width: u32,
    height: u32,
    luma: Vec<u8>,
    cb: Vec<u8>,
    cr: Vec<u8>,
    pending: Vec<u8>,
    rows: u32,
    neutral: bool,
}

impl YccBuilder {
    pub fn new(width: u32, height: u32) -> YccBuilder {
        let (cw, ch) = chroma_size(width, height);
        let chroma = cw as usize * ch as usize;
        YccBuilder {
            width,
            height,
            luma: Vec::with_capacity(width as usize * height as usize),
            cb: Vec::with_capacity(chroma),
            cr: Vec::with_capacity(chroma),
            pending: Vec::with_capacity(width as usize * 3),
            rows: 0,
            neutral: true,
        }
    }

    /// Rows received so far.
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// One row of `width` RGB pixels (3 bytes each); rows past the page's height are ignored.
    pub fn push_rgb_row(&mut self, row: &[u8]) {
        let w = self.width as usize;
        debug_assert!(row.len() >= w * 3);
        if self.rows >= self.height {
            return;
        }
        let row = &row[..w * 3];
        self.rows += 1;
        if self.rows % 2 == 1 && self.rows < self.height {
            self.pending.clear();
            self.pending.extend_from_slice(row);
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let pair: Vec<&[u8]> = if self.rows.is_multiple_of(2) {
            vec![&pending, row]
        } else {
            vec![row]
        };
        self.emit(&pair);
        self.pending = pending;
    }

    fn emit(&mut self, rows: &[&[u8]]) {
        let w = self.width as usize;
        let cw = w.div_ceil(2);
        let (l0, c0) = (self.luma.len(), self.cb.len());
        self.luma.resize(l0 + rows.len() * w, 0);
        self.cb.resize(c0 + cw, 0);
        self.cr.resize(c0 + cw, 0);
        self.neutral &= convert_rows(
            rows,
            w,
            &mut self.luma[l0..],
            &mut self.cb[c0..],
            &mut self.cr[c0..],
        );
    }

    /// The page, once every row has been pushed; `None` when rows are missing.
    pub fn finish(self) -> Option<Raster> {
        if self.rows < self.height {
            return None;
        }
        let (cw, ch) = chroma_size(self.width, self.height);
        let luma = GrayImage::from_raw(self.width, self.height, self.luma)?;
        let cb = GrayImage::from_raw(cw, ch, self.cb)?;
        let cr = GrayImage::from_raw(cw, ch, self.cr)?;
        Some(finish(luma, cb, cr, self.neutral))
    }
}

/// A chroma plane of `width` × `height` samples (4:2:2 chroma) halved vertically in its own
/// buffer: each output row is the rounded mean of a row pair (the last row alone when the
/// height is odd), so the plane becomes 4:2:0 without a second plane being made.
pub fn halve_rows_in_place(mut plane: Vec<u8>, width: usize, height: usize) -> Vec<u8> {
    let out_height = height.div_ceil(2);
    for k in 0..out_height {
        // Row k is written at or before row 2k, which is read first (for k = 0 in place).
        let (top, bottom) = (2 * k * width, (2 * k + 1) * width);
        for x in 0..width {
            plane[k * width + x] = if 2 * k + 1 < height {
                (u16::from(plane[top + x]) + u16::from(plane[bottom + x])).div_ceil(2) as u8
            } else {
                plane[top + x]
            };
        }
    }
    plane.truncate(width * out_height);
    plane.shrink_to_fit();
    plane
}

/// A chroma plane of `width` × `height` samples (4:4:0 chroma) halved horizontally in its own
/// buffer: each output sample is the rounded mean of a column pair (the last column alone when
/// the width is odd).
pub fn halve_columns_in_place(mut plane: Vec<u8>, width: usize, height: usize) -> Vec<u8> {
    let out_width = width.div_ceil(2);
    for y in 0..height {
        for c in 0..out_width {
            // Written at y * out_width + c, never after a sample still to be read.
            let left = y * width + 2 * c;
            plane[y * out_width + c] = if 2 * c + 1 < width {
                (u16::from(plane[left]) + u16::from(plane[left + 1])).div_ceil(2) as u8
            } else {
                plane[left]
            };
        }
    }
    plane.truncate(out_width * height);
    plane.shrink_to_fit();
    plane
}

impl Ycc420 {
    pub fn dimensions(&self) -> (u32, u32) {
        self.luma.dimensions()
    }

    /// Planes decoded as they are (a JPEG's own 4:2:0 planes): grey when the chroma is
    /// neutral everywhere, as a page whose every RGB pixel is neutral becomes grey.
    pub fn from_planes(luma: GrayImage, cb: GrayImage, cr: GrayImage) -> Raster {
        let neutral =
            cb.as_raw().iter().all(|&v| v == 128) && cr.as_raw().iter().all(|&v| v == 128);
        finish(luma, cb, cr, neutral)
    }

    /// Converts a decoded RGB page in its own buffer: the planes are packed into the front of
    /// the RGB buffer row pair by row pair, the buffer is shrunk, and only then are the chroma
    /// planes copied out. The peak is the RGB buffer itself (3 bytes a pixel) plus a row pair,
    /// where converting into new planes would add 1.5 bytes a pixel to it.
    pub fn from_rgb_in_place(img: RgbImage) -> Raster {
        let (width, height) = img.dimensions();
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut buf = img.into_raw();
        // Block k holds luma rows 2k and 2k+1 then chroma row k of each plane. It is written
        // at k * block, at or before where row pair k was read (6 * w * k), after the pair is
        // copied out; so no row is overwritten before it is read.
        let block = 2 * w + 2 * cw;
        if buf.len() < ch * block {
            buf.resize(ch * block, 0); // only for pages a pixel or two high
        }
        let mut pair = vec![0u8; 6 * w];
        let mut neutral = true;
        for k in 0..ch {
            let n = if 2 * k + 1 < h { 2 } else { 1 };
            let src = 6 * w * k;
            pair[..3 * w * n].copy_from_slice(&buf[src..src + 3 * w * n]);
            let rows: Vec<&[u8]> = pair[..3 * w * n].chunks_exact(3 * w).collect();
            let out = &mut buf[k * block..(k + 1) * block];
            let (luma, chroma) = out.split_at_mut(2 * w);
            let (cb, cr) = chroma.split_at_mut(cw);
            neutral &= convert_rows(&rows, w, luma, cb, cr);
        }
        drop(pair);
        buf.truncate(ch * block);
        buf.shrink_to_fit();
        let mut cb = Vec::with_capacity(cw * ch);
        let mut cr = Vec::with_capacity(cw * ch);
        for k in 0..ch {
            let at = k * block + 2 * w;
            cb.extend_from_slice(&buf[at..at + cw]);
            cr.extend_from_slice(&buf[at + cw..at + 2 * cw]);
        }
        for k in 0..ch {
            let n = if 2 * k + 1 < h { 2 } else { 1 };
            buf.copy_within(k * block..k * block + n * w, 2 * w * k);
        }
        buf.truncate(w * h);
        buf.shrink_to_fit();
        let luma = GrayImage::from_raw(width, height, buf).expect("one luma sample a pixel");
        let cb = GrayImage::from_raw(cw as u32, ch as u32, cb).expect("sized to the plane");
        let cr = GrayImage::from_raw(cw as u32, ch as u32, cr).expect("sized to the plane");
        finish(luma, cb, cr, neutral)
    }

    /// Row `y` as YCbCr samples, one triple a pixel, chroma repeated over the pixels it
    /// covers: what the JPEG encoder reads (and averages back to the same chroma at 4:2:0).
    pub fn ycbcr_row(&self, y: u32, mut push: impl FnMut(u8, u8, u8)) {
        let w = self.luma.width() as usize;
        let cw = self.cb.width() as usize;
        let luma = &self.luma.as_raw()[y as usize * w..][..w];
        let c = (y / 2) as usize * cw;
        let (cb, cr) = (&self.cb.as_raw()[c..c + cw], &self.cr.as_raw()[c..c + cw]);
        for (x, &l) in luma.iter().enumerate() {
            push(l, cb[x / 2], cr[x / 2]);
        }
    }

    /// Row `y` back in RGB, written to `out` (3 bytes a pixel).
    pub fn rgb_row(&self, y: u32, out: &mut Vec<u8>) {
        out.clear();
        self.ycbcr_row(y, |l, cb, cr| {
            let (r, g, b) = ycbcr_to_rgb(l, cb, cr);
            out.extend_from_slice(&[r, g, b]);
        });
    }
}

/// JFIF YCbCr -> RGB, rounded and clamped.
pub fn ycbcr_to_rgb(y: u8, cb: u8, cr: u8) -> (u8, u8, u8) {
    let y = i32::from(y) << 16;
    let (cb, cr) = (i32::from(cb) - 128, i32::from(cr) - 128);
    // 1.402, 0.344136, 0.714136, 1.772 in 16-bit fixed point.
    let r = (y + 91881 * cr + HALF) >> 16;
    let g = (y - 22554 * cb - 46802 * cr + HALF) >> 16;
    let b = (y + 116130 * cb + HALF) >> 16;
    (
        r.clamp(0, 255) as u8,
        g.clamp(0, 255) as u8,
        b.clamp(0, 255) as u8,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 37 % 256) as u8,
                (y * 11 % 256) as u8,
                ((x + y) * 5 % 256) as u8,
            ])
        })
    }

    fn planes(r: Raster) -> Ycc420 {
        match r {
            Raster::Ycc420(p) => p,
            other => panic!("expected planes, got {other:?}"),
        }
    }

    #[test]
    fn in_place_and_row_by_row_conversions_agree_for_any_size() {
        for (w, h) in [(1, 1), (1, 2), (2, 1), (3, 3), (7, 5), (16, 9), (33, 2)] {
            let img = sample(w, h);
            let mut b = YccBuilder::new(w, h);
            for row in img.as_raw().chunks_exact(w as usize * 3) {
                b.push_rgb_row(row);
            }
            let built = b.finish().expect("every row was pushed");
            let in_place = Ycc420::from_rgb_in_place(img.clone());
            match (built, in_place) {
                (Raster::Ycc420(a), Raster::Ycc420(b)) => {
                    assert_eq!(a.luma, b.luma, "{w}x{h}");
                    assert_eq!(a.cb, b.cb, "{w}x{h}");
                    assert_eq!(a.cr, b.cr, "{w}x{h}");
                    assert_eq!(a.luma.dimensions(), (w, h));
                    assert_eq!(a.cb.dimensions(), chroma_size(w, h));
                }
                // A 1×1 sample can be neutral.
                (a, b) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
            }
        }
    }

    #[test]
    fn luma_and_chroma_match_the_jpeg_conversion() {
        let img = sample(8, 6);
        let p = planes(Ycc420::from_rgb_in_place(img.clone()));
        for (x, y, px) in img.enumerate_pixels() {
            let (l, _, _) = jpeg_encoder::rgb_to_ycbcr(px[0], px[1], px[2]);
            assert_eq!(p.luma.get_pixel(x, y)[0], l);
        }
        // A chroma sample is the mean of its 2×2 block's chroma, within rounding.
        let mean = |bx: u32, by: u32, i: usize| {
            let mut s = 0i32;
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let px = img.get_pixel(2 * bx + dx, 2 * by + dy);
                let c = jpeg_encoder::rgb_to_ycbcr(px[0], px[1], px[2]);
                s += i32::from(if i == 1 { c.1 } else { c.2 });
            }
            s as f32 / 4.0
        };
        for by in 0..3 {
            for bx in 0..4 {
                assert!((f32::from(p.cb.get_pixel(bx, by)[0]) - mean(bx, by, 1)).abs() <= 1.0);
                assert!((f32::from(p.cr.get_pixel(bx, by)[0]) - mean(bx, by, 2)).abs() <= 1.0);
            }
        }
    }

    #[test]
    fn a_neutral_page_becomes_grey_and_flat_colour_round_trips() {
        let grey = RgbImage::from_fn(5, 3, |x, _| image::Rgb([x as u8 * 40; 3]));
        match Ycc420::from_rgb_in_place(grey) {
            Raster::Gray(g) => assert_eq!(g.get_pixel(4, 2)[0], 160),
            other => panic!("expected grey, got {other:?}"),
        }
        let cream = RgbImage::from_pixel(6, 4, image::Rgb([250, 240, 200]));
        let p = planes(Ycc420::from_rgb_in_place(cream));
        let mut row = Vec::new();
        p.rgb_row(3, &mut row);
        for px in row.chunks_exact(3) {
            for (got, want) in px.iter().zip([250u8, 240, 200]) {
                assert!(got.abs_diff(want) <= 2, "{px:?}");
            }
        }
    }

    #[test]
    fn chroma_halved_in_place_is_the_mean_of_each_pair() {
        // 3 × 5, odd both ways: the last row (column) stands alone.
        let plane: Vec<u8> = (0..15).map(|v| v * 10).collect();
        let rows = halve_rows_in_place(plane.clone(), 3, 5);
        assert_eq!(rows, vec![15, 25, 35, 75, 85, 95, 120, 130, 140]);
        assert_eq!(rows.capacity(), 9);
        let cols = halve_columns_in_place(plane, 3, 5);
        assert_eq!(cols, vec![5, 20, 35, 50, 65, 80, 95, 110, 125, 140]);
        assert_eq!(cols.capacity(), 10);
        // Rounded half up.
        assert_eq!(halve_rows_in_place(vec![1, 2], 1, 2), vec![2]);
        assert_eq!(halve_columns_in_place(vec![1, 2], 2, 1), vec![2]);
    }
}

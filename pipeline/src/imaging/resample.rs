//! Shrinking a grey page by any factor, averaging the source area under each output pixel.
//!
//! Used to give tesseract (and OSD) a copy at the resolution they need rather than the scan's
//! own. `image::imageops::resize` is no use on large pages: it keeps an intermediate of the
//! source width times the output height in `Rgba<f32>`, 16 bytes a pixel, so halving a
//! 250-megapixel page would allocate 2 GB. This keeps one row of `u32` sums instead, and area
//! averaging is the right filter for a reduction (every source pixel counts once, no aliasing).

use image::GrayImage;

/// Fixed-point weight of a whole source pixel along one axis.
const WHOLE: u32 = 256;

/// The source pixels covering one output pixel along an axis, with the share (out of
/// [`WHOLE`]) of each that falls inside it.
struct Span {
    first: usize,
    weights: Vec<u32>,
    total: u32,
}

/// The spans of `dst` output pixels over `src` source pixels (`dst <= src`).
fn spans(src: u32, dst: u32) -> Vec<Span> {
    let scale = f64::from(src) / f64::from(dst);
    (0..dst)
        .map(|i| {
            let (start, end) = (f64::from(i) * scale, f64::from(i + 1) * scale);
            let first = start.floor() as usize;
            let last = (end.ceil() as usize).min(src as usize).max(first + 1);
            let weights: Vec<u32> = (first..last)
                .map(|p| {
                    let covered = (end.min(p as f64 + 1.0) - start.max(p as f64)).max(0.0);
                    (covered * f64::from(WHOLE)).round() as u32
                })
                .collect();
            let total = weights.iter().sum::<u32>().max(1);
            Span {
                first,
                weights,
                total,
            }
        })
        .collect()
}

/// `page` shrunk to `width`×`height` (each no larger than the page's own, at least 1) by area
/// averaging. The page is returned as a copy when the size is its own.
pub fn shrink_gray(page: &GrayImage, width: u32, height: u32) -> GrayImage {
    let (src_w, src_h) = page.dimensions();
    let (width, height) = (width.clamp(1, src_w.max(1)), height.clamp(1, src_h.max(1)));
    if (width, height) == (src_w, src_h) {
        return page.clone();
    }
    let columns = spans(src_w, width);
    let rows = spans(src_h, height);
    let raw = page.as_raw();
    let stride = src_w as usize;
    let mut out = Vec::with_capacity(width as usize * height as usize);
    let mut sums = vec![0u64; width as usize];
    for row in &rows {
        sums.iter_mut().for_each(|s| *s = 0);
        for (dy, &wy) in row.weights.iter().enumerate() {
            let line = &raw[(row.first + dy) * stride..][..stride];
            for (sum, col) in sums.iter_mut().zip(&columns) {
                let across: u32 = line[col.first..]
                    .iter()
                    .zip(&col.weights)
                    .map(|(&p, &wx)| u32::from(p) * wx)
                    .sum();
                *sum += u64::from(across) * u64::from(wy);
            }
        }
        out.extend(sums.iter().zip(&columns).map(|(&s, col)| {
            let area = u64::from(col.total) * u64::from(row.total);
            ((s + area / 2) / area).min(255) as u8
        }));
    }
    GrayImage::from_raw(width, height, out).expect("buffer sized to the image")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_factors_average_blocks() {
        let page = GrayImage::from_fn(4, 2, |x, y| image::Luma([(x * 10 + y * 100) as u8]));
        let small = shrink_gray(&page, 2, 1);
        // Blocks (0,10,100,110) and (20,30,120,130).
        assert_eq!(small.as_raw(), &[55, 75]);
    }

    #[test]
    fn fractional_factors_weigh_partly_covered_pixels() {
        // Three pixels into two: each output pixel takes one whole and half of the middle one.
        let page = GrayImage::from_raw(3, 1, vec![0, 90, 180]).unwrap();
        let small = shrink_gray(&page, 2, 1);
        assert_eq!(small.as_raw(), &[30, 150]);
    }

    #[test]
    fn keeps_mean_brightness_and_size_on_a_large_reduction() {
        let page = GrayImage::from_fn(1001, 703, |x, y| image::Luma([((x ^ y) & 0xFF) as u8]));
        let small = shrink_gray(&page, 187, 131);
        assert_eq!(small.dimensions(), (187, 131));
        let mean = |img: &GrayImage| {
            img.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / img.as_raw().len() as f64
        };
        assert!((mean(&page) - mean(&small)).abs() < 1.5);
    }
}

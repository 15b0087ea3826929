//! Shrinking a page by a whole factor, averaging blocks: the cheap downscale used before
//! barcode detection and perceptual hashing.

use image::GrayImage;

/// Averages `factor`×`factor` blocks. Whole-pixel blocks keep bar edges decodable, and this is
/// several times faster than `imageops::resize` or `thumbnail` on an 8-megapixel page.
pub(crate) fn box_shrink(page: &GrayImage, factor: u32) -> GrayImage {
    let (w, h) = (page.width() / factor, page.height() / factor);
    let src = page.as_raw();
    let stride = page.width() as usize;
    let f = factor as usize;
    let mut sums = vec![0u32; w as usize];
    let mut out = Vec::with_capacity(w as usize * h as usize);
    for by in 0..h as usize {
        sums.iter_mut().for_each(|s| *s = 0);
        for row in src[by * f * stride..(by * f + f) * stride].chunks_exact(stride) {
            for (sum, block) in sums.iter_mut().zip(row.chunks_exact(f)) {
                *sum += block.iter().map(|&v| u32::from(v)).sum::<u32>();
            }
        }
        let area = (f * f) as u32;
        out.extend(sums.iter().map(|s| (s / area) as u8));
    }
    GrayImage::from_raw(w, h, out).expect("buffer sized to the image")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_whole_blocks_and_drops_the_ragged_edge() {
        let page = GrayImage::from_fn(5, 4, |x, y| image::Luma([(x * 10 + y * 50) as u8]));
        let small = box_shrink(&page, 2);
        assert_eq!(small.dimensions(), (2, 2));
        assert_eq!(small.as_raw(), &[30, 50, 130, 150]);
    }
}

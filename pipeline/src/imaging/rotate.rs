//! Rotation of page images about their centre by any angle: same size, white fill, bilinear.
//!
//! Hand-written rather than imageproc's generic `warp` because this is on every page's path and
//! the generic version costs about half a second on a 300-dpi A4 page (it evaluates a projective
//! transform in floating point per pixel through the generic pixel API); walking each output row
//! with fixed-point increments does the same bilinear work in a few tens of milliseconds.
//! Bilinear sampling is what Leptonica's area-mapping rotation amounts to and is what OCR needs;
//! it softens edges by a fraction of a pixel, which matters neither to tesseract nor to JPEG.

/// Fractional bits of the fixed-point source coordinates.
const FRAC_BITS: u32 = 16;
const ONE: i64 = 1 << FRAC_BITS;

/// Turns an interleaved 8-bit image with `channels` samples per pixel counter-clockwise (as seen
/// on screen) by `angle_deg` about its centre. Pixels whose source falls outside take `fill`.
pub(crate) fn rotate_raw(
    src: &[u8],
    width: u32,
    height: u32,
    channels: usize,
    angle_deg: f32,
    fill: u8,
) -> Vec<u8> {
    let (w, h) = (width as i64, height as i64);
    let mut out = vec![fill; src.len()];
    if w == 0 || h == 0 {
        return out;
    }
    let (s, c) = f64::from(angle_deg).to_radians().sin_cos();
    let (cx, cy) = ((w - 1) as f64 / 2.0, (h - 1) as f64 / 2.0);
    // Output (x, y) samples the source at (x'c - y's + cx, x's + y'c + cy), primes relative to
    // the centre: the inverse of a counter-clockwise turn in y-down coordinates.
    let to_fixed = |v: f64| (v * ONE as f64).round() as i64;
    let (step_x, step_y) = (to_fixed(c), to_fixed(s));
    let stride = w as usize * channels;
    for (y, row) in out.chunks_exact_mut(stride).enumerate() {
        let yr = y as f64 - cy;
        let mut sx = to_fixed(-cx * c - yr * s + cx);
        let mut sy = to_fixed(-cx * s + yr * c + cy);
        for pixel in row.chunks_exact_mut(channels) {
            let (x0, y0) = (sx >> FRAC_BITS, sy >> FRAC_BITS);
            // Sources entirely outside (more than one pixel beyond an edge) keep the fill.
            if x0 >= -1 && y0 >= -1 && x0 < w && y0 < h {
                let fx = ((sx >> (FRAC_BITS - 8)) & 0xFF) as u32;
                let fy = ((sy >> (FRAC_BITS - 8)) & 0xFF) as u32;
                let inside = x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h;
                if inside {
                    let i = (y0 as usize * w as usize + x0 as usize) * channels;
                    for (ch, value) in pixel.iter_mut().enumerate() {
                        let top = u32::from(src[i + ch]) * (256 - fx)
                            + u32::from(src[i + channels + ch]) * fx;
                        let bottom = u32::from(src[i + stride + ch]) * (256 - fx)
                            + u32::from(src[i + stride + channels + ch]) * fx;
                        *value = ((top * (256 - fy) + bottom * fy + (1 << 15)) >> 16) as u8;
                    }
                    sx += step_x;
                    sy += step_y;
                    continue;
                }
                // Along the edges some neighbours are outside and count as fill.
                for (ch, value) in pixel.iter_mut().enumerate() {
                    let at = |x: i64, y: i64| -> u32 {
                        if x >= 0 && y >= 0 && x < w && y < h {
                            u32::from(src[(y as usize * w as usize + x as usize) * channels + ch])
                        } else {
                            u32::from(fill)
                        }
                    };
                    let top = at(x0, y0) * (256 - fx) + at(x0 + 1, y0) * fx;
                    let bottom = at(x0, y0 + 1) * (256 - fx) + at(x0 + 1, y0 + 1) * fx;
                    *value = ((top * (256 - fy) + bottom * fy + (1 << 15)) >> 16) as u8;
                }
            }
            sx += step_x;
            sy += step_y;
        }
    }
    out
}

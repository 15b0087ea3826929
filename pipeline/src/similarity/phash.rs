//! The perceptual hash of a page image: the page shrunk to about 50 dpi, then a 16×16 DCT
//! median hash (pHash) from `image_hasher`.
//!
//! Chosen by measurement (`tests/similarity_rescans.rs`): on text-free plates rescanned at
//! 75–200 dpi, 0.7–2° skew and JPEG quality 15–50, the DCT median hash kept rescans at 0.875 or
//! more similar while different plates stayed under 0.66; mean, gradient and block hashes
//! separated the two less well, and cropping to the printed area first made rescans worse
//! (a skewed page's ink box is not the straight one's). No perceptual hash tells apart two
//! text pages set in the same layout, so text pages are compared by their words.

use image::GrayImage;
use image_hasher::{HashAlg, HasherConfig, ImageHash};

use crate::imaging::shrink::box_shrink;

/// Pages are shrunk to about this resolution before cropping and hashing.
const HASH_DPI: f32 = 50.0;
const HASH_SIDE: u32 = 16;

/// The perceptual hash of a page scanned at `dpi`, as bytes (32 bytes for 256 bits).
pub fn perceptual_hash(page: &GrayImage, dpi: f32) -> Vec<u8> {
    let factor = (dpi / HASH_DPI).floor() as u32;
    let small = if factor >= 2 {
        box_shrink(page, factor)
    } else {
        page.clone()
    };
    let hasher = HasherConfig::new()
        .hash_size(HASH_SIDE, HASH_SIDE)
        .hash_alg(HashAlg::Median)
        .preproc_dct()
        .to_hasher();
    hasher.hash_image(&small).as_bytes().to_vec()
}

/// 1 for equal hashes, 0 for hashes differing in every bit; 0 when they cannot be compared.
pub fn phash_similarity(a: &[u8], b: &[u8]) -> f32 {
    let (Ok(ha), Ok(hb)) = (
        ImageHash::<Box<[u8]>>::from_bytes(a),
        ImageHash::<Box<[u8]>>::from_bytes(b),
    ) else {
        return 0.0;
    };
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    1.0 - ha.dist(&hb) as f32 / (a.len() * 8) as f32
}

//! TIFF pages that neither the `tiff` crate nor our fax glue decode, read through libtiff by
//! way of leptonica (which tesseract links already, so no new native library comes in):
//! two-dimensional CCITT Group 3 and CCITT modified-Huffman RLE. Older fax-era scanners and
//! document systems write both; current scanners write Group 4.
//!
//! Only bilevel pages come through here; anything else leptonica returns is refused by the
//! caller as damaged.

use std::ffi::CString;
use std::path::Path;

use image::GrayImage;
use leptonica_sys::{pixDestroy, pixGetData, pixGetDepth, pixGetHeight, pixGetWidth, pixGetWpl};

/// Page `index` (0-based) of `file` as black-on-white pixels, or `None` when libtiff cannot
/// read it or it is not one bit deep.
pub(super) fn read_bilevel(file: &Path, index: usize) -> Option<GrayImage> {
    let path = CString::new(file.as_os_str().as_encoded_bytes()).ok()?;
    let index = i32::try_from(index).ok()?;
    // SAFETY: `path` is a valid C string for the call; the PIX returned is owned here and
    // destroyed exactly once below, after its data has been copied out.
    unsafe {
        let mut pix = leptonica_sys::pixReadTiff(path.as_ptr(), index);
        if pix.is_null() {
            return None;
        }
        let image = copy_bilevel(pix);
        pixDestroy(&mut pix);
        image
    }
}

/// Leptonica keeps 1-bit rows in 32-bit words, most significant bit first, 1 meaning black
/// (it has already applied the file's photometric interpretation).
unsafe fn copy_bilevel(pix: *mut leptonica_sys::PIX) -> Option<GrayImage> {
    // SAFETY: the caller passes a live PIX; its data holds `wpl * height` words.
    unsafe {
        if pixGetDepth(pix) != 1 {
            return None;
        }
        let width = u32::try_from(pixGetWidth(pix)).ok()?;
        let height = u32::try_from(pixGetHeight(pix)).ok()?;
        let wpl = usize::try_from(pixGetWpl(pix)).ok()?;
        let data = pixGetData(pix);
        if data.is_null() {
            return None;
        }
        let words = std::slice::from_raw_parts(data, wpl * height as usize);
        let mut img = GrayImage::new(width, height);
        for (y, row) in words.chunks_exact(wpl).enumerate() {
            for x in 0..width as usize {
                let black = (row[x / 32] >> (31 - (x % 32))) & 1 == 1;
                img.put_pixel(
                    x as u32,
                    y as u32,
                    image::Luma([if black { 0 } else { 255 }]),
                );
            }
        }
        Some(img)
    }
}

//! Large colour JPEGs decoded straight into YCbCr planes by libjpeg-turbo's TurboJPEG API
//! (`tjDecompressToYUVPlanes`), so that the page never exists as one interleaved RGB buffer:
//! a 250-megapixel 4:2:0 JPEG becomes its 375 MB of planes where `zune-jpeg` (what `image`
//! uses, and what every other JPEG still goes through) makes 750 MB of RGB first.
//!
//! Hand-rolled FFI rather than a binding crate: no crate links the system library without
//! building libjpeg-turbo from C source, and what is needed is five functions around an opaque
//! handle, declared here from Debian's `/usr/include/turbojpeg.h` (libjpeg-turbo 2.1, the
//! TurboJPEG 2 API; package `libturbojpeg0-dev`, installed by `scripts/bootstrap`). The handle
//! is freed on drop, and every failure becomes a [`PipelineError`] naming the file and page.
//!
//! Only JPEGs whose planes are 4:2:0 already (used as they are) or 4:2:2 / 4:4:0 (chroma
//! halved in place to 4:2:0) come this way, and only for pages above the colour-planes
//! threshold; 4:4:4, 4:1:1, grey, CMYK and RGB-coded JPEGs keep the whole decode through
//! `image` (see [`decode_ycc420`]).

use std::ffi::{CStr, c_char, c_int, c_uchar, c_ulong, c_void};
use std::ptr::NonNull;

use image::GrayImage;

use super::damaged;
use crate::error::{Location, Result};
use crate::page::Raster;
use crate::ycc;

// `enum TJSAMP` and `enum TJCS` in turbojpeg.h.
const TJSAMP_422: c_int = 1;
const TJSAMP_420: c_int = 2;
const TJSAMP_440: c_int = 4;
const TJCS_YCBCR: c_int = 1;
// `tjGetErrorCode`: a warning (the image was decoded, damaged) or a fatal error.
const TJERR_FATAL: c_int = 1;

#[link(name = "turbojpeg")]
unsafe extern "C" {
    fn tjInitDecompress() -> *mut c_void;
    fn tjDecompressHeader3(
        handle: *mut c_void,
        jpeg_buf: *const c_uchar,
        jpeg_size: c_ulong,
        width: *mut c_int,
        height: *mut c_int,
        jpeg_subsamp: *mut c_int,
        jpeg_colorspace: *mut c_int,
    ) -> c_int;
    fn tjDecompressToYUVPlanes(
        handle: *mut c_void,
        jpeg_buf: *const c_uchar,
        jpeg_size: c_ulong,
        dst_planes: *mut *mut c_uchar,
        width: c_int,
        strides: *mut c_int,
        height: c_int,
        flags: c_int,
    ) -> c_int;
    fn tjDestroy(handle: *mut c_void) -> c_int;
    fn tjGetErrorStr2(handle: *mut c_void) -> *mut c_char;
    fn tjGetErrorCode(handle: *mut c_void) -> c_int;
}

/// Chroma subsampling of a YCbCr JPEG, as far as this module decodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subsampling {
    /// Chroma at half width and half height: the planes are [`ycc::Ycc420`] as they come.
    S420,
    /// Chroma at half width, full height.
    S422,
    /// Chroma at full width, half height.
    S440,
}

/// What the JPEG's header says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub width: u32,
    pub height: u32,
    /// `None` for whatever [`decode_ycc420`] leaves to the whole decode: not YCbCr, or
    /// subsampled 4:4:4, 4:1:1 or otherwise.
    pub subsampling: Option<Subsampling>,
}

/// A TurboJPEG decompressor handle, destroyed on drop.
struct Decompressor(NonNull<c_void>);

impl Decompressor {
    fn new(at: &Location) -> Result<Decompressor> {
        // SAFETY: no arguments; a null return means failure (out of memory).
        let handle = unsafe { tjInitDecompress() };
        NonNull::new(handle)
            .map(Decompressor)
            .ok_or_else(|| damaged(at.clone(), "JPEG image: libjpeg-turbo could not start"))
    }

    /// The library's message for the last failure, as a pipeline error for `at`. Truncation
    /// reads as truncation ("Premature end of JPEG file"), anything else as corruption.
    fn error(&self, at: &Location) -> crate::error::PipelineError {
        // SAFETY: the handle is live; the string is owned by the handle (or static) and is
        // copied before the handle is used again.
        let message = unsafe {
            let s = tjGetErrorStr2(self.0.as_ptr());
            if s.is_null() {
                "unknown libjpeg-turbo error".to_string()
            } else {
                CStr::from_ptr(s).to_string_lossy().into_owned()
            }
        };
        let message = message
            .strip_prefix("tjDecompressHeader3(): ")
            .or_else(|| message.strip_prefix("tjDecompressToYUVPlanes(): "))
            .unwrap_or(&message)
            .to_string();
        let reason = if message.contains("Premature end") {
            format!("JPEG image: truncated ({message})")
        } else {
            format!("JPEG image: {message}")
        };
        damaged(at.clone(), reason)
    }

    fn header(&mut self, jpeg: &[u8], at: &Location) -> Result<Header> {
        let (mut width, mut height, mut subsamp, mut colorspace) = (0, 0, -1, -1);
        // SAFETY: the handle is live, `jpeg` is valid for its length, and the four outputs
        // are valid `int`s.
        let status = unsafe {
            tjDecompressHeader3(
                self.0.as_ptr(),
                jpeg.as_ptr(),
                jpeg.len() as c_ulong,
                &mut width,
                &mut height,
                &mut subsamp,
                &mut colorspace,
            )
        };
        if status != 0 {
            return Err(self.error(at));
        }
        let subsampling = match (colorspace, subsamp) {
            (TJCS_YCBCR, TJSAMP_420) => Some(Subsampling::S420),
            (TJCS_YCBCR, TJSAMP_422) => Some(Subsampling::S422),
            (TJCS_YCBCR, TJSAMP_440) => Some(Subsampling::S440),
            _ => None,
        };
        match (u32::try_from(width), u32::try_from(height)) {
            (Ok(width), Ok(height)) if width > 0 && height > 0 => Ok(Header {
                width,
                height,
                subsampling,
            }),
            _ => Err(damaged(
                at.clone(),
                format!("JPEG image: the header states {width}×{height} pixels"),
            )),
        }
    }

    /// Decodes the whole image, unscaled, into `planes`, each `widths[i]` bytes a row and
    /// tightly packed, sized for the header's subsampling (checked by the caller).
    fn decode_planes(
        &mut self,
        jpeg: &[u8],
        header: &Header,
        planes: [&mut [u8]; 3],
        at: &Location,
    ) -> Result<()> {
        let mut ptrs = planes.map(|p| p.as_mut_ptr());
        // SAFETY: the handle is live, `jpeg` is valid for its length, and each plane holds
        // exactly the plane size TurboJPEG writes for these dimensions and subsampling with
        // null strides (`tjPlaneWidth` × `tjPlaneHeight`), which `plane_sizes` computes.
        let status = unsafe {
            tjDecompressToYUVPlanes(
                self.0.as_ptr(),
                jpeg.as_ptr(),
                jpeg.len() as c_ulong,
                ptrs.as_mut_ptr(),
                header.width as c_int,
                std::ptr::null_mut(),
                header.height as c_int,
                0,
            )
        };
        // SAFETY: the handle is live.
        if status == 0 || unsafe { tjGetErrorCode(self.0.as_ptr()) } != TJERR_FATAL {
            // A warning: the image was decoded from damaged data (a truncated file decodes
            // with its missing rows grey, a bad Huffman code with a damaged block). Accepted,
            // as the whole decode (`zune-jpeg`) accepts it for every other JPEG page.
            return Ok(());
        }
        Err(self.error(at))
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: the handle came from `tjInitDecompress` and is destroyed exactly once.
        unsafe {
            tjDestroy(self.0.as_ptr());
        }
    }
}

/// The JPEG's header, read by libjpeg-turbo.
pub(crate) fn header(jpeg: &[u8], at: &Location) -> Result<Header> {
    Decompressor::new(at)?.header(jpeg, at)
}

/// (width, height) of the luma plane and of each chroma plane as TurboJPEG writes them
/// (`tjPlaneWidth`, `tjPlaneHeight`): the luma plane is padded to a whole number of chroma
/// samples, so a page of odd width or height gets one more column or row of it.
fn plane_sizes(width: u32, height: u32, s: Subsampling) -> [(usize, usize); 2] {
    let (w, h) = (width as usize, height as usize);
    let (half_w, half_h) = (w.div_ceil(2), h.div_ceil(2));
    match s {
        Subsampling::S420 => [(2 * half_w, 2 * half_h), (half_w, half_h)],
        Subsampling::S422 => [(2 * half_w, h), (half_w, h)],
        Subsampling::S440 => [(w, 2 * half_h), (w, half_h)],
    }
}

/// Drops the padding columns and rows of a `padded_width`-wide plane, in its own buffer.
fn unpad(mut plane: Vec<u8>, padded_width: usize, width: usize, height: usize) -> Vec<u8> {
    if padded_width != width {
        for y in 1..height {
            plane.copy_within(y * padded_width..y * padded_width + width, y * width);
        }
    }
    if plane.len() != width * height {
        plane.truncate(width * height);
        plane.shrink_to_fit();
    }
    plane
}

/// A colour JPEG decoded straight into 4:2:0 planes: the luma plane at full resolution and
/// chroma as libjpeg-turbo decodes it (no colour conversion, no chroma upsampling), 4:2:2 and
/// 4:4:0 chroma halved in place. The peak is the planes (1.5 bytes a pixel; 2 for a moment for
/// 4:2:2 and 4:4:0) and libjpeg-turbo's work space (an MCU row for a sequential JPEG, the whole
/// coefficient buffer for a progressive one). A page whose chroma is neutral everywhere
/// becomes grey, as it would through RGB.
///
/// `Ok(None)` for a JPEG this does not decode (not YCbCr, subsampled 4:4:4, 4:1:1 or
/// otherwise, or a header libjpeg-turbo cannot classify): the caller decodes it whole. A
/// JPEG that fails to decode is an error for `at`, truncated or corrupt.
pub(crate) fn decode_ycc420(jpeg: &[u8], at: &Location) -> Result<Option<(Header, Raster)>> {
    let mut tj = Decompressor::new(at)?;
    // A header libjpeg-turbo refuses (it also refuses sampling factors it cannot name) is left
    // to the whole decode, whose error the page then gets as every other JPEG does.
    let Ok(header) = tj.header(jpeg, at) else {
        return Ok(None);
    };
    let Some(subsampling) = header.subsampling else {
        return Ok(None);
    };
    let [(pw, ph), (cw, ch)] = plane_sizes(header.width, header.height, subsampling);
    // Zeroed allocations are fresh pages from the system: nothing is touched before the
    // decoder writes it.
    let mut luma = vec![0u8; pw * ph];
    let mut cb = vec![0u8; cw * ch];
    let mut cr = vec![0u8; cw * ch];
    tj.decode_planes(jpeg, &header, [&mut luma, &mut cb, &mut cr], at)?;
    drop(tj);
    let luma = unpad(luma, pw, header.width as usize, header.height as usize);
    let (cb, cr) = match subsampling {
        Subsampling::S420 => (cb, cr),
        Subsampling::S422 => (
            ycc::halve_rows_in_place(cb, cw, ch),
            ycc::halve_rows_in_place(cr, cw, ch),
        ),
        Subsampling::S440 => (
            ycc::halve_columns_in_place(cb, cw, ch),
            ycc::halve_columns_in_place(cr, cw, ch),
        ),
    };
    let (width, height) = (header.width, header.height);
    let (cw, ch) = ycc::chroma_size(width, height);
    let luma = GrayImage::from_raw(width, height, luma).expect("one luma sample a pixel");
    let cb = GrayImage::from_raw(cw, ch, cb).expect("sized to the plane");
    let cr = GrayImage::from_raw(cw, ch, cr).expect("sized to the plane");
    Ok(Some((header, ycc::Ycc420::from_planes(luma, cb, cr))))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::error::PipelineError;
    use crate::ycc::Ycc420;
    use image::RgbImage;

    /// A colour scan in miniature: dark blue strokes 4 to 6 pixels wide on paper whose tint
    /// drifts slowly, odd-sized so that every plane ends in a half block. (Chroma that changes
    /// every pixel or two would measure the decoders' chroma upsampling filters instead: the
    /// whole decode blurs chroma before it is averaged back.)
    pub(crate) fn picture(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            if (x / 6 + y / 4) % 5 == 0 && (y / 16) % 2 == 0 {
                image::Rgb([30, 40, 110])
            } else {
                image::Rgb([
                    (230 - x / 8) as u8,
                    (215 - (x + y) / 10) as u8,
                    (170 + y / 6) as u8,
                ])
            }
        })
    }

    pub(crate) fn jpeg(img: &RgbImage, sampling: jpeg_encoder::SamplingFactor) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut out, 90);
        enc.set_sampling_factor(sampling);
        enc.encode(
            img.as_raw(),
            img.width() as u16,
            img.height() as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
        out
    }

    fn planes(r: Raster) -> Ycc420 {
        match r {
            Raster::Ycc420(p) => p,
            other => panic!("expected planes, got {:?}", other.dimensions()),
        }
    }

    /// (mean, max) absolute difference of two planes of the same size.
    fn difference(a: &GrayImage, b: &GrayImage) -> (f64, u8) {
        assert_eq!(a.dimensions(), b.dimensions());
        let (mut sum, mut max) = (0u64, 0u8);
        for (x, y) in a.as_raw().iter().zip(b.as_raw()) {
            let d = x.abs_diff(*y);
            sum += u64::from(d);
            max = max.max(d);
        }
        (sum as f64 / a.as_raw().len() as f64, max)
    }

    #[test]
    fn subsampled_jpegs_decode_to_the_planes_of_the_whole_decode() {
        use jpeg_encoder::SamplingFactor as S;
        let at = Location::page("planes.jpg", 1);
        let img = picture(203, 131);
        for (sampling, expect) in [
            (S::R_4_2_0, Subsampling::S420),
            (S::R_4_2_2, Subsampling::S422),
            (S::R_4_4_0, Subsampling::S440),
        ] {
            let data = jpeg(&img, sampling);
            let (header, raster) = decode_ycc420(&data, &at)
                .unwrap()
                .unwrap_or_else(|| panic!("{sampling:?} should decode into planes"));
            assert_eq!(header.subsampling, Some(expect));
            let direct = planes(raster);
            // What the page was before: the whole RGB decode, converted to planes.
            let whole = image::load_from_memory_with_format(&data, image::ImageFormat::Jpeg)
                .unwrap()
                .into_rgb8();
            let converted = planes(Ycc420::from_rgb_in_place(whole));
            assert_eq!(direct.luma.dimensions(), (203, 131));
            assert_eq!(direct.cb.dimensions(), (102, 66));
            // The picture's own planes, what the JPEG was made from.
            let source = planes(Ycc420::from_rgb_in_place(img.clone()));
            for (what, a, b, s) in [
                ("luma", &direct.luma, &converted.luma, &source.luma),
                ("cb", &direct.cb, &converted.cb, &source.cb),
                ("cr", &direct.cr, &converted.cr, &source.cr),
            ] {
                let (mean, max) = difference(a, b);
                let bias = a
                    .as_raw()
                    .iter()
                    .zip(b.as_raw())
                    .map(|(x, y)| f64::from(*x) - f64::from(*y))
                    .sum::<f64>()
                    / a.as_raw().len() as f64;
                let (off_direct, _) = difference(a, s);
                let (off_whole, _) = difference(b, s);
                let report = format!(
                    "{sampling:?} {what}: mean {mean:.2}, max {max}, bias {bias:.2}; \
                     from the picture: {off_direct:.2} direct, {off_whole:.2} whole"
                );
                if what == "luma" {
                    // The same samples through two IDCTs: rounding only.
                    assert!(mean < 0.1 && max <= 2, "{report}");
                } else {
                    // The whole decode upsamples chroma with a smoothing filter before it is
                    // averaged back, which moves samples at colour edges by a few levels
                    // (measured: mean 0.5 to 2.4, max 18); never a shift, and the planes
                    // taken as they are stay as close to the picture as that.
                    assert!(mean < 3.0 && max <= 24 && bias.abs() < 0.5, "{report}");
                    assert!(off_direct <= off_whole + 0.25, "{report}");
                }
            }
        }
    }

    #[test]
    fn other_jpegs_are_left_to_the_whole_decode() {
        let at = Location::page("other.jpg", 1);
        let img = picture(40, 24);
        let full = jpeg(&img, jpeg_encoder::SamplingFactor::R_4_4_4);
        assert!(decode_ycc420(&full, &at).unwrap().is_none(), "4:4:4");
        let mut grey = Vec::new();
        jpeg_encoder::Encoder::new(&mut grey, 90)
            .encode(&[128u8; 40 * 24], 40, 24, jpeg_encoder::ColorType::Luma)
            .unwrap();
        assert!(decode_ycc420(&grey, &at).unwrap().is_none(), "grey");
        assert!(decode_ycc420(b"not a jpeg", &at).unwrap().is_none());
        // Neutral chroma everywhere: a grey page, as through RGB.
        let neutral = RgbImage::from_fn(40, 24, |x, _| image::Rgb([(x * 6) as u8; 3]));
        let data = jpeg(&neutral, jpeg_encoder::SamplingFactor::R_4_2_0);
        let (_, raster) = decode_ycc420(&data, &at).unwrap().unwrap();
        assert!(matches!(raster, Raster::Gray(_)), "{raster:?}");
    }

    #[test]
    fn a_corrupt_jpeg_is_an_error_naming_its_page() {
        let at = Location::page("broken.jpg", 3);
        let mut data = jpeg(&picture(64, 48), jpeg_encoder::SamplingFactor::R_4_2_0);
        // Point every quantisation table at slot 3, which no component uses: the header still
        // reads, the decode fails.
        let mut pos = 2;
        while data[pos + 1] != 0xDA {
            let len = usize::from(u16::from_be_bytes([data[pos + 2], data[pos + 3]]));
            if data[pos + 1] == 0xDB {
                let mut t = pos + 4;
                while t < pos + 2 + len {
                    let precision = data[t] >> 4;
                    data[t] = (precision << 4) | 3;
                    t += 1 + 64 * (1 + usize::from(precision));
                }
            }
            pos += 2 + len;
        }
        assert!(header(&data, &at).is_ok());
        let err = decode_ycc420(&data, &at).expect_err("undefined quantisation table");
        assert!(matches!(err, PipelineError::Corrupt { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("broken.jpg, page 3"), "{text}");
        assert!(text.contains("JPEG image: Quantization table"), "{text}");
    }

    #[test]
    fn a_truncated_jpeg_decodes_as_the_whole_decode_takes_it() {
        let at = Location::page("cut.jpg", 1);
        let data = jpeg(&picture(96, 64), jpeg_encoder::SamplingFactor::R_4_2_0);
        let cut = &data[..data.len() * 2 / 3];
        assert!(image::load_from_memory_with_format(cut, image::ImageFormat::Jpeg).is_ok());
        let (_, raster) = decode_ycc420(cut, &at).unwrap().unwrap();
        assert_eq!(raster.dimensions(), (96, 64));
    }
}

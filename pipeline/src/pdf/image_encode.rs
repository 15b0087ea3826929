//! Page images for the PDF: bilevel pages as CCITT G4, grey and colour as JPEG or Flate, and
//! images lifted from an input PDF copied as they were.
//!
//! JPEG or Flate: scans of paper are continuous-tone and compress an order of magnitude better
//! as JPEG; images with only a handful of distinct values (line art, a palette, flat colour)
//! are smaller and sharper as Flate, and JPEG would ring around their edges.

use std::collections::HashSet;

use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, GrayImage, ImageEncoder};
use lopdf::{Dictionary, Object, Stream};
use serde::Serialize;

use super::writer::deflate;
use crate::page::{EmbeddedImage, Raster};
use crate::ycc::Ycc420;

/// How a page image ended up encoded; reported per page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageEncoding {
    CcittG4,
    Jpeg,
    Flate,
    /// The input PDF's own image stream, untouched.
    Passthrough,
}

/// An image XObject ready to write: dictionary (without Type/Subtype/Length) and data.
#[derive(Debug, Clone)]
pub struct EncodedImage {
    pub dict: Dictionary,
    pub data: Vec<u8>,
    pub icc_profile: Option<Stream>,
    pub encoding: ImageEncoding,
}

/// At most this many distinct values and an image counts as flat, not continuous-tone.
const FLAT_LEVELS: usize = 64;

pub fn encode(raster: &Raster, jpeg_quality: u8) -> EncodedImage {
    let (w, h) = raster.dimensions();
    match raster {
        Raster::Bilevel(img) => ccitt_g4(img),
        Raster::Gray(img) => {
            let mut seen = [false; 256];
            img.as_raw().iter().for_each(|&v| seen[v as usize] = true);
            let levels = seen.iter().filter(|&&s| s).count();
            if levels <= FLAT_LEVELS {
                flate(img.as_raw(), w, h, b"DeviceGray")
            } else {
                jpeg(
                    img.as_raw(),
                    w,
                    h,
                    ExtendedColorType::L8,
                    b"DeviceGray",
                    jpeg_quality,
                )
            }
        }
        Raster::Rgb(img) => {
            let mut seen = HashSet::new();
            let flat = img.pixels().all(|p| {
                seen.insert(p.0);
                seen.len() <= FLAT_LEVELS
            });
            if flat {
                flate(img.as_raw(), w, h, b"DeviceRGB")
            } else {
                jpeg(
                    img.as_raw(),
                    w,
                    h,
                    ExtendedColorType::Rgb8,
                    b"DeviceRGB",
                    jpeg_quality,
                )
            }
        }
        Raster::Ycc420(planes) => {
            if planes_are_flat(planes) {
                flate_planes(planes)
            } else {
                jpeg_planes(planes, jpeg_quality)
            }
        }
    }
}

/// Whether a page held as planes has at most [`FLAT_LEVELS`] colours, judged row by row on
/// the colours it shows (chroma is at half resolution, so colour edges of a flat page blend
/// and most such pages are JPEG'd like any other).
fn planes_are_flat(planes: &Ycc420) -> bool {
    let mut seen = HashSet::new();
    let mut row = Vec::new();
    for y in 0..planes.luma.height() {
        planes.rgb_row(y, &mut row);
        let mut last = None;
        for px in row.chunks_exact(3) {
            if last == Some(px) {
                continue;
            }
            last = Some(px);
            seen.insert([px[0], px[1], px[2]]);
            if seen.len() > FLAT_LEVELS {
                return false;
            }
        }
    }
    true
}

/// Flate of the page's RGB rows, made one row at a time into the deflater.
fn flate_planes(planes: &Ycc420) -> EncodedImage {
    use std::io::Write;
    let (w, h) = planes.dimensions();
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    let mut row = Vec::with_capacity(w as usize * 3);
    for y in 0..h {
        planes.rgb_row(y, &mut row);
        enc.write_all(&row).expect("writing to a Vec cannot fail");
    }
    let mut dict = base_dict(w, h, 8, b"DeviceRGB");
    dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
    EncodedImage {
        dict,
        data: enc.finish().expect("writing to a Vec cannot fail"),
        icc_profile: None,
        encoding: ImageEncoding::Flate,
    }
}

/// The planes as the JPEG encoder reads them: YCbCr rows, chroma repeated over the pixels it
/// covers (the encoder averages each 2×2 block back to the same value at 4:2:0).
struct PlanesForJpeg<'a> {
    planes: &'a Ycc420,
    width: u16,
    height: u16,
}

impl jpeg_encoder::ImageBuffer for PlanesForJpeg<'_> {
    fn get_jpeg_color_type(&self) -> jpeg_encoder::JpegColorType {
        jpeg_encoder::JpegColorType::Ycbcr
    }

    fn width(&self) -> u16 {
        self.width
    }

    fn height(&self) -> u16 {
        self.height
    }

    fn fill_buffers(&self, y: u16, buffers: &mut [Vec<u8>; 4]) {
        let [luma, cb, cr, _] = buffers;
        self.planes.ycbcr_row(u32::from(y), |l, b, r| {
            luma.push(l);
            cb.push(b);
            cr.push(r);
        });
    }
}

/// JPEG at 4:2:0, streamed from the planes an MCU row at a time: the page's chroma is already
/// at half resolution, so 4:4:4 would only store it four times over.
fn jpeg_planes(planes: &Ycc420, quality: u8) -> EncodedImage {
    let (w, h) = planes.dimensions();
    let (Ok(width), Ok(height)) = (u16::try_from(w), u16::try_from(h)) else {
        // Beyond JPEG's 65535-pixel limit: lossless, larger, but no page is refused for it.
        return flate_planes(planes);
    };
    let mut data = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut data, quality.clamp(1, 100));
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    encoder
        .encode_image(PlanesForJpeg {
            planes,
            width,
            height,
        })
        .expect("encoding well-formed planes to a Vec cannot fail");
    let mut dict = base_dict(w, h, 8, b"DeviceRGB");
    dict.set("Filter", Object::Name(b"DCTDecode".to_vec()));
    EncodedImage {
        dict,
        data,
        icc_profile: None,
        encoding: ImageEncoding::Jpeg,
    }
}

pub fn passthrough(embedded: EmbeddedImage) -> EncodedImage {
    EncodedImage {
        dict: embedded.dict,
        data: embedded.data,
        icc_profile: embedded.icc_profile,
        encoding: ImageEncoding::Passthrough,
    }
}

fn base_dict(w: u32, h: u32, bpc: i64, space: &[u8]) -> Dictionary {
    let mut d = Dictionary::new();
    d.set("Width", Object::Integer(w.into()));
    d.set("Height", Object::Integer(h.into()));
    d.set("BitsPerComponent", Object::Integer(bpc));
    d.set("ColorSpace", Object::Name(space.to_vec()));
    d
}

fn ccitt_g4(img: &GrayImage) -> EncodedImage {
    let (w, h) = img.dimensions();
    let mut enc = fax::encoder::Encoder::new(fax::VecWriter::new());
    for row in img.as_raw().chunks_exact(w as usize) {
        let pels = row.iter().map(|&v| {
            if v < 128 {
                fax::Color::Black
            } else {
                fax::Color::White
            }
        });
        enc.encode_line(pels, w)
            .expect("writing to a Vec cannot fail");
    }
    let data = enc.finish().expect("writing to a Vec cannot fail").finish();
    let mut dict = base_dict(w, h, 1, b"DeviceGray");
    dict.set("Filter", Object::Name(b"CCITTFaxDecode".to_vec()));
    let mut parms = Dictionary::new();
    parms.set("K", Object::Integer(-1));
    parms.set("Columns", Object::Integer(w.into()));
    parms.set("Rows", Object::Integer(h.into()));
    parms.set("BlackIs1", Object::Boolean(false));
    dict.set("DecodeParms", Object::Dictionary(parms));
    EncodedImage {
        dict,
        data,
        icc_profile: None,
        encoding: ImageEncoding::CcittG4,
    }
}

fn flate(raw: &[u8], w: u32, h: u32, space: &[u8]) -> EncodedImage {
    let mut dict = base_dict(w, h, 8, space);
    dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
    EncodedImage {
        dict,
        data: deflate(raw),
        icc_profile: None,
        encoding: ImageEncoding::Flate,
    }
}

fn jpeg(
    raw: &[u8],
    w: u32,
    h: u32,
    color: ExtendedColorType,
    space: &[u8],
    quality: u8,
) -> EncodedImage {
    let mut data = Vec::new();
    let kind = match color {
        ExtendedColorType::L8 => jpeg_encoder::ColorType::Luma,
        _ => jpeg_encoder::ColorType::Rgb,
    };
    match (u16::try_from(w), u16::try_from(h)) {
        (Ok(w16), Ok(h16)) => {
            let mut encoder = jpeg_encoder::Encoder::new(&mut data, quality.clamp(1, 100));
            // 4:4:4 like the `image` encoder used before: text edges in colour pages stay sharp.
            encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_4_4);
            encoder
                .encode(raw, w16, h16, kind)
                .expect("encoding a well-formed buffer to a Vec cannot fail");
        }
        // Beyond JPEG's own 65535-pixel limit the slower encoder reports the same limit.
        _ => JpegEncoder::new_with_quality(&mut data, quality.clamp(1, 100))
            .write_image(raw, w, h, color)
            .expect("encoding a well-formed buffer to a Vec cannot fail"),
    }
    let mut dict = base_dict(w, h, 8, space);
    dict.set("Filter", Object::Name(b"DCTDecode".to_vec()));
    EncodedImage {
        dict,
        data,
        icc_profile: None,
        encoding: ImageEncoding::Jpeg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_encoding_from_the_content() {
        let bilevel =
            GrayImage::from_fn(40, 20, |x, _| image::Luma([if x < 20 { 0 } else { 255 }]));
        assert_eq!(
            encode(&Raster::Bilevel(bilevel), 80).encoding,
            ImageEncoding::CcittG4
        );
        let flat = GrayImage::from_fn(40, 20, |x, _| image::Luma([(x % 4) as u8 * 60]));
        assert_eq!(
            encode(&Raster::Gray(flat), 80).encoding,
            ImageEncoding::Flate
        );
        let tone = GrayImage::from_fn(256, 4, |x, _| image::Luma([x as u8]));
        let jpeg = encode(&Raster::Gray(tone), 80);
        assert_eq!(jpeg.encoding, ImageEncoding::Jpeg);
        assert!(jpeg.data.starts_with(&[0xFF, 0xD8]));
    }

    /// A synthetic text page printed in dark blue on cream paper, with what is printed on it.
    fn colour_page() -> (image::RgbImage, String) {
        let spec = quire_testkit::synth::PageSpec {
            seed: 31,
            paper_in: (5.0, 3.0),
            ..quire_testkit::synth::PageSpec::default()
        };
        let page = quire_testkit::synth::render_page(&spec).unwrap();
        let (w, h) = page.image.dimensions();
        let mix = |ink: u32, paper: u32, v: u8| {
            ((ink * (255 - u32::from(v)) + paper * u32::from(v)) / 255) as u8
        };
        let rgb = image::RgbImage::from_fn(w, h, |x, y| {
            let v = page.image.get_pixel(x, y)[0];
            image::Rgb([mix(20, 250, v), mix(30, 240, v), mix(110, 205, v)])
        });
        (rgb, page.truth)
    }

    /// The luma sampling factors of a baseline JPEG (0x22 for 4:2:0, 0x11 for 4:4:4).
    fn luma_sampling(jpeg: &[u8]) -> u8 {
        let at = jpeg
            .windows(2)
            .position(|m| m == [0xFF, 0xC0])
            .expect("a baseline frame header");
        // Marker, length (2), precision, height (2), width (2), components, then id, sampling.
        jpeg[at + 11]
    }

    #[test]
    fn planes_encode_to_a_4_2_0_jpeg_of_the_same_picture() {
        let (rgb, _) = colour_page();
        let planes = match crate::ycc::Ycc420::from_rgb_in_place(rgb.clone()) {
            Raster::Ycc420(p) => p,
            other => panic!("a coloured page stays colour: {other:?}"),
        };
        let encoded = encode(&Raster::Ycc420(planes), 90);
        assert_eq!(encoded.encoding, ImageEncoding::Jpeg);
        assert_eq!(luma_sampling(&encoded.data), 0x22);
        let decoded = image::load_from_memory(&encoded.data).unwrap().to_rgb8();
        assert_eq!(decoded.dimensions(), rgb.dimensions());
        let diffs: Vec<u32> = rgb
            .as_raw()
            .iter()
            .zip(decoded.as_raw())
            .map(|(&a, &b)| u32::from(a.abs_diff(b)))
            .collect();
        let mean = diffs.iter().sum::<u32>() as f64 / diffs.len() as f64;
        // JPEG at 90 and chroma at half resolution: small on average, and the page's colours
        // (not grey, not swapped channels) come back.
        assert!(mean < 3.0, "mean difference {mean:.2}");
        let (paper, was) = (decoded.get_pixel(2, 2), rgb.get_pixel(2, 2));
        assert!(
            paper.0.iter().zip(was.0).all(|(&a, b)| a.abs_diff(b) <= 3),
            "{paper:?} was {was:?}"
        );
        assert!(was[2] + 30 < was[0], "the paper is cream: {was:?}");

        // Pages kept as RGB are still encoded 4:4:4.
        assert_eq!(luma_sampling(&encode(&Raster::Rgb(rgb), 90).data), 0x11);
    }

    #[test]
    fn text_of_a_page_encoded_from_planes_still_reads() {
        let (rgb, truth) = colour_page();
        let encoded = encode(&crate::ycc::Ycc420::from_rgb_in_place(rgb), 80);
        assert_eq!(encoded.encoding, ImageEncoding::Jpeg);
        let grey = image::load_from_memory(&encoded.data).unwrap().to_luma8();
        let (read, _) =
            crate::ocr::with_engine("eng", None, false, |engine| engine.recognize(&grey, 300))
                .unwrap();
        let text = read.unwrap().text();
        let cer = quire_testkit::synth::cer(&truth, &text);
        assert!(cer < 0.03, "CER {cer:.3}:\n{text}");
    }
}

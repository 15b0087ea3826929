//! PNG and JPEG pages: dimensions and resolution from the header, pixels through `image`.
//!
//! Resolution comes from the PNG `pHYs` chunk or the JPEG JFIF header; `image` does not expose
//! either, and both are a few bytes at a known place, so they are read here.

use std::io::Read;
use std::path::Path;

use image::{DynamicImage, ImageReader};

use super::damaged;
use crate::error::{Location, PipelineError, Result};
use crate::options::ProcessOptions;
use crate::page::{DecodedPage, Raster};

/// The pixel size and the bytes a pixel of the decoded page takes (see
/// [`super::raster_bytes_per_pixel`]), from the header.
pub(super) fn probe(file: &Path) -> Result<((u32, u32), usize)> {
    use image::ImageDecoder;
    let at = Location::page(file, 1);
    let reader = ImageReader::open(file)
        .map_err(|source| PipelineError::Read {
            at: at.clone(),
            source,
        })?
        .with_guessed_format()
        .map_err(|source| PipelineError::Read {
            at: at.clone(),
            source,
        })?;
    let decoder = reader.into_decoder().map_err(|e| damaged(at, e))?;
    let colour = decoder.color_type().has_color();
    Ok((decoder.dimensions(), if colour { 3 } else { 1 }))
}

/// Whether a colour JPEG, were it held as planes, would be decoded straight into them
/// ([`super::turbojpeg::decode_ycc420`]: YCbCr subsampled 4:2:0, 4:2:2 or 4:4:0, and
/// sequential, so that libjpeg-turbo needs no whole-image coefficient buffer), judged from the
/// head of the file. When the head does not tell, `false`: the memory budget then counts the
/// whole RGB decode, which is never less.
pub(super) fn jpeg_decodes_into_planes(file: &Path) -> bool {
    let mut head = Vec::new();
    let read =
        std::fs::File::open(file).and_then(|f| f.take(RESOLUTION_HEAD).read_to_end(&mut head));
    if read.is_err() || jpeg_frame_marker(&head).is_none_or(is_progressive) {
        return false;
    }
    super::turbojpeg::header(&head, &Location::page(file, 1)).is_ok_and(|h| h.subsampling.is_some())
}

/// Progressive (and lossless or hierarchical) frames need the whole image's coefficients
/// before the first row comes out; only baseline and extended sequential (SOF0, SOF1) and
/// their arithmetic-coded twin (SOF9) do not.
fn is_progressive(sof: u8) -> bool {
    !matches!(sof, 0xC0 | 0xC1 | 0xC9)
}

/// Bytes at the start of a file searched for its resolution: the JFIF header comes first, and
/// a PNG's `pHYs` must come before its image data, after at most a few small chunks (an ICC
/// profile is the largest).
const RESOLUTION_HEAD: u64 = 1 << 20;

/// Decodes the page; with `planes`, a colour PNG straight into YCbCr 4:2:0 planes row by row
/// (see [`png_planes`]). Other pages come as they always did, and [`super::PageRef::decode`]
/// converts a colour one to planes in its own buffer.
pub(super) fn decode(file: &Path, options: &ProcessOptions, planes: bool) -> Result<DecodedPage> {
    let at = Location::page(file, 1);
    let read_err = |source| PipelineError::Read {
        at: at.clone(),
        source,
    };
    // The decoder reads the file as it goes rather than from a copy in memory: a 250-megapixel
    // scan can be tens of megabytes even compressed.
    let open = || std::fs::File::open(file).map_err(read_err);
    let mut head = Vec::new();
    open()?
        .take(RESOLUTION_HEAD)
        .read_to_end(&mut head)
        .map_err(read_err)?;
    let stated = stated_dpi(&head);
    let png = head.starts_with(b"\x89PNG");
    drop(head);
    let page = |raster| DecodedPage {
        raster,
        dpi: stated.unwrap_or((options.fallback_dpi, options.fallback_dpi)),
        dpi_assumed: stated.is_none(),
        passthrough: None,
        had_text: false,
    };
    if planes
        && png
        && let Some(raster) = png_planes(file, &at)?
    {
        return Ok(page(raster));
    }
    if planes && !png {
        // TurboJPEG decodes from memory: the compressed file (a tenth of the planes' size or
        // less for a scan) is read whole.
        let jpeg = std::fs::read(file).map_err(read_err)?;
        if let Some((header, raster)) = super::turbojpeg::decode_ycc420(&jpeg, &at)? {
            super::check_pixel_limit(&at, header.width, header.height, options)?;
            return Ok(page(raster));
        }
    }
    let mut reader = ImageReader::new(std::io::BufReader::new(open()?))
        .with_guessed_format()
        .map_err(read_err)?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(u64::from(options.max_megapixels) * 1_000_000 * 4);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| damaged(at.clone(), e))?;
    Ok(page(raster_from_dynamic(img)))
}

/// A colour PNG decoded row by row into YCbCr 4:2:0 planes: no RGB buffer of the page is
/// made, only one row (two for the pair being converted). `None` for what this does not
/// stream (interlaced or grey images), which the whole-image path decodes instead.
fn png_planes(file: &Path, at: &Location) -> Result<Option<Raster>> {
    let f = std::fs::File::open(file).map_err(|source| PipelineError::Read {
        at: at.clone(),
        source,
    })?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(f));
    // Palettes expand to RGB(A), 16-bit samples keep their high byte.
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| damaged(at.clone(), e))?;
    let (width, height, interlaced) = {
        let info = reader.info();
        (info.width, info.height, info.interlaced)
    };
    let alpha = match reader.output_color_type() {
        (png::ColorType::Rgb, png::BitDepth::Eight) => false,
        (png::ColorType::Rgba, png::BitDepth::Eight) => true,
        _ => return Ok(None),
    };
    if interlaced {
        return Ok(None);
    }
    let mut planes = crate::ycc::YccBuilder::new(width, height);
    let mut rgb = Vec::with_capacity(width as usize * 3);
    while let Some(row) = reader.next_row().map_err(|e| damaged(at.clone(), e))? {
        if alpha {
            // On white paper, as the whole-image path puts transparency.
            rgb.clear();
            rgb.extend(row.data().chunks_exact(4).flat_map(|p| {
                let a = u32::from(p[3]);
                let over = move |c: u8| ((u32::from(c) * a + 255 * (255 - a)) / 255) as u8;
                [over(p[0]), over(p[1]), over(p[2])]
            }));
            planes.push_rgb_row(&rgb);
        } else {
            planes.push_rgb_row(row.data());
        }
    }
    let rows = planes.rows();
    planes.finish().map(Some).ok_or_else(|| {
        damaged(
            at.clone(),
            format!("truncated: only {rows} of {height} rows present"),
        )
    })
}

/// Bring any decoded image to grey or RGB, putting transparency on white paper.
pub(crate) fn raster_from_dynamic(img: DynamicImage) -> Raster {
    match img {
        DynamicImage::ImageLuma8(g) => Raster::from_gray(g),
        DynamicImage::ImageLuma16(_) => Raster::from_gray(img.into_luma8()),
        DynamicImage::ImageRgb8(rgb) => Raster::from_rgb(rgb),
        // Grey with transparency stays grey: through RGBA it would take 4 + 3 bytes a pixel.
        DynamicImage::ImageLumaA8(_) | DynamicImage::ImageLumaA16(_) => {
            let la = img.into_luma_alpha8();
            let (w, h) = la.dimensions();
            let grey = la
                .as_raw()
                .chunks_exact(2)
                .map(|p| {
                    let a = u32::from(p[1]);
                    ((u32::from(p[0]) * a + 255 * (255 - a)) / 255) as u8
                })
                .collect();
            drop(la);
            Raster::from_gray(image::GrayImage::from_raw(w, h, grey).expect("one sample a pixel"))
        }
        other if other.color().has_alpha() => {
            let rgba = other.into_rgba8();
            let (w, h) = rgba.dimensions();
            let rgb = image::RgbImage::from_fn(w, h, |x, y| {
                let p = rgba.get_pixel(x, y);
                let a = u32::from(p[3]);
                let over = |c: u8| ((u32::from(c) * a + 255 * (255 - a)) / 255) as u8;
                image::Rgb([over(p[0]), over(p[1]), over(p[2])])
            });
            Raster::from_rgb(rgb)
        }
        other => Raster::from_rgb(other.into_rgb8()),
    }
}

/// The marker of the JPEG's frame header (SOF0 to SOF15, not DHT, JPG or DAC), walking the
/// markers before it; `None` when `bytes` ends first or is not a JPEG.
fn jpeg_frame_marker(bytes: &[u8]) -> Option<u8> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2usize;
    while pos + 4 <= bytes.len() {
        if bytes[pos] != 0xFF {
            return None;
        }
        let marker = bytes[pos + 1];
        if marker == 0xFF {
            pos += 1; // fill byte
            continue;
        }
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            return Some(marker);
        }
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let len = u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]) as usize;
        pos += 2 + len;
    }
    None
}

fn stated_dpi(bytes: &[u8]) -> Option<(f32, f32)> {
    if bytes.starts_with(b"\x89PNG") {
        png_dpi(bytes)
    } else {
        jpeg_dpi(bytes)
    }
}

/// `pHYs`: pixels per unit, unit 1 = metre. Chunks before `IDAT` only.
fn png_dpi(bytes: &[u8]) -> Option<(f32, f32)> {
    let mut pos = 8;
    while pos + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().ok()?) as usize;
        let kind = &bytes[pos + 4..pos + 8];
        let body = bytes.get(pos + 8..pos + 8 + len)?;
        match kind {
            b"pHYs" if len == 9 && body[8] == 1 => {
                let x = u32::from_be_bytes(body[0..4].try_into().ok()?) as f32 * 0.0254;
                let y = u32::from_be_bytes(body[4..8].try_into().ok()?) as f32 * 0.0254;
                return (x > 0.0 && y > 0.0).then_some((x, y));
            }
            b"IDAT" | b"IEND" => return None,
            _ => {}
        }
        pos += 12 + len;
    }
    None
}

/// JFIF APP0 density: units 1 = per inch, 2 = per cm, 0 = aspect ratio only (no resolution).
fn jpeg_dpi(bytes: &[u8]) -> Option<(f32, f32)> {
    let mut r = std::io::Cursor::new(bytes);
    let mut buf = [0u8; 2];
    r.read_exact(&mut buf).ok()?;
    let mut pos = 2usize;
    while pos + 4 <= bytes.len() {
        if bytes[pos] != 0xFF {
            return None;
        }
        let marker = bytes[pos + 1];
        let len = u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]) as usize;
        let body = bytes.get(pos + 4..pos + 2 + len)?;
        if marker == 0xE0 && body.starts_with(b"JFIF\0") && body.len() >= 12 {
            let unit = body[7];
            let x = f32::from(u16::from_be_bytes([body[8], body[9]]));
            let y = f32::from(u16::from_be_bytes([body[10], body[11]]));
            return match unit {
                1 if x > 0.0 && y > 0.0 => Some((x, y)),
                2 if x > 0.0 && y > 0.0 => Some((x * 2.54, y * 2.54)),
                _ => None,
            };
        }
        if marker == 0xDA {
            return None;
        }
        pos += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_png_resolution_from_phys() {
        let mut png = Vec::new();
        image::GrayImage::new(4, 4)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        // Insert pHYs (11811 px/m = 300 dpi) right after IHDR (8 + 25 bytes).
        let body = [
            &11811u32.to_be_bytes()[..],
            &11811u32.to_be_bytes()[..],
            &[1u8][..],
        ]
        .concat();
        let mut crc = flate2::Crc::new();
        crc.update(b"pHYs");
        crc.update(&body);
        let chunk = [
            &9u32.to_be_bytes()[..],
            b"pHYs",
            &body,
            &crc.sum().to_be_bytes(),
        ]
        .concat();
        png.splice(33..33, chunk);
        let (x, y) = png_dpi(&png).expect("pHYs states a resolution");
        assert!(
            (x - 300.0).abs() < 0.1 && (y - 300.0).abs() < 0.1,
            "{x} {y}"
        );
        // linn.png has no pHYs: no resolution, not a guess.
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/linn.png");
        assert_eq!(png_dpi(&std::fs::read(corpus).unwrap()), None);
    }

    #[test]
    fn jfif_aspect_only_states_no_resolution() {
        let corpus = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/corpus/baiona_color.jpg"
        );
        let bytes = std::fs::read(corpus).unwrap();
        assert_eq!(jpeg_dpi(&bytes), None);
    }
}

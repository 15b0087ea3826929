//! TIFF pages, single or multi-page: uncompressed, LZW, Deflate, PackBits and CCITT G4 through
//! the `tiff` crate; CCITT Group 3 one-dimensional through our fax glue, since `tiff` lacks it;
//! two-dimensional Group 3 and CCITT RLE through libtiff ([`super::libtiff`]).
//!
//! Probing walks the IFD chain and reads only tags, so the pixel limit is judged before any
//! strip is read.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use image::{GrayImage, RgbImage};
use tiff::ColorType;
use tiff::decoder::{Decoder, DecodingResult, ifd::Value};
use tiff::tags::Tag;

use super::ccitt::{self, Polarity};
use super::{damaged, libtiff};
use crate::error::{Location, PipelineError, Result};
use crate::options::ProcessOptions;
use crate::page::{DecodedPage, Raster};

const COMPRESSION_CCITT_RLE: u32 = 2;
const COMPRESSION_CCITT_G3: u32 = 3;

fn open(file: &Path, at: &Location) -> Result<Decoder<BufReader<File>>> {
    let f = File::open(file).map_err(|source| PipelineError::Read {
        at: at.clone(),
        source,
    })?;
    Decoder::new(BufReader::new(f)).map_err(|e| damaged(at.clone(), e))
}

/// The pixel size of every page and the bytes a pixel of it takes once decoded (1 grey or
/// bilevel, 3 colour), from tags alone.
pub(crate) fn probe(file: &Path) -> Result<Vec<((u32, u32), usize)>> {
    let at = Location::file(file);
    let mut decoder = open(file, &at)?;
    let mut sizes = Vec::new();
    loop {
        let page_at = Location::page(file, sizes.len() + 1);
        let size = decoder
            .dimensions()
            .map_err(|e| damaged(page_at.clone(), e))?;
        // A colour type the decoder cannot name is refused when the page is decoded; until
        // then it counts as colour, the larger.
        let grey = matches!(
            decoder.colortype(),
            Ok(ColorType::Gray(_) | ColorType::GrayA(_))
        );
        sizes.push((size, if grey { 1 } else { 3 }));
        if !decoder.more_images() {
            break;
        }
        decoder.next_image().map_err(|e| damaged(page_at, e))?;
        if sizes.len() > 100_000 {
            return Err(PipelineError::Corrupt {
                at,
                reason: "the IFD chain does not end".into(),
            });
        }
    }
    Ok(sizes)
}

/// Decodes page `index`; with `planes`, a colour page stored in strips goes straight into
/// YCbCr 4:2:0 planes strip by strip (see [`strip_planes`]).
pub(crate) fn decode(
    file: &Path,
    index: usize,
    options: &ProcessOptions,
    planes: bool,
) -> Result<DecodedPage> {
    let at = Location::page(file, index + 1);
    let mut decoder = open(file, &at)?;
    decoder
        .seek_to_image(index)
        .map_err(|e| damaged(at.clone(), e))?;
    let (width, height) = decoder.dimensions().map_err(|e| damaged(at.clone(), e))?;
    let compression = decoder
        .find_tag_unsigned::<u32>(Tag::Compression)
        .ok()
        .flatten()
        .unwrap_or(1);
    let photometric = decoder
        .find_tag_unsigned::<u16>(Tag::PhotometricInterpretation)
        .ok()
        .flatten()
        .unwrap_or(if compression == 3 || compression == 4 {
            0
        } else {
            1
        });
    let stated = resolution(&mut decoder);

    let t4_options = decoder
        .find_tag_unsigned::<u32>(Tag::Unknown(292))
        .ok()
        .flatten()
        .unwrap_or(0);
    let two_dimensional = compression == COMPRESSION_CCITT_G3 && t4_options & 1 != 0;
    let raster = if two_dimensional || compression == COMPRESSION_CCITT_RLE {
        Raster::Bilevel(libtiff::read_bilevel(file, index).ok_or_else(|| {
            damaged(
                at.clone(),
                format!(
                    "libtiff could not decode this CCITT {} page",
                    if two_dimensional {
                        "two-dimensional Group 3"
                    } else {
                        "RLE"
                    }
                ),
            )
        })?)
    } else if compression == COMPRESSION_CCITT_G3 {
        Raster::Bilevel(decode_group3(
            &mut decoder,
            &at,
            width,
            height,
            photometric,
        )?)
    } else {
        let colortype = decoder.colortype().map_err(|e| damaged(at.clone(), e))?;
        match planes
            .then(|| strip_planes(&mut decoder, &at, colortype, width, height))
            .transpose()?
            .flatten()
        {
            Some(raster) => raster,
            None => {
                let data = decoder
                    .read_image()
                    .map_err(|e| map_tiff_error(at.clone(), e))?;
                to_raster(&at, data, colortype, width, height)?
            }
        }
    };
    Ok(DecodedPage {
        raster,
        dpi: stated.unwrap_or((options.fallback_dpi, options.fallback_dpi)),
        dpi_assumed: stated.is_none(),
        passthrough: None,
        had_text: false,
    })
}

fn map_tiff_error(at: Location, e: tiff::TiffError) -> PipelineError {
    match e {
        tiff::TiffError::UnsupportedError(u) => PipelineError::Unsupported {
            at,
            reason: format!("TIFF feature not supported: {u}"),
        },
        other => damaged(at, other),
    }
}

fn rational(v: Value) -> Option<f32> {
    match v {
        Value::Rational(n, d) if d != 0 => Some(n as f32 / d as f32),
        Value::Float(f) => Some(f),
        Value::Double(f) => Some(f as f32),
        Value::Short(s) => Some(f32::from(s)),
        Value::Unsigned(u) => Some(u as f32),
        Value::List(mut l) if !l.is_empty() => rational(l.swap_remove(0)),
        _ => None,
    }
}

fn resolution<R: Read + Seek>(decoder: &mut Decoder<R>) -> Option<(f32, f32)> {
    let x = rational(decoder.find_tag(Tag::XResolution).ok()??)?;
    let y = decoder
        .find_tag(Tag::YResolution)
        .ok()
        .flatten()
        .and_then(rational)
        .unwrap_or(x);
    let unit = decoder
        .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
        .ok()
        .flatten()
        .unwrap_or(2);
    let scale = match unit {
        2 => 1.0,
        3 => 2.54,
        _ => return None, // "no absolute unit": aspect ratio only
    };
    (x > 0.0 && y > 0.0).then_some((x * scale, y * scale))
}

/// One-dimensional Group 3 (two-dimensional pages go to libtiff before this).
fn decode_group3<R: Read + Seek>(
    decoder: &mut Decoder<R>,
    at: &Location,
    width: u32,
    height: u32,
    photometric: u16,
) -> Result<GrayImage> {
    let offsets = decoder
        .get_tag_u64_vec(Tag::StripOffsets)
        .map_err(|e| damaged(at.clone(), e))?;
    let counts = decoder
        .get_tag_u64_vec(Tag::StripByteCounts)
        .map_err(|e| damaged(at.clone(), e))?;
    let rows_per_strip = decoder
        .find_tag_unsigned::<u32>(Tag::RowsPerStrip)
        .ok()
        .flatten()
        .unwrap_or(height)
        .min(height);
    // Coded white is a 0 bit; WhiteIsZero (0) displays 0 as white, BlackIsZero inverts that.
    let polarity = Polarity {
        black_is_dark: photometric == 0,
    };
    let mut img = GrayImage::new(width, height);
    let mut y = 0u32;
    for (offset, count) in offsets.iter().zip(&counts) {
        if y >= height {
            break;
        }
        let reader = decoder.inner();
        reader
            .seek(SeekFrom::Start(*offset))
            .map_err(|e| damaged(at.clone(), e))?;
        let mut data = vec![0u8; usize::try_from(*count).unwrap_or(usize::MAX).min(64 << 20)];
        reader
            .read_exact(&mut data)
            .map_err(|e| damaged(at.clone(), e))?;
        let rows = rows_per_strip.min(height - y);
        let got =
            ccitt::decode_g3_rows(&data, width, &mut img, y, rows, polarity).ok_or_else(|| {
                PipelineError::Corrupt {
                    at: at.clone(),
                    reason: format!("bad CCITT Group 3 data near row {y}"),
                }
            })?;
        if got < rows {
            return Err(damaged(
                at.clone(),
                format!("CCITT Group 3 data ends early at row {}", y + got),
            ));
        }
        y += rows;
    }
    if y < height {
        return Err(damaged(
            at.clone(),
            format!("truncated: only {y} of {height} rows present"),
        ));
    }
    Ok(img)
}

/// A colour page stored in strips of interleaved samples (RGB, RGBA or CMYK, 8 or 16 bits),
/// decoded one strip at a time into YCbCr 4:2:0 planes: the page never exists as one RGB
/// buffer, only a strip does. `None` for other layouts (tiles, separate planes, other colour
/// types), which [`to_raster`] decodes whole.
fn strip_planes<R: Read + Seek>(
    decoder: &mut Decoder<R>,
    at: &Location,
    colortype: ColorType,
    width: u32,
    height: u32,
) -> Result<Option<Raster>> {
    let samples = match colortype {
        ColorType::RGB(8 | 16) => 3,
        ColorType::RGBA(8 | 16) | ColorType::CMYK(8) => 4,
        _ => return Ok(None),
    };
    let chunky = decoder
        .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
        .ok()
        .flatten()
        .unwrap_or(1)
        == 1;
    if !chunky || decoder.get_chunk_type() != tiff::decoder::ChunkType::Strip {
        return Ok(None);
    }
    let strips = decoder
        .strip_count()
        .map_err(|e| map_tiff_error(at.clone(), e))?;
    let mut planes = crate::ycc::YccBuilder::new(width, height);
    let row_len = width as usize * samples;
    let mut rgb = Vec::with_capacity(width as usize * 3);
    for strip in 0..strips {
        let bytes = match decoder
            .read_chunk(strip)
            .map_err(|e| map_tiff_error(at.clone(), e))?
        {
            DecodingResult::U8(b) => b,
            DecodingResult::U16(words) => words.into_iter().map(|v| (v >> 8) as u8).collect(),
            _ => return Ok(None),
        };
        for row in bytes.chunks_exact(row_len) {
            rgb.clear();
            match colortype {
                ColorType::RGB(_) => rgb.extend_from_slice(row),
                ColorType::RGBA(_) => rgb.extend(row.chunks_exact(4).flat_map(|p| {
                    let a = u32::from(p[3]);
                    let over = move |c: u8| ((u32::from(c) * a + 255 * (255 - a)) / 255) as u8;
                    [over(p[0]), over(p[1]), over(p[2])]
                })),
                _ => rgb.extend(row.chunks_exact(4).flat_map(|p| {
                    let k = 255 - u32::from(p[3]);
                    let c = move |v: u8| ((255 - u32::from(v)) * k / 255) as u8;
                    [c(p[0]), c(p[1]), c(p[2])]
                })),
            }
            planes.push_rgb_row(&rgb);
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

fn to_raster(
    at: &Location,
    data: DecodingResult,
    colortype: ColorType,
    width: u32,
    height: u32,
) -> Result<Raster> {
    let unsupported = |what: String| PipelineError::Unsupported {
        at: at.clone(),
        reason: what,
    };
    let short = || damaged(at.clone(), "truncated: fewer pixels than the header states");
    let (w, h) = (width as usize, height as usize);
    let bytes = match data {
        DecodingResult::U8(b) => b,
        DecodingResult::U16(words) => {
            // Keep the high byte: 16-bit scans gain nothing for OCR or delivery at 8 bits.
            words.into_iter().map(|v| (v >> 8) as u8).collect()
        }
        _ => return Err(unsupported(format!("TIFF sample format of {colortype:?}"))),
    };
    // The `tiff` crate already turns WhiteIsZero data round (all paths, Fax4 included), so
    // what it returns is always BlackIsZero: 0 is black, the maximum is white.
    match colortype {
        ColorType::Gray(1) => {
            let stride = w.div_ceil(8);
            if bytes.len() < stride * h {
                return Err(short());
            }
            let img = GrayImage::from_fn(width, height, |x, y| {
                let bit = bytes[y as usize * stride + x as usize / 8] >> (7 - x % 8) & 1;
                let white = bit == 1;
                image::Luma([if white { 255 } else { 0 }])
            });
            Ok(Raster::Bilevel(img))
        }
        ColorType::Gray(8) | ColorType::Gray(16) => {
            let mut v = bytes;
            if v.len() < w * h {
                return Err(short());
            }
            v.truncate(w * h);
            Ok(Raster::from_gray(
                GrayImage::from_raw(width, height, v).ok_or_else(short)?,
            ))
        }
        ColorType::GrayA(8) | ColorType::GrayA(16) => {
            if bytes.len() < w * h * 2 {
                return Err(short());
            }
            let v = bytes
                .chunks_exact(2)
                .take(w * h)
                .map(|p| {
                    let g = p[0];
                    ((u32::from(g) * u32::from(p[1]) + 255 * (255 - u32::from(p[1]))) / 255) as u8
                })
                .collect();
            Ok(Raster::from_gray(
                GrayImage::from_raw(width, height, v).ok_or_else(short)?,
            ))
        }
        ColorType::RGB(8) | ColorType::RGB(16) => {
            let mut v = bytes;
            if v.len() < w * h * 3 {
                return Err(short());
            }
            v.truncate(w * h * 3);
            Ok(Raster::from_rgb(
                RgbImage::from_raw(width, height, v).ok_or_else(short)?,
            ))
        }
        ColorType::RGBA(8) | ColorType::RGBA(16) => {
            if bytes.len() < w * h * 4 {
                return Err(short());
            }
            let v = bytes
                .chunks_exact(4)
                .take(w * h)
                .flat_map(|p| {
                    let a = u32::from(p[3]);
                    let over = move |c: u8| ((u32::from(c) * a + 255 * (255 - a)) / 255) as u8;
                    [over(p[0]), over(p[1]), over(p[2])]
                })
                .collect();
            Ok(Raster::from_rgb(
                RgbImage::from_raw(width, height, v).ok_or_else(short)?,
            ))
        }
        ColorType::CMYK(8) => {
            if bytes.len() < w * h * 4 {
                return Err(short());
            }
            let v = bytes
                .chunks_exact(4)
                .take(w * h)
                .flat_map(|p| {
                    let k = 255 - u32::from(p[3]);
                    let c = |v: u8| ((255 - u32::from(v)) * k / 255) as u8;
                    [c(p[0]), c(p[1]), c(p[2])]
                })
                .collect();
            Ok(Raster::from_rgb(
                RgbImage::from_raw(width, height, v).ok_or_else(short)?,
            ))
        }
        other => Err(unsupported(format!("TIFF colour type {other:?}"))),
    }
}

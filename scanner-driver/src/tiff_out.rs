//! The multi-page TIFF a batch is written to, one page appended at a time.
//!
//! Each page is streamed from its spool files strip by strip, so memory stays at one strip
//! whatever the page size, and after every page the file on disk is a valid TIFF of the pages so
//! far (the `tiff` crate links each new directory into the chain as it goes). Samples are stored
//! as the device sent them: 1-bit gray as bilevel, 8/16-bit gray and RGB as such; the rare 1-bit
//! colour is widened to 8-bit. It does not decide file names or where the file lands.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tiff::encoder::colortype::{self, ColorType};
use tiff::encoder::{
    Compression as TiffCompression, DeflateLevel, Rational, TiffEncoder, TiffValue,
};
use tiff::tags::{ResolutionUnit, Tag};

use crate::error::ScanError;
use crate::page::{Layout, SpooledPage};

/// Compression of the pages in the TIFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Fastest; largest files.
    #[default]
    None,
    Lzw,
    /// zlib at its fastest level.
    Deflate,
}

/// Target size of one TIFF strip, and of the buffers around it. Kept under glibc's mmap
/// threshold so per-page buffers are recycled from the heap instead of freshly faulted in.
const STRIP_BYTES: usize = 64 * 1024;

pub(crate) struct TiffBatch {
    encoder: TiffEncoder<BufWriter<File>>,
    path: PathBuf,
    pages: u32,
}

impl TiffBatch {
    pub fn create(path: &Path, compression: Compression) -> Result<Self, ScanError> {
        let file = File::create(path).map_err(ScanError::output(path, "create"))?;
        let encoder = TiffEncoder::new(BufWriter::with_capacity(STRIP_BYTES, file))
            .map_err(|e| encode_error(path, 0, e))?
            .with_compression(match compression {
                Compression::None => TiffCompression::Uncompressed,
                Compression::Lzw => TiffCompression::Lzw,
                Compression::Deflate => TiffCompression::Deflate(DeflateLevel::Fast),
            });
        Ok(Self {
            encoder,
            path: path.to_path_buf(),
            pages: 0,
        })
    }

    pub fn pages(&self) -> u32 {
        self.pages
    }

    pub fn append(&mut self, page: &SpooledPage, dpi: Option<f64>) -> Result<(), ScanError> {
        let number = self.pages + 1;
        let mut rows = RowReader::open(page)?;
        let path = self.path.clone();
        let result = match (page.layout, page.depth) {
            (Layout::Gray, 1) => self.write_bilevel(page, dpi, &mut rows),
            (Layout::Gray, 8) => {
                write_image::<colortype::Gray8>(&mut self.encoder, page, dpi, |out| rows.gray8(out))
            }
            (Layout::Gray, 16) => {
                write_image::<colortype::Gray16>(&mut self.encoder, page, dpi, |out| rows.wide(out))
            }
            (_, 8) | (_, 1) => {
                write_image::<colortype::RGB8>(&mut self.encoder, page, dpi, |out| rows.rgb8(out))
            }
            (_, 16) => {
                write_image::<colortype::RGB16>(&mut self.encoder, page, dpi, |out| rows.wide(out))
            }
            (_, depth) => Err(format!("{depth}-bit samples")),
        };
        result.map_err(|detail| ScanError::Encode {
            path,
            page: number,
            detail,
        })?;
        self.pages = number;
        Ok(())
    }

    /// 1-bit pages by hand: the `tiff` crate's typed encoder has no bilevel colour type.
    fn write_bilevel(
        &mut self,
        page: &SpooledPage,
        dpi: Option<f64>,
        rows: &mut RowReader,
    ) -> Result<(), String> {
        let row_bytes = (page.width as usize).div_ceil(8);
        let rows_per_strip = (STRIP_BYTES / row_bytes).max(1) as u32;
        let mut dir = self.encoder.image_directory().map_err(|e| e.to_string())?;
        let mut offsets: Vec<u32> = Vec::new();
        let mut counts: Vec<u32> = Vec::new();
        let mut strip = Vec::with_capacity(STRIP_BYTES);
        let mut done = 0u32;
        while done < page.height {
            let n = rows_per_strip.min(page.height - done);
            strip.clear();
            for _ in 0..n {
                rows.bilevel(&mut strip).map_err(|e| e.to_string())?;
            }
            let offset = dir.write_data(&strip[..]).map_err(|e| e.to_string())?;
            offsets.push(u32::try_from(offset).map_err(|_| "file larger than 4 GiB".to_string())?);
            counts.push(strip.len() as u32);
            done += n;
        }
        let tags: [(Tag, u32); 2] = [
            (Tag::ImageWidth, page.width),
            (Tag::ImageLength, page.height),
        ];
        for (tag, v) in tags {
            dir.write_tag(tag, v).map_err(|e| e.to_string())?;
        }
        dir.write_tag(Tag::BitsPerSample, 1u16)
            .map_err(|e| e.to_string())?;
        dir.write_tag(Tag::Compression, 1u16)
            .map_err(|e| e.to_string())?;
        // BlackIsZero: SANE's 1 = black is inverted while copying rows.
        dir.write_tag(Tag::PhotometricInterpretation, 1u16)
            .map_err(|e| e.to_string())?;
        dir.write_tag(Tag::SamplesPerPixel, 1u16)
            .map_err(|e| e.to_string())?;
        dir.write_tag(Tag::RowsPerStrip, rows_per_strip)
            .map_err(|e| e.to_string())?;
        dir.write_tag(Tag::StripOffsets, &offsets[..])
            .map_err(|e| e.to_string())?;
        dir.write_tag(Tag::StripByteCounts, &counts[..])
            .map_err(|e| e.to_string())?;
        if let Some(dpi) = dpi {
            let r = rational(dpi);
            dir.write_tag(Tag::XResolution, r.clone())
                .map_err(|e| e.to_string())?;
            dir.write_tag(Tag::YResolution, r)
                .map_err(|e| e.to_string())?;
            dir.write_tag(Tag::ResolutionUnit, ResolutionUnit::Inch.to_u16())
                .map_err(|e| e.to_string())?;
        }
        dir.finish().map_err(|e| e.to_string())
    }

    /// Flushes and syncs; the file then holds every appended page.
    pub fn finish(self) -> Result<(PathBuf, u32), ScanError> {
        let Self {
            encoder,
            path,
            pages,
        } = self;
        drop(encoder);
        let file = File::options()
            .append(true)
            .open(&path)
            .map_err(ScanError::output(&path, "reopen"))?;
        file.sync_all().map_err(ScanError::output(&path, "sync"))?;
        Ok((path, pages))
    }
}

fn rational(dpi: f64) -> Rational {
    Rational {
        n: (dpi * 100.0).round() as u32,
        d: 100,
    }
}

fn encode_error(path: &Path, page: u32, e: tiff::TiffError) -> ScanError {
    ScanError::Encode {
        path: path.to_path_buf(),
        page,
        detail: e.to_string(),
    }
}

fn write_image<C: ColorType>(
    encoder: &mut TiffEncoder<BufWriter<File>>,
    page: &SpooledPage,
    dpi: Option<f64>,
    mut next_row: impl FnMut(&mut Vec<C::Inner>) -> std::io::Result<()>,
) -> Result<(), String>
where
    [C::Inner]: TiffValue,
{
    let mut image = encoder
        .new_image::<C>(page.width, page.height)
        .map_err(|e| e.to_string())?;
    if let Some(dpi) = dpi {
        image.resolution(ResolutionUnit::Inch, rational(dpi));
    }
    let samples_per_row = page.width as usize * C::BITS_PER_SAMPLE.len();
    let row_bytes = samples_per_row * std::mem::size_of::<C::Inner>();
    image
        .rows_per_strip((STRIP_BYTES / row_bytes.max(1)).max(1) as u32)
        .map_err(|e| e.to_string())?;
    let mut strip =
        Vec::with_capacity(STRIP_BYTES / std::mem::size_of::<C::Inner>() + samples_per_row);
    loop {
        let want = image.next_strip_sample_count() as usize;
        if want == 0 {
            break;
        }
        strip.clear();
        while strip.len() < want {
            next_row(&mut strip).map_err(|e| format!("reading spooled rows: {e}"))?;
        }
        image.write_strip(&strip).map_err(|e| e.to_string())?;
    }
    image.finish().map_err(|e| e.to_string())
}

/// Reads a spooled page row by row and converts to TIFF samples.
pub(crate) struct RowReader {
    layout: Layout,
    depth: u8,
    width: usize,
    readers: Vec<BufReader<File>>,
    raw: Vec<Vec<u8>>,
}

impl RowReader {
    pub fn open(page: &SpooledPage) -> Result<Self, ScanError> {
        let readers = page
            .frames
            .iter()
            .map(|p| {
                File::open(p)
                    .map(|f| BufReader::with_capacity(STRIP_BYTES, f))
                    .map_err(ScanError::output(p, "read spool file"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let raw = vec![vec![0u8; page.bytes_per_line]; readers.len()];
        Ok(Self {
            layout: page.layout,
            depth: page.depth,
            width: page.width as usize,
            readers,
            raw,
        })
    }

    fn next(&mut self) -> std::io::Result<()> {
        for (r, buf) in self.readers.iter_mut().zip(&mut self.raw) {
            r.read_exact(buf)?;
        }
        Ok(())
    }

    fn bit(row: &[u8], i: usize) -> bool {
        row[i / 8] & (0x80 >> (i % 8)) != 0
    }

    /// 1-bit gray, inverted to BlackIsZero.
    fn bilevel(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        self.next()?;
        let n = self.width.div_ceil(8);
        out.extend(self.raw[0][..n].iter().map(|b| !b));
        Ok(())
    }

    /// 8-bit gray, also used for the blank test (1- and 16-bit and colour are reduced).
    pub fn gray8(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        self.next()?;
        let w = self.width;
        match (self.layout, self.depth) {
            (Layout::Gray, 8) => out.extend_from_slice(&self.raw[0][..w]),
            (Layout::Gray, 16) => out.extend(
                self.raw[0]
                    .chunks_exact(2)
                    .take(w)
                    .map(|c| (u16::from_ne_bytes([c[0], c[1]]) >> 8) as u8),
            ),
            (Layout::Gray, _) => {
                out.extend((0..w).map(|i| if Self::bit(&self.raw[0], i) { 0 } else { 255 }))
            }
            _ => {
                let mut rgb = Vec::with_capacity(w * 3);
                self.rgb_from_raw(&mut rgb);
                out.extend(rgb.chunks_exact(3).map(|p| {
                    ((p[0] as u32 * 299 + p[1] as u32 * 587 + p[2] as u32 * 114) / 1000) as u8
                }));
            }
        }
        Ok(())
    }

    fn rgb8(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        self.next()?;
        self.rgb_from_raw(out);
        Ok(())
    }

    fn rgb_from_raw(&self, out: &mut Vec<u8>) {
        let w = self.width;
        let full = |on: bool| if on { 255u8 } else { 0 };
        match (self.layout, self.depth) {
            (Layout::Rgb, 8) => out.extend_from_slice(&self.raw[0][..w * 3]),
            (Layout::Rgb, 16) => out.extend(
                self.raw[0]
                    .chunks_exact(2)
                    .take(w * 3)
                    .map(|c| (u16::from_ne_bytes([c[0], c[1]]) >> 8) as u8),
            ),
            (Layout::Rgb, _) => out.extend((0..w * 3).map(|i| full(Self::bit(&self.raw[0], i)))),
            (_, 8) => (0..w).for_each(|x| out.extend(self.raw.iter().map(|plane| plane[x]))),
            (_, 16) => (0..w).for_each(|x| {
                out.extend(
                    self.raw
                        .iter()
                        .map(|p| (u16::from_ne_bytes([p[2 * x], p[2 * x + 1]]) >> 8) as u8),
                )
            }),
            _ => (0..w)
                .for_each(|x| out.extend(self.raw.iter().map(|plane| full(Self::bit(plane, x))))),
        }
    }

    /// 16-bit samples, gray or RGB (interleaving three-pass planes).
    fn wide(&mut self, out: &mut Vec<u16>) -> std::io::Result<()> {
        self.next()?;
        let sample = |row: &[u8], i: usize| u16::from_ne_bytes([row[2 * i], row[2 * i + 1]]);
        match self.layout {
            Layout::Gray => out.extend((0..self.width).map(|i| sample(&self.raw[0], i))),
            Layout::Rgb => out.extend((0..self.width * 3).map(|i| sample(&self.raw[0], i))),
            Layout::Planes => {
                (0..self.width).for_each(|x| out.extend(self.raw.iter().map(|p| sample(p, x))))
            }
        }
        Ok(())
    }
}

/// The page as an 8-bit gray image, for the blank test. Holds one page in memory.
pub(crate) fn gray_image(page: &SpooledPage) -> Result<image::GrayImage, ScanError> {
    let mut rows = RowReader::open(page)?;
    let mut pixels = Vec::with_capacity(page.width as usize * page.height as usize);
    for _ in 0..page.height {
        rows.gray8(&mut pixels)
            .map_err(ScanError::output(&page.frames[0], "read spool file"))?;
    }
    Ok(
        image::GrayImage::from_raw(page.width, page.height, pixels)
            .expect("width x height samples"),
    )
}

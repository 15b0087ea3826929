//! Writes synthetic pages in every input format Quire accepts, as a scanner or its software
//! would: PNG (8-bit grey, or 1-bit for bilevel pages), JPEG, TIFF (uncompressed, LZW, Deflate,
//! PackBits, CCITT G4; one or many pages) and image-only PDFs with DCT, Flate or CCITT G4 images.
//!
//! CCITT G4 is encoded with the `fax` crate (the `tiff` crate cannot write it); the G4 TIFF
//! directory is written through `tiff`'s low-level directory encoder. Every file records the
//! resolution, so readers can recover the physical page size.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use image::GrayImage;
use lopdf::{Dictionary, Document, Object, Stream, dictionary};
use tiff::encoder::{Compression, DeflateLevel, Rational, TiffEncoder, colortype};
use tiff::tags::{ResolutionUnit, Tag};

/// An output format for `write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// 8-bit greyscale PNG; one page.
    Png,
    /// 1-bit PNG, pixels thresholded at 128; one page.
    PngBilevel,
    /// Baseline greyscale JPEG; one page.
    Jpeg { quality: u8 },
    /// TIFF, one directory per page.
    Tiff(TiffCompression),
    /// An image-only PDF, one image per page, as a scanner writes it.
    Pdf(PdfImageCodec),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TiffCompression {
    None,
    Lzw,
    Deflate,
    PackBits,
    /// CCITT Group 4; pages are thresholded to bilevel at 128.
    G4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdfImageCodec {
    /// JPEG (DCTDecode), 8-bit grey.
    Dct,
    /// Zlib (FlateDecode), 8-bit grey.
    Flate,
    /// CCITT G4 (CCITTFaxDecode, K = -1), 1-bit; pages are thresholded at 128.
    Ccitt,
}

/// Writes `pages` (all at `dpi`) to `path` in `format`. PNG and JPEG hold exactly one page.
pub fn write(path: &Path, pages: &[GrayImage], dpi: f32, format: Format) -> io::Result<()> {
    if pages.is_empty() {
        return Err(invalid("no pages to write"));
    }
    let single = || -> io::Result<&GrayImage> {
        match pages {
            [page] => Ok(page),
            _ => Err(invalid("PNG and JPEG hold exactly one page")),
        }
    };
    let mut out = BufWriter::new(File::create(path)?);
    match format {
        Format::Png => write_png(&mut out, single()?, dpi, false)?,
        Format::PngBilevel => write_png(&mut out, single()?, dpi, true)?,
        Format::Jpeg { quality } => out.write_all(&jpeg(single()?, dpi, quality)?)?,
        Format::Tiff(TiffCompression::G4) => {
            out.flush()?;
            drop(out);
            return write_tiff_g4(path, pages, dpi);
        }
        Format::Tiff(compression) => {
            out.flush()?;
            drop(out);
            return write_tiff(path, pages, dpi, compression);
        }
        Format::Pdf(codec) => write_pdf(&mut out, pages, dpi, codec)?,
    }
    out.flush()
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.to_string())
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

fn write_png(out: &mut impl Write, page: &GrayImage, dpi: f32, bilevel: bool) -> io::Result<()> {
    let mut encoder = png::Encoder::new(out, page.width(), page.height());
    encoder.set_color(png::ColorType::Grayscale);
    let per_metre = (dpi / 0.0254).round() as u32;
    encoder.set_pixel_dims(Some(png::PixelDimensions {
        xppu: per_metre,
        yppu: per_metre,
        unit: png::Unit::Meter,
    }));
    if bilevel {
        encoder.set_depth(png::BitDepth::One);
        let mut writer = encoder.write_header().map_err(other)?;
        writer
            .write_image_data(&pack_bits(page, false))
            .map_err(other)?;
        writer.finish().map_err(other)
    } else {
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(other)?;
        writer.write_image_data(page.as_raw()).map_err(other)?;
        writer.finish().map_err(other)
    }
}

/// Packs a page into rows of bits, most significant first, each row padded to a byte.
/// With `black_is_one` false a set bit is white (PNG grey, PDF DeviceGray); true is the opposite.
fn pack_bits(page: &GrayImage, black_is_one: bool) -> Vec<u8> {
    let w = page.width() as usize;
    let row_bytes = w.div_ceil(8);
    let mut out = vec![0u8; row_bytes * page.height() as usize];
    for (row, packed) in page
        .as_raw()
        .chunks_exact(w)
        .zip(out.chunks_exact_mut(row_bytes))
    {
        for (x, &p) in row.iter().enumerate() {
            let white = p >= 128;
            if white != black_is_one {
                packed[x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    out
}

fn jpeg(page: &GrayImage, dpi: f32, quality: u8) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
    encoder.set_pixel_density(image::codecs::jpeg::PixelDensity::dpi(dpi.round() as u16));
    encoder.encode_image(page).map_err(other)?;
    Ok(bytes)
}

fn resolution(dpi: f32) -> Rational {
    // Hundredths keep fractional resolutions such as 72.5 exact enough.
    Rational {
        n: (dpi * 100.0).round() as u32,
        d: 100,
    }
}

fn write_tiff(
    path: &Path,
    pages: &[GrayImage],
    dpi: f32,
    compression: TiffCompression,
) -> io::Result<()> {
    let compression = match compression {
        TiffCompression::None => Compression::Uncompressed,
        TiffCompression::Lzw => Compression::Lzw,
        TiffCompression::Deflate => Compression::Deflate(DeflateLevel::Balanced),
        TiffCompression::PackBits => Compression::Packbits,
        TiffCompression::G4 => unreachable!("G4 has its own writer"),
    };
    let file = BufWriter::new(File::create(path)?);
    let mut encoder = TiffEncoder::new(file)
        .map_err(other)?
        .with_compression(compression);
    for page in pages {
        let mut image = encoder
            .new_image::<colortype::Gray8>(page.width(), page.height())
            .map_err(other)?;
        image.resolution(ResolutionUnit::Inch, resolution(dpi));
        image.write_data(page.as_raw()).map_err(other)?;
    }
    Ok(())
}

/// CCITT G4 data for a page thresholded at 128, no byte alignment, no EOL codes.
pub(crate) fn g4(page: &GrayImage) -> io::Result<Vec<u8>> {
    let mut encoder = fax::encoder::Encoder::new(fax::VecWriter::new());
    let w = page.width();
    for row in page.as_raw().chunks_exact(w as usize) {
        let colours = row.iter().map(|&p| {
            if p < 128 {
                fax::Color::Black
            } else {
                fax::Color::White
            }
        });
        encoder
            .encode_line(colours, w)
            .map_err(|_| other("CCITT G4 encoding failed"))?;
    }
    let writer = encoder
        .finish()
        .map_err(|_| other("CCITT G4 encoding failed"))?;
    Ok(writer.finish())
}

fn write_tiff_g4(path: &Path, pages: &[GrayImage], dpi: f32) -> io::Result<()> {
    let file = BufWriter::new(File::create(path)?);
    let mut encoder = TiffEncoder::new(file).map_err(other)?;
    for page in pages {
        let data = g4(page)?;
        let mut dir = encoder.image_directory().map_err(other)?;
        let offset = dir.write_data(&data[..]).map_err(other)?;
        let tags: [(Tag, u32); 8] = [
            (Tag::ImageWidth, page.width()),
            (Tag::ImageLength, page.height()),
            (Tag::BitsPerSample, 1),
            (Tag::SamplesPerPixel, 1),
            (Tag::RowsPerStrip, page.height()),
            (Tag::StripOffsets, offset as u32),
            (Tag::StripByteCounts, data.len() as u32),
            (Tag::Unknown(293), 0), // T6Options: no uncompressed mode
        ];
        for (tag, value) in tags {
            dir.write_tag(tag, value).map_err(other)?;
        }
        // 4 = CCITT Group 4; photometric 0 = WhiteIsZero, the usual choice for fax data.
        dir.write_tag(Tag::Compression, 4u16).map_err(other)?;
        dir.write_tag(Tag::PhotometricInterpretation, 0u16)
            .map_err(other)?;
        dir.write_tag(Tag::ResolutionUnit, 2u16).map_err(other)?;
        dir.write_tag(Tag::XResolution, resolution(dpi))
            .map_err(other)?;
        dir.write_tag(Tag::YResolution, resolution(dpi))
            .map_err(other)?;
        dir.finish().map_err(other)?;
    }
    Ok(())
}

fn write_pdf(
    out: &mut impl Write,
    pages: &[GrayImage],
    dpi: f32,
    codec: PdfImageCodec,
) -> io::Result<()> {
    let mut pdf = ImagePdf::new();
    for page in pages {
        pdf.push(PdfPageImage::encode(page, dpi, codec)?);
    }
    pdf.save_to(out)
}

/// One page image encoded for an image-only PDF. Encoding is the costly part, so it is separate
/// from `ImagePdf` and can run on many threads.
pub struct PdfPageImage {
    width: u32,
    height: u32,
    dpi: f32,
    codec: PdfImageCodec,
    data: Vec<u8>,
}

impl PdfPageImage {
    pub fn encode(page: &GrayImage, dpi: f32, codec: PdfImageCodec) -> io::Result<Self> {
        let data = match codec {
            PdfImageCodec::Dct => jpeg(page, dpi, 85)?,
            PdfImageCodec::Flate => {
                let mut stream = Stream::new(Dictionary::new(), page.as_raw().clone());
                stream.compress().map_err(other)?;
                if stream.dict.get(b"Filter").is_err() {
                    // lopdf keeps data raw when zlib does not shrink it; the filter is promised.
                    return Err(other("Flate did not compress this page"));
                }
                stream.content
            }
            PdfImageCodec::Ccitt => g4(page)?,
        };
        Ok(PdfPageImage {
            width: page.width(),
            height: page.height(),
            dpi,
            codec,
            data,
        })
    }
}

/// An image-only PDF built a page at a time, holding only encoded pages: a long synthetic scan
/// does not need all its decoded pages in memory.
pub struct ImagePdf {
    doc: Document,
    pages_id: lopdf::ObjectId,
    kids: Vec<Object>,
}

impl Default for ImagePdf {
    fn default() -> Self {
        Self::new()
    }
}

impl ImagePdf {
    pub fn new() -> Self {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        ImagePdf {
            doc,
            pages_id,
            kids: Vec::new(),
        }
    }

    pub fn push(&mut self, image: PdfPageImage) {
        let PdfPageImage {
            width: w,
            height: h,
            dpi,
            codec,
            data,
        } = image;
        let mut image_dict = dictionary! {
            "Type" => "XObject",
            "Subtype" => "Image",
            "Width" => w as i64,
            "Height" => h as i64,
            "ColorSpace" => "DeviceGray",
        };
        match codec {
            PdfImageCodec::Dct => {
                image_dict.set("BitsPerComponent", 8);
                image_dict.set("Filter", "DCTDecode");
            }
            PdfImageCodec::Flate => {
                image_dict.set("BitsPerComponent", 8);
                image_dict.set("Filter", "FlateDecode");
            }
            PdfImageCodec::Ccitt => {
                image_dict.set("BitsPerComponent", 1);
                image_dict.set("Filter", "CCITTFaxDecode");
                let parms: Dictionary = dictionary! {
                    "K" => -1,
                    "Columns" => w as i64,
                    "Rows" => h as i64,
                    "BlackIs1" => false,
                };
                image_dict.set("DecodeParms", parms);
            }
        }
        let image_id = self
            .doc
            .add_object(Stream::new(image_dict, data).with_compression(false));
        let (pt_w, pt_h) = (w as f32 * 72.0 / dpi, h as f32 * 72.0 / dpi);
        let content = format!("q {pt_w:.3} 0 0 {pt_h:.3} 0 0 cm /Im0 Do Q\n");
        let content_id = self
            .doc
            .add_object(Stream::new(Dictionary::new(), content.into_bytes()));
        let page_id = self.doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => self.pages_id,
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(pt_w), Object::Real(pt_h)],
            "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image_id } },
            "Contents" => content_id,
        });
        self.kids.push(Object::Reference(page_id));
    }

    pub fn save_to(mut self, out: &mut impl Write) -> io::Result<()> {
        let count = self.kids.len() as i64;
        self.doc.objects.insert(
            self.pages_id,
            Object::Dictionary(
                dictionary! { "Type" => "Pages", "Kids" => self.kids, "Count" => count },
            ),
        );
        let catalog_id = self
            .doc
            .add_object(dictionary! { "Type" => "Catalog", "Pages" => self.pages_id });
        let info_id = self.doc.add_object(dictionary! {
            "Producer" => Object::string_literal("Quire synthetic scanner"),
        });
        self.doc.trailer.set("Root", catalog_id);
        self.doc.trailer.set("Info", info_id);
        self.doc.save_to(out).map_err(other)
    }
}

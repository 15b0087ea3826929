//! A rendered grey page printed on cream paper: colour that no grey conversion can undo, for
//! the colour paths of the pipeline (benchmarks and memory tests), written as PNG, JPEG or
//! TIFF without ever holding the whole page as RGB.

use std::io::{BufWriter, Write};
use std::path::Path;

use image::GrayImage;

/// A grey level on cream paper.
pub fn cream(v: u8) -> [u8; 3] {
    let v = u16::from(v);
    [v, v * 245 / 255, v * 225 / 255].map(|c| c as u8)
}

/// The cream page as the JPEG encoder reads it, one row at a time.
struct CreamRows<'a>(&'a GrayImage);

impl jpeg_encoder::ImageBuffer for CreamRows<'_> {
    fn get_jpeg_color_type(&self) -> jpeg_encoder::JpegColorType {
        jpeg_encoder::JpegColorType::Ycbcr
    }

    fn width(&self) -> u16 {
        self.0.width() as u16
    }

    fn height(&self) -> u16 {
        self.0.height() as u16
    }

    fn fill_buffers(&self, y: u16, buffers: &mut [Vec<u8>; 4]) {
        let w = self.0.width() as usize;
        for &v in &self.0.as_raw()[usize::from(y) * w..][..w] {
            let [r, g, b] = cream(v);
            let (l, cb, cr) = jpeg_encoder::rgb_to_ycbcr(r, g, b);
            buffers[0].push(l);
            buffers[1].push(cb);
            buffers[2].push(cr);
        }
    }
}

/// The page on cream paper as a baseline 4:2:0 JPEG at quality 85, encoded row by row.
pub fn write_jpeg(path: &Path, page: &GrayImage, dpi: f32) -> std::io::Result<()> {
    let mut data = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut data, 85);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    let dpi = dpi.round() as u16;
    encoder.set_density(jpeg_encoder::Density::Inch { x: dpi, y: dpi });
    encoder
        .encode_image(CreamRows(page))
        .map_err(std::io::Error::other)?;
    std::fs::write(path, data)
}

/// The page on cream paper as an uncompressed RGB TIFF in strips of 64 rows.
pub fn write_tiff(path: &Path, page: &GrayImage, dpi: f32) -> std::io::Result<()> {
    use tiff::encoder::{Rational, TiffEncoder, colortype};
    const ROWS: u32 = 64;
    let file = BufWriter::new(std::fs::File::create(path)?);
    // Uncompressed: the `tiff` encoder's compressed strips written one at a time do not
    // decode.
    let mut encoder = TiffEncoder::new(file).map_err(std::io::Error::other)?;
    let mut image = encoder
        .new_image::<colortype::RGB8>(page.width(), page.height())
        .map_err(std::io::Error::other)?;
    image.resolution(
        tiff::tags::ResolutionUnit::Inch,
        Rational {
            n: dpi.round() as u32,
            d: 1,
        },
    );
    image.rows_per_strip(ROWS).map_err(std::io::Error::other)?;
    for strip in page.as_raw().chunks(page.width() as usize * ROWS as usize) {
        let rgb: Vec<u8> = strip.iter().flat_map(|&v| cream(v)).collect();
        image.write_strip(&rgb).map_err(std::io::Error::other)?;
    }
    image.finish().map_err(std::io::Error::other)
}

/// The page on cream paper as an 8-bit RGB PNG, written row by row.
pub fn write_png(path: &Path, page: &GrayImage, dpi: f32) -> std::io::Result<()> {
    let mut encoder = png::Encoder::new(
        BufWriter::new(std::fs::File::create(path)?),
        page.width(),
        page.height(),
    );
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let per_metre = (dpi / 0.0254).round() as u32;
    encoder.set_pixel_dims(Some(png::PixelDimensions {
        xppu: per_metre,
        yppu: per_metre,
        unit: png::Unit::Meter,
    }));
    let mut writer = encoder
        .write_header()
        .map_err(std::io::Error::other)?
        .into_stream_writer()
        .map_err(std::io::Error::other)?;
    for row in page.as_raw().chunks_exact(page.width() as usize) {
        let rgb: Vec<u8> = row.iter().flat_map(|&v| cream(v)).collect();
        writer.write_all(&rgb)?;
    }
    writer.finish().map_err(std::io::Error::other)
}

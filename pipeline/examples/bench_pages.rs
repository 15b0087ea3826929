//! Benchmark helper for `scripts/bench/memory.sh`: writes one large synthetic scanned page in
//! the formats whose memory use differs.
//!
//! `bench_pages OUT_DIR MEGAPIXELS` renders an A4 page at the resolution that gives about
//! MEGAPIXELS million pixels (25 → 506 dpi, 100 → 1011 dpi, 250 → 1599 dpi), with a scanner's
//! blur, noise and a 0.8° skew (so the page is straightened, as most are), and writes
//! OUT_DIR/grey-MEGAPIXELSmp.png (8-bit grey), .jpg (grey JPEG), g4-MEGAPIXELSmp.tif (bilevel,
//! CCITT G4), rgb-MEGAPIXELSmp.png (the page on cream paper, 8-bit RGB), rgb-MEGAPIXELSmp.jpg
//! (the same, baseline JPEG at 4:2:0 as scanners write colour), rgb-MEGAPIXELSmp.tif (the same,
//! uncompressed TIFF in strips of 64 rows, as many scanners write it) and the page's text as
//! OUT_DIR/truth-MEGAPIXELSmp/page-0001.txt. Files already there are kept: the page is the same.
//! The colour files are written row by row from the grey page, so the generator never holds
//! the page as RGB.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use image::GrayImage;
use quire_pipeline::synth::{self, Degradation, Format, PageSpec, TiffCompression};

const A4_IN: (f32, f32) = (8.27, 11.69);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(Ok(mp))) = (args.first(), args.get(1).map(|m| m.parse::<f32>())) else {
        eprintln!("usage: bench_pages OUT_DIR MEGAPIXELS");
        return ExitCode::from(2);
    };
    match generate(Path::new(dir), mp) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_pages: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(dir: &Path, mp: f32) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let name = |kind: &str, ext: &str| dir.join(format!("{kind}-{mp}mp.{ext}"));
    let truth_dir = dir.join(format!("truth-{mp}mp"));
    let outputs: [PathBuf; 6] = [
        name("grey", "png"),
        name("grey", "jpg"),
        name("g4", "tif"),
        name("rgb", "png"),
        name("rgb", "jpg"),
        name("rgb", "tif"),
    ];
    if outputs.iter().all(|p| p.exists()) && truth_dir.join("page-0001.txt").exists() {
        return Ok(());
    }
    let dpi = (mp * 1e6 / (A4_IN.0 * A4_IN.1)).sqrt().round();
    let spec = PageSpec {
        seed: 14,
        dpi,
        paper_in: A4_IN,
        degradation: Degradation::scanner(0.8),
        ..PageSpec::default()
    };
    let page = synth::render_page(&spec)?;
    eprintln!(
        "{mp} MP: {}×{} at {dpi} dpi",
        page.image.width(),
        page.image.height()
    );
    std::fs::create_dir_all(&truth_dir)?;
    std::fs::write(truth_dir.join("page-0001.txt"), &page.truth)?;
    let pages = std::slice::from_ref(&page.image);
    synth::write(&outputs[0], pages, dpi, Format::Png)?;
    synth::write(&outputs[1], pages, dpi, Format::Jpeg { quality: 85 })?;
    synth::write(&outputs[2], pages, dpi, Format::Tiff(TiffCompression::G4))?;
    write_rgb_png(&outputs[3], &page.image, dpi)?;
    write_rgb_jpeg(&outputs[4], &page.image, dpi)?;
    write_rgb_tiff(&outputs[5], &page.image, dpi)
}

/// A grey level on cream paper.
fn cream(v: u8) -> [u8; 3] {
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

fn write_rgb_jpeg(path: &Path, page: &GrayImage, dpi: f32) -> std::io::Result<()> {
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

fn write_rgb_tiff(path: &Path, page: &GrayImage, dpi: f32) -> std::io::Result<()> {
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

/// The page printed on cream paper: colour that no grey conversion can undo.
fn write_rgb_png(path: &Path, page: &GrayImage, dpi: f32) -> std::io::Result<()> {
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

//! A decoded page: its pixels, its resolution, and (for PDF input) the original image stream
//! that can be copied to the output untouched when nothing about the pixels changed.

use std::borrow::Cow;

use image::{GrayImage, RgbImage};

use crate::ycc::Ycc420;

/// The pixels of one page, kept in the narrowest form that holds them, because the output
/// encoding (CCITT G4, Flate, JPEG) follows from it.
#[derive(Debug, Clone)]
pub enum Raster {
    /// Every pixel is 0 or 255.
    Bilevel(GrayImage),
    Gray(GrayImage),
    Rgb(RgbImage),
    /// A large colour page as YCbCr 4:2:0 planes (see [`crate::ycc`]): 1.5 bytes a pixel, and
    /// its luma plane is its grey view.
    Ycc420(Ycc420),
}

impl Raster {
    pub fn dimensions(&self) -> (u32, u32) {
        match self {
            Raster::Bilevel(img) | Raster::Gray(img) => img.dimensions(),
            Raster::Rgb(img) => img.dimensions(),
            Raster::Ycc420(planes) => planes.dimensions(),
        }
    }

    /// Bytes one pixel takes in memory: 1 for grey and bilevel pages, 3 for colour, 1.5 for
    /// colour planes.
    pub fn bytes_per_pixel(&self) -> f64 {
        match self {
            Raster::Bilevel(_) | Raster::Gray(_) => 1.0,
            Raster::Rgb(_) => 3.0,
            Raster::Ycc420(_) => 1.5,
        }
    }

    /// The grey pixels analysis and OCR read: the page's own buffer for grey and bilevel pages
    /// (a page-sized copy is what a 250-megapixel page cannot afford), a converted copy for
    /// colour ones.
    pub fn gray(&self) -> Cow<'_, GrayImage> {
        match self {
            Raster::Bilevel(img) | Raster::Gray(img) => Cow::Borrowed(img),
            Raster::Ycc420(planes) => Cow::Borrowed(&planes.luma),
            // `imageops::grayscale` reads the buffer in place; going through `DynamicImage`
            // would clone the colour buffer first.
            Raster::Rgb(img) => Cow::Owned(image::imageops::grayscale(img)),
        }
    }

    /// A grey copy, owned.
    pub fn to_gray(&self) -> GrayImage {
        self.gray().into_owned()
    }

    /// Classify a grey image: bilevel if it holds only black and white.
    pub fn from_gray(img: GrayImage) -> Raster {
        if img.as_raw().iter().all(|&v| v == 0 || v == 255) {
            Raster::Bilevel(img)
        } else {
            Raster::Gray(img)
        }
    }

    /// Classify a colour image: grey when every pixel is neutral.
    pub fn from_rgb(img: RgbImage) -> Raster {
        if img.pixels().all(|p| p[0] == p[1] && p[1] == p[2]) {
            // Neutral pixels: any channel is the grey level.
            let (w, h) = img.dimensions();
            let grey = img.as_raw().iter().step_by(3).copied().collect();
            drop(img);
            Raster::from_gray(GrayImage::from_raw(w, h, grey).expect("one sample a pixel"))
        } else {
            Raster::Rgb(img)
        }
    }

    /// A colour page as planes ([`Raster::Ycc420`]), converted in its own buffer; other
    /// pages as they are.
    pub fn into_planes(self) -> Raster {
        match self {
            Raster::Rgb(img) => Ycc420::from_rgb_in_place(img),
            other => other,
        }
    }

    /// Rotate by a multiple of 90° clockwise.
    pub fn rotate_quarters(self, clockwise_degrees: u32) -> Raster {
        use image::imageops::{rotate90, rotate180, rotate270};
        fn turn<P: image::Pixel + 'static>(
            img: &image::ImageBuffer<P, Vec<P::Subpixel>>,
            deg: u32,
        ) -> Option<image::ImageBuffer<P, Vec<P::Subpixel>>> {
            match deg % 360 {
                90 => Some(rotate90(img)),
                180 => Some(rotate180(img)),
                270 => Some(rotate270(img)),
                _ => None,
            }
        }
        match self {
            Raster::Bilevel(img) => Raster::Bilevel(turn(&img, clockwise_degrees).unwrap_or(img)),
            Raster::Gray(img) => Raster::Gray(turn(&img, clockwise_degrees).unwrap_or(img)),
            Raster::Rgb(img) => Raster::Rgb(turn(&img, clockwise_degrees).unwrap_or(img)),
            // One plane at a time, each old plane dropped as soon as its turned copy exists:
            // at most one extra luma plane is alive.
            Raster::Ycc420(Ycc420 { luma, cb, cr }) => {
                let one = |plane: GrayImage| turn(&plane, clockwise_degrees).unwrap_or(plane);
                let luma = one(luma);
                let cb = one(cb);
                let cr = one(cr);
                Raster::Ycc420(Ycc420 { luma, cb, cr })
            }
        }
    }
}

/// An image stream lifted from an input PDF, with what is needed to write it again unchanged.
#[derive(Debug, Clone)]
pub struct EmbeddedImage {
    /// The encoded bytes exactly as stored in the input.
    pub data: Vec<u8>,
    /// The stream dictionary entries to write (`Filter`, `DecodeParms`, `ColorSpace`, ...),
    /// with indirect references resolved except for `ColorSpace` ICC profiles, given below.
    pub dict: lopdf::Dictionary,
    /// An ICC profile stream the colour space refers to, written as its own object.
    pub icc_profile: Option<lopdf::Stream>,
}

/// One page, decoded.
#[derive(Debug, Clone)]
pub struct DecodedPage {
    pub raster: Raster,
    /// Horizontal and vertical resolution in pixels per inch.
    pub dpi: (f32, f32),
    /// True when the file stated no resolution and `fallback_dpi` was used.
    pub dpi_assumed: bool,
    pub passthrough: Option<EmbeddedImage>,
    /// The input page carried a text layer, which is dropped and replaced by new OCR.
    pub had_text: bool,
}

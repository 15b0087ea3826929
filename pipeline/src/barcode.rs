//! Finding a Code 128, Code 39 or QR barcode on a page with rxing, measuring how much else is
//! printed on the page (a cover or separator sheet carries little besides its barcode), and
//! drawing such sheets, which the daemon can print for technicians and the tests scan back.
//!
//! Pages are downscaled to [`DETECT_DPI`] before detection: at 300 dpi a full A4 page is 8.7
//! megapixels and rxing's try-harder search is several times slower there, while a sheet's
//! barcode (modules of 0.3 mm or more) still has two pixels a module at 150 dpi. It does not
//! decide which request a barcode names, nor split a batch: `quire-intake` does.

use image::{GrayImage, Luma, imageops};
use rxing::{BarcodeFormat, DecodeHints, MultiFormatWriter, Writer};

use crate::error::PipelineError;
use crate::imaging::shrink::box_shrink;

/// Pages are detected at this resolution (or their own, if lower).
pub const DETECT_DPI: f32 = 150.0;

/// Ink below this grey level counts as printed.
const INK_LEVEL: u8 = 128;

/// The barcode kinds intake reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symbology {
    Code128,
    Code39,
    Qr,
}

impl Symbology {
    fn format(self) -> BarcodeFormat {
        match self {
            Symbology::Code128 => BarcodeFormat::CODE_128,
            Symbology::Code39 => BarcodeFormat::CODE_39,
            Symbology::Qr => BarcodeFormat::QR_CODE,
        }
    }

    fn from_format(format: &BarcodeFormat) -> Option<Self> {
        match format {
            BarcodeFormat::CODE_128 => Some(Symbology::Code128),
            BarcodeFormat::CODE_39 => Some(Symbology::Code39),
            BarcodeFormat::QR_CODE => Some(Symbology::Qr),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Symbology::Code128 => "Code 128",
            Symbology::Code39 => "Code 39",
            Symbology::Qr => "QR",
        }
    }
}

/// A barcode found on a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Barcode {
    pub text: String,
    pub symbology: Symbology,
}

/// What intake needs to know about one page of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct PageBarcodes {
    pub barcode: Option<Barcode>,
    /// Share of the page area inked outside the barcode (0–1). Article pages print 4–10 %;
    /// a sheet with a barcode and a line or two of text well under 1 %.
    pub ink_outside: f32,
}

/// Reads the page: its barcode, if any, and how much else is printed on it.
pub fn examine(page: &GrayImage, dpi: f32) -> PageBarcodes {
    let small = downscale(page, dpi);
    let found = detect_in(&small);
    let exclude = found.as_ref().map(|(_, region)| *region);
    PageBarcodes {
        barcode: found.map(|(b, _)| b),
        ink_outside: ink_share(&small, exclude),
    }
}

/// The barcode on the page, if rxing finds one of the kinds intake reads.
pub fn detect(page: &GrayImage, dpi: f32) -> Option<Barcode> {
    detect_in(&downscale(page, dpi)).map(|(b, _)| b)
}

fn downscale(page: &GrayImage, dpi: f32) -> GrayImage {
    let factor = (dpi / DETECT_DPI).floor() as u32;
    if factor < 2 {
        return page.clone();
    }
    box_shrink(page, factor)
}

/// The pixel rectangle (x0, y0, x1, y1) a barcode occupies, guessed from rxing's points.
type Region = (u32, u32, u32, u32);

fn detect_in(page: &GrayImage) -> Option<(Barcode, Region)> {
    let formats = [Symbology::Code128, Symbology::Code39, Symbology::Qr].map(Symbology::format);
    let mut hints = DecodeHints {
        PossibleFormats: Some(formats.into()),
        TryHarder: Some(true),
        ..DecodeHints::default()
    };
    let result = rxing::helpers::detect_in_luma_slice_with_hints(
        page.as_raw(),
        page.width(),
        page.height(),
        None,
        &mut hints,
    )
    .ok()?;
    let symbology = Symbology::from_format(result.getBarcodeFormat())?;
    let points = result.getPoints();
    let region = region_of(points.iter().map(|p| (p.x, p.y)), symbology, page);
    Some((
        Barcode {
            text: result.getText().to_owned(),
            symbology,
        },
        region,
    ))
}

/// rxing gives the two ends of the scan line for a 1D code and the finder centres for QR; the
/// region around them is padded so that the bars and quiet zones fall inside it.
fn region_of(
    points: impl Iterator<Item = (f32, f32)>,
    symbology: Symbology,
    page: &GrayImage,
) -> Region {
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for (x, y) in points {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return (0, 0, 0, 0);
    }
    let (pad_x, pad_y) = match symbology {
        // Bars are at most about half as tall as the code is long.
        Symbology::Code128 | Symbology::Code39 => {
            let len = x1 - x0;
            (len * 0.1, len * 0.5)
        }
        // Finder centres sit 3.5 modules in from the edges of a code at least 21 modules wide.
        Symbology::Qr => {
            let side = (x1 - x0).max(y1 - y0);
            (side * 0.4, side * 0.4)
        }
    };
    let clamp = |v: f32, max: u32| v.clamp(0.0, max as f32) as u32;
    (
        clamp(x0 - pad_x, page.width()),
        clamp(y0 - pad_y, page.height()),
        clamp(x1 + pad_x, page.width()),
        clamp(y1 + pad_y, page.height()),
    )
}

fn ink_share(page: &GrayImage, exclude: Option<Region>) -> f32 {
    let (ex0, ey0, ex1, ey1) = exclude.unwrap_or((0, 0, 0, 0));
    let inked = page
        .enumerate_pixels()
        .filter(|(x, y, p)| p.0[0] < INK_LEVEL && !(*x >= ex0 && *x < ex1 && *y >= ey0 && *y < ey1))
        .count();
    inked as f32 / (page.width() as u64 * page.height() as u64).max(1) as f32
}

/// Draws `text` as a barcode with modules `module_px` pixels wide (bars `bar_height_px` tall
/// for 1D codes), quiet zone included, black on white.
pub fn draw(
    text: &str,
    symbology: Symbology,
    module_px: u32,
    bar_height_px: u32,
) -> Result<GrayImage, PipelineError> {
    let matrix = MultiFormatWriter
        .encode(text, &symbology.format(), 0, 0)
        .map_err(|e| PipelineError::BarcodeEncode {
            text: text.to_owned(),
            symbology: symbology.name(),
            reason: e.to_string(),
        })?;
    let module_px = module_px.max(1);
    let (cols, rows) = (matrix.getWidth(), matrix.getHeight());
    let one_d = symbology != Symbology::Qr;
    let width = cols * module_px;
    let height = if one_d {
        bar_height_px.max(1)
    } else {
        rows * module_px
    };
    Ok(GrayImage::from_fn(width, height, |x, y| {
        let row = if one_d { 0 } else { y / module_px };
        if matrix.get(x / module_px, row) {
            Luma([0])
        } else {
            Luma([255])
        }
    }))
}

/// A sheet: a white page `paper_in` inches at `dpi` with `text` as a barcode in its upper third,
/// centred, drawn with 0.4 mm modules (1D bars 15 mm tall) or 0.6 mm modules (QR).
pub fn sheet(
    text: &str,
    symbology: Symbology,
    dpi: f32,
    paper_in: (f32, f32),
) -> Result<GrayImage, PipelineError> {
    let px_per_mm = dpi / 25.4;
    let module_mm = if symbology == Symbology::Qr { 0.6 } else { 0.4 };
    let module_px = (module_mm * px_per_mm).round().max(1.0) as u32;
    let code = draw(text, symbology, module_px, (15.0 * px_per_mm) as u32)?;
    let width = (paper_in.0 * dpi).round() as u32;
    let height = (paper_in.1 * dpi).round() as u32;
    let mut page = GrayImage::from_pixel(width, height, Luma([255]));
    let x = (i64::from(width) - i64::from(code.width())) / 2;
    imageops::overlay(&mut page, &code, x.max(0), i64::from(height / 4));
    Ok(page)
}

/// The Code 39 text of a PATCH-T separator sheet.
pub const PATCH_T: &str = "PATCHT";

/// Pages inked above this share (outside their barcode) are content, whatever their barcode.
pub const SHEET_MAX_INK: f32 = 0.02;

/// What a page of a batch is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sheet {
    /// A page of a document.
    Content,
    /// A PATCH-T separator: a new document starts after it.
    Separator,
    /// A cover or separator sheet naming a request: a new document for it starts after it.
    Request(String),
}

impl PageBarcodes {
    /// What the page is, judged from the page alone.
    pub fn sheet(&self) -> Sheet {
        self.sheet_knowing(|_| false)
    }

    /// What the page is, when `is_open_request` tells which barcode texts are ids of open
    /// requests: a page carrying such a barcode is a cover sheet however much else is printed
    /// on it (a printed ILL form, say), since articles do not print request ids.
    pub fn sheet_knowing(&self, is_open_request: impl Fn(&str) -> bool) -> Sheet {
        let Some(code) = &self.barcode else {
            return Sheet::Content;
        };
        let text = code.text.trim();
        if text.is_empty() {
            return Sheet::Content;
        }
        if is_open_request(text) {
            return Sheet::Request(text.to_owned());
        }
        if self.ink_outside > SHEET_MAX_INK {
            return Sheet::Content;
        }
        if code.symbology == Symbology::Code39 && text.eq_ignore_ascii_case(PATCH_T) {
            Sheet::Separator
        } else {
            Sheet::Request(text.to_owned())
        }
    }
}

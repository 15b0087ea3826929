//! Everything done to one page on a worker thread: decode, turn upright, measure and correct
//! skew, check blankness and quality, OCR, and encode the image for the PDF.
//!
//! Blank pages skip orientation, deskew and OCR: there is nothing to read, and tesseract is
//! most of the cost. Skew is measured even with deskew off, so the report always has it.
//!
//! Memory: a page is one buffer (1 byte a pixel grey or bilevel, 3 colour) and at most one
//! more of its size is alive at any time — the straightened or turned copy while it is being
//! made. A large colour page is held as planes ([`crate::ycc`], 1.5 bytes a pixel) and turned
//! one plane at a time, so at most one extra luma plane is alive, and its luma plane is its
//! grey view. Grey and bilevel pages are analysed and OCR'd in place, without a grey copy; tesseract
//! reads a copy shrunk to [`OCR_DPI`] when the scan is finer than [`OCR_MAX_DPI`]; the page is
//! dropped as soon as it is encoded. [`PAGE_BUFFER_FACTOR`] (and [`PLANES_BUFFER_FACTOR`] for
//! planes) is what the memory budget counts.

use std::borrow::Cow;
use std::time::Instant;

use image::GrayImage;

use crate::barcode::Sheet;
use crate::error::{PipelineError, Result};
use crate::imaging::{blank, deskew, quality, resample};
use crate::input::PageRef;
use crate::ocr::{self, OcrPage};
use crate::options::ProcessOptions;
use crate::page::{DecodedPage, EmbeddedImage, Raster};
use crate::page_number;
use crate::pdf::{EncodedImage, image_encode, text_layer};
use crate::report::{BarcodeFinding, PageReport, PageTimings, SkewReport, Warning};

/// A page ready to be written: its image, its text layer and most of its report.
pub(crate) struct FinishedPage {
    pub image: EncodedImage,
    /// Page size in points.
    pub size: (f32, f32),
    pub text_layer: text_layer::TextLayer,
    /// `output_page` and `bytes` are filled in by the writer.
    pub report: PageReport,
    /// OCR engines this page had to start (0 once the worker's engine exists).
    pub engines_started: usize,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Pages finer than this are OCR'd from a shrunk copy: tesseract reads no better past 300–400
/// dpi, and both its copy of the page and its work buffers grow with the pixel count (a
/// full-size copy of a 250-megapixel page is another 250 MB).
pub(crate) const OCR_MAX_DPI: f32 = 400.0;
/// The resolution of that shrunk copy.
pub(crate) const OCR_DPI: f32 = 300.0;
/// A page's peak memory in page-sized buffers, measured (BENCHMARKS.md, "Memory per page"):
/// the page, its straightened copy while it is being made, and for colour pages the grey view
/// (a third of a buffer), plus decoder and tesseract work space.
pub(crate) const PAGE_BUFFER_FACTOR: f64 = 2.5;
/// The same for a colour page held as YCbCr 4:2:0 planes ([`crate::ycc`]) and decoded
/// straight into them (PNG and TIFF row by row, sequential 4:2:0, 4:2:2 and 4:4:0 JPEG files
/// by libjpeg-turbo), in luma-plane sized buffers (1 byte a pixel): the planes (1.5), a
/// straightened or turned plane while it is being made (1), and decoder and tesseract work
/// space (for a JPEG, its compressed file too). Measured: 2.62 (625 MiB for a 250 MP PNG,
/// BENCHMARKS.md).
pub(crate) const PLANES_BUFFER_FACTOR: f64 = 2.75;
/// The same for a colour page held as planes whose format is decoded whole as RGB first
/// (other JPEGs; PDF pages, whose JPEG images are judged only when decoded): the RGB page (3)
/// while it is converted in its own buffer, and work space. Measured: 3.31 (790 MiB for a
/// 250 MP 4:2:0 JPEG decoded whole).
pub(crate) const WHOLE_RGB_FACTOR: f64 = 3.5;

/// A page's pixels with the grey view analysis and OCR read. Grey and bilevel pages are their
/// own grey view; only a colour page holds a second, grey buffer, made once.
struct Pixels {
    raster: Raster,
    luma: Option<GrayImage>,
}

impl Pixels {
    fn new(raster: Raster) -> Pixels {
        let luma = match raster.gray() {
            Cow::Owned(luma) => Some(luma),
            Cow::Borrowed(_) => None,
        };
        Pixels { raster, luma }
    }

    fn gray(&self) -> &GrayImage {
        match (&self.luma, &self.raster) {
            (Some(luma), _) => luma,
            (None, Raster::Bilevel(img) | Raster::Gray(img)) => img,
            (None, Raster::Ycc420(planes)) => &planes.luma,
            (None, Raster::Rgb(_)) => unreachable!("a colour page always has its grey view"),
        }
    }

    /// Replace the pixels by `f` of them; the grey view goes first, so that only the page and
    /// its new copy are alive while `f` works.
    fn map(self, f: impl FnOnce(Raster) -> Raster) -> Pixels {
        drop(self.luma);
        Pixels::new(f(self.raster))
    }

    fn into_raster(self) -> Raster {
        self.raster
    }
}

/// The grey image tesseract reads, at its resolution.
struct OcrInput<'a> {
    image: Cow<'a, GrayImage>,
    dpi: (f32, f32),
}

/// The page itself up to [`OCR_MAX_DPI`]; above it, a copy shrunk to [`OCR_DPI`].
fn ocr_input(gray: &GrayImage, dpi: (f32, f32)) -> OcrInput<'_> {
    if dpi.0.min(dpi.1) <= OCR_MAX_DPI {
        return OcrInput {
            image: Cow::Borrowed(gray),
            dpi,
        };
    }
    shrunk_to(gray, dpi, OCR_DPI)
}

/// `gray` shrunk so that neither resolution exceeds `target` dpi, with its new resolution
/// (exact, from the pixel counts, so words land where they were).
fn shrunk_to(gray: &GrayImage, dpi: (f32, f32), target: f32) -> OcrInput<'_> {
    let (w, h) = gray.dimensions();
    let side = |px: u32, res: f32| {
        if res > target {
            ((f64::from(px) * f64::from(target) / f64::from(res)).round() as u32).max(1)
        } else {
            px
        }
    };
    let (tw, th) = (side(w, dpi.0), side(h, dpi.1));
    if (tw, th) == (w, h) {
        return OcrInput {
            image: Cow::Borrowed(gray),
            dpi,
        };
    }
    OcrInput {
        image: Cow::Owned(resample::shrink_gray(gray, tw, th)),
        dpi: (dpi.0 * tw as f32 / w as f32, dpi.1 * th as f32 / h as f32),
    }
}

/// What OSD reads: letter shapes, not fine detail. At half of a 300-dpi page it is as sure and
/// 2–3 times faster, so pages of 250 dpi or more are shrunk to half of what OCR reads.
fn osd_input(gray: &GrayImage, dpi: (f32, f32)) -> OcrInput<'_> {
    let finest = dpi.0.min(dpi.1);
    if finest < 250.0 {
        return OcrInput {
            image: Cow::Borrowed(gray),
            dpi,
        };
    }
    let read_at = if finest > OCR_MAX_DPI {
        OCR_DPI
    } else {
        finest
    };
    shrunk_to(gray, dpi, read_at / 2.0)
}

pub(crate) fn process(page: &PageRef, options: &ProcessOptions) -> Result<FinishedPage> {
    let at = page.location();
    let tessdata = options.tessdata_dir.as_deref().and_then(|p| p.to_str());
    let mut timings = PageTimings::default();
    let mut warnings = Vec::new();
    let mut engines_started = 0;

    let t = Instant::now();
    let DecodedPage {
        raster,
        dpi,
        dpi_assumed,
        passthrough,
        had_text,
    } = page.decode(options)?;
    let mut dpi = dpi;
    let pixels = Pixels::new(raster);
    timings.decode_ms = ms(t);
    if dpi_assumed {
        warnings.push(Warning::new(
            "page.dpi_assumed",
            format!("the file states no resolution; assumed {:.0} dpi", dpi.0),
        ));
    }

    let t = Instant::now();
    let verdict = blank::detect(pixels.gray());
    timings.analysis_ms += ms(t);

    let mut rotation_applied = 0;
    let mut orientation_confidence = None;
    let mut read = read(
        &at,
        pixels,
        passthrough,
        dpi,
        verdict.blank,
        options,
        &mut timings,
    )?;
    // Orientation only when the page does not already read well: tesseract reads a page that
    // is on its side or upside down as low-confidence noise, so a confident reading proves the
    // page upright and saves OSD (a sixth of a page's tesseract time) on nearly every page.
    if options.orientation && !verdict.blank && !reads_upright(&read.ocr) {
        let t = Instant::now();
        let found = {
            let osd = osd_input(read.pixels.gray(), dpi);
            ocr::with_osd(tessdata, |engine| {
                engine.detect(&osd.image, osd.dpi.0.round() as u32)
            })?
        };
        timings.orientation_ms = ms(t);
        if let Some(found) = found {
            orientation_confidence = Some(found.confidence);
            if found.rotate_clockwise != 0 && found.confidence >= options.orientation_min_confidence
            {
                // A quarter turn is lossless, so turning the page as it stands (deskewed or
                // not) and reading it again costs no image quality.
                let turned = read
                    .pixels
                    .map(|raster| raster.rotate_quarters(found.rotate_clockwise));
                rotation_applied = found.rotate_clockwise;
                if rotation_applied % 180 == 90 {
                    dpi = (dpi.1, dpi.0);
                }
                let ocr_before = timings.ocr_ms;
                read = read_again(&at, turned, dpi, options, &mut timings, read.skew)?;
                timings.ocr_ms += ocr_before;
            }
        }
    }
    let Reading {
        pixels,
        passthrough,
        skew,
        skew_warnings,
        ocr: ocr_page,
        ocr_dpi,
        ocr_height,
        engines_started: started,
    } = read;
    engines_started += started;
    warnings.extend(skew_warnings);

    let t = Instant::now();
    let gray = pixels.gray();
    warnings.extend(
        quality::checks(gray, dpi.0.min(dpi.1))
            .iter()
            .map(Warning::from),
    );
    timings.analysis_ms += ms(t);

    let t = Instant::now();
    let fingerprint_phash = crate::similarity::perceptual_hash(gray, dpi.0.min(dpi.1));
    let barcode = if options.barcodes && !verdict.blank {
        let found = crate::barcode::examine(gray, dpi.0.min(dpi.1));
        found.barcode.as_ref().map(|b| BarcodeFinding {
            text: b.text.clone(),
            symbology: b.symbology.name().to_string(),
            ink_outside: found.ink_outside,
            sheet: match found.sheet() {
                Sheet::Content => "content",
                Sheet::Separator => "separator",
                Sheet::Request(_) => "request",
            }
            .to_string(),
        })
    } else {
        None
    };
    timings.analysis_ms += ms(t);

    if let Some(w) = quality::QualityWarning::for_ocr_confidence(ocr_page.mean_confidence()) {
        warnings.push((&w).into());
    }
    if had_text {
        warnings.push(Warning::new(
            "page.text_layer_replaced",
            "the page already carried text; it was dropped and the page OCR'd afresh",
        ));
    }

    let t = Instant::now();
    // The grey view of a colour page goes before encoding; the page itself right after.
    let raster = pixels.into_raster();
    let (width, height) = raster.dimensions();
    let image = match passthrough {
        // A CMYK image has no place under a PDF/A file's RGB or grey OutputIntent: re-encoded
        // from its decoded pixels instead.
        Some(embedded)
            if !(options.output_type == crate::OutputType::Pdfa
                && embedded.icc_profile.is_none()
                && crate::pdf::pdfa::device_colour(&embedded.dict)
                    == crate::pdf::pdfa::DeviceColour::Cmyk) =>
        {
            image_encode::passthrough(embedded)
        }
        _ => image_encode::encode(&raster, options.jpeg_quality),
    };
    drop(raster);
    // Word boxes are in the pixels tesseract read, which may be a shrunk copy.
    let text_layer = text_layer::content(&ocr_page, ocr_dpi, ocr_height);
    timings.encode_ms = ms(t);

    let report = PageReport {
        source_file: page.file.clone(),
        source_page: page.index + 1,
        output_page: None,
        width_px: width,
        height_px: height,
        dpi_x: dpi.0,
        dpi_y: dpi.1,
        dpi_assumed,
        rotation_applied,
        orientation_confidence,
        skew,
        mean_ocr_confidence: ocr_page.mean_confidence(),
        word_count: ocr_page.word_count(),
        blank: verdict.blank,
        ink_fraction: verdict.ink_fraction,
        replaced_text_layer: had_text,
        printed_page_number: page_number::find(&ocr_page, ocr_height),
        image_encoding: image.encoding,
        bytes: 0,
        warnings,
        text: ocr_page.text(),
        fingerprint_phash,
        barcode,
        timings,
    };
    let size = (width as f32 * 72.0 / dpi.0, height as f32 * 72.0 / dpi.1);
    Ok(FinishedPage {
        image,
        size,
        text_layer,
        report,
        engines_started,
    })
}

/// A page as read in one orientation: straightened image, skew findings and OCR.
struct Reading {
    pixels: Pixels,
    passthrough: Option<EmbeddedImage>,
    skew: Option<SkewReport>,
    skew_warnings: Vec<Warning>,
    ocr: OcrPage,
    /// Resolution and height of the image tesseract read; its word boxes are in its pixels.
    ocr_dpi: (f32, f32),
    ocr_height: u32,
    engines_started: usize,
}

/// Mean word confidence (0–100) at or above which a page counts as read the right way up.
const UPRIGHT_CONFIDENCE: f32 = 70.0;
/// Fewer words than this prove nothing either way.
const UPRIGHT_MIN_WORDS: usize = 8;

/// Tesseract reads a page on its side well too (it turns vertical blocks itself), so
/// confidence alone does not prove a page upright: its longer words must also lie wider than
/// tall. Upside down, it reads noise at low confidence.
fn reads_upright(ocr: &OcrPage) -> bool {
    let long: Vec<_> = ocr
        .words
        .iter()
        .filter(|w| w.text.chars().count() >= 4)
        .collect();
    let lying = long.iter().filter(|w| w.width > w.height).count();
    long.len() >= UPRIGHT_MIN_WORDS
        && lying * 10 >= long.len() * 9
        && ocr
            .mean_confidence()
            .is_some_and(|c| c >= UPRIGHT_CONFIDENCE)
}

/// Measures and corrects skew, then OCRs the page (blank pages skip both).
fn read(
    at: &crate::error::Location,
    mut pixels: Pixels,
    mut passthrough: Option<EmbeddedImage>,
    dpi: (f32, f32),
    blank: bool,
    options: &ProcessOptions,
    timings: &mut PageTimings,
) -> Result<Reading> {
    let mut skew = None;
    let mut skew_warnings = Vec::new();
    if !blank {
        let t = Instant::now();
        let estimate = deskew::estimate_skew(pixels.gray());
        let corrected = options.deskew && estimate.should_rotate();
        if corrected {
            pixels = pixels.map(|raster| rotate(raster, estimate.correction_deg()));
            passthrough = None;
        }
        if let Some(w) = quality::QualityWarning::for_skew(estimate.angle_deg) {
            skew_warnings.push((&w).into());
        }
        if estimate.confidence < deskew::MIN_CONFIDENCE {
            skew_warnings.push(
                (&quality::QualityWarning::SkewUncertain {
                    confidence: estimate.confidence,
                })
                    .into(),
            );
        }
        skew = Some(SkewReport {
            angle_deg: estimate.angle_deg,
            confidence: estimate.confidence,
            corrected,
        });
        timings.deskew_ms += ms(t);
    }
    let (ocr, ocr_dpi, ocr_height, engines_started) = if blank {
        (OcrPage::default(), dpi, pixels.gray().height(), 0)
    } else {
        let input = ocr_input(pixels.gray(), dpi);
        let (ocr, started) = recognize(&input.image, input.dpi, options, timings, at)?;
        (ocr, input.dpi, input.image.height(), started)
    };
    Ok(Reading {
        pixels,
        passthrough,
        skew,
        skew_warnings,
        ocr,
        ocr_dpi,
        ocr_height,
        engines_started,
    })
}

/// After a quarter turn: skew is measured again (a page on its side measures nothing useful)
/// but a correction already made is kept as the page's own.
fn read_again(
    at: &crate::error::Location,
    pixels: Pixels,
    dpi: (f32, f32),
    options: &ProcessOptions,
    timings: &mut PageTimings,
    before: Option<SkewReport>,
) -> Result<Reading> {
    let mut reading = read(at, pixels, None, dpi, false, options, timings)?;
    if let (Some(now), Some(then)) = (&mut reading.skew, before) {
        now.corrected |= then.corrected;
    }
    Ok(reading)
}

fn recognize(
    gray: &GrayImage,
    dpi: (f32, f32),
    options: &ProcessOptions,
    timings: &mut PageTimings,
    at: &crate::error::Location,
) -> Result<(OcrPage, usize)> {
    let tessdata = options.tessdata_dir.as_deref().and_then(|p| p.to_str());
    let t = Instant::now();
    let (result, started) = ocr::with_engine(
        &options.languages,
        tessdata,
        options.find_tables,
        |engine| engine.recognize(gray, dpi.0.round() as u32),
    )?;
    timings.ocr_ms = ms(t);
    let page = result.map_err(|reason| PipelineError::Ocr {
        at: at.clone(),
        reason,
    })?;
    Ok((page, usize::from(started)))
}

fn rotate(raster: Raster, angle_deg: f32) -> Raster {
    match raster {
        Raster::Bilevel(img) => Raster::Bilevel(deskew::rotate_bilevel(&img, angle_deg)),
        Raster::Gray(img) => Raster::Gray(deskew::rotate_gray(&img, angle_deg)),
        Raster::Rgb(img) => Raster::Rgb(deskew::rotate_rgb(&img, angle_deg)),
        Raster::Ycc420(planes) => Raster::Ycc420(deskew::rotate_planes(planes, angle_deg)),
    }
}

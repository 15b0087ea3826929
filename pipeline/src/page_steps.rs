//! Everything done to one page on a worker thread: decode, turn upright, measure and correct
//! skew, check blankness and quality, OCR, and encode the image for the PDF.
//!
//! Blank pages skip orientation, deskew and OCR: there is nothing to read, and tesseract is
//! most of the cost. Skew is measured even with deskew off, so the report always has it.

use std::time::Instant;

use crate::error::{PipelineError, Result};
use crate::imaging::{blank, deskew, quality};
use crate::input::PageRef;
use crate::intake::batch::Sheet;
use crate::ocr::{self, OcrPage};
use crate::options::ProcessOptions;
use crate::page::Raster;
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

pub(crate) fn process(page: &PageRef, options: &ProcessOptions) -> Result<FinishedPage> {
    let at = page.location();
    let tessdata = options.tessdata_dir.as_deref().and_then(|p| p.to_str());
    let mut timings = PageTimings::default();
    let mut warnings = Vec::new();
    let mut engines_started = 0;

    let t = Instant::now();
    let decoded = page.decode(options)?;
    let raster = decoded.raster;
    let passthrough = decoded.passthrough;
    let mut dpi = decoded.dpi;
    let gray = raster.to_gray();
    timings.decode_ms = ms(t);
    if decoded.dpi_assumed {
        warnings.push(Warning::new(
            "page.dpi_assumed",
            format!("the file states no resolution; assumed {:.0} dpi", dpi.0),
        ));
    }

    let t = Instant::now();
    let verdict = blank::detect(&gray);
    timings.analysis_ms += ms(t);

    let mut rotation_applied = 0;
    let mut orientation_confidence = None;
    let mut read = read(
        &at,
        raster,
        passthrough,
        gray,
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
        let gray = &read.gray;
        // OSD needs letter shapes, not fine detail: at half resolution it is as sure and
        // 2–3 times faster on 300 dpi scans.
        let found = if dpi.0.min(dpi.1) >= 250.0 {
            let half = image::imageops::resize(
                gray,
                gray.width() / 2,
                gray.height() / 2,
                image::imageops::FilterType::Triangle,
            );
            ocr::with_osd(tessdata, |osd| {
                osd.detect(&half, (dpi.0 / 2.0).round() as u32)
            })?
        } else {
            ocr::with_osd(tessdata, |osd| osd.detect(gray, dpi.0.round() as u32))?
        };
        timings.orientation_ms = ms(t);
        if let Some(found) = found {
            orientation_confidence = Some(found.confidence);
            if found.rotate_clockwise != 0 && found.confidence >= options.orientation_min_confidence
            {
                // A quarter turn is lossless, so turning the page as it stands (deskewed or
                // not) and reading it again costs no image quality.
                let turned = read.raster.rotate_quarters(found.rotate_clockwise);
                rotation_applied = found.rotate_clockwise;
                if rotation_applied % 180 == 90 {
                    dpi = (dpi.1, dpi.0);
                }
                let gray = turned.to_gray();
                let ocr_before = timings.ocr_ms;
                read = read_again(&at, turned, gray, dpi, options, &mut timings, read.skew)?;
                timings.ocr_ms += ocr_before;
            }
        }
    }
    let Reading {
        raster,
        gray,
        passthrough,
        skew,
        skew_warnings,
        ocr: ocr_page,
        engines_started: started,
    } = read;
    engines_started += started;
    warnings.extend(skew_warnings);

    let t = Instant::now();
    warnings.extend(
        quality::checks(&gray, dpi.0.min(dpi.1))
            .iter()
            .map(Warning::from),
    );
    timings.analysis_ms += ms(t);

    let t = Instant::now();
    let fingerprint_phash = crate::similarity::perceptual_hash(&gray, dpi.0.min(dpi.1));
    let barcode = if options.barcodes && !verdict.blank {
        let found = crate::intake::barcode::examine(&gray, dpi.0.min(dpi.1));
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
    if decoded.had_text {
        warnings.push(Warning::new(
            "page.text_layer_replaced",
            "the page already carried text; it was dropped and the page OCR'd afresh",
        ));
    }

    let t = Instant::now();
    let (width, height) = raster.dimensions();
    let image = match passthrough {
        Some(embedded) => image_encode::passthrough(embedded),
        None => image_encode::encode(&raster, options.jpeg_quality),
    };
    let text_layer = text_layer::content(&ocr_page, dpi, height);
    timings.encode_ms = ms(t);
    drop(gray);

    let report = PageReport {
        source_file: page.file.clone(),
        source_page: page.index + 1,
        output_page: None,
        width_px: width,
        height_px: height,
        dpi_x: dpi.0,
        dpi_y: dpi.1,
        dpi_assumed: decoded.dpi_assumed,
        rotation_applied,
        orientation_confidence,
        skew,
        mean_ocr_confidence: ocr_page.mean_confidence(),
        word_count: ocr_page.word_count(),
        blank: verdict.blank,
        ink_fraction: verdict.ink_fraction,
        replaced_text_layer: decoded.had_text,
        printed_page_number: page_number::find(&ocr_page, height),
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
    raster: Raster,
    gray: image::GrayImage,
    passthrough: Option<crate::page::EmbeddedImage>,
    skew: Option<SkewReport>,
    skew_warnings: Vec<Warning>,
    ocr: OcrPage,
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
#[allow(clippy::too_many_arguments)]
fn read(
    at: &crate::error::Location,
    mut raster: Raster,
    mut passthrough: Option<crate::page::EmbeddedImage>,
    mut gray: image::GrayImage,
    dpi: (f32, f32),
    blank: bool,
    options: &ProcessOptions,
    timings: &mut PageTimings,
) -> Result<Reading> {
    let mut skew = None;
    let mut skew_warnings = Vec::new();
    if !blank {
        let t = Instant::now();
        let estimate = deskew::estimate_skew(&gray);
        let corrected = options.deskew && estimate.should_rotate();
        if corrected {
            raster = rotate(raster, estimate.correction_deg());
            gray = raster.to_gray();
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
    let (ocr, engines_started) = if blank {
        (OcrPage::default(), 0)
    } else {
        recognize(&gray, dpi, options, timings, at)?
    };
    Ok(Reading {
        raster,
        gray,
        passthrough,
        skew,
        skew_warnings,
        ocr,
        engines_started,
    })
}

/// After a quarter turn: skew is measured again (a page on its side measures nothing useful)
/// but a correction already made is kept as the page's own.
fn read_again(
    at: &crate::error::Location,
    raster: Raster,
    gray: image::GrayImage,
    dpi: (f32, f32),
    options: &ProcessOptions,
    timings: &mut PageTimings,
    before: Option<SkewReport>,
) -> Result<Reading> {
    let mut reading = read(at, raster, None, gray, dpi, false, options, timings)?;
    if let (Some(now), Some(then)) = (&mut reading.skew, before) {
        now.corrected |= then.corrected;
    }
    Ok(reading)
}

fn recognize(
    gray: &image::GrayImage,
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
    }
}

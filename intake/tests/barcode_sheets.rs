//! Barcode sheets drawn with rxing's writer, put on synthetic pages, turned and soiled like
//! scans, and read back; article pages from `quire_testkit::synth` stand in for content.

use std::time::Instant;

use ab_glyph::{FontVec, PxScale};
use image::{GrayImage, Luma};

use quire_intake::batch::{Segment, split_batch};
use quire_pipeline::barcode::*;
use quire_pipeline::imaging::deskew::rotate_gray;
use quire_testkit::synth::{Degradation, PageSpec, render_page};

const A4: (f32, f32) = (8.27, 11.69);

fn font() -> FontVec {
    let bytes = std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
        .expect("fonts-dejavu-core");
    FontVec::try_from_vec(bytes).unwrap()
}

/// A sheet as a technician prints it: the barcode and two lines of text below it, scanned with
/// a small skew and sensor noise.
fn scanned_sheet(text: &str, symbology: Symbology, dpi: f32, skew_deg: f32) -> GrayImage {
    let mut page = sheet(text, symbology, dpi, A4).unwrap();
    let scale = PxScale::from(14.0 * dpi / 72.0);
    let y = (A4.1 * dpi * 0.55) as i32;
    let x = (dpi * 1.2) as i32;
    imageproc::drawing::draw_text_mut(
        &mut page,
        Luma([0]),
        x,
        y,
        scale,
        &font(),
        &format!("Request {text}"),
    );
    let second = y + (scale.y * 1.5) as i32;
    imageproc::drawing::draw_text_mut(
        &mut page,
        Luma([0]),
        x,
        second,
        scale,
        &font(),
        "Patron: A. Reader, Library SYM",
    );
    let mut page = rotate_gray(&page, skew_deg);
    imageproc::noise::gaussian_noise_mut(&mut page, 0.0, 8.0, 3);
    page
}

fn article_page(dpi: f32, number: u32) -> GrayImage {
    let spec = PageSpec {
        seed: 11,
        page_number: number,
        dpi,
        degradation: Degradation::scanner(0.4),
        ..PageSpec::default()
    };
    render_page(&spec).unwrap().image
}

#[test]
fn reads_each_symbology_on_scanned_sheets() {
    for (symbology, dpi, skew) in [
        (Symbology::Code128, 300.0, 1.5),
        (Symbology::Code39, 300.0, -1.0),
        (Symbology::Qr, 300.0, 2.0),
        (Symbology::Code128, 200.0, -2.0),
        (Symbology::Code39, 200.0, 0.5),
        (Symbology::Qr, 200.0, -1.5),
    ] {
        let page = scanned_sheet("TN12345", symbology, dpi, skew);
        let seen = examine(&page, dpi);
        let code = seen
            .barcode
            .as_ref()
            .unwrap_or_else(|| panic!("no {} found at {dpi} dpi", symbology.name()));
        assert_eq!(code.text, "TN12345");
        assert_eq!(code.symbology, symbology);
        assert_eq!(
            seen.sheet(),
            Sheet::Request("TN12345".into()),
            "{symbology:?} {dpi}: {seen:?}"
        );
        println!(
            "{} sheet at {dpi} dpi: ink outside the code {:.4}",
            symbology.name(),
            seen.ink_outside
        );
    }
}

#[test]
fn sheets_placed_sideways_or_upside_down_are_read() {
    let page = scanned_sheet("TN4242", Symbology::Code128, 200.0, 0.5);
    for turned in [
        image::imageops::rotate90(&page),
        image::imageops::rotate180(&page),
    ] {
        let seen = examine(&turned, 200.0);
        assert_eq!(seen.sheet(), Sheet::Request("TN4242".into()), "{seen:?}");
    }
}

#[test]
fn patch_t_is_a_separator_and_article_pages_are_content() {
    let patch = scanned_sheet("PATCHT", Symbology::Code39, 300.0, 1.0);
    assert_eq!(examine(&patch, 300.0).sheet(), Sheet::Separator);
    // PATCHT in another symbology is a request id like any other text, not a separator.
    let qr = scanned_sheet("PATCHT", Symbology::Qr, 300.0, 0.0);
    assert_eq!(examine(&qr, 300.0).sheet(), Sheet::Request("PATCHT".into()));

    let article = article_page(300.0, 2);
    let seen = examine(&article, 300.0);
    assert_eq!(seen.barcode, None);
    assert!(
        seen.ink_outside > SHEET_MAX_INK,
        "article ink {}",
        seen.ink_outside
    );
    println!("article page: ink {:.4}", seen.ink_outside);
    assert_eq!(seen.sheet(), Sheet::Content);

    // A DOI QR code printed in an article is read but the page stays content.
    let mut with_qr = article_page(300.0, 3);
    let code = draw("https://doi.org/10.1000/182", Symbology::Qr, 6, 0).unwrap();
    image::imageops::overlay(&mut with_qr, &code, 1700, 2900);
    let seen = examine(&with_qr, 300.0);
    assert_eq!(
        seen.barcode.as_ref().map(|b| b.text.as_str()),
        Some("https://doi.org/10.1000/182")
    );
    assert_eq!(seen.sheet(), Sheet::Content);
}

#[test]
fn a_scanned_batch_splits_into_one_job_per_request() {
    let dpi = 200.0;
    let batch = [
        scanned_sheet("TN1", Symbology::Code128, dpi, 0.8),
        article_page(dpi, 1),
        article_page(dpi, 2),
        scanned_sheet("PATCHT", Symbology::Code39, dpi, -0.5),
        scanned_sheet("TN2", Symbology::Qr, dpi, 1.2),
        article_page(dpi, 3),
    ];
    let pages: Vec<PageBarcodes> = batch.iter().map(|p| examine(p, dpi)).collect();
    assert_eq!(
        split_batch(&pages),
        vec![
            Segment {
                request: Some("TN1".into()),
                pages: 1..3,
                sheets: vec![0]
            },
            Segment {
                request: Some("TN2".into()),
                pages: 5..6,
                sheets: vec![3, 4]
            },
        ]
    );
}

#[test]
fn drawing_refuses_text_the_symbology_cannot_hold() {
    let err = draw("TN1 ü", Symbology::Code39, 2, 40).unwrap_err();
    assert_eq!(err.code(), "intake.barcode.encode");
}

/// Prints detection time on a 300-dpi A4 page, as examined (downscaled to DETECT_DPI) and at
/// full resolution, for a sheet and for an article page without a barcode (the common case).
/// Run with `--nocapture`; it asserts only that both paths agree.
#[test]
fn detection_time_on_a_300_dpi_page() {
    let sheet = scanned_sheet("TN12345", Symbology::Code128, 300.0, 1.0);
    let article = article_page(300.0, 2);
    for (name, page) in [("sheet", &sheet), ("article", &article)] {
        let start = Instant::now();
        let small = detect(page, 300.0);
        let downscaled = start.elapsed();
        let start = Instant::now();
        let full = detect(page, DETECT_DPI);
        let full_time = start.elapsed();
        println!(
            "barcode detection, {name}, 300 dpi A4: downscaled to {DETECT_DPI} dpi {downscaled:?}, full resolution {full_time:?}"
        );
        assert_eq!(small.map(|b| b.text), full.map(|b| b.text));
    }
}

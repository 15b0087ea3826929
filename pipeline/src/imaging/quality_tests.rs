//! Quality checks: what each warning is raised on, and how warnings serialise.

use image::{GrayImage, Luma};

use super::quality::{QualityWarning, checks};
use quire_testkit::synth::{Degradation, PageSpec, render_page};

fn text_page(dpi: f32) -> GrayImage {
    render_page(&PageSpec {
        dpi,
        paper_in: (5.83, 8.27),
        degradation: Degradation::scanner(0.0),
        ..PageSpec::default()
    })
    .expect("render")
    .image
}

fn codes(warnings: &[QualityWarning]) -> Vec<&'static str> {
    warnings.iter().map(QualityWarning::code).collect()
}

#[test]
fn a_good_scan_has_no_warnings() {
    assert_eq!(checks(&text_page(300.0), 300.0), vec![]);
}

#[test]
fn a_blank_page_is_not_a_contrast_problem() {
    assert_eq!(
        checks(&GrayImage::from_pixel(600, 800, Luma([240])), 300.0),
        vec![]
    );
}

#[test]
fn low_resolution_is_flagged() {
    assert_eq!(
        codes(&checks(&text_page(100.0), 100.0)),
        vec!["quality.tiny_dpi"]
    );
}

#[test]
fn dark_paper_is_flagged() {
    let mut page = text_page(200.0);
    page.pixels_mut().for_each(|p| p.0[0] /= 2);
    assert_eq!(codes(&checks(&page, 200.0)), vec!["quality.too_dark"]);
}

#[test]
fn faint_ink_is_flagged() {
    let mut page = text_page(200.0);
    // Squeeze ink and paper into 200..=245: a washed-out photocopy.
    page.pixels_mut()
        .for_each(|p| p.0[0] = 200 + (u16::from(p.0[0]) * 45 / 255) as u8);
    assert_eq!(codes(&checks(&page, 200.0)), vec!["quality.low_contrast"]);
}

#[test]
fn warnings_serialise_with_code_message_and_value() {
    let json = serde_json::to_value(QualityWarning::TinyDpi { dpi: 72.0 }).expect("json");
    assert_eq!(json["code"], "quality.tiny_dpi");
    assert_eq!(json["dpi"], 72.0);
    assert!(
        json["message"]
            .as_str()
            .expect("message")
            .contains("72 dpi")
    );
}

#[test]
fn ocr_and_skew_thresholds() {
    assert_eq!(QualityWarning::for_ocr_confidence(None), None);
    assert_eq!(QualityWarning::for_ocr_confidence(Some(91.0)), None);
    assert_eq!(
        QualityWarning::for_ocr_confidence(Some(40.0)).map(|w| w.code()),
        Some("quality.low_ocr_confidence")
    );
    assert_eq!(QualityWarning::for_skew(1.5), None);
    assert_eq!(
        QualityWarning::for_skew(-9.0).map(|w| w.code()),
        Some("quality.too_skewed")
    );
}

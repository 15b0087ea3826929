//! Near-duplicates through real OCR (libtesseract) on a few synthetic pages: a rescan at
//! another resolution, skew and JPEG quality is recognised from its OCR words, and a different
//! article set in the same layout is not.

use std::io::Cursor;

use image::GrayImage;
use image::codecs::jpeg::JpegEncoder;
use quire_pipeline::ocr::OcrEngine;
use quire_pipeline::similarity::{
    PAGE_MATCH_TEXT, PageFingerprint, compare_documents, minhash_similarity,
};
use quire_testkit::synth::{Degradation, PageSpec, render_page};

fn scan(seed: u64, dpi: f32, skew_deg: f32) -> GrayImage {
    let spec = PageSpec {
        seed,
        page_number: 2,
        dpi,
        degradation: Degradation::scanner(skew_deg),
        ..PageSpec::default()
    };
    render_page(&spec).unwrap().image
}

fn jpeg(page: &GrayImage, quality: u8) -> GrayImage {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(Cursor::new(&mut bytes), quality)
        .encode_image(page)
        .unwrap();
    image::load_from_memory(&bytes).unwrap().to_luma8()
}

fn fingerprint(engine: &mut OcrEngine, page: &GrayImage, dpi: f32) -> PageFingerprint {
    let ocr = engine.recognize(page, dpi as u32).unwrap();
    let text: Vec<&str> = ocr.words.iter().map(|w| w.text.as_str()).collect();
    PageFingerprint::of(page, dpi, &text.join(" "))
}

#[test]
fn a_rescan_is_recognised_through_ocr() {
    let mut engine = OcrEngine::new("eng", None, false).unwrap();
    let original = fingerprint(&mut engine, &scan(71, 200.0, 0.2), 200.0);
    let rescan = fingerprint(&mut engine, &jpeg(&scan(71, 150.0, -1.5), 40), 150.0);
    let other = fingerprint(&mut engine, &scan(72, 200.0, 0.2), 200.0);
    let same = minhash_similarity(&original.minhash, &rescan.minhash);
    let different = minhash_similarity(&original.minhash, &other.minhash);
    println!("OCR text similarity: rescan {same:.3}, different article {different:.3}");
    assert!(same >= PAGE_MATCH_TEXT + 0.1, "rescan similarity {same}");
    assert!(
        different < PAGE_MATCH_TEXT / 2.0,
        "different-article similarity {different}"
    );
    let found =
        compare_documents(&[rescan], std::slice::from_ref(&original)).expect("rescan recognised");
    assert_eq!((found.new_pages, found.old_pages), (1..=1, 1..=1));
    assert_eq!(compare_documents(&[other], &[original]), None);
}

//! Blank detection on blank, near-blank and printed pages, synthetic and real.

use image::{GrayImage, Luma};

use super::blank::detect;
use quire_testkit::synth::{Degradation, PageSpec, render_page};

fn a4_at_150(paper: u8) -> GrayImage {
    GrayImage::from_pixel(1240, 1754, Luma([paper]))
}

#[test]
fn white_and_off_white_sheets_are_blank() {
    for paper in [255, 235, 200] {
        let v = detect(&a4_at_150(paper));
        assert!(v.blank, "paper {paper}: {v:?}");
        assert_eq!(v.ink_fraction, 0.0);
    }
}

#[test]
fn scanner_noise_and_specks_do_not_make_a_page_printed() {
    let mut page = a4_at_150(240);
    imageproc::noise::gaussian_noise_mut(&mut page, 0.0, 10.0, 1);
    imageproc::noise::salt_and_pepper_noise_mut(&mut page, 0.002, 2);
    let v = detect(&page);
    assert!(v.blank, "{v:?}");
}

#[test]
fn dark_scanner_edges_in_the_margins_are_ignored() {
    let mut page = a4_at_150(245);
    // A shadow along the left edge and a punch hole near the top, both inside the margins.
    for y in 0..1754 {
        for x in 0..40 {
            page.put_pixel(x, y, Luma([30]));
        }
    }
    imageproc::drawing::draw_filled_circle_mut(&mut page, (30, 200), 25, Luma([0]));
    let v = detect(&page);
    assert!(v.blank, "{v:?}");
}

#[test]
fn a_page_with_only_a_page_number_is_blank_but_one_line_of_text_is_not() {
    let mut page = a4_at_150(245);
    let font = ab_glyph::FontVec::try_from_vec(
        std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf").expect("DejaVu"),
    )
    .expect("font");
    let scale = ab_glyph::PxScale::from(23.0);
    imageproc::drawing::draw_text_mut(&mut page, Luma([20]), 600, 1600, scale, &font, "12");
    let v = detect(&page);
    assert!(v.blank, "page number only: {v:?}");

    let line = "This page has been left blank on purpose by the printer of the book.";
    imageproc::drawing::draw_text_mut(&mut page, Luma([20]), 150, 800, scale, &font, line);
    let v = detect(&page);
    assert!(!v.blank, "one line of text: {v:?}");
}

#[test]
fn printed_pages_are_not_blank_grey_or_bilevel() {
    for bilevel in [false, true] {
        let page = render_page(&PageSpec {
            dpi: 150.0,
            degradation: Degradation {
                bilevel,
                ..Degradation::scanner(1.0)
            },
            ..PageSpec::default()
        })
        .expect("render");
        let v = detect(&page.image);
        assert!(!v.blank, "bilevel {bilevel}: {v:?}");
        assert!(v.ink_fraction > 0.02, "bilevel {bilevel}: {v:?}");
    }
}

#[test]
fn real_scans_blank_pdf_is_blank_and_linn_is_not() {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("blank");
    let status = std::process::Command::new("pdftoppm")
        .args(["-r", "100", "-gray", "-png", "-singlefile"])
        .arg(format!("{corpus}/blank.pdf"))
        .arg(&prefix)
        .status()
        .expect("pdftoppm (poppler-utils) runs");
    assert!(status.success());
    let blank = image::open(prefix.with_extension("png"))
        .expect("rendered")
        .to_luma8();
    assert!(detect(&blank).blank, "{:?}", detect(&blank));

    let linn = image::open(format!("{corpus}/linn.png"))
        .expect("linn.png")
        .to_luma8();
    assert!(!detect(&linn).blank, "{:?}", detect(&linn));
}

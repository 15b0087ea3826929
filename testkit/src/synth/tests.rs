//! Tests of the synthetic page generator: determinism, the truth text, writing every format and
//! reading it back, and OCR of a clean page against its truth.

use std::path::Path;

use image::{GrayImage, Luma};

use super::formats::g4;
use super::*;

fn small_spec() -> PageSpec {
    PageSpec {
        dpi: 100.0,
        paper_in: (4.0, 5.0),
        ..PageSpec::default()
    }
}

fn bilevel(page: &GrayImage) -> GrayImage {
    let mut out = page.clone();
    out.pixels_mut()
        .for_each(|p| p.0[0] = if p.0[0] < 128 { 0 } else { 255 });
    out
}

#[test]
fn equal_specs_give_equal_pages_and_seeds_change_the_text() {
    let spec = PageSpec {
        degradation: Degradation::scanner(2.5),
        ..small_spec()
    };
    let a = render_page(&spec).expect("render");
    let b = render_page(&spec).expect("render");
    assert!(a.image == b.image, "same spec, different pixels");
    assert_eq!(a.truth, b.truth);
    let c = render_page(&PageSpec { seed: 99, ..spec }).expect("render");
    assert_ne!(a.truth, c.truth);
}

#[test]
fn truth_has_title_paragraphs_and_page_number() {
    let pages = render_article(
        &PageSpec {
            dpi: 150.0,
            ..PageSpec::default()
        },
        2,
    )
    .expect("render");
    let first = &pages[0].truth;
    assert!(first.starts_with(&article::title(1)), "{first}");
    assert!(first.ends_with("\n\nPage 1"), "{first}");
    assert!(
        first.matches("\n\n").count() >= 4,
        "several paragraphs: {first}"
    );
    assert!(
        first.split_whitespace().count() > 300,
        "a full page: {first}"
    );
    let second = &pages[1].truth;
    assert!(!second.contains(&article::title(1)));
    assert!(second.ends_with("Page 2"));
    let size = |inches: f32| (inches * 150.0).round() as u32;
    assert_eq!(pages[0].image.dimensions(), (size(8.27), size(11.69)));
}

#[test]
fn degradation_skews_blurs_noises_and_binarises() {
    let clean = render_page(&small_spec()).expect("render").image;
    let noisy = render_page(&PageSpec {
        degradation: Degradation::scanner(0.0),
        ..small_spec()
    })
    .expect("render")
    .image;
    let distinct = |p: &GrayImage| {
        let mut seen = [false; 256];
        p.pixels().for_each(|q| seen[q.0[0] as usize] = true);
        seen.iter().filter(|&&s| s).count()
    };
    assert!(clean != noisy, "scanner faults changed nothing");
    assert!(distinct(&noisy) > 100);
    let two = render_page(&PageSpec {
        degradation: Degradation {
            bilevel: true,
            ..Degradation::scanner(1.0)
        },
        ..small_spec()
    })
    .expect("render");
    assert_eq!(distinct(&two.image), 2);
    assert_eq!(two.skew_deg, 1.0);
}

fn assert_close(a: &GrayImage, b: &GrayImage, max_mean_diff: f64) {
    assert_eq!(a.dimensions(), b.dimensions());
    let diff: u64 = a
        .pixels()
        .zip(b.pixels())
        .map(|(p, q)| p.0[0].abs_diff(q.0[0]) as u64)
        .sum();
    let mean = diff as f64 / (a.width() * a.height()) as f64;
    assert!(mean <= max_mean_diff, "mean pixel difference {mean}");
}

fn pages() -> Vec<GrayImage> {
    (1..=2)
        .map(|n| {
            let spec = PageSpec {
                page_number: n,
                degradation: Degradation::scanner(0.5),
                ..small_spec()
            };
            render_page(&spec).expect("render").image
        })
        .collect()
}

/// Every page of a TIFF, decoded by the `tiff` crate, with its X resolution.
fn read_tiff(path: &Path) -> Vec<(GrayImage, f32)> {
    use tiff::decoder::{Decoder, DecodingResult};
    use tiff::tags::Tag;
    let mut decoder = Decoder::new(std::fs::File::open(path).expect("open")).expect("tiff");
    let mut out = Vec::new();
    loop {
        let (w, h) = decoder.dimensions().expect("dimensions");
        let dpi = match decoder.get_tag(Tag::XResolution).expect("resolution") {
            tiff::decoder::ifd::Value::Rational(n, d) => n as f32 / d as f32,
            other => panic!("unexpected resolution {other:?}"),
        };
        let bits = decoder.get_tag_u32(Tag::BitsPerSample).expect("bits");
        let data = match decoder.read_image().expect("decode") {
            DecodingResult::U8(data) => data,
            _ => panic!("8-bit or 1-bit expected"),
        };
        let pixels = if bits == 1 {
            // Unpack bits; the decoder has already turned WhiteIsZero into zero-is-black.
            let row_bytes = (w as usize).div_ceil(8);
            (0..h as usize)
                .flat_map(|y| {
                    let data = &data;
                    (0..w as usize).map(move |x| {
                        let set = data[y * row_bytes + x / 8] & (0x80 >> (x % 8)) != 0;
                        if set { 255 } else { 0 }
                    })
                })
                .collect()
        } else {
            data
        };
        out.push((GrayImage::from_raw(w, h, pixels).expect("size"), dpi));
        if !decoder.more_images() {
            return out;
        }
        decoder.next_image().expect("next page");
    }
}

#[test]
fn png_round_trips_with_resolution() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = &pages()[0];
    for (format, expected) in [
        (Format::Png, page.clone()),
        (Format::PngBilevel, bilevel(page)),
    ] {
        let path = dir.path().join("page.png");
        write(&path, std::slice::from_ref(page), 100.0, format).expect("write");
        let back = image::open(&path).expect("decode").to_luma8();
        assert!(back == expected, "{format:?}: pixels differ");
        let reader =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()))
                .read_info()
                .expect("png");
        let dims = reader.info().pixel_dims.expect("pHYs");
        assert_eq!(dims.xppu, 3937, "100 dpi in pixels per metre");
    }
}

#[test]
fn jpeg_round_trips_closely() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("page.jpg");
    let page = &pages()[0];
    write(
        &path,
        std::slice::from_ref(page),
        100.0,
        Format::Jpeg { quality: 90 },
    )
    .expect("write");
    let back = image::open(&path).expect("decode").to_luma8();
    assert_close(&back, page, 3.0);
}

#[test]
fn single_page_formats_refuse_several_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = write(&dir.path().join("x.png"), &pages(), 100.0, Format::Png).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn every_tiff_compression_round_trips_all_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pages = pages();
    for compression in [
        TiffCompression::None,
        TiffCompression::Lzw,
        TiffCompression::Deflate,
        TiffCompression::PackBits,
        TiffCompression::G4,
    ] {
        let path = dir.path().join(format!("{compression:?}.tif"));
        write(&path, &pages, 100.0, Format::Tiff(compression)).expect("write");
        let back = read_tiff(&path);
        assert_eq!(back.len(), 2, "{compression:?}");
        for ((image, dpi), original) in back.iter().zip(&pages) {
            let expected = if compression == TiffCompression::G4 {
                bilevel(original)
            } else {
                original.clone()
            };
            assert!(image == &expected, "{compression:?}: pixels differ");
            assert_eq!(*dpi, 100.0, "{compression:?}");
        }
        // The `image` crate reads the first page too, as most viewers would.
        let first = image::open(&path).expect("image crate decodes").to_luma8();
        let expected = if compression == TiffCompression::G4 {
            bilevel(&pages[0])
        } else {
            pages[0].clone()
        };
        assert!(
            first == expected,
            "{compression:?}: image crate reads other pixels"
        );
    }
}

#[test]
fn g4_data_decodes_back_to_the_page() {
    let page = bilevel(&pages()[0]);
    let data = g4(&page).expect("encode");
    let (w, h) = page.dimensions();
    let mut rows: Vec<Vec<u8>> = Vec::new();
    fax::decoder::decode_g4(data.into_iter(), w, Some(h), |transitions| {
        let row = fax::decoder::pels(transitions, w)
            .map(|c| if c == fax::Color::Black { 0 } else { 255 })
            .collect();
        rows.push(row);
    })
    .expect("decode");
    let decoded = GrayImage::from_raw(w, h, rows.concat()).expect("size");
    assert!(decoded == page, "pixels differ");
}

/// The images of a PDF, with their filter names and MediaBox widths.
fn pdf_images(path: &Path) -> Vec<(String, lopdf::Stream, f32)> {
    let doc = lopdf::Document::load(path).expect("lopdf loads it");
    doc.get_pages()
        .values()
        .map(|&page_id| {
            let page = doc.get_dictionary(page_id).expect("page");
            let media = page
                .get(b"MediaBox")
                .and_then(lopdf::Object::as_array)
                .expect("MediaBox");
            let width = media[2].as_float().expect("width");
            let (_, xobjects) = doc.get_page_resources(page_id).expect("resources");
            let _ = xobjects;
            let images = doc.get_page_images(page_id).expect("images");
            let image = &images[0];
            let filter = image
                .filters
                .as_ref()
                .map(|f| f.join(","))
                .unwrap_or_default();
            let stream = doc
                .get_object(image.id)
                .and_then(lopdf::Object::as_stream)
                .expect("stream");
            (filter, stream.clone(), width)
        })
        .collect()
}

#[test]
fn image_only_pdfs_hold_each_codec_and_pass_qpdf() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pages = pages();
    let (w, h) = pages[0].dimensions();
    for codec in [
        PdfImageCodec::Dct,
        PdfImageCodec::Flate,
        PdfImageCodec::Ccitt,
    ] {
        let path = dir.path().join(format!("{codec:?}.pdf"));
        write(&path, &pages, 100.0, Format::Pdf(codec)).expect("write");
        let check = std::process::Command::new("qpdf")
            .arg("--check")
            .arg(&path)
            .output()
            .expect("qpdf runs");
        assert!(
            check.status.success(),
            "{codec:?}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
        let images = pdf_images(&path);
        assert_eq!(images.len(), 2);
        for ((filter, stream, width), original) in images.iter().zip(&pages) {
            assert!(
                (width - w as f32 * 72.0 / 100.0).abs() < 0.01,
                "physical size from the DPI"
            );
            let decoded = match codec {
                PdfImageCodec::Dct => {
                    assert_eq!(filter, "DCTDecode");
                    image::load_from_memory(&stream.content)
                        .expect("jpeg")
                        .to_luma8()
                }
                PdfImageCodec::Flate => {
                    assert_eq!(filter, "FlateDecode");
                    let raw = stream.decompressed_content().expect("inflate");
                    GrayImage::from_raw(w, h, raw).expect("size")
                }
                PdfImageCodec::Ccitt => {
                    assert_eq!(filter, "CCITTFaxDecode");
                    let mut rows: Vec<u8> = Vec::new();
                    fax::decoder::decode_g4(stream.content.iter().copied(), w, Some(h), |t| {
                        rows.extend(
                            fax::decoder::pels(t, w)
                                .map(|c| if c == fax::Color::Black { 0 } else { 255 }),
                        )
                    })
                    .expect("g4");
                    GrayImage::from_raw(w, h, rows).expect("size")
                }
            };
            match codec {
                PdfImageCodec::Dct => assert_close(&decoded, original, 4.0),
                PdfImageCodec::Flate => assert!(&decoded == original, "Flate pixels differ"),
                PdfImageCodec::Ccitt => {
                    assert!(decoded == bilevel(original), "CCITT pixels differ")
                }
            }
        }
    }
}

#[test]
fn clean_pages_ocr_within_two_percent_cer() {
    let page = render_page(&PageSpec {
        dpi: 300.0,
        paper_in: (8.27, 6.0),
        ..PageSpec::default()
    })
    .expect("render");
    let (w, h) = page.image.dimensions();
    let text = tesseract::Tesseract::new(None, Some("eng"))
        .expect("tesseract with eng")
        .set_frame(page.image.as_raw(), w as i32, h as i32, 1, w as i32)
        .expect("frame")
        .set_source_resolution(300)
        .get_text()
        .expect("ocr");
    let rate = cer(&page.truth, &text);
    assert!(
        rate <= 0.02,
        "CER {rate}\n--- truth\n{}\n--- ocr\n{text}",
        page.truth
    );
}

#[test]
fn blank_white_page_has_no_ink() {
    let white = GrayImage::from_pixel(10, 10, Luma([255]));
    let data = g4(&white).expect("encode");
    assert!(!data.is_empty());
}

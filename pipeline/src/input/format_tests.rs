//! Decoding tests for every input format and every refusal, on the shared corpus and on files
//! made here (the `tiff` encoder, libtiff's `ppm2tiff` for CCITT, Ghostscript for CCITT Group 3
//! streams in PDFs, `qpdf` for encryption, lopdf for odd PDFs). Decode only: OCR is covered end
//! to end elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::GrayImage;
use lopdf::{Dictionary, Document, Object, Stream};

use super::{PageRef, probe};
use crate::error::PipelineError;
use crate::options::ProcessOptions;
use crate::page::Raster;

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus")).join(name)
}

fn opts() -> ProcessOptions {
    ProcessOptions::default()
}

fn only_page(path: &Path) -> PageRef {
    let mut pages = probe(&[path.to_owned()], &opts()).unwrap();
    assert_eq!(pages.len(), 1);
    pages.remove(0)
}

fn gray_of(raster: &Raster) -> GrayImage {
    raster.to_gray()
}

/// Compare images without printing megabytes of pixels on failure.
#[track_caller]
pub(super) fn assert_same(a: &GrayImage, b: &GrayImage, what: &str) {
    assert_eq!(a.dimensions(), b.dimensions(), "{what}: sizes differ");
    let differing = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .filter(|(x, y)| x != y)
        .count();
    assert_eq!(differing, 0, "{what}: {differing} pixels differ");
}

fn gradient(w: u32, h: u32) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 7 + y * 3) % 256) as u8]))
}

#[test]
fn tiff_compressions_decode_to_the_same_pixels() {
    use tiff::encoder::{Compression, DeflateLevel, TiffEncoder, colortype};
    let dir = tempfile::tempdir().unwrap();
    let img = gradient(64, 48);
    for (name, compression) in [
        ("none", Compression::Uncompressed),
        ("lzw", Compression::Lzw),
        ("deflate", Compression::Deflate(DeflateLevel::Balanced)),
        ("packbits", Compression::Packbits),
    ] {
        let path = dir.path().join(format!("{name}.tif"));
        let file = std::fs::File::create(&path).unwrap();
        let mut enc = TiffEncoder::new(file)
            .unwrap()
            .with_compression(compression);
        let mut image = enc.new_image::<colortype::Gray8>(64, 48).unwrap();
        image.resolution(
            tiff::tags::ResolutionUnit::Inch,
            tiff::encoder::Rational { n: 200, d: 1 },
        );
        image.write_data(img.as_raw()).unwrap();
        let page = only_page(&path).decode(&opts()).unwrap();
        assert_same(&gray_of(&page.raster), &img, name);
        assert_eq!(page.dpi, (200.0, 200.0), "{name}");
        assert!(!page.dpi_assumed);
    }
}

#[test]
fn multi_page_tiff_pages_come_in_order() {
    use tiff::encoder::{TiffEncoder, colortype};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("three.tif");
    let mut enc = TiffEncoder::new(std::fs::File::create(&path).unwrap()).unwrap();
    let pages: Vec<GrayImage> = (0..3u8)
        .map(|i| GrayImage::from_pixel(20 + u32::from(i), 10, image::Luma([40 * i + 10])))
        .collect();
    for p in &pages {
        enc.write_image::<colortype::Gray8>(p.width(), p.height(), p.as_raw())
            .unwrap();
    }
    let refs = probe(&[path], &opts()).unwrap();
    assert_eq!(
        refs.iter().map(|r| (r.index, r.width)).collect::<Vec<_>>(),
        vec![(0, 20), (1, 21), (2, 22)]
    );
    let third = refs[2].decode(&opts()).unwrap();
    assert_same(&gray_of(&third.raster), &pages[2], "third page");
    assert!(
        third.dpi_assumed,
        "no resolution tag: the fallback is used and said so"
    );
}

/// A 1-bit test pattern as PBM (1 = black), for libtiff's ppm2tiff.
fn write_pbm(path: &Path, w: u32, h: u32) -> GrayImage {
    let img = GrayImage::from_fn(w, h, |x, y| {
        image::Luma([if (x / 8 + y / 4) % 3 == 0 { 0 } else { 255 }])
    });
    let mut data = format!("P4\n{w} {h}\n").into_bytes();
    for row in img.rows() {
        let mut bytes = vec![0u8; (w as usize).div_ceil(8)];
        for (x, p) in row.enumerate() {
            if p[0] == 0 {
                bytes[x / 8] |= 0x80 >> (x % 8);
            }
        }
        data.extend(bytes);
    }
    std::fs::write(path, data).unwrap();
    img
}

#[test]
fn ccitt_group3_one_and_two_dimensional_and_group4_tiffs_decode() {
    let dir = tempfile::tempdir().unwrap();
    // Widths on and off a byte boundary take different paths through the `tiff` crate.
    for (width, codec) in [203, 200].into_iter().flat_map(|w| {
        [
            "g3",
            "g3:2d",
            "g3:2d:fill",
            "g4",
            "none",
            "packbits",
            "lzw",
            "zip",
        ]
        .map(move |c| (w, c))
    }) {
        let pbm = dir.path().join("p.pbm");
        let img = write_pbm(&pbm, width, 61);
        let tif = dir.path().join(format!("{}.tif", codec.replace(':', "-")));
        let status = Command::new("ppm2tiff")
            .args(["-c", codec, "-R", "300"])
            .arg(&pbm)
            .arg(&tif)
            .status()
            .expect("ppm2tiff (libtiff-tools) is installed");
        assert!(status.success());
        let page = only_page(&tif).decode(&opts()).unwrap();
        assert!(matches!(page.raster, Raster::Bilevel(_)), "{codec}");
        assert_same(&gray_of(&page.raster), &img, codec);
        assert_eq!(page.dpi, (300.0, 300.0));
    }
}

#[test]
fn ccitt_rle_tiffs_from_ghostscript_decode() {
    // libtiff cannot write CCITT modified-Huffman RLE (compression 2), Ghostscript can: render
    // a corpus page to it and, for the truth, to a plain bitmap with the same rasteriser.
    let dir = tempfile::tempdir().unwrap();
    let gs = |device: &str, extra: &[&str], out: &Path| {
        let status = Command::new("gs")
            .args(["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-r100"])
            .arg(format!("-sDEVICE={device}"))
            .args(extra)
            .arg(format!("-sOutputFile={}", out.display()))
            .arg(corpus("ccitt.pdf"))
            .status()
            .expect("ghostscript is installed by scripts/bootstrap");
        assert!(status.success(), "gs -sDEVICE={device}");
    };
    let png = dir.path().join("truth.png");
    gs("pngmono", &[], &png);
    let truth = image::open(&png).unwrap().into_luma8();
    let ink = truth.as_raw().iter().filter(|&&v| v == 0).count();
    assert!(ink > truth.as_raw().len() / 100, "the page has text: {ink}");
    for (name, extra) in [("msb", vec![]), ("lsb", vec!["-dFillOrder=2"])] {
        let tif = dir.path().join(format!("rle-{name}.tif"));
        gs("tiffcrle", &extra, &tif);
        let page = only_page(&tif).decode(&opts()).unwrap();
        assert!(matches!(page.raster, Raster::Bilevel(_)), "{name}");
        assert_same(
            &gray_of(&page.raster),
            &truth,
            &format!("CCITT RLE, {name} first"),
        );
        assert_eq!(page.dpi, (100.0, 100.0));
    }
}

/// Poppler's own decode of a PDF's first image, via `pdfimages -png`.
fn poppler_image(pdf: &Path) -> GrayImage {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("img");
    let status = Command::new("pdfimages")
        .args(["-png", "-f", "1", "-l", "1"])
        .arg(pdf)
        .arg(&prefix)
        .status()
        .unwrap();
    assert!(status.success());
    image::open(dir.path().join("img-000.png"))
        .unwrap()
        .into_luma8()
}

#[test]
fn ccitt_pdfs_decode_exactly_as_poppler_does_and_keep_their_stream() {
    for name in ["ccitt.pdf", "epson.pdf"] {
        let page = only_page(&corpus(name)).decode(&opts()).unwrap();
        assert!(matches!(page.raster, Raster::Bilevel(_)), "{name}");
        assert_same(&gray_of(&page.raster), &poppler_image(&corpus(name)), name);
        assert!(
            (page.dpi.0 - 300.0).abs() < 1.0 && (page.dpi.1 - 300.0).abs() < 1.0,
            "{name}: {:?}",
            page.dpi
        );
        let kept = page
            .passthrough
            .expect("a plain CCITT image passes through");
        assert_eq!(
            kept.dict.get(b"Filter").unwrap().as_name().unwrap(),
            b"CCITTFaxDecode"
        );
    }
    // ccitt.pdf is linn.png made into a PDF (with BlackIs1, which flips the coding): the same
    // page but for a handful of pixels where the corpus files themselves differ.
    let pdf = only_page(&corpus("ccitt.pdf")).decode(&opts()).unwrap();
    let png = only_page(&corpus("linn.png")).decode(&opts()).unwrap();
    let (a, b) = (gray_of(&pdf.raster), gray_of(&png.raster));
    let differing = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .filter(|(x, y)| x != y)
        .count();
    assert!(differing < 100, "{differing} pixels differ");
}

#[test]
fn mixed_pdf_pages_decode_and_the_big_one_is_judged_by_its_header() {
    let file = corpus("multipage.pdf");
    let refs = probe(std::slice::from_ref(&file), &opts()).unwrap();
    let sizes: Vec<(u32, u32)> = refs.iter().map(|r| (r.width, r.height)).collect();
    assert_eq!(
        sizes,
        vec![
            (800, 981),
            (9000, 9000),
            (958, 400),
            (958, 400),
            (612, 792),
            (1258, 1253)
        ]
    );
    // Page 1: JPEG with an ICC profile — passes through with its profile.
    let p1 = refs[0].decode(&opts()).unwrap();
    assert!(matches!(p1.raster, Raster::Rgb(_)));
    assert!(
        p1.passthrough
            .as_ref()
            .is_some_and(|e| e.icc_profile.is_some())
    );
    assert!((p1.dpi.0 - 150.0).abs() < 1.0);
    // Page 5: 8-bit grey at 72 dpi.
    let p5 = refs[4].decode(&opts()).unwrap();
    assert!((p5.dpi.0 - 72.0).abs() < 1.0);
    // Page 6: soft mask composited, so no passthrough.
    let p6 = refs[5].decode(&opts()).unwrap();
    assert!(p6.passthrough.is_none());
    // The 9000×9000 page is refused from its header when the limit is lower.
    let strict = ProcessOptions {
        max_megapixels: 50,
        ..opts()
    };
    let err = probe(&[file], &strict).unwrap_err();
    assert_eq!(err.code(), "pipeline.decode.too_large");
    assert!(err.to_string().contains("multipage.pdf, page 2"), "{err}");
}

#[test]
fn a_page_that_paints_nothing_is_a_white_page() {
    let page = only_page(&corpus("blank.pdf")).decode(&opts()).unwrap();
    assert!(gray_of(&page.raster).as_raw().iter().all(|&v| v == 255));
}

#[test]
fn colour_jpeg_without_resolution_uses_the_fallback() {
    let page = only_page(&corpus("baiona_color.jpg"))
        .decode(&opts())
        .unwrap();
    assert!(matches!(page.raster, Raster::Rgb(_)));
    assert_eq!(page.raster.dimensions(), (640, 682));
    assert!(page.dpi_assumed);
}

#[test]
fn large_colour_jpegs_decode_straight_into_planes_from_files_and_pdfs() {
    use super::turbojpeg::tests::{jpeg, picture};
    use jpeg_encoder::SamplingFactor as S;
    let dir = tempfile::tempdir().unwrap();
    let img = picture(203, 131);
    // The threshold lowered so that a 27 kP page is held as planes, as a 250 MP one is.
    let above = 20_000;
    let page_of = |path: &Path| {
        let mut pages = super::probe_with_planes_above(&[path.to_owned()], &opts(), above).unwrap();
        assert_eq!(pages.len(), 1);
        pages.remove(0)
    };
    for (sampling, direct) in [(S::R_4_2_0, true), (S::R_4_2_2, true), (S::R_4_4_4, false)] {
        let data = jpeg(&img, sampling);
        let file = dir.path().join("page.jpg");
        std::fs::write(&file, &data).unwrap();
        let page = page_of(&file);
        assert!(page.colour_planes);
        // The budget counts a whole RGB decode only for what still has one.
        assert_eq!(page.planes_streamed, direct, "{sampling:?}");
        let from_file = page.decode(&opts()).unwrap().raster;
        let Raster::Ycc420(planes) = &from_file else {
            panic!("{sampling:?}: expected planes, got {from_file:?}");
        };
        if direct {
            // The JPEG's own planes, not RGB converted back.
            let at = crate::error::Location::page(&file, 1);
            let (_, raster) = super::turbojpeg::decode_ycc420(&data, &at)
                .unwrap()
                .unwrap();
            let Raster::Ycc420(own) = raster else {
                panic!()
            };
            assert_same(&planes.luma, &own.luma, "luma");
            assert_same(&planes.cb, &own.cb, "cb");
        }

        // The same JPEG as a PDF page's image: the same planes.
        let mut stream = image_stream(b"DCTDecode", 203, 131, data.clone());
        stream.dict.set("BitsPerComponent", Object::Integer(8));
        stream
            .dict
            .set("ColorSpace", Object::Name(b"DeviceRGB".to_vec()));
        let mut doc = pdf_with(b"q 612 0 0 792 0 0 cm /Im0 Do Q", Some(stream));
        let pdf = dir.path().join("page.pdf");
        save(&mut doc, &pdf);
        let from_pdf = page_of(&pdf).decode(&opts()).unwrap().raster;
        let Raster::Ycc420(in_pdf) = &from_pdf else {
            panic!("{sampling:?}: expected planes, got {from_pdf:?}");
        };
        assert_same(&in_pdf.luma, &planes.luma, "PDF luma");
        assert_same(&in_pdf.cr, &planes.cr, "PDF cr");
    }
}

fn refusal(path: &Path) -> PipelineError {
    match probe(&[path.to_owned()], &opts()) {
        Err(e) => e,
        Ok(pages) => pages[0].decode(&opts()).expect_err("should be refused"),
    }
}

#[test]
fn encrypted_pdfs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (name, user) in [("secret.pdf", "secret"), ("open.pdf", "")] {
        let out = dir.path().join(name);
        let status = Command::new("qpdf")
            .args(["--encrypt", user, "owner", "256", "--"])
            .arg(corpus("ccitt.pdf"))
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        let err = refusal(&out);
        assert_eq!(err.code(), "pipeline.decode.encrypted", "{name}: {err}");
        assert!(err.to_string().contains(name));
    }
}

#[test]
fn truncated_and_corrupt_files_are_refused_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let linn = std::fs::read(corpus("linn.png")).unwrap();
    let cut = dir.path().join("cut.png");
    std::fs::write(&cut, &linn[..linn.len() / 2]).unwrap();
    let err = refusal(&cut);
    assert!(
        matches!(
            err,
            PipelineError::Truncated { .. } | PipelineError::Corrupt { .. }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("cut.png, page 1"), "{err}");

    let pdf = std::fs::read(corpus("ccitt.pdf")).unwrap();
    let cut_pdf = dir.path().join("cut.pdf");
    std::fs::write(&cut_pdf, &pdf[..pdf.len() * 2 / 3]).unwrap();
    assert_eq!(refusal(&cut_pdf).code(), "pipeline.decode.truncated");

    let mut garbled = linn.clone();
    for b in &mut garbled[200..4000] {
        *b ^= 0x5A;
    }
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, &garbled).unwrap();
    let err = refusal(&bad);
    assert!(
        matches!(
            err,
            PipelineError::Corrupt { .. } | PipelineError::Truncated { .. }
        ),
        "{err}"
    );

    let text = dir.path().join("notes.png");
    std::fs::write(&text, "just some text\n").unwrap();
    assert_eq!(refusal(&text).code(), "pipeline.decode.unsupported");
    let empty = dir.path().join("empty.tif");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(refusal(&empty).code(), "pipeline.decode.unsupported");
}

/// A one-page PDF whose page shows `content` with one image XObject `/Im0` made of `image`.
fn pdf_with(content: &[u8], image: Option<Stream>) -> Document {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let mut resources = Dictionary::new();
    if let Some(image) = image {
        let id = doc.add_object(image);
        let mut xo = Dictionary::new();
        xo.set("Im0", Object::Reference(id));
        resources.set("XObject", Object::Dictionary(xo));
    }
    let content_id = doc.add_object(Stream::new(Dictionary::new(), content.to_vec()));
    let mut page = Dictionary::new();
    page.set("Type", Object::Name(b"Page".to_vec()));
    page.set("Parent", Object::Reference(pages_id));
    page.set(
        "MediaBox",
        Object::Array(vec![0.into(), 0.into(), 612.into(), 792.into()]),
    );
    page.set("Resources", Object::Dictionary(resources));
    page.set("Contents", Object::Reference(content_id));
    let page_id = doc.add_object(page);
    let mut pages = Dictionary::new();
    pages.set("Type", Object::Name(b"Pages".to_vec()));
    pages.set("Kids", Object::Array(vec![Object::Reference(page_id)]));
    pages.set("Count", Object::Integer(1));
    doc.objects.insert(pages_id, Object::Dictionary(pages));
    let mut catalog = Dictionary::new();
    catalog.set("Type", Object::Name(b"Catalog".to_vec()));
    catalog.set("Pages", Object::Reference(pages_id));
    let catalog_id = doc.add_object(catalog);
    doc.trailer.set("Root", Object::Reference(catalog_id));
    doc
}

fn image_stream(filter: &[u8], w: i64, h: i64, data: Vec<u8>) -> Stream {
    let mut d = Dictionary::new();
    d.set("Type", Object::Name(b"XObject".to_vec()));
    d.set("Subtype", Object::Name(b"Image".to_vec()));
    d.set("Width", Object::Integer(w));
    d.set("Height", Object::Integer(h));
    d.set("BitsPerComponent", Object::Integer(1));
    d.set("ColorSpace", Object::Name(b"DeviceGray".to_vec()));
    d.set("Filter", Object::Name(filter.to_vec()));
    Stream::new(d, data).with_compression(false)
}

fn save(doc: &mut Document, path: &Path) {
    doc.save(path).unwrap();
}

/// A one-page PDF whose image is JBIG2 `data`, drawn one point per pixel, with `extra` set on
/// the image dictionary and, if given, a `/JBIG2Globals` stream.
fn jbig2_pdf(
    path: &Path,
    img: &GrayImage,
    data: Vec<u8>,
    globals: Option<Vec<u8>>,
    extra: &[(&str, Object)],
) {
    let (w, h) = img.dimensions();
    let mut doc = pdf_with(b"", None);
    let mut stream = image_stream(b"JBIG2Decode", w.into(), h.into(), data);
    if let Some(globals) = globals {
        let id = doc.add_object(Stream::new(Dictionary::new(), globals).with_compression(false));
        let mut parms = Dictionary::new();
        parms.set("JBIG2Globals", Object::Reference(id));
        stream.dict.set("DecodeParms", Object::Dictionary(parms));
    }
    for (key, value) in extra {
        stream.dict.set(*key, value.clone());
    }
    let image_id = doc.add_object(stream);
    let content_id = doc.add_object(Stream::new(
        Dictionary::new(),
        format!("q {w} 0 0 {h} 0 0 cm /Im0 Do Q").into_bytes(),
    ));
    let mut xo = Dictionary::new();
    xo.set("Im0", Object::Reference(image_id));
    let mut resources = Dictionary::new();
    resources.set("XObject", Object::Dictionary(xo));
    for (_, page_id) in doc.get_pages() {
        let page = doc.get_dictionary_mut(page_id).unwrap();
        page.set(
            "MediaBox",
            Object::Array(vec![0.into(), 0.into(), w.into(), h.into()]),
        );
        page.set("Resources", Object::Dictionary(resources.clone()));
        page.set("Contents", Object::Reference(content_id));
    }
    save(&mut doc, path);
}

/// Ghostscript's rendering of page 1 of a one-point-per-pixel PDF, sampled at pixel centres.
fn ghostscript_render(pdf: &Path) -> GrayImage {
    const SCALE: u32 = 4;
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("page.png");
    let out = Command::new("gs")
        .args(["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pnggray"])
        .arg(format!("-r{}", 72 * SCALE))
        .arg(format!("-sOutputFile={}", png.display()))
        .arg(pdf)
        .output()
        .expect("ghostscript is installed by scripts/bootstrap");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    pixel_centres(&image::open(&png).unwrap().into_luma8(), SCALE)
}

/// A page rendered at `scale` device pixels per image pixel, reduced to the colour at the
/// centre of each image pixel.
fn pixel_centres(page: &GrayImage, scale: u32) -> GrayImage {
    GrayImage::from_fn(page.width() / scale, page.height() / scale, |x, y| {
        *page.get_pixel(x * scale + scale / 2, y * scale + scale / 2)
    })
}

#[test]
fn jbig2_pdfs_decode_as_ghostscript_renders_them() {
    use super::ccitt_g3::tests::text_page;
    use super::jbig2::tests::{comment_globals, jbig2_stream};
    let dir = tempfile::tempdir().unwrap();
    // 601 wide: rows that end inside a byte.
    let img = image::imageops::crop_imm(&text_page(), 100, 150, 601, 300).to_image();
    let ink = img.as_raw().iter().filter(|&&v| v == 0).count();
    assert!(ink > img.as_raw().len() / 50, "the crop holds text");
    let mut inverted = img.clone();
    image::imageops::invert(&mut inverted);
    let cases = [
        ("plain", None, vec![], &img),
        ("globals", Some(comment_globals()), vec![], &img),
        (
            "decode-1-0",
            None,
            vec![("Decode", Object::Array(vec![1.into(), 0.into()]))],
            &inverted,
        ),
    ];
    for (name, globals, extra, expected) in cases {
        let pdf = dir.path().join(format!("{name}.pdf"));
        jbig2_pdf(&pdf, &img, jbig2_stream(&img), globals, &extra);
        let page = only_page(&pdf).decode(&opts()).unwrap();
        assert!(matches!(page.raster, Raster::Bilevel(_)), "{name}");
        let ours = gray_of(&page.raster);
        assert_same(&ours, expected, name);
        // How a PDF reader shows the file (globals, Decode, row padding). Poppler would be the
        // more independent reader, but its own MMR decoder paints 28 pixels of this page
        // differently from jbig2dec and from the original, so Ghostscript it is.
        assert_same(
            &ours,
            &ghostscript_render(&pdf),
            &format!("{name} against Ghostscript"),
        );
        // Written out again as CCITT G4, so the output never needs a JBIG2 reader.
        assert!(page.passthrough.is_none(), "{name}");
    }

    // A stream cut inside its region is refused with the page named, not shown half blank.
    let pdf = dir.path().join("cut-jbig2.pdf");
    let mut cut = jbig2_stream(&img);
    cut.truncate(cut.len() * 2 / 3);
    jbig2_pdf(&pdf, &img, cut, None, &[]);
    let err = refusal(&pdf);
    assert_eq!(err.code(), "pipeline.decode.jbig2");
    assert!(
        err.to_string().contains("cut-jbig2.pdf, page 1") && err.to_string().contains("truncated"),
        "{err}"
    );
}

#[test]
fn born_digital_and_vector_pages_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let draw = b"q 612 0 0 792 0 0 cm /Im0 Do Q";
    let jpx = dir.path().join("jpx.pdf");
    save(
        &mut pdf_with(
            draw,
            Some(image_stream(b"JPXDecode", 100, 100, vec![0; 20])),
        ),
        &jpx,
    );
    let err = refusal(&jpx);
    assert_eq!(err.code(), "pipeline.decode.unsupported");
    assert!(
        err.to_string().contains("jpx.pdf, page 1") && err.to_string().contains("JPXDecode"),
        "{err}"
    );

    let born = dir.path().join("born.pdf");
    save(
        &mut pdf_with(b"BT /F1 12 Tf 72 700 Td (Hello) Tj ET", None),
        &born,
    );
    assert_eq!(refusal(&born).code(), "pipeline.input.born_digital");

    let vector = dir.path().join("vector.pdf");
    save(&mut pdf_with(b"0 0 m 100 100 l S", None), &vector);
    assert_eq!(refusal(&vector).code(), "pipeline.decode.unsupported");
}

#[test]
fn a_page_with_an_old_text_layer_over_its_scan_is_redone() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (64u32, 16u32);
    let mut enc = fax::encoder::Encoder::new(fax::VecWriter::new());
    for _ in 0..h {
        enc.encode_line(
            (0..w).map(|x| {
                if x < 10 {
                    fax::Color::Black
                } else {
                    fax::Color::White
                }
            }),
            w,
        )
        .unwrap();
    }
    let data = enc.finish().unwrap().finish();
    let mut stream = image_stream(b"CCITTFaxDecode", w.into(), h.into(), data);
    let mut parms = Dictionary::new();
    parms.set("K", Object::Integer(-1));
    parms.set("Columns", Object::Integer(w.into()));
    stream.dict.set("DecodeParms", Object::Dictionary(parms));
    let path = dir.path().join("ocrd.pdf");
    save(
        &mut pdf_with(
            b"q 612 0 0 792 0 0 cm /Im0 Do Q BT 3 Tr /F1 12 Tf (old) Tj ET",
            Some(stream),
        ),
        &path,
    );
    let page = only_page(&path).decode(&opts()).unwrap();
    assert!(page.had_text);
    let g = gray_of(&page.raster);
    assert_eq!(g.get_pixel(5, 5)[0], 0);
    assert_eq!(g.get_pixel(30, 5)[0], 255);
}

/// A one-page PDF whose page is exactly the image, one point a pixel, so that each image pixel
/// has a known place in a rendering. The image is a CCITT stream with these parameters.
fn ccitt_g3_pdf(path: &Path, w: u32, h: u32, data: Vec<u8>, parms: &[(&str, Object)]) {
    let mut stream = image_stream(b"CCITTFaxDecode", w.into(), h.into(), data);
    let mut dict = Dictionary::new();
    for (key, value) in parms {
        dict.set(*key, value.clone());
    }
    stream.dict.set("DecodeParms", Object::Dictionary(dict));
    let draw = format!("q {w} 0 0 {h} 0 0 cm /Im0 Do Q");
    let mut doc = pdf_with(draw.as_bytes(), Some(stream));
    let media = Object::Array(vec![0.into(), 0.into(), w.into(), h.into()]);
    for (_, page_id) in doc.get_pages() {
        doc.get_dictionary_mut(page_id)
            .unwrap()
            .set("MediaBox", media.clone());
    }
    save(&mut doc, path);
}

/// Poppler's rendering of page 1 of a [`ccitt_g3_pdf`]: the colour it paints at the centre of
/// each image pixel. Rendered at four device pixels a point, since at one poppler smooths the
/// edges of lone pixels.
fn poppler_render(pdf: &Path) -> GrayImage {
    const SCALE: u32 = 4;
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("page");
    let out = Command::new("pdftoppm")
        .args([
            "-r",
            &(72 * SCALE).to_string(),
            "-gray",
            "-png",
            "-singlefile",
        ])
        .arg(pdf)
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "poppler complains: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = image::open(dir.path().join("page.png"))
        .unwrap()
        .into_luma8();
    pixel_centres(&page, SCALE)
}

#[test]
fn ccitt_group3_pdfs_decode_as_poppler_renders_them_and_pass_through() {
    use super::ccitt_g3::tests::{Encoding, ghostscript_encode, strip_eols, text_page};
    let dir = tempfile::tempdir().unwrap();
    // A piece of a text page, 601 wide (not a multiple of 8): poppler renders it four times
    // over in each dimension, twice for each of three streams.
    let img = image::imageops::crop_imm(&text_page(), 100, 150, 601, 480).to_image();
    let (w, h) = img.dimensions();
    let ink = img.as_raw().iter().filter(|&&v| v == 0).count();
    assert!(
        ink > img.as_raw().len() / 50,
        "the crop holds text: {ink} black pixels"
    );
    let encoding = |k, end_of_line, encoded_byte_align, black_is_1| Encoding {
        k,
        end_of_line,
        encoded_byte_align,
        end_of_block: true,
        black_is_1,
    };
    let encodings = [
        // Mixed coding with EOLs, each ending on a byte boundary, and the 1 bits black.
        encoding(4, true, true, true),
        // The same without EOLs, tag bits kept (made below): what the PDF reference describes.
        encoding(2, true, false, false),
        // One-dimensional without EOLs: PDF's default, which the `fax` crate cannot read.
        encoding(0, false, false, false),
    ];
    // With BlackIs1 the filter gives 1 for coded black, and DeviceGray shows 1 as white: to
    // show `img`, its white is what gets coded black.
    let mut negative = img.clone();
    image::imageops::invert(&mut negative);
    let jobs: Vec<(&GrayImage, Encoding)> = encodings
        .iter()
        .map(|e| (if e.black_is_1 { &negative } else { &img }, *e))
        .collect();
    let mut streams = ghostscript_encode(&jobs);
    streams[1] = strip_eols(&streams[1]);
    let font = crate::pdf::font::GlyphlessFont::load(None).unwrap();
    for (n, (enc, data)) in encodings.iter().zip(streams).enumerate() {
        let name = format!("g3-{n}.pdf");
        let path = dir.path().join(&name);
        let end_of_line = enc.end_of_line && n != 1;
        let parms = [
            ("K", Object::Integer(enc.k.into())),
            ("Columns", Object::Integer(w.into())),
            ("Rows", Object::Integer(h.into())),
            ("EndOfLine", Object::Boolean(end_of_line)),
            ("EncodedByteAlign", Object::Boolean(enc.encoded_byte_align)),
            ("EndOfBlock", Object::Boolean(n != 1)),
            ("BlackIs1", Object::Boolean(enc.black_is_1)),
        ];
        ccitt_g3_pdf(&path, w, h, data.clone(), &parms);
        let page = only_page(&path).decode(&opts()).unwrap();
        assert!(matches!(page.raster, Raster::Bilevel(_)), "{name}");
        let decoded = gray_of(&page.raster);
        assert_same(&decoded, &img, &name);
        assert_same(
            &decoded,
            &poppler_render(&path),
            &format!("{name} against poppler"),
        );

        // The stream goes to the output as it came, parameters and all, and reads the same.
        let kept = page
            .passthrough
            .expect("a plain CCITT image passes through");
        assert_eq!(kept.data, data, "{name}");
        let kept_parms = kept.dict.get(b"DecodeParms").unwrap().as_dict().unwrap();
        for (key, value) in &parms {
            assert_eq!(
                kept_parms.get(key.as_bytes()).unwrap(),
                value,
                "{name}: {key}"
            );
        }
        let out = dir.path().join(format!("out-{n}.pdf"));
        let mut writer =
            crate::pdf::PdfWriter::new(std::fs::File::create(&out).unwrap(), &font).unwrap();
        let no_words = crate::ocr::OcrPage { words: Vec::new() };
        writer
            .add_page(
                crate::pdf::image_encode::passthrough(kept),
                (w as f32, h as f32),
                &crate::pdf::text_layer::content(&no_words, (72.0, 72.0), h),
            )
            .unwrap();
        writer
            .finish(&crate::pdf::writer::DocumentInfo {
                title: name.clone(),
                producer: "test".into(),
                created: time::OffsetDateTime::now_utc(),
                lang: None,
            })
            .unwrap();
        let check = Command::new("qpdf")
            .arg("--check")
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
        assert_same(&poppler_render(&out), &img, &format!("{name} written out"));
    }
}

#[test]
fn a_truncated_ccitt_group3_stream_is_refused_naming_its_page() {
    use super::ccitt_g3::tests::{Encoding, ghostscript_encode, text_page};
    let dir = tempfile::tempdir().unwrap();
    let img = text_page();
    let (w, h) = img.dimensions();
    let enc = Encoding {
        k: 4,
        end_of_line: false,
        encoded_byte_align: false,
        end_of_block: false,
        black_is_1: false,
    };
    let data = ghostscript_encode(&[(&img, enc)]).remove(0);
    let path = dir.path().join("cut-g3.pdf");
    let parms = [
        ("K", Object::Integer(4)),
        ("Columns", Object::Integer(w.into())),
        ("Rows", Object::Integer(h.into())),
    ];
    ccitt_g3_pdf(&path, w, h, data[..data.len() / 2].to_vec(), &parms);
    let err = refusal(&path);
    assert_eq!(err.code(), "pipeline.decode.truncated", "{err}");
    assert!(err.to_string().contains("cut-g3.pdf, page 1"), "{err}");
}

/// Minimal files whose headers claim 35000×35000 pixels, with almost no data behind them.
fn bomb_png() -> Vec<u8> {
    let chunk = |kind: &[u8], body: &[u8]| {
        let mut c = (body.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(body);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(body);
        c.extend_from_slice(&crc.sum().to_be_bytes());
        c
    };
    let mut ihdr = 35_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&35_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[1, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IDAT", &crate::pdf::writer::deflate(&[0u8; 64])));
    png.extend(chunk(b"IEND", b""));
    png
}

pub(crate) fn bomb_tiff() -> Vec<u8> {
    let entries: [(u16, u16, u32); 8] = [
        (256, 4, 35_000),
        (257, 4, 35_000),
        (258, 3, 1),
        (259, 3, 4),
        (262, 3, 0),
        (273, 4, 8 + 2 + 8 * 12 + 4),
        (278, 4, 35_000),
        (279, 4, 16),
    ];
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    t.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, ty, value) in entries {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&ty.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        if ty == 3 {
            t.extend_from_slice(&(value as u16).to_le_bytes());
            t.extend_from_slice(&[0, 0]);
        } else {
            t.extend_from_slice(&value.to_le_bytes());
        }
    }
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(&[0u8; 16]);
    t
}

#[test]
fn decompression_bombs_are_refused_from_the_header_quickly() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [("bomb.png", bomb_png()), ("bomb.tif", bomb_tiff())] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let started = std::time::Instant::now();
        let err = probe(&[path], &opts()).unwrap_err();
        assert_eq!(err.code(), "pipeline.decode.too_large", "{name}: {err}");
        assert!(
            err.to_string().contains(&format!("{name}, page 1")),
            "{err}"
        );
        assert!(
            started.elapsed().as_millis() < 500,
            "{name} took {:?}",
            started.elapsed()
        );
    }
}

//! Whole-run tests of the processor on synthetic pages: orientation, deskew, engine reuse, the
//! text layer's fidelity (diacritics, word boxes) and all-or-nothing output.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::GrayImage;

use crate::ocr::{OcrPage, Word};
use crate::page::Raster;
use crate::pdf::font::GlyphlessFont;
use crate::pdf::writer::{DocumentInfo, PdfWriter};
use crate::pdf::{image_encode, text_layer};
use crate::{ProcessOptions, Processor, Silent};
use quire_testkit::synth::{self, Degradation, Format, PageSpec};

/// A small synthetic page: half an A4 at 200 dpi, so OCR stays quick.
fn small_spec(seed: u64, skew_deg: f32) -> PageSpec {
    PageSpec {
        seed,
        dpi: 200.0,
        paper_in: (8.27, 4.5),
        font_pt: 12.0,
        degradation: Degradation {
            skew_deg,
            ..Degradation::scanner(0.0)
        },
        ..PageSpec::default()
    }
}

fn write_png(dir: &Path, name: &str, img: &GrayImage, dpi: f32) -> PathBuf {
    let path = dir.join(name);
    synth::write(&path, std::slice::from_ref(img), dpi, Format::Png).unwrap();
    path
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn turned_and_skewed_pages_come_back_upright_and_straight() {
    let dir = tempfile::tempdir().unwrap();
    let page = synth::render_page(&small_spec(3, 0.0)).unwrap();
    let skewed = synth::render_page(&small_spec(4, 2.5)).unwrap();
    use image::imageops::{rotate90, rotate180, rotate270};
    // (image, expected clockwise fix, truth)
    let cases = [
        (rotate90(&page.image), 270, &page.truth),
        (rotate180(&page.image), 180, &page.truth),
        (rotate270(&page.image), 90, &page.truth),
        (skewed.image.clone(), 0, &skewed.truth),
    ];
    let inputs: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(i, (img, _, _))| write_png(dir.path(), &format!("{i}.png"), img, 200.0))
        .collect();
    let processor = Processor::new(ProcessOptions {
        jobs: 2,
        ..ProcessOptions::default()
    })
    .unwrap();
    let done = processor
        .process(&inputs, &dir.path().join("out.pdf"), &Silent)
        .unwrap();
    for (report, (_, fix, truth)) in done.report.pages.iter().zip(&cases) {
        assert_eq!(
            report.rotation_applied,
            *fix,
            "{}",
            report.source_file.display()
        );
        let cer = synth::cer(truth, &report.text);
        assert!(
            cer <= 0.02,
            "{}: CER {cer:.4}\n{}",
            report.source_file.display(),
            report.text
        );
    }
    // The upright page read confidently, so orientation detection was not needed for it; the
    // turned pages needed it.
    assert_eq!(done.report.pages[3].orientation_confidence, None);
    assert!(
        done.report.pages[..3]
            .iter()
            .all(|p| p.orientation_confidence.is_some())
    );
    let skew = done.report.pages[3].skew.expect("skew measured");
    assert!(
        (skew.angle_deg - 2.5).abs() < 0.2,
        "measured {}",
        skew.angle_deg
    );
    assert!(skew.corrected);
    let straight = done.report.pages[0].skew.expect("skew measured");
    assert!(
        !straight.corrected,
        "an unskewed page is left alone: {straight:?}"
    );
}

#[test]
fn engines_start_once_per_worker_and_are_reused_across_documents() {
    let dir = tempfile::tempdir().unwrap();
    let pages = synth::render_article(&small_spec(5, 0.0), 3).unwrap();
    let inputs: Vec<PathBuf> = pages
        .iter()
        .enumerate()
        .map(|(i, p)| write_png(dir.path(), &format!("{i}.png"), &p.image, p.dpi))
        .collect();
    let processor = Processor::new(ProcessOptions {
        jobs: 1,
        ..ProcessOptions::default()
    })
    .unwrap();
    let first = processor
        .process(&inputs, &dir.path().join("a.pdf"), &Silent)
        .unwrap();
    assert_eq!(first.report.ocr_engines_started, 1);
    let second = processor
        .process(&inputs, &dir.path().join("b.pdf"), &Silent)
        .unwrap();
    assert_eq!(second.report.ocr_engines_started, 0);
    assert_eq!(
        first
            .report
            .pages
            .iter()
            .map(|p| &p.text)
            .collect::<Vec<_>>(),
        second
            .report
            .pages
            .iter()
            .map(|p| &p.text)
            .collect::<Vec<_>>()
    );
    assert!(
        first
            .report
            .pages
            .iter()
            .all(|p| p.printed_page_number.is_some())
    );
}

#[test]
fn a_failing_page_leaves_no_output_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let page = synth::render_page(&small_spec(6, 0.0)).unwrap();
    let good = write_png(dir.path(), "good.png", &page.image, 200.0);
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.png");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = dir.path().join("out.pdf");
    let processor = Processor::new(ProcessOptions {
        jobs: 2,
        ..ProcessOptions::default()
    })
    .unwrap();
    let err = processor.process(&[good, cut], &out, &Silent).unwrap_err();
    assert!(err.to_string().contains("cut.png, page 1"), "{err}");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!out.exists());
    assert!(names.iter().all(|n| n.ends_with(".png")), "{names:?}");
}

/// A caller that asks the run to stop once the first page is done (`quire process` on Ctrl-C),
/// counting the pages it is told of.
struct StopAfterFirstPage(std::sync::atomic::AtomicUsize);

impl crate::Progress for StopAfterFirstPage {
    fn page_done(&self, _done: usize) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn interrupted(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst) > 0
    }
}

#[test]
fn an_interrupted_run_stops_between_pages_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let page = synth::render_page(&small_spec(8, 0.0)).unwrap();
    let input = write_png(dir.path(), "page.png", &page.image, 200.0);
    let inputs = vec![input; 6];
    let out = dir.path().join("out.pdf");
    let processor = Processor::new(ProcessOptions {
        jobs: 1,
        ..ProcessOptions::default()
    })
    .unwrap();
    let stop = StopAfterFirstPage(std::sync::atomic::AtomicUsize::new(0));
    let err = processor.process(&inputs, &out, &stop).unwrap_err();
    // The page in flight is let finish but not written; none starts after the stop.
    assert_eq!(stop.0.into_inner(), 1, "pages done after the stop");
    assert!(
        matches!(err, crate::PipelineError::Interrupted),
        "{err}: {}",
        err.code()
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!out.exists());
    assert_eq!(names, ["page.png"], "no output, no temporary file");
}

/// Where `pdftotext -bbox` puts each word: (text, xMin, yMin, xMax, yMax) in points.
fn pdftotext_boxes(pdf: &Path) -> Vec<(String, f32, f32, f32, f32)> {
    let out = Command::new("pdftotext")
        .args(["-bbox", "-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success());
    let html = String::from_utf8(out.stdout).unwrap();
    let attr = |line: &str, key: &str| -> f32 {
        let start = line.find(&format!("{key}=\"")).unwrap() + key.len() + 2;
        line[start..].split('"').next().unwrap().parse().unwrap()
    };
    html.lines()
        .filter(|l| l.trim_start().starts_with("<word"))
        .map(|l| {
            let text = l
                .split('>')
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap()
                .to_owned();
            (
                text,
                attr(l, "xMin"),
                attr(l, "yMin"),
                attr(l, "xMax"),
                attr(l, "yMax"),
            )
        })
        .collect()
}

#[test]
fn the_text_layer_gives_back_every_word_with_its_diacritics_and_supplementary_characters_in_place()
{
    let dir = tempfile::tempdir().unwrap();
    let (w, h, dpi) = (1700u32, 2200u32, 200.0f32);
    let line1 = ["Ærøskøbing", "naïve", "déjà", "vu"];
    let line2 = ["Łódź", "Straße", "façade", "Ñandú"];
    // Beyond the Basic Multilingual Plane: mathematical letters, CJK extension B, an emoji.
    let line3 = ["𝔉𝔯𝔞𝔨𝔱𝔲𝔯", "𠀋𠂤", "x😀y", "end"];
    let mut words_in = Vec::new();
    for (row, line) in [line1, line2, line3].iter().enumerate() {
        let mut left = 200;
        for text in line.iter() {
            let width = 40 * text.chars().count() as u32;
            words_in.push(Word {
                text: (*text).into(),
                left,
                top: 300 + 100 * row as u32,
                width,
                height: 50,
                confidence: 95.0,
                line: (1, 1, row as u32 + 1),
            });
            left += width + 40;
        }
    }
    let ocr = OcrPage {
        words: words_in.clone(),
    };
    let font = GlyphlessFont::load(None).unwrap();
    let path = dir.path().join("layer.pdf");
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = PdfWriter::new(file, &font).unwrap();
    let image = image_encode::encode(
        &Raster::Bilevel(GrayImage::from_pixel(w, h, image::Luma([255]))),
        80,
    );
    let size = (w as f32 * 72.0 / dpi, h as f32 * 72.0 / dpi);
    writer
        .add_page(image, size, &text_layer::content(&ocr, (dpi, dpi), h))
        .unwrap();
    let info = DocumentInfo {
        title: "Ærø test".into(),
        producer: "test".into(),
        created: time::OffsetDateTime::now_utc(),
        lang: Some("en".into()),
    };
    writer.finish(&info).unwrap();

    let check = Command::new("qpdf")
        .arg("--check")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let text = String::from_utf8(
        Command::new("pdftotext")
            .args(["-enc", "UTF-8"])
            .arg(&path)
            .arg("-")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        words(&text),
        words_in.iter().map(|w| w.text.clone()).collect::<Vec<_>>(),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.trim() == line1.join(" ")),
        "one line per OCR line:\n{text}"
    );

    // Each word's box, as a viewer computes it for highlighting, sits on the word's pixels.
    let boxes = pdftotext_boxes(&path);
    assert_eq!(boxes.len(), words_in.len());
    let pt = |px: u32| px as f32 * 72.0 / dpi;
    for ((text, x0, y0, x1, y1), word) in boxes.iter().zip(&words_in) {
        assert_eq!(text, &word.text);
        let tol = 2.0;
        assert!(
            (x0 - pt(word.left)).abs() < tol,
            "{text}: x0 {x0} vs {}",
            pt(word.left)
        );
        assert!(
            (y0 - pt(word.top)).abs() < tol,
            "{text}: y0 {y0} vs {}",
            pt(word.top)
        );
        assert!(
            (y1 - pt(word.top + word.height)).abs() < tol,
            "{text}: y1 {y1}"
        );
        assert!(
            (x1 - pt(word.left + word.width)).abs() < 8.0,
            "{text}: x1 {x1} vs {}",
            pt(word.left + word.width)
        );
    }
}

#[test]
fn a_language_without_traineddata_is_refused_before_any_work() {
    let err = Processor::new(ProcessOptions {
        languages: "eng+xyz".into(),
        ..ProcessOptions::default()
    })
    .err()
    .expect("xyz has no traineddata");
    assert_eq!(err.code(), "pipeline.ocr.init");
    assert!(err.to_string().contains("xyz"), "{err}");
}

#[test]
fn a_page_over_the_memory_budget_is_refused_with_file_page_and_need_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    // 2000 × 1500 grey: 3 MB of pixels, an estimated 8 MiB to process.
    let img = GrayImage::from_fn(2000, 1500, |x, y| image::Luma([((x + y) % 251) as u8]));
    let big = write_png(dir.path(), "big.png", &img, 300.0);
    let before = std::fs::read(&big).unwrap();
    let out = dir.path().join("out.pdf");
    let processor = Processor::new(ProcessOptions {
        jobs: 1,
        max_memory_mb: 5,
        ..ProcessOptions::default()
    })
    .unwrap();
    let err = processor
        .process(std::slice::from_ref(&big), &out, &Silent)
        .unwrap_err();
    assert_eq!(err.code(), "pipeline.decode.over_memory_budget");
    let message = err.to_string();
    for part in ["big.png, page 1", "2000×1500", "8 MiB", "budget of 5 MiB"] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
    assert_eq!(
        std::fs::read(&big).unwrap(),
        before,
        "the input is kept as it was"
    );
    assert!(!out.exists());
}

#[test]
fn pages_wait_for_memory_rather_than_overdraw_the_budget() {
    use crate::document::MemoryBudget;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    let budget = MemoryBudget::new(6);
    let first = budget.acquire(4);
    let second_started = Arc::new(AtomicBool::new(false));
    let waiter = {
        let (budget, started) = (budget.clone(), second_started.clone());
        std::thread::spawn(move || {
            let lease = budget.acquire(4);
            started.store(true, Ordering::SeqCst);
            drop(lease);
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !second_started.load(Ordering::SeqCst),
        "4 + 4 MiB fitted a 6 MiB budget"
    );
    assert_eq!(budget.used_mb(), 4);
    drop(first);
    waiter.join().unwrap();
    assert!(second_started.load(Ordering::SeqCst));
    assert_eq!(budget.used_mb(), 0);

    // Through a whole run: two pages that fit the budget one at a time both get through.
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<PathBuf> = (0..2)
        .map(|i| {
            let page = synth::render_page(&small_spec(20 + i, 0.0)).unwrap();
            write_png(dir.path(), &format!("{i}.png"), &page.image, 200.0)
        })
        .collect();
    let each =
        crate::input::probe(&inputs, &ProcessOptions::default()).unwrap()[0].estimated_peak_mb();
    let processor = Processor::new(ProcessOptions {
        jobs: 2,
        max_memory_mb: each + each / 2,
        ..ProcessOptions::default()
    })
    .unwrap();
    let out = dir.path().join("out.pdf");
    let done = processor.process(&inputs, &out, &Silent).unwrap();
    assert_eq!(done.report.pages_out, 2);
    assert_eq!(
        processor.memory.used_mb(),
        0,
        "every page gave its memory back"
    );
}

/// A one-page PDF whose image is an 8-bit DeviceCMYK Flate stream, which the PDF input would
/// copy through as it is.
fn cmyk_pdf(path: &Path) {
    use lopdf::{Dictionary, Document, Object, Stream};
    let (w, h) = (200i64, 100i64);
    // Black bars on white, in CMYK (ink 255 on K).
    let mut data = Vec::with_capacity((w * h * 4) as usize);
    for _y in 0..h {
        for x in 0..w {
            data.extend_from_slice(&[0, 0, 0, if (x / 20) % 2 == 0 { 255 } else { 0 }]);
        }
    }
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let image = Stream::new(
        Dictionary::from_iter([
            ("Type", Object::Name(b"XObject".to_vec())),
            ("Subtype", Object::Name(b"Image".to_vec())),
            ("Width", w.into()),
            ("Height", h.into()),
            ("BitsPerComponent", 8.into()),
            ("ColorSpace", Object::Name(b"DeviceCMYK".to_vec())),
            ("Filter", Object::Name(b"FlateDecode".to_vec())),
        ]),
        crate::pdf::writer::deflate(&data),
    )
    .with_compression(false);
    let image_id = doc.add_object(image);
    let content = doc.add_object(Stream::new(
        Dictionary::new(),
        b"q 144 0 0 72 0 0 cm /Im0 Do Q".to_vec(),
    ));
    let page = doc.add_object(Dictionary::from_iter([
        ("Type", Object::Name(b"Page".to_vec())),
        ("Parent", Object::Reference(pages_id)),
        (
            "MediaBox",
            Object::Array(vec![0.into(), 0.into(), 144.into(), 72.into()]),
        ),
        (
            "Resources",
            Object::Dictionary(Dictionary::from_iter([(
                "XObject",
                Object::Dictionary(Dictionary::from_iter([(
                    "Im0",
                    Object::Reference(image_id),
                )])),
            )])),
        ),
        ("Contents", Object::Reference(content)),
    ]));
    doc.objects.insert(
        pages_id,
        Object::Dictionary(Dictionary::from_iter([
            ("Type", Object::Name(b"Pages".to_vec())),
            ("Kids", Object::Array(vec![Object::Reference(page)])),
            ("Count", 1.into()),
        ])),
    );
    let catalog = doc.add_object(Dictionary::from_iter([
        ("Type", Object::Name(b"Catalog".to_vec())),
        ("Pages", Object::Reference(pages_id)),
    ]));
    doc.trailer.set("Root", Object::Reference(catalog));
    doc.save(path).unwrap();
}

/// The colour spaces of the output's images, and its OutputIntent's profile /N if any.
fn image_spaces_and_intent(pdf: &Path) -> (Vec<String>, Option<i64>) {
    let doc = lopdf::Document::load(pdf).unwrap();
    let mut spaces = Vec::new();
    for obj in doc.objects.values() {
        if let Ok(s) = obj.as_stream()
            && s.dict.get(b"Subtype").and_then(|o| o.as_name()).ok() == Some(b"Image")
        {
            spaces.push(match s.dict.get(b"ColorSpace") {
                Ok(lopdf::Object::Name(n)) => String::from_utf8_lossy(n).into_owned(),
                other => format!("{other:?}"),
            });
        }
    }
    let n = doc
        .catalog()
        .and_then(|c| c.get(b"OutputIntents"))
        .and_then(|o| o.as_array())
        .ok()
        .and_then(|a| a.first()?.as_dict().ok()?.get(b"DestOutputProfile").ok())
        .and_then(|r| doc.dereference(r).ok())
        .and_then(|(_, p)| p.as_stream().ok()?.dict.get(b"N").ok()?.as_i64().ok());
    (spaces, n)
}

#[test]
fn a_cmyk_image_is_copied_into_a_plain_pdf_and_re_encoded_for_pdfa() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("cmyk.pdf");
    cmyk_pdf(&input);
    let run = |output_type: crate::OutputType, name: &str| {
        let out = dir.path().join(name);
        Processor::new(ProcessOptions {
            jobs: 1,
            orientation: false,
            output_type,
            ..ProcessOptions::default()
        })
        .unwrap()
        .process(std::slice::from_ref(&input), &out, &Silent)
        .unwrap();
        image_spaces_and_intent(&out)
    };
    let (plain, intent) = run(crate::OutputType::Pdf, "plain.pdf");
    assert_eq!((plain, intent), (vec!["DeviceCMYK".to_string()], None));
    let (pdfa, intent) = run(crate::OutputType::Pdfa, "pdfa.pdf");
    assert_eq!(pdfa.len(), 1);
    assert_ne!(pdfa[0], "DeviceCMYK");
    let expected = if pdfa[0] == "DeviceRGB" { 3 } else { 1 };
    assert_eq!(intent, Some(expected), "{pdfa:?}");
}

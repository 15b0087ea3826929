//! Stamping real and synthetic PDFs and checking the result with the real qpdf and pdftotext.

mod support;

use std::path::{Path, PathBuf};

use quire_watermark::trace::{TracePlace, find_deliveries, find_delivery_ids};
use quire_watermark::{
    Citation, DeliveryId, DiagonalWatermark, FontSources, Institution, Recipient, Scope, Stamp,
    StampTexts, Template, stamp_pdf,
};
use support::*;

const ID: &str = "dlv_01JDQ3ZK7W8X9Y0ABCDEFGHJKM";

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(name)
}

fn fonts() -> FontSources {
    FontSources {
        primary: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf".into(),
        fallbacks: vec!["/usr/share/fonts/truetype/wqy/wqy-microhei.ttc".into()],
    }
}

fn stamp_for(recipient: &str) -> Stamp {
    Stamp {
        institution: Institution {
            name: "Bodleian Test Library".into(),
            contact: "ill@bodleian.example".into(),
        },
        request_id: "REQ-2026-0042".into(),
        citation: Citation {
            title: "Journal of Lichenology".into(),
            article: "Photosynthesis in crustose lichens".into(),
            author: "Ahmadjian, V.".into(),
            year: "1993".into(),
            volume: "12".into(),
            issue: String::new(),
            pages: "113-127".into(),
        },
        recipient: Recipient {
            name: recipient.into(),
            library: "Biblioteka Jagiellońska".into(),
        },
        delivered_on: "2026-11-29".into(),
        link_expires: Some("2026-12-29".into()),
        copyright_basis: None,
        delivery_id: DeliveryId::new(ID).unwrap(),
        texts: StampTexts::standard(),
        fonts: fonts(),
        watermark: None,
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Squeezes whitespace, since pdftotext may break lines anywhere.
fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn stamped_copy_has_cover_stamps_and_untouched_pages() {
    let dir = tempfile::tempdir().unwrap();
    let input = synthetic_pdf(3, 64, None);
    let out = stamp_pdf(&input, &stamp_for("Zoë Łukasiewicz")).unwrap();
    let path = write(dir.path(), "out.pdf", &out);
    qpdf_check(&path);
    assert_eq!(page_count(&path), 4);

    let cover = flat(&pdftotext_page(&path, 1));
    for expected in [
        "Bodleian Test Library",
        "ill@bodleian.example",
        "REQ-2026-0042",
        "Journal of Lichenology",
        "Photosynthesis in crustose lichens",
        "Ahmadjian, V.",
        "1993",
        "113-127",
        "Zoë Łukasiewicz",
        "Biblioteka Jagiellońska",
        "2026-11-29",
        "2026-12-29",
        "Pages delivered 3",
        "NOTICE: This material may be protected by copyright law (Title 17 U.S. Code).",
    ] {
        assert!(
            cover.contains(expected),
            "cover lacks {expected:?}:\n{cover}"
        );
    }
    // Empty citation fields are left off rather than printed blank.
    assert!(!cover.contains("Issue"), "{cover}");

    for n in 1..=3 {
        let text = flat(&pdftotext_page(&path, n + 1));
        assert!(
            text.contains(&page_text(n)),
            "page {n} lost its text layer or moved:\n{text}"
        );
        let stamp = "Delivered to Zoë Łukasiewicz (Biblioteka Jagiellońska) · request REQ-2026-0042 · 2026-11-29 · for private study, scholarship or research";
        assert!(
            text.contains(stamp),
            "page {n} lacks the margin stamp:\n{text}"
        );
    }

    // The strip is added below the page: the page box only grows downwards.
    let media = |doc: &lopdf::Document, page: u32| -> Vec<f32> {
        let id = doc.get_pages()[&page];
        let b = doc
            .get_dictionary(id)
            .unwrap()
            .get(b"MediaBox")
            .unwrap()
            .as_array()
            .unwrap();
        b.iter().map(|v| v.as_float().unwrap()).collect()
    };
    let stamped_doc = lopdf::Document::load_mem(&out).unwrap();
    let grown = media(&stamped_doc, 2);
    assert_eq!(&grown[..], &[0.0, grown[1], 612.0, 792.0]);
    assert!(
        (-30.0..-15.0).contains(&grown[1]),
        "strip height {}",
        -grown[1]
    );
    assert_eq!(
        media(&stamped_doc, 1),
        vec![0.0, 0.0, 612.0, 792.0],
        "cover has the first page's size"
    );

    // Images and the original content streams are carried over byte for byte.
    let before = lopdf::Document::load_mem(&input).unwrap();
    let after = lopdf::Document::load_mem(&out).unwrap();
    let images = |doc: &lopdf::Document, skip: usize| -> Vec<Vec<u8>> {
        doc.get_pages()
            .values()
            .skip(skip)
            .map(|&p| {
                let res = doc.get_dictionary(p).unwrap().get(b"Resources").unwrap();
                let res = doc.dereference(res).unwrap().1.as_dict().unwrap().clone();
                let xo = res.get(b"XObject").unwrap();
                let xo = doc.dereference(xo).unwrap().1.as_dict().unwrap().clone();
                let im = xo.get(b"Im0").unwrap().as_reference().unwrap();
                doc.get_object(im)
                    .unwrap()
                    .as_stream()
                    .unwrap()
                    .content
                    .clone()
            })
            .collect()
    };
    assert_eq!(images(&before, 0), images(&after, 1));
    let first_content = |doc: &lopdf::Document, page: u32| {
        let id = doc.get_pages()[&page];
        doc.get_page_contents(id)
            .into_iter()
            .map(|c| {
                doc.get_object(c)
                    .unwrap()
                    .as_stream()
                    .unwrap()
                    .content
                    .clone()
            })
            .collect::<Vec<_>>()
    };
    for n in 1..=3u32 {
        let original = first_content(&before, n);
        let stamped = first_content(&after, n + 1);
        assert_eq!(
            stamped.len(),
            original.len() + 2,
            "page {n}: q, original, stamp"
        );
        assert_eq!(
            &stamped[1..=original.len()],
            &original[..],
            "page {n}: content changed"
        );
    }
}

#[test]
fn every_script_renders_and_extracts() {
    let dir = tempfile::tempdir().unwrap();
    let input = synthetic_pdf(1, 16, None);
    for name in [
        "Zoë Łukasiewicz",
        "Σωκράτης Παππάς",
        "Иван Петров",
        "李小龍",
        "Nguyễn Thị Minh Khai",
    ] {
        let out = stamp_pdf(&input, &stamp_for(name)).unwrap();
        let path = write(dir.path(), "names.pdf", &out);
        qpdf_check(&path);
        renders_cleanly(&path);
        assert!(
            flat(&pdftotext_page(&path, 1)).contains(name),
            "cover: {name}"
        );
        assert!(
            flat(&pdftotext_page(&path, 2)).contains(&format!("Delivered to {name} (")),
            "stamp: {name}"
        );
    }
    // A decomposed name (as some forms and macOS send it) is set and extracted composed.
    let decomposed = "Nguye\u{302}\u{303}n Thi\u{323} Minh Khai";
    let path = write(
        dir.path(),
        "nfd.pdf",
        &stamp_pdf(&input, &stamp_for(decomposed)).unwrap(),
    );
    assert!(flat(&pdftotext_page(&path, 1)).contains("Nguyễn Thị Minh Khai"));

    // The CJK name needs the fallback font: two fonts are embedded, both as subsets.
    let out = stamp_pdf(&input, &stamp_for("李小龍")).unwrap();
    let fonts = run(
        "pdffonts",
        &[write(dir.path(), "cjk.pdf", &out).to_str().unwrap()],
    );
    assert!(
        fonts.contains("DejaVuSans") && fonts.contains("CID TrueType"),
        "{fonts}"
    );
    assert!(
        fonts
            .lines()
            .filter(|l| l.contains("CID TrueType") && l.contains("yes yes yes"))
            .count()
            == 2,
        "{fonts}"
    );
}

#[test]
fn a_character_no_font_has_is_an_error() {
    let input = synthetic_pdf(1, 16, None);
    // Tibetan: neither DejaVu Sans nor WenQuanYi Micro Hei covers it.
    let err = stamp_pdf(&input, &stamp_for("བཀྲ་ཤིས")).unwrap_err();
    assert_eq!(err.code(), "watermark.font.missing_glyph");
    assert!(err.to_string().contains("U+0F56"), "{err}");
}

#[test]
fn missing_font_file_is_named() {
    let mut stamp = stamp_for("A");
    stamp.fonts.fallbacks.push("/nonexistent/font.ttf".into());
    let err = stamp_pdf(&synthetic_pdf(1, 16, None), &stamp).unwrap_err();
    assert_eq!(err.code(), "watermark.font.unreadable");
    assert!(err.to_string().contains("/nonexistent/font.ttf"));
}

#[test]
fn garbage_and_small_stamps_are_refused() {
    let err = stamp_pdf(b"not a pdf", &stamp_for("A")).unwrap_err();
    assert_eq!(err.code(), "watermark.pdf.unreadable");
    let mut stamp = stamp_for("A");
    stamp.texts.margin_font_size = 6.0;
    assert_eq!(
        stamp_pdf(&synthetic_pdf(1, 16, None), &stamp)
            .unwrap_err()
            .code(),
        "watermark.stamp.too_small"
    );
}

#[test]
fn rotated_pages_and_diagonal_watermark_and_long_notice() {
    let dir = tempfile::tempdir().unwrap();
    let mut stamp = stamp_for("Иван Петров");
    stamp.watermark = Some(DiagonalWatermark {
        text: Template::parse("{recipient} · page {page}", Scope::Page).unwrap(),
        opacity: 0.15,
    });
    stamp.texts.long_notice = Some(
        "NOTICE WARNING CONCERNING COPYRIGHT RESTRICTIONS\n\nThe copyright law of the United States governs.".into(),
    );
    for rotate in [0, 90, 180, 270] {
        let out = stamp_pdf(&synthetic_pdf(2, 16, Some(rotate)), &stamp).unwrap();
        let path = write(dir.path(), "rot.pdf", &out);
        qpdf_check(&path);
        let page = flat(&pdftotext_page(&path, 3));
        assert!(page.contains(&page_text(2)), "{rotate}: {page}");
        assert!(
            page.contains("Delivered to Иван Петров"),
            "{rotate}: {page}"
        );
        // pdftotext reads diagonal text reliably only in raw order, glyph by glyph.
        let raw: String = run(
            "pdftotext",
            &["-raw", "-f", "3", "-l", "3", path.to_str().unwrap(), "-"],
        )
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
        assert!(
            raw.contains("ИванПетров·page2"),
            "{rotate}: diagonal watermark missing: {raw}"
        );
        let cover = flat(&pdftotext_page(&path, 1));
        assert!(
            cover.contains("NOTICE WARNING CONCERNING COPYRIGHT RESTRICTIONS"),
            "{cover}"
        );
    }
}

#[test]
fn corpus_scans_stamp_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["ccitt.pdf", "epson.pdf"] {
        let input = std::fs::read(corpus(name)).unwrap();
        let original = write(dir.path(), "orig.pdf", &input);
        let out = stamp_pdf(&input, &stamp_for("Σωκράτης Παππάς")).unwrap();
        let path = write(dir.path(), "stamped.pdf", &out);
        qpdf_check(&path);
        renders_cleanly(&path);
        let n = page_count(&original);
        assert_eq!(page_count(&path), n + 1, "{name}");
        // Same images, in the same order, after the cover (which has none).
        let list = |p: &Path| -> Vec<String> {
            run("pdfimages", &["-list", p.to_str().unwrap()])
                .lines()
                .skip(2)
                .map(|l| l.split_whitespace().skip(2).collect::<Vec<_>>().join(" "))
                .collect()
        };
        let (a, b) = (list(&original), list(&path));
        let strip_page = |v: Vec<String>| {
            v.into_iter()
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
        };
        assert_eq!(strip_page(a), strip_page(b), "{name}: images changed");
        for page in 1..=n {
            let before = flat(&pdftotext_page(&original, page));
            let after = flat(&pdftotext_page(&path, page + 1));
            assert!(
                after.contains(&before),
                "{name} page {page}: text layer changed"
            );
            assert!(
                after.contains("Delivered to Σωκράτης Παππάς"),
                "{name} page {page}"
            );
        }
        assert_eq!(
            find_delivery_ids(&out).unwrap(),
            vec![ID.to_string()],
            "{name}"
        );
    }
}

#[test]
fn copies_are_traceable_after_rewriting_cutting_and_stripping() {
    let dir = tempfile::tempdir().unwrap();
    let out = stamp_pdf(&synthetic_pdf(3, 32, None), &stamp_for("Zoë Łukasiewicz")).unwrap();
    let exact = write(dir.path(), "exact.pdf", &out);
    let s = |p: &Path| p.to_str().unwrap().to_string();

    let traces = find_deliveries(&out).unwrap();
    assert_eq!(traces.len(), 1);
    let places = &traces[0].found_in;
    for p in [
        TracePlace::FileIdentifier,
        TracePlace::InfoDictionary,
        TracePlace::XmpMetadata,
    ] {
        assert!(places.contains(&p), "{p} missing: {places:?}");
    }
    for n in 1..=4 {
        assert!(
            places.contains(&TracePlace::Page(n)),
            "page {n}: {places:?}"
        );
    }

    let linearized = dir.path().join("lin.pdf");
    run("qpdf", &["--linearize", &s(&exact), &s(&linearized)]);
    let objstm = dir.path().join("objstm.pdf");
    run(
        "qpdf",
        &["--object-streams=generate", &s(&exact), &s(&objstm)],
    );
    let one_page = dir.path().join("page3.pdf");
    run(
        "qpdf",
        &["--empty", "--pages", &s(&exact), "3", "--", &s(&one_page)],
    );
    // Stripped: no Info, no XMP, no file identifier left.
    let mut doc = lopdf::Document::load_mem(&out).unwrap();
    doc.trailer.remove(b"Info");
    doc.trailer.remove(b"ID");
    doc.catalog_mut().unwrap().remove(b"Metadata");
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    let stripped = write(dir.path(), "stripped.pdf", &bytes);

    for (what, path) in [
        ("exact", &exact),
        ("linearized", &linearized),
        ("object streams", &objstm),
        ("one page", &one_page),
        ("stripped", &stripped),
    ] {
        qpdf_check(path);
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(
            find_delivery_ids(&bytes).unwrap(),
            vec![ID.to_string()],
            "{what}"
        );
    }
    let cut = find_deliveries(&std::fs::read(&one_page).unwrap()).unwrap();
    assert_eq!(
        cut[0].found_in,
        vec![TracePlace::Page(1)],
        "only the page text survives a cut-out page"
    );
    let stripped = find_deliveries(&std::fs::read(&stripped).unwrap()).unwrap();
    assert!(
        !stripped[0]
            .found_in
            .iter()
            .any(|p| !matches!(p, TracePlace::Page(_)))
    );
}

#[test]
fn unstamped_files_carry_no_delivery() {
    assert!(
        find_delivery_ids(&synthetic_pdf(2, 16, None))
            .unwrap()
            .is_empty()
    );
    assert!(
        find_delivery_ids(&std::fs::read(corpus("epson.pdf")).unwrap())
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        find_delivery_ids(b"%PDF-1.4 junk").unwrap_err().code(),
        "watermark.pdf.unreadable"
    );
}

//! Test and benchmark input: synthetic "searchable scan" PDFs (a page image plus an invisible
//! text layer, like the pipeline's output) written with lopdf, and runners for the real qpdf
//! and pdftotext. Not part of the crate.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use lopdf::{Dictionary, Document, Object, Stream, dictionary};

/// The text layer line of page `n` (1-based).
pub fn page_text(n: usize) -> String {
    format!("Page {n} of the scanned article: photosynthesis in lichens")
}

/// A PDF of `pages` pages, each with its own `px`×`px` greyscale image and an invisible text line.
pub fn synthetic_pdf(pages: usize, px: u32, rotate: Option<i64>) -> Vec<u8> {
    build(pages, px, rotate, false)
}

/// Like [`synthetic_pdf`], but with incompressible noise images stored raw, so the file is as
/// large as a real scan of that many pixels would be (for benchmarks).
pub fn heavy_pdf(pages: usize, px: u32) -> Vec<u8> {
    build(pages, px, None, true)
}

fn build(pages: usize, px: u32, rotate: Option<i64>, noise: bool) -> Vec<u8> {
    let mut seed: u32 = 0x9e37_79b9;
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let mut kids = Vec::new();
    for n in 1..=pages {
        // A different pattern on every page, so images are distinct objects with distinct bytes.
        let pixels: Vec<u8> = (0..px * px)
            .map(|i| {
                if noise {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    return (seed >> 24) as u8;
                }
                let (x, y) = (i % px, i / px);
                if (x / 7 + y / 11 + n as u32).is_multiple_of(5) {
                    40
                } else {
                    235
                }
            })
            .collect();
        let mut image = Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => px as i64, "Height" => px as i64,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
            },
            pixels,
        );
        if !noise {
            image.compress().unwrap();
        }
        let image = doc.add_object(image);
        let content = format!(
            "q 612 0 0 792 0 0 cm /Im0 Do Q\nBT 3 Tr /F1 12 Tf 72 700 Td ({}) Tj ET\n",
            page_text(n)
        );
        let content = doc.add_object(Stream::new(Dictionary::new(), content.into_bytes()));
        let mut page = dictionary! {
            "Type" => "Page", "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            "Contents" => content,
            "Resources" => dictionary! {
                "Font" => dictionary! { "F1" => font },
                "XObject" => dictionary! { "Im0" => image },
            },
        };
        if let Some(r) = rotate {
            page.set("Rotate", r);
        }
        kids.push(Object::Reference(doc.add_object(page)));
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => pages as i64 },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let info = doc.add_object(dictionary! { "Producer" => Object::string_literal("quire test") });
    doc.trailer.set("Info", info);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// Runs a tool and returns its stdout; panics with its stderr when it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// `qpdf --check`, which must report no errors or warnings.
pub fn qpdf_check(path: &Path) {
    let out = Command::new("qpdf")
        .arg("--check")
        .arg(path)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "qpdf --check failed on {}:\n{text}",
        path.display()
    );
    assert!(
        text.contains("No syntax or stream encoding errors"),
        "{text}"
    );
    assert!(!text.to_lowercase().contains("warning"), "{text}");
}

/// The text of `page` (1-based) as pdftotext extracts it.
pub fn pdftotext_page(path: &Path, page: usize) -> String {
    let p = page.to_string();
    run(
        "pdftotext",
        &[
            "-enc",
            "UTF-8",
            "-f",
            &p,
            "-l",
            &p,
            path.to_str().unwrap(),
            "-",
        ],
    )
}

pub fn page_count(path: &Path) -> usize {
    run("qpdf", &["--show-npages", path.to_str().unwrap()])
        .trim()
        .parse()
        .unwrap()
}

/// Renders every page with poppler and fails on any complaint (bad font, bad stream, …).
pub fn renders_cleanly(path: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("r");
    let out = Command::new("pdftoppm")
        .args(["-r", "20", "-png"])
        .arg(path)
        .arg(&prefix)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "pdftoppm on {}: {stderr}",
        path.display()
    );
}

//! Cutting a processed batch into its documents: which report pages belong to which segment,
//! each segment's own report (output pages renumbered from 1), and each segment's own PDF taken
//! from the batch's output without running OCR again.
//!
//! The batch is processed once as a whole (its sheets are already left out of the output); this
//! module only divides what came out. It does not decide which request a segment is for beyond
//! what its sheet says, nor whether a segment is good enough to deliver: the daemon does.

use std::path::Path;

use lopdf::{Document, Object};
use sha2::{Digest, Sha256};

use super::IntakeError;
use super::batch::{Segment, split_sheets};
use quire_pipeline::barcode::Sheet;
use quire_pipeline::report::Report;

/// What each report page is, from the barcode findings the pipeline recorded.
pub fn sheets_of(report: &Report) -> Vec<Sheet> {
    report
        .pages
        .iter()
        .map(|p| match &p.barcode {
            Some(b) if b.sheet == "separator" => Sheet::Separator,
            Some(b) if b.sheet == "request" => Sheet::Request(b.text.trim().to_owned()),
            _ => Sheet::Content,
        })
        .collect()
}

/// The segments of a processed batch, in page order.
pub fn segments_of(report: &Report) -> Vec<Segment> {
    split_sheets(&sheets_of(report))
}

/// The 1-based output pages of the batch PDF that hold `segment`'s pages (blank pages that were
/// removed have none).
pub fn output_pages(report: &Report, segment: &Segment) -> Vec<u32> {
    report.pages[segment.pages.clone()]
        .iter()
        .filter_map(|p| p.output_page.map(|n| n as u32))
        .collect()
}

/// The batch report narrowed to one segment: its pages only, output pages renumbered from 1,
/// counts and timings recomputed, and the segment's own output file and hash.
pub fn segment_report(
    batch: &Report,
    segment: &Segment,
    output: &Path,
    bytes: u64,
    sha256: &str,
) -> Report {
    let mut pages: Vec<_> = batch.pages[segment.pages.clone()].to_vec();
    let mut next = 0;
    for p in &mut pages {
        if p.output_page.is_some() {
            next += 1;
            p.output_page = Some(next);
        }
    }
    let tesseract_ms: f64 = pages.iter().map(|p| p.timings.tesseract_ms()).sum();
    let other_ms: f64 = pages.iter().map(|p| p.timings.other_ms()).sum();
    Report {
        output: output.to_owned(),
        output_bytes: bytes,
        sha256: sha256.to_owned(),
        pages_in: pages.len(),
        pages_out: next,
        blank_pages_removed: pages
            .iter()
            .filter(|p| p.blank && p.output_page.is_none())
            .count(),
        barcode_sheets_removed: segment.sheets.len(),
        tesseract_seconds: tesseract_ms / 1000.0,
        other_seconds: other_ms / 1000.0,
        pages,
        ..batch.clone()
    }
}

/// Writes the `pages` (1-based, ascending) of `batch_pdf` as a PDF of their own at `output`,
/// all or nothing (temporary file, then rename). Returns its size and SHA-256.
pub fn extract_pages(
    batch_pdf: &Path,
    pages: &[u32],
    title: &str,
    output: &Path,
) -> Result<(u64, String), IntakeError> {
    let fail = |reason: String| IntakeError::Extract {
        path: batch_pdf.to_owned(),
        reason,
    };
    let mut doc = Document::load(batch_pdf).map_err(|e| fail(e.to_string()))?;
    let total = doc.get_pages().len() as u32;
    if pages.is_empty() || pages.iter().any(|&p| p == 0 || p > total) {
        return Err(fail(format!(
            "pages {pages:?} are not all within its {total} pages"
        )));
    }
    let unwanted: Vec<u32> = (1..=total).filter(|p| !pages.contains(p)).collect();
    doc.delete_pages(&unwanted);
    doc.prune_objects();
    if let Ok(info) = doc.trailer.get(b"Info").and_then(Object::as_reference)
        && let Ok(dict) = doc.get_object_mut(info).and_then(Object::as_dict_mut)
    {
        dict.set("Title", Object::string_literal(title));
    }
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).map_err(|e| fail(e.to_string()))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    write_atomically(output, &bytes).map_err(|e| IntakeError::Extract {
        path: output.to_owned(),
        reason: e.to_string(),
    })?;
    Ok((bytes.len() as u64, sha256))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".quire-")
        .suffix(".pdf.part")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quire_pipeline::pdf::font::GlyphlessFont;
    use quire_pipeline::pdf::writer::{DocumentInfo, PdfWriter};
    use quire_pipeline::report::{BarcodeFinding, PageReport};

    fn page(n: usize, output_page: Option<usize>, sheet: Option<(&str, &str)>) -> PageReport {
        PageReport {
            source_file: "batch.tif".into(),
            source_page: n,
            output_page,
            width_px: 100,
            height_px: 100,
            dpi_x: 300.0,
            dpi_y: 300.0,
            dpi_assumed: false,
            rotation_applied: 0,
            orientation_confidence: None,
            skew: None,
            mean_ocr_confidence: None,
            word_count: 0,
            blank: output_page.is_none() && sheet.is_none(),
            ink_fraction: 0.0,
            replaced_text_layer: false,
            printed_page_number: None,
            image_encoding: quire_pipeline::pdf::ImageEncoding::Flate,
            bytes: 0,
            warnings: Vec::new(),
            text: format!("page {n}"),
            fingerprint_phash: Vec::new(),
            barcode: sheet.map(|(text, kind)| BarcodeFinding {
                text: text.into(),
                symbology: "code128".into(),
                ink_outside: 0.0,
                sheet: kind.into(),
            }),
            timings: Default::default(),
        }
    }

    fn batch() -> Report {
        // Two loose pages, a cover for TN1 with two pages (one of them blank and removed), a
        // PATCH-T, then a cover for TN2 with one page.
        let pages = vec![
            page(1, Some(1), None),
            page(2, Some(2), None),
            page(3, None, Some(("TN1", "request"))),
            page(4, Some(3), None),
            page(5, None, None),
            page(6, None, Some(("PATCHT", "separator"))),
            page(7, None, Some(("TN2", "request"))),
            page(8, Some(4), None),
        ];
        Report {
            producer: "test".into(),
            output: "batch.pdf".into(),
            output_bytes: 0,
            sha256: String::new(),
            languages: "eng".into(),
            pages_in: pages.len(),
            pages_out: 4,
            blank_pages_removed: 1,
            barcode_sheets_removed: 3,
            ocr_engines_started: 0,
            wall_seconds: 1.0,
            tesseract_seconds: 0.0,
            other_seconds: 0.0,
            pages,
        }
    }

    #[test]
    fn a_batch_report_divides_into_segments_with_their_own_page_numbers() {
        let report = batch();
        let segments = segments_of(&report);
        let requests: Vec<Option<&str>> = segments.iter().map(|s| s.request.as_deref()).collect();
        assert_eq!(requests, vec![None, Some("TN1"), Some("TN2")]);
        let outputs: Vec<Vec<u32>> = segments.iter().map(|s| output_pages(&report, s)).collect();
        assert_eq!(outputs, vec![vec![1, 2], vec![3], vec![4]]);

        let tn1 = segment_report(&report, &segments[1], Path::new("tn1.pdf"), 10, "ab");
        assert_eq!(tn1.pages_in, 2);
        assert_eq!(tn1.pages_out, 1);
        assert_eq!(tn1.blank_pages_removed, 1);
        assert_eq!(tn1.barcode_sheets_removed, 1);
        assert_eq!(tn1.pages[0].output_page, Some(1));
        assert_eq!(tn1.pages[0].source_page, 4);
        assert_eq!(tn1.pages[1].output_page, None);
        let tn2 = segment_report(&report, &segments[2], Path::new("tn2.pdf"), 10, "cd");
        assert_eq!(tn2.barcode_sheets_removed, 2, "PATCH-T and cover");
        assert_eq!(tn2.pages[0].output_page, Some(1));
    }

    #[test]
    fn extracted_pages_form_a_valid_pdf_of_just_those_pages() {
        let dir = tempfile::tempdir().unwrap();
        let batch_pdf = dir.path().join("batch.pdf");
        let font = GlyphlessFont::load(None).unwrap();
        let file = std::io::BufWriter::new(std::fs::File::create(&batch_pdf).unwrap());
        let mut writer = PdfWriter::new(file, &font).unwrap();
        for shade in [10u8, 120, 240] {
            let img = image::GrayImage::from_pixel(50, 50, image::Luma([shade]));
            let encoded = quire_pipeline::pdf::image_encode::encode(
                &quire_pipeline::page::Raster::Gray(img),
                80,
            );
            writer
                .add_page(encoded, (36.0, 36.0), &Default::default())
                .unwrap();
        }
        let info = DocumentInfo {
            title: "batch".into(),
            producer: "test".into(),
            created: time::OffsetDateTime::now_utc(),
            lang: None,
        };
        let (buffered, _) = writer.finish(&info).unwrap();
        drop(buffered);

        let out = dir.path().join("seg/tn.pdf");
        let (bytes, sha) = extract_pages(&batch_pdf, &[2, 3], "TN9", &out).unwrap();
        let written = std::fs::read(&out).unwrap();
        assert_eq!(written.len() as u64, bytes);
        assert_eq!(hex::encode(Sha256::digest(&written)), sha);
        let doc = Document::load(&out).unwrap();
        assert_eq!(doc.get_pages().len(), 2);
        let info = doc.trailer.get(b"Info").unwrap().as_reference().unwrap();
        let title = doc.get_dictionary(info).unwrap().get(b"Title").unwrap();
        assert_eq!(title.as_str().unwrap(), b"TN9");
        assert!(matches!(
            extract_pages(&batch_pdf, &[4], "x", &dir.path().join("bad.pdf")),
            Err(IntakeError::Extract { .. })
        ));
        assert!(!dir.path().join("bad.pdf").exists());
    }
}

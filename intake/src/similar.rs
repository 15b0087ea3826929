//! Near-duplicates: each processed page is fingerprinted (a MinHash of its OCR words, and a
//! perceptual hash of its image where the pipeline gives one) and compared with the pages of
//! every earlier job, so a rescan of an article already scanned or delivered is recognised at
//! another resolution, skew or JPEG quality. The thresholds and the comparison live in
//! `quire_pipeline::similarity`, where they are tested on 200 synthetic articles.

use quire_pipeline::Report;
use quire_pipeline::similarity::{PageFingerprint, compare_documents, minhash};
use serde::Serialize;

use quire_state::{Db, PageRow, StateError};

#[derive(Debug, Clone, Serialize)]
pub struct NearDuplicate {
    pub job: String,
    pub pages: String,
    pub their_pages: String,
    pub similarity: f32,
}

impl NearDuplicate {
    pub fn describe(&self) -> String {
        format!(
            "pages {} match job {} (pages {}), similarity {:.2}",
            self.pages, self.job, self.their_pages, self.similarity
        )
    }
}

/// The rows to keep for a report's delivered pages.
pub fn page_rows(report: &Report) -> Vec<PageRow> {
    report
        .pages
        .iter()
        .filter_map(|p| {
            let page_no = p.output_page? as i64;
            Some(PageRow {
                page_no,
                source_file: p.source_file.display().to_string(),
                source_page: p.source_page as i64,
                phash: p.fingerprint_phash.clone(),
                minhash: minhash(&p.text),
                printed_page: p.printed_page_number.clone(),
                ocr_confidence: p.mean_ocr_confidence.map(f64::from),
                word_count: p.word_count as i64,
                blank: p.blank,
            })
        })
        .collect()
}

fn fingerprints(rows: &[PageRow]) -> Vec<PageFingerprint> {
    rows.iter()
        .map(|r| PageFingerprint {
            phash: r.phash.clone(),
            minhash: r.minhash.clone(),
        })
        .collect()
}

fn span(r: &std::ops::RangeInclusive<usize>) -> String {
    if r.start() == r.end() {
        r.start().to_string()
    } else {
        format!("{}–{}", r.start(), r.end())
    }
}

/// Earlier jobs sharing a run of pages with `rows`, best first.
pub fn find(
    db: &Db,
    rows: &[PageRow],
    except: Option<&str>,
) -> Result<Vec<NearDuplicate>, StateError> {
    let new = fingerprints(rows);
    let mut found: Vec<NearDuplicate> = db
        .pages_of_other_jobs(except)?
        .into_iter()
        .filter_map(|(job, pages)| {
            let m = compare_documents(&new, &fingerprints(&pages))?;
            Some(NearDuplicate {
                job,
                pages: span(&m.new_pages),
                their_pages: span(&m.old_pages),
                similarity: m.similarity,
            })
        })
        .collect();
    found.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    Ok(found)
}

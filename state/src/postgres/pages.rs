//! Per-page findings of processed jobs, kept for near-duplicate search.

use postgres::GenericClient;

use crate::StateError;
use crate::job::PageRow;

pub fn replace(
    c: &mut impl GenericClient,
    job_id: &str,
    pages: &[PageRow],
) -> Result<(), StateError> {
    // Reprocessing replaces what an earlier run found.
    c.execute("DELETE FROM pages WHERE job_id = $1", &[&job_id])?;
    if pages.is_empty() {
        return Ok(());
    }
    let stmt = c.prepare(
        "INSERT INTO pages (job_id, page_no, source_file, source_page, phash, minhash, printed_page, ocr_confidence, word_count, blank)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )?;
    for p in pages {
        let minhash: Vec<u8> = p.minhash.iter().flat_map(|h| h.to_le_bytes()).collect();
        c.execute(
            &stmt,
            &[
                &job_id,
                &p.page_no,
                &p.source_file,
                &p.source_page,
                &p.phash,
                &minhash,
                &p.printed_page,
                &p.ocr_confidence,
                &p.word_count,
                &p.blank,
            ],
        )?;
    }
    Ok(())
}

/// Every other job's pages in page order, grouped by job, oldest job first.
pub fn all_except(
    c: &mut impl GenericClient,
    except: Option<&str>,
) -> Result<Vec<(String, Vec<PageRow>)>, StateError> {
    let rows = c.query(
        "SELECT p.job_id, p.page_no, p.source_file, p.source_page, p.phash, p.minhash, p.printed_page, p.ocr_confidence,
                p.word_count, p.blank
         FROM pages p JOIN jobs j ON j.id = p.job_id
         WHERE $1::text IS NULL OR p.job_id != $1 ORDER BY j.created_at, p.job_id, p.page_no",
        &[&except],
    )?;
    let mut out: Vec<(String, Vec<PageRow>)> = Vec::new();
    for r in &rows {
        let minhash: Option<Vec<u8>> = r.try_get(5)?;
        let job: String = r.try_get(0)?;
        let page = PageRow {
            page_no: r.try_get(1)?,
            source_file: r.try_get(2)?,
            source_page: r.try_get(3)?,
            phash: r.try_get::<_, Option<Vec<u8>>>(4)?.unwrap_or_default(),
            minhash: minhash
                .unwrap_or_default()
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            printed_page: r.try_get(6)?,
            ocr_confidence: r.try_get(7)?,
            word_count: r.try_get(8)?,
            blank: r.try_get(9)?,
        };
        match out.last_mut() {
            Some((j, pages)) if *j == job => pages.push(page),
            _ => out.push((job, vec![page])),
        }
    }
    Ok(out)
}

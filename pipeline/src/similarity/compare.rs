//! Comparing two documents page by page and finding the longest run of matching pages.

use std::ops::RangeInclusive;

use super::fingerprint::PageFingerprint;
use super::minhash::minhash_similarity;
use super::phash::phash_similarity;

/// Two pages with text match at this estimated Jaccard similarity of their word shingles or
/// above. Rescans with OCR noise score 0.5–1; different articles, even sharing running heads
/// and a vocabulary, stay under 0.1 (see `tests/similarity_rescans.rs`).
pub const PAGE_MATCH_TEXT: f32 = 0.3;
/// Two pages without usable text match at this perceptual-hash similarity or above. Rescanned
/// plates score 0.85–1, different plates under 0.7 (see `tests/similarity_rescans.rs`).
pub const PAGE_MATCH_IMAGE: f32 = 0.78;

/// A run of pages of a new document matching a run of an earlier one.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// 1-based pages of the new document.
    pub new_pages: RangeInclusive<usize>,
    /// 1-based pages of the earlier document, aligned page for page.
    pub old_pages: RangeInclusive<usize>,
    /// The mean page similarity over the run (0–1).
    pub similarity: f32,
}

/// The similarity of two pages if they match, by text when both have a signature and by
/// image otherwise.
pub fn page_similarity(a: &PageFingerprint, b: &PageFingerprint) -> Option<f32> {
    if !a.minhash.is_empty() && !b.minhash.is_empty() {
        let s = minhash_similarity(&a.minhash, &b.minhash);
        return (s >= PAGE_MATCH_TEXT).then_some(s);
    }
    let s = phash_similarity(&a.phash, &b.phash);
    (s >= PAGE_MATCH_IMAGE).then_some(s)
}

/// The longest run of consecutive new pages matching consecutive old pages in the same order
/// (ties go to the higher similarity), or `None` when no page matches.
pub fn compare_documents(new: &[PageFingerprint], old: &[PageFingerprint]) -> Option<Match> {
    let scores: Vec<Vec<Option<f32>>> = new
        .iter()
        .map(|n| old.iter().map(|o| page_similarity(n, o)).collect())
        .collect();
    let mut best: Option<(usize, f32, usize, usize)> = None;
    for (i, row) in scores.iter().enumerate() {
        for (j, score) in row.iter().enumerate() {
            // Only start runs at their first page.
            if score.is_none() || (i > 0 && j > 0 && scores[i - 1][j - 1].is_some()) {
                continue;
            }
            let mut len = 0;
            let mut total = 0.0;
            while let Some(Some(s)) = scores.get(i + len).and_then(|r| r.get(j + len)) {
                total += s;
                len += 1;
            }
            let mean = total / len as f32;
            if best.is_none_or(|(l, m, _, _)| len > l || len == l && mean > m) {
                best = Some((len, mean, i, j));
            }
        }
    }
    best.map(|(len, similarity, i, j)| Match {
        new_pages: i + 1..=i + len,
        old_pages: j + 1..=j + len,
        similarity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_page(tag: u32) -> PageFingerprint {
        let text: String = (0..80).map(|w| format!("w{tag}x{w} ")).collect();
        PageFingerprint {
            phash: vec![0; 32],
            minhash: super::super::minhash::minhash(&text),
        }
    }

    #[test]
    fn finds_the_longest_aligned_run() {
        let old: Vec<_> = (1..=6).map(text_page).collect();
        // New: an unrelated page, then old pages 2–5, then old page 1.
        let new = vec![
            text_page(99),
            old[1].clone(),
            old[2].clone(),
            old[3].clone(),
            old[4].clone(),
            old[0].clone(),
        ];
        let found = compare_documents(&new, &old).unwrap();
        assert_eq!(found.new_pages, 2..=5);
        assert_eq!(found.old_pages, 2..=5);
        assert_eq!(found.similarity, 1.0);
        assert_eq!(compare_documents(&[text_page(50)], &old), None);
        assert_eq!(compare_documents(&[], &old), None);
    }

    #[test]
    fn pages_without_text_compare_by_image() {
        let a = PageFingerprint {
            phash: vec![0b1010_1010; 32],
            minhash: vec![],
        };
        let mut near = a.clone();
        near.phash[0] ^= 0b111;
        let mut far = a.clone();
        far.phash.iter_mut().take(12).for_each(|b| *b = !*b);
        assert!(page_similarity(&a, &near).is_some_and(|s| s > 0.98));
        assert_eq!(page_similarity(&a, &far), None);
        // One page with text, one without: the image decides.
        assert!(
            page_similarity(
                &text_page(1),
                &PageFingerprint {
                    phash: vec![0; 32],
                    minhash: vec![]
                }
            )
            .is_some()
        );
    }
}

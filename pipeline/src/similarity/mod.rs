//! Near-duplicate detection: a fingerprint per page (a perceptual hash of the image and a
//! MinHash of its OCR words), and the comparison of two documents' fingerprints into runs like
//! "pages 1–12 match, similarity 0.97".
//!
//! Text decides whenever both pages have enough words: printed pages of different articles
//! look alike to any perceptual hash (grey blocks of lines in the same margins), while their
//! word sequences differ. The perceptual hash decides for pages without text (plates, figures,
//! blank-ish pages). Job ids, storage and reports are the daemon's; exact duplicates are
//! SHA-256 checks done elsewhere.

mod compare;
mod fingerprint;
mod minhash;
mod phash;

pub use compare::{Match, PAGE_MATCH_IMAGE, PAGE_MATCH_TEXT, compare_documents, page_similarity};
pub use fingerprint::PageFingerprint;
pub use minhash::{MINHASH_SIZE, SHINGLE_WORDS, minhash, minhash_similarity, words};
pub use phash::{perceptual_hash, phash_similarity};

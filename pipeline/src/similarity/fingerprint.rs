//! A page's fingerprint and its byte form for the database.
//!
//! Layout, little-endian: a format byte (1), the hash length in bytes (u16) and the hash, the
//! signature length in entries (u16) and the entries (u32 each). Nothing else, so a stored
//! fingerprint is 1 + 2 + 32 + 2 + 512 bytes.

use image::GrayImage;

use super::minhash::minhash;
use super::phash::perceptual_hash;
use crate::error::PipelineError;

const FORMAT: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFingerprint {
    /// Perceptual hash of the page image ([`perceptual_hash`]).
    pub phash: Vec<u8>,
    /// MinHash signature of its OCR words ([`minhash`]); empty for a page without text.
    pub minhash: Vec<u32>,
}

impl PageFingerprint {
    /// The fingerprint of a page image scanned at `dpi` whose OCR text is `text`.
    pub fn of(page: &GrayImage, dpi: f32, text: &str) -> Self {
        PageFingerprint {
            phash: perceptual_hash(page, dpi),
            minhash: minhash(text),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + self.phash.len() + 4 * self.minhash.len());
        out.push(FORMAT);
        out.extend((self.phash.len() as u16).to_le_bytes());
        out.extend(&self.phash);
        out.extend((self.minhash.len() as u16).to_le_bytes());
        for h in &self.minhash {
            out.extend(h.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PipelineError> {
        let corrupt = |reason: &str| PipelineError::CorruptFingerprint {
            reason: reason.to_owned(),
        };
        let (&format, rest) = bytes.split_first().ok_or_else(|| corrupt("empty"))?;
        if format != FORMAT {
            return Err(corrupt(&format!("unknown format {format}")));
        }
        let (phash_len, rest) = take_u16(rest).ok_or_else(|| corrupt("truncated hash length"))?;
        let (phash, rest) = rest
            .split_at_checked(phash_len)
            .ok_or_else(|| corrupt("truncated hash"))?;
        let (count, rest) = take_u16(rest).ok_or_else(|| corrupt("truncated signature length"))?;
        if rest.len() != count * 4 {
            return Err(corrupt(&format!(
                "signature of {count} entries but {} bytes",
                rest.len()
            )));
        }
        let minhash = rest
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(PageFingerprint {
            phash: phash.to_vec(),
            minhash,
        })
    }
}

fn take_u16(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let (head, rest) = bytes.split_at_checked(2)?;
    Some((usize::from(u16::from_le_bytes([head[0], head[1]])), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let fp = PageFingerprint {
            phash: vec![1, 2, 3, 250],
            minhash: vec![7, u32::MAX, 0],
        };
        let bytes = fp.to_bytes();
        assert_eq!(bytes.len(), 1 + 2 + 4 + 2 + 12);
        assert_eq!(PageFingerprint::from_bytes(&bytes).unwrap(), fp);
        let empty = PageFingerprint {
            phash: vec![],
            minhash: vec![],
        };
        assert_eq!(
            PageFingerprint::from_bytes(&empty.to_bytes()).unwrap(),
            empty
        );
        for cut in 0..bytes.len() {
            let err = PageFingerprint::from_bytes(&bytes[..cut]).unwrap_err();
            assert_eq!(err.code(), "intake.similarity.corrupt_fingerprint");
        }
        let mut other = bytes.clone();
        other[0] = 9;
        assert!(
            PageFingerprint::from_bytes(&other)
                .unwrap_err()
                .to_string()
                .contains("format 9")
        );
    }
}

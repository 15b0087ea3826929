//! [`ContentHash`]: a validated SHA-256 hex digest, the only thing stores accept as a key.
//! Validation matters beyond tidiness: the filesystem backend builds paths from it, so a key
//! can never contain a separator or `..`.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::DeliveryError;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(String);

impl ContentHash {
    /// Accepts exactly 64 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, DeliveryError> {
        let valid =
            text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(DeliveryError::BadHash(text.to_owned()))
        }
    }

    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_digest(Sha256::digest(bytes).into())
    }

    pub(crate) fn from_digest(digest: [u8; 32]) -> Self {
        Self(hex::encode(digest))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The raw 32 bytes (for S3's base64 checksum header).
    pub(crate) fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        hex::decode_to_slice(&self.0, &mut out).expect("validated at construction");
        out
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_paths_and_uppercase() {
        let good = ContentHash::of(b"abc");
        assert_eq!(
            good.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(ContentHash::parse(good.as_str()).unwrap(), good);
        for bad in [
            "",
            "../etc/passwd",
            &good.as_str().to_uppercase(),
            &good.as_str()[..63],
            &format!("{good}0"),
        ] {
            assert_eq!(
                ContentHash::parse(bad).unwrap_err().code(),
                "delivery.store.bad_hash",
                "{bad}"
            );
        }
    }
}

//! Verify-on-read: the verdict on an object's bytes ([`Check`]: length and SHA-256 against the
//! key), and the async wrapper that turns a backend's raw byte reader into the chunk stream of
//! an [`ObjectBody`] (used by S3; the filesystem backend has its own blocking reader in
//! [`super::fs_read`] built on the same [`Check`]).
//!
//! # What is guaranteed
//! - Whole-object reads: every byte is hashed; the chunk that ends the object is held back
//!   until end-of-file is seen, the length matches and the SHA-256 equals the key. On any
//!   mismatch that final chunk is replaced by [`DeliveryError::HashMismatch`], so a client
//!   never receives a complete copy of a corrupt object (an HTTP response is cut short, which a
//!   browser reports as a failed download).
//! - Range reads: the bytes before the range are read and hashed without being sent, the
//!   range is sent, and the bytes after it are read and hashed before the range's final chunk
//!   is released. The same guarantee holds, at the price of reading the whole object for any
//!   range. Earlier chunks of a range (or of a whole object) may already have been sent when
//!   corruption is found; the verdict always arrives before the last one.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{CHUNK, ContentHash, ObjectBody, ObjectKey};
use crate::DeliveryError;

/// The raw, unverified reader a backend opened, and the length it claims.
pub(crate) struct RawObject {
    pub len: u64,
    pub reader: Box<dyn AsyncRead + Send + Unpin>,
}

/// `range` (the whole object if `None`) if it lies inside an object of `len` bytes.
pub(crate) fn check_range(
    hash: &ContentHash,
    range: Option<Range<u64>>,
    len: u64,
) -> Result<Range<u64>, DeliveryError> {
    let range = range.unwrap_or(0..len);
    if range.start > range.end || range.end > len {
        return Err(DeliveryError::BadRange {
            hash: hash.to_string(),
            start: range.start,
            end: range.end,
            len,
        });
    }
    Ok(range)
}

/// The running verdict over an object's bytes, fed in order, without any I/O of its own.
pub(crate) struct Check {
    hash: ContentHash,
    hasher: Sha256,
    /// Bytes fed so far.
    pos: u64,
    len: u64,
}

impl Check {
    /// Expects `len` bytes hashing to `hash`.
    pub fn new(hash: ContentHash, len: u64) -> Self {
        Self {
            hash,
            hasher: Sha256::new(),
            pos: 0,
            len,
        }
    }

    /// Hashes the next bytes; more bytes than expected is already a mismatch.
    pub fn update(&mut self, bytes: &[u8]) -> Result<(), DeliveryError> {
        self.pos += bytes.len() as u64;
        if self.pos > self.len {
            return Err(mismatch(
                &self.hash,
                format!("more than the expected {} bytes", self.len),
            ));
        }
        self.hasher.update(bytes);
        Ok(())
    }

    /// The verdict once the source is exhausted: every expected byte seen, and the right hash.
    pub fn finish(&mut self) -> Result<(), DeliveryError> {
        if self.pos != self.len {
            return Err(mismatch(
                &self.hash,
                format!("ended after {} of {} bytes", self.pos, self.len),
            ));
        }
        let actual = ContentHash::from_digest(std::mem::take(&mut self.hasher).finalize().into());
        if actual != self.hash {
            return Err(mismatch(&self.hash, format!("content hashes to {actual}")));
        }
        Ok(())
    }
}

pub(crate) fn mismatch(hash: &ContentHash, reason: String) -> DeliveryError {
    DeliveryError::HashMismatch {
        hash: hash.to_string(),
        reason,
    }
}

/// Wraps `raw` into a verified body yielding `range` (the whole object if `None`).
pub(crate) fn verified_body(
    hash: ContentHash,
    raw: RawObject,
    range: Option<Range<u64>>,
) -> Result<ObjectBody, DeliveryError> {
    let range = check_range(&hash, range, raw.len)?;
    let state = Verifier {
        check: Check::new(hash.clone(), raw.len),
        hash: hash.clone(),
        reader: raw.reader,
        pos: 0,
        window: range.clone(),
        done: false,
    };
    let stream = futures_util::stream::try_unfold(state, |mut state| async move {
        match state.next_chunk().await? {
            Some(chunk) => Ok(Some((chunk, state))),
            None => Ok(None),
        }
    });
    Ok(ObjectBody {
        key: ObjectKey {
            sha256: hash,
            bytes: raw.len,
        },
        range,
        stream: Box::pin(stream),
    })
}

struct Verifier {
    check: Check,
    hash: ContentHash,
    reader: Box<dyn AsyncRead + Send + Unpin>,
    /// Bytes read from the backend so far.
    pos: u64,
    window: Range<u64>,
    done: bool,
}

impl Verifier {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, DeliveryError> {
        while !self.done {
            let chunk = self.read().await?;
            let chunk_start = self.pos - chunk.len() as u64;
            if chunk.is_empty() {
                // End of the backend's bytes before the window ended (or an empty window at
                // the very end): nothing is held back, just settle the verdict.
                self.finish()?;
                return Ok(None);
            }
            let from = self.window.start.clamp(chunk_start, self.pos);
            let to = self.window.end.clamp(chunk_start, self.pos);
            let part = chunk.slice((from - chunk_start) as usize..(to - chunk_start) as usize);
            if self.pos >= self.window.end {
                // This chunk completes the window: read and hash the rest before letting it go.
                while !self.read().await?.is_empty() {}
                self.finish()?;
                return Ok((!part.is_empty()).then_some(part));
            }
            if !part.is_empty() {
                return Ok(Some(part));
            }
        }
        Ok(None)
    }

    /// One chunk from the backend, hashed; empty at end of file.
    async fn read(&mut self) -> Result<Bytes, DeliveryError> {
        let mut buf = BytesMut::with_capacity(CHUNK);
        let n =
            self.reader
                .read_buf(&mut buf)
                .await
                .map_err(|source| DeliveryError::ReadFailed {
                    hash: self.hash.to_string(),
                    source,
                })?;
        self.pos += n as u64;
        self.check.update(&buf)?;
        Ok(buf.freeze())
    }

    fn finish(&mut self) -> Result<(), DeliveryError> {
        self.done = true;
        self.check.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(
        data: &'static [u8],
        claimed: &[u8],
        range: Option<Range<u64>>,
    ) -> Result<ObjectBody, DeliveryError> {
        let raw = RawObject {
            len: data.len() as u64,
            reader: Box::new(data),
        };
        verified_body(ContentHash::of(claimed), raw, range)
    }

    #[tokio::test]
    async fn good_object_and_ranges_read_back() {
        let data: &'static [u8] = Box::leak(
            (0..400_000u32)
                .map(|i| (i % 251) as u8)
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        assert_eq!(
            body(data, data, None).unwrap().to_vec().await.unwrap(),
            data
        );
        for r in [
            0..0,
            0..1,
            5..CHUNK as u64 + 7,
            CHUNK as u64..2 * CHUNK as u64,
            399_999..400_000,
            400_000..400_000,
        ] {
            let got = body(data, data, Some(r.clone()))
                .unwrap()
                .to_vec()
                .await
                .unwrap();
            assert_eq!(got, &data[r.start as usize..r.end as usize], "{r:?}");
        }
        assert_eq!(
            body(data, data, Some(3..400_001)).unwrap_err().code(),
            "delivery.store.bad_range"
        );
    }

    #[tokio::test]
    async fn corrupt_object_never_yields_its_last_chunk() {
        let data: &'static [u8] = &[7u8; 300_000];
        let mut claimed = data.to_vec();
        claimed[299_999] = 8;
        let mut stream = body(data, &claimed, None).unwrap().into_stream();
        let mut delivered = 0;
        let err = loop {
            match stream.try_next().await {
                Ok(Some(chunk)) => delivered += chunk.len(),
                Ok(None) => panic!("corrupt object streamed to the end"),
                Err(e) => break e,
            }
        };
        assert_eq!(err.code(), "delivery.store.hash_mismatch");
        assert!(delivered < data.len());
        // A range that ends well before the corrupt byte is refused too.
        let err = body(data, &claimed, Some(0..10))
            .unwrap()
            .to_vec()
            .await
            .unwrap_err();
        assert_eq!(err.code(), "delivery.store.hash_mismatch");
    }

    use futures_util::TryStreamExt;
}

//! Reading a filesystem object for a download: a blocking read-and-hash loop on a thread of
//! its own, handing 1 MiB [`Bytes`] chunks to the async side over a small channel.
//!
//! Why not `tokio::fs::File`: it sends every read to tokio's blocking pool and back (a thread
//! hand-off per chunk) and reads into its own buffer, which is then copied again into the
//! chunk. Here each chunk is read by the kernel straight into the buffer that becomes the
//! [`Bytes`] handed to the HTTP layer: one hand-off and (usually) one `read` per MiB. The
//! thread is not taken from tokio's blocking pool because a slow client keeps it for the
//! whole download (it waits on the full channel), and the pool also serves the database calls.
//!
//! What the loop guarantees is exactly that of [`super::verify`], with one addition: if the
//! file's [`FileStamp`] says it was verified unchanged before ([`VerifiedCache`]), it is sent
//! without hashing (and a range read reads only the range), but the final chunk is still held
//! back until a fresh stamp of the open handle shows the file was not changed during the read;
//! otherwise the stream ends in [`DeliveryError::HashMismatch`]. A full verification that ends
//! with the stamp unchanged is remembered for later reads.
//!
//! Memory per download is bounded: at most one chunk being read, [`QUEUE`] queued, and the
//! one the HTTP layer is writing; the buffers are recycled ([`super::buffers`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::buffers::BufferPool;
use super::verified::{FileStamp, VerifiedCache};
use super::verify::{Check, check_range, mismatch};
use super::{ContentHash, ObjectBody, ObjectKey};
use crate::DeliveryError;

/// Size of the chunks a download is read and sent in: large enough that per-chunk costs
/// (the wake-up of the async side, the HTTP layer's write call) vanish against copying it.
pub(crate) const READ_CHUNK: usize = 1024 * 1024;

/// Chunks read ahead of the HTTP layer.
const QUEUE: usize = 1;

/// Read buffers shared by every download of the process: 32 idle MiB at most.
static BUFFERS: BufferPool = BufferPool::new(READ_CHUNK, 32);

type Item = Result<Bytes, DeliveryError>;

/// Opens the object at `path` and streams `range` of it (all of it if `None`), verified.
/// Errors that show before the first byte (not found, bad range) are returned here.
pub(crate) async fn read_object(
    path: PathBuf,
    hash: ContentHash,
    range: Option<Range<u64>>,
    cache: Arc<VerifiedCache>,
) -> Result<ObjectBody, DeliveryError> {
    let (opened_tx, opened_rx) = oneshot::channel();
    let (tx, rx) = mpsc::channel::<Item>(QUEUE);
    let job = Job {
        path,
        hash: hash.clone(),
        cache,
        tx,
    };
    std::thread::Builder::new()
        .name("quire-store-read".into())
        .stack_size(256 * 1024)
        .spawn(move || job.run(range, opened_tx))
        .map_err(|source| DeliveryError::ReadFailed {
            hash: hash.to_string(),
            source,
        })?;
    let (len, range) = opened_rx.await.map_err(|_| DeliveryError::ReadFailed {
        hash: hash.to_string(),
        source: std::io::Error::other("the reading thread ended before opening the object"),
    })??;
    // Ends when the thread is done (it drops the sender), after an error item at the latest.
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(ObjectBody {
        key: ObjectKey {
            sha256: hash,
            bytes: len,
        },
        range,
        stream: Box::pin(stream),
    })
}

/// Why the loop stopped early.
enum Stop {
    /// The receiver is gone (the client hung up): nothing to report to anyone.
    Gone,
    Failed(DeliveryError),
}

impl From<DeliveryError> for Stop {
    fn from(e: DeliveryError) -> Self {
        Self::Failed(e)
    }
}

struct Job {
    path: PathBuf,
    hash: ContentHash,
    cache: Arc<VerifiedCache>,
    tx: mpsc::Sender<Item>,
}

impl Job {
    fn run(
        self,
        range: Option<Range<u64>>,
        opened: oneshot::Sender<Result<(u64, Range<u64>), DeliveryError>>,
    ) {
        // Before the open, so that any change after the stamp is taken is later than this.
        let read_start = SystemTime::now();
        let (mut file, stamp, len, range) = match self.open(range) {
            Ok(o) => o,
            Err(e) => {
                let _ = opened.send(Err(e));
                return;
            }
        };
        // Decided before the caller gets the body, so what it sees is settled at open.
        let trusted = self.cache.is_verified(&self.hash, stamp);
        if opened.send(Ok((len, range.clone()))).is_err() {
            return;
        }
        let outcome = if trusted {
            self.send_trusted(&mut file, stamp, range)
        } else {
            self.send_verified(&mut file, stamp, len, range, read_start)
        };
        if let Err(Stop::Failed(e)) = outcome {
            if matches!(e, DeliveryError::HashMismatch { .. }) {
                self.cache.forget(&self.hash);
            }
            let _ = self.tx.blocking_send(Err(e));
        }
    }

    fn open(
        &self,
        range: Option<Range<u64>>,
    ) -> Result<(File, Option<FileStamp>, u64, Range<u64>), DeliveryError> {
        let file = File::open(&self.path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DeliveryError::NotFound {
                hash: self.hash.to_string(),
            },
            _ => DeliveryError::store_io(&self.path, e),
        })?;
        let meta = file
            .metadata()
            .map_err(|e| DeliveryError::store_io(&self.path, e))?;
        let range = check_range(&self.hash, range, meta.len())?;
        Ok((file, FileStamp::of(&meta), meta.len(), range))
    }

    /// Every byte hashed; the bytes of `range` sent, the one that completes it only after the
    /// verdict.
    fn send_verified(
        &self,
        file: &mut File,
        stamp: Option<FileStamp>,
        len: u64,
        range: Range<u64>,
        read_start: SystemTime,
    ) -> Result<(), Stop> {
        let mut check = Check::new(self.hash.clone(), len);
        // Before the range: hashed, not sent.
        let mut pos = self.hash_through(file, &mut check, Some(range.start))?;
        let mut held = None;
        while pos < range.end {
            let chunk = self.read_chunk(file, range.end - pos)?;
            if chunk.is_empty() {
                break; // shorter than it was at open; the verdict below says so
            }
            check.update(&chunk)?;
            pos += chunk.len() as u64;
            if pos >= range.end {
                held = Some(chunk);
            } else {
                self.send(chunk)?;
            }
        }
        // After the range: hashed to the very end (bytes beyond `len` are a mismatch too).
        self.hash_through(file, &mut check, None)?;
        check.finish()?;
        let stamp_after = FileStamp::of(&self.metadata(file)?);
        self.cache
            .remember(&self.hash, stamp, stamp_after, read_start);
        match held {
            Some(chunk) => self.send(chunk),
            None => Ok(()),
        }
    }

    /// Only `range` read, nothing hashed: the file was verified with this very stamp. The
    /// final chunk waits for proof that the file still has it.
    fn send_trusted(
        &self,
        file: &mut File,
        stamp: Option<FileStamp>,
        range: Range<u64>,
    ) -> Result<(), Stop> {
        let changed = || mismatch(&self.hash, "the file changed while being read".into());
        file.seek(SeekFrom::Start(range.start))
            .map_err(|e| self.read_failed(e))?;
        let mut pos = range.start;
        loop {
            let chunk = if pos < range.end {
                self.read_chunk(file, range.end - pos)?
            } else {
                Bytes::new()
            };
            pos += chunk.len() as u64;
            if pos >= range.end {
                if FileStamp::of(&self.metadata(file)?) != stamp {
                    return Err(changed().into());
                }
                return if chunk.is_empty() {
                    Ok(())
                } else {
                    self.send(chunk)
                };
            }
            if chunk.is_empty() {
                return Err(changed().into()); // shorter than its stamp says
            }
            self.send(chunk)?;
        }
    }

    /// Reads and hashes without sending, up to offset `until` or to end of file.
    fn hash_through(
        &self,
        file: &mut File,
        check: &mut Check,
        until: Option<u64>,
    ) -> Result<u64, DeliveryError> {
        let mut pos = file.stream_position().map_err(|e| self.read_failed(e))?;
        let mut buf = Vec::new();
        loop {
            let want = match until {
                Some(end) if pos >= end => return Ok(pos),
                Some(end) => (end - pos).min(READ_CHUNK as u64) as usize,
                // To the end: usually nothing is left, so start small.
                None => (buf.len().max(8 * 1024) * 2).min(READ_CHUNK),
            };
            if buf.len() < want {
                buf.resize(want, 0);
            }
            let n = file
                .read(&mut buf[..want])
                .map_err(|e| self.read_failed(e))?;
            if n == 0 {
                return Ok(pos);
            }
            check.update(&buf[..n])?;
            pos += n as u64;
        }
    }

    /// Up to `max` (capped at [`READ_CHUNK`]) bytes, fewer only at end of file, read straight
    /// into a recycled buffer that becomes the chunk.
    fn read_chunk(&self, file: &mut File, max: u64) -> Result<Bytes, DeliveryError> {
        let want = max.min(READ_CHUNK as u64) as usize;
        let mut buf = BUFFERS.take();
        let mut filled = 0;
        while filled < want {
            match file.read(&mut buf.space()[filled..want]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.read_failed(e)),
            }
        }
        Ok(buf.freeze(filled))
    }

    fn metadata(&self, file: &File) -> Result<std::fs::Metadata, DeliveryError> {
        file.metadata().map_err(|e| self.read_failed(e))
    }

    fn send(&self, chunk: Bytes) -> Result<(), Stop> {
        self.tx.blocking_send(Ok(chunk)).map_err(|_| Stop::Gone)
    }

    fn read_failed(&self, source: std::io::Error) -> DeliveryError {
        DeliveryError::ReadFailed {
            hash: self.hash.to_string(),
            source,
        }
    }
}

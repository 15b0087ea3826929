//! Content-addressed object storage for delivered files (and, with several nodes, jobs'
//! originals and processed PDFs, so that any node can fetch them): the [`Store`] trait, its two backends
//! (a local folder, any S3-compatible server) and the plain-data [`StoreSpec`] that picks one.
//!
//! Every object is keyed by the SHA-256 of its bytes, computed while the bytes stream in, so
//! the same stamped PDF stored twice is one object. Reads are verified: a [`ObjectBody`]
//! stream never yields its final chunk unless the whole object hashed to its key (see
//! [`verify`] for exactly what a range read guarantees). The filesystem backend may skip the
//! hashing for a file it verified before and that has not changed since in any way (same
//! inode, size, mtime and ctime; see [`verified`]), still checking before the final chunk
//! that it did not change during the read. Writes are atomic on both backends.
//!
//! Beside the objects, a store keeps *named* files ([`FileKey`]) that other systems look up by
//! name: preservation bags under `preservation/`. They are written atomically too, never
//! listed by [`Store::list`] and so never purged.
//!
//! This module knows nothing of links, requests, jobs or the database; purge decides *what* to
//! delete (only stamped copies), the store only lists and deletes.

mod buffers;
mod fs;
mod fs_read;
mod hash;
mod named;
mod s3;
mod verified;
mod verify;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use futures_util::stream::BoxStream;
use tokio::io::AsyncRead;

pub use fs::FsStore;
pub use hash::ContentHash;
pub use named::FileKey;
pub use s3::{S3Spec, S3Store};

use crate::DeliveryError;

/// The longest lifetime [`Store::presigned_get`] will sign: a presigned URL is a bearer
/// credential, so it must not outlive the click that produced it by much.
pub const MAX_PRESIGN_TTL: Duration = Duration::from_secs(60);

/// Size of the chunks objects are copied in when stored, and read from S3 (filesystem reads
/// use the larger [`fs_read::READ_CHUNK`]).
pub(crate) const CHUNK: usize = 128 * 1024;

/// The identity of a stored object: its content hash and its length.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub sha256: ContentHash,
    pub bytes: u64,
}

/// Which backend to open, as plain data; the binary maps its config onto this once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// Objects as files under `root` (created if missing).
    Filesystem { root: PathBuf },
    /// Objects in an S3 bucket (which must exist).
    S3(S3Spec),
}

/// Opens the backend `spec` names. Nothing is sent over the network yet; a wrong endpoint or
/// bucket shows up on the first operation.
pub fn open_store(spec: &StoreSpec) -> Result<Arc<dyn Store>, DeliveryError> {
    Ok(match spec {
        StoreSpec::Filesystem { root } => Arc::new(FsStore::open(root)?),
        StoreSpec::S3(s3) => Arc::new(S3Store::open(s3)?),
    })
}

/// A verified read of a whole object or of a byte range of it.
pub struct ObjectBody {
    /// The object read.
    pub key: ObjectKey,
    /// The bytes of the object this body yields (the whole object for [`Store::get`]).
    pub range: Range<u64>,
    stream: BoxStream<'static, Result<Bytes, DeliveryError>>,
}

impl ObjectBody {
    /// Number of bytes the stream yields, for Content-Length.
    pub fn len(&self) -> u64 {
        self.range.end - self.range.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The chunks; the last one is an error instead if verification failed.
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, DeliveryError>> {
        self.stream
    }

    /// Reads everything into memory (tests, small objects).
    pub async fn to_vec(self) -> Result<Vec<u8>, DeliveryError> {
        let mut out = Vec::with_capacity(self.len() as usize);
        let mut stream = self.stream;
        while let Some(chunk) = stream.try_next().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

impl fmt::Debug for ObjectBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectBody")
            .field("key", &self.key)
            .field("range", &self.range)
            .finish()
    }
}

/// A content-addressed object store.
///
/// Hashes are SHA-256 hex ([`ContentHash`]). All methods are safe to call concurrently.
#[async_trait::async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Stores everything `source` yields and returns its key. The hash is computed while
    /// streaming; the object becomes visible all at once or not at all. Storing bytes that are
    /// already stored leaves one object.
    async fn put(
        &self,
        source: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<ObjectKey, DeliveryError>;

    /// Stores the file at `path` (streamed, not loaded).
    async fn put_file(&self, path: &Path) -> Result<ObjectKey, DeliveryError> {
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| DeliveryError::store_io(path, e))?;
        self.put(&mut file).await
    }

    /// Stores bytes already in memory (a freshly stamped PDF).
    async fn put_bytes(&self, bytes: Bytes) -> Result<ObjectKey, DeliveryError> {
        self.put(&mut &bytes[..]).await
    }

    /// The whole object, verified against its hash as it streams (or, on the filesystem, known
    /// verified and proven unchanged before the last chunk).
    async fn get(&self, hash: &ContentHash) -> Result<ObjectBody, DeliveryError>;

    /// Bytes `range` of the object (for HTTP Range; `end` is exclusive, so `bytes=a-b` is
    /// `a..b + 1`). The whole object is still read and hashed; the range's last chunk is only
    /// yielded once the hash matched.
    async fn get_range(
        &self,
        hash: &ContentHash,
        range: Range<u64>,
    ) -> Result<ObjectBody, DeliveryError>;

    async fn exists(&self, hash: &ContentHash) -> Result<bool, DeliveryError>;

    /// Removes the object; `Ok(false)` if it was not there.
    async fn delete(&self, hash: &ContentHash) -> Result<bool, DeliveryError>;

    /// Every stored object (for purge). Objects still being written are never listed.
    async fn list(&self) -> Result<Vec<ObjectKey>, DeliveryError>;

    /// A URL a browser can fetch the object from directly for `ttl` (at most
    /// [`MAX_PRESIGN_TTL`]), served as an attachment named `file_name`. `None` when the
    /// backend has no such thing (the filesystem). The server behind the URL does not verify
    /// the hash; callers that need that guarantee stream through [`Store::get`] instead.
    async fn presigned_get(
        &self,
        hash: &ContentHash,
        ttl: Duration,
        file_name: &str,
    ) -> Result<Option<String>, DeliveryError>;

    /// Stores the file at `path` as the named file `key`, replacing one already there; returns
    /// its length. Readers see the old file or the new one, never part of one; the backend
    /// checks the bytes arrived whole (S3: the SHA-256 checksum header; filesystem: synced
    /// before the rename).
    async fn put_named(&self, key: &FileKey, path: &Path) -> Result<u64, DeliveryError>;

    /// Copies the named file `key` into a new file at `dest`; returns its length.
    /// [`DeliveryError::FileNotFound`] when there is none.
    async fn get_named(&self, key: &FileKey, dest: &Path) -> Result<u64, DeliveryError>;

    /// The named files under `prefix/`, with their lengths, in key order.
    async fn list_named(&self, prefix: &FileKey) -> Result<Vec<(FileKey, u64)>, DeliveryError>;

    /// Removes the named file; `Ok(false)` if it was not there.
    async fn delete_named(&self, key: &FileKey) -> Result<bool, DeliveryError>;
}

/// Copies `source` into a new file at `path` (which must not exist), hashing on the way;
/// `sync` makes the bytes durable before returning.
pub(crate) async fn copy_hashed(
    source: &mut (dyn AsyncRead + Send + Unpin),
    path: &Path,
    sync: bool,
) -> Result<ObjectKey, DeliveryError> {
    use sha2::{Digest, Sha256};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let io = |e| DeliveryError::store_io(path, e);
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(io)?;
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = source
            .read(&mut buf)
            .await
            .map_err(DeliveryError::SourceRead)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).await.map_err(io)?;
        bytes += n as u64;
    }
    file.flush().await.map_err(io)?;
    if sync {
        file.sync_all().await.map_err(io)?;
    }
    Ok(ObjectKey {
        sha256: ContentHash::from_digest(hasher.finalize().into()),
        bytes,
    })
}

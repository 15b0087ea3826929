//! The filesystem backend: `root/objects/<first two hex digits>/<hash>`, written through
//! `root/tmp/` and renamed into place.
//!
//! Atomicity comes from the rename: a temp file is written and fsynced in `root/tmp/` (same
//! file system as `root/objects/`), then renamed over its final name and the folder fsynced,
//! so a reader or [`list`](super::Store::list) sees the whole object or nothing. Storing an
//! object that exists renames over it with identical bytes, which also repairs a corrupted
//! copy. Temp files left by a crash are never listed; [`FsStore::sweep_temp`] removes them.
//!
//! Reads go through [`super::fs_read`] (a blocking read-and-hash loop on its own thread), and
//! remember in a [`VerifiedCache`] which unchanged files already hashed correctly, so a file
//! downloaded again is not re-hashed until it changes in any way (see [`super::verified`]).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncRead;

use super::fs_read::read_object;
use super::verified::VerifiedCache;
use super::{ContentHash, FileKey, ObjectBody, ObjectKey, Store};
use crate::DeliveryError;

#[derive(Debug, Clone)]
pub struct FsStore {
    /// Named files live under it by their key ([`FileKey`]).
    root: PathBuf,
    objects: PathBuf,
    tmp: PathBuf,
    /// Shared by clones: they read the same files.
    verified: Arc<VerifiedCache>,
}

impl FsStore {
    /// Opens (creating if needed) the store under `root`.
    pub fn open(root: &Path) -> Result<Self, DeliveryError> {
        let store = Self {
            root: root.to_owned(),
            objects: root.join("objects"),
            tmp: root.join("tmp"),
            verified: Arc::new(VerifiedCache::default()),
        };
        for dir in [&store.objects, &store.tmp] {
            std::fs::create_dir_all(dir).map_err(|e| DeliveryError::store_io(dir, e))?;
        }
        Ok(store)
    }

    /// The same store with another settle time for the verified-file memory (tests: files
    /// they just wrote become trustworthy sooner).
    #[cfg(test)]
    pub(crate) fn with_verify_settle(mut self, settle: Duration) -> Self {
        self.verified = Arc::new(self.verified.with_settle(settle));
        self
    }

    /// Where the object with `hash` lives (tests corrupt it there).
    pub fn object_path(&self, hash: &ContentHash) -> PathBuf {
        self.objects.join(&hash.as_str()[..2]).join(hash.as_str())
    }

    /// Deletes temp files older than `older_than` (left by a crash mid-write); returns how
    /// many. Younger ones may belong to a write in progress and are left alone.
    pub async fn sweep_temp(&self, older_than: Duration) -> Result<usize, DeliveryError> {
        let io = |e| DeliveryError::store_io(&self.tmp, e);
        let mut removed = 0;
        let mut entries = tokio::fs::read_dir(&self.tmp).await.map_err(io)?;
        while let Some(entry) = entries.next_entry().await.map_err(io)? {
            let meta = entry.metadata().await.map_err(io)?;
            let age = meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .unwrap_or_default();
            if meta.is_file() && age >= older_than {
                tokio::fs::remove_file(entry.path())
                    .await
                    .map_err(|e| DeliveryError::store_io(entry.path(), e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Where the named file `key` lives.
    pub fn named_path(&self, key: &FileKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    async fn write_temp(
        &self,
        source: &mut (dyn AsyncRead + Send + Unpin),
        tmp: &Path,
    ) -> Result<ObjectKey, DeliveryError> {
        // Synced before the rename makes it visible, so a crash never leaves a torn object.
        super::copy_hashed(source, tmp, true).await
    }
}

/// Renames the synced temp file `tmp` to `target`, making its folder first, and makes the
/// rename durable: it is only on disk once the folder entry is.
async fn place(tmp: &Path, target: &Path) -> Result<(), DeliveryError> {
    let dir = target.parent().expect("store paths have a parent");
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| DeliveryError::store_io(dir, e))?;
    tokio::fs::rename(tmp, target)
        .await
        .map_err(|e| DeliveryError::store_io(target, e))?;
    tokio::fs::File::open(dir)
        .await
        .map_err(|e| DeliveryError::store_io(dir, e))?
        .sync_all()
        .await
        .map_err(|e| DeliveryError::store_io(dir, e))
}

#[async_trait::async_trait]
impl Store for FsStore {
    async fn put(
        &self,
        source: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<ObjectKey, DeliveryError> {
        let tmp = self
            .tmp
            .join(format!("{}.part", crate::token::random_hex(16)?));
        let key = match self.write_temp(source, &tmp).await {
            Ok(key) => key,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        let placed = place(&tmp, &self.object_path(&key.sha256)).await;
        if let Err(e) = placed {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        Ok(key)
    }

    async fn get(&self, hash: &ContentHash) -> Result<ObjectBody, DeliveryError> {
        read_object(
            self.object_path(hash),
            hash.clone(),
            None,
            self.verified.clone(),
        )
        .await
    }

    async fn get_range(
        &self,
        hash: &ContentHash,
        range: Range<u64>,
    ) -> Result<ObjectBody, DeliveryError> {
        read_object(
            self.object_path(hash),
            hash.clone(),
            Some(range),
            self.verified.clone(),
        )
        .await
    }

    async fn exists(&self, hash: &ContentHash) -> Result<bool, DeliveryError> {
        let path = self.object_path(hash);
        tokio::fs::try_exists(&path)
            .await
            .map_err(|e| DeliveryError::store_io(&path, e))
    }

    async fn delete(&self, hash: &ContentHash) -> Result<bool, DeliveryError> {
        let path = self.object_path(hash);
        self.verified.forget(hash);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(DeliveryError::store_io(&path, e)),
        }
    }

    async fn list(&self) -> Result<Vec<ObjectKey>, DeliveryError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |e| DeliveryError::store_io(path, e)
        };
        let mut keys = Vec::new();
        let mut shards = tokio::fs::read_dir(&self.objects)
            .await
            .map_err(io(&self.objects))?;
        while let Some(shard) = shards.next_entry().await.map_err(io(&self.objects))? {
            if !shard.file_type().await.map_err(io(&shard.path()))?.is_dir() {
                continue;
            }
            let mut entries = tokio::fs::read_dir(shard.path())
                .await
                .map_err(io(&shard.path()))?;
            while let Some(entry) = entries.next_entry().await.map_err(io(&shard.path()))? {
                // Anything not named like an object (an editor's backup, say) is not ours.
                let Some(hash) = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| ContentHash::parse(n).ok())
                else {
                    continue;
                };
                let meta = entry.metadata().await.map_err(io(&entry.path()))?;
                if meta.is_file() {
                    keys.push(ObjectKey {
                        sha256: hash,
                        bytes: meta.len(),
                    });
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn presigned_get(
        &self,
        _: &ContentHash,
        _: Duration,
        _: &str,
    ) -> Result<Option<String>, DeliveryError> {
        Ok(None)
    }

    async fn put_named(&self, key: &FileKey, path: &Path) -> Result<u64, DeliveryError> {
        let tmp = self
            .tmp
            .join(format!("{}.part", crate::token::random_hex(16)?));
        let placed = async {
            let mut source = tokio::fs::File::open(path)
                .await
                .map_err(|e| DeliveryError::store_io(path, e))?;
            let written = self.write_temp(&mut source, &tmp).await?;
            place(&tmp, &self.named_path(key)).await?;
            Ok(written.bytes)
        }
        .await;
        if placed.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        placed
    }

    async fn get_named(&self, key: &FileKey, dest: &Path) -> Result<u64, DeliveryError> {
        let path = self.named_path(key);
        match tokio::fs::copy(&path, dest).await {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !path.exists() => {
                Err(DeliveryError::FileNotFound {
                    key: key.to_string(),
                })
            }
            Err(e) => Err(DeliveryError::store_io(&path, e)),
        }
    }

    async fn list_named(&self, prefix: &FileKey) -> Result<Vec<(FileKey, u64)>, DeliveryError> {
        let mut out = Vec::new();
        let mut folders = vec![(self.named_path(prefix), prefix.clone())];
        while let Some((dir, key)) = folders.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(DeliveryError::store_io(&dir, e)),
            };
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(|e| DeliveryError::store_io(&dir, e))?
            {
                // A name no key can have (not UTF-8, say) was not put here by the store.
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let Ok(child) = key.join(&name) else {
                    continue;
                };
                let meta = entry
                    .metadata()
                    .await
                    .map_err(|e| DeliveryError::store_io(entry.path(), e))?;
                if meta.is_dir() {
                    folders.push((entry.path(), child));
                } else if meta.is_file() {
                    out.push((child, meta.len()));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    async fn delete_named(&self, key: &FileKey) -> Result<bool, DeliveryError> {
        let path = self.named_path(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {
                // Empty folders left behind go too, up to (not including) the store's root;
                // the first that is not empty stops it.
                let mut dir = path.parent();
                while let Some(d) = dir.filter(|d| *d != self.root) {
                    if tokio::fs::remove_dir(d).await.is_err() {
                        break;
                    }
                    dir = d.parent();
                }
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(DeliveryError::store_io(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sweep_removes_only_old_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let key = store
            .put_bytes(bytes::Bytes::from_static(b"kept"))
            .await
            .unwrap();
        std::fs::write(dir.path().join("tmp/crashed.part"), b"half").unwrap();
        assert_eq!(
            store.sweep_temp(Duration::from_secs(3600)).await.unwrap(),
            0
        );
        assert_eq!(store.sweep_temp(Duration::ZERO).await.unwrap(), 1);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        assert!(store.exists(&key.sha256).await.unwrap());
        // A stray file among the objects is not mistaken for one.
        std::fs::write(dir.path().join("objects/notes.txt"), b"x").unwrap();
        assert_eq!(store.list().await.unwrap(), vec![key]);
    }

    use futures_util::TryStreamExt;
    use std::io::{Seek, SeekFrom, Write};

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    /// A store whose files become trustworthy 50 ms after their last change, holding `bytes`
    /// already verified once (so the next read is a trusted one).
    async fn verified_once(bytes: &[u8]) -> (tempfile::TempDir, FsStore, ContentHash) {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path())
            .unwrap()
            .with_verify_settle(Duration::from_millis(50));
        let key = store.put(&mut &bytes[..]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let body = store
            .get(&key.sha256)
            .await
            .unwrap()
            .to_vec()
            .await
            .unwrap();
        assert!(body == bytes);
        assert_eq!(store.verified.trusted_reads(), 0);
        (dir, store, key.sha256)
    }

    /// Flips the last byte of `path` in place (same inode, same length).
    fn flip_last_byte(path: &Path) {
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        let last = std::fs::read(path).unwrap().last().copied().unwrap();
        f.seek(SeekFrom::End(-1)).unwrap();
        f.write_all(&[last ^ 1]).unwrap();
    }

    /// Drains `stream`; the error it ends in and how many bytes came before it.
    async fn drain_to_error(body: ObjectBody) -> (DeliveryError, usize) {
        let mut stream = body.into_stream();
        let mut served = 0;
        loop {
            match stream.try_next().await {
                Ok(Some(chunk)) => served += chunk.len(),
                Ok(None) => panic!("a changed object was served to the end ({served} bytes)"),
                Err(e) => return (e, served),
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unchanged_files_are_trusted_changed_ones_verified_again() {
        let bytes = data(3 * super::super::fs_read::READ_CHUNK + 12_345);
        let (_dir, store, hash) = verified_once(&bytes).await;
        // Trusted: same bytes, whole and ranged, without hashing.
        assert!(store.get(&hash).await.unwrap().to_vec().await.unwrap() == bytes);
        for r in [
            0..1u64,
            1_000_000..2_100_000,
            3_000_000..bytes.len() as u64,
            5..5,
        ] {
            let got = store.get_range(&hash, r.clone()).await.unwrap();
            assert!(got.to_vec().await.unwrap() == bytes[r.start as usize..r.end as usize]);
        }
        assert_eq!(store.verified.trusted_reads(), 5);

        // One byte changed in place: the stamp no longer matches, so it is hashed and refused.
        tokio::time::sleep(Duration::from_millis(20)).await;
        flip_last_byte(&store.object_path(&hash));
        let (err, served) = drain_to_error(store.get(&hash).await.unwrap()).await;
        assert_eq!(err.code(), "delivery.store.hash_mismatch", "{err}");
        assert!(served < bytes.len());
        let err = store.get_range(&hash, 10..20).await.unwrap().to_vec().await;
        assert_eq!(err.unwrap_err().code(), "delivery.store.hash_mismatch");
        assert_eq!(store.verified.trusted_reads(), 5);

        // Repaired by storing the bytes again (a new file): verified, then trusted again.
        store.put(&mut &bytes[..]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        for expected_trusted in [5, 6] {
            assert!(store.get(&hash).await.unwrap().to_vec().await.unwrap() == bytes);
            assert_eq!(store.verified.trusted_reads(), expected_trusted);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_changed_during_a_trusted_read_is_cut_short() {
        let bytes = data(8 * super::super::fs_read::READ_CHUNK);
        for range in [None, Some(100..bytes.len() as u64 - 100)] {
            let (_dir, store, hash) = verified_once(&bytes).await;
            let body = match &range {
                None => store.get(&hash).await.unwrap(),
                Some(r) => store.get_range(&hash, r.clone()).await.unwrap(),
            };
            assert_eq!(store.verified.trusted_reads(), 1);
            let mut stream = body.into_stream();
            let first = stream.try_next().await.unwrap().unwrap();
            // The reader is at most a few chunks ahead (the queue is bounded), far from the end.
            tokio::time::sleep(Duration::from_millis(20)).await;
            flip_last_byte(&store.object_path(&hash));
            let mut served = first.len();
            let err = loop {
                match stream.try_next().await {
                    Ok(Some(chunk)) => served += chunk.len(),
                    Ok(None) => panic!("{range:?}: the changed file was served to the end"),
                    Err(e) => break e,
                }
            };
            assert_eq!(err.code(), "delivery.store.hash_mismatch", "{err}");
            assert!(served < bytes.len() - 200, "{range:?}: served {served}");
            // Forgotten: the next read hashes the file and refuses it.
            let (err, _) = drain_to_error(store.get(&hash).await.unwrap()).await;
            assert_eq!(err.code(), "delivery.store.hash_mismatch", "{err}");
            assert_eq!(store.verified.trusted_reads(), 1);
        }
    }

    #[tokio::test]
    async fn files_changed_within_the_settle_time_are_not_trusted_later() {
        // A file whose last change is younger than the settle time is verified on every read
        // (an hour here, so that a slow machine cannot make the test pass by waiting).
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path())
            .unwrap()
            .with_verify_settle(Duration::from_secs(3600));
        let bytes = data(300_000);
        let key = store.put(&mut &bytes[..]).await.unwrap();
        for _ in 0..3 {
            assert!(
                store
                    .get(&key.sha256)
                    .await
                    .unwrap()
                    .to_vec()
                    .await
                    .unwrap()
                    == bytes
            );
        }
        assert_eq!(store.verified.trusted_reads(), 0);
    }
}

//! The filesystem backend: `root/objects/<first two hex digits>/<hash>`, written through
//! `root/tmp/` and renamed into place.
//!
//! Atomicity comes from the rename: a temp file is written and fsynced in `root/tmp/` (same
//! file system as `root/objects/`), then renamed over its final name and the folder fsynced,
//! so a reader or [`list`](super::Store::list) sees the whole object or nothing. Storing an
//! object that exists renames over it with identical bytes, which also repairs a corrupted
//! copy. Temp files left by a crash are never listed; [`FsStore::sweep_temp`] removes them.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncRead;

use super::verify::{RawObject, verified_body};
use super::{ContentHash, ObjectBody, ObjectKey, Store};
use crate::DeliveryError;

#[derive(Debug, Clone)]
pub struct FsStore {
    objects: PathBuf,
    tmp: PathBuf,
}

impl FsStore {
    /// Opens (creating if needed) the store under `root`.
    pub fn open(root: &Path) -> Result<Self, DeliveryError> {
        let store = Self {
            objects: root.join("objects"),
            tmp: root.join("tmp"),
        };
        for dir in [&store.objects, &store.tmp] {
            std::fs::create_dir_all(dir).map_err(|e| DeliveryError::store_io(dir, e))?;
        }
        Ok(store)
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

    async fn write_temp(
        &self,
        source: &mut (dyn AsyncRead + Send + Unpin),
        tmp: &Path,
    ) -> Result<ObjectKey, DeliveryError> {
        // Synced before the rename makes it visible, so a crash never leaves a torn object.
        super::copy_hashed(source, tmp, true).await
    }

    async fn open_raw(&self, hash: &ContentHash) -> Result<RawObject, DeliveryError> {
        let path = self.object_path(hash);
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DeliveryError::NotFound {
                    hash: hash.to_string(),
                });
            }
            Err(e) => return Err(DeliveryError::store_io(&path, e)),
        };
        let len = file
            .metadata()
            .await
            .map_err(|e| DeliveryError::store_io(&path, e))?
            .len();
        Ok(RawObject {
            len,
            reader: Box::new(file),
        })
    }
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
        let target = self.object_path(&key.sha256);
        let dir = target
            .parent()
            .expect("object paths have a parent")
            .to_owned();
        let placed = async {
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(|e| DeliveryError::store_io(&dir, e))?;
            tokio::fs::rename(&tmp, &target)
                .await
                .map_err(|e| DeliveryError::store_io(&target, e))?;
            // The rename is only durable once the folder entry is on disk.
            let dir_handle = tokio::fs::File::open(&dir)
                .await
                .map_err(|e| DeliveryError::store_io(&dir, e))?;
            dir_handle
                .sync_all()
                .await
                .map_err(|e| DeliveryError::store_io(&dir, e))
        }
        .await;
        if let Err(e) = placed {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        Ok(key)
    }

    async fn get(&self, hash: &ContentHash) -> Result<ObjectBody, DeliveryError> {
        verified_body(hash.clone(), self.open_raw(hash).await?, None)
    }

    async fn get_range(
        &self,
        hash: &ContentHash,
        range: Range<u64>,
    ) -> Result<ObjectBody, DeliveryError> {
        verified_body(hash.clone(), self.open_raw(hash).await?, Some(range))
    }

    async fn exists(&self, hash: &ContentHash) -> Result<bool, DeliveryError> {
        let path = self.object_path(hash);
        tokio::fs::try_exists(&path)
            .await
            .map_err(|e| DeliveryError::store_io(&path, e))
    }

    async fn delete(&self, hash: &ContentHash) -> Result<bool, DeliveryError> {
        let path = self.object_path(hash);
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
}

//! The filesystem backend's memory of which object files it has already verified, so that an
//! unchanged file is not re-hashed on every download.
//!
//! An entry says: "the file of object H, as identified by this [`FileStamp`] (device, inode,
//! size, modification and status-change times), hashed to H". A later read trusts the file
//! without hashing only if its stamp is identical. Any write to a file, a truncation, a
//! `chmod`, or replacing it by rename changes its ctime (which user space cannot set back) or
//! its inode, so the stamp no longer matches and the next read hashes everything again.
//!
//! Three details keep that sound:
//! - **Racy stamps.** File times have a coarse granularity (a kernel tick; a whole second on
//!   some file systems), so a write landing in the same tick as the previous change would
//!   leave the stamp as it was. A verification is therefore only remembered if the file's
//!   ctime is older than the start of the read by at least `settle` (default 2 s): every write
//!   after the read started then gets a later ctime than the one remembered. (Git's "racily
//!   clean" index entries are the same problem.)
//! - **Changes during a read.** The reader takes the stamp from the open handle before reading
//!   and again after the last byte, and remembers nothing if they differ; a trusted read does
//!   the same check before releasing its final chunk (see [`super::fs_read`]).
//! - **Bit rot.** Media errors do not touch metadata, so entries expire after `max_age`
//!   (default 15 minutes): every object is still re-hashed at least that often when read.
//!
//! The memory is bounded (`capacity` entries, default 4096; the oldest verification is
//! forgotten first) and lives in the process only: a restart verifies everything again.

use std::collections::HashMap;
use std::fs::Metadata;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::ContentHash;

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    /// The stamp of an open file's metadata (take it with `File::metadata`, i.e. fstat on the
    /// handle being read, not a stat of the path, which may name another file by then).
    /// `None` where the platform has no ctime: then nothing is ever trusted.
    #[cfg(unix)]
    pub fn of(meta: &Metadata) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        Some(Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        })
    }

    #[cfg(not(unix))]
    pub fn of(_: &Metadata) -> Option<Self> {
        None
    }

    /// Whether the last change to the file was at least `settle` before `read_start`.
    fn settled(&self, read_start: SystemTime, settle: Duration) -> bool {
        let (secs, nanos) = self.ctime;
        let Ok(secs) = u64::try_from(secs) else {
            return false;
        };
        let ctime =
            SystemTime::UNIX_EPOCH + Duration::new(secs, nanos.clamp(0, 999_999_999) as u32);
        ctime + settle <= read_start
    }
}

#[derive(Debug)]
pub(crate) struct VerifiedCache {
    entries: Mutex<HashMap<ContentHash, Entry>>,
    capacity: usize,
    settle: Duration,
    max_age: Duration,
    /// How many reads were trusted without hashing (tests and diagnostics).
    trusted: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    stamp: FileStamp,
    verified_at: Instant,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        Self::new(4096, Duration::from_secs(2), Duration::from_secs(15 * 60))
    }
}

impl VerifiedCache {
    pub fn new(capacity: usize, settle: Duration, max_age: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
            settle,
            max_age,
            trusted: AtomicU64::new(0),
        }
    }

    /// The same limits with another settle time (tests use a short one).
    #[cfg(test)]
    pub fn with_settle(&self, settle: Duration) -> Self {
        Self::new(self.capacity, settle, self.max_age)
    }

    /// Whether the file of `hash` with `stamp` was verified recently enough to be trusted.
    pub fn is_verified(&self, hash: &ContentHash, stamp: Option<FileStamp>) -> bool {
        let Some(stamp) = stamp else {
            return false;
        };
        let trusted = self
            .lock()
            .get(hash)
            .is_some_and(|e| e.stamp == stamp && e.verified_at.elapsed() < self.max_age);
        if trusted {
            self.trusted.fetch_add(1, Ordering::Relaxed);
        }
        trusted
    }

    #[cfg(test)]
    pub fn trusted_reads(&self) -> u64 {
        self.trusted.load(Ordering::Relaxed)
    }

    /// Remembers that the file of `hash` hashed correctly while it had `stamp` from before
    /// the read (started at `read_start`) until after its last byte (`stamp_after`).
    /// Returns whether it was remembered.
    pub fn remember(
        &self,
        hash: &ContentHash,
        stamp: Option<FileStamp>,
        stamp_after: Option<FileStamp>,
        read_start: SystemTime,
    ) -> bool {
        let Some(stamp) = stamp else {
            return false;
        };
        if stamp_after != Some(stamp)
            || !stamp.settled(read_start, self.settle)
            || self.capacity == 0
        {
            return false;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(hash) {
            entries.retain(|_, e| e.verified_at.elapsed() < self.max_age);
            if entries.len() >= self.capacity {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, e)| e.verified_at)
                    .map(|(h, _)| h.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(
            hash.clone(),
            Entry {
                stamp,
                verified_at: Instant::now(),
            },
        );
        true
    }

    /// Drops what is known about `hash` (the object was deleted or failed a check).
    pub fn forget(&self, hash: &ContentHash) {
        self.lock().remove(hash);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ContentHash, Entry>> {
        // The map is only ever replaced entry by entry; a panic elsewhere cannot tear it.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn stamp_of(path: &std::path::Path) -> Option<FileStamp> {
        FileStamp::of(&std::fs::File::open(path).unwrap().metadata().unwrap())
    }

    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(10)
    }

    #[test]
    fn any_change_to_the_file_invalidates_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("obj");
        std::fs::write(&path, b"abc").unwrap();
        let hash = ContentHash::of(b"abc");
        let cache = VerifiedCache::default();
        let s = stamp_of(&path);
        assert!(!cache.is_verified(&hash, s));
        assert!(cache.remember(&hash, s, s, later()));
        assert!(cache.is_verified(&hash, s));
        assert!(!cache.is_verified(&ContentHash::of(b"other"), s));

        // Rewritten in place with the same length: new ctime (and mtime).
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, b"abd").unwrap();
        assert_ne!(stamp_of(&path), s);
        assert!(!cache.is_verified(&hash, stamp_of(&path)));

        // Metadata alone (a chmod) also counts as a change.
        let s = stamp_of(&path);
        assert!(cache.remember(&hash, s, s, later()));
        std::thread::sleep(Duration::from_millis(20));
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(&path, perms).unwrap();
        assert!(!cache.is_verified(&hash, stamp_of(&path)));

        // Replaced by another file (another inode) through a rename.
        let s = stamp_of(&path);
        assert!(cache.remember(&hash, s, s, later()));
        let other = dir.path().join("new");
        std::fs::write(&other, b"abc").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(!cache.is_verified(&hash, stamp_of(&path)));

        let s = stamp_of(&path);
        assert!(cache.remember(&hash, s, s, later()));
        cache.forget(&hash);
        assert!(!cache.is_verified(&hash, s));
    }

    #[test]
    fn racy_or_changing_files_are_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("obj");
        std::fs::write(&path, b"abc").unwrap();
        let hash = ContentHash::of(b"abc");
        let cache = VerifiedCache::default();
        let s = stamp_of(&path);
        // Changed within the settle time before the read started: its ctime proves nothing.
        assert!(!cache.remember(&hash, s, s, SystemTime::now()));
        // Changed during the read.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, b"abc").unwrap();
        assert!(!cache.remember(&hash, s, stamp_of(&path), later()));
        assert!(!cache.remember(&hash, None, None, later()));
        assert!(!cache.is_verified(&hash, s));
        // With a zero settle time the same read is remembered.
        let quick = cache.with_settle(Duration::ZERO);
        assert!(quick.remember(&hash, s, s, later()));
        assert!(quick.is_verified(&hash, s));
    }

    #[test]
    fn bounded_and_expiring() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("obj");
        std::fs::write(&path, b"x").unwrap();
        let s = stamp_of(&path);
        let cache = VerifiedCache::new(3, Duration::ZERO, Duration::from_secs(60));
        let hashes: Vec<_> = (0..5u8).map(|i| ContentHash::of(&[i])).collect();
        for h in &hashes {
            assert!(cache.remember(h, s, s, later()));
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(cache.len(), 3);
        // The two oldest verifications were forgotten first.
        assert!(!cache.is_verified(&hashes[0], s));
        assert!(!cache.is_verified(&hashes[1], s));
        assert!(hashes[2..].iter().all(|h| cache.is_verified(h, s)));

        let expiring = VerifiedCache::new(3, Duration::ZERO, Duration::from_millis(30));
        assert!(expiring.remember(&hashes[0], s, s, later()));
        assert!(expiring.is_verified(&hashes[0], s));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!expiring.is_verified(&hashes[0], s));
    }
}

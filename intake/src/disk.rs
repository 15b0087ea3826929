//! The data disk's floor: below `[intake] min_free_mb` free under the spool or the database,
//! intake stops taking scans (they wait in the inbox, untouched) and workers stop starting
//! jobs, until space returns. A scan taken onto a full disk could be half-copied, processed
//! into a truncated PDF, or recorded by a database that cannot write; waiting loses nothing.

use std::fmt;
use std::path::{Path, PathBuf};

/// Free space under one folder fell below the floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskLow {
    pub path: PathBuf,
    pub free_mb: u64,
    pub floor_mb: u64,
}

impl fmt::Display for DiskLow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "disk full: {} MB free under {} (intake needs at least {} MB, [intake] min_free_mb); \
             scans wait in the inbox until space returns",
            self.free_mb,
            self.path.display(),
            self.floor_mb
        )
    }
}

/// The folders whose file systems Quire writes scans and state to, and the floor.
#[derive(Debug, Clone)]
pub struct DiskFloor {
    folders: Vec<PathBuf>,
    floor_mb: u64,
}

impl DiskFloor {
    pub fn new(folders: Vec<PathBuf>, floor_mb: u64) -> Self {
        Self { folders, floor_mb }
    }

    /// The first folder below the floor, if any. A folder whose free space cannot be read
    /// (gone, or not yet created) is not held against intake: taking a scan will then fail
    /// with its own error, and the scan stays in the inbox.
    pub fn check(&self) -> Option<DiskLow> {
        self.folders.iter().find_map(|dir| {
            let free = free_bytes(dir).ok()?;
            let free_mb = free / (1024 * 1024);
            (free_mb < self.floor_mb).then(|| DiskLow {
                path: dir.clone(),
                free_mb,
                floor_mb: self.floor_mb,
            })
        })
    }
}

/// Bytes available to an unprivileged writer on the file system holding `dir` (statvfs).
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("path holds a NUL byte"))?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated string and `stat` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut stat) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// Whether `error` (anywhere in its chain) is the disk or quota running out: such a failure
/// says nothing about the scan, so the scan must not be refused for it.
pub fn is_storage_full(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(error);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        {
            return true;
        }
        cur = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_floor_above_the_free_space_reports_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).unwrap() / (1024 * 1024);
        assert!(DiskFloor::new(vec![dir.path().into()], 0).check().is_none());
        let low = DiskFloor::new(vec![dir.path().into()], free + 1_000_000)
            .check()
            .expect("below the floor");
        assert_eq!(low.path, dir.path());
        assert!(low.to_string().starts_with("disk full: "), "{low}");
        assert!(
            DiskFloor::new(vec!["/no/such/folder".into()], u64::MAX)
                .check()
                .is_none()
        );
    }

    #[test]
    fn storage_full_is_found_inside_wrapped_errors() {
        let full = std::io::Error::from_raw_os_error(28);
        let wrapped = anyhow::Error::new(full).context("writing the report");
        assert!(is_storage_full(wrapped.as_ref()));
        let other = anyhow::Error::new(std::io::Error::other("nope"));
        assert!(!is_storage_full(other.as_ref()));
    }
}

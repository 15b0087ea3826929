//! Looking at the real filesystem for the settle rules: a file's kind, size and mtime without
//! following symlinks, and the files of a request folder.

use std::path::{Path, PathBuf};

use super::IntakeError;
use super::settle::{FileKind, Look};
use super::temp_name::is_temporary;

/// One look at `path`, not following a symlink (a link is reported as [`FileKind::Symlink`]).
pub fn look(path: &Path) -> Result<Look, IntakeError> {
    let meta = std::fs::symlink_metadata(path).map_err(|source| IntakeError::Look {
        path: path.to_owned(),
        source,
    })?;
    let file_type = meta.file_type();
    let kind = if file_type.is_symlink() {
        FileKind::Symlink
    } else if file_type.is_file() {
        FileKind::Regular
    } else if file_type.is_dir() {
        FileKind::Directory
    } else {
        FileKind::Other
    };
    let mtime = meta.modified().map_err(|source| IntakeError::Look {
        path: path.to_owned(),
        source,
    })?;
    Ok(Look {
        kind,
        size: meta.len(),
        mtime,
    })
}

/// The files of a request folder and a look at each, sorted by name, leaving out temporary
/// names and descending into subfolders. A file that vanishes between listing and look is
/// left out: the next listing will show the folder as changed.
pub fn look_folder(folder: &Path) -> Result<Vec<(PathBuf, Look)>, IntakeError> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_owned()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| IntakeError::Look {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| IntakeError::Look {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            if is_temporary(&path, folder) {
                continue;
            }
            match look(&path) {
                Ok(l) if l.kind == FileKind::Directory => pending.push(path),
                Ok(l) => found.push((path, l)),
                Err(IntakeError::Look { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

//! Where a job's files are, named once. A job's folder in the spool holds its original(s), the
//! processed PDF and the processing report; what intake refuses, and a job that fails, moves
//! to the quarantine folder, beside a note saying why. Paths only: no I/O here.

use std::path::{Path, PathBuf};

use crate::Job;

/// The processed, unstamped PDF in a job's folder.
pub const OUTPUT_NAME: &str = "quire-output.pdf";
/// The processing report (JSON) in a job's folder.
pub const REPORT_NAME: &str = "quire-report.json";

/// Inside a batch's folder: one folder per document cut from it.
pub const SPLIT_DIR: &str = "quire-split";

/// Whether a file in a job's folder is one of the job's originals: not hidden, and not one of
/// Quire's own files (their names all start with `quire-`).
pub fn is_original(file_name: &str) -> bool {
    !file_name.starts_with('.') && !file_name.starts_with("quire-")
}

/// The folder of the `nth` document (from 1) cut from the batch whose folder is `dir`.
pub fn document_in(dir: &Path, nth: usize) -> PathBuf {
    dir.join(SPLIT_DIR).join(nth.to_string())
}

/// The processed PDF in the job folder `dir`.
pub fn output_in(dir: &Path) -> PathBuf {
    dir.join(OUTPUT_NAME)
}

/// The processing report in the job folder `dir`.
pub fn report_in(dir: &Path) -> PathBuf {
    dir.join(REPORT_NAME)
}

impl Job {
    /// The job's own folder in the spool, as recorded by the node that made it; readers on
    /// any node go through `quire_service::job_files`, which uses this for local custody.
    pub fn folder(&self) -> &Path {
        Path::new(&self.spool_path)
    }

    /// The job's processed PDF, once it has one.
    pub fn output(&self) -> PathBuf {
        output_in(self.folder())
    }
}

/// The quarantine folder: what could not be taken or processed, each kept whole with a note.
#[derive(Debug, Clone)]
pub struct Quarantine {
    dir: PathBuf,
}

impl Quarantine {
    pub fn new(dir: impl Into<PathBuf>) -> Quarantine {
        Quarantine { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the entry or job `id` is kept.
    pub fn folder(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// The note beside it saying why (`<id>.error.txt`).
    pub fn note(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.error.txt"))
    }
}

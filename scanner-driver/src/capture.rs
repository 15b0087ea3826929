//! One capture from start to finish: the TIFF is written under a temporary dot-name in the
//! inbox and, when the batch completes, linked to its final name in one atomic step, so the
//! intake daemon never sees half a file. On a fault the pages so far are moved to a partial file
//! outside the inbox, whose name says it is incomplete.

// A failure carries the error, the counts and the partial path together on purpose; it is
// returned once per capture, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::path::{Path, PathBuf};

use crate::batch::{self, BatchPlan, BatchReport, BlankTest, PageEvent};
use crate::device::Device;
use crate::error::ScanError;
use crate::tiff_out::TiffBatch;

/// Where a capture lands.
#[derive(Debug, Clone)]
pub struct Landing {
    /// The watched folder; the finished scan appears here as `<stem>.tif`.
    pub inbox: PathBuf,
    /// Outside the inbox: pages kept from a failed batch, as `<stem>.partial.tif`.
    pub partial_dir: PathBuf,
    /// File name without extension: the request id, or a timestamped name.
    pub stem: String,
}

impl Landing {
    pub fn final_path(&self) -> PathBuf {
        self.inbox.join(format!("{}.tif", self.stem))
    }

    /// A dot-file ending in `.part`: the intake daemon ignores both.
    pub fn temp_path(&self) -> PathBuf {
        self.inbox.join(format!(".{}.tif.part", self.stem))
    }

    pub fn partial_path(&self) -> PathBuf {
        self.partial_dir.join(format!("{}.partial.tif", self.stem))
    }
}

#[derive(Debug)]
pub struct Captured {
    pub path: PathBuf,
    pub report: BatchReport,
}

/// A failed capture: why, how far it got, and where the pages read so far were kept.
#[derive(Debug)]
pub struct CaptureFailure {
    pub error: ScanError,
    pub report: BatchReport,
    pub partial: Option<PathBuf>,
}

impl fmt::Display for CaptureFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        match &self.partial {
            Some(p) => write!(
                f,
                "\nthe {} page(s) scanned before the fault are kept in {} (not sent for processing)",
                self.report.kept,
                p.display()
            ),
            None if self.report.scanned > 0 => write!(f, "\nno pages were kept"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for CaptureFailure {}

/// Scans a batch from an already configured device into `landing`.
pub fn capture(
    device: &mut Device<'_>,
    plan: &BatchPlan,
    landing: &Landing,
    blank: Option<BlankTest<'_>>,
    progress: &mut dyn FnMut(&PageEvent),
) -> Result<Captured, CaptureFailure> {
    let early = |error| CaptureFailure {
        error,
        report: BatchReport::default(),
        partial: None,
    };
    let final_path = landing.final_path();
    let temp = landing.temp_path();
    for dir in [&landing.inbox, &landing.partial_dir] {
        std::fs::create_dir_all(dir)
            .map_err(ScanError::output(dir, "create folder"))
            .map_err(early)?;
    }
    if final_path.exists() {
        let source = std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "a scan with this name is already waiting in the inbox",
        );
        return Err(early(ScanError::Output {
            path: final_path,
            action: "refusing to overwrite",
            source,
        }));
    }
    let spool = landing
        .partial_dir
        .join(format!(".spool-{}-{}", landing.stem, std::process::id()));
    std::fs::create_dir_all(&spool)
        .map_err(ScanError::output(&spool, "create spool folder"))
        .map_err(early)?;
    let outcome = scan_into(device, plan, landing, &temp, &spool, blank, progress);
    let _ = std::fs::remove_dir_all(&spool);
    outcome
}

fn scan_into(
    device: &mut Device<'_>,
    plan: &BatchPlan,
    landing: &Landing,
    temp: &Path,
    spool: &Path,
    blank: Option<BlankTest<'_>>,
    progress: &mut dyn FnMut(&PageEvent),
) -> Result<Captured, CaptureFailure> {
    let mut tiff = TiffBatch::create(temp, plan.compression).map_err(|error| CaptureFailure {
        error,
        report: BatchReport::default(),
        partial: None,
    })?;
    let (report, result) = batch::run(device, plan, &mut tiff, spool, blank, progress);
    let kept = tiff.pages();
    let finished = tiff.finish();
    let error = match (result, finished) {
        (Ok(()), Ok(_)) => match publish(temp, &landing.final_path()) {
            Ok(path) => return Ok(Captured { path, report }),
            Err(e) => e,
        },
        (Err(e), _) | (Ok(()), Err(e)) => e,
    };
    let partial = if kept > 0 {
        keep_partial(temp, landing)
    } else {
        None
    };
    if partial.is_none() {
        let _ = std::fs::remove_file(temp);
    }
    Err(CaptureFailure {
        error,
        report,
        partial,
    })
}

/// Hard-linking publishes atomically and, unlike rename, never replaces an existing file.
fn publish(temp: &Path, final_path: &Path) -> Result<PathBuf, ScanError> {
    std::fs::hard_link(temp, final_path)
        .map_err(ScanError::output(final_path, "publish into the inbox"))?;
    std::fs::remove_file(temp).map_err(ScanError::output(temp, "remove temporary file"))?;
    if let Some(dir) = final_path.parent() {
        // Make the new directory entry durable too; failure here loses nothing already written.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(final_path.to_path_buf())
}

fn keep_partial(temp: &Path, landing: &Landing) -> Option<PathBuf> {
    let mut target = landing.partial_path();
    let mut n = 1;
    while target.exists() {
        n += 1;
        target = landing
            .partial_dir
            .join(format!("{}-{n}.partial.tif", landing.stem));
    }
    let moved = std::fs::rename(temp, &target)
        .or_else(|_| std::fs::copy(temp, &target).and_then(|_| std::fs::remove_file(temp)));
    moved.ok().map(|_| target)
}

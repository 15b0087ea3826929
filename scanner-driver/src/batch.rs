//! The batch loop: pages until the feeder is empty (or the page count is reached), each page
//! appended to the TIFF as soon as it is read, with an optional skip of blank back sides.
//!
//! SANE's NO_DOCS before the first page means the feeder was empty (an error); after it, the
//! normal end of a batch. Where the TIFF lives and what it is finally called is `capture.rs`'s
//! business.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::device::Device;
use crate::error::ScanError;
use crate::page::{self, PageRead, SpooledPage};
use crate::tiff_out::{self, Compression, TiffBatch};

/// How to run one batch.
#[derive(Debug, Clone, Default)]
pub struct BatchPlan {
    /// Scan until the feeder is empty; otherwise scan one page (or `max_pages`).
    pub feeder: bool,
    /// Pages alternate front, back: every second page is a back side.
    pub duplex: bool,
    pub max_pages: Option<u32>,
    /// Written into the TIFF's resolution tags.
    pub dpi: Option<f64>,
    pub compression: Compression,
}

/// Reported after every page.
#[derive(Debug, Clone)]
pub struct PageEvent {
    /// Pages read from the device so far, this one included.
    pub scanned: u32,
    /// Pages in the output so far.
    pub kept: u32,
    pub width: u32,
    pub height: u32,
    pub depth: u8,
    pub color: bool,
    pub back_side: bool,
    pub skipped_blank: bool,
    /// Since the batch started.
    pub elapsed: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct BatchReport {
    pub scanned: u32,
    pub kept: u32,
    pub skipped_blank: u32,
    pub elapsed: Duration,
}

/// Decides whether a back side is blank; the binary passes the pipeline's blank test here, so
/// scanner and pipeline agree on what "blank" means without this crate depending on it.
pub type BlankTest<'a> = &'a mut dyn FnMut(&image::GrayImage) -> bool;

pub(crate) fn run(
    device: &mut Device<'_>,
    plan: &BatchPlan,
    tiff: &mut TiffBatch,
    spool: &Path,
    mut blank: Option<BlankTest<'_>>,
    progress: &mut dyn FnMut(&PageEvent),
) -> (BatchReport, Result<(), ScanError>) {
    let started = Instant::now();
    let mut report = BatchReport::default();
    let limit = match (plan.max_pages, plan.feeder) {
        (Some(n), _) => n,
        (None, true) => u32::MAX,
        (None, false) => 1,
    };
    let mut buf = vec![0u8; page::READ_CHUNK];
    let result = loop {
        if report.scanned >= limit {
            break Ok(());
        }
        let number = report.scanned + 1;
        let page = match page::read_page(device, spool, number, &mut buf) {
            Ok(PageRead::Page(p)) => p,
            Ok(PageRead::NoDocuments) if report.scanned == 0 => {
                break Err(ScanError::FeederEmpty {
                    device: device.name().to_string(),
                });
            }
            Ok(PageRead::NoDocuments) => break Ok(()),
            Err(e) => break Err(e),
        };
        report.scanned = number;
        let back_side = plan.duplex && number % 2 == 0;
        let skip = match (&mut blank, back_side) {
            (Some(test), true) => match tiff_out::gray_image(&page) {
                Ok(gray) => test(&gray),
                Err(e) => break Err(e),
            },
            _ => false,
        };
        if skip {
            report.skipped_blank += 1;
        } else if let Err(e) = tiff.append(&page, plan.dpi) {
            break Err(e);
        }
        report.kept = tiff.pages();
        progress(&event(&page, &report, back_side, skip, started));
    };
    // Ends the batch on the device (required after the last page, and after any fault).
    device.cancel_scan();
    report.elapsed = started.elapsed();
    (report, result)
}

fn event(
    page: &SpooledPage,
    report: &BatchReport,
    back_side: bool,
    skipped_blank: bool,
    started: Instant,
) -> PageEvent {
    PageEvent {
        scanned: report.scanned,
        kept: report.kept,
        width: page.width,
        height: page.height,
        depth: page.depth,
        color: page.layout != page::Layout::Gray,
        back_side,
        skipped_blank,
        elapsed: started.elapsed(),
    }
}

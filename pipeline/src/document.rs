//! One document run: every input page through the page steps in parallel, in a bounded window,
//! into one PDF written to a temporary file that is renamed into place only when complete.
//!
//! The window (two pages per worker) bounds the number of pages alive: a 500-page input never
//! has more than that many decoded. The memory budget bounds their size: each page takes its
//! estimated peak (from its header) from a budget shared by every document the processor runs,
//! before it starts, and gives it back when it is done; a page that would overdraw the budget
//! waits. Pages are written in input order as they finish.
//! On any error the temporary file is deleted, so a failed run leaves no partial output.

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use crate::error::{PipelineError, Result};
use crate::input;
use crate::options::ProcessOptions;
use crate::page_steps;
use crate::pdf::font::GlyphlessFont;
use crate::pdf::writer::{DocumentInfo, PdfWriter};
use crate::progress::Progress;
use crate::report::Report;

/// Pages decoded at once, per worker.
const WINDOW_PER_WORKER: usize = 2;

/// How often a run waiting for its pages asks [`Progress::interrupted`]: often enough that
/// Ctrl-C stops new pages from starting at once, rarely enough to cost nothing.
pub const INTERRUPT_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Refuse up front a language whose traineddata is nowhere to be found, rather than after
/// decoding the first pages. When no tessdata folder is found at all, tesseract decides.
fn check_languages(options: &ProcessOptions) -> Result<()> {
    let dirs: Vec<PathBuf> = crate::pdf::font::tessdata_candidates(options.tessdata_dir.as_deref())
        .into_iter()
        .filter(|d| d.is_dir())
        .collect();
    if dirs.is_empty() {
        return Ok(());
    }
    let wanted = options
        .languages
        .split('+')
        .map(str::trim)
        .filter(|l| !l.is_empty());
    let missing: Vec<&str> = wanted
        .filter(|lang| {
            !dirs
                .iter()
                .any(|d| d.join(format!("{lang}.traineddata")).is_file())
        })
        .collect();
    if missing.is_empty() && !options.languages.trim().is_empty() {
        return Ok(());
    }
    Err(PipelineError::OcrInit {
        languages: options.languages.clone(),
        reason: format!(
            "no traineddata for {} in {} (Debian: apt-get install {})",
            if missing.is_empty() {
                "an empty language list".to_string()
            } else {
                missing.join(", ")
            },
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            missing
                .iter()
                .map(|l| format!("tesseract-ocr-{l}"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    })
}

/// Memory in MiB shared by the pages in flight, counted by their estimates: a semaphore in MiB.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    capacity_mb: u64,
    used_mb: Mutex<u64>,
    freed: Condvar,
}

/// A page's share of the budget, given back when dropped.
#[derive(Debug)]
pub(crate) struct MemoryLease {
    budget: Arc<MemoryBudget>,
    mb: u64,
}

impl MemoryBudget {
    pub(crate) fn new(capacity_mb: u64) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            capacity_mb,
            used_mb: Mutex::new(0),
            freed: Condvar::new(),
        })
    }

    /// Take `mb`, waiting until that much is free. More than the whole budget is taken as the
    /// whole budget (probing refuses such pages, so this only keeps a wait from being endless).
    pub(crate) fn acquire(self: &Arc<Self>, mb: u64) -> MemoryLease {
        let mb = mb.min(self.capacity_mb);
        let mut used = self.used_mb.lock().unwrap_or_else(|e| e.into_inner());
        while *used + mb > self.capacity_mb {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += mb;
        MemoryLease {
            budget: self.clone(),
            mb,
        }
    }

    #[cfg(test)]
    pub(crate) fn used_mb(&self) -> u64 {
        *self.used_mb.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for MemoryLease {
    fn drop(&mut self) {
        let mut used = self
            .budget
            .used_mb
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *used -= self.mb;
        self.budget.freed.notify_all();
    }
}

/// The result of a run: where the PDF is, what it is, and the report.
#[derive(Debug, Clone)]
pub struct ProcessedDocument {
    pub output: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    pub report: Report,
}

/// A configured processor with its worker pool. Keep one for the life of a daemon: its worker
/// threads keep their tesseract engines from one document to the next.
pub struct Processor {
    options: std::sync::Arc<ProcessOptions>,
    pool: rayon::ThreadPool,
    font: GlyphlessFont,
    /// Shared by every document this processor runs at once (the daemon's concurrent jobs).
    pub(crate) memory: Arc<MemoryBudget>,
    /// Colour pages of more pixels than this are held as YCbCr 4:2:0 planes.
    colour_planes_above: u64,
}

impl Processor {
    pub fn new(options: ProcessOptions) -> Result<Processor> {
        let workers = options.worker_count();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("quire-page-{i}"))
            .build()
            .map_err(|e| PipelineError::OcrInit {
                languages: options.languages.clone(),
                reason: e.to_string(),
            })?;
        let font = GlyphlessFont::load(options.tessdata_dir.as_deref()).map_err(|e| {
            PipelineError::OcrInit {
                languages: options.languages.clone(),
                reason: e.to_string(),
            }
        })?;
        check_languages(&options)?;
        Ok(Processor {
            memory: MemoryBudget::new(options.max_memory_mb),
            options: std::sync::Arc::new(options),
            pool,
            font,
            colour_planes_above: crate::ycc::PLANAR_COLOUR_MIN_PIXELS,
        })
    }

    /// Hold colour pages of more than `pixels` pixels as YCbCr 4:2:0 planes, instead of
    /// [`crate::ycc::PLANAR_COLOUR_MIN_PIXELS`]. A setting of the processor rather than of
    /// [`ProcessOptions`]: the threshold is not configuration (the binary builds its options
    /// field by field from `[processing]`), only tests lower it to reach planes with small
    /// pages.
    pub fn with_colour_planes_above(mut self, pixels: u64) -> Processor {
        self.colour_planes_above = pixels;
        self
    }

    pub fn options(&self) -> &ProcessOptions {
        &self.options
    }

    /// Turn `inputs` (their pages in order) into one searchable PDF at `output`.
    pub fn process(
        &self,
        inputs: &[PathBuf],
        output: &Path,
        progress: &dyn Progress,
    ) -> Result<ProcessedDocument> {
        let started = Instant::now();
        let options = &self.options;
        let pages = input::probe_with_planes_above(inputs, options, self.colour_planes_above)?;
        progress.start(pages.len());

        let write_err = |source: std::io::Error| PipelineError::Write {
            path: output.to_owned(),
            source,
        };
        let dir = crate::report::output_folder(output)?;
        let temp = tempfile::Builder::new()
            .prefix(".quire-")
            .suffix(".pdf.part")
            .permissions(crate::report::output_permissions())
            .tempfile_in(&dir)
            .map_err(|e| write_err(crate::report::without_temp_path(e)))?;
        let mut writer = PdfWriter::new(BufWriter::new(temp), &self.font)
            .map_err(write_err)?
            .with_output_type(options.output_type);

        let window = self.pool.current_num_threads() * WINDOW_PER_WORKER;
        let mut reports = Vec::with_capacity(pages.len());
        let mut removed = 0;
        let mut engines_started = 0;
        let mut done = 0;
        let mut sheets = 0;
        // A sliding window, not chunks: a new page starts as soon as any page finishes, so no
        // worker waits at a chunk boundary for the slowest page of its chunk. Finished pages
        // wait in `ready` until every earlier one is written; at most `window` are in flight
        // or waiting, which is what bounds memory.
        // A page task's panic is caught and carried back to be raised here, on the caller's
        // thread: rayon aborts the whole process on a panic in a spawned task, and the caller
        // (the daemon's worker) can only recover from a panic it sees.
        type PageOutcome = std::thread::Result<Result<page_steps::FinishedPage>>;
        let (tx, rx) = std::sync::mpsc::channel::<(usize, PageOutcome)>();
        let mut ready = std::collections::BTreeMap::new();
        let (mut submitted, mut written) = (0usize, 0usize);
        let mut failure = None;
        // Set once the run has failed or been interrupted: pages queued in the pool but not yet
        // started are then skipped rather than processed for nothing.
        let abandoned = Arc::new(std::sync::atomic::AtomicBool::new(false));
        while written < pages.len() {
            // Asked before starting more pages, so that no page starts after the stop.
            if failure.is_none() && progress.interrupted() {
                failure = Some(PipelineError::Interrupted);
                abandoned.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            while failure.is_none() && submitted < pages.len() && submitted - written < window {
                let (page, options, tx) =
                    (pages[submitted].clone(), self.options.clone(), tx.clone());
                let n = submitted;
                let lease = self.memory.acquire(page.estimated_peak_mb());
                let abandoned = abandoned.clone();
                self.pool.spawn(move || {
                    if abandoned.load(std::sync::atomic::Ordering::SeqCst) {
                        // The run's own error is already recorded; this one is never shown.
                        let _ = tx.send((n, Ok(Err(PipelineError::Interrupted))));
                        return;
                    }
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        page_steps::process(&page, &options)
                    }));
                    // What is left of the page (its encoded image) is small.
                    drop(lease);
                    // The receiver is gone only when the run already failed.
                    let _ = tx.send((n, outcome));
                });
                submitted += 1;
            }
            if failure.is_some() && ready.len() + written >= submitted {
                break;
            }
            let (n, page) = match rx.recv_timeout(INTERRUPT_POLL) {
                Ok(received) => received,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    unreachable!("`tx` is held here, so the channel stays open")
                }
            };
            let page = page.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            ready.insert(n, page);
            while let Some(page) = ready.remove(&written) {
                written += 1;
                let page = match page {
                    Ok(p) => p,
                    Err(e) => {
                        // Let the pages in flight finish before the error ends the run.
                        failure.get_or_insert(e);
                        abandoned.store(true, std::sync::atomic::Ordering::SeqCst);
                        continue;
                    }
                };
                if failure.is_some() {
                    continue;
                }
                engines_started += page.engines_started;
                let mut report = page.report;
                // Cover and separator sheets are instructions to Quire, not part of the document.
                let sheet = report
                    .barcode
                    .as_ref()
                    .is_some_and(|b| b.sheet != "content");
                if report.blank && options.remove_blank {
                    removed += 1;
                } else if sheet {
                    sheets += 1;
                } else {
                    report.bytes = writer
                        .add_page(page.image, page.size, &page.text_layer)
                        .map_err(write_err)?;
                    report.output_page = Some(writer.page_count());
                }
                reports.push(report);
                done += 1;
                progress.page_done(done);
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        if writer.page_count() == 0 {
            return Err(PipelineError::AllPagesRemoved);
        }

        let title = options.title.clone().unwrap_or_else(|| {
            inputs[0]
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let info = DocumentInfo {
            title,
            producer: format!(
                "Quire {} (quire-pipeline, tesseract, lopdf)",
                env!("CARGO_PKG_VERSION")
            ),
            created: time::OffsetDateTime::now_utc(),
            lang: crate::pdf::writer::pdf_lang(&options.languages),
        };
        // The last chance to stop before the PDF appears.
        if progress.interrupted() {
            return Err(PipelineError::Interrupted);
        }
        let (buffered, written) = writer.finish(&info).map_err(write_err)?;
        let temp = buffered
            .into_inner()
            .map_err(|e| write_err(e.into_error()))?;
        temp.as_file().sync_all().map_err(write_err)?;
        temp.persist(output).map_err(|e| write_err(e.error))?;
        progress.finish();

        let tesseract_ms: f64 = reports.iter().map(|r| r.timings.tesseract_ms()).sum();
        let other_ms: f64 = reports.iter().map(|r| r.timings.other_ms()).sum();
        let report = Report {
            producer: info.producer,
            output: output.to_owned(),
            output_bytes: written.bytes,
            sha256: written.sha256.clone(),
            languages: options.languages.clone(),
            pages_in: reports.len(),
            pages_out: written.pages,
            blank_pages_removed: removed,
            barcode_sheets_removed: sheets,
            ocr_engines_started: engines_started,
            wall_seconds: started.elapsed().as_secs_f64(),
            tesseract_seconds: tesseract_ms / 1000.0,
            other_seconds: other_ms / 1000.0,
            pages: reports,
        };
        Ok(ProcessedDocument {
            output: output.to_owned(),
            bytes: written.bytes,
            sha256: written.sha256,
            report,
        })
    }
}

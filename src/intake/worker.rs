//! The processing worker: takes received jobs one at a time, turns their originals into a
//! searchable PDF with the pipeline (pages in parallel inside), then decides: ready for
//! delivery, held for review, or failed and quarantined.
//!
//! Every step is a compare-and-set on the job's state and every output is written to a temporary
//! name and renamed, so running a step again after a crash gives the same result.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use quire_pipeline::intake::page_range::RequestedPages;
use quire_pipeline::intake::pages;
use quire_pipeline::{PipelineError, Processor, Report};
use serde_json::json;

use anyhow::Context;

use super::{custody, similar};
use crate::config::LoadedConfig;
use crate::deliver::Deliverer;
use crate::state::{Db, Job, JobFilter, JobPatch, JobState, NewEvent, StateError};

/// Nudges the worker when a job arrives, so it need not poll fast.
#[derive(Clone, Default)]
pub struct Wake(Arc<(Mutex<bool>, Condvar)>);

impl Wake {
    pub fn wake(&self) {
        let (flag, cv) = &*self.0;
        *flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_all();
    }

    fn wait(&self, timeout: Duration) {
        let (flag, cv) = &*self.0;
        let guard = flag.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) = cv
            .wait_timeout_while(guard, timeout, |woken| !*woken)
            .unwrap_or_else(|p| p.into_inner());
        *guard = false;
    }
}

pub const OUTPUT_NAME: &str = "quire-output.pdf";
pub const REPORT_NAME: &str = "quire-report.json";

pub struct Worker {
    db: Db,
    processor: Processor,
    quarantine: PathBuf,
    deliverer: Arc<Deliverer>,
    runtime: tokio::runtime::Handle,
    keep_originals: bool,
}

impl Worker {
    pub fn new(
        config: &LoadedConfig,
        db: Db,
        deliverer: Arc<Deliverer>,
        runtime: tokio::runtime::Handle,
    ) -> anyhow::Result<Self> {
        let mut options = config.config.processing.to_options();
        options.barcodes = true;
        let processor = Processor::new(options)?;
        Ok(Self {
            db,
            processor,
            quarantine: config.quarantine_dir(),
            deliverer,
            runtime,
            keep_originals: config.config.intake.keep_originals,
        })
    }

    pub fn run(&self, stop: Arc<AtomicBool>, wake: Wake) {
        while !stop.load(Ordering::SeqCst) {
            // Ready jobs first: they only need a stamp and a link, and a released job should not
            // wait behind a long scan.
            let ready = self.db.jobs_list(&JobFilter {
                states: vec![JobState::Processed],
                limit: 16,
                ..Default::default()
            });
            for job in ready.unwrap_or_default() {
                if job.request_id.is_some() {
                    if let Err(e) = self.deliver(&job) {
                        tracing::error!(job = %job.id, error = %format!("{e:#}"), "delivery failed; will retry");
                    }
                }
            }
            let queued = match self.db.jobs_list(&JobFilter {
                states: vec![JobState::Received],
                limit: 16,
                ..Default::default()
            }) {
                Ok(q) => q,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the job queue");
                    Vec::new()
                }
            };
            for job in &queued {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                if let Err(e) = self.process(job) {
                    // Left in `processing`; the next start resumes it.
                    tracing::error!(job = %job.id, error = %format!("{e:#}"), "job processing interrupted");
                }
            }
            if queued.is_empty() {
                wake.wait(Duration::from_secs(1));
            }
        }
    }

    fn process(&self, job: &Job) -> anyhow::Result<()> {
        let event = NewEvent::new("daemon", "job.processing").subject("job", &job.id);
        match self.db.job_transition(
            &job.id,
            &[JobState::Received],
            JobState::Processing,
            JobPatch::default(),
            event,
        ) {
            Ok(_) => {}
            Err(StateError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let dir = PathBuf::from(&job.spool_path);
        let inputs = custody::inputs(&dir)?;
        let output = dir.join(OUTPUT_NAME);
        match self
            .processor
            .process(&inputs, &output, &quire_pipeline::Silent)
        {
            Ok(done) => {
                done.report.write_json(&dir.join(REPORT_NAME))?;
                self.finish(job, &done.report, &done.sha256)
            }
            Err(e) => self.fail(job, &dir, &e),
        }
    }

    fn finish(&self, job: &Job, report: &Report, sha256: &str) -> anyhow::Result<()> {
        let warnings: Vec<String> = report
            .pages
            .iter()
            .flat_map(|p| {
                p.warnings
                    .iter()
                    .map(move |w| format!("page {}: {}", p.source_page, w.code))
            })
            .collect();
        let patch = JobPatch {
            page_count: Some(report.pages_out as i64),
            report_json: Some(report.to_json()),
            output_sha256: Some(sha256.to_string()),
            ..Default::default()
        };
        let mut reasons = Vec::new();
        let (barcode_request, barcode_note) = self.barcode_request(report)?;
        if let Some(note) = barcode_note {
            reasons.push(note);
        }
        let request_id = job.request_id.clone().or(barcode_request.clone());
        let request = match &request_id {
            Some(id) => self.db.request_get(id)?,
            None => None,
        };
        let rows = similar::page_rows(report);
        self.db.pages_record(&job.id, &rows)?;
        let near = similar::find(&self.db, &rows, Some(&job.id))?;
        match &request {
            None => reasons
                .push("no request matched the scan: match it with `quire job match`".to_string()),
            Some(r) => {
                if let Some(problem) = r.pages.as_deref().and_then(|p| page_problem(p, report)) {
                    reasons.push(problem);
                }
            }
        }
        if !warnings.is_empty() {
            reasons.push(format!("quality warnings: {}", warnings.join(", ")));
        }
        // Held or ready is decided in the same step that records the result, so a crash can
        // never leave an unreviewed job looking ready.
        let held = !reasons.is_empty();
        let reason = reasons.join("; ");
        let mut report_json: serde_json::Value = serde_json::from_str(&report.to_json())?;
        report_json["near_duplicates"] = serde_json::to_value(&near)?;
        let patch = JobPatch {
            hold_reason: Some(held.then(|| reason.clone())),
            request_id: if job.request_id.is_none() {
                barcode_request.clone()
            } else {
                None
            },
            report_json: Some(report_json.to_string()),
            ..patch
        };
        let event = NewEvent::new("daemon", "job.processed")
            .subject("job", &job.id)
            .details(json!({
                "pages": report.pages_out,
                "warnings": warnings,
                "tesseract_seconds": report.tesseract_seconds,
                "wall_seconds": report.wall_seconds,
                "output_sha256": sha256,
                "outcome": if held { "held" } else { "ready" },
                "near_duplicates": near.iter().map(|n| n.describe()).collect::<Vec<_>>(),
                "matched_by_barcode": barcode_request,
                "hold_reason": held.then_some(reason),
            }));
        let to = if held {
            JobState::Held
        } else {
            JobState::Processed
        };
        self.db
            .job_transition(&job.id, &[JobState::Processing], to, patch, event)?;
        Ok(())
    }

    /// A request named by a barcode cover sheet, if the scan has exactly one and the request
    /// exists; else a note on why the barcodes need a person.
    fn barcode_request(&self, report: &Report) -> anyhow::Result<(Option<String>, Option<String>)> {
        let mut named: Vec<String> = report
            .pages
            .iter()
            .filter_map(|p| p.barcode.as_ref())
            .filter(|b| b.sheet == "request")
            .map(|b| b.text.trim().to_string())
            .collect();
        named.dedup();
        let separators = report
            .pages
            .iter()
            .filter(|p| p.barcode.as_ref().is_some_and(|b| b.sheet == "separator"))
            .count();
        match named.as_slice() {
            [] if separators == 0 => Ok((None, None)),
            [] => Ok((
                None,
                Some(format!(
                    "{separators} PATCH-T separator sheet(s) but no request cover sheet"
                )),
            )),
            [one] if separators == 0 => match self.db.request_get(one)? {
                Some(r) => Ok((Some(r.id), None)),
                None => Ok((
                    None,
                    Some(format!(
                        "cover sheet names request {one}, which is not known"
                    )),
                )),
            },
            many => Ok((
                None,
                Some(format!(
                    "a batch of {} cover sheets ({}) and {separators} separator(s): splitting a batch into jobs is not done automatically yet; scan each request separately",
                    many.len(),
                    many.join(", ")
                )),
            )),
        }
    }

    /// Delivers a ready job: stamped copy, stored, link, queued notice; then the originals
    /// leave the spool unless `[intake] keep_originals`.
    fn deliver(&self, job: &Job) -> anyhow::Result<()> {
        let Some(request_id) = &job.request_id else {
            return Ok(());
        };
        let request = self
            .db
            .request_get(request_id)?
            .with_context(|| format!("request {request_id} vanished"))?;
        let dir = PathBuf::from(&job.spool_path);
        let pdf = std::fs::read(dir.join(OUTPUT_NAME))?;
        let receipt = self.runtime.block_on(self.deliverer.deliver(
            &request,
            pdf,
            Some(&job.id),
            "daemon",
        ))?;
        tracing::info!(job = %job.id, delivery = %receipt.delivery_id, link = %receipt.link_id, "delivered");
        if !self.keep_originals {
            for original in custody::originals(&dir)? {
                let removed = if original.is_dir() {
                    std::fs::remove_dir_all(&original)
                } else {
                    std::fs::remove_file(&original)
                };
                if let Err(e) = removed {
                    tracing::warn!(path = %original.display(), error = %e, "could not remove an original after delivery");
                }
            }
        }
        Ok(())
    }

    /// Bad input: the originals go to quarantine with a note saying why; the job fails.
    fn fail(&self, job: &Job, dir: &Path, error: &PipelineError) -> anyhow::Result<()> {
        let target = self.quarantine.join(&job.id);
        std::fs::create_dir_all(&self.quarantine)?;
        if !target.exists() {
            std::fs::create_dir_all(&target)?;
            for original in custody::originals(dir)? {
                let name = original.file_name().unwrap_or_default();
                std::fs::rename(&original, target.join(name))?;
            }
        }
        let note = format!(
            "job: {}\nsource: {}\nerror code: {}\nreason: {}\n",
            job.id,
            job.source_name,
            error.code(),
            error
        );
        let note_path = self.quarantine.join(format!("{}.error.txt", job.id));
        std::fs::write(&note_path, note)?;
        let patch = JobPatch {
            error: Some((error.code().to_string(), error.to_string())),
            ..Default::default()
        };
        let event = NewEvent::new("daemon", "job.failed")
            .subject("job", &job.id)
            .details(json!({
                "code": error.code(),
                "reason": error.to_string(),
                "quarantined_to": target.display().to_string(),
            }));
        self.db.job_transition(
            &job.id,
            &[JobState::Processing],
            JobState::Failed,
            patch,
            event,
        )?;
        let _ = std::fs::remove_file(dir.join(OUTPUT_NAME));
        tracing::warn!(job = %job.id, code = error.code(), reason = %error, quarantine = %target.display(), "scan refused and quarantined");
        Ok(())
    }
}

/// Compares the requested page range with what was scanned: by printed page numbers where OCR
/// found them (naming the gaps), else by count. `None` when it fits or cannot be judged.
fn page_problem(requested: &str, report: &Report) -> Option<String> {
    let wanted = RequestedPages::parse(requested).ok()?;
    let texts: Vec<&str> = report
        .pages
        .iter()
        .filter(|p| p.output_page.is_some())
        .map(|p| p.text.as_str())
        .collect();
    let check = pages::check(&wanted, &texts);
    if check.checked() {
        let fits = check.missing.is_empty()
            && check.extra.is_empty()
            && check.repeated.is_empty()
            && check.out_of_order.is_empty();
        return (!fits).then(|| format!("pages {requested} requested: {}", check.summary()));
    }
    (wanted.len() != report.pages_out).then(|| {
        format!(
            "{} pages scanned but {requested} is {} pages (no printed page numbers found)",
            report.pages_out,
            wanted.len()
        )
    })
}

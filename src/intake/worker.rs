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

use quire_pipeline::{PipelineError, Processor, Report};
use serde_json::json;

use super::custody;
use crate::config::LoadedConfig;
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
        let (mut guard, _) = cv.wait_timeout_while(guard, timeout, |woken| !*woken).unwrap_or_else(|p| p.into_inner());
        *guard = false;
    }
}

pub const OUTPUT_NAME: &str = "quire-output.pdf";
pub const REPORT_NAME: &str = "quire-report.json";

pub struct Worker {
    db: Db,
    processor: Processor,
    quarantine: PathBuf,
}

impl Worker {
    pub fn new(config: &LoadedConfig, db: Db) -> anyhow::Result<Self> {
        let processor = Processor::new(config.config.processing.to_options())?;
        Ok(Self { db, processor, quarantine: config.quarantine_dir() })
    }

    pub fn run(&self, stop: Arc<AtomicBool>, wake: Wake) {
        while !stop.load(Ordering::SeqCst) {
            let queued = match self.db.jobs_list(&JobFilter { states: vec![JobState::Received], limit: 16, ..Default::default() }) {
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
        match self.db.job_transition(&job.id, &[JobState::Received], JobState::Processing, JobPatch::default(), event) {
            Ok(_) => {}
            Err(StateError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let dir = PathBuf::from(&job.spool_path);
        let inputs = custody::inputs(&dir)?;
        let output = dir.join(OUTPUT_NAME);
        match self.processor.process(&inputs, &output, &quire_pipeline::Silent) {
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
            .flat_map(|p| p.warnings.iter().map(move |w| format!("page {}: {}", p.source_page, w.code)))
            .collect();
        let patch = JobPatch {
            page_count: Some(report.pages_out as i64),
            report_json: Some(report.to_json()),
            output_sha256: Some(sha256.to_string()),
            ..Default::default()
        };
        let event = NewEvent::new("daemon", "job.processed").subject("job", &job.id).details(json!({
            "pages": report.pages_out,
            "warnings": warnings,
            "tesseract_seconds": report.tesseract_seconds,
            "wall_seconds": report.wall_seconds,
            "output_sha256": sha256,
        }));
        self.db.job_transition(&job.id, &[JobState::Processing], JobState::Processed, patch, event)?;

        let mut reasons = Vec::new();
        if job.request_id.is_none() {
            reasons.push("no request matched the scan: match it with `quire job match`".to_string());
        }
        if !warnings.is_empty() {
            reasons.push(format!("quality warnings: {}", warnings.join(", ")));
        }
        if !reasons.is_empty() {
            let reason = reasons.join("; ");
            let patch = JobPatch { hold_reason: Some(Some(reason.clone())), ..Default::default() };
            let event = NewEvent::new("daemon", "job.held").subject("job", &job.id).details(json!({ "reason": reason }));
            self.db.job_transition(&job.id, &[JobState::Processed], JobState::Held, patch, event)?;
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
        let patch = JobPatch { error: Some((error.code().to_string(), error.to_string())), ..Default::default() };
        let event = NewEvent::new("daemon", "job.failed").subject("job", &job.id).details(json!({
            "code": error.code(),
            "reason": error.to_string(),
            "quarantined_to": target.display().to_string(),
        }));
        self.db.job_transition(&job.id, &[JobState::Processing], JobState::Failed, patch, event)?;
        let _ = std::fs::remove_file(dir.join(OUTPUT_NAME));
        tracing::warn!(job = %job.id, code = error.code(), reason = %error, quarantine = %target.display(), "scan refused and quarantined");
        Ok(())
    }
}

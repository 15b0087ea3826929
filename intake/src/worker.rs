//! The processing worker: takes received jobs one at a time, turns their originals into a
//! searchable PDF with the pipeline (pages in parallel inside), then decides: ready for
//! delivery, held for review, or failed and quarantined.
//!
//! Every step is a compare-and-set on the job's state and every output is written to a temporary
//! name and renamed, so running a step again after a crash gives the same result.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::batch::Segment;
use crate::segment;
use quire_pipeline::{Processor, Report};
use serde_json::json;

use anyhow::Context;

use super::health::{Beat, Health, PageBeat};
use super::{custody, disk, similar};
use quire_config::LoadedConfig;
use quire_domain::Action;
use quire_domain::hold::{HoldReason, code};
use quire_domain::spool::{self, Quarantine};
use quire_service::deliver::{Deliverer, JobTie};
use quire_service::job_files::JobFiles;
use quire_service::preserve;
use quire_service::review::{self, Assessment, ReportView};
use quire_state::{Db, Job, JobFilter, JobPatch, JobState, NewEvent, SplitDocument, StateError};

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

/// What processing found, and so whether the job may go out unattended. Held or ready is
/// decided in the same step that records the result, so a crash can never leave an unreviewed
/// job looking ready. The decision itself is `quire_service::review`'s, the same the console's
/// match makes.
struct Verdict {
    assessment: Assessment,
    near: Vec<String>,
    rows: Vec<quire_state::PageRow>,
    report_json: String,
}

impl Verdict {
    fn state(&self) -> JobState {
        self.assessment.state()
    }

    fn hold_reason(&self) -> Option<String> {
        self.assessment.reasons.to_text()
    }

    fn patch(&self) -> JobPatch {
        JobPatch {
            hold_reason: Some(self.hold_reason()),
            report_json: Some(self.report_json.clone()),
            ..Default::default()
        }
    }

    fn event(&self, job: &str, report: &Report, sha256: &str) -> NewEvent {
        let held = !self.assessment.reasons.is_empty();
        NewEvent::new("daemon", Action::JobProcessed)
            .subject("job", job)
            .details(json!({
                "pages": report.pages_out,
                "warnings": self.assessment.findings.all,
                "notes": self.assessment.findings.noted,
                "tesseract_seconds": report.tesseract_seconds,
                "wall_seconds": report.wall_seconds,
                "output_sha256": sha256,
                "outcome": if held { "held" } else { "ready" },
                "near_duplicates": self.near,
                "hold_reason": self.hold_reason(),
                "next_step": self.assessment.reasons.next_step(),
            }))
    }
}

pub struct Worker {
    db: Db,
    processor: Arc<Processor>,
    quarantine: Quarantine,
    deliverer: Arc<Deliverer>,
    runtime: tokio::runtime::Handle,
    keep_originals: bool,
    /// Tries a job gets when its processing panics or is cut short by an error.
    max_attempts: u32,
    /// Shared with the inbox loop, which keeps the disk's state in it.
    health: Arc<Health>,
    /// Jobs some worker of this daemon is delivering now, so two never stamp the same job at
    /// once (the database would refuse the second anyway, but its stamped copy would be wasted
    /// work and an orphan in the store).
    delivering: Arc<Mutex<HashSet<String>>>,
    /// This node's name, which its claims on jobs carry.
    node: String,
    /// How file names name requests, to say what an unmatched scan's name said.
    naming: crate::naming::RequestNaming,
    /// How long a claim lasts; the node's heartbeat renews it.
    lease: Duration,
}

/// Starts `[intake] concurrent_jobs` workers sharing one processor, so a small job's pages and
/// a large job's pages fill the same OCR pool. Each delivers what it finished at once, and any
/// ready job it finds (released by a person, or left ready by a restart).
pub fn start(
    config: &LoadedConfig,
    db: Db,
    deliverer: Arc<Deliverer>,
    runtime: tokio::runtime::Handle,
    stop: Arc<AtomicBool>,
    wake: Wake,
    health: Arc<Health>,
) -> anyhow::Result<Vec<std::thread::JoinHandle<()>>> {
    panics::record_locations();
    let mut options = config.config.processing.to_options();
    options.barcodes = true;
    let processor = Arc::new(Processor::new(options)?);
    let delivering = Arc::new(Mutex::new(HashSet::new()));
    let mut threads = Vec::new();
    for n in 0..config.config.intake.concurrent_jobs.max(1) {
        let worker = Worker {
            db: db.clone(),
            processor: processor.clone(),
            quarantine: Quarantine::new(config.quarantine_dir()),
            deliverer: deliverer.clone(),
            runtime: runtime.clone(),
            keep_originals: config.config.intake.keep_originals,
            max_attempts: config.config.intake.max_attempts.max(1),
            health: health.clone(),
            delivering: delivering.clone(),
            node: config.config.node.name.clone(),
            naming: crate::naming::RequestNaming::new(&config.config.intake.request_pattern)?,
            lease: config.config.node.lease(),
        };
        let (stop, wake) = (stop.clone(), wake.clone());
        let name = format!("quire-worker-{n}");
        let beat = health.component(&name);
        threads.push(std::thread::Builder::new().name(name).spawn(move || {
            worker.run(&stop, &wake, &beat);
            beat.stopped();
        })?);
    }
    Ok(threads)
}

impl Worker {
    /// Where a job's files are on this node.
    fn files(&self) -> &JobFiles {
        self.deliverer.files()
    }

    fn run(&self, stop: &AtomicBool, wake: &Wake, beat: &Beat) {
        while !stop.load(Ordering::SeqCst) {
            beat.idle();
            // A full disk would turn good scans into truncated outputs or refusals: wait.
            if self.health.disk_low().is_some() {
                wake.wait(Duration::from_secs(1));
                continue;
            }
            // Ready jobs first: they only need a stamp and a link, and a released job should not
            // wait behind a long scan. A panic while delivering is caught like one while
            // processing: the job stays ready and is tried again, the worker carries on.
            if let Err(message) = panics::catch(|| self.deliver_ready(beat)) {
                tracing::error!(panic = %message, "delivery panicked; the job stays ready");
                wake.wait(Duration::from_secs(1));
            }
            // One claim at a time: a worker holds only the job it works on, so the others
            // (of this node or another) take the rest.
            let mut processed_one = false;
            match self.db.job_claim(&self.node, self.until()) {
                Ok(None) => {}
                Ok(Some(job)) => match self.attempt(&job, beat) {
                    // Back to the top: deliver what is ready before the next scan.
                    Ok(Attempt::Done) => processed_one = true,
                    // Back in the queue for want of space: wait for the disk.
                    Ok(Attempt::NoSpace) => {}
                    // Left in `processing`, claimed by this node: the next start resumes it
                    // (or, should this node die first, its lapsed lease frees it).
                    Err(e) => {
                        tracing::error!(job = %job.id, error = %format!("{e:#}"), "job processing interrupted")
                    }
                },
                Err(e) => tracing::error!(error = %e, "cannot claim from the job queue"),
            }
            if !processed_one {
                wake.wait(Duration::from_secs(1));
            }
        }
    }

    /// When a claim made now ends.
    fn until(&self) -> quire_domain::Timestamp {
        quire_domain::Timestamp::now() + self.lease
    }

    /// A patch that applies only while this node still holds the job.
    fn mine(&self) -> JobPatch {
        JobPatch {
            claimed_by: Some(self.node.clone()),
            ..Default::default()
        }
    }

    fn deliver_ready(&self, beat: &Beat) {
        // Claimed for this node, so that another node's workers do not stamp them too.
        let ready = self.db.jobs_claim_ready(&self.node, self.until(), 16);
        for job in ready.unwrap_or_default() {
            let Some(_claim) = Claim::take(&self.delivering, &job.id) else {
                continue;
            };
            beat.working(&job.id);
            // Another worker may have delivered it between the listing and the claim.
            let still_ready =
                matches!(self.db.job_get(&job.id), Ok(Some(j)) if j.state == JobState::Processed);
            if still_ready && let Err(e) = self.deliver(&job) {
                tracing::error!(job = %job.id, error = %format!("{e:#}"), "delivery failed; will retry");
            }
        }
    }

    /// Processes `job`, claimed by this worker. A panic or an error on the way is one failed
    /// try: the job goes back to the queue, or after `max_attempts` tries is failed and
    /// quarantined; either way this worker carries on.
    fn attempt(&self, job: &Job, beat: &Beat) -> anyhow::Result<Attempt> {
        beat.working(&job.id);
        let trouble = match panics::catch(|| self.process(job, beat)) {
            Ok(Ok(())) => return Ok(Attempt::Done),
            Ok(Err(e)) if disk::is_storage_full(e.as_ref()) => {
                self.requeue_for_space(job, &format!("{e:#}"))?;
                return Ok(Attempt::NoSpace);
            }
            Ok(Err(e)) => Trouble {
                code: "worker.error",
                what: format!("{e:#}"),
            },
            Err(message) => Trouble {
                code: "worker.panic",
                what: format!("panicked: {message}"),
            },
        };
        self.failed_try(job, &trouble)?;
        Ok(Attempt::Done)
    }

    fn process(&self, job: &Job, beat: &Beat) -> anyhow::Result<()> {
        let dir = self.files().dir(job);
        if let Some((code, reason)) = self.interrupted_refusal(job) {
            return self.fail(job, &dir, &code, &reason);
        }
        // With store custody, what this node's spool lacks comes from the store, verified; a
        // file that does not match is an error naming it, and a failed try like any other.
        let dir = self.runtime.block_on(self.files().originals(job))?;
        let inputs = custody::inputs(&dir)?;
        test_fault::before_processing(&inputs);
        let output = spool::output_in(&dir);
        let progress = PageBeat { beat, job: &job.id };
        match self.processor.process(&inputs, &output, &progress) {
            Ok(done) => {
                done.report.write_json(&spool::report_in(&dir))?;
                // Reachable by whichever node delivers or shows it, before the job says so.
                self.runtime
                    .block_on(self.files().keep_output(&job.id, &output, &done.sha256))?;
                self.finish(job, &done.report, &done.sha256)?;
            }
            // The disk, not the scan: never quarantine a good scan for it.
            Err(e) if disk::is_storage_full(&e) => return Err(e.into()),
            Err(e) => self.fail(job, &dir, e.code(), &e.to_string())?,
        }
        Ok(())
    }

    /// One failed try at `job`, still `processing`: back to the queue, or failed and
    /// quarantined once it has had its `max_attempts`.
    fn failed_try(&self, job: &Job, trouble: &Trouble) -> anyhow::Result<()> {
        let tries = self.db.job_attempt_failed(&job.id, &trouble.what)?;
        tracing::error!(job = %job.id, code = trouble.code, attempt = tries, of = self.max_attempts, error = %trouble.what, "job processing failed");
        if tries >= self.max_attempts {
            let reason = format!(
                "processing failed {tries} time(s), the limit ([intake] max_attempts = {}); last: {}",
                self.max_attempts, trouble.what
            );
            let dir = self.files().dir(job);
            return self.fail(job, &dir, trouble.code, &reason);
        }
        let event = NewEvent::new("daemon", Action::JobRetry)
            .subject("job", &job.id)
            .details(json!({
                "code": trouble.code,
                "reason": trouble.what,
                "attempt": tries,
                "max_attempts": self.max_attempts,
            }));
        self.back_to_queue(job, event)
    }

    /// `processing` back to `received`, with `event`; a job another hand moved already is left.
    fn back_to_queue(&self, job: &Job, event: NewEvent) -> anyhow::Result<()> {
        match self.db.job_transition(
            &job.id,
            &[JobState::Processing],
            JobState::Received,
            self.mine(),
            event,
        ) {
            Ok(_) | Err(StateError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The disk filled up under the job: back to the queue, not counted against the scan.
    fn requeue_for_space(&self, job: &Job, error: &str) -> anyhow::Result<()> {
        tracing::warn!(job = %job.id, %error, "no space left while processing; the job waits for space");
        let _ = std::fs::remove_file(self.files().output_path(job));
        let event = NewEvent::new("daemon", Action::JobRequeued)
            .subject("job", &job.id)
            .details(json!({ "reason": error }));
        self.back_to_queue(job, event)
    }

    fn finish(&self, job: &Job, report: &Report, sha256: &str) -> anyhow::Result<()> {
        let segments = segment::segments_of(report);
        if segments.len() > 1 {
            return self.split(job, report, &segments);
        }
        let mut notes = Vec::new();
        let barcode_request = match segments.first().and_then(|s| s.request.as_deref()) {
            Some(id) => self.known_request(id, &mut notes)?,
            None => None,
        };
        let request_id = job.request_id.clone().or(barcode_request.clone());
        let names = self.naming.from_file(Path::new(&job.source_name));
        let verdict = self.assess(job, request_id.as_deref(), report, names, notes)?;
        let patch = JobPatch {
            page_count: Some(report.pages_out as i64),
            output_sha256: Some(sha256.to_string()),
            request_id: if job.request_id.is_none() {
                barcode_request.clone()
            } else {
                None
            },
            claimed_by: Some(self.node.clone()),
            ..verdict.patch()
        };
        self.db.pages_record(&job.id, &verdict.rows)?;
        let event = verdict
            .event(&job.id, report, sha256)
            .details_merge(json!({ "matched_by_barcode": barcode_request }));
        self.db.job_transition(
            &job.id,
            &[JobState::Processing],
            verdict.state(),
            patch,
            event,
        )?;
        // A requester over ISO 18626 hears that its copy waits for a person.
        if let (Some(request), Some(why)) = (&request_id, verdict.hold_reason()) {
            quire_service::iso18626::will_supply(
                &*self.db,
                &self.deliverer.config().config.iso18626,
                request,
                &why.replace('\n', "; "),
            )?;
        }
        Ok(())
    }

    /// A batch with several documents: each becomes a job of its own, with its own PDF cut from
    /// the batch's output (no second OCR), its own report, request and verdict. The batch ends
    /// `split`; its originals stay in its spool folder until every document is delivered.
    fn split(&self, batch: &Job, report: &Report, segments: &[Segment]) -> anyhow::Result<()> {
        let dir = self.files().dir(batch);
        let mut documents = Vec::new();
        let mut empty = Vec::new();
        for (n, seg) in segments.iter().enumerate() {
            let pages = segment::output_pages(report, seg);
            if pages.is_empty() {
                empty.push(seg.request.clone().unwrap_or_else(|| "(none)".into()));
                continue;
            }
            let id = format!("{}-{}", batch.id, n + 1);
            let seg_dir = spool::document_in(&dir, n + 1);
            let output = spool::output_in(&seg_dir);
            let (bytes, sha256) =
                segment::extract_pages(&spool::output_in(&dir), &pages, &id, &output)?;
            let seg_report = segment::segment_report(report, seg, &output, bytes, &sha256);
            seg_report.write_json(&spool::report_in(&seg_dir))?;
            self.runtime
                .block_on(self.files().keep_output(&id, &output, &sha256))?;
            let mut notes = Vec::new();
            // Loose pages before the first sheet belong to the request the file name gave.
            let request_id = match &seg.request {
                Some(named) => self.known_request(named, &mut notes)?,
                None if seg.pages.start == 0 => batch.request_id.clone(),
                None => None,
            };
            let names = match seg.pages.start {
                0 => self.naming.from_file(Path::new(&batch.source_name)),
                _ => seg.request.clone(),
            };
            let first = seg_report.pages.first().map(|p| p.source_page).unwrap_or(0);
            let last = seg_report.pages.last().map(|p| p.source_page).unwrap_or(0);
            let mut job = Job {
                id: id.clone(),
                request_id: request_id.clone(),
                state: JobState::Processing,
                hold_reason: None,
                source_name: format!("{} (batch pages {first}–{last})", batch.source_name),
                spool_path: seg_dir.display().to_string(),
                source_sha256: batch.source_sha256.clone(),
                page_count: Some(seg_report.pages_out as i64),
                report_json: None,
                output_sha256: Some(sha256.clone()),
                error_code: None,
                error_message: None,
                created_at: quire_domain::Timestamp::UNIX_EPOCH,
                updated_at: quire_domain::Timestamp::UNIX_EPOCH,
                parent_job: Some(batch.id.clone()),
                claimed_by: None,
                lease_until: None,
                custody: Vec::new(),
            };
            let verdict = self.assess(&job, request_id.as_deref(), &seg_report, names, notes)?;
            job.state = verdict.state();
            job.hold_reason = verdict.hold_reason();
            job.report_json = Some(verdict.report_json.clone());
            let mut event = verdict
                .event(&id, &seg_report, &sha256)
                .details_merge(json!({ "batch": batch.id, "batch_pages": [first, last] }));
            if let Some(r) = &request_id {
                event = event.subject("request", r);
            }
            documents.push(SplitDocument {
                job,
                pages: verdict.rows,
                event,
            });
        }
        let ids: Vec<&str> = documents.iter().map(|d| d.job.id.as_str()).collect();
        let event = NewEvent::new("daemon", Action::JobSplit)
            .subject("job", &batch.id)
            .details(json!({
                "documents": ids,
                "sheets_without_pages": empty,
                "pages": report.pages_in,
                "tesseract_seconds": report.tesseract_seconds,
                "wall_seconds": report.wall_seconds,
            }));
        let patch = JobPatch {
            page_count: Some(report.pages_out as i64),
            report_json: Some(report.to_json()),
            output_sha256: Some(report.sha256.clone()),
            hold_reason: Some((!empty.is_empty()).then(|| {
                format!(
                    "cover sheet(s) with no pages after them: {}",
                    empty.join(", ")
                )
            })),
            ..self.mine()
        };
        self.db.job_split(&batch.id, patch, event, &documents)?;
        tracing::info!(job = %batch.id, documents = %ids.join(", "), "batch split into jobs");
        Ok(())
    }

    /// `id` if it names a known request; else a note on why the barcode needs a person.
    fn known_request(
        &self,
        id: &str,
        found: &mut Vec<HoldReason>,
    ) -> anyhow::Result<Option<String>> {
        Ok(match self.db.request_get(id)? {
            Some(r) => Some(r.id),
            None => {
                found.push(HoldReason::new(
                    code::COVER_UNKNOWN,
                    format!("the cover sheet names request {id}, and there is no such request"),
                ));
                None
            }
        })
    }

    /// Ready or held, and why (`quire_service::review::assess`: the request, the requested
    /// pages, the ISO 18626 state, quality findings under `[review]`), with near-duplicates of
    /// other jobs (`job` itself is left out of that search). `names` is the request the file
    /// name named, kept in the report so a request arriving later finds the scan.
    fn assess(
        &self,
        job: &Job,
        request_id: Option<&str>,
        report: &Report,
        names: Option<String>,
        found: Vec<HoldReason>,
    ) -> anyhow::Result<Verdict> {
        let rows = similar::page_rows(report);
        let near = similar::find(&self.db, &rows, Some(&job.id))?;
        let mut report_json: serde_json::Value = serde_json::from_str(&report.to_json())?;
        report_json["near_duplicates"] = serde_json::to_value(&near)?;
        report_json["names_request"] = serde_json::to_value(&names)?;
        let view: ReportView = serde_json::from_value(report_json.clone())?;
        let assessment = review::assess(
            &*self.db,
            &self.deliverer.config().config,
            job,
            request_id,
            &view,
            found,
        )?;
        Ok(Verdict {
            assessment,
            near: near.iter().map(|n| n.describe()).collect(),
            rows,
            report_json: report_json.to_string(),
        })
    }

    /// Delivers a ready job: stamped copy, stored, link, queued notice; then the originals
    /// leave the spool unless `[intake] keep_originals`. With store custody the PDF is fetched
    /// (verified) if this node lacks it, and the store's copies stay (see
    /// `quire_service::job_files`).
    fn deliver(&self, job: &Job) -> anyhow::Result<()> {
        let Some(request_id) = &job.request_id else {
            return Ok(());
        };
        let request = self
            .db
            .request_get(request_id)?
            .with_context(|| format!("request {request_id} vanished"))?;
        let dir = self.files().dir(job);
        let output = self.runtime.block_on(self.files().output(job))?;
        let pdf = std::fs::read(&output)?;
        let receipt = self.runtime.block_on(self.deliverer.deliver(
            &request,
            pdf,
            JobTie::Finish(&job.id),
            "daemon",
        ))?;
        tracing::info!(job = %job.id, delivery = %receipt.delivery_id, link = %receipt.link_id, "delivered");
        // The preservation master, while the originals are still in the spool.
        let preserved = self.preserve(job);
        if self.keep_originals || !preserved {
            return Ok(());
        }
        match &job.parent_job {
            None => remove_originals(&dir)?,
            // A batch's scan serves all its documents: it goes when the last one has.
            Some(batch) => {
                let documents = self.db.jobs_list(&JobFilter {
                    parent: Some(batch.clone()),
                    ..Default::default()
                })?;
                if documents.iter().all(|d| d.state == JobState::Delivered)
                    && documents.iter().all(|d| self.has_bag(d))
                    && let Some(b) = self.db.job_get(batch)?
                {
                    remove_originals(&self.files().dir(&b))?;
                }
            }
        }
        Ok(())
    }

    /// With `[preservation] enabled`, writes the job's bag (`quire_service::preserve`);
    /// returns whether its originals may leave the spool. A bag that cannot be written does
    /// not undo the delivery (the reader has the copy); the originals stay instead, with the
    /// error logged, so that `quire preserve JOB` can write the bag once the cause is fixed.
    fn preserve(&self, job: &Job) -> bool {
        let config = self.deliverer.config();
        if !config.config.preservation.enabled {
            return true;
        }
        let written = self.runtime.block_on(preserve::preserve_job(
            &*self.db,
            config,
            self.files(),
            &**self.deliverer.store(),
            job,
            "daemon",
        ));
        match written {
            Ok(p) => {
                tracing::info!(job = %job.id, bag = %p.location, "preservation master written");
                true
            }
            Err(e) => {
                tracing::error!(job = %job.id, error = %format!("{e:#}"), "could not write the preservation master; the originals stay in the spool for `quire preserve`");
                false
            }
        }
    }

    /// Whether `job` has its preservation master, or needs none. A store that cannot be
    /// asked counts as no bag: the originals stay.
    fn has_bag(&self, job: &Job) -> bool {
        let config = self.deliverer.config();
        !config.config.preservation.enabled
            || self
                .runtime
                .block_on(preserve::existing_bag(
                    config,
                    &**self.deliverer.store(),
                    &job.id,
                ))
                .is_ok_and(|bag| bag.is_some())
    }

    /// The code and reason of a refusal of `job` that a crash cut short (its note is written,
    /// the job not yet failed), read back from the note.
    fn interrupted_refusal(&self, job: &Job) -> Option<(String, String)> {
        let note = std::fs::read_to_string(self.quarantine.note(&job.id)).ok()?;
        let field = |name: &str| {
            note.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
        };
        Some((field("error code:")?, field("reason:")?))
    }

    /// Bad input: the originals go to quarantine with a note saying why; the job fails.
    ///
    /// The note is written first and the state last, so a crash in between is finished on
    /// the next try: the job is still `processing` (resumed as `received`), and
    /// [`Self::interrupted_refusal`] finds the note and completes the refusal, rather than
    /// finding no originals in the spool and failing the job for that.
    fn fail(&self, job: &Job, dir: &Path, code: &str, reason: &str) -> anyhow::Result<()> {
        let target = self.quarantine.folder(&job.id);
        std::fs::create_dir_all(&target)?;
        let note = format!(
            "job: {}\nsource: {}\nerror code: {code}\nreason: {reason}\n",
            job.id,
            job.source_name_shown(),
        );
        let note_path = self.quarantine.note(&job.id);
        std::fs::write(&note_path, note)?;
        // Whatever is still in the spool (all of it, or what a cut-short move left). With store
        // custody this node may never have fetched them: nothing to move, the store keeps them.
        let here = if dir.exists() {
            custody::originals(dir)?
        } else {
            Vec::new()
        };
        for original in here {
            let name = original.file_name().unwrap_or_default();
            std::fs::rename(&original, target.join(name))?;
        }
        let patch = JobPatch {
            error: Some((code.to_string(), reason.to_string())),
            ..self.mine()
        };
        let event = NewEvent::new("daemon", Action::JobFailed)
            .subject("job", &job.id)
            .details(json!({
                "code": code,
                "reason": reason,
                "quarantined_to": target.display().to_string(),
            }));
        self.db.job_transition(
            &job.id,
            &[JobState::Processing],
            JobState::Failed,
            patch,
            event,
        )?;
        let _ = std::fs::remove_file(spool::output_in(dir));
        tracing::warn!(job = %job.id, code, reason, quarantine = %target.display(), "scan refused and quarantined");
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What became of one try at a queued job.
enum Attempt {
    /// Processed, refused, or counted as a failed try: the worker goes on.
    Done,
    /// Back in the queue because the disk is full.
    NoSpace,
}

/// Why a try at a job failed, other than the scan being bad.
struct Trouble {
    code: &'static str,
    what: String,
}

/// This worker's hold on a job it is delivering; let go however the delivery ends, a panic
/// included, so the job is never left unclaimable.
struct Claim<'a> {
    set: &'a Mutex<HashSet<String>>,
    job: String,
}

impl<'a> Claim<'a> {
    fn take(set: &'a Mutex<HashSet<String>>, job: &str) -> Option<Self> {
        lock(set).insert(job.to_string()).then(|| Self {
            set,
            job: job.to_string(),
        })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        lock(self.set).remove(&self.job);
    }
}

/// Panics inside one job's processing, caught so that they end the job's try, not the worker.
mod panics {
    use std::cell::RefCell;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Once;

    thread_local! {
        /// Where the last panic on this thread happened, as the panic hook saw it.
        static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
    }

    /// Keeps each panic's file and line for [`catch`]'s message; the default report on stderr
    /// still happens.
    pub fn record_locations() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if let Some(l) = info.location() {
                    let at = format!("{}:{}", l.file(), l.line());
                    LOCATION.with(|c| *c.borrow_mut() = Some(at));
                }
                previous(info);
            }));
        });
    }

    /// Runs `f`; a panic becomes `Err` with its message and, when known, where it happened.
    /// Whatever `f` shares is either owned by the job (dropped) or kept consistent by its own
    /// locks, which this code opens past poisoning; so carrying on after the panic is sound.
    pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
        LOCATION.with(|c| c.borrow_mut().take());
        catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string());
            match LOCATION.with(|c| c.borrow_mut().take()) {
                Some(at) => format!("{message} (at {at})"),
                None => message,
            }
        })
    }
}

/// A deliberate panic for the end-to-end tests of the worker's recovery, in debug builds only
/// (release builds have no such switch). With `QUIRE_TEST_PANIC_ON=TEXT` set, processing a job
/// whose input file name contains TEXT panics, as a decoder bug would.
mod test_fault {
    /// The input whose name contains the value of the environment variable `var`, if set.
    #[cfg(debug_assertions)]
    fn named<'a>(inputs: &'a [std::path::PathBuf], var: &str) -> Option<&'a std::path::Path> {
        let text = std::env::var_os(var)?;
        let text = text.to_string_lossy();
        inputs
            .iter()
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(text.as_ref()))
            })
            .map(|p| p.as_path())
    }

    #[cfg(debug_assertions)]
    pub fn before_processing(inputs: &[std::path::PathBuf]) {
        if let Some(hit) = named(inputs, "QUIRE_TEST_PANIC_ON") {
            panic!("test fault: QUIRE_TEST_PANIC_ON matched {}", hit.display());
        }
        // A worker that hangs on a scan, for tests that kill a node mid-job.
        if named(inputs, "QUIRE_TEST_STALL_ON").is_some() {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }

    #[cfg(not(debug_assertions))]
    pub fn before_processing(_inputs: &[std::path::PathBuf]) {}
}

fn remove_originals(dir: &Path) -> anyhow::Result<()> {
    for original in custody::originals(dir)? {
        let removed = if original.is_dir() {
            std::fs::remove_dir_all(&original)
        } else {
            std::fs::remove_file(&original)
        };
        if let Err(e) = removed {
            tracing::warn!(path = %original.display(), error = %e, "could not remove an original after delivery");
        }
    }
    Ok(())
}

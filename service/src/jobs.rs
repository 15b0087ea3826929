//! The technician's decisions on a job: release, hold, process again, match to a request.
//! `quire job …` and the console's job page both call these.

use serde_json::json;

use crate::job_files::JobFiles;
use quire_config::Config;
use quire_domain::Action;
use quire_domain::hold::{HoldReason, HoldReasons, code};
use quire_domain::spool::{self, Quarantine};
use quire_state::{Database, Job, JobPatch, JobState, NewEvent, StateError};

/// Held → ready for delivery.
pub fn release(
    db: &dyn Database,
    job: &str,
    actor: &str,
    reason: Option<String>,
) -> Result<Job, StateError> {
    let event = NewEvent::new(actor, Action::JobReleased)
        .subject("job", job)
        .details(json!({ "reason": reason }));
    let patch = JobPatch {
        hold_reason: Some(None),
        ..Default::default()
    };
    db.job_transition(job, &[JobState::Held], JobState::Processed, patch, event)
}

/// Ready → held, with the reason shown in the queue.
pub fn hold(
    db: &dyn Database,
    job: &str,
    actor: &str,
    who: &str,
    reason: &str,
) -> Result<Job, StateError> {
    let event = NewEvent::new(actor, Action::JobHeld)
        .subject("job", job)
        .details(json!({ "reason": reason }));
    let patch = JobPatch {
        hold_reason: Some(
            HoldReasons(vec![HoldReason::new(
                code::STAFF,
                format!("held by {who}: {reason}"),
            )])
            .to_text(),
        ),
        ..Default::default()
    };
    db.job_transition(job, &[JobState::Processed], JobState::Held, patch, event)
}

/// `request` ended (cancelled over ISO 18626 or the API, or declined by staff): its jobs
/// waiting to be delivered are held by `who` for `reason`, so that no copy goes out. A job
/// still being processed is held when it finishes (the worker asks
/// [`crate::review::ill_hold_reason`]).
pub fn hold_for_cancel(
    db: &dyn Database,
    request: &str,
    who: &str,
    reason: &str,
) -> Result<(), StateError> {
    let jobs = db.jobs_list(&quire_state::JobFilter {
        states: vec![JobState::Processed],
        ..Default::default()
    })?;
    for job in jobs
        .iter()
        .filter(|j| j.request_id.as_deref() == Some(request))
    {
        match hold(db, &job.id, "daemon", who, reason) {
            Ok(_) | Err(StateError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Back to the queue from held, processed or failed; a failed job's original comes back from
/// quarantine first (into the job's folder on this node, see [`JobFiles`]; with store custody
/// an original not in this node's quarantine is fetched from the store by the worker).
pub fn reprocess(
    db: &dyn Database,
    quarantine: &std::path::Path,
    files: &JobFiles,
    job: &str,
    actor: &str,
) -> Result<Job, StateError> {
    let current = db
        .job_get(job)?
        .ok_or_else(|| StateError::NotFound(format!("no job {job}")))?;
    // A document of a batch has no original of its own: the batch is what can be redone.
    if let Some(batch) = &current.parent_job {
        return Err(StateError::Conflict(format!(
            "job {job} was cut from batch {batch}; it has no scan of its own to process again"
        )));
    }
    if current.state == JobState::Split {
        return Err(StateError::Conflict(format!(
            "job {job} is a batch already split into jobs; review those jobs instead"
        )));
    }
    if current.state == JobState::Failed {
        restore_from_quarantine(quarantine, &files.dir(&current), &current)
            .map_err(|e| StateError::Callback(format!("job {job}: {e}")))?;
    }
    let event = NewEvent::new(actor, Action::JobReprocess).subject("job", job);
    let patch = JobPatch {
        hold_reason: Some(None),
        ..Default::default()
    };
    let queued = db.job_transition(
        job,
        &[JobState::Held, JobState::Failed, JobState::Processed],
        JobState::Received,
        patch,
        event,
    )?;
    // A person asked for another go: earlier failed tries no longer count against it.
    db.job_attempts_clear(job)?;
    Ok(queued)
}

/// How a job came to be matched to its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    /// A person chose the request (console, CLI, API).
    Person,
    /// The request arrived after the scan, and the scan's file name names it.
    FileName,
}

/// A job matched to a request, and what is left before it can go out.
#[derive(Debug, Clone)]
pub struct Matched {
    pub job: Job,
    pub request: String,
    /// What still needs a person (empty: the job is ready and goes out by itself).
    pub left: HoldReasons,
}

impl Matched {
    /// What the console and `quire job match` say, the same words: ready, or what is left and
    /// the one next step.
    pub fn summary(&self) -> String {
        match self.job.state {
            JobState::Processed => format!(
                "matched to request {}: nothing else needs a person, so it goes out for delivery now",
                self.request
            ),
            JobState::Held => {
                let left: Vec<String> = self.left.0.iter().map(|r| r.sentence()).collect();
                format!(
                    "matched to request {}; still held: {}. Next: {}.",
                    self.request,
                    left.join("; "),
                    self.left
                        .next_step()
                        .unwrap_or("release it when it is right")
                )
            }
            state => format!(
                "matched to request {}; the job is {state}, and is checked against the request \
                 when its processing ends",
                self.request
            ),
        }
    }
}

/// Attaches a job to an existing request. A processed or held job is checked again for the
/// new request at once ([`crate::review::assess`]: missing pages, the ISO 18626 state, a live
/// earlier copy; the pages' own findings stay): if nothing needs a person it becomes ready and
/// is delivered, otherwise it stays held with what is left. A job not processed yet is checked
/// when processing ends.
pub fn match_request(
    db: &dyn Database,
    config: &Config,
    job: &str,
    request: &str,
    actor: &str,
    by: MatchedBy,
) -> Result<Matched, StateError> {
    let current = db
        .job_get(job)?
        .ok_or_else(|| StateError::NotFound(format!("no job {job}")))?;
    let request = db
        .request_get(request)?
        .ok_or_else(|| StateError::NotFound(format!("no request {request}")))?
        .id;
    if matches!(current.state, JobState::Delivered | JobState::Split) {
        return Err(StateError::Conflict(format!(
            "job {job} is {}: there is nothing left to match",
            current.state
        )));
    }
    let mut event = NewEvent::new(actor, Action::JobMatched)
        .subject("job", job)
        .subject("request", &request);
    let mut patch = JobPatch {
        request_id: Some(request.clone()),
        ..Default::default()
    };
    let mut to = current.state;
    let mut left = HoldReasons::default();
    let report = crate::review::ReportView::of(&current);
    if let (JobState::Held | JobState::Processed, Some(report)) = (current.state, &report) {
        // A person's own hold stays; what the old request (or its absence) said goes.
        let kept: Vec<HoldReason> = HoldReasons::parse(current.hold_reason.as_deref())
            .0
            .into_iter()
            .filter(|r| r.code.as_deref() == Some(code::STAFF))
            .collect();
        let assessment = crate::review::assess(db, config, &current, Some(&request), report, kept)?;
        to = assessment.state();
        left = assessment.reasons;
        patch.hold_reason = Some(left.to_text());
    }
    event = event.details(json!({
        "by": match by { MatchedBy::Person => "person", MatchedBy::FileName => "file name" },
        "file_name_says": report.as_ref().and_then(|r| r.names_request.clone()),
        "outcome": match to { JobState::Processed => "ready", JobState::Held => "held", _ => "not processed yet" },
        "left": left.0.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        "next_step": left.next_step(),
    }));
    let job = db.job_transition(job, &[current.state], to, patch, event)?;
    Ok(Matched { job, request, left })
}

/// A request just added: held scans whose file name named it, waiting unmatched, are matched
/// to it now ([`MatchedBy::FileName`], audited as the daemon's). `also_named` are other ids the
/// request is known by (the requester's own id, for a request that came over ISO 18626). A job
/// another node changes at the same moment is left to that node.
pub fn match_waiting(
    db: &dyn Database,
    config: &Config,
    request: &str,
    also_named: &[&str],
) -> Result<Vec<Matched>, StateError> {
    let waiting = db.jobs_list(&quire_state::JobFilter {
        states: vec![JobState::Held],
        unmatched: true,
        limit: 1000,
        ..Default::default()
    })?;
    let mut matched = Vec::new();
    for job in waiting {
        let names = crate::review::ReportView::of(&job).and_then(|r| r.names_request);
        let named = |n: &String| {
            std::iter::once(request)
                .chain(also_named.iter().copied())
                .any(|id| n.eq_ignore_ascii_case(id))
        };
        if names.as_ref().is_some_and(named) {
            match match_request(db, config, &job.id, request, "daemon", MatchedBy::FileName) {
                Ok(m) => matched.push(m),
                Err(StateError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(matched)
}

/// Request ids like `typed`, for a match box that named none: the closest known ids first.
pub fn similar_requests(db: &dyn Database, typed: &str) -> Result<Vec<String>, StateError> {
    let typed = typed.trim().to_ascii_uppercase();
    let mut scored: Vec<(f64, String)> = db
        .requests_list(5000)?
        .into_iter()
        .map(|r| {
            let score = strsim::jaro_winkler(&typed, &r.id.to_ascii_uppercase());
            (score, r.id)
        })
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Ok(scored.into_iter().take(5).map(|(_, id)| id).collect())
}

fn restore_from_quarantine(
    quarantine: &std::path::Path,
    dir: &std::path::Path,
    job: &Job,
) -> std::io::Result<()> {
    let quarantine = Quarantine::new(quarantine);
    let held = quarantine.folder(&job.id);
    std::fs::create_dir_all(dir)?;
    if held.is_dir() {
        for entry in std::fs::read_dir(&held)? {
            let p = entry?.path();
            std::fs::rename(&p, dir.join(p.file_name().unwrap_or_default()))?;
        }
        std::fs::remove_dir(&held)?;
    }
    let mut originals = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| spool::is_original(&e.file_name().to_string_lossy()));
    if originals.next().is_none() && job.custody.is_empty() {
        return Err(std::io::Error::other("the original is gone"));
    }
    let _ = std::fs::remove_file(quarantine.note(&job.id));
    Ok(())
}

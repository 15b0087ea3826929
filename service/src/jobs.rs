//! The technician's decisions on a job: release, hold, process again, match to a request.
//! `quire job …` and the console's job page both call these.

use serde_json::json;

use crate::job_files::JobFiles;
use quire_domain::Action;
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
        hold_reason: Some(Some(format!("held by {who}: {reason}"))),
        ..Default::default()
    };
    db.job_transition(job, &[JobState::Processed], JobState::Held, patch, event)
}

/// `request` ended over ISO 18626 (the requester cancelled it, or staff declined it): its jobs waiting to be delivered are held,
/// so that no copy goes out. A job still being processed is held when it finishes (the worker
/// asks [`ill_hold_reason`]).
pub fn hold_for_cancel(db: &dyn Database, request: &str) -> Result<(), StateError> {
    let jobs = db.jobs_list(&quire_state::JobFilter {
        states: vec![JobState::Processed],
        ..Default::default()
    })?;
    for job in jobs
        .iter()
        .filter(|j| j.request_id.as_deref() == Some(request))
    {
        match hold(
            db,
            &job.id,
            "daemon",
            "the requester",
            "cancelled over ISO 18626",
        ) {
            Ok(_) | Err(StateError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Why a job for `request` must wait for a person, from its ISO 18626 transaction: the
/// requester cancelled it, or gave no copyright basis Quire knows.
pub fn ill_hold_reason(db: &dyn Database, request: &str) -> Result<Option<String>, StateError> {
    Ok(match db.ill_of_request(request)? {
        Some(t) if t.status == quire_state::IllStatus::Cancelled => {
            Some("the requester cancelled this request (ISO 18626)".into())
        }
        Some(t) if t.status == quire_state::IllStatus::Unfilled => {
            Some("declined: the requester was told Unfilled (ISO 18626)".into())
        }
        Some(t) if !t.basis_given => Some(
            "the requester gave no copyright basis Quire knows (US-CCG or US-CCL): set one before release"
                .into(),
        ),
        _ => None,
    })
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

/// Attaches a job to an existing request, whatever its state.
pub fn match_request(
    db: &dyn Database,
    job: &str,
    request: &str,
    actor: &str,
) -> Result<Job, StateError> {
    let current = db
        .job_get(job)?
        .ok_or_else(|| StateError::NotFound(format!("no job {job}")))?;
    db.request_get(request)?
        .ok_or_else(|| StateError::NotFound(format!("no request {request}")))?;
    let event = NewEvent::new(actor, Action::JobMatched)
        .subject("job", job)
        .subject("request", request);
    let patch = JobPatch {
        request_id: Some(request.to_string()),
        ..Default::default()
    };
    db.job_transition(job, &[current.state], current.state, patch, event)
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

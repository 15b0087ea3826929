//! Whether a processed job needs a person, decided in one place: from the job's quality report,
//! its request, and `[review]`. The worker decides with [`assess`] when processing ends;
//! matching a job to a request ([`crate::jobs::match_request`]) decides again with it, so the
//! console, the CLI and a late request's automatic match all hold or release a job the same way.
//!
//! Reads the report as stored with the job (`jobs.report_json`, written by the pipeline), not
//! the pipeline's types, so a job can be re-assessed long after its processing.

use serde::Deserialize;

use quire_config::Config;
use quire_config::review::ReviewAction;
use quire_domain::hold::{HoldReason, HoldReasons, code};
use quire_domain::pages::{self, RequestedPages};
use quire_state::{Database, Job, JobState, LinkState, StateError, Timestamp};

/// The part of a job's stored quality report a hold is decided from.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportView {
    #[serde(default)]
    pub pages: Vec<PageView>,
    #[serde(default)]
    pub pages_out: usize,
    /// The request the scan's file name (or folder) named, when it named one: kept so that a
    /// request arriving later finds its held scan.
    #[serde(default)]
    pub names_request: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageView {
    pub source_page: usize,
    pub output_page: Option<usize>,
    #[serde(default)]
    pub blank: bool,
    #[serde(default)]
    pub warnings: Vec<WarningView>,
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct WarningView {
    pub code: String,
    pub message: String,
}

impl ReportView {
    /// The job's stored report; an unprocessed job has none (and nothing to assess).
    pub fn of(job: &Job) -> Option<ReportView> {
        serde_json::from_str(job.report_json.as_deref()?).ok()
    }
}

/// What the report's pages say, sorted by `[review]`.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Every finding as `page N: sentence`, whatever its action: for the audit event.
    pub all: Vec<String>,
    /// Those `[review]` holds for.
    pub held: Vec<HoldReason>,
    /// Those `[review]` only notes (a corrected skew, an assumed resolution).
    pub noted: Vec<String>,
}

/// Every page finding (the pipeline's warnings, and blank pages left in) and what `[review]`
/// makes of each.
pub fn findings(config: &Config, report: &ReportView) -> Findings {
    let mut out = Findings::default();
    let mut sort = |page: Option<usize>, code: &str, text: String| {
        let reason = HoldReason {
            page,
            text,
            code: Some(code.to_string()),
        };
        out.all.push(reason.sentence());
        match config.review.action(code) {
            ReviewAction::Hold => out.held.push(reason),
            ReviewAction::Note => out.noted.push(reason.to_string()),
            ReviewAction::Ignore => {}
        }
    };
    for p in &report.pages {
        for w in &p.warnings {
            sort(Some(p.source_page), &w.code, w.message.clone());
        }
        if p.blank && p.output_page.is_some() {
            sort(
                Some(p.source_page),
                "page.blank",
                "the page is blank".into(),
            );
        }
    }
    let has_content = report
        .pages
        .iter()
        .any(|p| p.output_page.is_some() && !p.blank);
    if !report.pages.is_empty() && !has_content {
        sort(None, "scan.blank", "every page of the scan is blank".into());
    }
    out
}

/// The outcome of an assessment: held for these reasons (none: ready for delivery).
#[derive(Debug, Clone, Default)]
pub struct Assessment {
    pub reasons: HoldReasons,
    pub findings: Findings,
}

impl Assessment {
    pub fn state(&self) -> JobState {
        if self.reasons.is_empty() {
            JobState::Processed
        } else {
            JobState::Held
        }
    }
}

/// Held or ready, and why, for `job` with its report, as a scan for `request` (`None`:
/// unmatched). `found` are reasons the caller found already (a cover sheet naming an unknown
/// request).
pub fn assess(
    db: &dyn Database,
    config: &Config,
    job: &Job,
    request: Option<&str>,
    report: &ReportView,
    found: Vec<HoldReason>,
) -> Result<Assessment, StateError> {
    let mut reasons = HoldReasons(found);
    let request = match request {
        Some(id) => db.request_get(id)?,
        None => None,
    };
    match &request {
        // What the name said, so the person knows whether to fix a typo or add a request.
        None => reasons.push(HoldReason::new(
            code::UNMATCHED,
            match &report.names_request {
                Some(id) => format!(
                    "no request matched: the file name says {id}, and there is no such request"
                ),
                None => "no request matched: the file name names no request".to_string(),
            },
        )),
        Some(r) => {
            if let Some(problem) = r.pages.as_deref().and_then(|p| page_problem(p, report)) {
                reasons.push(HoldReason::new(code::PAGES, problem));
            }
            if let Some(c) = db.request_cancellation(&r.id)? {
                reasons.push(HoldReason::new(
                    code::ENDED,
                    format!("the request was cancelled by {}: {}", c.by, c.reason),
                ));
            }
            if let Some(why) = ill_hold_reason(db, &r.id)? {
                reasons.push(why);
            }
            if let Some(why) = rescan_of_live_copy(db, config, job, &r.id)? {
                reasons.push(HoldReason::new(code::RESCAN_LIVE, why));
            }
        }
    }
    let findings = findings(config, report);
    reasons.0.extend(findings.held.iter().cloned());
    Ok(Assessment { reasons, findings })
}

/// Why a job for `request` must wait for a person, from its ISO 18626 transaction: the
/// requester cancelled it, was told it is declined, or gave no copyright basis Quire knows.
pub fn ill_hold_reason(db: &dyn Database, request: &str) -> Result<Option<HoldReason>, StateError> {
    Ok(match db.ill_of_request(request)? {
        Some(t) if t.status == quire_state::IllStatus::Cancelled => Some(HoldReason::new(
            code::ENDED,
            "the requester cancelled this request (ISO 18626)",
        )),
        Some(t) if t.status == quire_state::IllStatus::Unfilled => Some(HoldReason::new(
            code::ENDED,
            "declined: the requester was told Unfilled (ISO 18626)",
        )),
        Some(t) if !t.basis_given => Some(HoldReason::new(
            code::BASIS,
            "the requester gave no copyright basis Quire knows (US-CCG or US-CCL)",
        )),
        _ => None,
    })
}

/// An identical rescan (same bytes) of a request whose earlier copy from that scan is still
/// downloadable: the borrower has it, so a second copy waits for a person (it would also count
/// again). Only under `duplicates = "warn"`; `skip` held it at intake already.
fn rescan_of_live_copy(
    db: &dyn Database,
    config: &Config,
    job: &Job,
    request: &str,
) -> Result<Option<String>, StateError> {
    if config.intake.duplicates != quire_config::DuplicatePolicy::Warn {
        return Ok(None);
    }
    let delivered: Vec<Job> = db
        .jobs_with_source(&job.source_sha256, &job.id)?
        .into_iter()
        .filter(|j| j.state == JobState::Delivered && j.request_id.as_deref() == Some(request))
        .collect();
    let Some(earlier) = delivered.first() else {
        return Ok(None);
    };
    let now = Timestamp::now();
    let live = db
        .links_list(Some(request))?
        .into_iter()
        .find(|(l, d)| l.state(d.state, now) == LinkState::Active);
    Ok(live.map(|(l, _)| {
        format!(
            "the same scan was delivered for request {request} already (job {}), and its link {} \
             is still active: the borrower has the copy",
            earlier.id, l.id
        )
    }))
}

/// Compares the requested page range with what was scanned: by printed page numbers where OCR
/// found them (naming the gaps), else by count. `None` when it fits or cannot be judged.
pub fn page_problem(requested: &str, report: &ReportView) -> Option<String> {
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

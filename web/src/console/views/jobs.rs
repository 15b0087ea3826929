//! The technician's pages: the live job queue, the unmatched-scans queue, one job with the
//! quality findings of each page, and the actions release, reprocess and match-to-request.
//! Each action is the same compare-and-set state transition `quire job` makes, audited with the
//! staff member as actor.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{PageResult, blocking, done, page, v};
use crate::AppState;
use crate::console::auth::Area;
use crate::console::csrf;
use crate::console::session::Staff;

use quire_service::jobs;
use quire_state::{Job, JobFilter, JobState, StateError};

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    state: Option<String>,
    done: Option<String>,
}

/// The warning codes in a job's stored report, for the queue's QA column.
fn flags(job: &Job) -> Vec<String> {
    let Some(report) = job
        .report_json
        .as_deref()
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
    else {
        return vec![];
    };
    let mut codes: Vec<String> = report["pages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["warnings"].as_array().cloned().unwrap_or_default())
        .filter_map(|w| w["code"].as_str().map(str::to_string))
        .collect();
    if report["near_duplicates"]
        .as_array()
        .is_some_and(|n| !n.is_empty())
    {
        codes.push("near_duplicate".into());
    }
    codes.sort();
    codes.dedup();
    codes
}

fn row(job: &Job) -> Value {
    let mut v = serde_json::to_value(job).unwrap_or(Value::Null);
    v["flags"] = json!(flags(job));
    v["hold_lines"] = json!(
        quire_domain::hold::HoldReasons::parse(job.hold_reason.as_deref())
            .0
            .iter()
            .map(|r| r.sentence())
            .collect::<Vec<_>>()
    );
    v
}

async fn list(state: AppState, staff: Staff, q: QueueQuery, unmatched: bool) -> PageResult {
    staff.require(Area::Jobs)?;
    let states: Vec<JobState> = q
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
        .into_iter()
        .collect();
    let jobs = blocking(&state, &staff, move |db| {
        db.jobs_list(&JobFilter {
            states,
            unmatched,
            limit: 500,
            ..Default::default()
        })
    })
    .await?;
    let rows: Vec<Value> = jobs.iter().map(row).collect();
    let counts: Vec<(String, usize)> = [
        JobState::Received,
        JobState::Processing,
        JobState::Held,
        JobState::Processed,
        JobState::Delivered,
        JobState::Failed,
        JobState::Split,
    ]
    .iter()
    .map(|&s| (s.to_string(), jobs.iter().filter(|j| j.state == s).count()))
    .collect();
    let intake = intake_notes(&state);
    Ok(page(
        &staff,
        "jobs.html",
        context! { jobs => v(&rows), unmatched, filter => q.state, counts, done => q.done, title => if unmatched { "Unmatched scans" } else { "Job queue" }, intake => v(&intake) },
    ))
}

/// What the technician must know about intake that no job shows: why it is paused (a full
/// disk, a dead or stuck worker), inbox entries left in place, and entries refused into
/// quarantine without becoming jobs.
fn intake_notes(state: &AppState) -> Value {
    let health = &state.intake;
    let ignored: Vec<Value> = health
        .ignored_entries()
        .into_iter()
        .map(|i| json!({"name": i.name, "reason": i.reason}))
        .collect();
    let refused: Vec<Value> = health
        .refused_entries()
        .into_iter()
        .map(|r| json!({"name": r.name, "reason": r.reason, "quarantined_to": r.quarantined_to}))
        .collect();
    json!({ "problems": health.problems(), "ignored": ignored, "refused": refused })
}

#[derive(Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    request: String,
}

/// `GET /staff/find?request=TN1`: what a keyboard-wedge barcode scanner types on the queue
/// page (the id, then Enter). Goes to the request's one open job, the request when it has
/// several or none, or the unmatched queue when no such request exists, saying so.
pub async fn find(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<FindQuery>,
) -> PageResult {
    staff.require(Area::Jobs)?;
    let typed = q.request.trim().to_string();
    let wanted = typed.clone();
    let (request, open) = blocking(&state, &staff, move |db| {
        let Some(request) = db.request_get(&wanted)? else {
            return Ok((None, Vec::new()));
        };
        let jobs = db.jobs_list(&JobFilter {
            request: Some(request.id.clone()),
            limit: 100,
            ..Default::default()
        })?;
        let open: Vec<Job> = jobs
            .into_iter()
            .filter(|j| !matches!(j.state, JobState::Delivered | JobState::Split))
            .collect();
        Ok((Some(request.id), open))
    })
    .await?;
    Ok(match (request, open.as_slice()) {
        (None, _) => done(
            "/staff/unmatched",
            &format!("no request {typed}: if its scan is here, open it and match it"),
        ),
        (Some(_), [one]) => done(
            &format!("/staff/jobs/{}", super::urlencode(&one.id)),
            &format!("the scan for request {typed}"),
        ),
        (Some(id), jobs) => done(
            &format!("/staff/requests/{}", super::urlencode(&id)),
            &format!("request {id}: {} open jobs", jobs.len()),
        ),
    })
}

pub async fn queue(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<QueueQuery>,
) -> PageResult {
    list(state, staff, q, false).await
}

pub async fn unmatched(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<QueueQuery>,
) -> PageResult {
    list(state, staff, q, true).await
}

/// One report page as the template shows it. "Printed page no." says `missing` only when
/// it matters: the request asks for pages, and no number was read on this page.
fn page_findings(p: &Value, pages_requested: bool) -> Value {
    let printed = p["printed_page_number"].as_str().map(str::to_string);
    json!({
        "page": p["output_page"],
        "source_page": p["source_page"],
        "skew": p["skew"]["angle_deg"].as_f64().map(|a| format!("{a:.2}°")),
        "rotated": p["rotation_applied"],
        "ocr": p["mean_ocr_confidence"].as_f64().map(|c| format!("{c:.0}")),
        "low_ocr": p["mean_ocr_confidence"].as_f64().is_some_and(|c| c < 60.0),
        "words": p["word_count"],
        "printed": printed,
        "printed_missing": printed.is_none() && pages_requested && p["output_page"].is_u64(),
        "blank": p["blank"].as_bool() == Some(true),
        "warnings": p["warnings"].as_array().into_iter().flatten()
            .map(|w| json!({"text": w["message"].as_str().unwrap_or(""), "code": w["code"]}))
            .collect::<Vec<_>>(),
    })
}

/// A held job's reasons, one sentence per line, grouped by page (the job-wide ones first),
/// codes as small labels; and the one next step.
fn reasons(job: &Job) -> Value {
    let reasons = quire_domain::hold::HoldReasons::parse(job.hold_reason.as_deref());
    let mut groups: Vec<(Option<usize>, Vec<Value>)> = Vec::new();
    let mut sorted = reasons.0.clone();
    sorted.sort_by_key(|r| r.page.map_or(0, |p| p + 1));
    for r in &sorted {
        let item = json!({ "text": r.text, "code": r.code });
        match groups.last_mut() {
            Some((page, items)) if *page == r.page => items.push(item),
            _ => groups.push((r.page, vec![item])),
        }
    }
    json!({
        "groups": groups.into_iter().map(|(page, items)| json!({"page": page, "items": items})).collect::<Vec<_>>(),
        "next_step": reasons.next_step(),
    })
}

/// What the match box was given and why it matched nothing: shown beside the field.
#[derive(serde::Serialize, Default)]
struct MatchError {
    typed: String,
    message: String,
    suggestions: Vec<String>,
}

pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<QueueQuery>,
) -> PageResult {
    staff.require(Area::Jobs)?;
    job_page(&state, &staff, id, q.done, None).await
}

async fn job_page(
    state: &AppState,
    staff: &Staff,
    id: String,
    done: Option<String>,
    match_error: Option<MatchError>,
) -> PageResult {
    let (job, documents, request) = blocking(state, staff, move |db| {
        let job = db
            .job_get(&id)?
            .ok_or_else(|| quire_state::StateError::NotFound(format!("no job {id}")))?;
        let documents = db.jobs_list(&JobFilter {
            parent: Some(id.clone()),
            ..Default::default()
        })?;
        let request = match &job.request_id {
            Some(r) => db.request_get(r)?,
            None => None,
        };
        Ok((job, documents, request))
    })
    .await?;
    let documents: Vec<Value> = documents.iter().map(row).collect();
    let report = report_of(&job);
    let pages_requested = request.as_ref().is_some_and(|r| r.pages.is_some());
    let pages: Vec<Value> = report["pages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| page_findings(p, pages_requested))
        .collect();
    let near = report["near_duplicates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // A store that cannot be asked just shows no bag; the page is about the job.
    let bag = match quire_service::preserve::existing_bag(
        &state.console.config,
        &**state.deliverer.store(),
        &job.id,
    )
    .await
    {
        Ok(Some(location)) => Some(json!({
            "location": location.to_string(),
            "in_store": matches!(location, quire_service::preserve::BagLocation::Store(_)),
        })),
        _ => None,
    };
    let mut resp = page(
        staff,
        "job.html",
        context! {
            job => v(&row(&job)), pages => v(&pages), near => v(&near), done,
            documents => v(&documents), reasons => v(&reasons(&job)),
            match_error => v(&match_error),
            can_release => job.state == JobState::Held,
            can_hold => job.state == JobState::Processed,
            can_reprocess => matches!(job.state, JobState::Held | JobState::Processed),
            can_match => !matches!(job.state, JobState::Delivered | JobState::Split),
            can_redeliver => job.state == JobState::Delivered,
            has_pdf => job.output_sha256.is_some(),
            bag => v(&bag),
        },
    );
    if match_error.is_some() {
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    request: String,
    /// A suggested request id the technician picked under a typo (it wins over the field).
    #[serde(default)]
    pick: String,
}

/// One change to a job from its page: `change` runs as the staff member on the job `id`, then
/// back to the job's page with `note`. The caller has checked the role and the CSRF token.
async fn change_job<T: Send + 'static>(
    state: &AppState,
    staff: &Staff,
    id: String,
    note: &str,
    change: impl FnOnce(&dyn quire_state::Database, &str, &str) -> Result<T, StateError>
    + Send
    + 'static,
) -> PageResult {
    let (job, actor) = (id.clone(), staff.actor());
    blocking(state, staff, move |db| change(db, &job, &actor)).await?;
    Ok(done(
        &format!("/staff/jobs/{}", super::urlencode(&id)),
        note,
    ))
}

pub async fn release(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> PageResult {
    staff.require(Area::Jobs)?;
    csrf::check(&staff, &f.csrf)?;
    let reason = Some(f.reason.trim().to_string()).filter(|r| !r.is_empty());
    change_job(
        &state,
        &staff,
        id,
        "released: ready for delivery",
        move |db, job, actor| jobs::release(db, job, actor, reason),
    )
    .await
}

/// Stops a processed job from going out until someone releases it; the reason is required
/// and shows in the queue.
pub async fn hold(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> PageResult {
    staff.require(Area::Jobs)?;
    csrf::check(&staff, &f.csrf)?;
    let reason = f.reason.trim().to_string();
    if reason.is_empty() {
        return Err(super::error_page(
            &staff,
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "Not held",
            "Say why the job must wait.",
        ));
    }
    let who = staff.user.name.clone();
    change_job(
        &state,
        &staff,
        id,
        "held for review",
        move |db, job, actor| jobs::hold(db, job, actor, &who, &reason),
    )
    .await
}

/// From held, processed or failed (a failed job's original comes back from quarantine).
pub async fn reprocess(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> PageResult {
    staff.require(Area::Jobs)?;
    csrf::check(&staff, &f.csrf)?;
    let quarantine = state.console.config.quarantine_dir();
    let files = state.deliverer.files().clone();
    change_job(
        &state,
        &staff,
        id,
        "queued for processing again",
        move |db, job, actor| jobs::reprocess(db, &quarantine, &files, job, actor),
    )
    .await
}

/// Matches the job to a request, then checks it again for that request: it goes out if
/// nothing else needs a person, or stays held with what is left and the next step. A request
/// id that names nothing keeps the technician on the job page, with the error beside the field
/// and similar request ids to pick from.
pub async fn match_request(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Result<Response, Response> {
    staff.require(Area::Jobs)?;
    csrf::check(&staff, &f.csrf)?;
    let typed = match f.pick.trim() {
        "" => f.request.trim().to_string(),
        picked => picked.to_string(),
    };
    if typed.is_empty() {
        let error = MatchError {
            message: "Type the request id (as on the cover sheet or the ILL system).".into(),
            ..Default::default()
        };
        return job_page(&state, &staff, id, None, Some(error)).await;
    }
    let (job, actor, deliverer, request) = (
        id.clone(),
        staff.actor(),
        state.deliverer.clone(),
        typed.clone(),
    );
    let outcome = state
        .repo
        .call(move |db| {
            let config = &deliverer.config().config;
            match jobs::match_request(db, config, &job, &request, &actor, jobs::MatchedBy::Person) {
                Ok(m) => Ok(Ok(m.summary())),
                Err(StateError::NotFound(_)) if db.job_get(&job)?.is_some() => {
                    Ok(Err(jobs::similar_requests(db, &request)?))
                }
                Err(e) => Err(e),
            }
        })
        .await
        .map_err(|e| super::state_failure(&staff, e))?;
    match outcome {
        Ok(summary) => Ok(done(
            &format!("/staff/jobs/{}", super::urlencode(&id)),
            &summary,
        )),
        Err(suggestions) => {
            let error = MatchError {
                message: format!("There is no request {typed}."),
                typed,
                suggestions,
            };
            job_page(&state, &staff, id, None, Some(error)).await
        }
    }
}

/// `GET /staff/jobs/{id}/pdf`: the processed PDF for review, as the technician checks it
/// before release. Staff only; not a borrower's download, so no link counts it.
pub async fn pdf(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> PageResult {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    staff.require(Area::Jobs)?;
    let job = blocking(&state, &staff, move |db| {
        db.job_get(&id)?
            .ok_or_else(|| quire_state::StateError::NotFound(format!("no job {id}")))
    })
    .await?;
    let not_found =
        |why: &str| super::error_page(&staff, StatusCode::NOT_FOUND, "No processed PDF", why);
    if job.output_sha256.is_none() {
        return Err(not_found("The job has not been processed."));
    }
    let path = state
        .deliverer
        .files()
        .output(&job)
        .await
        .map_err(|e| not_found(&format!("{e:#}")))?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| not_found(&format!("{}: {e}", path.display())))?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{}.pdf\"", job.id)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// A new copy, link and e-mail for a delivered job's request; not counted again under CONTU.
pub async fn redeliver(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Result<Response, Response> {
    staff.require(Area::Jobs)?;
    csrf::check(&staff, &f.csrf)?;
    let found = {
        let id = id.clone();
        blocking(&state, &staff, move |db| {
            db.job_get(&id)?
                .ok_or_else(|| quire_state::StateError::NotFound(format!("no job {id}")))
        })
        .await?
    };
    let receipt = state
        .deliverer
        .redeliver(&found, &staff.actor())
        .await
        .map_err(|e| {
            super::error_page(
                &staff,
                axum::http::StatusCode::CONFLICT,
                "Not delivered again",
                &format!("{e:#}"),
            )
        })?;
    Ok(done(
        &format!("/staff/jobs/{}", super::urlencode(&id)),
        &format!(
            "delivered again: {} (a new link and e-mail)",
            receipt.delivery_id
        ),
    ))
}

/// The job, if it has a processed page `page_no`; else the "no such page" page.
async fn processed_page(
    state: &AppState,
    staff: &Staff,
    id: String,
    page_no: u32,
) -> Result<Job, Response> {
    let job = blocking(state, staff, move |db| {
        db.job_get(&id)?
            .ok_or_else(|| quire_state::StateError::NotFound(format!("no job {id}")))
    })
    .await?;
    let pages = job.page_count.unwrap_or(0);
    if job.output_sha256.is_none() || page_no == 0 || i64::from(page_no) > pages {
        return Err(super::error_page(
            staff,
            axum::http::StatusCode::NOT_FOUND,
            "No such page",
            "The job has no processed page with that number.",
        ));
    }
    Ok(job)
}

/// The job's stored quality report (`Null` before processing).
fn report_of(job: &Job) -> Value {
    job.report_json
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or(Value::Null)
}

#[derive(Deserialize, Default)]
pub struct ThumbQuery {
    /// `?size=large`: for the page viewer, not the table.
    size: Option<String>,
}

/// `GET /staff/jobs/{id}/pages/{page}`: one processed page large, zoomable, with its
/// findings; the arrow keys step to the previous and next page.
pub async fn page_view(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, page_no)): Path<(String, u32)>,
) -> PageResult {
    staff.require(Area::Jobs)?;
    let job = processed_page(&state, &staff, id, page_no).await?;
    let pages = job.page_count.unwrap_or(0);
    let report = report_of(&job);
    let findings = report["pages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["output_page"].as_u64() == Some(u64::from(page_no)))
        .map(|p| page_findings(p, false));
    Ok(page(
        &staff,
        "page.html",
        context! {
            job => v(&row(&job)), page_no, pages, findings => v(&findings),
            prev => (page_no > 1).then(|| page_no - 1),
            next => (i64::from(page_no) < pages).then(|| page_no + 1),
        },
    ))
}

/// `GET /staff/jobs/{id}/thumb/{page}`: one page of the processed PDF as a small PNG (large
/// with `?size=large`).
pub async fn thumbnail(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, page_no)): Path<(String, u32)>,
    Query(q): Query<ThumbQuery>,
) -> PageResult {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    staff.require(Area::Jobs)?;
    let job = processed_page(&state, &staff, id, page_no).await?;
    let pdf = match state.deliverer.files().output(&job).await {
        Ok(pdf) => pdf,
        Err(e) => {
            tracing::warn!(job = %job.id, error = %format!("{e:#}"), "page thumbnail");
            return Err(super::error_page(
                &staff,
                StatusCode::NOT_FOUND,
                "No thumbnail",
                &format!("{e:#}"),
            ));
        }
    };
    let width = match q.size.as_deref() {
        Some("large") => crate::console::thumbnail::LARGE_WIDTH_PX,
        _ => crate::console::thumbnail::WIDTH_PX,
    };
    let rendered = tokio::task::spawn_blocking(move || {
        crate::console::thumbnail::render(&pdf, page_no, width)
    })
    .await;
    match rendered {
        Ok(Ok(png)) => {
            let mut resp = png.into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=300"),
            );
            Ok(resp)
        }
        Ok(Err(e)) => {
            // Typically the output was removed after delivery and purge.
            tracing::warn!(job = %job.id, error = %e, "page thumbnail");
            Err(super::error_page(
                &staff,
                StatusCode::NOT_FOUND,
                "No thumbnail",
                &e,
            ))
        }
        Err(_) => Err(super::error_page(
            &staff,
            StatusCode::INTERNAL_SERVER_ERROR,
            "No thumbnail",
            "See the daemon log.",
        )),
    }
}

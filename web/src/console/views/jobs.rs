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

/// One report page as the template shows it.
fn page_findings(p: &Value) -> Value {
    json!({
        "page": p["output_page"],
        "skew": p["skew"]["angle_deg"].as_f64().map(|a| format!("{a:.2}°")),
        "rotated": p["rotation_applied"],
        "ocr": p["mean_ocr_confidence"].as_f64().map(|c| format!("{c:.0}")),
        "low_ocr": p["mean_ocr_confidence"].as_f64().is_some_and(|c| c < 60.0),
        "words": p["word_count"],
        "printed": p["printed_page_number"],
        "blank": p["blank"].as_bool() == Some(true),
        "warnings": p["warnings"].as_array().into_iter().flatten()
            .map(|w| w["message"].as_str().or(w["code"].as_str()).unwrap_or("").to_string())
            .collect::<Vec<_>>(),
    })
}

pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<QueueQuery>,
) -> PageResult {
    staff.require(Area::Jobs)?;
    let (job, documents) = blocking(&state, &staff, move |db| {
        let job = db
            .job_get(&id)?
            .ok_or_else(|| quire_state::StateError::NotFound(format!("no job {id}")))?;
        let documents = db.jobs_list(&JobFilter {
            parent: Some(id.clone()),
            ..Default::default()
        })?;
        Ok((job, documents))
    })
    .await?;
    let documents: Vec<Value> = documents.iter().map(row).collect();
    let report: Value = job
        .report_json
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or(Value::Null);
    let pages: Vec<Value> = report["pages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(page_findings)
        .collect();
    let near = report["near_duplicates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Ok(page(
        &staff,
        "job.html",
        context! {
            job => v(&row(&job)), pages => v(&pages), near => v(&near), done => q.done,
            documents => v(&documents),
            can_release => job.state == JobState::Held,
            can_hold => job.state == JobState::Processed,
            can_reprocess => matches!(job.state, JobState::Held | JobState::Processed),
            can_match => !matches!(job.state, JobState::Delivered | JobState::Split),
            can_redeliver => job.state == JobState::Delivered,
        },
    ))
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    request: String,
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

pub async fn match_request(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Result<Response, Response> {
    staff.require(Area::Jobs)?;
    csrf::check(&staff, &f.csrf)?;
    let request = f.request.trim().to_string();
    change_job(
        &state,
        &staff,
        id,
        "matched to the request",
        move |db, job, actor| jobs::match_request(db, job, &request, actor),
    )
    .await
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

/// `GET /staff/jobs/{id}/thumb/{page}`: one page of the processed PDF as a small PNG.
pub async fn thumbnail(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, page_no)): Path<(String, u32)>,
) -> PageResult {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    staff.require(Area::Jobs)?;
    let job = blocking(&state, &staff, move |db| {
        db.job_get(&id)?
            .ok_or_else(|| quire_state::StateError::NotFound(format!("no job {id}")))
    })
    .await?;
    let pages = job.page_count.unwrap_or(0);
    if job.output_sha256.is_none() || page_no == 0 || i64::from(page_no) > pages {
        return Err(super::error_page(
            &staff,
            StatusCode::NOT_FOUND,
            "No such page",
            "The job has no processed page with that number.",
        ));
    }
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
    let rendered =
        tokio::task::spawn_blocking(move || crate::console::thumbnail::render(&pdf, page_no)).await;
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

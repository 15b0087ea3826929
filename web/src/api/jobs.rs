//! Jobs: list, get with the per-page report, and the technician's actions (release, hold,
//! reprocess, match), through `quire_service::jobs` as the console's job page.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::model::{JobDetail, JobView, MatchedJob, job_state_schema};
use super::page::{self, Page, PageQuery};
use super::problem::{Code, Problem, ProblemDetails, Resource};
use super::{Body, Params, db};
use crate::AppState;
use quire_config::ApiScope;
use quire_service::jobs;
use quire_state::{JobFilter, JobState, StateError};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// Only jobs in this state.
    #[param(schema_with = job_state_schema)]
    state: Option<String>,
    /// Only the jobs of this request.
    request: Option<String>,
    /// Only jobs matched to no request yet.
    unmatched: Option<bool>,
}

/// Jobs, oldest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs",
    params(JobQuery, PageQuery),
    responses((status = 200, description = "A page of jobs", body = Page<JobView>)),
    security(("bearer" = ["read"])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(f): Params<JobQuery>,
    Params(q): Params<PageQuery>,
) -> Result<Json<Page<JobView>>, Problem> {
    caller.require(ApiScope::Read)?;
    let states = match &f.state {
        Some(s) => vec![
            s.parse::<JobState>()
                .map_err(|e| Problem::new(Code::BadRequest, e))?,
        ],
        None => Vec::new(),
    };
    let Some(window) = q.window()? else {
        return Ok(Json(page::cut(Vec::new(), q)?));
    };
    let filter = JobFilter {
        states,
        unmatched: f.unmatched.unwrap_or(false),
        request: f.request,
        // The store's limit is a signed 64-bit count: a larger window is "all of them".
        limit: window.min(i64::MAX as usize),
        ..Default::default()
    };
    let found = db(&state, move |db| db.jobs_list(&filter))
        .await
        .map_err(Problem::state(Resource::Job))?;
    Ok(Json(page::cut(
        found.into_iter().map(Into::into).collect(),
        q,
    )?))
}

/// One job, with its per-page quality report.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The job and its report", body = JobDetail),
        (status = 404, description = "No such job (`job.not_found`)", body = ProblemDetails),
    ),
    security(("bearer" = ["read"])))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<JobDetail>, Problem> {
    caller.require(ApiScope::Read)?;
    let lookup = id.clone();
    let job = db(&state, move |db| db.job_get(&lookup))
        .await
        .map_err(Problem::state(Resource::Job))?
        .ok_or_else(|| Problem::new(Code::JobNotFound, format!("no job {id}")))?;
    let report = quire_service::review::ReportView::of(&job).map(Into::into);
    Ok(Json(JobDetail {
        job: job.into(),
        report,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseBody {
    /// Why, for the audit log.
    #[serde(default)]
    reason: Option<String>,
}

/// Held → ready for delivery.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/release", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    request_body = ReleaseBody,
    responses(
        (status = 200, description = "Released", body = JobView),
        (status = 404, description = "No such job (`job.not_found`)", body = ProblemDetails),
        (status = 409, description = "The job is not held (`job.conflict`)", body = ProblemDetails),
    ),
    security(("bearer" = ["write"])))]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<ReleaseBody>,
) -> Result<Json<JobView>, Problem> {
    let actor = caller.require(ApiScope::Write)?.name.clone();
    let reason = body
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let job = db(&state, move |db| jobs::release(db, &id, &actor, reason))
        .await
        .map_err(Problem::state(Resource::Job))?;
    Ok(Json(job.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    /// Why it must wait; shown in the queue. Not blank.
    #[schema(min_length = 1, pattern = r"\S")]
    reason: String,
}

/// Ready → held, with the reason shown in the queue.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/hold", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    request_body = HoldBody,
    responses(
        (status = 200, description = "Held", body = JobView),
        (status = 404, description = "No such job (`job.not_found`)", body = ProblemDetails),
        (status = 409, description = "The job is not ready (`job.conflict`)", body = ProblemDetails),
        (status = 422, description = "No reason given (`job.invalid`)", body = ProblemDetails),
    ),
    security(("bearer" = ["write"])))]
pub async fn hold(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<HoldBody>,
) -> Result<Json<JobView>, Problem> {
    let actor = caller.require(ApiScope::Write)?.name.clone();
    let reason = body.reason.trim().to_string();
    if reason.is_empty() {
        return Err(Problem::new(Code::JobInvalid, "say why the job must wait"));
    }
    let job = db(&state, move |db| {
        jobs::hold(db, &id, &actor, &actor, &reason)
    })
    .await
    .map_err(Problem::state(Resource::Job))?;
    Ok(Json(job.into()))
}

/// Back to the queue from held, processed or failed (a failed job's original comes back from
/// quarantine).
#[utoipa::path(post, path = "/api/v1/jobs/{id}/reprocess", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "Queued for processing again", body = JobView),
        (status = 404, description = "No such job (`job.not_found`)", body = ProblemDetails),
        (status = 409, description = "Not in a state to process again, or its original is gone (`job.conflict`)", body = ProblemDetails),
    ),
    security(("bearer" = ["write"])))]
pub async fn reprocess(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<JobView>, Problem> {
    let actor = caller.require(ApiScope::Write)?.name.clone();
    let quarantine = state.console.config.quarantine_dir();
    let files = state.deliverer.files().clone();
    let job = db(&state, move |db| {
        jobs::reprocess(db, &quarantine, &files, &id, &actor).map_err(|e| match e {
            // The original could not be brought back: the job cannot be redone as it is.
            StateError::Callback(m) => StateError::Conflict(m),
            e => e,
        })
    })
    .await
    .map_err(Problem::state(Resource::Job))?;
    Ok(Json(job.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchBody {
    /// The request id to match the job to. Not blank.
    #[schema(min_length = 1, pattern = r"\S")]
    request: String,
}

/// Matches the job to a request and checks it again for that request: it goes out if nothing
/// else needs a person, or stays held with what is left.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/match", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    request_body = MatchBody,
    responses(
        (status = 200, description = "Matched", body = MatchedJob),
        (status = 404, description = "No such job (`job.not_found`)", body = ProblemDetails),
        (status = 409, description = "The job is delivered or split (`job.conflict`)", body = ProblemDetails),
        (status = 422, description = "No such request (`job.invalid`), with similar ids", body = ProblemDetails),
    ),
    security(("bearer" = ["write"])))]
pub async fn match_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<MatchBody>,
) -> Result<Json<MatchedJob>, Problem> {
    let actor = caller.require(ApiScope::Write)?.name.clone();
    let deliverer = state.deliverer.clone();
    let request = body.request.trim().to_string();
    let outcome = db(&state, move |db| {
        let config = &deliverer.config().config;
        match jobs::match_request(db, config, &id, &request, &actor, jobs::MatchedBy::Person) {
            Ok(m) => Ok(Ok(MatchedJob::from(&m))),
            // The job is there, so the request is what is missing.
            Err(StateError::NotFound(_)) if db.job_get(&id)?.is_some() => {
                let similar = jobs::similar_requests(db, &request)?;
                Ok(Err((request, similar)))
            }
            Err(e) => Err(e),
        }
    })
    .await
    .map_err(Problem::state(Resource::Job))?;
    match outcome {
        Ok(m) => Ok(Json(m)),
        Err((request, similar)) => {
            let hint = if similar.is_empty() {
                String::new()
            } else {
                format!("; similar: {}", similar.join(", "))
            };
            Err(Problem::new(
                Code::JobInvalid,
                format!("there is no request {request}{hint}"),
            ))
        }
    }
}

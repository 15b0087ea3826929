//! Requests: create (idempotent on the request id), list with filters, get one, correct the
//! citation, cancel.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Caller;
use super::model::{
    CancelBody, CancellationView, CitationPatch, Created, MatchedJob, NewRequests, RequestFields,
};
use super::page::{self, Page, PageQuery};
use super::problem::{Code, Problem, ProblemDetails, RefusedRequest, Resource};
use super::{Body, Params, check_time, db};
use crate::AppState;
use quire_config::ApiScope;
use quire_service::requests::{self, AddError};
use quire_state::Timestamp;

/// Requests read at most when a filter is given: the store lists requests newest first with
/// no filter of its own, so filtering happens here, over this many.
const FILTER_WINDOW: usize = 100_000;

/// Adds one request, or several all together or none. A request whose id exists with the
/// same fields is not added again (200 with it as stored); with other fields, 409.
#[utoipa::path(post, path = "/api/v1/requests", tag = "requests",
    request_body = NewRequests,
    responses(
        (status = 201, description = "Added (some may have existed with the same fields)", body = Created),
        (status = 200, description = "Every request existed already with the same fields", body = Created),
        (status = 409, description = "An id exists with other fields (`request.conflict`)", body = ProblemDetails),
        (status = 422, description = "Not valid (`request.invalid`), with every problem", body = ProblemDetails),
    ),
    security(("bearer" = ["write"])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<NewRequests>,
) -> Result<(StatusCode, Json<Created>), Problem> {
    let actor = caller.require(ApiScope::Write)?.name.clone();
    let requests: Vec<quire_state::Request> = match body {
        NewRequests::One(r) => vec![(*r).into()],
        NewRequests::Many(v) => v.into_iter().map(Into::into).collect(),
    };
    let deliverer = state.deliverer.clone();
    let added = state
        .repo
        .run(move |db| requests::add_or_same(db, &deliverer.config().config, &requests, &actor))
        .await
        .map_err(add_error)?;
    let status = if added.created.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(Created {
            requests: added.stored.into_iter().map(Into::into).collect(),
            created: added.created,
            matched_jobs: added.matched.iter().map(MatchedJob::from).collect(),
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestFilter {
    /// Only the requests of this patron: name or e-mail, any case.
    patron: Option<String>,
    /// Only those of this requesting library (its symbol).
    library: Option<String>,
    /// Only those stored at or after this date or RFC 3339 time.
    since: Option<String>,
}

/// Requests, newest first.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests",
    params(RequestFilter, PageQuery),
    responses((status = 200, description = "A page of requests", body = Page<RequestFields>)),
    security(("bearer" = ["read"])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(f): Params<RequestFilter>,
    Params(q): Params<PageQuery>,
) -> Result<Json<Page<RequestFields>>, Problem> {
    caller.require(ApiScope::Read)?;
    check_time("since", &f.since)?;
    let since = f.since.as_deref().map(start_of).transpose()?;
    let filtered = f.patron.is_some() || f.library.is_some() || since.is_some();
    let read = match q.window()? {
        Some(n) if !filtered => n.min(FILTER_WINDOW),
        _ => FILTER_WINDOW,
    };
    let all = db(&state, move |db| db.requests_list(read))
        .await
        .map_err(Problem::state(Resource::Request))?;
    let patron = f.patron.map(|p| p.trim().to_lowercase());
    let kept: Vec<RequestFields> = all
        .into_iter()
        .filter(|r| {
            patron.as_ref().is_none_or(|p| {
                r.patron_name.to_lowercase() == *p || r.patron_email.to_lowercase() == *p
            })
        })
        .filter(|r| {
            f.library
                .as_ref()
                .is_none_or(|l| r.library.as_ref() == Some(l))
        })
        .filter(|r| since.is_none_or(|s| r.created_at >= s))
        .map(Into::into)
        .collect();
    Ok(Json(page::cut(kept, q)?))
}

/// The first moment of `v`: an RFC 3339 time, or midnight UTC of a date.
fn start_of(v: &str) -> Result<Timestamp, Problem> {
    Timestamp::parse(v)
        .or_else(|_| Timestamp::parse(&format!("{v}T00:00:00Z")))
        .map_err(|e| Problem::new(Code::BadRequest, e))
}

/// One request.
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "The request id")),
    responses(
        (status = 200, description = "The request", body = RequestFields),
        (status = 404, description = "No such request (`request.not_found`)", body = ProblemDetails),
    ),
    security(("bearer" = ["read"])))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RequestFields>, Problem> {
    caller.require(ApiScope::Read)?;
    let lookup = id.clone();
    let (found, cancellation) = db(&state, move |db| {
        let found = db.request_get(&lookup)?;
        let cancellation = db.request_cancellation(&lookup)?;
        Ok((found, cancellation))
    })
    .await
    .map_err(Problem::state(Resource::Request))?;
    let found =
        found.ok_or_else(|| Problem::new(Code::RequestNotFound, format!("no request {id}")))?;
    Ok(Json(RequestFields {
        cancellation: cancellation.map(Into::into),
        ..found.into()
    }))
}

/// Corrects the citation before a copy goes out; fields left out stay.
#[utoipa::path(patch, path = "/api/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "The request id")),
    request_body = CitationPatch,
    responses(
        (status = 200, description = "The request as corrected", body = RequestFields),
        (status = 404, description = "No such request (`request.not_found`)", body = ProblemDetails),
        (status = 409, description = "A copy was delivered with the citation, or the request is cancelled (`request.conflict`)", body = ProblemDetails),
        (status = 422, description = "The corrected request is not valid (`request.invalid`)", body = ProblemDetails),
    ),
    security(("bearer" = ["write"])))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<CitationPatch>,
) -> Result<Json<RequestFields>, Problem> {
    let actor = caller.require(ApiScope::Write)?.name.clone();
    let changed = state
        .repo
        .run(move |db| requests::correct_citation(db, &id, body.into(), &actor))
        .await
        .map_err(add_error)?;
    Ok(Json(changed.into()))
}

/// Cancels the request: no copy will be delivered for it, and its scans waiting to go out are
/// held. Refused once a copy was delivered.
#[utoipa::path(post, path = "/api/v1/requests/{id}/cancel", tag = "requests",
    params(("id" = String, Path, description = "The request id")),
    request_body = CancelBody,
    responses(
        (status = 200, description = "Cancelled", body = CancellationView),
        (status = 404, description = "No such request (`request.not_found`)", body = ProblemDetails),
        (status = 409, description = "A copy was delivered, or it is cancelled already (`request.conflict`)", body = ProblemDetails),
    ),
    security(("bearer" = ["write"])))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<CancelBody>,
) -> Result<Json<CancellationView>, Problem> {
    let actor = caller.require(ApiScope::Write)?.name.clone();
    let reason = body.reason.unwrap_or_default();
    let cancelled = db(&state, move |db| requests::cancel(db, &id, &reason, &actor))
        .await
        .map_err(Problem::state(Resource::Request))?;
    Ok(Json(cancelled.into()))
}

/// A refused create or correction as a problem: every problem of each request named.
fn add_error(e: AddError) -> Problem {
    match e {
        AddError::Invalid(refused) => Problem::new(
            Code::RequestInvalid,
            AddError::Invalid(refused.clone()).to_string(),
        )
        .with_problems(
            refused
                .into_iter()
                .map(|r| RefusedRequest {
                    id: r.id,
                    problems: r.problems,
                })
                .collect(),
        ),
        AddError::State(e) => Problem::state(Resource::Request)(e),
    }
}

//! `/api/v1`: the machine interface for ILL systems and scripts. Every operation calls the
//! same `quire_service` function the CLI and the console call.
//!
//! Conventions, each in one place: who is calling and with what scopes ([`auth`]), errors as
//! RFC 9457 problem details with stable codes ([`problem`]), `limit`/`offset` pagination
//! ([`page`]), the types read and written ([`model`]), and the OpenAPI 3.1 document derived
//! from the handlers ([`doc`]), served without a token at `/api/v1/openapi.json`.

mod auth;
mod compliance;
mod deliveries;
mod doc;
mod jobs;
mod model;
mod page;
mod problem;
mod requests;

pub use auth::clients;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::routing::{any, get, post};
use serde::de::DeserializeOwned;

use crate::AppState;
use problem::{Code, Problem};
use quire_state::StateError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(doc::openapi_json))
        .route(
            "/api/v1/requests",
            get(requests::list).post(requests::create),
        )
        .route(
            "/api/v1/requests/{id}",
            get(requests::get_one).patch(requests::update),
        )
        .route("/api/v1/requests/{id}/cancel", post(requests::cancel))
        .route("/api/v1/jobs", get(jobs::list))
        .route("/api/v1/jobs/{id}", get(jobs::get_one))
        .route("/api/v1/jobs/{id}/release", post(jobs::release))
        .route("/api/v1/jobs/{id}/hold", post(jobs::hold))
        .route("/api/v1/jobs/{id}/reprocess", post(jobs::reprocess))
        .route("/api/v1/jobs/{id}/match", post(jobs::match_request))
        .route("/api/v1/deliveries", get(deliveries::list))
        .route("/api/v1/deliveries/{id}", get(deliveries::get_one))
        .route("/api/v1/deliveries/{id}/preview", get(deliveries::preview))
        .route("/api/v1/links", get(deliveries::links))
        .route("/api/v1/links/{id}", get(deliveries::link))
        .route("/api/v1/links/{id}/revoke", post(deliveries::revoke))
        .route("/api/v1/links/{id}/extend", post(deliveries::extend))
        .route("/api/v1/links/{id}/resend", post(deliveries::resend))
        .route("/api/v1/links/{id}/unlock", post(deliveries::unlock))
        .route("/api/v1/reports/contu", get(compliance::contu))
        .route("/api/v1/audit", get(compliance::audit))
        .route("/api/v1/audit/export", get(compliance::audit_export))
        // A mistyped path under /api/v1 gets a problem, like every other API error.
        .route("/api/v1/{*rest}", any(no_route))
}

async fn no_route() -> Problem {
    Problem::new(
        Code::NoRoute,
        "no such route under /api/v1; see /api/v1/openapi.json",
    )
}

/// A JSON body; a malformed one is a 400 problem.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(t)| Body(t))
            .map_err(|e| Problem::new(Code::BadRequest, e.body_text()))
    }
}

/// A query string; a malformed one is a 400 problem.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(t)| Params(t))
            .map_err(|e| Problem::new(Code::BadRequest, e.body_text()))
    }
}

/// Runs a database call off the async threads.
async fn db<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn quire_state::Database) -> Result<T, StateError> + Send + 'static,
) -> Result<T, StateError> {
    state.repo.call(f).await
}

/// A query value that is a date (`2026-01-31`) or an RFC 3339 time, as the audit filters and
/// `quire audit` take them; anything else is a 400.
fn check_time(name: &str, v: &Option<String>) -> Result<(), Problem> {
    use time::format_description::well_known::Rfc3339;
    let date = time::macros::format_description!("[year]-[month]-[day]");
    match v {
        Some(v)
            if time::OffsetDateTime::parse(v, &Rfc3339).is_err()
                && time::Date::parse(v, &date).is_err() =>
        {
            Err(Problem::new(
                Code::BadRequest,
                format!(
                    "{name} `{v}`: expected a date (2026-01-31) or an RFC 3339 time \
                     (2026-01-31T12:00:00Z)"
                ),
            ))
        }
        _ => Ok(()),
    }
}

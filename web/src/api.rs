//! `/api/v1`: the machine interface for ILL systems, behind bearer tokens from
//! `[server] api_tokens`.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::AppState;
use quire_domain::{Action, DeliveryState};
use quire_service::requests::{self, AddError};
use quire_state::{Request, StateError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/requests", get(list_requests).post(add_requests))
        .route("/api/v1/deliveries/{id}/preview", get(preview))
}

type ApiError = (StatusCode, Json<Value>);

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message.into() } })),
    )
}

/// Compares digests, not the tokens, so neither the length nor a common prefix of a valid
/// token leaks through timing.
fn authorised(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            error(
                StatusCode::UNAUTHORIZED,
                "api.unauthorised",
                "missing bearer token",
            )
        })?;
    let presented = Sha256::digest(presented.trim().as_bytes());
    let mut ok = false;
    for token in state.api_tokens.iter() {
        let known = Sha256::digest(token.expose().as_bytes());
        let diff = presented
            .iter()
            .zip(known.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        ok |= diff == 0;
    }
    if ok {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "api.unauthorised",
            "unknown token",
        ))
    }
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    200
}

async fn list_requests(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Request>>, ApiError> {
    authorised(&state, &headers)?;
    let list = db_call(&state, move |db| db.requests_list(q.limit.min(10_000))).await?;
    Ok(Json(list))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Box<Request>),
    Many(Vec<Request>),
}

/// One request object, or an array added all together or not at all.
async fn add_requests(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<OneOrMany>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authorised(&state, &headers)?;
    let Json(body) =
        body.map_err(|e| error(StatusCode::BAD_REQUEST, "api.bad_json", e.body_text()))?;
    let requests = match body {
        OneOrMany::One(r) => vec![*r],
        OneOrMany::Many(v) => v,
    };
    let ids: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
    let deliverer = state.deliverer.clone();
    let added = state
        .repo
        .run(move |db| requests::add(db, &deliverer.config().config, &requests, "api"))
        .await;
    let matched = match added {
        Ok(matched) => matched,
        Err(e @ AddError::Invalid(_)) => {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "api.invalid_request",
                e.to_string(),
            ));
        }
        Err(AddError::State(e)) => return Err(state_error(e)),
    };
    let matched: Vec<Value> = matched
        .iter()
        .map(|m| json!({ "job": m.job.id, "request": m.request, "state": m.job.state, "summary": m.summary() }))
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(json!({ "created": ids, "matched_jobs": matched })),
    ))
}

/// Runs a database call off the async threads, mapping both failure kinds to API errors.
async fn db_call<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn quire_state::Database) -> Result<T, StateError> + Send + 'static,
) -> Result<T, ApiError> {
    state.repo.call(f).await.map_err(state_error)
}

fn state_error(e: StateError) -> ApiError {
    let status = match e {
        StateError::Conflict(_) => StatusCode::CONFLICT,
        StateError::NotFound(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.code(), e.to_string())
}

/// Staff preview of a delivered copy: the same bytes the borrower gets, not counted against
/// the link, audited as a preview.
async fn preview(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<axum::response::Response, ApiError> {
    authorised(&state, &headers)?;
    let lookup = id.clone();
    let delivery = db_call(&state, move |db| db.delivery_get(&lookup))
        .await?
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                "api.not_found",
                format!("no delivery {id}"),
            )
        })?;
    if delivery.state == DeliveryState::Purged {
        return Err(error(
            StatusCode::GONE,
            "api.purged",
            format!("delivery {id} was purged"),
        ));
    }
    let hash = quire_delivery::ContentHash::parse(&delivery.stamped_sha256)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.code(), e.to_string()))?;
    let body = state
        .deliverer
        .store()
        .get(&hash)
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.code(), e.to_string()))?;
    let event = quire_state::NewEvent::new("api", Action::DeliveryPreviewed)
        .subject("delivery", &id)
        .subject("request", &delivery.request_id);
    db_call(&state, move |db| db.audit_append(event)).await?;
    let len = body.len();
    let mut resp = axum::response::Response::new(axum::body::Body::from_stream(body.into_stream()));
    let h = resp.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/pdf"),
    );
    h.insert(
        axum::http::header::CONTENT_LENGTH,
        axum::http::HeaderValue::from(len),
    );
    h.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

//! `POST /iso18626` (the path is `[iso18626] path`): partners' ILL systems send requests and
//! requesting-agency messages here. The body is size-limited before it is read (413 beyond
//! `max_body_bytes`); everything else is answered with an ISO 18626 confirmation by
//! `quire_service::iso18626::receive`, ERROR ones included, never a bare server error.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::AppState;

pub fn routes(path: &str) -> Router<AppState> {
    Router::new().route(path, post(receive))
}

fn xml(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    resp
}

async fn receive(State(state): State<AppState>, body: Body) -> Response {
    let deliverer = state.deliverer.clone();
    let config = &deliverer.config().config.iso18626;
    let bytes = match to_bytes(body, config.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "ISO 18626 messages are limited to {} bytes here\n",
                    config.max_body_bytes
                ),
            )
                .into_response();
        }
    };
    let answer = state
        .repo
        .call({
            let deliverer = deliverer.clone();
            move |db| quire_service::iso18626::receive(db, &deliverer.config().config, &bytes)
        })
        .await;
    match answer {
        Ok(body) => xml(StatusCode::OK, body),
        // The database could not record the message: nothing was taken, so the peer must send
        // it again; 503 with Retry-After says so in HTTP's terms.
        Err(e) => {
            tracing::error!(error = %e, "ISO 18626 message not recorded");
            let mut resp = (
                StatusCode::SERVICE_UNAVAILABLE,
                "the message could not be recorded now; send it again later\n",
            )
                .into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            resp
        }
    }
}

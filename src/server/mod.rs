//! The daemon's HTTP server (axum): health now; the API, borrower pages and the staff console
//! mount here as they arrive.

mod api;
mod borrower;
pub mod client;
mod html;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::config::{InstitutionConfig, Secret};
use crate::deliver::Deliverer;
use crate::state::Db;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub api_tokens: Arc<Vec<Secret>>,
    pub deliverer: Arc<Deliverer>,
    pub institution: Arc<InstitutionConfig>,
    /// The staff console's settings (`crate::console`).
    pub console: Arc<crate::console::Console>,
    /// Peers whose `X-Forwarded-For` is believed ([`client::address`]).
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
}

impl AppState {
    /// The client's address, as recorded in the audit log and used for sign-in limits.
    pub fn client(&self, peer: SocketAddr, headers: &axum::http::HeaderMap) -> std::net::IpAddr {
        client::address(peer, headers, &self.trusted_proxies)
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(api::routes())
        .merge(borrower::routes())
        .merge(crate::console::routes())
        // Paths under /d/ carry a secret: log them without it.
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |req: &axum::http::Request<_>| {
                    let path = req.uri().path();
                    let shown = if path.starts_with("/d/") {
                        "/d/<token>"
                    } else {
                        path
                    };
                    tracing::info_span!("http", method = %req.method(), path = %shown)
                },
            ),
        )
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let db = state.db.clone();
    let ping = tokio::task::spawn_blocking(move || db.ping()).await;
    match ping {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": "ok"})),
        ),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": e.to_string(), "code": e.code()})),
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"status": "error", "error": e.to_string()})),
        ),
    }
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

//! The daemon's HTTP face (axum): `/healthz`, the API (`api`), the borrower's pages
//! (`borrower`), the ISO 18626 endpoint for partners' ILL systems (`iso18626`), and the staff console under `/staff/` with `/metrics` ([`console`]), all on
//! one [`AppState`] and one template engine ([`templates`], minijinja).
//!
//! Every change a page or an API call makes goes through `quire-service`, and every database
//! call through `quire_state::Repo`; nothing here writes SQL or an audit event of its own
//! beyond what those functions write. Not here: the daemon's wiring (the `quire` binary) and
//! the inbox (`quire-intake`), whose health it only reads.

mod api;
mod app_state;
mod borrower;
pub mod client;
pub mod console;
mod iso18626;
mod templates;

pub use app_state::{AppState, Console};

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub fn router(state: AppState) -> Router {
    let mut router = Router::new().route("/healthz", get(healthz));
    if state.node.has(quire_config::NodeRole::Web) {
        router = router
            .merge(api::routes())
            .merge(borrower::routes())
            .merge(crate::console::routes())
            // Someone typing the bare address is staff looking for the console.
            .route(
                "/",
                get(|| async { axum::response::Redirect::to("/staff/") }),
            );
        let ill = &state.deliverer.config().config.iso18626;
        if ill.enabled {
            router = router.merge(iso18626::routes(&ill.path));
        }
    }
    router
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

/// 200 when the database answers and every intake thread is alive, beating and has disk to
/// write to; else 503 with the reasons. The body always lists each component's state and last
/// heartbeat, so a monitor sees what is wrong, not only that something is.
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let ping = state.repo.call(|db| db.ping()).await;
    let mut body = state.intake.to_json();
    let mut problems: Vec<String> =
        serde_json::from_value(body["problems"].take()).unwrap_or_default();
    let (database, code) = match ping {
        Ok(()) => ("ok".to_string(), None),
        Err(e) => (e.to_string(), Some(e.code())),
    };
    if database != "ok" {
        problems.insert(0, format!("database: {database}"));
    }
    body["database"] = json!(database);
    let roles: Vec<&str> = state.node.roles.iter().map(|r| r.as_str()).collect();
    body["node"] = json!({ "name": state.node.name, "roles": roles });
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    body["status"] = json!(if problems.is_empty() {
        "ok"
    } else {
        "unavailable"
    });
    body["reason"] = json!(problems.join("; "));
    body["problems"] = json!(problems);
    (status, Json(body))
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

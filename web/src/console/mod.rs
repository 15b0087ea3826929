//! The staff and compliance web console, served under `/staff/` by the daemon's own HTTP
//! server, plus `/metrics`. Server-rendered HTML (minijinja templates compiled in), one small
//! stylesheet inline and no external assets: library networks can be closed.
//!
//! Staff sign in with a user made by `quire user add`; borrowers never reach these pages. Every
//! state change goes through the same `quire_service` functions the CLI uses (and the
//! database through `state::Repo`), with the staff member as the audit actor.
//!
//! minijinja rather than askama: templates are parsed at first use instead of generating Rust
//! per template, which keeps the root crate's build light, and autoescaping is on by file name.

mod audit_text;
pub mod auth;
mod csrf;
mod metrics;
pub mod session;
mod thumbnail;
mod views;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    use views::{compliance, jobs, login, nodes, partners, requests};
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .route("/staff", get(login::home))
        .route("/staff/", get(login::home))
        .route("/staff/login", get(login::form).post(login::submit))
        .route("/staff/logout", post(login::logout))
        .route("/staff/jobs", get(jobs::queue))
        .route("/staff/unmatched", get(jobs::unmatched))
        .route("/staff/nodes", get(nodes::list))
        .route("/staff/partners", get(partners::list))
        .route("/staff/jobs/{id}", get(jobs::show))
        .route("/staff/jobs/{id}/release", post(jobs::release))
        .route("/staff/jobs/{id}/thumb/{page}", get(jobs::thumbnail))
        .route("/staff/jobs/{id}/pdf", get(jobs::pdf))
        .route("/staff/jobs/{id}/pages/{page}", get(jobs::page_view))
        .route("/staff/find", get(jobs::find))
        .route("/staff/jobs/{id}/hold", post(jobs::hold))
        .route("/staff/jobs/{id}/reprocess", post(jobs::reprocess))
        .route("/staff/jobs/{id}/match", post(jobs::match_request))
        .route("/staff/jobs/{id}/redeliver", post(jobs::redeliver))
        .route(
            "/staff/requests",
            get(requests::list).post(requests::create),
        )
        .route("/staff/requests/{id}", get(requests::show))
        .route("/staff/requests/{id}/cancel", post(requests::cancel))
        .route(
            "/staff/requests/{id}/citation",
            post(requests::set_citation),
        )
        .route("/staff/links", get(requests::links_page))
        .route("/staff/links/{id}/revoke", post(requests::revoke))
        .route("/staff/links/{id}/extend", post(requests::extend))
        .route("/staff/links/{id}/unlock", post(requests::unlock))
        .route("/staff/links/{id}/resend", post(requests::resend))
        .route("/staff/compliance/audit", get(compliance::audit))
        .route("/staff/compliance/audit.csv", get(compliance::audit_csv))
        .route("/staff/compliance/held", get(compliance::held))
        .route(
            "/staff/compliance/held/{id}/release",
            post(compliance::release),
        )
        .route("/staff/compliance/contu", get(compliance::contu))
}

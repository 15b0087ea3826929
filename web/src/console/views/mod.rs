//! The console's pages, one file per area: sign-in, the technician's job queue, requests and
//! links, and the compliance pages. Each handler checks the role first, runs state calls on the
//! blocking pool, and renders a template; each POST also checks the CSRF token and answers
//! with a redirect (303) back to a page, so a reload never repeats an action.
//!
//! Missing in this increment: redelivering a job (a new stamped copy and link).

pub mod compliance;
pub mod jobs;
pub mod login;
pub mod nodes;
pub mod partners;
pub mod requests;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;

use super::auth::Area;
use super::session::Staff;
use crate::AppState;
use crate::templates;
use quire_state::StateError;

/// Renders `template` inside the console frame, with who is signed in and their CSRF token.
pub fn page(staff: &Staff, template: &str, ctx: minijinja::Value) -> Response {
    let ctx = context! {
        me => staff.user.name.clone(),
        role => staff.role.as_str(),
        csrf => staff.session.csrf.clone(),
        can_jobs => staff.role.may(Area::Jobs),
        can_compliance => staff.role.may(Area::Compliance),
        time_zone => staff.zone.name(),
        ..ctx
    };
    match templates::render(template, ctx) {
        Ok(html) => {
            let mut resp = Html(html).into_response();
            resp.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            no_framing(&mut resp);
            resp
        }
        Err(e) => {
            tracing::error!(template, error = %e, "rendering a console page");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

pub fn error_page(staff: &Staff, status: StatusCode, title: &str, message: &str) -> Response {
    let mut resp = page(staff, "message.html", context! { title, message });
    *resp.status_mut() = status;
    resp
}

/// A state error as a page: 404 for missing things, 409 for a change that no longer applies.
pub fn state_failure(staff: &Staff, e: StateError) -> Response {
    match &e {
        StateError::NotFound(m) => error_page(staff, StatusCode::NOT_FOUND, "Not found", m),
        StateError::Conflict(m) => error_page(staff, StatusCode::CONFLICT, "Not done", m),
        _ => {
            tracing::error!(error = %e, code = e.code(), "console state call");
            error_page(
                staff,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The database call failed; see the daemon log.",
            )
        }
    }
}

/// Runs a database call through the one async path ([`quire_state::Repo::call`]).
pub async fn blocking<T: Send + 'static>(
    state: &AppState,
    staff: &Staff,
    f: impl FnOnce(&dyn quire_state::Database) -> Result<T, StateError> + Send + 'static,
) -> Result<T, Response> {
    state
        .repo
        .call(f)
        .await
        .map_err(|e| state_failure(staff, e))
}

/// After a POST: back to `path`, with a one-line note of what was done.
pub fn done(path: &str, note: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{sep}done={}", urlencode(note))).into_response()
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Any serialisable value for a template.
pub fn v<T: serde::Serialize>(x: &T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(x))
}

/// Staff pages are never shown inside another site's frame (clickjacking on the action buttons).
pub fn no_framing(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        "x-frame-options",
        axum::http::HeaderValue::from_static("DENY"),
    );
    h.insert(
        "content-security-policy",
        axum::http::HeaderValue::from_static("frame-ancestors 'none'"),
    );
}

pub type PageResult = Result<Response, Response>;

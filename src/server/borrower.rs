//! The borrower's side: `GET /d/{token}` (a plain page: what was sent, the copyright warning,
//! how long the link lasts, downloads left) and `GET /d/{token}/file` (the PDF, counted).
//!
//! Unknown tokens get the same 404 whatever they look like, after the same single indexed
//! lookup a known token costs. Tokens are never logged: the request trace logs paths with the
//! token cut off (see `super::router`).

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AppState;
use super::html::{escape, page};
use crate::state::{Delivery, Grant, Link, LinkState, Request};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/d/{token}", get(landing))
        .route("/d/{token}/file", get(file))
}

const WARNING: &str = "NOTICE: This material may be protected by copyright law (Title 17 U.S. Code). \
    It is provided for private study, scholarship or research. Any other use, or further copying or \
    distribution, may require permission of the copyright owner.";

async fn lookup(
    state: &AppState,
    token: &str,
) -> Result<Option<(Link, Delivery, Option<Request>)>, Response> {
    let db = state.db.clone();
    let hash = quire_delivery::token_hash(token);
    db_call(move || match db.link_by_token(&hash)? {
        None => Ok(None),
        Some((link, delivery)) => {
            let request = db.request_get(&delivery.request_id)?;
            Ok(Some((link, delivery, request)))
        }
    })
    .await
}

/// How many of the borrower routes' database calls run at once: one per core.
///
/// The database is one SQLite connection behind a mutex, so the calls run one at a time
/// whatever happens here. Without a limit, 200 concurrent page loads each took a thread of
/// the blocking pool, and those threads queued on that mutex, every hand-over a futex wake
/// and a context switch (a profile under 200 connections: a third of the daemon's CPU in
/// futex calls, a fifth in task switches). Waiting for a slot here is a cheap async wait
/// instead, and the blocking pool keeps only a few threads busy.
static DB_SLOTS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::sync::Semaphore::new(cores)
});

/// Runs a database call off the async threads, within [`DB_SLOTS`].
async fn db_call<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::state::StateError> + Send + 'static,
) -> Result<T, Response> {
    let slot = DB_SLOTS.acquire().await.map_err(|_| internal())?;
    // Held by the call itself, so a client hanging up does not free it early.
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        f()
    })
    .await
    .map_err(|_| internal())?
    .map_err(|_| internal())
}

fn internal() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

fn not_found(state: &AppState) -> Response {
    let body = format!(
        "<p>This download link is not known. Check that the whole address was copied from the e-mail.</p>\
         <footer>Questions: {}</footer>",
        escape(&state.institution.contact)
    );
    (
        StatusCode::NOT_FOUND,
        Html(page("Link not found", &state.institution.name, &body)),
    )
        .into_response()
}

fn gone(state: &AppState, why: LinkState, request: &str) -> Response {
    let reason = match why {
        LinkState::Expired => "This link has expired.",
        LinkState::Revoked => "This link was withdrawn by the library.",
        LinkState::UsedUp => "This link has been used the number of times it allows.",
        LinkState::Purged => {
            "The file behind this link has been deleted after its retention period."
        }
        LinkState::Active => "This link cannot be used now.",
        LinkState::Held => {
            "This copy is awaiting copyright review by the library. You will get an e-mail when it is released."
        }
    };
    let body = format!(
        "<p><strong>{}</strong></p><p>If you still need the document, contact {} and quote request <strong>{}</strong>.</p>",
        escape(reason),
        escape(&state.institution.contact),
        escape(request)
    );
    // A held copy is not gone: it may be released, so it is refused (403) rather than 410.
    let (status, heading) = match why {
        LinkState::Held => (StatusCode::FORBIDDEN, "Awaiting copyright review"),
        _ => (StatusCode::GONE, "Link no longer available"),
    };
    let mut resp = (status, Html(page(heading, &state.institution.name, &body))).into_response();
    resp.headers_mut()
        .insert("x-link-state", HeaderValue::from_static(why.as_str()));
    resp
}

fn citation_rows(d: &Delivery, r: Option<&Request>) -> String {
    let mut rows = Vec::new();
    let mut row = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            rows.push(format!("<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v)));
        }
    };
    row("Request", Some(d.request_id.clone()));
    if let Some(r) = r {
        row("Article or chapter", r.article.clone());
        row("Author", r.author.clone());
        row("Published in", r.title.clone());
        let issue = [
            r.volume.as_ref().map(|v| format!("vol. {v}")),
            r.issue.as_ref().map(|i| format!("no. {i}")),
            r.year.map(|y| y.to_string()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        row("Volume, issue, year", Some(issue));
        row("Pages", r.pages.clone());
    }
    row("For", Some(d.recipient.clone()));
    row("Pages delivered", Some(d.page_count.to_string()));
    format!("<dl>{}</dl>", rows.join(""))
}

async fn landing(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let found = match lookup(&state, &token).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some((link, delivery, request)) = found else {
        return not_found(&state);
    };
    let now = crate::state::now_rfc3339();
    let link_state = link.state(&delivery.state, &now);
    if link_state != LinkState::Active {
        return gone(&state, link_state, &delivery.request_id);
    }
    let expires = link
        .expires_at
        .get(..16)
        .unwrap_or(&link.expires_at)
        .replace('T', " ");
    let code_field = if link.pickup_code_sha256.is_some() {
        "<label for=\"code\">Pickup code (from your e-mail)</label>\
         <input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>"
    } else {
        ""
    };
    let body = format!(
        "<p>Your document is ready.</p>{citation}\
         <h2>Copyright</h2><p class=\"notice\" role=\"note\">{warning}</p>\
         <h2>This link</h2><dl><dt>Works until</dt><dd>{expires} UTC</dd><dt>Downloads left</dt><dd>{left} of {allowed}</dd></dl>\
         <form method=\"get\" action=\"/d/{token}/file\">{code_field}\
         <button class=\"button\" type=\"submit\">Download PDF ({size})</button></form>\
         <footer>Questions: {contact}</footer>",
        citation = citation_rows(&delivery, request.as_ref()),
        warning = escape(WARNING),
        left = link.downloads_left,
        allowed = link.downloads_allowed,
        token = escape(&token),
        size = human_size(delivery.bytes),
        contact = escape(&state.institution.contact),
    );
    let mut resp = Html(page("Your document", &state.institution.name, &body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}

#[derive(Deserialize)]
struct FileQuery {
    code: Option<String>,
}

async fn file(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<FileQuery>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let found = match lookup(&state, &token).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some((link, delivery, _)) = found else {
        return not_found(&state);
    };
    if let Some(expected) = &link.pickup_code_sha256 {
        let ok = q
            .code
            .as_deref()
            .is_some_and(|c| quire_delivery::hash_matches(c.trim(), expected));
        if !ok {
            let body = "<p>The pickup code is missing or wrong. It is in the e-mail that brought you this link.</p>";
            return (
                StatusCode::FORBIDDEN,
                Html(page("Pickup code needed", &state.institution.name, body)),
            )
                .into_response();
        }
    }
    let range = parse_range(&headers, delivery.bytes as u64);
    if let Some(Err(())) = range {
        let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
        resp.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes */{}", delivery.bytes)).unwrap(),
        );
        return resp;
    }
    let db = state.db.clone();
    let link_id = link.id.clone();
    let client = state.client(client, &headers).to_string();
    let grant = match db_call(move || db.link_download(&link_id, &client)).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let left = match grant {
        Grant::Granted { left } => left,
        Grant::Refused(why) => return gone(&state, why, &delivery.request_id),
    };
    let store = state.deliverer.store().clone();
    let Ok(hash) = quire_delivery::ContentHash::parse(&delivery.stamped_sha256) else {
        return internal();
    };
    let partial = range.is_some();
    let body = match range {
        Some(Ok(r)) => store.get_range(&hash, r).await,
        _ => store.get(&hash).await,
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(delivery = %delivery.id, error = %e, code = e.code(), "stored file unreadable");
            return internal();
        }
    };
    let (start, end) = (body.range.start, body.range.end);
    let len = body.len();
    let mut resp = Response::new(Body::from_stream(body.into_stream()));
    *resp.status_mut() = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&quire_delivery::disposition::attachment(
        &delivery.file_name,
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if partial {
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!(
                "bytes {start}-{}/{}",
                end.saturating_sub(1),
                delivery.bytes
            ))
            .unwrap(),
        );
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-downloads-left", HeaderValue::from(left));
    resp
}

/// One `bytes=a-b`, `a-` or `-n` range; `Some(Err)` when unsatisfiable; `None` for none or
/// several ranges (then the whole file is sent, which the standard allows).
fn parse_range(headers: &HeaderMap, size: u64) -> Option<Result<std::ops::Range<u64>, ()>> {
    let v = headers.get(header::RANGE)?.to_str().ok()?;
    let spec = v.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let range = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            size.saturating_sub(n)..size
        }
        (a, "") => a.parse().ok()?..size,
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            if b < a {
                return Some(Err(()));
            }
            a..(b + 1).min(size)
        }
    };
    if range.start >= size || range.is_empty() {
        Some(Err(()))
    } else {
        Some(Ok(range))
    }
}

fn human_size(bytes: i64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{} KB", (bytes + 1023) / 1024)
    }
}

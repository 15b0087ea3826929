//! The borrower's side: `GET /d/{token}` (a plain page: what was sent, the copyright warning,
//! how long the link lasts, downloads left) and `GET /d/{token}/file` (the PDF, counted).
//!
//! Unknown tokens get the same 404 whatever they look like, after the same single indexed
//! lookup a known token costs. Tokens are never logged: the request trace logs paths with the
//! token cut off (see `crate::router`).

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use minijinja::context;

use crate::AppState;
use quire_state::{CodeCheck, Delivery, Grant, Link, LinkState, PickupPolicy, Request, Timestamp};

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
    let hash = quire_delivery::token_hash(token);
    db_call(state, move |db| match db.link_by_token(&hash)? {
        None => Ok(None),
        Some((link, delivery)) => {
            let request = db.request_get(&delivery.request_id)?;
            Ok(Some((link, delivery, request)))
        }
    })
    .await
}

/// Runs a database call through the one async path ([`quire_state::Repo::call`]).
async fn db_call<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn quire_state::Database) -> Result<T, quire_state::StateError> + Send + 'static,
) -> Result<T, Response> {
    state.repo.call(f).await.map_err(|_| internal())
}

fn internal() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

/// A borrower page: `template` (under `templates/borrower/`) in the page frame, with the
/// institution's name and contact.
fn page(
    state: &AppState,
    status: StatusCode,
    title: &str,
    template: &str,
    ctx: minijinja::Value,
) -> Response {
    let ctx = context! {
        title,
        institution => &state.institution.name,
        contact => &state.institution.contact,
        ..ctx
    };
    match crate::templates::render(&format!("borrower/{template}"), ctx) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, template, "rendering a borrower page");
            internal()
        }
    }
}

/// A page saying one thing, with the contact below it unless `contact` is false.
fn message(
    state: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
    contact: bool,
) -> Response {
    page(
        state,
        status,
        title,
        "message.html",
        context! { message, questions => contact },
    )
}

fn not_found(state: &AppState) -> Response {
    message(
        state,
        StatusCode::NOT_FOUND,
        "Link not found",
        "This download link is not known. Check that the whole address was copied from the e-mail.",
        true,
    )
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
        LinkState::Locked => {
            "This link was locked after too many wrong pickup codes. The library can unlock it for you."
        }
    };
    // A held or locked copy is not gone: it may be released or unlocked, so it is refused
    // (403) rather than 410.
    let (status, heading) = match why {
        LinkState::Held => (StatusCode::FORBIDDEN, "Awaiting copyright review"),
        LinkState::Locked => (StatusCode::FORBIDDEN, "Link locked"),
        _ => (StatusCode::GONE, "Link no longer available"),
    };
    let mut resp = page(
        state,
        status,
        heading,
        "message.html",
        context! { message => reason, request },
    );
    resp.headers_mut()
        .insert("x-link-state", HeaderValue::from_static(why.as_str()));
    resp
}

/// ` (2019)` after a volume or issue, when the year is known.
fn year_in(year: Option<i32>) -> String {
    year.map(|y| format!(" ({y})")).unwrap_or_default()
}

/// The citation as (label, value) rows, leaving out what the request does not say.
fn citation_rows(d: &Delivery, r: Option<&Request>) -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();
    let mut row = |k: &'static str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            rows.push((k, v));
        }
    };
    row("Request", Some(d.request_id.clone()));
    if let Some(r) = r {
        row("Article or chapter", r.article.clone());
        row("Author", r.author.clone());
        row("Published in", r.title.clone());
        // As a citation gives it, with only what is known: `12(3) (2019)`, `vol. 12 (2019)`,
        // `no. 3`, `2019`. The label names the parts present.
        let (label, text) = match (&r.volume, &r.issue, r.year) {
            (Some(v), Some(i), y) => ("Volume (issue)", format!("{v}({i}){}", year_in(y))),
            (Some(v), None, y) => ("Volume", format!("{v}{}", year_in(y))),
            (None, Some(i), y) => ("Issue", format!("no. {i}{}", year_in(y))),
            (None, None, Some(y)) => ("Year", y.to_string()),
            (None, None, None) => ("", String::new()),
        };
        if !label.is_empty() {
            let label = match (label, r.year) {
                ("Year", _) | (_, None) => label,
                ("Volume (issue)", Some(_)) => "Volume (issue), year",
                ("Volume", Some(_)) => "Volume, year",
                (_, Some(_)) => "Issue, year",
            };
            row(label, Some(text));
        }
        row("Pages", r.pages.clone());
    }
    row("For", Some(d.recipient.clone()));
    row(
        "Pages delivered",
        Some(match d.page_count {
            1 => "1 page".to_string(),
            n => format!("{n} pages"),
        }),
    );
    rows
}

async fn landing(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let found = match lookup(&state, &token).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some((link, delivery, request)) = found else {
        return not_found(&state);
    };
    let link_state = link.state(delivery.state, Timestamp::now());
    if link_state != LinkState::Active {
        return gone(&state, link_state, &delivery.request_id);
    }
    let expires = link.expires_at.shown_minute(&state.institution.time_zone);
    let rule = download_rule(
        state
            .deliverer
            .config()
            .config
            .links
            .download_session_minutes,
    );
    let ctx = context! {
        citation => citation_rows(&delivery, request.as_ref()),
        warning => WARNING,
        expires,
        left => link.downloads_left,
        allowed => link.downloads_allowed,
        rule,
        token,
        code => link.pickup_code_sha256.is_some(),
        size => human_size(delivery.bytes),
    };
    let mut resp = page(
        &state,
        StatusCode::OK,
        "Your document is ready",
        "document.html",
        ctx,
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}

/// The counting rule in the borrower's words, as [`count_download`] applies it.
fn download_rule(session_minutes: u32) -> String {
    let within = if session_minutes.is_multiple_of(60) {
        match session_minutes / 60 {
            1 => "an hour".to_string(),
            h => format!("{h} hours"),
        }
    } else {
        format!("{session_minutes} minutes")
    };
    format!(
        "Each download counts once. If a download is interrupted, continuing it on the same \
         device within {within} does not count again."
    )
}

#[derive(Deserialize)]
struct FileQuery {
    code: Option<String>,
}

/// `/d/{token}/file`: the PDF. In order: the pickup code (limited, see [`check_code`]); HEAD
/// answers from the link alone and never counts; the store is opened before anything is
/// counted, so a store that is away costs the borrower nothing (503, try again); then the
/// download is counted once per download session (see [`count_download`]).
async fn file(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<FileQuery>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let found = match lookup(&state, &token).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some((link, delivery, _)) = found else {
        return not_found(&state);
    };
    let client = state.client(client, &headers).to_string();
    let link_state = link.state(delivery.state, Timestamp::now());
    // A link that is gone for good gives no code a chance; the refusal below is audited.
    let usable = matches!(
        link_state,
        LinkState::Active | LinkState::UsedUp | LinkState::Locked
    );
    if usable && let Some(refused) = check_code(&state, &link, &delivery, &client, q.code).await {
        return refused;
    }
    let Ok(range) = requested_range(&headers, delivery.bytes as u64) else {
        let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
        resp.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes */{}", delivery.bytes)).unwrap(),
        );
        return resp;
    };
    if method == Method::HEAD {
        // A mail scanner or a download manager looking before it fetches: not a download.
        if link_state != LinkState::Active {
            return gone(&state, link_state, &delivery.request_id);
        }
        let mut resp = StatusCode::OK.into_response();
        file_headers(
            &mut resp,
            &delivery,
            delivery.bytes as u64,
            link.downloads_left,
        );
        return resp;
    }
    let Ok(hash) = quire_delivery::ContentHash::parse(&delivery.stamped_sha256) else {
        return internal();
    };
    let partial = range.is_some();
    let resumes = range.as_ref().is_some_and(|r| r.start > 0);
    // Only a request that may be granted reads the store; refusals go straight to the count,
    // which audits them.
    let body = if usable && (link_state == LinkState::Active || resumes) {
        match open_body(&state, &delivery, &hash, range.clone()).await {
            Ok(b) => Some(b),
            Err(r) => return r,
        }
    } else {
        None
    };
    let grant = match count_download(&state, &link.id, &client, resumes).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let left = match grant {
        Grant::Granted { left } | Grant::Resumed { left } => left,
        Grant::Refused(why) => return gone(&state, why, &delivery.request_id),
    };
    let body = match body {
        Some(b) => b,
        // Granted although the link looked unusable a moment ago (staff extended it meanwhile).
        None => match open_body(&state, &delivery, &hash, range).await {
            Ok(b) => b,
            Err(r) => return r,
        },
    };
    let (start, end) = (body.range.start, body.range.end);
    let len = body.len();
    let mut resp = Response::new(Body::from_stream(body.into_stream()));
    *resp.status_mut() = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    file_headers(&mut resp, &delivery, len, left);
    if partial {
        resp.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!(
                "bytes {start}-{}/{}",
                end.saturating_sub(1),
                delivery.bytes
            ))
            .unwrap(),
        );
    }
    resp
}

/// The stored file (or the range of it); a store that is away is a 503 with Retry-After, a
/// file that cannot be read or verified a 500.
async fn open_body(
    state: &AppState,
    delivery: &Delivery,
    hash: &quire_delivery::ContentHash,
    range: Option<std::ops::Range<u64>>,
) -> Result<quire_delivery::ObjectBody, Response> {
    let store = state.deliverer.store().clone();
    let body = match range {
        Some(r) => store.get_range(hash, r).await,
        None => store.get(hash).await,
    };
    body.map_err(|e| {
        if e.is_unavailable() {
            tracing::warn!(delivery = %delivery.id, error = %e, code = e.code(), "store unavailable");
            store_unavailable(state)
        } else {
            tracing::error!(delivery = %delivery.id, error = %e, code = e.code(), "stored file unreadable");
            internal()
        }
    })
}

fn file_headers(resp: &mut Response, delivery: &Delivery, len: u64, left: i64) {
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
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-downloads-left", HeaderValue::from(left));
}

/// Counts the download, once per download session: a body starting at byte 0 always counts;
/// a range starting later (`resumes`) from a client whose download of this link was counted
/// within `[links] download_session_minutes` continues that download and is not counted again.
async fn count_download(
    state: &AppState,
    link_id: &str,
    client: &str,
    resumes: bool,
) -> Result<Grant, Response> {
    let minutes = state
        .deliverer
        .config()
        .config
        .links
        .download_session_minutes;
    let since = resumes.then(|| Timestamp::minutes_from_now(-i64::from(minutes)));
    let (link_id, client) = (link_id.to_string(), client.to_string());
    db_call(state, move |db| db.link_download(&link_id, &client, since)).await
}

/// Seconds a borrower is asked to wait when the store is away.
const STORE_RETRY_SECS: u32 = 120;

fn store_unavailable(state: &AppState) -> Response {
    let mut resp = message(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again shortly",
        "The document cannot be fetched right now. Nothing was counted against your downloads: \
         please try again in a few minutes.",
        true,
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(STORE_RETRY_SECS));
    resp
}

/// The pickup code, if the link has one: `None` to go on, or the refusal to send. Wrong codes
/// are limited per link and per client (`[links] pickup_attempts` per `pickup_window_minutes`,
/// then 429 whatever the code), and `pickup_lock_after` of them lock the link for staff to
/// unlock. A missing code is not a guess and is not counted.
async fn check_code(
    state: &AppState,
    link: &Link,
    delivery: &Delivery,
    client: &str,
    code: Option<String>,
) -> Option<Response> {
    let expected = link.pickup_code_sha256.as_ref()?;
    let code = code.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    let Some(code) = code else {
        return Some(code_needed(state));
    };
    let links = &state.deliverer.config().config.links;
    let policy = PickupPolicy {
        attempts: i64::from(links.pickup_attempts),
        since: Timestamp::minutes_from_now(-i64::from(links.pickup_window_minutes)),
        lock_after: i64::from(links.pickup_lock_after),
    };
    let correct = quire_delivery::hash_matches(&code, expected);
    let (link_id, client) = (link.id.clone(), client.to_string());
    let check = match db_call(state, move |db| {
        db.pickup_code_attempt(&link_id, &client, correct, &policy)
    })
    .await
    {
        Ok(c) => c,
        Err(r) => return Some(r),
    };
    match check {
        CodeCheck::Accepted => None,
        CodeCheck::Wrong { locked: false } => Some(code_needed(state)),
        CodeCheck::Wrong { locked: true } | CodeCheck::Locked => {
            Some(gone(state, LinkState::Locked, &delivery.request_id))
        }
        CodeCheck::Limited => Some(too_many_codes(state, links.pickup_window_minutes)),
    }
}

fn code_needed(state: &AppState) -> Response {
    message(
        state,
        StatusCode::FORBIDDEN,
        "Pickup code needed",
        "The pickup code is missing or wrong. It is in the e-mail that brought you this link.",
        false,
    )
}

fn too_many_codes(state: &AppState, minutes: u32) -> Response {
    let text = format!(
        "Too many wrong pickup codes. Wait {minutes} minutes and try again, with the code \
         from the e-mail that brought you this link."
    );
    let mut resp = message(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many tries",
        &text,
        true,
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(minutes * 60));
    resp
}

/// The range the request's `Range` header asks for (see [`quire_delivery::parse_range`]); a
/// header that is not valid text is ignored like any other malformed one.
fn requested_range(
    headers: &HeaderMap,
    size: u64,
) -> Result<Option<std::ops::Range<u64>>, quire_delivery::RangeError> {
    match headers.get(header::RANGE).map(|v| v.to_str()) {
        Some(Ok(v)) => quire_delivery::parse_range(v, size),
        _ => Ok(None),
    }
}

fn human_size(bytes: i64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{} KB", (bytes + 1023) / 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(pages: i64) -> Delivery {
        Delivery {
            id: "dlv_1".into(),
            request_id: "TN1".into(),
            job_id: None,
            document_sha256: String::new(),
            stamped_sha256: String::new(),
            basis: quire_domain::Basis::Ccg,
            state: quire_domain::DeliveryState::Active,
            hold_reason: None,
            file_name: "TN1.pdf".into(),
            bytes: 1,
            page_count: pages,
            recipient: "Ada".into(),
            library: None,
            created_at: Timestamp::UNIX_EPOCH,
            purged_at: None,
        }
    }

    fn request(volume: Option<&str>, issue: Option<&str>, year: Option<i32>) -> Request {
        Request {
            id: "TN1".into(),
            patron_name: "Ada".into(),
            patron_email: "ada@example.org".into(),
            library: None,
            title: Some("Journal of Tests".into()),
            issn: None,
            isbn: None,
            article: Some("On tests".into()),
            author: None,
            year,
            volume: volume.map(String::from),
            issue: issue.map(String::from),
            pages: None,
            basis: quire_domain::Basis::Ccg,
            basis_reference: None,
            link_days: None,
            link_downloads: None,
            created_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn row(rows: &[(&'static str, String)], label: &str) -> Option<String> {
        rows.iter()
            .find(|(k, _)| *k == label)
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn the_citation_shows_only_what_is_known_as_a_citation_gives_it() {
        let d = delivery(12);
        let full = citation_rows(&d, Some(&request(Some("12"), Some("3"), Some(2019))));
        assert_eq!(
            row(&full, "Volume (issue), year").as_deref(),
            Some("12(3) (2019)")
        );
        let vol = citation_rows(&d, Some(&request(Some("12"), None, None)));
        assert_eq!(row(&vol, "Volume").as_deref(), Some("12"));
        let year = citation_rows(&d, Some(&request(None, None, Some(2019))));
        assert_eq!(row(&year, "Year").as_deref(), Some("2019"));
        let none = citation_rows(&d, Some(&request(None, None, None)));
        assert!(
            none.iter()
                .all(|(k, _)| !k.contains("Volume") && !k.contains("Year")),
            "{none:?}"
        );
        assert_eq!(row(&full, "Pages delivered").as_deref(), Some("12 pages"));
        let one = citation_rows(&delivery(1), None);
        assert_eq!(row(&one, "Pages delivered").as_deref(), Some("1 page"));
    }
}

//! The compliance officer's pages: the audit log (filters, paging newest first, CSV export and
//! whether the hash chain verifies), held deliveries with release-with-reason (the same
//! `quire_service::deliveries::release` `quire delivery release` calls), and the CONTU report of the year.

use std::collections::VecDeque;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use minijinja::context;
use quire_domain::DeliveryState;
use serde::Deserialize;
use serde_json::json;

use super::{PageResult, blocking, done, page, v};
use crate::AppState;
use crate::console::auth::Area;
use crate::console::csrf;
use crate::console::session::Staff;
use quire_service::deliveries::{self, ReleaseError};
use quire_state::{AuditFilter, Event, StateError};

const PAGE_SIZE: usize = 50;

#[derive(Deserialize, Default, Clone)]
pub struct AuditQuery {
    since: Option<String>,
    until: Option<String>,
    action: Option<String>,
    request: Option<String>,
    page: Option<usize>,
}

impl AuditQuery {
    fn filter(&self) -> AuditFilter {
        let keep = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        AuditFilter {
            since: keep(&self.since),
            until: keep(&self.until),
            action: keep(&self.action),
            request: keep(&self.request),
            ..Default::default()
        }
    }

    /// The filters as a query string, for the paging and export links.
    fn query_string(&self) -> String {
        let f = self.filter();
        [
            ("since", f.since),
            ("until", f.until),
            ("action", f.action),
            ("request", f.request),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", super::urlencode(&v))))
        .collect::<Vec<_>>()
        .join("&")
    }
}

pub async fn audit(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    staff.require(Area::Compliance)?;
    let page_no = q.page.unwrap_or(1).max(1);
    let filter = q.filter();
    let (events, total, verified) = blocking(&state, &staff, move |db| {
        // Newest first: only the last `page_no` pages' worth of events is ever held.
        let keep = page_no * PAGE_SIZE;
        let mut last: VecDeque<Event> = VecDeque::with_capacity(keep + 1);
        let mut total = 0usize;
        db.audit_scan(&filter, &mut |e| {
            total += 1;
            last.push_back(e);
            if last.len() > keep {
                last.pop_front();
            }
            Ok(())
        })?;
        let shown: Vec<Event> = last
            .into_iter()
            .rev()
            .skip((page_no - 1) * PAGE_SIZE)
            .take(PAGE_SIZE)
            .collect();
        let verified = match quire_state::verify_audit(db, None)? {
            Ok(s) => json!({ "ok": true, "count": s.count, "head": s.head.to_string() }),
            Err(b) => json!({ "ok": false, "seq": b.seq, "reason": b.reason }),
        };
        Ok((shown, total, verified))
    })
    .await?;
    let rows: Vec<_> = events
        .iter()
        .map(|e| {
            json!({ "seq": e.seq, "time": e.time, "actor": e.actor, "action": e.action,
                    "sentence": crate::console::audit_text::sentence(e),
                    "raw": serde_json::to_string_pretty(&json!({
                        "actor": e.actor, "action": e.action, "subjects": e.subjects,
                        "details": e.details, "hash": e.hash })).unwrap_or_default() })
        })
        .collect();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    Ok(page(
        &staff,
        "audit.html",
        context! {
            events => v(&rows), total, page => page_no, pages, verified => v(&verified), query => q.query_string(),
            since => q.since, until => q.until, action => q.action, request => q.request,
        },
    ))
}

pub async fn audit_csv(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    staff.require(Area::Compliance)?;
    let filter = q.filter();
    let bytes = blocking(&state, &staff, move |db| {
        let mut w = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| StateError::Callback(format!("writing CSV: {e}"));
        w.write_record(quire_state::audit::CSV_HEADER).map_err(io)?;
        db.audit_scan(&filter, &mut |e: Event| {
            w.write_record(e.csv_record()).map_err(io)
        })?;
        w.into_inner()
            .map_err(|e| StateError::Callback(format!("writing CSV: {e}")))
    })
    .await?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"quire-audit.csv\""),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    done: Option<String>,
    year: Option<i32>,
    library: Option<String>,
}

pub async fn held(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    staff.require(Area::Compliance)?;
    let held = blocking(&state, &staff, move |db| {
        db.deliveries_list(Some(DeliveryState::Held))
    })
    .await?;
    Ok(page(
        &staff,
        "held.html",
        context! { deliveries => v(&held), done => q.done },
    ))
}

#[derive(Deserialize)]
pub struct ReleaseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub async fn release(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<ReleaseForm>,
) -> PageResult {
    staff.require(Area::Compliance)?;
    csrf::check(&staff, &f.csrf)?;
    let officer = staff.actor();
    let deliverer = state.deliverer.clone();
    state
        .repo
        .run(move |db| {
            let ill = &deliverer.config().config.iso18626;
            deliveries::release(db, &id, &officer, &f.reason, ill, &|l| {
                deliverer.link_url(l)
            })
        })
        .await
        .map_err(|e| match e {
            ReleaseError::NoReason => super::error_page(
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not released",
                "Say why the copy may be released.",
            ),
            ReleaseError::State(e) => super::state_failure(&staff, e),
        })?;
    Ok(done(
        "/staff/compliance/held",
        "released: the link is open and the e-mail queued",
    ))
}

pub async fn contu(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    staff.require(Area::Compliance)?;
    let year = q
        .year
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().year());
    let library = q.library.clone().filter(|l| !l.trim().is_empty());
    let rules = state.console.config.config.compliance.clone();
    let lib = library.clone();
    let copies = blocking(&state, &staff, move |db| {
        db.counted_copies(year, lib.as_deref())
    })
    .await?;
    let lines = quire_domain::compliance::report::lines(
        &copies,
        rules.copies_per_year,
        rules.similar_title_distance as usize,
    );
    Ok(page(
        &staff,
        "contu.html",
        context! { lines => v(&lines), year, library, limit => rules.copies_per_year, count_ccl => rules.count_ccl },
    ))
}

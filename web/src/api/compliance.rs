//! The compliance officer's reads: the CONTU report (as `quire report contu`) and the audit
//! log, searched page by page or exported whole (as `quire audit export`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::model::{AuditEvent, ContuLine, ContuReport};
use super::page::{Page, PageQuery};
use super::problem::{Code, Problem};
use super::{Params, check_time, db};
use crate::AppState;
use quire_config::ApiScope;
use quire_domain::compliance::report;
use quire_state::{AuditFilter, Event, StateError};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContuQuery {
    /// Calendar year of the requests.
    #[param(minimum = 1900, maximum = 9999)]
    year: i32,
    /// Only this requesting library.
    library: Option<String>,
}

/// Copies counted under the CONTU guidelines, per library and work, in one year.
#[utoipa::path(get, path = "/api/v1/reports/contu", tag = "compliance",
    params(ContuQuery),
    responses((status = 200, description = "The report", body = ContuReport)),
    security(("bearer" = ["compliance"])))]
pub async fn contu(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<ContuQuery>,
) -> Result<Json<ContuReport>, Problem> {
    caller.require(ApiScope::Compliance)?;
    if !(1900..=9999).contains(&q.year) {
        return Err(Problem::new(
            Code::BadRequest,
            format!("year must be from 1900 to 9999, not {}", q.year),
        ));
    }
    let rules = state.deliverer.config().config.compliance.clone();
    let (year, library) = (q.year, q.library);
    let copies = db(&state, move |db| {
        db.counted_copies(year, library.as_deref())
    })
    .await
    .map_err(internal)?;
    let lines = report::lines(
        &copies,
        rules.copies_per_year,
        rules.similar_title_distance as usize,
    );
    Ok(Json(ContuReport {
        year,
        limit: rules.copies_per_year,
        lines: lines.into_iter().map(ContuLine::from).collect(),
    }))
}

fn internal(e: StateError) -> Problem {
    Problem::state(super::problem::Resource::Request)(e)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this action, or a prefix ending in `.` such as `link.`.
    action: Option<String>,
    /// Only events about this request: filed under it, or under its jobs, deliveries or links.
    request: Option<String>,
    /// Only events with this subject id (a request, job, delivery, link or user).
    subject: Option<String>,
    /// Only events by this actor (a staff user, an API client, `daemon`).
    actor: Option<String>,
    /// At or after this date or RFC 3339 time.
    since: Option<String>,
    /// At or before this date (the whole day) or RFC 3339 time.
    until: Option<String>,
}

impl AuditQuery {
    /// The store's filter, and a test for what it cannot filter (subject, actor).
    fn split(self) -> Result<(AuditFilter, impl Fn(&Event) -> bool), Problem> {
        check_time("since", &self.since)?;
        check_time("until", &self.until)?;
        let (subject, actor) = (self.subject, self.actor);
        let filter = AuditFilter {
            since: self.since,
            until: self.until,
            action: self.action,
            request: self.request,
            ..Default::default()
        };
        let keep = move |e: &Event| {
            actor.as_ref().is_none_or(|a| e.actor == *a)
                && subject.as_ref().is_none_or(|s| {
                    e.subjects
                        .as_object()
                        .is_some_and(|m| m.values().any(|v| v.as_str() == Some(s.as_str())))
                })
        };
        Ok((filter, keep))
    }
}

/// Audit events in seq order (oldest first, so pages stay put as events are appended).
#[utoipa::path(get, path = "/api/v1/audit", tag = "compliance",
    params(AuditQuery, PageQuery),
    responses((status = 200, description = "A page of events", body = Page<AuditEvent>)),
    security(("bearer" = ["compliance"])))]
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    Params(f): Params<AuditQuery>,
    Params(q): Params<PageQuery>,
) -> Result<Json<Page<AuditEvent>>, Problem> {
    caller.require(ApiScope::Compliance)?;
    let (limit, offset) = q.checked()?;
    let (filter, keep) = f.split()?;
    let (items, more) = db(&state, move |db| {
        let (mut seen, mut items, mut more) = (0usize, Vec::new(), false);
        db.audit_scan(&filter, &mut |e| {
            if keep(&e) {
                if seen >= offset && items.len() < limit {
                    items.push(AuditEvent::from(e));
                } else if items.len() == limit {
                    more = true;
                }
                seen += 1;
            }
            Ok(())
        })?;
        Ok((items, more))
    })
    .await
    .map_err(internal)?;
    Ok(Json(Page {
        items,
        limit,
        offset,
        next_offset: more.then(|| offset + limit),
    }))
}

/// Export formats, as `quire audit export --format`.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    #[default]
    Jsonl,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// CSV, or one JSON object per line (the default).
    #[param(inline)]
    format: Option<ExportFormat>,
}

/// Every matching event, in the format of `quire audit export`.
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "compliance",
    params(AuditQuery, ExportQuery),
    responses((status = 200, description = "The events: CSV with a header row, or JSON lines",
        content((String = "text/csv"), (String = "application/x-ndjson")))),
    security(("bearer" = ["compliance"])))]
pub async fn audit_export(
    State(state): State<AppState>,
    caller: Caller,
    Params(f): Params<AuditQuery>,
    Params(x): Params<ExportQuery>,
) -> Result<Response, Problem> {
    caller.require(ApiScope::Compliance)?;
    let (filter, keep) = f.split()?;
    let format = x.format.unwrap_or_default();
    let bytes = db(&state, move |db| {
        let io = |e: String| StateError::Callback(format!("writing the export: {e}"));
        match format {
            ExportFormat::Jsonl => {
                let mut out = Vec::new();
                db.audit_scan(&filter, &mut |e| {
                    if keep(&e) {
                        serde_json::to_writer(&mut out, &e).map_err(|e| io(e.to_string()))?;
                        out.push(b'\n');
                    }
                    Ok(())
                })?;
                Ok(out)
            }
            ExportFormat::Csv => {
                let mut w = csv::Writer::from_writer(Vec::new());
                w.write_record(quire_state::audit::CSV_HEADER)
                    .map_err(|e| io(e.to_string()))?;
                db.audit_scan(&filter, &mut |e: Event| {
                    if keep(&e) {
                        w.write_record(e.csv_record())
                            .map_err(|e| io(e.to_string()))?;
                    }
                    Ok(())
                })?;
                w.into_inner().map_err(|e| io(e.to_string()))
            }
        }
    })
    .await
    .map_err(internal)?;
    let content_type = match format {
        ExportFormat::Csv => "text/csv; charset=utf-8",
        ExportFormat::Jsonl => "application/x-ndjson",
    };
    let mut resp = bytes.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(resp)
}

//! `GET /metrics`: Prometheus text format, computed from the database on each scrape: jobs by
//! state, pages processed, OCR seconds, queue depth and downloads by outcome. Like `/healthz` it
//! needs no login and shows only counts, no names or ids; keep the port on loopback or behind
//! the proxy as `[server] listen` advises.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use quire_state::{Action, AuditFilter, JobFilter, JobState, StateError};

struct Numbers {
    jobs: BTreeMap<&'static str, u64>,
    pages: i64,
    ocr_seconds: f64,
    downloads: BTreeMap<String, u64>,
}

fn gather(db: &dyn quire_state::Database) -> Result<Numbers, StateError> {
    let mut jobs: BTreeMap<&'static str, u64> =
        JobState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    let mut pages = 0;
    for j in db.jobs_list(&JobFilter::default())? {
        *jobs.entry(j.state.as_str()).or_default() += 1;
        pages += j.page_count.unwrap_or(0);
    }
    let mut ocr_seconds = 0.0;
    let processed = AuditFilter {
        action: Some(Action::JobProcessed.to_string()),
        ..Default::default()
    };
    db.audit_scan(&processed, &mut |e| {
        ocr_seconds += e.details["tesseract_seconds"].as_f64().unwrap_or(0.0);
        Ok(())
    })?;
    let mut downloads: BTreeMap<String, u64> =
        ["granted", "expired", "revoked", "used_up", "purged", "held"]
            .iter()
            .map(|s| (s.to_string(), 0))
            .collect();
    let fetched = AuditFilter {
        action: Some(Action::LinkDownload.to_string()),
        ..Default::default()
    };
    db.audit_scan(&fetched, &mut |e| {
        let outcome = e.details["outcome"]
            .as_str()
            .unwrap_or("unknown")
            .to_string();
        *downloads.entry(outcome).or_default() += 1;
        Ok(())
    })?;
    Ok(Numbers {
        jobs,
        pages,
        ocr_seconds,
        downloads,
    })
}

fn render(n: &Numbers) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP quire_jobs Jobs by state.\n# TYPE quire_jobs gauge"
    );
    for (state, count) in &n.jobs {
        let _ = writeln!(out, "quire_jobs{{state=\"{state}\"}} {count}");
    }
    let depth = n.jobs.get("received").unwrap_or(&0) + n.jobs.get("processing").unwrap_or(&0);
    let _ = writeln!(
        out,
        "# HELP quire_queue_depth Jobs waiting for or in processing.\n# TYPE quire_queue_depth gauge\nquire_queue_depth {depth}"
    );
    let _ = writeln!(
        out,
        "# HELP quire_pages_processed_total Pages in processed jobs.\n# TYPE quire_pages_processed_total counter\nquire_pages_processed_total {}",
        n.pages
    );
    let _ = writeln!(
        out,
        "# HELP quire_ocr_seconds_total Seconds spent in tesseract.\n# TYPE quire_ocr_seconds_total counter\nquire_ocr_seconds_total {:.3}",
        n.ocr_seconds
    );
    let _ = writeln!(
        out,
        "# HELP quire_downloads_total Borrower download attempts by outcome.\n# TYPE quire_downloads_total counter"
    );
    for (outcome, count) in &n.downloads {
        // Outcomes come from the audit log; keep label values to a safe alphabet.
        let label: String = outcome
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let _ = writeln!(out, "quire_downloads_total{{outcome=\"{label}\"}} {count}");
    }
    out
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    match state.repo.call(gather).await {
        Ok(n) => {
            let mut resp = render(&n).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, code = e.code(), "metrics");
            (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")).into_response()
        }
    }
}

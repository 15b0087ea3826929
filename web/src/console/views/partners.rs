//! The partners page: the ILL systems that send requests over ISO 18626 (their last message)
//! and the status messages to them that are waiting or failed; what `quire iso18626 peers` and
//! `quire iso18626 outbox` print.

use axum::extract::State;
use minijinja::context;
use serde_json::json;

use super::{PageResult, blocking, page, v};
use crate::AppState;
use crate::console::auth::Area;
use crate::console::session::Staff;
use quire_state::OutboxState;

pub async fn list(State(state): State<AppState>, staff: Staff) -> PageResult {
    staff.require(Area::Requests)?;
    let (last, waiting, failed) = blocking(&state, &staff, |db| {
        Ok((
            db.ill_last_messages()?,
            db.ill_outbox_list(Some(OutboxState::Pending))?,
            db.ill_outbox_list(Some(OutboxState::Failed))?,
        ))
    })
    .await?;
    let ill = &state.deliverer.config().config.iso18626;
    let peers: Vec<_> = ill
        .peers
        .iter()
        .map(|p| {
            let key = quire_domain::ill::peer_key(&p.agency_id_type, &p.agency_id);
            let m = last.iter().find(|m| m.peer.eq_ignore_ascii_case(&key));
            json!({
                "name": p.name, "agency": key, "url": p.url, "version": p.version,
                "style": p.status_style,
                "last": m.map(|m| json!({
                    "at": m.at.to_string(), "direction": m.direction.as_str(),
                    "kind": m.kind, "summary": m.summary, "request": m.request_id,
                })),
            })
        })
        .collect();
    let row = |m: &quire_state::OutboxMessage| {
        json!({
            "id": m.id, "request": m.request_id, "peer": m.peer, "status": m.status.as_str(),
            "attempts": m.attempts, "next": m.next_attempt_at.to_string(), "error": m.last_error,
        })
    };
    let waiting: Vec<_> = waiting.iter().map(row).collect();
    let failed: Vec<_> = failed.iter().map(row).collect();
    Ok(page(
        &staff,
        "partners.html",
        context! {
            enabled => ill.enabled, peers => v(&peers), waiting => v(&waiting), failed => v(&failed),
        },
    ))
}

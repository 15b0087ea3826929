//! The nodes page: the daemons sharing this database (scan stations, OCR workers, the web
//! front), with their roles, last heartbeat and the jobs each holds; what `quire nodes` prints.

use axum::extract::State;
use minijinja::context;
use serde_json::json;

use super::{PageResult, blocking, page, v};
use crate::AppState;
use crate::console::auth::Area;
use crate::console::session::Staff;

pub async fn list(State(state): State<AppState>, staff: Staff) -> PageResult {
    staff.require(Area::Jobs)?;
    let lease = state.node.lease();
    let nodes = blocking(&state, &staff, move |db| {
        quire_service::nodes::list(db, lease)
    })
    .await?;
    let rows: Vec<_> = nodes
        .iter()
        .map(|(n, alive)| {
            json!({
                "name": n.beat.name, "roles": n.beat.roles.join(", "), "host": n.beat.host,
                "pid": n.beat.pid, "version": n.beat.version,
                "started_at": n.beat.started_at.to_string(), "last_beat": n.last_beat.to_string(),
                "alive": alive, "jobs_in_hand": n.jobs_in_hand,
            })
        })
        .collect();
    Ok(page(
        &staff,
        "nodes.html",
        context! { nodes => v(&rows), this => state.node.name.clone(), lease_secs => lease.as_secs() },
    ))
}

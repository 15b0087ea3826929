//! This node among the others sharing the database: its heartbeat, which renews its claims on
//! jobs, and the taking back of claims whose node stopped beating.

use std::time::Duration;

use quire_config::{LoadedConfig, NodeRole};
use quire_state::{NodeBeat, NodeStatus, Repo, StateError, Timestamp};

/// This daemon as it reports itself.
pub fn beat_of(config: &LoadedConfig, started_at: Timestamp) -> NodeBeat {
    let node = &config.config.node;
    NodeBeat {
        name: node.name.clone(),
        roles: node.roles.iter().map(|r| r.as_str().to_string()).collect(),
        host: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default(),
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").into(),
        started_at,
    }
}

/// One heartbeat: records the node alive and extends its claims by one lease; a worker node
/// then puts back in the queue the jobs of nodes whose leases lapsed. Returns those jobs.
pub fn beat_once(
    db: &dyn quire_state::Database,
    beat: &NodeBeat,
    lease: Duration,
    reclaim: bool,
) -> Result<Vec<String>, StateError> {
    db.node_beat(beat, Timestamp::now() + lease)?;
    if !reclaim {
        return Ok(Vec::new());
    }
    let requeued = db.jobs_reclaim_lapsed(Timestamp::now())?;
    for job in &requeued {
        tracing::warn!(%job, "a node stopped renewing its claim on this job; it is back in the queue");
    }
    Ok(requeued)
}

/// Beats every third of the lease until `stop` turns true. `requeued` is called when jobs went
/// back to the queue (to wake this node's workers).
pub async fn heartbeat(
    repo: Repo,
    config: &LoadedConfig,
    beat: NodeBeat,
    mut stop: tokio::sync::watch::Receiver<bool>,
    requeued: impl Fn(),
) {
    let node = &config.config.node;
    let lease = node.lease();
    let reclaim = node.has(NodeRole::Worker);
    let every = lease / 3;
    loop {
        let (b, l) = (beat.clone(), lease);
        match repo.call(move |db| beat_once(db, &b, l, reclaim)).await {
            Ok(jobs) if !jobs.is_empty() => requeued(),
            Ok(_) => {}
            // The claims run out if this goes on for a lease: another node takes the jobs, and
            // this node's late results are refused (see `JobPatch::claimed_by`).
            Err(e) => tracing::error!(error = %e, "heartbeat failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
}

/// The nodes for `quire nodes` and the console, with whether each is alive: it beat within
/// one lease of this node's.
pub fn list(
    db: &dyn quire_state::Database,
    lease: Duration,
) -> Result<Vec<(NodeStatus, bool)>, StateError> {
    let alive_after = Timestamp::now() - lease;
    Ok(db
        .nodes_list()?
        .into_iter()
        .map(|n| {
            let alive = n.last_beat >= alive_after;
            (n, alive)
        })
        .collect())
}

//! Job claims and node heartbeats in SQLite. One box has one writer at a time (`BEGIN
//! IMMEDIATE`), so a claim is a read of the oldest free job and its update in one transaction.

use rusqlite::{Connection, OptionalExtension, params};

use super::jobs;
use crate::job::{Job, NodeBeat, NodeStatus};
use crate::{StateError, Timestamp};

pub fn claim(conn: &Connection, node: &str, until: Timestamp) -> Result<Option<Job>, StateError> {
    let id: Option<String> = conn
        .query_row(
            "SELECT id FROM jobs WHERE state = 'received' ORDER BY created_at, id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let Some(id) = id else { return Ok(None) };
    conn.execute(
        "UPDATE jobs SET state = 'processing', claimed_by = ?2, lease_until = ?3, updated_at = ?4
         WHERE id = ?1",
        params![id, node, until.to_string(), Timestamp::now().to_string()],
    )?;
    jobs::get(conn, &id)
}

pub fn claim_ready(
    conn: &Connection,
    node: &str,
    until: Timestamp,
    limit: usize,
) -> Result<Vec<Job>, StateError> {
    let now = Timestamp::now().to_string();
    let ids: Vec<String> = conn
        .prepare(
            "SELECT id FROM jobs WHERE state = 'processed' AND request_id IS NOT NULL
               AND (claimed_by IS NULL OR claimed_by = ?1 OR lease_until < ?2)
             ORDER BY created_at, id LIMIT ?3",
        )?
        .query_map(params![node, now, limit as i64], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        conn.execute(
            "UPDATE jobs SET claimed_by = ?2, lease_until = ?3 WHERE id = ?1",
            params![id, node, until.to_string()],
        )?;
        out.extend(jobs::get(conn, &id)?);
    }
    Ok(out)
}

/// The lapsed claims: (job, state, node, lease_until).
pub fn lapsed(
    conn: &Connection,
    now: Timestamp,
) -> Result<Vec<(String, String, String, String)>, StateError> {
    Ok(conn
        .prepare(
            "SELECT id, state, claimed_by, lease_until FROM jobs
             WHERE claimed_by IS NOT NULL AND lease_until < ?1 ORDER BY created_at, id",
        )?
        .query_map([now.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?)
}

/// Ends a lapsed claim; a processing job goes back to received. False if the claim was renewed
/// or ended meanwhile.
pub fn take_back(
    conn: &Connection,
    id: &str,
    node: &str,
    lease_until: &str,
) -> Result<bool, StateError> {
    let n = conn.execute(
        "UPDATE jobs SET claimed_by = NULL, lease_until = NULL,
            state = CASE WHEN state = 'processing' THEN 'received' ELSE state END,
            updated_at = CASE WHEN state = 'processing' THEN ?4 ELSE updated_at END
         WHERE id = ?1 AND claimed_by = ?2 AND lease_until = ?3",
        params![id, node, lease_until, Timestamp::now().to_string()],
    )?;
    Ok(n == 1)
}

pub fn beat(conn: &Connection, node: &NodeBeat, until: Timestamp) -> Result<usize, StateError> {
    conn.execute(
        "INSERT INTO nodes (name, roles, host, pid, version, started_at, beat_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (name) DO UPDATE SET roles = excluded.roles, host = excluded.host,
             pid = excluded.pid, version = excluded.version, started_at = excluded.started_at,
             beat_at = excluded.beat_at",
        params![
            node.name,
            node.roles.join(","),
            node.host,
            node.pid,
            node.version,
            node.started_at.to_string(),
            Timestamp::now().to_string()
        ],
    )?;
    Ok(conn.execute(
        "UPDATE jobs SET lease_until = ?2 WHERE claimed_by = ?1",
        params![node.name, until.to_string()],
    )?)
}

pub fn list(conn: &Connection) -> Result<Vec<NodeStatus>, StateError> {
    let mut stmt = conn.prepare(
        "SELECT n.name, n.roles, n.host, n.pid, n.version, n.started_at, n.beat_at,
                (SELECT COUNT(*) FROM jobs j WHERE j.claimed_by = n.name)
         FROM nodes n ORDER BY n.name",
    )?;
    let rows = stmt.query_map([], |r| {
        let roles: String = r.get(1)?;
        Ok(NodeStatus {
            beat: NodeBeat {
                name: r.get(0)?,
                roles: roles
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                host: r.get(2)?,
                pid: r.get(3)?,
                version: r.get(4)?,
                started_at: super::named(r, 5)?,
            },
            last_beat: super::named(r, 6)?,
            jobs_in_hand: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

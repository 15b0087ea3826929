//! Job claims and node heartbeats in PostgreSQL. Claims are made inside a write transaction
//! (under the write lock, because a claim appends `job.processing` to the one audit chain), and
//! the row is picked with `FOR UPDATE SKIP LOCKED`, so a claimer never waits on nor takes a row
//! another transaction is changing, whether or not that one holds the write lock.

use postgres::GenericClient;

use super::jobs;
use crate::job::{Job, NodeBeat, NodeStatus};
use crate::{StateError, Timestamp};

pub fn claim(
    c: &mut impl GenericClient,
    node: &str,
    until: Timestamp,
) -> Result<Option<Job>, StateError> {
    let row = c.query_opt(
        "UPDATE jobs SET state = 'processing', claimed_by = $1, lease_until = $2, updated_at = $3
         WHERE id = (SELECT id FROM jobs WHERE state = 'received'
                     ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id",
        &[&node, &until.to_string(), &Timestamp::now().to_string()],
    )?;
    match row {
        None => Ok(None),
        Some(row) => jobs::get(c, row.try_get::<_, &str>(0)?),
    }
}

pub fn claim_ready(
    c: &mut impl GenericClient,
    node: &str,
    until: Timestamp,
    limit: usize,
) -> Result<Vec<Job>, StateError> {
    let rows = c.query(
        "UPDATE jobs SET claimed_by = $1, lease_until = $2
         WHERE id IN (SELECT id FROM jobs WHERE state = 'processed' AND request_id IS NOT NULL
                        AND (claimed_by IS NULL OR claimed_by = $1 OR lease_until < $3)
                      ORDER BY created_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
         RETURNING id",
        &[
            &node,
            &until.to_string(),
            &Timestamp::now().to_string(),
            &(limit.min(i64::MAX as usize) as i64),
        ],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.extend(jobs::get(c, row.try_get::<_, &str>(0)?)?);
    }
    out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(out)
}

/// Ends the claims that lapsed before `now`, returning (job, state it was in, node,
/// lease_until); a processing job goes back to received.
pub fn take_back_lapsed(
    c: &mut impl GenericClient,
    now: Timestamp,
) -> Result<Vec<(String, String, String, String)>, StateError> {
    // The old values come from the locked rows of the sub-select; UPDATE ... RETURNING would
    // only show the new ones.
    let rows = c.query(
        "WITH lapsed AS (
             SELECT id, state, claimed_by, lease_until FROM jobs
             WHERE claimed_by IS NOT NULL AND lease_until < $1
             ORDER BY created_at, id FOR UPDATE SKIP LOCKED)
         UPDATE jobs SET claimed_by = NULL, lease_until = NULL,
             state = CASE WHEN jobs.state = 'processing' THEN 'received' ELSE jobs.state END,
             updated_at = CASE WHEN jobs.state = 'processing' THEN $2 ELSE jobs.updated_at END
         FROM lapsed WHERE jobs.id = lapsed.id
         RETURNING lapsed.id, lapsed.state, lapsed.claimed_by, lapsed.lease_until",
        &[&now.to_string(), &Timestamp::now().to_string()],
    )?;
    let mut out = rows
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
        .collect::<Result<Vec<_>, postgres::Error>>()?;
    out.sort();
    Ok(out)
}

pub fn beat(
    c: &mut impl GenericClient,
    node: &NodeBeat,
    until: Timestamp,
) -> Result<usize, StateError> {
    c.execute(
        "INSERT INTO nodes (name, roles, host, pid, version, started_at, beat_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (name) DO UPDATE SET roles = excluded.roles, host = excluded.host,
             pid = excluded.pid, version = excluded.version, started_at = excluded.started_at,
             beat_at = excluded.beat_at",
        &[
            &node.name,
            &node.roles.join(","),
            &node.host,
            &i64::from(node.pid),
            &node.version,
            &node.started_at.to_string(),
            &Timestamp::now().to_string(),
        ],
    )?;
    Ok(c.execute(
        "UPDATE jobs SET lease_until = $2 WHERE claimed_by = $1",
        &[&node.name, &until.to_string()],
    )? as usize)
}

pub fn list(c: &mut impl GenericClient) -> Result<Vec<NodeStatus>, StateError> {
    let rows = c.query(
        "SELECT n.name, n.roles, n.host, n.pid, n.version, n.started_at, n.beat_at,
                (SELECT COUNT(*) FROM jobs j WHERE j.claimed_by = n.name)
         FROM nodes n ORDER BY n.name",
        &[],
    )?;
    super::all(rows, |r| {
        let roles: String = r.try_get(1)?;
        let pid: i64 = r.try_get(3)?;
        Ok(NodeStatus {
            beat: NodeBeat {
                name: r.try_get(0)?,
                roles: roles
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                host: r.try_get(2)?,
                pid: u32::try_from(pid).map_err(|_| StateError::Corrupt(format!("pid {pid}")))?,
                version: r.try_get(4)?,
                started_at: super::named(r, 5)?,
            },
            last_beat: super::named(r, 6)?,
            jobs_in_hand: r.try_get(7)?,
        })
    })
}

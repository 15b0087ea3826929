//! ISO 18626 transactions, messages and the outbox in SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::ill::{
    IllMessage, IllStatus, IllTransaction, NewIllMessage, OutboxMessage, OutboxState,
};
use crate::{StateError, Timestamp};

const TRANSACTION: &str = "request_id, peer_agency_type, peer_agency_id, requester_request_id, \
     multiple_item_request_id, service_type, status, basis_given, created_at, updated_at";
const MESSAGE: &str = "id, request_id, peer, direction, kind, summary, body, at";
const OUTBOX: &str =
    "id, request_id, peer, status, body, state, attempts, next_attempt_at, last_error, created_at";

pub fn insert_transaction(conn: &Connection, t: &IllTransaction) -> Result<(), StateError> {
    if find(
        conn,
        &t.peer_agency_type,
        &t.peer_agency_id,
        &t.requester_request_id,
    )?
    .is_some()
    {
        return Err(StateError::Conflict(format!(
            "{}:{} sent request {} before",
            t.peer_agency_type, t.peer_agency_id, t.requester_request_id
        )));
    }
    let now = Timestamp::now().to_string();
    conn.execute(
        &format!(
            "INSERT INTO ill_transactions ({TRANSACTION}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?9)"
        ),
        params![
            t.request_id,
            t.peer_agency_type,
            t.peer_agency_id,
            t.requester_request_id,
            t.multiple_item_request_id,
            t.service_type,
            t.status.as_str(),
            t.basis_given,
            now
        ],
    )?;
    Ok(())
}

fn transaction(row: &Row<'_>) -> rusqlite::Result<IllTransaction> {
    Ok(IllTransaction {
        request_id: row.get(0)?,
        peer_agency_type: row.get(1)?,
        peer_agency_id: row.get(2)?,
        requester_request_id: row.get(3)?,
        multiple_item_request_id: row.get(4)?,
        service_type: row.get(5)?,
        status: super::named(row, 6)?,
        basis_given: row.get(7)?,
        created_at: super::named(row, 8)?,
        updated_at: super::named(row, 9)?,
    })
}

pub fn find(
    conn: &Connection,
    peer_type: &str,
    peer_id: &str,
    requester_id: &str,
) -> Result<Option<IllTransaction>, StateError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {TRANSACTION} FROM ill_transactions
                 WHERE peer_agency_type = ?1 AND peer_agency_id = ?2 AND requester_request_id = ?3"
            ),
            params![peer_type, peer_id, requester_id],
            transaction,
        )
        .optional()?)
}

pub fn of_request(
    conn: &Connection,
    request_id: &str,
) -> Result<Option<IllTransaction>, StateError> {
    Ok(conn
        .query_row(
            &format!("SELECT {TRANSACTION} FROM ill_transactions WHERE request_id = ?1"),
            [request_id],
            transaction,
        )
        .optional()?)
}

/// Moves the transaction to `status` if it is in one of `from` (any, when empty).
pub fn set_status(
    conn: &Connection,
    request_id: &str,
    from: &[IllStatus],
    status: IllStatus,
) -> Result<(), StateError> {
    let current = of_request(conn, request_id)?.ok_or_else(|| {
        StateError::NotFound(format!("request {request_id} did not come over ISO 18626"))
    })?;
    if !from.is_empty() && !from.contains(&current.status) {
        return Err(StateError::Conflict(format!(
            "request {request_id}: the requester was told {}, not {}",
            current.status,
            from.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    conn.execute(
        "UPDATE ill_transactions SET status = ?2, updated_at = ?3 WHERE request_id = ?1",
        params![request_id, status.as_str(), Timestamp::now().to_string()],
    )?;
    Ok(())
}

pub fn insert_message(conn: &Connection, m: &NewIllMessage) -> Result<(), StateError> {
    conn.execute(
        "INSERT INTO ill_messages (request_id, peer, direction, kind, summary, body, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            m.request_id,
            m.peer,
            m.direction.as_str(),
            m.kind,
            m.summary,
            m.body,
            Timestamp::now().to_string()
        ],
    )?;
    Ok(())
}

fn message(row: &Row<'_>) -> rusqlite::Result<IllMessage> {
    Ok(IllMessage {
        id: row.get(0)?,
        request_id: row.get(1)?,
        peer: row.get(2)?,
        direction: super::named(row, 3)?,
        kind: row.get(4)?,
        summary: row.get(5)?,
        body: row.get(6)?,
        at: super::named(row, 7)?,
    })
}

pub fn messages(conn: &Connection, request_id: &str) -> Result<Vec<IllMessage>, StateError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {MESSAGE} FROM ill_messages WHERE request_id = ?1 ORDER BY id"
    ))?;
    Ok(stmt
        .query_map([request_id], message)?
        .collect::<Result<_, _>>()?)
}

pub fn last_messages(conn: &Connection) -> Result<Vec<IllMessage>, StateError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {MESSAGE} FROM ill_messages WHERE id IN (SELECT max(id) FROM ill_messages GROUP BY peer)
         ORDER BY peer"
    ))?;
    Ok(stmt.query_map([], message)?.collect::<Result<_, _>>()?)
}

pub fn queue(
    conn: &Connection,
    request_id: &str,
    peer: &str,
    status: IllStatus,
    body: &str,
) -> Result<(), StateError> {
    let now = Timestamp::now().to_string();
    conn.execute(
        "INSERT INTO ill_outbox (request_id, peer, status, body, state, attempts, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5)",
        params![request_id, peer, status.as_str(), body, now],
    )?;
    Ok(())
}

fn outbox(row: &Row<'_>) -> rusqlite::Result<OutboxMessage> {
    Ok(OutboxMessage {
        id: row.get(0)?,
        request_id: row.get(1)?,
        peer: row.get(2)?,
        status: super::named(row, 3)?,
        body: row.get(4)?,
        state: super::named(row, 5)?,
        attempts: row.get(6)?,
        next_attempt_at: super::named(row, 7)?,
        last_error: row.get(8)?,
        created_at: super::named(row, 9)?,
    })
}

pub fn claim(
    conn: &Connection,
    node: &str,
    limit: usize,
    hold_until: Timestamp,
) -> Result<Vec<OutboxMessage>, StateError> {
    let due: Vec<OutboxMessage> = conn
        .prepare(&format!(
            "SELECT {OUTBOX} FROM ill_outbox WHERE state = 'pending' AND next_attempt_at <= ?1
             ORDER BY next_attempt_at, id LIMIT ?2"
        ))?
        .query_map(params![Timestamp::now().to_string(), limit as i64], outbox)?
        .collect::<Result<_, _>>()?;
    for m in &due {
        conn.execute(
            "UPDATE ill_outbox SET next_attempt_at = ?2, claimed_by = ?3 WHERE id = ?1",
            params![m.id, hold_until.to_string(), node],
        )?;
    }
    Ok(due)
}

pub fn update(
    conn: &Connection,
    node: &str,
    id: i64,
    state: OutboxState,
    next_at: Timestamp,
    error: Option<&str>,
) -> Result<(), StateError> {
    let n = conn.execute(
        "UPDATE ill_outbox SET state = ?2, next_attempt_at = ?3, last_error = ?4,
             attempts = attempts + 1, claimed_by = NULL WHERE id = ?1 AND claimed_by = ?5",
        params![id, state.as_str(), next_at.to_string(), error, node],
    )?;
    if n == 0 {
        return Err(StateError::Conflict(format!(
            "outbox message {id} is not held by {node}'s sender"
        )));
    }
    Ok(())
}

pub fn list(
    conn: &Connection,
    state: Option<OutboxState>,
) -> Result<Vec<OutboxMessage>, StateError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {OUTBOX} FROM ill_outbox WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC"
    ))?;
    Ok(stmt
        .query_map([state.map(|s| s.as_str())], outbox)?
        .collect::<Result<_, _>>()?)
}

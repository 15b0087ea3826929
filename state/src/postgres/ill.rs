//! ISO 18626 transactions, messages and the outbox in PostgreSQL. The outbox is claimed with
//! `FOR UPDATE SKIP LOCKED`, so two nodes' senders never take the same message.

use postgres::{GenericClient, Row};

use crate::ill::{
    IllMessage, IllStatus, IllTransaction, NewIllMessage, OutboxMessage, OutboxState,
};
use crate::{StateError, Timestamp};

const TRANSACTION: &str = "request_id, peer_agency_type, peer_agency_id, requester_request_id, \
     multiple_item_request_id, service_type, status, basis_given, created_at, updated_at";
const MESSAGE: &str = "id, request_id, peer, direction, kind, summary, body, at";
const OUTBOX: &str =
    "id, request_id, peer, status, body, state, attempts, next_attempt_at, last_error, created_at";

pub fn insert_transaction(
    c: &mut impl GenericClient,
    t: &IllTransaction,
) -> Result<(), StateError> {
    let now = Timestamp::now().to_string();
    c.execute(
        &format!(
            "INSERT INTO ill_transactions ({TRANSACTION}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$9)"
        ),
        &[
            &t.request_id,
            &t.peer_agency_type,
            &t.peer_agency_id,
            &t.requester_request_id,
            &t.multiple_item_request_id,
            &t.service_type,
            &t.status.as_str(),
            &t.basis_given,
            &now,
        ],
    )?;
    Ok(())
}

fn transaction(row: &Row) -> Result<IllTransaction, StateError> {
    Ok(IllTransaction {
        request_id: row.try_get(0)?,
        peer_agency_type: row.try_get(1)?,
        peer_agency_id: row.try_get(2)?,
        requester_request_id: row.try_get(3)?,
        multiple_item_request_id: row.try_get(4)?,
        service_type: row.try_get(5)?,
        status: super::named(row, 6)?,
        basis_given: row.try_get(7)?,
        created_at: super::named(row, 8)?,
        updated_at: super::named(row, 9)?,
    })
}

pub fn find(
    c: &mut impl GenericClient,
    peer_type: &str,
    peer_id: &str,
    requester_id: &str,
) -> Result<Option<IllTransaction>, StateError> {
    c.query_opt(
        &format!(
            "SELECT {TRANSACTION} FROM ill_transactions
             WHERE peer_agency_type = $1 AND peer_agency_id = $2 AND requester_request_id = $3"
        ),
        &[&peer_type, &peer_id, &requester_id],
    )?
    .map(|r| transaction(&r))
    .transpose()
}

pub fn of_request(
    c: &mut impl GenericClient,
    request_id: &str,
) -> Result<Option<IllTransaction>, StateError> {
    c.query_opt(
        &format!("SELECT {TRANSACTION} FROM ill_transactions WHERE request_id = $1"),
        &[&request_id],
    )?
    .map(|r| transaction(&r))
    .transpose()
}

/// Moves the transaction to `status` if it is in one of `from` (any, when empty).
pub fn set_status(
    c: &mut impl GenericClient,
    request_id: &str,
    from: &[IllStatus],
    status: IllStatus,
) -> Result<IllTransaction, StateError> {
    let current = c
        .query_opt(
            &format!("SELECT {TRANSACTION} FROM ill_transactions WHERE request_id = $1 FOR UPDATE"),
            &[&request_id],
        )?
        .map(|r| transaction(&r))
        .transpose()?
        .ok_or_else(|| {
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
    c.execute(
        "UPDATE ill_transactions SET status = $2, updated_at = $3 WHERE request_id = $1",
        &[&request_id, &status.as_str(), &Timestamp::now().to_string()],
    )?;
    Ok(current)
}

pub fn insert_message(c: &mut impl GenericClient, m: &NewIllMessage) -> Result<(), StateError> {
    c.execute(
        "INSERT INTO ill_messages (request_id, peer, direction, kind, summary, body, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &m.request_id,
            &m.peer,
            &m.direction.as_str(),
            &m.kind,
            &m.summary,
            &m.body,
            &Timestamp::now().to_string(),
        ],
    )?;
    Ok(())
}

fn message(row: &Row) -> Result<IllMessage, StateError> {
    Ok(IllMessage {
        id: row.try_get(0)?,
        request_id: row.try_get(1)?,
        peer: row.try_get(2)?,
        direction: super::named(row, 3)?,
        kind: row.try_get(4)?,
        summary: row.try_get(5)?,
        body: row.try_get(6)?,
        at: super::named(row, 7)?,
    })
}

pub fn messages(
    c: &mut impl GenericClient,
    request_id: &str,
) -> Result<Vec<IllMessage>, StateError> {
    let rows = c.query(
        &format!("SELECT {MESSAGE} FROM ill_messages WHERE request_id = $1 ORDER BY id"),
        &[&request_id],
    )?;
    super::all(rows, message)
}

pub fn last_messages(c: &mut impl GenericClient) -> Result<Vec<IllMessage>, StateError> {
    let rows = c.query(
        &format!(
            "SELECT {MESSAGE} FROM ill_messages
             WHERE id IN (SELECT max(id) FROM ill_messages GROUP BY peer) ORDER BY peer"
        ),
        &[],
    )?;
    super::all(rows, message)
}

pub fn queue(
    c: &mut impl GenericClient,
    request_id: &str,
    peer: &str,
    status: IllStatus,
    body: &str,
) -> Result<(), StateError> {
    let now = Timestamp::now().to_string();
    c.execute(
        "INSERT INTO ill_outbox (request_id, peer, status, body, state, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
        &[&request_id, &peer, &status.as_str(), &body, &now],
    )?;
    Ok(())
}

fn outbox(row: &Row) -> Result<OutboxMessage, StateError> {
    Ok(OutboxMessage {
        id: row.try_get(0)?,
        request_id: row.try_get(1)?,
        peer: row.try_get(2)?,
        status: super::named(row, 3)?,
        body: row.try_get(4)?,
        state: super::named(row, 5)?,
        attempts: row.try_get(6)?,
        next_attempt_at: super::named(row, 7)?,
        last_error: row.try_get(8)?,
        created_at: super::named(row, 9)?,
    })
}

pub fn claim(
    c: &mut impl GenericClient,
    node: &str,
    limit: usize,
    hold_until: Timestamp,
) -> Result<Vec<OutboxMessage>, StateError> {
    let rows = c.query(
        &format!(
            "SELECT {OUTBOX} FROM ill_outbox WHERE state = 'pending' AND next_attempt_at <= $1
             ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED"
        ),
        &[
            &Timestamp::now().to_string(),
            &(limit.min(i64::MAX as usize) as i64),
        ],
    )?;
    let due = super::all(rows, outbox)?;
    for m in &due {
        c.execute(
            "UPDATE ill_outbox SET next_attempt_at = $2, claimed_by = $3 WHERE id = $1",
            &[&m.id, &hold_until.to_string(), &node],
        )?;
    }
    Ok(due)
}

pub fn update(
    c: &mut impl GenericClient,
    node: &str,
    id: i64,
    state: OutboxState,
    next_at: Timestamp,
    error: Option<&str>,
) -> Result<(), StateError> {
    let n = c.execute(
        "UPDATE ill_outbox SET state = $2, next_attempt_at = $3, last_error = $4,
             attempts = attempts + 1, claimed_by = NULL WHERE id = $1 AND claimed_by = $5",
        &[&id, &state.as_str(), &next_at.to_string(), &error, &node],
    )?;
    if n == 0 {
        return Err(StateError::Conflict(format!(
            "outbox message {id} is not held by {node}'s sender"
        )));
    }
    Ok(())
}

pub fn list(
    c: &mut impl GenericClient,
    state: Option<OutboxState>,
) -> Result<Vec<OutboxMessage>, StateError> {
    let rows = c.query(
        &format!(
            "SELECT {OUTBOX} FROM ill_outbox WHERE $1::text IS NULL OR state = $1 ORDER BY id DESC"
        ),
        &[&state.map(|s| s.as_str())],
    )?;
    super::all(rows, outbox)
}

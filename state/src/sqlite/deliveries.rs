//! Deliveries, links and queued notices in SQLite.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::delivery::{CodeCheck, Delivery, Grant, Link, PickupPolicy, QueuedNotice};
use crate::{LinkState, StateError};
use quire_domain::{NoticeState, Timestamp};

const DELIVERY: &str = "d.id, d.request_id, d.job_id, d.document_sha256, d.stamped_sha256, d.basis, d.state, \
     d.hold_reason, d.file_name, d.bytes, d.page_count, d.recipient, d.library, d.created_at, d.purged_at";
const LINK: &str = "l.id, l.delivery_id, l.token_sha256, l.expires_at, l.downloads_left, l.downloads_allowed, \
     l.pickup_code_sha256, l.revoked_at, l.created_at, l.locked_at, l.code_failures";
/// Columns in [`LINK`], where the delivery's start in a joined row.
const LINK_COLUMNS: usize = 11;

fn delivery_from(row: &Row<'_>, at: usize) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: row.get(at)?,
        request_id: row.get(at + 1)?,
        job_id: row.get(at + 2)?,
        document_sha256: row.get(at + 3)?,
        stamped_sha256: row.get(at + 4)?,
        basis: super::named(row, at + 5)?,
        state: super::named(row, at + 6)?,
        hold_reason: row.get(at + 7)?,
        file_name: row.get(at + 8)?,
        bytes: row.get(at + 9)?,
        page_count: row.get(at + 10)?,
        recipient: row.get(at + 11)?,
        library: row.get(at + 12)?,
        created_at: super::named(row, at + 13)?,
        purged_at: super::time_opt(row, at + 14)?,
    })
}

fn link_from(row: &Row<'_>, at: usize) -> rusqlite::Result<Link> {
    Ok(Link {
        id: row.get(at)?,
        delivery_id: row.get(at + 1)?,
        token_sha256: row.get(at + 2)?,
        expires_at: super::named(row, at + 3)?,
        downloads_left: row.get(at + 4)?,
        downloads_allowed: row.get(at + 5)?,
        pickup_code_sha256: row.get(at + 6)?,
        revoked_at: super::time_opt(row, at + 7)?,
        created_at: super::named(row, at + 8)?,
        locked_at: super::time_opt(row, at + 9)?,
        code_failures: row.get(at + 10)?,
    })
}

fn pair(row: &Row<'_>) -> rusqlite::Result<(Link, Delivery)> {
    Ok((link_from(row, 0)?, delivery_from(row, LINK_COLUMNS)?))
}

pub fn insert(
    tx: &Transaction<'_>,
    d: &Delivery,
    l: &Link,
    notice: Option<(&str, &str, &str)>,
) -> Result<(), StateError> {
    let now = Timestamp::now().to_string();
    tx.execute(
        "INSERT INTO deliveries (id, request_id, job_id, document_sha256, stamped_sha256, basis, state, hold_reason,
            file_name, bytes, page_count, recipient, library, created_at)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
        params![
            d.id, d.request_id, d.job_id, d.document_sha256, d.stamped_sha256, d.basis.as_str(), d.state.as_str(), d.hold_reason,
            d.file_name, d.bytes, d.page_count, d.recipient, d.library, now
        ],
    )?;
    tx.execute(
        "INSERT INTO links (id, delivery_id, token_sha256, expires_at, downloads_left, downloads_allowed,
            pickup_code_sha256, created_at)
         VALUES (?1,?2,?3,?4,?5,?5,?6,?7)",
        params![l.id, d.id, l.token_sha256, l.expires_at.to_string(), l.downloads_left, l.pickup_code_sha256, now],
    )?;
    if let Some((to, subject, body)) = notice {
        tx.execute(
            "INSERT INTO notices (delivery_id, recipient, subject, body, state, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
            params![d.id, to, subject, body, now],
        )?;
    }
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<Delivery>, StateError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {DELIVERY} FROM deliveries d WHERE d.id = ?1"
        ))?
        .query_row([id], |r| delivery_from(r, 0))
        .optional()?)
}

pub fn by_stamped(conn: &Connection, sha256: &str) -> Result<Vec<Delivery>, StateError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {DELIVERY} FROM deliveries d WHERE d.stamped_sha256 = ?1"
    ))?;
    let rows = stmt.query_map([sha256], |r| delivery_from(r, 0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn link_by_token(
    conn: &Connection,
    token_sha256: &str,
) -> Result<Option<(Link, Delivery)>, StateError> {
    // Every borrower request comes through here: keep the statement parsed.
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {LINK}, {DELIVERY} FROM links l JOIN deliveries d ON d.id = l.delivery_id WHERE l.token_sha256 = ?1"
        ))?
        .query_row([token_sha256], pair)
        .optional()?)
}

pub fn link_get(conn: &Connection, id: &str) -> Result<Option<(Link, Delivery)>, StateError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {LINK}, {DELIVERY} FROM links l JOIN deliveries d ON d.id = l.delivery_id WHERE l.id = ?1"))?
        .query_row([id], pair)
        .optional()?)
}

pub fn links(
    conn: &Connection,
    request: Option<&str>,
) -> Result<Vec<(Link, Delivery)>, StateError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {LINK}, {DELIVERY} FROM links l JOIN deliveries d ON d.id = l.delivery_id
         WHERE ?1 IS NULL OR d.request_id = ?1 ORDER BY l.created_at, l.id"
    ))?;
    let rows = stmt.query_map([request], pair)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The one place a download is counted: a single conditional UPDATE, so concurrent requests
/// can never take more downloads than there are. Each counted download is remembered with its
/// client, so [`resume`] can recognise the same client coming back for the rest.
pub fn consume(
    tx: &Transaction<'_>,
    link_id: &str,
    client: &str,
    now: Timestamp,
) -> Result<Grant, StateError> {
    let now_text = now.to_string();
    let changed = tx.execute(
        "UPDATE links SET downloads_left = downloads_left - 1,
                ended_at = CASE WHEN downloads_left = 1 THEN ?2 ELSE ended_at END
         WHERE id = ?1 AND revoked_at IS NULL AND locked_at IS NULL AND expires_at > ?2
           AND downloads_left > 0
           AND (SELECT state FROM deliveries WHERE id = links.delivery_id) = 'active'",
        params![link_id, now_text],
    )?;
    if changed == 1 {
        tx.execute(
            "INSERT INTO link_downloads (link_id, client, at) VALUES (?1, ?2, ?3)",
            params![link_id, client, now_text],
        )?;
    }
    let (link, delivery) =
        link_get(tx, link_id)?.ok_or_else(|| StateError::NotFound(format!("link {link_id}")))?;
    Ok(if changed == 1 {
        Grant::Granted {
            left: link.downloads_left,
        }
    } else {
        Grant::Refused(link.state(delivery.state, now))
    })
}

/// `Some(Resumed)` when `client` had a download of this link counted after `since` and the
/// link still works but for its count (the last download may be resumed too); `None` when the
/// request must be counted as a new download.
pub fn resume(
    tx: &Transaction<'_>,
    link_id: &str,
    client: &str,
    since: Timestamp,
    now: Timestamp,
) -> Result<Option<Grant>, StateError> {
    let recent: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM link_downloads WHERE link_id = ?1 AND client = ?2 AND at > ?3)",
        params![link_id, client, since.to_string()],
        |r| r.get(0),
    )?;
    if !recent {
        return Ok(None);
    }
    let (link, delivery) =
        link_get(tx, link_id)?.ok_or_else(|| StateError::NotFound(format!("link {link_id}")))?;
    let state = link.state(delivery.state, now);
    Ok(match state {
        LinkState::Active | LinkState::UsedUp => Some(Grant::Resumed {
            left: link.downloads_left,
        }),
        refused => Some(Grant::Refused(refused)),
    })
}

/// Counts a pickup code attempt: see [`crate::Database::pickup_code_attempt`]. The
/// audit events are the caller's; this returns what happened.
pub fn code_attempt(
    tx: &Transaction<'_>,
    link_id: &str,
    client: &str,
    correct: bool,
    policy: &PickupPolicy,
    now: Timestamp,
) -> Result<CodeCheck, StateError> {
    let since = policy.since.to_string();
    let now = now.to_string();
    let (link, _) =
        link_get(tx, link_id)?.ok_or_else(|| StateError::NotFound(format!("link {link_id}")))?;
    if link.locked_at.is_some() {
        return Ok(CodeCheck::Locked);
    }
    // Rows before the window never count again.
    tx.execute("DELETE FROM pickup_failures WHERE at <= ?1", [&since])?;
    let count = |column: &str, value: &str| -> Result<i64, StateError> {
        Ok(tx.query_row(
            &format!("SELECT count(*) FROM pickup_failures WHERE {column} = ?1 AND at > ?2"),
            params![value, since],
            |r| r.get(0),
        )?)
    };
    if count("link_id", link_id)? >= policy.attempts || count("client", client)? >= policy.attempts
    {
        return Ok(CodeCheck::Limited);
    }
    if correct {
        return Ok(CodeCheck::Accepted);
    }
    tx.execute(
        "INSERT INTO pickup_failures (link_id, client, at) VALUES (?1, ?2, ?3)",
        params![link_id, client, now],
    )?;
    let locked = tx.execute(
        "UPDATE links SET code_failures = code_failures + 1,
                locked_at = CASE WHEN code_failures + 1 >= ?2 THEN ?3 ELSE NULL END
         WHERE id = ?1",
        params![link_id, policy.lock_after, now],
    )? == 1
        && link.code_failures + 1 >= policy.lock_after;
    Ok(CodeCheck::Wrong { locked })
}

/// Lifts a lock and forgets the link's wrong codes; false if the link was not locked.
pub fn unlock(tx: &Transaction<'_>, link_id: &str) -> Result<bool, StateError> {
    let changed = tx.execute(
        "UPDATE links SET locked_at = NULL, code_failures = 0 WHERE id = ?1 AND locked_at IS NOT NULL",
        [link_id],
    )?;
    tx.execute("DELETE FROM pickup_failures WHERE link_id = ?1", [link_id])?;
    Ok(changed == 1)
}

pub fn revoke(tx: &Transaction<'_>, link_id: &str, now: Timestamp) -> Result<bool, StateError> {
    Ok(tx.execute(
        "UPDATE links SET revoked_at = ?2, ended_at = COALESCE(ended_at, ?2) WHERE id = ?1 AND revoked_at IS NULL",
        params![link_id, now.to_string()],
    )? == 1)
}

pub fn extend(
    tx: &Transaction<'_>,
    link_id: &str,
    expires_at: Option<Timestamp>,
    more_downloads: Option<i64>,
) -> Result<(), StateError> {
    if let Some(e) = expires_at {
        tx.execute(
            "UPDATE links SET expires_at = ?2 WHERE id = ?1",
            params![link_id, e.to_string()],
        )?;
    }
    if let Some(n) = more_downloads {
        tx.execute(
            "UPDATE links SET downloads_left = downloads_left + ?2, downloads_allowed = downloads_allowed + ?2,
                    ended_at = CASE WHEN revoked_at IS NULL THEN NULL ELSE ended_at END WHERE id = ?1",
            params![link_id, n],
        )?;
    }
    Ok(())
}

pub fn notices_due(
    conn: &Connection,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<QueuedNotice>, StateError> {
    let mut stmt = conn.prepare(
        "SELECT id, delivery_id, recipient, subject, body, attempts FROM notices
         WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now.to_string(), limit as i64], |r| {
        Ok(QueuedNotice {
            id: r.get(0)?,
            delivery_id: r.get(1)?,
            recipient: r.get(2)?,
            subject: r.get(3)?,
            body: r.get(4)?,
            attempts: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The notices of every delivery of `request_id`, oldest first.
pub fn notices_of_request(
    conn: &Connection,
    request_id: &str,
) -> Result<Vec<crate::NoticeStatus>, StateError> {
    let mut stmt = conn.prepare_cached(
        "SELECT n.delivery_id, n.recipient, n.state, n.attempts, n.last_error, n.created_at, n.sent_at
         FROM notices n JOIN deliveries d ON d.id = n.delivery_id
         WHERE d.request_id = ?1 ORDER BY n.id",
    )?;
    let rows = stmt.query_map([request_id], |r| {
        Ok(crate::NoticeStatus {
            delivery_id: r.get(0)?,
            recipient: r.get(1)?,
            state: super::named(r, 2)?,
            attempts: r.get(3)?,
            last_error: r.get(4)?,
            created_at: super::named(r, 5)?,
            sent_at: super::time_opt(r, 6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn notice_update(
    tx: &Transaction<'_>,
    node: &str,
    id: i64,
    state: NoticeState,
    next_at: Timestamp,
    error: Option<&str>,
) -> Result<(), StateError> {
    let now = Timestamp::now();
    let n = tx.execute(
        "UPDATE notices SET state = ?2, attempts = attempts + 1, next_attempt_at = ?3, last_error = ?4, claimed_by = NULL,
                sent_at = CASE WHEN ?2 = 'sent' THEN ?5 ELSE sent_at END WHERE id = ?1 AND claimed_by = ?6",
        params![id, state.as_str(), next_at.to_string(), error, now.to_string(), node],
    )?;
    if n == 0 {
        return Err(StateError::Conflict(format!(
            "notice {id} is not held by {node}'s sender"
        )));
    }
    Ok(())
}

/// Active deliveries every one of whose links ended before `cutoff`.
pub fn purgeable(conn: &Connection, cutoff: Timestamp) -> Result<Vec<Delivery>, StateError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {DELIVERY} FROM deliveries d WHERE d.state IN ('active', 'held') AND NOT EXISTS (
            SELECT 1 FROM links l WHERE l.delivery_id = d.id
              AND MIN(l.expires_at, COALESCE(l.ended_at, l.expires_at)) >= ?1)
         ORDER BY d.created_at"
    ))?;
    let rows = stmt.query_map([cutoff.to_string()], |r| delivery_from(r, 0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn mark_purged(tx: &Transaction<'_>, id: &str, now: Timestamp) -> Result<bool, StateError> {
    Ok(tx.execute("UPDATE deliveries SET state = 'purged', purged_at = ?2 WHERE id = ?1 AND state != 'purged'", params![id, now.to_string()])? == 1)
}

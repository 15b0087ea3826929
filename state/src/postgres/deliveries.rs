//! Deliveries, links and queued notices in PostgreSQL.

use postgres::{GenericClient, Row};

use crate::delivery::{CodeCheck, Delivery, Grant, Link, PickupPolicy, QueuedNotice};
use crate::{LinkState, StateError};
use quire_domain::{NoticeState, Timestamp};

const DELIVERY: &str = "d.id, d.request_id, d.job_id, d.document_sha256, d.stamped_sha256, d.basis, d.state, \
     d.hold_reason, d.file_name, d.bytes, d.page_count, d.recipient, d.library, d.created_at, d.purged_at";
const LINK: &str = "l.id, l.delivery_id, l.token_sha256, l.expires_at, l.downloads_left, l.downloads_allowed, \
     l.pickup_code_sha256, l.revoked_at, l.created_at, l.locked_at, l.code_failures";
/// Columns in [`LINK`], where the delivery's start in a joined row.
const LINK_COLUMNS: usize = 11;

fn delivery_from(row: &Row, at: usize) -> Result<Delivery, StateError> {
    Ok(Delivery {
        id: row.try_get(at)?,
        request_id: row.try_get(at + 1)?,
        job_id: row.try_get(at + 2)?,
        document_sha256: row.try_get(at + 3)?,
        stamped_sha256: row.try_get(at + 4)?,
        basis: super::named(row, at + 5)?,
        state: super::named(row, at + 6)?,
        hold_reason: row.try_get(at + 7)?,
        file_name: row.try_get(at + 8)?,
        bytes: row.try_get(at + 9)?,
        page_count: row.try_get(at + 10)?,
        recipient: row.try_get(at + 11)?,
        library: row.try_get(at + 12)?,
        created_at: super::named(row, at + 13)?,
        purged_at: super::time_opt(row, at + 14)?,
    })
}

fn link_from(row: &Row, at: usize) -> Result<Link, StateError> {
    Ok(Link {
        id: row.try_get(at)?,
        delivery_id: row.try_get(at + 1)?,
        token_sha256: row.try_get(at + 2)?,
        expires_at: super::named(row, at + 3)?,
        downloads_left: row.try_get(at + 4)?,
        downloads_allowed: row.try_get(at + 5)?,
        pickup_code_sha256: row.try_get(at + 6)?,
        revoked_at: super::time_opt(row, at + 7)?,
        created_at: super::named(row, at + 8)?,
        locked_at: super::time_opt(row, at + 9)?,
        code_failures: row.try_get(at + 10)?,
    })
}

fn pair(row: &Row) -> Result<(Link, Delivery), StateError> {
    Ok((link_from(row, 0)?, delivery_from(row, LINK_COLUMNS)?))
}

pub fn insert(
    c: &mut impl GenericClient,
    d: &Delivery,
    l: &Link,
    notice: Option<(&str, &str, &str)>,
) -> Result<(), StateError> {
    let now = Timestamp::now().to_string();
    c.execute(
        "INSERT INTO deliveries (id, request_id, job_id, document_sha256, stamped_sha256, basis, state, hold_reason,
            file_name, bytes, page_count, recipient, library, created_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
        &[
            &d.id, &d.request_id, &d.job_id, &d.document_sha256, &d.stamped_sha256, &d.basis.as_str(), &d.state.as_str(), &d.hold_reason,
            &d.file_name, &d.bytes, &d.page_count, &d.recipient, &d.library, &now,
        ],
    )?;
    c.execute(
        "INSERT INTO links (id, delivery_id, token_sha256, expires_at, downloads_left, downloads_allowed,
            pickup_code_sha256, created_at)
         VALUES ($1,$2,$3,$4,$5,$5,$6,$7)",
        &[&l.id, &d.id, &l.token_sha256, &l.expires_at.to_string(), &l.downloads_left, &l.pickup_code_sha256, &now],
    )?;
    if let Some((to, subject, body)) = notice {
        c.execute(
            "INSERT INTO notices (delivery_id, recipient, subject, body, state, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, 'pending', $5, $5)",
            &[&d.id, &to, &subject, &body, &now],
        )?;
    }
    Ok(())
}

pub fn get(c: &mut impl GenericClient, id: &str) -> Result<Option<Delivery>, StateError> {
    c.query_opt(
        &format!("SELECT {DELIVERY} FROM deliveries d WHERE d.id = $1"),
        &[&id],
    )?
    .map(|r| delivery_from(&r, 0))
    .transpose()
}

pub fn by_stamped(c: &mut impl GenericClient, sha256: &str) -> Result<Vec<Delivery>, StateError> {
    let rows = c.query(
        &format!("SELECT {DELIVERY} FROM deliveries d WHERE d.stamped_sha256 = $1"),
        &[&sha256],
    )?;
    super::all(rows, |r| delivery_from(r, 0))
}

pub fn link_by_token(
    c: &mut impl GenericClient,
    token_sha256: &str,
) -> Result<Option<(Link, Delivery)>, StateError> {
    c.query_opt(
        &format!(
            "SELECT {LINK}, {DELIVERY} FROM links l JOIN deliveries d ON d.id = l.delivery_id WHERE l.token_sha256 = $1"
        ),
        &[&token_sha256],
    )?
    .map(|r| pair(&r))
    .transpose()
}

pub fn link_get(
    c: &mut impl GenericClient,
    id: &str,
) -> Result<Option<(Link, Delivery)>, StateError> {
    c.query_opt(
        &format!(
            "SELECT {LINK}, {DELIVERY} FROM links l JOIN deliveries d ON d.id = l.delivery_id WHERE l.id = $1"
        ),
        &[&id],
    )?
    .map(|r| pair(&r))
    .transpose()
}

pub fn links(
    c: &mut impl GenericClient,
    request: Option<&str>,
) -> Result<Vec<(Link, Delivery)>, StateError> {
    let rows = c.query(
        &format!(
            "SELECT {LINK}, {DELIVERY} FROM links l JOIN deliveries d ON d.id = l.delivery_id
             WHERE $1::text IS NULL OR d.request_id = $1 ORDER BY l.created_at, l.id"
        ),
        &[&request],
    )?;
    super::all(rows, pair)
}

/// The one place a download is counted: a single conditional UPDATE, so concurrent requests
/// can never take more downloads than there are.
pub fn consume(
    c: &mut impl GenericClient,
    link_id: &str,
    client: &str,
    now: Timestamp,
) -> Result<Grant, StateError> {
    let now_text = now.to_string();
    let changed = c.execute(
        "UPDATE links SET downloads_left = downloads_left - 1,
                ended_at = CASE WHEN downloads_left = 1 THEN $2 ELSE ended_at END
         WHERE id = $1 AND revoked_at IS NULL AND locked_at IS NULL AND expires_at > $2
           AND downloads_left > 0
           AND (SELECT state FROM deliveries WHERE id = links.delivery_id) = 'active'",
        &[&link_id, &now_text],
    )?;
    if changed == 1 {
        c.execute(
            "INSERT INTO link_downloads (link_id, client, at) VALUES ($1, $2, $3)",
            &[&link_id, &client, &now_text],
        )?;
    }
    let (link, delivery) =
        link_get(c, link_id)?.ok_or_else(|| StateError::NotFound(format!("link {link_id}")))?;
    Ok(if changed == 1 {
        Grant::Granted {
            left: link.downloads_left,
        }
    } else {
        Grant::Refused(link.state(delivery.state, now))
    })
}

/// `Some(Resumed)` when `client` had a download of this link counted after `since` and the
/// link still works but for its count; `None` when the request must be counted anew.
pub fn resume(
    c: &mut impl GenericClient,
    link_id: &str,
    client: &str,
    since: Timestamp,
    now: Timestamp,
) -> Result<Option<Grant>, StateError> {
    let recent: bool = c
        .query_one(
            "SELECT EXISTS(SELECT 1 FROM link_downloads WHERE link_id = $1 AND client = $2 AND at > $3)",
            &[&link_id, &client, &since.to_string()],
        )?
        .try_get(0)?;
    if !recent {
        return Ok(None);
    }
    let (link, delivery) =
        link_get(c, link_id)?.ok_or_else(|| StateError::NotFound(format!("link {link_id}")))?;
    Ok(match link.state(delivery.state, now) {
        LinkState::Active | LinkState::UsedUp => Some(Grant::Resumed {
            left: link.downloads_left,
        }),
        refused => Some(Grant::Refused(refused)),
    })
}

/// Counts a pickup code attempt; the audit events are the caller's.
pub fn code_attempt(
    c: &mut impl GenericClient,
    link_id: &str,
    client: &str,
    correct: bool,
    policy: &PickupPolicy,
    now: Timestamp,
) -> Result<CodeCheck, StateError> {
    let since = policy.since.to_string();
    let now = now.to_string();
    let (link, _) =
        link_get(c, link_id)?.ok_or_else(|| StateError::NotFound(format!("link {link_id}")))?;
    if link.locked_at.is_some() {
        return Ok(CodeCheck::Locked);
    }
    // Rows before the window never count again.
    c.execute("DELETE FROM pickup_failures WHERE at <= $1", &[&since])?;
    let mut count = |column: &str, value: &str| -> Result<i64, StateError> {
        Ok(c.query_one(
            &format!("SELECT count(*) FROM pickup_failures WHERE {column} = $1 AND at > $2"),
            &[&value, &since],
        )?
        .try_get(0)?)
    };
    if count("link_id", link_id)? >= policy.attempts || count("client", client)? >= policy.attempts
    {
        return Ok(CodeCheck::Limited);
    }
    if correct {
        return Ok(CodeCheck::Accepted);
    }
    c.execute(
        "INSERT INTO pickup_failures (link_id, client, at) VALUES ($1, $2, $3)",
        &[&link_id, &client, &now],
    )?;
    let locked = c.execute(
        "UPDATE links SET code_failures = code_failures + 1,
                locked_at = CASE WHEN code_failures + 1 >= $2 THEN $3 ELSE NULL END
         WHERE id = $1",
        &[&link_id, &policy.lock_after, &now],
    )? == 1
        && link.code_failures + 1 >= policy.lock_after;
    Ok(CodeCheck::Wrong { locked })
}

/// Lifts a lock and forgets the link's wrong codes; false if the link was not locked.
pub fn unlock(c: &mut impl GenericClient, link_id: &str) -> Result<bool, StateError> {
    let changed = c.execute(
        "UPDATE links SET locked_at = NULL, code_failures = 0 WHERE id = $1 AND locked_at IS NOT NULL",
        &[&link_id],
    )?;
    c.execute(
        "DELETE FROM pickup_failures WHERE link_id = $1",
        &[&link_id],
    )?;
    Ok(changed == 1)
}

pub fn revoke(
    c: &mut impl GenericClient,
    link_id: &str,
    now: Timestamp,
) -> Result<bool, StateError> {
    Ok(c.execute(
        "UPDATE links SET revoked_at = $2, ended_at = COALESCE(ended_at, $2) WHERE id = $1 AND revoked_at IS NULL",
        &[&link_id, &now.to_string()],
    )? == 1)
}

pub fn extend(
    c: &mut impl GenericClient,
    link_id: &str,
    expires_at: Option<Timestamp>,
    more_downloads: Option<i64>,
) -> Result<(), StateError> {
    if let Some(e) = expires_at {
        c.execute(
            "UPDATE links SET expires_at = $2 WHERE id = $1",
            &[&link_id, &e.to_string()],
        )?;
    }
    if let Some(n) = more_downloads {
        c.execute(
            "UPDATE links SET downloads_left = downloads_left + $2, downloads_allowed = downloads_allowed + $2,
                    ended_at = CASE WHEN revoked_at IS NULL THEN NULL ELSE ended_at END WHERE id = $1",
            &[&link_id, &n],
        )?;
    }
    Ok(())
}

pub fn notices_due(
    c: &mut impl GenericClient,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<QueuedNotice>, StateError> {
    let rows = c.query(
        "SELECT id, delivery_id, recipient, subject, body, attempts FROM notices
         WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
        &[&now.to_string(), &(limit.min(i64::MAX as usize) as i64)],
    )?;
    super::all(rows, |r| {
        Ok(QueuedNotice {
            id: r.try_get(0)?,
            delivery_id: r.try_get(1)?,
            recipient: r.try_get(2)?,
            subject: r.try_get(3)?,
            body: r.try_get(4)?,
            attempts: r.try_get(5)?,
        })
    })
}

/// Due notices, their next attempt moved to `hold_until`; rows another sender is taking are
/// skipped, not waited for.
pub fn notices_claim(
    c: &mut impl GenericClient,
    node: &str,
    now: Timestamp,
    limit: usize,
    hold_until: Timestamp,
) -> Result<Vec<QueuedNotice>, StateError> {
    let rows = c.query(
        "WITH due AS (
             SELECT id, next_attempt_at FROM notices
             WHERE state = 'pending' AND next_attempt_at <= $1
             ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE notices n SET next_attempt_at = $3, claimed_by = $4 FROM due WHERE n.id = due.id
         RETURNING n.id, n.delivery_id, n.recipient, n.subject, n.body, n.attempts,
                   due.next_attempt_at",
        &[
            &now.to_string(),
            &(limit.min(i64::MAX as usize) as i64),
            &hold_until.to_string(),
            &node,
        ],
    )?;
    let mut due: Vec<(String, QueuedNotice)> = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get(6)?,
                QueuedNotice {
                    id: r.try_get(0)?,
                    delivery_id: r.try_get(1)?,
                    recipient: r.try_get(2)?,
                    subject: r.try_get(3)?,
                    body: r.try_get(4)?,
                    attempts: r.try_get(5)?,
                },
            ))
        })
        .collect::<Result<_, postgres::Error>>()?;
    due.sort_by(|a, b| (&a.0, a.1.id).cmp(&(&b.0, b.1.id)));
    Ok(due.into_iter().map(|(_, n)| n).collect())
}

/// The notices of every delivery of `request_id`, oldest first.
pub fn notices_of_request(
    c: &mut impl GenericClient,
    request_id: &str,
) -> Result<Vec<crate::NoticeStatus>, StateError> {
    let rows = c.query(
        "SELECT n.delivery_id, n.recipient, n.state, n.attempts, n.last_error, n.created_at, n.sent_at
         FROM notices n JOIN deliveries d ON d.id = n.delivery_id
         WHERE d.request_id = $1 ORDER BY n.id",
        &[&request_id],
    )?;
    super::all(rows, |r| {
        Ok(crate::NoticeStatus {
            delivery_id: r.try_get(0)?,
            recipient: r.try_get(1)?,
            state: super::named(r, 2)?,
            attempts: r.try_get(3)?,
            last_error: r.try_get(4)?,
            created_at: super::named(r, 5)?,
            sent_at: super::time_opt(r, 6)?,
        })
    })
}

pub fn notice_update(
    c: &mut impl GenericClient,
    node: &str,
    id: i64,
    state: NoticeState,
    next_at: Timestamp,
    error: Option<&str>,
) -> Result<(), StateError> {
    let now = Timestamp::now();
    let n = c.execute(
        "UPDATE notices SET state = $2, attempts = attempts + 1, next_attempt_at = $3, last_error = $4, claimed_by = NULL,
                sent_at = CASE WHEN $2 = 'sent' THEN $5 ELSE sent_at END WHERE id = $1 AND claimed_by = $6",
        &[&id, &state.as_str(), &next_at.to_string(), &error, &now.to_string(), &node],
    )?;
    if n == 0 {
        return Err(StateError::Conflict(format!(
            "notice {id} is not held by {node}'s sender"
        )));
    }
    Ok(())
}

/// Active deliveries every one of whose links ended before `cutoff`.
pub fn purgeable(
    c: &mut impl GenericClient,
    cutoff: Timestamp,
) -> Result<Vec<Delivery>, StateError> {
    let rows = c.query(
        &format!(
            "SELECT {DELIVERY} FROM deliveries d WHERE d.state IN ('active', 'held') AND NOT EXISTS (
                SELECT 1 FROM links l WHERE l.delivery_id = d.id
                  AND LEAST(l.expires_at, COALESCE(l.ended_at, l.expires_at)) >= $1)
             ORDER BY d.created_at"
        ),
        &[&cutoff.to_string()],
    )?;
    super::all(rows, |r| delivery_from(r, 0))
}

pub fn mark_purged(
    c: &mut impl GenericClient,
    id: &str,
    now: Timestamp,
) -> Result<bool, StateError> {
    Ok(c.execute(
        "UPDATE deliveries SET state = 'purged', purged_at = $2 WHERE id = $1 AND state != 'purged'",
        &[&id, &now.to_string()],
    )? == 1)
}

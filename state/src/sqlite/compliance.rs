//! Compliance in SQLite: counting a delivery under the rule of five inside its own
//! transaction, holding and releasing, the rows of the CONTU report, pruning past retention
//! (with an audit checkpoint) and pseudonymising patrons. The rules themselves are in
//! `quire_domain::compliance`; this file only stores and counts.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::{Value, json};

use super::{append_in, deliveries, jobs};
use crate::delivery::{Delivery, Link};
use crate::job::{JobPatch, JobState};
use crate::{Basis, NewEvent, StateError};
use quire_domain::compliance::ComplianceConfig;
use quire_domain::compliance::count::{Counted, Ledger, count_copy};
use quire_domain::compliance::retention::{self, PruneReport, PseudonymReport};
use quire_domain::compliance::{CopyDecision, CountedCopy, Work};
use quire_domain::{DeliveryState, Timestamp, events};

/// A delivery about to be recorded, with what the rule of five needs to know about it.
pub struct NewCopy<'a> {
    pub delivery: &'a Delivery,
    pub link: &'a Link,
    pub notice: Option<(&'a str, &'a str, &'a str)>,
    pub job: Option<&'a str>,
    /// The job moves from `processed` to `delivered` with this copy (its first delivery).
    pub finishes_job: bool,
    pub event: NewEvent,
    pub work: &'a Work,
    pub basis: Basis,
}

/// The rule of five's questions, answered inside the delivery's write transaction.
struct SqliteLedger<'a, 'c>(&'a Transaction<'c>);

impl Ledger for SqliteLedger<'_, '_> {
    type Error = StateError;

    fn request_year(&mut self, request: &str) -> Result<i32, StateError> {
        let requested: String = self
            .0
            .query_row(
                "SELECT created_at FROM requests WHERE id = ?1",
                [request],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StateError::NotFound(format!("no request {request}")))?;
        let requested: Timestamp = requested.parse().map_err(|_| {
            StateError::Corrupt(format!(
                "request {request}: created_at `{requested}` is not a time"
            ))
        })?;
        Ok(requested.year())
    }

    fn replaced_copy(&mut self, request: &str) -> Result<Option<String>, StateError> {
        Ok(self
            .0
            .query_row(
                "SELECT c.delivery_id FROM counted_copies c JOIN deliveries d ON d.id = c.delivery_id
                 WHERE d.request_id = ?1 AND c.counted = 1 AND d.state IN ('active', 'purged')
                 ORDER BY d.created_at LIMIT 1",
                [request],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn count_prior(&mut self, library: &str, work: &Work, year: i32) -> Result<i64, StateError> {
        Ok(self.0.query_row(
            "SELECT count(*) FROM counted_copies c JOIN deliveries d ON d.id = c.delivery_id
             WHERE c.library = ?1 AND c.year = ?2 AND c.kind = ?3 AND c.counted = 1 AND d.state IN ('active', 'purged')
               AND ((?4 IS NOT NULL AND c.ident = ?4)
                    OR ((?4 IS NULL OR c.ident IS NULL) AND ?5 != '' AND c.title_key = ?5))",
            params![library, year, work.kind.as_str(), work.ident, work.title_key],
            |r| r.get(0),
        )?)
    }

    fn other_titles(&mut self, library: &str, work: &Work) -> Result<Vec<String>, StateError> {
        let mut stmt = self.0.prepare(
            "SELECT DISTINCT title_key FROM counted_copies WHERE library = ?1 AND kind = ?2 AND title_key != ?3",
        )?;
        let keys = stmt.query_map(params![library, work.kind.as_str(), work.title_key], |r| {
            r.get::<_, String>(0)
        })?;
        Ok(keys.collect::<Result<_, _>>()?)
    }
}

/// Counts the copy ([`count_copy`], the rule itself) and records the delivery (held or active),
/// its link, its notice (queued, or parked until release), the job's move and the audit events,
/// all in `tx`. The count and the insert share one write transaction, so two deliveries can
/// never both be the fifth.
pub fn create_counted(
    tx: &Transaction<'_>,
    new: NewCopy<'_>,
    rules: &ComplianceConfig,
) -> Result<CopyDecision, StateError> {
    let d = new.delivery;
    let work = new.work;
    let Counted {
        decision,
        library,
        hold_reason,
        events,
    } = count_copy(&mut SqliteLedger(tx), d, work, new.basis, rules)?;

    let mut delivery = d.clone();
    if let Some(reason) = hold_reason {
        delivery.state = DeliveryState::Held;
        delivery.hold_reason = Some(reason);
    }
    if let (Some(job_id), true) = (new.job, new.finishes_job) {
        let patch = JobPatch {
            hold_reason: Some(None),
            ..Default::default()
        };
        jobs::transition(
            tx,
            job_id,
            &[JobState::Processed],
            JobState::Delivered,
            &patch,
        )?;
    }
    let held = delivery.state == DeliveryState::Held;
    deliveries::insert(
        tx,
        &delivery,
        new.link,
        if held { None } else { new.notice },
    )?;
    if let (true, Some((to, subject, body))) = (held, new.notice) {
        tx.execute(
            "INSERT INTO held_notices (delivery_id, recipient, subject, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![delivery.id, to, subject, body, Timestamp::now().to_string()],
        )?;
    }
    tx.execute(
        "INSERT INTO counted_copies (delivery_id, library, kind, ident, title_key, title, published, year, counted, nth)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            delivery.id, library, work.kind.as_str(), work.ident, work.title_key, work.title, work.published,
            decision.year, decision.counted, decision.nth
        ],
    )?;

    let mut event = new.event;
    if let Value::Object(m) = &mut event.details {
        m.insert("state".into(), json!(delivery.state));
        m.insert("compliance".into(), json!(decision));
    }
    append_in(tx, event)?;
    for event in events {
        append_in(tx, event)?;
    }
    Ok(decision)
}

/// An officer lets a held delivery go: the link opens for its full lifetime from now, the
/// notice is queued, and the release with its reason and officer is audited.
pub fn release(
    tx: &Transaction<'_>,
    id: &str,
    officer: &str,
    reason: &str,
) -> Result<Delivery, StateError> {
    if reason.trim().is_empty() {
        return Err(StateError::Conflict("a release needs a reason".into()));
    }
    if officer.trim().is_empty() {
        return Err(StateError::Conflict(
            "a release needs the officer's name".into(),
        ));
    }
    let d = deliveries::get(tx, id)?
        .ok_or_else(|| StateError::NotFound(format!("no delivery {id}")))?;
    if d.state != DeliveryState::Held {
        return Err(StateError::Conflict(format!(
            "delivery {id} is {}, not held",
            d.state
        )));
    }
    let now = Timestamp::now();
    tx.execute("UPDATE deliveries SET state = 'active', hold_reason = NULL WHERE id = ?1 AND state = 'held'", [id])?;
    let mut reopened = Vec::new();
    for (link, _) in deliveries::links(tx, Some(&d.request_id))?
        .into_iter()
        .filter(|(l, _)| l.delivery_id == id)
    {
        let expires = reopen(&link, now);
        tx.execute(
            "UPDATE links SET expires_at = ?2 WHERE id = ?1",
            params![link.id, expires.to_string()],
        )?;
        reopened.push(events::Reopened {
            link: link.id.clone(),
            expires_at: expires,
        });
    }
    tx.execute(
        "INSERT INTO notices (delivery_id, recipient, subject, body, state, next_attempt_at, created_at)
         SELECT delivery_id, recipient, subject, body, 'pending', ?2, ?2 FROM held_notices WHERE delivery_id = ?1",
        params![id, now.to_string()],
    )?;
    let notices = tx.execute("DELETE FROM held_notices WHERE delivery_id = ?1", [id])?;
    append_in(
        tx,
        events::delivery_released(
            &d,
            &events::Release {
                officer,
                reason,
                hold_reason: d.hold_reason.as_deref(),
                links: &reopened,
                notice_queued: notices > 0,
            },
        ),
    )?;
    deliveries::get(tx, id)?.ok_or_else(|| StateError::NotFound(format!("no delivery {id}")))
}

/// The link gets its whole lifetime again, counted from the release: the borrower could not use
/// any of it while the copy was held.
fn reopen(link: &Link, now: Timestamp) -> Timestamp {
    let lifetime = link.expires_at.datetime() - link.created_at.datetime();
    now + lifetime
}

pub fn list(conn: &Connection, state: Option<DeliveryState>) -> Result<Vec<Delivery>, StateError> {
    let mut stmt = conn.prepare(
        "SELECT id FROM deliveries WHERE ?1 IS NULL OR state = ?1 ORDER BY created_at, id",
    )?;
    let ids = stmt
        .query_map([state.map(DeliveryState::as_str)], |r| {
            r.get::<_, String>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(deliveries::get(conn, &id)?);
    }
    Ok(out)
}

pub fn copies(
    conn: &Connection,
    year: i32,
    library: Option<&str>,
) -> Result<Vec<CountedCopy>, StateError> {
    let mut stmt = conn.prepare(
        "SELECT c.delivery_id, d.request_id, c.library, c.kind, c.ident, c.title_key, c.title, c.published, c.year,
                c.counted, d.basis, d.state, d.created_at
         FROM counted_copies c JOIN deliveries d ON d.id = c.delivery_id
         WHERE c.year = ?1 AND (?2 IS NULL OR c.library = ?2) ORDER BY c.library, d.created_at, c.delivery_id",
    )?;
    let rows = stmt.query_map(params![year, library], |r| {
        Ok(CountedCopy {
            delivery_id: r.get(0)?,
            request_id: r.get(1)?,
            library: r.get(2)?,
            kind: r.get(3)?,
            ident: r.get(4)?,
            title_key: r.get(5)?,
            title: r.get(6)?,
            published: r.get(7)?,
            year: r.get(8)?,
            counted: r.get(9)?,
            basis: super::named(r, 10)?,
            state: super::named(r, 11)?,
            created_at: super::named(r, 12)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Ids (requests, their deliveries and links) that audit events about this patron (name or
/// e-mail, any case) or library are filed under.
pub fn subject_ids(
    conn: &Connection,
    patron: Option<&str>,
    library: Option<&str>,
) -> Result<Vec<String>, StateError> {
    let mut stmt = conn.prepare(
        "SELECT r.id, d.id, l.id FROM requests r
           LEFT JOIN deliveries d ON d.request_id = r.id LEFT JOIN links l ON l.delivery_id = d.id
         WHERE (?1 IS NULL OR lower(r.patron_name) = lower(?1) OR lower(r.patron_email) = lower(?1))
           AND (?2 IS NULL OR r.library = ?2)",
    )?;
    let rows = stmt.query_map(params![patron, library], |r| {
        Ok([r.get::<_, Option<String>>(0)?, r.get(1)?, r.get(2)?])
    })?;
    let mut out = std::collections::BTreeSet::new();
    for row in rows {
        out.extend(row?.into_iter().flatten());
    }
    Ok(out.into_iter().collect())
}

/// Removes delivery records and requests made before `cutoff`, and the audit events before it
/// behind a checkpoint, then audits the run. A delivery whose file is still stored is left for
/// `quire purge`, so no object is orphaned in the store.
pub fn prune(
    tx: &Transaction<'_>,
    cutoff: Timestamp,
    actor: &str,
    dry_run: bool,
) -> Result<PruneReport, StateError> {
    let cutoff = cutoff.to_string();
    let mut report = PruneReport {
        cutoff: cutoff.clone(),
        ..Default::default()
    };
    let mut stmt = tx.prepare(
        "SELECT d.id, d.state FROM deliveries d JOIN requests r ON r.id = d.request_id WHERE r.created_at < ?1 ORDER BY d.id",
    )?;
    let due = stmt
        .query_map([&cutoff], |r| {
            Ok((r.get::<_, String>(0)?, super::named::<DeliveryState>(r, 1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    for (id, state) in due {
        if state == DeliveryState::Purged {
            report.deliveries.push(id)
        } else {
            report.waiting_for_purge.push(id)
        }
    }
    if !dry_run {
        for id in &report.deliveries {
            for table in ["notices", "held_notices", "counted_copies"] {
                tx.execute(&format!("DELETE FROM {table} WHERE delivery_id = ?1"), [id])?;
            }
            tx.execute("DELETE FROM links WHERE delivery_id = ?1", [id])?;
            tx.execute("DELETE FROM deliveries WHERE id = ?1", [id])?;
        }
    }
    let mut stmt = tx.prepare(
        "SELECT r.id FROM requests r WHERE r.created_at < ?1
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.request_id = r.id AND d.state != 'purged')
           AND (SELECT count(*) FROM deliveries d WHERE d.request_id = r.id) <= ?2 ORDER BY r.id",
    )?;
    // In a dry run the purged deliveries are still there, so allow for them.
    let allowance = if dry_run { i64::MAX } else { 0 };
    report.requests = stmt
        .query_map(params![cutoff, allowance], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    drop(stmt);
    if !dry_run {
        for id in &report.requests {
            // The scan's job keeps its own history; only its tie to the patron's request goes.
            tx.execute(
                "UPDATE jobs SET request_id = NULL WHERE request_id = ?1",
                [id],
            )?;
            tx.execute(
                "DELETE FROM request_cancellations WHERE request_id = ?1",
                [id],
            )?;
            tx.execute("DELETE FROM requests WHERE id = ?1", [id])?;
        }
    }

    let (start_seq, _) = super::start(tx)?;
    let at_cutoff: Option<i64> = tx.query_row(
        "SELECT min(seq) FROM audit_events WHERE time >= ?1",
        [&cutoff],
        |r| r.get(0),
    )?;
    // The events of records kept (a delivery waiting for purge, its request and link) stay.
    let kept = kept_records(tx, &report)?;
    let mut stmt =
        tx.prepare("SELECT seq, subjects FROM audit_events WHERE time < ?1 ORDER BY seq")?;
    let mut rows = stmt.query([&cutoff])?;
    let mut about_kept = None;
    while let Some(row) = rows.next()? {
        let subjects: String = row.get(1)?;
        if kept.concerns(&serde_json::from_str(&subjects).unwrap_or(Value::Null)) {
            about_kept = Some(row.get::<_, i64>(0)?);
            break;
        }
    }
    drop(rows);
    drop(stmt);
    report.audit_kept_from = about_kept.filter(|k| at_cutoff.is_none_or(|a| *k < a));
    let first_kept = match (at_cutoff, about_kept) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let last: Option<i64> = tx.query_row("SELECT max(seq) FROM audit_events", [], |r| r.get(0))?;
    let through = match (first_kept, last) {
        (Some(k), _) => k - 1,
        (None, Some(l)) => l,
        (None, None) => start_seq,
    };
    if through > start_seq {
        let hash: String = tx.query_row(
            "SELECT hash FROM audit_events WHERE seq = ?1",
            [through],
            |r| r.get(0),
        )?;
        report.audit_events = through - start_seq;
        report.audit_range = Some([start_seq + 1, through]);
        report.checkpoint = Some(format!("{through}:{hash}"));
        if !dry_run {
            tx.execute(
                "INSERT INTO audit_checkpoints (through_seq, head_hash, created_at) VALUES (?1, ?2, ?3)",
                params![through, hash, Timestamp::now().to_string()],
            )?;
            tx.execute("DELETE FROM audit_events WHERE seq <= ?1", [through])?;
        }
    }
    let changed =
        !report.deliveries.is_empty() || !report.requests.is_empty() || report.audit_events > 0;
    if changed && !dry_run {
        append_in(tx, events::retention_pruned(actor, &report))?;
    }
    Ok(report)
}

/// The requests, deliveries and links still stored once the run's removals are done (in a dry
/// run they are still there, so they are left out by name).
fn kept_records(tx: &Transaction<'_>, report: &PruneReport) -> Result<retention::Kept, StateError> {
    let mut kept = retention::Kept::default();
    let mut stmt = tx.prepare("SELECT id FROM requests")?;
    for id in stmt.query_map([], |r| r.get::<_, String>(0))? {
        let id = id?;
        if !report.requests.contains(&id) {
            kept.requests.insert(id);
        }
    }
    let mut stmt = tx
        .prepare("SELECT l.id, d.id FROM deliveries d LEFT JOIN links l ON l.delivery_id = d.id")?;
    for row in stmt.query_map([], |r| {
        Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?))
    })? {
        let (link, delivery) = row?;
        if !report.deliveries.contains(&delivery) {
            kept.links.extend(link);
            kept.deliveries.insert(delivery);
        }
    }
    Ok(kept)
}

/// Replaces patron names and e-mails of requests made before `cutoff` with a salted pseudonym,
/// in the request, its deliveries and its sent notices, and audits which requests changed.
pub fn pseudonymise(
    tx: &Transaction<'_>,
    cutoff: Timestamp,
    actor: &str,
    dry_run: bool,
) -> Result<PseudonymReport, StateError> {
    let cutoff = cutoff.to_string();
    let salt: Vec<u8> = tx.query_row(
        "SELECT value FROM compliance_keys WHERE name = 'pseudonym_salt'",
        [],
        |r| r.get(0),
    )?;
    let mut report = PseudonymReport {
        cutoff: cutoff.clone(),
        ..Default::default()
    };
    let mut stmt = tx.prepare(
        "SELECT r.id, r.patron_email,
                EXISTS (SELECT 1 FROM deliveries d WHERE d.request_id = r.id AND d.state = 'held')
             OR EXISTS (SELECT 1 FROM notices n JOIN deliveries d ON d.id = n.delivery_id
                        WHERE d.request_id = r.id AND n.state = 'pending')
         FROM requests r WHERE r.created_at < ?1 AND r.pseudonymised_at IS NULL ORDER BY r.id",
    )?;
    let due = stmt
        .query_map([&cutoff], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    let now = Timestamp::now().to_string();
    for (id, email, busy) in due {
        if busy {
            report.skipped.push(id);
            continue;
        }
        if !dry_run {
            let name = retention::pseudonym(&salt, &email);
            let address = format!("{name}@pseudonymised.invalid");
            tx.execute(
                "UPDATE requests SET patron_name = ?2, patron_email = ?3, pseudonymised_at = ?4 WHERE id = ?1",
                params![id, name, address, now],
            )?;
            tx.execute(
                "UPDATE deliveries SET recipient = ?2 WHERE request_id = ?1",
                params![id, name],
            )?;
            tx.execute(
                "UPDATE notices SET recipient = ?2, body = '(removed when the patron was pseudonymised)'
                 WHERE delivery_id IN (SELECT id FROM deliveries WHERE request_id = ?1)",
                params![id, address],
            )?;
        }
        report.requests.push(id);
    }
    if !dry_run && !report.requests.is_empty() {
        append_in(tx, events::retention_pseudonymised(actor, &report))?;
    }
    Ok(report)
}

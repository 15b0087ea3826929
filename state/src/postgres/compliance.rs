//! Compliance in PostgreSQL: counting a delivery under the rule of five inside its own
//! transaction (the rule itself is `quire_domain::compliance::count`, answered here through a
//! [`Ledger`]), holding and releasing, the rows of the CONTU report, pruning past retention
//! (with an audit checkpoint) and pseudonymising patrons. Mirrors the SQLite backend's file.

use postgres::{GenericClient, Transaction};
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
    pub finishes_job: bool,
    pub event: NewEvent,
    pub work: &'a Work,
    pub basis: Basis,
}

/// The rule of five's questions, answered inside the delivery's write transaction (which holds
/// the write lock, so no other node's copy can be counted in between).
struct PgLedger<'a, 't>(&'a mut Transaction<'t>);

impl Ledger for PgLedger<'_, '_> {
    type Error = StateError;

    fn request_year(&mut self, request: &str) -> Result<i32, StateError> {
        let requested: String = self
            .0
            .query_opt("SELECT created_at FROM requests WHERE id = $1", &[&request])?
            .ok_or_else(|| StateError::NotFound(format!("no request {request}")))?
            .try_get(0)?;
        let requested: Timestamp = requested.parse().map_err(|_| {
            StateError::Corrupt(format!(
                "request {request}: created_at `{requested}` is not a time"
            ))
        })?;
        Ok(requested.year())
    }

    fn replaced_copy(&mut self, request: &str) -> Result<Option<String>, StateError> {
        self.0
            .query_opt(
                "SELECT c.delivery_id FROM counted_copies c JOIN deliveries d ON d.id = c.delivery_id
                 WHERE d.request_id = $1 AND c.counted AND d.state IN ('active', 'purged')
                 ORDER BY d.created_at LIMIT 1",
                &[&request],
            )?
            .map(|r| r.try_get(0).map_err(StateError::from))
            .transpose()
    }

    fn count_prior(&mut self, library: &str, work: &Work, year: i32) -> Result<i64, StateError> {
        Ok(self
            .0
            .query_one(
                "SELECT count(*) FROM counted_copies c JOIN deliveries d ON d.id = c.delivery_id
                 WHERE c.library = $1 AND c.year = $2 AND c.kind = $3 AND c.counted AND d.state IN ('active', 'purged')
                   AND (($4::text IS NOT NULL AND c.ident = $4)
                        OR (($4::text IS NULL OR c.ident IS NULL) AND $5::text != '' AND c.title_key = $5))",
                &[&library, &year, &work.kind.as_str(), &work.ident, &work.title_key],
            )?
            .try_get(0)?)
    }

    fn other_titles(&mut self, library: &str, work: &Work) -> Result<Vec<String>, StateError> {
        let rows = self.0.query(
            "SELECT DISTINCT title_key FROM counted_copies WHERE library = $1 AND kind = $2 AND title_key != $3",
            &[&library, &work.kind.as_str(), &work.title_key],
        )?;
        super::all(rows, |r| Ok(r.try_get(0)?))
    }
}

/// Counts the copy ([`count_copy`], the rule itself) and records the delivery (held or active),
/// its link, its notice (queued, or parked until release), the job's move and the audit events,
/// all in `tx`.
pub fn create_counted(
    tx: &mut Transaction<'_>,
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
    } = count_copy(&mut PgLedger(tx), d, work, new.basis, rules)?;

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
            "INSERT INTO held_notices (delivery_id, recipient, subject, body, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&delivery.id, &to, &subject, &body, &Timestamp::now().to_string()],
        )?;
    }
    tx.execute(
        "INSERT INTO counted_copies (delivery_id, library, kind, ident, title_key, title, published, year, counted, nth)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &delivery.id, &library, &work.kind.as_str(), &work.ident, &work.title_key, &work.title, &work.published,
            &decision.year, &decision.counted, &decision.nth,
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
    tx: &mut Transaction<'_>,
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
    tx.execute(
        "UPDATE deliveries SET state = 'active', hold_reason = NULL WHERE id = $1 AND state = 'held'",
        &[&id],
    )?;
    let mut reopened = Vec::new();
    for (link, _) in deliveries::links(tx, Some(&d.request_id))?
        .into_iter()
        .filter(|(l, _)| l.delivery_id == id)
    {
        let expires = reopen(&link, now);
        tx.execute(
            "UPDATE links SET expires_at = $2 WHERE id = $1",
            &[&link.id, &expires.to_string()],
        )?;
        reopened.push(events::Reopened {
            link: link.id.clone(),
            expires_at: expires,
        });
    }
    tx.execute(
        "INSERT INTO notices (delivery_id, recipient, subject, body, state, next_attempt_at, created_at)
         SELECT delivery_id, recipient, subject, body, 'pending', $2::text, $2::text FROM held_notices WHERE delivery_id = $1",
        &[&id, &now.to_string()],
    )?;
    let notices = tx.execute("DELETE FROM held_notices WHERE delivery_id = $1", &[&id])?;
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

/// The link gets its whole lifetime again, counted from the release.
fn reopen(link: &Link, now: Timestamp) -> Timestamp {
    let lifetime = link.expires_at.datetime() - link.created_at.datetime();
    now + lifetime
}

pub fn list(
    c: &mut impl GenericClient,
    state: Option<DeliveryState>,
) -> Result<Vec<Delivery>, StateError> {
    let ids: Vec<String> = c
        .query(
            "SELECT id FROM deliveries WHERE $1::text IS NULL OR state = $1 ORDER BY created_at, id",
            &[&state.map(DeliveryState::as_str)],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(deliveries::get(c, &id)?);
    }
    Ok(out)
}

pub fn copies(
    c: &mut impl GenericClient,
    year: i32,
    library: Option<&str>,
) -> Result<Vec<CountedCopy>, StateError> {
    let rows = c.query(
        "SELECT c.delivery_id, d.request_id, c.library, c.kind, c.ident, c.title_key, c.title, c.published, c.year,
                c.counted, d.basis, d.state, d.created_at
         FROM counted_copies c JOIN deliveries d ON d.id = c.delivery_id
         WHERE c.year = $1 AND ($2::text IS NULL OR c.library = $2) ORDER BY c.library, d.created_at, c.delivery_id",
        &[&year, &library],
    )?;
    super::all(rows, |r| {
        Ok(CountedCopy {
            delivery_id: r.try_get(0)?,
            request_id: r.try_get(1)?,
            library: r.try_get(2)?,
            kind: r.try_get(3)?,
            ident: r.try_get(4)?,
            title_key: r.try_get(5)?,
            title: r.try_get(6)?,
            published: r.try_get(7)?,
            year: r.try_get(8)?,
            counted: r.try_get(9)?,
            basis: super::named(r, 10)?,
            state: super::named(r, 11)?,
            created_at: super::named(r, 12)?,
        })
    })
}

/// Ids (requests, their deliveries and links) that audit events about this patron (name or
/// e-mail, any case) or library are filed under.
pub fn subject_ids(
    c: &mut impl GenericClient,
    patron: Option<&str>,
    library: Option<&str>,
) -> Result<Vec<String>, StateError> {
    let rows = c.query(
        "SELECT r.id, d.id, l.id FROM requests r
           LEFT JOIN deliveries d ON d.request_id = r.id LEFT JOIN links l ON l.delivery_id = d.id
         WHERE ($1::text IS NULL OR lower(r.patron_name) = lower($1) OR lower(r.patron_email) = lower($1))
           AND ($2::text IS NULL OR r.library = $2)",
        &[&patron, &library],
    )?;
    let mut out = std::collections::BTreeSet::new();
    for r in &rows {
        let ids: [Option<String>; 3] = [r.try_get(0)?, r.try_get(1)?, r.try_get(2)?];
        out.extend(ids.into_iter().flatten());
    }
    Ok(out.into_iter().collect())
}

/// Removes delivery records and requests made before `cutoff`, and the audit events before it
/// behind a checkpoint, then audits the run. A delivery whose file is still stored is left for
/// `quire purge`, so no object is orphaned in the store.
pub fn prune(
    tx: &mut Transaction<'_>,
    cutoff: Timestamp,
    actor: &str,
    dry_run: bool,
) -> Result<PruneReport, StateError> {
    let cutoff = cutoff.to_string();
    let mut report = PruneReport {
        cutoff: cutoff.clone(),
        ..Default::default()
    };
    let due = tx.query(
        "SELECT d.id, d.state FROM deliveries d JOIN requests r ON r.id = d.request_id WHERE r.created_at < $1 ORDER BY d.id",
        &[&cutoff],
    )?;
    for r in &due {
        let id: String = r.try_get(0)?;
        if super::named::<DeliveryState>(r, 1)? == DeliveryState::Purged {
            report.deliveries.push(id)
        } else {
            report.waiting_for_purge.push(id)
        }
    }
    if !dry_run {
        for id in &report.deliveries {
            for table in ["notices", "held_notices", "counted_copies"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE delivery_id = $1"),
                    &[id],
                )?;
            }
            tx.execute("DELETE FROM links WHERE delivery_id = $1", &[id])?;
            tx.execute("DELETE FROM deliveries WHERE id = $1", &[id])?;
        }
    }
    // In a dry run the purged deliveries are still there, so allow for them.
    let allowance = if dry_run { i64::MAX } else { 0 };
    report.requests = tx
        .query(
            "SELECT r.id FROM requests r WHERE r.created_at < $1
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.request_id = r.id AND d.state != 'purged')
               AND (SELECT count(*) FROM deliveries d WHERE d.request_id = r.id) <= $2 ORDER BY r.id",
            &[&cutoff, &allowance],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if !dry_run {
        for id in &report.requests {
            // The scan's job keeps its own history; only its tie to the patron's request goes.
            tx.execute(
                "UPDATE jobs SET request_id = NULL WHERE request_id = $1",
                &[id],
            )?;
            tx.execute(
                "DELETE FROM request_cancellations WHERE request_id = $1",
                &[id],
            )?;
            tx.execute("DELETE FROM requests WHERE id = $1", &[id])?;
        }
    }

    let (start_seq, _) = super::start(tx)?;
    let at_cutoff: Option<i64> = tx
        .query_one(
            "SELECT min(seq) FROM audit_events WHERE time >= $1",
            &[&cutoff],
        )?
        .try_get(0)?;
    // The events of records kept (a delivery waiting for purge, its request and link) stay.
    let kept = kept_records(tx, &report)?;
    let mut about_kept = None;
    for row in tx.query(
        "SELECT seq, subjects FROM audit_events WHERE time < $1 ORDER BY seq",
        &[&cutoff],
    )? {
        let subjects: String = row.try_get(1)?;
        if kept.concerns(&serde_json::from_str(&subjects).unwrap_or(Value::Null)) {
            about_kept = Some(row.try_get::<_, i64>(0)?);
            break;
        }
    }
    report.audit_kept_from = about_kept.filter(|k| at_cutoff.is_none_or(|a| *k < a));
    let first_kept = match (at_cutoff, about_kept) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let last: Option<i64> = tx
        .query_one("SELECT max(seq) FROM audit_events", &[])?
        .try_get(0)?;
    let through = match (first_kept, last) {
        (Some(k), _) => k - 1,
        (None, Some(l)) => l,
        (None, None) => start_seq,
    };
    if through > start_seq {
        let hash: String = tx
            .query_one("SELECT hash FROM audit_events WHERE seq = $1", &[&through])?
            .try_get(0)?;
        report.audit_events = through - start_seq;
        report.audit_range = Some([start_seq + 1, through]);
        report.checkpoint = Some(format!("{through}:{hash}"));
        if !dry_run {
            tx.execute(
                "INSERT INTO audit_checkpoints (through_seq, head_hash, created_at) VALUES ($1, $2, $3)",
                &[&through, &hash, &Timestamp::now().to_string()],
            )?;
            tx.execute("DELETE FROM audit_events WHERE seq <= $1", &[&through])?;
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
fn kept_records(
    tx: &mut Transaction<'_>,
    report: &PruneReport,
) -> Result<retention::Kept, StateError> {
    let mut kept = retention::Kept::default();
    for row in tx.query("SELECT id FROM requests", &[])? {
        let id: String = row.try_get(0)?;
        if !report.requests.contains(&id) {
            kept.requests.insert(id);
        }
    }
    for row in tx.query(
        "SELECT l.id, d.id FROM deliveries d LEFT JOIN links l ON l.delivery_id = d.id",
        &[],
    )? {
        let (link, delivery): (Option<String>, String) = (row.try_get(0)?, row.try_get(1)?);
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
    tx: &mut Transaction<'_>,
    cutoff: Timestamp,
    actor: &str,
    dry_run: bool,
) -> Result<PseudonymReport, StateError> {
    let cutoff = cutoff.to_string();
    let salt: Vec<u8> = tx
        .query_one(
            "SELECT value FROM compliance_keys WHERE name = 'pseudonym_salt'",
            &[],
        )?
        .try_get(0)?;
    let mut report = PseudonymReport {
        cutoff: cutoff.clone(),
        ..Default::default()
    };
    let due = tx.query(
        "SELECT r.id, r.patron_email,
                EXISTS (SELECT 1 FROM deliveries d WHERE d.request_id = r.id AND d.state = 'held')
             OR EXISTS (SELECT 1 FROM notices n JOIN deliveries d ON d.id = n.delivery_id
                        WHERE d.request_id = r.id AND n.state = 'pending')
         FROM requests r WHERE r.created_at < $1 AND r.pseudonymised_at IS NULL ORDER BY r.id",
        &[&cutoff],
    )?;
    let now = Timestamp::now().to_string();
    for r in &due {
        let id: String = r.try_get(0)?;
        let email: String = r.try_get(1)?;
        let busy: bool = r.try_get(2)?;
        if busy {
            report.skipped.push(id);
            continue;
        }
        if !dry_run {
            let name = retention::pseudonym(&salt, &email);
            let address = format!("{name}@pseudonymised.invalid");
            tx.execute(
                "UPDATE requests SET patron_name = $2, patron_email = $3, pseudonymised_at = $4 WHERE id = $1",
                &[&id, &name, &address, &now],
            )?;
            tx.execute(
                "UPDATE deliveries SET recipient = $2 WHERE request_id = $1",
                &[&id, &name],
            )?;
            tx.execute(
                "UPDATE notices SET recipient = $2, body = '(removed when the patron was pseudonymised)'
                 WHERE delivery_id IN (SELECT id FROM deliveries WHERE request_id = $1)",
                &[&id, &address],
            )?;
        }
        report.requests.push(id);
    }
    if !dry_run && !report.requests.is_empty() {
        append_in(tx, events::retention_pseudonymised(actor, &report))?;
    }
    Ok(report)
}

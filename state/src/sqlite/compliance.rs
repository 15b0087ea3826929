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
use quire_domain::{DeliveryState, events};

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
        requested
            .get(..4)
            .and_then(|y| y.parse().ok())
            .ok_or_else(|| {
                StateError::Corrupt(format!(
                    "request {request}: created_at `{requested}` is not a time"
                ))
            })
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
            params![delivery.id, to, subject, body, crate::now_rfc3339()],
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
    let now = crate::now_rfc3339();
    tx.execute("UPDATE deliveries SET state = 'active', hold_reason = NULL WHERE id = ?1 AND state = 'held'", [id])?;
    let mut reopened = Vec::new();
    for (link, _) in deliveries::links(tx, Some(&d.request_id))?
        .into_iter()
        .filter(|(l, _)| l.delivery_id == id)
    {
        let expires = reopen(&link, &now)?;
        tx.execute(
            "UPDATE links SET expires_at = ?2 WHERE id = ?1",
            params![link.id, expires],
        )?;
        reopened.push(events::Reopened {
            link: link.id.clone(),
            expires_at: expires,
        });
    }
    tx.execute(
        "INSERT INTO notices (delivery_id, recipient, subject, body, state, next_attempt_at, created_at)
         SELECT delivery_id, recipient, subject, body, 'pending', ?2, ?2 FROM held_notices WHERE delivery_id = ?1",
        params![id, now],
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
fn reopen(link: &Link, now: &str) -> Result<String, StateError> {
    use time::format_description::well_known::Rfc3339;
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|e| StateError::Corrupt(format!("link {}: time `{s}`: {e}", link.id)))
    };
    let lifetime = parse(&link.expires_at)? - parse(&link.created_at)?;
    let expires = parse(now)? + lifetime;
    expires
        .format(&Rfc3339)
        .map_err(|e| StateError::Corrupt(e.to_string()))
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
            created_at: r.get(12)?,
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
    cutoff: &str,
    actor: &str,
    dry_run: bool,
) -> Result<PruneReport, StateError> {
    let mut report = PruneReport {
        cutoff: cutoff.into(),
        ..Default::default()
    };
    let mut stmt = tx.prepare(
        "SELECT d.id, d.state FROM deliveries d JOIN requests r ON r.id = d.request_id WHERE r.created_at < ?1 ORDER BY d.id",
    )?;
    let due = stmt
        .query_map([cutoff], |r| {
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
            tx.execute("DELETE FROM requests WHERE id = ?1", [id])?;
        }
    }

    let (start_seq, _) = super::start(tx)?;
    let first_kept: Option<i64> = tx.query_row(
        "SELECT min(seq) FROM audit_events WHERE time >= ?1",
        [cutoff],
        |r| r.get(0),
    )?;
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
                params![through, hash, crate::now_rfc3339()],
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

/// Replaces patron names and e-mails of requests made before `cutoff` with a salted pseudonym,
/// in the request, its deliveries and its sent notices, and audits which requests changed.
pub fn pseudonymise(
    tx: &Transaction<'_>,
    cutoff: &str,
    actor: &str,
    dry_run: bool,
) -> Result<PseudonymReport, StateError> {
    let salt: Vec<u8> = tx.query_row(
        "SELECT value FROM compliance_keys WHERE name = 'pseudonym_salt'",
        [],
        |r| r.get(0),
    )?;
    let mut report = PseudonymReport {
        cutoff: cutoff.into(),
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
        .query_map([cutoff], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    let now = crate::now_rfc3339();
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

/// A synthetic history over several calendar years, built against the real SQLite backend.
/// Requests are backdated by rewriting `created_at` (what an import from an older ILL system
/// would carry); old audit events are sealed with old times and inserted at the chain's start.
#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::super::SqliteDatabase;
    use crate::audit::{self, GENESIS, NewEvent};
    use crate::delivery::{Delivery, Grant, Link, LinkState};
    use crate::{AuditFilter, Basis, Request, verify_audit};
    use crate::{AuditRepo, DeliveryRepo, LinkRepo, NoticeRepo, RequestRepo, RetentionRepo};
    use quire_domain::compliance::ComplianceConfig;
    use quire_domain::compliance::ContuPolicy;
    use quire_domain::compliance::{Verdict, Work, retention};
    use quire_domain::{Action, DeliveryState};

    struct History {
        _dir: tempfile::TempDir,
        db: SqliteDatabase,
        next: Cell<u32>,
        rules: ComplianceConfig,
    }

    struct Ask<'a> {
        library: &'a str,
        title: &'a str,
        issn: Option<&'a str>,
        published: i32,
        at: &'a str,
        basis: Basis,
    }

    impl<'a> Ask<'a> {
        fn journal(library: &'a str, at: &'a str) -> Self {
            Self {
                library,
                title: "The Journal of Tests",
                issn: Some("0378-5955"),
                published: 2025,
                at,
                basis: Basis::Ccg,
            }
        }
    }

    impl History {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let db = SqliteDatabase::open(&dir.path().join("q.sqlite3")).unwrap();
            Self {
                _dir: dir,
                db,
                next: Cell::new(0),
                rules: ComplianceConfig::default(),
            }
        }

        /// Adds a request made at `ask.at` and delivers a copy for it; returns (delivery, link,
        /// verdict, nth).
        fn copy(&self, ask: Ask<'_>) -> (String, String, Verdict, i64) {
            let n = self.next.get() + 1;
            self.next.set(n);
            let request = Request {
                id: format!("TN{n}"),
                patron_name: format!("Reader {}", n % 3),
                patron_email: format!("reader{}@example.org", n % 3),
                library: Some(ask.library.into()),
                title: Some(ask.title.into()),
                issn: ask.issn.map(String::from),
                isbn: None,
                article: Some(format!("Article {n}")),
                author: None,
                year: Some(ask.published),
                volume: None,
                issue: None,
                pages: None,
                basis: ask.basis,
                basis_reference: (ask.basis == Basis::Permission).then(|| "CCC 123".to_string()),
                link_days: None,
                link_downloads: None,
                created_at: String::new(),
            };
            self.db
                .requests_add(std::slice::from_ref(&request), "import")
                .unwrap();
            self.db
                .conn()
                .execute(
                    "UPDATE requests SET created_at = ?2 WHERE id = ?1",
                    [&request.id, ask.at],
                )
                .unwrap();
            self.send(&request, n)
        }

        /// Another copy for an existing request, as a redelivery makes.
        fn resend(&self, request: &str) -> (String, String, Verdict, i64) {
            let n = self.next.get() + 1;
            self.next.set(n);
            let request = self.db.request_get(request).unwrap().unwrap();
            self.send(&request, n)
        }

        fn send(&self, request: &Request, n: u32) -> (String, String, Verdict, i64) {
            let delivery = Delivery {
                id: format!("dlv_{n}"),
                request_id: request.id.clone(),
                job_id: None,
                document_sha256: "a".repeat(64),
                stamped_sha256: format!("{n:064}"),
                basis: request.basis,
                state: DeliveryState::Active,
                hold_reason: None,
                file_name: "x.pdf".into(),
                bytes: 10,
                page_count: 1,
                recipient: request.patron_name.clone(),
                library: request.library.clone(),
                created_at: String::new(),
                purged_at: None,
            };
            let link = Link {
                id: format!("lnk_{n}"),
                delivery_id: delivery.id.clone(),
                token_sha256: format!("t{n}"),
                expires_at: "2999-01-01T00:00:00Z".into(),
                downloads_left: 3,
                downloads_allowed: 3,
                pickup_code_sha256: None,
                revoked_at: None,
                created_at: String::new(),
                locked_at: None,
                code_failures: 0,
            };
            let event = NewEvent::new("staff", Action::DeliveryCreated)
                .subject("request", &request.id)
                .subject("delivery", &delivery.id);
            let notice = Some((request.patron_email.as_str(), "Your copy", "Body"));
            let work = Work::of(request);
            let d = self
                .db
                .delivery_create_counted(
                    &delivery,
                    &link,
                    notice,
                    None,
                    false,
                    event,
                    &work,
                    request.basis,
                    &self.rules,
                )
                .unwrap();
            (delivery.id, link.id, d.verdict, d.nth)
        }

        fn five(&self, library: &str, at: &str) {
            for i in 1..=5 {
                let (_, _, v, nth) = self.copy(Ask::journal(library, at));
                assert_eq!((v, nth), (Verdict::Deliver, i));
            }
        }

        fn state(&self, delivery: &str) -> String {
            self.db
                .delivery_get(delivery)
                .unwrap()
                .map(|d| d.state.to_string())
                .unwrap_or_else(|| "gone".into())
        }

        fn events(&self, action: &str) -> Vec<audit::Event> {
            let mut out = Vec::new();
            let filter = AuditFilter {
                action: Some(action.into()),
                ..Default::default()
            };
            self.db
                .audit_scan(&filter, &mut |e| {
                    let _: () = out.push(e);
                    Ok(())
                })
                .unwrap();
            out
        }
    }

    #[test]
    fn the_sixth_copy_is_held_and_the_count_restarts_on_1_january() {
        let h = History::new();
        h.five("ZZQ", "2025-12-31T23:59:59.999Z");
        let (sixth, link, v, nth) = h.copy(Ask::journal("ZZQ", "2025-12-31T23:59:59.999Z"));
        assert_eq!((v, nth), (Verdict::Hold, 6));
        assert_eq!(h.state(&sixth), "held");
        let held = h.db.delivery_get(&sixth).unwrap().unwrap();
        assert!(
            held.hold_reason
                .unwrap()
                .contains("copy 6 of ISSN 0378-5955")
        );
        assert_eq!(
            h.db.link_download(&link, "test", None).unwrap(),
            Grant::Refused(LinkState::Held)
        );
        // One millisecond later it is a new calendar year, and a first copy again.
        let (_, _, v, nth) = h.copy(Ask::journal("ZZQ", "2026-01-01T00:00:00.000Z"));
        assert_eq!((v, nth), (Verdict::Deliver, 1));
        assert_eq!(h.events(Action::ComplianceHeld.as_str()).len(), 1);
    }

    /// Sending a request's copy again (its link ran out) is not a second copy of the work: the
    /// library still received one. A held sixth copy does not count as sent, so sending it again
    /// is still the sixth.
    #[test]
    fn a_redelivery_of_the_same_request_is_not_counted_again() {
        let h = History::new();
        let at = "2026-02-01T10:00:00.000Z";
        for i in 1..=4 {
            let (_, _, v, nth) = h.copy(Ask::journal("ZZQ", at));
            assert_eq!((v, nth), (Verdict::Deliver, i));
        }
        let (fifth, _, _, nth) = h.copy(Ask::journal("ZZQ", at));
        assert_eq!(nth, 5);
        let request = h.db.delivery_get(&fifth).unwrap().unwrap().request_id;
        for _ in 0..3 {
            let (_, _, v, nth) = h.resend(&request);
            assert_eq!((v, nth), (Verdict::Deliver, 0), "a resend is not counted");
        }
        let (sixth, _, v, nth) = h.copy(Ask::journal("ZZQ", at));
        assert_eq!(
            (v, nth),
            (Verdict::Hold, 6),
            "resends did not use up the five"
        );
        let held_request = h.db.delivery_get(&sixth).unwrap().unwrap().request_id;
        let (_, _, v, nth) = h.resend(&held_request);
        assert_eq!((v, nth), (Verdict::Hold, 6), "nothing of it went out yet");
        let notes: Vec<String> = h
            .events(Action::DeliveryCreated.as_str())
            .iter()
            .flat_map(|e| {
                e.details["compliance"]["notes"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|n| n.as_str().map(String::from))
            .collect();
        assert_eq!(
            notes
                .iter()
                .filter(|n| n.contains("not counted again"))
                .count(),
            3,
            "{notes:?}"
        );
    }

    #[test]
    fn a_publication_exactly_five_years_old_counts_and_an_older_one_does_not() {
        let h = History::new();
        let at = "2026-03-01T10:00:00.000Z";
        for _ in 0..5 {
            h.copy(Ask {
                published: 2021,
                ..Ask::journal("ZZQ", at)
            });
        }
        let (_, _, v, nth) = h.copy(Ask {
            published: 2021,
            ..Ask::journal("ZZQ", at)
        });
        assert_eq!((v, nth), (Verdict::Hold, 6));
        // Six years old: outside the guidelines, not counted, not held.
        let (_, _, v, nth) = h.copy(Ask {
            published: 2020,
            ..Ask::journal("ZZQ", at)
        });
        assert_eq!((v, nth), (Verdict::Deliver, 0));
        let copies = h.db.counted_copies(2026, Some("ZZQ")).unwrap();
        assert_eq!(copies.iter().filter(|c| c.counted).count(), 6);
        assert_eq!(copies.iter().filter(|c| !c.counted).count(), 1);
    }

    #[test]
    fn the_same_title_with_and_without_an_issn_is_one_periodical() {
        let h = History::new();
        let at = "2026-02-01T00:00:00.000Z";
        for _ in 0..3 {
            h.copy(Ask::journal("ZZQ", at));
        }
        // Written differently, no ISSN: the same journal.
        h.copy(Ask {
            issn: None,
            title: "journal of tests.",
            ..Ask::journal("ZZQ", at)
        });
        // A mistyped ISSN is not trusted; the title still identifies it.
        let (_, _, v, nth) = h.copy(Ask {
            issn: Some("0378-5954"),
            ..Ask::journal("ZZQ", at)
        });
        assert_eq!((v, nth), (Verdict::Deliver, 5));
        let (_, _, v, nth) = h.copy(Ask {
            issn: None,
            title: "JOURNAL OF TESTS",
            ..Ask::journal("ZZQ", at)
        });
        assert_eq!((v, nth), (Verdict::Hold, 6));
        let (_, _, v, _) = h.copy(Ask::journal("ZZQ", at));
        assert_eq!(v, Verdict::Hold);
        // Another journal with the same library and year is counted on its own.
        let (_, _, v, nth) = h.copy(Ask {
            issn: Some("0317-8471"),
            title: "Other Review",
            ..Ask::journal("ZZQ", at)
        });
        assert_eq!((v, nth), (Verdict::Deliver, 1));
        // A near-identical title without ISSN is flagged, not merged.
        let (_, _, v, nth) = h.copy(Ask {
            issn: None,
            title: "Jurnal of Tests",
            ..Ask::journal("ZZQ", at)
        });
        assert_eq!((v, nth), (Verdict::Deliver, 1));
        let flagged = h.events(Action::ComplianceTitleSimilar.as_str());
        assert_eq!(flagged.len(), 1);
        assert_eq!(flagged[0].details["similar"][0], "journal of tests");
        let lines = quire_domain::compliance::report::lines(
            &h.db.counted_copies(2026, None).unwrap(),
            5,
            2,
        );
        let main = lines
            .iter()
            .find(|l| l.ident.as_deref() == Some("0378-5955"))
            .unwrap();
        assert_eq!((main.copies, main.held, main.flagged), (5, 2, true));
    }

    #[test]
    fn two_libraries_count_separately() {
        let h = History::new();
        let at = "2026-05-05T00:00:00.000Z";
        h.five("ZZQ", at);
        let (_, _, v, nth) = h.copy(Ask::journal("XYZ", at));
        assert_eq!((v, nth), (Verdict::Deliver, 1));
        let (_, _, v, _) = h.copy(Ask::journal("ZZQ", at));
        assert_eq!(v, Verdict::Hold);
    }

    #[test]
    fn permission_and_public_domain_copies_are_never_held() {
        let h = History::new();
        let at = "2026-05-05T00:00:00.000Z";
        h.five("ZZQ", at);
        for basis in [Basis::Permission, Basis::PublicDomain] {
            let (_, _, v, nth) = h.copy(Ask {
                basis,
                ..Ask::journal("ZZQ", at)
            });
            assert_eq!((v, nth), (Verdict::Deliver, 0));
        }
        let (_, _, v, _) = h.copy(Ask {
            basis: Basis::Ccl,
            ..Ask::journal("ZZQ", at)
        });
        assert_eq!(v, Verdict::Hold);
    }

    #[test]
    fn warn_delivers_with_an_audit_warning_and_off_just_counts() {
        let mut h = History::new();
        h.rules.policy = ContuPolicy::Warn;
        let at = "2026-05-05T00:00:00.000Z";
        h.five("ZZQ", at);
        let (id, _, v, nth) = h.copy(Ask::journal("ZZQ", at));
        assert_eq!(
            (v, nth, h.state(&id)),
            (Verdict::Warn, 6, "active".to_string())
        );
        let warned = h.events(Action::ComplianceWarning.as_str());
        assert_eq!(warned.len(), 1);
        assert_eq!(warned[0].subjects["delivery"], id.as_str());
        h.rules.policy = ContuPolicy::Off;
        let (id, _, v, nth) = h.copy(Ask::journal("ZZQ", at));
        assert_eq!(
            (v, nth, h.state(&id)),
            (Verdict::Deliver, 7, "active".to_string())
        );
        assert_eq!(h.events("compliance.").len(), 1);
    }

    #[test]
    fn a_held_copy_goes_out_only_when_an_officer_releases_it_with_a_reason() {
        let h = History::new();
        let at = "2026-05-05T00:00:00.000Z";
        h.five("ZZQ", at);
        let due_before = h.db.notices_due(100).unwrap().len();
        assert_eq!(due_before, 5);
        let (id, link, v, _) = h.copy(Ask::journal("ZZQ", at));
        assert_eq!(v, Verdict::Hold);
        assert_eq!(
            h.db.notices_due(100).unwrap().len(),
            5,
            "a held copy's notice is not sent"
        );
        assert_eq!(
            h.db.deliveries_list(Some(DeliveryState::Held))
                .unwrap()
                .len(),
            1
        );
        // A held copy is not counted as delivered: the next one is the sixth too.
        let (_, _, v, nth) = h.copy(Ask::journal("ZZQ", at));
        assert_eq!((v, nth), (Verdict::Hold, 6));

        let err =
            h.db.delivery_release(&id, "officer.jones", "  ")
                .unwrap_err();
        assert!(err.to_string().contains("reason"), "{err}");
        assert_eq!(h.state(&id), "held");
        let released =
            h.db.delivery_release(&id, "officer.jones", "CCC order 4711 paid")
                .unwrap();
        assert_eq!(
            (released.state.as_str(), released.hold_reason),
            ("active", None)
        );
        assert!(
            h.db.delivery_release(&id, "officer.jones", "again")
                .unwrap_err()
                .to_string()
                .contains("not held")
        );
        assert_eq!(h.db.notices_due(100).unwrap().len(), 6);
        assert!(matches!(
            h.db.link_download(&link, "test", None).unwrap(),
            Grant::Granted { .. }
        ));
        let ev = h.events(Action::DeliveryReleased.as_str());
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].actor, "officer.jones");
        assert_eq!(ev[0].details["officer"], "officer.jones");
        assert_eq!(ev[0].details["reason"], "CCC order 4711 paid");
        assert!(
            ev[0].details["hold_reason"]
                .as_str()
                .unwrap()
                .contains("copy 6")
        );
        assert!(verify_audit(&h.db, None).unwrap().is_ok());
    }

    /// Seals events with the given (old) times onto the chain's start, as an import would.
    fn seed_audit(db: &SqliteDatabase, times: &[&str]) {
        let conn = db.conn();
        let (mut seq, mut prev) = (0, GENESIS.to_string());
        for t in times {
            let e = audit::seal(
                seq,
                &prev,
                t.to_string(),
                NewEvent::new("import", Action::AuditNote),
            );
            conn.execute(
                "INSERT INTO audit_events (seq, time, actor, action, subjects, details, prev_hash, hash) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                rusqlite::params![e.seq, e.time, e.actor, e.action, e.subjects.to_string(), e.details.to_string(), e.prev_hash, e.hash],
            )
            .unwrap();
            (seq, prev) = (e.seq, e.hash);
        }
    }

    #[test]
    fn pruning_keeps_three_complete_years_and_the_chain_still_verifies() {
        let h = History::new();
        seed_audit(
            &h.db,
            &[
                "2022-03-01T00:00:00.000Z",
                "2022-12-31T23:59:59.999Z",
                "2023-01-01T00:00:00.000Z",
                "2025-06-01T00:00:00.000Z",
            ],
        );
        let at = |t| Ask::journal("ZZQ", t);
        let (old, _, _, _) = h.copy(at("2022-06-01T00:00:00.000Z"));
        let (last_of_2022, _, _, _) = h.copy(at("2022-12-31T23:59:59.999Z"));
        let (unpurged_2022, _, _, _) = h.copy(at("2022-07-01T00:00:00.000Z"));
        let (first_of_2023, _, _, _) = h.copy(at("2023-01-01T00:00:00.000Z"));
        let (y2024, _, _, _) = h.copy(at("2024-04-04T00:00:00.000Z"));
        let (y2026, _, _, _) = h.copy(at("2026-01-10T00:00:00.000Z"));
        for id in [&old, &last_of_2022, &first_of_2023, &y2024] {
            assert!(
                h.db.delivery_purged(
                    id,
                    NewEvent::new("daemon", Action::DeliveryPurged)
                        .subject("delivery", id.as_str())
                )
                .unwrap()
            );
        }
        let anchor = verify_audit(&h.db, None).unwrap().unwrap().head;

        // In November 2026 requests from 2022 are past retention; 2023 is kept through 2026.
        let cutoff = retention::prune_cutoff(time::macros::datetime!(2026-11-29 12:00 UTC), 3);
        let dry = h.db.retention_prune(&cutoff, "officer", true).unwrap();
        assert_eq!(dry.deliveries, vec![old.clone(), last_of_2022.clone()]);
        assert_eq!(h.state(&old), "purged", "a dry run changes nothing");
        let report = h.db.retention_prune(&cutoff, "officer", false).unwrap();
        assert_eq!(
            (report.deliveries.clone(), report.waiting_for_purge.clone()),
            (dry.deliveries, vec![unpurged_2022.clone()])
        );
        assert_eq!(report.requests, vec!["TN1".to_string(), "TN2".to_string()]);
        assert_eq!(report.audit_events, 2);
        assert_eq!(
            report.checkpoint.as_deref().unwrap().split(':').next(),
            Some("2")
        );
        assert_eq!(
            (h.state(&old), h.state(&last_of_2022)),
            ("gone".into(), "gone".into())
        );
        assert_eq!(h.state(&unpurged_2022), "active");
        assert_eq!(
            (h.state(&first_of_2023), h.state(&y2024), h.state(&y2026)),
            ("purged".into(), "purged".into(), "active".into())
        );
        assert!(h.db.request_get("TN1").unwrap().is_none());
        assert!(h.db.request_get("TN4").unwrap().is_some());
        assert_eq!(h.db.counted_copies(2022, None).unwrap().len(), 1);
        assert_eq!(h.db.counted_copies(2023, None).unwrap().len(), 1);

        // The rest of the chain verifies from the checkpoint, also against the earlier anchor.
        let summary = verify_audit(&h.db, None)
            .unwrap()
            .expect("chain verifies after pruning");
        assert_eq!(summary.head.seq, anchor.seq + 1);
        assert!(verify_audit(&h.db, Some(anchor)).unwrap().is_ok());
        let pruned = h.events(Action::RetentionPruned.as_str());
        assert_eq!(pruned.len(), 1);
        assert_eq!(pruned[0].details["audit_events"], 2);
        // Nothing more to do: a second run changes nothing and records nothing.
        let again = h.db.retention_prune(&cutoff, "officer", false).unwrap();
        assert!(
            again.deliveries.is_empty() && again.requests.is_empty() && again.audit_events == 0
        );
        assert_eq!(h.events(Action::RetentionPruned.as_str()).len(), 1);
        assert!(verify_audit(&h.db, None).unwrap().is_ok());
    }

    #[test]
    fn pseudonymisation_replaces_patrons_but_keeps_one_pseudonym_per_reader() {
        let h = History::new();
        h.five("ZZQ", "2026-01-05T00:00:00.000Z");
        let (held, _, _, _) = h.copy(Ask::journal("ZZQ", "2026-01-05T00:00:00.000Z"));
        let (recent, _, _, _) = h.copy(Ask::journal("XYZ", "2026-11-01T00:00:00.000Z"));
        // Notices of old requests were sent long ago.
        h.db.conn()
            .execute("UPDATE notices SET state = 'sent'", [])
            .unwrap();
        let report =
            h.db.pseudonymise("2026-06-01T00:00:00.000Z", "officer", false)
                .unwrap();
        assert_eq!(report.requests.len(), 5);
        assert_eq!(
            report.skipped,
            vec![h.db.delivery_get(&held).unwrap().unwrap().request_id]
        );
        let r1 = h.db.request_get("TN1").unwrap().unwrap();
        let r4 = h.db.request_get("TN4").unwrap().unwrap();
        // TN1 and TN4 are the same reader (n % 3), so they share a pseudonym.
        assert!(r1.patron_name.starts_with("patron-"), "{}", r1.patron_name);
        assert_eq!(r1.patron_name, r4.patron_name);
        assert_ne!(
            r1.patron_name,
            h.db.request_get("TN2").unwrap().unwrap().patron_name
        );
        assert!(r1.patron_email.ends_with("@pseudonymised.invalid"));
        assert!(r1.problems().is_empty(), "{:?}", r1.problems());
        assert_eq!(
            h.db.delivery_get("dlv_1").unwrap().unwrap().recipient,
            r1.patron_name
        );
        let body: String =
            h.db.conn()
                .query_row(
                    "SELECT body FROM notices WHERE delivery_id = 'dlv_1'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
        assert!(!body.contains("Body"));
        let recent = h.db.delivery_get(&recent).unwrap().unwrap();
        assert!(recent.recipient.starts_with("Reader"));
        assert_eq!(h.events(Action::RetentionPseudonymised.as_str()).len(), 1);
        assert!(
            h.db.pseudonymise("2026-06-01T00:00:00.000Z", "officer", false)
                .unwrap()
                .requests
                .is_empty()
        );
    }

    #[test]
    fn audit_subjects_of_a_patron_or_library() {
        let h = History::new();
        h.copy(Ask::journal("ZZQ", "2026-01-05T00:00:00.000Z"));
        h.copy(Ask::journal("XYZ", "2026-01-05T00:00:00.000Z"));
        assert_eq!(
            h.db.audit_subject_ids(None, Some("ZZQ")).unwrap(),
            vec!["TN1", "dlv_1", "lnk_1"]
        );
        assert_eq!(
            h.db.audit_subject_ids(Some("READER2@example.org"), None)
                .unwrap(),
            vec!["TN2", "dlv_2", "lnk_2"]
        );
        assert!(
            h.db.audit_subject_ids(Some("reader2@example.org"), Some("ZZQ"))
                .unwrap()
                .is_empty()
        );
    }
}

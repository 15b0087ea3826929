//! The embedded SQLite backend: WAL mode, versioned migrations applied at open, one connection
//! per process behind a mutex (SQLite serialises writers anyway; `BEGIN IMMEDIATE` makes the
//! audit append take the write lock before reading the chain head, across processes too).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params_from_iter};
use rusqlite_migration::{M, Migrations};

use super::audit::{self, Event, GENESIS, NewEvent};
use super::delivery::{Delivery, Grant, Link, QueuedNotice};
use super::ill::{
    IllMessage, IllStatus, IllTransaction, NewIllMessage, OutboxMessage, OutboxState,
};
use super::job::{
    Job, JobFilter, JobPatch, JobState, NodeBeat, NodeStatus, PageRow, SplitDocument,
};
use super::request::Request;
use super::{
    AuditFilter, AuditRepo, Database, DeliveryRepo, IllRepo, JobRepo, LinkChange, LinkRepo,
    NodeRepo, NoticeRepo, RequestRepo, RetentionRepo, StaffRepo, StateError,
};
use quire_domain::staff::{StaffSession, StaffUser, UserChange};
use quire_domain::{DeliveryState, NoticeState, Timestamp, events};

/// A column holding one of the domain's named values (a state, a basis) or a time, parsed; a
/// value the domain does not know is a conversion error naming the column, not a panic.
fn named<T: std::str::FromStr<Err = String>>(
    row: &rusqlite::Row<'_>,
    at: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(at)?;
    text.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(at, rusqlite::types::Type::Text, e.into())
    })
}

/// A time column, read through the one storage format (or any RFC 3339 text of older rows).
fn time_opt(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Option<Timestamp>> {
    let text: Option<String> = row.get(at)?;
    text.map(|t| {
        t.parse().map_err(|e: String| {
            rusqlite::Error::FromSqlConversionFailure(at, rusqlite::types::Type::Text, e.into())
        })
    })
    .transpose()
}

mod claims;
mod compliance;
mod deliveries;
mod ill;
mod jobs;
mod pages;
mod requests;
pub(crate) mod users;
mod webhooks;

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("migrations/0001_initial.sql")),
        M::up(include_str!("migrations/0002_delivery.sql")),
        M::up(include_str!("migrations/0003_compliance.sql")),
        M::up(include_str!("migrations/0004_users.sql")),
        M::up(include_str!("migrations/0005_batches.sql")).foreign_key_check(),
        M::up(include_str!("migrations/0006_pickup_limits.sql")),
        M::up(include_str!("migrations/0007_intake_health.sql")),
        M::up(include_str!("migrations/0008_nodes.sql")),
        M::up(include_str!("migrations/0009_iso18626.sql")),
        M::up(include_str!("migrations/0010_queue_index.sql")),
        M::up(include_str!("migrations/0011_request_cancellations.sql")),
        M::up(include_str!("migrations/0012_sender_claims.sql")),
        M::up(include_str!("migrations/0013_webhooks.sql")),
    ])
}

/// Makes the pending rows of a sender's queue (`notices`, `ill_outbox`) that `node` holds due
/// now, for its restarted sender.
fn release_held(conn: &Connection, queue: &str, node: &str) -> Result<usize, StateError> {
    Ok(conn.execute(
        &format!(
            "UPDATE {queue} SET next_attempt_at = ?2, claimed_by = NULL
             WHERE state = 'pending' AND claimed_by = ?1"
        ),
        rusqlite::params![node, Timestamp::now().to_string()],
    )?)
}

pub struct SqliteDatabase {
    conn: Mutex<Connection>,
}

impl SqliteDatabase {
    pub fn open(path: &Path) -> Result<Self, StateError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                StateError::Migration(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let open_err = |source| StateError::Open {
            path: path.display().to_string(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        // Off while migrating: a table rebuild (0005) drops a table others refer to. Each such
        // migration checks the keys itself before it commits.
        conn.pragma_update(None, "foreign_keys", "OFF")
            .map_err(open_err)?;
        migrations()
            .to_latest(&mut conn)
            .map_err(|e| StateError::Migration(e.to_string()))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent; carry on.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn row_to_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Event, String, String)> {
    Ok((
        Event {
            seq: row.get(0)?,
            time: row.get(1)?,
            actor: row.get(2)?,
            action: row.get(3)?,
            subjects: serde_json::Value::Null,
            details: serde_json::Value::Null,
            prev_hash: row.get(6)?,
            hash: row.get(7)?,
        },
        row.get(4)?,
        row.get(5)?,
    ))
}

/// `2026-01-31` as an upper bound means the whole day.
fn until_bound(s: &str) -> String {
    if s.len() == 10 {
        format!("{s}T23:59:59.999Z~")
    } else {
        s.to_string()
    }
}

impl AuditRepo for SqliteDatabase {
    fn audit_append(&self, new: NewEvent) -> Result<Event, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let event = append_in(&tx, new)?;
        tx.commit()?;
        Ok(event)
    }

    fn audit_scan(
        &self,
        filter: &AuditFilter,
        each: &mut dyn FnMut(Event) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        let mut sql = String::from(
            "SELECT seq, time, actor, action, subjects, details, prev_hash, hash FROM audit_events WHERE 1=1",
        );
        let mut args: Vec<String> = Vec::new();
        if let Some(s) = &filter.since {
            args.push(s.clone());
            sql.push_str(&format!(" AND time >= ?{}", args.len()));
        }
        if let Some(u) = &filter.until {
            args.push(until_bound(u));
            sql.push_str(&format!(" AND time <= ?{}", args.len()));
        }
        if let Some(a) = &filter.action {
            if a.ends_with('.') {
                args.push(format!("{a}%"));
                sql.push_str(&format!(" AND action LIKE ?{}", args.len()));
            } else {
                args.push(a.clone());
                sql.push_str(&format!(" AND action = ?{}", args.len()));
            }
        }
        if let Some(r) = &filter.request {
            // Events filed only under the request's jobs, deliveries or links (a download, a
            // revocation, a notice sent) are about it too; following the ids finds them in
            // logs written before any event named its request.
            args.push(r.clone());
            let n = args.len();
            sql.push_str(&format!(
                " AND (json_extract(subjects, '$.request') = ?{n}
                   OR json_extract(subjects, '$.job') IN (SELECT id FROM jobs WHERE request_id = ?{n})
                   OR json_extract(subjects, '$.delivery') IN (SELECT id FROM deliveries WHERE request_id = ?{n})
                   OR json_extract(subjects, '$.link') IN (SELECT l.id FROM links l
                        JOIN deliveries d ON d.id = l.delivery_id WHERE d.request_id = ?{n}))"
            ));
        }
        // seq is the rowid, so moving a row means rewriting its seq, which its hash covers.
        // Numbers, written into the text: no quoting to get wrong, and the comparison is
        // numeric on both backends.
        if let Some(after) = filter.after_seq {
            sql.push_str(&format!(" AND seq > {after}"));
        }
        sql.push_str(" ORDER BY seq");
        if let Some(limit) = filter.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(args.iter()))?;
        while let Some(row) = rows.next()? {
            let (mut event, subjects, details) = row_to_event(row)?;
            event.subjects = serde_json::from_str(&subjects).map_err(|e| {
                StateError::Corrupt(format!("audit event {}: subjects: {e}", event.seq))
            })?;
            event.details = serde_json::from_str(&details).map_err(|e| {
                StateError::Corrupt(format!("audit event {}: details: {e}", event.seq))
            })?;
            each(event)?;
        }
        Ok(())
    }

    fn audit_start(&self) -> Result<(i64, String), StateError> {
        start(&self.conn())
    }

    fn audit_subject_ids(
        &self,
        patron: Option<&str>,
        library: Option<&str>,
    ) -> Result<Vec<String>, StateError> {
        compliance::subject_ids(&self.conn(), patron, library)
    }
}

impl RequestRepo for SqliteDatabase {
    fn requests_add(&self, requests: &[Request], actor: &str) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for r in requests {
            requests::insert(&tx, r)?;
            append_in(&tx, events::request_created(actor, r))?;
        }
        tx.commit()?;
        Ok(())
    }

    fn request_get(&self, id: &str) -> Result<Option<Request>, StateError> {
        requests::get(&self.conn(), id)
    }

    fn request_set_basis(
        &self,
        id: &str,
        basis: quire_domain::Basis,
        reference: Option<&str>,
        event: NewEvent,
    ) -> Result<Request, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        requests::get(&tx, id)?.ok_or_else(|| StateError::NotFound(format!("no request {id}")))?;
        let delivered: i64 = tx.query_row(
            "SELECT count(*) FROM deliveries WHERE request_id = ?1",
            [id],
            |r| r.get(0),
        )?;
        if delivered > 0 {
            return Err(StateError::Conflict(format!(
                "request {id} has {delivered} delivered copies counted under its basis; it cannot change now"
            )));
        }
        tx.execute(
            "UPDATE requests SET basis = ?2, basis_reference = ?3 WHERE id = ?1",
            rusqlite::params![id, basis.as_str(), reference],
        )?;
        tx.execute(
            "UPDATE ill_transactions SET basis_given = 1, updated_at = ?2 WHERE request_id = ?1",
            rusqlite::params![id, Timestamp::now().to_string()],
        )?;
        append_in(&tx, event)?;
        let r = requests::get(&tx, id)?.ok_or_else(|| StateError::NotFound(id.into()))?;
        tx.commit()?;
        Ok(r)
    }

    fn requests_list(&self, limit: usize) -> Result<Vec<Request>, StateError> {
        requests::list(&self.conn(), limit)
    }

    fn request_set_citation(
        &self,
        id: &str,
        citation: &quire_domain::Citation,
        event: NewEvent,
    ) -> Result<Request, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        requests::check_open(&tx, id, "its citation cannot change now")?;
        requests::set_citation(&tx, id, citation)?;
        append_in(&tx, event)?;
        let r = requests::get(&tx, id)?.ok_or_else(|| StateError::NotFound(id.into()))?;
        tx.commit()?;
        Ok(r)
    }

    fn request_cancel(
        &self,
        id: &str,
        cancellation: &quire_domain::Cancellation,
        event: NewEvent,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        requests::check_open(&tx, id, "a copy sent cannot be cancelled")?;
        requests::insert_cancellation(&tx, id, cancellation)?;
        append_in(&tx, event)?;
        tx.commit()?;
        Ok(())
    }

    fn request_cancellation(
        &self,
        id: &str,
    ) -> Result<Option<quire_domain::Cancellation>, StateError> {
        requests::cancellation(&self.conn(), id)
    }
}

impl JobRepo for SqliteDatabase {
    fn job_create(&self, job: &Job, event: NewEvent) -> Result<Event, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        jobs::insert(&tx, job)?;
        let event = append_in(&tx, event)?;
        tx.commit()?;
        Ok(event)
    }

    fn pages_record(&self, job_id: &str, pages: &[PageRow]) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        pages::replace(&tx, job_id, pages)?;
        tx.commit()?;
        Ok(())
    }

    fn pages_of_other_jobs(
        &self,
        except: Option<&str>,
    ) -> Result<Vec<(String, Vec<PageRow>)>, StateError> {
        pages::all_except(&self.conn(), except)
    }

    fn job_get(&self, id: &str) -> Result<Option<Job>, StateError> {
        jobs::get(&self.conn(), id)
    }

    fn jobs_list(&self, filter: &JobFilter) -> Result<Vec<Job>, StateError> {
        jobs::list(&self.conn(), filter)
    }

    fn jobs_with_source(&self, sha256: &str, except: &str) -> Result<Vec<Job>, StateError> {
        jobs::by_source(&self.conn(), sha256, except)
    }

    fn job_transition(
        &self,
        id: &str,
        from: &[JobState],
        to: JobState,
        patch: JobPatch,
        event: NewEvent,
    ) -> Result<Job, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let job = jobs::transition(&tx, id, from, to, &patch)?;
        append_in(&tx, event)?;
        tx.commit()?;
        Ok(job)
    }

    fn job_split(
        &self,
        batch: &str,
        patch: JobPatch,
        event: NewEvent,
        documents: &[SplitDocument],
    ) -> Result<Job, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let job = jobs::transition(&tx, batch, &[JobState::Processing], JobState::Split, &patch)?;
        // The batch's own pages would otherwise match each of its documents as a duplicate.
        pages::replace(&tx, batch, &[])?;
        append_in(&tx, event)?;
        for d in documents {
            jobs::insert(&tx, &d.job)?;
            pages::replace(&tx, &d.job.id, &d.pages)?;
            append_in(&tx, d.event.clone())?;
        }
        tx.commit()?;
        Ok(job)
    }

    fn job_attempt_failed(&self, job_id: &str, error: &str) -> Result<u32, StateError> {
        let failures = self.conn().query_row(
            "INSERT INTO job_attempts (job_id, failures, last_error, updated_at)
             VALUES (?1, 1, ?2, ?3)
             ON CONFLICT (job_id) DO UPDATE SET failures = failures + 1,
                 last_error = excluded.last_error, updated_at = excluded.updated_at
             RETURNING failures",
            rusqlite::params![job_id, error, Timestamp::now().to_string()],
            |r| r.get::<_, u32>(0),
        )?;
        Ok(failures)
    }

    fn job_attempts_clear(&self, job_id: &str) -> Result<(), StateError> {
        self.conn()
            .execute("DELETE FROM job_attempts WHERE job_id = ?1", [job_id])?;
        Ok(())
    }

    fn job_claim(&self, node: &str, lease_until: Timestamp) -> Result<Option<Job>, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let job = claims::claim(&tx, node, lease_until)?;
        if let Some(job) = &job {
            append_in(&tx, events::job_claimed(node, &job.id))?;
        }
        tx.commit()?;
        Ok(job)
    }

    fn jobs_claim_ready(
        &self,
        node: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Job>, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let jobs = claims::claim_ready(&tx, node, lease_until, limit)?;
        tx.commit()?;
        Ok(jobs)
    }

    fn jobs_reclaim_lapsed(&self, now: Timestamp) -> Result<Vec<String>, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut requeued = Vec::new();
        for (id, state, node, until) in claims::lapsed(&tx, now)? {
            if claims::take_back(&tx, &id, &node, &until)? && state == JobState::Processing.as_str()
            {
                append_in(&tx, events::job_lease_lapsed(&id, &node, &until))?;
                requeued.push(id);
            }
        }
        tx.commit()?;
        Ok(requeued)
    }
}

impl IllRepo for SqliteDatabase {
    fn ill_request_add(
        &self,
        request: &Request,
        transaction: &IllTransaction,
        received: &NewIllMessage,
        reply: Option<&str>,
        event: NewEvent,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        requests::insert(&tx, request)?;
        append_in(&tx, events::request_created(&event.actor, request))?;
        ill::insert_transaction(&tx, transaction)?;
        ill::insert_message(&tx, received)?;
        if let Some(body) = reply {
            ill::queue(&tx, &request.id, &received.peer, transaction.status, body)?;
        }
        append_in(&tx, event)?;
        tx.commit()?;
        Ok(())
    }

    fn ill_find(
        &self,
        peer_agency_type: &str,
        peer_agency_id: &str,
        requester_request_id: &str,
    ) -> Result<Option<IllTransaction>, StateError> {
        ill::find(
            &self.conn(),
            peer_agency_type,
            peer_agency_id,
            requester_request_id,
        )
    }

    fn ill_of_request(&self, request_id: &str) -> Result<Option<IllTransaction>, StateError> {
        ill::of_request(&self.conn(), request_id)
    }

    fn ill_status(
        &self,
        request_id: &str,
        from: &[IllStatus],
        status: IllStatus,
        body: &str,
        event: NewEvent,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        ill::set_status(&tx, request_id, from, status)?;
        let t = ill::of_request(&tx, request_id)?
            .ok_or_else(|| StateError::NotFound(format!("request {request_id}")))?;
        let peer = quire_domain::ill::peer_key(&t.peer_agency_type, &t.peer_agency_id);
        ill::queue(&tx, request_id, &peer, status, body)?;
        append_in(&tx, event)?;
        tx.commit()?;
        Ok(())
    }

    fn ill_message(&self, message: &NewIllMessage) -> Result<(), StateError> {
        ill::insert_message(&self.conn(), message)
    }

    fn ill_messages(&self, request_id: &str) -> Result<Vec<IllMessage>, StateError> {
        ill::messages(&self.conn(), request_id)
    }

    fn ill_last_messages(&self) -> Result<Vec<IllMessage>, StateError> {
        ill::last_messages(&self.conn())
    }

    fn ill_outbox_claim(
        &self,
        node: &str,
        limit: usize,
        hold_until: Timestamp,
    ) -> Result<Vec<OutboxMessage>, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let due = ill::claim(&tx, node, limit, hold_until)?;
        tx.commit()?;
        Ok(due)
    }

    fn ill_outbox_release(&self, node: &str) -> Result<usize, StateError> {
        release_held(&self.conn(), "ill_outbox", node)
    }

    fn ill_outbox_update(
        &self,
        node: &str,
        id: i64,
        state: OutboxState,
        next_at: Timestamp,
        error: Option<&str>,
        response: Option<&NewIllMessage>,
        event: NewEvent,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        ill::update(&tx, node, id, state, next_at, error)?;
        if let Some(m) = response {
            ill::insert_message(&tx, m)?;
        }
        append_in(&tx, event)?;
        tx.commit()?;
        Ok(())
    }

    fn ill_outbox_list(
        &self,
        state: Option<OutboxState>,
    ) -> Result<Vec<OutboxMessage>, StateError> {
        ill::list(&self.conn(), state)
    }
}

impl NodeRepo for SqliteDatabase {
    fn node_beat(&self, node: &NodeBeat, lease_until: Timestamp) -> Result<usize, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let held = claims::beat(&tx, node, lease_until)?;
        tx.commit()?;
        Ok(held)
    }

    fn nodes_list(&self) -> Result<Vec<NodeStatus>, StateError> {
        claims::list(&self.conn())
    }
}

impl DeliveryRepo for SqliteDatabase {
    fn delivery_get(&self, id: &str) -> Result<Option<Delivery>, StateError> {
        deliveries::get(&self.conn(), id)
    }

    fn deliveries_by_stamped(&self, sha256: &str) -> Result<Vec<Delivery>, StateError> {
        deliveries::by_stamped(&self.conn(), sha256)
    }

    fn deliveries_purgeable(&self, cutoff: Timestamp) -> Result<Vec<Delivery>, StateError> {
        deliveries::purgeable(&self.conn(), cutoff)
    }

    fn delivery_purged(&self, id: &str, event: NewEvent) -> Result<bool, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = deliveries::mark_purged(&tx, id, Timestamp::now())?;
        if changed {
            append_in(&tx, event)?;
        }
        tx.commit()?;
        Ok(changed)
    }

    fn delivery_create_counted(
        &self,
        delivery: &Delivery,
        link: &Link,
        notice: Option<(&str, &str, &str)>,
        job: Option<&str>,
        finishes_job: bool,
        event: NewEvent,
        work: &quire_domain::compliance::Work,
        basis: super::Basis,
        rules: &quire_domain::compliance::ComplianceConfig,
    ) -> Result<quire_domain::compliance::CopyDecision, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Checked in the same transaction as the cancel's, so a cancel and a delivery racing
        // each other leave exactly one of them.
        if requests::cancellation(&tx, &delivery.request_id)?.is_some() {
            return Err(StateError::Conflict(format!(
                "request {} is cancelled: no copy goes out",
                delivery.request_id
            )));
        }
        let new = compliance::NewCopy {
            delivery,
            link,
            notice,
            job,
            finishes_job,
            event,
            work,
            basis,
        };
        let decision = compliance::create_counted(&tx, new, rules)?;
        tx.commit()?;
        Ok(decision)
    }

    fn delivery_release(
        &self,
        id: &str,
        officer: &str,
        reason: &str,
    ) -> Result<Delivery, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let d = compliance::release(&tx, id, officer, reason)?;
        tx.commit()?;
        Ok(d)
    }

    fn deliveries_list(&self, state: Option<DeliveryState>) -> Result<Vec<Delivery>, StateError> {
        compliance::list(&self.conn(), state)
    }

    fn counted_copies(
        &self,
        year: i32,
        library: Option<&str>,
    ) -> Result<Vec<quire_domain::compliance::CountedCopy>, StateError> {
        compliance::copies(&self.conn(), year, library)
    }
}

impl LinkRepo for SqliteDatabase {
    fn link_by_token(&self, token_sha256: &str) -> Result<Option<(Link, Delivery)>, StateError> {
        deliveries::link_by_token(&self.conn(), token_sha256)
    }

    fn link_get(&self, id: &str) -> Result<Option<(Link, Delivery)>, StateError> {
        deliveries::link_get(&self.conn(), id)
    }

    fn links_list(&self, request: Option<&str>) -> Result<Vec<(Link, Delivery)>, StateError> {
        deliveries::links(&self.conn(), request)
    }

    fn link_download(
        &self,
        link_id: &str,
        client: &str,
        resume_since: Option<Timestamp>,
    ) -> Result<Grant, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = Timestamp::now();
        let resumed = match resume_since {
            Some(since) => deliveries::resume(&tx, link_id, client, since, now)?,
            None => None,
        };
        let grant = match resumed {
            Some(g) => g,
            None => deliveries::consume(&tx, link_id, client, now)?,
        };
        append_in(&tx, events::download(link_id, client, grant))?;
        tx.commit()?;
        Ok(grant)
    }

    fn pickup_code_attempt(
        &self,
        link_id: &str,
        client: &str,
        correct: bool,
        policy: &super::PickupPolicy,
    ) -> Result<super::CodeCheck, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let check =
            deliveries::code_attempt(&tx, link_id, client, correct, policy, Timestamp::now())?;
        if let Some(reason) = check.refusal() {
            append_in(&tx, events::code_refused(link_id, client, reason))?;
        }
        if check == (super::CodeCheck::Wrong { locked: true }) {
            append_in(&tx, events::link_locked(link_id, client, policy.lock_after))?;
        }
        tx.commit()?;
        Ok(check)
    }

    fn link_change(
        &self,
        link_id: &str,
        change: LinkChange,
        event: NewEvent,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        deliveries::link_get(&tx, link_id)?
            .ok_or_else(|| StateError::NotFound(format!("no link {link_id}")))?;
        match change {
            LinkChange::Revoke => {
                if !deliveries::revoke(&tx, link_id, Timestamp::now())? {
                    return Err(StateError::Conflict(format!(
                        "link {link_id} is revoked already"
                    )));
                }
            }
            LinkChange::Unlock => {
                if !deliveries::unlock(&tx, link_id)? {
                    return Err(StateError::Conflict(format!(
                        "link {link_id} is not locked"
                    )));
                }
            }
            LinkChange::Extend {
                expires_at,
                more_downloads,
            } => deliveries::extend(&tx, link_id, expires_at, more_downloads)?,
        }
        append_in(&tx, event)?;
        tx.commit()?;
        Ok(())
    }
}

impl NoticeRepo for SqliteDatabase {
    fn notices_of_request(&self, request_id: &str) -> Result<Vec<crate::NoticeStatus>, StateError> {
        deliveries::notices_of_request(&self.conn(), request_id)
    }

    fn notices_due(&self, limit: usize) -> Result<Vec<QueuedNotice>, StateError> {
        deliveries::notices_due(&self.conn(), Timestamp::now(), limit)
    }

    fn notices_claim(
        &self,
        node: &str,
        limit: usize,
        hold_until: Timestamp,
    ) -> Result<Vec<QueuedNotice>, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let due = deliveries::notices_due(&tx, Timestamp::now(), limit)?;
        for n in &due {
            tx.execute(
                "UPDATE notices SET next_attempt_at = ?2, claimed_by = ?3 WHERE id = ?1",
                rusqlite::params![n.id, hold_until.to_string(), node],
            )?;
        }
        tx.commit()?;
        Ok(due)
    }

    fn notices_release(&self, node: &str) -> Result<usize, StateError> {
        release_held(&self.conn(), "notices", node)
    }

    fn notice_update(
        &self,
        node: &str,
        id: i64,
        state: NoticeState,
        next_at: Timestamp,
        error: Option<&str>,
        event: NewEvent,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        deliveries::notice_update(&tx, node, id, state, next_at, error)?;
        append_in(&tx, event)?;
        tx.commit()?;
        Ok(())
    }

    fn notice_resend(&self, delivery_id: &str, event: NewEvent) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let delivery = deliveries::get(&tx, delivery_id)?
            .ok_or_else(|| StateError::NotFound(format!("no delivery {delivery_id}")))?;
        if delivery.state != DeliveryState::Active {
            return Err(StateError::Conflict(format!(
                "delivery {delivery_id} is {}: its e-mail cannot be sent now",
                delivery.state
            )));
        }
        // A new row, so the first notice keeps its own sent time and attempts.
        let now = Timestamp::now().to_string();
        let copied = tx.execute(
            "INSERT INTO notices (delivery_id, recipient, subject, body, state, attempts, next_attempt_at, created_at)
             SELECT delivery_id, recipient, subject, body, 'pending', 0, ?2, ?2 FROM notices
             WHERE delivery_id = ?1 ORDER BY id DESC LIMIT 1",
            rusqlite::params![delivery_id, now],
        )?;
        if copied == 0 {
            return Err(StateError::NotFound(format!(
                "delivery {delivery_id} has no e-mail to resend"
            )));
        }
        append_in(&tx, event)?;
        tx.commit()?;
        Ok(())
    }
}

impl StaffRepo for SqliteDatabase {
    fn user_add(&self, user: &StaffUser, actor: &str) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        users::insert_user(&tx, user)?;
        append_in(&tx, events::user_added(actor, &user.name, &user.role))?;
        tx.commit()?;
        Ok(())
    }

    fn user_change(&self, name: &str, change: &UserChange, actor: &str) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        users::change_user(&tx, name, change)?;
        let role = match change {
            UserChange::Role(role) => Some(role.as_str()),
            _ => None,
        };
        append_in(
            &tx,
            events::user_changed(actor, name, change.action(), role),
        )?;
        tx.commit()?;
        Ok(())
    }

    fn user_get(&self, name: &str) -> Result<Option<StaffUser>, StateError> {
        users::get_user(&self.conn(), name)
    }

    fn users_list(&self) -> Result<Vec<StaffUser>, StateError> {
        users::list_users(&self.conn())
    }

    fn session_start(
        &self,
        session: &StaffSession,
        client: &str,
        forget: &[String],
        prune_before: Timestamp,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        users::insert_session(&tx, session)?;
        users::clear_failures(&tx, forget, prune_before)?;
        append_in(&tx, events::staff_login(&session.user_name, client))?;
        tx.commit()?;
        Ok(())
    }

    fn session_get(
        &self,
        id_sha256: &str,
    ) -> Result<Option<(StaffSession, StaffUser)>, StateError> {
        users::get_session(&self.conn(), id_sha256, Timestamp::now())
    }

    fn session_end(&self, id_sha256: &str, user: &str) -> Result<bool, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ended = users::delete_session(&tx, id_sha256)?;
        if ended {
            append_in(&tx, events::staff_logout(user))?;
        }
        tx.commit()?;
        Ok(ended)
    }

    fn login_failed(&self, keys: &[String], user: &str, client: &str) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        users::record_failure(&tx, keys, Timestamp::now())?;
        append_in(&tx, events::login_failed(user, client))?;
        tx.commit()?;
        Ok(())
    }

    fn login_failures(&self, key: &str, since: Timestamp) -> Result<i64, StateError> {
        users::count_failures(&self.conn(), key, since)
    }
}

impl RetentionRepo for SqliteDatabase {
    fn retention_prune(
        &self,
        cutoff: Timestamp,
        actor: &str,
        dry_run: bool,
    ) -> Result<quire_domain::compliance::retention::PruneReport, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let report = compliance::prune(&tx, cutoff, actor, dry_run)?;
        if dry_run {
            tx.rollback()?
        } else {
            tx.commit()?
        }
        Ok(report)
    }

    fn pseudonymise(
        &self,
        cutoff: Timestamp,
        actor: &str,
        dry_run: bool,
    ) -> Result<quire_domain::compliance::retention::PseudonymReport, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let report = compliance::pseudonymise(&tx, cutoff, actor, dry_run)?;
        if dry_run {
            tx.rollback()?
        } else {
            tx.commit()?
        }
        Ok(report)
    }
}

impl Database for SqliteDatabase {
    fn ping(&self) -> Result<(), StateError> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }
}

/// Appends inside a caller's `BEGIN IMMEDIATE` transaction, so a state change and its audit
/// event commit together or not at all.
pub(super) fn append_in(tx: &Transaction<'_>, new: NewEvent) -> Result<Event, StateError> {
    let head: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (seq, prev) = match head {
        Some(h) => h,
        None => start(tx)?,
    };
    let event = audit::seal(seq, &prev, Timestamp::now().to_string(), new);
    tx.execute(
        "INSERT INTO audit_events (seq, time, actor, action, subjects, details, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        rusqlite::params![
            event.seq,
            event.time,
            event.actor,
            event.action,
            event.subjects.to_string(),
            event.details.to_string(),
            event.prev_hash,
            event.hash
        ],
    )?;
    Ok(event)
}

fn start(conn: &Connection) -> Result<(i64, String), StateError> {
    let checkpoint = conn
        .query_row("SELECT through_seq, head_hash FROM audit_checkpoints ORDER BY through_seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    Ok(checkpoint.unwrap_or((0, GENESIS.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid_and_recorded() {
        assert!(migrations().validate().is_ok());
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDatabase::open(&dir.path().join("q.sqlite3")).unwrap();
        let v: i64 = db
            .conn()
            .query_row("SELECT max(version) FROM schema_history", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 13);
    }

    /// A version-4 database with a job, its pages and a delivery keeps them all when version 5
    /// rebuilds the jobs table, and the foreign keys still hold afterwards.
    #[test]
    fn the_jobs_table_rebuild_keeps_existing_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite3");
        {
            let mut conn = Connection::open(&path).unwrap();
            migrations().to_version(&mut conn, 4).unwrap();
            conn.execute_batch(
                "INSERT INTO requests (id, patron_name, patron_email, basis, created_at)
                   VALUES ('TN1', 'P', 'p@example.org', 'ccg', '2026-01-01T00:00:00Z');
                 INSERT INTO jobs (id, request_id, state, source_name, spool_path, source_sha256,
                                   created_at, updated_at)
                   VALUES ('job_1', 'TN1', 'delivered', 'TN1.pdf', '/s/job_1', 'ab',
                           '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
                 INSERT INTO pages (job_id, page_no, source_file, source_page, word_count, blank)
                   VALUES ('job_1', 1, 'TN1.pdf', 1, 10, 0);",
            )
            .unwrap();
        }
        let db = SqliteDatabase::open(&path).unwrap();
        let job = db.job_get("job_1").unwrap().unwrap();
        assert_eq!(job.state, JobState::Delivered);
        assert_eq!(job.request_id.as_deref(), Some("TN1"));
        assert_eq!(job.parent_job, None);
        let pages = db.pages_of_other_jobs(None).unwrap();
        assert_eq!(pages.len(), 1);
        let conn = db.conn();
        let broken: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(broken, 0);
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1, "foreign keys are enforced again after migrating");
        let refused = conn.execute(
            "INSERT INTO pages (job_id, page_no, source_file, source_page, word_count, blank)
               VALUES ('job_none', 1, 'x', 1, 0, 0)",
            [],
        );
        assert!(refused.is_err(), "pages of a job that does not exist");
    }
}

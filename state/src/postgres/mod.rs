//! The PostgreSQL backend, for several nodes sharing one database: the same tables and columns
//! as the SQLite backend (file by file: `requests.rs`, `jobs.rs`, ...), a pool of synchronous
//! connections (rust-postgres behind r2d2; see state/Cargo.toml for why synchronous), and
//! versioned migrations applied at open.
//!
//! Concurrency. SQLite serialises writers with `BEGIN IMMEDIATE`; here every write transaction
//! takes the transaction-scoped advisory lock [`WRITE_LOCK`] first, before it reads anything
//! it will decide on. That keeps the audit chain ONE chain across nodes (the head is read and
//! the next event sealed under the lock), makes the rule-of-five count and the insert of the
//! counted copy atomic across nodes (no sixth copy slips through when two nodes deliver the
//! fifth and sixth at once), and, because every writer takes this one lock before any row
//! lock, writers cannot deadlock on each other. Job moves are also compare-and-set in SQL
//! (`UPDATE ... WHERE id = $1 AND state = ANY($2)`, by row count), so they stay safe even
//! for a writer that did not take the lock. Reads take no lock and see committed data.

use std::str::FromStr;

use postgres::{GenericClient, NoTls, Row, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use r2d2_postgres::r2d2::{Pool, PooledConnection};

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

mod claims;
mod compliance;
mod deliveries;
mod ill;
mod jobs;
mod pages;
mod requests;
mod users;
mod webhooks;

/// Held by the migration runner, so two nodes starting together migrate one after the other.
const MIGRATION_LOCK: i64 = 0x5155_4952_4501; // "QUIRE" 01
/// Held by every write transaction: see the module's comment.
const WRITE_LOCK: i64 = 0x5155_4952_4502; // "QUIRE" 02

/// The migrations, in order: (version, SQL). A small runner of our own rather than a crate:
/// the whole job is "apply the missing files in one transaction under an advisory lock and
/// record them", about twenty lines, and the migration crates for rust-postgres are either
/// async-only or bring a CLI and macros this does not need.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_nodes.sql")),
    (3, include_str!("migrations/0003_iso18626.sql")),
    (4, include_str!("migrations/0004_queue_index.sql")),
    (5, include_str!("migrations/0005_request_cancellations.sql")),
    (6, include_str!("migrations/0006_sender_claims.sql")),
    (7, include_str!("migrations/0007_webhooks.sql")),
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

type Manager = PostgresConnectionManager<NoTls>;

pub struct PostgresDatabase {
    pool: Pool<Manager>,
}

impl PostgresDatabase {
    /// Connects (a pool of at most `pool_size` connections) and applies missing migrations.
    pub fn open(url: &str, pool_size: u32) -> Result<Self, StateError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| StateError::Config(format!("database URL: {e}")))?;
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(std::time::Duration::from_secs(30))
            .build(manager)?;
        let db = Self { pool };
        migrate(&mut *db.conn()?)?;
        Ok(db)
    }

    pub(crate) fn conn(&self) -> Result<PooledConnection<Manager>, StateError> {
        Ok(self.pool.get()?)
    }

    /// A yes-or-no read without any lock, for the pollers' "is there anything?" before they
    /// take the write lock.
    fn any(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<bool, StateError> {
        Ok(self.conn()?.query_one(sql, params)?.get(0))
    }

    /// Makes the pending rows of a sender's queue (`notices`, `ill_outbox`) that `node` holds
    /// due now, for its restarted sender.
    fn release_held(&self, queue: &str, node: &str) -> Result<usize, StateError> {
        self.write(|tx| {
            Ok(tx.execute(
                &format!(
                    "UPDATE {queue} SET next_attempt_at = $2, claimed_by = NULL
                     WHERE state = 'pending' AND claimed_by = $1"
                ),
                &[&node, &Timestamp::now().to_string()],
            )? as usize)
        })
    }

    /// Runs `f` in a write transaction (holding [`WRITE_LOCK`]) and commits what it did.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        lock_writes(&mut tx)?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// [`Self::write`] that rolls back instead when `dry_run`.
    fn write_or_try<T>(
        &self,
        dry_run: bool,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        lock_writes(&mut tx)?;
        let out = f(&mut tx)?;
        if dry_run {
            tx.rollback()?
        } else {
            tx.commit()?
        }
        Ok(out)
    }
}

fn lock_writes(c: &mut impl GenericClient) -> Result<(), StateError> {
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
    Ok(())
}

/// Applies the missing migrations in one transaction under [`MIGRATION_LOCK`], recording each
/// in `schema_migrations`. A database newer than this build is refused.
fn migrate(client: &mut postgres::Client) -> Result<(), StateError> {
    let fail = |e: postgres::Error| StateError::Migration(e.to_string());
    let mut tx = client.transaction().map_err(fail)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(fail)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             applied_at TEXT NOT NULL
         )",
    )
    .map_err(fail)?;
    let current: i64 = tx
        .query_one(
            "SELECT COALESCE(max(version), 0)::BIGINT FROM schema_migrations",
            &[],
        )
        .map_err(fail)?
        .get(0);
    if current > SCHEMA_VERSION {
        return Err(StateError::Migration(format!(
            "the database is at schema version {current}, newer than this Quire knows ({SCHEMA_VERSION})"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql)
            .map_err(|e| StateError::Migration(format!("version {version}: {e}")))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[version, &Timestamp::now().to_string()],
        )
        .map_err(fail)?;
    }
    tx.commit().map_err(fail)
}

/// A column holding one of the domain's named values (a state, a basis) or a time, parsed; a
/// value the domain does not know is `Corrupt`, naming the column.
fn named<T: FromStr<Err = String>>(row: &Row, at: usize) -> Result<T, StateError> {
    let text: String = row.try_get(at)?;
    text.parse()
        .map_err(|e: String| StateError::Corrupt(format!("column {at}: {e}")))
}

fn time_opt(row: &Row, at: usize) -> Result<Option<Timestamp>, StateError> {
    let text: Option<String> = row.try_get(at)?;
    text.map(|t| {
        t.parse()
            .map_err(|e: String| StateError::Corrupt(format!("column {at}: {e}")))
    })
    .transpose()
}

/// All rows through `read`.
fn all<T>(
    rows: Vec<Row>,
    read: impl Fn(&Row) -> Result<T, StateError>,
) -> Result<Vec<T>, StateError> {
    rows.iter().map(read).collect()
}

/// `2026-01-31` as an upper bound means the whole day.
fn until_bound(s: &str) -> String {
    if s.len() == 10 {
        format!("{s}T23:59:59.999Z~")
    } else {
        s.to_string()
    }
}

fn event_from(row: &Row) -> Result<Event, StateError> {
    let seq: i64 = row.try_get(0)?;
    let subjects: String = row.try_get(4)?;
    let details: String = row.try_get(5)?;
    Ok(Event {
        seq,
        time: row.try_get(1)?,
        actor: row.try_get(2)?,
        action: row.try_get(3)?,
        subjects: serde_json::from_str(&subjects)
            .map_err(|e| StateError::Corrupt(format!("audit event {seq}: subjects: {e}")))?,
        details: serde_json::from_str(&details)
            .map_err(|e| StateError::Corrupt(format!("audit event {seq}: details: {e}")))?,
        prev_hash: row.try_get(6)?,
        hash: row.try_get(7)?,
    })
}

impl AuditRepo for PostgresDatabase {
    fn audit_append(&self, new: NewEvent) -> Result<Event, StateError> {
        self.write(|tx| append_in(tx, new))
    }

    fn audit_scan(
        &self,
        filter: &AuditFilter,
        each: &mut dyn FnMut(Event) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        let mut sql = String::from(
            "SELECT seq, time, actor, action, subjects, details, prev_hash, hash FROM audit_events WHERE TRUE",
        );
        let mut args: Vec<String> = Vec::new();
        if let Some(s) = &filter.since {
            args.push(s.clone());
            sql.push_str(&format!(" AND time >= ${}", args.len()));
        }
        if let Some(u) = &filter.until {
            args.push(until_bound(u));
            sql.push_str(&format!(" AND time <= ${}", args.len()));
        }
        if let Some(a) = &filter.action {
            if a.ends_with('.') {
                args.push(format!("{a}%"));
                sql.push_str(&format!(" AND action LIKE ${}", args.len()));
            } else {
                args.push(a.clone());
                sql.push_str(&format!(" AND action = ${}", args.len()));
            }
        }
        if let Some(r) = &filter.request {
            // As in SQLite: events filed only under the request's jobs, deliveries or links
            // are about it too.
            args.push(r.clone());
            let n = args.len();
            sql.push_str(&format!(
                " AND ((subjects::jsonb ->> 'request') = ${n}
                   OR (subjects::jsonb ->> 'job') IN (SELECT id FROM jobs WHERE request_id = ${n})
                   OR (subjects::jsonb ->> 'delivery') IN (SELECT id FROM deliveries WHERE request_id = ${n})
                   OR (subjects::jsonb ->> 'link') IN (SELECT l.id FROM links l
                        JOIN deliveries d ON d.id = l.delivery_id WHERE d.request_id = ${n}))"
            ));
        }
        // Numbers, written into the text: no quoting to get wrong, and the comparison is
        // numeric on both backends.
        if let Some(after) = filter.after_seq {
            sql.push_str(&format!(" AND seq > {after}"));
        }
        sql.push_str(" ORDER BY seq");
        if let Some(limit) = filter.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let mut conn = self.conn()?;
        // Streamed through a portal in batches, so a long log is never held in memory whole.
        let mut tx = conn.transaction()?;
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> = args
            .iter()
            .map(|a| a as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let stmt = tx.prepare(&sql)?;
        let portal = tx.bind(&stmt, &params)?;
        loop {
            let rows = tx.query_portal(&portal, 1000)?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                each(event_from(row)?)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn audit_start(&self) -> Result<(i64, String), StateError> {
        start(&mut *self.conn()?)
    }

    fn audit_subject_ids(
        &self,
        patron: Option<&str>,
        library: Option<&str>,
    ) -> Result<Vec<String>, StateError> {
        compliance::subject_ids(&mut *self.conn()?, patron, library)
    }
}

impl RequestRepo for PostgresDatabase {
    fn requests_add(&self, requests: &[Request], actor: &str) -> Result<(), StateError> {
        self.write(|tx| {
            for r in requests {
                requests::insert(tx, r)?;
                append_in(tx, events::request_created(actor, r))?;
            }
            Ok(())
        })
    }

    fn request_get(&self, id: &str) -> Result<Option<Request>, StateError> {
        requests::get(&mut *self.conn()?, id)
    }

    fn request_set_basis(
        &self,
        id: &str,
        basis: quire_domain::Basis,
        reference: Option<&str>,
        event: NewEvent,
    ) -> Result<Request, StateError> {
        self.write(|tx| {
            requests::get(tx, id)?
                .ok_or_else(|| StateError::NotFound(format!("no request {id}")))?;
            let delivered: i64 = tx
                .query_one(
                    "SELECT count(*) FROM deliveries WHERE request_id = $1",
                    &[&id],
                )?
                .get(0);
            if delivered > 0 {
                return Err(StateError::Conflict(format!(
                    "request {id} has {delivered} delivered copies counted under its basis; it cannot change now"
                )));
            }
            tx.execute(
                "UPDATE requests SET basis = $2, basis_reference = $3 WHERE id = $1",
                &[&id, &basis.as_str(), &reference],
            )?;
            tx.execute(
                "UPDATE ill_transactions SET basis_given = TRUE, updated_at = $2 WHERE request_id = $1",
                &[&id, &Timestamp::now().to_string()],
            )?;
            append_in(tx, event)?;
            requests::get(tx, id)?.ok_or_else(|| StateError::NotFound(id.into()))
        })
    }

    fn requests_list(&self, limit: usize) -> Result<Vec<Request>, StateError> {
        requests::list(&mut *self.conn()?, limit)
    }

    fn request_set_citation(
        &self,
        id: &str,
        citation: &quire_domain::Citation,
        event: NewEvent,
    ) -> Result<Request, StateError> {
        self.write(|tx| {
            requests::check_open(tx, id, "its citation cannot change now")?;
            requests::set_citation(tx, id, citation)?;
            append_in(tx, event)?;
            requests::get(tx, id)?.ok_or_else(|| StateError::NotFound(id.into()))
        })
    }

    fn request_cancel(
        &self,
        id: &str,
        cancellation: &quire_domain::Cancellation,
        event: NewEvent,
    ) -> Result<(), StateError> {
        self.write(|tx| {
            requests::check_open(tx, id, "a copy sent cannot be cancelled")?;
            requests::insert_cancellation(tx, id, cancellation)?;
            append_in(tx, event)?;
            Ok(())
        })
    }

    fn request_cancellation(
        &self,
        id: &str,
    ) -> Result<Option<quire_domain::Cancellation>, StateError> {
        requests::cancellation(&mut *self.conn()?, id)
    }
}

impl JobRepo for PostgresDatabase {
    fn job_create(&self, job: &Job, event: NewEvent) -> Result<Event, StateError> {
        self.write(|tx| {
            jobs::insert(tx, job)?;
            append_in(tx, event)
        })
    }

    fn pages_record(&self, job_id: &str, pages: &[PageRow]) -> Result<(), StateError> {
        self.write(|tx| pages::replace(tx, job_id, pages))
    }

    fn pages_of_other_jobs(
        &self,
        except: Option<&str>,
    ) -> Result<Vec<(String, Vec<PageRow>)>, StateError> {
        pages::all_except(&mut *self.conn()?, except)
    }

    fn job_get(&self, id: &str) -> Result<Option<Job>, StateError> {
        jobs::get(&mut *self.conn()?, id)
    }

    fn jobs_list(&self, filter: &JobFilter) -> Result<Vec<Job>, StateError> {
        jobs::list(&mut *self.conn()?, filter)
    }

    fn jobs_with_source(&self, sha256: &str, except: &str) -> Result<Vec<Job>, StateError> {
        jobs::by_source(&mut *self.conn()?, sha256, except)
    }

    fn job_transition(
        &self,
        id: &str,
        from: &[JobState],
        to: JobState,
        patch: JobPatch,
        event: NewEvent,
    ) -> Result<Job, StateError> {
        self.write(|tx| {
            let job = jobs::transition(tx, id, from, to, &patch)?;
            append_in(tx, event)?;
            Ok(job)
        })
    }

    fn job_split(
        &self,
        batch: &str,
        patch: JobPatch,
        event: NewEvent,
        documents: &[SplitDocument],
    ) -> Result<Job, StateError> {
        self.write(|tx| {
            let job =
                jobs::transition(tx, batch, &[JobState::Processing], JobState::Split, &patch)?;
            // The batch's own pages would otherwise match each of its documents as a duplicate.
            pages::replace(tx, batch, &[])?;
            append_in(tx, event)?;
            for d in documents {
                jobs::insert(tx, &d.job)?;
                pages::replace(tx, &d.job.id, &d.pages)?;
                append_in(tx, d.event.clone())?;
            }
            Ok(job)
        })
    }

    fn job_attempt_failed(&self, job_id: &str, error: &str) -> Result<u32, StateError> {
        let failures: i32 = self
            .conn()?
            .query_one(
                "INSERT INTO job_attempts (job_id, failures, last_error, updated_at)
                 VALUES ($1, 1, $2, $3)
                 ON CONFLICT (job_id) DO UPDATE SET failures = job_attempts.failures + 1,
                     last_error = excluded.last_error, updated_at = excluded.updated_at
                 RETURNING failures",
                &[&job_id, &error, &Timestamp::now().to_string()],
            )?
            .try_get(0)?;
        Ok(failures.max(0) as u32)
    }

    fn job_attempts_clear(&self, job_id: &str) -> Result<(), StateError> {
        self.conn()?
            .execute("DELETE FROM job_attempts WHERE job_id = $1", &[&job_id])?;
        Ok(())
    }

    fn job_claim(&self, node: &str, lease_until: Timestamp) -> Result<Option<Job>, StateError> {
        // An idle worker polls: a plain read first, so an empty queue costs no write lock
        // (every node's idle workers would otherwise queue on it; see docs/scaling.md).
        if !self.any(
            "SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'received')",
            &[],
        )? {
            return Ok(None);
        }
        self.write(|tx| {
            let job = claims::claim(tx, node, lease_until)?;
            if let Some(job) = &job {
                append_in(tx, events::job_claimed(node, &job.id))?;
            }
            Ok(job)
        })
    }

    fn jobs_claim_ready(
        &self,
        node: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Job>, StateError> {
        if !self.any(
            "SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'processed' AND request_id IS NOT NULL
                              AND (claimed_by IS NULL OR claimed_by = $1 OR lease_until < $2))",
            &[&node, &Timestamp::now().to_string()],
        )? {
            return Ok(Vec::new());
        }
        self.write(|tx| claims::claim_ready(tx, node, lease_until, limit))
    }

    fn jobs_reclaim_lapsed(&self, now: Timestamp) -> Result<Vec<String>, StateError> {
        if !self.any(
            "SELECT EXISTS (SELECT 1 FROM jobs WHERE claimed_by IS NOT NULL AND lease_until < $1)",
            &[&now.to_string()],
        )? {
            return Ok(Vec::new());
        }
        self.write(|tx| {
            let mut requeued = Vec::new();
            for (id, state, node, until) in claims::take_back_lapsed(tx, now)? {
                if state == JobState::Processing.as_str() {
                    append_in(tx, events::job_lease_lapsed(&id, &node, &until))?;
                    requeued.push(id);
                }
            }
            Ok(requeued)
        })
    }
}

impl IllRepo for PostgresDatabase {
    fn ill_request_add(
        &self,
        request: &Request,
        transaction: &IllTransaction,
        received: &NewIllMessage,
        reply: Option<&str>,
        event: NewEvent,
    ) -> Result<(), StateError> {
        self.write(|tx| {
            requests::insert(tx, request)?;
            append_in(tx, events::request_created(&event.actor, request))?;
            ill::insert_transaction(tx, transaction)?;
            ill::insert_message(tx, received)?;
            if let Some(body) = reply {
                ill::queue(tx, &request.id, &received.peer, transaction.status, body)?;
            }
            append_in(tx, event)?;
            Ok(())
        })
    }

    fn ill_find(
        &self,
        peer_agency_type: &str,
        peer_agency_id: &str,
        requester_request_id: &str,
    ) -> Result<Option<IllTransaction>, StateError> {
        ill::find(
            &mut *self.conn()?,
            peer_agency_type,
            peer_agency_id,
            requester_request_id,
        )
    }

    fn ill_of_request(&self, request_id: &str) -> Result<Option<IllTransaction>, StateError> {
        ill::of_request(&mut *self.conn()?, request_id)
    }

    fn ill_status(
        &self,
        request_id: &str,
        from: &[IllStatus],
        status: IllStatus,
        body: &str,
        event: NewEvent,
    ) -> Result<(), StateError> {
        self.write(|tx| {
            let t = ill::set_status(tx, request_id, from, status)?;
            let peer = quire_domain::ill::peer_key(&t.peer_agency_type, &t.peer_agency_id);
            ill::queue(tx, request_id, &peer, status, body)?;
            append_in(tx, event)?;
            Ok(())
        })
    }

    fn ill_message(&self, message: &NewIllMessage) -> Result<(), StateError> {
        ill::insert_message(&mut *self.conn()?, message)
    }

    fn ill_messages(&self, request_id: &str) -> Result<Vec<IllMessage>, StateError> {
        ill::messages(&mut *self.conn()?, request_id)
    }

    fn ill_last_messages(&self) -> Result<Vec<IllMessage>, StateError> {
        ill::last_messages(&mut *self.conn()?)
    }

    fn ill_outbox_claim(
        &self,
        node: &str,
        limit: usize,
        hold_until: Timestamp,
    ) -> Result<Vec<OutboxMessage>, StateError> {
        if !self.any(
            "SELECT EXISTS (SELECT 1 FROM ill_outbox WHERE state = 'pending' AND next_attempt_at <= $1)",
            &[&Timestamp::now().to_string()],
        )? {
            return Ok(Vec::new());
        }
        self.write(|tx| ill::claim(tx, node, limit, hold_until))
    }

    fn ill_outbox_release(&self, node: &str) -> Result<usize, StateError> {
        self.release_held("ill_outbox", node)
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
        self.write(|tx| {
            ill::update(tx, node, id, state, next_at, error)?;
            if let Some(m) = response {
                ill::insert_message(tx, m)?;
            }
            append_in(tx, event)?;
            Ok(())
        })
    }

    fn ill_outbox_list(
        &self,
        state: Option<OutboxState>,
    ) -> Result<Vec<OutboxMessage>, StateError> {
        ill::list(&mut *self.conn()?, state)
    }
}

impl NodeRepo for PostgresDatabase {
    fn node_beat(&self, node: &NodeBeat, lease_until: Timestamp) -> Result<usize, StateError> {
        self.write(|tx| claims::beat(tx, node, lease_until))
    }

    fn nodes_list(&self) -> Result<Vec<NodeStatus>, StateError> {
        claims::list(&mut *self.conn()?)
    }
}

impl DeliveryRepo for PostgresDatabase {
    fn delivery_get(&self, id: &str) -> Result<Option<Delivery>, StateError> {
        deliveries::get(&mut *self.conn()?, id)
    }

    fn deliveries_by_stamped(&self, sha256: &str) -> Result<Vec<Delivery>, StateError> {
        deliveries::by_stamped(&mut *self.conn()?, sha256)
    }

    fn deliveries_purgeable(&self, cutoff: Timestamp) -> Result<Vec<Delivery>, StateError> {
        deliveries::purgeable(&mut *self.conn()?, cutoff)
    }

    fn delivery_purged(&self, id: &str, event: NewEvent) -> Result<bool, StateError> {
        self.write(|tx| {
            let changed = deliveries::mark_purged(tx, id, Timestamp::now())?;
            if changed {
                append_in(tx, event)?;
            }
            Ok(changed)
        })
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
        // The write lock is taken before the count: two nodes delivering the fifth and sixth
        // copy at once count one after the other.
        self.write(|tx| {
            // Checked under the same write lock as the cancel's, so a cancel and a delivery
            // racing each other leave exactly one of them.
            if requests::cancellation(tx, &delivery.request_id)?.is_some() {
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
            compliance::create_counted(tx, new, rules)
        })
    }

    fn delivery_release(
        &self,
        id: &str,
        officer: &str,
        reason: &str,
    ) -> Result<Delivery, StateError> {
        self.write(|tx| compliance::release(tx, id, officer, reason))
    }

    fn deliveries_list(&self, state: Option<DeliveryState>) -> Result<Vec<Delivery>, StateError> {
        compliance::list(&mut *self.conn()?, state)
    }

    fn counted_copies(
        &self,
        year: i32,
        library: Option<&str>,
    ) -> Result<Vec<quire_domain::compliance::CountedCopy>, StateError> {
        compliance::copies(&mut *self.conn()?, year, library)
    }
}

impl LinkRepo for PostgresDatabase {
    fn link_by_token(&self, token_sha256: &str) -> Result<Option<(Link, Delivery)>, StateError> {
        deliveries::link_by_token(&mut *self.conn()?, token_sha256)
    }

    fn link_get(&self, id: &str) -> Result<Option<(Link, Delivery)>, StateError> {
        deliveries::link_get(&mut *self.conn()?, id)
    }

    fn links_list(&self, request: Option<&str>) -> Result<Vec<(Link, Delivery)>, StateError> {
        deliveries::links(&mut *self.conn()?, request)
    }

    fn link_download(
        &self,
        link_id: &str,
        client: &str,
        resume_since: Option<Timestamp>,
    ) -> Result<Grant, StateError> {
        self.write(|tx| {
            let now = Timestamp::now();
            let resumed = match resume_since {
                Some(since) => deliveries::resume(tx, link_id, client, since, now)?,
                None => None,
            };
            let grant = match resumed {
                Some(g) => g,
                None => deliveries::consume(tx, link_id, client, now)?,
            };
            append_in(tx, events::download(link_id, client, grant))?;
            Ok(grant)
        })
    }

    fn pickup_code_attempt(
        &self,
        link_id: &str,
        client: &str,
        correct: bool,
        policy: &super::PickupPolicy,
    ) -> Result<super::CodeCheck, StateError> {
        self.write(|tx| {
            let check =
                deliveries::code_attempt(tx, link_id, client, correct, policy, Timestamp::now())?;
            if let Some(reason) = check.refusal() {
                append_in(tx, events::code_refused(link_id, client, reason))?;
            }
            if check == (super::CodeCheck::Wrong { locked: true }) {
                append_in(tx, events::link_locked(link_id, client, policy.lock_after))?;
            }
            Ok(check)
        })
    }

    fn link_change(
        &self,
        link_id: &str,
        change: LinkChange,
        event: NewEvent,
    ) -> Result<(), StateError> {
        self.write(|tx| {
            deliveries::link_get(tx, link_id)?
                .ok_or_else(|| StateError::NotFound(format!("no link {link_id}")))?;
            match change {
                LinkChange::Revoke => {
                    if !deliveries::revoke(tx, link_id, Timestamp::now())? {
                        return Err(StateError::Conflict(format!(
                            "link {link_id} is revoked already"
                        )));
                    }
                }
                LinkChange::Unlock => {
                    if !deliveries::unlock(tx, link_id)? {
                        return Err(StateError::Conflict(format!(
                            "link {link_id} is not locked"
                        )));
                    }
                }
                LinkChange::Extend {
                    expires_at,
                    more_downloads,
                } => deliveries::extend(tx, link_id, expires_at, more_downloads)?,
            }
            append_in(tx, event)?;
            Ok(())
        })
    }
}

impl NoticeRepo for PostgresDatabase {
    fn notices_of_request(&self, request_id: &str) -> Result<Vec<crate::NoticeStatus>, StateError> {
        deliveries::notices_of_request(&mut *self.conn()?, request_id)
    }

    fn notices_due(&self, limit: usize) -> Result<Vec<QueuedNotice>, StateError> {
        deliveries::notices_due(&mut *self.conn()?, Timestamp::now(), limit)
    }

    fn notices_claim(
        &self,
        node: &str,
        limit: usize,
        hold_until: Timestamp,
    ) -> Result<Vec<QueuedNotice>, StateError> {
        if !self.any(
            "SELECT EXISTS (SELECT 1 FROM notices WHERE state = 'pending' AND next_attempt_at <= $1)",
            &[&Timestamp::now().to_string()],
        )? {
            return Ok(Vec::new());
        }
        self.write(|tx| deliveries::notices_claim(tx, node, Timestamp::now(), limit, hold_until))
    }

    fn notices_release(&self, node: &str) -> Result<usize, StateError> {
        self.release_held("notices", node)
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
        self.write(|tx| {
            deliveries::notice_update(tx, node, id, state, next_at, error)?;
            append_in(tx, event)?;
            Ok(())
        })
    }

    fn notice_resend(&self, delivery_id: &str, event: NewEvent) -> Result<(), StateError> {
        self.write(|tx| {
            let delivery = deliveries::get(tx, delivery_id)?
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
                 SELECT delivery_id, recipient, subject, body, 'pending', 0, $2::text, $2::text FROM notices
                 WHERE delivery_id = $1 ORDER BY id DESC LIMIT 1",
                &[&delivery_id, &now],
            )?;
            if copied == 0 {
                return Err(StateError::NotFound(format!(
                    "delivery {delivery_id} has no e-mail to resend"
                )));
            }
            append_in(tx, event)?;
            Ok(())
        })
    }
}

impl StaffRepo for PostgresDatabase {
    fn user_add(&self, user: &StaffUser, actor: &str) -> Result<(), StateError> {
        self.write(|tx| {
            users::insert_user(tx, user)?;
            append_in(tx, events::user_added(actor, &user.name, &user.role))?;
            Ok(())
        })
    }

    fn user_change(&self, name: &str, change: &UserChange, actor: &str) -> Result<(), StateError> {
        self.write(|tx| {
            users::change_user(tx, name, change)?;
            let role = match change {
                UserChange::Role(role) => Some(role.as_str()),
                _ => None,
            };
            append_in(tx, events::user_changed(actor, name, change.action(), role))?;
            Ok(())
        })
    }

    fn user_get(&self, name: &str) -> Result<Option<StaffUser>, StateError> {
        users::get_user(&mut *self.conn()?, name)
    }

    fn users_list(&self) -> Result<Vec<StaffUser>, StateError> {
        users::list_users(&mut *self.conn()?)
    }

    fn session_start(
        &self,
        session: &StaffSession,
        client: &str,
        forget: &[String],
        prune_before: Timestamp,
    ) -> Result<(), StateError> {
        self.write(|tx| {
            users::insert_session(tx, session)?;
            users::clear_failures(tx, forget, prune_before)?;
            append_in(tx, events::staff_login(&session.user_name, client))?;
            Ok(())
        })
    }

    fn session_get(
        &self,
        id_sha256: &str,
    ) -> Result<Option<(StaffSession, StaffUser)>, StateError> {
        users::get_session(&mut *self.conn()?, id_sha256, Timestamp::now())
    }

    fn session_end(&self, id_sha256: &str, user: &str) -> Result<bool, StateError> {
        self.write(|tx| {
            let ended = users::delete_session(tx, id_sha256)?;
            if ended {
                append_in(tx, events::staff_logout(user))?;
            }
            Ok(ended)
        })
    }

    fn login_failed(&self, keys: &[String], user: &str, client: &str) -> Result<(), StateError> {
        self.write(|tx| {
            users::record_failure(tx, keys, Timestamp::now())?;
            append_in(tx, events::login_failed(user, client))?;
            Ok(())
        })
    }

    fn login_failures(&self, key: &str, since: Timestamp) -> Result<i64, StateError> {
        users::count_failures(&mut *self.conn()?, key, since)
    }
}

impl RetentionRepo for PostgresDatabase {
    fn retention_prune(
        &self,
        cutoff: Timestamp,
        actor: &str,
        dry_run: bool,
    ) -> Result<quire_domain::compliance::retention::PruneReport, StateError> {
        self.write_or_try(dry_run, |tx| compliance::prune(tx, cutoff, actor, dry_run))
    }

    fn pseudonymise(
        &self,
        cutoff: Timestamp,
        actor: &str,
        dry_run: bool,
    ) -> Result<quire_domain::compliance::retention::PseudonymReport, StateError> {
        self.write_or_try(dry_run, |tx| {
            compliance::pseudonymise(tx, cutoff, actor, dry_run)
        })
    }
}

impl Database for PostgresDatabase {
    fn ping(&self) -> Result<(), StateError> {
        self.conn()?.execute("SELECT 1", &[])?;
        Ok(())
    }
}

/// Appends inside a caller's write transaction, so a state change and its audit event commit
/// together or not at all. Takes the write lock (again: it is re-entrant and the caller holds
/// it already) before reading the head, so the chain cannot fork across nodes.
pub(super) fn append_in(tx: &mut Transaction<'_>, new: NewEvent) -> Result<Event, StateError> {
    lock_writes(tx)?;
    let head = tx.query_opt(
        "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
        &[],
    )?;
    let (seq, prev) = match head {
        Some(h) => (h.try_get(0)?, h.try_get(1)?),
        None => start(tx)?,
    };
    let event = audit::seal(seq, &prev, Timestamp::now().to_string(), new);
    tx.execute(
        "INSERT INTO audit_events (seq, time, actor, action, subjects, details, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &event.seq,
            &event.time,
            &event.actor,
            &event.action,
            &event.subjects.to_string(),
            &event.details.to_string(),
            &event.prev_hash,
            &event.hash,
        ],
    )?;
    Ok(event)
}

fn start(c: &mut impl GenericClient) -> Result<(i64, String), StateError> {
    let checkpoint = c.query_opt(
        "SELECT through_seq, head_hash FROM audit_checkpoints ORDER BY through_seq DESC LIMIT 1",
        &[],
    )?;
    Ok(match checkpoint {
        Some(row) => (row.try_get(0)?, row.try_get(1)?),
        None => (0, GENESIS.to_string()),
    })
}

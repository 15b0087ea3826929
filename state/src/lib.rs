//! Quire's state behind one narrow interface: one small trait per concern (audit, requests,
//! jobs, nodes, ISO 18626 transactions, deliveries, links, notices, staff, retention) combined into [`Database`], the embedded
//! SQLite backend, and [`Repo`], the one path from async code to the database.
//!
//! What the state means (states, actions, the rule of five, the events a store writes) is
//! `quire-domain`'s; this crate stores it. It reads no configuration: the binary chooses the
//! backend from `[database]` and opens it here.

pub mod copy;
mod error;
mod postgres;
mod repo;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
mod webhooks;

pub use error::StateError;
pub use repo::Repo;
pub use webhooks::{WebhookCursor, WebhookRepo};

use std::sync::Arc;

pub use quire_domain::ill::{
    Direction, IllMessage, IllStatus, IllTransaction, NewIllMessage, OutboxMessage, OutboxState,
};
pub use quire_domain::job::{
    CustodyFile, JobFilter, JobPatch, NodeBeat, NodeStatus, PageRow, SplitDocument,
};
pub use quire_domain::staff::{StaffSession, StaffUser, UserChange};
pub use quire_domain::{
    Action, Anchor, Basis, Break, Cancellation, Citation, CodeCheck, Delivery, DeliveryState,
    Event, Grant, Job, JobState, Link, LinkState, NewEvent, NoticeState, NoticeStatus,
    PickupPolicy, QueuedNotice, Request, Summary, Timestamp, audit, delivery, ill, job, request,
};

/// Which audit events to read; every field narrows the set.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// RFC 3339 or a date (`2026-01-31`); inclusive.
    pub since: Option<String>,
    /// RFC 3339 or a date; a bare date includes that whole day.
    pub until: Option<String>,
    /// Exact action, or a prefix ending in `.` (`link.`).
    pub action: Option<String>,
    pub request: Option<String>,
    /// Only events after this seq (a reader resuming where it stopped).
    pub after_seq: Option<i64>,
    /// At most this many events, the first in seq order.
    pub limit: Option<usize>,
}

/// The audit log: appended to, never changed; hash-chained so that any change shows.
pub trait AuditRepo {
    /// Appends one event. Appends are serialised across threads and processes, so two writers
    /// can never fork the chain.
    fn audit_append(&self, event: NewEvent) -> Result<Event, StateError>;

    /// Calls `each` for matching events in seq order, streaming.
    fn audit_scan(
        &self,
        filter: &AuditFilter,
        each: &mut dyn FnMut(Event) -> Result<(), StateError>,
    ) -> Result<(), StateError>;

    /// Where the stored chain starts: `(0, GENESIS)`, or the latest pruning checkpoint.
    fn audit_start(&self) -> Result<(i64, String), StateError>;

    /// Ids of requests (and their deliveries and links) of a patron (name or e-mail, any case)
    /// and/or library: the subjects their audit events carry.
    fn audit_subject_ids(
        &self,
        patron: Option<&str>,
        library: Option<&str>,
    ) -> Result<Vec<String>, StateError>;
}

/// Requests: what borrowers asked for.
pub trait RequestRepo {
    /// Adds requests all together or not at all (an import never half-lands), each with a
    /// `request.created` event. An id that exists already is a `Conflict`.
    fn requests_add(&self, requests: &[Request], actor: &str) -> Result<(), StateError>;

    fn request_get(&self, id: &str) -> Result<Option<Request>, StateError>;

    /// Sets the copyright basis a person chose (a partner's request that named none Quire
    /// knows, or a typing error), with `event`; the ISO 18626 transaction, if any, then counts
    /// as having its basis. `Conflict` once a copy was delivered: the count already used it.
    fn request_set_basis(
        &self,
        id: &str,
        basis: Basis,
        reference: Option<&str>,
        event: NewEvent,
    ) -> Result<Request, StateError>;

    /// Newest first.
    fn requests_list(&self, limit: usize) -> Result<Vec<Request>, StateError>;

    /// Replaces the citation of `id`, with `event`. `Conflict` once a copy was delivered or
    /// the request was cancelled: the cover sheet and the CONTU count already used it, or
    /// nothing will.
    fn request_set_citation(
        &self,
        id: &str,
        citation: &Citation,
        event: NewEvent,
    ) -> Result<Request, StateError>;

    /// Records that no copy is to be delivered for `id`, with `event`. `Conflict` once a copy
    /// was delivered (it cannot be taken back) or when it is cancelled already.
    fn request_cancel(
        &self,
        id: &str,
        cancellation: &Cancellation,
        event: NewEvent,
    ) -> Result<(), StateError>;

    /// When, by whom and why `id` was cancelled, if it was.
    fn request_cancellation(&self, id: &str) -> Result<Option<Cancellation>, StateError>;
}

/// Jobs (scans in custody), their pages, and their failed tries. Every move of a job is a
/// compare-and-set on its state.
pub trait JobRepo {
    /// Records a job taken into custody, with its event, in one transaction.
    fn job_create(&self, job: &Job, event: NewEvent) -> Result<Event, StateError>;

    fn job_get(&self, id: &str) -> Result<Option<Job>, StateError>;

    /// Replaces the stored pages of a job (near-duplicate fingerprints and findings).
    fn pages_record(&self, job_id: &str, pages: &[PageRow]) -> Result<(), StateError>;

    /// Stored pages of every job but `except`, grouped by job, oldest first.
    fn pages_of_other_jobs(
        &self,
        except: Option<&str>,
    ) -> Result<Vec<(String, Vec<PageRow>)>, StateError>;

    fn jobs_list(&self, filter: &JobFilter) -> Result<Vec<Job>, StateError>;

    /// Other jobs whose original had this SHA-256: exact duplicates.
    fn jobs_with_source(&self, sha256: &str, except: &str) -> Result<Vec<Job>, StateError>;

    /// Compare-and-set: moves the job only if it is in one of `from` now, and records `event`
    /// in the same transaction. Otherwise `Conflict`, and nothing changes.
    fn job_transition(
        &self,
        id: &str,
        from: &[JobState],
        to: JobState,
        patch: JobPatch,
        event: NewEvent,
    ) -> Result<Job, StateError>;

    /// Moves a processing batch to `split` and records each of its documents as a job with its
    /// pages and event, all in one transaction: after a crash either the batch is still in
    /// `processing` (and is cut again) or every document exists. `Conflict` if the batch is not
    /// processing.
    fn job_split(
        &self,
        batch: &str,
        patch: JobPatch,
        event: NewEvent,
        documents: &[SplitDocument],
    ) -> Result<Job, StateError>;

    /// Counts one more failed try at processing `job_id` (a panic, a run cut short) and returns
    /// how many there have been.
    fn job_attempt_failed(&self, job_id: &str, error: &str) -> Result<u32, StateError>;

    /// Forgets a job's failed tries (a person asked for it to be processed again).
    fn job_attempts_clear(&self, job_id: &str) -> Result<(), StateError>;

    /// Claims the oldest received job for `node` until `lease_until`: moves it to processing
    /// with a `job.processing` event naming the node. Concurrent claimers, in any process on
    /// any machine, never get the same job (on PostgreSQL the row is picked with
    /// `FOR UPDATE SKIP LOCKED`). `None` when nothing waits.
    fn job_claim(&self, node: &str, lease_until: Timestamp) -> Result<Option<Job>, StateError>;

    /// Claims up to `limit` processed jobs that have a request, for `node` to deliver, until
    /// `lease_until`: those nobody holds, those whose lease lapsed, and those `node` holds
    /// already (a delivery it will try again). No state change and no event: the lease only
    /// keeps other nodes' workers from stamping a copy that the database would refuse.
    fn jobs_claim_ready(
        &self,
        node: &str,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Job>, StateError>;

    /// Takes back the claims whose lease lapsed before `now` (their node stopped renewing
    /// them: it died, or lost the database): a processing job goes back to received with a
    /// `job.lease_lapsed` event naming the node; any other job just loses the claim. Returns
    /// the jobs put back in the queue.
    fn jobs_reclaim_lapsed(&self, now: Timestamp) -> Result<Vec<String>, StateError>;
}

/// ISO 18626: requests partner libraries' systems sent, their messages, and the outbox of
/// status messages to them.
pub trait IllRepo {
    /// Records a request a peer sent, all in one transaction: the request (with its
    /// `request.created` event), the requester's side, the message as received, and the
    /// status message queued in reply (if any) with `event`. `Conflict` when the peer sent this
    /// `requestingAgencyRequestId` before (the caller answers from what exists) or the id is
    /// taken.
    fn ill_request_add(
        &self,
        request: &Request,
        transaction: &IllTransaction,
        received: &NewIllMessage,
        reply: Option<&str>,
        event: NewEvent,
    ) -> Result<(), StateError>;

    /// The transaction a peer's request id names.
    fn ill_find(
        &self,
        peer_agency_type: &str,
        peer_agency_id: &str,
        requester_request_id: &str,
    ) -> Result<Option<IllTransaction>, StateError>;

    /// The requester's side of one of our requests; `None` for a request staff typed in.
    fn ill_of_request(&self, request_id: &str) -> Result<Option<IllTransaction>, StateError>;

    /// Records that the requester is told `status`: the transaction's status changes and the
    /// message `body` is queued, with `event`, in one transaction. With `from`, only if the
    /// status is one of those now (else `Conflict`), so that two nodes never both send it.
    fn ill_status(
        &self,
        request_id: &str,
        from: &[IllStatus],
        status: IllStatus,
        body: &str,
        event: NewEvent,
    ) -> Result<(), StateError>;

    /// Keeps a message in the history (a refusal, a confirmation, a status request).
    fn ill_message(&self, message: &NewIllMessage) -> Result<(), StateError>;

    /// The messages about a request, oldest first.
    fn ill_messages(&self, request_id: &str) -> Result<Vec<IllMessage>, StateError>;

    /// The latest message to or from each peer, by peer.
    fn ill_last_messages(&self) -> Result<Vec<IllMessage>, StateError>;

    /// Takes up to `limit` due status messages for `node`'s sender until `hold_until` (as
    /// [`NoticeRepo::notices_claim`] does for e-mails).
    fn ill_outbox_claim(
        &self,
        node: &str,
        limit: usize,
        hold_until: Timestamp,
    ) -> Result<Vec<OutboxMessage>, StateError>;

    /// Makes the pending status messages `node` holds due now (as
    /// [`NoticeRepo::notices_release`] does for e-mails); returns how many.
    fn ill_outbox_release(&self, node: &str) -> Result<usize, StateError>;

    /// Records an attempt at an outbox message by the sender of `node` that holds it: `state`
    /// sent or failed, or pending again at `next_at`, with the error, the confirmation or
    /// response kept in the history, and `event`. `Conflict` when `node` no longer holds it
    /// (as [`NoticeRepo::notice_update`]).
    // The sender's one call passes its outcome's parts as they come; a struct would only
    // rename them.
    #[allow(clippy::too_many_arguments)]
    fn ill_outbox_update(
        &self,
        node: &str,
        id: i64,
        state: OutboxState,
        next_at: Timestamp,
        error: Option<&str>,
        response: Option<&NewIllMessage>,
        event: NewEvent,
    ) -> Result<(), StateError>;

    /// The outbox, newest first; only messages in `state` if given.
    fn ill_outbox_list(&self, state: Option<OutboxState>)
    -> Result<Vec<OutboxMessage>, StateError>;
}

/// The daemons sharing this database, and their heartbeats.
pub trait NodeRepo {
    /// Records that the node is alive (its row, created or updated) and extends the leases of
    /// the jobs it holds to `lease_until`, in one transaction. Returns how many it holds.
    fn node_beat(&self, node: &NodeBeat, lease_until: Timestamp) -> Result<usize, StateError>;

    /// Every node that ever beat, by name, with how many jobs each holds now.
    fn nodes_list(&self) -> Result<Vec<NodeStatus>, StateError>;
}

/// Deliveries (one stamped copy for one recipient), counted under the CONTU rule of five.
pub trait DeliveryRepo {
    fn delivery_get(&self, id: &str) -> Result<Option<Delivery>, StateError>;

    /// Deliveries whose stamped file has this SHA-256 (for `quire trace`).
    fn deliveries_by_stamped(&self, sha256: &str) -> Result<Vec<Delivery>, StateError>;

    /// Deliveries not yet purged whose links all ended before `cutoff`.
    fn deliveries_purgeable(&self, cutoff: Timestamp) -> Result<Vec<Delivery>, StateError>;

    /// Marks a delivery's file gone; false if it was already.
    fn delivery_purged(&self, id: &str, event: NewEvent) -> Result<bool, StateError>;

    /// `delivery_create` under the CONTU rule of five: counts earlier copies of `work` for the
    /// delivery's library in the request's year, and records the delivery `held` (link closed,
    /// notice parked) or `active` with its audit events, all in one transaction, so two
    /// concurrent deliveries can never both be the fifth.
    #[allow(clippy::too_many_arguments)]
    fn delivery_create_counted(
        &self,
        delivery: &Delivery,
        link: &Link,
        notice: Option<(&str, &str, &str)>,
        job: Option<&str>,
        finishes_job: bool,
        event: NewEvent,
        work: &quire_domain::compliance::Work,
        basis: Basis,
        rules: &quire_domain::compliance::ComplianceConfig,
    ) -> Result<quire_domain::compliance::CopyDecision, StateError>;

    /// Releases a held delivery: needs a reason and the officer, audits both, reopens the link
    /// for its full lifetime and queues the notice. `Conflict` if it is not held.
    fn delivery_release(
        &self,
        id: &str,
        officer: &str,
        reason: &str,
    ) -> Result<Delivery, StateError>;

    /// Deliveries, oldest first; only those in `state` if given.
    fn deliveries_list(&self, state: Option<DeliveryState>) -> Result<Vec<Delivery>, StateError>;

    /// How each delivery of requests made in `year` was counted (for the CONTU report).
    fn counted_copies(
        &self,
        year: i32,
        library: Option<&str>,
    ) -> Result<Vec<quire_domain::compliance::CountedCopy>, StateError>;
}

/// Borrowers' download links: downloads counted, pickup codes limited, staff changes.
pub trait LinkRepo {
    fn link_by_token(&self, token_sha256: &str) -> Result<Option<(Link, Delivery)>, StateError>;

    fn link_get(&self, id: &str) -> Result<Option<(Link, Delivery)>, StateError>;

    fn links_list(&self, request: Option<&str>) -> Result<Vec<(Link, Delivery)>, StateError>;

    /// Counts one download if the link allows it, atomically, and audits the attempt. With
    /// `resume_since` (a range request not starting at byte 0), a download this client had
    /// counted after that time is resumed without counting again.
    fn link_download(
        &self,
        link_id: &str,
        client: &str,
        resume_since: Option<Timestamp>,
    ) -> Result<Grant, StateError>;

    /// Records a pickup code attempt on a link (`correct`: whether the code matched) under
    /// `policy`, and audits every refusal (`link.code_refused`) and a lock (`link.locked`).
    fn pickup_code_attempt(
        &self,
        link_id: &str,
        client: &str,
        correct: bool,
        policy: &PickupPolicy,
    ) -> Result<CodeCheck, StateError>;

    fn link_change(
        &self,
        link_id: &str,
        change: LinkChange,
        event: NewEvent,
    ) -> Result<(), StateError>;
}

/// E-mail notices waiting to be sent, sent, or failed.
pub trait NoticeRepo {
    /// The e-mail notices of a request's deliveries, oldest first, failed ones included.
    fn notices_of_request(&self, request_id: &str) -> Result<Vec<NoticeStatus>, StateError>;

    /// Pending notices whose next attempt is due.
    fn notices_due(&self, limit: usize) -> Result<Vec<QueuedNotice>, StateError>;

    /// Takes up to `limit` due notices for `node`'s sender: their next attempt moves to
    /// `hold_until` in the same transaction, so no other node sends them meanwhile (on
    /// PostgreSQL picked with `FOR UPDATE SKIP LOCKED`). A sender that dies before recording the
    /// outcome leaves them due again at `hold_until`, or at once when its node starts again
    /// ([`NoticeRepo::notices_release`]).
    fn notices_claim(
        &self,
        node: &str,
        limit: usize,
        hold_until: Timestamp,
    ) -> Result<Vec<QueuedNotice>, StateError>;

    /// Makes the pending notices `node` holds due now; returns how many. Called when the
    /// node's sender starts: nothing of its own can be in flight then, so waiting out the
    /// hold would only delay the e-mails of a node that was killed and restarted.
    fn notices_release(&self, node: &str) -> Result<usize, StateError>;

    /// `state`: pending (retry at `next_at`), sent or failed, recorded by the sender of `node`
    /// that holds it. `Conflict` when `node` no longer does (its hold ended and another sender
    /// took the notice): a late result is refused, as a job's is after its lease.
    fn notice_update(
        &self,
        node: &str,
        id: i64,
        state: NoticeState,
        next_at: Timestamp,
        error: Option<&str>,
        event: NewEvent,
    ) -> Result<(), StateError>;

    /// Queues the delivery's e-mail again (a copy of its latest notice, due now), with `event`.
    /// `Conflict` unless the delivery is active; `NotFound` if it never had a notice.
    fn notice_resend(&self, delivery_id: &str, event: NewEvent) -> Result<(), StateError>;
}

/// Staff users, their console sessions, and failed sign-ins.
pub trait StaffRepo {
    /// Adds a staff user, with a `user.added` event. A name that exists is a `Conflict`.
    fn user_add(&self, user: &StaffUser, actor: &str) -> Result<(), StateError>;

    fn user_get(&self, name: &str) -> Result<Option<StaffUser>, StateError>;

    /// Changes a user's password or role, or removes the user, ending their sessions, with a
    /// `user.*` event. `NotFound` when there is no such user.
    fn user_change(&self, name: &str, change: &UserChange, actor: &str) -> Result<(), StateError>;

    fn users_list(&self) -> Result<Vec<StaffUser>, StateError>;

    /// Starts a console session: audits the login and forgets the failed logins counted
    /// against `forget` (the keys of this login only: its user and its client), and prunes
    /// rows of any key older than `prune_before` (which must lie before the counting window).
    fn session_start(
        &self,
        session: &StaffSession,
        client: &str,
        forget: &[String],
        prune_before: Timestamp,
    ) -> Result<(), StateError>;

    /// The unexpired session with this id hash, and its user.
    fn session_get(&self, id_sha256: &str)
    -> Result<Option<(StaffSession, StaffUser)>, StateError>;

    /// Ends a session (logout), audited; false if there was none.
    fn session_end(&self, id_sha256: &str, user: &str) -> Result<bool, StateError>;

    /// Counts one failed login against each key (`user:NAME`, `client:ADDRESS`), audited.
    fn login_failed(&self, keys: &[String], user: &str, client: &str) -> Result<(), StateError>;

    /// Failed logins against `key` after `since`.
    fn login_failures(&self, key: &str, since: Timestamp) -> Result<i64, StateError>;
}

/// Retention: removing and pseudonymising what is kept no longer than the policy says.
pub trait RetentionRepo {
    /// Removes records of requests made before `cutoff` and audit events before it (behind a
    /// checkpoint, so the rest still verifies), auditing the run.
    fn retention_prune(
        &self,
        cutoff: Timestamp,
        actor: &str,
        dry_run: bool,
    ) -> Result<quire_domain::compliance::retention::PruneReport, StateError>;

    /// Pseudonymises patrons of requests made before `cutoff`, auditing the run.
    fn pseudonymise(
        &self,
        cutoff: Timestamp,
        actor: &str,
        dry_run: bool,
    ) -> Result<quire_domain::compliance::retention::PseudonymReport, StateError>;
}

/// Everything Quire persists, one small trait per concern, combined into the one handle
/// callers hold ([`Db`], [`Repo`]). Every method is one transaction. A backend implements each
/// trait; a function that needs one concern can ask for just that trait.
pub trait Database:
    AuditRepo
    + RequestRepo
    + JobRepo
    + NodeRepo
    + IllRepo
    + DeliveryRepo
    + LinkRepo
    + NoticeRepo
    + StaffRepo
    + RetentionRepo
    + WebhookRepo
    + Send
    + Sync
{
    /// A cheap round trip, for `/healthz`.
    fn ping(&self) -> Result<(), StateError>;
}

pub type Db = Arc<dyn Database>;

/// A staff change to a link.
#[derive(Debug, Clone)]
pub enum LinkChange {
    Revoke,
    /// Lifts a lock set by wrong pickup codes, and forgets those codes.
    Unlock,
    Extend {
        expires_at: Option<Timestamp>,
        more_downloads: Option<i64>,
    },
}

/// Opens (creating and migrating as needed) the SQLite database at `path`.
pub fn open_sqlite(path: &std::path::Path) -> Result<Db, StateError> {
    Ok(Arc::new(sqlite::SqliteDatabase::open(path)?))
}

/// Opens the PostgreSQL database at `url` with a pool of at most `pool_size` connections,
/// applying missing migrations (under an advisory lock, so nodes starting together wait for
/// each other).
pub fn open_postgres(url: &str, pool_size: u32) -> Result<Db, StateError> {
    Ok(Arc::new(postgres::PostgresDatabase::open(url, pool_size)?))
}

/// Recomputes the whole stored chain. `Ok(Err(_))` is a verified break, not an I/O failure.
pub fn verify_audit(
    db: &dyn Database,
    anchor: Option<Anchor>,
) -> Result<Result<Summary, Break>, StateError> {
    let (start_seq, start_hash) = db.audit_start()?;
    let mut verifier = quire_domain::Verifier::new(start_seq, &start_hash, anchor);
    let mut broken = None;
    db.audit_scan(&AuditFilter::default(), &mut |e| {
        if broken.is_none()
            && let Err(b) = verifier.check(&e)
        {
            broken = Some(b);
        }
        Ok(())
    })?;
    Ok(match broken {
        Some(b) => Err(b),
        None => verifier.finish(),
    })
}

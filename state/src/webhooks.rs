//! Webhook cursors: how far each configured endpoint has been sent the audit log. The log is
//! the outbox: nothing is written when an event is made, so none can be missed; a sender
//! claims an endpoint's cursor, sends the events after it in order, and moves it on.

use quire_domain::{NewEvent, Timestamp};

use super::StateError;

/// One endpoint's place in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookCursor {
    /// The configured `[[webhooks]] name`.
    pub endpoint: String,
    /// Every event up to this seq was sent (or passed over, or given up on).
    pub last_seq: i64,
    /// Failed tries of the event after `last_seq`.
    pub attempts: u32,
    /// The next try is not before this; `None` when not waiting.
    pub next_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    /// The node sending to it, until `claimed_until`.
    pub claimed_by: Option<String>,
    pub claimed_until: Option<Timestamp>,
}

/// The cursors, and their claims by senders. Several worker nodes may run senders: one claim
/// per endpoint keeps its events in order, and a claim lapses so a dead node's endpoints move.
pub trait WebhookRepo {
    /// Takes `endpoint`'s cursor for `node` until `until`, if it is unclaimed, lapsed or this
    /// node's already, and due (not waiting for a retry). A cursor seen for the first time
    /// starts at the log's current end: a new endpoint gets new events, not the history.
    fn webhook_claim(
        &self,
        endpoint: &str,
        node: &str,
        until: Timestamp,
    ) -> Result<Option<WebhookCursor>, StateError>;

    /// Moves the cursor to `seq` (sent, passed over, or given up on with `event`, appended in
    /// the same transaction) and clears its failures. False, and nothing changes, when `node`
    /// no longer holds the claim.
    fn webhook_advance(
        &self,
        endpoint: &str,
        node: &str,
        seq: i64,
        event: Option<NewEvent>,
    ) -> Result<bool, StateError>;

    /// Records a failed try of the event after the cursor: `attempts` so far, not again before
    /// `next_at`. False when `node` no longer holds the claim.
    fn webhook_retry(
        &self,
        endpoint: &str,
        node: &str,
        attempts: u32,
        next_at: Timestamp,
        error: &str,
    ) -> Result<bool, StateError>;

    /// Frees every claim of `node`: a restarted node gives back its endpoints at once rather
    /// than after their claims lapse.
    fn webhook_release(&self, node: &str) -> Result<usize, StateError>;

    /// Every cursor, by endpoint.
    fn webhooks_list(&self) -> Result<Vec<WebhookCursor>, StateError>;
}

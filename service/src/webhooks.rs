//! Webhooks: each `[[webhooks]]` endpoint is POSTed the audit events it subscribes to, in log
//! order, signed with HMAC-SHA256 under its secret.
//!
//! The audit log is the outbox. Nothing is written when an event is made; a sender tails the
//! log from the endpoint's stored cursor, so whatever is in the log is sent, at least once: a
//! try whose answer is lost is sent again, with the same `Quire-Event-Id` (the event's seq) for
//! the receiver to drop. A failed try waits (doubling from `retry_base_secs`, at most an hour)
//! and blocks the endpoint's later events, keeping them in order; after `max_attempts` the
//! event is skipped with a `webhook.failed` audit event, so a person sees it and later events
//! still go out.
//!
//! The body is the event exactly as one line of `quire audit export` (JSON Lines) writes it.

use hmac::{KeyInit, Mac};
use quire_config::webhooks::Webhook;
use quire_delivery::peer::PeerClient;
use quire_domain::{Action, Event, NewEvent, Timestamp};
use quire_state::{AuditFilter, Repo, StateError, WebhookCursor};
use sha2::Sha256;

/// Events read per endpoint per pass: a backlog drains over several passes, a few seconds at
/// most between an event and its POST once caught up.
const BATCH: usize = 64;

/// A pass starts no POST to an endpoint after this long, so that the claim's hold, and with it
/// the time a node that dies mid-pass keeps others off the endpoint, stays a few minutes
/// whatever the endpoint's `timeout_secs` (the rest waits for the next pass).
const PASS_BUDGET: std::time::Duration = std::time::Duration::from_secs(120);

/// What one pass did, for the daemon's log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    /// Tries that failed and will be made again.
    pub retried: usize,
    /// Events given up on (each with a `webhook.failed` event).
    pub failed: usize,
}

/// The `Quire-Signature` header's value for `body` sent at `t` (Unix seconds):
/// `t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. The time is signed too, so a receiver can
/// refuse an old request replayed.
pub fn signature(key: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Gives back the endpoints `node` held when it stopped (as
/// [`crate::deliver::notices::release_own`] does for e-mails); returns how many.
pub async fn release_own(repo: &Repo, node: &str) -> Result<usize, StateError> {
    let node = node.to_string();
    repo.call(move |db| db.webhook_release(&node)).await
}

/// One pass over every endpoint this node can claim: sends what is due, records failures.
pub async fn send_due(
    repo: &Repo,
    hooks: &[Webhook],
    client: &PeerClient,
    node: &str,
) -> Result<Pass, StateError> {
    let mut pass = Pass::default();
    let cursors = repo.call(|db| db.webhooks_list()).await?;
    for hook in hooks {
        let cursor = cursors.iter().find(|c| c.endpoint == hook.name).cloned();
        if worth_claiming(repo, cursor, node).await? {
            send_endpoint(repo, hook, client, node, &mut pass).await?;
        }
    }
    Ok(pass)
}

/// Whether a claim could find work: no cursor yet (the claim makes it), or one this node may
/// take that is due and has events after it. Checked by reading, since a claim is a write under
/// the one write lock and the sender passes every half second on every worker node: idle
/// endpoints then cost reads only, as idle notices do.
async fn worth_claiming(
    repo: &Repo,
    cursor: Option<WebhookCursor>,
    node: &str,
) -> Result<bool, StateError> {
    let Some(cursor) = cursor else {
        return Ok(true);
    };
    let now = Timestamp::now();
    let held_elsewhere = cursor.claimed_by.as_deref().is_some_and(|n| n != node)
        && cursor.claimed_until.is_some_and(|until| until >= now);
    if held_elsewhere || cursor.next_attempt_at.is_some_and(|at| at > now) {
        return Ok(false);
    }
    let filter = AuditFilter {
        after_seq: Some(cursor.last_seq),
        limit: Some(1),
        ..Default::default()
    };
    repo.call(move |db| {
        let mut any = false;
        db.audit_scan(&filter, &mut |_| {
            any = true;
            Ok(())
        })?;
        Ok(any)
    })
    .await
}

async fn send_endpoint(
    repo: &Repo,
    hook: &Webhook,
    client: &PeerClient,
    node: &str,
    pass: &mut Pass,
) -> Result<(), StateError> {
    // Held for longer than the pass can take (its budget, then one last POST, and a minute
    // for the database), so no other node sends to it meanwhile.
    let started = std::time::Instant::now();
    let hold = PASS_BUDGET + hook.timeout() + std::time::Duration::from_secs(60);
    let (name, who) = (hook.name.clone(), node.to_string());
    let claimed = repo
        .call(move |db| db.webhook_claim(&name, &who, Timestamp::now() + hold))
        .await?;
    let Some(cursor) = claimed else {
        return Ok(());
    };
    let filter = AuditFilter {
        after_seq: Some(cursor.last_seq),
        limit: Some(BATCH),
        ..Default::default()
    };
    let events = repo
        .call(move |db| {
            let mut found = Vec::new();
            db.audit_scan(&filter, &mut |e| {
                found.push(e);
                Ok(())
            })?;
            Ok(found)
        })
        .await?;
    // Read only when there is something to sign, not on every idle pass.
    let wanted = |e: &Event| hook.wants(&e.action) && !about_itself(hook, e);
    let key = if !events.iter().any(wanted) {
        Vec::new()
    } else {
        match hook.key() {
            Ok(k) => k,
            Err(why) => {
                // The key is ours to fix, not the receiver's: the try is not counted.
                tracing::error!(webhook = %hook.name, error = %why, "webhook not sent");
                let next = Timestamp::now() + hook.retry_delay(cursor.attempts.max(1));
                record_retry(repo, hook, node, cursor.attempts, next, why).await?;
                return Ok(());
            }
        }
    };

    // Failures so far of the first subscribed event after the stored cursor.
    let mut attempts = cursor.attempts;
    let mut passed = cursor.last_seq;
    for event in events {
        if !wanted(&event) {
            passed = event.seq;
            continue;
        }
        if started.elapsed() >= PASS_BUDGET {
            break;
        }
        let (seq, action) = (event.seq, event.action.clone());
        match post(client, hook, &key, &event).await {
            Ok(()) => {
                pass.sent += 1;
                attempts = 0;
                passed = seq;
                if !advance(repo, hook, node, seq, None).await? {
                    return Ok(());
                }
            }
            Err(why) => {
                let tries = attempts + 1;
                tracing::warn!(webhook = %hook.name, seq, attempt = tries, error = %why, "webhook try failed");
                if tries < hook.max_attempts {
                    pass.retried += 1;
                    // The cursor stays before this event; events passed over on the way are
                    // read again next time, which costs nothing.
                    let next = Timestamp::now() + hook.retry_delay(tries);
                    record_retry(repo, hook, node, tries, next, why).await?;
                    return Ok(());
                }
                pass.failed += 1;
                tracing::error!(webhook = %hook.name, seq, action = %action, error = %why, "webhook event given up");
                // Giving up on a `webhook.failed` (another endpoint's) records nothing more:
                // two endpoints down together, each subscribed to the other's failures, would
                // otherwise add one to the log for every one they fail to take, without end.
                let gave_up = (!Action::WebhookFailed.names(&action)).then(|| {
                    NewEvent::new("daemon", Action::WebhookFailed)
                        .subject("webhook", &hook.name)
                        .details(serde_json::json!({
                            "event": seq, "action": action, "attempts": tries,
                            "url": hook.url, "error": why,
                        }))
                });
                attempts = 0;
                passed = seq;
                if !advance(repo, hook, node, seq, gave_up).await? {
                    return Ok(());
                }
            }
        }
    }
    if passed > cursor.last_seq {
        advance(repo, hook, node, passed, None).await?;
    }
    Ok(())
}

/// A `webhook.failed` about this endpoint is not sent to it: it failed there already, and each
/// such event failing in turn would make another.
fn about_itself(hook: &Webhook, event: &Event) -> bool {
    Action::WebhookFailed.names(&event.action)
        && event.subjects.get("webhook").and_then(|v| v.as_str()) == Some(hook.name.as_str())
}

async fn post(
    client: &PeerClient,
    hook: &Webhook,
    key: &[u8],
    event: &Event,
) -> Result<(), String> {
    let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
    let t = Timestamp::now().datetime().unix_timestamp();
    let headers = [
        ("content-type", "application/json".to_string()),
        ("quire-event-id", event.seq.to_string()),
        ("quire-event", event.action.clone()),
        ("quire-signature", signature(key, t, &body)),
    ];
    client
        .post(&hook.url, &headers, body, hook.timeout())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

async fn advance(
    repo: &Repo,
    hook: &Webhook,
    node: &str,
    seq: i64,
    event: Option<NewEvent>,
) -> Result<bool, StateError> {
    let (name, who) = (hook.name.clone(), node.to_string());
    let moved = repo
        .call(move |db| db.webhook_advance(&name, &who, seq, event))
        .await?;
    if !moved {
        tracing::warn!(webhook = %hook.name, "another node took this webhook over");
    }
    Ok(moved)
}

async fn record_retry(
    repo: &Repo,
    hook: &Webhook,
    node: &str,
    attempts: u32,
    next: Timestamp,
    error: String,
) -> Result<(), StateError> {
    let (name, who) = (hook.name.clone(), node.to_string());
    repo.call(move |db| db.webhook_retry(&name, &who, attempts, next, &error))
        .await?;
    Ok(())
}

/// A configured endpoint with its cursor (none before the daemon first saw it).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub name: String,
    pub url: String,
    pub events: Vec<Action>,
    pub cursor: Option<WebhookCursor>,
}

/// Every configured endpoint, in config order, with its cursor: for `quire webhooks`.
pub fn list(
    db: &dyn quire_state::Database,
    hooks: &[Webhook],
) -> Result<Vec<Endpoint>, StateError> {
    let mut cursors = db.webhooks_list()?;
    Ok(hooks
        .iter()
        .map(|h| Endpoint {
            name: h.name.clone(),
            url: h.url.clone(),
            events: h.events.clone(),
            cursor: cursors
                .iter()
                .position(|c| c.endpoint == h.name)
                .map(|i| cursors.swap_remove(i)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    /// The signature as a receiver computes it, from the documented recipe: Python's
    /// `hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()`.
    #[test]
    fn the_signature_follows_the_documented_recipe() {
        assert_eq!(
            super::signature(b"k", 1_700_000_000, b"{}"),
            "t=1700000000,v1=c6ef4734033cee2367414a0939385eca0397754aa7a59716da7463a9298b5146"
        );
    }
}

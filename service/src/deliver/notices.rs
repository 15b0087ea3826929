//! Sends the queued e-mail notices: each pending notice is tried, and on failure tried again
//! after a doubling wait, then reported as failed in the audit log. A delivery never waits for
//! its e-mail; the queue lives in the database, so notices survive restarts.

use std::time::Duration;

use quire_delivery::{Mailer, MailerSpec, Notice, RetryPolicy, SmtpSpec, SmtpTls};
use serde_json::json;

use quire_config::LoadedConfig;
use quire_config::delivery::{MailTls, MailTransport};
use quire_domain::{Action, NoticeState, Timestamp};
use quire_state::{NewEvent, Repo};

pub fn mailer(config: &LoadedConfig) -> anyhow::Result<Mailer> {
    let mail = &config.config.mail;
    let spec = match mail.transport {
        MailTransport::Outbox => MailerSpec::Outbox {
            dir: config.outbox_dir(),
            from: mail.from.clone(),
        },
        MailTransport::Smtp => MailerSpec::Smtp(SmtpSpec {
            host: mail.host.clone(),
            port: mail.port,
            tls: match mail.tls {
                MailTls::None => SmtpTls::None,
                MailTls::Starttls => SmtpTls::Starttls,
                MailTls::Tls => SmtpTls::Tls,
            },
            username: mail.username.clone(),
            password: mail.password.as_ref().map(|p| p.expose().to_string()),
            from: mail.from.clone(),
            timeout: Duration::from_secs(30),
            ca_certificate: None,
        }),
    };
    Ok(Mailer::open(&spec)?)
}

fn policy(config: &LoadedConfig) -> RetryPolicy {
    let base = Duration::from_secs_f64(config.config.mail.retry_base_secs.max(0.01));
    RetryPolicy {
        attempts: config.config.mail.retry_attempts.max(1),
        base_delay: base,
        max_delay: base * 32,
    }
}

/// Frees the notices this node's sender held when it stopped (killed mid-send): called once
/// when the sender starts, since nothing of this node's can be in flight then. Returns how
/// many. An e-mail that went out just before the kill is sent again: at least once, never lost.
pub async fn release_own(repo: &Repo, config: &LoadedConfig) -> anyhow::Result<usize> {
    let node = config.config.node.name.clone();
    Ok(repo.call(move |db| db.notices_release(&node)).await?)
}

/// One pass over the due notices; returns how many were sent.
pub async fn send_due(
    repo: &Repo,
    mailer: &Mailer,
    config: &LoadedConfig,
) -> anyhow::Result<usize> {
    let policy = policy(config);
    // Held for ten minutes, beyond a whole batch's SMTP exchanges (8 × the mailer's limit on
    // one exchange, twice its 30 s per-step time limit: 8 minutes), so that another node's
    // sender never sends the same notice meanwhile; a sender that dies leaves them due again
    // then, or at once when its node starts again (`release_own`).
    let hold_until = quire_domain::Timestamp::now() + time::Duration::minutes(10);
    let node = config.config.node.name.as_str();
    let who = node.to_string();
    let due = repo
        .call(move |db| db.notices_claim(&who, 8, hold_until))
        .await?;
    let mut sent = 0;
    for n in due {
        let notice = Notice {
            to: n.recipient.clone(),
            subject: n.subject.clone(),
            body: n.body.clone(),
        };
        let attempt = n.attempts as u32 + 1;
        let result = mailer.send_once(&notice).await;
        let (state, next_at, error, event) = match result {
            Ok(how) => {
                sent += 1;
                let event = NewEvent::new("daemon", Action::NoticeSent)
                    .subject("delivery", &n.delivery_id)
                    .details(
                        json!({ "to": n.recipient, "attempt": attempt, "via": how.to_string() }),
                    );
                (NoticeState::Sent, Timestamp::now(), None, event)
            }
            // A permanent refusal (SMTP 5xx, a bad address) is final at once: retrying it only
            // delays the moment a person sees the failed notice.
            Err(e) if e.is_permanent() || attempt >= policy.attempts => {
                tracing::error!(delivery = %n.delivery_id, error = %e, "notice failed for good");
                let event = NewEvent::new("daemon", Action::NoticeFailed)
                    .subject("delivery", &n.delivery_id)
                    .details(json!({ "to": n.recipient, "attempts": attempt, "permanent": e.is_permanent(), "error": e.to_string(), "code": e.code() }));
                (
                    NoticeState::Failed,
                    Timestamp::now(),
                    Some(e.to_string()),
                    event,
                )
            }
            Err(e) => {
                let wait = policy.jittered_delay_after(attempt);
                let next = Timestamp::now() + wait;
                tracing::warn!(delivery = %n.delivery_id, error = %e, retry_in = ?wait, "notice not sent; will retry");
                let event = NewEvent::new("daemon", Action::NoticeRetry)
                    .subject("delivery", &n.delivery_id)
                    .details(
                        json!({ "attempt": attempt, "error": e.to_string(), "code": e.code() }),
                    );
                (NoticeState::Pending, next, Some(e.to_string()), event)
            }
        };
        let who = node.to_string();
        let recorded = repo
            .call(move |db| db.notice_update(&who, n.id, state, next_at, error.as_deref(), event))
            .await;
        match recorded {
            // This sender's hold ended and another took the notice: its result stands.
            Err(quire_state::StateError::Conflict(why)) => {
                tracing::warn!(%why, "notice result not recorded")
            }
            other => other?,
        }
    }
    Ok(sent)
}

//! Staff changes to a borrower's link: revoke it, unlock it after wrong pickup codes, give it
//! more days or downloads, send its e-mail again. `quire link …` and the console's request
//! page both call these, so both make the same change and write the same audit event.

use serde_json::json;

use quire_state::{Action, Database, LinkChange, LinkState, NewEvent, StateError, Timestamp};

/// Ends a link for good; its downloads stop at once.
pub fn revoke(
    db: &dyn Database,
    link: &str,
    actor: &str,
    reason: Option<&str>,
) -> Result<(), StateError> {
    let event = NewEvent::new(actor, Action::LinkRevoked)
        .subject("link", link)
        .details(json!({ "reason": reason }));
    db.link_change(link, LinkChange::Revoke, event)
}

/// Lifts the lock that too many wrong pickup codes set, and forgets those codes.
pub fn unlock(db: &dyn Database, link: &str, actor: &str) -> Result<(), StateError> {
    let event = NewEvent::new(actor, Action::LinkUnlocked).subject("link", link);
    db.link_change(link, LinkChange::Unlock, event)
}

/// What an extension adds; at least one of the two is given.
#[derive(Debug, Clone, Copy, Default)]
pub struct More {
    /// Days from the current expiry, or from now if the link has expired.
    pub days: Option<u32>,
    pub downloads: Option<u32>,
}

/// Gives a link more days, more downloads, or both.
pub fn extend(db: &dyn Database, link: &str, actor: &str, more: More) -> Result<(), StateError> {
    let (current, _) = db
        .link_get(link)?
        .ok_or_else(|| StateError::NotFound(format!("no link {link}")))?;
    let expires_at = match more.days {
        None => None,
        Some(days) => {
            let from = current.expires_at.max(Timestamp::now());
            Some(from + time::Duration::days(i64::from(days)))
        }
    };
    let event = NewEvent::new(actor, Action::LinkExtended)
        .subject("link", link)
        .details(
            json!({ "days": more.days, "downloads": more.downloads, "expires_at": expires_at }),
        );
    db.link_change(
        link,
        LinkChange::Extend {
            expires_at,
            more_downloads: more.downloads.map(i64::from),
        },
        event,
    )
}

/// Queues the link's e-mail again, as first written, while the link still works.
pub fn resend(db: &dyn Database, link: &str, actor: &str) -> Result<(), StateError> {
    let (found, delivery) = db
        .link_get(link)?
        .ok_or_else(|| StateError::NotFound(format!("no link {link}")))?;
    let state = found.state(delivery.state, Timestamp::now());
    if state != LinkState::Active {
        return Err(StateError::Conflict(format!(
            "link {link} is {state}: extend it first, or there is nothing to send"
        )));
    }
    let event = NewEvent::new(actor, Action::NoticeResent)
        .subject("link", link)
        .subject("delivery", &delivery.id);
    db.notice_resend(&delivery.id, event)
}

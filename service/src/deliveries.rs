//! Copies held for copyright review: a compliance officer releases one, from the CLI
//! (`quire delivery release`) or the console, with a reason that goes on the record.

use quire_state::{Database, Delivery, DeliveryState, LinkState, StateError, Timestamp};

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// A release must say why the copy may go out; the reason is audited.
    #[error("a release needs a reason")]
    NoReason,
    #[error(transparent)]
    State(#[from] StateError),
}

/// Releases the held delivery `id` on `officer`'s word: the link opens for its full lifetime
/// and the notice is queued (see `Database::delivery_release`). `Conflict` if it is not held.
pub fn release(
    db: &dyn Database,
    id: &str,
    officer: &str,
    reason: &str,
    ill: &quire_config::iso18626::Iso18626Config,
    link_url: &dyn Fn(&str) -> String,
) -> Result<Delivery, ReleaseError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ReleaseError::NoReason);
    }
    let released = db.delivery_release(id, officer, reason)?;
    // A partner's request (ISO 18626) hears CopyCompleted with the link now opened.
    if let Some(link) = db
        .links_list(Some(&released.request_id))?
        .into_iter()
        .find(|(_, d)| d.id == released.id)
        .map(|(l, _)| l.id)
    {
        crate::iso18626::copy_completed(db, ill, &released.request_id, &link_url(&link))?;
    }
    Ok(released)
}

/// A delivery as staff see it in lists: its record, its link, and where it really stands.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryStatus {
    #[serde(flatten)]
    pub delivery: Delivery,
    /// Its link (the newest, should there be more than one).
    pub link: Option<String>,
    /// `Delivery::status`: revoked, expired, used up and locked show as such, not as the
    /// stored `active`.
    pub status: LinkState,
}

/// Deliveries (only those held, with `held_only`), each with its link's state at `now`; what
/// `quire deliveries` prints and the console's lists should show.
pub fn list(
    db: &dyn Database,
    held_only: bool,
    now: Timestamp,
) -> Result<Vec<DeliveryStatus>, StateError> {
    let mut newest: std::collections::HashMap<String, quire_state::Link> =
        std::collections::HashMap::new();
    for (link, _) in db.links_list(None)? {
        match newest.get(&link.delivery_id) {
            Some(seen) if seen.created_at >= link.created_at => {}
            _ => {
                newest.insert(link.delivery_id.clone(), link);
            }
        }
    }
    Ok(db
        .deliveries_list(held_only.then_some(DeliveryState::Held))?
        .into_iter()
        .map(|delivery| {
            let link = newest.get(&delivery.id);
            DeliveryStatus {
                status: delivery.status(link, now),
                link: link.map(|l| l.id.clone()),
                delivery,
            }
        })
        .collect())
}

/// One delivery as [`list`] shows it, with its newest link's state at `now`.
pub fn get(
    db: &dyn Database,
    id: &str,
    now: Timestamp,
) -> Result<Option<DeliveryStatus>, StateError> {
    let Some(delivery) = db.delivery_get(id)? else {
        return Ok(None);
    };
    let link = db
        .links_list(Some(&delivery.request_id))?
        .into_iter()
        .map(|(l, _)| l)
        .filter(|l| l.delivery_id == delivery.id)
        .max_by(|a, b| a.created_at.cmp(&b.created_at));
    Ok(Some(DeliveryStatus {
        status: delivery.status(link.as_ref(), now),
        link: link.map(|l| l.id),
        delivery,
    }))
}

//! Copies held for copyright review: a compliance officer releases one, from the CLI
//! (`quire delivery release`) or the console, with a reason that goes on the record.

use quire_state::{Database, Delivery, StateError};

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

//! The audit events a store writes inside its own transactions (a request recorded, a download
//! counted, a pickup code refused, a session started, a hold released, a retention run), built
//! here so that every backend records the same actor, subjects and details for them. Events of
//! operations the services run are built by the services.

use serde::Serialize;
use serde_json::json;

use crate::compliance::retention::{PruneReport, PseudonymReport};
use crate::{Action, Delivery, Grant, NewEvent, Request};

/// The actor of what a borrower's link does.
fn borrower(link: &str) -> String {
    format!("borrower:{link}")
}

/// The actor of what a signed-in staff user does in the console.
fn staff(user: &str) -> String {
    format!("staff:{user}")
}

pub fn request_created(actor: &str, r: &Request) -> NewEvent {
    NewEvent::new(actor, Action::RequestCreated)
        .subject("request", &r.id)
        .details(json!({
            "library": r.library, "basis": r.basis.as_str(), "title": r.title, "issn": r.issn,
        }))
}

/// One download attempt on a link, counted or not.
pub fn download(link: &str, client: &str, grant: Grant) -> NewEvent {
    let (outcome, left) = match grant {
        Grant::Granted { left } => ("granted", Some(left)),
        Grant::Resumed { left } => ("resumed", Some(left)),
        Grant::Refused(state) => (state.as_str(), None),
    };
    NewEvent::new(borrower(link), Action::LinkDownload)
        .subject("link", link)
        .details(json!({ "outcome": outcome, "client": client, "downloads_left": left }))
}

/// A pickup code refused; `reason` is [`crate::CodeCheck::refusal`]'s.
pub fn code_refused(link: &str, client: &str, reason: &str) -> NewEvent {
    NewEvent::new(borrower(link), Action::LinkCodeRefused)
        .subject("link", link)
        .details(json!({ "reason": reason, "client": client }))
}

/// The wrong code that locked the link, the `wrong_codes`th since the last unlock.
pub fn link_locked(link: &str, client: &str, wrong_codes: i64) -> NewEvent {
    NewEvent::new(borrower(link), Action::LinkLocked)
        .subject("link", link)
        .details(json!({ "client": client, "wrong_codes": wrong_codes }))
}

pub fn user_added(actor: &str, user: &str, role: &str) -> NewEvent {
    NewEvent::new(actor, Action::UserAdded)
        .subject("user", user)
        .details(json!({ "role": role }))
}

/// A user's password or role changed, or the user removed (`action` says which); `role` is the
/// new role when that is what changed.
pub fn user_changed(actor: &str, user: &str, action: Action, role: Option<&str>) -> NewEvent {
    let details = match role {
        Some(role) => json!({ "role": role }),
        None => json!({}),
    };
    NewEvent::new(actor, action)
        .subject("user", user)
        .details(details)
}

pub fn staff_login(user: &str, client: &str) -> NewEvent {
    NewEvent::new(staff(user), Action::StaffLogin)
        .subject("user", user)
        .details(json!({ "client": client }))
}

pub fn staff_logout(user: &str) -> NewEvent {
    NewEvent::new(staff(user), Action::StaffLogout).subject("user", user)
}

pub fn login_failed(user: &str, client: &str) -> NewEvent {
    NewEvent::new("console", Action::StaffLoginFailed)
        .details(json!({ "user": user, "client": client }))
}

/// What a compliance officer's release of a held delivery did.
#[derive(Debug, Serialize)]
pub struct Release<'a> {
    pub officer: &'a str,
    pub reason: &'a str,
    /// Why it was held.
    pub hold_reason: Option<&'a str>,
    pub links: &'a [Reopened],
    pub notice_queued: bool,
}

/// A link a release opened again, for its full lifetime from the release.
#[derive(Debug, Clone, Serialize)]
pub struct Reopened {
    pub link: String,
    pub expires_at: crate::Timestamp,
}

pub fn delivery_released(held: &Delivery, release: &Release<'_>) -> NewEvent {
    NewEvent::new(release.officer, Action::DeliveryReleased)
        .subject("request", &held.request_id)
        .subject("delivery", &held.id)
        .details(json!(release))
}

pub fn retention_pruned(actor: &str, report: &PruneReport) -> NewEvent {
    NewEvent::new(actor, Action::RetentionPruned).details(json!(report))
}

pub fn retention_pseudonymised(actor: &str, report: &PseudonymReport) -> NewEvent {
    NewEvent::new(actor, Action::RetentionPseudonymised).details(json!(report))
}

/// A worker of `node` claimed a received job and starts processing it.
pub fn job_claimed(node: &str, job: &str) -> NewEvent {
    NewEvent::new("daemon", Action::JobProcessing)
        .subject("job", job)
        .details(json!({ "node": node }))
}

/// `node` stopped renewing its lease on a processing job; the job goes back to the queue.
pub fn job_lease_lapsed(job: &str, node: &str, lease_until: &str) -> NewEvent {
    NewEvent::new("daemon", Action::JobLeaseLapsed)
        .subject("job", job)
        .details(json!({ "node": node, "lease_until": lease_until }))
}

//! An audit event as a sentence for people: "alice released job J for request TN1 — reason:
//! …", with the jobs and requests it names as links. The audit page shows these, with the
//! event's raw JSON behind a disclosure; the CSV export and `quire audit` keep the raw form.
//!
//! Every action has a verb here (an unknown one, from a newer version, reads as its code), so
//! no event shows as Rust debug text.

use serde::Serialize;
use serde_json::Value;

use quire_domain::{Action, Event};

/// One piece of a sentence: text, or text that links to a console page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    pub text: String,
    pub href: Option<String>,
}

fn text(t: impl Into<String>) -> Part {
    Part {
        text: t.into(),
        href: None,
    }
}

/// Who did it, as people say it: `staff:alice` is alice, `daemon` is Quire.
pub fn who(actor: &str) -> String {
    if let Some(name) = actor.strip_prefix("staff:") {
        return name.to_string();
    }
    if let Some(peer) = actor.strip_prefix("iso18626:") {
        return format!("partner {peer}");
    }
    if let Some(user) = actor.strip_prefix("cli:") {
        return format!("{user} (command line)");
    }
    match actor {
        "daemon" => "Quire".into(),
        "api" => "the API".into(),
        "borrower" => "the borrower".into(),
        other => other.to_string(),
    }
}

/// What the action did, after the actor's name (past tense).
fn verb(action: &str) -> &'static str {
    let Ok(a) = action.parse::<Action>() else {
        return "";
    };
    use Action::*;
    match a {
        DaemonStarted => "started the daemon",
        DaemonStopped => "stopped the daemon",
        JobReceived => "took in a scan as",
        JobDuplicate => "found a repeated scan in",
        JobHeld => "held",
        JobReleased => "released",
        JobReprocess => "queued for processing again",
        JobMatched => "matched",
        JobProcessing => "started processing",
        JobProcessed => "processed",
        JobRetry => "will try again",
        JobRequeued => "put back in the queue",
        JobResumed => "resumed",
        JobLeaseLapsed => "took back from a silent node",
        JobSplit => "split a batch:",
        JobFailed => "could not process",
        JobPreserved => "wrote the preservation master of",
        IntakeRefused => "refused an inbox entry",
        RequestCreated => "created",
        RequestCancelled => "cancelled",
        RequestBasisSet => "set the copyright basis of",
        RequestCitationSet => "corrected the citation of",
        Iso18626Received => "sent an ISO 18626 message about",
        Iso18626Refused => "refused an ISO 18626 message about",
        Iso18626Sent => "sent an ISO 18626 message about",
        Iso18626Failed => "could not send an ISO 18626 message about",
        Iso18626Retry => "will resend an ISO 18626 message about",
        Iso18626Queued => "queued an ISO 18626 message about",
        DeliveryCreated => "delivered",
        DeliveryPreviewed => "previewed",
        DeliveryPurged => "purged",
        DeliveryReleased => "released",
        ComplianceHeld => "held for the CONTU limit",
        ComplianceWarning => "warned about the CONTU limit for",
        ComplianceTitleSimilar => "found a similar title for",
        LinkDownload => "downloaded",
        LinkCodeRefused => "refused a wrong pickup code for",
        LinkLocked => "locked",
        LinkUnlocked => "unlocked",
        LinkRevoked => "revoked",
        LinkExtended => "extended",
        NoticeSent => "sent the e-mail for",
        NoticeFailed => "could not send the e-mail for",
        NoticeRetry => "will send again the e-mail for",
        NoticeResent => "sent again the e-mail for",
        RetentionPruned => "pruned old records",
        RetentionPseudonymised => "pseudonymised reader data",
        StaffLogin => "signed in",
        StaffLogout => "signed out",
        StaffLoginFailed => "failed to sign in",
        UserAdded => "added user",
        UserPasswordChanged => "changed the password of",
        UserRoleChanged => "changed the role of",
        UserRemoved => "removed user",
        AuditNote => "noted",
        TraceLookup => "traced a leaked copy",
        ScanCaptured => "scanned",
        WebhookFailed => "gave up sending an event to the webhook",
    }
}

/// The order subjects are named in, and each kind's page.
const KINDS: &[(&str, &str, Option<&str>)] = &[
    ("job", "job", Some("/staff/jobs/")),
    ("delivery", "delivery", None),
    ("link", "link", None),
    ("request", "for request", Some("/staff/requests/")),
    ("user", "", None),
];

fn urlencode(s: &str) -> String {
    super::views::urlencode(s)
}

/// `event` as a sentence.
pub fn sentence(e: &Event) -> Vec<Part> {
    let mut parts = vec![text(who(&e.actor))];
    let action = e.action.as_str();
    let verb = verb(action);
    parts.push(text(format!(
        " {}",
        if verb.is_empty() { action } else { verb }
    )));
    // The action's own object first (a matched job, then the request it was matched to).
    for (kind, word, page) in KINDS {
        let Some(id) = e.subjects.get(*kind).and_then(Value::as_str) else {
            continue;
        };
        let word = match (*kind, action) {
            ("request", "request.created" | "request.cancelled" | "request.basis_set") => "request",
            ("request", "job.matched") => "to request",
            _ => word,
        };
        if !word.is_empty() {
            parts.push(text(format!(" {word} ")));
        } else {
            parts.push(text(" "));
        }
        parts.push(Part {
            text: id.to_string(),
            href: page.map(|p| format!("{p}{}", urlencode(id))),
        });
    }
    let d = &e.details;
    let mut extra = Vec::new();
    let s = |k: &str| d.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    if let Some(outcome) = s("outcome") {
        extra.push(match outcome {
            "ready" => "ready for delivery".to_string(),
            other => other.to_string(),
        });
    }
    if let Some(pages) = d.get("pages").and_then(Value::as_u64) {
        extra.push(format!("{pages} pages"));
    }
    if let Some(to) = s("to") {
        extra.push(format!("to {to}"));
    }
    if let Some(via) = s("via") {
        extra.push(format!("via {via}"));
    }
    if let Some(by) = s("by").filter(|b| *b == "file name") {
        extra.push(format!("automatically: the file name named it ({by})"));
    }
    if !extra.is_empty() {
        parts.push(text(format!(" ({})", extra.join(", "))));
    }
    for key in ["reason", "hold_reason", "error", "next_step"] {
        if let Some(v) = s(key) {
            let label = match key {
                "hold_reason" => "held because",
                "next_step" => "next",
                k => k,
            };
            parts.push(text(format!(" — {label}: {}", v.replace('\n', "; "))));
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(actor: &str, action: Action, subjects: Value, details: Value) -> Event {
        let new = quire_domain::NewEvent::new(actor, action).details(details);
        let mut e = quire_domain::audit::seal(0, "", "2026-01-31T09:05:00.000Z".into(), new);
        e.subjects = subjects;
        e
    }

    fn plain(parts: &[Part]) -> String {
        parts.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn a_release_reads_as_a_sentence_with_links() {
        let e = event(
            "staff:alice",
            Action::JobReleased,
            serde_json::json!({"job": "J1", "request": "TN1"}),
            serde_json::json!({"reason": "checked page 3"}),
        );
        let parts = sentence(&e);
        assert_eq!(
            plain(&parts),
            "alice released job J1 for request TN1 — reason: checked page 3"
        );
        assert!(
            parts
                .iter()
                .any(|p| p.href.as_deref() == Some("/staff/jobs/J1"))
        );
        assert!(
            parts
                .iter()
                .any(|p| p.href.as_deref() == Some("/staff/requests/TN1"))
        );
    }

    #[test]
    fn every_action_has_words_and_no_debug_text() {
        for a in Action::ALL {
            assert!(!verb(a.as_str()).is_empty(), "{a} has no verb");
        }
        let e = event(
            "daemon",
            Action::NoticeSent,
            serde_json::json!({"delivery": "D1", "request": "TN1"}),
            serde_json::json!({"to": "Ada", "via": "SMTP"}),
        );
        assert_eq!(
            plain(&sentence(&e)),
            "Quire sent the e-mail for delivery D1 for request TN1 (to Ada, via SMTP)"
        );
    }
}

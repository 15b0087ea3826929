//! How long records live: the pruning cutoff (end of the `retain_years`-th complete calendar
//! year after the request's year) and the pseudonymisation cutoff and pseudonym. The deleting
//! itself is the database's job (`Database::retention_prune`, `Database::pseudonymise`).

use sha2::{Digest, Sha256};
use time::{Date, Month, OffsetDateTime, Time};

use crate::Timestamp;

/// Requests made before this instant are past retention at `now`.
///
/// A request from year Y is kept through 31 December of Y + `retain_years`, so at any time in
/// year N everything requested before 1 January of N − `retain_years` goes.
pub fn prune_cutoff(now: OffsetDateTime, retain_years: u32) -> Timestamp {
    let year = now.year() - retain_years as i32;
    let date = Date::from_calendar_date(year, Month::January, 1).expect("1 January exists");
    Timestamp::from_datetime(date.with_time(Time::MIDNIGHT).assume_utc())
}

/// Requests made before this instant have their patron pseudonymised; `None` when disabled.
pub fn pseudonymise_cutoff(now: OffsetDateTime, after_days: u32) -> Option<Timestamp> {
    (after_days > 0)
        .then(|| Timestamp::from_datetime(now - time::Duration::days(after_days as i64)))
}

/// A stable stand-in for a patron: the same e-mail always gives the same pseudonym within one
/// installation (so counts per reader still work), and the salt, kept only in the database,
/// stops anyone outside from matching pseudonyms to a list of addresses.
pub fn pseudonym(salt: &[u8], email: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(email.trim().to_lowercase().as_bytes());
    format!("patron-{}", &hex::encode(h.finalize())[..16])
}

/// The records a pruning run keeps (requests, deliveries and links still stored after it), so
/// that it keeps their audit events too.
///
/// The log is a hash chain and can only be cut from its start (behind a checkpoint), so a run
/// deletes events before the cutoff only up to the first one about a kept record: a 2026
/// delivery that waits for `quire purge` keeps its `delivery.created`, and everything after it.
/// Jobs are not here: a scan's job record is never pruned, and its events before the cutoff
/// are the history of the scan, not of a reader.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    pub requests: std::collections::HashSet<String>,
    pub deliveries: std::collections::HashSet<String>,
    pub links: std::collections::HashSet<String>,
}

impl Kept {
    /// Whether an event filed under `subjects` is about a kept record.
    pub fn concerns(&self, subjects: &serde_json::Value) -> bool {
        let named = |kind: &str, ids: &std::collections::HashSet<String>| {
            subjects[kind].as_str().is_some_and(|id| ids.contains(id))
        };
        named("request", &self.requests)
            || named("delivery", &self.deliveries)
            || named("link", &self.links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_request_is_kept_through_the_third_complete_year_after_its_own() {
        // In 2026, 2022 requests go (kept through 2025) and 2023 requests stay (through 2026).
        assert_eq!(
            prune_cutoff(datetime!(2026-11-29 12:00 UTC), 3),
            "2023-01-01T00:00:00.000Z"
        );
        // Still 2026 on its last second; on 1 January 2027 the 2023 requests go.
        assert_eq!(
            prune_cutoff(datetime!(2026-12-31 23:59:59 UTC), 3),
            "2023-01-01T00:00:00.000Z"
        );
        assert_eq!(
            prune_cutoff(datetime!(2027-01-01 00:00 UTC), 3),
            "2024-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn an_event_is_kept_when_it_names_a_kept_request_delivery_or_link() {
        let kept = Kept {
            requests: ["TN2".to_string()].into(),
            deliveries: ["dlv_2".to_string()].into(),
            links: ["lnk_2".to_string()].into(),
        };
        assert!(kept.concerns(&serde_json::json!({"request": "TN2", "delivery": "dlv_9"})));
        assert!(kept.concerns(&serde_json::json!({"delivery": "dlv_2"})));
        assert!(kept.concerns(&serde_json::json!({"link": "lnk_2"})));
        assert!(!kept.concerns(&serde_json::json!({"request": "TN1", "link": "lnk_1"})));
        assert!(!kept.concerns(&serde_json::json!({"job": "TN2"})));
        assert!(!kept.concerns(&serde_json::json!({})));
    }

    #[test]
    fn pseudonyms_are_stable_salted_and_ignore_case() {
        let a = pseudonym(b"salt", "Minh@Example.org ");
        assert_eq!(a, pseudonym(b"salt", "minh@example.org"));
        assert_ne!(a, pseudonym(b"other", "minh@example.org"));
        assert_ne!(a, pseudonym(b"salt", "khai@example.org"));
        assert!(a.starts_with("patron-") && a.len() == 23);
        assert_eq!(
            pseudonymise_cutoff(datetime!(2026-03-31 00:00 UTC), 30).unwrap(),
            "2026-03-01T00:00:00.000Z"
        );
        assert_eq!(
            pseudonymise_cutoff(datetime!(2026-03-31 00:00 UTC), 0),
            None
        );
    }
}

/// What one pruning run removed (or, dry, would remove).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PruneReport {
    pub cutoff: String,
    /// Delivery records removed with their links, notices and counts.
    pub deliveries: Vec<String>,
    /// Requests removed (those with no delivery left).
    pub requests: Vec<String>,
    /// Past retention but their file is still in the store: `quire purge` must remove it first.
    pub waiting_for_purge: Vec<String>,
    /// Audit events before the cutoff, replaced by a checkpoint.
    pub audit_events: i64,
    /// The seqs pruned, first and last inclusive, if events were pruned.
    pub audit_range: Option<[i64; 2]>,
    /// The first event before the cutoff that was kept because it is about a record still
    /// kept (`Kept`); it and every later event stay until a later run.
    pub audit_kept_from: Option<i64>,
    /// `SEQ:HASH` of the new checkpoint, if events were pruned. `quire audit verify` accepts a
    /// chain that starts at a checkpoint only if the `retention.pruned` event records it here.
    pub checkpoint: Option<String>,
}

/// What one pseudonymisation run changed (or, dry, would change).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PseudonymReport {
    pub cutoff: String,
    pub requests: Vec<String>,
    /// Left alone for now: a delivery is held or a notice is still to be sent.
    pub skipped: Vec<String>,
}

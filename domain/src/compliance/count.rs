//! Counting one copy under the rule of five: what a store must answer inside the transaction
//! that records the delivery ([`Ledger`]), and what the answers mean ([`count_copy`]). Every
//! backend calls `count_copy` there, so the rule, the hold reason and the compliance audit
//! events are written once, here, and a second backend only answers four queries.

use serde_json::json;

use super::{ComplianceConfig, CopyDecision, Verdict, Work, title};
use crate::{Action, Basis, Delivery, NewEvent};

/// What the rule of five reads from the store, inside the delivery's own write transaction
/// (so two concurrent deliveries can never both be the fifth).
pub trait Ledger {
    type Error;

    /// The calendar year `request` was made in; a missing request is an error.
    fn request_year(&mut self, request: &str) -> Result<i32, Self::Error>;

    /// The earliest counted copy already sent (active or purged, not held) for `request`.
    fn replaced_copy(&mut self, request: &str) -> Result<Option<String>, Self::Error>;

    /// Counted copies of `work` for `library` in `year` that went out (held ones did not). An
    /// identifier matches its own copies and those recorded by the same title without one; a
    /// title alone matches every copy with that title.
    fn count_prior(&mut self, library: &str, work: &Work, year: i32) -> Result<i64, Self::Error>;

    /// The distinct title keys counted for `library` for works of `work`'s kind, except its own.
    fn other_titles(&mut self, library: &str, work: &Work) -> Result<Vec<String>, Self::Error>;
}

/// One copy, counted: what to record with the delivery.
#[derive(Debug, Clone)]
pub struct Counted {
    pub decision: CopyDecision,
    /// The library the copy is counted for (empty when the request named none).
    pub library: String,
    /// Set when the copy must be held for a compliance officer: why, in words for them.
    pub hold_reason: Option<String>,
    /// The compliance events (held, warned, similar title) to append after the delivery's.
    pub events: Vec<NewEvent>,
}

/// Counts `delivery` (a copy of `work` under `basis`) against the copies `ledger` holds.
pub fn count_copy<L: Ledger>(
    ledger: &mut L,
    delivery: &Delivery,
    work: &Work,
    basis: Basis,
    rules: &ComplianceConfig,
) -> Result<Counted, L::Error> {
    let year = ledger.request_year(&delivery.request_id)?;
    let library = delivery.library.clone().unwrap_or_default();
    let mut counted = work.counts(basis, year, rules);
    // A replacement for a copy that already went out fills the same request: the library
    // received one copy of the work, however many times the link had to be sent.
    let replaces = if counted {
        ledger.replaced_copy(&delivery.request_id)?
    } else {
        None
    };
    if replaces.is_some() {
        counted = false;
    }
    let prior = if counted {
        ledger.count_prior(&library, work, year)?
    } else {
        0
    };
    let mut decision = CopyDecision::decide(year, counted, prior, rules);
    decision.notes = work.notes.clone();
    if let Some(earlier) = &replaces {
        decision.notes.push(format!(
            "replaces delivery {earlier} of the same request; not counted again"
        ));
    }
    if work.ident.is_none() {
        let max_edits = rules.similar_title_distance as usize;
        decision.similar_titles = ledger
            .other_titles(&library, work)?
            .into_iter()
            .filter(|other| title::near_identical(&work.title_key, other, max_edits))
            .collect();
    }

    let reason = decision.reason(work);
    let event = |action: Action, details: serde_json::Value| {
        NewEvent::new("compliance", action)
            .subject("request", &delivery.request_id)
            .subject("delivery", &delivery.id)
            .details(details)
    };
    let over = |action| {
        event(
            action,
            json!({ "reason": reason, "nth": decision.nth, "year": year, "library": library, "policy": rules.policy.as_str() }),
        )
    };
    let mut events = Vec::new();
    match decision.verdict {
        Verdict::Hold => events.push(over(Action::ComplianceHeld)),
        Verdict::Warn => events.push(over(Action::ComplianceWarning)),
        Verdict::Deliver => {}
    }
    if !decision.similar_titles.is_empty() {
        events.push(event(
            Action::ComplianceTitleSimilar,
            json!({ "title": work.title_key, "similar": decision.similar_titles, "library": library }),
        ));
    }
    let hold_reason = (decision.verdict == Verdict::Hold).then_some(reason);
    Ok(Counted {
        decision,
        library,
        hold_reason,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeliveryState, Request};

    /// The answers a store would give, fixed: the rule is what is tested here; the SQLite
    /// backend's own tests count through real transactions.
    struct Answers {
        prior: i64,
        replaced: Option<String>,
        titles: Vec<String>,
    }

    impl Ledger for Answers {
        type Error = String;
        fn request_year(&mut self, _: &str) -> Result<i32, String> {
            Ok(2026)
        }
        fn replaced_copy(&mut self, _: &str) -> Result<Option<String>, String> {
            Ok(self.replaced.clone())
        }
        fn count_prior(&mut self, _: &str, _: &Work, _: i32) -> Result<i64, String> {
            Ok(self.prior)
        }
        fn other_titles(&mut self, _: &str, _: &Work) -> Result<Vec<String>, String> {
            Ok(self.titles.clone())
        }
    }

    fn delivery() -> Delivery {
        Delivery {
            id: "dlv_1".into(),
            request_id: "TN1".into(),
            job_id: None,
            document_sha256: String::new(),
            stamped_sha256: String::new(),
            basis: Basis::Ccg,
            state: DeliveryState::Active,
            hold_reason: None,
            file_name: "x.pdf".into(),
            bytes: 0,
            page_count: 1,
            recipient: "A".into(),
            library: Some("ZZQ".into()),
            created_at: crate::Timestamp::UNIX_EPOCH,
            purged_at: None,
        }
    }

    fn work(issn: Option<&str>) -> Work {
        let request: Request = serde_json::from_value(serde_json::json!({
            "id": "TN1", "patron_name": "A", "patron_email": "a@example.org",
            "title": "Journal of Tests", "issn": issn, "article": "On tests", "year": 2025,
        }))
        .unwrap();
        Work::of(&request)
    }

    #[test]
    fn the_sixth_copy_is_held_with_its_reason_and_one_event() {
        let mut ledger = Answers {
            prior: 5,
            replaced: None,
            titles: vec![],
        };
        let rules = ComplianceConfig::default();
        let c = count_copy(
            &mut ledger,
            &delivery(),
            &work(Some("0378-5955")),
            Basis::Ccg,
            &rules,
        )
        .unwrap();
        assert_eq!((c.decision.nth, c.decision.verdict), (6, Verdict::Hold));
        assert!(c.hold_reason.unwrap().contains("copy 6 of ISSN 0378-5955"));
        let names: Vec<&str> = c.events.iter().map(NewEvent::action).collect();
        assert_eq!(names, [Action::ComplianceHeld.as_str()]);
    }

    #[test]
    fn a_replacement_is_not_counted_and_a_similar_title_is_flagged() {
        let mut ledger = Answers {
            prior: 9,
            replaced: Some("dlv_0".into()),
            titles: vec!["journal of test".into(), "other journal".into()],
        };
        let rules = ComplianceConfig::default();
        let c = count_copy(&mut ledger, &delivery(), &work(None), Basis::Ccg, &rules).unwrap();
        assert!(!c.decision.counted);
        assert_eq!(c.decision.verdict, Verdict::Deliver);
        assert!(c.hold_reason.is_none());
        assert!(
            c.decision
                .notes
                .iter()
                .any(|n| n.contains("replaces delivery dlv_0"))
        );
        assert_eq!(c.decision.similar_titles, ["journal of test"]);
        let names: Vec<&str> = c.events.iter().map(NewEvent::action).collect();
        assert_eq!(names, [Action::ComplianceTitleSimilar.as_str()]);
    }
}

// The conformance suite's tests, included once per backend by `tests/suite.rs`, which
// defines `fresh()` (an empty database of that backend) in each module.

use std::cell::Cell;
use std::sync::Arc;

use quire_domain::compliance::{ComplianceConfig, ContuPolicy, Verdict, Work, retention};
use quire_domain::{Action, DeliveryState, Timestamp};
use quire_state::audit::{self, GENESIS, NewEvent};
use quire_state::delivery::{Delivery, Grant, Link, LinkState};
use quire_state::testing::{self, Fresh, TestDatabase};
use quire_state::{AuditFilter, Basis, Request, verify_audit};

/// A time as written in these tests.
fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

struct History {
    _fresh: Fresh,
    db: Arc<dyn TestDatabase>,
    next: Cell<u32>,
    rules: ComplianceConfig,
}

struct Ask<'a> {
    library: &'a str,
    title: &'a str,
    issn: Option<&'a str>,
    published: i32,
    at: &'a str,
    basis: Basis,
}

impl<'a> Ask<'a> {
    fn journal(library: &'a str, at: &'a str) -> Self {
        Self {
            library,
            title: "The Journal of Tests",
            issn: Some("0378-5955"),
            published: 2025,
            at,
            basis: Basis::Ccg,
        }
    }
}

/// The `n`th request of a history: an article of `ask`'s journal, for a reader of three.
fn article_request(n: u32, ask: &Ask<'_>) -> Request {
    Request {
        id: format!("TN{n}"),
        patron_name: format!("Reader {}", n % 3),
        patron_email: format!("reader{}@example.org", n % 3),
        library: Some(ask.library.into()),
        title: Some(ask.title.into()),
        issn: ask.issn.map(String::from),
        isbn: None,
        article: Some(format!("Article {n}")),
        author: None,
        year: Some(ask.published),
        volume: None,
        issue: None,
        pages: None,
        basis: ask.basis,
        basis_reference: (ask.basis == Basis::Permission).then(|| "CCC 123".to_string()),
        link_days: None,
        link_downloads: None,
        created_at: Timestamp::UNIX_EPOCH,
    }
}

/// The `n`th copy made for `request`: its delivery and its link.
fn copy_for(request: &Request, n: u32) -> (Delivery, Link) {
    let delivery = Delivery {
        id: format!("dlv_{n}"),
        request_id: request.id.clone(),
        job_id: None,
        document_sha256: "a".repeat(64),
        stamped_sha256: format!("{n:064}"),
        basis: request.basis,
        state: DeliveryState::Active,
        hold_reason: None,
        file_name: "x.pdf".into(),
        bytes: 10,
        page_count: 1,
        recipient: request.patron_name.clone(),
        library: request.library.clone(),
        created_at: Timestamp::UNIX_EPOCH,
        purged_at: None,
    };
    let link = Link {
        id: format!("lnk_{n}"),
        delivery_id: delivery.id.clone(),
        token_sha256: format!("t{n}"),
        expires_at: "2999-01-01T00:00:00Z".parse().unwrap(),
        downloads_left: 3,
        downloads_allowed: 3,
        pickup_code_sha256: None,
        revoked_at: None,
        created_at: Timestamp::UNIX_EPOCH,
        locked_at: None,
        code_failures: 0,
    };
    (delivery, link)
}

impl History {
    fn new() -> Self {
        let fresh = fresh();
        Self {
            db: fresh.db.clone(),
            _fresh: fresh,
            next: Cell::new(0),
            rules: ComplianceConfig::default(),
        }
    }

    /// Adds a request made at `ask.at` and delivers a copy for it; returns (delivery, link,
    /// verdict, nth).
    fn copy(&self, ask: Ask<'_>) -> (String, String, Verdict, i64) {
        let n = self.next.get() + 1;
        self.next.set(n);
        let request = article_request(n, &ask);
        self.db
            .requests_add(std::slice::from_ref(&request), "import")
            .unwrap();
        self.db.backdate_request(&request.id, ask.at);
        self.send(&request, n)
    }

    /// Another copy for an existing request, as a redelivery makes.
    fn resend(&self, request: &str) -> (String, String, Verdict, i64) {
        let n = self.next.get() + 1;
        self.next.set(n);
        let request = self.db.request_get(request).unwrap().unwrap();
        self.send(&request, n)
    }

    fn send(&self, request: &Request, n: u32) -> (String, String, Verdict, i64) {
        let (delivery, link) = copy_for(request, n);
        let event = NewEvent::new("staff", Action::DeliveryCreated)
            .subject("request", &request.id)
            .subject("delivery", &delivery.id);
        let notice = Some((request.patron_email.as_str(), "Your copy", "Body"));
        let work = Work::of(request);
        let d = self
            .db
            .delivery_create_counted(
                &delivery,
                &link,
                notice,
                None,
                false,
                event,
                &work,
                request.basis,
                &self.rules,
            )
            .unwrap();
        (delivery.id, link.id, d.verdict, d.nth)
    }

    fn five(&self, library: &str, at: &str) {
        for i in 1..=5 {
            let (_, _, v, nth) = self.copy(Ask::journal(library, at));
            assert_eq!((v, nth), (Verdict::Deliver, i));
        }
    }

    fn state(&self, delivery: &str) -> String {
        self.db
            .delivery_get(delivery)
            .unwrap()
            .map(|d| d.state.to_string())
            .unwrap_or_else(|| "gone".into())
    }

    fn events(&self, action: &str) -> Vec<audit::Event> {
        let mut out = Vec::new();
        let filter = AuditFilter {
            action: Some(action.into()),
            ..Default::default()
        };
        self.db
            .audit_scan(&filter, &mut |e| {
                let _: () = out.push(e);
                Ok(())
            })
            .unwrap();
        out
    }
}

#[test]
fn times_stored_without_milliseconds_read_back_as_the_same_moment() {
    // Rows written before the one storage format (plain RFC 3339, no fraction) still read,
    // count in their year, and show in the storage format.
    let h = History::new();
    let (delivery, link, verdict, _) = h.copy(Ask::journal("ZZQ", "2026-01-05T00:00:00Z"));
    assert_eq!(verdict, Verdict::Deliver);
    let request = h.db.delivery_get(&delivery).unwrap().unwrap().request_id;
    let request = h.db.request_get(&request).unwrap().unwrap();
    assert_eq!(request.created_at, "2026-01-05T00:00:00.000Z");
    assert_eq!(request.created_at, ts("2026-01-05T00:00:00.000Z"));
    assert_eq!(h.db.counted_copies(2026, None).unwrap().len(), 1);
    let (link, d) = h.db.link_get(&link).unwrap().unwrap();
    assert_eq!(link.expires_at, "2999-01-01T00:00:00.000Z");
    assert_eq!(link.state(d.state, Timestamp::now()), LinkState::Active);
    assert!(link.created_at <= Timestamp::now());
}

#[test]
fn the_sixth_copy_is_held_and_the_count_restarts_on_1_january() {
    let h = History::new();
    h.five("ZZQ", "2025-12-31T23:59:59.999Z");
    let (sixth, link, v, nth) = h.copy(Ask::journal("ZZQ", "2025-12-31T23:59:59.999Z"));
    assert_eq!((v, nth), (Verdict::Hold, 6));
    assert_eq!(h.state(&sixth), "held");
    let held = h.db.delivery_get(&sixth).unwrap().unwrap();
    assert!(
        held.hold_reason
            .unwrap()
            .contains("copy 6 of ISSN 0378-5955")
    );
    assert_eq!(
        h.db.link_download(&link, "test", None).unwrap(),
        Grant::Refused(LinkState::Held)
    );
    // One millisecond later it is a new calendar year, and a first copy again.
    let (_, _, v, nth) = h.copy(Ask::journal("ZZQ", "2026-01-01T00:00:00.000Z"));
    assert_eq!((v, nth), (Verdict::Deliver, 1));
    assert_eq!(h.events(Action::ComplianceHeld.as_str()).len(), 1);
}

/// Sending a request's copy again (its link ran out) is not a second copy of the work: the
/// library still received one. A held sixth copy does not count as sent, so sending it again
/// is still the sixth.
#[test]
fn a_redelivery_of_the_same_request_is_not_counted_again() {
    let h = History::new();
    let at = "2026-02-01T10:00:00.000Z";
    for i in 1..=4 {
        let (_, _, v, nth) = h.copy(Ask::journal("ZZQ", at));
        assert_eq!((v, nth), (Verdict::Deliver, i));
    }
    let (fifth, _, _, nth) = h.copy(Ask::journal("ZZQ", at));
    assert_eq!(nth, 5);
    let request = h.db.delivery_get(&fifth).unwrap().unwrap().request_id;
    for _ in 0..3 {
        let (_, _, v, nth) = h.resend(&request);
        assert_eq!((v, nth), (Verdict::Deliver, 0), "a resend is not counted");
    }
    let (sixth, _, v, nth) = h.copy(Ask::journal("ZZQ", at));
    assert_eq!(
        (v, nth),
        (Verdict::Hold, 6),
        "resends did not use up the five"
    );
    let held_request = h.db.delivery_get(&sixth).unwrap().unwrap().request_id;
    let (_, _, v, nth) = h.resend(&held_request);
    assert_eq!((v, nth), (Verdict::Hold, 6), "nothing of it went out yet");
    let notes: Vec<String> = h
        .events(Action::DeliveryCreated.as_str())
        .iter()
        .flat_map(|e| {
            e.details["compliance"]["notes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|n| n.as_str().map(String::from))
        .collect();
    assert_eq!(
        notes
            .iter()
            .filter(|n| n.contains("not counted again"))
            .count(),
        3,
        "{notes:?}"
    );
}

#[test]
fn a_publication_exactly_five_years_old_counts_and_an_older_one_does_not() {
    let h = History::new();
    let at = "2026-03-01T10:00:00.000Z";
    for _ in 0..5 {
        h.copy(Ask {
            published: 2021,
            ..Ask::journal("ZZQ", at)
        });
    }
    let (_, _, v, nth) = h.copy(Ask {
        published: 2021,
        ..Ask::journal("ZZQ", at)
    });
    assert_eq!((v, nth), (Verdict::Hold, 6));
    // Six years old: outside the guidelines, not counted, not held.
    let (_, _, v, nth) = h.copy(Ask {
        published: 2020,
        ..Ask::journal("ZZQ", at)
    });
    assert_eq!((v, nth), (Verdict::Deliver, 0));
    let copies = h.db.counted_copies(2026, Some("ZZQ")).unwrap();
    assert_eq!(copies.iter().filter(|c| c.counted).count(), 6);
    assert_eq!(copies.iter().filter(|c| !c.counted).count(), 1);
}

#[test]
fn the_same_title_with_and_without_an_issn_is_one_periodical() {
    let h = History::new();
    let at = "2026-02-01T00:00:00.000Z";
    for _ in 0..3 {
        h.copy(Ask::journal("ZZQ", at));
    }
    // Written differently, no ISSN: the same journal.
    h.copy(Ask {
        issn: None,
        title: "journal of tests.",
        ..Ask::journal("ZZQ", at)
    });
    // A mistyped ISSN is not trusted; the title still identifies it.
    let (_, _, v, nth) = h.copy(Ask {
        issn: Some("0378-5954"),
        ..Ask::journal("ZZQ", at)
    });
    assert_eq!((v, nth), (Verdict::Deliver, 5));
    let (_, _, v, nth) = h.copy(Ask {
        issn: None,
        title: "JOURNAL OF TESTS",
        ..Ask::journal("ZZQ", at)
    });
    assert_eq!((v, nth), (Verdict::Hold, 6));
    let (_, _, v, _) = h.copy(Ask::journal("ZZQ", at));
    assert_eq!(v, Verdict::Hold);
    // Another journal with the same library and year is counted on its own.
    let (_, _, v, nth) = h.copy(Ask {
        issn: Some("0317-8471"),
        title: "Other Review",
        ..Ask::journal("ZZQ", at)
    });
    assert_eq!((v, nth), (Verdict::Deliver, 1));
    // A near-identical title without ISSN is flagged, not merged.
    let (_, _, v, nth) = h.copy(Ask {
        issn: None,
        title: "Jurnal of Tests",
        ..Ask::journal("ZZQ", at)
    });
    assert_eq!((v, nth), (Verdict::Deliver, 1));
    let flagged = h.events(Action::ComplianceTitleSimilar.as_str());
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].details["similar"][0], "journal of tests");
    let lines =
        quire_domain::compliance::report::lines(&h.db.counted_copies(2026, None).unwrap(), 5, 2);
    let main = lines
        .iter()
        .find(|l| l.ident.as_deref() == Some("0378-5955"))
        .unwrap();
    assert_eq!((main.copies, main.held, main.flagged), (5, 2, true));
}

#[test]
fn two_libraries_count_separately() {
    let h = History::new();
    let at = "2026-05-05T00:00:00.000Z";
    h.five("ZZQ", at);
    let (_, _, v, nth) = h.copy(Ask::journal("XYZ", at));
    assert_eq!((v, nth), (Verdict::Deliver, 1));
    let (_, _, v, _) = h.copy(Ask::journal("ZZQ", at));
    assert_eq!(v, Verdict::Hold);
}

#[test]
fn permission_public_domain_108d_and_ccl_copies_are_never_held() {
    let h = History::new();
    let at = "2026-05-05T00:00:00.000Z";
    h.five("ZZQ", at);
    for basis in [
        Basis::Permission,
        Basis::PublicDomain,
        Basis::Section108d,
        Basis::Ccl,
    ] {
        let (_, _, v, nth) = h.copy(Ask {
            basis,
            ..Ask::journal("ZZQ", at)
        });
        assert_eq!((v, nth), (Verdict::Deliver, 0), "{basis:?}");
    }
    let (_, _, v, _) = h.copy(Ask::journal("ZZQ", at));
    assert_eq!(v, Verdict::Hold);
}

/// `[compliance] count_ccl = true`: a CCL copy counts as a CCG one does, and the sixth of
/// either kind is held.
#[test]
fn a_library_that_counts_ccl_holds_the_sixth_ccl_copy() {
    let mut h = History::new();
    h.rules.count_ccl = true;
    let at = "2026-05-05T00:00:00.000Z";
    for i in 1..=3 {
        let (_, _, v, nth) = h.copy(Ask::journal("ZZQ", at));
        assert_eq!((v, nth), (Verdict::Deliver, i));
    }
    for i in 4..=5 {
        let (_, _, v, nth) = h.copy(Ask {
            basis: Basis::Ccl,
            ..Ask::journal("ZZQ", at)
        });
        assert_eq!((v, nth), (Verdict::Deliver, i));
    }
    let (_, _, v, nth) = h.copy(Ask {
        basis: Basis::Ccl,
        ..Ask::journal("ZZQ", at)
    });
    assert_eq!((v, nth), (Verdict::Hold, 6));
}

#[test]
fn warn_delivers_with_an_audit_warning_and_off_just_counts() {
    let mut h = History::new();
    h.rules.policy = ContuPolicy::Warn;
    let at = "2026-05-05T00:00:00.000Z";
    h.five("ZZQ", at);
    let (id, _, v, nth) = h.copy(Ask::journal("ZZQ", at));
    assert_eq!(
        (v, nth, h.state(&id)),
        (Verdict::Warn, 6, "active".to_string())
    );
    let warned = h.events(Action::ComplianceWarning.as_str());
    assert_eq!(warned.len(), 1);
    assert_eq!(warned[0].subjects["delivery"], id.as_str());
    h.rules.policy = ContuPolicy::Off;
    let (id, _, v, nth) = h.copy(Ask::journal("ZZQ", at));
    assert_eq!(
        (v, nth, h.state(&id)),
        (Verdict::Deliver, 7, "active".to_string())
    );
    assert_eq!(h.events("compliance.").len(), 1);
}

#[test]
fn a_held_copy_goes_out_only_when_an_officer_releases_it_with_a_reason() {
    let h = History::new();
    let at = "2026-05-05T00:00:00.000Z";
    h.five("ZZQ", at);
    let due_before = h.db.notices_due(100).unwrap().len();
    assert_eq!(due_before, 5);
    let (id, link, v, _) = h.copy(Ask::journal("ZZQ", at));
    assert_eq!(v, Verdict::Hold);
    assert_eq!(
        h.db.notices_due(100).unwrap().len(),
        5,
        "a held copy's notice is not sent"
    );
    assert_eq!(
        h.db.deliveries_list(Some(DeliveryState::Held))
            .unwrap()
            .len(),
        1
    );
    // A held copy is not counted as delivered: the next one is the sixth too.
    let (_, _, v, nth) = h.copy(Ask::journal("ZZQ", at));
    assert_eq!((v, nth), (Verdict::Hold, 6));

    let err =
        h.db.delivery_release(&id, "officer.jones", "  ")
            .unwrap_err();
    assert!(err.to_string().contains("reason"), "{err}");
    assert_eq!(h.state(&id), "held");
    let released =
        h.db.delivery_release(&id, "officer.jones", "CCC order 4711 paid")
            .unwrap();
    assert_eq!(
        (released.state.as_str(), released.hold_reason),
        ("active", None)
    );
    assert!(
        h.db.delivery_release(&id, "officer.jones", "again")
            .unwrap_err()
            .to_string()
            .contains("not held")
    );
    assert_eq!(h.db.notices_due(100).unwrap().len(), 6);
    assert!(matches!(
        h.db.link_download(&link, "test", None).unwrap(),
        Grant::Granted { .. }
    ));
    let ev = h.events(Action::DeliveryReleased.as_str());
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].actor, "officer.jones");
    assert_eq!(ev[0].details["officer"], "officer.jones");
    assert_eq!(ev[0].details["reason"], "CCC order 4711 paid");
    assert!(
        ev[0].details["hold_reason"]
            .as_str()
            .unwrap()
            .contains("copy 6")
    );
    assert!(verify_audit(&*h.db, None).unwrap().is_ok());
}

/// Seals events with the given (old) times onto the chain's start, as an import would.
fn seed_audit(db: &dyn TestDatabase, times: &[&str]) {
    let (mut seq, mut prev) = (0, GENESIS.to_string());
    let mut events = Vec::new();
    for t in times {
        let e = audit::seal(
            seq,
            &prev,
            t.to_string(),
            NewEvent::new("import", Action::AuditNote),
        );
        (seq, prev) = (e.seq, e.hash.clone());
        events.push(e);
    }
    db.seed_audit(&events);
}

#[test]
fn pruning_keeps_three_complete_years_and_the_chain_still_verifies() {
    let h = History::new();
    seed_audit(
        &*h.db,
        &[
            "2022-03-01T00:00:00.000Z",
            "2022-12-31T23:59:59.999Z",
            "2023-01-01T00:00:00.000Z",
            "2025-06-01T00:00:00.000Z",
        ],
    );
    let at = |t| Ask::journal("ZZQ", t);
    let (old, _, _, _) = h.copy(at("2022-06-01T00:00:00.000Z"));
    let (last_of_2022, _, _, _) = h.copy(at("2022-12-31T23:59:59.999Z"));
    let (unpurged_2022, _, _, _) = h.copy(at("2022-07-01T00:00:00.000Z"));
    let (first_of_2023, _, _, _) = h.copy(at("2023-01-01T00:00:00.000Z"));
    let (y2024, _, _, _) = h.copy(at("2024-04-04T00:00:00.000Z"));
    let (y2026, _, _, _) = h.copy(at("2026-01-10T00:00:00.000Z"));
    for id in [&old, &last_of_2022, &first_of_2023, &y2024] {
        assert!(
            h.db.delivery_purged(
                id,
                NewEvent::new("daemon", Action::DeliveryPurged).subject("delivery", id.as_str())
            )
            .unwrap()
        );
    }
    let anchor = verify_audit(&*h.db, None).unwrap().unwrap().head;

    // In November 2026 requests from 2022 are past retention; 2023 is kept through 2026.
    let cutoff = retention::prune_cutoff(time::macros::datetime!(2026-11-29 12:00 UTC), 3);
    let dry = h.db.retention_prune(cutoff, "officer", true).unwrap();
    assert_eq!(dry.deliveries, vec![old.clone(), last_of_2022.clone()]);
    assert_eq!(h.state(&old), "purged", "a dry run changes nothing");
    let report = h.db.retention_prune(cutoff, "officer", false).unwrap();
    assert_eq!(
        (report.deliveries.clone(), report.waiting_for_purge.clone()),
        (dry.deliveries, vec![unpurged_2022.clone()])
    );
    assert_eq!(report.requests, vec!["TN1".to_string(), "TN2".to_string()]);
    assert_eq!(report.audit_events, 2);
    assert_eq!(
        report.checkpoint.as_deref().unwrap().split(':').next(),
        Some("2")
    );
    assert_eq!(
        (h.state(&old), h.state(&last_of_2022)),
        ("gone".into(), "gone".into())
    );
    assert_eq!(h.state(&unpurged_2022), "active");
    assert_eq!(
        (h.state(&first_of_2023), h.state(&y2024), h.state(&y2026)),
        ("purged".into(), "purged".into(), "active".into())
    );
    assert!(h.db.request_get("TN1").unwrap().is_none());
    assert!(h.db.request_get("TN4").unwrap().is_some());
    assert_eq!(h.db.counted_copies(2022, None).unwrap().len(), 1);
    assert_eq!(h.db.counted_copies(2023, None).unwrap().len(), 1);

    // The rest of the chain verifies from the checkpoint, also against the earlier anchor.
    let summary = verify_audit(&*h.db, None)
        .unwrap()
        .expect("chain verifies after pruning");
    assert_eq!(summary.head.seq, anchor.seq + 1);
    assert!(verify_audit(&*h.db, Some(anchor)).unwrap().is_ok());
    let pruned = h.events(Action::RetentionPruned.as_str());
    assert_eq!(pruned.len(), 1);
    assert_eq!(pruned[0].details["audit_events"], 2);
    // Nothing more to do: a second run changes nothing and records nothing.
    let again = h.db.retention_prune(cutoff, "officer", false).unwrap();
    assert!(again.deliveries.is_empty() && again.requests.is_empty() && again.audit_events == 0);
    assert_eq!(h.events(Action::RetentionPruned.as_str()).len(), 1);
    assert!(verify_audit(&*h.db, None).unwrap().is_ok());
}

#[test]
fn pseudonymisation_replaces_patrons_but_keeps_one_pseudonym_per_reader() {
    let h = History::new();
    h.five("ZZQ", "2026-01-05T00:00:00.000Z");
    let (held, _, _, _) = h.copy(Ask::journal("ZZQ", "2026-01-05T00:00:00.000Z"));
    let (recent, _, _, _) = h.copy(Ask::journal("XYZ", "2026-11-01T00:00:00.000Z"));
    // Notices of old requests were sent long ago.
    h.db.mark_notices_sent();
    let report =
        h.db.pseudonymise(ts("2026-06-01T00:00:00.000Z"), "officer", false)
            .unwrap();
    assert_eq!(report.requests.len(), 5);
    assert_eq!(
        report.skipped,
        vec![h.db.delivery_get(&held).unwrap().unwrap().request_id]
    );
    let r1 = h.db.request_get("TN1").unwrap().unwrap();
    let r4 = h.db.request_get("TN4").unwrap().unwrap();
    // TN1 and TN4 are the same reader (n % 3), so they share a pseudonym.
    assert!(r1.patron_name.starts_with("patron-"), "{}", r1.patron_name);
    assert_eq!(r1.patron_name, r4.patron_name);
    assert_ne!(
        r1.patron_name,
        h.db.request_get("TN2").unwrap().unwrap().patron_name
    );
    assert!(r1.patron_email.ends_with("@pseudonymised.invalid"));
    assert!(r1.problems().is_empty(), "{:?}", r1.problems());
    assert_eq!(
        h.db.delivery_get("dlv_1").unwrap().unwrap().recipient,
        r1.patron_name
    );
    let body: String = h.db.notice_bodies("dlv_1").remove(0);
    assert!(!body.contains("Body"));
    let recent = h.db.delivery_get(&recent).unwrap().unwrap();
    assert!(recent.recipient.starts_with("Reader"));
    assert_eq!(h.events(Action::RetentionPseudonymised.as_str()).len(), 1);
    assert!(
        h.db.pseudonymise(ts("2026-06-01T00:00:00.000Z"), "officer", false)
            .unwrap()
            .requests
            .is_empty()
    );
}

#[test]
fn audit_subjects_of_a_patron_or_library() {
    let h = History::new();
    h.copy(Ask::journal("ZZQ", "2026-01-05T00:00:00.000Z"));
    h.copy(Ask::journal("XYZ", "2026-01-05T00:00:00.000Z"));
    assert_eq!(
        h.db.audit_subject_ids(None, Some("ZZQ")).unwrap(),
        vec!["TN1", "dlv_1", "lnk_1"]
    );
    assert_eq!(
        h.db.audit_subject_ids(Some("READER2@example.org"), None)
            .unwrap(),
        vec!["TN2", "dlv_2", "lnk_2"]
    );
    assert!(
        h.db.audit_subject_ids(Some("reader2@example.org"), Some("ZZQ"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn concurrent_appends_never_fork_the_chain() {
    let fresh = fresh();
    let db = fresh.db.clone();
    // A second handle on the same database stands in for a second process.
    let other = fresh.another();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let db = if t % 2 == 0 {
                db.clone()
            } else {
                other.clone()
            };
            std::thread::spawn(move || {
                for i in 0..25 {
                    db.audit_append(
                        NewEvent::new("daemon", Action::AuditNote)
                            .subject("job", format!("{t}-{i}")),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let summary = verify_audit(&*db, None).unwrap().expect("chain verifies");
    assert_eq!(summary.count, 100);
    assert_eq!(summary.head.seq, 100);
}

/// Details are hashed before storage and re-read for verification, so numbers must survive
/// the trip through text exactly.
#[test]
fn floats_in_details_survive_storage_and_verify() {
    let fresh = fresh();
    let db = &fresh.db;
    for x in [
        0.1 + 0.2,
        1.0 / 3.0,
        6.02214076e23,
        2.2250738585072014e-308,
        12.345678901234567,
    ] {
        db.audit_append(
            NewEvent::new("daemon", Action::AuditNote).details(serde_json::json!({ "x": x })),
        )
        .unwrap();
    }
    assert!(verify_audit(&**db, None).unwrap().is_ok());
}

fn job(id: &str) -> quire_state::Job {
    quire_state::Job {
        id: id.into(),
        request_id: None,
        state: quire_state::JobState::Received,
        hold_reason: None,
        source_name: format!("{id}.png"),
        spool_path: format!("/spool/{id}"),
        source_sha256: "b".repeat(64),
        page_count: None,
        report_json: None,
        output_sha256: None,
        error_code: None,
        error_message: None,
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
        parent_job: None,
        claimed_by: None,
        lease_until: None,
        custody: Vec::new(),
    }
}

/// The request filter (the console's barcode field and request page) lists that request's jobs
/// and no others, with or without other filters.
#[test]
fn jobs_are_listed_by_request() {
    use quire_state::{JobFilter, JobState};
    let fresh = fresh();
    let db = &fresh.db;
    let ask = Ask::journal("ZZQ", "2026-03-01T10:00:00.000Z");
    db.requests_add(&[article_request(1, &ask), article_request(2, &ask)], "test")
        .unwrap();
    for (id, request) in [("job_a", Some("TN1")), ("job_b", Some("TN2")), ("job_c", Some("TN1")), ("job_d", None)] {
        let j = quire_state::Job {
            request_id: request.map(String::from),
            ..job(id)
        };
        db.job_create(&j, NewEvent::new("daemon", Action::JobReceived).subject("job", id))
            .unwrap();
    }
    let ids = |filter: JobFilter| -> Vec<String> {
        db.jobs_list(&filter).unwrap().into_iter().map(|j| j.id).collect()
    };
    assert_eq!(
        ids(JobFilter { request: Some("TN1".into()), ..Default::default() }),
        ["job_a", "job_c"]
    );
    assert_eq!(
        ids(JobFilter {
            request: Some("TN2".into()),
            states: vec![JobState::Received],
            limit: 10,
            ..Default::default()
        }),
        ["job_b"]
    );
    assert!(ids(JobFilter { request: Some("TN9".into()), ..Default::default() }).is_empty());
    assert_eq!(ids(JobFilter { unmatched: true, ..Default::default() }), ["job_d"]);
}

#[test]
fn a_job_moves_only_from_the_state_it_is_in_and_each_move_is_audited_once() {
    use quire_state::{JobPatch, JobState, StateError};
    let fresh = fresh();
    let db = &fresh.db;
    db.job_create(
        &job("job_1"),
        NewEvent::new("daemon", Action::JobReceived).subject("job", "job_1"),
    )
    .unwrap();
    let take = || {
        db.job_transition(
            "job_1",
            &[JobState::Received],
            JobState::Processing,
            JobPatch::default(),
            NewEvent::new("daemon", Action::JobProcessing).subject("job", "job_1"),
        )
    };
    assert_eq!(take().unwrap().state, JobState::Processing);
    // A second worker loses the race: nothing changes, nothing is audited.
    assert!(matches!(take(), Err(StateError::Conflict(_))));
    assert_eq!(
        db.job_get("job_1").unwrap().unwrap().state,
        JobState::Processing
    );
    let mut processing = 0;
    db.audit_scan(
        &AuditFilter {
            action: Some(Action::JobProcessing.to_string()),
            ..Default::default()
        },
        &mut |_| {
            processing += 1;
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(processing, 1);
    assert!(matches!(
        db.job_transition(
            "job_9",
            &[JobState::Received],
            JobState::Processing,
            JobPatch::default(),
            NewEvent::new("daemon", Action::JobProcessing),
        ),
        Err(StateError::Conflict(_) | StateError::NotFound(_))
    ));
}

#[test]
fn concurrent_copies_of_one_work_never_share_a_place_in_the_count() {
    let h = History::new();
    // Ten requests for the same journal, made in 2026; delivered from two handles at once.
    let at = "2026-03-01T00:00:00.000Z";
    let requests: Vec<Request> = (1..=10)
        .map(|n| {
            let r = article_request(n, &Ask::journal("ZZQ", at));
            h.db.requests_add(std::slice::from_ref(&r), "import")
                .unwrap();
            h.db.backdate_request(&r.id, at);
            r
        })
        .collect();
    let handles = [h.db.clone(), h._fresh.another()];
    let rules = h.rules.clone();
    let results: Vec<(Verdict, i64)> = std::thread::scope(|scope| {
        let workers: Vec<_> = requests
            .iter()
            .zip(1..)
            .map(|(r, n)| {
                let db = handles[n as usize % 2].clone();
                let rules = rules.clone();
                scope.spawn(move || {
                    let (delivery, link) = copy_for(r, n);
                    let d = db
                        .delivery_create_counted(
                            &delivery,
                            &link,
                            None,
                            None,
                            false,
                            NewEvent::new("staff", Action::DeliveryCreated),
                            &Work::of(r),
                            r.basis,
                            &rules,
                        )
                        .unwrap();
                    (d.verdict, d.nth)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    // Exactly five went out, each in its own place; a held copy does not count (it did not
    // go out), so every one after them is the sixth.
    let mut delivered: Vec<i64> = results
        .iter()
        .filter(|&&(v, _)| v == Verdict::Deliver)
        .map(|&(_, nth)| nth)
        .collect();
    delivered.sort();
    assert_eq!(delivered, [1, 2, 3, 4, 5], "{results:?}");
    assert!(
        results
            .iter()
            .filter(|&&(v, _)| v != Verdict::Deliver)
            .all(|&(v, nth)| (v, nth) == (Verdict::Hold, 6)),
        "{results:?}"
    );
}

#[test]
fn a_session_lives_until_it_ends_and_a_sign_in_forgets_only_its_own_failures() {
    use quire_state::{StaffSession, StaffUser};
    let fresh = fresh();
    let db = &fresh.db;
    let user = StaffUser {
        name: "ana".into(),
        role: "technician".into(),
        password: "$argon2id$stub".into(),
        created_at: Timestamp::UNIX_EPOCH,
    };
    db.user_add(&user, "admin").unwrap();
    assert!(matches!(
        db.user_add(&user, "admin"),
        Err(quire_state::StateError::Conflict(_))
    ));
    let since = ts("2000-01-01T00:00:00.000Z");
    db.login_failed(
        &["user:ana".into(), "client:10.0.0.1".into()],
        "ana",
        "10.0.0.1",
    )
    .unwrap();
    db.login_failed(
        &["user:bob".into(), "client:10.0.0.2".into()],
        "bob",
        "10.0.0.2",
    )
    .unwrap();
    let session = StaffSession {
        id_sha256: "s".repeat(64),
        user_name: "ana".into(),
        csrf: "c".into(),
        created_at: "2026-01-01T00:00:00.000Z".parse().unwrap(),
        expires_at: "2999-01-01T00:00:00.000Z".parse().unwrap(),
    };
    db.session_start(
        &session,
        "10.0.0.1",
        &["user:ana".into(), "client:10.0.0.1".into()],
        since,
    )
    .unwrap();
    assert_eq!(db.login_failures("user:ana", since).unwrap(), 0);
    assert_eq!(db.login_failures("user:bob", since).unwrap(), 1);
    let (found, who) = db.session_get(&session.id_sha256).unwrap().unwrap();
    assert_eq!(
        (found.user_name.as_str(), who.role.as_str()),
        ("ana", "technician")
    );
    assert!(db.session_end(&session.id_sha256, "ana").unwrap());
    assert!(db.session_get(&session.id_sha256).unwrap().is_none());
    assert!(!db.session_end(&session.id_sha256, "ana").unwrap());
}

/// `audit search --request` finds every event about a request, also those filed only under
/// its job, delivery or link (a download, a revocation, a notice sent), and nothing about
/// another request.
#[test]
fn a_search_by_request_follows_its_jobs_deliveries_and_links() {
    use quire_state::LinkChange;
    let h = History::new();
    let (delivery, link, _, _) = h.copy(Ask::journal("ZZQ", "2026-03-01T00:00:00.000Z"));
    let (other_delivery, other_link, _, _) =
        h.copy(Ask::journal("ZZQ", "2026-03-02T00:00:00.000Z"));
    let request = h.db.delivery_get(&delivery).unwrap().unwrap().request_id;
    let mut scan = job("job_1");
    scan.request_id = Some(request.clone());
    h.db.job_create(
        &scan,
        NewEvent::new("daemon", Action::JobReceived).subject("job", "job_1"),
    )
    .unwrap();
    h.db.job_create(
        &job("job_2"),
        NewEvent::new("daemon", Action::JobReceived).subject("job", "job_2"),
    )
    .unwrap();
    for (d, l) in [(&delivery, &link), (&other_delivery, &other_link)] {
        assert!(matches!(
            h.db.link_download(l, "client", None).unwrap(),
            Grant::Granted { .. }
        ));
        h.db.audit_append(
            NewEvent::new("daemon", Action::NoticeSent)
                .subject("delivery", d.as_str())
                .details(serde_json::json!({ "to": "reader@example.org" })),
        )
        .unwrap();
        // A wrong pickup code, the link extended, the notice sent again: each filed under the
        // link (and delivery) only, as the services file them.
        let policy = quire_state::PickupPolicy {
            attempts: 10,
            since: ts("2026-01-01T00:00:00.000Z"),
            lock_after: 10,
        };
        h.db.pickup_code_attempt(l, "client", false, &policy)
            .unwrap();
        h.db.link_change(
            l,
            LinkChange::Extend {
                expires_at: None,
                more_downloads: Some(1),
            },
            NewEvent::new("staff", Action::LinkExtended).subject("link", l.as_str()),
        )
        .unwrap();
        h.db.notice_resend(
            d,
            NewEvent::new("staff", Action::NoticeResent)
                .subject("link", l.as_str())
                .subject("delivery", d.as_str()),
        )
        .unwrap();
        h.db.link_change(
            l,
            LinkChange::Revoke,
            NewEvent::new("staff", Action::LinkRevoked).subject("link", l.as_str()),
        )
        .unwrap();
    }
    let mut found = Vec::new();
    h.db.audit_scan(
        &AuditFilter {
            request: Some(request.clone()),
            ..Default::default()
        },
        &mut |e| {
            let _: () = found.push((e.action.clone(), e.subjects.clone()));
            Ok(())
        },
    )
    .unwrap();
    let actions: Vec<&str> = found.iter().map(|(a, _)| a.as_str()).collect();
    for action in [
        Action::RequestCreated,
        Action::DeliveryCreated,
        Action::JobReceived,
        Action::LinkDownload,
        Action::NoticeSent,
        Action::LinkCodeRefused,
        Action::LinkExtended,
        Action::NoticeResent,
        Action::LinkRevoked,
    ] {
        assert_eq!(
            actions.iter().filter(|a| **a == action.as_str()).count(),
            1,
            "{action:?} once in {found:?}"
        );
    }
    // Nothing of the other request or the other scan.
    for (_, subjects) in &found {
        for id in [&other_delivery, &other_link, &"job_2".to_string()] {
            assert!(
                !subjects.as_object().unwrap().values().any(|v| v == id.as_str()),
                "{found:?}"
            );
        }
    }
    assert_eq!(found.len(), 9, "{found:?}");
}

/// The issue's case: a retention run on 2 January 2030 (cutoff 1 January 2027) removes the
/// 2026 records whose files are gone, but a 2026 delivery waiting for purge is kept, and so
/// are its events (`delivery.created` among them); the chain still verifies.
#[test]
fn a_kept_delivery_keeps_its_audit_events() {
    let h = History::new();
    let (gone, _, _, _) = h.copy(Ask::journal("ZZQ", "2026-02-01T00:00:00.000Z"));
    let (waiting, _, _, _) = h.copy(Ask::journal("ZZQ", "2026-03-01T00:00:00.000Z"));
    assert!(
        h.db.delivery_purged(
            &gone,
            NewEvent::new("daemon", Action::DeliveryPurged).subject("delivery", gone.as_str())
        )
        .unwrap()
    );
    // The events are written now, so the run is on 2 January four years on: 2030 in 2026.
    let year = time::OffsetDateTime::now_utc().year() + 4;
    let run = time::Date::from_calendar_date(year, time::Month::January, 2).unwrap();
    let cutoff = retention::prune_cutoff(run.midnight().assume_utc(), 3);
    assert_eq!(cutoff.to_string(), format!("{}-01-01T00:00:00.000Z", year - 3));
    let created = |d: &str| {
        h.events(Action::DeliveryCreated.as_str())
            .iter()
            .filter(|e| e.subjects["delivery"] == d)
            .count()
    };
    let dry = h.db.retention_prune(cutoff, "officer", true).unwrap();
    let report = h.db.retention_prune(cutoff, "officer", false).unwrap();
    assert_eq!(report.deliveries, vec![gone.clone()]);
    assert_eq!(report.waiting_for_purge, vec![waiting.clone()]);
    assert_eq!(report.requests, vec!["TN1".to_string()]);
    // Only TN1's request.created and delivery.created go: the next event is TN2's.
    assert_eq!((dry.audit_events, report.audit_events), (2, 2));
    assert_eq!(report.audit_kept_from, Some(3), "TN2's request.created");
    assert_eq!(created(&gone), 0);
    assert_eq!(created(&waiting), 1, "the kept delivery's event stays");
    let request_created = h.events(Action::RequestCreated.as_str());
    assert_eq!(request_created.len(), 1);
    assert_eq!(request_created[0].subjects["request"], "TN2");
    assert!(verify_audit(&*h.db, None).unwrap().is_ok());
    // Once its file is purged, the next run takes it and its events.
    assert!(
        h.db.delivery_purged(
            &waiting,
            NewEvent::new("daemon", Action::DeliveryPurged).subject("delivery", waiting.as_str())
        )
        .unwrap()
    );
    let later = h.db.retention_prune(cutoff, "officer", false).unwrap();
    assert_eq!(later.deliveries, vec![waiting.clone()]);
    assert_eq!(created(&waiting), 0);
    assert!(verify_audit(&*h.db, None).unwrap().is_ok());
}

/// A citation is corrected until a copy is made with it; a request is cancelled until a copy
/// is sent, once, and a cancelled one keeps its citation. Retention removes a cancelled
/// request with its cancellation.
#[test]
fn a_citation_is_corrected_and_a_request_cancelled_only_before_a_copy_goes_out() {
    use quire_state::StateError;
    let h = History::new();
    let db = &*h.db;
    let ask = Ask::journal("ZZQ", "2026-03-01T00:00:00Z");
    let open = article_request(900, &ask);
    let sent = article_request(901, &ask);
    db.requests_add(&[open.clone(), sent.clone()], "import")
        .unwrap();
    h.send(&sent, 901);

    let cite = |id: &str, title: &str| {
        let mut c = db
            .request_get(id)
            .unwrap()
            .map(|r| r.citation_fields())
            .unwrap_or_default();
        c.title = Some(title.into());
        c.pages = Some("5-9".into());
        db.request_set_citation(
            id,
            &c,
            NewEvent::new("client", Action::RequestCitationSet).subject("request", id),
        )
    };
    let changed = cite(&open.id, "Hearing Research (corrected)").unwrap();
    assert_eq!(changed.title.as_deref(), Some("Hearing Research (corrected)"));
    assert_eq!(changed.pages.as_deref(), Some("5-9"));
    assert_eq!(changed.patron_name, open.patron_name, "only the citation");
    assert_eq!(h.events("request.citation_set").len(), 1);
    assert!(matches!(cite(&sent.id, "x"), Err(StateError::Conflict(_))));
    assert!(matches!(cite("nope", "x"), Err(StateError::NotFound(_))));

    let cancellation = |by: &str| quire_domain::Cancellation {
        at: ts("2026-03-02T10:00:00Z"),
        by: by.into(),
        reason: "the reader found it elsewhere".into(),
    };
    let cancel = |id: &str| {
        db.request_cancel(
            id,
            &cancellation("client"),
            NewEvent::new("client", Action::RequestCancelled).subject("request", id),
        )
    };
    assert_eq!(db.request_cancellation(&open.id).unwrap(), None);
    cancel(&open.id).unwrap();
    assert_eq!(
        db.request_cancellation(&open.id).unwrap(),
        Some(cancellation("client"))
    );
    assert!(matches!(cancel(&open.id), Err(StateError::Conflict(_))), "twice");
    assert!(matches!(cancel(&sent.id), Err(StateError::Conflict(_))), "sent");
    assert!(matches!(cancel("nope"), Err(StateError::NotFound(_))));
    assert_eq!(db.request_cancellation(&sent.id).unwrap(), None);
    assert!(matches!(cite(&open.id, "y"), Err(StateError::Conflict(_))));
    assert_eq!(h.events("request.cancelled").len(), 1);
    // A delivery racing the cancel finds it and is refused: nothing goes out.
    let (delivery, link) = copy_for(&open, 902);
    let refused = db.delivery_create_counted(
        &delivery,
        &link,
        None,
        None,
        false,
        NewEvent::new("staff", Action::DeliveryCreated).subject("request", &open.id),
        &Work::of(&open),
        open.basis,
        &ComplianceConfig::default(),
    );
    assert!(matches!(refused, Err(StateError::Conflict(_))), "{refused:?}");
    assert!(db.delivery_get(&delivery.id).unwrap().is_none());

    db.backdate_request(&open.id, "2019-01-01T00:00:00.000Z");
    let report = db
        .retention_prune(ts("2024-01-01T00:00:00.000Z"), "officer", false)
        .unwrap();
    assert!(report.requests.contains(&open.id), "{:?}", report.requests);
    assert_eq!(db.request_cancellation(&open.id).unwrap(), None);
}

// Job claims, leases and node heartbeats: the shared queue of several nodes. Included once per
// backend by `tests/suite.rs`, after `conformance.rs` (whose `job()` it uses).

mod claims {
    use super::*;
    use quire_state::{JobPatch, JobState, NodeBeat};

    fn later(seconds: i64) -> Timestamp {
        Timestamp::now() + time::Duration::seconds(seconds)
    }

    fn received(db: &dyn TestDatabase, id: &str) {
        db.job_create(
            &job(id),
            NewEvent::new("daemon", Action::JobReceived).subject("job", id),
        )
        .unwrap();
    }

    fn count(db: &dyn TestDatabase, action: Action) -> usize {
        let mut n = 0;
        db.audit_scan(
            &AuditFilter {
                action: Some(action.to_string()),
                ..Default::default()
            },
            &mut |_| {
                n += 1;
                Ok(())
            },
        )
        .unwrap();
        n
    }

    fn beat(name: &str) -> NodeBeat {
        NodeBeat {
            name: name.into(),
            roles: vec!["worker".into()],
            host: "host-a".into(),
            pid: 4242,
            version: "0.0.0".into(),
            started_at: Timestamp::now(),
        }
    }

    #[test]
    fn a_claim_takes_the_oldest_received_job_once_and_audits_it_with_the_node() {
        let fresh = fresh();
        let db = &*fresh.db;
        received(db, "job_1");
        received(db, "job_2");
        let until = later(60);
        let first = db.job_claim("station-1", until).unwrap().unwrap();
        assert_eq!(first.id, "job_1");
        assert_eq!(first.state, JobState::Processing);
        assert_eq!(first.claimed_by.as_deref(), Some("station-1"));
        assert_eq!(first.lease_until, Some(until));
        assert_eq!(db.job_claim("worker-2", until).unwrap().unwrap().id, "job_2");
        assert!(db.job_claim("worker-2", until).unwrap().is_none());
        assert_eq!(count(db, Action::JobProcessing), 2);
        let mut nodes = Vec::new();
        db.audit_scan(
            &AuditFilter {
                action: Some(Action::JobProcessing.to_string()),
                ..Default::default()
            },
            &mut |e| {
                nodes.push(e.details["node"].as_str().unwrap_or_default().to_string());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(nodes, ["station-1", "worker-2"]);
        // Leaving processing ends the claim.
        let done = db
            .job_transition(
                "job_1",
                &[JobState::Processing],
                JobState::Held,
                JobPatch::default(),
                NewEvent::new("daemon", Action::JobHeld).subject("job", "job_1"),
            )
            .unwrap();
        assert_eq!(done.claimed_by, None);
        assert_eq!(done.lease_until, None);
    }

    /// Eight claimers on two handles (two processes) drain 40 jobs: every job is claimed
    /// exactly once and every claim is audited once.
    #[test]
    fn concurrent_claimers_never_share_a_job() {
        let fresh = fresh();
        for n in 0..40 {
            received(&*fresh.db, &format!("job_{n:02}"));
        }
        let other = fresh.another();
        let claimed: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|t| {
                    let db = if t % 2 == 0 {
                        fresh.db.clone()
                    } else {
                        other.clone()
                    };
                    s.spawn(move || {
                        let mut mine = Vec::new();
                        while let Some(job) = db.job_claim(&format!("node-{t}"), later(60)).unwrap()
                        {
                            assert_eq!(job.claimed_by, Some(format!("node-{t}")));
                            mine.push(job.id);
                        }
                        mine
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let mut sorted = claimed.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 40, "claimed twice: {claimed:?}");
        assert_eq!(claimed.len(), 40);
        assert_eq!(count(&*fresh.db, Action::JobProcessing), 40);
        assert!(verify_audit(&*fresh.db, None).unwrap().is_ok());
    }

    /// A node that stops beating loses its processing jobs to the queue, with an audit event;
    /// a node that beats keeps them.
    #[test]
    fn a_lapsed_lease_puts_the_job_back_and_a_heartbeat_keeps_it() {
        let fresh = fresh();
        let db = &*fresh.db;
        received(db, "job_a_dead");
        received(db, "job_b_alive");
        let past = Timestamp::now() - time::Duration::seconds(5);
        assert_eq!(db.job_claim("dead", past).unwrap().unwrap().id, "job_a_dead");
        assert_eq!(db.job_claim("alive", past).unwrap().unwrap().id, "job_b_alive");
        assert_eq!(db.node_beat(&beat("alive"), later(60)).unwrap(), 1);

        assert_eq!(db.jobs_reclaim_lapsed(Timestamp::now()).unwrap(), ["job_a_dead"]);
        let back = db.job_get("job_a_dead").unwrap().unwrap();
        assert_eq!(back.state, JobState::Received);
        assert_eq!(back.claimed_by, None);
        let kept = db.job_get("job_b_alive").unwrap().unwrap();
        assert_eq!(kept.state, JobState::Processing);
        assert_eq!(kept.claimed_by.as_deref(), Some("alive"));
        assert_eq!(count(db, Action::JobLeaseLapsed), 1);
        // Nothing more to take back, and the job is claimable again.
        assert!(db.jobs_reclaim_lapsed(Timestamp::now()).unwrap().is_empty());
        assert_eq!(db.job_claim("other", later(60)).unwrap().unwrap().id, "job_a_dead");
        // The stalled node's late result is refused: the job is another node's now.
        let late = db.job_transition(
            "job_a_dead",
            &[JobState::Processing],
            JobState::Processed,
            JobPatch {
                claimed_by: Some("dead".into()),
                ..Default::default()
            },
            NewEvent::new("daemon", Action::JobProcessed).subject("job", "job_a_dead"),
        );
        assert!(
            matches!(&late, Err(quire_state::StateError::Conflict(m)) if m.contains("no longer claimed")),
            "{late:?}"
        );
        let mine = JobPatch {
            claimed_by: Some("other".into()),
            ..Default::default()
        };
        let done = db
            .job_transition(
                "job_a_dead",
                &[JobState::Processing],
                JobState::Processed,
                mine,
                NewEvent::new("daemon", Action::JobProcessed).subject("job", "job_a_dead"),
            )
            .unwrap();
        assert_eq!(done.state, JobState::Processed);
        assert!(verify_audit(db, None).unwrap().is_ok());
    }

    /// A ready job is held by one node for delivery; others skip it until its lease lapses.
    #[test]
    fn a_ready_job_is_delivered_by_one_node_at_a_time() {
        let fresh = fresh();
        let db = &*fresh.db;
        let r = article_request(1, &Ask::journal("LIB-A", "2026-03-01T10:00:00Z"));
        db.requests_add(std::slice::from_ref(&r), "test").unwrap();
        received(db, "job_ready");
        received(db, "job_unmatched");
        for (id, request) in [("job_ready", Some(r.id.clone())), ("job_unmatched", None)] {
            db.job_transition(
                id,
                &[JobState::Received],
                JobState::Processed,
                JobPatch {
                    request_id: request,
                    ..Default::default()
                },
                NewEvent::new("daemon", Action::JobProcessed).subject("job", id),
            )
            .unwrap();
        }
        let soon = Timestamp::now() + time::Duration::milliseconds(300);
        let a = db.jobs_claim_ready("a", soon, 16).unwrap();
        assert_eq!(
            a.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
            ["job_ready"],
            "only a processed job with a request is ready"
        );
        assert!(db.jobs_claim_ready("b", later(60), 16).unwrap().is_empty());
        // Its own claim again (a delivery it tries again).
        assert_eq!(db.jobs_claim_ready("a", soon, 16).unwrap().len(), 1);
        std::thread::sleep(std::time::Duration::from_millis(400));
        // Lapsed: taken back without an event (the job stays processed), then b may take it.
        assert!(db.jobs_reclaim_lapsed(Timestamp::now()).unwrap().is_empty());
        assert_eq!(count(db, Action::JobLeaseLapsed), 0);
        let b = db.jobs_claim_ready("b", later(60), 16).unwrap();
        assert_eq!(b[0].claimed_by.as_deref(), Some("b"));
        assert_eq!(b[0].state, JobState::Processed);
    }

    #[test]
    fn nodes_list_their_roles_last_beat_and_jobs_in_hand() {
        let fresh = fresh();
        let db = &*fresh.db;
        received(db, "job_1");
        let mut station = beat("station-1");
        station.roles = vec!["intake".into()];
        db.node_beat(&station, later(60)).unwrap();
        db.node_beat(&beat("worker-1"), later(60)).unwrap();
        db.job_claim("worker-1", later(60)).unwrap().unwrap();
        // A second beat updates the row, it does not add one.
        db.node_beat(&beat("worker-1"), later(60)).unwrap();
        let nodes = db.nodes_list().unwrap();
        let shown: Vec<_> = nodes
            .iter()
            .map(|n| (n.beat.name.as_str(), n.beat.roles.join(","), n.jobs_in_hand))
            .collect();
        assert_eq!(
            shown,
            [
                ("station-1", "intake".to_string(), 0),
                ("worker-1", "worker".to_string(), 1)
            ]
        );
        assert_eq!(nodes[1].beat.pid, 4242);
        assert!(nodes[1].last_beat >= nodes[0].last_beat);
    }
}

/// Two nodes' senders share the queue of e-mails: a notice taken by one is not due for the
/// other until its hold ends.
#[test]
fn a_claimed_notice_is_sent_by_one_sender_only() {
    let h = History::new();
    h.five("NTC", "2026-05-05T00:00:00.000Z");
    let other = h._fresh.another();
    let (a, b): (Vec<_>, Vec<_>) = std::thread::scope(|s| {
        let first = s.spawn(|| h.db.notices_claim("worker-1", 3, Timestamp::now() + time::Duration::minutes(10)));
        let second =
            s.spawn(|| other.notices_claim("worker-2", 3, Timestamp::now() + time::Duration::minutes(10)));
        (first.join().unwrap().unwrap(), second.join().unwrap().unwrap())
    });
    let mut ids: Vec<i64> = a.iter().chain(&b).map(|n| n.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "each notice once: {a:?} {b:?}");
    assert_eq!(a.len() + b.len(), 5);
    assert!(h.db.notices_due(100).unwrap().is_empty());
    assert!(h.db.notices_claim("worker-1", 10, Timestamp::now()).unwrap().is_empty());
    // A hold that has ended (its sender died before recording the outcome) is due again.
    let h = History::new();
    h.five("NTC", "2026-05-05T00:00:00.000Z");
    let ended = Timestamp::now() - time::Duration::seconds(1);
    assert_eq!(h.db.notices_claim("worker-1", 10, ended).unwrap().len(), 5);
    assert_eq!(h.db.notices_due(100).unwrap().len(), 5);
}

/// A node killed while sending holds its notices for ten minutes; when that node starts again
/// it frees its own at once, and never another node's, nor one already sent.
#[test]
fn a_restarted_sender_frees_its_own_held_notices_only() {
    let h = History::new();
    h.five("NTR", "2026-05-05T00:00:00.000Z");
    let hold = Timestamp::now() + time::Duration::minutes(10);
    let mine = h.db.notices_claim("worker-1", 3, hold).unwrap();
    let theirs = h.db.notices_claim("worker-2", 10, hold).unwrap();
    assert_eq!((mine.len(), theirs.len()), (3, 2));
    // One of this node's was sent before the kill: it stays sent.
    h.db.notice_update(
        "worker-1",
        mine[0].id,
        quire_domain::NoticeState::Sent,
        Timestamp::now(),
        None,
        NewEvent::new("daemon", Action::NoticeSent),
    )
    .unwrap();
    assert!(h.db.notices_due(100).unwrap().is_empty());
    assert_eq!(h.db.notices_release("worker-3").unwrap(), 0);
    assert_eq!(h.db.notices_release("worker-1").unwrap(), 2);
    let mut due: Vec<i64> = h.db.notices_due(100).unwrap().iter().map(|n| n.id).collect();
    due.sort();
    assert_eq!(due, vec![mine[1].id, mine[2].id], "only worker-1's unsent ones");
    // Freed means claimable by anyone, and a second release finds nothing.
    assert_eq!(h.db.notices_release("worker-1").unwrap(), 0);
    let taken = h.db.notices_claim("worker-2", 10, hold).unwrap();
    assert_eq!(taken.len(), 2);
    // worker-1's late result for a notice worker-2 now holds is refused and changes nothing.
    let late = h.db.notice_update(
        "worker-1",
        taken[0].id,
        quire_domain::NoticeState::Failed,
        Timestamp::now(),
        Some("late"),
        NewEvent::new("daemon", Action::NoticeFailed),
    );
    assert!(matches!(late, Err(quire_state::StateError::Conflict(_))), "{late:?}");
    let sent_before = h.db.notices_due(100).unwrap().len();
    assert_eq!(sent_before, 0, "still held by worker-2");
    assert_eq!(h.db.notices_release("worker-2").unwrap(), 4);
}

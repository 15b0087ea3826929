// Webhook cursors: the audit log as the webhooks' outbox. Included once per backend by
// `tests/suite.rs`, after `conformance.rs`.

mod webhooks {
    use super::*;

    fn later(seconds: i64) -> Timestamp {
        Timestamp::now() + time::Duration::seconds(seconds)
    }

    fn note(db: &dyn TestDatabase, text: &str) -> i64 {
        db.audit_append(
            NewEvent::new("staff", Action::AuditNote).details(serde_json::json!({ "text": text })),
        )
        .unwrap()
        .seq
    }

    fn after(db: &dyn TestDatabase, seq: i64, limit: usize) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        db.audit_scan(
            &AuditFilter {
                after_seq: Some(seq),
                limit: Some(limit),
                ..Default::default()
            },
            &mut |e| {
                out.push((e.seq, e.action));
                Ok(())
            },
        )
        .unwrap();
        out
    }

    /// A new endpoint starts at the log's end; one node's claim keeps another node out until
    /// it is released or lapses; only the holder moves the cursor; a failed try waits; giving
    /// up appends its event in the same step; the log reads on from any seq, a page at a time.
    #[test]
    fn a_webhook_cursor_starts_at_the_end_and_moves_only_for_the_node_holding_it() {
        let fresh = fresh();
        let (a, b) = (&*fresh.db, &*fresh.another());
        let first = note(a, "before the endpoint");
        let cursor = a
            .webhook_claim("ill", "node-a", later(60))
            .unwrap()
            .expect("a new cursor is free");
        assert_eq!(cursor.last_seq, first, "starts at the log's end");
        assert_eq!(cursor.attempts, 0);
        assert_eq!(cursor.claimed_by.as_deref(), Some("node-a"));
        assert_eq!(b.webhook_claim("ill", "node-b", later(60)).unwrap(), None, "held");
        assert!(a.webhook_claim("ill", "node-a", later(60)).unwrap().is_some(), "renewed");

        let (s1, s2, s3) = (note(a, "one"), note(a, "two"), note(a, "three"));
        let page: Vec<i64> = after(a, cursor.last_seq, 2).iter().map(|e| e.0).collect();
        assert_eq!(page, vec![s1, s2], "in seq order, at most the limit");
        assert_eq!(after(b, s2, 10).iter().map(|e| e.0).collect::<Vec<_>>(), vec![s3]);

        assert!(!b.webhook_advance("ill", "node-b", s1, None).unwrap(), "not its claim");
        assert!(a.webhook_advance("ill", "node-a", s1, None).unwrap());
        assert!(!a.webhook_advance("ill", "node-a", first, None).unwrap(), "never backwards");

        // A failed try: not due until its time, for this node or another.
        assert!(a.webhook_retry("ill", "node-a", 1, later(3600), "HTTP 500").unwrap());
        assert_eq!(a.webhook_claim("ill", "node-a", later(60)).unwrap(), None, "waits");
        let listed = b.webhooks_list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].last_seq, listed[0].attempts), (s1, 1));
        assert_eq!(listed[0].last_error.as_deref(), Some("HTTP 500"));
        assert!(listed[0].next_attempt_at.is_some());
        assert!(a.webhook_retry("ill", "node-a", 2, Timestamp::now(), "HTTP 502").unwrap());
        let due = a.webhook_claim("ill", "node-a", later(60)).unwrap().unwrap();
        assert_eq!((due.last_seq, due.attempts), (s1, 2));

        // Given up: the cursor moves past the event and the failure is in the log, together.
        let gave_up = NewEvent::new("daemon", Action::WebhookFailed)
            .subject("webhook", "ill")
            .details(serde_json::json!({ "event": s2 }));
        assert!(a.webhook_advance("ill", "node-a", s2, Some(gave_up)).unwrap());
        let moved = &a.webhooks_list().unwrap()[0];
        assert_eq!((moved.last_seq, moved.attempts, moved.next_attempt_at), (s2, 0, None));
        assert_eq!(moved.last_error, None);
        let tail = after(a, s3, 10);
        assert_eq!(tail.len(), 1);
        assert_eq!(tail[0].1, "webhook.failed");

        // A restarted node gives its claims back at once; a lapsed claim is free too.
        assert_eq!(a.webhook_release("node-a").unwrap(), 1);
        let taken = b.webhook_claim("ill", "node-b", Timestamp::now()).unwrap().unwrap();
        assert_eq!(taken.last_seq, s2, "where node-a left it");
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(a.webhook_claim("ill", "node-a", later(60)).unwrap().is_some(), "lapsed");
        assert!(!b.webhook_advance("ill", "node-b", s3, None).unwrap());

        // Each endpoint has its own cursor.
        let other = b.webhook_claim("crm", "node-b", later(60)).unwrap().unwrap();
        assert_eq!(other.last_seq, tail[0].0);
        let names: Vec<String> = a.webhooks_list().unwrap().into_iter().map(|c| c.endpoint).collect();
        assert_eq!(names, vec!["crm", "ill"]);
        assert!(verify_audit(a, None).unwrap().is_ok());
    }
}

// ISO 18626 transactions, their messages and the outbox of status messages. Included once per
// backend by `tests/suite.rs`.

mod ill {
    use super::*;
    use quire_state::{
        Direction, IllStatus, IllTransaction, NewIllMessage, OutboxState, StateError,
    };

    fn transaction(request: &str, requester_id: &str) -> IllTransaction {
        IllTransaction {
            request_id: request.into(),
            peer_agency_type: "ISIL".into(),
            peer_agency_id: "US-ABC".into(),
            requester_request_id: requester_id.into(),
            multiple_item_request_id: None,
            service_type: "Copy".into(),
            status: IllStatus::ExpectToSupply,
            basis_given: true,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn received(request: &str) -> NewIllMessage {
        NewIllMessage {
            request_id: Some(request.into()),
            peer: "ISIL:US-ABC".into(),
            direction: Direction::In,
            kind: "request".into(),
            summary: "Copy".into(),
            body: "<request/>".into(),
        }
    }

    fn add(db: &dyn TestDatabase, n: u32, requester_id: &str) -> Result<Request, StateError> {
        let r = article_request(n, &Ask::journal("US-ABC", "2026-03-01T10:00:00Z"));
        db.ill_request_add(
            &r,
            &transaction(&r.id, requester_id),
            &received(&r.id),
            Some("<supplyingAgencyMessage>ExpectToSupply</supplyingAgencyMessage>"),
            NewEvent::new("iso18626:ISIL:US-ABC", Action::Iso18626Received)
                .subject("request", &r.id),
        )?;
        Ok(r)
    }

    /// A request from a peer lands whole: request, requester's side, message, queued reply
    /// and audit events; the same requester id again is a conflict and adds nothing.
    #[test]
    fn a_peer_request_is_recorded_once_with_its_reply_queued() {
        let fresh = fresh();
        let db = &*fresh.db;
        let r = add(db, 1, "REQ-1").unwrap();
        let t = db.ill_find("ISIL", "US-ABC", "REQ-1").unwrap().unwrap();
        assert_eq!(t.request_id, r.id);
        assert_eq!(t.status, IllStatus::ExpectToSupply);
        assert_eq!(db.ill_of_request(&r.id).unwrap().unwrap(), t);
        assert!(db.request_get(&r.id).unwrap().is_some());
        let again = article_request(2, &Ask::journal("US-ABC", "2026-03-01T10:00:00Z"));
        let dup = db.ill_request_add(
            &again,
            &transaction(&again.id, "REQ-1"),
            &received(&again.id),
            None,
            NewEvent::new("iso18626:ISIL:US-ABC", Action::Iso18626Received),
        );
        assert!(matches!(dup, Err(StateError::Conflict(_))), "{dup:?}");
        assert!(db.request_get(&again.id).unwrap().is_none(), "nothing half-added");
        let messages = db.ill_messages(&r.id).unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].direction, Direction::In);
        let outbox = db.ill_outbox_list(None).unwrap();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].status, IllStatus::ExpectToSupply);
        assert_eq!(outbox[0].peer, "ISIL:US-ABC");
        assert!(verify_audit(db, None).unwrap().is_ok());
    }

    /// A status change is compare-and-set on what the requester was told, and queues its
    /// message; the outbox is claimed by one sender and updated with the outcome.
    #[test]
    fn statuses_move_once_and_the_outbox_is_claimed_by_one_sender() {
        let fresh = fresh();
        let db = &*fresh.db;
        let r = add(db, 1, "REQ-9").unwrap();
        let event = || {
            NewEvent::new("daemon", Action::Iso18626Received).subject("request", r.id.clone())
        };
        db.ill_status(
            &r.id,
            &[IllStatus::ExpectToSupply, IllStatus::WillSupply],
            IllStatus::CopyCompleted,
            "<done/>",
            event(),
        )
        .unwrap();
        let late = db.ill_status(
            &r.id,
            &[IllStatus::ExpectToSupply, IllStatus::WillSupply],
            IllStatus::Cancelled,
            "<cancelled/>",
            event(),
        );
        assert!(matches!(late, Err(StateError::Conflict(_))), "{late:?}");
        assert_eq!(
            db.ill_of_request(&r.id).unwrap().unwrap().status,
            IllStatus::CopyCompleted
        );
        assert!(matches!(
            db.ill_status("nope", &[], IllStatus::Unfilled, "", event()),
            Err(StateError::NotFound(_))
        ));

        let other = fresh.another();
        let hold = Timestamp::now() + time::Duration::minutes(5);
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| db.ill_outbox_claim("worker-1", 10, hold).unwrap());
            let b = s.spawn(|| other.ill_outbox_claim("worker-2", 10, hold).unwrap());
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!(a.len() + b.len(), 2, "each message once: {a:?} {b:?}");
        assert!(db.ill_outbox_claim("worker-1", 10, hold).unwrap().is_empty());
        let first = a.iter().chain(&b).map(|m| m.id).min().unwrap();
        let confirmation = NewIllMessage {
            request_id: Some(r.id.clone()),
            peer: "ISIL:US-ABC".into(),
            direction: Direction::In,
            kind: "supplyingAgencyMessageConfirmation".into(),
            summary: "OK".into(),
            body: "<ok/>".into(),
        };
        let holder_of = |id: i64| {
            if a.iter().any(|m| m.id == id) {
                ("worker-1", "worker-2")
            } else {
                ("worker-2", "worker-1")
            }
        };
        let (holder, other_node) = holder_of(first);
        let update = |node: &str| {
            db.ill_outbox_update(
                node,
                first,
                OutboxState::Sent,
                Timestamp::now(),
                None,
                Some(&confirmation),
                NewEvent::new("daemon", Action::Iso18626Sent),
            )
        };
        // Only the sender holding it records its result.
        assert!(matches!(update(other_node), Err(StateError::Conflict(_))));
        update(holder).unwrap();
        let sent = db.ill_outbox_list(Some(OutboxState::Sent)).unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].attempts, 1);
        // The other one's sender was killed: only its own node, started again, frees it.
        let held = a.iter().chain(&b).find(|m| m.id != first).unwrap();
        let (holder, stranger) = holder_of(held.id);
        assert_eq!(db.ill_outbox_release(stranger).unwrap(), 0);
        assert_eq!(db.ill_outbox_release(holder).unwrap(), 1);
        let again: Vec<i64> = db
            .ill_outbox_claim("worker-3", 10, hold)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(again, vec![held.id]);
        assert_eq!(db.ill_messages(&r.id).unwrap().len(), 2);
        let last = db.ill_last_messages().unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].kind, "supplyingAgencyMessageConfirmation");
    }

    /// A person sets the basis a peer did not give; once a copy is counted it is fixed.
    #[test]
    fn a_basis_is_set_by_a_person_until_a_copy_is_counted() {
        let h = History::new();
        let db = &*h.db;
        let r = add(db, 1, "REQ-B").unwrap();
        let set = |basis| {
            db.request_set_basis(
                &r.id,
                basis,
                None,
                NewEvent::new("officer", Action::RequestBasisSet).subject("request", &r.id),
            )
        };
        let changed = set(Basis::Ccl).unwrap();
        assert_eq!(changed.basis, Basis::Ccl);
        assert!(db.ill_of_request(&r.id).unwrap().unwrap().basis_given);
        h.resend(&r.id);
        assert!(matches!(set(Basis::Ccg), Err(StateError::Conflict(_))));
        assert_eq!(db.request_get(&r.id).unwrap().unwrap().basis, Basis::Ccl);
        assert!(matches!(
            db.request_set_basis(
                "nope",
                Basis::Ccg,
                None,
                NewEvent::new("officer", Action::RequestBasisSet)
            ),
            Err(StateError::NotFound(_))
        ));
    }

    /// Retention removes a peer's request with its ISO 18626 records.
    #[test]
    fn retention_takes_the_iso18626_records_with_their_request() {
        let fresh = fresh();
        let db = &*fresh.db;
        let r = add(db, 1, "REQ-OLD").unwrap();
        db.backdate_request(&r.id, "2019-01-01T00:00:00.000Z");
        let report = db
            .retention_prune(ts("2024-01-01T00:00:00.000Z"), "officer", false)
            .unwrap();
        assert!(report.requests.contains(&r.id), "{:?}", report.requests);
        assert!(db.ill_find("ISIL", "US-ABC", "REQ-OLD").unwrap().is_none());
        assert!(db.ill_messages(&r.id).unwrap().is_empty());
        assert!(db.ill_outbox_list(None).unwrap().is_empty());
    }
}

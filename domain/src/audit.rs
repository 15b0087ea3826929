//! The audit chain, independent of any database: what an event is, how it is sealed, and how a
//! sequence of events is verified.
//!
//! `hash = SHA-256(prev_hash ‖ "\n" ‖ canonical)`, where `canonical` is the compact JSON array
//! `[seq, time, actor, action, subjects, details]` with object keys in sorted order (serde_json's
//! default map is ordered), so the same event always hashes the same on every backend.

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

use crate::action::{Action, SCAN_FAULT};

/// An event as a caller describes it; the log adds seq, time and hashes.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// `daemon`, a staff user name, or `borrower:<link id>`.
    pub actor: String,
    /// A stable dotted code such as `job.received`: an [`Action`]'s name, or a scanner fault's.
    action: String,
    /// Ids the event is about: `{"request": "TN1", "job": "job_…"}`.
    pub subjects: Map<String, Value>,
    pub details: Value,
}

impl NewEvent {
    pub fn new(actor: impl Into<String>, action: Action) -> Self {
        Self::named(actor.into(), action.as_str().to_string())
    }

    /// A scanner fault of the driver's class `class` (`scan.fault.jammed`).
    pub fn scan_fault(actor: impl Into<String>, class: &str) -> Self {
        Self::named(actor.into(), format!("{SCAN_FAULT}{class}"))
    }

    fn named(actor: String, action: String) -> Self {
        Self {
            actor,
            action,
            subjects: Map::new(),
            details: Value::Object(Map::new()),
        }
    }

    /// The stored name of the action.
    pub fn action(&self) -> &str {
        &self.action
    }

    pub fn subject(mut self, kind: &str, id: impl Into<String>) -> Self {
        self.subjects.insert(kind.into(), Value::String(id.into()));
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// Adds the fields of `more` (an object) to the details, replacing any of the same name.
    pub fn details_merge(mut self, more: Value) -> Self {
        if let (Value::Object(into), Value::Object(from)) = (&mut self.details, more) {
            into.extend(from);
        }
        self
    }
}

/// A sealed event as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub time: String,
    pub actor: String,
    pub action: String,
    pub subjects: Value,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The columns of an audit export in CSV, in the order of [`Event::csv_record`].
pub const CSV_HEADER: [&str; 8] = [
    "seq",
    "time",
    "actor",
    "action",
    "subjects",
    "details",
    "prev_hash",
    "hash",
];

impl Event {
    /// One CSV row; subjects and details stay JSON so the row can be re-hashed.
    pub fn csv_record(self) -> [String; 8] {
        [
            self.seq.to_string(),
            self.time,
            self.actor,
            self.action,
            self.subjects.to_string(),
            self.details.to_string(),
            self.prev_hash,
            self.hash,
        ]
    }
}

/// Seals `new` as the event after `prev` (seq `prev_seq + 1`).
pub fn seal(prev_seq: i64, prev_hash: &str, time: String, new: NewEvent) -> Event {
    let mut event = Event {
        seq: prev_seq + 1,
        time,
        actor: new.actor,
        action: new.action,
        subjects: Value::Object(new.subjects),
        details: new.details,
        prev_hash: prev_hash.to_string(),
        hash: String::new(),
    };
    event.hash = compute_hash(&event);
    event
}

pub fn compute_hash(e: &Event) -> String {
    let canonical = serde_json::to_string(&(
        &e.seq,
        &e.time,
        &e.actor,
        &e.action,
        &e.subjects,
        &e.details,
    ))
    .expect("JSON values always serialise");
    let mut h = Sha256::new();
    h.update(e.prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

/// The chain's head, printable and parseable as `seq:hash`, to keep somewhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
}

impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl std::str::FromStr for Anchor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (seq, hash) = s.split_once(':').ok_or("an anchor is written SEQ:HASH")?;
        let seq = seq
            .trim()
            .parse()
            .map_err(|_| format!("bad sequence number `{seq}`"))?;
        let hash = hash.trim().to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("the hash must be 64 hex digits".into());
        }
        Ok(Self { seq, hash })
    }
}

/// Where the chain first goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub seq: i64,
    pub reason: String,
}

/// Walks events in stored order, checking numbering, links and hashes.
///
/// `start` is where the chain must begin: `(0, GENESIS)` for a whole log, or a pruning
/// checkpoint's `(through_seq, head_hash)`.
pub struct Verifier {
    expected_seq: i64,
    expected_prev: String,
    count: u64,
    anchor: Option<Anchor>,
    anchor_seen: bool,
    /// A chain that starts at a checkpoint is only sound if a later `retention.pruned` event
    /// records that very checkpoint: a checkpoint row alone can be inserted by anyone who
    /// deletes the oldest events, and would otherwise hide the deletion.
    unconfirmed_checkpoint: Option<Anchor>,
}

impl Verifier {
    pub fn new(start_seq: i64, start_hash: &str, anchor: Option<Anchor>) -> Self {
        let anchor_seen = anchor
            .as_ref()
            .is_some_and(|a| a.seq == start_seq && a.hash == start_hash);
        let unconfirmed_checkpoint = (start_seq > 0).then(|| Anchor {
            seq: start_seq,
            hash: start_hash.into(),
        });
        Self {
            expected_seq: start_seq + 1,
            expected_prev: start_hash.into(),
            count: 0,
            anchor,
            anchor_seen,
            unconfirmed_checkpoint,
        }
    }

    pub fn check(&mut self, e: &Event) -> Result<(), Break> {
        let fail = |reason: String| Err(Break { seq: e.seq, reason });
        if e.seq != self.expected_seq {
            return fail(format!(
                "expected seq {} here, found {} (rows deleted, inserted or reordered)",
                self.expected_seq, e.seq
            ));
        }
        if e.prev_hash != self.expected_prev {
            return fail("prev_hash does not match the previous event's hash".into());
        }
        if compute_hash(e) != e.hash {
            return fail("hash does not match the event's contents (row altered)".into());
        }
        if let Some(c) = &self.unconfirmed_checkpoint
            && Action::RetentionPruned.names(&e.action)
            && e.details.get("checkpoint").and_then(Value::as_str) == Some(&c.to_string())
        {
            self.unconfirmed_checkpoint = None;
        }
        if let Some(a) = &self.anchor
            && a.seq == e.seq
        {
            if a.hash != e.hash {
                return fail(format!("event {} does not match the anchor {a}", e.seq));
            }
            self.anchor_seen = true;
        }
        self.expected_seq += 1;
        self.expected_prev = e.hash.clone();
        self.count += 1;
        Ok(())
    }

    /// Ends the walk; with an anchor, a log that stops before the anchor was truncated.
    pub fn finish(self) -> Result<Summary, Break> {
        if let Some(c) = &self.unconfirmed_checkpoint {
            return Err(Break {
                seq: c.seq + 1,
                reason: format!(
                    "the chain starts at checkpoint {c}, but no {} event after it \
                     records that checkpoint: events up to seq {} were deleted outside a retention \
                     run (forged checkpoint)",
                    Action::RetentionPruned,
                    c.seq
                ),
            });
        }
        if let Some(a) = &self.anchor
            && !self.anchor_seen
        {
            return Err(Break {
                seq: self.expected_seq,
                reason: format!(
                    "the log ends at seq {} but the anchor {a} is later: the log was truncated",
                    self.expected_seq - 1
                ),
            });
        }
        Ok(Summary {
            count: self.count,
            head: Anchor {
                seq: self.expected_seq - 1,
                hash: self.expected_prev,
            },
        })
    }
}

#[derive(Debug, Clone)]
pub struct Summary {
    /// Events checked (those after any pruning checkpoint).
    pub count: u64,
    pub head: Anchor,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: i64) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::new();
        for i in 0..n {
            let (seq, prev) = out
                .last()
                .map(|e| (e.seq, e.hash.clone()))
                .unwrap_or((0, GENESIS.into()));
            let ev = NewEvent::new("daemon", Action::JobReceived)
                .subject("job", format!("j{i}"))
                .details(json!({"b": 1, "a": [i]}));
            out.push(seal(seq, &prev, format!("2026-01-01T00:00:0{i}Z"), ev));
        }
        out
    }

    fn verify(events: &[Event], anchor: Option<Anchor>) -> Result<Summary, Break> {
        let mut v = Verifier::new(0, GENESIS, anchor);
        for e in events {
            v.check(e)?;
        }
        v.finish()
    }

    #[test]
    fn a_sound_chain_verifies_and_reports_its_head() {
        let c = chain(5);
        let s = verify(&c, None).unwrap();
        assert_eq!(s.count, 5);
        assert_eq!(
            s.head,
            Anchor {
                seq: 5,
                hash: c[4].hash.clone()
            }
        );
    }

    #[test]
    fn hashing_ignores_key_order_in_details() {
        let a = seal(
            0,
            GENESIS,
            "t".into(),
            NewEvent::new("x", Action::AuditNote).details(json!({"a": 1, "b": 2})),
        );
        let b = seal(
            0,
            GENESIS,
            "t".into(),
            NewEvent::new("x", Action::AuditNote)
                .details(serde_json::from_str(r#"{"b":2,"a":1}"#).unwrap()),
        );
        assert_eq!(a.hash, b.hash);
    }

    #[test]
    fn each_kind_of_tampering_names_the_first_bad_seq() {
        let mut altered = chain(5);
        altered[2].actor = "mallory".into();
        assert_eq!(verify(&altered, None).unwrap_err().seq, 3);

        let mut deleted = chain(5);
        deleted.remove(1);
        assert_eq!(verify(&deleted, None).unwrap_err().seq, 3);

        let mut reordered = chain(5);
        reordered.swap(3, 4);
        assert_eq!(verify(&reordered, None).unwrap_err().seq, 5);
    }

    #[test]
    fn a_checkpoint_needs_the_retention_event_that_left_it() {
        let c = chain(5);
        let checkpoint = format!("2:{}", c[1].hash);
        let verify_from_2 = |events: &[Event]| {
            let mut v = Verifier::new(2, &c[1].hash, None);
            for e in events {
                v.check(e)?;
            }
            v.finish()
        };
        // Events 1-2 deleted behind a checkpoint nobody recorded: the forgery is named.
        let err = verify_from_2(&c[2..]).unwrap_err();
        assert_eq!(err.seq, 3);
        assert!(err.reason.contains("forged checkpoint"), "{err:?}");

        // The same cut made by a retention run that recorded its checkpoint verifies.
        let mut pruned = c[2..].to_vec();
        let last = pruned.last().unwrap().clone();
        pruned.push(seal(
            last.seq,
            &last.hash,
            "t".into(),
            NewEvent::new("daemon", Action::RetentionPruned)
                .details(json!({ "checkpoint": checkpoint })),
        ));
        assert!(verify_from_2(&pruned).is_ok());

        // A retention event naming another checkpoint does not vouch for this one.
        let mut other = c[2..].to_vec();
        other.push(seal(
            last.seq,
            &last.hash,
            "t".into(),
            NewEvent::new("daemon", Action::RetentionPruned)
                .details(json!({ "checkpoint": format!("1:{}", c[0].hash) })),
        ));
        assert!(verify_from_2(&other).is_err());
    }

    #[test]
    fn an_anchor_exposes_truncation() {
        let c = chain(5);
        let anchor: Anchor = format!("5:{}", c[4].hash).parse().unwrap();
        assert!(verify(&c, Some(anchor.clone())).is_ok());
        let err = verify(&c[..3], Some(anchor)).unwrap_err();
        assert!(err.reason.contains("truncated"), "{err:?}");
    }
}

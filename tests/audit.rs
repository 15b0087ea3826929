//! The audit log end to end: a real database file, tampered with by SQL as an attacker would
//! (triggers dropped first), must fail `quire audit verify` naming the first bad seq.

use rusqlite::Connection;

use crate::util::{Home, stderr, stdout};

/// A home whose log holds `n` notes (seq 1..=n).
fn home_with_notes(n: usize) -> Home {
    let home = Home::new();
    for i in 1..=n {
        home.ok(&["audit", "note", &format!("note {i}"), "--actor", "tester"]);
    }
    home
}

fn tamper(home: &Home, sql: &str) {
    let conn = Connection::open(home.db_path()).unwrap();
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete;",
    )
    .unwrap();
    conn.execute_batch(sql).unwrap();
}

fn assert_broken_at(home: &Home, seq: i64) {
    let out = home.fails(&["audit", "verify"]);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("BROKEN at seq {seq}:")),
        "expected a break at seq {seq}, got:\n{err}"
    );
}

#[test]
fn an_untouched_log_verifies_with_count_and_head() {
    let home = home_with_notes(4);
    let out = home.ok(&["audit", "verify"]);
    let text = stdout(&out);
    assert!(text.contains("4 events"), "{text}");
    let anchor = stdout(&home.ok(&["audit", "anchor"])).trim().to_string();
    assert!(
        anchor.starts_with("4:") && anchor.len() == 2 + 64,
        "{anchor}"
    );
    assert!(
        text.contains(&anchor),
        "verify should print the head {anchor}: {text}"
    );
}

#[test]
fn the_triggers_refuse_casual_edits() {
    let home = home_with_notes(2);
    let conn = Connection::open(home.db_path()).unwrap();
    let err = conn
        .execute("UPDATE audit_events SET actor = 'x' WHERE seq = 1", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = conn
        .execute("DELETE FROM audit_events WHERE seq = 1", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

#[test]
fn a_changed_row_is_found() {
    let home = home_with_notes(5);
    tamper(
        &home,
        "UPDATE audit_events SET details = '{\"text\":\"forged\"}' WHERE seq = 3;",
    );
    assert_broken_at(&home, 3);
}

#[test]
fn a_deleted_row_is_found() {
    let home = home_with_notes(5);
    tamper(&home, "DELETE FROM audit_events WHERE seq = 2;");
    assert_broken_at(&home, 3);
}

#[test]
fn an_inserted_row_is_found() {
    let home = home_with_notes(5);
    // Make room after seq 2 and slip a row in, copying a neighbour's hashes to look plausible.
    tamper(
        &home,
        "UPDATE audit_events SET seq = seq + 100 WHERE seq > 2;
         UPDATE audit_events SET seq = seq - 99 WHERE seq > 100;
         INSERT INTO audit_events (seq, time, actor, action, subjects, details, prev_hash, hash)
           SELECT 3, time, 'mallory', action, subjects, details, hash, hash FROM audit_events WHERE seq = 2;",
    );
    assert_broken_at(&home, 3);
}

#[test]
fn reordered_rows_are_found() {
    let home = home_with_notes(5);
    tamper(
        &home,
        "UPDATE audit_events SET seq = 100 WHERE seq = 2;
         UPDATE audit_events SET seq = 2 WHERE seq = 4;
         UPDATE audit_events SET seq = 4 WHERE seq = 100;",
    );
    assert_broken_at(&home, 2);
}

#[test]
fn an_anchor_exposes_a_truncated_tail() {
    let home = home_with_notes(5);
    let anchor = stdout(&home.ok(&["audit", "anchor"])).trim().to_string();
    home.ok(&["audit", "verify", "--anchor", &anchor]);
    tamper(&home, "DELETE FROM audit_events WHERE seq >= 4;");
    // Without the anchor a cut tail is indistinguishable from a shorter log...
    home.ok(&["audit", "verify"]);
    // ...with it, the cut shows.
    let out = home.fails(&["audit", "verify", "--anchor", &anchor]);
    assert!(stderr(&out).contains("truncated"), "{}", stderr(&out));
}

#[test]
fn a_forged_checkpoint_hiding_deleted_oldest_events_is_named() {
    let home = home_with_notes(6);
    let head = stdout(&home.ok(&["audit", "anchor"])).trim().to_string();
    // The probe's attack: a checkpoint row (which also unlocks the delete trigger), then the
    // oldest events deleted behind it.
    let conn = Connection::open(home.db_path()).unwrap();
    conn.execute_batch(
        "INSERT INTO audit_checkpoints (through_seq, head_hash, created_at)
           SELECT seq, hash, time FROM audit_events WHERE seq = 3;
         DELETE FROM audit_events WHERE seq <= 3;",
    )
    .unwrap();
    for args in [
        &["audit", "verify"][..],
        &["audit", "verify", "--anchor", &head],
    ] {
        let out = home.fails(args);
        let err = stderr(&out);
        assert!(
            err.contains("BROKEN at seq 4:") && err.contains("forged checkpoint"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn export_streams_every_event_as_jsonl_and_csv() {
    let home = home_with_notes(3);
    let jsonl = stdout(&home.ok(&["audit", "export", "--format", "jsonl"]));
    let events: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2]["details"]["text"], "note 3");
    assert_eq!(events[1]["prev_hash"], events[0]["hash"]);

    let csv = stdout(&home.ok(&["audit", "export", "--format", "csv", "--action", "audit."]));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("seq,time,actor,action,subjects,details,prev_hash,hash")
    );
    assert_eq!(lines.count(), 3);

    let none = stdout(&home.ok(&["audit", "export", "--until", "2000-01-01"]));
    assert!(none.is_empty(), "{none}");
    let out = home.fails(&["audit", "export", "--since", "yesterday"]);
    assert!(
        stderr(&out).contains("--since yesterday"),
        "{}",
        stderr(&out)
    );
}

/// The same commands on PostgreSQL (`[database] backend = "postgres"`): four processes note at
/// once, as four nodes would, and the one chain they wrote verifies; `config show` masks the
/// URL.
#[test]
fn on_postgres_concurrent_processes_write_one_chain_that_verifies() {
    let cluster = quire_testkit::postgres::Cluster::start().expect("a PostgreSQL cluster");
    let home = Home::with_config(&format!(
        "[database]\nbackend = \"postgres\"\nurl = \"{}\"\npool_size = 2\n",
        cluster.url()
    ));
    let shown = stdout(&home.ok(&["config", "show"]));
    assert!(
        !shown.contains(&cluster.url()) && shown.contains("backend = \"postgres\""),
        "{shown}"
    );
    std::thread::scope(|s| {
        for node in 0..4 {
            let home = &home;
            s.spawn(move || {
                for i in 0..5 {
                    home.ok(&[
                        "audit",
                        "note",
                        &format!("note {i} of node {node}"),
                        "--actor",
                        &format!("node-{node}"),
                    ]);
                }
            });
        }
    });
    let text = stdout(&home.ok(&["audit", "verify"]));
    assert!(text.contains("20 events"), "{text}");
    let stored = cluster
        .psql("SELECT count(*), count(DISTINCT prev_hash) FROM audit_events")
        .unwrap();
    assert_eq!(
        stored, "20|20",
        "one chain: no two events share a predecessor"
    );
}

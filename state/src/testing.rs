//! What the conformance suite (`tests/suite.rs`) needs beyond the [`Database`] traits: a fresh
//! empty database of each backend, a second handle on it (another process, as far as the
//! backend can tell), and histories the traits cannot make (a request made years ago, events
//! sealed long ago, notices long sent). Built only with the `testing` feature.
//!
//! A new backend implements [`Rewind`] and adds its opener here; the suite then runs on it
//! unchanged.

use std::path::PathBuf;
use std::sync::Arc;

use crate::sqlite::SqliteDatabase;
use crate::{Database, Event};

/// Rewriting history, for tests only.
pub trait Rewind {
    /// Sets when a request was made (RFC 3339 UTC, as stored).
    fn backdate_request(&self, id: &str, created_at: &str);
    /// Stores already-sealed events as the start of an empty chain, as an import would.
    fn seed_audit(&self, events: &[Event]);
    /// Marks every notice sent.
    fn mark_notices_sent(&self);
    /// The bodies of a delivery's notices, oldest first.
    fn notice_bodies(&self, delivery: &str) -> Vec<String>;
}

/// A backend as the suite drives it.
pub trait TestDatabase: Database + Rewind {}
impl<T: Database + Rewind> TestDatabase for T {}

/// A fresh, empty database; dropped with its files.
pub struct Fresh {
    pub db: Arc<dyn TestDatabase>,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Fresh {
    /// Another handle on the same database: another connection, as a second process has.
    pub fn another(&self) -> Arc<dyn TestDatabase> {
        Arc::new(SqliteDatabase::open(&self.path).expect("reopen the test database"))
    }
}

/// A fresh SQLite database in a temporary folder.
pub fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("q.sqlite3");
    let db = Arc::new(SqliteDatabase::open(&path).expect("open the test database"));
    Fresh {
        db,
        path,
        _dir: dir,
    }
}

impl Rewind for SqliteDatabase {
    fn backdate_request(&self, id: &str, created_at: &str) {
        self.conn()
            .execute(
                "UPDATE requests SET created_at = ?2 WHERE id = ?1",
                [id, created_at],
            )
            .expect("backdate the request");
    }

    fn seed_audit(&self, events: &[Event]) {
        let conn = self.conn();
        for e in events {
            conn.execute(
                "INSERT INTO audit_events (seq, time, actor, action, subjects, details, prev_hash, hash) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                rusqlite::params![e.seq, e.time, e.actor, e.action, e.subjects.to_string(), e.details.to_string(), e.prev_hash, e.hash],
            )
            .expect("seed the audit log");
        }
    }

    fn mark_notices_sent(&self) {
        self.conn()
            .execute("UPDATE notices SET state = 'sent'", [])
            .expect("mark notices sent");
    }

    fn notice_bodies(&self, delivery: &str) -> Vec<String> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT body FROM notices WHERE delivery_id = ?1 ORDER BY id")
            .expect("prepare");
        stmt.query_map([delivery], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("read notice bodies")
    }
}

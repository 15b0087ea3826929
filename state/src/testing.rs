//! What the conformance suite (`tests/suite.rs`) needs beyond the [`Database`] traits: a fresh
//! empty database of each backend, a second handle on it (another process, as far as the
//! backend can tell), and histories the traits cannot make (a request made years ago, events
//! sealed long ago, notices long sent). Built only with the `testing` feature.
//!
//! A new backend implements [`Rewind`] and adds its opener here; the suite then runs on it
//! unchanged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::postgres::PostgresDatabase;
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

type Opener = Box<dyn Fn() -> Arc<dyn TestDatabase> + Send + Sync>;

/// A fresh, empty database; dropped with its files.
pub struct Fresh {
    pub db: Arc<dyn TestDatabase>,
    open: Opener,
    _dir: Option<tempfile::TempDir>,
}

impl Fresh {
    /// Another handle on the same database: another connection (SQLite) or another pool
    /// (PostgreSQL), as a second process or node has.
    pub fn another(&self) -> Arc<dyn TestDatabase> {
        (self.open)()
    }
}

/// A fresh PostgreSQL database `t_<pid>_<n>` made on the server of `admin_url` (a database
/// the role may create databases from), opened with a small pool.
pub fn postgres(admin_url: &str) -> Fresh {
    let url = postgres_database(admin_url);
    let open = move || -> Arc<dyn TestDatabase> {
        Arc::new(PostgresDatabase::open(&url, 4).expect("open the test database"))
    };
    Fresh {
        db: open(),
        open: Box::new(open),
        _dir: None,
    }
}

/// Makes a new, empty database `t_<pid>_<n>` on the server of `admin_url` and returns a
/// connection string for it (nothing migrated yet).
pub fn postgres_database(admin_url: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = ::postgres::Client::connect(admin_url, ::postgres::NoTls)
        .expect("connect to the test cluster");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create the test database");
    let mut config: ::postgres::Config = admin_url.parse().expect("the test cluster's URL");
    config.dbname(&name);
    config_url(&config, &name)
}

/// A key/value connection string for `config` with database `name` (the URL form would need
/// the password escaped; the test cluster has none, but keep the form general).
fn config_url(config: &::postgres::Config, name: &str) -> String {
    let host = match config.get_hosts().first() {
        Some(::postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(::postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "127.0.0.1".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    format!("host={host} port={port} user={user} dbname={name}")
}

/// A fresh SQLite database in a temporary folder.
pub fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("q.sqlite3");
    let db = Arc::new(SqliteDatabase::open(&path).expect("open the test database"));
    Fresh {
        db,
        open: Box::new(move || {
            Arc::new(SqliteDatabase::open(&path).expect("reopen the test database"))
        }),
        _dir: Some(dir),
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

impl Rewind for PostgresDatabase {
    fn backdate_request(&self, id: &str, created_at: &str) {
        self.conn()
            .expect("a connection")
            .execute(
                "UPDATE requests SET created_at = $2 WHERE id = $1",
                &[&id, &created_at],
            )
            .expect("backdate the request");
    }

    fn seed_audit(&self, events: &[Event]) {
        let mut conn = self.conn().expect("a connection");
        for e in events {
            conn.execute(
                "INSERT INTO audit_events (seq, time, actor, action, subjects, details, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                &[&e.seq, &e.time, &e.actor, &e.action, &e.subjects.to_string(), &e.details.to_string(), &e.prev_hash, &e.hash],
            )
            .expect("seed the audit log");
        }
    }

    fn mark_notices_sent(&self) {
        self.conn()
            .expect("a connection")
            .execute("UPDATE notices SET state = 'sent'", &[])
            .expect("mark notices sent");
    }

    fn notice_bodies(&self, delivery: &str) -> Vec<String> {
        self.conn()
            .expect("a connection")
            .query(
                "SELECT body FROM notices WHERE delivery_id = $1 ORDER BY id",
                &[&delivery],
            )
            .expect("read notice bodies")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

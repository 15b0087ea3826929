//! The state conformance suite: what every backend must do, checked through the `Database`
//! traits only (plus `quire_state::testing` to set up old histories). Requests and the CONTU
//! rule of five over several calendar years, holds and releases, downloads, retention and
//! pseudonymisation, and the audit chain under concurrent writers.
//!
//! A synthetic history over several calendar years: requests are backdated (what an import
//! from an older ILL system would carry); old audit events are sealed with old times and
//! stored at the chain's start.
//!
//! Every test runs on each backend, unchanged: `sqlite::NAME` and `postgres::NAME` are the same
//! test (`suite/conformance.rs`) with `fresh()` opening an empty database of that backend.

/// The embedded backend.
mod sqlite {
    fn fresh() -> Fresh {
        testing::sqlite()
    }

    include!("suite/conformance.rs");
    include!("suite/claims.rs");
    include!("suite/ill.rs");
    include!("suite/webhooks.rs");
}

/// PostgreSQL: one throwaway cluster for this test binary, and a new database per test.
mod postgres {
    fn fresh() -> Fresh {
        testing::postgres(&super::cluster_url())
    }

    include!("suite/conformance.rs");
    include!("suite/claims.rs");
    include!("suite/ill.rs");
    include!("suite/webhooks.rs");
}

/// What only the PostgreSQL backend has: migrations under an advisory lock, the append-only
/// audit table, and its error codes.
mod postgres_only {
    use quire_state::testing;

    fn client(url: &str) -> postgres::Client {
        postgres::Client::connect(url, postgres::NoTls).unwrap()
    }

    /// Four nodes starting together on an empty database: the migration runs once, the others
    /// wait for its lock and find the schema current; opening again changes nothing.
    #[test]
    fn nodes_starting_together_migrate_once() {
        let url = testing::postgres_database(&super::cluster_url());
        let opened: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| quire_state::open_postgres(&url, 2).map(|_| ())))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for o in &opened {
            assert!(o.is_ok(), "{o:?}");
        }
        let db = quire_state::open_postgres(&url, 2).unwrap();
        db.ping().unwrap();
        let mut c = client(&url);
        let rows: Vec<i64> = c
            .query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            rows,
            vec![1, 2, 3, 4, 5, 6, 7],
            "each version recorded once"
        );
    }

    /// The audit table refuses changes and deletions not behind a checkpoint, as SQLite's
    /// triggers do.
    #[test]
    fn audit_events_are_append_only() {
        let url = testing::postgres_database(&super::cluster_url());
        let db = quire_state::open_postgres(&url, 2).unwrap();
        db.audit_append(quire_state::audit::NewEvent::new(
            "test",
            quire_domain::Action::DaemonStarted,
        ))
        .unwrap();
        let mut c = client(&url);
        let update = c.execute("UPDATE audit_events SET actor = 'someone else'", &[]);
        assert!(update.is_err(), "an update went through");
        let delete = c.execute("DELETE FROM audit_events", &[]);
        assert!(delete.is_err(), "a delete went through");
        assert!(quire_state::verify_audit(&*db, None).unwrap().is_ok());
    }

    /// A malformed URL is a configuration error, and an unreachable server a pool error, each
    /// with its stable code.
    #[test]
    fn bad_urls_have_stable_codes() {
        let Err(e) = quire_state::open_postgres("postgres://[::1", 1) else {
            panic!("a malformed URL opened")
        };
        assert_eq!(e.code(), "state.config", "{e}");
    }
}

use std::sync::{Mutex, OnceLock};

use quire_testkit::postgres::Cluster;

/// The cluster, started by the first PostgreSQL test; stopped at exit (statics are never
/// dropped, so an `atexit` hook drops it).
static CLUSTER: OnceLock<Mutex<Option<Cluster>>> = OnceLock::new();

fn cluster_url() -> String {
    let cluster = CLUSTER.get_or_init(|| {
        let cluster = Cluster::start().expect("start a PostgreSQL cluster for the suite");
        extern "C" fn stop() {
            if let Some(c) = CLUSTER.get() {
                drop(c.lock().unwrap_or_else(|p| p.into_inner()).take());
            }
        }
        // SAFETY: registers a plain function with no arguments; it runs once at exit.
        unsafe { libc::atexit(stop) };
        Mutex::new(Some(cluster))
    });
    let guard = cluster.lock().unwrap_or_else(|p| p.into_inner());
    guard.as_ref().expect("the cluster is running").url()
}

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
}

/// PostgreSQL: one throwaway cluster for this test binary, and a new database per test.
mod postgres {
    fn fresh() -> Fresh {
        testing::postgres(&super::cluster_url())
    }

    include!("suite/conformance.rs");
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

//! Custody in the shared object store: with PostgreSQL, a scan taken in by one node is
//! processed and delivered by another, whose spool is its own, from the originals kept in the
//! store and checked on read. Real parts: a throwaway PostgreSQL cluster and an `s3s-fs`
//! server, two daemons each with its own data folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::delivery::{S3_SECRET, add_request, links, s3_storage, start_s3s};
use crate::intake::jobs;
use crate::util::{Daemon, Home, corpus, daemon_home, start_daemon_logged, wait_until};

/// The `s3s-fs` server, stopped however the test ends.
struct S3(std::process::Child);

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The sections both nodes share: one database, one store.
fn shared(cluster: &quire_testkit::postgres::Cluster, s3_port: u16) -> String {
    format!(
        "[database]\nbackend = \"postgres\"\nurl = \"{}\"\npool_size = 4\n{}",
        cluster.url(),
        s3_storage(s3_port, S3_SECRET)
    )
}

/// A node named `name` with `roles`; `intake` continues its `[intake]` section.
fn node(name: &str, roles: &str, intake: &str, shared: &str) -> (Home, u16) {
    daemon_home(&format!(
        "{intake}[node]\nname = \"{name}\"\nroles = [{roles}]\n{shared}"
    ))
}

/// The daemon of `home`, its log in `home`/daemon.log (read back when a wait fails).
fn start(home: &Home, port: u16) -> Daemon {
    start_daemon_logged(home, port, &[], &home.path().join("daemon.log"))
}

fn log(home: &Home) -> String {
    std::fs::read_to_string(home.path().join("daemon.log")).unwrap_or_default()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Drops `scan` as `name` in the station's inbox and waits for its job row, taken into custody.
fn taken_in(station: &Home, scan: &str, name: &str) -> Value {
    std::fs::copy(corpus(scan), station.path().join("var/inbox").join(name)).unwrap();
    let job = taken_in_already_dropped(station);
    assert_eq!(job["state"], "received", "{job}\n{}", log(station));
    job
}

#[test]
fn a_scan_taken_in_by_an_intake_node_is_processed_and_delivered_by_a_worker_node() {
    let cluster = quire_testkit::postgres::Cluster::start().expect("a PostgreSQL cluster");
    let bucket = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(bucket.path().join("quire")).unwrap();
    let s3_port = crate::util::free_port();
    let _s3 = S3(start_s3s(bucket.path(), s3_port));
    let shared = shared(&cluster, s3_port);
    let (station, station_port) = node("station-1", "\"intake\"", "", &shared);
    let (worker, worker_port) = node("worker-1", "\"worker\"", "", &shared);
    add_request(&station, "TN801", &[]);
    let _station = start(&station, station_port);

    // Custody: the original is in the store, listed on the job, before any worker runs.
    let job = taken_in(&station, "ccitt.pdf", "TN801.pdf");
    let id = job["id"].as_str().unwrap().to_string();
    let original = std::fs::read(corpus("ccitt.pdf")).unwrap();
    let custody = job["custody"].as_array().expect("a custody list");
    assert_eq!(custody.len(), 1, "{job}");
    assert_eq!(custody[0]["name"], "TN801.pdf");
    assert_eq!(custody[0]["bytes"], original.len());
    assert!(
        files_under(&bucket.path().join("quire"))
            .iter()
            .any(|f| std::fs::read(f).is_ok_and(|b| b == original)),
        "the original is in the bucket"
    );
    let station_spool = station.path().join("var/spool").join(&id);
    assert_eq!(
        Path::new(job["spool_path"].as_str().unwrap()),
        station_spool
    );

    // The worker, with a spool of its own, processes and delivers it.
    let _worker = start(&worker, worker_port);
    wait_until(
        Duration::from_secs(240),
        "the job is delivered, held or failed",
        || {
            jobs(&worker).first().is_some_and(|j| {
                ["delivered", "held", "failed"].contains(&j["state"].as_str().unwrap())
            })
        },
    );
    let job = &jobs(&worker)[0];
    assert_eq!(job["state"], "delivered", "{job}\n{}", log(&worker));
    let l = links(&worker);
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(l[0]["request"], "TN801");

    // The worker's copy was fetched into its own spool and processed there; the processed PDF
    // is in the store too, under the hash the job records.
    let worker_dir = worker.path().join("var/spool").join(&id);
    let output = std::fs::read(worker_dir.join("quire-output.pdf")).expect("the worker's output");
    let sha = job["output_sha256"].as_str().unwrap();
    use sha2::Digest;
    assert_eq!(hex::encode(sha2::Sha256::digest(&output)), sha);
    assert!(
        files_under(&bucket.path().join("quire"))
            .iter()
            .any(|f| std::fs::read(f).is_ok_and(|b| b == output)),
        "the processed PDF is in the bucket"
    );
    assert!(
        !worker_dir.join("TN801.pdf").exists(),
        "the worker's copy of the original leaves its spool after delivery"
    );
    assert!(
        station_spool.join("TN801.pdf").is_file(),
        "the station never saw the job after taking it in"
    );
}

#[test]
fn a_corrupted_object_in_the_store_fails_the_job_naming_it_and_nothing_is_delivered() {
    let cluster = quire_testkit::postgres::Cluster::start().expect("a PostgreSQL cluster");
    let bucket = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(bucket.path().join("quire")).unwrap();
    let s3_port = crate::util::free_port();
    let _s3 = S3(start_s3s(bucket.path(), s3_port));
    let shared = shared(&cluster, s3_port);
    let (station, station_port) = node("station-1", "\"intake\"", "", &shared);
    let (worker, worker_port) = node("worker-1", "\"worker\"", "max_attempts = 1\n", &shared);
    add_request(&station, "TN802", &[]);
    let _station = start(&station, station_port);
    let job = taken_in(&station, "ccitt.pdf", "TN802.pdf");
    let id = job["id"].as_str().unwrap().to_string();

    // One byte changed on the store's disk: same length, another hash.
    let original = std::fs::read(corpus("ccitt.pdf")).unwrap();
    let object = files_under(&bucket.path().join("quire"))
        .into_iter()
        .find(|f| std::fs::read(f).is_ok_and(|b| b == original))
        .expect("the original's object on the s3s-fs disk");
    let mut bytes = original.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&object, &bytes).unwrap();

    let _worker = start(&worker, worker_port);
    wait_until(Duration::from_secs(120), "the job leaves received", || {
        jobs(&worker)
            .first()
            .is_some_and(|j| !["received", "processing"].contains(&j["state"].as_str().unwrap()))
    });
    let job = &jobs(&worker)[0];
    assert_eq!(job["state"], "failed", "{job}\n{}", log(&worker));
    let message = job["error_message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("job {id}")) && message.contains("TN802.pdf"),
        "the error names the job and the file: {message}"
    );
    assert!(links(&worker).is_empty(), "nothing is delivered");
    assert!(
        !worker
            .path()
            .join("var/spool")
            .join(&id)
            .join("TN802.pdf")
            .exists(),
        "the bad bytes were never put in place"
    );
}

#[test]
fn a_store_that_cannot_take_the_scan_leaves_it_in_the_inbox_and_records_nothing() {
    let cluster = quire_testkit::postgres::Cluster::start().expect("a PostgreSQL cluster");
    let bucket = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(bucket.path().join("quire")).unwrap();
    // Nothing listens there yet: the store cannot take anything.
    let s3_port = crate::util::free_port();
    let shared = shared(&cluster, s3_port);
    let (station, station_port) = node("station-1", "\"intake\"", "", &shared);
    add_request(&station, "TN803", &[]);
    let _station = start(&station, station_port);
    let dropped = station.path().join("var/inbox/TN803.pdf");
    std::fs::copy(corpus("ccitt.pdf"), &dropped).unwrap();
    wait_until(Duration::from_secs(30), "a try to take it in", || {
        log(&station).contains("could not take scan into custody")
    });
    assert!(dropped.is_file(), "the scan is back in the inbox");
    assert!(jobs(&station).is_empty(), "no job is recorded");
    assert!(
        files_under(&station.path().join("var/spool")).is_empty(),
        "nothing is left in the spool"
    );
    let text = log(&station);
    assert!(
        text.contains("object store") && text.contains("back in the inbox"),
        "{text}"
    );

    // Once the store answers, the next look takes it.
    let _s3 = S3(start_s3s(bucket.path(), s3_port));
    let job = taken_in_already_dropped(&station);
    assert_eq!(job["custody"].as_array().map(Vec::len), Some(1), "{job}");
    assert!(!dropped.exists());
}

/// Waits for the one job of a scan already in the inbox.
fn taken_in_already_dropped(station: &Home) -> Value {
    wait_until(Duration::from_secs(60), "the scan is taken in", || {
        jobs(station).len() == 1
    });
    jobs(station).remove(0)
}

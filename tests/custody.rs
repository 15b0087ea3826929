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
pub(crate) struct S3(pub(crate) std::process::Child);

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

/// The scene: two scan stations (intake only, each its own inbox and spool) and one
/// OCR worker, on one PostgreSQL and one S3 store; 12 scans for 12 requests; the worker is
/// killed with `kill -9` mid-job and started again. Every request gets exactly one delivery,
/// one link and one notice, and the one audit chain verifies.
#[test]
fn two_stations_and_a_worker_killed_mid_job_deliver_every_scan_exactly_once() {
    let cluster = quire_testkit::postgres::Cluster::start().expect("a PostgreSQL cluster");
    let bucket = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(bucket.path().join("quire")).unwrap();
    let s3_port = crate::util::free_port();
    let mut s3 = start_s3s(bucket.path(), s3_port);
    // One link key for every node, so that each derives the same URL for a link.
    let key_dir = tempfile::tempdir().unwrap();
    let key_file = key_dir.path().join("link.key");
    use sha2::Digest;
    std::fs::write(&key_file, sha2::Sha256::digest(b"three nodes, one key")).unwrap();
    let shared = format!(
        "[links]\nkey_file = \"{}\"\n{}[node]\nlease_secs = 3\n",
        key_file.display(),
        shared(&cluster, s3_port)
    );
    let node = |name: &str, roles: &str| {
        daemon_home(&format!("{shared}name = \"{name}\"\nroles = [{roles}]\n"))
    };
    let (station_1, port_1) = node("station-1", "\"intake\"");
    let (station_2, port_2) = node("station-2", "\"intake\"");
    let (worker, worker_port) = node("worker-1", "\"worker\"");
    let ids: Vec<String> = (0..12).map(|n| format!("TN93{n:02}")).collect();
    for id in &ids {
        station_1.ok(&[
            "request",
            "add",
            "--id",
            id,
            "--patron",
            "Three Nodes",
            "--email",
            "nodes@example.org",
            "--basis",
            "public-domain",
        ]);
    }
    let _s1 = start(&station_1, port_1);
    let _s2 = start(&station_2, port_2);
    // The worker hangs on the fifth scan, so it can be killed in the middle of that job.
    let stalled = ids[4].clone();
    let mut first_worker = Daemon::start_with(
        crate::util::QUIRE,
        &worker.config_path(),
        worker_port,
        &[("QUIRE_TEST_STALL_ON", stalled.as_str())],
        std::fs::File::create(worker.path().join("daemon.log")).unwrap(),
    );
    for (n, id) in ids.iter().enumerate() {
        let station = if n % 2 == 0 { &station_1 } else { &station_2 };
        let staged = station.path().join(format!("{id}.png"));
        crate::intake::save_png_with_dpi(
            &crate::intake::clean_page(9300 + n as u64),
            &staged,
            150.0,
        );
        std::fs::rename(
            &staged,
            station.path().join("var/inbox").join(format!("{id}.png")),
        )
        .unwrap();
    }
    let job_of = |id: &str| {
        jobs(&worker)
            .into_iter()
            .find(|j| j["source_name"] == format!("{id}.png"))
    };
    wait_until(
        Duration::from_secs(240),
        "the worker is in the middle of the stalled scan",
        || {
            job_of(&stalled)
                .is_some_and(|j| j["state"] == "processing" && j["claimed_by"] == "worker-1")
        },
    );
    first_worker.child.kill().unwrap(); // SIGKILL, mid-job
    first_worker.child.wait().unwrap();
    let _worker = start(&worker, worker_port);

    let settled = || {
        let all = jobs(&worker);
        all.len() == 12
            && all
                .iter()
                .all(|j| ["delivered", "held", "failed"].contains(&j["state"].as_str().unwrap()))
    };
    wait_until(Duration::from_secs(480), "every scan is settled", settled);
    let all = jobs(&worker);
    let not_delivered: Vec<&Value> = all.iter().filter(|j| j["state"] != "delivered").collect();
    assert!(
        not_delivered.is_empty(),
        "{not_delivered:#?}\n{}",
        log(&worker)
    );
    // Each station took in only its own inbox's scans.
    for (station, parity) in [(&station_1, 0), (&station_2, 1)] {
        let root = station.path().join("var/spool");
        for (n, id) in ids.iter().enumerate() {
            let job = all
                .iter()
                .find(|j| j["source_name"] == format!("{id}.png"))
                .unwrap();
            let here = Path::new(job["spool_path"].as_str().unwrap()).starts_with(&root);
            assert_eq!(here, n % 2 == parity, "{id}: {job}");
        }
    }
    let links = links(&worker);
    let urls = |l: &[Value]| {
        let mut u: Vec<String> = l
            .iter()
            .map(|l| l["url"].as_str().unwrap().to_string())
            .collect();
        u.sort();
        u
    };
    assert_eq!(
        urls(&links),
        urls(&crate::delivery::links(&station_2)),
        "every node derives the same URL for a link"
    );
    let mut requests: Vec<&str> = links
        .iter()
        .map(|l| l["request"].as_str().unwrap())
        .collect();
    requests.sort();
    assert_eq!(
        requests,
        ids.iter().map(String::as_str).collect::<Vec<_>>(),
        "one link per request"
    );
    let per = |action: &str, subject: &str| {
        let out = worker.ok(&["audit", "export", "--action", action]);
        let mut counts = std::collections::BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let r = v["subjects"][subject].as_str().unwrap_or("").to_string();
            *counts.entry(r).or_insert(0) += 1;
        }
        counts
    };
    let created = per("delivery.created", "request");
    assert_eq!(created.len(), 12, "{created:?}");
    assert!(
        created.values().all(|&n| n == 1),
        "a second delivery: {created:?}"
    );
    wait_until(Duration::from_secs(120), "every notice is sent", || {
        per("notice.sent", "delivery").len() == 12
    });
    let sent = per("notice.sent", "delivery");
    assert!(
        sent.values().all(|&n| n == 1),
        "a notice sent twice: {sent:?}"
    );
    let stalled_job = job_of(&stalled).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resumed = String::from_utf8_lossy(
        &worker
            .ok(&["audit", "export", "--action", "job.resumed"])
            .stdout,
    )
    .into_owned();
    assert!(
        resumed.contains(&stalled_job),
        "the restarted worker resumed its own job {stalled_job}: {resumed}"
    );
    worker.ok(&["audit", "verify"]);
    let _ = s3.kill();
    let _ = s3.wait();
}

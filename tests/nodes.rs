//! Several daemons on one PostgreSQL: job claims, heartbeats, a node killed mid-job, and
//! `quire nodes`.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::util::{Home, QUIRE, describe, stdout, wait_until};
use quire_testkit::daemon::{Daemon, free_port};

/// A node's config in `home` (`<name>.toml`), sharing `var` with the other nodes there.
fn node_config(home: &Home, name: &str, roles: &str, port: u16, url: &str) -> std::path::PathBuf {
    let path = home.path().join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "data_dir = \"var\"\n\
             [node]\nname = \"{name}\"\nroles = [{roles}]\nlease_secs = 3\n\
             [server]\nlisten = \"127.0.0.1:{port}\"\n\
             [intake]\nsettle_secs = 0.5\nrescan_secs = 1.0\n\
             [database]\nbackend = \"postgres\"\nurl = \"{url}\"\npool_size = 4\n"
        ),
    )
    .unwrap();
    path
}

fn quire_json(home: &Home, config: &Path, args: &[&str]) -> Value {
    let out = crate::util::quire()
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir(home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

fn quire_ok(home: &Home, config: &Path, args: &[&str]) -> String {
    let out = crate::util::quire()
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir(home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    stdout(&out)
}

/// A worker node killed with `kill -9` while processing: its claim lapses after the lease, the
/// other worker node takes the job up and delivers it once, and the audit log records the
/// lapse and still verifies. `quire nodes` shows both nodes and who holds what.
#[test]
fn a_node_killed_mid_job_loses_the_job_to_another_worker() {
    let cluster = quire_testkit::postgres::Cluster::start().expect("a PostgreSQL cluster");
    let home = Home::new();
    let (port_a, port_b) = (free_port(), free_port());
    let a = node_config(
        &home,
        "station-1",
        "\"intake\", \"worker\"",
        port_a,
        &cluster.url(),
    );
    let b = node_config(&home, "worker-2", "\"worker\"", port_b, &cluster.url());
    quire_ok(
        &home,
        &a,
        &[
            "request",
            "add",
            "--id",
            "TN901",
            "--patron",
            "Node Test",
            "--email",
            "node@example.org",
            "--basis",
            "public-domain",
        ],
    );
    let log_a = home.path().join("station-1.log");
    let mut station = Daemon::start_with(
        QUIRE,
        &a,
        port_a,
        &[("QUIRE_TEST_STALL_ON", "TN901")],
        std::fs::File::create(&log_a).unwrap(),
    );
    let inbox = home.path().join("var/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    crate::intake::save_png_with_dpi(
        &crate::intake::clean_page(901),
        &home.path().join("TN901.png"),
        150.0,
    );
    std::fs::rename(home.path().join("TN901.png"), inbox.join("TN901.png")).unwrap();
    let job_state = || {
        let jobs = quire_json(&home, &a, &["jobs", "--json"]);
        jobs.as_array().and_then(|j| j.first()).map(|j| {
            (
                j["state"].as_str().unwrap_or("").to_string(),
                j["claimed_by"].clone(),
            )
        })
    };
    wait_until(
        Duration::from_secs(60),
        "station-1 claims the scan",
        || matches!(job_state(), Some((s, n)) if s == "processing" && n == "station-1"),
    );
    let nodes = quire_json(&home, &a, &["nodes", "--json"]);
    assert_eq!(nodes[0]["name"], "station-1", "{nodes:#}");
    assert_eq!(nodes[0]["jobs_in_hand"], 1, "{nodes:#}");
    assert_eq!(nodes[0]["alive"], true, "{nodes:#}");

    // The worker node starts; the job is station-1's while its heartbeat goes on.
    let log_b = home.path().join("worker-2.log");
    let _worker = Daemon::start_with(
        QUIRE,
        &b,
        port_b,
        &[],
        std::fs::File::create(&log_b).unwrap(),
    );
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        matches!(job_state(), Some((s, n)) if s == "processing" && n == "station-1"),
        "a live node keeps its claim: {:?}",
        job_state()
    );

    station.child.kill().unwrap(); // SIGKILL, mid-job
    station.child.wait().unwrap();
    let delivered = (0..120).any(|_| {
        std::thread::sleep(Duration::from_secs(1));
        matches!(job_state(), Some((s, _)) if s == "delivered")
    });
    assert!(
        delivered,
        "worker-2 should have delivered the scan: {:#}",
        quire_json(&home, &a, &["jobs", "--json"])
    );
    let lapsed = quire_ok(
        &home,
        &a,
        &["audit", "export", "--action", "job.lease_lapsed"],
    );
    assert_eq!(lapsed.lines().count(), 1, "{lapsed}");
    assert!(lapsed.contains("station-1"), "{lapsed}");
    let processing = quire_ok(
        &home,
        &a,
        &["audit", "export", "--action", "job.processing"],
    );
    assert!(
        processing.contains("\"node\":\"station-1\"")
            && processing.contains("\"node\":\"worker-2\""),
        "{processing}"
    );
    let created = quire_ok(
        &home,
        &a,
        &["audit", "export", "--action", "delivery.created"],
    );
    assert_eq!(created.lines().count(), 1, "delivered once: {created}");
    let links = quire_json(&home, &a, &["links", "--json"]);
    assert_eq!(links.as_array().unwrap().len(), 1, "{links:#}");
    quire_ok(&home, &a, &["audit", "verify"]);

    // station-1 stopped beating; worker-2 holds nothing now.
    let table = quire_ok(&home, &b, &["nodes"]);
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} not in {table}"))
            .to_string()
    };
    wait_until(Duration::from_secs(10), "station-1 is silent", || {
        quire_json(&home, &b, &["nodes", "--json"])[0]["alive"] == false
    });
    assert!(line("worker-2").contains("worker"), "{table}");
    assert!(line("station-1").contains("intake,worker"), "{table}");
}

/// `quire db copy` moves a single-box install into PostgreSQL: requests, deliveries, links,
/// staff users and the audit chain, which verifies on the copy with the same head. The copy
/// refuses a target that is not empty, and the install then runs on PostgreSQL.
#[test]
fn db_copy_moves_a_sqlite_install_to_postgres_with_its_audit_chain() {
    let cluster = quire_testkit::postgres::Cluster::start().expect("a PostgreSQL cluster");
    let home = Home::new();
    for id in ["TN950", "TN951"] {
        home.ok(&[
            "request",
            "add",
            "--id",
            id,
            "--patron",
            "Copy Test",
            "--email",
            "copy@example.org",
            "--basis",
            "ccg",
            "--library",
            "ZZC",
            "--title",
            "Journal of Moves",
            "--issn",
            "1234-5679",
        ]);
    }
    home.ok(&[
        "deliver",
        "--request",
        "TN950",
        crate::util::corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    let added = crate::console::with_stdin(
        &home,
        &[
            "user",
            "add",
            "mover",
            "--role",
            "technician",
            "--password-stdin",
        ],
        "a long enough password 1",
    );
    assert!(added.status.success(), "{}", describe(&added));
    home.ok(&["audit", "note", "before the move"]);
    let before = |what: &[&str]| stdout(&home.ok(what));
    let (links, requests, head) = (
        before(&["links", "--json"]),
        before(&["request", "list", "--json"]),
        before(&["audit", "verify"]),
    );

    let url_file = home.path().join("target-url");
    std::fs::write(&url_file, format!("{}\n", cluster.url())).unwrap();
    let out = home.ok(&["db", "copy", "--to-file", url_file.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(text.contains("audit chain verified on the copy"), "{text}");
    assert!(
        !text.contains(&cluster.url()),
        "the URL is not printed: {text}"
    );
    let again = home.fails(&["db", "copy", "--to-file", url_file.to_str().unwrap()]);
    assert!(
        crate::util::stderr(&again).contains("not empty"),
        "{}",
        describe(&again)
    );

    // The same install, now on PostgreSQL.
    let config = std::fs::read_to_string(home.config_path()).unwrap();
    std::fs::write(
        home.config_path(),
        format!("{config}\n[database]\nbackend = \"postgres\"\nurl_file = \"target-url\"\n"),
    )
    .unwrap();
    assert_eq!(before(&["links", "--json"]), links);
    assert_eq!(before(&["request", "list", "--json"]), requests);
    let verified = before(&["audit", "verify"]);
    let head_of = |t: &str| {
        t.split_whitespace()
            .find(|w| w.contains(':') && w.len() > 60)
            .map(str::to_string)
    };
    assert!(head_of(&head).is_some(), "{head}");
    assert_eq!(head_of(&verified), head_of(&head), "{verified} vs {head}");
    let users = before(&["user", "list"]);
    assert!(users.contains("mover"), "{users}");
    // New events go on the copied chain, and serial ids go on after the copied ones.
    home.ok(&["audit", "note", "after the move"]);
    home.ok(&["audit", "verify"]);
    home.ok(&[
        "deliver",
        "--request",
        "TN951",
        crate::util::corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    let links: Value = serde_json::from_str(&before(&["links", "--json"])).unwrap();
    assert_eq!(links.as_array().unwrap().len(), 2, "{links:#}");
}

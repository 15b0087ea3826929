//! Compliance end to end: the sixth copy of a periodical for one library waits for an officer
//! (link closed with a clear page, no e-mail), the release with its reason is audited, the CONTU
//! report counts and flags, audit search finds by patron and library, and retention runs.
//!
//! The edges that need a history of several years (1 January, a publication exactly five years
//! old, pruning and verifying after it) are unit tests against the real SQLite backend in
//! `state/tests/suite.rs`, where request dates can be backdated; here every request
//! is made today.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::util::{Home, corpus, daemon_home, http, start_daemon, stderr, stdout, wait_until};

fn this_year() -> i32 {
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn add(home: &Home, id: &str, library: &str, email: &str, published: i32) {
    home.ok(&[
        "request",
        "add",
        "--id",
        id,
        "--patron",
        &format!("Reader {id}"),
        "--email",
        email,
        "--library",
        library,
        "--title",
        "The Journal of Tests",
        "--issn",
        "0378-5955",
        "--article",
        &format!("Part {id}"),
        "--year",
        &published.to_string(),
        "--basis",
        "ccg",
    ]);
}

fn deliver(home: &Home, id: &str) -> std::process::Output {
    home.ok(&[
        "deliver",
        "--request",
        id,
        corpus("ccitt.pdf").to_str().unwrap(),
    ])
}

fn json(home: &Home, args: &[&str]) -> Value {
    serde_json::from_str(&stdout(&home.ok(args))).unwrap()
}

fn jsonl(home: &Home, args: &[&str]) -> Vec<Value> {
    stdout(&home.ok(args))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn emails(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_string()
}

#[test]
fn the_sixth_copy_waits_for_an_officer_who_releases_it_with_a_reason() {
    let (home, port) = daemon_home("");
    let year = this_year();
    for i in 1..=6 {
        add(
            &home,
            &format!("TN80{i}"),
            "ZZQ",
            &format!("r{i}@example.org"),
            year - 1,
        );
    }
    add(&home, "TN900", "XYZ", "other@example.org", year - 1);
    for i in 1..=5 {
        let out = deliver(&home, &format!("TN80{i}"));
        assert!(!stderr(&out).contains("HELD"), "{}", stderr(&out));
    }
    let out = deliver(&home, "TN806");
    assert!(
        stderr(&out).contains("HELD for copyright review"),
        "{}",
        stderr(&out)
    );
    // Another library's first copy of the same journal goes out.
    let out = deliver(&home, "TN900");
    assert!(!stderr(&out).contains("HELD"), "{}", stderr(&out));

    let held = json(&home, &["deliveries", "--held", "--json"]);
    let held = held.as_array().unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["request_id"], "TN806");
    assert!(
        held[0]["hold_reason"]
            .as_str()
            .unwrap()
            .contains("copy 6 of ISSN 0378-5955"),
        "{held:?}"
    );
    let id = held[0]["id"].as_str().unwrap().to_string();
    let table = stdout(&home.ok(&["deliveries", "--held"]));
    assert!(table.contains(&id) && table.contains("ccg"), "{table}");

    let links = json(&home, &["links", "--json", "--request", "TN806"]);
    assert_eq!(links[0]["state"], "held");
    let url = path_of(links[0]["url"].as_str().unwrap());

    let _d = start_daemon(&home, port);
    let (status, page) = http(port, "GET", &url, None, None).unwrap();
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("awaiting copyright review"), "{page}");
    assert_eq!(
        http(port, "GET", &format!("{url}/file"), None, None)
            .unwrap()
            .0,
        403
    );
    // Six notices go out; the held copy's does not.
    let outbox = home.path().join("var/outbox");
    wait_until(Duration::from_secs(30), "six notices are written", || {
        emails(&outbox) == 6
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(emails(&outbox), 6);

    // Release needs a reason, and only a held delivery can be released.
    home.fails(&["delivery", "release", &id]);
    let out = home.fails(&["delivery", "release", &id, "--reason", "  "]);
    assert!(stderr(&out).contains("reason"), "{}", stderr(&out));
    home.ok(&[
        "delivery",
        "release",
        &id,
        "--reason",
        "CCC order 4711 paid",
        "--officer",
        "officer.jones",
    ]);
    let out = home.fails(&["delivery", "release", &id, "--reason", "again"]);
    assert!(stderr(&out).contains("not held"), "{}", stderr(&out));
    let (status, page) = http(port, "GET", &url, None, None).unwrap();
    assert_eq!(status, 200, "{page}");
    wait_until(
        Duration::from_secs(30),
        "the released copy's notice is written",
        || emails(&outbox) == 7,
    );

    // The release, its reason and its officer are in the log, and the log verifies.
    let released = jsonl(
        &home,
        &[
            "audit",
            "search",
            "--action",
            "delivery.released",
            "--format",
            "jsonl",
        ],
    );
    assert_eq!(released.len(), 1);
    assert_eq!(released[0]["actor"], "officer.jones");
    assert_eq!(released[0]["details"]["reason"], "CCC order 4711 paid");
    assert_eq!(released[0]["subjects"]["request"], "TN806");
    let held_events = jsonl(
        &home,
        &[
            "audit",
            "search",
            "--action",
            "compliance.",
            "--format",
            "jsonl",
        ],
    );
    assert_eq!(
        held_events
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["compliance.held"]
    );

    // Search by library and by patron finds their events and only theirs.
    let xyz = jsonl(
        &home,
        &["audit", "search", "--library", "XYZ", "--format", "jsonl"],
    );
    assert!(
        xyz.iter().any(|e| e["action"] == "delivery.created"),
        "{xyz:?}"
    );
    assert!(
        xyz.iter().any(|e| e["action"] == "request.created"),
        "{xyz:?}"
    );
    assert!(
        xyz.iter().any(|e| e["action"] == "notice.sent"),
        "found through the delivery id: {xyz:?}"
    );
    assert!(
        xyz.iter()
            .all(|e| !e.to_string().contains("TN80") && !e.to_string().contains("ZZQ")),
        "{xyz:?}"
    );
    let csv = stdout(&home.ok(&[
        "audit",
        "search",
        "--patron",
        "R6@example.org",
        "--format",
        "csv",
    ]));
    assert!(csv.starts_with("seq,time,actor,action"), "{csv}");
    assert!(
        csv.contains("delivery.released")
            && csv.contains("compliance.held")
            && !csv.contains("TN801"),
        "{csv}"
    );
    let table = stdout(&home.ok(&[
        "audit",
        "search",
        "--request",
        "TN806",
        "--since",
        "2000-01-01",
    ]));
    assert!(
        table.contains("delivery.released") && table.contains("event(s)"),
        "{table}"
    );
    let anchor = stdout(&home.ok(&["audit", "anchor"])).trim().to_string();
    home.ok(&["audit", "verify", "--anchor", &anchor]);

    // The CONTU report: six copies for ZZQ (flagged), one for XYZ.
    let report = json(
        &home,
        &[
            "report",
            "contu",
            "--year",
            &year.to_string(),
            "--format",
            "json",
        ],
    );
    let lines = report.as_array().unwrap();
    assert_eq!(lines.len(), 2, "{report:#}");
    let zzq = lines.iter().find(|l| l["library"] == "ZZQ").unwrap();
    assert_eq!(
        (
            zzq["copies"].as_i64(),
            zzq["held"].as_i64(),
            zzq["flagged"].as_bool()
        ),
        (Some(6), Some(0), Some(true)),
        "{zzq}"
    );
    assert_eq!(zzq["ident"], "0378-5955");
    let xyz = lines.iter().find(|l| l["library"] == "XYZ").unwrap();
    assert_eq!(
        (xyz["copies"].as_i64(), xyz["flagged"].as_bool()),
        (Some(1), Some(false))
    );
    let csv = stdout(&home.ok(&[
        "report",
        "contu",
        "--year",
        &year.to_string(),
        "--library",
        "XYZ",
        "--format",
        "csv",
    ]));
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("XYZ,periodical,0378-5955,The Journal of Tests,"),
        "{csv}"
    );
    let table = stdout(&home.ok(&["report", "contu", "--year", &year.to_string()]));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("ZZQ") && l.contains("LIMIT")),
        "{table}"
    );
    let empty = json(
        &home,
        &[
            "report",
            "contu",
            "--year",
            &(year - 4).to_string(),
            "--format",
            "json",
        ],
    );
    assert_eq!(empty, serde_json::json!([]));

    // Nothing is old enough to prune or pseudonymise yet.
    let run = json(&home, &["retention", "run", "--json"]);
    assert_eq!(run["pruned"]["deliveries"], serde_json::json!([]));
    assert_eq!(run["pseudonymised"]["requests"], serde_json::json!([]));
    home.ok(&["audit", "verify", "--anchor", &anchor]);
}

#[test]
fn warn_delivers_beyond_the_limit_and_records_a_warning() {
    let home = Home::with_config("[compliance]\npolicy = \"warn\"\ncopies_per_year = 1\n");
    let year = this_year();
    add(&home, "TN1", "ZZQ", "a@example.org", year);
    add(&home, "TN2", "ZZQ", "b@example.org", year);
    deliver(&home, "TN1");
    let out = deliver(&home, "TN2");
    assert!(
        stderr(&out).contains("beyond the CONTU limit"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        json(&home, &["deliveries", "--held", "--json"]),
        serde_json::json!([])
    );
    let warned = jsonl(
        &home,
        &[
            "audit",
            "search",
            "--action",
            "compliance.warning",
            "--format",
            "jsonl",
        ],
    );
    assert_eq!(warned.len(), 1);
    assert_eq!(warned[0]["subjects"]["request"], "TN2");
    assert_eq!(warned[0]["details"]["policy"], "warn");
}

fn add_ccl(home: &Home, id: &str, published: i32) {
    home.ok(&[
        "request",
        "add",
        "--id",
        id,
        "--patron",
        "Reader",
        "--email",
        "r@example.org",
        "--library",
        "ZZQ",
        "--title",
        "The Journal of Tests",
        "--issn",
        "0378-5955",
        "--article",
        id,
        "--year",
        &published.to_string(),
        "--basis",
        "ccl",
    ]);
}

/// CCL copies (conforms to copyright law) are outside the rule of five by default and shown in
/// their own column of the CONTU report; `count_ccl = true` counts and holds them like CCG.
#[test]
fn ccl_copies_are_reported_apart_and_counted_only_when_the_library_says_so() {
    let year = this_year();
    let home = Home::with_config("[compliance]\ncopies_per_year = 1\n");
    add(&home, "TN1", "ZZQ", "a@example.org", year);
    add_ccl(&home, "TN2", year);
    add_ccl(&home, "TN3", year);
    for id in ["TN1", "TN2", "TN3"] {
        deliver(&home, id);
    }
    assert_eq!(
        json(&home, &["deliveries", "--held", "--json"]),
        serde_json::json!([]),
        "CCL copies beyond the one CCG copy are not held"
    );
    let report = json(
        &home,
        &[
            "report",
            "contu",
            "--year",
            &year.to_string(),
            "--format",
            "json",
        ],
    );
    let line = &report[0];
    assert_eq!(
        (
            &line["copies"],
            &line["ccl"],
            &line["held"],
            &line["not_counted"]
        ),
        (
            &serde_json::json!(1),
            &serde_json::json!(2),
            &serde_json::json!(0),
            &serde_json::json!(0)
        ),
        "{report}"
    );
    let table = stdout(&home.ok(&["report", "contu", "--year", &year.to_string()]));
    // Under the title line: the header with its CCL column, and the row's 2 under it.
    let header = table.lines().nth(1).unwrap();
    let row = table.lines().nth(2).unwrap();
    let end = header.find("CCL").unwrap() + "CCL".len();
    assert_eq!(row.get(end - 1..end), Some("2"), "{table}");
    let csv = stdout(&home.ok(&[
        "report",
        "contu",
        "--year",
        &year.to_string(),
        "--format",
        "csv",
    ]));
    assert!(csv.lines().next().unwrap().contains(",ccl,"), "{csv}");

    let strict = Home::with_config("[compliance]\ncopies_per_year = 1\ncount_ccl = true\n");
    add_ccl(&strict, "TN2", year);
    add_ccl(&strict, "TN3", year);
    deliver(&strict, "TN2");
    deliver(&strict, "TN3");
    let held = json(&strict, &["deliveries", "--held", "--json"]);
    assert_eq!(held.as_array().unwrap().len(), 1, "{held}");
    assert_eq!(held[0]["request_id"], "TN3");
    let report = json(
        &strict,
        &[
            "report",
            "contu",
            "--year",
            &year.to_string(),
            "--format",
            "json",
        ],
    );
    assert_eq!(
        (&report[0]["copies"], &report[0]["held"], &report[0]["ccl"]),
        (
            &serde_json::json!(1),
            &serde_json::json!(1),
            &serde_json::json!(0)
        ),
        "{report}"
    );
}

#[test]
fn a_bad_compliance_section_is_reported() {
    let home = Home::with_config("[compliance]\npolicy = \"sometimes\"\nretain_yeras = 3\n");
    let out = home.fails(&["deliveries"]);
    assert!(stderr(&out).contains("[compliance]"), "{}", stderr(&out));
}

#[test]
fn retention_prunes_old_records_and_pseudonymises_readers_from_the_command_line() {
    let home = Home::new();
    let year = this_year();
    add(&home, "TN1", "ZZQ", "a@example.org", year);
    add(&home, "TN2", "ZZQ", "b@example.org", year);
    add(&home, "TN3", "ZZQ", "c@example.org", year);
    for id in ["TN1", "TN2", "TN3"] {
        deliver(&home, id);
    }
    let anchor = stdout(&home.ok(&["audit", "anchor"])).trim().to_string();
    // Backdate as an import from an older ILL system would: TN1 is from 2020 and its file is
    // long purged; TN2 is from January last year; TN3 is today's.
    {
        let db = rusqlite::Connection::open(home.db_path()).unwrap();
        db.execute_batch(&format!(
            "UPDATE requests SET created_at = '2020-03-01T00:00:00.000Z' WHERE id = 'TN1';
             UPDATE deliveries SET state = 'purged', purged_at = '2020-05-01T00:00:00.000Z' WHERE request_id = 'TN1';
             UPDATE requests SET created_at = '{}-01-02T00:00:00.000Z' WHERE id = 'TN2';
             UPDATE notices SET state = 'sent';",
            year - 1
        ))
        .unwrap();
    }
    let dry = json(&home, &["retention", "run", "--dry-run", "--json"]);
    assert_eq!(
        dry["pruned"]["requests"],
        serde_json::json!(["TN1"]),
        "{dry:#}"
    );
    assert_eq!(dry["pruned"]["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(
        json(&home, &["deliveries", "--json"])
            .as_array()
            .unwrap()
            .len(),
        3,
        "a dry run changes nothing"
    );

    let out = stdout(&home.ok(&["retention", "run"]));
    assert!(
        out.contains("pruned records of requests before")
            && out.contains("1 deliveries, 1 requests"),
        "{out}"
    );
    assert!(out.contains("pseudonymised patrons of 1 requests"), "{out}");
    let left = json(&home, &["deliveries", "--json"]);
    let left: Vec<&str> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["TN2", "TN3"]);
    let (name, email): (String, String) = rusqlite::Connection::open(home.db_path())
        .unwrap()
        .query_row(
            "SELECT patron_name, patron_email FROM requests WHERE id = 'TN2'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        name.starts_with("patron-") && email == format!("{name}@pseudonymised.invalid"),
        "{name} {email}"
    );
    // The reader is found under the pseudonym now, no longer under the address.
    let found = jsonl(
        &home,
        &["audit", "search", "--patron", &name, "--format", "jsonl"],
    );
    assert!(
        found.iter().any(|e| e["subjects"]["request"] == "TN2"),
        "{found:?}"
    );
    assert!(
        jsonl(
            &home,
            &[
                "audit",
                "search",
                "--patron",
                "b@example.org",
                "--format",
                "jsonl"
            ]
        )
        .is_empty()
    );
    let runs = jsonl(
        &home,
        &[
            "audit",
            "search",
            "--action",
            "retention.",
            "--format",
            "jsonl",
        ],
    );
    let actions: Vec<&str> = runs.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["retention.pruned", "retention.pseudonymised"]);
    home.ok(&["audit", "verify", "--anchor", &anchor]);
}

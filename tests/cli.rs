//! The command line as a shell user meets it: output piped into a reader that stops early,
//! aligned tables with times in the library's zone, help for every flag, and the daemon's
//! banner and log.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::util::{Home, corpus, daemon_home, start_daemon_logged, stdout, wait_until};

/// SIGPIPE's number on Linux, without a libc dependency in the tests.
const SIGPIPE: i32 = 13;

#[test]
fn listing_commands_end_quietly_when_the_reader_closes_the_pipe() {
    let home = Home::new();
    for i in 0..3 {
        home.ok(&["audit", "note", &format!("note {i}"), "--actor", "tester"]);
    }
    for args in [
        &["jobs"][..],
        &["config", "show"],
        &["audit", "export", "--format", "jsonl"],
        &["audit", "verify"],
    ] {
        // The reading end is gone before quire writes a byte, as with `| head -0`; every
        // write is EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = home
            .cmd(args)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked") && out.status.code() != Some(101),
            "quire {args:?} with a closed stdout: {:?}\n{err}",
            out.status
        );
        assert!(
            out.status.success() || out.status.signal() == Some(SIGPIPE),
            "quire {args:?}: {:?}\n{err}",
            out.status
        );
    }
}

/// Checks that each header of `table`'s first line starts the same column in every row: the
/// cell under it begins where the header begins (or the cell is empty), with a space before.
fn assert_aligned(table: &str, columns: &[&str]) {
    let mut lines = table.lines();
    let header = lines.next().expect("a header row");
    let starts: Vec<usize> = columns
        .iter()
        .map(|c| {
            header
                .find(c)
                .unwrap_or_else(|| panic!("no column {c} in {header:?}"))
        })
        .collect();
    for line in lines {
        let chars: Vec<char> = line.chars().collect();
        for (c, &at) in columns.iter().zip(&starts) {
            if at >= chars.len() {
                continue;
            }
            assert!(
                at == 0 || chars[at - 1] == ' ',
                "column {c} does not start at {at} in {line:?}\n{table}"
            );
        }
    }
}

/// The cell of `row` under column `column` of `table` (left-aligned columns).
fn cell<'a>(table: &'a str, row: &'a str, column: &str) -> &'a str {
    let header = table.lines().next().unwrap();
    let at = header.find(column).unwrap();
    row.get(at..)
        .unwrap_or("")
        .split("  ")
        .next()
        .unwrap_or("")
        .trim()
}

fn add_request(home: &Home, id: &str) {
    home.ok(&[
        "request",
        "add",
        "--id",
        id,
        "--patron",
        "Minh Nguyen",
        "--email",
        "minh@example.org",
        "--library",
        "ZZQ",
        "--title",
        "The Journal of Tests",
        "--issn",
        "0378-5955",
        "--article",
        "On tables",
        "--year",
        "2025",
        "--basis",
        "ccg",
    ]);
}

/// A revoked link's delivery says `revoked` (not `active`) in `quire deliveries`, whose table,
/// like `links`, is aligned and gives times to the second in the library's zone.
#[test]
fn deliveries_and_links_are_aligned_tables_showing_the_real_state_in_the_library_zone() {
    let home = Home::with_config("[institution]\ntime_zone = \"America/Chicago\"\n");
    add_request(&home, "TN1");
    add_request(&home, "TN22");
    for id in ["TN1", "TN22"] {
        home.ok(&[
            "deliver",
            "--request",
            id,
            corpus("ccitt.pdf").to_str().unwrap(),
        ]);
    }
    let links: Value =
        serde_json::from_str(&stdout(&home.ok(&["links", "--json", "--request", "TN1"]))).unwrap();
    let link = links[0]["id"].as_str().unwrap().to_string();
    home.ok(&[
        "link",
        "revoke",
        &link,
        "--reason",
        "sent to the wrong reader",
    ]);

    let table = stdout(&home.ok(&["deliveries"]));
    assert_aligned(
        &table,
        &[
            "DELIVERY", "REQUEST", "LIBRARY", "BASIS", "STATE", "CREATED",
        ],
    );
    let row = |request: &str| {
        table
            .lines()
            .find(|l| cell(&table, l, "REQUEST") == request)
            .unwrap_or_else(|| panic!("no row for {request}:\n{table}"))
    };
    assert_eq!(cell(&table, row("TN1"), "STATE"), "revoked", "{table}");
    assert_eq!(cell(&table, row("TN22"), "STATE"), "active", "{table}");
    // To the second, in Chicago's zone (CST or CDT), not the stored UTC.
    let created = cell(&table, row("TN1"), "CREATED");
    assert!(
        created.len() == "2026-11-30 03:56:18 CST".len()
            && (created.ends_with(" CST") || created.ends_with(" CDT")),
        "{created:?}\n{table}"
    );
    let json: Value = serde_json::from_str(&stdout(&home.ok(&["deliveries", "--json"]))).unwrap();
    let revoked = json
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["request_id"] == "TN1")
        .unwrap();
    assert_eq!(revoked["status"], "revoked", "{json}");
    assert_eq!(
        revoked["state"], "active",
        "the stored state is unchanged: {json}"
    );
    assert_eq!(revoked["link"], link.as_str());

    // The revocation is filed under the link only; a search by request still finds it.
    let found: Vec<Value> =
        stdout(&home.ok(&["audit", "search", "--request", "TN1", "--format", "jsonl"]))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let actions: Vec<&str> = found
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["request.created", "delivery.created", "link.revoked"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(
        found.iter().all(|e| e["subjects"]["request"] != "TN22"),
        "{found:?}"
    );

    let table = stdout(&home.ok(&["links"]));
    assert_aligned(&table, &["LINK", "REQUEST", "STATE", "EXPIRES", "URL"]);
    let revoked_row = table.lines().find(|l| l.starts_with(&link)).unwrap();
    assert_eq!(cell(&table, revoked_row, "STATE"), "revoked", "{table}");
    let expires = cell(&table, revoked_row, "EXPIRES");
    assert!(
        expires.ends_with(" CST") || expires.ends_with(" CDT"),
        "{table}"
    );
}

/// `user list` starts with a header row; `jobs` has one too, even when empty.
#[test]
fn user_list_and_jobs_have_a_header_row() {
    use std::io::Write;
    let home = Home::new();
    for name in ["alice", "bartholomew"] {
        let mut child = home
            .cmd(&[
                "user",
                "add",
                name,
                "--role",
                "technician",
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{name}-password-1").unwrap();
        assert!(child.wait().unwrap().success());
    }
    let table = stdout(&home.ok(&["user", "list"]));
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("USER") && header.contains("ROLE") && header.contains("ADDED"),
        "{table}"
    );
    assert_eq!(lines.count(), 2, "{table}");
    assert_aligned(&table, &["USER", "ROLE", "ADDED"]);
    let jobs = stdout(&home.ok(&["jobs"]));
    assert!(
        jobs.starts_with("JOB") && jobs.contains("RECEIVED"),
        "{jobs}"
    );
}

/// The flags the issue named show their help text (the unit test in `src/cli/mod.rs` walks
/// every argument of every command).
#[test]
fn flags_say_what_they_are_for() {
    let home = Home::new();
    for (args, says) in [
        (&["link", "extend", "--help"][..], "Days to add"),
        (&["link", "extend", "--help"], "Downloads to add"),
        (&["link", "revoke", "--help"], "Why it is withdrawn"),
        (&["request", "add", "--help"], "--patron"),
        (&["deliveries", "--help"], "instead of a table"),
    ] {
        let out = stdout(&home.ok(args));
        assert!(out.contains(says), "quire {args:?}: {out}");
    }
    let add = stdout(&home.ok(&["request", "add", "--help"]));
    for (flag, help) in [
        ("--patron", "The reader's name"),
        ("--email", "The reader's e-mail address"),
    ] {
        // The flag's entry: its line and the lines under it, up to the next flag.
        let at = add
            .find(&format!("  {flag} "))
            .unwrap_or_else(|| panic!("{flag} in {add}"));
        let entry = &add[at + 2..];
        let entry = &entry[..entry.find("\n  -").unwrap_or(entry.len())];
        assert!(entry.contains(help), "{flag} has no help: {entry:?}\n{add}");
    }
}

/// The banner names the console; `/` sends a person there; the log written to a file has no
/// colour codes and no `Some("...")`.
#[test]
fn the_daemon_names_its_console_and_logs_plain_text_to_a_file() {
    let (home, port) = daemon_home("");
    let log = home.path().join("daemon.log");
    let _d = start_daemon_logged(&home, port, &[("RUST_LOG", "info")], &log);
    let console = format!("http://127.0.0.1:{port}/staff/");
    wait_until(Duration::from_secs(20), "the banner", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains(&console))
    });
    let root = quire_testkit::http::get("/").send(port).unwrap();
    assert!(matches!(root.status, 303 | 307 | 308), "{}", root.head);
    assert_eq!(
        root.headers("location").next(),
        Some("/staff/"),
        "{}",
        root.head
    );
    // A scan whose name matches no request: its custody line names no request plainly.
    let inbox = home.path().join("var/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::copy(corpus("ccitt.pdf"), inbox.join("scan-without-request.pdf")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("scan taken into custody")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no scan taken into custody:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log file:\n{text}"
    );
    assert!(!text.contains("Some("), "debug text in the log:\n{text}");
    assert!(!text.contains("roles=["), "debug text in the log:\n{text}");
}

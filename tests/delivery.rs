//! Delivery end to end: stamped copies, the borrower's page, counted downloads, revocation,
//! purge, tracing, and a scan dropped in the inbox reaching the borrower's outbox.

use std::path::Path;
use std::time::Duration;

use quire_testkit::http;
use serde_json::Value;

use crate::intake::jobs;
use crate::util::{Home, corpus, daemon_home, start_daemon, stderr, stdout, wait_until};

pub(crate) fn add_request(home: &Home, id: &str, extra: &[&str]) {
    let mut args = vec![
        "request",
        "add",
        "--id",
        id,
        "--patron",
        "Nguyễn Thị Minh Khai",
        "--email",
        "minh@example.org",
        "--library",
        "ZZQ",
        "--title",
        "Journal of Tests",
        "--article",
        "On testing",
        "--author",
        "Smith, J.",
        "--year",
        "2024",
    ];
    args.extend_from_slice(extra);
    home.ok(&args);
}

/// The outcome of every download attempt in the audit log, in order, and the log itself.
fn download_outcomes(home: &Home) -> (Vec<String>, String) {
    let log = stdout(&home.ok(&["audit", "export", "--action", "link.download"]));
    let outcomes = log
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["details"]["outcome"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    (outcomes, log)
}

pub(crate) fn links(home: &Home) -> Vec<Value> {
    serde_json::from_str(&stdout(&home.ok(&["links", "--json"]))).unwrap()
}

pub(crate) fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_string()
}

/// GET returning (status, headers, body bytes).
pub(crate) fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let request = headers
        .iter()
        .fold(http::get(path), |r, (k, v)| r.header(k, v));
    let reply = request.send(port).unwrap();
    (reply.status, reply.head, reply.body)
}

fn pdftotext(pdf: &Path) -> String {
    let out = std::process::Command::new("pdftotext")
        .arg("-enc")
        .arg("UTF-8")
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_hand_delivery_is_stamped_linked_counted_revoked_and_traced() {
    let (home, port) = daemon_home("[links]\ndownloads = 3\n");
    std::fs::OpenOptions::new()
        .append(true)
        .open(home.config_path())
        .unwrap();
    add_request(&home, "TN700", &["--pages", "1-1", "--basis", "ccg"]);
    let out = home.ok(&[
        "deliver",
        "--request",
        "TN700",
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    assert!(stdout(&out).contains("delivered"), "{}", stdout(&out));
    let _d = start_daemon(&home, port);
    let l = links(&home);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["downloads_left"], 3);
    assert_eq!(l[0]["state"], "active");
    let url = path_of(l[0]["url"].as_str().unwrap());

    // The borrower's page: institution, citation, warning, expiry, downloads, the button.
    let (status, head, body) = get(port, &url, &[]);
    let page = String::from_utf8(body).unwrap();
    assert_eq!(status, 200, "{head}");
    for needle in [
        "Example Library",
        "On testing",
        "Journal of Tests",
        "Nguyễn Thị Minh Khai",
        "copyright law",
        "3 of 3",
        "Download PDF",
        "lang=\"en\"",
    ] {
        assert!(
            page.contains(needle),
            "borrower page lacks {needle:?}:\n{page}"
        );
    }
    assert!(
        !page.contains("<script"),
        "the page works without JavaScript"
    );

    // A ranged request is served as such (and counts).
    let (status, head, body) = get(port, &format!("{url}/file"), &[("Range", "bytes=0-99")]);
    assert_eq!(status, 206, "{head}");
    assert_eq!(body.len(), 100);
    assert!(body.starts_with(b"%PDF"));
    assert!(
        head.to_ascii_lowercase()
            .contains("content-range: bytes 0-99/"),
        "{head}"
    );

    let (status, head, pdf) = get(port, &format!("{url}/file"), &[]);
    assert_eq!(status, 200, "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/pdf")
            && lower.contains("content-disposition: attachment"),
        "{head}"
    );
    assert!(
        lower.contains(&format!("content-length: {}", pdf.len())),
        "{head}"
    );
    let file = home.path().join("copy.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let text = pdftotext(&file);
    assert!(
        text.contains("Nguyễn Thị Minh Khai") && text.contains("TN700"),
        "stamp missing from:\n{text}"
    );
    let qpdf = std::process::Command::new("qpdf")
        .arg("--check")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        qpdf.status.success(),
        "{}",
        String::from_utf8_lossy(&qpdf.stdout)
    );

    // The copy leads back to its delivery, even with its metadata stripped.
    let traced = stdout(&home.ok(&["trace", file.to_str().unwrap()]));
    assert!(
        traced.contains("TN700")
            && traced.contains("Nguyễn Thị Minh Khai")
            && traced.contains("exact file"),
        "{traced}"
    );
    let stripped = home.path().join("stripped.pdf");
    // One page cut out into a new file: no Info, no XMP, a new file identifier.
    let st = std::process::Command::new("qpdf")
        .args(["--empty", "--object-streams=generate", "--pages"])
        .arg(&file)
        .args(["2", "--"])
        .arg(&stripped)
        .status()
        .unwrap();
    assert!(st.success());
    let traced = stdout(&home.ok(&["trace", stripped.to_str().unwrap()]));
    assert!(
        traced.contains("TN700") && traced.contains("modified copy"),
        "{traced}"
    );
    let unknown = home.fails(&["trace", corpus("ccitt.pdf").to_str().unwrap()]);
    assert!(
        stdout(&unknown).contains("no Quire delivery found"),
        "{}",
        stdout(&unknown)
    );

    // A staff preview (API token) gives the same bytes and uses up no download.
    let delivery = stdout(&home.ok(&["links", "--json"]));
    let delivery: Vec<Value> = serde_json::from_str(&delivery).unwrap();
    let preview_path = format!(
        "/api/v1/deliveries/{}/preview",
        delivery[0]["delivery"].as_str().unwrap()
    );
    assert_eq!(
        get(port, &preview_path, &[]).0,
        401,
        "preview needs a token"
    );
    let (status, _, previewed) = get(
        port,
        &preview_path,
        &[("Authorization", "Bearer test-token-1234567890")],
    );
    assert_eq!(status, 200);
    assert_eq!(previewed, pdf, "the preview is the borrower's copy");
    assert_eq!(
        links(&home)[0]["downloads_left"],
        1,
        "a preview is not a download"
    );

    // One download left; the third is the last; then 410 "used up".
    assert_eq!(get(port, &format!("{url}/file"), &[]).0, 200);
    let (status, head, body) = get(port, &format!("{url}/file"), &[]);
    assert_eq!(status, 410, "{head}");
    assert!(head.contains("x-link-state: used_up"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("ill@example.org"));
    assert_eq!(get(port, &url, &[]).0, 410);

    // Extend, then revoke: the page says which.
    let id = links(&home)[0]["id"].as_str().unwrap().to_string();
    home.ok(&["link", "extend", &id, "--downloads", "2"]);
    assert_eq!(links(&home)[0]["downloads_left"], 2);
    assert_eq!(get(port, &url, &[]).0, 200);
    home.ok(&[
        "link",
        "revoke",
        &id,
        "--reason",
        "sent to the wrong patron",
    ]);
    let (status, head, _) = get(port, &format!("{url}/file"), &[]);
    assert_eq!(status, 410);
    assert!(head.contains("x-link-state: revoked"), "{head}");

    // Unknown tokens: 404, same page for any shape.
    assert_eq!(
        get(port, "/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &[]).0,
        404
    );
    assert_eq!(get(port, "/d/x/file", &[]).0, 404);

    // Every attempt is in the log with its outcome and the client's address.
    let (outcomes, log) = download_outcomes(&home);
    assert_eq!(
        outcomes,
        ["granted", "granted", "granted", "used_up", "revoked"]
    );
    assert!(log.contains("127.0.0.1"));
    // The token itself is never written anywhere in the log.
    let token = url.trim_start_matches("/d/");
    assert!(!stdout(&home.ok(&["audit", "export"])).contains(token));
    home.ok(&["audit", "verify"]);
}

#[test]
fn a_hundred_concurrent_downloads_of_five_get_exactly_five_files() {
    let (home, port) = daemon_home("");
    add_request(&home, "TN710", &[]);
    home.ok(&[
        "deliver",
        "--request",
        "TN710",
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    let _d = start_daemon(&home, port);
    let url = path_of(links(&home)[0]["url"].as_str().unwrap());
    let handles: Vec<_> = (0..100)
        .map(|_| {
            let path = format!("{url}/file");
            std::thread::spawn(move || get(port, &path, &[]).0)
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 410).count(),
        95,
        "{statuses:?}"
    );
    assert_eq!(links(&home)[0]["downloads_left"], 0);
}

/// Range positions are client input up to `u64::MAX`: a last position past the end is clamped
/// to the last byte (RFC 9110), never overflowed into a 416.
#[test]
fn a_range_ending_at_the_largest_number_gets_the_whole_file_as_partial_content() {
    let (home, port) = daemon_home("");
    add_request(&home, "TN715", &[]);
    home.ok(&[
        "deliver",
        "--request",
        "TN715",
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    let _d = start_daemon(&home, port);
    let url = format!("{}/file", path_of(links(&home)[0]["url"].as_str().unwrap()));
    let (status, head, body) = get(port, &url, &[("Range", "bytes=0-18446744073709551615")]);
    assert_eq!(status, 206, "{head}");
    assert!(body.starts_with(b"%PDF"));
    let expected = format!("content-range: bytes 0-{}/{}", body.len() - 1, body.len());
    assert!(head.to_ascii_lowercase().contains(&expected), "{head}");
    let (status, head, _) = get(port, &url, &[("Range", "bytes=18446744073709551615-")]);
    assert_eq!(status, 416, "{head}");
}

/// A list where one address belongs makes the mailer fail at every send: the CLI, the CSV
/// import and the API refuse it at input, naming the field.
#[test]
fn a_list_of_addresses_is_refused_at_input_by_the_cli_the_import_and_the_api() {
    let (home, port) = daemon_home("");
    let list = "a@example.org,b@evil.example";
    let out = home.fails(&[
        "request", "add", "--id", "TN760", "--patron", "Ann", "--email", list,
    ]);
    let err = stderr(&out);
    assert!(
        err.contains("patron_email") && err.contains(list) && err.contains("exactly one"),
        "{err}"
    );
    let csv = home.path().join("list.csv");
    std::fs::write(
        &csv,
        format!("id,patron,email\nTN761,Bo,bo@example.org\nTN762,Cy,\"{list}\"\n"),
    )
    .unwrap();
    let err = stderr(&home.fails(&["request", "import", csv.to_str().unwrap()]));
    assert!(
        err.contains("TN762") && err.contains("patron_email") && err.contains(list),
        "{err}"
    );
    let _d = start_daemon(&home, port);
    let body = format!(r#"{{"id":"TN763","patron_name":"Di","patron_email":"{list}"}}"#);
    let (status, text) = crate::util::http(
        port,
        "POST",
        "/api/v1/requests",
        Some("test-token-1234567890"),
        Some(&body),
    )
    .unwrap();
    assert_eq!(status, 422, "{text}");
    assert!(
        text.contains("patron_email") && text.contains("TN763"),
        "{text}"
    );
    let listed: Vec<Value> =
        serde_json::from_str(&stdout(&home.ok(&["request", "list", "--json"]))).unwrap();
    assert!(listed.is_empty(), "nothing may be stored: {listed:?}");
}

/// A HEAD of `path`: (status, headers).
fn head(port: u16, path: &str) -> (u16, String) {
    let reply = http::head(path).send(port).unwrap();
    (reply.status, reply.head)
}

fn downloads_left(home: &Home) -> i64 {
    links(home)[0]["downloads_left"].as_i64().unwrap()
}

/// A phone resuming a download, or a mail scanner looking at the link, must not burn the
/// borrower's downloads: HEAD never counts, and a range not starting at byte 0 from a client
/// whose download was counted within the session window is the same download.
#[test]
fn head_and_resumed_ranges_do_not_spend_downloads() {
    let (home, port) = daemon_home("[links]\ndownloads = 2\n");
    add_request(&home, "TN716", &[]);
    home.ok(&[
        "deliver",
        "--request",
        "TN716",
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    let _d = start_daemon(&home, port);
    let landing = path_of(links(&home)[0]["url"].as_str().unwrap());
    let page = String::from_utf8(get(port, &landing, &[]).2).unwrap();
    assert!(
        page.contains("2 of 2") && page.contains("does not count again"),
        "the page states the rule next to the downloads left:\n{page}"
    );
    let url = format!("{landing}/file");
    let (status, h) = head(port, &url);
    assert_eq!(status, 200, "{h}");
    assert!(h.to_ascii_lowercase().contains("content-length: "), "{h}");
    assert_eq!(downloads_left(&home), 2, "HEAD is not a download");

    // A range from the middle with no counted download before: counted once.
    let (status, head1, _) = get(port, &url, &[("Range", "bytes=100-")]);
    assert_eq!(status, 206, "{head1}");
    assert_eq!(downloads_left(&home), 1);
    // The same client going on from further along: the same download.
    let (status, _, tail) = get(port, &url, &[("Range", "bytes=200-")]);
    assert_eq!(status, 206);
    assert_eq!(
        downloads_left(&home),
        1,
        "a resumed range is not counted again"
    );
    // A body from byte 0 is a new download.
    let (status, _, whole) = get(port, &url, &[]);
    assert_eq!(status, 200);
    assert_eq!(downloads_left(&home), 0);
    assert!(
        whole[200..] == tail[..],
        "the resumed range is the file's tail"
    );
    // Resuming the last download still works; a new one does not.
    let (status, _, _) = get(port, &url, &[("Range", "bytes=300-")]);
    assert_eq!(status, 206, "the last download can be resumed");
    assert_eq!(get(port, &url, &[]).0, 410);
    assert_eq!(get(port, &url, &[("Range", "bytes=0-99")]).0, 410);
    assert_eq!(head(port, &url).0, 410);
    let (outcomes, _) = download_outcomes(&home);
    assert_eq!(
        outcomes,
        [
            "granted", "resumed", "granted", "resumed", "used_up", "used_up"
        ]
    );
}

/// The pickup code from `quire deliver`'s output.
fn pickup_code(out: &std::process::Output) -> String {
    stdout(out)
        .lines()
        .find_map(|l| l.trim().strip_prefix("pickup"))
        .expect("a pickup code in the output")
        .trim()
        .to_string()
}

/// GET with `X-Forwarded-For: client` (the daemon trusts 127.0.0.1 as a proxy).
fn get_as(port: u16, path: &str, client: &str) -> (u16, String, Vec<u8>) {
    get(port, path, &[("X-Forwarded-For", client)])
}

/// Pickup codes are six digits: without a limit they can be tried through in seconds. Wrong
/// codes are limited per client and per link (429, even for the right code), every refusal is
/// audited.
#[test]
fn wrong_pickup_codes_are_limited_per_client_and_per_link_and_audited() {
    let port = crate::util::free_port();
    let home = Home::with_config(&format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\ntrusted_proxies = [\"127.0.0.1\"]\n\
         [intake]\nsettle_secs = 0.5\n\
         [links]\npickup_code = true\npickup_attempts = 3\npickup_lock_after = 4\n"
    ));
    let mut urls = Vec::new();
    let mut codes = Vec::new();
    for id in ["TN770", "TN771", "TN772"] {
        add_request(&home, id, &[]);
        let out = home.ok(&[
            "deliver",
            "--request",
            id,
            corpus("ccitt.pdf").to_str().unwrap(),
        ]);
        codes.push(pickup_code(&out));
    }
    for id in ["TN770", "TN771", "TN772"] {
        let l = serde_json::from_str::<Vec<Value>>(&stdout(&home.ok(&[
            "links",
            "--json",
            "--request",
            id,
        ])))
        .unwrap();
        urls.push(format!("{}/file", path_of(l[0]["url"].as_str().unwrap())));
    }
    let _d = start_daemon(&home, port);
    let wrong = |code: &str| {
        let first = if code.starts_with('1') { '2' } else { '1' };
        format!("{first}{}", &code[1..])
    };
    let with = |i: usize, code: &str| format!("{}?code={code}", urls[i]);

    // One client, three wrong codes spread over two links.
    for i in [0, 1, 0] {
        let (status, h, _) = get_as(port, &with(i, &wrong(&codes[i])), "198.51.100.1");
        assert_eq!(status, 403, "{h}");
    }
    let (status, h, body) = get_as(port, &with(2, &codes[2]), "198.51.100.1");
    assert_eq!(
        status, 429,
        "the client is over its limit, even with a right code: {h}"
    );
    assert!(h.to_ascii_lowercase().contains("retry-after: 900"), "{h}");
    assert!(
        String::from_utf8_lossy(&body).contains("Too many wrong pickup codes"),
        "a plain page"
    );
    // Another client on link 0 (two wrong so far) still gets its copy with the right code.
    assert_eq!(get_as(port, &with(0, &codes[0]), "198.51.100.2").0, 200);
    // A third wrong code on link 0 from yet another client reaches the link's limit.
    assert_eq!(
        get_as(port, &with(0, &wrong(&codes[0])), "198.51.100.3").0,
        403
    );
    let (status, h, _) = get_as(port, &with(0, &codes[0]), "198.51.100.4");
    assert_eq!(
        status, 429,
        "the link is over its limit for every client: {h}"
    );
    // A missing code is not a guess.
    assert_eq!(get_as(port, &urls[2], "198.51.100.5").0, 403);
    assert_eq!(get_as(port, &with(2, &codes[2]), "198.51.100.5").0, 200);

    let log = stdout(&home.ok(&["audit", "export", "--action", "link.code_refused"]));
    let reasons: Vec<String> = log
        .lines()
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {}",
                e["details"]["reason"].as_str().unwrap(),
                e["details"]["client"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "wrong 198.51.100.1",
            "wrong 198.51.100.1",
            "wrong 198.51.100.1",
            "limited 198.51.100.1",
            "wrong 198.51.100.3",
            "limited 198.51.100.4",
        ]
    );
    assert!(!log.contains(&codes[0]), "codes are never logged");
    home.ok(&["audit", "verify"]);
}

/// With the S3 store away, a download must say "try again" (503, Retry-After) and cost
/// nothing; when the store is back the same link works.
#[test]
fn a_download_while_the_s3_store_is_away_is_503_and_not_counted() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("quire")).unwrap();
    let s3_port = crate::util::free_port();
    let mut s3 = start_s3s(root.path(), s3_port);
    let (home, port) = daemon_home(&s3_storage(s3_port, S3_SECRET));
    add_request(&home, "TN780", &[]);
    home.ok(&[
        "deliver",
        "--request",
        "TN780",
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    let _d = start_daemon(&home, port);
    let url = format!("{}/file", path_of(links(&home)[0]["url"].as_str().unwrap()));
    let _ = s3.kill();
    let _ = s3.wait();
    let (status, h, _) = get(port, &url, &[]);
    assert_eq!(status, 503, "{h}");
    assert!(h.to_ascii_lowercase().contains("retry-after: "), "{h}");
    assert_eq!(
        downloads_left(&home),
        5,
        "nothing counted while the store is away"
    );
    let mut s3 = start_s3s(root.path(), s3_port);
    let (status, _, pdf) = get(port, &url, &[]);
    assert_eq!(status, 200);
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(downloads_left(&home), 4);
    let _ = s3.kill();
    let _ = s3.wait();
}

/// A scan processed while the S3 store is away waits, ready, without failing; once the store
/// is back it is delivered exactly once: one object, one link, one notice, one audit record.
#[test]
fn a_scan_ready_while_the_s3_store_is_away_is_delivered_once_it_is_back() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("quire")).unwrap();
    let s3_port = crate::util::free_port();
    let mut s3 = start_s3s(root.path(), s3_port);
    let (home, port) = daemon_home(&s3_storage(s3_port, S3_SECRET));
    add_request(&home, "TN781", &[]);
    let _d = start_daemon(&home, port);
    let _ = s3.kill();
    let _ = s3.wait();
    std::fs::copy(corpus("ccitt.pdf"), home.path().join("var/inbox/TN781.pdf")).unwrap();
    let state = || {
        jobs(&home)
            .first()
            .map(|j| j["state"].as_str().unwrap().to_owned())
    };
    wait_until(Duration::from_secs(180), "the job is processed", || {
        state().is_some_and(|s| s != "received" && s != "processing")
    });
    // Several delivery attempts later it is still waiting, not failed, and nothing went out.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(state().as_deref(), Some("processed"));
    assert!(links(&home).is_empty());

    let mut s3 = start_s3s(root.path(), s3_port);
    wait_until(Duration::from_secs(60), "the job is delivered", || {
        state().as_deref() == Some("delivered")
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(links(&home).len(), 1);
    assert_eq!(
        walk(&root.path().join("quire")),
        1,
        "one object in the bucket"
    );
    let created = stdout(&home.ok(&[
        "audit",
        "search",
        "--action",
        "delivery.created",
        "--format",
        "jsonl",
    ]))
    .lines()
    .count();
    assert_eq!(created, 1);
    wait_until(Duration::from_secs(30), "the notice is written", || {
        walk(&home.path().join("var/outbox")) == 1
    });
    let url = format!("{}/file", path_of(links(&home)[0]["url"].as_str().unwrap()));
    let (status, _, pdf) = get(port, &url, &[]);
    assert_eq!(status, 200);
    assert!(pdf.starts_with(b"%PDF"));
    let _ = s3.kill();
    let _ = s3.wait();
}

/// The secret [`start_s3s`] gives its server.
pub(crate) const S3_SECRET: &str = "quire-secret-key-123";

/// The `[storage]` section for the `quire` bucket of [`start_s3s`]'s server, signing with `secret`.
pub(crate) fn s3_storage(port: u16, secret: &str) -> String {
    format!(
        "[storage]\nbackend = \"s3\"\nendpoint = \"http://127.0.0.1:{port}\"\nbucket = \"quire\"\n\
         path_style = true\naccess_key_id = \"AKQUIRETEST\"\nsecret_access_key = \"{secret}\"\n"
    )
}

/// A real `s3s-fs` on loopback serving `root` (bucket folders inside), started as
/// [`delivery_works_on_an_s3_store`] does.
pub(crate) fn start_s3s(root: &Path, port: u16) -> std::process::Child {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/s3s-fs");
    assert!(
        bin.exists(),
        "s3s-fs is missing at {}: run scripts/bootstrap",
        bin.display()
    );
    let child = std::process::Command::new(&bin)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--access-key",
            "AKQUIRETEST",
            "--secret-key",
            S3_SECRET,
        ])
        .arg(root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(20), "s3s-fs listens", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    child
}

#[test]
fn purge_removes_the_file_after_the_link_ends_and_keeps_the_record() {
    let (home, _port) = daemon_home("[links]\npurge_after_days = 0\n");
    add_request(&home, "TN720", &[]);
    home.ok(&[
        "deliver",
        "--request",
        "TN720",
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    let id = links(&home)[0]["id"].as_str().unwrap().to_string();
    let objects = || walk(&home.path().join("var/store/objects"));
    assert_eq!(objects(), 1);
    let dry = stdout(&home.ok(&["purge", "--dry-run"]));
    assert!(
        dry.contains("would remove 0"),
        "an active link keeps its file: {dry}"
    );
    home.ok(&["link", "revoke", &id]);
    assert!(stdout(&home.ok(&["purge", "--dry-run"])).contains("would remove 1"));
    assert_eq!(objects(), 1, "a dry run removes nothing");
    assert!(stdout(&home.ok(&["purge"])).contains("removed 1"));
    assert_eq!(objects(), 0);
    assert_eq!(links(&home)[0]["state"], "purged");
    let log = stdout(&home.ok(&["audit", "export", "--action", "delivery."]));
    assert!(
        log.contains("delivery.created") && log.contains("delivery.purged"),
        "{log}"
    );
    assert!(
        stdout(&home.ok(&["purge"])).contains("removed 0"),
        "purge is idempotent"
    );
}

/// The store remembers files it verified and that have not changed since, and sends them
/// again without re-hashing; a file changed in place after that must still never reach the
/// borrower whole.
#[test]
fn a_stored_file_changed_after_verified_downloads_is_never_served_whole() {
    let (home, port) = daemon_home("");
    add_request(&home, "TN740", &[]);
    home.ok(&[
        "deliver",
        "--request",
        "TN740",
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    let _d = start_daemon(&home, port);
    let url = format!("{}/file", path_of(links(&home)[0]["url"].as_str().unwrap()));
    // Past the store's settle time (2 s), a verified read of the file is remembered.
    std::thread::sleep(Duration::from_millis(2500));
    let (status, _, good) = get(port, &url, &[]);
    assert_eq!(status, 200);
    let (status, _, again) = get(port, &url, &[]);
    assert_eq!(status, 200);
    assert!(again == good, "the remembered file is served as it is");

    let object = find_file(&home.path().join("var/store/objects")).expect("one stored object");
    let mut bytes = std::fs::read(&object).unwrap();
    assert!(bytes == good, "the download is the stored object");
    bytes[good.len() / 2] ^= 0x20;
    // In place (same inode and length), as a disk editor or a stray process would.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&object)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
        .unwrap();

    let (status, length, body) = get_lenient(port, &url);
    let whole = status == Some(200) && length == Some(body.len() as u64);
    assert!(
        !whole,
        "a changed file was served whole: {status:?}, {length:?}, {} bytes",
        body.len()
    );
    assert!(body.len() < good.len(), "{} bytes served", body.len());
    home.ok(&["audit", "verify"]);
}

/// Like [`get`], but a response cut short (or reset) is returned as far as it came: status,
/// Content-Length and the body bytes received.
fn get_lenient(port: u16, path: &str) -> (Option<u16>, Option<u64>, Vec<u8>) {
    match http::get(path).send_lenient(port).unwrap() {
        Some(reply) => (Some(reply.status), reply.content_length(), reply.body),
        None => (None, None, Vec::new()),
    }
}

fn find_file(dir: &Path) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.filter_map(|e| e.ok()) {
        let path = entry.path();
        let found = if path.is_dir() {
            find_file(&path)
        } else {
            Some(path)
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn walk(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn a_scan_dropped_in_the_inbox_reaches_the_borrower() {
    let (home, port) = daemon_home("");
    add_request(&home, "TN730", &[]);
    let _d = start_daemon(&home, port);
    std::fs::copy(corpus("ccitt.pdf"), home.path().join("var/inbox/TN730.pdf")).unwrap();
    wait_until(
        Duration::from_secs(180),
        "the job is delivered or held",
        || {
            jobs(&home).first().is_some_and(|j| {
                ["delivered", "held", "failed"].contains(&j["state"].as_str().unwrap())
            })
        },
    );
    let job = &jobs(&home)[0];
    assert_eq!(job["state"], "delivered", "{job}");
    let l = links(&home);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["request"], "TN730");
    // The notice waits in the outbox (the embedded default), naming the link.
    let outbox = home.path().join("var/outbox");
    wait_until(Duration::from_secs(30), "the notice is written", || {
        walk(&outbox) == 1
    });
    let eml = std::fs::read_dir(&outbox)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(eml).unwrap();
    assert!(text.contains("minh@example.org"), "{text}");
    let url = l[0]["url"].as_str().unwrap();
    assert!(
        text.replace("=\r\n", "")
            .replace("=\n", "")
            .contains(url.rsplit('/').next().unwrap()),
        "the e-mail carries the link:\n{text}"
    );
    let (status, _, pdf) = get(port, &format!("{}/file", path_of(url)), &[]);
    assert_eq!(status, 200);
    let file = home.path().join("got.pdf");
    std::fs::write(&file, pdf).unwrap();
    let text = pdftotext(&file);
    assert!(text.contains("TN730"), "{text}");
    // The original left the spool after delivery.
    let spool = Path::new(job["spool_path"].as_str().unwrap());
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(spool).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the job's spool folder is the daemon's alone");
    }
    assert!(
        !spool.join("TN730.pdf").exists(),
        "originals leave the spool after delivery"
    );
    let _ = stderr;
}

/// The same delivery on the S3 backend: a real `s3s-fs` server on loopback that checks
/// signatures. The object lands in the bucket and the borrower gets verified bytes from it.
#[test]
fn delivery_works_on_an_s3_store() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("quire")).unwrap();
    let s3_port = crate::util::free_port();
    let mut s3 = start_s3s(root.path(), s3_port);
    let storage = |secret: &str| s3_storage(s3_port, secret);
    // A wrong secret is refused by the server's signature check, and nothing is recorded.
    let (bad, _) = daemon_home(&storage("wrong-secret"));
    add_request(&bad, "TN740", &[]);
    let out = bad.fails(&[
        "deliver",
        "--request",
        "TN740",
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    assert!(
        stderr(&out).contains("TN740") || stderr(&out).contains("ccitt.pdf"),
        "{}",
        stderr(&out)
    );
    assert!(links(&bad).is_empty());

    let (home, port) = daemon_home(&storage(S3_SECRET));
    add_request(&home, "TN740", &[]);
    home.ok(&[
        "deliver",
        "--request",
        "TN740",
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    assert_eq!(
        walk(&root.path().join("quire")),
        1,
        "one object in the bucket"
    );
    let _d = start_daemon(&home, port);
    let url = path_of(links(&home)[0]["url"].as_str().unwrap());
    let (status, _, pdf) = get(port, &format!("{url}/file"), &[]);
    assert_eq!(status, 200);
    assert!(pdf.starts_with(b"%PDF"));
    let _ = s3.kill();
    let _ = s3.wait();
}

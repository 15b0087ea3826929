//! The staff console over real HTTP against the real daemon: signing in and out, CSRF and role
//! refusals, failed-login limits, and the actions (release a held job, revoke and extend a
//! link, export the audit log) with their effects seen where borrowers and the CLI see them.

use std::collections::BTreeMap;
use std::time::Duration;

use quire_testkit::http;
use serde_json::{Value, json};

use crate::intake::jobs;
use crate::util::{Home, corpus, daemon_home, start_daemon, stdout, wait_until};

/// A tiny cookie-keeping HTTP/1.1 client, like a browser without JavaScript.
pub(crate) struct Browser {
    port: u16,
    cookies: BTreeMap<String, String>,
    /// Sent as `X-Forwarded-For`, as a reverse proxy in front of the daemon would.
    forwarded_for: Option<String>,
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
    raw: http::Response,
}

impl Reply {
    fn location(&self) -> Option<String> {
        self.header("location")
    }

    fn header(&self, name: &str) -> Option<String> {
        self.raw.header(name).map(str::to_string)
    }

    fn set_cookies(&self) -> Vec<String> {
        self.raw.headers("set-cookie").map(str::to_string).collect()
    }

    /// The value of the first hidden `csrf` field on the page.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf field in:\n{}", self.body));
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

fn form_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl Browser {
    fn new(port: u16) -> Self {
        Self {
            port,
            cookies: BTreeMap::new(),
            forwarded_for: None,
        }
    }

    fn send(&mut self, method: &str, path: &str, body: Option<String>) -> Reply {
        let mut request = http::Request::new(method, path);
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header("Cookie", &cookie);
        }
        if let Some(ip) = &self.forwarded_for {
            request = request.header("X-Forwarded-For", ip);
        }
        if method == "POST" {
            request = request.body(
                "application/x-www-form-urlencoded",
                body.unwrap_or_default(),
            );
        }
        let raw = request.send(self.port).expect("an HTTP reply");
        let reply = Reply {
            status: raw.status,
            body: raw.text(),
            raw,
        };
        for c in reply.set_cookies() {
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        reply
    }

    pub(crate) fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, None)
    }

    fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        self.send("POST", path, Some(form_encode(fields)))
    }

    fn login(&mut self, name: &str, password: &str) -> Reply {
        let form = self.get("/staff/login");
        assert_eq!(form.status, 200);
        let csrf = form.csrf();
        self.post(
            "/staff/login",
            &[("name", name), ("password", password), ("csrf", &csrf)],
        )
    }

    /// Signs in and returns a page's CSRF token for later forms.
    pub(crate) fn signed_in(port: u16, name: &str, password: &str) -> (Self, String) {
        let mut b = Self::new(port);
        let r = b.login(name, password);
        assert_eq!(r.status, 303, "login as {name}: {}\n{}", r.raw.head, r.body);
        let page = b.get("/staff/requests");
        assert_eq!(page.status, 200, "{}", page.body);
        let csrf = page.csrf();
        (b, csrf)
    }
}

/// Runs `quire ARGS` with `line` on its stdin (a password, for `--password-stdin`).
pub fn with_stdin(home: &Home, args: &[&str], line: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = home
        .cmd(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{line}").unwrap();
    child.wait_with_output().unwrap()
}

fn try_add_user(home: &Home, name: &str, role: &str, password: &str) -> std::process::Output {
    with_stdin(
        home,
        &["user", "add", name, "--role", role, "--password-stdin"],
        password,
    )
}

pub(crate) fn add_user(home: &Home, name: &str, role: &str, password: &str) {
    let out = try_add_user(home, name, role, password);
    assert!(
        out.status.success(),
        "user add {name}: {}",
        crate::util::describe(&out)
    );
}

fn staff_home() -> (Home, u16) {
    let (home, port) = daemon_home("");
    add_user(&home, "tina", "technician", "tina-password-1");
    add_user(&home, "carl", "compliance", "carl-password-1");
    (home, port)
}

fn audit_actions(home: &Home) -> Vec<Value> {
    let out = home.ok(&["audit", "export", "--format", "jsonl"]);
    let text = stdout(&out);
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn users_need_a_valid_name_role_and_password_and_are_stored_hashed() {
    let home = Home::new();
    add_user(&home, "ana.lopez", "admin", "a long enough password");
    let listed = stdout(&home.ok(&["user", "list"]));
    assert!(
        listed.contains("ana.lopez") && listed.contains("admin"),
        "{listed}"
    );
    let db = rusqlite::Connection::open(home.db_path()).unwrap();
    let stored: String = db
        .query_row(
            "SELECT password FROM staff_users WHERE name = 'ana.lopez'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$") && !stored.contains("a long enough password"),
        "{stored}"
    );
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let dup = try_add_user(&home, "ana.lopez", "technician", "another long password");
    assert!(
        !dup.status.success() && stderr(&dup).contains("exists already"),
        "{}",
        stderr(&dup)
    );
    let role = try_add_user(&home, "bob", "borrower", "a long enough password");
    assert!(!role.status.success(), "borrowers are no staff role");
    let short = try_add_user(&home, "bob", "technician", "short");
    assert!(
        !short.status.success() && stderr(&short).contains("too short"),
        "{}",
        stderr(&short)
    );
    let name = try_add_user(&home, "bob smith", "technician", "a long enough password");
    assert!(
        !name.status.success() && stderr(&name).contains("user name"),
        "{}",
        stderr(&name)
    );
    assert!(!stdout(&home.ok(&["user", "list"])).contains("bob"));
}

#[test]
fn staff_sign_in_and_out_and_borrowers_never_reach_staff_pages() {
    let (home, port) = staff_home();
    let _d = start_daemon(&home, port);
    let mut anon = Browser::new(port);
    for path in [
        "/staff/",
        "/staff/jobs",
        "/staff/requests",
        "/staff/compliance/audit",
        "/staff/compliance/audit.csv",
        "/staff/jobs/x",
    ] {
        let r = anon.get(path);
        assert_eq!(
            (r.status, r.location().as_deref()),
            (303, Some("/staff/login")),
            "{path}"
        );
    }
    // A made-up session cookie is no session.
    anon.cookies.insert("quire_session".into(), "00".repeat(32));
    assert_eq!(anon.get("/staff/jobs").status, 303);

    let mut b = Browser::new(port);
    let wrong = b.login("tina", "not her password");
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("Wrong name or password"),
        "{}",
        wrong.body
    );
    // Without the login form's token the post is refused even with the right password.
    let forged = b.post(
        "/staff/login",
        &[
            ("name", "tina"),
            ("password", "tina-password-1"),
            ("csrf", "forged"),
        ],
    );
    assert_eq!(forged.status, 403);

    let ok = b.login("tina", "tina-password-1");
    assert_eq!(ok.status, 303, "{}", ok.body);
    let cookie = ok
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("quire_session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http public_url: no Secure flag: {cookie}"
    );
    let session = b.cookies["quire_session"].clone();
    let db = rusqlite::Connection::open(home.db_path()).unwrap();
    let stored: String = db
        .query_row("SELECT id_sha256 FROM staff_sessions", [], |r| r.get(0))
        .unwrap();
    assert_ne!(stored, session, "only the hash of the session id is stored");

    let queue = b.get("/staff/jobs");
    assert_eq!(queue.header("x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(queue.header("cache-control").as_deref(), Some("no-store"));
    let home_page = b.get("/staff/");
    assert_eq!(home_page.location().as_deref(), Some("/staff/jobs"));
    let queue = b.get("/staff/jobs");
    assert_eq!(queue.status, 200);
    assert!(
        queue.body.contains("Job queue") && queue.body.contains("tina (technician)"),
        "{}",
        queue.body
    );
    let csrf = queue.csrf();

    assert_eq!(
        b.post("/staff/logout", &[("csrf", "wrong")]).status,
        403,
        "logout needs the CSRF token"
    );
    assert_eq!(b.get("/staff/jobs").status, 200, "still signed in");
    let out = b.post("/staff/logout", &[("csrf", &csrf)]);
    assert_eq!(
        (out.status, out.location().as_deref()),
        (303, Some("/staff/login"))
    );
    // The old cookie, replayed, opens nothing: the session ended on the server.
    let mut replay = Browser::new(port);
    replay.cookies.insert("quire_session".into(), session);
    assert_eq!(replay.get("/staff/jobs").status, 303);

    let actions: Vec<String> = audit_actions(&home)
        .iter()
        .map(|e| e["action"].as_str().unwrap_or("").to_string())
        .collect();
    for a in [
        "user.added",
        "staff.login_failed",
        "staff.login",
        "staff.logout",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
}

#[test]
fn roles_are_checked_on_every_route_and_an_officer_exports_the_audit_log() {
    let (home, port) = staff_home();
    let _d = start_daemon(&home, port);
    let (mut tech, tech_csrf) = Browser::signed_in(port, "tina", "tina-password-1");
    for path in [
        "/staff/compliance/audit",
        "/staff/compliance/audit.csv",
        "/staff/compliance/held",
        "/staff/compliance/contu",
    ] {
        let r = tech.get(path);
        assert_eq!(r.status, 403, "technician on {path}");
        assert!(!r.body.contains("Chain verified"), "{path}");
    }
    let r = tech.post(
        "/staff/compliance/held/D1/release",
        &[("csrf", &tech_csrf), ("reason", "x")],
    );
    assert_eq!(r.status, 403);
    assert!(
        !tech.get("/staff/jobs").body.contains("Audit log"),
        "the nav shows only the technician's pages"
    );

    let (mut carl, _) = Browser::signed_in(port, "carl", "carl-password-1");
    assert_eq!(
        carl.get("/staff/jobs").status,
        403,
        "an officer does not review scans"
    );
    assert_eq!(
        carl.get("/staff/").location().as_deref(),
        Some("/staff/compliance/held")
    );
    let audit = carl.get("/staff/compliance/audit");
    assert_eq!(audit.status, 200);
    assert!(audit.body.contains("Chain verified"), "{}", audit.body);
    assert!(audit.body.contains("staff.login"), "{}", audit.body);
    assert_eq!(carl.get("/staff/compliance/held").status, 200);
    let contu = carl.get("/staff/compliance/contu?year=2026");
    assert!(
        contu.status == 200 && contu.body.contains("CONTU report 2026"),
        "{}",
        contu.body
    );

    let csv = carl.get("/staff/compliance/audit.csv");
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(
        csv.header("content-disposition")
            .unwrap()
            .contains("attachment")
    );
    let mut rows = csv::Reader::from_reader(csv.body.as_bytes());
    assert_eq!(
        rows.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "seq",
            "time",
            "actor",
            "action",
            "subjects",
            "details",
            "prev_hash",
            "hash"
        ]
    );
    let all: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert!(
        all.iter()
            .any(|r| &r[2] == "staff:carl" && &r[3] == "staff.login"),
        "{all:?}"
    );
    // Consecutive rows chain: each prev_hash is the hash before it.
    for w in all.windows(2) {
        assert_eq!(&w[1][6], &w[0][7]);
    }
    let filtered = carl.get("/staff/compliance/audit.csv?action=staff.login");
    let n = csv::Reader::from_reader(filtered.body.as_bytes())
        .records()
        .count();
    assert_eq!(
        n, 2,
        "tina and carl signed in once each:\n{}",
        filtered.body
    );
    assert!(n < all.len());

    let metrics = Browser::new(port).get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("quire_jobs{state=\"held\"} 0")
            && metrics.body.contains("quire_queue_depth 0"),
        "{}",
        metrics.body
    );
}

#[test]
fn failed_logins_are_limited_per_user_and_per_client() {
    let (home, port) = staff_home();
    let _d = start_daemon(&home, port);
    let mut b = Browser::new(port);
    for i in 0..5 {
        assert_eq!(b.login("tina", "guess guess guess").status, 401, "try {i}");
    }
    let limited = b.login("tina", "tina-password-1");
    assert_eq!(
        limited.status, 429,
        "the right password after five failures is still refused"
    );
    assert!(
        limited.body.contains("Too many failed sign-ins"),
        "{}",
        limited.body
    );
    assert!(!b.cookies.contains_key("quire_session"));
    // The same client trying another name is limited too.
    assert_eq!(
        Browser::new(port).login("carl", "carl-password-1").status,
        429
    );
    let failures = audit_actions(&home)
        .iter()
        .filter(|e| e["action"] == "staff.login_failed")
        .count();
    assert_eq!(failures, 5);
}

/// Behind a trusted reverse proxy every connection comes from the proxy: the limit must count
/// the client it forwards for, so one guesser does not lock everyone out, and the audit log
/// names that client.
#[test]
fn behind_a_trusted_proxy_failed_logins_are_limited_per_forwarded_client() {
    let port = crate::util::free_port();
    let home = Home::with_config(&format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\ntrusted_proxies = [\"127.0.0.1\"]\n\
         [intake]\nsettle_secs = 0.5\n"
    ));
    add_user(&home, "carl", "compliance", "carl-password-1");
    let _d = start_daemon(&home, port);
    let mut guesser = Browser::new(port);
    guesser.forwarded_for = Some("198.51.100.7".into());
    for i in 0..5 {
        // Other names each time: only the per-client count reaches the limit.
        let r = guesser.login(&format!("nobody{i}"), "guess guess guess");
        assert_eq!(r.status, 401, "try {i}");
    }
    assert_eq!(guesser.login("carl", "carl-password-1").status, 429);
    let mut colleague = Browser::new(port);
    colleague.forwarded_for = Some("10.1.2.3, 198.51.100.8".into());
    let r = colleague.login("carl", "carl-password-1");
    assert_eq!(
        r.status, 303,
        "another client behind the same proxy: {}",
        r.body
    );
    let failed: Vec<Value> = audit_actions(&home)
        .into_iter()
        .filter(|e| e["action"] == "staff.login_failed")
        .collect();
    assert_eq!(failed.len(), 5);
    assert!(
        failed
            .iter()
            .all(|e| e.to_string().contains("198.51.100.7")),
        "{failed:#?}"
    );
}

/// A colleague signing in must not reset the count of guesses at someone else's account: guesses
/// at `victim`, each from a new client and interleaved with sign-ins by `other`, still reach the
/// per-user limit.
#[test]
fn sign_ins_by_others_do_not_reset_the_failed_login_count_of_a_victim() {
    let port = crate::util::free_port();
    let home = Home::with_config(&format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\ntrusted_proxies = [\"127.0.0.1\"]\n\
         [intake]\nsettle_secs = 0.5\n"
    ));
    add_user(&home, "victim", "admin", "victim-password-1");
    add_user(&home, "other", "technician", "other-password-1");
    let _d = start_daemon(&home, port);
    for i in 0..5 {
        // A new client each time, so only the per-user count can reach the limit.
        let mut guesser = Browser::new(port);
        guesser.forwarded_for = Some(format!("198.51.100.{}", 10 + i));
        assert_eq!(
            guesser.login("victim", "guess guess guess").status,
            401,
            "try {i}"
        );
        let mut colleague = Browser::new(port);
        colleague.forwarded_for = Some("10.1.2.3".into());
        let r = colleague.login("other", "other-password-1");
        assert_eq!(r.status, 303, "other signs in after try {i}: {}", r.body);
    }
    let mut guesser = Browser::new(port);
    guesser.forwarded_for = Some("198.51.100.99".into());
    let r = guesser.login("victim", "victim-password-1");
    assert_eq!(
        r.status, 429,
        "five guesses at victim, whoever else signed in meanwhile: {}",
        r.body
    );
}

fn set_password(home: &Home, name: &str, password: &str) -> std::process::Output {
    with_stdin(
        home,
        &["user", "password", name, "--password-stdin"],
        password,
    )
}

/// An admin changes a password, a role, then removes the user: each change ends the user's
/// open sessions at once and is audited.
#[test]
fn password_and_role_changes_and_removal_end_the_users_sessions() {
    let (home, port) = staff_home();
    let _d = start_daemon(&home, port);
    let (mut tina, _) = Browser::signed_in(port, "tina", "tina-password-1");
    assert!(set_password(&home, "tina", "short").status.code() != Some(0));
    assert_eq!(
        tina.get("/staff/requests").status,
        200,
        "a refused change ends nothing"
    );
    let out = set_password(&home, "tina", "tina-password-2");
    assert!(out.status.success(), "{}", crate::util::describe(&out));
    assert_eq!(
        tina.get("/staff/requests").status,
        303,
        "the old session is over"
    );
    assert_eq!(
        Browser::new(port).login("tina", "tina-password-1").status,
        401
    );
    let (mut tina, _) = Browser::signed_in(port, "tina", "tina-password-2");
    assert_eq!(
        tina.get("/staff/compliance/audit").status,
        403,
        "technicians see no audit log"
    );
    home.ok(&["user", "role", "tina", "--role", "compliance"]);
    assert_eq!(tina.get("/staff/requests").status, 303);
    let (mut tina, _) = Browser::signed_in(port, "tina", "tina-password-2");
    assert_eq!(
        tina.get("/staff/compliance/audit").status,
        200,
        "now a compliance officer"
    );
    home.ok(&["user", "remove", "tina"]);
    assert_eq!(tina.get("/staff/requests").status, 303);
    assert_eq!(
        Browser::new(port).login("tina", "tina-password-2").status,
        401
    );
    let err = crate::util::stderr(&home.fails(&["user", "remove", "tina"]));
    assert!(err.contains("no user tina"), "{err}");
    let actions: Vec<String> = audit_actions(&home)
        .iter()
        .filter(|e| e["subjects"]["user"] == "tina")
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    for a in ["user.password_changed", "user.role_changed", "user.removed"] {
        assert!(actions.iter().any(|x| x == a), "no {a} in {actions:?}");
    }
}

fn deliver_one(home: &Home, id: &str) {
    home.ok(&[
        "request",
        "add",
        "--id",
        id,
        "--patron",
        "Ada Borrower",
        "--email",
        "ada@example.org",
        "--library",
        "ZZQ",
        "--title",
        "Journal of Tests",
        "--article",
        "On consoles",
        "--year",
        "2024",
        "--basis",
        "ccl",
    ]);
    home.ok(&[
        "deliver",
        "--request",
        id,
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
}

/// A request's citation is corrected and then the request cancelled from its page (neither
/// without the form's token); the page then says so and offers neither; a delivered request
/// offers none at all.
#[test]
fn a_request_is_corrected_and_cancelled_from_its_page_before_a_copy_goes_out() {
    let (home, port) = staff_home();
    deliver_one(&home, "TN905");
    home.ok(&[
        "request",
        "add",
        "--id",
        "TN906",
        "--patron",
        "Bo Reader",
        "--email",
        "bo@example.org",
    ]);
    let _d = start_daemon(&home, port);
    let (mut tech, csrf) = Browser::signed_in(port, "tina", "tina-password-1");
    assert!(
        !tech
            .get("/staff/requests/TN905")
            .body
            .contains("Cancel this request"),
        "a delivered request cannot be cancelled"
    );
    let delivered = tech.get("/staff/requests/TN905").body;
    assert!(!delivered.contains("Correct the citation"), "{delivered}");
    let page = tech.get("/staff/requests/TN906").body;
    assert!(
        page.contains("Cancel this request") && page.contains("Correct the citation"),
        "{page}"
    );

    // The citation: every field is the form's; a bad year is named and changes nothing.
    let citation = [
        ("title", "Journal of Corrections"),
        ("article", "On second thoughts"),
        ("year", "2023"),
        ("pages", "5-9"),
    ];
    let forged = tech.post("/staff/requests/TN906/citation", &citation);
    assert_eq!(forged.status, 403);
    let bad = tech.post(
        "/staff/requests/TN906/citation",
        &[("csrf", csrf.as_str()), ("title", "Nope"), ("year", "19x")],
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body.contains("year `19x` is not a number"),
        "{}",
        bad.body
    );
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend(citation);
    let r = tech.post("/staff/requests/TN906/citation", &form);
    assert_eq!(r.status, 303, "{}", r.body);
    let page = tech.get("/staff/requests/TN906").body;
    assert!(
        page.contains("Journal of Corrections")
            && page.contains("On second thoughts")
            && page.contains("/ 2023")
            && !page.contains("Nope"),
        "{page}"
    );
    let log = stdout(&home.ok(&["audit", "export", "--action", "request.citation_set"]));
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(
        log.contains("TN906") && log.contains("tina") && log.contains("Journal of Corrections"),
        "{log}"
    );

    let forged = tech.post("/staff/requests/TN906/cancel", &[("reason", "x")]);
    assert_eq!(forged.status, 403);
    let r = tech.post(
        "/staff/requests/TN906/cancel",
        &[("csrf", &csrf), ("reason", "found elsewhere")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = tech.get("/staff/requests/TN906").body;
    assert!(
        page.contains("by staff:tina: found elsewhere") && !page.contains("Cancel this request"),
        "{page}"
    );
    let again = tech.post(
        "/staff/requests/TN906/cancel",
        &[("csrf", &csrf), ("reason", "twice")],
    );
    assert_eq!(again.status, 409, "{}", again.body);
    let late = tech.post("/staff/requests/TN906/citation", &form);
    assert_eq!(
        late.status, 409,
        "a cancelled request keeps its citation: {}",
        late.body
    );
    let log = stdout(&home.ok(&["audit", "export", "--action", "request.cancelled"]));
    assert!(log.contains("TN906") && log.contains("tina"), "{log}");
}

fn links(home: &Home) -> Vec<Value> {
    serde_json::from_str(&stdout(&home.ok(&["links", "--json"]))).unwrap()
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_string()
}

/// Wrong pickup codes lock a link; staff unlock it with the button on the request page or with
/// `quire link unlock`, both audited, and the right code works again.
#[test]
fn a_link_locked_by_wrong_pickup_codes_is_unlocked_in_the_console_and_the_cli() {
    let (home, port) =
        daemon_home("[links]\npickup_code = true\npickup_attempts = 2\npickup_lock_after = 2\n");
    add_user(&home, "tina", "technician", "tina-password-1");
    home.ok(&[
        "request",
        "add",
        "--id",
        "TN950",
        "--patron",
        "Ada",
        "--email",
        "ada@example.org",
    ]);
    let out = home.ok(&[
        "deliver",
        "--request",
        "TN950",
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    let code = stdout(&out)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("pickup")
                .map(|c| c.trim().to_string())
        })
        .expect("a pickup code");
    let wrong = format!(
        "{}{}",
        if code.starts_with('1') { '2' } else { '1' },
        &code[1..]
    );
    let _d = start_daemon(&home, port);
    let l = &links(&home)[0];
    let link = l["id"].as_str().unwrap().to_string();
    let file = format!("{}/file", path_of(l["url"].as_str().unwrap()));
    let mut patron = Browser::new(port);
    let lock = |patron: &mut Browser| {
        assert_eq!(patron.get(&format!("{file}?code={wrong}")).status, 403);
        let locked = patron.get(&format!("{file}?code={wrong}"));
        assert_eq!(locked.status, 403);
        assert_eq!(locked.header("x-link-state").as_deref(), Some("locked"));
        let right = patron.get(&format!("{file}?code={code}"));
        assert_eq!(
            (right.status, right.header("x-link-state").as_deref()),
            (403, Some("locked")),
            "a locked link refuses the right code too"
        );
        assert_eq!(links(&home)[0]["state"], "locked");
    };
    lock(&mut patron);

    let (mut tech, csrf) = Browser::signed_in(port, "tina", "tina-password-1");
    let page = tech.get("/staff/requests/TN950");
    assert!(
        page.body.contains(&format!("/staff/links/{link}/unlock")),
        "an Unlock button:\n{}",
        page.body
    );
    let r = tech.post(
        &format!("/staff/links/{link}/unlock"),
        &[("csrf", &csrf), ("request", "TN950")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(links(&home)[0]["state"], "active");
    assert!(!tech.get("/staff/requests/TN950").body.contains("/unlock"));
    assert_eq!(patron.get(&format!("{file}?code={code}")).status, 200);

    lock(&mut patron);
    home.ok(&["link", "unlock", &link]);
    let again = home.fails(&["link", "unlock", &link]);
    assert!(
        crate::util::stderr(&again).contains("not locked"),
        "{}",
        crate::util::describe(&again)
    );
    assert_eq!(patron.get(&format!("{file}?code={code}")).status, 200);

    let actions: Vec<String> = audit_actions(&home)
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    let count = |a: &str| actions.iter().filter(|x| *x == a).count();
    assert_eq!(
        (
            count("link.locked"),
            count("link.unlocked"),
            count("link.code_refused")
        ),
        (2, 2, 6),
        "{actions:?}"
    );
    let unlocked: Vec<Value> = audit_actions(&home)
        .into_iter()
        .filter(|e| e["action"] == "link.unlocked")
        .collect();
    assert_eq!(unlocked[0]["actor"], "staff:tina", "{unlocked:?}");
}

#[test]
fn a_link_extended_then_revoked_in_the_console_turns_the_borrower_page_to_410() {
    let (home, port) = staff_home();
    deliver_one(&home, "TN900");
    let _d = start_daemon(&home, port);
    let l = &links(&home)[0];
    let (link, borrower) = (
        l["id"].as_str().unwrap().to_string(),
        path_of(l["url"].as_str().unwrap()),
    );
    let left = l["downloads_left"].as_i64().unwrap();
    let mut patron = Browser::new(port);
    assert_eq!(patron.get(&borrower).status, 200);
    // A borrower holding a link reaches no staff page with it.
    assert_eq!(patron.get("/staff/requests/TN900").status, 303);

    let (mut tech, csrf) = Browser::signed_in(port, "tina", "tina-password-1");
    let made = tech.post(
        "/staff/requests",
        &[
            ("csrf", &csrf),
            ("id", "TN901"),
            ("patron_name", "Bo Reader"),
            ("patron_email", "bo@example.org"),
            ("title", "Journal of Tests"),
            ("basis", "ccg"),
            ("year", "2023"),
        ],
    );
    assert_eq!(
        (
            made.status,
            made.location()
                .unwrap()
                .starts_with("/staff/requests/TN901")
        ),
        (303, true),
        "{}",
        made.body
    );
    let listed: Vec<Value> =
        serde_json::from_str(&stdout(&home.ok(&["request", "list", "--json"]))).unwrap();
    let made = listed.iter().find(|r| r["id"] == "TN901").expect("TN901");
    assert_eq!(
        (
            &made["patron_name"],
            &made["title"],
            &made["year"],
            &made["basis"]
        ),
        (
            &json!("Bo Reader"),
            &json!("Journal of Tests"),
            &json!(2023),
            &json!("ccg")
        ),
        "the form's citation is stored: {made}"
    );
    let bad = tech.post(
        "/staff/requests",
        &[
            ("csrf", &csrf),
            ("id", "TN902"),
            ("patron_name", "X"),
            ("patron_email", "not-an-address"),
        ],
    );
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("not an address"), "{}", bad.body);
    assert_eq!(
        tech.post(
            "/staff/requests",
            &[
                ("csrf", &csrf),
                ("id", "TN901"),
                ("patron_name", "X"),
                ("patron_email", "x@example.org")
            ]
        )
        .status,
        409
    );
    let search = tech.get("/staff/requests?q=ada%20borrower");
    assert!(
        search.body.contains("/staff/requests/TN900"),
        "{}",
        search.body
    );
    assert!(
        !tech
            .get("/staff/requests?q=nobody-like-this")
            .body
            .contains("/staff/requests/TN900")
    );
    let page = tech.get("/staff/requests/TN900");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&link) && page.body.contains("data-link-state=\"active\""),
        "{}",
        page.body
    );

    let r = tech.post(
        &format!("/staff/links/{link}/extend"),
        &[("csrf", &csrf), ("request", "TN900"), ("downloads", "2")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        links(&home)[0]["downloads_left"].as_i64().unwrap(),
        left + 2
    );
    let bad = tech.post(
        &format!("/staff/links/{link}/extend"),
        &[("csrf", &csrf), ("request", "TN900"), ("days", "soon")],
    );
    assert_eq!(bad.status, 422);

    // The e-mail goes out again: one more message in the outbox, the same link in it.
    let outbox = home.path().join("var/outbox");
    wait_until(Duration::from_secs(30), "the first e-mail is sent", || {
        emails(&outbox) == 1
    });
    let r = tech.post(
        &format!("/staff/links/{link}/resend"),
        &[("csrf", &csrf), ("request", "TN900")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    wait_until(Duration::from_secs(30), "the e-mail is sent again", || {
        emails(&outbox) == 2
    });

    // Without the CSRF token nothing happens.
    let forged = tech.post(
        &format!("/staff/links/{link}/revoke"),
        &[("request", "TN900")],
    );
    assert_eq!(forged.status, 403);
    assert_eq!(patron.get(&borrower).status, 200);

    let r = tech.post(
        &format!("/staff/links/{link}/revoke"),
        &[
            ("csrf", &csrf),
            ("request", "TN900"),
            ("reason", "sent to the wrong patron"),
        ],
    );
    assert_eq!(
        (
            r.status,
            r.location()
                .unwrap()
                .starts_with("/staff/requests/TN900?done=")
        ),
        (303, true)
    );
    let gone = patron.get(&borrower);
    assert_eq!(gone.status, 410, "{}", gone.body);
    assert!(gone.body.contains("withdrawn"), "{}", gone.body);
    assert!(
        tech.get("/staff/requests/TN900")
            .body
            .contains("data-link-state=\"revoked\"")
    );
    assert_eq!(
        tech.post(
            &format!("/staff/links/{link}/revoke"),
            &[("csrf", &csrf), ("request", "TN900")]
        )
        .status,
        409
    );
    let r = tech.post(
        &format!("/staff/links/{link}/resend"),
        &[("csrf", &csrf), ("request", "TN900")],
    );
    assert_eq!(r.status, 409, "no e-mail for a revoked link");
    assert!(events_after_resend(&home), "the resend is audited");

    let events = audit_actions(&home);
    let revoked = events
        .iter()
        .find(|e| e["action"] == "link.revoked")
        .expect("revocation audited");
    assert_eq!(revoked["actor"], "staff:tina");
    assert_eq!(revoked["details"]["reason"], "sent to the wrong patron");
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "link.extended" && e["actor"] == "staff:tina")
    );
}

fn noise_png(seed: u32) -> image::GrayImage {
    image::GrayImage::from_fn(300, 200, move |x, y| {
        let v = (x
            .wrapping_mul(2654435761)
            .wrapping_add(y.wrapping_mul(40503))
            .wrapping_add(seed.wrapping_mul(97)))
            >> 13;
        image::Luma([if v % 11 == 0 { 0 } else { 255 }])
    })
}

#[test]
fn a_technician_reviews_a_held_job_matches_and_releases_it() {
    let (home, port) = staff_home();
    home.ok(&[
        "request",
        "add",
        "--id",
        "TN910",
        "--patron",
        "Ada Borrower",
        "--email",
        "ada@example.org",
        "--title",
        "Journal of Tests",
        "--issn",
        "1234-5679",
        // CCG: a copy the rule of five counts, so the redelivery below can show it is not
        // counted twice.
        "--basis",
        "ccg",
    ]);
    let _d = start_daemon(&home, port);
    // No request in the name: the scan is processed, then held for a person to match.
    let staging = home.path().join("scan-unknown.png");
    noise_png(3).save(&staging).unwrap();
    std::fs::rename(&staging, home.path().join("var/inbox/scan-unknown.png")).unwrap();
    wait_until(
        Duration::from_secs(120),
        "the scan is processed and held",
        || {
            jobs(&home)
                .first()
                .is_some_and(|j| j["state"] == "held" || j["state"] == "failed")
        },
    );
    let job = jobs(&home)[0].clone();
    assert_eq!(job["state"], "held", "{job}");
    let id = job["id"].as_str().unwrap().to_string();

    let (mut tech, csrf) = Browser::signed_in(port, "tina", "tina-password-1");
    let unmatched = tech.get("/staff/unmatched");
    assert!(unmatched.body.contains(&id), "{}", unmatched.body);
    let queue = tech.get("/staff/jobs?state=held");
    assert!(
        queue.body.contains(&id)
            && queue
                .body
                .contains("no request matched: the file name names no request")
            && !queue.body.contains("quire job match"),
        "{}",
        queue.body
    );
    let page = tech.get(&format!("/staff/jobs/{id}"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Release") && page.body.contains("<h2>Pages</h2>"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("No quality report yet"),
        "the processed job shows its pages: {}",
        page.body
    );

    // A thumbnail of each processed page, rendered from the job's output PDF.
    assert!(
        page.body.contains(&format!("/staff/jobs/{id}/thumb/1")),
        "{}",
        page.body
    );
    let thumb = tech.get(&format!("/staff/jobs/{id}/thumb/1"));
    assert_eq!(thumb.status, 200, "{}", thumb.body);
    assert_eq!(thumb.header("content-type").as_deref(), Some("image/png"));
    assert!(thumb.body.starts_with("\u{FFFD}PNG"), "PNG magic");
    assert_eq!(
        tech.get(&format!("/staff/jobs/{id}/thumb/2")).status,
        404,
        "the job has one page"
    );
    assert_eq!(
        Browser::new(port)
            .get(&format!("/staff/jobs/{id}/thumb/1"))
            .status,
        303,
        "no thumbnails without a login"
    );
    // Released while still unmatched (nothing can go out), then held again by hand.
    let r = tech.post(&format!("/staff/jobs/{id}/release"), &[("csrf", &csrf)]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(jobs(&home)[0]["state"], "processed");
    assert_eq!(
        tech.post(
            &format!("/staff/jobs/{id}/hold"),
            &[("csrf", &csrf), ("reason", "")]
        )
        .status,
        422
    );
    let r = tech.post(
        &format!("/staff/jobs/{id}/hold"),
        &[("csrf", &csrf), ("reason", "pages look cropped")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let j = jobs(&home)[0].clone();
    assert_eq!(
        (j["state"].as_str(), j["hold_reason"].as_str()),
        (
            Some("held"),
            Some("held by tina: pages look cropped [staff.held]")
        )
    );
    let nope = tech.post(
        &format!("/staff/jobs/{id}/match"),
        &[("csrf", &csrf), ("request", "TN999")],
    );
    // A typo stays on the job page, the error beside the field, similar ids offered.
    assert_eq!(nope.status, 422, "no such request");
    assert!(
        nope.body.contains("id=\"match-error\"")
            && nope.body.contains("There is no request TN999.")
            && nope.body.contains("value=\"TN999\""),
        "{}",
        nope.body
    );
    let near = tech.post(
        &format!("/staff/jobs/{id}/match"),
        &[("csrf", &csrf), ("request", "TN9100")],
    );
    assert!(
        near.body.contains("Did you mean")
            && near
                .body
                .contains("name=\"pick\" value=\"TN910\">TN910</button>"),
        "{}",
        near.body
    );
    let r = tech.post(
        &format!("/staff/jobs/{id}/match"),
        &[("csrf", &csrf), ("request", "TN910")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(jobs(&home)[0]["request_id"], "TN910");
    // The person's own hold stays through the match, and the job page says the next step.
    let after = tech.get(&format!("/staff/jobs/{id}"));
    assert!(
        after.body.contains("held by tina: pages look cropped")
            && after
                .body
                .contains("Next step:</strong> release when the reason no longer applies"),
        "{}",
        after.body
    );
    // Held, never delivered: there is nothing to deliver "again", and nothing is created.
    let err = crate::util::stderr(&home.fails(&["job", "redeliver", &id]));
    assert!(err.contains("only a delivered job"), "{err}");
    let nope = tech.post(&format!("/staff/jobs/{id}/redeliver"), &[("csrf", &csrf)]);
    assert_eq!(nope.status, 409, "{}", nope.body);
    assert_eq!(links_of(&home, "TN910"), 0);
    assert!(!tech.get("/staff/unmatched").body.contains(&id));

    assert_eq!(
        tech.post(
            &format!("/staff/jobs/{id}/release"),
            &[("reason", "checked")]
        )
        .status,
        403
    );
    assert_eq!(jobs(&home)[0]["state"], "held");
    let r = tech.post(
        &format!("/staff/jobs/{id}/release"),
        &[("csrf", &csrf), ("reason", "checked by eye")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let state = jobs(&home)[0]["state"].as_str().unwrap().to_string();
    assert!(
        state == "processed" || state == "delivered",
        "released: {state}"
    );
    // Releasing twice is a conflict, not a second release.
    assert_eq!(
        tech.post(&format!("/staff/jobs/{id}/release"), &[("csrf", &csrf)])
            .status,
        409
    );
    let released = audit_actions(&home)
        .into_iter()
        .rev()
        .find(|e| e["action"] == "job.released")
        .expect("audited");
    assert_eq!(released["actor"], "staff:tina");
    assert_eq!(released["details"]["reason"], "checked by eye");

    // Delivered; the borrower lost the mail: deliver again from the console. A new link and
    // notice, the job stays delivered, and the copy is not counted twice under CONTU.
    wait_until(Duration::from_secs(60), "the job is delivered", || {
        jobs(&home)[0]["state"] == "delivered"
    });
    let page = tech.get(&format!("/staff/jobs/{id}"));
    assert!(page.body.contains("Deliver again"), "{}", page.body);
    let r = tech.post(&format!("/staff/jobs/{id}/redeliver"), &[("csrf", &csrf)]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.location().unwrap().contains("delivered%20again"),
        "{:?}",
        r.location()
    );
    assert_eq!(jobs(&home)[0]["state"], "delivered");
    let links: Vec<Value> = serde_json::from_str(&stdout(&home.ok(&[
        "links",
        "--request",
        "TN910",
        "--json",
    ])))
    .unwrap();
    assert_eq!(links.len(), 2, "{links:#?}");
    let created: Vec<Value> = audit_actions(&home)
        .into_iter()
        .filter(|e| e["action"] == "delivery.created")
        .collect();
    assert_eq!(created.len(), 2);
    assert_eq!(created[0]["details"]["compliance"]["counted"], true);
    assert_eq!(created[1]["details"]["redelivery"], true);
    assert_eq!(created[1]["actor"], "staff:tina");
    assert_eq!(
        created[1]["details"]["compliance"]["counted"], false,
        "{}",
        created[1]
    );
    // The CLI does the same.
    home.ok(&["job", "redeliver", &id]);
    assert_eq!(links_of(&home, "TN910"), 3);
}

fn links_of(home: &Home, request: &str) -> usize {
    serde_json::from_str::<Vec<Value>>(&stdout(&home.ok(&[
        "links",
        "--request",
        request,
        "--json",
    ])))
    .unwrap()
    .len()
}

/// The browser checks, in headless Debian Chromium driven by playwright-core
/// (`tests/browser/console.mjs`): sign in and out, review and release a held job, revoke a link
/// and see the borrower page turn 410, a technician refused the audit log, an officer exporting
/// it, and every view fitting 1280 px and a tablet. Screenshots go to
/// `target/console-screenshots/`. Needs `chromium` (Debian) and `npm ci` in `tests/browser`.
#[test]
fn the_console_works_in_a_real_browser() {
    let browser_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci` in {}",
        browser_dir.display()
    );
    let chromium = std::env::var("QUIRE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "no Chromium at {chromium}: apt-get install chromium"
    );

    let (home, port) = staff_home();
    home.ok(&[
        "request",
        "add",
        "--id",
        "TN920",
        "--patron",
        "Ada Borrower",
        "--email",
        "ada@example.org",
        "--library",
        "ZZQ",
        "--title",
        "Journal of Tests",
        "--article",
        "On browsers",
        "--year",
        "2024",
        "--basis",
        "ccl",
    ]);
    home.ok(&[
        "deliver",
        "--request",
        "TN920",
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    // The request the held scan belongs to; the technician matches it after a typo.
    home.ok(&[
        "request",
        "add",
        "--id",
        "TN921",
        "--patron",
        "Ada Borrower",
        "--email",
        "ada@example.org",
        "--title",
        "Journal of Tests",
        "--basis",
        "ccg",
    ]);
    let _d = start_daemon(&home, port);
    // The e-mail of the first delivery, its HTML part cut out by Python's own mail parser, for
    // the browser to render.
    let outbox = home.path().join("var/outbox");
    let eml = || {
        std::fs::read_dir(&outbox)
            .ok()?
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "eml"))
    };
    wait_until(Duration::from_secs(60), "the first e-mail is sent", || {
        eml().is_some()
    });
    let eml = eml().unwrap();
    let mail_html = home.path().join("mail.html");
    let cut = std::process::Command::new("python3")
        .args([
            "-c",
            "import email,sys\n\
             m=email.message_from_binary_file(open(sys.argv[1],'rb'))\n\
             assert m.get_content_type()=='multipart/alternative', m.get_content_type()\n\
             for h in ('Message-ID','Date','MIME-Version'): assert m[h], h\n\
             [open(sys.argv[2],'w').write(p.get_payload(decode=True).decode()) for p in m.walk() if p.get_content_type()=='text/html']",
        ])
        .arg(&eml)
        .arg(&mail_html)
        .output()
        .unwrap();
    assert!(cut.status.success(), "{}", crate::util::describe(&cut));
    // Six pages, and a name that names no request: held as unmatched.
    std::fs::copy(
        corpus("multipage.pdf"),
        home.path().join("scan-unknown.pdf.part"),
    )
    .unwrap();
    std::fs::rename(
        home.path().join("scan-unknown.pdf.part"),
        home.path().join("var/inbox/scan-unknown.pdf"),
    )
    .unwrap();
    wait_until(
        Duration::from_secs(300),
        "the scan is processed and held",
        || {
            jobs(&home)
                .first()
                .is_some_and(|j| j["state"] == "held" || j["state"] == "failed")
        },
    );
    let job = jobs(&home)[0].clone();
    assert_eq!(job["state"], "held", "{job}");
    let borrower = path_of(links(&home)[0]["url"].as_str().unwrap());

    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let out = std::process::Command::new("node")
        .arg("console.mjs")
        .current_dir(&browser_dir)
        .env("QUIRE_URL", format!("http://127.0.0.1:{port}"))
        .env("QUIRE_SHOTS", &shots)
        .env("QUIRE_HELD_JOB", job["id"].as_str().unwrap())
        .env("QUIRE_REQUEST", "TN920")
        .env("QUIRE_BORROWER_PATH", &borrower)
        .env("QUIRE_CHROMIUM", &chromium)
        .env("QUIRE_MAIL_HTML", &mail_html)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "browser checks failed:\n{}",
        crate::util::describe(&out)
    );
    let taken = std::fs::read_dir(&shots)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert_eq!(taken, 23, "one screenshot per view");
    assert_eq!(
        jobs(&home)[0]["state"],
        "delivered",
        "matched and delivered in the browser"
    );
}

#[test]
fn an_officer_releases_a_held_delivery_with_a_reason_and_sees_the_contu_report() {
    let (home, port) = daemon_home("[compliance]\ncopies_per_year = 1\n");
    add_user(&home, "tina", "technician", "tina-password-1");
    add_user(&home, "carl", "compliance", "carl-password-1");
    let year = time_year();
    for id in ["TN930", "TN931"] {
        home.ok(&[
            "request",
            "add",
            "--id",
            id,
            "--patron",
            "Ada Borrower",
            "--email",
            "ada@example.org",
            "--library",
            "ZZQ",
            "--title",
            "The Journal of Tests",
            "--issn",
            "0378-5955",
            "--article",
            id,
            "--year",
            &(year - 1).to_string(),
            "--basis",
            "ccg",
        ]);
        home.ok(&[
            "deliver",
            "--request",
            id,
            corpus("ccitt.pdf").to_str().unwrap(),
        ]);
    }
    let _d = start_daemon(&home, port);
    let held_link = links(&home)
        .into_iter()
        .find(|l| l["request"] == "TN931")
        .unwrap();
    assert_eq!(
        held_link["state"], "held",
        "the second copy beyond a limit of one waits: {held_link}"
    );
    let borrower = path_of(held_link["url"].as_str().unwrap());
    let mut patron = Browser::new(port);
    assert_eq!(patron.get(&borrower).status, 403);
    let delivery = held_link["delivery"].as_str().unwrap().to_string();

    let (mut tech, tech_csrf) = Browser::signed_in(port, "tina", "tina-password-1");
    let path = format!("/staff/compliance/held/{delivery}/release");
    assert_eq!(
        tech.post(
            &path,
            &[("csrf", &tech_csrf), ("reason", "not mine to decide")]
        )
        .status,
        403
    );

    let (mut carl, csrf) = Browser::signed_in(port, "carl", "carl-password-1");
    let held = carl.get("/staff/compliance/held");
    assert!(
        held.body.contains(&delivery) && held.body.contains("TN931"),
        "{}",
        held.body
    );
    let contu = carl.get(&format!("/staff/compliance/contu?year={year}"));
    assert!(
        contu.body.contains("The Journal of Tests") && contu.body.contains("limit reached"),
        "{}",
        contu.body
    );
    assert_eq!(
        carl.post(&path, &[("csrf", &csrf), ("reason", "  ")])
            .status,
        422,
        "a release needs a reason"
    );
    assert_eq!(patron.get(&borrower).status, 403);
    let r = carl.post(&path, &[("csrf", &csrf), ("reason", "CCC order 12345678")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        patron.get(&borrower).status,
        200,
        "released: the borrower's link works"
    );
    assert!(!carl.get("/staff/compliance/held").body.contains(&delivery));
    assert_eq!(
        carl.post(&path, &[("csrf", &csrf), ("reason", "again")])
            .status,
        409
    );
    let events = audit_actions(&home);
    assert!(
        events
            .iter()
            .any(|e| e["actor"] == "staff:carl" && e.to_string().contains("CCC order 12345678")),
        "the officer and the reason are audited"
    );
}

fn time_year() -> i32 {
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn emails(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

fn events_after_resend(home: &Home) -> bool {
    audit_actions(home)
        .iter()
        .any(|e| e["action"] == "notice.resent" && e["actor"] == "staff:tina")
}

//! Helpers shared by the end-to-end tests: a scratch Quire home with its own config, a way to
//! run the binary with readable failure messages, and the daemon and API calls as these tests
//! make them. The daemon harness and the HTTP client themselves are `quire_testkit`'s.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use quire_testkit::http::{self as client, Response};

pub use quire_testkit::daemon::{Daemon, free_port, wait_until};

/// The binary under test.
pub const QUIRE: &str = env!("CARGO_BIN_EXE_quire");

/// The real scans in `../shared/corpus`.
pub fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(name)
}

/// A throw-away Quire installation: a folder with `quire.toml` whose data_dir is `var`.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        Self::with_config("")
    }

    /// `extra` is appended to a minimal config (data_dir, a free port).
    pub fn with_config(extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = format!("data_dir = \"var\"\n{extra}");
        std::fs::write(dir.path().join("quire.toml"), text).expect("write config");
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join("quire.toml")
    }

    pub fn db_path(&self) -> PathBuf {
        self.path().join("var/quire.sqlite3")
    }

    /// A `quire` command with `--config` set and a scrubbed environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = quire();
        c.arg("--config")
            .arg(self.config_path())
            .args(args)
            .current_dir(self.path());
        c
    }

    /// Runs and requires success, printing everything on failure.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output().expect("run quire");
        assert!(
            out.status.success(),
            "quire {args:?} failed:\n{}",
            describe(&out)
        );
        out
    }

    /// Runs and requires failure.
    pub fn fails(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output().expect("run quire");
        assert!(
            !out.status.success(),
            "quire {args:?} should have failed:\n{}",
            describe(&out)
        );
        out
    }
}

/// The binary under test, with no QUIRE_ variables leaking in from the caller.
pub fn quire() -> Command {
    quire_testkit::daemon::quire_command(QUIRE)
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn describe(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        stdout(out),
        stderr(out)
    )
}

/// A home for a daemon on a free port with a short settle delay (0.5 s) and the API token
/// `test-token-1234567890`; `extra` continues the `[intake]` section.
pub fn daemon_home(extra: &str) -> (Home, u16) {
    daemon_home_settling(0.5, extra)
}

/// `settle` is the intake settle delay in seconds; `extra` continues the `[intake]` section.
pub fn daemon_home_settling(settle: f64, extra: &str) -> (Home, u16) {
    let port = free_port();
    let home = Home::with_config(&format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\napi_tokens = [\"test-token-1234567890\"]\n\
         [intake]\nsettle_secs = {settle:.1}\nrescan_secs = 1.0\n{extra}"
    ));
    (home, port)
}

/// `quire daemon` on `home`'s config, answering on `port`; killed on drop.
pub fn start_daemon(home: &Home, port: u16) -> Daemon {
    Daemon::start(QUIRE, &home.config_path(), port)
}

/// Like [`start_daemon`], with extra environment variables and the daemon's log in `log`.
pub fn start_daemon_logged(home: &Home, port: u16, env: &[(&str, &str)], log: &Path) -> Daemon {
    Daemon::start_with(
        QUIRE,
        &home.config_path(),
        port,
        env,
        std::fs::File::create(log).unwrap(),
    )
}

/// One API call as these tests make it: an optional bearer `token` and JSON `body`; returns
/// (status, body).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut request = client::Request::new(method, path);
    if let Some(t) = token {
        request = request.header("Authorization", &format!("Bearer {t}"));
    }
    if let Some(b) = body {
        request = request.body("application/json", b);
    }
    let reply = request.send(port)?;
    Ok((reply.status, reply.text()))
}

/// The `name=value` pairs a reply sets as cookies, joined for a `Cookie:` header.
fn cookies_of(reply: &Response) -> String {
    reply
        .headers("set-cookie")
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Adds technician `name` (through `quire user add`), signs in to the console of the daemon on
/// `port` and returns the HTML of staff page `path`.
pub fn staff_page_as_new_technician(home: &Home, port: u16, name: &str, path: &str) -> String {
    use std::io::Write;
    let password = format!("{name}-password-1");
    let mut child = home
        .cmd(&[
            "user",
            "add",
            name,
            "--role",
            "technician",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "user add: {}", describe(&out));

    let get = |path: &str, cookie: &str| {
        client::get(path)
            .header("Cookie", cookie)
            .send(port)
            .unwrap()
    };
    let login = get("/staff/login", "");
    let form = login.text();
    let at = form.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let csrf = &form[at..at + form[at..].find('"').unwrap()];
    let body = format!("name={name}&password={password}&csrf={csrf}");
    let signed_in = client::post("/staff/login", "application/x-www-form-urlencoded", body)
        .header("Cookie", &cookies_of(&login))
        .send(port)
        .unwrap();
    let (status, head) = (signed_in.status, &signed_in.head);
    assert_eq!(status, 303, "signing in as {name}: {head}");
    let reply = get(path, &cookies_of(&signed_in));
    let (status, page) = (reply.status, reply.text());
    assert_eq!(status, 200, "{path}: {page}");
    page
}

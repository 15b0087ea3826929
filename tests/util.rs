//! Helpers shared by the end-to-end tests: a scratch Quire home with its own config, and a way
//! to run the binary with readable failure messages.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    let mut c = Command::new(env!("CARGO_BIN_EXE_quire"));
    for (k, _) in std::env::vars() {
        if k.starts_with("QUIRE") {
            c.env_remove(k);
        }
    }
    c.env("RUST_LOG", "warn");
    c
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

/// A free loopback port (racy in theory, fine for tests run on one machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One raw HTTP/1.1 exchange on loopback: (status, head, body).
fn exchange(port: u16, request: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// The `name=value` pairs a response sets as cookies, joined for a `Cookie:` header.
fn cookies_of(head: &str) -> String {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| v.trim().split(';').next().map(str::to_string))
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
        exchange(
            port,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
            ),
        )
    };
    let (_, head, form) = get("/staff/login", "");
    let at = form.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let csrf = &form[at..at + form[at..].find('"').unwrap()];
    let body = format!("name={name}&password={password}&csrf={csrf}");
    let (status, head, _) = exchange(
        port,
        &format!(
            "POST /staff/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nCookie: {}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            cookies_of(&head),
            body.len()
        ),
    );
    assert_eq!(status, 303, "signing in as {name}: {head}");
    let (status, _, page) = get(path, &cookies_of(&head));
    assert_eq!(status, 200, "{path}: {page}");
    page
}

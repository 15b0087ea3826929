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

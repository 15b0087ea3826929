//! Starting and stopping a real `quire daemon` in a test: the binary to run is the caller's
//! (`env!("CARGO_BIN_EXE_quire")` exists only in the `quire` package's own tests), the config
//! is a file the caller wrote, and the daemon is ready once `GET /healthz` answers.
//!
//! ```no_run
//! use quire_testkit::daemon::{Daemon, free_port};
//! # fn run(config: &std::path::Path) {
//! // In a test of the `quire` package: env!("CARGO_BIN_EXE_quire").
//! let quire = "target/debug/quire";
//! let port = free_port(); // written into the config's `[server] listen`
//! let daemon = Daemon::start(quire, config, port);
//! // ... talk to it with `quire_testkit::http` ...
//! drop(daemon); // killed and reaped
//! # }
//! ```

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a daemon may take to answer `/healthz` after it was spawned.
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(30);

/// The binary at `bin` as a command with no `QUIRE*` variables leaking in from the caller's
/// environment and `RUST_LOG=warn`.
pub fn quire_command(bin: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("QUIRE") {
            c.env_remove(k);
        }
    }
    c.env("RUST_LOG", "warn");
    c
}

/// A running daemon; killed (SIGKILL) and reaped when dropped.
pub struct Daemon {
    pub child: Child,
    pub port: u16,
}

impl Daemon {
    /// Starts `bin --config CONFIG daemon` in the config's folder, its output thrown away, and
    /// waits until it answers on `port`, which the config must name in `[server] listen`.
    pub fn start(bin: impl AsRef<OsStr>, config: &Path, port: u16) -> Daemon {
        Self::start_with(bin, config, port, &[], Stdio::null())
    }

    /// Like [`Daemon::start`], with extra environment variables and the daemon's stderr (its
    /// log) sent to `stderr`.
    pub fn start_with(
        bin: impl AsRef<OsStr>,
        config: &Path,
        port: u16,
        env: &[(&str, &str)],
        stderr: impl Into<Stdio>,
    ) -> Daemon {
        let mut cmd = quire_command(bin);
        cmd.arg("--config").arg(config).arg("daemon");
        if let Some(dir) = config.parent() {
            cmd.current_dir(dir);
        }
        cmd.envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr);
        Self::spawn(cmd, port)
    }

    /// Spawns a daemon command prepared by the caller and waits until it answers on `port`.
    pub fn spawn(mut cmd: Command, port: u16) -> Daemon {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
        let mut daemon = Daemon { child, port };
        daemon.wait_healthy();
        daemon
    }

    /// Waits up to [`HEALTHY_WITHIN`] for `GET /healthz` to be answered; panics sooner if the
    /// daemon exits.
    fn wait_healthy(&mut self) {
        let port = self.port;
        let child = &mut self.child;
        wait_until(HEALTHY_WITHIN, "the daemon answers /healthz", || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the daemon exited before answering /healthz: {status}");
            }
            healthy(port)
        });
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a server on `port` answers `GET /healthz` at all (any status).
pub fn healthy(port: u16) -> bool {
    crate::http::get("/healthz")
        .timeout(Duration::from_secs(10))
        .send(port)
        .is_ok()
}

/// A free loopback port (racy in theory, fine for tests run on one machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Calls `f` every 100 ms until it is true; panics naming `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

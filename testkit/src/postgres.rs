//! A throwaway PostgreSQL cluster for tests: Debian's PostgreSQL 15 binaries (`initdb`,
//! `pg_ctl`), a cluster in a temporary folder listening on a free loopback port with trust
//! authentication for the role `quire`, and one database `quire`. Dropping the [`Cluster`]
//! stops the server (`pg_ctl stop -m immediate`: test data need not survive) and removes the
//! folder.
//!
//! PostgreSQL refuses to run as root, and the tests do run as root (CI, `make test`), so as
//! root every PostgreSQL command runs as the `postgres` user (`runuser`), and the folder is
//! given to that user. The binaries are looked for in `QUIRE_PG_BIN`, else
//! `/usr/lib/postgresql/15/bin` (`scripts/bootstrap` installs `postgresql-15`).

use std::io;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The role the cluster is made for, and the database it holds.
pub const USER: &str = "quire";
pub const DATABASE: &str = "quire";

/// A running cluster; stopped and deleted when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

/// Settings for a test cluster: no fsync at all, since test data is thrown away.
pub const FAST: &[&str] = &[
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
];

/// Settings for a benchmark whose figures should hold for a real install: fsync and full page
/// writes on (a crash cannot corrupt the cluster), commits not waiting for their WAL flush
/// (`synchronous_commit=off`: a power cut may lose the last moment's commits, never half of
/// one). That is the guarantee SQLite gives Quire (WAL with `synchronous = NORMAL`), so the two
/// backends are compared on equal terms.
pub const DURABLE: &[&str] = &["synchronous_commit=off", "max_connections=200"];

impl Cluster {
    /// Makes and starts a cluster with the [`FAST`] settings, and waits until it takes
    /// connections.
    pub fn start() -> io::Result<Cluster> {
        Self::start_with(FAST)
    }

    /// [`Cluster::start`] with these server settings (`name=value`, as `postgres -c` takes
    /// them) instead of [`FAST`].
    pub fn start_with(settings: &[&str]) -> io::Result<Cluster> {
        let bin = std::env::var_os("QUIRE_PG_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"));
        if !bin.join("initdb").is_file() {
            return Err(io::Error::other(format!(
                "no PostgreSQL binaries in {} (install postgresql-15: scripts/bootstrap)",
                bin.display()
            )));
        }
        let dir = tempfile::Builder::new().prefix("quire-pg-").tempdir()?;
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()?;
            if !status.success() {
                return Err(io::Error::other(
                    "cannot give the cluster folder to `postgres`",
                ));
            }
        }
        let port = crate::daemon::free_port();
        let cluster = Cluster { dir, bin, port };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        )?;
        // Loopback only, the socket in the cluster's own folder, then the caller's settings.
        let mut options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {}",
            cluster.dir.path().display()
        );
        for setting in settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        let log = cluster.dir.path().join("server.log");
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-l",
                &log.display().to_string(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        cluster.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                USER,
                DATABASE,
            ],
        )?;
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of the cluster's `quire` database.
    pub fn url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// The server's log so far, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs `sql` with `psql` on the `quire` database and returns what it printed, unaligned
    /// and without headers (`-At`).
    pub fn psql(&self, sql: &str) -> io::Result<String> {
        let out = self.run(
            "psql",
            &[
                "-X",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url(),
                "-c",
                sql,
            ],
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Runs one PostgreSQL program, as `postgres` when we are root; an error carries its
    /// output.
    fn run(&self, program: &str, args: &[&str]) -> io::Result<Output> {
        let path = self.program(program);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        // The folder is the working directory: `postgres` may not be allowed into the
        // caller's.
        let out = cmd.args(args).current_dir(self.dir.path()).output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "{program} {}: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(out)
    }

    fn program(&self, name: &str) -> PathBuf {
        let in_bin = self.bin.join(name);
        // psql is in the client package's folder on Debian as well; fall back to the PATH.
        if in_bin.is_file() {
            in_bin
        } else {
            PathBuf::from(name)
        }
    }

    /// Waits until nothing listens on the cluster's port any more.
    fn wait_closed(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        let _ = self.wait_closed(Duration::from_secs(10));
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_answers_and_is_gone_after_drop() {
        let cluster = Cluster::start().unwrap();
        assert_eq!(
            cluster.psql("SELECT 40 + 2").unwrap(),
            "42",
            "{}",
            cluster.log()
        );
        let version = cluster.psql("SHOW server_version_num").unwrap();
        assert!(
            version.starts_with("15"),
            "PostgreSQL 15 expected, got {version}"
        );
        assert_eq!(
            cluster.psql("SELECT current_user").unwrap(),
            USER,
            "the cluster's role is {USER}"
        );
        let (port, dir) = (cluster.port(), cluster.dir.path().to_path_buf());
        drop(cluster);
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the server still listens on {port} after drop"
        );
        assert!(!dir.exists(), "{} is left behind", dir.display());
    }
}

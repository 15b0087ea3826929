//! A real SMTP server for the mail tests: Debian's python3-aiosmtpd running
//! `tests/smtp_sink.py`, which saves each accepted message as a numbered `.eml` file.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct SmtpSink {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts a plain-text sink on `port` and returns once it accepts mail.
    pub fn start(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// Starts the sink with extra script arguments (`starttls|tls CERT KEY`).
    pub fn start_with(port: u16, extra: &[&std::ffi::OsStr]) -> Self {
        // This module is also compiled into the binary's end-to-end tests (`tests/mail.rs`),
        // whose manifest is the workspace root.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let script = [
            root.join("tests/smtp_sink.py"),
            root.join("delivery/tests/smtp_sink.py"),
        ]
        .into_iter()
        .find(|p| p.exists())
        .expect("delivery/tests/smtp_sink.py");
        let dir = tempfile::tempdir().unwrap();
        // Debian's interpreter, where python3-aiosmtpd lives (a pyenv python3 on PATH lacks it).
        let python = if Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let mut child = Command::new(python)
            .arg(&script)
            .arg(port.to_string())
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed for the SMTP tests");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "READY",
            "the SMTP sink did not start; is python3-aiosmtpd installed (apt-get install python3-aiosmtpd)?"
        );
        Self { child, port, dir }
    }

    /// The messages received so far, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort_by_key(|p| {
            p.file_stem()
                .unwrap()
                .to_str()
                .unwrap()
                .parse::<u32>()
                .unwrap()
        });
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }
}

/// A throwaway CA and a server certificate for 127.0.0.1 signed by it, made with the openssl
/// command line; returns (CA cert, server cert, server key) paths inside `dir`.
pub fn make_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is needed for the TLS tests");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Quire Test CA",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

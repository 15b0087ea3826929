//! The command line as a shell user meets it: output piped into a reader that stops early.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use crate::util::Home;

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

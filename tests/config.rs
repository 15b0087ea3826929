//! Configuration and the daemon's lifecycle, end to end.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::util::{Home, free_port, quire, stderr, stdout};

#[test]
fn the_embedded_default_is_valid_and_used_without_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = quire()
        .args(["config", "check"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("<embedded default>"),
        "{}",
        stdout(&out)
    );
    let shown = stdout(
        &quire()
            .args(["config", "show"])
            .current_dir(dir.path())
            .output()
            .unwrap(),
    );
    // Relative paths of the embedded default resolve against the working directory.
    let inbox = dir.path().join("var/inbox");
    assert!(
        shown.contains(&format!("inbox = \"{}\"", inbox.display())),
        "{shown}"
    );
    assert!(shown.contains("listen = \"127.0.0.1:8080\""), "{shown}");
}

#[test]
fn a_local_quire_toml_and_quire_config_are_found() {
    let home = Home::with_config("[server]\nlisten = \"127.0.0.1:9101\"\n");
    let out = quire()
        .args(["config", "show"])
        .current_dir(home.path())
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("127.0.0.1:9101"),
        "./quire.toml not used: {}",
        stdout(&out)
    );

    let elsewhere = tempfile::tempdir().unwrap();
    let out = quire()
        .args(["config", "show"])
        .env("QUIRE_CONFIG", home.config_path())
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("127.0.0.1:9101"),
        "QUIRE_CONFIG not used: {}",
        stdout(&out)
    );
    // Relative paths resolve against the config file's folder, not the working directory.
    assert!(
        stdout(&out).contains(&home.path().join("var").display().to_string()),
        "{}",
        stdout(&out)
    );
}

#[test]
fn check_reports_every_error_at_once() {
    let home = Home::with_config(
        "colour = \"blue\"\n\
         [server]\nlisten = \"not an address\"\n\
         [intake]\ninbux = \"x\"\n\
         [storage]\nbackend = \"floppy\"\n",
    );
    let out = home.fails(&["config", "check"]);
    let err = stderr(&out);
    for needle in ["colour", "[server]", "inbux", "[storage]", "4 error(s)"] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
}

#[test]
fn unreachable_paths_and_bad_urls_are_errors() {
    let home = Home::with_config(
        "[server]\npublic_url = \"ftp://x\"\n[intake]\ninbox = \"/proc/version/inbox\"\n",
    );
    let err = stderr(&home.fails(&["config", "check"]));
    assert!(err.contains("public_url"), "{err}");
    assert!(err.contains("/proc/version is not a folder"), "{err}");
}

/// An empty token would let `Authorization: Bearer ` in; a short one can be guessed.
#[test]
fn empty_or_short_api_tokens_are_errors_and_never_printed() {
    for (tokens, needle) in [
        ("[\"\"]", "token 1 of 1 is 0 characters long"),
        (
            "[\"a-good-long-token-0123\", \"short-secret\"]",
            "token 2 of 2 is 12 characters long",
        ),
        ("[\" padded-token-0123456 \"]", "white space"),
    ] {
        let home = Home::with_config(&format!("[server]\napi_tokens = {tokens}\n"));
        let err = stderr(&home.fails(&["config", "check"]));
        assert!(
            err.contains("api_tokens") && err.contains(needle),
            "{tokens}: {err}"
        );
        assert!(!err.contains("short-secret"), "a token was printed: {err}");
    }
    let home = Home::with_config("[server]\napi_tokens = [\"0123456789abcdef\"]\n");
    home.ok(&["config", "check"]);
}

#[test]
fn environment_overrides_single_keys() {
    let home = Home::new();
    let out = home
        .cmd(&["config", "show"])
        .env("QUIRE__SERVER__LISTEN", "127.0.0.1:9333")
        .env("QUIRE__INSTITUTION__NAME", "Bibliothèque Test")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("127.0.0.1:9333"), "{text}");
    assert!(text.contains("Bibliothèque Test"), "{text}");

    let out = home
        .cmd(&["config", "check"])
        .env("QUIRE__SERVER__LISTEN", "nowhere")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("[server]"), "{}", stderr(&out));
}

#[test]
fn show_masks_secrets() {
    let home = Home::with_config(
        "[storage]\nbackend = \"s3\"\nendpoint = \"http://127.0.0.1:9\"\nbucket = \"b\"\n\
         access_key_id = \"AKIDEXAMPLE\"\nsecret_access_key = \"wJalrXUtnFEMI-very-secret\"\n",
    );
    let text = stdout(&home.ok(&["config", "show"]));
    assert!(
        !text.contains("very-secret") && !text.contains("AKIDEXAMPLE"),
        "{text}"
    );
    assert!(text.contains("********"), "{text}");
}

#[test]
fn the_daemon_serves_health_and_stops_cleanly_on_sigterm() {
    let port = free_port();
    let home = Home::with_config(&format!("[server]\nlisten = \"127.0.0.1:{port}\"\n"));
    let mut child = home
        .cmd(&["daemon"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        if let Ok(body) = http_get(port, "/healthz") {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "daemon did not answer /healthz within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    assert!(home.path().join("var/inbox").is_dir());

    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "daemon exit {status}: {err}");
    assert!(err.contains("Drop scans into:"), "{err}");

    let log = stdout(&home.ok(&["audit", "export"]));
    let actions: Vec<String> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(actions, ["daemon.started", "daemon.stopped"]);
    home.ok(&["audit", "verify"]);
}

/// A GET of `path` as text: the header block, a blank line, the body.
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let reply = quire_testkit::http::get(path)
        .timeout(Duration::from_secs(5))
        .send(port)?;
    Ok(format!("{}\r\n\r\n{}", reply.head, reply.text()))
}

//! The daemon's e-mail notices against a real SMTP server (aiosmtpd on loopback): a permanent
//! refusal is final at once, and notices wait out an SMTP outage and go out once it is back.

use std::time::Duration;

use serde_json::Value;

use crate::util::{Home, corpus, daemon_home, start_daemon, stdout, wait_until};

#[path = "../delivery/tests/support/smtp.rs"]
#[allow(dead_code)]
mod smtp;

use smtp::SmtpSink;

/// A daemon home whose notices go to SMTP on `smtp_port`, retried quickly.
fn smtp_home(smtp_port: u16) -> (Home, u16) {
    daemon_home(&format!(
        "[mail]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\nport = {smtp_port}\ntls = \"none\"\n\
         retry_attempts = 20\nretry_base_secs = 0.2\n"
    ))
}

/// Hands in a ready PDF for a new request to `email`.
fn deliver_to(home: &Home, id: &str, email: &str) {
    home.ok(&[
        "request",
        "add",
        "--id",
        id,
        "--patron",
        "Ada Reader",
        "--email",
        email,
        "--library",
        "ZZQ",
        "--title",
        "Journal of Tests",
        "--article",
        "On mail",
        "--year",
        "2024",
    ]);
    home.ok(&[
        "deliver",
        "--request",
        id,
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
}

fn notice_events(home: &Home) -> Vec<Value> {
    stdout(&home.ok(&[
        "audit", "search", "--action", "notice.", "--format", "jsonl",
    ]))
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect()
}

fn actions(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

#[test]
fn a_permanent_smtp_refusal_fails_the_notice_at_once() {
    let sink = SmtpSink::start(crate::util::free_port());
    let (home, port) = smtp_home(sink.port);
    deliver_to(&home, "TN1401", "reject-me@example.org");
    let _d = start_daemon(&home, port);
    wait_until(Duration::from_secs(30), "the notice has failed", || {
        actions(&notice_events(&home)).contains(&"notice.failed")
    });
    // Several retry periods later: still one attempt, no retries.
    std::thread::sleep(Duration::from_secs(2));
    let events = notice_events(&home);
    assert_eq!(actions(&events), ["notice.failed"], "{events:?}");
    let failed = &events[0]["details"];
    assert_eq!(failed["attempts"], 1, "{failed}");
    assert_eq!(failed["permanent"], true, "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("550"),
        "{failed}"
    );
    assert!(sink.messages().is_empty());

    // Staff see it on the request's page, with the server's reason.
    crate::console::add_user(&home, "tina", "technician", "tina-password-1");
    let (mut browser, _) = crate::console::Browser::signed_in(port, "tina", "tina-password-1");
    let page = browser.get("/staff/requests/TN1401");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("data-notice-state=\"failed\"") && page.body.contains("550"),
        "{}",
        page.body
    );
}

#[test]
fn notices_wait_out_an_smtp_outage_and_go_out_once() {
    let smtp_port = crate::util::free_port();
    let (home, port) = smtp_home(smtp_port);
    let _d = start_daemon(&home, port);
    // The mail server is down when the copies go out.
    deliver_to(&home, "TN1402", "ada@example.org");
    deliver_to(&home, "TN1403", "bob@example.org");
    wait_until(Duration::from_secs(30), "both notices were retried", || {
        let retried: std::collections::HashSet<String> = notice_events(&home)
            .iter()
            .filter(|e| e["action"] == "notice.retry")
            .map(|e| e["subjects"]["delivery"].to_string())
            .collect();
        retried.len() == 2
    });
    assert!(!actions(&notice_events(&home)).contains(&"notice.failed"));

    // Back up on the same port: each notice goes out, once.
    let sink = SmtpSink::start(smtp_port);
    wait_until(Duration::from_secs(60), "both notices were sent", || {
        sink.messages().len() >= 2
    });
    std::thread::sleep(Duration::from_secs(2));
    let messages = sink.messages();
    assert_eq!(messages.len(), 2, "sent twice?");
    for to in ["ada@example.org", "bob@example.org"] {
        assert_eq!(
            messages
                .iter()
                .filter(|m| m.contains(&format!("X-Envelope-To: {to}")))
                .count(),
            1,
            "{to}"
        );
    }
    let sent = notice_events(&home)
        .into_iter()
        .filter(|e| e["action"] == "notice.sent")
        .count();
    assert_eq!(sent, 2);
}

/// The sender of a node killed in the middle of an SMTP exchange held the notice for ten
/// minutes (so no other node sends it meanwhile). When that node starts again it frees its own
/// holds at once: the e-mail goes out within seconds, once.
#[test]
fn a_notice_held_by_a_killed_sender_goes_out_when_its_node_starts_again() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A mail server that takes the connection and never says a word: the sender waits in the
    // middle of the exchange, its notice claimed, when the node is killed.
    let smtp_port = crate::util::free_port();
    let listener = std::net::TcpListener::bind(("127.0.0.1", smtp_port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let silent = {
        let (accepted, stop) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        held.push(stream);
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })
    };
    let (home, port) = smtp_home(smtp_port);
    deliver_to(&home, "TN1404", "cy@example.org");
    let mut first = start_daemon(&home, port);
    wait_until(
        Duration::from_secs(60),
        "the sender is mid-exchange",
        || accepted.load(Ordering::SeqCst) > 0,
    );
    first.child.kill().unwrap(); // SIGKILL, mid-exchange
    first.child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    silent.join().unwrap();
    assert!(notice_events(&home).is_empty(), "nothing was recorded yet");

    let sink = SmtpSink::start(smtp_port);
    let _again = start_daemon(&home, port);
    // Well inside the ten-minute hold: only the release on start makes it due.
    wait_until(Duration::from_secs(90), "the notice was sent", || {
        !sink.messages().is_empty()
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(actions(&notice_events(&home)), ["notice.sent"]);
}

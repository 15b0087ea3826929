//! Webhooks end to end: a real receiver on loopback, the daemon tailing the audit log, signed
//! POSTs retried after a failure, and an endpoint that keeps failing given up on (audited)
//! without blocking the events after it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::Value;

use crate::delivery::{add_request, get, links, path_of};
use crate::util::{Home, corpus, daemon_home, start_daemon, stdout, wait_until};

const SECRET: &str = "whsec-0123456789abcdef";

/// One POST as the receiver got it: lower-case header names.
#[derive(Debug, Clone)]
struct Got {
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    /// The status the receiver answered.
    status: u16,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn action(&self) -> String {
        self.json()["action"].as_str().unwrap().to_string()
    }
}

/// An HTTP endpoint on loopback that keeps every POST and answers each with the status
/// `answer` picks from the POST and how many came before it.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    fn start(answer: impl Fn(&Got, usize) -> u16 + Send + 'static) -> Receiver {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let kept = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut raw = Vec::new();
                let mut buf = [0u8; 8192];
                let request = loop {
                    let n = s.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        break None;
                    }
                    raw.extend_from_slice(&buf[..n]);
                    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
                    let headers: BTreeMap<String, String> = head
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect();
                    let len = headers
                        .get("content-length")
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if raw.len() >= end + 4 + len {
                        break Some(Got {
                            headers,
                            body: raw[end + 4..end + 4 + len].to_vec(),
                            status: 0,
                        });
                    }
                };
                let Some(mut request) = request else { continue };
                let mut all = kept.lock().unwrap();
                request.status = answer(&request, all.len());
                let status = request.status;
                all.push(request);
                drop(all);
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
            }
        });
        Receiver { port, got }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// The POSTs answered 2xx, by event id: what a deduplicating receiver keeps.
    fn accepted(&self) -> BTreeMap<i64, Got> {
        self.got()
            .into_iter()
            .filter(|g| (200..300).contains(&g.status))
            .map(|g| (g.header("quire-event-id").parse().unwrap(), g))
            .collect()
    }

    fn config(&self, name: &str, extra: &str) -> String {
        format!(
            "[[webhooks]]\nname = \"{name}\"\nurl = \"http://127.0.0.1:{}/hook\"\n\
             secret_file = \"hook.secret\"\nretry_base_secs = 0.05\n{extra}",
            self.port
        )
    }
}

/// The receiver's check, as the README describes it: HMAC-SHA256 under the secret of
/// `<t>.<body>`, against `v1` of `Quire-Signature: t=<t>,v1=<hex>`.
fn signature_verifies(header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let Ok(expected) = hex::decode(v1) else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// `quire webhooks --json`, by endpoint name.
fn cursors(home: &Home) -> BTreeMap<String, Value> {
    let rows: Vec<Value> =
        serde_json::from_str(&stdout(&home.ok(&["webhooks", "--json"]))).unwrap();
    rows.into_iter()
        .map(|r| (r["name"].as_str().unwrap().to_string(), r))
        .collect()
}

/// Waits until the daemon has made the endpoint's cursor (at the log's end): events after
/// that are the endpoint's.
fn wait_for_cursor(home: &Home, name: &str) {
    wait_until(Duration::from_secs(60), "the webhook cursor exists", || {
        cursors(home)[name]["last_seq"].is_i64()
    });
}

/// The events of `action` as `quire audit export` writes them (one JSON object a line).
fn exported(home: &Home, action: &str) -> Vec<Value> {
    stdout(&home.ok(&["audit", "export", "--action", action]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// How many events the audit log holds.
fn log_len(home: &Home) -> usize {
    stdout(&home.ok(&["audit", "export"])).lines().count()
}

/// A scan the daemon processes and delivers, then the borrower's download: the receiver gets
/// `delivery.created` and `link.download` once each after a failed first try re-sent under the
/// same id, signed with the secret, and none of the events it did not subscribe to.
#[test]
fn a_delivery_and_a_download_reach_the_webhook_signed_once_each_after_a_retry() {
    let hook = Receiver::start(|_, before| if before == 0 { 500 } else { 200 });
    let (home, port) = daemon_home(&hook.config(
        "ill",
        "events = [\"delivery.created\", \"link.download\"]\n",
    ));
    std::fs::write(home.path().join("hook.secret"), format!("{SECRET}\n")).unwrap();
    add_request(&home, "TN740", &[]);
    let _d = start_daemon(&home, port);
    wait_for_cursor(&home, "ill");
    std::fs::copy(corpus("ccitt.pdf"), home.path().join("var/inbox/TN740.pdf")).unwrap();
    wait_until(
        Duration::from_secs(180),
        "delivery.created is accepted",
        || {
            hook.accepted()
                .values()
                .any(|g| g.action() == "delivery.created")
        },
    );
    let url = links(&home)[0]["url"].as_str().unwrap().to_string();
    let (status, _, _) = get(port, &format!("{}/file", path_of(&url)), &[]);
    assert_eq!(status, 200);
    wait_until(Duration::from_secs(60), "link.download is accepted", || {
        hook.accepted()
            .values()
            .any(|g| g.action() == "link.download")
    });
    // Anything sent late would show now. Caught up, the sender only reads: a claim (a write)
    // would move the claim's end at every half-second pass. (Unless the log itself moved,
    // which a busy machine's late notice could do: then a claim is right, and it is retried.)
    let idle = (0..5).any(|_| {
        let before = (cursors(&home)["ill"].clone(), log_len(&home));
        std::thread::sleep(Duration::from_secs(2));
        let after = (cursors(&home)["ill"].clone(), log_len(&home));
        if before.1 != after.1 {
            return false;
        }
        assert_eq!(
            after.0["claimed_until"], before.0["claimed_until"],
            "an idle endpoint is not claimed again"
        );
        true
    });
    assert!(idle, "the log never stood still for 2 s");

    let got = hook.got();
    let created = &exported(&home, "delivery.created")[0];
    let downloaded = &exported(&home, "link.download")[0];
    // The failed first try and its retry: one event, one id, the same bytes.
    assert_eq!(got[0].status, 500);
    assert_eq!(got[0].header("quire-event-id"), created["seq"].to_string());
    assert_eq!(got[1].header("quire-event-id"), created["seq"].to_string());
    assert_eq!(got[0].json(), got[1].json());
    assert_eq!(got.len(), 3, "one retry, then each event once: {got:#?}");
    let accepted = hook.accepted();
    let actions: Vec<String> = accepted.values().map(Got::action).collect();
    assert_eq!(
        actions,
        ["delivery.created", "link.download"],
        "in log order, once each"
    );
    for (id, g) in &accepted {
        // The body is the event as the audit export has it; the headers name it.
        let event = if *id == created["seq"].as_i64().unwrap() {
            created
        } else {
            downloaded
        };
        assert_eq!(&g.json(), event);
        assert_eq!(g.header("quire-event-id"), id.to_string());
        assert_eq!(g.header("quire-event"), g.action());
        assert_eq!(g.header("content-type"), "application/json");
        assert!(
            signature_verifies(g.header("quire-signature"), &g.body),
            "{:?} {}",
            g.headers,
            String::from_utf8_lossy(&g.body)
        );
        let mut tampered = g.body.clone();
        let at = tampered.iter().position(|b| b.is_ascii_digit()).unwrap();
        tampered[at] = if tampered[at] == b'9' {
            b'8'
        } else {
            tampered[at] + 1
        };
        assert!(!signature_verifies(g.header("quire-signature"), &tampered));
        let other_time = g.header("quire-signature").replacen("t=1", "t=2", 1);
        assert!(
            !signature_verifies(&other_time, &g.body),
            "the time is signed"
        );
    }
    // The job's own events happened and were not sent.
    assert!(!exported(&home, "job.received").is_empty());
    assert!(!exported(&home, "job.processed").is_empty());
    let cursor = &cursors(&home)["ill"];
    assert_eq!(cursor["attempts"], 0);
    assert!(
        cursor["last_seq"].as_i64() >= downloaded["seq"].as_i64(),
        "{cursor}"
    );
    let table = stdout(&home.ok(&["webhooks"]));
    assert!(table.contains("ill") && table.contains("/hook"), "{table}");
    home.ok(&["audit", "verify"]);
}

/// An endpoint that refuses one event every time: after `max_attempts` tries it is given up
/// with a `webhook.failed` event in the log (not sent to that endpoint), and the events after
/// it still go out.
#[test]
fn an_event_refused_max_attempts_times_is_given_up_audited_and_later_events_still_go_out() {
    let hook = Receiver::start(|g, _| {
        if g.header("quire-event") == "delivery.created" {
            503
        } else {
            200
        }
    });
    let (home, port) = daemon_home(&hook.config(
        "crm",
        "events = [\"delivery.created\", \"link.download\", \"webhook.failed\"]\nmax_attempts = 3\n",
    ));
    std::fs::write(home.path().join("hook.secret"), SECRET).unwrap();
    add_request(&home, "TN741", &[]);
    let _d = start_daemon(&home, port);
    wait_for_cursor(&home, "crm");
    home.ok(&[
        "deliver",
        "--request",
        "TN741",
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    wait_until(Duration::from_secs(60), "the event is given up", || {
        !exported(&home, "webhook.failed").is_empty()
    });
    let created = &exported(&home, "delivery.created")[0];
    let failed = &exported(&home, "webhook.failed")[0];
    assert_eq!(failed["subjects"]["webhook"], "crm");
    assert_eq!(failed["details"]["event"], created["seq"]);
    assert_eq!(failed["details"]["action"], "delivery.created");
    assert_eq!(failed["details"]["attempts"], 3);
    assert!(
        failed["details"]["error"].as_str().unwrap().contains("503"),
        "{failed}"
    );
    let tries: Vec<Got> = hook.got();
    assert_eq!(tries.len(), 3, "max_attempts tries: {tries:#?}");
    let id = created["seq"].to_string();
    assert!(tries.iter().all(|g| g.header("quire-event-id") == id));

    let url = links(&home)[0]["url"].as_str().unwrap().to_string();
    let (status, _, _) = get(port, &format!("{}/file", path_of(&url)), &[]);
    assert_eq!(status, 200);
    wait_until(Duration::from_secs(60), "link.download goes out", || {
        hook.accepted()
            .values()
            .any(|g| g.action() == "link.download")
    });
    std::thread::sleep(Duration::from_secs(1));
    let sent: Vec<String> = hook.got().iter().map(Got::action).collect();
    assert_eq!(
        sent,
        [
            "delivery.created",
            "delivery.created",
            "delivery.created",
            "link.download"
        ],
        "its own webhook.failed is not sent to it"
    );
    assert_eq!(exported(&home, "webhook.failed").len(), 1);
    let cursor = &cursors(&home)["crm"];
    assert_eq!(
        (cursor["attempts"].as_i64(), cursor["last_error"].is_null()),
        (Some(0), true)
    );
    home.ok(&["audit", "verify"]);
}

/// Two endpoints down together, each subscribed to failures: each gives up on the delivery
/// (one `webhook.failed` each) and then on the other's failure, which adds nothing more, so
/// the log does not grow without end.
#[test]
fn two_failing_endpoints_do_not_feed_each_other_failures_forever() {
    let a = Receiver::start(|_, _| 500);
    let b = Receiver::start(|_, _| 500);
    let events = "events = [\"delivery.created\", \"webhook.failed\"]\nmax_attempts = 2\n";
    let (home, port) = daemon_home(&format!(
        "{}{}",
        a.config("a", events),
        b.config("b", events)
    ));
    std::fs::write(home.path().join("hook.secret"), SECRET).unwrap();
    add_request(&home, "TN742", &[]);
    let _d = start_daemon(&home, port);
    wait_for_cursor(&home, "a");
    wait_for_cursor(&home, "b");
    home.ok(&[
        "deliver",
        "--request",
        "TN742",
        corpus("ccitt.pdf").to_str().unwrap(),
    ]);
    // Each has failed the other's failure too: two tries each of delivery.created and of
    // the other's webhook.failed.
    wait_until(
        Duration::from_secs(60),
        "each gave up on the other's failure",
        || {
            [&a, &b].iter().all(|r| {
                r.got()
                    .iter()
                    .filter(|g| g.header("quire-event") == "webhook.failed")
                    .count()
                    >= 2
            }) && cursors(&home).values().all(|c| c["attempts"] == 0)
        },
    );
    std::thread::sleep(Duration::from_secs(2));
    let failed = exported(&home, "webhook.failed");
    let about: Vec<&str> = failed
        .iter()
        .map(|f| f["details"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        about,
        ["delivery.created", "delivery.created"],
        "{failed:#?}"
    );
    for r in [&a, &b] {
        assert_eq!(r.got().len(), 4, "two tries of each event: {:#?}", r.got());
    }
}

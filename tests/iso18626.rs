//! The ISO 18626 endpoint: partners' ILL systems send requests and requesting-agency messages;
//! every answer is a confirmation valid against its version's published schema (checked by
//! `xmllint`, not Quire's own parser), and nothing is created for what is refused.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::util::{Home, daemon_home, start_daemon, stdout};
use quire_testkit::http::{Request, post};

const PEERS: &str = r#"
[iso18626]
enabled = true
agency_id_type = "ISIL"
agency_id = "US-XYZ"

[[iso18626.peers]]
name = "State University"
agency_id_type = "ISIL"
agency_id = "US-ABC"
url = "http://127.0.0.1:9/iso18626"
account_id = "quire"
security_code = "s3cret-code"

[[iso18626.peers]]
name = "Mill (ReShare)"
agency_id_type = "RESHARE"
agency_id = "MILL"
url = "http://127.0.0.1:9/iso18626"
version = "2021"
"#;

fn shared(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/iso18626")
        .join(name)
}

/// `xmllint --schema` of the version the message names: `Err` with its complaint.
fn schema_check(xml: &str) -> Result<(), String> {
    let schema = if xml.contains("version=\"2021\"") {
        "ISO-18626-2021-2.xsd"
    } else {
        "ISO-18626-v1_2.xsd"
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.xml");
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(shared(schema))
        .arg(&file)
        .output()
        .expect("xmllint (libxml2-utils, from scripts/bootstrap)");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// POSTs `body`; returns the status and the answer, which (for 200) must be schema-valid.
fn send(port: u16, body: impl Into<Vec<u8>>) -> (u16, String) {
    let reply = post("/iso18626", "application/xml", body)
        .send(port)
        .unwrap();
    let text = reply.text();
    if reply.status == 200
        && let Err(e) = schema_check(&text)
    {
        panic!("the answer is not valid against its schema:\n{text}\n{e}");
    }
    (reply.status, text)
}

fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

#[allow(clippy::too_many_arguments)]
fn copy_request(
    agency: &str,
    account: &str,
    code: &str,
    requester_id: &str,
    compliance: &str,
    service: &str,
) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ISO18626Message xmlns="http://illtransactions.org/2013/iso18626" xmlns:ill="http://illtransactions.org/2013/iso18626" ill:version="1.2">
<request>
<header>
<supplyingAgencyId><agencyIdType>ISIL</agencyIdType><agencyIdValue>US-XYZ</agencyIdValue></supplyingAgencyId>
<requestingAgencyId><agencyIdType>ISIL</agencyIdType><agencyIdValue>{agency}</agencyIdValue></requestingAgencyId>
<multipleItemRequestId></multipleItemRequestId>
<timestamp>2026-11-30T09:00:00+0000</timestamp>
<requestingAgencyRequestId>{requester_id}</requestingAgencyRequestId>
<requestingAgencyAuthentication><accountId>{account}</accountId><securityCode>{code}</securityCode></requestingAgencyAuthentication>
</header>
<bibliographicInfo>
<title>Journal of Tests &amp; Trials</title>
<author>Ada Author</author>
<titleOfComponent>On scanning</titleOfComponent>
<pagesRequested>101-115</pagesRequested>
<bibliographicItemId><bibliographicItemIdentifier>0378-5955</bibliographicItemIdentifier><bibliographicItemIdentifierCode>ISSN</bibliographicItemIdentifierCode></bibliographicItemId>
</bibliographicInfo>
<publicationInfo><publicationDate>2024</publicationDate></publicationInfo>
<serviceInfo><serviceType>{service}</serviceType><copyrightCompliance>{compliance}</copyrightCompliance></serviceInfo>
<requestedDeliveryInfo><address><electronicAddress><electronicAddressType>Email</electronicAddressType><electronicAddressData>reader@uni.example</electronicAddressData></electronicAddress></address></requestedDeliveryInfo>
</request>
</ISO18626Message>"#
    )
}

fn requests(home: &Home) -> Vec<Value> {
    serde_json::from_str(&stdout(&home.ok(&["request", "list", "--json"]))).unwrap()
}

fn outbox(home: &Home) -> Vec<Value> {
    serde_json::from_str(&stdout(&home.ok(&["iso18626", "outbox", "--json"]))).unwrap()
}

fn audit_count(home: &Home, action: &str) -> usize {
    stdout(&home.ok(&["audit", "export", "--action", action]))
        .lines()
        .count()
}

/// A copy request becomes a Quire request under a scannable id with its citation and basis,
/// confirmed OK and answered ExpectToSupply in the outbox; sent again, it changes nothing.
/// A Loan (the published ReShare sample, as sent) is confirmed and answered Unfilled.
#[test]
fn a_peer_request_becomes_a_quire_request_once_and_a_loan_is_answered_unfilled() {
    let (home, port) = daemon_home(PEERS);
    let _d = start_daemon(&home, port);
    let request = copy_request(
        "US-ABC",
        "quire",
        "s3cret-code",
        "ALMA-1001",
        "US-CCG",
        "Copy",
    );
    let (status, answer) = send(port, request.clone());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(element(&answer, "messageStatus"), Some("OK"), "{answer}");
    assert_eq!(
        element(&answer, "requestingAgencyRequestId"),
        Some("ALMA-1001")
    );
    let list = requests(&home);
    assert_eq!(list.len(), 1, "{list:#?}");
    let r = &list[0];
    let id = r["id"].as_str().unwrap();
    assert!(
        id.starts_with("ILL") && id[3..].chars().all(|c| c.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(r["basis"], "ccg");
    assert_eq!(r["title"], "Journal of Tests & Trials");
    assert_eq!(r["article"], "On scanning");
    assert_eq!(r["pages"], "101-115");
    assert_eq!(r["issn"], "0378-5955");
    assert_eq!(r["year"], 2024);
    assert_eq!(r["patron_email"], "reader@uni.example");
    let queued = outbox(&home);
    assert_eq!(queued.len(), 1, "{queued:#?}");
    assert_eq!(queued[0]["status"], "ExpectToSupply");
    assert_eq!(queued[0]["state"], "pending");
    let body = queued[0]["body"].as_str().unwrap();
    schema_check(body).unwrap_or_else(|e| panic!("{body}\n{e}"));
    assert_eq!(element(body, "supplyingAgencyRequestId"), Some(id));

    // The same request again (a lost confirmation): OK, nothing new.
    let (status, again) = send(port, request);
    assert_eq!(
        (status, element(&again, "messageStatus")),
        (200, Some("OK"))
    );
    assert_eq!(requests(&home).len(), 1);
    assert_eq!(outbox(&home).len(), 1);
    assert_eq!(audit_count(&home, "iso18626.received"), 1);

    // The published ReShare sample (version 1.0 on the wire) as sent: a Loan.
    let mut sample =
        std::fs::read_to_string(shared("samples/protocol_tests_case1_request.xml")).unwrap();
    // Addressed to us: its supplying agency becomes this library.
    let (supplier, rest) = sample.split_once("<requestingAgencyId>").unwrap();
    sample = format!(
        "{}<requestingAgencyId>{rest}",
        supplier
            .replace("RESHARE", "ISIL")
            .replace("TEMPLEI", "US-XYZ")
    );
    let (status, answer) = send(port, sample);
    assert_eq!(status, 200);
    assert_eq!(element(&answer, "messageStatus"), Some("OK"), "{answer}");
    assert!(
        answer.contains("version=\"2021\""),
        "answered in the peer's version: {answer}"
    );
    let unfilled: Vec<Value> = outbox(&home)
        .into_iter()
        .filter(|m| m["status"] == "Unfilled")
        .collect();
    assert_eq!(unfilled.len(), 1);
    let body = unfilled[0]["body"].as_str().unwrap();
    schema_check(body).unwrap_or_else(|e| panic!("{body}\n{e}"));
    assert_eq!(
        element(body, "reasonUnfilled"),
        Some("NotAvailableForILL"),
        "{body}"
    );
    let peers: Vec<Value> =
        serde_json::from_str(&stdout(&home.ok(&["iso18626", "peers", "--json"]))).unwrap();
    assert_eq!(peers.len(), 2);
    assert_eq!(peers[1]["last_message"]["kind"], "request", "{peers:#?}");
    home.ok(&["audit", "verify"]);
}

/// Unknown agencies and wrong credentials get ERROR confirmations, are audited, and create
/// nothing; a copyright basis Quire does not know leaves the request for a person.
#[test]
fn strangers_and_wrong_codes_are_refused_and_create_nothing() {
    let (home, port) = daemon_home(PEERS);
    let _d = start_daemon(&home, port);
    for (agency, code) in [
        ("US-NOPE", "s3cret-code"),
        ("US-ABC", "wrong"),
        ("US-ABC", ""),
    ] {
        let (status, answer) = send(
            port,
            copy_request(agency, "quire", code, "R-9", "US-CCG", "Copy"),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(element(&answer, "messageStatus"), Some("ERROR"), "{answer}");
        assert_eq!(element(&answer, "errorType"), Some("UnrecognisedDataValue"));
        assert!(
            !answer.contains("s3cret-code"),
            "never echo the code: {answer}"
        );
    }
    assert!(requests(&home).is_empty());
    assert!(outbox(&home).is_empty());
    assert_eq!(audit_count(&home, "iso18626.refused"), 3);

    let (_, answer) = send(
        port,
        copy_request(
            "US-ABC",
            "quire",
            "s3cret-code",
            "R-10",
            "UK-CLA-FD",
            "Copy",
        ),
    );
    assert_eq!(element(&answer, "messageStatus"), Some("OK"), "{answer}");
    let received = stdout(&home.ok(&["audit", "export", "--action", "iso18626.received"]));
    assert!(received.contains("\"basis_given\":false"), "{received}");
    // A person sets it.
    let id = requests(&home)[0]["id"].as_str().unwrap().to_string();
    home.ok(&["request", "basis", &id, "ccl"]);
    assert_eq!(requests(&home)[0]["basis"], "ccl");
    assert_eq!(audit_count(&home, "request.basis_set"), 1);
    // The partner's endpoint is not there: the status message waits, tried again, and staff
    // see why on the partners page.
    crate::util::wait_until(
        std::time::Duration::from_secs(30),
        "a failed try is recorded",
        || {
            outbox(&home)
                .iter()
                .any(|m| m["attempts"].as_i64() > Some(0))
        },
    );
    let page = crate::util::staff_page_as_new_technician(&home, port, "tech-p", "/staff/partners");
    assert!(
        page.contains("State University") && page.contains("could not reach"),
        "{page}"
    );
    let refused = home.fails(&["request", "basis", &id, "permission"]);
    assert!(
        crate::util::stderr(&refused).contains("reference"),
        "{}",
        crate::util::stderr(&refused)
    );
}

/// Thirty malformed or hostile bodies: each is a clean ERROR confirmation (or 413 when too
/// large); no entity is resolved; the daemon stays healthy and creates nothing.
#[test]
fn malformed_and_hostile_bodies_get_clean_errors() {
    let (home, port) = daemon_home(PEERS);
    let _d = start_daemon(&home, port);
    let secret = home.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-CONTENT").unwrap();
    let good = copy_request("US-ABC", "quire", "s3cret-code", "R-1", "US-CCG", "Copy");
    let mut bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"not xml at all".to_vec(),
        b"<".to_vec(),
        b"<?xml version=\"1.0\"?>".to_vec(),
        good.as_bytes()[..good.len() / 2].to_vec(),
        good.as_bytes()[..good.len() - 30].to_vec(),
        good.replace("http://illtransactions.org/2013/iso18626", "urn:wrong").into_bytes(),
        good.replace("<request>", "<requestx>").replace("</request>", "</requestx>").into_bytes(),
        good.replace("<header>", "").into_bytes(),
        format!(
            "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file://{}\">]>{}",
            secret.display(),
            good.replace("Ada Author", "&x;")
        )
        .into_bytes(),
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><request xmlns=\"http://illtransactions.org/2013/iso18626\">&lol2;</request>".as_bytes().to_vec(),
        good.replace("Ada Author", "&undefined;").into_bytes(),
        good.replace("Ada Author", "&#0;").into_bytes(),
        good.replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<?xml version=\"1.0\" encoding=\"UTF-16\"?>").into_bytes(),
        [b"\xff\xfe".as_slice(), good.as_bytes()].concat(),
        good.replace("Ada Author", "Ada \u{0}Author").into_bytes(),
        good.replace("<title>", "<title><title><title>").into_bytes(),
        format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000)).into_bytes(),
        good.replace("ALMA-", "").replace("R-1", "").into_bytes(),
        good.replace("<requestingAgencyId>", "<requestingAgencyIdx>").replace("</requestingAgencyId>", "</requestingAgencyIdx>").into_bytes(),
        good.replace("<serviceType>Copy</serviceType>", "<serviceType>Teleport</serviceType>").into_bytes(),
        b"<requestingAgencyMessage xmlns=\"http://illtransactions.org/2013/iso18626\"><header/><action>Fly</action></requestingAgencyMessage>".to_vec(),
        b"<requestingAgencyMessage xmlns=\"http://illtransactions.org/2013/iso18626\"></requestingAgencyMessage>".to_vec(),
        b"<supplyingAgencyMessage xmlns=\"http://illtransactions.org/2013/iso18626\"/>".to_vec(),
        b"<ISO18626Message xmlns=\"http://illtransactions.org/2013/iso18626\"/>".to_vec(),
        good.replace("2026-11-30T09:00:00+0000", "yesterday").into_bytes(),
        good.replace("US-XYZ", "US-SOMEONE-ELSE").into_bytes(),
        format!("{good}<trailing/>").into_bytes(),
        good.replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<?xml version=\"1.0\"?><?evil instruction?>").into_bytes(),
    ];
    bodies.push(vec![b'a'; 10 * 1024 * 1024]);
    assert_eq!(bodies.len(), 30);
    let mut accepted = Vec::new();
    let mut too_large = 0;
    for (n, body) in bodies.into_iter().enumerate() {
        let big = body.len() > 1024 * 1024;
        let reply = post("/iso18626", "application/xml", body)
            .send_lenient(port)
            .unwrap();
        let Some(reply) = reply else {
            assert!(big, "body {n}: the connection was dropped");
            too_large += 1;
            continue;
        };
        let text = reply.text();
        if big {
            assert_eq!(reply.status, 413, "body {n}: {text}");
            too_large += 1;
            continue;
        }
        assert_eq!(reply.status, 200, "body {n}: {text}");
        assert!(
            !text.contains("TOP-SECRET"),
            "body {n} resolved an entity: {text}"
        );
        let status = element(&text, "messageStatus");
        // Some hostile-looking bodies are still good requests (a processing instruction).
        if status == Some("OK") {
            accepted.push(n);
            continue;
        }
        assert_eq!(status, Some("ERROR"), "body {n}: {text}");
        assert!(
            element(&text, "errorValue").is_some_and(|v| !v.is_empty()),
            "body {n}: {text}"
        );
        schema_check(&text).unwrap_or_else(|e| panic!("body {n}: {text}\n{e}"));
    }
    assert_eq!(too_large, 1);
    // Only one is a good request after all: a processing instruction is legal XML.
    assert_eq!(accepted, [28], "accepted as good requests: {accepted:?}");
    let health = Request::new("GET", "/healthz").send(port).unwrap();
    assert_eq!(health.status, 200, "{}", health.text());
    assert!(requests(&home).len() <= 2, "{:#?}", requests(&home));
    home.ok(&["audit", "verify"]);
}

/// A partner library's system on loopback: it takes Quire's status messages, keeps them, and
/// confirms each.
struct TestPeer {
    port: u16,
    received: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl TestPeer {
    fn start() -> TestPeer {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut raw = Vec::new();
                let mut buf = [0u8; 8192];
                // Headers, then Content-Length bytes of body.
                let body = loop {
                    let n = s.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        break None;
                    }
                    raw.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&raw).into_owned();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if raw.len() >= end + 4 + len {
                            break Some(
                                String::from_utf8_lossy(&raw[end + 4..end + 4 + len]).into_owned(),
                            );
                        }
                    }
                };
                let Some(body) = body else { continue };
                kept.lock().unwrap().push(body);
                let answer = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
                    <ISO18626Message xmlns=\"http://illtransactions.org/2013/iso18626\" \
                    xmlns:ill=\"http://illtransactions.org/2013/iso18626\" ill:version=\"1.2\">\
                    <supplyingAgencyMessageConfirmation><confirmationHeader>\
                    <timestamp>2026-11-30T10:00:00Z</timestamp>\
                    <timestampReceived>2026-11-30T10:00:00Z</timestampReceived>\
                    <messageStatus>OK</messageStatus></confirmationHeader>\
                    </supplyingAgencyMessageConfirmation></ISO18626Message>";
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        TestPeer { port, received }
    }

    /// [`PEERS`] with State University's endpoint at this peer.
    fn config(&self) -> String {
        PEERS.replace(
            "url = \"http://127.0.0.1:9/iso18626\"\naccount_id",
            &format!(
                "url = \"http://127.0.0.1:{}/iso18626\"\naccount_id",
                self.port
            ),
        )
    }

    /// The status messages received so far, as (status, requester's id, body).
    fn statuses(&self) -> Vec<(String, String, String)> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    element(b, "status").unwrap_or("").to_string(),
                    element(b, "requestingAgencyRequestId")
                        .unwrap_or("")
                        .to_string(),
                    b.clone(),
                )
            })
            .collect()
    }

    fn wait_for(&self, status: &str, requester_id: &str) -> String {
        let mut found = None;
        crate::util::wait_until(
            std::time::Duration::from_secs(90),
            &format!("the peer receives {status} for {requester_id}"),
            || {
                found = self
                    .statuses()
                    .into_iter()
                    .find(|(s, id, _)| s == status && id == requester_id)
                    .map(|(_, _, b)| b);
                found.is_some()
            },
        );
        let body = found.unwrap();
        schema_check(&body).unwrap_or_else(|e| panic!("{body}\n{e}"));
        body
    }
}

/// A copy request from State University (US-CCG, no page range), as its system sends it.
fn plain_copy_request(requester_id: &str) -> String {
    copy_request(
        "US-ABC",
        "quire",
        "s3cret-code",
        requester_id,
        "US-CCG",
        "Copy",
    )
    .replace("<pagesRequested>101-115</pagesRequested>", "")
}

/// Sends `requester_id`'s request, waits for the peer to hear ExpectToSupply, and returns the
/// Quire id it was given.
fn request_expected(port: u16, peer: &TestPeer, requester_id: &str) -> String {
    let (_, answer) = send(port, plain_copy_request(requester_id));
    assert_eq!(element(&answer, "messageStatus"), Some("OK"), "{answer}");
    let expect = peer.wait_for("ExpectToSupply", requester_id);
    element(&expect, "supplyingAgencyRequestId")
        .unwrap()
        .to_string()
}

/// Drops a clean one-page scan named for `quire_id` into the inbox.
fn scan_under(home: &Home, quire_id: &str, seed: u64) {
    let inbox = home.path().join("var/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let staged = home.path().join(format!("{quire_id}.png"));
    crate::intake::save_png_with_dpi(&crate::intake::clean_page(seed), &staged, 150.0);
    std::fs::rename(&staged, inbox.join(format!("{quire_id}.png"))).unwrap();
}

fn agency_message(requester_id: &str, action: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ISO18626Message xmlns="http://illtransactions.org/2013/iso18626" xmlns:ill="http://illtransactions.org/2013/iso18626" ill:version="1.2">
<requestingAgencyMessage><header>
<supplyingAgencyId><agencyIdType>ISIL</agencyIdType><agencyIdValue>US-XYZ</agencyIdValue></supplyingAgencyId>
<requestingAgencyId><agencyIdType>ISIL</agencyIdType><agencyIdValue>US-ABC</agencyIdValue></requestingAgencyId>
<multipleItemRequestId></multipleItemRequestId>
<timestamp>2026-11-30T09:05:00Z</timestamp>
<requestingAgencyRequestId>{requester_id}</requestingAgencyRequestId>
<requestingAgencyAuthentication><accountId>quire</accountId><securityCode>s3cret-code</securityCode></requestingAgencyAuthentication>
</header><action>{action}</action></requestingAgencyMessage></ISO18626Message>"#
    )
}

/// A scan taken before its request arrived over ISO 18626, named by the requester's own id:
/// held as unmatched, then matched to the new request when it comes, delivered, and the
/// requester hears CopyCompleted; the audit log says the file name matched it.
#[test]
fn a_scan_named_for_a_request_that_arrives_later_over_iso18626_is_matched_and_sent() {
    let peer = TestPeer::start();
    let (home, port) = daemon_home(&peer.config());
    let _d = start_daemon(&home, port);
    scan_under(&home, "TN77001", 78);
    crate::util::wait_until(
        std::time::Duration::from_secs(120),
        "the early scan is held",
        || {
            crate::intake::jobs(&home)
                .first()
                .is_some_and(|j| j["state"] == "held")
        },
    );
    let quire_id = request_expected(port, &peer, "TN77001");
    let done = peer.wait_for("CopyCompleted", "TN77001");
    assert!(done.contains("<sentVia>URL</sentVia>"), "{done}");
    let job = crate::intake::jobs(&home)[0].clone();
    assert_eq!(job["request_id"], quire_id.as_str(), "{job}");
    let audit = stdout(&home.ok(&[
        "audit",
        "search",
        "--action",
        "job.matched",
        "--format",
        "jsonl",
    ]));
    assert!(
        audit.contains("\"by\":\"file name\"") && audit.contains("TN77001"),
        "{audit}"
    );
}

/// The whole exchange with a requesting library's system on loopback: a request is expected
/// (ExpectToSupply), scanned under its Quire id and delivered (CopyCompleted with a link that
/// works); a second is cancelled before scanning (Cancelled, answer Y); cancelling the first
/// after delivery is answered N.
#[test]
fn a_loopback_peer_hears_expect_to_supply_then_copy_completed_and_cancels_are_answered() {
    let peer = TestPeer::start();
    let (home, port) = daemon_home(&peer.config());
    let _d = start_daemon(&home, port);
    let request = plain_copy_request;
    let quire_id = request_expected(port, &peer, "ALMA-1");

    // Scanned under the Quire id: processed, delivered, and the requester told where.
    scan_under(&home, &quire_id, 77);
    let done = peer.wait_for("CopyCompleted", "ALMA-1");
    let url = element(&done, "itemId").expect("deliveryInfo/itemId carries the link");
    assert!(done.contains("<sentVia>URL</sentVia>"), "{done}");
    let path = &url[url.find("/d/").expect("a download link")..];
    let page = Request::new("GET", path).send(port).unwrap();
    assert_eq!(page.status, 200, "the link works: {}", page.text());
    // The requester's system tells its reader; Quire sends no e-mail of its own.
    let outbox_dir = home.path().join("var/outbox");
    let mails = std::fs::read_dir(&outbox_dir)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(mails, 0, "notify_patron is off for this peer");

    // A second request, cancelled before anything was scanned.
    let (_, answer) = send(port, request("ALMA-2"));
    assert_eq!(element(&answer, "messageStatus"), Some("OK"));
    peer.wait_for("ExpectToSupply", "ALMA-2");
    let (status, answer) = send(port, agency_message("ALMA-2", "Cancel"));
    assert_eq!(status, 200);
    assert_eq!(element(&answer, "messageStatus"), Some("OK"), "{answer}");
    assert_eq!(element(&answer, "action"), Some("Cancel"));
    let cancelled = peer.wait_for("Cancelled", "ALMA-2");
    assert_eq!(element(&cancelled, "answerYesNo"), Some("Y"), "{cancelled}");

    // A third, declined by staff: the requester hears Unfilled with the note.
    let (_, answer) = send(port, request("ALMA-3"));
    assert_eq!(element(&answer, "messageStatus"), Some("OK"));
    let third = element(
        &peer.wait_for("ExpectToSupply", "ALMA-3"),
        "supplyingAgencyRequestId",
    )
    .unwrap()
    .to_string();
    home.ok(&[
        "request",
        "decline",
        &third,
        "--note",
        "volume missing from our holdings",
    ]);
    let unfilled = peer.wait_for("Unfilled", "ALMA-3");
    assert!(unfilled.contains("volume missing"), "{unfilled}");
    assert_eq!(
        element(&unfilled, "reasonUnfilled"),
        Some("NotAvailableForILL")
    );
    let twice = home.fails(&["request", "decline", &third, "--note", "again"]);
    assert!(
        crate::util::stderr(&twice).contains("Unfilled"),
        "{}",
        crate::util::stderr(&twice)
    );

    // Cancelling the delivered one: too late, answered N, nothing changes.
    let (_, answer) = send(port, agency_message("ALMA-1", "Cancel"));
    assert_eq!(element(&answer, "messageStatus"), Some("OK"), "{answer}");
    let mut no = String::new();
    crate::util::wait_until(
        std::time::Duration::from_secs(60),
        "the peer hears N",
        || {
            no = peer
                .statuses()
                .into_iter()
                .find(|(_, id, b)| id == "ALMA-1" && b.contains("<answerYesNo>N</answerYesNo>"))
                .map(|(_, _, b)| b)
                .unwrap_or_default();
            !no.is_empty()
        },
    );
    schema_check(&no).unwrap_or_else(|e| panic!("{no}\n{e}"));
    assert_eq!(element(&no, "status"), Some("CopyCompleted"), "{no}");
    let sent: Vec<Value> = outbox(&home)
        .into_iter()
        .filter(|m| m["state"] == "sent")
        .collect();
    assert_eq!(
        sent.len(),
        7,
        "every message confirmed: {:#?}",
        outbox(&home)
    );
    // Staff see where the request came from and what was said.
    let page = crate::util::staff_page_as_new_technician(
        &home,
        port,
        "tech-ill",
        &format!("/staff/requests/{quire_id}"),
    );
    for expected in [
        "State University",
        "ALMA-1",
        "CopyCompleted",
        "supplyingAgencyMessageConfirmation",
        "requestingAgencyMessage",
    ] {
        assert!(
            page.contains(expected),
            "{expected} not on the request page:\n{page}"
        );
    }
    home.ok(&["audit", "verify"]);
}

/// A partner's request that is the sixth copy of a periodical this year is held for copyright
/// review: the requester hears WillSupply; when an officer releases it, CopyCompleted with the
/// link.
#[test]
fn a_copy_held_for_copyright_review_is_will_supply_until_released_then_copy_completed() {
    let peer = TestPeer::start();
    let (home, port) = daemon_home(&peer.config());
    // Five copies of the journal for this library already went out this year.
    for n in 0..5 {
        let id = format!("TN96{n}");
        home.ok(&[
            "request",
            "add",
            "--id",
            &id,
            "--patron",
            "Earlier Reader",
            "--email",
            "earlier@example.org",
            "--library",
            "US-ABC",
            "--title",
            "Journal of Tests & Trials",
            "--issn",
            "0378-5955",
            "--year",
            "2024",
            "--basis",
            "ccg",
        ]);
        home.ok(&[
            "deliver",
            "--request",
            &id,
            crate::util::corpus("ccitt.pdf").to_str().unwrap(),
        ]);
    }
    let _d = start_daemon(&home, port);
    let quire_id = request_expected(port, &peer, "ALMA-6");
    scan_under(&home, &quire_id, 96);
    let held = peer.wait_for("WillSupply", "ALMA-6");
    assert!(held.contains("copyright review"), "{held}");
    assert!(
        !peer
            .statuses()
            .iter()
            .any(|(s, id, _)| s == "CopyCompleted" && id == "ALMA-6"),
        "nothing is said to be sent while held"
    );
    let held_list: Vec<Value> =
        serde_json::from_str(&stdout(&home.ok(&["deliveries", "--held", "--json"]))).unwrap();
    let delivery = held_list
        .iter()
        .find(|d| d["request_id"] == quire_id.as_str())
        .unwrap_or_else(|| panic!("{held_list:#?}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    home.ok(&[
        "delivery",
        "release",
        &delivery,
        "--reason",
        "CCC order 12345678",
        "--officer",
        "officer",
    ]);
    let done = peer.wait_for("CopyCompleted", "ALMA-6");
    let url = element(&done, "itemId").expect("the link");
    let path = &url[url.find("/d/").unwrap()..];
    assert_eq!(Request::new("GET", path).send(port).unwrap().status, 200);
    home.ok(&["audit", "verify"]);
}

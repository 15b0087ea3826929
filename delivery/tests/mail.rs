//! Notices against a real SMTP server (aiosmtpd on loopback) and the outbox folder: content,
//! retry with back-off, permanent failures, and independence of concurrent sends.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use quire_delivery::{
    Delivered, Mailer, MailerSpec, NoticeFields, NoticeTemplates, RetryPolicy, SmtpSpec, SmtpTls,
};
use support::smtp::SmtpSink;

const FROM: &str = "Example Library <ill@example.org>";

fn fields() -> NoticeFields {
    NoticeFields {
        link: "http://127.0.0.1:8080/d/q7Xb3kR9mN2pL5vT8wY1zA4cE6gH0jK".into(),
        expires: "29 December 2026".into(),
        downloads: 5,
        pickup_code: Some("042917".into()),
        request: "ILL-2026-0042".into(),
        title: "Notes on the Binding of Early Codices".into(),
        journal: "Journal of Bookbinding".into(),
        name: "Ada Lovelace".into(),
        institution: "Example Library".into(),
        contact: "ill@example.org".into(),
    }
}

fn smtp(port: u16) -> Arc<Mailer> {
    smtp_tls(port, SmtpTls::None, None)
}

fn smtp_tls(port: u16, tls: SmtpTls, ca_certificate: Option<&Path>) -> Arc<Mailer> {
    let spec = SmtpSpec {
        host: "127.0.0.1".into(),
        port,
        tls,
        ca_certificate: ca_certificate.map(Path::to_owned),
        username: None,
        password: None,
        from: FROM.into(),
        timeout: Duration::from_secs(10),
    };
    Arc::new(Mailer::open(&MailerSpec::Smtp(spec)).unwrap())
}

fn quick(attempts: u32, base_ms: u64) -> RetryPolicy {
    RetryPolicy {
        attempts,
        base_delay: Duration::from_millis(base_ms),
        max_delay: Duration::from_secs(1),
    }
}

#[tokio::test]
async fn smtp_delivers_the_rendered_notice() {
    let sink = SmtpSink::start(support::free_port());
    let notice = NoticeTemplates::default().render("reader@uni.example", &fields());
    let delivered = smtp(sink.port).send(&notice, &quick(1, 10)).await.unwrap();
    assert_eq!(delivered, Delivered::Smtp);
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    // Long headers are folded onto continuation lines; unfold before looking.
    let m = &messages[0].replace("\r\n ", " ");
    // The HTML part is quoted-printable: undo its soft line breaks and `=3D` to read it.
    let decoded = messages[0].replace("=\r\n", "").replace("=3D", "=");
    for needle in [
        "X-Envelope-To: reader@uni.example",
        "To: reader@uni.example",
        "From: \"Example Library\" <ill@example.org>",
        "Subject: Your document from Example Library is ready: Notes on the Binding of Early Codices",
        "http://127.0.0.1:8080/d/q7Xb3kR9mN2pL5vT8wY1zA4cE6gH0jK",
        "until 29 December 2026, for 5 downloads.",
        "Dear Ada Lovelace,",
        "Journal of Bookbinding",
        "pickup code: 042917",
        "MIME-Version: 1.0",
        "Message-ID: <",
        "@example.org>",
        "Date: ",
        "Content-Type: multipart/alternative",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Type: text/html; charset=utf-8",
        "(ILL-2026-0042)",
        "Contact Example Library at ill@example.org",
    ] {
        assert!(m.contains(needle), "{needle:?} missing from:\n{m}");
    }
    assert!(!m.contains("download(s)"), "{m}");
    assert!(
        decoded.contains("<a href=\"http://127.0.0.1:8080/d/q7Xb3kR9mN2pL5vT8wY1zA4cE6gH0jK\">")
            && decoded.contains("<p>Dear Ada Lovelace,</p>"),
        "{decoded}"
    );
}

#[tokio::test]
async fn outbox_writes_whole_eml_files() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let mailer = Mailer::open(&MailerSpec::Outbox {
        dir: outbox.clone(),
        from: FROM.into(),
    })
    .unwrap();
    assert_eq!(mailer.outbox_dir(), Some(outbox.as_path()));
    let notice = NoticeTemplates::default().render("reader@uni.example", &fields());
    let first = mailer.send(&notice, &RetryPolicy::default()).await.unwrap();
    let second = mailer.send_once(&notice).await.unwrap();
    let (Delivered::Outbox(first), Delivered::Outbox(second)) = (first, second) else {
        panic!("not the outbox")
    };
    assert_ne!(first, second);
    let mut names: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(".eml") && !n.starts_with('.')),
        "{names:?}"
    );
    let text = std::fs::read_to_string(&first).unwrap();
    assert!(
        text.contains("Subject: Your document from Example Library"),
        "{text}"
    );
    assert!(
        text.contains("http://127.0.0.1:8080/d/q7Xb3kR9mN2pL5vT8wY1zA4cE6gH0jK"),
        "{text}"
    );
    assert!(text.contains("\r\n\r\n"), "headers and body are separated");
}

#[tokio::test]
async fn a_server_that_stays_down_is_retried_then_reported() {
    let port = support::free_port();
    let notice = NoticeTemplates::default().render("reader@uni.example", &fields());
    let started = Instant::now();
    let err = smtp(port).send(&notice, &quick(3, 100)).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.code(), "delivery.mail.send_failed");
    let text = err.to_string();
    assert!(
        text.contains("reader@uni.example") && text.contains("3 attempt(s)"),
        "{text}"
    );
    assert!(
        !text.contains("q7Xb3kR9"),
        "the link token leaked into the error: {text}"
    );
    // Waits of 100 ms and 200 ms between the three attempts, each jittered down to half.
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn a_server_that_comes_up_mid_retry_gets_the_notice_once() {
    let port = support::free_port();
    let mailer = smtp(port);
    let notice = NoticeTemplates::default().render("reader@uni.example", &fields());
    let sending = mailer.spawn(notice, quick(10, 150));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!sending.is_finished());
    let sink = SmtpSink::start(port);
    assert_eq!(sending.await.unwrap().unwrap(), Delivered::Smtp);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn a_failing_notice_does_not_hold_up_another() {
    let sink = SmtpSink::start(support::free_port());
    let dead = smtp(support::free_port());
    let live = smtp(sink.port);
    let notice = NoticeTemplates::default().render("reader@uni.example", &fields());
    let stuck = dead.spawn(notice.clone(), quick(20, 1000));
    let started = Instant::now();
    assert_eq!(
        live.spawn(notice, quick(1, 10)).await.unwrap().unwrap(),
        Delivered::Smtp
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!stuck.is_finished());
    stuck.abort();
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn permanent_rejections_are_not_retried() {
    let sink = SmtpSink::start(support::free_port());
    let notice = NoticeTemplates::default().render("reject-me@uni.example", &fields());
    let started = Instant::now();
    let err = smtp(sink.port)
        .send(&notice, &quick(5, 2000))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "delivery.mail.send_failed");
    assert!(
        err.to_string().contains("1 attempt(s)") && err.to_string().contains("permanent"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn bad_addresses_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = Mailer::open(&MailerSpec::Outbox {
        dir: dir.path().into(),
        from: "not an address".into(),
    })
    .unwrap_err();
    assert_eq!(err.code(), "delivery.mail.address");
    assert!(err.to_string().contains("not an address"));
    let mailer = Mailer::open(&MailerSpec::Outbox {
        dir: dir.path().into(),
        from: FROM.into(),
    })
    .unwrap();
    let notice = NoticeTemplates::default().render("nobody", &fields());
    let err = mailer.send_once(&notice).await.unwrap_err();
    assert_eq!(err.code(), "delivery.mail.address");
}

#[tokio::test]
async fn tls_and_starttls_deliver_to_a_server_with_a_trusted_ca() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = support::smtp::make_certificates(certs.path());
    let notice = NoticeTemplates::default().render("reader@uni.example", &fields());
    for (mode, tls) in [("starttls", SmtpTls::Starttls), ("tls", SmtpTls::Tls)] {
        let sink = SmtpSink::start_with(
            support::free_port(),
            &[mode.as_ref(), cert.as_os_str(), key.as_os_str()],
        );
        let delivered = smtp_tls(sink.port, tls, Some(&ca))
            .send(&notice, &quick(1, 10))
            .await;
        assert_eq!(delivered.unwrap(), Delivered::Smtp, "{mode}");
        let messages = sink.messages();
        assert_eq!(messages.len(), 1, "{mode}");
        assert!(
            messages[0].contains("q7Xb3kR9mN2pL5vT8wY1zA4cE6gH0jK"),
            "{mode}"
        );

        // The same server is refused when its CA is not trusted.
        let err = smtp_tls(sink.port, tls, None)
            .send(&notice, &quick(1, 10))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "delivery.mail.send_failed", "{mode}: {err}");
        assert_eq!(sink.messages().len(), 1, "{mode}");
    }
}

#[tokio::test]
async fn required_starttls_is_not_downgraded_to_plain_text() {
    let sink = SmtpSink::start(support::free_port());
    let notice = NoticeTemplates::default().render("reader@uni.example", &fields());
    let err = smtp_tls(sink.port, SmtpTls::Starttls, None)
        .send(&notice, &quick(2, 10))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "delivery.mail.send_failed", "{err}");
    assert!(sink.messages().is_empty());
}

/// A server that answers every step in time but never finishes (its greeting comes a byte at
/// a time, each within the per-step time limit): the whole exchange still ends at twice that
/// limit, as a failure worth retrying, so a sender's hold on its batch is never outlived.
#[tokio::test]
async fn a_server_that_dribbles_is_cut_off_at_the_exchange_limit() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.write_all(b"220-");
            // Never a line end: the greeting goes on for as long as the client listens.
            while stream.write_all(b"x").is_ok() {
                std::thread::sleep(Duration::from_millis(300));
            }
        }
    });
    let spec = SmtpSpec {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        ca_certificate: None,
        username: None,
        password: None,
        from: FROM.into(),
        timeout: Duration::from_secs(1),
    };
    let mailer = Mailer::open(&MailerSpec::Smtp(spec)).unwrap();
    let notice = NoticeTemplates::default().render("reader@uni.example", &fields());
    let started = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(10), mailer.send_once(&notice))
        .await
        .expect("the exchange ends by its limit")
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(!err.is_permanent(), "{err}");
    assert!(
        err.to_string()
            .contains("the SMTP exchange took longer than 2 s"),
        "{err}"
    );
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(6),
        "{elapsed:?}"
    );
}

//! The reader on the published sample messages and on hostile or broken input; the writer's
//! every answer checked against the published schema of its version by `xmllint`, an
//! independent validator (`../shared/iso18626/`, read in place, never copied).

use std::path::PathBuf;
use std::process::Command;

use quire_iso18626::write::{request_confirmation, requesting_agency_message_confirmation};
use quire_iso18626::{Action, Confirmation, ErrorType, Incoming, Kind, Version, read};

fn shared(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/iso18626")
        .join(name)
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(shared(&format!("samples/{name}"))).unwrap()
}

fn request(name: &str) -> quire_iso18626::RequestMessage {
    match read::read(&sample(name)).unwrap() {
        Incoming::Request(r) => *r,
        other => panic!("{name}: not a request: {other:?}"),
    }
}

#[test]
fn the_published_sample_request_is_read_with_its_citation_and_ids() {
    let r = request("unit_request.xml");
    assert_eq!(r.version, None, "the sample is not wrapped");
    let h = &r.header;
    assert_eq!(
        h.requesting_agency_request_id.as_deref(),
        Some("requestingAgencyRequestId1")
    );
    assert_eq!(
        h.requesting_agency.as_ref().unwrap().id_type,
        "agencyIdType2"
    );
    assert_eq!(h.account_id.as_deref(), Some("accountId1"));
    assert_eq!(h.security_code.as_deref(), Some("securityCode1"));
    assert_eq!(h.timestamp.as_deref(), Some("1900-01-01T01:01:01+0000"));
    assert_eq!(r.title.as_deref(), Some("title1"));
    assert_eq!(r.article.as_deref(), Some("titleOfComponent1"));
    assert_eq!(r.article_author.as_deref(), Some("authorOfComponent1"));
    assert_eq!(r.volume.as_deref(), Some("volume1"));
    assert_eq!(r.issue.as_deref(), Some("issue1"));
    assert_eq!(r.pages.as_deref(), Some("pagesRequested1"));
    assert_eq!(r.service_type.as_deref(), Some("Copy"));
    assert_eq!(
        r.copyright_compliance.as_deref(),
        Some("copyrightCompliance1")
    );
    assert_eq!(r.patron_surname.as_deref(), Some("surname1"));
    assert_eq!(r.publication_date.as_deref(), Some("publicationDate1"));
    // The sample's addresses are of made-up types, none of them e-mail.
    assert_eq!(r.email, None);
}

#[test]
fn a_wrapped_request_without_multiple_item_id_and_with_prefixed_version_is_read() {
    let r = request("protocol_tests_case1_request.xml");
    assert_eq!(r.version.as_deref(), Some("1.0"));
    assert_eq!(
        r.header.requesting_agency_request_id.as_deref(),
        Some("49837539")
    );
    assert_eq!(r.header.multiple_item_request_id, None);
    assert_eq!(r.service_type.as_deref(), Some("Loan"));
    assert_eq!(
        r.header
            .requesting_agency
            .as_ref()
            .map(|a| a.value.as_str()),
        Some("MILL")
    );
}

#[test]
fn issn_isbn_and_an_email_address_are_found_by_their_codes() {
    let xml = r#"<ISO18626Message xmlns="http://illtransactions.org/2013/iso18626" version="2021"><request>
      <header><requestingAgencyId><agencyIdType>ISIL</agencyIdType><agencyIdValue>US-ABC</agencyIdValue></requestingAgencyId>
      <timestamp>2026-11-30T09:00:00Z</timestamp><requestingAgencyRequestId>R-1</requestingAgencyRequestId></header>
      <bibliographicInfo><title>Journal of Tests &amp; Trials</title>
        <bibliographicItemId><bibliographicItemIdentifier>0378-5955</bibliographicItemIdentifier><bibliographicItemIdentifierCode>issn</bibliographicItemIdentifierCode></bibliographicItemId>
        <bibliographicItemId><bibliographicItemIdentifier>9780000000002</bibliographicItemIdentifier><bibliographicItemIdentifierCode>ISBN</bibliographicItemIdentifierCode></bibliographicItemId>
      </bibliographicInfo>
      <serviceInfo><serviceType>Copy</serviceType><copyrightCompliance>US-CCG</copyrightCompliance></serviceInfo>
      <requestedDeliveryInfo><address><electronicAddress><electronicAddressType>Email</electronicAddressType><electronicAddressData>reader@uni.example</electronicAddressData></electronicAddress></address></requestedDeliveryInfo>
    </request></ISO18626Message>"#;
    let Incoming::Request(r) = read::read(xml.as_bytes()).unwrap() else {
        panic!("not a request")
    };
    assert_eq!(r.version.as_deref(), Some("2021"));
    assert_eq!(r.title.as_deref(), Some("Journal of Tests & Trials"));
    assert_eq!(r.issn.as_deref(), Some("0378-5955"));
    assert_eq!(r.isbn.as_deref(), Some("9780000000002"));
    assert_eq!(r.email.as_deref(), Some("reader@uni.example"));
    assert_eq!(r.copyright_compliance.as_deref(), Some("US-CCG"));
}

#[test]
fn the_published_sample_agency_message_is_read() {
    match read::read(&sample("unit_requestingAgencyMessage.xml")).unwrap() {
        Incoming::RequestingAgencyMessage(m) => {
            assert_eq!(m.action, Action::StatusRequest);
            assert_eq!(m.note.as_deref(), Some("note1"));
        }
        other => panic!("{other:?}"),
    }
}

fn refused(xml: &str) -> quire_iso18626::Refusal {
    read::read(xml.as_bytes()).unwrap_err()
}

const NS: &str = "http://illtransactions.org/2013/iso18626";

#[test]
fn entities_doctypes_and_broken_documents_are_refused_as_badly_formed() {
    let xxe = format!(
        r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><request xmlns="{NS}"><header>&x;</header></request>"#
    );
    let laughs = format!(
        r#"<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><request xmlns="{NS}">&b;</request>"#
    );
    let undefined = format!(r#"<request xmlns="{NS}"><header>&secret;</header></request>"#);
    let truncated = format!(r#"<request xmlns="{NS}"><header><timestamp>2026"#);
    let deep = format!("<request xmlns=\"{NS}\">{}", "<a>".repeat(100));
    for (what, xml) in [
        ("external entity", xxe.as_str()),
        ("entity expansion", laughs.as_str()),
        ("undefined entity", undefined.as_str()),
        ("truncated", truncated.as_str()),
        ("too deep", deep.as_str()),
        ("empty", ""),
        ("not XML", "hello"),
    ] {
        let r = refused(xml);
        assert_eq!(r.error, ErrorType::BadlyFormedMessage, "{what}: {r}");
        assert!(
            !r.reason.contains("root:"),
            "{what}: the file's content leaked: {r}"
        );
    }
    let r = read::read(b"<request xmlns=\"x\">\xff</request>").unwrap_err();
    assert_eq!(r.error, ErrorType::BadlyFormedMessage, "{r}");
}

/// Characters XML forbids, raw or as references, and a declared encoding other than the
/// UTF-8 the bytes were read as, are badly formed.
#[test]
fn forbidden_characters_and_other_encodings_are_refused() {
    let good = String::from_utf8(sample("unit_request.xml")).unwrap();
    assert!(read::read(good.as_bytes()).is_ok());
    let title = "<title>";
    for bad in [
        good.replacen(title, "<title>\u{0}", 1),
        good.replacen(title, "<title>\u{1b}", 1),
        good.replacen(title, "<title>&#0;", 1),
        good.replacen(title, "<title>&#xFFFE;", 1),
        format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?>{good}").replacen(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
            "",
            1,
        ),
        format!("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>{good}").replacen(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
            "",
            1,
        ),
    ] {
        let refusal = read::read(bad.as_bytes()).unwrap_err();
        assert_eq!(refusal.error, ErrorType::BadlyFormedMessage, "{refusal}");
    }
}

#[test]
fn wrong_namespace_unknown_messages_and_actions_and_missing_ids_are_named() {
    let r = refused(r#"<request xmlns="urn:other"><header/></request>"#);
    assert_eq!(r.error, ErrorType::UnrecognisedDataElement, "{r}");
    let r = refused(&format!(r#"<supplyingAgencyMessage xmlns="{NS}"/>"#));
    assert_eq!(r.error, ErrorType::UnrecognisedDataElement, "{r}");
    let header = "<header><requestingAgencyId><agencyIdType>ISIL</agencyIdType><agencyIdValue>US-ABC</agencyIdValue></requestingAgencyId><timestamp>2026-11-30T09:00:00+0000</timestamp><requestingAgencyRequestId>R-9</requestingAgencyRequestId></header>";
    let r = refused(&format!(
        r#"<requestingAgencyMessage xmlns="{NS}">{header}<action>Teleport</action></requestingAgencyMessage>"#
    ));
    assert_eq!(r.error, ErrorType::UnsupportedActionType, "{r}");
    assert_eq!(r.kind, Some(Kind::RequestingAgencyMessage));
    assert_eq!(
        r.header.unwrap().requesting_agency_request_id.as_deref(),
        Some("R-9"),
        "the refusal keeps the ids for its answer"
    );
    let r = refused(&format!(
        r#"<request xmlns="{NS}"><header><timestamp>2026-11-30T09:00:00Z</timestamp></header><bibliographicInfo/></request>"#
    ));
    assert_eq!(r.error, ErrorType::BadlyFormedMessage, "{r}");
    assert!(
        r.reason.contains("requestingAgencyId") && r.reason.contains("requestingAgencyRequestId"),
        "{r}"
    );
    let r = refused(&format!(
        r#"<request xmlns="{NS}">{}</request>"#,
        header.replace("2026-11-30T09:00:00+0000", "yesterday")
    ));
    assert_eq!(r.error, ErrorType::UnrecognisedDataValue, "{r}");
}

#[test]
fn timestamps_are_read_with_or_without_a_colon_in_the_offset() {
    use quire_iso18626::read::parse_time;
    let a = parse_time("2026-11-30T09:00:00+0100").unwrap();
    let b = parse_time("2026-11-30T08:00:00Z").unwrap();
    let c = parse_time("2026-11-30T09:00:00.0+01:00").unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert!(parse_time("2026-11-30T08:00:00").is_some());
    assert!(parse_time("30/11/2026").is_none());
}

/// What xmllint says of `xml` against the schema of `version`: `Err` with its complaint.
fn xmllint(version: Version, xml: &str) -> Result<(), String> {
    let schema = shared(match version {
        Version::V1_2 => "ISO-18626-v1_2.xsd",
        Version::V2021 => "ISO-18626-2021-2.xsd",
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("message.xml");
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
        .expect("xmllint (libxml2-utils, installed by scripts/bootstrap)");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn validate(version: Version, xml: &str) {
    if let Err(e) = xmllint(version, xml) {
        panic!("not valid {version:?}:\n{xml}\n{e}");
    }
}

#[test]
fn every_confirmation_validates_against_its_version_schema() {
    let sample_request = request("unit_request.xml");
    let now = time::OffsetDateTime::now_utc();
    let errors = [
        None,
        Some((
            ErrorType::UnrecognisedDataValue,
            "agency `US-XYZ` is not a peer <&>".to_string(),
        )),
    ];
    for version in [Version::V1_2, Version::V2021] {
        for error in &errors {
            for header in [Some(&sample_request.header), None] {
                let c = Confirmation {
                    header,
                    received: now,
                    now,
                    error: error.clone(),
                };
                let xml = request_confirmation(version, &c);
                validate(version, &xml);
                assert!(
                    xml.contains(if error.is_some() { ">ERROR<" } else { ">OK<" }),
                    "{xml}"
                );
                for action in [Some(Action::Cancel), None] {
                    validate(
                        version,
                        &requesting_agency_message_confirmation(version, &c, action),
                    );
                }
            }
        }
    }
    // The validator is not a rubber stamp: a confirmation without its header is refused.
    let broken = request_confirmation(
        Version::V1_2,
        &Confirmation {
            header: None,
            received: now,
            now,
            error: None,
        },
    )
    .replace("<messageStatus>OK</messageStatus>", "");
    assert!(
        xmllint(Version::V1_2, &broken).is_err(),
        "xmllint took a confirmation with no messageStatus"
    );
}

#[test]
fn every_status_message_validates_and_says_what_its_version_and_style_need() {
    use quire_iso18626::write::supplying_agency_message;
    use quire_iso18626::write::{Reason, Sent, Status, StatusMessage, StatusStyle};
    let us = quire_iso18626::AgencyId {
        id_type: "ISIL".into(),
        value: "US-XYZ".into(),
    };
    let them = quire_iso18626::AgencyId {
        id_type: "ISIL".into(),
        value: "US-ABC".into(),
    };
    let now = time::OffsetDateTime::now_utc();
    let url = "https://ill.example.org/d/abc&def";
    let base = StatusMessage {
        supplying_agency: &us,
        requesting_agency: &them,
        requesting_agency_request_id: "R-1",
        supplying_agency_request_id: Some("ILL-7"),
        multiple_item_request_id: None,
        reason: Reason::RequestResponse,
        status: Status::ExpectToSupply,
        answer: None,
        note: None,
        reason_unfilled: None,
        now,
        last_change: now,
        sent: None,
    };
    let cases = [
        StatusMessage { ..base.clone() },
        StatusMessage {
            status: Status::WillSupply,
            reason: Reason::StatusChange,
            note: Some("held for copyright review"),
            ..base.clone()
        },
        StatusMessage {
            status: Status::Unfilled,
            reason: Reason::RequestResponse,
            reason_unfilled: Some("NotAvailableForILL"),
            note: Some("Quire supplies copies only, not loans"),
            ..base.clone()
        },
        StatusMessage {
            status: Status::Cancelled,
            reason: Reason::CancelResponse,
            answer: Some(true),
            ..base.clone()
        },
        StatusMessage {
            status: Status::CopyCompleted,
            reason: Reason::CancelResponse,
            answer: Some(false),
            ..base.clone()
        },
        StatusMessage {
            status: Status::CopyCompleted,
            reason: Reason::StatusChange,
            note: Some("12 pages"),
            sent: Some(Sent { at: now, url }),
            multiple_item_request_id: Some("M-1"),
            ..base.clone()
        },
    ];
    for version in [Version::V1_2, Version::V2021] {
        for style in [StatusStyle::Standard, StatusStyle::Alma] {
            for m in &cases {
                let xml = supplying_agency_message(version, style, m);
                validate(version, &xml);
                let expected_status = match (style, m.status) {
                    (StatusStyle::Alma, Status::ExpectToSupply) => "WillSupply",
                    (_, s) => s.as_str(),
                };
                assert!(
                    xml.contains(&format!("<status>{expected_status}</status>")),
                    "{version:?} {style:?}: {xml}"
                );
            }
            let delivered = supplying_agency_message(version, style, &cases[5]);
            let escaped = "https://ill.example.org/d/abc&amp;def";
            match version {
                Version::V1_2 => assert!(
                    delivered.contains(&format!("<itemId>{escaped}</itemId>"))
                        && delivered.contains("<sentVia>URL</sentVia>")
                        && delivered.contains("<deliveredFormat>PDF</deliveredFormat>"),
                    "{delivered}"
                ),
                Version::V2021 => assert!(
                    delivered.contains(&format!("<URL>{escaped}</URL>"))
                        && delivered.contains("<itemFormat>PDF</itemFormat>"),
                    "{delivered}"
                ),
            }
            let alma_note = delivered.contains(&format!("<note>{escaped} 12 pages</note>"));
            assert_eq!(alma_note, style == StatusStyle::Alma, "{delivered}");
        }
    }
}

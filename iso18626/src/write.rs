//! Writing Quire's answers strictly: the element order and the optional elements of exactly the
//! peer's version, so each answer validates against that version's schema (tests check with
//! `xmllint`, an independent validator).

use std::fmt::Write;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::read::{Action, AgencyId, Header};
use crate::{ErrorType, NAMESPACE};

/// The version of the standard a peer speaks; Quire writes exactly that one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// ISO 18626:2017, schema version 1.2 (most systems today, Alma included).
    V1_2,
    /// ISO 18626:2021 (schema 2021-2).
    V2021,
}

impl Version {
    /// The `version` attribute written on `ISO18626Message`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_2 => "1.2",
            Version::V2021 => "2021",
        }
    }
}

impl std::str::FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "1.2" => Ok(Version::V1_2),
            "2021" => Ok(Version::V2021),
            other => Err(format!(
                "ISO 18626 version `{other}`: use \"1.2\" or \"2021\""
            )),
        }
    }
}

/// What a confirmation says: it echoes the ids of the message it confirms, and is OK or an
/// error.
#[derive(Debug, Clone)]
pub struct Confirmation<'a> {
    /// The header of the message confirmed, as far as it could be read.
    pub header: Option<&'a Header>,
    /// When the message confirmed arrived.
    pub received: OffsetDateTime,
    /// When this confirmation is written.
    pub now: OffsetDateTime,
    /// `None`: `messageStatus` OK.
    pub error: Option<(ErrorType, String)>,
}

/// `requestConfirmation`, the answer to a `request`.
pub fn request_confirmation(version: Version, c: &Confirmation) -> String {
    message(version, "requestConfirmation", |out| {
        confirmation_header(out, version, c);
        error_data(out, c);
    })
}

/// `requestingAgencyMessageConfirmation`, the answer to a `requestingAgencyMessage`; `action`
/// echoes the action confirmed.
pub fn requesting_agency_message_confirmation(
    version: Version,
    c: &Confirmation,
    action: Option<Action>,
) -> String {
    message(version, "requestingAgencyMessageConfirmation", |out| {
        confirmation_header(out, version, c);
        if let Some(a) = action {
            leaf(out, "action", a.as_str());
        }
        error_data(out, c);
    })
}

fn message(version: Version, name: &str, body: impl FnOnce(&mut String)) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // Attributes are namespace-qualified in both schemas (`attributeFormDefault`), hence the
    // `ill:` prefix on `version`.
    let _ = write!(
        out,
        "<ISO18626Message xmlns=\"{NAMESPACE}\" xmlns:ill=\"{NAMESPACE}\" ill:version=\"{}\"><{name}>",
        version.as_str()
    );
    body(&mut out);
    let _ = writeln!(out, "</{name}></ISO18626Message>");
    out
}

fn confirmation_header(out: &mut String, version: Version, c: &Confirmation) {
    out.push_str("<confirmationHeader>");
    let h = c.header;
    if let Some(a) = h.and_then(|h| h.supplying_agency.as_ref()) {
        agency(out, "supplyingAgencyId", a);
    }
    if let Some(a) = h.and_then(|h| h.requesting_agency.as_ref()) {
        agency(out, "requestingAgencyId", a);
    }
    leaf(out, "timestamp", &datetime(c.now));
    if let Some(id) = h.and_then(|h| h.requesting_agency_request_id.as_deref()) {
        leaf(out, "requestingAgencyRequestId", id);
    }
    // 1.2 only: 2021 dropped it from the confirmation header.
    if version == Version::V1_2
        && let Some(id) = h.and_then(|h| h.multiple_item_request_id.as_deref())
    {
        leaf(out, "multipleItemRequestId", id);
    }
    leaf(out, "timestampReceived", &datetime(c.received));
    leaf(
        out,
        "messageStatus",
        if c.error.is_some() { "ERROR" } else { "OK" },
    );
    out.push_str("</confirmationHeader>");
}

fn error_data(out: &mut String, c: &Confirmation) {
    if let Some((error, value)) = &c.error {
        out.push_str("<errorData>");
        leaf(out, "errorType", error.as_str());
        leaf(out, "errorValue", value);
        out.push_str("</errorData>");
    }
}

fn agency(out: &mut String, name: &str, a: &AgencyId) {
    let _ = write!(out, "<{name}>");
    leaf(out, "agencyIdType", &a.id_type);
    leaf(out, "agencyIdValue", &a.value);
    let _ = write!(out, "</{name}>");
}

fn leaf(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>{}</{name}>", quick_xml::escape::escape(text));
}

/// `xs:dateTime` in UTC.
fn datetime(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

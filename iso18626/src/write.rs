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

/// The supplier's statuses Quire sends (`type_status`): the ones a copy request passes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    RequestReceived,
    ExpectToSupply,
    WillSupply,
    Unfilled,
    CopyCompleted,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::RequestReceived => "RequestReceived",
            Status::ExpectToSupply => "ExpectToSupply",
            Status::WillSupply => "WillSupply",
            Status::Unfilled => "Unfilled",
            Status::CopyCompleted => "CopyCompleted",
            Status::Cancelled => "Cancelled",
        }
    }
}

/// Why a supplying-agency message is sent (`type_reasonForMessage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    RequestResponse,
    StatusRequestResponse,
    CancelResponse,
    StatusChange,
    Notification,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::RequestResponse => "RequestResponse",
            Reason::StatusRequestResponse => "StatusRequestResponse",
            Reason::CancelResponse => "CancelResponse",
            Reason::StatusChange => "StatusChange",
            Reason::Notification => "Notification",
        }
    }
}

/// How a peer wants statuses: as the standard says, or as Alma reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusStyle {
    Standard,
    /// Alma's known deviations, and only these:
    /// - `WillSupply` where the standard says `ExpectToSupply` (Alma moves its request on
    ///   `WillSupply` only);
    /// - with `CopyCompleted`, the download URL also at the start of `messageInfo/note`, where
    ///   Alma shows it to staff.
    Alma,
}

/// The copy, once sent: when, and the link to it.
#[derive(Debug, Clone, Copy)]
pub struct Sent<'a> {
    pub at: OffsetDateTime,
    pub url: &'a str,
}

/// A `supplyingAgencyMessage`: a status of one request, sent to its requester.
#[derive(Debug, Clone)]
pub struct StatusMessage<'a> {
    pub supplying_agency: &'a AgencyId,
    pub requesting_agency: &'a AgencyId,
    pub requesting_agency_request_id: &'a str,
    /// Quire's own request id.
    pub supplying_agency_request_id: Option<&'a str>,
    pub multiple_item_request_id: Option<&'a str>,
    pub reason: Reason,
    pub status: Status,
    /// `answerYesNo`: the answer to a cancel request.
    pub answer: Option<bool>,
    pub note: Option<&'a str>,
    /// With `Unfilled`: a `type_reasonUnfilled` value, e.g. `NotAvailableForILL`.
    pub reason_unfilled: Option<&'a str>,
    pub now: OffsetDateTime,
    /// When the request's status last changed.
    pub last_change: OffsetDateTime,
    /// With `CopyCompleted`: the copy.
    pub sent: Option<Sent<'a>>,
}

/// `supplyingAgencyMessage` in the peer's version and style.
pub fn supplying_agency_message(version: Version, style: StatusStyle, m: &StatusMessage) -> String {
    let status = match (style, m.status) {
        (StatusStyle::Alma, Status::ExpectToSupply) => Status::WillSupply,
        (_, s) => s,
    };
    let note = match (style, m.sent, m.note) {
        (StatusStyle::Alma, Some(sent), Some(note)) => Some(format!("{} {note}", sent.url)),
        (StatusStyle::Alma, Some(sent), None) => Some(sent.url.to_string()),
        (_, _, note) => note.map(str::to_string),
    };
    message(version, "supplyingAgencyMessage", |out| {
        out.push_str("<header>");
        agency(out, "supplyingAgencyId", m.supplying_agency);
        agency(out, "requestingAgencyId", m.requesting_agency);
        // Required in 1.2 (empty when the request had none); gone from 2021's header.
        if version == Version::V1_2 {
            leaf(
                out,
                "multipleItemRequestId",
                m.multiple_item_request_id.unwrap_or(""),
            );
        }
        leaf(out, "timestamp", &datetime(m.now));
        leaf(
            out,
            "requestingAgencyRequestId",
            m.requesting_agency_request_id,
        );
        if let Some(id) = m.supplying_agency_request_id {
            leaf(out, "supplyingAgencyRequestId", id);
        }
        out.push_str("</header><messageInfo>");
        leaf(out, "reasonForMessage", m.reason.as_str());
        if let Some(yes) = m.answer {
            leaf(out, "answerYesNo", if yes { "Y" } else { "N" });
        }
        if let Some(note) = &note {
            leaf(out, "note", note);
        }
        if let Some(reason) = m.reason_unfilled {
            leaf(out, "reasonUnfilled", reason);
        }
        out.push_str("</messageInfo><statusInfo>");
        leaf(out, "status", status.as_str());
        leaf(out, "lastChange", &datetime(m.last_change));
        out.push_str("</statusInfo>");
        if let Some(sent) = m.sent {
            out.push_str("<deliveryInfo>");
            leaf(out, "dateSent", &datetime(sent.at));
            match version {
                // 1.2 has no URL element: the link is the item id, sent via `URL`.
                Version::V1_2 => {
                    leaf(out, "itemId", sent.url);
                    leaf(out, "sentVia", "URL");
                    leaf(out, "deliveredFormat", "PDF");
                }
                Version::V2021 => {
                    leaf(out, "URL", sent.url);
                    leaf(out, "deliveryMethod", "URL");
                    leaf(out, "itemFormat", "PDF");
                }
            }
            out.push_str("</deliveryInfo>");
        }
    })
}

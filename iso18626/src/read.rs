//! Reading what a requesting library's system sends, tolerantly (see the crate's doc).

use crate::ErrorType;
use crate::tree::{self, Element};

/// An agency (library) as ISO 18626 names it: a type such as `ISIL` and a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyId {
    pub id_type: String,
    pub value: String,
}

/// The header of a request or requesting-agency message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub supplying_agency: Option<AgencyId>,
    pub requesting_agency: Option<AgencyId>,
    pub multiple_item_request_id: Option<String>,
    /// As sent: real systems send `+0000` offsets, which are not valid `xs:dateTime`.
    pub timestamp: Option<String>,
    pub requesting_agency_request_id: Option<String>,
    pub supplying_agency_request_id: Option<String>,
    pub account_id: Option<String>,
    pub security_code: Option<String>,
}

/// A request for an item, with what Quire can use of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMessage {
    /// The `version` attribute of `ISO18626Message`, if the message was wrapped.
    pub version: Option<String>,
    pub header: Header,
    /// The journal or book.
    pub title: Option<String>,
    pub author: Option<String>,
    /// The article or chapter (`titleOfComponent`) and its author.
    pub article: Option<String>,
    pub article_author: Option<String>,
    pub volume: Option<String>,
    pub issue: Option<String>,
    pub pages: Option<String>,
    pub issn: Option<String>,
    pub isbn: Option<String>,
    pub publisher: Option<String>,
    pub publication_date: Option<String>,
    /// `Copy`, `Loan` or `CopyOrLoan`.
    pub service_type: Option<String>,
    /// E.g. `US-CCG`, `US-CCL`.
    pub copyright_compliance: Option<String>,
    /// The first e-mail address among the requested delivery addresses.
    pub email: Option<String>,
    pub patron_id: Option<String>,
    pub patron_surname: Option<String>,
    pub patron_given_name: Option<String>,
    pub note: Option<String>,
}

/// What a requesting agency asks of a request already made (`type_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    StatusRequest,
    Received,
    Cancel,
    Renew,
    ShippedReturn,
    ShippedForward,
    Notification,
    HoldReturn,
    Lost,
}

impl Action {
    pub const ALL: [Action; 9] = [
        Action::StatusRequest,
        Action::Received,
        Action::Cancel,
        Action::Renew,
        Action::ShippedReturn,
        Action::ShippedForward,
        Action::Notification,
        Action::HoldReturn,
        Action::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::StatusRequest => "StatusRequest",
            Action::Received => "Received",
            Action::Cancel => "Cancel",
            Action::Renew => "Renew",
            Action::ShippedReturn => "ShippedReturn",
            Action::ShippedForward => "ShippedForward",
            Action::Notification => "Notification",
            Action::HoldReturn => "HoldReturn",
            Action::Lost => "Lost",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestingAgencyMessage {
    pub version: Option<String>,
    pub header: Header,
    pub action: Action,
    pub note: Option<String>,
}

/// A message a supplier takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Request(Box<RequestMessage>),
    RequestingAgencyMessage(Box<RequestingAgencyMessage>),
}

/// Which confirmation a refusal is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    RequestingAgencyMessage,
}

/// A message refused, with what the confirmation needs: the standard's error type, a readable
/// reason, and as much of the header as could be read, so the answer can name the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason}", error.as_str())]
pub struct Refusal {
    pub error: ErrorType,
    pub reason: String,
    pub kind: Option<Kind>,
    /// Boxed: a refusal travels in `Result`s, and most have no header.
    pub header: Option<Box<Header>>,
}

impl From<tree::Malformed> for Refusal {
    fn from(m: tree::Malformed) -> Self {
        Refusal {
            error: m.error,
            reason: m.reason,
            kind: None,
            header: None,
        }
    }
}

/// Reads one message.
pub fn read(xml: &[u8]) -> Result<Incoming, Refusal> {
    let root = tree::parse(xml)?;
    let (version, message) = if root.name == "ISO18626Message" {
        let version = root.attr("version").map(str::to_string);
        let mut inner = root.children.into_iter();
        match (inner.next(), inner.next()) {
            (Some(m), None) => (version, m),
            _ => {
                return Err(Refusal {
                    error: ErrorType::BadlyFormedMessage,
                    reason: "ISO18626Message must hold exactly one message".into(),
                    kind: None,
                    header: None,
                });
            }
        }
    } else {
        (None, root)
    };
    match message.name.as_str() {
        "request" => read_request(version, &message).map(|r| Incoming::Request(Box::new(r))),
        "requestingAgencyMessage" => read_agency_message(version, &message)
            .map(|m| Incoming::RequestingAgencyMessage(Box::new(m))),
        other => Err(Refusal {
            error: ErrorType::UnrecognisedDataElement,
            reason: format!(
                "`{other}` is not a message a supplying library takes (request or requestingAgencyMessage)"
            ),
            kind: None,
            header: None,
        }),
    }
}

/// What a peer answered to a message Quire sent: `messageStatus` OK, or its error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// `messageStatus` ERROR with `errorType` and `errorValue`.
    Error(String, String),
}

/// Reads the confirmation a peer answers a `supplyingAgencyMessage` with
/// (`supplyingAgencyMessageConfirmation`, wrapped or bare). A body that is no such thing is a
/// [`Refusal`] saying why.
pub fn confirmation(xml: &[u8]) -> Result<Answer, Refusal> {
    let root = tree::parse(xml)?;
    let message = if root.name == "ISO18626Message" {
        root.children.into_iter().next().ok_or_else(|| Refusal {
            error: ErrorType::BadlyFormedMessage,
            reason: "ISO18626Message is empty".into(),
            kind: None,
            header: None,
        })?
    } else {
        root
    };
    let status = message
        .child("confirmationHeader")
        .and_then(|h| h.text_of("messageStatus"));
    match (message.name.as_str(), status.as_deref().map(str::trim)) {
        ("supplyingAgencyMessageConfirmation", Some("OK")) => Ok(Answer::Ok),
        ("supplyingAgencyMessageConfirmation", Some("ERROR")) => {
            let data = message.child("errorData");
            Ok(Answer::Error(
                data.and_then(|d| d.text_of("errorType"))
                    .unwrap_or_default(),
                data.and_then(|d| d.text_of("errorValue"))
                    .unwrap_or_default(),
            ))
        }
        (name, status) => Err(Refusal {
            error: ErrorType::UnrecognisedDataElement,
            reason: format!(
                "expected a supplyingAgencyMessageConfirmation with a messageStatus, got `{name}` ({status:?})"
            ),
            kind: None,
            header: None,
        }),
    }
}

fn read_header(message: &Element, kind: Kind) -> Result<Header, Refusal> {
    let Some(h) = message.child("header") else {
        return Err(Refusal {
            error: ErrorType::BadlyFormedMessage,
            reason: format!("`{}` has no header", message.name),
            kind: Some(kind),
            header: None,
        });
    };
    let agency = |name: &str| {
        h.child(name).map(|a| AgencyId {
            id_type: a.text_of("agencyIdType").unwrap_or_default(),
            value: a.text_of("agencyIdValue").unwrap_or_default(),
        })
    };
    let auth = h.child("requestingAgencyAuthentication");
    let header = Header {
        supplying_agency: agency("supplyingAgencyId"),
        requesting_agency: agency("requestingAgencyId"),
        multiple_item_request_id: h.text_of("multipleItemRequestId"),
        timestamp: h.text_of("timestamp"),
        requesting_agency_request_id: h.text_of("requestingAgencyRequestId"),
        supplying_agency_request_id: h.text_of("supplyingAgencyRequestId"),
        account_id: auth.and_then(|a| a.text_of("accountId")),
        security_code: auth.and_then(|a| a.text_of("securityCode")),
    };
    let missing = [
        ("requestingAgencyId", header.requesting_agency.is_none()),
        ("timestamp", header.timestamp.is_none()),
        (
            "requestingAgencyRequestId",
            header.requesting_agency_request_id.is_none(),
        ),
    ]
    .into_iter()
    .filter(|(_, m)| *m)
    .map(|(n, _)| n)
    .collect::<Vec<_>>();
    if !missing.is_empty() {
        return Err(Refusal {
            error: ErrorType::BadlyFormedMessage,
            reason: format!("the header lacks {}", missing.join(", ")),
            kind: Some(kind),
            header: Some(Box::new(header)),
        });
    }
    if let Some(t) = &header.timestamp
        && parse_time(t).is_none()
    {
        return Err(Refusal {
            error: ErrorType::UnrecognisedDataValue,
            reason: format!("timestamp `{t}` is not a date and time"),
            kind: Some(kind),
            header: Some(Box::new(header)),
        });
    }
    Ok(header)
}

fn read_request(version: Option<String>, m: &Element) -> Result<RequestMessage, Refusal> {
    let header = read_header(m, Kind::Request)?;
    let Some(biblio) = m.child("bibliographicInfo") else {
        return Err(Refusal {
            error: ErrorType::BadlyFormedMessage,
            reason: "the request has no bibliographicInfo".into(),
            kind: Some(Kind::Request),
            header: Some(Box::new(header)),
        });
    };
    let item_id = |code: &str| {
        biblio
            .children("bibliographicItemId")
            .find(|i| {
                i.text_of("bibliographicItemIdentifierCode")
                    .is_some_and(|c| c.eq_ignore_ascii_case(code))
            })
            .and_then(|i| i.text_of("bibliographicItemIdentifier"))
    };
    let publication = m.child("publicationInfo");
    let service = m.child("serviceInfo");
    let email = m
        .children("requestedDeliveryInfo")
        .filter_map(|d| d.child("address")?.child("electronicAddress"))
        .find(|a| {
            a.text_of("electronicAddressType")
                .is_some_and(|t| t.eq_ignore_ascii_case("email"))
        })
        .and_then(|a| a.text_of("electronicAddressData"));
    let patron = m.child("patronInfo");
    Ok(RequestMessage {
        version,
        title: biblio.text_of("title"),
        author: biblio.text_of("author"),
        article: biblio.text_of("titleOfComponent"),
        article_author: biblio.text_of("authorOfComponent"),
        volume: biblio.text_of("volume"),
        issue: biblio.text_of("issue"),
        pages: biblio.text_of("pagesRequested"),
        issn: item_id("ISSN"),
        isbn: item_id("ISBN"),
        publisher: publication.and_then(|p| p.text_of("publisher")),
        publication_date: publication.and_then(|p| p.text_of("publicationDate")),
        service_type: service.and_then(|s| s.text_of("serviceType")),
        copyright_compliance: service.and_then(|s| s.text_of("copyrightCompliance")),
        note: service.and_then(|s| s.text_of("note")),
        email,
        patron_id: patron.and_then(|p| p.text_of("patronId")),
        patron_surname: patron.and_then(|p| p.text_of("surname")),
        patron_given_name: patron.and_then(|p| p.text_of("givenName")),
        header,
    })
}

fn read_agency_message(
    version: Option<String>,
    m: &Element,
) -> Result<RequestingAgencyMessage, Refusal> {
    let header = read_header(m, Kind::RequestingAgencyMessage)?;
    let refuse = |error, reason: String| Refusal {
        error,
        reason,
        kind: Some(Kind::RequestingAgencyMessage),
        header: Some(Box::new(header.clone())),
    };
    let Some(text) = m.text_of("action") else {
        return Err(refuse(
            ErrorType::BadlyFormedMessage,
            "the message has no action".into(),
        ));
    };
    let Some(action) = Action::ALL.into_iter().find(|a| a.as_str() == text) else {
        return Err(refuse(
            ErrorType::UnsupportedActionType,
            format!("action `{text}` is not one ISO 18626 defines"),
        ));
    };
    Ok(RequestingAgencyMessage {
        version,
        action,
        note: m.text_of("note"),
        header,
    })
}

/// A timestamp as real systems send it: RFC 3339, or with a `+0000`-style offset, or with no
/// offset at all (taken as UTC).
pub fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    // `+0000` / `-0500`: put the colon in.
    let bytes = s.as_bytes();
    if bytes.len() > 5 {
        let (head, tail) = s.split_at(s.len() - 5);
        if (tail.starts_with('+') || tail.starts_with('-'))
            && tail[1..].bytes().all(|b| b.is_ascii_digit())
        {
            let fixed = format!("{head}{}:{}", &tail[..3], &tail[3..]);
            if let Ok(t) = time::OffsetDateTime::parse(&fixed, &Rfc3339) {
                return Some(t);
            }
        }
    }
    time::OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339).ok()
}

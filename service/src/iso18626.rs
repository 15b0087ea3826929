//! ISO 18626, Quire as the supplying library: taking a peer's `request` and
//! `requestingAgencyMessage` (cancel, status request, notifications), answering each with its
//! confirmation, and writing the status messages the requester is told as its request moves.
//!
//! Every message is answered with XML, never a bare error: an unknown agency, wrong
//! credentials or a message Quire cannot take is an `ERROR` confirmation with the standard's
//! error type, audited, and creates nothing. Messages in and out are kept with their request.
//!
//! Not here: HTTP (the web crate's endpoint calls [`receive`]), and sending the queued status
//! messages (the daemon's outbox sender).

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use quire_config::iso18626::{Iso18626Config, Peer, PeerStyle, PeerVersion};
use quire_domain::ill::peer_key;
use quire_domain::{Action, Basis, Request};
use quire_iso18626::write::{self, Confirmation, Reason, Sent, Status, StatusMessage, StatusStyle};
use quire_iso18626::{AgencyId, ErrorType, Header, Incoming, Kind, Refusal, RequestMessage};
use quire_state::{
    Database, Direction, IllStatus, IllTransaction, NewEvent, NewIllMessage, StateError,
};

/// What the requester said about copyright, as Quire's basis. `None`: a value Quire does not
/// know (another country's, or none), which leaves the request for a person to set.
pub fn basis_of(copyright_compliance: Option<&str>) -> Option<Basis> {
    match copyright_compliance.map(|c| c.trim().to_ascii_uppercase()) {
        Some(c) if c == "US-CCG" => Some(Basis::Ccg),
        Some(c) if c == "US-CCL" => Some(Basis::Ccl),
        _ => None,
    }
}

fn version_of(peer: &Peer) -> write::Version {
    match peer.version {
        PeerVersion::V1_2 => write::Version::V1_2,
        PeerVersion::V2021 => write::Version::V2021,
    }
}

fn style_of(peer: &Peer) -> StatusStyle {
    match peer.status_style {
        PeerStyle::Standard => StatusStyle::Standard,
        PeerStyle::Alma => StatusStyle::Alma,
    }
}

fn wire_status(s: IllStatus) -> Status {
    match s {
        IllStatus::ExpectToSupply => Status::ExpectToSupply,
        IllStatus::WillSupply => Status::WillSupply,
        IllStatus::CopyCompleted => Status::CopyCompleted,
        IllStatus::Unfilled => Status::Unfilled,
        IllStatus::Cancelled => Status::Cancelled,
    }
}

/// A status message about `t` for its peer, in the peer's version and style.
pub struct StatusNote<'a> {
    pub status: IllStatus,
    pub reason: Reason,
    pub note: Option<&'a str>,
    pub answer: Option<bool>,
    pub reason_unfilled: Option<&'a str>,
    pub sent: Option<Sent<'a>>,
}

/// The `supplyingAgencyMessage` that tells the peer of `t` about `n`.
pub fn status_message(
    config: &Iso18626Config,
    peer: &Peer,
    t: &IllTransaction,
    n: &StatusNote<'_>,
) -> String {
    let now = OffsetDateTime::now_utc();
    let ours = AgencyId {
        id_type: config.agency_id_type.clone(),
        value: config.agency_id.clone(),
    };
    let theirs = AgencyId {
        id_type: t.peer_agency_type.clone(),
        value: t.peer_agency_id.clone(),
    };
    write::supplying_agency_message(
        version_of(peer),
        style_of(peer),
        &StatusMessage {
            supplying_agency: &ours,
            requesting_agency: &theirs,
            requesting_agency_request_id: &t.requester_request_id,
            supplying_agency_request_id: Some(&t.request_id),
            multiple_item_request_id: t.multiple_item_request_id.as_deref(),
            reason: n.reason,
            status: wire_status(n.status),
            answer: n.answer,
            note: n.note,
            reason_unfilled: n.reason_unfilled,
            now,
            last_change: now,
            sent: n.sent,
        },
    )
}

/// Takes one message body from a peer and returns the confirmation to answer with. A new
/// request is matched at once to a held scan its file name named
/// ([`crate::jobs::match_waiting`]), as a request added by hand is.
pub fn receive(
    db: &dyn Database,
    full: &quire_config::Config,
    body: &[u8],
) -> Result<String, StateError> {
    let config = &full.iso18626;
    let received = OffsetDateTime::now_utc();
    let text = String::from_utf8_lossy(body).into_owned();
    let incoming = match quire_iso18626::read::read(body) {
        Ok(m) => m,
        Err(refusal) => return refuse(db, &text, received, &refusal, None),
    };
    let (header, kind) = match &incoming {
        Incoming::Request(r) => (&r.header, Kind::Request),
        Incoming::RequestingAgencyMessage(m) => (&m.header, Kind::RequestingAgencyMessage),
    };
    let peer = match authenticate(config, header) {
        Ok(peer) => peer,
        Err(reason) => {
            let refusal = Refusal {
                error: ErrorType::UnrecognisedDataValue,
                reason,
                kind: Some(kind),
                header: Some(Box::new(header.clone())),
            };
            return refuse(db, &text, received, &refusal, None);
        }
    };
    match incoming {
        Incoming::Request(r) => take_request(db, full, peer, &r, &text, received),
        Incoming::RequestingAgencyMessage(m) => {
            agency_message(db, config, peer, &m, &text, received)
        }
    }
}

/// The peer the header names, if its credentials are right; else why not (the reason names
/// the field, never the expected value).
fn authenticate<'a>(config: &'a Iso18626Config, header: &Header) -> Result<&'a Peer, String> {
    let Some(agency) = &header.requesting_agency else {
        return Err("requestingAgencyId is missing".into());
    };
    let peer = config.peer(&agency.id_type, &agency.value).ok_or_else(|| {
        format!(
            "requestingAgencyId {}:{} is not a partner of this library",
            agency.id_type, agency.value
        )
    })?;
    if let Some(ours) = &header.supplying_agency
        && !(ours
            .value
            .trim()
            .eq_ignore_ascii_case(config.agency_id.trim())
            && ours
                .id_type
                .trim()
                .eq_ignore_ascii_case(config.agency_id_type.trim()))
    {
        return Err(format!(
            "supplyingAgencyId {}:{} is not this library",
            ours.id_type, ours.value
        ));
    }
    if let (Some(account), Some(code)) = (&peer.account_id, &peer.security_code) {
        let given_account = header.account_id.as_deref().unwrap_or("");
        let given_code = header.security_code.as_deref().unwrap_or("");
        // Compared in constant time, both, so a wrong code takes as long as a wrong account.
        let account_ok =
            quire_delivery::token::constant_time_eq(given_account.as_bytes(), account.as_bytes());
        let code_ok = quire_delivery::token::constant_time_eq(
            given_code.as_bytes(),
            code.expose().as_bytes(),
        );
        if !(account_ok && code_ok) {
            return Err("requestingAgencyAuthentication is wrong".into());
        }
    }
    Ok(peer)
}

fn confirmation(
    kind: Kind,
    version: write::Version,
    header: Option<&Header>,
    received: OffsetDateTime,
    error: Option<(ErrorType, String)>,
    action: Option<quire_iso18626::Action>,
) -> String {
    let c = Confirmation {
        header,
        received,
        now: OffsetDateTime::now_utc(),
        error,
    };
    match kind {
        Kind::Request => write::request_confirmation(version, &c),
        Kind::RequestingAgencyMessage => {
            write::requesting_agency_message_confirmation(version, &c, action)
        }
    }
}

/// The version to answer in: the peer's if known, else the one the message named.
fn answer_version(peer: Option<&Peer>, named: Option<&str>) -> write::Version {
    match (peer, named) {
        (Some(p), _) => version_of(p),
        (None, Some(v)) if v.starts_with("2021") => write::Version::V2021,
        _ => write::Version::V1_2,
    }
}

/// An ERROR confirmation, audited and kept; nothing else changes.
fn refuse(
    db: &dyn Database,
    text: &str,
    received: OffsetDateTime,
    refusal: &Refusal,
    peer: Option<&Peer>,
) -> Result<String, StateError> {
    let header = refusal.header.as_deref();
    let who = header
        .and_then(|h| h.requesting_agency.as_ref())
        .map(|a| peer_key(&a.id_type, &a.value))
        .unwrap_or_else(|| "unknown".into());
    let answer = confirmation(
        refusal.kind.unwrap_or(Kind::Request),
        answer_version(peer, None),
        header,
        received,
        Some((refusal.error, refusal.reason.clone())),
        None,
    );
    db.audit_append(
        NewEvent::new(format!("iso18626:{who}"), Action::Iso18626Refused).details(
            serde_json::json!({
                "error": refusal.error.as_str(),
                "reason": refusal.reason,
                "requester_request_id": header.and_then(|h| h.requesting_agency_request_id.clone()),
            }),
        ),
    )?;
    db.ill_message(&NewIllMessage {
        request_id: None,
        peer: who,
        direction: Direction::In,
        kind: "refused".into(),
        summary: format!("{}: {}", refusal.error.as_str(), refusal.reason),
        // A refused body may be huge or hostile; keep what a person needs to see.
        body: text.chars().take(4096).collect(),
    })?;
    Ok(answer)
}

/// A Quire id for a peer's request: `ILL` and ten digits from the peer and its request id, so
/// that technicians can scan under it (the default naming pattern is letters then digits).
fn quire_id(peer: &str, requester_id: &str, attempt: u32) -> String {
    let digest = Sha256::digest(format!("{peer}\u{0}{requester_id}\u{0}{attempt}").as_bytes());
    let n = u64::from_be_bytes(digest[..8].try_into().expect("eight bytes")) % 10_000_000_000;
    format!("ILL{n:010}")
}

fn take_request(
    db: &dyn Database,
    full: &quire_config::Config,
    peer: &Peer,
    r: &RequestMessage,
    text: &str,
    received: OffsetDateTime,
) -> Result<String, StateError> {
    let config = &full.iso18626;
    let h = &r.header;
    let agency = h.requesting_agency.as_ref().expect("authenticated");
    let who = peer_key(&agency.id_type, &agency.value);
    let ok = || {
        confirmation(
            Kind::Request,
            version_of(peer),
            Some(h),
            received,
            None,
            None,
        )
    };
    let Some(requester_id) = h.requesting_agency_request_id.clone() else {
        let refusal = Refusal {
            error: ErrorType::UnrecognisedDataElement,
            reason: "requestingAgencyRequestId is missing".into(),
            kind: Some(Kind::Request),
            header: Some(Box::new(h.clone())),
        };
        return refuse(db, text, received, &refusal, Some(peer));
    };
    let (id_type, id_value) = (
        peer.agency_id_type.to_ascii_uppercase(),
        peer.agency_id.trim().to_string(),
    );
    let incoming = NewIllMessage {
        request_id: None,
        peer: who.clone(),
        direction: Direction::In,
        kind: "request".into(),
        summary: r.service_type.clone().unwrap_or_else(|| "Copy".into()),
        body: text.to_string(),
    };
    // The same request again (a retry after a lost confirmation): confirmed, nothing new.
    if let Some(existing) = db.ill_find(&id_type, &id_value, &requester_id)? {
        db.ill_message(&NewIllMessage {
            request_id: Some(existing.request_id.clone()),
            summary: "repeated".into(),
            ..incoming
        })?;
        return Ok(ok());
    }
    // Copies are supplied (a CopyOrLoan request too); a Loan is answered Unfilled.
    let copy = match r.service_type.as_deref().map(str::trim) {
        None => true,
        Some(s) if s.eq_ignore_ascii_case("Copy") || s.eq_ignore_ascii_case("CopyOrLoan") => true,
        Some(s) if s.eq_ignore_ascii_case("Loan") => false,
        Some(other) => {
            let refusal = Refusal {
                error: ErrorType::UnrecognisedDataValue,
                reason: format!("serviceType `{other}` is not Copy, Loan or CopyOrLoan"),
                kind: Some(Kind::Request),
                header: Some(Box::new(h.clone())),
            };
            return refuse(db, text, received, &refusal, Some(peer));
        }
    };
    let basis = basis_of(r.copyright_compliance.as_deref());
    let email = r.email.clone().unwrap_or_default();
    let patron = match (&r.patron_given_name, &r.patron_surname) {
        (Some(g), Some(s)) => format!("{g} {s}"),
        (None, Some(s)) => s.clone(),
        (Some(g), None) => g.clone(),
        (None, None) => r
            .patron_id
            .clone()
            .unwrap_or_else(|| format!("patron of {}", peer.name)),
    };
    for attempt in 0..4 {
        let request = Request {
            id: quire_id(&who, &requester_id, attempt),
            patron_name: patron.clone(),
            patron_email: email.clone(),
            library: Some(agency.value.clone()),
            title: r.title.clone(),
            issn: r.issn.clone(),
            isbn: r.isbn.clone(),
            article: r.article.clone(),
            author: r.article_author.clone().or(r.author.clone()),
            year: r
                .publication_date
                .as_deref()
                .and_then(|d| d.get(..4))
                .and_then(|y| y.parse().ok()),
            volume: r.volume.clone(),
            issue: r.issue.clone(),
            pages: r.pages.clone(),
            // A request without a basis Quire knows is held for a person before delivery (the
            // transaction says so); CCL is the stricter placeholder meanwhile.
            basis: basis.unwrap_or(Basis::Ccl),
            basis_reference: None,
            link_days: None,
            link_downloads: None,
            created_at: quire_domain::Timestamp::now(),
        };
        let problems: Vec<String> = request
            .problems()
            .into_iter()
            // No address is fine when Quire does not e-mail the patron: the requester's own
            // system tells its reader. An address given must be one.
            .filter(|p| !p.starts_with("patron_email") || !email.is_empty() || peer.notify_patron)
            .collect();
        if !problems.is_empty() {
            let refusal = Refusal {
                error: ErrorType::UnrecognisedDataValue,
                reason: problems.join("; "),
                kind: Some(Kind::Request),
                header: Some(Box::new(h.clone())),
            };
            return refuse(db, text, received, &refusal, Some(peer));
        }
        let status = if copy {
            IllStatus::ExpectToSupply
        } else {
            IllStatus::Unfilled
        };
        let transaction = IllTransaction {
            request_id: request.id.clone(),
            peer_agency_type: id_type.clone(),
            peer_agency_id: id_value.clone(),
            requester_request_id: requester_id.clone(),
            multiple_item_request_id: h.multiple_item_request_id.clone(),
            service_type: r.service_type.clone().unwrap_or_else(|| "Copy".into()),
            status,
            basis_given: basis.is_some(),
            created_at: quire_domain::Timestamp::now(),
            updated_at: quire_domain::Timestamp::now(),
        };
        let reply = status_message(
            config,
            peer,
            &transaction,
            &StatusNote {
                status,
                reason: Reason::RequestResponse,
                note: (!copy).then_some("This library supplies copies only, not loans."),
                answer: None,
                reason_unfilled: (!copy).then_some("NotAvailableForILL"),
                sent: None,
            },
        );
        let event = NewEvent::new(format!("iso18626:{who}"), Action::Iso18626Received)
            .subject("request", &request.id)
            .details(serde_json::json!({
                "message": "request",
                "requester_request_id": requester_id,
                "service_type": transaction.service_type,
                "copyright_compliance": r.copyright_compliance,
                "basis_given": transaction.basis_given,
                "answered": status.as_str(),
            }));
        let received_message = NewIllMessage {
            request_id: Some(request.id.clone()),
            ..incoming.clone()
        };
        match db.ill_request_add(
            &request,
            &transaction,
            &received_message,
            Some(&reply),
            event,
        ) {
            Ok(()) => {
                // A scan taken before the request came, named by either id, is its scan.
                crate::jobs::match_waiting(db, full, &request.id, &[requester_id.as_str()])?;
                return Ok(ok());
            }
            // Another node took the same message at the same moment: answer from what exists.
            Err(StateError::Conflict(_))
                if db.ill_find(&id_type, &id_value, &requester_id)?.is_some() =>
            {
                return Ok(ok());
            }
            // The id is taken by another request: try the next one.
            Err(StateError::Conflict(_)) if db.request_get(&request.id)?.is_some() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StateError::Conflict(format!(
        "no free Quire id for {who} request {requester_id}"
    )))
}

fn agency_message(
    db: &dyn Database,
    config: &Iso18626Config,
    peer: &Peer,
    m: &quire_iso18626::RequestingAgencyMessage,
    text: &str,
    received: OffsetDateTime,
) -> Result<String, StateError> {
    use quire_iso18626::Action as A;
    let h = &m.header;
    let agency = h.requesting_agency.as_ref().expect("authenticated");
    let who = peer_key(&agency.id_type, &agency.value);
    let answer = |error: Option<(ErrorType, String)>| {
        confirmation(
            Kind::RequestingAgencyMessage,
            version_of(peer),
            Some(h),
            received,
            error,
            Some(m.action),
        )
    };
    let transaction = match &h.requesting_agency_request_id {
        Some(id) => db.ill_find(
            &peer.agency_id_type.to_ascii_uppercase(),
            peer.agency_id.trim(),
            id,
        )?,
        None => None,
    };
    let Some(t) = transaction else {
        let refusal = Refusal {
            error: ErrorType::UnrecognisedDataValue,
            reason: format!(
                "requestingAgencyRequestId {} names no request of this library",
                h.requesting_agency_request_id
                    .as_deref()
                    .unwrap_or("(none)")
            ),
            kind: Some(Kind::RequestingAgencyMessage),
            header: Some(Box::new(h.clone())),
        };
        return refuse(db, text, received, &refusal, Some(peer));
    };
    db.ill_message(&NewIllMessage {
        request_id: Some(t.request_id.clone()),
        peer: who.clone(),
        direction: Direction::In,
        kind: "requestingAgencyMessage".into(),
        summary: m.action.as_str().into(),
        body: text.to_string(),
    })?;
    let event = |answered: &str| {
        NewEvent::new(format!("iso18626:{who}"), Action::Iso18626Received)
            .subject("request", &t.request_id)
            .details(serde_json::json!({
                "message": "requestingAgencyMessage",
                "action": m.action.as_str(),
                "answered": answered,
            }))
    };
    match m.action {
        A::Cancel => {
            let cancellable = [IllStatus::ExpectToSupply, IllStatus::WillSupply];
            let yes = status_message(
                config,
                peer,
                &t,
                &StatusNote {
                    status: IllStatus::Cancelled,
                    reason: Reason::CancelResponse,
                    note: None,
                    answer: Some(true),
                    reason_unfilled: None,
                    sent: None,
                },
            );
            match db.ill_status(
                &t.request_id,
                &cancellable,
                IllStatus::Cancelled,
                &yes,
                event("Cancelled").subject("request", &t.request_id),
            ) {
                Ok(()) => {
                    crate::jobs::hold_for_cancel(
                        db,
                        &t.request_id,
                        "the requester",
                        "cancelled over ISO 18626",
                    )?;
                    Ok(answer(None))
                }
                // Too late (delivered, or already ended): the answer is no, status unchanged.
                Err(StateError::Conflict(_)) => {
                    let current = db
                        .ill_of_request(&t.request_id)?
                        .map(|t| t.status)
                        .unwrap_or(t.status);
                    let no = status_message(
                        config,
                        peer,
                        &t,
                        &StatusNote {
                            status: current,
                            reason: Reason::CancelResponse,
                            note: Some("The copy was already sent; it cannot be cancelled."),
                            answer: Some(false),
                            reason_unfilled: None,
                            sent: None,
                        },
                    );
                    db.ill_status(&t.request_id, &[current], current, &no, event("N"))?;
                    Ok(answer(None))
                }
                Err(e) => Err(e),
            }
        }
        A::StatusRequest => {
            let current = t.status;
            let body = status_message(
                config,
                peer,
                &t,
                &StatusNote {
                    status: current,
                    reason: Reason::StatusRequestResponse,
                    note: None,
                    answer: None,
                    reason_unfilled: None,
                    sent: None,
                },
            );
            db.ill_status(
                &t.request_id,
                &[current],
                current,
                &body,
                event(current.as_str()),
            )?;
            Ok(answer(None))
        }
        // What a requester may tell a supplier of a copy: confirmed, nothing to do.
        A::Notification | A::Received => {
            db.audit_append(event("confirmed"))?;
            Ok(answer(None))
        }
        // Loans' actions: a copy is never returned or renewed.
        A::Renew | A::ShippedReturn | A::ShippedForward | A::HoldReturn | A::Lost => {
            let refusal = Refusal {
                error: ErrorType::UnsupportedActionType,
                reason: format!(
                    "{} does not apply to a copy (this library supplies copies only)",
                    m.action.as_str()
                ),
                kind: Some(Kind::RequestingAgencyMessage),
                header: Some(Box::new(h.clone())),
            };
            refuse(db, text, received, &refusal, Some(peer))
        }
    }
}

/// Frees the status messages `node`'s sender held when it stopped (as
/// [`crate::deliver::notices::release_own`] does for e-mails); returns how many.
pub async fn release_own(repo: &quire_state::Repo, node: &str) -> Result<usize, StateError> {
    let node = node.to_string();
    repo.call(move |db| db.ill_outbox_release(&node)).await
}

/// Sends the status messages that are due, each to its peer, and records what the peer
/// answered: sent (confirmed OK), failed (refused by the peer, or out of tries), or pending
/// again after a delay that doubles from `retry_secs` up to an hour. Returns how many went.
pub async fn send_due(
    repo: &quire_state::Repo,
    node: &str,
    config: &Iso18626Config,
    client: &quire_delivery::peer::PeerClient,
) -> Result<usize, StateError> {
    use quire_state::OutboxState;
    // Held for ten minutes, beyond a whole batch's exchanges (8 × the client's 30 s time
    // limit), so that another node's sender never sends the same message meanwhile; a restart
    // of this node frees them at once (`release_own`).
    let hold = quire_domain::Timestamp::now() + time::Duration::minutes(10);
    let who = node.to_string();
    let due = repo
        .call(move |db| db.ill_outbox_claim(&who, 8, hold))
        .await?;
    let mut sent = 0;
    for m in due {
        let peer = config
            .peers
            .iter()
            .find(|p| peer_key(&p.agency_id_type, &p.agency_id).eq_ignore_ascii_case(&m.peer));
        let outcome = match peer {
            None => Err((false, format!("{} is no longer a configured peer", m.peer))),
            Some(p) => match client.post_xml(&p.url, m.body.clone()).await {
                Ok(answer) => match quire_iso18626::read::confirmation(answer.as_bytes()) {
                    Ok(quire_iso18626::read::Answer::Ok) => Ok(answer),
                    // The peer read it and said no: sending it again would not change that.
                    Ok(quire_iso18626::read::Answer::Error(kind, value)) => {
                        Err((false, format!("{} refused it: {kind}: {value}", p.name)))
                    }
                    Err(why) => Err((true, format!("{} answered no confirmation: {why}", p.name))),
                },
                Err(e) => Err((true, e.to_string())),
            },
        };
        let attempt = m.attempts + 1;
        let subject = m.request_id.clone();
        let record =
            |kind: &str, summary: String, body: String, direction: Direction| NewIllMessage {
                request_id: Some(subject.clone()),
                peer: m.peer.clone(),
                direction,
                kind: kind.into(),
                summary,
                body,
            };
        let event = |action: Action, detail: serde_json::Value| {
            NewEvent::new("daemon", action)
                .subject("request", &m.request_id)
                .details(serde_json::json!({
                    "peer": m.peer, "status": m.status.as_str(), "attempt": attempt, "outcome": detail,
                }))
        };
        let (state, next_at, error, response, ev) = match outcome {
            Ok(answer) => {
                sent += 1;
                let out = record(
                    "supplyingAgencyMessage",
                    m.status.as_str().into(),
                    m.body.clone(),
                    Direction::Out,
                );
                repo.call(move |db| db.ill_message(&out)).await?;
                (
                    OutboxState::Sent,
                    quire_domain::Timestamp::now(),
                    None,
                    Some(record(
                        "supplyingAgencyMessageConfirmation",
                        "OK".into(),
                        answer,
                        Direction::In,
                    )),
                    event(Action::Iso18626Sent, serde_json::json!("confirmed")),
                )
            }
            Err((retry, why)) if retry && attempt < i64::from(config.max_attempts) => {
                let delay =
                    (config.retry_secs * 2f64.powi((attempt - 1).min(16) as i32)).min(3600.0);
                tracing::warn!(peer = %m.peer, request = %m.request_id, error = %why, "ISO 18626 status message not sent; will retry");
                (
                    OutboxState::Pending,
                    quire_domain::Timestamp::now() + std::time::Duration::from_secs_f64(delay),
                    Some(why.clone()),
                    None,
                    event(Action::Iso18626Retry, serde_json::json!(why)),
                )
            }
            Err((_, why)) => {
                tracing::error!(peer = %m.peer, request = %m.request_id, error = %why, "ISO 18626 status message failed");
                (
                    OutboxState::Failed,
                    quire_domain::Timestamp::now(),
                    Some(why.clone()),
                    None,
                    event(Action::Iso18626Failed, serde_json::json!(why)),
                )
            }
        };
        let (id, who) = (m.id, node.to_string());
        let recorded = repo
            .call(move |db| {
                db.ill_outbox_update(
                    &who,
                    id,
                    state,
                    next_at,
                    error.as_deref(),
                    response.as_ref(),
                    ev,
                )
            })
            .await;
        match recorded {
            // This sender's hold ended and another took the message: its result stands.
            Err(StateError::Conflict(why)) => tracing::warn!(%why, "ISO 18626 result not recorded"),
            other => other?,
        }
    }
    Ok(sent)
}

/// Tells the requester, if the request came over ISO 18626, that its copy is out:
/// `CopyCompleted` with the link (`deliveryInfo`), once. Nothing for a request typed in.
pub fn copy_completed(
    db: &dyn Database,
    config: &Iso18626Config,
    request: &str,
    url: &str,
) -> Result<(), StateError> {
    let Some(t) = db.ill_of_request(request)? else {
        return Ok(());
    };
    let Some(peer) = config.peer(&t.peer_agency_type, &t.peer_agency_id) else {
        return Ok(());
    };
    let body = status_message(
        config,
        peer,
        &t,
        &StatusNote {
            status: IllStatus::CopyCompleted,
            reason: Reason::StatusChange,
            note: None,
            answer: None,
            reason_unfilled: None,
            sent: Some(Sent {
                at: OffsetDateTime::now_utc(),
                url,
            }),
        },
    );
    let event = NewEvent::new("daemon", Action::Iso18626Queued)
        .subject("request", request)
        .details(serde_json::json!({ "queued": "CopyCompleted", "peer": peer_key(&t.peer_agency_type, &t.peer_agency_id) }));
    match db.ill_status(
        request,
        &[IllStatus::ExpectToSupply, IllStatus::WillSupply],
        IllStatus::CopyCompleted,
        &body,
        event,
    ) {
        // Already told (a redelivery), or cancelled meanwhile: nothing more to say.
        Ok(()) | Err(StateError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Staff decline a request from a partner: the requester is told `Unfilled` with a reason
/// (`NotAvailableForILL` and the note), once, and its jobs waiting to go out are held.
/// `Conflict` when the copy went out already or the request ended.
pub fn decline(
    db: &dyn Database,
    config: &Iso18626Config,
    request: &str,
    actor: &str,
    note: &str,
) -> Result<(), StateError> {
    let t = db.ill_of_request(request)?.ok_or_else(|| {
        StateError::NotFound(format!(
            "request {request} did not come from a partner's ILL system"
        ))
    })?;
    let peer = config
        .peer(&t.peer_agency_type, &t.peer_agency_id)
        .ok_or_else(|| {
            StateError::Conflict(format!(
                "{}:{} is no longer a configured peer",
                t.peer_agency_type, t.peer_agency_id
            ))
        })?;
    let body = status_message(
        config,
        peer,
        &t,
        &StatusNote {
            status: IllStatus::Unfilled,
            reason: Reason::StatusChange,
            note: Some(note),
            answer: None,
            reason_unfilled: Some("NotAvailableForILL"),
            sent: None,
        },
    );
    let event = NewEvent::new(actor, Action::Iso18626Queued)
        .subject("request", request)
        .details(serde_json::json!({ "queued": "Unfilled", "note": note }));
    db.ill_status(
        request,
        &[IllStatus::ExpectToSupply, IllStatus::WillSupply],
        IllStatus::Unfilled,
        &body,
        event,
    )?;
    crate::jobs::hold_for_cancel(db, request, "staff", "declined over ISO 18626 (Unfilled)")
}

/// Tells the requester its request waits for a person (`WillSupply` with the reason), once,
/// while it is still only expected.
pub fn will_supply(
    db: &dyn Database,
    config: &Iso18626Config,
    request: &str,
    why: &str,
) -> Result<(), StateError> {
    let Some(t) = db.ill_of_request(request)? else {
        return Ok(());
    };
    let Some(peer) = config.peer(&t.peer_agency_type, &t.peer_agency_id) else {
        return Ok(());
    };
    let note = format!("Scanned; held for review before it is sent: {why}");
    let body = status_message(
        config,
        peer,
        &t,
        &StatusNote {
            status: IllStatus::WillSupply,
            reason: Reason::StatusChange,
            note: Some(&note),
            answer: None,
            reason_unfilled: None,
            sent: None,
        },
    );
    let event = NewEvent::new("daemon", Action::Iso18626Queued)
        .subject("request", request)
        .details(serde_json::json!({ "queued": "WillSupply", "reason": why }));
    match db.ill_status(
        request,
        &[IllStatus::ExpectToSupply],
        IllStatus::WillSupply,
        &body,
        event,
    ) {
        Ok(()) | Err(StateError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_copyright_compliance_maps_and_anything_else_waits_for_a_person() {
        assert_eq!(basis_of(Some("US-CCG")), Some(Basis::Ccg));
        assert_eq!(basis_of(Some(" us-ccl ")), Some(Basis::Ccl));
        assert_eq!(basis_of(Some("UK-CLA-FD")), None);
        assert_eq!(basis_of(None), None);
    }

    #[test]
    fn quire_ids_are_scannable_and_differ_per_attempt() {
        let a = quire_id("ISIL:US-ABC", "R1", 0);
        assert!(a.starts_with("ILL") && a.len() == 13, "{a}");
        assert!(a[3..].chars().all(|c| c.is_ascii_digit()));
        assert_eq!(a, quire_id("ISIL:US-ABC", "R1", 0));
        assert_ne!(a, quire_id("ISIL:US-ABC", "R1", 1));
        assert_ne!(a, quire_id("ISIL:US-ABD", "R1", 0));
    }
}

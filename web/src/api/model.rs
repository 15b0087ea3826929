//! What /api/v1 reads and writes: its own types, converted from the domain's, so the OpenAPI
//! document is derived from exactly what is serialised (and the domain crates need no
//! OpenAPI). Enumerations list the domain's own names ([`names`]).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use quire_state::{Basis, DeliveryState, JobState, LinkState, Timestamp};

/// A string schema allowing exactly `values`.
fn names(values: impl IntoIterator<Item = &'static str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

pub fn basis_schema() -> Object {
    names(Basis::ALL.iter().map(|b| b.as_str()))
}
pub fn job_state_schema() -> Object {
    names(JobState::ALL.iter().map(|s| s.as_str()))
}
pub fn delivery_state_schema() -> Object {
    names(DeliveryState::ALL.iter().map(|s| s.as_str()))
}
pub fn link_state_schema() -> Object {
    names(LinkState::ALL.iter().map(|s| s.as_str()))
}

/// A copy request, as created and as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestFields {
    /// The ILL transaction number; unique.
    pub id: String,
    pub patron_name: String,
    /// Exactly one address.
    pub patron_email: String,
    /// The requesting library's symbol.
    #[serde(default)]
    pub library: Option<String>,
    /// Periodical or book title.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub issn: Option<String>,
    #[serde(default)]
    pub isbn: Option<String>,
    /// Article or chapter title.
    #[serde(default)]
    pub article: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub year: Option<i32>,
    #[serde(default)]
    pub volume: Option<String>,
    #[serde(default)]
    pub issue: Option<String>,
    /// Requested pages, e.g. `101-115`.
    #[serde(default)]
    pub pages: Option<String>,
    /// The copyright basis; `ccl` when not given.
    #[serde(default = "default_basis")]
    #[schema(schema_with = basis_schema)]
    pub basis: Basis,
    /// E.g. a CCC order number; needed with `permission`.
    #[serde(default)]
    pub basis_reference: Option<String>,
    /// Days the link works, instead of `[links] days`.
    #[serde(default)]
    pub link_days: Option<u32>,
    /// Downloads the link allows, instead of `[links] downloads`.
    #[serde(default)]
    pub link_downloads: Option<u32>,
    /// When it was stored (UTC); ignored on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, read_only)]
    pub created_at: Option<Timestamp>,
    /// Present when the request is cancelled (given by `GET /requests/{id}`, not in lists);
    /// ignored on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(read_only)]
    pub cancellation: Option<CancellationView>,
}

/// A cancelled request: when, by whom (a client, a person, the requester), why. No copy is
/// delivered for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CancellationView {
    /// UTC, RFC 3339.
    #[schema(value_type = String)]
    pub at: Timestamp,
    pub by: String,
    pub reason: String,
}

impl From<quire_domain::Cancellation> for CancellationView {
    fn from(c: quire_domain::Cancellation) -> Self {
        Self {
            at: c.at,
            by: c.by,
            reason: c.reason,
        }
    }
}

/// Citation fields to correct before a copy goes out: each field given replaces the stored
/// one, an empty text clears it, and a field left out stays as it is.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CitationPatch {
    pub title: Option<String>,
    pub issn: Option<String>,
    pub isbn: Option<String>,
    pub article: Option<String>,
    pub author: Option<String>,
    pub year: Option<i32>,
    pub volume: Option<String>,
    pub issue: Option<String>,
    pub pages: Option<String>,
}

impl From<CitationPatch> for quire_domain::Citation {
    fn from(p: CitationPatch) -> Self {
        quire_domain::Citation {
            title: p.title,
            issn: p.issn,
            isbn: p.isbn,
            article: p.article,
            author: p.author,
            year: p.year,
            volume: p.volume,
            issue: p.issue,
            pages: p.pages,
        }
    }
}

/// Why a request is cancelled.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// Shown in the queue and the audit log; "no reason given" when left out.
    #[serde(default)]
    pub reason: Option<String>,
}

fn default_basis() -> Basis {
    Basis::Ccl
}

impl From<RequestFields> for quire_state::Request {
    fn from(r: RequestFields) -> Self {
        quire_state::Request {
            id: r.id,
            patron_name: r.patron_name,
            patron_email: r.patron_email,
            library: r.library,
            title: r.title,
            issn: r.issn,
            isbn: r.isbn,
            article: r.article,
            author: r.author,
            year: r.year,
            volume: r.volume,
            issue: r.issue,
            pages: r.pages,
            basis: r.basis,
            basis_reference: r.basis_reference,
            link_days: r.link_days,
            link_downloads: r.link_downloads,
            created_at: Timestamp::UNIX_EPOCH,
        }
    }
}

impl From<quire_state::Request> for RequestFields {
    fn from(r: quire_state::Request) -> Self {
        RequestFields {
            id: r.id,
            patron_name: r.patron_name,
            patron_email: r.patron_email,
            library: r.library,
            title: r.title,
            issn: r.issn,
            isbn: r.isbn,
            article: r.article,
            author: r.author,
            year: r.year,
            volume: r.volume,
            issue: r.issue,
            pages: r.pages,
            basis: r.basis,
            basis_reference: r.basis_reference,
            link_days: r.link_days,
            link_downloads: r.link_downloads,
            created_at: Some(r.created_at),
            cancellation: None,
        }
    }
}

/// One request, or several added all together or not at all.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum NewRequests {
    One(Box<RequestFields>),
    Many(Vec<RequestFields>),
}

/// What a create did: the requests as stored, which were new, and the waiting scans it matched.
#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    /// Every request posted, as stored.
    pub requests: Vec<RequestFields>,
    /// Ids added now; the others existed already with the same fields.
    pub created: Vec<String>,
    /// Held scans named for a new request, matched to it at once.
    pub matched_jobs: Vec<MatchedJob>,
}

/// A job matched to a request, and what is left before it goes out.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchedJob {
    pub job: String,
    pub request: String,
    #[schema(schema_with = job_state_schema)]
    pub state: JobState,
    /// What the console and `quire job match` say.
    pub summary: String,
    /// What still needs a person (empty: it goes out by itself).
    pub left: Vec<String>,
}

impl From<&quire_service::jobs::Matched> for MatchedJob {
    fn from(m: &quire_service::jobs::Matched) -> Self {
        MatchedJob {
            job: m.job.id.clone(),
            request: m.request.clone(),
            state: m.job.state,
            summary: m.summary(),
            left: m.left.0.iter().map(|r| r.to_string()).collect(),
        }
    }
}

/// A scan in custody.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    pub request_id: Option<String>,
    #[schema(schema_with = job_state_schema)]
    pub state: JobState,
    pub hold_reason: Option<String>,
    /// Its name in the inbox.
    pub source_name: String,
    pub source_sha256: String,
    pub page_count: Option<i64>,
    pub output_sha256: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
    /// The batch it was cut from.
    pub parent_job: Option<String>,
}

impl From<quire_state::Job> for JobView {
    fn from(j: quire_state::Job) -> Self {
        JobView {
            id: j.id,
            request_id: j.request_id,
            state: j.state,
            hold_reason: j.hold_reason,
            source_name: j.source_name,
            source_sha256: j.source_sha256,
            page_count: j.page_count,
            output_sha256: j.output_sha256,
            error_code: j.error_code,
            error_message: j.error_message,
            created_at: j.created_at,
            updated_at: j.updated_at,
            parent_job: j.parent_job,
        }
    }
}

/// A job with its per-page quality report (none before processing).
#[derive(Debug, Serialize, ToSchema)]
pub struct JobDetail {
    pub job: JobView,
    pub report: Option<JobReport>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobReport {
    /// Pages in the processed PDF.
    pub pages_out: usize,
    /// The request the scan's file name named, if it named one.
    pub names_request: Option<String>,
    pub pages: Vec<PageReport>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PageReport {
    pub source_page: usize,
    /// Its page in the output; none when dropped (a blank page).
    pub output_page: Option<usize>,
    pub blank: bool,
    pub warnings: Vec<PageWarning>,
    /// The OCR text.
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PageWarning {
    pub code: String,
    pub message: String,
}

impl From<quire_service::review::ReportView> for JobReport {
    fn from(r: quire_service::review::ReportView) -> Self {
        JobReport {
            pages_out: r.pages_out,
            names_request: r.names_request,
            pages: r
                .pages
                .into_iter()
                .map(|p| PageReport {
                    source_page: p.source_page,
                    output_page: p.output_page,
                    blank: p.blank,
                    warnings: p
                        .warnings
                        .into_iter()
                        .map(|w| PageWarning {
                            code: w.code,
                            message: w.message,
                        })
                        .collect(),
                    text: p.text,
                })
                .collect(),
        }
    }
}

/// A delivered (or held) copy, with its link and where it stands for the borrower.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub request_id: String,
    pub job_id: Option<String>,
    #[schema(schema_with = basis_schema)]
    pub basis: Basis,
    #[schema(schema_with = delivery_state_schema)]
    pub state: DeliveryState,
    pub hold_reason: Option<String>,
    pub file_name: String,
    pub bytes: i64,
    pub page_count: i64,
    pub recipient: String,
    pub library: Option<String>,
    /// The stamped copy's SHA-256 (what `quire trace` looks up).
    pub stamped_sha256: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>)]
    pub purged_at: Option<Timestamp>,
    /// Its newest link.
    pub link: Option<String>,
    /// Revoked, expired, used up and locked show as such.
    #[schema(schema_with = link_state_schema)]
    pub status: LinkState,
}

impl From<quire_service::deliveries::DeliveryStatus> for DeliveryView {
    fn from(s: quire_service::deliveries::DeliveryStatus) -> Self {
        let d = s.delivery;
        DeliveryView {
            id: d.id,
            request_id: d.request_id,
            job_id: d.job_id,
            basis: d.basis,
            state: d.state,
            hold_reason: d.hold_reason,
            file_name: d.file_name,
            bytes: d.bytes,
            page_count: d.page_count,
            recipient: d.recipient,
            library: d.library,
            stamped_sha256: d.stamped_sha256,
            created_at: d.created_at,
            purged_at: d.purged_at,
            link: s.link,
            status: s.status,
        }
    }
}

/// A borrower's download link.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkView {
    pub id: String,
    pub delivery_id: String,
    pub request_id: String,
    pub recipient: String,
    #[schema(schema_with = link_state_schema)]
    pub state: LinkState,
    /// The borrower's URL, while the link works.
    pub url: Option<String>,
    #[schema(value_type = String)]
    pub expires_at: Timestamp,
    pub downloads_left: i64,
    pub downloads_allowed: i64,
    #[schema(value_type = Option<String>)]
    pub revoked_at: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub locked_at: Option<Timestamp>,
    /// Wrong pickup codes since it was made or unlocked.
    pub code_failures: i64,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

impl LinkView {
    pub fn of(
        link: quire_state::Link,
        delivery: &quire_state::Delivery,
        now: Timestamp,
        url: impl Fn(&str) -> String,
    ) -> Self {
        let state = link.state(delivery.state, now);
        LinkView {
            url: (state == LinkState::Active).then(|| url(&link.id)),
            id: link.id,
            delivery_id: delivery.id.clone(),
            request_id: delivery.request_id.clone(),
            recipient: delivery.recipient.clone(),
            state,
            expires_at: link.expires_at,
            downloads_left: link.downloads_left,
            downloads_allowed: link.downloads_allowed,
            revoked_at: link.revoked_at,
            locked_at: link.locked_at,
            code_failures: link.code_failures,
            created_at: link.created_at,
        }
    }
}

/// One line of the CONTU report: counted copies per library, work and year.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContuLine {
    /// Empty when the request named no library.
    pub library: String,
    /// `periodical` or `book`.
    pub kind: String,
    /// ISSN or ISBN.
    pub ident: Option<String>,
    pub title: String,
    pub year: i32,
    /// Counted copies delivered (released ones included).
    pub copies: i64,
    /// Counted copies waiting for an officer.
    pub held: i64,
    /// CCL copies outside the count.
    pub ccl: i64,
    /// Other copies recorded but outside the rule.
    pub not_counted: i64,
    /// At or beyond the yearly limit.
    pub flagged: bool,
    /// Titles without ISSN that look like this one.
    pub similar_to: Vec<String>,
}

impl From<quire_domain::compliance::report::ReportLine> for ContuLine {
    fn from(l: quire_domain::compliance::report::ReportLine) -> Self {
        ContuLine {
            library: l.library,
            kind: l.kind,
            ident: l.ident,
            title: l.title,
            year: l.year,
            copies: l.copies,
            held: l.held,
            ccl: l.ccl,
            not_counted: l.not_counted,
            flagged: l.flagged,
            similar_to: l.similar_to,
        }
    }
}

/// The CONTU report of one year.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContuReport {
    pub year: i32,
    /// Counted copies per library and work a year before the next needs permission.
    pub limit: u32,
    pub lines: Vec<ContuLine>,
}

/// An audit event as stored (times in UTC), hash-chained to the one before.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    pub seq: i64,
    pub time: String,
    pub actor: String,
    pub action: String,
    /// What it is about: kind → id.
    pub subjects: serde_json::Value,
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<quire_state::Event> for AuditEvent {
    fn from(e: quire_state::Event) -> Self {
        AuditEvent {
            seq: e.seq,
            time: e.time,
            actor: e.actor,
            action: e.action,
            subjects: e.subjects,
            details: e.details,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

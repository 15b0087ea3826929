//! Requests and links: search requests, see one request's deliveries with each link's state
//! (expiry, downloads left), revoke, extend or unlock a link as `quire link` does, and queue a
//! link's e-mail again.

use axum::Form;
use axum::extract::{Path, Query, State};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{PageResult, blocking, done, page, v};
use crate::AppState;
use crate::console::auth::Area;
use crate::console::csrf;
use crate::console::session::Staff;
use quire_domain::DeliveryState;
use quire_service::links;
use quire_service::requests::{self, AddError};
use quire_state::StateError;

/// How many of the newest requests a search looks through.
const SEARCH_DEPTH: usize = 2000;
const SHOWN: usize = 200;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    done: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<ListQuery>,
) -> PageResult {
    staff.require(Area::Requests)?;
    let all = blocking(&state, &staff, move |db| db.requests_list(SEARCH_DEPTH)).await?;
    let needle = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let found: Vec<_> = all
        .into_iter()
        .filter(|r| {
            needle.is_empty()
                || [
                    Some(&r.id),
                    Some(&r.patron_name),
                    Some(&r.patron_email),
                    r.title.as_ref(),
                    r.article.as_ref(),
                    r.library.as_ref(),
                ]
                .into_iter()
                .flatten()
                .any(|f| f.to_lowercase().contains(&needle))
        })
        .take(SHOWN)
        .collect();
    Ok(page(
        &staff,
        "requests.html",
        context! { requests => v(&found), q => q.q, done => q.done, bases => v(&bases()) },
    ))
}

/// One link as the request page and the links page list it, with the borrower's URL (the
/// same one the e-mail carried: every node derives it from the shared link key).
fn link_row(
    state: &AppState,
    l: &quire_domain::Link,
    d: &quire_domain::Delivery,
    now: quire_domain::Timestamp,
) -> Value {
    let s = l.state(d.state, now);
    json!({
        "id": l.id, "delivery": d.id, "request": d.request_id, "recipient": d.recipient,
        "file": d.file_name, "pages": d.page_count, "delivered": d.created_at,
        "expires_at": l.expires_at, "downloads_left": l.downloads_left,
        "downloads_allowed": l.downloads_allowed, "state": s.as_str(), "hold_reason": d.hold_reason,
        "revocable": l.revoked_at.is_none() && d.state != DeliveryState::Purged,
        "locked": l.locked_at.is_some(), "code_failures": l.code_failures,
        "url": (s == quire_domain::LinkState::Active).then(|| state.deliverer.link_url(&l.id)),
    })
}

#[derive(Deserialize, Default)]
pub struct LinksQuery {
    #[serde(default)]
    request: String,
    #[serde(default)]
    patron: String,
    #[serde(default)]
    state: String,
    done: Option<String>,
}

/// `GET /staff/links`: every link, newest first, searched by request, patron (name or e-mail
/// of the recipient) and state; revoke, extend and resend from the list.
pub async fn links_page(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<LinksQuery>,
) -> PageResult {
    staff.require(Area::Requests)?;
    let request = Some(q.request.trim().to_string()).filter(|r| !r.is_empty());
    let all = blocking(&state, &staff, move |db| db.links_list(request.as_deref())).await?;
    let now = quire_domain::Timestamp::now();
    let patron = q.patron.trim().to_lowercase();
    let wanted_state = q.state.trim().to_string();
    let mut rows: Vec<Value> = all
        .iter()
        .filter(|(_, d)| patron.is_empty() || d.recipient.to_lowercase().contains(&patron))
        .filter(|(l, d)| wanted_state.is_empty() || l.state(d.state, now).as_str() == wanted_state)
        .rev()
        .take(500)
        .map(|(l, d)| link_row(&state, l, d, now))
        .collect();
    rows.sort_by(|a, b| b["delivered"].as_str().cmp(&a["delivered"].as_str()));
    Ok(page(
        &staff,
        "links.html",
        context! {
            links => v(&rows), q_request => q.request, q_patron => q.patron, q_state => q.state,
            states => ["active", "expired", "used_up", "revoked", "locked", "held", "purged"],
            done => q.done, back => "links",
        },
    ))
}

/// The bases a new request may take, with what each means (the form shows labels, not codes).
fn bases() -> Vec<Value> {
    quire_domain::Basis::ALL
        .iter()
        .map(|b| json!({ "code": b.as_str(), "label": b.label() }))
        .collect()
}

pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    staff.require(Area::Requests)?;
    let (request, links, notices, ill, messages, jobs, cancellation) =
        blocking(&state, &staff, move |db| {
            let r = db
                .request_get(&id)?
                .ok_or_else(|| StateError::NotFound(format!("no request {id}")))?;
            let jobs = db.jobs_list(&quire_state::JobFilter {
                request: Some(id.clone()),
                limit: 200,
                ..Default::default()
            })?;
            Ok((
                r,
                db.links_list(Some(&id))?,
                db.notices_of_request(&id)?,
                db.ill_of_request(&id)?,
                db.ill_messages(&id)?,
                jobs,
                db.request_cancellation(&id)?,
            ))
        })
        .await?;
    // The requester's side, when the request came from a partner's ILL system (ISO 18626).
    let peer_name = ill.as_ref().and_then(|t| {
        state
            .deliverer
            .config()
            .config
            .iso18626
            .peer(&t.peer_agency_type, &t.peer_agency_id)
            .map(|p| p.name.clone())
    });
    let messages: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({ "at": m.at.to_string(), "direction": m.direction.as_str(), "kind": m.kind,
                    "summary": m.summary, "body": m.body })
        })
        .collect();
    let now = quire_domain::Timestamp::now();
    let links: Vec<Value> = links
        .iter()
        .map(|(l, d)| link_row(&state, l, d, now))
        .collect();
    let jobs: Vec<Value> = jobs
        .iter()
        .map(|j| json!({ "id": j.id, "state": j.state, "pages": j.page_count, "source": j.source_name_shown(), "created_at": j.created_at }))
        .collect();
    Ok(page(
        &staff,
        "request.html",
        context! {
            request => v(&request), links => v(&links), notices => v(&notices), done => q.done,
            ill => v(&ill), peer_name, messages => v(&messages), jobs => v(&jobs),
            cancellation => v(&cancellation), back => "request",
        },
    ))
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// Cancels the request before a copy goes out, as `quire request cancel` and the API do.
pub async fn cancel(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<CancelForm>,
) -> PageResult {
    staff.require(Area::Requests)?;
    csrf::check(&staff, &f.csrf)?;
    let actor = staff.actor();
    let back = format!("/staff/requests/{}", super::urlencode(&id));
    blocking(&state, &staff, move |db| {
        requests::cancel(db, &id, &f.reason, &actor).map(|_| ())
    })
    .await?;
    Ok(done(&back, "request cancelled; no copy will go out"))
}

/// The citation's inputs (`citation_inputs.html`), on the new-request and correction forms.
#[derive(Deserialize)]
pub struct CitationInputs {
    #[serde(default)]
    title: String,
    #[serde(default)]
    issn: String,
    #[serde(default)]
    isbn: String,
    #[serde(default)]
    volume: String,
    #[serde(default)]
    issue: String,
    #[serde(default)]
    article: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    pages: String,
}

/// A form's trimmed text, `None` when left empty.
fn given(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

impl CitationInputs {
    /// The citation typed in; a year that is not a number is added to `problems`.
    fn citation(&self, problems: &mut Vec<String>) -> quire_domain::Citation {
        let year = given(&self.year).and_then(|y| {
            y.parse::<i32>()
                .map_err(|_| problems.push(format!("year `{y}` is not a number")))
                .ok()
        });
        quire_domain::Citation {
            title: given(&self.title),
            issn: given(&self.issn),
            isbn: given(&self.isbn),
            article: given(&self.article),
            author: given(&self.author),
            year,
            volume: given(&self.volume),
            issue: given(&self.issue),
            pages: given(&self.pages),
        }
    }
}

#[derive(Deserialize)]
pub struct CitationForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    citation: CitationInputs,
}

/// Corrects the citation before a copy goes out, as the API's PATCH does: every field is
/// replaced by the form's (an emptied field is cleared).
pub async fn set_citation(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<CitationForm>,
) -> PageResult {
    staff.require(Area::Requests)?;
    csrf::check(&staff, &f.csrf)?;
    let mut problems = Vec::new();
    let citation = f.citation.citation(&mut problems);
    let refused = |staff: &Staff, why: &str| {
        super::error_page(
            staff,
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "Citation not changed",
            &format!("The citation was not changed: {why}."),
        )
    };
    if !problems.is_empty() {
        return Err(refused(&staff, &problems.join("; ")));
    }
    let (actor, back) = (
        staff.actor(),
        format!("/staff/requests/{}", super::urlencode(&id)),
    );
    state
        .repo
        .run(move |db| requests::set_citation(db, &id, citation, &actor))
        .await
        .map_err(|e| match e {
            AddError::Invalid(_) => refused(&staff, &e.to_string()),
            AddError::State(e) => super::state_failure(&staff, e),
        })?;
    Ok(done(&back, "citation corrected"))
}

#[derive(Deserialize)]
pub struct NewRequestForm {
    #[serde(default)]
    csrf: String,
    id: String,
    patron_name: String,
    patron_email: String,
    #[serde(default)]
    library: String,
    #[serde(flatten)]
    citation: CitationInputs,
    #[serde(default)]
    basis: String,
    #[serde(default)]
    basis_reference: String,
}

/// Creates one request, checked by the same `Request::problems` the CLI and the API use.
pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    Form(f): Form<NewRequestForm>,
) -> PageResult {
    staff.require(Area::Requests)?;
    csrf::check(&staff, &f.csrf)?;
    let mut problems = Vec::new();
    let citation = f.citation.citation(&mut problems);
    let basis = match given(&f.basis) {
        None => quire_state::Basis::Ccl,
        Some(b) => b.parse().unwrap_or_else(|e: String| {
            problems.push(e);
            quire_state::Basis::Ccl
        }),
    };
    let request = quire_state::Request {
        library: given(&f.library),
        basis,
        basis_reference: given(&f.basis_reference),
        ..quire_state::Request::new(f.id.trim(), f.patron_name.trim(), f.patron_email.trim())
    }
    .with_citation(citation);
    problems.extend(
        requests::check(std::slice::from_ref(&request))
            .into_iter()
            .flat_map(|r| r.problems),
    );
    if !problems.is_empty() {
        let msg = format!("The request was not created: {}.", problems.join("; "));
        return Err(super::error_page(
            &staff,
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "Request not created",
            &msg,
        ));
    }
    let (actor, id) = (staff.actor(), request.id.clone());
    let deliverer = state.deliverer.clone();
    let matched = state
        .repo
        .run(move |db| {
            requests::add(
                db,
                &deliverer.config().config,
                std::slice::from_ref(&request),
                &actor,
            )
        })
        .await
        .map_err(|e| match e {
            AddError::Invalid(_) => super::error_page(
                &staff,
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "Request not created",
                &format!("The request was not created: {e}."),
            ),
            AddError::State(e) => super::state_failure(&staff, e),
        })?;
    // A scan that waited for this request, named for it, is matched now: say so.
    let mut note = "request created".to_string();
    for m in &matched {
        note.push_str(&format!(
            "; held scan {} was waiting for it: {}",
            m.job.id,
            m.summary()
        ));
    }
    Ok(done(
        &format!("/staff/requests/{}", super::urlencode(&id)),
        &note,
    ))
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    csrf: String,
    /// The request page to go back to.
    #[serde(default)]
    request: String,
    /// `links`: back to the links page instead of the request's.
    #[serde(default)]
    back: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    days: String,
    #[serde(default)]
    downloads: String,
}

fn back(f: &LinkForm) -> String {
    match f.back.as_str() {
        "links" => "/staff/links".to_string(),
        _ => format!("/staff/requests/{}", super::urlencode(&f.request)),
    }
}

/// Makes one staff change to link `id` as the signed-in member (the caller has checked the
/// area, the form's token and its fields), then goes back to the request with `note`.
async fn change_link(
    state: &AppState,
    staff: &Staff,
    id: String,
    f: &LinkForm,
    note: &str,
    change: impl FnOnce(&dyn quire_state::Database, &str, &str) -> Result<(), StateError>
    + Send
    + 'static,
) -> PageResult {
    let actor = staff.actor();
    blocking(state, staff, move |db| change(db, &id, &actor)).await?;
    Ok(done(&back(f), note))
}

pub async fn revoke(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<LinkForm>,
) -> PageResult {
    staff.require(Area::Requests)?;
    csrf::check(&staff, &f.csrf)?;
    let reason = Some(f.reason.trim().to_string()).filter(|r| !r.is_empty());
    change_link(
        &state,
        &staff,
        id,
        &f,
        "link revoked",
        move |db, id, actor| links::revoke(db, id, actor, reason.as_deref()),
    )
    .await
}

/// Unlocks a link that wrong pickup codes locked, as `quire link unlock` does.
pub async fn unlock(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<LinkForm>,
) -> PageResult {
    staff.require(Area::Requests)?;
    csrf::check(&staff, &f.csrf)?;
    change_link(&state, &staff, id, &f, "link unlocked", links::unlock).await
}

/// Parses an optional positive count from a form field; empty means "no change".
fn count(field: &str, what: &str) -> Result<Option<u32>, String> {
    let t = field.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<u32>() {
        Ok(n) if (1..=3650).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "{what} must be a whole number from 1 to 3650, not `{t}`"
        )),
    }
}

pub async fn extend(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<LinkForm>,
) -> PageResult {
    staff.require(Area::Requests)?;
    csrf::check(&staff, &f.csrf)?;
    let bad = |m: String| {
        super::error_page(
            &staff,
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "Not extended",
            &m,
        )
    };
    let days = count(&f.days, "Days").map_err(bad)?;
    let downloads = count(&f.downloads, "Downloads").map_err(bad)?;
    if days.is_none() && downloads.is_none() {
        return Err(bad("Give more days, more downloads, or both.".into()));
    }
    change_link(
        &state,
        &staff,
        id,
        &f,
        "link extended",
        move |db, id, actor| links::extend(db, id, actor, links::More { days, downloads }),
    )
    .await
}

/// Sends the link's e-mail again, as first written, while the link still works.
pub async fn resend(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<LinkForm>,
) -> PageResult {
    staff.require(Area::Requests)?;
    csrf::check(&staff, &f.csrf)?;
    change_link(&state, &staff, id, &f, "e-mail queued again", links::resend).await
}

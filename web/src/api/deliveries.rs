//! Deliveries and their links: list, get, a staff preview of the copy, and the link actions
//! (revoke, extend, resend, unlock) of `quire_service::links`, as the console's request page.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::model::{DeliveryView, LinkView};
use super::page::{self, Page, PageQuery};
use super::problem::{Code, Problem, ProblemDetails, Resource};
use super::{Body, Params, db};
use crate::AppState;
use quire_config::ApiScope;
use quire_domain::{Action, DeliveryState};
use quire_service::{deliveries, links};
use quire_state::{Database, StateError, Timestamp};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only deliveries held for copyright review.
    held: Option<bool>,
}

/// Deliveries, each with its newest link and where it stands.
#[utoipa::path(get, path = "/api/v1/deliveries", tag = "deliveries",
    params(DeliveryQuery, PageQuery),
    responses((status = 200, description = "A page of deliveries", body = Page<DeliveryView>)),
    security(("bearer" = ["read"])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(f): Params<DeliveryQuery>,
    Params(q): Params<PageQuery>,
) -> Result<Json<Page<DeliveryView>>, Problem> {
    caller.require(ApiScope::Read)?;
    q.checked()?;
    let held = f.held.unwrap_or(false);
    let all = db(&state, move |db| {
        deliveries::list(db, held, Timestamp::now())
    })
    .await
    .map_err(Problem::state(Resource::Delivery))?;
    Ok(Json(page::cut(
        all.into_iter().map(Into::into).collect(),
        q,
    )?))
}

/// One delivery.
#[utoipa::path(get, path = "/api/v1/deliveries/{id}", tag = "deliveries",
    params(("id" = String, Path, description = "The delivery id")),
    responses(
        (status = 200, description = "The delivery", body = DeliveryView),
        (status = 404, description = "No such delivery (`delivery.not_found`)", body = ProblemDetails),
    ),
    security(("bearer" = ["read"])))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DeliveryView>, Problem> {
    caller.require(ApiScope::Read)?;
    let lookup = id.clone();
    let found = db(&state, move |db| {
        deliveries::get(db, &lookup, Timestamp::now())
    })
    .await
    .map_err(Problem::state(Resource::Delivery))?
    .ok_or_else(|| Problem::new(Code::DeliveryNotFound, format!("no delivery {id}")))?;
    Ok(Json(found.into()))
}

/// Staff preview of a delivered copy: the same bytes the borrower gets, not counted against
/// the link, audited as a preview by the client.
#[utoipa::path(get, path = "/api/v1/deliveries/{id}/preview", tag = "deliveries",
    params(("id" = String, Path, description = "The delivery id")),
    responses(
        (status = 200, description = "The stamped copy", content_type = "application/pdf", body = Vec<u8>),
        (status = 404, description = "No such delivery (`delivery.not_found`)", body = ProblemDetails),
        (status = 410, description = "The copy was purged (`delivery.purged`)", body = ProblemDetails),
    ),
    security(("bearer" = ["read"])))]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::response::Response, Problem> {
    let actor = caller.require(ApiScope::Read)?.name.clone();
    let lookup = id.clone();
    let delivery = db(&state, move |db| db.delivery_get(&lookup))
        .await
        .map_err(Problem::state(Resource::Delivery))?
        .ok_or_else(|| Problem::new(Code::DeliveryNotFound, format!("no delivery {id}")))?;
    if delivery.state == DeliveryState::Purged {
        return Err(Problem::new(
            Code::DeliveryPurged,
            format!("delivery {id} was purged"),
        ));
    }
    let internal = |code: &str, e: String| {
        tracing::error!(code, error = %e, "API preview failed");
        Problem::new(Code::Internal, format!("{code} (see the daemon's log)"))
    };
    let hash = quire_delivery::ContentHash::parse(&delivery.stamped_sha256)
        .map_err(|e| internal(e.code(), e.to_string()))?;
    let body = state
        .deliverer
        .store()
        .get(&hash)
        .await
        .map_err(|e| internal(e.code(), e.to_string()))?;
    let event = quire_state::NewEvent::new(actor, Action::DeliveryPreviewed)
        .subject("delivery", &id)
        .subject("request", &delivery.request_id);
    db(&state, move |db| db.audit_append(event))
        .await
        .map_err(Problem::state(Resource::Delivery))?;
    let len = body.len();
    let mut resp = axum::response::Response::new(axum::body::Body::from_stream(body.into_stream()));
    let h = resp.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/pdf"),
    );
    h.insert(
        axum::http::header::CONTENT_LENGTH,
        axum::http::HeaderValue::from(len),
    );
    h.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// Only the links of this request.
    request: Option<String>,
}

/// Borrowers' download links.
#[utoipa::path(get, path = "/api/v1/links", tag = "links",
    params(LinkQuery, PageQuery),
    responses((status = 200, description = "A page of links", body = Page<LinkView>)),
    security(("bearer" = ["read"])))]
pub async fn links(
    State(state): State<AppState>,
    caller: Caller,
    Params(f): Params<LinkQuery>,
    Params(q): Params<PageQuery>,
) -> Result<Json<Page<LinkView>>, Problem> {
    caller.require(ApiScope::Read)?;
    q.checked()?;
    let deliverer = state.deliverer.clone();
    let all = db(&state, move |db| {
        let now = Timestamp::now();
        Ok(db
            .links_list(f.request.as_deref())?
            .into_iter()
            .map(|(l, d)| LinkView::of(l, &d, now, |id| deliverer.link_url(id)))
            .collect::<Vec<_>>())
    })
    .await
    .map_err(Problem::state(Resource::Link))?;
    Ok(Json(page::cut(all, q)?))
}

/// The link `id` as it stands, after `change` (if any) made as the caller.
async fn link_after(
    state: &AppState,
    id: String,
    actor: String,
    change: impl FnOnce(&dyn Database, &str, &str) -> Result<(), StateError> + Send + 'static,
) -> Result<Json<LinkView>, Problem> {
    let deliverer = state.deliverer.clone();
    let view = db(state, move |db| {
        change(db, &id, &actor)?;
        let (l, d) = db
            .link_get(&id)?
            .ok_or_else(|| StateError::NotFound(format!("no link {id}")))?;
        Ok(LinkView::of(l, &d, Timestamp::now(), |id| {
            deliverer.link_url(id)
        }))
    })
    .await
    .map_err(Problem::state(Resource::Link))?;
    Ok(Json(view))
}

/// One link.
#[utoipa::path(get, path = "/api/v1/links/{id}", tag = "links",
    params(("id" = String, Path, description = "The link id")),
    responses(
        (status = 200, description = "The link", body = LinkView),
        (status = 404, description = "No such link (`link.not_found`)", body = ProblemDetails),
    ),
    security(("bearer" = ["read"])))]
pub async fn link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<LinkView>, Problem> {
    let actor = caller.require(ApiScope::Read)?.name.clone();
    link_after(&state, id, actor, |_, _, _| Ok(())).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// Why, for the audit log.
    #[serde(default)]
    reason: Option<String>,
}

/// Ends a link for good; its downloads stop at once.
#[utoipa::path(post, path = "/api/v1/links/{id}/revoke", tag = "links",
    params(("id" = String, Path, description = "The link id")),
    request_body = RevokeBody,
    responses(
        (status = 200, description = "Revoked", body = LinkView),
        (status = 404, description = "No such link (`link.not_found`)", body = ProblemDetails),
        (status = 409, description = "The link cannot be revoked now (`link.conflict`)", body = ProblemDetails),
    ),
    security(("bearer" = ["write"])))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<RevokeBody>,
) -> Result<Json<LinkView>, Problem> {
    let actor = caller.require(ApiScope::Write)?.name.clone();
    let reason = body
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    link_after(&state, id, actor, move |db, id, actor| {
        links::revoke(db, id, actor, reason.as_deref())
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    /// Days more, from the current expiry (or from now if it has expired): 1 to 3650.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    days: Option<u32>,
    /// Downloads more: 1 to 3650.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    downloads: Option<u32>,
}

/// Gives a link more days, more downloads, or both.
#[utoipa::path(post, path = "/api/v1/links/{id}/extend", tag = "links",
    params(("id" = String, Path, description = "The link id")),
    request_body = ExtendBody,
    responses(
        (status = 200, description = "Extended", body = LinkView),
        (status = 404, description = "No such link (`link.not_found`)", body = ProblemDetails),
        (status = 409, description = "The link cannot be extended now (`link.conflict`)", body = ProblemDetails),
        (status = 422, description = "Neither days nor downloads, or out of range (`link.invalid`)", body = ProblemDetails),
    ),
    security(("bearer" = ["write"])))]
pub async fn extend(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<ExtendBody>,
) -> Result<Json<LinkView>, Problem> {
    let actor = caller.require(ApiScope::Write)?.name.clone();
    let in_range = |v: Option<u32>| v.is_none_or(|n| (1..=3650).contains(&n));
    if !in_range(body.days) || !in_range(body.downloads) {
        return Err(Problem::new(
            Code::LinkInvalid,
            "days and downloads must be whole numbers from 1 to 3650",
        ));
    }
    if body.days.is_none() && body.downloads.is_none() {
        return Err(Problem::new(
            Code::LinkInvalid,
            "give more days, more downloads, or both",
        ));
    }
    let more = links::More {
        days: body.days,
        downloads: body.downloads,
    };
    link_after(&state, id, actor, move |db, id, actor| {
        links::extend(db, id, actor, more)
    })
    .await
}

/// Queues the link's e-mail again, as first written, while the link still works.
#[utoipa::path(post, path = "/api/v1/links/{id}/resend", tag = "links",
    params(("id" = String, Path, description = "The link id")),
    responses(
        (status = 200, description = "The e-mail is queued again", body = LinkView),
        (status = 404, description = "No such link (`link.not_found`)", body = ProblemDetails),
        (status = 409, description = "The link does not work now (`link.conflict`)", body = ProblemDetails),
    ),
    security(("bearer" = ["write"])))]
pub async fn resend(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<LinkView>, Problem> {
    let actor = caller.require(ApiScope::Write)?.name.clone();
    link_after(&state, id, actor, links::resend).await
}

/// Lifts the lock that too many wrong pickup codes set.
#[utoipa::path(post, path = "/api/v1/links/{id}/unlock", tag = "links",
    params(("id" = String, Path, description = "The link id")),
    responses(
        (status = 200, description = "Unlocked", body = LinkView),
        (status = 404, description = "No such link (`link.not_found`)", body = ProblemDetails),
        (status = 409, description = "The link is not locked (`link.conflict`)", body = ProblemDetails),
    ),
    security(("bearer" = ["write"])))]
pub async fn unlock(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<LinkView>, Problem> {
    let actor = caller.require(ApiScope::Write)?.name.clone();
    link_after(&state, id, actor, links::unlock).await
}

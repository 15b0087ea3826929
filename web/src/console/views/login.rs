//! Signing in and out. The login form carries a double-submit token (cookie plus hidden field)
//! since there is no session yet; failed logins are counted per user name and per client
//! address, and past [`MAX_FAILURES`] in the window the form answers 429 without even checking
//! the password.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;

use super::PageResult;
use crate::AppState;
use crate::console::auth::{self, Area, FAILURE_WINDOW_MINUTES, MAX_FAILURES};
use crate::console::session::{self, COOKIE, LOGIN_COOKIE, SESSION_HOURS, Staff};
use crate::templates;
use quire_state::{StaffSession, Timestamp};

/// `/staff/`: each role starts on its own work.
pub async fn home(staff: Staff) -> Response {
    let to = if staff.role.may(Area::Jobs) {
        "/staff/jobs"
    } else if staff.role.may(Area::Compliance) {
        "/staff/compliance/held"
    } else {
        "/staff/requests"
    };
    Redirect::to(to).into_response()
}

fn login_page(state: &AppState, status: StatusCode, error: Option<&str>) -> Response {
    let token = auth::random_token();
    let html = templates::render(
        "login.html",
        context! { institution => state.institution.name.clone(), csrf => token.clone(), error },
    );
    let Ok(html) = html else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    };
    let mut resp = (status, Html(html)).into_response();
    let secure = state.console.secure_cookies;
    resp.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(LOGIN_COOKIE, &token, "/staff/login", 3600, secure),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    super::no_framing(&mut resp);
    resp
}

pub async fn form(State(state): State<AppState>) -> Response {
    login_page(&state, StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let expected = session::cookie_value(&headers, LOGIN_COOKIE).unwrap_or_default();
    if !auth::same_secret(&f.csrf, &expected) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("The form expired. Please sign in again."),
        );
    }
    let name = f.name.trim().to_string();
    let client = state.client(client, &headers).to_string();
    let keys = vec![format!("user:{name}"), format!("client:{client}")];
    let password = f.password;
    let (keys2, name2) = (keys.clone(), name.clone());
    let outcome = state
        .repo
        .call(
            move |db| -> Result<Result<String, &'static str>, quire_state::StateError> {
                let since = Timestamp::minutes_from_now(-FAILURE_WINDOW_MINUTES);
                for k in &keys2 {
                    if db.login_failures(k, since)? >= MAX_FAILURES {
                        return Ok(Err("limited"));
                    }
                }
                let user = db.user_get(&name2)?;
                let stored = user
                    .as_ref()
                    .map(|u| u.password.as_str())
                    .unwrap_or(auth::decoy_hash());
                let ok = auth::verify_password(&password, stored) && user.is_some();
                Ok(if ok { Ok(name2) } else { Err("wrong") })
            },
        )
        .await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
    };
    match outcome {
        Err("limited") => {
            let msg = format!(
                "Too many failed sign-ins. Wait {FAILURE_WINDOW_MINUTES} minutes and try again."
            );
            login_page(&state, StatusCode::TOO_MANY_REQUESTS, Some(&msg))
        }
        Err(_) => {
            let client2 = client.clone();
            let recorded = state
                .repo
                .call(move |db| db.login_failed(&keys, &name, &client2))
                .await;
            if recorded.is_err() {
                return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
            }
            login_page(
                &state,
                StatusCode::UNAUTHORIZED,
                Some("Wrong name or password."),
            )
        }
        Ok(user_name) => {
            let id = auth::random_token();
            let session = StaffSession {
                id_sha256: auth::sha256_hex(&id),
                user_name,
                csrf: auth::random_token(),
                created_at: Timestamp::now(),
                expires_at: Timestamp::minutes_from_now(SESSION_HOURS * 60),
            };
            // Only rows past any window that still counts may be pruned.
            let prune_before = Timestamp::minutes_from_now(-2 * FAILURE_WINDOW_MINUTES);
            let started = state
                .repo
                .call(move |db| db.session_start(&session, &client, &keys, prune_before))
                .await;
            if started.is_err() {
                return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
            }
            let secure = state.console.secure_cookies;
            let mut resp = Redirect::to("/staff/").into_response();
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                session::set_cookie(COOKIE, &id, "/staff", SESSION_HOURS * 3600, secure),
            );
            h.append(
                header::SET_COOKIE,
                session::set_cookie(LOGIN_COOKIE, "", "/staff/login", 0, secure),
            );
            resp
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    staff: Staff,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    crate::console::csrf::check(&staff, &f.csrf)?;
    let (hash, user) = (staff.session.id_sha256.clone(), staff.user.name.clone());
    super::blocking(&state, &staff, move |db| db.session_end(&hash, &user)).await?;
    let mut resp = Redirect::to("/staff/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(COOKIE, "", "/staff", 0, state.console.secure_cookies),
    );
    Ok(resp)
}

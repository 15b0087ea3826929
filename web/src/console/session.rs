//! Console sessions: the `quire_session` cookie (HttpOnly, SameSite=Strict, Secure when the
//! public URL is https), and [`Staff`], the extractor every staff page takes. Without a live
//! session a request is sent to the login page; a page outside the user's role gets 403.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::auth::{self, Area, Role};
use crate::AppState;
use quire_state::{StaffSession, StaffUser};

pub const COOKIE: &str = "quire_session";
/// The login form's double-submit token, before there is a session to hold one.
pub const LOGIN_COOKIE: &str = "quire_login";
pub const SESSION_HOURS: i64 = 12;

/// A signed-in staff member, read from the session cookie.
pub struct Staff {
    pub user: StaffUser,
    pub role: Role,
    pub session: StaffSession,
    /// The library's time zone, which every time on a console page is shown in.
    pub zone: quire_domain::Zone,
}

impl Staff {
    /// 403 unless the user's role opens `area`.
    // The refusal is the page itself, as axum handlers return it; it is built once per refusal.
    #[allow(clippy::result_large_err)]
    pub fn require(&self, area: Area) -> Result<(), Response> {
        if self.role.may(area) {
            Ok(())
        } else {
            Err(super::views::error_page(
                self,
                StatusCode::FORBIDDEN,
                "Not for your role",
                "This page is not part of your role in the console.",
            ))
        }
    }

    /// The actor recorded in the audit log.
    pub fn actor(&self) -> String {
        format!("staff:{}", self.user.name)
    }
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are hex")
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let to_login = || Redirect::to("/staff/login").into_response();
        let Some(id) = cookie_value(&parts.headers, COOKIE) else {
            return Err(to_login());
        };
        let hash = auth::sha256_hex(&id);
        let found = state
            .repo
            .call(move |db| db.session_get(&hash))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, code = e.code(), "reading a console session");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            })?;
        let Some((session, user)) = found else {
            return Err(to_login());
        };
        // A role edited to something unknown in the database signs the user out, not in.
        let Ok(role) = user.role.parse::<Role>() else {
            return Err(to_login());
        };
        Ok(Staff {
            user,
            role,
            session,
            zone: state.institution.time_zone.clone(),
        })
    }
}

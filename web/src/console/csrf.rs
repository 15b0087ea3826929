//! CSRF protection: every POST form carries the session's token in a hidden `csrf` field and
//! is refused (403) without it. SameSite=Strict cookies already stop most cross-site posts;
//! the token also covers browsers and proxies that do not honour SameSite.

use axum::http::StatusCode;
use axum::response::Response;

use super::auth::same_secret;
use super::session::Staff;

// The refusal is the page itself, as axum handlers return it; it is built once per refusal.
#[allow(clippy::result_large_err)]
pub fn check(staff: &Staff, submitted: &str) -> Result<(), Response> {
    if same_secret(submitted, &staff.session.csrf) {
        Ok(())
    } else {
        Err(super::views::error_page(
            staff,
            StatusCode::FORBIDDEN,
            "Form expired",
            "The form was missing its security token or it did not match this session. Go back, reload the page and try again.",
        ))
    }
}

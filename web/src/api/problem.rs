//! Errors as RFC 9457 problem details (`application/problem+json`), each with a stable `code`
//! a client can switch on. [`Code::ALL`] is the one list of codes; the README's API section
//! lists the same ones (a test checks).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use quire_state::StateError;

/// Every code the API answers with, and the HTTP status it comes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Unauthorised,
    Scope,
    BadRequest,
    NoRoute,
    Internal,
    RequestNotFound,
    RequestConflict,
    RequestInvalid,
    JobNotFound,
    JobConflict,
    JobInvalid,
    DeliveryNotFound,
    DeliveryPurged,
    LinkNotFound,
    LinkConflict,
    LinkInvalid,
}

impl Code {
    pub const ALL: [Code; 16] = [
        Code::Unauthorised,
        Code::Scope,
        Code::BadRequest,
        Code::NoRoute,
        Code::Internal,
        Code::RequestNotFound,
        Code::RequestConflict,
        Code::RequestInvalid,
        Code::JobNotFound,
        Code::JobConflict,
        Code::JobInvalid,
        Code::DeliveryNotFound,
        Code::DeliveryPurged,
        Code::LinkNotFound,
        Code::LinkConflict,
        Code::LinkInvalid,
    ];

    /// The stable code, as clients see it in `code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Unauthorised => "api.unauthorised",
            Code::Scope => "api.scope",
            Code::BadRequest => "api.bad_request",
            Code::NoRoute => "api.no_route",
            Code::Internal => "api.internal",
            Code::RequestNotFound => "request.not_found",
            Code::RequestConflict => "request.conflict",
            Code::RequestInvalid => "request.invalid",
            Code::JobNotFound => "job.not_found",
            Code::JobConflict => "job.conflict",
            Code::JobInvalid => "job.invalid",
            Code::DeliveryNotFound => "delivery.not_found",
            Code::DeliveryPurged => "delivery.purged",
            Code::LinkNotFound => "link.not_found",
            Code::LinkConflict => "link.conflict",
            Code::LinkInvalid => "link.invalid",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Code::Unauthorised => StatusCode::UNAUTHORIZED,
            Code::Scope => StatusCode::FORBIDDEN,
            Code::BadRequest => StatusCode::BAD_REQUEST,
            Code::NoRoute
            | Code::RequestNotFound
            | Code::JobNotFound
            | Code::DeliveryNotFound
            | Code::LinkNotFound => StatusCode::NOT_FOUND,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::RequestConflict | Code::JobConflict | Code::LinkConflict => StatusCode::CONFLICT,
            Code::RequestInvalid | Code::JobInvalid | Code::LinkInvalid => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Code::DeliveryPurged => StatusCode::GONE,
        }
    }

    /// The short, unchanging summary of the problem (RFC 9457 `title`).
    pub fn title(self) -> &'static str {
        match self {
            Code::Unauthorised => "Missing or unknown bearer token",
            Code::Scope => "The token's client lacks the scope this needs",
            Code::BadRequest => "Malformed request",
            Code::NoRoute => "No such API route",
            Code::Internal => "Internal error",
            Code::RequestNotFound => "No such request",
            Code::RequestConflict => "The request conflicts with one stored",
            Code::RequestInvalid => "The request is not valid",
            Code::JobNotFound => "No such job",
            Code::JobConflict => "The job is not in a state that allows this",
            Code::JobInvalid => "The job action is not valid",
            Code::DeliveryNotFound => "No such delivery",
            Code::DeliveryPurged => "The delivery was purged",
            Code::LinkNotFound => "No such link",
            Code::LinkConflict => "The link is not in a state that allows this",
            Code::LinkInvalid => "The link action is not valid",
        }
    }
}

/// An API error: its problem details, boxed, as every handler returns it.
#[derive(Debug)]
pub struct Problem(Box<ProblemDetails>);

/// An RFC 9457 problem detail; `code` is Quire's stable code (see the README's API section).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDetails {
    /// A URI naming the kind of problem: `urn:quire:problem:` and the code.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// The HTTP status, repeated.
    pub status: u16,
    /// What went wrong in this case.
    pub detail: String,
    /// The stable code, e.g. `request.not_found`.
    #[schema(schema_with = code_schema)]
    pub code: String,
    /// For `request.invalid`: every problem of every refused request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<RefusedRequest>,
}

/// The `code` of a problem: one of [`Code::ALL`].
fn code_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(Code::ALL.iter().map(|c| c.as_str())))
        .build()
}

/// A request refused at the door, with every problem found in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedRequest {
    pub id: String,
    pub problems: Vec<String>,
}

impl Problem {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Problem(Box::new(ProblemDetails {
            kind: format!("urn:quire:problem:{}", code.as_str()),
            title: code.title().into(),
            status: code.status().as_u16(),
            detail: detail.into(),
            code: code.as_str().into(),
            problems: Vec::new(),
        }))
    }

    /// With every problem of every refused request (`request.invalid`).
    pub fn with_problems(mut self, problems: Vec<RefusedRequest>) -> Self {
        self.0.problems = problems;
        self
    }

    /// A state error about a `what`: not found and conflict become that resource's codes;
    /// anything else is an internal error, logged here and not described to the client.
    pub fn state(what: Resource) -> impl Fn(StateError) -> Problem {
        move |e| match e {
            StateError::NotFound(m) => Problem::new(what.not_found(), m),
            StateError::Conflict(m) => Problem::new(what.conflict(), m),
            e => {
                tracing::error!(code = e.code(), error = %e, "API call failed");
                Problem::new(
                    Code::Internal,
                    format!("{} (see the daemon's log)", e.code()),
                )
            }
        }
    }
}

/// What a state error is about, for its code.
#[derive(Debug, Clone, Copy)]
pub enum Resource {
    Request,
    Job,
    Delivery,
    Link,
}

impl Resource {
    fn not_found(self) -> Code {
        match self {
            Resource::Request => Code::RequestNotFound,
            Resource::Job => Code::JobNotFound,
            Resource::Delivery => Code::DeliveryNotFound,
            Resource::Link => Code::LinkNotFound,
        }
    }

    fn conflict(self) -> Code {
        match self {
            Resource::Request => Code::RequestConflict,
            Resource::Job => Code::JobConflict,
            // A delivery's only changes go through its link.
            Resource::Delivery | Resource::Link => Code::LinkConflict,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(&*self.0)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes are what clients switch on: each is unique, and each is in the README.
    #[test]
    fn every_code_is_unique_and_in_the_readme() {
        let readme = include_str!("../../../README.md");
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
            assert!(
                readme.contains(&format!("`{}`", code.as_str())),
                "README's API section lacks `{}`",
                code.as_str()
            );
        }
    }
}

//! The OpenAPI 3.1 document of /api/v1, derived by `utoipa` from the handlers' annotations and
//! the types they read and write, then completed by [`Conventions`] with what every route
//! shares (the bearer scheme, 400/401/403 and their problem+json), so no route can forget them.

use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use super::{compliance, deliveries, jobs, requests};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Quire API",
        description = "Copy requests, scans (jobs), deliveries and links, the CONTU report and \
                       the audit log of a Quire node. Bearer tokens per client with the scopes \
                       `read`, `write` and `compliance`; errors are RFC 9457 problem details \
                       with a stable `code`; lists are paginated by `limit` and `offset`."
    ),
    paths(
        requests::create, requests::list, requests::get_one, requests::update, requests::cancel,
        jobs::list, jobs::get_one, jobs::release, jobs::hold, jobs::reprocess, jobs::match_request,
        deliveries::list, deliveries::get_one, deliveries::preview,
        deliveries::links, deliveries::link, deliveries::revoke, deliveries::extend,
        deliveries::resend, deliveries::unlock,
        compliance::contu, compliance::audit, compliance::audit_export,
    ),
    components(schemas(super::problem::ProblemDetails)),
    modifiers(&Conventions),
    tags(
        (name = "requests", description = "Copy requests (scope read; write to create)"),
        (name = "jobs", description = "Scans in custody (scope read; write for actions)"),
        (name = "deliveries", description = "Delivered copies (scope read)"),
        (name = "links", description = "Borrowers' links (scope read; write for actions)"),
        (name = "compliance", description = "CONTU report and audit log (scope compliance)"),
    )
)]
pub struct ApiDoc;

/// What every operation shares, added to each.
struct Conventions;

const PROBLEM: &str = "application/problem+json";

fn problem(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM,
            Content::new(Some(Ref::from_schema_name("ProblemDetails"))),
        )
        .build()
        .into()
}

impl Modify for Conventions {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token of `[[server.api_clients]]` (its scopes: read, write, \
                         compliance) or of the legacy `[server] api_tokens` (every scope). \
                         Each operation's security requirement names the scope it needs.",
                    ))
                    .build(),
            ),
        );
        for item in api.paths.paths.values_mut() {
            let ops: [&mut Option<Operation>; 3] = [&mut item.get, &mut item.post, &mut item.patch];
            for op in ops.into_iter().flatten() {
                // Handlers in different modules share names (`list`): the tag makes ids unique.
                if let (Some(tag), Some(id)) =
                    (op.tags.as_ref().and_then(|t| t.first()), &op.operation_id)
                {
                    op.operation_id = Some(format!("{tag}.{id}"));
                }
                let responses = &mut op.responses.responses;
                // Errors written on the route as plain JSON are problem+json: move them.
                for (status, response) in responses.iter_mut() {
                    if let (false, RefOr::T(r)) = (status.starts_with('2'), response)
                        && let Some(content) = r.content.shift_remove("application/json")
                    {
                        r.content.insert(PROBLEM.to_string(), content);
                    }
                }
                let takes_input = op.parameters.as_ref().is_some_and(|p| {
                    p.iter().any(|p| {
                        !matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path)
                    })
                }) || op.request_body.is_some();
                if takes_input {
                    responses
                        .entry("400".into())
                        .or_insert_with(|| problem("Malformed query or body (`api.bad_request`)"));
                }
                responses.entry("401".into()).or_insert_with(|| {
                    problem("Missing or unknown bearer token (`api.unauthorised`)")
                });
                responses
                    .entry("403".into())
                    .or_insert_with(|| problem("The client lacks the scope (`api.scope`)"));
                responses
                    .entry("500".into())
                    .or_insert_with(|| problem("The database failed (`api.internal`)"));
            }
        }
    }
}

/// `GET /api/v1/openapi.json`, without a token: the document describes, it grants nothing.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Every operation names its scope, and answers 401 and 403 (and any other error) as
    /// problem+json; `openapi-spec-validator` and `schemathesis` check the rest (tests/api.rs).
    #[test]
    fn every_operation_has_its_scope_and_problem_responses() {
        let doc: Value = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        let mut count = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                count += 1;
                let scope = &op["security"][0]["bearer"][0];
                assert!(
                    ["read", "write", "compliance"].contains(&scope.as_str().unwrap_or("")),
                    "{method} {path}: {scope}"
                );
                for (status, response) in op["responses"].as_object().unwrap() {
                    if !status.starts_with('2') {
                        let content = response["content"].as_object().unwrap();
                        assert_eq!(
                            content.keys().collect::<Vec<_>>(),
                            ["application/problem+json"],
                            "{method} {path} {status}"
                        );
                    }
                }
                for status in ["401", "403", "500"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path} {status}"
                    );
                }
            }
        }
        assert_eq!(count, 23);
    }
}

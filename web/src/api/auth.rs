//! Who is calling: the API client whose bearer token was presented (`[[server.api_clients]]`,
//! or a legacy `[server] api_tokens` token with every scope), and whether it may do this.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::problem::{Code, Problem};
use crate::AppState;
use quire_config::{ApiClient, ApiScope, LEGACY_API_CLIENT, ServerConfig};

/// Every client the API knows: the named ones, then one per legacy token.
pub fn clients(server: &ServerConfig) -> Vec<ApiClient> {
    let legacy = server.api_tokens.iter().map(|token| ApiClient {
        name: LEGACY_API_CLIENT.into(),
        token: token.clone(),
        scopes: ApiScope::ALL.to_vec(),
    });
    server.api_clients.iter().cloned().chain(legacy).collect()
}

/// The client a call came from, once its token is known.
pub struct Caller {
    /// Its name: the audit actor of the changes it makes.
    pub name: String,
    scopes: Vec<ApiScope>,
}

impl Caller {
    /// 403 `api.scope` unless the client has `scope`.
    pub fn require(&self, scope: ApiScope) -> Result<&Self, Problem> {
        if self.scopes.contains(&scope) {
            Ok(self)
        } else {
            Err(Problem::new(
                Code::Scope,
                format!(
                    "client `{}` lacks the `{}` scope this needs",
                    self.name,
                    scope.as_str()
                ),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    /// Compares digests, not the tokens, and looks at every client, so neither the length nor
    /// a common prefix of a valid token leaks through timing.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| Problem::new(Code::Unauthorised, "missing bearer token"))?;
        let presented = Sha256::digest(presented.trim().as_bytes());
        let mut found = None;
        for client in state.api_clients.iter() {
            let known = Sha256::digest(client.token.expose().as_bytes());
            let diff = presented
                .iter()
                .zip(known.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff == 0 && found.is_none() {
                found = Some(client);
            }
        }
        let client = found.ok_or_else(|| Problem::new(Code::Unauthorised, "unknown token"))?;
        Ok(Caller {
            name: client.name.clone(),
            scopes: client.scopes.clone(),
        })
    }
}

//! The state every handler shares, and how the daemon builds it from the configuration.

use std::net::SocketAddr;
use std::sync::Arc;

use quire_config::{InstitutionConfig, LoadedConfig, NodeConfig};
use quire_intake::health::Health;
use quire_service::deliver::Deliverer;
use quire_state::Repo;

use crate::client;

#[derive(Clone)]
pub struct AppState {
    pub repo: Repo,
    /// Who may call /api/v1, with what scopes (named clients and legacy tokens).
    pub api_clients: Arc<Vec<quire_config::ApiClient>>,
    pub deliverer: Arc<Deliverer>,
    pub institution: Arc<InstitutionConfig>,
    /// The staff console's settings (`crate::console`).
    pub console: Arc<Console>,
    /// Peers whose `X-Forwarded-For` is believed ([`client::address`]).
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    /// The inbox loop's and the workers' heartbeats, the disk, and the entries left alone.
    pub intake: Arc<Health>,
    /// This daemon's name and roles; without `web`, only `/healthz` is served.
    pub node: Arc<NodeConfig>,
}

impl AppState {
    /// The server's state for `config`, on the daemon's database, deliverer and intake health.
    pub fn new(
        config: &LoadedConfig,
        repo: Repo,
        deliverer: Arc<Deliverer>,
        intake: Arc<Health>,
    ) -> Self {
        let server = &config.config.server;
        AppState {
            repo,
            api_clients: Arc::new(crate::api::clients(server)),
            deliverer,
            institution: Arc::new(config.config.institution.clone()),
            console: Arc::new(Console::new(config)),
            trusted_proxies: Arc::new(server.trusted_proxies.clone()),
            intake,
            node: Arc::new(config.config.node.clone()),
        }
    }

    /// The client's address, as recorded in the audit log and used for sign-in limits.
    pub fn client(&self, peer: SocketAddr, headers: &axum::http::HeaderMap) -> std::net::IpAddr {
        client::address(peer, headers, &self.trusted_proxies)
    }
}

/// What the console needs beyond the shared server state.
pub struct Console {
    pub config: LoadedConfig,
    /// Cookies get `Secure` when borrowers and staff reach the server over https.
    pub secure_cookies: bool,
}

impl Console {
    pub fn new(config: &LoadedConfig) -> Self {
        let secure_cookies = config
            .config
            .server
            .public_url
            .trim()
            .to_ascii_lowercase()
            .starts_with("https://");
        Self {
            config: config.clone(),
            secure_cookies,
        }
    }
}

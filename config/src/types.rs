//! The configuration's shape. Every field is documented in `config/quire.toml`; a test keeps
//! the two in step.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize, Serializer};

use super::compliance::ComplianceConfig;
use super::delivery::{LinksConfig, MailConfig};
use super::iso18626::Iso18626Config;
use super::processing::ProcessingConfig;
use super::scanner::ScannerConfig;
use super::stamp::StampConfig;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub institution: InstitutionConfig,
    pub node: NodeConfig,
    pub server: ServerConfig,
    pub intake: IntakeConfig,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    pub processing: ProcessingConfig,
    pub stamp: StampConfig,
    pub scanner: ScannerConfig,
    pub links: LinksConfig,
    pub mail: MailConfig,
    pub compliance: ComplianceConfig,
    pub iso18626: Iso18626Config,
    pub review: super::review::ReviewConfig,
    pub preservation: super::preservation::PreservationConfig,
    /// `[[webhooks]]`: endpoints sent audit events as they are logged.
    pub webhooks: Vec<super::webhooks::Webhook>,
}

/// `[node]`: this daemon's name and the parts of Quire it runs. One box runs all three; a
/// scan station runs `intake`, an OCR machine `worker`, the public front `web`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Shown in `/healthz` and the audit log's daemon events. Default: the host's name.
    pub name: String,
    pub roles: Vec<NodeRole>,
    /// How long a worker's claim on a job lasts without a heartbeat; the node renews its
    /// claims every third of it.
    pub lease_secs: f64,
}

impl Default for NodeConfig {
    fn default() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        NodeConfig {
            name: if host.is_empty() {
                "quire".into()
            } else {
                host
            },
            roles: NodeRole::ALL.to_vec(),
            lease_secs: 60.0,
        }
    }
}

impl NodeConfig {
    pub fn has(&self, role: NodeRole) -> bool {
        self.roles.contains(&role)
    }

    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.lease_secs)
    }
}

/// A part of Quire a daemon runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Watches this node's inbox and takes scans into custody.
    Intake,
    /// Processes jobs from the queue, delivers them, sends notices and purges.
    Worker,
    /// Serves borrowers, the staff console and the API (`/healthz` is served by every node).
    Web,
}

impl NodeRole {
    pub const ALL: [NodeRole; 3] = [NodeRole::Intake, NodeRole::Worker, NodeRole::Web];

    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Intake => "intake",
            NodeRole::Worker => "worker",
            NodeRole::Web => "web",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstitutionConfig {
    pub name: String,
    pub contact: String,
    /// The zone every time shown to people is written in; storage stays UTC.
    pub time_zone: quire_domain::Zone,
}

impl Default for InstitutionConfig {
    fn default() -> Self {
        Self {
            name: "Example Library".into(),
            contact: "ill@example.org".into(),
            time_zone: quire_domain::Zone::utc(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_url: String,
    pub api_tokens: Vec<Secret>,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `[[server.api_clients]]`: API clients, each with its own token and scopes.
    pub api_clients: Vec<ApiClient>,
}

/// One system that calls /api/v1: its name (the audit actor of its changes), its bearer token,
/// and what it may do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiClient {
    pub name: String,
    pub token: Secret,
    pub scopes: Vec<ApiScope>,
}

/// What an API client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiScope {
    /// Read requests, jobs, deliveries and links.
    Read,
    /// Create requests, and act on jobs and links.
    Write,
    /// The CONTU report and the audit log.
    Compliance,
}

impl ApiScope {
    pub const ALL: [ApiScope; 3] = [ApiScope::Read, ApiScope::Write, ApiScope::Compliance];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::Read => "read",
            ApiScope::Write => "write",
            ApiScope::Compliance => "compliance",
        }
    }
}

/// The audit actor of calls made with a legacy `[server] api_tokens` token (all scopes).
pub const LEGACY_API_CLIENT: &str = "api";

/// The shortest API token accepted: a shorter one can be guessed, and an empty one would let
/// `Authorization: Bearer ` with nothing after it in.
pub const MIN_API_TOKEN_CHARS: usize = 16;

impl ServerConfig {
    /// Problems with `api_tokens` and `api_clients`, naming each token by its position or
    /// client, never by its value.
    pub fn check_api_tokens(&self, errors: &mut Vec<String>) {
        let count = self.api_tokens.len();
        let legacy = self.api_tokens.iter().enumerate().map(|(i, token)| {
            (
                format!("[server] api_tokens: token {} of {count}", i + 1),
                token,
            )
        });
        let clients = self.api_clients.iter().map(|c| {
            (
                format!("[[server.api_clients]] `{}`: token", c.name),
                &c.token,
            )
        });
        let mut names = std::collections::HashSet::new();
        for c in &self.api_clients {
            let which = format!("[[server.api_clients]] `{}`", c.name);
            if c.name.trim().is_empty() || c.name.trim() != c.name {
                errors.push(format!(
                    "{which}: name must be non-empty, without white space around it"
                ));
            } else if c.name == LEGACY_API_CLIENT {
                errors.push(format!(
                    "{which}: the name `{LEGACY_API_CLIENT}` is the actor of `api_tokens`; choose another"
                ));
            } else if !names.insert(c.name.as_str()) {
                errors.push(format!("{which}: the name is used twice"));
            }
            if c.scopes.is_empty() {
                errors.push(format!(
                    "{which}: scopes is empty; give one or more of read, write, compliance"
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (which, token) in legacy.chain(clients) {
            let text = token.expose();
            let chars = text.chars().count();
            if !text.is_empty() && !seen.insert(text) {
                // Two clients with one token could not be told apart in the audit log.
                errors.push(format!("{which} is the same as another API token"));
            }
            if chars < MIN_API_TOKEN_CHARS {
                errors.push(format!(
                    "{which} is {chars} characters long; use at least {MIN_API_TOKEN_CHARS} \
                     random ones (e.g. `openssl rand -hex 32`)"
                ));
            } else if text.trim() != text {
                // Presented tokens are trimmed, so this one could never match.
                errors.push(format!("{which} starts or ends with white space"));
            }
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            api_tokens: Vec::new(),
            trusted_proxies: Vec::new(),
            api_clients: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeConfig {
    pub inbox: PathBuf,
    pub settle_secs: f64,
    pub poll: bool,
    pub poll_interval_secs: f64,
    pub rescan_secs: f64,
    pub request_pattern: String,
    pub duplicates: DuplicatePolicy,
    pub keep_originals: bool,
    pub concurrent_jobs: usize,
    pub incomplete_grace_secs: f64,
    /// Tries a job gets when its processing panics, before it is failed and quarantined.
    pub max_attempts: u32,
    /// A worker or the inbox loop silent this long is reported stuck by `/healthz`.
    pub stuck_after_secs: f64,
    /// Intake pauses while less than this is free under the spool or the database.
    pub min_free_mb: u64,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            inbox: PathBuf::from("var/inbox"),
            settle_secs: 2.0,
            poll: false,
            poll_interval_secs: 2.0,
            rescan_secs: 30.0,
            request_pattern: r"^(?P<request>[A-Za-z]*[0-9]+)(?:[^A-Za-z0-9]|$)".into(),
            duplicates: DuplicatePolicy::Warn,
            keep_originals: false,
            concurrent_jobs: 2,
            incomplete_grace_secs: 120.0,
            max_attempts: 3,
            stuck_after_secs: 900.0,
            min_free_mb: 256,
        }
    }
}

/// What to do with a scan whose bytes match an earlier job's exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DuplicatePolicy {
    /// Process it, with a warning in the job's report and the audit log.
    Warn,
    /// Hold it for review without processing.
    Skip,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "backend", rename_all = "lowercase")]
pub enum DatabaseConfig {
    /// An embedded SQLite file; `path` defaults to `<data_dir>/quire.sqlite3`.
    Sqlite {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// A PostgreSQL server shared by several nodes. `url` is a secret (it may hold a
    /// password): masked in `config show`; set it from `QUIRE__DATABASE__URL` to keep it out
    /// of the file.
    Postgres {
        #[serde(default)]
        url: Option<Secret>,
        /// A file holding the URL (its first line), for a password kept out of this file and
        /// out of the environment: `url` or `url_file`, not both.
        #[serde(default)]
        url_file: Option<PathBuf>,
        /// At most this many connections from this node.
        #[serde(default = "default_pool_size")]
        pool_size: u32,
    },
}

fn default_pool_size() -> u32 {
    8
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self::Sqlite { path: None }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "backend", rename_all = "lowercase")]
pub enum StorageConfig {
    /// Objects under a local folder; `path` defaults to `<data_dir>/store`.
    Filesystem {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// Any S3-compatible object store.
    S3 {
        endpoint: Option<String>,
        #[serde(default = "default_region")]
        region: String,
        bucket: String,
        #[serde(default)]
        path_style: bool,
        #[serde(default)]
        access_key_id: Option<Secret>,
        #[serde(default)]
        secret_access_key: Option<Secret>,
    },
}

fn default_region() -> String {
    "us-east-1".into()
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self::Filesystem { path: None }
    }
}

/// A value that `config show` and logs never print.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"********\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("********")
    }
}

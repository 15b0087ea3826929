//! The configuration's shape. Every field is documented in `config/quire.toml`; a test keeps
//! the two in step.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize, Serializer};

use super::processing::ProcessingConfig;
use super::scanner::ScannerConfig;
use super::stamp::StampConfig;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub institution: InstitutionConfig,
    pub server: ServerConfig,
    pub intake: IntakeConfig,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    pub processing: ProcessingConfig,
    pub stamp: StampConfig,
    pub scanner: ScannerConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstitutionConfig {
    pub name: String,
    pub contact: String,
}

impl Default for InstitutionConfig {
    fn default() -> Self {
        Self { name: "Example Library".into(), contact: "ill@example.org".into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_url: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeConfig {
    pub inbox: PathBuf,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self { inbox: PathBuf::from("var/inbox") }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "backend", rename_all = "lowercase")]
pub enum DatabaseConfig {
    /// An embedded SQLite file; `path` defaults to `<data_dir>/quire.sqlite3`.
    Sqlite {
        #[serde(default)]
        path: Option<PathBuf>,
    },
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

//! Finding, reading, overriding, checking and resolving the configuration.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use super::types::*;
use super::{EMBEDDED_DEFAULT, env};

/// Where the configuration comes from: `--config`/`QUIRE_CONFIG`, else `./quire.toml`, else the
/// embedded default.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Embedded,
}

impl Source {
    pub fn resolve(explicit: Option<&Path>) -> Self {
        if let Some(p) = explicit {
            return Self::File(p.to_path_buf());
        }
        let local = Path::new("quire.toml");
        if local.is_file() {
            Self::File(local.to_path_buf())
        } else {
            Self::Embedded
        }
    }

    /// Relative paths in the file resolve against the file's folder; for the embedded default,
    /// against the working directory.
    fn base_dir(&self) -> PathBuf {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        match self {
            Self::File(p) => match p.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => cwd.join(dir),
                _ => cwd,
            },
            Self::Embedded => cwd,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Embedded => f.write_str("<embedded default>"),
        }
    }
}

/// Every problem found in one configuration, so they can all be fixed in one go.
#[derive(Debug)]
pub struct ConfigErrors {
    pub source: String,
    pub errors: Vec<String>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} error(s) in configuration {}:",
            self.errors.len(),
            self.source
        )?;
        for e in &self.errors {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A checked configuration with every path made absolute.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    pub source: String,
}

impl LoadedConfig {
    pub fn load(source: &Source) -> Result<Self, ConfigErrors> {
        let text = match source {
            Source::File(p) => std::fs::read_to_string(p).map_err(|e| ConfigErrors {
                source: source.to_string(),
                errors: vec![format!("cannot read {}: {e}", p.display())],
            })?,
            Source::Embedded => EMBEDDED_DEFAULT.to_string(),
        };
        Self::from_str(&text, source, std::env::vars())
    }

    pub fn from_str(
        text: &str,
        source: &Source,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<Self, ConfigErrors> {
        let mut errors = Vec::new();
        let fail = |errors| ConfigErrors {
            source: source.to_string(),
            errors,
        };
        let mut table: Table = match text.parse() {
            Ok(t) => t,
            Err(e) => return Err(fail(vec![format!("not valid TOML: {e}")])),
        };
        env::apply_overrides(&mut table, vars, &mut errors);
        let mut config = parse_sections(table, &mut errors);
        resolve_paths(&mut config, &source.base_dir());
        validate(&config, &mut errors);
        if errors.is_empty() {
            Ok(Self {
                config,
                source: source.to_string(),
            })
        } else {
            Err(fail(errors))
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// The PostgreSQL URL, from `url` or the first line of `url_file`; `None` for SQLite.
    pub fn database_url(&self) -> Result<Option<Secret>, String> {
        match &self.config.database {
            DatabaseConfig::Sqlite { .. } => Ok(None),
            DatabaseConfig::Postgres { url: Some(u), .. } => Ok(Some(u.clone())),
            DatabaseConfig::Postgres {
                url_file: Some(file),
                ..
            } => {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| format!("[database] url_file {}: {e}", file.display()))?;
                let url = text.lines().next().unwrap_or("").trim();
                if url.is_empty() {
                    return Err(format!("[database] url_file {}: empty", file.display()));
                }
                Ok(Some(Secret(url.to_string())))
            }
            DatabaseConfig::Postgres { .. } => {
                Err("[database] url: needed when backend = \"postgres\" (or url_file)".into())
            }
        }
    }

    /// The SQLite file; `None` when the database is a server (PostgreSQL).
    pub fn database_path(&self) -> Option<PathBuf> {
        match &self.config.database {
            DatabaseConfig::Sqlite { path } => Some(
                path.clone()
                    .unwrap_or_else(|| self.data_dir().join("quire.sqlite3")),
            ),
            DatabaseConfig::Postgres { .. } => None,
        }
    }

    pub fn quarantine_dir(&self) -> PathBuf {
        self.data_dir().join("quarantine")
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.config
            .mail
            .outbox
            .clone()
            .unwrap_or_else(|| self.data_dir().join("outbox"))
    }

    pub fn store_dir(&self) -> Option<PathBuf> {
        match &self.config.storage {
            StorageConfig::Filesystem { path } => Some(
                path.clone()
                    .unwrap_or_else(|| self.data_dir().join("store")),
            ),
            StorageConfig::S3 { .. } => None,
        }
    }

    /// The link key's file, and whether it was named (then it must exist; see `[links]`).
    pub fn link_key_file(&self) -> (PathBuf, bool) {
        match &self.config.links.key_file {
            Some(p) => (p.clone(), true),
            None => (self.data_dir().join("link.key"), false),
        }
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.data_dir().join("spool")
    }

    /// Whether a job's originals and processed PDFs go to the object store (`[storage]`), so
    /// that any node can process or deliver a scan another node took in. Follows the database:
    /// with PostgreSQL the queue is shared and another node may take the job; with SQLite (one
    /// box) the local spool is the only copy, as it always was.
    pub fn custody_in_store(&self) -> bool {
        matches!(self.config.database, DatabaseConfig::Postgres { .. })
    }
}

/// Each section is read on its own so that one bad section does not hide errors in the others.
fn parse_sections(mut table: Table, errors: &mut Vec<String>) -> Config {
    let data_dir = match table.remove("data_dir") {
        Some(Value::String(s)) => PathBuf::from(s),
        Some(other) => {
            errors.push(format!(
                "data_dir: expected a path string, found {}",
                other.type_str()
            ));
            PathBuf::from("var")
        }
        None => PathBuf::from("var"),
    };
    let config = Config {
        data_dir,
        institution: section(&mut table, "institution", errors),
        node: section(&mut table, "node", errors),
        server: section(&mut table, "server", errors),
        intake: section(&mut table, "intake", errors),
        database: section(&mut table, "database", errors),
        storage: section(&mut table, "storage", errors),
        processing: section(&mut table, "processing", errors),
        stamp: section(&mut table, "stamp", errors),
        scanner: section(&mut table, "scanner", errors),
        links: section(&mut table, "links", errors),
        mail: section(&mut table, "mail", errors),
        compliance: section(&mut table, "compliance", errors),
        iso18626: section(&mut table, "iso18626", errors),
        review: section(&mut table, "review", errors),
        preservation: section(&mut table, "preservation", errors),
        webhooks: super::webhooks::parse(table.remove("webhooks"), errors),
    };
    for key in table.keys() {
        errors.push(format!("unknown key `{key}` at the top level"));
    }
    config
}

fn section<T: DeserializeOwned + Default>(
    table: &mut Table,
    key: &str,
    errors: &mut Vec<String>,
) -> T {
    match table.remove(key) {
        None => T::default(),
        Some(value) => value.try_into().unwrap_or_else(|e: toml::de::Error| {
            errors.push(format!("[{key}]: {}", e.message().trim()));
            T::default()
        }),
    }
}

fn resolve_paths(config: &mut Config, base: &Path) {
    let abs = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    };
    abs(&mut config.data_dir);
    abs(&mut config.intake.inbox);
    match &mut config.database {
        DatabaseConfig::Sqlite { path: Some(p) } => abs(p),
        DatabaseConfig::Postgres {
            url_file: Some(p), ..
        } => abs(p),
        DatabaseConfig::Sqlite { path: None } | DatabaseConfig::Postgres { .. } => {}
    }
    if let StorageConfig::Filesystem { path: Some(p) } = &mut config.storage {
        abs(p);
    }
    if let Some(p) = &mut config.mail.outbox {
        abs(p);
    }
    if let Some(p) = &mut config.links.key_file {
        abs(p);
    }
    super::preservation::resolve(&mut config.preservation, base);
    super::webhooks::resolve(&mut config.webhooks, base);
}

fn validate(config: &Config, errors: &mut Vec<String>) {
    check_creatable("data_dir", &config.data_dir, errors);
    check_creatable("[intake] inbox", &config.intake.inbox, errors);
    if let StorageConfig::Filesystem { path: Some(p) } = &config.storage {
        check_creatable("[storage] path", p, errors);
    }
    config.processing.validate(errors);
    if let DatabaseConfig::Postgres {
        url,
        url_file,
        pool_size,
    } = &config.database
    {
        match (url, url_file) {
            (Some(_), Some(_)) => {
                errors.push("[database] url and url_file: give one, not both".into())
            }
            (None, None) => errors
                .push("[database] url: needed when backend = \"postgres\" (or url_file)".into()),
            (Some(u), None) => {
                if !(u.expose().starts_with("postgres://")
                    || u.expose().starts_with("postgresql://"))
                {
                    errors.push(
                        "[database] url: must start with postgres:// or postgresql://".into(),
                    );
                }
            }
            (None, Some(f)) => {
                if !f.is_file() {
                    errors.push(format!("[database] url_file {}: no such file", f.display()));
                }
            }
        }
        if *pool_size == 0 {
            errors.push("[database] pool_size: must be at least 1".into());
        }
    }
    if config.node.roles.is_empty() {
        errors.push("[node] roles: name at least one of \"intake\", \"worker\", \"web\"".into());
    }
    if !quire_domain::names::is_plain(&config.node.name, 64) {
        errors.push(format!(
            "[node] name `{}`: use 1 to 64 letters, digits, `.`, `_` or `-`",
            config.node.name
        ));
    }
    if !(config.node.lease_secs.is_finite() && (1.0..=86_400.0).contains(&config.node.lease_secs)) {
        errors.push("[node] lease_secs: must be between 1 and 86400 seconds".into());
    }
    if config.intake.concurrent_jobs == 0 {
        errors.push("[intake] concurrent_jobs: must be at least 1".into());
    }
    super::intake::validate(&config.intake, errors);
    super::iso18626::validate(&config.iso18626, errors);
    super::review::validate(&config.review, errors);
    super::preservation::validate(&config.preservation, errors);
    super::webhooks::validate(&config.webhooks, errors);
    // A preservation master's PDF is the job's PDF, byte for byte (its SHA-256 is the job's):
    // refused rather than silently written as PDF/A anyway, so that the delivered copies are
    // what the config says they are, and the conflict is seen where it was made.
    if config.preservation.enabled
        && config.processing.output_type != quire_pipeline::OutputType::Pdfa
    {
        errors.push(
            "[processing] output_type = \"pdf\" with [preservation] enabled: a preservation \
             master must be PDF/A-2b; set output_type = \"pdfa\" (the default)"
                .into(),
        );
    }
    if config.preservation.enabled
        && let Some(p) = &config.preservation.path
    {
        check_creatable("[preservation] path", p, errors);
    }
    let links = &config.links;
    if links.days == 0 || links.downloads == 0 {
        errors.push("[links] days and downloads must be at least 1".into());
    }
    links.check(errors);
    if config.mail.transport == super::delivery::MailTransport::Smtp && config.mail.host.is_empty()
    {
        errors.push("[mail] host: needed when transport = \"smtp\"".into());
    }
    for (key, text) in [
        ("subject", &config.mail.subject),
        ("body", &config.mail.body),
    ] {
        if let Some(t) = text
            && let Err(e) = quire_delivery::mail::Template::parse("mail", t)
        {
            errors.push(format!("[mail] {key}: {e}"));
        }
    }
    config.server.check_api_tokens(errors);
    let url = &config.server.public_url;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        errors.push(format!(
            "[server] public_url: `{url}` must start with http:// or https://"
        ));
    }
    if let StorageConfig::S3 {
        bucket, endpoint, ..
    } = &config.storage
    {
        if bucket.is_empty() {
            errors.push("[storage] bucket: must not be empty".into());
        }
        if let Some(ep) = endpoint
            && !(ep.starts_with("http://") || ep.starts_with("https://"))
        {
            errors.push(format!(
                "[storage] endpoint: `{ep}` must start with http:// or https://"
            ));
        }
    }
}

/// A path is fine when it is a folder already, or when its nearest existing ancestor is a folder
/// we could create it in. Checking never creates anything.
fn check_creatable(what: &str, path: &Path, errors: &mut Vec<String>) {
    let mut probe = path;
    loop {
        match std::fs::metadata(probe) {
            Ok(meta) if meta.is_dir() => {
                if meta.permissions().readonly() {
                    errors.push(format!("{what}: {} is read-only", probe.display()));
                }
                return;
            }
            Ok(_) => {
                errors.push(format!("{what}: {} is not a folder", probe.display()));
                return;
            }
            Err(_) => match probe.parent() {
                Some(parent) => probe = parent,
                None => {
                    errors.push(format!("{what}: {} cannot be reached", path.display()));
                    return;
                }
            },
        }
    }
}

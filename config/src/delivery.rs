//! `[links]` and `[mail]`: how borrowers get their copy.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::types::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinksConfig {
    pub days: u32,
    pub downloads: u32,
    pub pickup_code: bool,
    pub purge_after_days: u32,
    pub purge_interval_secs: u64,
    /// Wrong pickup codes allowed per link and per client within `pickup_window_minutes`.
    pub pickup_attempts: u32,
    pub pickup_window_minutes: u32,
    /// Wrong pickup codes (since the last unlock) that lock a link until staff unlock it.
    pub pickup_lock_after: u32,
    /// A range request not starting at byte 0 from a client whose download of the same link was
    /// counted within this many minutes is a resume, not a new download.
    pub download_session_minutes: u32,
    /// The key links' tokens are derived from. Several nodes must share one (each node's URLs
    /// for a link must agree): name a file every node has; default `<data_dir>/link.key`,
    /// created at first use.
    pub key_file: Option<std::path::PathBuf>,
}

impl LinksConfig {
    /// Problems with the pickup-code and download-session keys.
    pub fn check(&self, errors: &mut Vec<String>) {
        for (key, value) in [
            ("pickup_attempts", self.pickup_attempts),
            ("pickup_window_minutes", self.pickup_window_minutes),
            ("pickup_lock_after", self.pickup_lock_after),
            ("download_session_minutes", self.download_session_minutes),
        ] {
            if value == 0 {
                errors.push(format!("[links] {key}: must be at least 1"));
            }
        }
        if self.pickup_lock_after < self.pickup_attempts {
            errors.push(format!(
                "[links] pickup_lock_after ({}) must be at least pickup_attempts ({}), or a \
                 borrower's first few typos would lock the link",
                self.pickup_lock_after, self.pickup_attempts
            ));
        }
    }
}

impl Default for LinksConfig {
    fn default() -> Self {
        Self {
            days: 30,
            downloads: 5,
            pickup_code: false,
            purge_after_days: 30,
            purge_interval_secs: 3600,
            pickup_attempts: 5,
            pickup_window_minutes: 15,
            pickup_lock_after: 20,
            download_session_minutes: 60,
            key_file: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    Outbox,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    pub transport: MailTransport,
    pub from: String,
    pub outbox: Option<PathBuf>,
    pub host: String,
    pub port: u16,
    pub tls: MailTls,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub retry_attempts: u32,
    pub retry_base_secs: f64,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            transport: MailTransport::Outbox,
            from: "Example Library <ill@example.org>".into(),
            outbox: None,
            host: "localhost".into(),
            port: 25,
            tls: MailTls::Starttls,
            username: None,
            password: None,
            subject: None,
            body: None,
            retry_attempts: 5,
            retry_base_secs: 60.0,
        }
    }
}

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
}

impl Default for LinksConfig {
    fn default() -> Self {
        Self {
            days: 30,
            downloads: 5,
            pickup_code: false,
            purge_after_days: 30,
            purge_interval_secs: 3600,
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

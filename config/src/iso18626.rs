//! `[iso18626]`: Quire as a supplying library for its partners' ILL systems (Alma, ReShare,
//! Tipasa/WorldShare through brokers, ILLiad, Koha): who we are, and each peer, with its
//! credentials, the version it speaks and the status style it expects.

use serde::{Deserialize, Serialize};

use super::types::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Iso18626Config {
    /// Off by default: the endpoint answers 404 until a library turns it on.
    pub enabled: bool,
    /// Where peers send messages.
    pub path: String,
    /// Larger bodies are refused with 413 before they are read.
    pub max_body_bytes: usize,
    /// This library, as peers name it in `supplyingAgencyId`.
    pub agency_id_type: String,
    pub agency_id: String,
    /// Seconds before a status message that failed is sent again; doubles up to an hour.
    pub retry_secs: f64,
    /// Tries before a status message is marked failed (visible in `quire iso18626 outbox`).
    pub max_attempts: u32,
    pub peers: Vec<Peer>,
}

impl Default for Iso18626Config {
    fn default() -> Self {
        Self {
            enabled: false,
            path: "/iso18626".into(),
            max_body_bytes: 1024 * 1024,
            agency_id_type: "ISIL".into(),
            agency_id: String::new(),
            retry_secs: 30.0,
            max_attempts: 12,
            peers: Vec::new(),
        }
    }
}

/// A requesting library whose system sends us requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    pub name: String,
    #[serde(default = "isil")]
    pub agency_id_type: String,
    pub agency_id: String,
    /// Its ISO 18626 endpoint, where status messages go.
    pub url: String,
    /// `requestingAgencyAuthentication`: what the peer must send; both or neither.
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub security_code: Option<Secret>,
    #[serde(default)]
    pub version: PeerVersion,
    #[serde(default)]
    pub status_style: PeerStyle,
    /// Whether Quire e-mails the patron too; usually the borrowing library's own system does.
    #[serde(default)]
    pub notify_patron: bool,
}

fn isil() -> String {
    "ISIL".into()
}

/// The ISO 18626 version a peer speaks, and so the schema every message to it follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerVersion {
    /// ISO 18626:2017, schema version 1.2.
    #[default]
    #[serde(rename = "1.2")]
    V1_2,
    /// ISO 18626:2021 (schema 2021-2).
    #[serde(rename = "2021")]
    V2021,
}

/// How a peer wants its status messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerStyle {
    #[default]
    Standard,
    /// Alma's known deviations (see quire_iso18626::write::StatusStyle::Alma).
    Alma,
}

impl Iso18626Config {
    /// The peer with this agency id, compared as the standard's ids are (type and value,
    /// ignoring case).
    pub fn peer(&self, id_type: &str, id: &str) -> Option<&Peer> {
        self.peers.iter().find(|p| {
            p.agency_id.eq_ignore_ascii_case(id.trim())
                && p.agency_id_type.eq_ignore_ascii_case(id_type.trim())
        })
    }
}

pub(crate) fn validate(c: &Iso18626Config, errors: &mut Vec<String>) {
    if !c.path.starts_with('/')
        || c.path.len() < 2
        || !c.path[1..]
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_./".contains(ch))
    {
        errors.push(format!(
            "[iso18626] path `{}`: must start with / and hold only letters, digits, -, _, . and /",
            c.path
        ));
    }
    if c.max_body_bytes < 4096 {
        errors.push("[iso18626] max_body_bytes: at least 4096".into());
    }
    if !(c.retry_secs.is_finite() && c.retry_secs >= 1.0) {
        errors.push("[iso18626] retry_secs: at least 1 second".into());
    }
    if c.max_attempts == 0 {
        errors.push("[iso18626] max_attempts: at least 1".into());
    }
    if c.enabled && c.agency_id.trim().is_empty() {
        errors.push(
            "[iso18626] agency_id: needed when enabled (this library's id, e.g. its ISIL)".into(),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for (n, p) in c.peers.iter().enumerate() {
        let at = format!("[[iso18626.peers]] #{} ({})", n + 1, p.name);
        if p.agency_id.trim().is_empty() {
            errors.push(format!("{at}: agency_id is empty"));
        }
        if !seen.insert((
            p.agency_id_type.to_ascii_lowercase(),
            p.agency_id.trim().to_ascii_lowercase(),
        )) {
            errors.push(format!(
                "{at}: agency {}:{} is named twice",
                p.agency_id_type, p.agency_id
            ));
        }
        if !(p.url.starts_with("http://") || p.url.starts_with("https://")) {
            errors.push(format!("{at}: url must be http:// or https://"));
        }
        if p.account_id.is_some() != p.security_code.is_some() {
            errors.push(format!(
                "{at}: give account_id and security_code together, or neither"
            ));
        }
    }
}

//! `[[webhooks]]`: HTTP endpoints that are sent audit events (by default `job.held`,
//! `delivery.created` and `link.download`) as they enter the log, each POST signed with
//! HMAC-SHA256 under the endpoint's secret, retried with a doubling delay.
//!
//! An entry is read on its own, so that one bad entry does not hide the problems of the others,
//! and an unknown event name is reported next to, say, a name used twice.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use quire_domain::Action;

use super::types::Secret;

/// The events an endpoint gets when it names none: a job waiting for a person, a copy made,
/// a copy fetched by its borrower.
pub const DEFAULT_EVENTS: [Action; 3] = [
    Action::JobHeld,
    Action::DeliveryCreated,
    Action::LinkDownload,
];

/// The longest delay between two tries, however many failed before.
pub const MAX_RETRY_SECS: f64 = 3600.0;

/// One endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RawWebhook")]
pub struct Webhook {
    /// Unique; the key of its cursor in the database and the subject of its
    /// `webhook.failed` events.
    pub name: String,
    pub url: String,
    /// A file whose first line is the HMAC key: `secret_file` or `secret`, not both.
    pub secret_file: Option<PathBuf>,
    pub secret: Option<Secret>,
    /// Audit actions sent; every other event is passed over.
    pub events: Vec<Action>,
    /// Tries of one event before it is skipped (with a `webhook.failed` audit event).
    pub max_attempts: u32,
    /// Seconds before the second try; doubling, at most [`MAX_RETRY_SECS`].
    pub retry_base_secs: f64,
    /// Seconds one POST may take, connecting and answering, before it counts as failed.
    pub timeout_secs: f64,
}

impl Webhook {
    /// The HMAC key: `secret`, or the first line of `secret_file` (trimmed), read now so that a
    /// changed file is used from the next send on.
    pub fn key(&self) -> Result<Vec<u8>, String> {
        let text = match (&self.secret, &self.secret_file) {
            (Some(s), _) => s.expose().to_string(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map_err(|e| {
                    format!(
                        "[[webhooks]] `{}` secret_file {}: {e}",
                        self.name,
                        file.display()
                    )
                })?
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string(),
            (None, None) => String::new(),
        };
        if text.is_empty() {
            return Err(format!("[[webhooks]] `{}`: the secret is empty", self.name));
        }
        Ok(text.into_bytes())
    }

    /// Whether events of `action` (a stored name) go to this endpoint.
    pub fn wants(&self, action: &str) -> bool {
        self.events.iter().any(|a| a.names(action))
    }

    /// How long to wait after the `attempts`-th failed try: the base, doubled per earlier
    /// failure, capped at an hour.
    pub fn retry_delay(&self, attempts: u32) -> std::time::Duration {
        let doubled = self.retry_base_secs * 2f64.powi(attempts.saturating_sub(1).min(30) as i32);
        std::time::Duration::from_secs_f64(doubled.min(MAX_RETRY_SECS))
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout_secs)
    }
}

/// As written in the file: event names still text, so that an unknown one is reported by name
/// with the entry's other problems.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    name: String,
    url: String,
    #[serde(default)]
    secret_file: Option<PathBuf>,
    #[serde(default)]
    secret: Option<Secret>,
    #[serde(default = "default_events")]
    events: Vec<String>,
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(default = "default_retry_base_secs")]
    retry_base_secs: f64,
    #[serde(default = "default_timeout_secs")]
    timeout_secs: f64,
}

fn default_events() -> Vec<String> {
    DEFAULT_EVENTS
        .iter()
        .map(|a| a.as_str().to_string())
        .collect()
}
fn default_max_attempts() -> u32 {
    8
}
fn default_retry_base_secs() -> f64 {
    5.0
}
fn default_timeout_secs() -> f64 {
    10.0
}

impl RawWebhook {
    /// The endpoint with the events that parse; each that does not is an error naming it.
    fn typed(self, at: &str, errors: &mut Vec<String>) -> Webhook {
        let mut events = Vec::new();
        if self.events.is_empty() {
            errors.push(format!(
                "{at}: events is empty; name at least one audit action"
            ));
        }
        for name in &self.events {
            match name.parse::<Action>() {
                Ok(a) => events.push(a),
                Err(e) => errors.push(format!("{at}: events: {e}")),
            }
        }
        Webhook {
            name: self.name,
            url: self.url,
            secret_file: self.secret_file,
            secret: self.secret,
            events,
            max_attempts: self.max_attempts,
            retry_base_secs: self.retry_base_secs,
            timeout_secs: self.timeout_secs,
        }
    }
}

impl TryFrom<RawWebhook> for Webhook {
    type Error = String;
    fn try_from(raw: RawWebhook) -> Result<Self, String> {
        let mut errors = Vec::new();
        let at = format!("[[webhooks]] `{}`", raw.name);
        let hook = raw.typed(&at, &mut errors);
        if errors.is_empty() {
            Ok(hook)
        } else {
            Err(errors.join("; "))
        }
    }
}

/// Reads the top-level `webhooks` array, entry by entry.
pub(crate) fn parse(value: Option<toml::Value>, errors: &mut Vec<String>) -> Vec<Webhook> {
    let items = match value {
        None => return Vec::new(),
        Some(toml::Value::Array(items)) => items,
        Some(other) => {
            errors.push(format!(
                "webhooks: expected [[webhooks]] tables, found {}",
                other.type_str()
            ));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (n, item) in items.into_iter().enumerate() {
        let named = item
            .get("name")
            .and_then(|v| v.as_str())
            .map(|s| format!(" `{s}`"))
            .unwrap_or_default();
        let at = format!("[[webhooks]] #{}{named}", n + 1);
        match item.try_into::<RawWebhook>() {
            Ok(raw) => out.push(raw.typed(&at, errors)),
            Err(e) => errors.push(format!("{at}: {}", e.message().trim())),
        }
    }
    out
}

pub(crate) fn resolve(hooks: &mut [Webhook], base: &std::path::Path) {
    for h in hooks {
        if let Some(p) = &mut h.secret_file
            && p.is_relative()
        {
            *p = base.join(&*p);
        }
    }
}

pub(crate) fn validate(hooks: &[Webhook], errors: &mut Vec<String>) {
    let mut names = std::collections::BTreeSet::new();
    for (n, h) in hooks.iter().enumerate() {
        let at = format!("[[webhooks]] #{} `{}`", n + 1, h.name);
        if !quire_domain::names::is_plain(&h.name, 64) {
            errors.push(format!(
                "{at}: name: use 1 to 64 letters, digits, `.`, `_` or `-`"
            ));
        } else if !names.insert(h.name.as_str()) {
            errors.push(format!("{at}: the name is used twice"));
        }
        let rest = h
            .url
            .strip_prefix("https://")
            .or_else(|| h.url.strip_prefix("http://"));
        match rest {
            Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace) => {
            }
            _ => errors.push(format!(
                "{at}: url `{}` must be http:// or https:// and a host",
                h.url
            )),
        }
        match (&h.secret, &h.secret_file) {
            (Some(_), Some(_)) => errors.push(format!("{at}: give secret or secret_file, not both")),
            (None, None) => errors.push(format!(
                "{at}: secret_file (or secret) is needed: the key the receiver checks signatures with"
            )),
            (Some(s), None) if s.expose().trim().is_empty() => {
                errors.push(format!("{at}: secret is empty"))
            }
            (None, Some(f)) if !f.is_file() => {
                errors.push(format!("{at}: secret_file {}: no such file", f.display()))
            }
            _ => {}
        }
        if h.max_attempts == 0 {
            errors.push(format!("{at}: max_attempts: at least 1"));
        }
        if !(h.retry_base_secs.is_finite() && h.retry_base_secs > 0.0) {
            errors.push(format!("{at}: retry_base_secs: more than 0 seconds"));
        }
        if !(h.timeout_secs.is_finite() && h.timeout_secs > 0.0 && h.timeout_secs <= 300.0) {
            errors.push(format!("{at}: timeout_secs: between 0 and 300 seconds"));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::load_for_test as load;
    use crate::{LoadedConfig, Source};

    /// Defaults, the secret masked when shown, and a relative secret file found beside the
    /// config file.
    #[test]
    fn an_endpoint_gets_the_three_events_by_default_and_its_secret_is_masked() {
        let loaded = load(
            "[[webhooks]]\nname = \"ill\"\nurl = \"https://ill.example.edu/hook\"\nsecret = \"hunter2hunter2\"\n",
        )
        .unwrap();
        let hook = &loaded.config.webhooks[0];
        assert_eq!(hook.events, super::DEFAULT_EVENTS.to_vec());
        assert_eq!(
            (hook.max_attempts, hook.retry_base_secs, hook.timeout_secs),
            (8, 5.0, 10.0)
        );
        assert!(hook.wants("link.download") && !hook.wants("job.received"));
        assert_eq!(hook.key().unwrap(), b"hunter2hunter2");
        assert_eq!(hook.retry_delay(1).as_secs_f64(), 5.0);
        assert_eq!(hook.retry_delay(3).as_secs_f64(), 20.0);
        assert_eq!(hook.retry_delay(40).as_secs_f64(), super::MAX_RETRY_SECS);
        let shown = toml::to_string(&loaded.config).unwrap();
        assert!(
            !shown.contains("hunter2") && shown.contains("link.download"),
            "{shown}"
        );

        let dir = tempfile_dir();
        std::fs::write(dir.join("hook.secret"), "s3cret\n").unwrap();
        let config = dir.join("quire.toml");
        let text = "[[webhooks]]\nname = \"ill\"\nurl = \"http://127.0.0.1:9/x\"\n\
                    secret_file = \"hook.secret\"\nevents = [\"webhook.failed\"]\n";
        let loaded =
            LoadedConfig::from_str(text, &Source::File(config), std::iter::empty()).unwrap();
        let hook = &loaded.config.webhooks[0];
        assert_eq!(
            hook.secret_file.as_deref(),
            Some(dir.join("hook.secret").as_path())
        );
        assert_eq!(hook.key().unwrap(), b"s3cret");
        assert_eq!(hook.events, vec![quire_domain::Action::WebhookFailed]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// An unknown event name, a name used twice and every other problem, all in one report.
    #[test]
    fn unknown_events_and_duplicate_names_are_reported_together() {
        let err = load(
            "[[webhooks]]\nname = \"ill\"\nurl = \"https://a.example/h\"\nsecret = \"k\"\n\
             events = [\"delivery.created\", \"link.downloaded\"]\n\
             [[webhooks]]\nname = \"ill\"\nurl = \"ftp://b.example/h\"\n\
             [[webhooks]]\nname = \"other\"\nurl = \"https://c.example\"\nsecret = \"k\"\n\
             max_attempts = 0\nretry_base_secs = -1\ntimeout_secs = 0\nevents = []\n\
             [[webhooks]]\nname = \"typo\"\nurl = \"https://d.example\"\nsecret = \"k\"\nretries = 3\n",
        )
        .unwrap_err();
        for expected in [
            "[[webhooks]] #1 `ill`: events: unknown audit action `link.downloaded`",
            "[[webhooks]] #2 `ill`: the name is used twice",
            "[[webhooks]] #2 `ill`: url `ftp://b.example/h`",
            "[[webhooks]] #2 `ill`: secret_file (or secret) is needed",
            "[[webhooks]] #3 `other`: events is empty",
            "[[webhooks]] #3 `other`: max_attempts",
            "[[webhooks]] #3 `other`: retry_base_secs",
            "[[webhooks]] #3 `other`: timeout_secs",
            "[[webhooks]] #4 `typo`: unknown field `retries`",
        ] {
            assert!(err.contains(expected), "{expected} not in {err}");
        }
        let err = load(
            "[[webhooks]]\nname = \"x\"\nurl = \"https://a.example\"\nsecret = \"k\"\nsecret_file = \"/nonexistent/k\"\n",
        )
        .unwrap_err();
        assert!(err.contains("not both"), "{err}");
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("quire-webhooks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

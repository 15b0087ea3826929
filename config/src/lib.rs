//! Configuration: one TOML file, documented key by key in `config/quire.toml`, which is also
//! the embedded default.
//!
//! Loading reports every error at once (unknown keys, bad values, unreachable paths) rather than
//! stopping at the first, because an operator fixing a config file wants the whole list.
//!
//! The config builds each component's options (`ProcessingConfig::to_options`, the stamp and
//! scanner profiles, the store spec), so it knows their types; it opens nothing itself: no
//! database, store, socket or mailer. The binary does that wiring.

/// `[compliance]`: its shape and defaults are the domain's rules.
pub mod compliance {
    pub use quire_domain::compliance::ComplianceConfig;
}
pub mod delivery;
mod env;
mod intake;
mod load;
pub mod processing;
pub mod scanner;
pub mod stamp;
mod types;

pub use load::{LoadedConfig, Source};
pub use types::*;

/// The documented default configuration, compiled in so `quire` runs with no file at all.
pub const EMBEDDED_DEFAULT: &str = include_str!("../quire.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn key_paths(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
        if let toml::Value::Table(t) = value {
            for (k, v) in t {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if v.is_table() {
                    key_paths(v, &path, out);
                } else {
                    out.push(path);
                }
            }
        }
    }

    #[test]
    fn the_default_file_parses_with_no_errors() {
        let loaded =
            LoadedConfig::from_str(EMBEDDED_DEFAULT, &Source::Embedded, std::iter::empty());
        assert!(loaded.is_ok(), "{}", loaded.unwrap_err());
    }

    #[test]
    fn a_node_needs_a_role_and_a_plain_name() {
        let text = "[node]\nname = \"station 1\"\nroles = []\n";
        let err = LoadedConfig::from_str(text, &Source::Embedded, std::iter::empty())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[node] roles") && err.contains("[node] name `station 1`"),
            "{err}"
        );
        let text = "[node]\nroles = [\"scanner\"]\n";
        let err = LoadedConfig::from_str(text, &Source::Embedded, std::iter::empty())
            .unwrap_err()
            .to_string();
        assert!(err.contains("[node]") && err.contains("scanner"), "{err}");
    }

    /// Every key the program knows appears in `config/quire.toml`, set or in a comment, so the
    /// documented default never falls behind the code.
    #[test]
    fn every_key_is_documented_in_the_default_file() {
        let loaded =
            LoadedConfig::from_str(EMBEDDED_DEFAULT, &Source::Embedded, std::iter::empty())
                .unwrap();
        let value = toml::Value::try_from(&loaded.config).unwrap();
        let mut paths = Vec::new();
        key_paths(&value, "", &mut paths);
        let text_lines: Vec<&str> = EMBEDDED_DEFAULT
            .lines()
            .map(|l| l.trim_start_matches(['#', ' ']))
            .collect();
        let undocumented: Vec<&String> = paths
            .iter()
            .filter(|p| {
                let key = p.rsplit('.').next().unwrap();
                !text_lines.iter().any(|l| {
                    l.starts_with(&format!("{key} =")) || l.starts_with(&format!("{key}="))
                })
            })
            .collect();
        assert!(
            undocumented.is_empty(),
            "keys missing from config/quire.toml: {undocumented:?}"
        );
    }
}

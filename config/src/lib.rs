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
pub mod iso18626;
mod load;
pub mod preservation;
pub mod processing;
pub mod review;
pub mod scanner;
pub mod stamp;
mod types;
pub mod webhooks;

pub use load::{LoadedConfig, Source};
pub use types::*;

/// The documented default configuration, compiled in so `quire` runs with no file at all.
pub const EMBEDDED_DEFAULT: &str = include_str!("../quire.toml");

/// `text` loaded as a config file with no environment, its errors as one string: for the
/// section modules' tests.
#[cfg(test)]
pub(crate) fn load_for_test(text: &str) -> Result<LoadedConfig, String> {
    LoadedConfig::from_str(text, &Source::Embedded, std::iter::empty()).map_err(|e| e.to_string())
}

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

    /// Peers: every problem named at once, the security code masked when shown, and a peer
    /// found by its agency id in any case.
    #[test]
    fn iso18626_peers_are_checked_together_and_their_codes_masked() {
        let text = "[iso18626]\nenabled = true\nagency_id = \"US-XYZ\"\n\
                    [[iso18626.peers]]\nname = \"State U\"\nagency_id = \"US-ABC\"\n\
                    url = \"https://ill.example.edu/iso18626\"\naccount_id = \"quire\"\n\
                    security_code = \"hunter2\"\nversion = \"2021\"\nstatus_style = \"alma\"\n";
        let loaded = LoadedConfig::from_str(text, &Source::Embedded, std::iter::empty()).unwrap();
        let ill = &loaded.config.iso18626;
        let peer = ill.peer("isil", "us-abc").expect("found in any case");
        assert_eq!(peer.version, iso18626::PeerVersion::V2021);
        assert_eq!(peer.status_style, iso18626::PeerStyle::Alma);
        assert!(!peer.notify_patron);
        assert!(ill.peer("ISIL", "US-OTHER").is_none());
        let shown = toml::to_string(&loaded.config).unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");

        let text = "[iso18626]\nenabled = true\npath = \"iso\"\n\
                    [[iso18626.peers]]\nname = \"A\"\nagency_id = \"US-A\"\nurl = \"ftp://x\"\naccount_id = \"a\"\n\
                    [[iso18626.peers]]\nname = \"B\"\nagency_id = \"us-a\"\nurl = \"http://x\"\n";
        let err = LoadedConfig::from_str(text, &Source::Embedded, std::iter::empty())
            .unwrap_err()
            .to_string();
        for expected in [
            "[iso18626] agency_id",
            "[iso18626] path",
            "#1 (A): url",
            "#1 (A): give account_id and security_code together",
            "#2 (B): agency ISIL:us-a is named twice",
        ] {
            assert!(err.contains(expected), "{expected} not in {err}");
        }
        let err = LoadedConfig::from_str(
            "[[iso18626.peers]]\nname = \"A\"\nagency_id = \"US-A\"\nurl = \"http://x\"\nversion = \"1.1\"\n",
            &Source::Embedded,
            std::iter::empty(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("[iso18626]") && err.contains("1.1"), "{err}");
    }

    /// `[review]` overrides a finding's action by its code; an unknown code is named.
    #[test]
    fn review_actions_default_by_code_and_unknown_codes_are_refused() {
        use review::ReviewAction;
        let loaded = LoadedConfig::from_str(
            "[review]\n\"quality.too_skewed\" = \"hold\"\n\"page.dpi_assumed\" = \"ignore\"\n",
            &Source::Embedded,
            std::iter::empty(),
        )
        .unwrap();
        let review = &loaded.config.review;
        assert_eq!(review.action("quality.too_skewed"), ReviewAction::Hold);
        assert_eq!(review.action("page.dpi_assumed"), ReviewAction::Ignore);
        assert_eq!(
            review.action("quality.low_ocr_confidence"),
            ReviewAction::Hold
        );
        assert_eq!(
            review.action("page.text_layer_replaced"),
            ReviewAction::Note
        );
        assert_eq!(review.action("something.new"), ReviewAction::Hold);
        let err = LoadedConfig::from_str(
            "[review]\n\"quality.too_skewd\" = \"note\"\n\"scan.blank\" = \"maybe\"\n",
            &Source::Embedded,
            std::iter::empty(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("[review]"), "{err}");
        let err = LoadedConfig::from_str(
            "[review]\n\"quality.too_skewd\" = \"note\"\n",
            &Source::Embedded,
            std::iter::empty(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`quality.too_skewd`: not a finding code"),
            "{err}"
        );
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

    /// `backend = "postgres"`: the URL from the file or from `url_file`, masked when shown;
    /// a missing URL, both at once, or a zero pool is refused by key.
    #[test]
    fn a_postgres_database_takes_its_url_from_the_file_or_a_url_file_and_masks_it() {
        let text = "[database]\nbackend = \"postgres\"\nurl = \"postgres://quire:hunter2@db:5432/quire\"\n";
        let loaded = LoadedConfig::from_str(text, &Source::Embedded, std::iter::empty()).unwrap();
        match &loaded.config.database {
            DatabaseConfig::Postgres { pool_size, .. } => assert_eq!(*pool_size, 8),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            loaded.database_url().unwrap().unwrap().expose(),
            "postgres://quire:hunter2@db:5432/quire"
        );
        assert_eq!(loaded.database_path(), None);
        let shown = toml::to_string(&loaded.config).unwrap();
        assert!(
            !shown.contains("hunter2") && shown.contains("********"),
            "{shown}"
        );
        assert!(!format!("{:?}", loaded.config).contains("hunter2"));

        let file = std::env::temp_dir().join(format!("quire-db-url-{}", std::process::id()));
        std::fs::write(&file, "postgres://quire:s3cret@db/quire\n").unwrap();
        let text = format!(
            "[database]\nbackend = \"postgres\"\nurl_file = \"{}\"\npool_size = 3\n",
            file.display()
        );
        let loaded = LoadedConfig::from_str(&text, &Source::Embedded, std::iter::empty()).unwrap();
        assert_eq!(
            loaded.database_url().unwrap().unwrap().expose(),
            "postgres://quire:s3cret@db/quire"
        );
        std::fs::remove_file(&file).unwrap();

        for (text, key) in [
            ("[database]\nbackend = \"postgres\"\n", "[database] url"),
            (
                "[database]\nbackend = \"postgres\"\nurl = \"postgres://a/b\"\nurl_file = \"x\"\n",
                "url_file",
            ),
            (
                "[database]\nbackend = \"postgres\"\nurl = \"postgres://a/b\"\npool_size = 0\n",
                "[database] pool_size",
            ),
            (
                "[database]\nbackend = \"postgres\"\nurl = \"mysql://a/b\"\n",
                "[database] url",
            ),
        ] {
            let err = LoadedConfig::from_str(text, &Source::Embedded, std::iter::empty())
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{text}: {err}");
        }

        // The generic environment override reaches the URL too.
        let vars = [
            (
                "QUIRE__DATABASE__BACKEND".to_string(),
                "postgres".to_string(),
            ),
            (
                "QUIRE__DATABASE__URL".to_string(),
                "postgres://env@db/quire".to_string(),
            ),
        ];
        let loaded = LoadedConfig::from_str("", &Source::Embedded, vars.into_iter()).unwrap();
        assert_eq!(
            loaded.database_url().unwrap().unwrap().expose(),
            "postgres://env@db/quire"
        );
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

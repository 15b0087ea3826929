//! `[scanner]`: the SANE device to use by default, capture profiles, and how `quire scan` writes
//! its output. Profiles themselves (what they mean to a device) live in the scanner-driver crate;
//! this only holds the operator's choices.

use std::collections::BTreeMap;

use quire_scanner_driver::{Compression, Profile};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScannerConfig {
    /// SANE device name; empty means the first device found.
    pub device: String,
    /// Profile used when `quire scan` is given none.
    pub profile: String,
    pub compression: Compression,
    /// Leave out blank back sides of duplex scans (the pipeline's blank test decides).
    pub skip_blank_backs: bool,
    /// Profiles by name; `generic` and `scansnap-ix1500` exist even when not listed.
    pub profiles: BTreeMap<String, Profile>,
}

impl Default for ScannerConfig {
    fn default() -> Self {
        let profiles = [Profile::GENERIC, Profile::SCANSNAP_IX1500]
            .into_iter()
            .filter_map(|name| Some((name.to_string(), Profile::builtin(name)?)))
            .collect();
        Self {
            device: String::new(),
            profile: Profile::GENERIC.into(),
            compression: Compression::None,
            skip_blank_backs: false,
            profiles,
        }
    }
}

impl ScannerConfig {
    /// A configured profile, else a built-in one of that name.
    pub fn profile(&self, name: &str) -> Option<Profile> {
        self.profiles
            .get(name)
            .cloned()
            .or_else(|| Profile::builtin(name))
    }

    pub fn profile_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.profiles.keys().cloned().collect();
        for builtin in [Profile::GENERIC, Profile::SCANSNAP_IX1500] {
            if !names.iter().any(|n| n == builtin) {
                names.push(builtin.into());
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedded() -> ScannerConfig {
        let table: toml::Table = crate::EMBEDDED_DEFAULT.parse().unwrap();
        table["scanner"].clone().try_into().unwrap()
    }

    #[test]
    fn the_documented_profiles_are_the_built_in_ones() {
        let config = embedded();
        assert_eq!(config.profiles.get("generic"), Some(&Profile::generic()));
        assert_eq!(
            config.profiles.get("scansnap-ix1500"),
            Some(&Profile::scansnap_ix1500())
        );
        assert_eq!(config.profile, ScannerConfig::default().profile);
    }

    #[test]
    fn built_in_profiles_survive_a_config_that_lists_others() {
        let config: ScannerConfig =
            toml::from_str("[profiles.mine]\ndpi = 200\nmode = \"color\"\n").unwrap();
        assert_eq!(config.profile("mine").and_then(|p| p.dpi), Some(200.0));
        assert_eq!(
            config.profile("scansnap-ix1500"),
            Some(Profile::scansnap_ix1500())
        );
        assert!(config.profile("nonesuch").is_none());
        assert!(toml::from_str::<ScannerConfig>("[profiles.bad]\ncolour = \"red\"\n").is_err());
    }
}

//! `[preservation]`: preservation masters. When enabled, every job the daemon delivers also
//! leaves a BagIt bag (RFC 8493) of its originals, processed PDF and quality report, either in
//! `path`, a folder outside the spool, or in the configured object store under
//! `preservation/<job id>/`, beside (never among) the delivered copies; neither `purge` nor
//! `retention run` (which only remove delivered copies and reader records) ever reaches it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::LoadedConfig;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PreservationConfig {
    /// Off by default: bags keep every original for good, which a library chooses to do.
    pub enabled: bool,
    /// Where bags go: a folder on this server, or the object store.
    pub destination: PreservationDestination,
    /// The folder bags are written to, one sub-folder per job; default `<data_dir>/preservation`.
    /// Only with `destination = "folder"`.
    pub path: Option<PathBuf>,
    pub format: PreservationFormat,
}

/// Where preservation masters are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreservationDestination {
    /// The folder `path`, on this server.
    #[default]
    Folder,
    /// The configured `[storage]` (a local folder or S3), under `preservation/<job id>/`, so
    /// every node's bags land in one place a repository can collect from.
    Store,
}

/// How a preservation master is packaged. One format for now; named so a config file says
/// what it expects and a later format is a new value, not a changed meaning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreservationFormat {
    /// A BagIt bag (RFC 8493, version 1.0) with SHA-256 manifests.
    #[default]
    Bagit,
}

impl LoadedConfig {
    /// The folder preservation masters go to.
    pub fn preservation_dir(&self) -> PathBuf {
        self.config
            .preservation
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir().join("preservation"))
    }
}

pub(crate) fn resolve(c: &mut PreservationConfig, base: &Path) {
    // An empty path stays empty, for `validate` to refuse (joined, it would be the base).
    if let Some(p) = &mut c.path
        && p.is_relative()
        && !p.as_os_str().is_empty()
    {
        *p = base.join(&*p);
    }
}

pub(crate) fn validate(c: &PreservationConfig, errors: &mut Vec<String>) {
    if c.destination == PreservationDestination::Store && c.path.is_some() {
        errors.push(
            "[preservation] path: only for destination = \"folder\"; with destination = \"store\" \
             bags go to the configured [storage] under preservation/"
                .into(),
        );
    }
    if let Some(p) = &c.path
        && p.as_os_str().is_empty()
    {
        errors.push(
            "[preservation] path: must not be empty (leave it out for <data_dir>/preservation)"
                .into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::load_for_test as load;

    #[test]
    fn off_by_default_under_the_data_dir_and_a_relative_path_resolves() {
        let loaded = load("data_dir = \"/srv/quire\"\n").unwrap();
        assert!(!loaded.config.preservation.enabled);
        assert_eq!(
            loaded.preservation_dir(),
            std::path::Path::new("/srv/quire/preservation")
        );
        let loaded =
            load("[preservation]\nenabled = true\npath = \"bags\"\nformat = \"bagit\"\n").unwrap();
        assert!(loaded.preservation_dir().is_absolute());
        assert!(loaded.preservation_dir().ends_with("bags"));
    }

    /// An unknown format, an unknown key and an empty path are each named, with the other
    /// sections' errors in the same report.
    #[test]
    fn bad_keys_and_values_are_named_with_the_rest() {
        let err = load("[preservation]\nformat = \"zip\"\n[links]\ndays = 0\n").unwrap_err();
        assert!(
            err.contains("[preservation]") && err.contains("zip"),
            "{err}"
        );
        assert!(err.contains("[links] days"), "{err}");
        let err = load("[preservation]\nenable = true\n").unwrap_err();
        assert!(
            err.contains("[preservation]") && err.contains("enable"),
            "{err}"
        );
        let err = load("[preservation]\npath = \"\"\n").unwrap_err();
        assert!(err.contains("[preservation] path"), "{err}");
        let err = load("[preservation]\ndestination = \"store\"\npath = \"bags\"\n").unwrap_err();
        assert!(
            err.contains("[preservation] path: only for destination"),
            "{err}"
        );
        let err = load("[preservation]\ndestination = \"tape\"\n").unwrap_err();
        assert!(err.contains("tape"), "{err}");
        let store = load("[preservation]\nenabled = true\ndestination = \"store\"\n").unwrap();
        assert_eq!(
            store.config.preservation.destination,
            super::PreservationDestination::Store
        );
    }
}

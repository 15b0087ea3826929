//! `[preservation]`: preservation masters. When enabled, every job the daemon delivers also
//! leaves a BagIt bag (RFC 8493) of its originals, processed PDF and quality report in `path`,
//! a folder outside the spool and the store, so that neither `purge` nor `retention run`
//! (which only remove delivered copies and reader records) ever reaches it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::LoadedConfig;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PreservationConfig {
    /// Off by default: bags keep every original for good, which a library chooses to do.
    pub enabled: bool,
    /// The folder bags are written to, one sub-folder per job; default `<data_dir>/preservation`.
    pub path: Option<PathBuf>,
    pub format: PreservationFormat,
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
    if let Some(p) = &mut c.path
        && p.is_relative()
    {
        *p = base.join(&*p);
    }
}

pub(crate) fn validate(c: &PreservationConfig, errors: &mut Vec<String>) {
    if let Some(p) = &c.path
        && p.as_os_str().is_empty()
    {
        errors.push("[preservation] path: must not be empty (leave it out for <data_dir>/preservation)".into());
    }
}

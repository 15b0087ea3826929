//! Named files beside the content-addressed objects: the things a person or another system
//! looks for by name in the store, such as preservation bags under `preservation/<job>/`.
//! Content-addressed objects stay where they were (`objects/`) and `list` never shows named
//! files, so purge cannot reach them.

use std::fmt;

use crate::DeliveryError;

/// The key of a named file: `/`-separated segments, each non-empty, none `.` or `..`, no
/// control characters, and not under `objects/` or `tmp/` (the content-addressed objects and
/// the filesystem backend's scratch folder). The same key is a path under the filesystem
/// store's root and an S3 object key, so a bag has the same layout in both.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileKey(String);

/// Top-level folders a named file may not use.
const RESERVED: &[&str] = &["objects", "tmp"];

impl FileKey {
    pub fn parse(key: &str) -> Result<Self, DeliveryError> {
        let bad = |why: &str| DeliveryError::BadFileKey {
            key: key.to_string(),
            reason: why.to_string(),
        };
        let segments: Vec<&str> = key.split('/').collect();
        if segments
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == "..")
        {
            return Err(bad("every segment must be non-empty and not `.` or `..`"));
        }
        if key.chars().any(char::is_control) || key.contains('\\') {
            return Err(bad("no control characters or backslashes"));
        }
        if RESERVED.contains(&segments[0]) {
            return Err(bad("`objects/` and `tmp/` belong to the store itself"));
        }
        Ok(Self(key.to_string()))
    }

    /// `self/rest`, checked like [`FileKey::parse`].
    pub fn join(&self, rest: &str) -> Result<Self, DeliveryError> {
        Self::parse(&format!("{}/{rest}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `prefix/`, if this key is under `prefix`.
    pub fn strip_prefix(&self, prefix: &FileKey) -> Option<&str> {
        self.0
            .strip_prefix(prefix.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
    }
}

impl fmt::Display for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::FileKey;

    #[test]
    fn keys_stay_inside_their_folder_and_off_the_objects() {
        let ok = FileKey::parse("preservation/J1/data/originals/scan 1.tif").unwrap();
        assert_eq!(ok.as_str(), "preservation/J1/data/originals/scan 1.tif");
        let prefix = FileKey::parse("preservation/J1").unwrap();
        assert_eq!(ok.strip_prefix(&prefix), Some("data/originals/scan 1.tif"));
        assert_eq!(
            FileKey::parse("preservation/J10/x")
                .unwrap()
                .strip_prefix(&prefix),
            None
        );
        for bad in [
            "",
            "/abs",
            "a//b",
            "a/../b",
            "./a",
            "a/",
            "objects/ab",
            "tmp/x",
            "a\nb",
            "a\\b",
        ] {
            assert!(FileKey::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}

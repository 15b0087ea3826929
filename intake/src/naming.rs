//! The request id in a scan's file name or in its folder's name, by a configurable regex.
//!
//! The default, [`RequestNaming::DEFAULT_PATTERN`], is `^(?P<request>[A-Za-z]*[0-9]+)(?:[^A-Za-z0-9]|$)`
//! matched against the file *stem* (the name without its last extension) or the folder name:
//! the request id is the leading run of letters (possibly none) followed by digits, and it must
//! end the stem or be followed by a character that is neither letter nor digit. So
//! `TN12345.pdf`, `TN12345_part2.tif` and `TN12345-2.tif` all give `TN12345`, `12345.pdf` gives
//! `12345`, while `scan_0001.tif` and `TN12345abc.pdf` give nothing. The id is only a candidate:
//! the daemon still checks that such a request exists.

use std::path::Path;

use regex::Regex;

use super::IntakeError;

/// A compiled request-id pattern with a named group `request`.
#[derive(Debug, Clone)]
pub struct RequestNaming {
    pattern: Regex,
}

impl RequestNaming {
    pub const DEFAULT_PATTERN: &'static str = r"^(?P<request>[A-Za-z]*[0-9]+)(?:[^A-Za-z0-9]|$)";

    /// Compiles `pattern`, which must have a named group `request`.
    pub fn new(pattern: &str) -> Result<Self, IntakeError> {
        let compiled = Regex::new(pattern).map_err(|e| IntakeError::BadPattern {
            pattern: pattern.to_owned(),
            reason: e.to_string(),
        })?;
        if !compiled.capture_names().any(|n| n == Some("request")) {
            return Err(IntakeError::PatternWithoutGroup {
                pattern: pattern.to_owned(),
            });
        }
        Ok(Self { pattern: compiled })
    }

    /// The request id in the stem of the file at `path`.
    pub fn from_file(&self, path: &Path) -> Option<String> {
        self.capture(&path.file_stem()?.to_string_lossy())
    }

    /// The request id in the name of the folder at `path` (folder-per-request intake).
    pub fn from_folder(&self, path: &Path) -> Option<String> {
        self.capture(&path.file_name()?.to_string_lossy())
    }

    /// The request id in any text, such as a decoded barcode.
    pub fn capture(&self, text: &str) -> Option<String> {
        let id = self.pattern.captures(text)?.name("request")?.as_str();
        (!id.is_empty()).then(|| id.to_owned())
    }
}

impl Default for RequestNaming {
    fn default() -> Self {
        Self::new(Self::DEFAULT_PATTERN).expect("the default pattern compiles")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pattern_takes_the_stem_prefix() {
        let naming = RequestNaming::default();
        let id = |name: &str| naming.from_file(Path::new(name));
        assert_eq!(id("TN12345.pdf").as_deref(), Some("TN12345"));
        assert_eq!(id("/in/TN12345_part2.tif").as_deref(), Some("TN12345"));
        assert_eq!(id("TN12345-2.tif").as_deref(), Some("TN12345"));
        assert_eq!(id("TN12345.part2.tif").as_deref(), Some("TN12345"));
        assert_eq!(id("12345.pdf").as_deref(), Some("12345"));
        assert_eq!(id("TN12345").as_deref(), Some("TN12345"));
        assert_eq!(id("scan_0001.tif"), None);
        assert_eq!(id("TN12345abc.pdf"), None);
        assert_eq!(id("notes.pdf"), None);
        assert_eq!(
            naming.from_folder(Path::new("/in/TN777")).as_deref(),
            Some("TN777")
        );
        assert_eq!(naming.from_folder(Path::new("/in/batch")), None);
    }

    #[test]
    fn custom_patterns_need_the_request_group() {
        let naming = RequestNaming::new(r"ILL-(?P<request>\d{4}-\d+)").unwrap();
        assert_eq!(
            naming
                .from_file(Path::new("scan ILL-2026-0042 p1.tif"))
                .as_deref(),
            Some("2026-0042")
        );
        let err = RequestNaming::new(r"^(\d+)").unwrap_err();
        assert_eq!(err.code(), "intake.naming.no_request_group");
        let err = RequestNaming::new(r"^(?P<request>[").unwrap_err();
        assert_eq!(err.code(), "intake.naming.bad_pattern");
    }
}

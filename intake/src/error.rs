//! The error type of intake's rules, with stable codes for logs and the audit trail.
//! It defines errors only; the daemon decides whether to quarantine, retry or carry on.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("request-matching pattern `{pattern}` is not a valid regex: {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("request-matching pattern `{pattern}` has no named group `request`")]
    PatternWithoutGroup { pattern: String },
    #[error("{path}: cannot examine: {source}")]
    Look {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot cut a batch segment out of it: {reason}")]
    Extract { path: PathBuf, reason: String },
}

impl IntakeError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadPattern { .. } => "intake.naming.bad_pattern",
            Self::PatternWithoutGroup { .. } => "intake.naming.no_request_group",
            Self::Look { .. } => "intake.settle.look",
            Self::Extract { .. } => "intake.batch.extract",
        }
    }
}

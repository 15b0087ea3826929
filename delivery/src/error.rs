//! The one error type of this crate, with a stable code per variant so logs, the CLI and the
//! HTTP layer can branch on `code()` rather than on message text.
//!
//! Messages name the object (by content hash), the file or the recipient involved, never a link
//! token or a pickup code.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("not a content hash (need 64 lowercase hex digits): {0:?}")]
    BadHash(String),

    #[error("object {hash} is not in the store")]
    NotFound { hash: String },

    #[error("not a named file's key: {key:?}: {reason}")]
    BadFileKey { key: String, reason: String },

    #[error("file {key} is not in the store")]
    FileNotFound { key: String },

    #[error("object {hash} failed verification on read: {reason}")]
    HashMismatch { hash: String, reason: String },

    #[error("reading object {hash} from the store: {source}")]
    ReadFailed {
        hash: String,
        #[source]
        source: std::io::Error,
    },

    #[error("range {start}..{end} is not inside object {hash} of {len} bytes")]
    BadRange {
        hash: String,
        start: u64,
        end: u64,
        len: u64,
    },

    #[error("store I/O on {path}: {source}")]
    StoreIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("reading the object to store: {0}")]
    SourceRead(#[source] std::io::Error),

    #[error("S3 {operation} on {key}: {reason}")]
    S3 {
        operation: &'static str,
        key: String,
        reason: String,
    },

    /// The store could not be reached or answered that it cannot serve now (connection
    /// refused, timeout, a 5xx): worth retrying later, unlike a file that fails verification.
    #[error("S3 {operation} on {key}: the store is unavailable: {reason}")]
    Unavailable {
        operation: &'static str,
        key: String,
        reason: String,
    },

    #[error("S3 store is misconfigured: {0}")]
    S3Config(String),

    #[error("presigned URL lifetime {requested_secs} s is over the {max_secs} s limit")]
    PresignTooLong { requested_secs: u64, max_secs: u64 },

    #[error("the system random source failed: {0}")]
    Random(String),

    #[error("mail template {template}: {reason}")]
    Template {
        template: &'static str,
        reason: String,
    },

    #[error("mail address {address:?}: {reason}")]
    MailAddress { address: String, reason: String },

    #[error("building the message to {to}: {reason}")]
    MailBuild { to: String, reason: String },

    #[error("mail transport is misconfigured: {0}")]
    MailConfig(String),

    #[error("sending to {to} failed after {attempts} attempt(s): {reason}")]
    MailSendFailed {
        to: String,
        attempts: u32,
        /// The server refused for good (SMTP 5xx): sending again gets the same answer.
        permanent: bool,
        reason: String,
    },

    #[error("writing the outbox message {path}: {source}")]
    Outbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl DeliveryError {
    /// A stable, dotted identifier for the kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadHash(_) => "delivery.store.bad_hash",
            Self::NotFound { .. } => "delivery.store.not_found",
            Self::BadFileKey { .. } => "delivery.store.bad_file_key",
            Self::FileNotFound { .. } => "delivery.store.file_not_found",
            Self::HashMismatch { .. } => "delivery.store.hash_mismatch",
            Self::ReadFailed { .. } => "delivery.store.read",
            Self::BadRange { .. } => "delivery.store.bad_range",
            Self::StoreIo { .. } => "delivery.store.io",
            Self::SourceRead(_) => "delivery.store.source_read",
            Self::S3 { .. } => "delivery.store.s3",
            Self::Unavailable { .. } => "delivery.store.unavailable",
            Self::S3Config(_) => "delivery.store.s3_config",
            Self::PresignTooLong { .. } => "delivery.store.presign_too_long",
            Self::Random(_) => "delivery.token.random",
            Self::Template { .. } => "delivery.mail.template",
            Self::MailAddress { .. } => "delivery.mail.address",
            Self::MailBuild { .. } => "delivery.mail.build",
            Self::MailConfig(_) => "delivery.mail.config",
            Self::MailSendFailed { .. } => "delivery.mail.send_failed",
            Self::Outbox { .. } => "delivery.mail.outbox",
        }
    }

    /// True when trying again cannot help: the server refused the message for good (SMTP
    /// 5xx), or the address or message itself is bad. Retrying those only delays the moment a
    /// person is told.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::MailSendFailed { permanent, .. } => *permanent,
            Self::MailAddress { .. } | Self::MailBuild { .. } | Self::Template { .. } => true,
            _ => false,
        }
    }

    /// True when the store itself is away for now (see [`Self::Unavailable`]), so a caller
    /// can answer "try again later" rather than report a broken file.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    pub(crate) fn store_io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::StoreIo {
            path: path.into(),
            source,
        }
    }
}

//! Getting a stamped PDF to a borrower: where the file is kept, the secret in the link, and
//! the e-mail that carries the link.
//!
//! - [`store`]: content-addressed object storage with verify-on-read, on a local folder or any
//!   S3-compatible server ([`open_store`] from a plain [`StoreSpec`]).
//! - [`token`]: link tokens (192 random bits) and pickup codes, stored only as hashes and
//!   compared in constant time; they never print themselves.
//! - [`mail`]: notices rendered from templates and sent over SMTP (lettre) or written as
//!   `.eml` files to an outbox folder, with retry and back-off.
//! - [`disposition`]: the Content-Disposition a download carries.
//!
//! This crate does not know about the database, link state (expiry, download counts,
//! revocation), HTTP routing or purge policy; the `quire` binary owns those and uses the
//! pieces here. It does not stamp PDFs either: callers run the watermark crate first and store
//! its output.

pub mod disposition;
mod error;
pub mod mail;
pub mod store;
pub mod token;

pub use error::DeliveryError;
pub use mail::{
    Delivered, Mailer, MailerSpec, Notice, NoticeFields, NoticeTemplates, RetryPolicy, SmtpSpec,
    SmtpTls,
};
pub use store::{
    ContentHash, MAX_PRESIGN_TTL, ObjectBody, ObjectKey, S3Spec, Store, StoreSpec, open_store,
};
pub use token::{PickupCode, Token, hash_matches, token_hash};

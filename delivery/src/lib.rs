//! Getting a stamped PDF to a borrower: where the file is kept, the secret in the link, and
//! the e-mail that carries the link.
//!
//! - [`store`]: content-addressed object storage with verify-on-read, on a local folder or any
//!   S3-compatible server ([`open_store`] from a plain [`StoreSpec`]). With several nodes it
//!   also holds jobs' originals and processed PDFs (custody, kept by `quire-service`).
//! - [`token`]: link tokens (192 random bits) and pickup codes, stored only as hashes and
//!   compared in constant time; they never print themselves.
//! - [`mail`]: notices rendered from templates and sent over SMTP (lettre) or written as
//!   `.eml` files to an outbox folder, with retry and back-off.
//! - [`disposition`]: the Content-Disposition a download carries.
//! - [`range`]: the one byte range an HTTP `Range` header asks for, with checked arithmetic.
//!
//! # A delivery, end to end
//!
//! ```no_run
//! # async fn deliver(stamped_pdf: Vec<u8>) -> Result<(), quire_delivery::DeliveryError> {
//! use std::path::PathBuf;
//! use std::sync::Arc;
//! use quire_delivery::*;
//!
//! let store = open_store(&StoreSpec::Filesystem { root: PathBuf::from("/var/lib/quire/store") })?;
//! let key = store.put_bytes(stamped_pdf.into()).await?; // keep key.sha256 with the link
//! let token = Token::generate()?; // keep token.hash() only
//! let fields = NoticeFields {
//!     link: format!("https://ill.example.org/d/{}", token.expose()),
//!     expires: "29 December 2026".into(),
//!     downloads: 5,
//!     ..Default::default()
//! };
//! let notice = NoticeTemplates::default().render("reader@uni.example", &fields);
//! let mailer = Arc::new(Mailer::open(&MailerSpec::Outbox {
//!     dir: PathBuf::from("/var/lib/quire/outbox"),
//!     from: "ILL <ill@example.org>".into(),
//! })?);
//! let sending = mailer.spawn(notice, RetryPolicy::default()); // runs on its own task
//!
//! // Later, on GET /d/{token}/file: check the token against the stored hash, count the
//! // download, then stream the verified body (or redirect to store.presigned_get(...)).
//! let body = store.get(&key.sha256).await?;
//! let _chunks = body.into_stream();
//! # let _ = sending.await; Ok(()) }
//! ```
//!
//! This crate does not know about the database, link state (expiry, download counts,
//! revocation), HTTP routing or purge policy; the `quire` binary owns those and uses the
//! pieces here. It does not stamp PDFs either: callers run the watermark crate first and store
//! its output.

pub mod disposition;
mod error;
pub mod mail;
pub mod peer;
pub mod range;
pub mod store;
pub mod token;

pub use error::DeliveryError;
/// One RFC 5322 addr-spec, as the mailer parses recipients: callers validate addresses with it
/// at input, so an address the mailer would refuse never gets stored.
pub use lettre::Address as EmailAddress;
pub use mail::{
    Delivered, Mailer, MailerSpec, Notice, NoticeFields, NoticeTemplates, RetryPolicy, SmtpSpec,
    SmtpTls,
};
pub use range::{RangeError, parse_range};
pub use store::{
    ContentHash, FileKey, MAX_PRESIGN_TTL, ObjectBody, ObjectKey, S3Spec, Store, StoreSpec,
    open_store,
};
pub use token::{PickupCode, Token, hash_matches, token_hash};

//! E-mail notices: templates with checked placeholders, a [`Mailer`] that sends over SMTP
//! (lettre) or writes `.eml` files to an outbox folder, and retry with exponential back-off.
//!
//! Every notice is sent on its own terms: [`Mailer::spawn`] runs one notice (with its
//! retries) on its own tokio task, so a slow or failing recipient never holds up another
//! delivery. What to do with a final failure (report it to staff) is the caller's.

mod notice;
mod retry;
mod template;
mod transport;

pub use notice::{DEFAULT_SUBJECT, Notice, NoticeTemplates};
pub use retry::RetryPolicy;
pub use template::{NoticeFields, Template};
pub use transport::{Delivered, Mailer, MailerSpec, SmtpSpec, SmtpTls};

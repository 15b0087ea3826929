//! The [`Mailer`]: one notice in, one e-mail out, over SMTP or into an outbox folder.
//!
//! The outbox (the embedded default) writes each message as an RFC 5322 `.eml` file, via a
//! hidden temp file renamed into place, so a watcher of the folder never sees half a message.
//! SMTP uses lettre over tokio with rustls: no TLS, STARTTLS (required, not opportunistic) or
//! implicit TLS. Credentials are only sent if set.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Notice, RetryPolicy};
use crate::DeliveryError;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpTls {
    /// Plain text (a relay on localhost).
    None,
    /// Upgrade with STARTTLS; refuse to send if the server does not offer it.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSpec {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The From address, e.g. `Example Library <ill@example.org>`.
    pub from: String,
    /// Per-attempt limit on each SMTP command.
    pub timeout: Duration,
    /// A PEM CA certificate to trust besides the bundled web roots (a campus relay with a
    /// private CA). The server name checked is `host`.
    pub ca_certificate: Option<PathBuf>,
}

impl std::fmt::Debug for SmtpSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSpec")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .field("ca_certificate", &self.ca_certificate)
            .finish()
    }
}

/// Where notices go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailerSpec {
    Smtp(SmtpSpec),
    /// `.eml` files in `dir` (created if missing).
    Outbox {
        dir: PathBuf,
        from: String,
    },
}

/// What became of a sent notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// The SMTP server accepted it.
    Smtp,
    /// Written to this file.
    Outbox(PathBuf),
}

/// How a notice went, as the audit log says it: `SMTP`, or `outbox /path/to/file.eml`.
impl std::fmt::Display for Delivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Delivered::Smtp => f.write_str("SMTP"),
            Delivered::Outbox(file) => write!(f, "outbox {}", file.display()),
        }
    }
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

/// Sends notices. Cheap to clone; share one per daemon.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// The most one SMTP exchange may take, start to end. lettre's timeout bounds each socket
    /// step only, so a server that answers slowly at every step could hold an exchange far
    /// longer; a sender's hold on its batch of notices is sized by this (see the service's
    /// `notices::send_due`).
    exchange_limit: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.transport {
            Transport::Smtp(_) => "smtp".to_owned(),
            Transport::Outbox(dir) => format!("outbox {}", dir.display()),
        };
        f.debug_struct("Mailer")
            .field("transport", &kind)
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Mailer {
    pub fn open(spec: &MailerSpec) -> Result<Self, DeliveryError> {
        match spec {
            MailerSpec::Outbox { dir, from } => {
                std::fs::create_dir_all(dir).map_err(|e| DeliveryError::Outbox {
                    path: dir.clone(),
                    source: e,
                })?;
                Ok(Self {
                    transport: Transport::Outbox(dir.clone()),
                    from: mailbox(from)?,
                    exchange_limit: Duration::MAX,
                })
            }
            MailerSpec::Smtp(smtp) => {
                let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host);
                let builder = match smtp.tls {
                    SmtpTls::None => builder,
                    SmtpTls::Starttls => builder.tls(Tls::Required(tls_parameters(smtp)?)),
                    SmtpTls::Tls => builder.tls(Tls::Wrapper(tls_parameters(smtp)?)),
                };
                let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout));
                match (&smtp.username, &smtp.password) {
                    (Some(user), Some(password)) => {
                        builder =
                            builder.credentials(Credentials::new(user.clone(), password.clone()));
                    }
                    (None, None) => {}
                    _ => {
                        return Err(DeliveryError::MailConfig(
                            "SMTP username and password must be set together".into(),
                        ));
                    }
                }
                Ok(Self {
                    transport: Transport::Smtp(builder.build()),
                    from: mailbox(&smtp.from)?,
                    exchange_limit: smtp.timeout * 2,
                })
            }
        }
    }

    /// The outbox folder, if that is where notices go (for `make run` to point at).
    pub fn outbox_dir(&self) -> Option<&Path> {
        match &self.transport {
            Transport::Outbox(dir) => Some(dir),
            Transport::Smtp(_) => None,
        }
    }

    /// One attempt, no retry.
    pub async fn send_once(&self, notice: &Notice) -> Result<Delivered, DeliveryError> {
        let message = self.message(notice)?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                self.exchange(smtp, message)
                    .await
                    .map_err(|f| f.into_error(notice, 1))?;
                Ok(Delivered::Smtp)
            }
            Transport::Outbox(dir) => write_eml(dir, &message.formatted())
                .await
                .map(Delivered::Outbox),
        }
    }

    /// One SMTP exchange, within [`Mailer::exchange_limit`]: running out of time is a
    /// failure worth retrying.
    async fn exchange(
        &self,
        smtp: &AsyncSmtpTransport<Tokio1Executor>,
        message: Message,
    ) -> Result<(), SendFailure> {
        match tokio::time::timeout(self.exchange_limit, smtp.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(SendFailure {
                permanent: e.is_permanent(),
                reason: e.to_string(),
            }),
            Err(_) => Err(SendFailure {
                permanent: false,
                reason: format!(
                    "the SMTP exchange took longer than {} s",
                    self.exchange_limit.as_secs()
                ),
            }),
        }
    }

    /// Sends with retries per `policy`, sleeping between attempts; the error names the
    /// recipient, the attempts made and the last reason.
    pub async fn send(
        &self,
        notice: &Notice,
        policy: &RetryPolicy,
    ) -> Result<Delivered, DeliveryError> {
        let message = self.message(notice)?;
        let attempts = policy.attempts.max(1);
        let mut attempt = 1;
        loop {
            let result = match &self.transport {
                Transport::Smtp(smtp) => self
                    .exchange(smtp, message.clone())
                    .await
                    .map(|_| Delivered::Smtp),
                Transport::Outbox(dir) => write_eml(dir, &message.formatted())
                    .await
                    .map(Delivered::Outbox)
                    .map_err(|e| SendFailure {
                        permanent: false,
                        reason: e.to_string(),
                    }),
            };
            match result {
                Ok(delivered) => return Ok(delivered),
                Err(failure) if failure.permanent || attempt >= attempts => {
                    return Err(failure.into_error(notice, attempt));
                }
                Err(failure) => {
                    let wait = policy.jittered_delay_after(attempt);
                    tracing::warn!(to = %notice.to, attempt, reason = %failure.reason, wait_ms = wait.as_millis() as u64, "notice not sent; will retry");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Runs [`Mailer::send`] on its own task, so the caller (and every other notice) goes on.
    pub fn spawn(
        self: &Arc<Self>,
        notice: Notice,
        policy: RetryPolicy,
    ) -> tokio::task::JoinHandle<Result<Delivered, DeliveryError>> {
        let mailer = Arc::clone(self);
        tokio::spawn(async move { mailer.send(&notice, &policy).await })
    }

    fn message(&self, notice: &Notice) -> Result<Message, DeliveryError> {
        // multipart/alternative: plain text first, the simple HTML made from it last (the one
        // mail readers prefer). lettre writes Date and MIME-Version; the Message-ID is ours,
        // on the sender's domain.
        let domain = self.from.email.domain().to_string();
        let unique = {
            let mut b = [0u8; 12];
            getrandom::fill(&mut b).map_err(|e| DeliveryError::MailBuild {
                to: notice.to.clone(),
                reason: format!("no randomness for a Message-ID: {e}"),
            })?;
            hex::encode(b)
        };
        Message::builder()
            .from(self.from.clone())
            .to(mailbox(&notice.to)?)
            .subject(notice.subject.clone())
            .message_id(Some(format!("<{unique}.quire@{domain}>")))
            .multipart(
                lettre::message::MultiPart::alternative()
                    .singlepart(
                        lettre::message::SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(notice.body.clone()),
                    )
                    .singlepart(
                        lettre::message::SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(notice.html()),
                    ),
            )
            .map_err(|e| DeliveryError::MailBuild {
                to: notice.to.clone(),
                reason: e.to_string(),
            })
    }
}

struct SendFailure {
    permanent: bool,
    reason: String,
}

impl SendFailure {
    fn into_error(self, notice: &Notice, attempts: u32) -> DeliveryError {
        let reason = if self.permanent {
            format!("{} (permanent, not retried)", self.reason)
        } else {
            self.reason
        };
        DeliveryError::MailSendFailed {
            to: notice.to.clone(),
            attempts,
            permanent: self.permanent,
            reason,
        }
    }
}

/// Certificate checking against the bundled web roots plus the configured CA, for `host`.
fn tls_parameters(smtp: &SmtpSpec) -> Result<TlsParameters, DeliveryError> {
    let mut builder = TlsParameters::builder(smtp.host.clone());
    if let Some(path) = &smtp.ca_certificate {
        let pem = std::fs::read(path).map_err(|e| {
            DeliveryError::MailConfig(format!("reading CA certificate {}: {e}", path.display()))
        })?;
        let cert = Certificate::from_pem(&pem).map_err(|e| {
            DeliveryError::MailConfig(format!("CA certificate {}: {e}", path.display()))
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| DeliveryError::MailConfig(format!("TLS for {}: {e}", smtp.host)))
}

fn mailbox(address: &str) -> Result<Mailbox, DeliveryError> {
    address.parse().map_err(
        |e: lettre::address::AddressError| DeliveryError::MailAddress {
            address: address.to_owned(),
            reason: e.to_string(),
        },
    )
}

/// Writes `bytes` as a new `.eml` in `dir`: temp file, fsync, rename.
async fn write_eml(dir: &Path, bytes: &[u8]) -> Result<PathBuf, DeliveryError> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let name = format!(
        "{}-{:09}-{}",
        stamp.as_secs(),
        stamp.subsec_nanos(),
        crate::token::random_hex(4)?
    );
    let tmp = dir.join(format!(".{name}.tmp"));
    let target = dir.join(format!("{name}.eml"));
    let written = async {
        use tokio::io::AsyncWriteExt;
        let mut file = tokio::fs::File::create(&tmp).await?;
        file.write_all(bytes).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&tmp, &target).await
    }
    .await;
    if let Err(source) = written {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(DeliveryError::Outbox {
            path: target,
            source,
        });
    }
    Ok(target)
}

//! Delivery: a processed PDF becomes one stamped copy for one recipient, stored by content
//! hash, with an expiring, download-limited link and a queued e-mail notice.
//!
//! The order makes a crash harmless: stamp and store first (an unreferenced object is only
//! garbage for purge), then one database transaction records the delivery, its link, its notice
//! and the job's move to `delivered`. The notice is sent afterwards from the queue, so a crash
//! can delay an e-mail but never lose it or deliver a job twice.

pub mod link_key;
pub mod notices;
pub mod purge;
mod stamp_spec;

use std::sync::Arc;

use anyhow::Context;
use quire_delivery::{NoticeFields, NoticeTemplates, S3Spec, Store, StoreSpec};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::job_files::JobFiles;
use link_key::LinkKey;
use quire_config::{LoadedConfig, StorageConfig};
use quire_domain::{Action, DeliveryState};
use quire_state::{Delivery, Job, JobState, Link, NewEvent, Repo, Request};

pub struct Deliverer {
    repo: Repo,
    store: Arc<dyn Store>,
    files: JobFiles,
    config: LoadedConfig,
    key: LinkKey,
    templates: NoticeTemplates,
}

/// How a delivery relates to a job of the daemon's.
#[derive(Debug, Clone, Copy)]
pub enum JobTie<'a> {
    /// A PDF delivered by hand (`quire deliver`).
    None,
    /// The job's first delivery: it must be `processed` and moves to `delivered` with it.
    Finish(&'a str),
    /// A replacement copy of a delivered job (its link ran out, the mail went astray). The job
    /// stays `delivered`; the copy is not counted again under the rule of five, since it fills
    /// the same request.
    Again(&'a str),
}

impl<'a> JobTie<'a> {
    fn job(self) -> Option<&'a str> {
        match self {
            Self::None => None,
            Self::Finish(j) | Self::Again(j) => Some(j),
        }
    }
}

/// What staff are told after a delivery.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub delivery_id: String,
    pub link_id: String,
    pub url: String,
    pub expires_at: quire_domain::Timestamp,
    pub downloads: u32,
    pub pickup_code: Option<String>,
    /// How the copy was counted under the rule of five; a `Hold` verdict means nothing reaches
    /// the borrower until an officer releases it.
    pub compliance: quire_domain::compliance::CopyDecision,
}

pub fn open_store(config: &LoadedConfig) -> anyhow::Result<Arc<dyn Store>> {
    let spec = match &config.config.storage {
        StorageConfig::Filesystem { .. } => StoreSpec::Filesystem {
            root: config.store_dir().expect("filesystem"),
        },
        StorageConfig::S3 {
            endpoint,
            region,
            bucket,
            path_style,
            access_key_id,
            secret_access_key,
        } => StoreSpec::S3(S3Spec {
            endpoint: endpoint.clone(),
            region: region.clone(),
            bucket: bucket.clone(),
            path_style: *path_style,
            access_key_id: access_key_id.as_ref().map(|s| s.expose().to_string()),
            secret_access_key: secret_access_key.as_ref().map(|s| s.expose().to_string()),
        }),
    };
    Ok(quire_delivery::open_store(&spec)?)
}

impl Deliverer {
    pub fn open(config: &LoadedConfig, repo: Repo) -> anyhow::Result<Self> {
        let mail = &config.config.mail;
        let templates = match (&mail.subject, &mail.body) {
            (None, None) => NoticeTemplates::default(),
            (s, b) => NoticeTemplates::parse(
                s.as_deref()
                    .unwrap_or(quire_delivery::mail::DEFAULT_SUBJECT),
                b.as_deref()
                    .context("[mail] subject is set but body is not")?,
            )?,
        };
        let store = open_store(config)?;
        Ok(Self {
            files: JobFiles::new(config, store.clone()),
            store,
            key: LinkKey::for_config(config)?,
            repo,
            config: config.clone(),
            templates,
        })
    }

    /// The configuration the deliverer was opened with (the borrower routes read `[links]`).
    pub fn config(&self) -> &LoadedConfig {
        &self.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Where jobs' files are on this node (fetched from the store when custody is there).
    pub fn files(&self) -> &JobFiles {
        &self.files
    }

    pub fn link_url(&self, link_id: &str) -> String {
        self.key.url(&self.config.config.server.public_url, link_id)
    }

    /// A new copy of a delivered job for its request, from the job's processed output (checked
    /// against the hash recorded when it was made), with a new link and notice.
    pub async fn redeliver(&self, job: &Job, actor: &str) -> anyhow::Result<Receipt> {
        anyhow::ensure!(
            job.state == JobState::Delivered,
            "job {} is {}: only a delivered job can be delivered again (release it instead)",
            job.id,
            job.state
        );
        let request_id = job
            .request_id
            .as_deref()
            .with_context(|| format!("job {} has no request", job.id))?;
        let lookup = request_id.to_string();
        let request = self
            .repo
            .call(move |db| db.request_get(&lookup))
            .await?
            .with_context(|| format!("request {request_id} is gone (retention?)"))?;
        let path = self.files.output(job).await.with_context(|| {
            format!(
                "job {}: its processed PDF is not to be had; reprocess the scan to deliver it again",
                job.id
            )
        })?;
        let pdf = std::fs::read(&path).with_context(|| {
            format!(
                "job {}: its processed PDF {} is gone; reprocess the scan to deliver it again",
                job.id,
                path.display()
            )
        })?;
        if let Some(recorded) = &job.output_sha256 {
            let found = hex::encode(Sha256::digest(&pdf));
            anyhow::ensure!(
                &found == recorded,
                "job {}: {} has SHA-256 {found}, not the {recorded} recorded when it was made; not delivered",
                job.id,
                path.display()
            );
        }
        self.deliver(&request, pdf, JobTie::Again(&job.id), actor)
            .await
    }

    /// Stamps `pdf` for the request's patron and delivers it. With [`JobTie::Finish`], the job
    /// must be `processed` and moves to `delivered` in the same transaction (else nothing is
    /// recorded).
    pub async fn deliver(
        &self,
        request: &Request,
        pdf: Vec<u8>,
        tie: JobTie<'_>,
        actor: &str,
    ) -> anyhow::Result<Receipt> {
        let job = tie.job();
        let cfg = &self.config.config;
        let document_sha256 = hex::encode(Sha256::digest(&pdf));
        let nonce = quire_delivery::Token::generate()?;
        let id_hash = hex::encode(Sha256::digest(
            format!("{document_sha256}{}", nonce.expose()).as_bytes(),
        ));
        let delivery_id = format!("dlv_{}", &id_hash[..26]);
        let link_id = format!("lnk_{}", &id_hash[26..46]);
        let days = request.link_days.unwrap_or(cfg.links.days);
        let downloads = request.link_downloads.unwrap_or(cfg.links.downloads);
        let expires_at = quire_domain::Timestamp::now() + time::Duration::days(days as i64);
        // People read the expiry in the library's zone (cover sheet, e-mail); it is stored UTC.
        let expires_text = expires_at.shown_minute(&cfg.institution.time_zone);

        let stamp = stamp_spec::build(&self.config, request, &delivery_id, &expires_text)?;
        let (stamped, page_count) =
            tokio::task::spawn_blocking(move || -> anyhow::Result<(Vec<u8>, usize)> {
                // The article's pages, counted before the cover sheet is added: what the
                // borrower and the CONTU report call pages delivered.
                let pages = lopdf::Document::load_mem(&pdf)
                    .map(|d| d.get_pages().len())
                    .unwrap_or(0);
                let out = quire_watermark::stamp_pdf(&pdf, &stamp)
                    .map_err(|e| anyhow::anyhow!("stamping failed: {e} [{}]", e.code()))?;
                Ok((out, pages))
            })
            .await??;
        let bytes = stamped.len() as i64;
        let key = self.store.put_bytes(bytes::Bytes::from(stamped)).await?;

        let pickup = if cfg.links.pickup_code {
            Some(quire_delivery::PickupCode::generate()?)
        } else {
            None
        };
        let url = self.link_url(&link_id);
        let fields = NoticeFields {
            link: url.clone(),
            expires: expires_text.clone(),
            downloads,
            pickup_code: pickup.as_ref().map(|c| c.expose().to_string()),
            request: request.id.clone(),
            title: request
                .article
                .clone()
                .or(request.title.clone())
                .unwrap_or_else(|| request.id.clone()),
            journal: request
                .article
                .as_ref()
                .and(request.title.clone())
                .unwrap_or_default(),
            name: request.patron_name.clone(),
            institution: cfg.institution.name.clone(),
            contact: cfg.institution.contact.clone(),
        };
        let notice = self.templates.render(&request.patron_email, &fields);
        let delivery = Delivery {
            id: delivery_id.clone(),
            request_id: request.id.clone(),
            // `deliveries.job_id` is unique: it is what makes a job's own delivery happen at
            // most once. A deliberate second copy names the job in its audit event instead.
            job_id: match tie {
                JobTie::Finish(j) => Some(j.to_string()),
                JobTie::None | JobTie::Again(_) => None,
            },
            document_sha256,
            stamped_sha256: key.sha256.to_string(),
            basis: request.basis,
            state: DeliveryState::Active,
            hold_reason: None,
            file_name: file_name(request),
            bytes,
            page_count: page_count as i64,
            recipient: request.patron_name.clone(),
            library: request.library.clone(),
            created_at: quire_domain::Timestamp::UNIX_EPOCH,
            purged_at: None,
        };
        let link = Link {
            id: link_id.clone(),
            delivery_id: delivery_id.clone(),
            token_sha256: quire_delivery::token_hash(&self.key.token(&link_id)),
            expires_at,
            downloads_left: downloads as i64,
            downloads_allowed: downloads as i64,
            pickup_code_sha256: pickup.as_ref().map(|c| c.hash()),
            revoked_at: None,
            created_at: quire_domain::Timestamp::UNIX_EPOCH,
            locked_at: None,
            code_failures: 0,
        };
        let mut event = NewEvent::new(actor, Action::DeliveryCreated)
            .subject("request", &request.id)
            .subject("delivery", &delivery_id)
            .subject("link", &link_id)
            .details(json!({
                "stamped_sha256": delivery.stamped_sha256,
                "document_sha256": delivery.document_sha256,
                "basis": delivery.basis,
                "recipient": request.patron_name,
                "library": request.library,
                "pages": page_count,
                "expires_at": expires_at,
                "downloads": downloads,
            }));
        if let Some(j) = job {
            event = event.subject("job", j);
        }
        if let JobTie::Again(_) = tie {
            event = event.details_merge(json!({ "redelivery": true, "redelivery_of_job": job }));
        }
        let finishes_job = matches!(tie, JobTie::Finish(_));
        // The rule of five is counted inside the same transaction as the insert; a copy beyond
        // the limit may be recorded as held, its link closed and its notice parked.
        let job = job.map(String::from);
        let work = quire_domain::compliance::Work::of(request);
        let basis = request.basis;
        let rules = cfg.compliance.clone();
        // A request that came over ISO 18626: never after the requester cancelled it, and the
        // patron is e-mailed only if that peer wants it (its own system usually tells them).
        let lookup = request.id.clone();
        let ill = self.repo.call(move |db| db.ill_of_request(&lookup)).await?;
        let ill_config = cfg.iso18626.clone();
        if let Some(t) = &ill {
            anyhow::ensure!(
                !matches!(
                    t.status,
                    quire_state::IllStatus::Cancelled | quire_state::IllStatus::Unfilled
                ),
                "request {} ended over ISO 18626 (the requester was told {}); not delivered",
                request.id,
                t.status
            );
        }
        let notify = ill.as_ref().is_none_or(|t| {
            ill_config
                .peer(&t.peer_agency_type, &t.peer_agency_id)
                .is_some_and(|p| p.notify_patron)
        });
        let compliance = self
            .repo
            .call(move |db| {
                db.delivery_create_counted(
                    &delivery,
                    &link,
                    notify.then_some((&notice.to, &notice.subject, &notice.body)),
                    job.as_deref(),
                    finishes_job,
                    event,
                    &work,
                    basis,
                    &rules,
                )
            })
            .await?;
        if ill.is_some() {
            let (request_id, link_url) = (request.id.clone(), url.clone());
            let held = compliance.verdict == quire_domain::compliance::Verdict::Hold;
            self.repo
                .call(move |db| {
                    if held {
                        crate::iso18626::will_supply(
                            db,
                            &ill_config,
                            &request_id,
                            "copyright review (CONTU rule of five)",
                        )
                    } else {
                        crate::iso18626::copy_completed(db, &ill_config, &request_id, &link_url)
                    }
                })
                .await?;
        }
        match compliance.verdict {
            quire_domain::compliance::Verdict::Hold => tracing::warn!(
                delivery = %delivery_id,
                "delivery HELD for copyright review (copy {} of this work for this library in {}); \
                 a compliance officer releases it (console: Held deliveries; or `quire delivery release {delivery_id} --reason ...`)",
                compliance.nth,
                compliance.year
            ),
            quire_domain::compliance::Verdict::Warn => tracing::warn!(
                delivery = %delivery_id,
                "copy {} of this work for this library in {} is beyond the CONTU limit of {}; delivered under policy `warn`",
                compliance.nth,
                compliance.year,
                compliance.limit
            ),
            quire_domain::compliance::Verdict::Deliver => {}
        }
        Ok(Receipt {
            delivery_id,
            link_id,
            url,
            expires_at,
            downloads,
            pickup_code: pickup.map(|c| c.expose().to_string()),
            compliance,
        })
    }
}

/// `TN12345 - Smith 2024 - Article title.pdf`, kept to safe characters by the disposition code.
fn file_name(r: &Request) -> String {
    let mut parts = vec![r.id.clone()];
    if let Some(a) = &r.author {
        parts.push(a.split([',', ';']).next().unwrap_or(a).trim().to_string());
    }
    if let Some(t) = r.article.as_ref().or(r.title.as_ref()) {
        parts.push(t.chars().take(60).collect());
    }
    format!("{}.pdf", parts.join(" - "))
}

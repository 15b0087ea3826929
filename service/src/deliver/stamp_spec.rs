//! The watermark crate's `Stamp` for one delivery, from the configuration and the request.

use quire_watermark::{Citation, DeliveryId, Institution, Recipient, Stamp};

use quire_config::LoadedConfig;
use quire_state::Request;

pub fn build(
    config: &LoadedConfig,
    request: &Request,
    delivery_id: &str,
    expires: &str,
) -> anyhow::Result<Stamp> {
    let cfg = &config.config;
    let today = time::OffsetDateTime::now_utc().date();
    Ok(Stamp {
        institution: Institution {
            name: cfg.institution.name.clone(),
            contact: cfg.institution.contact.clone(),
        },
        request_id: request.id.clone(),
        citation: Citation {
            title: request.title.clone().unwrap_or_default(),
            article: request.article.clone().unwrap_or_default(),
            author: request.author.clone().unwrap_or_default(),
            year: request.year.map(|y| y.to_string()).unwrap_or_default(),
            volume: request.volume.clone().unwrap_or_default(),
            issue: request.issue.clone().unwrap_or_default(),
            pages: request.pages.clone().unwrap_or_default(),
        },
        recipient: Recipient {
            name: request.patron_name.clone(),
            library: request.library.clone().unwrap_or_default(),
        },
        delivered_on: today.to_string(),
        link_expires: Some(expires.to_string()),
        copyright_basis: Some(basis_text(request)),
        delivery_id: DeliveryId::new(delivery_id)?,
        texts: cfg.stamp.texts()?,
        fonts: cfg.stamp.fonts(),
        watermark: cfg.stamp.diagonal()?,
    })
}

fn basis_text(r: &Request) -> String {
    let text = r.basis.label();
    match &r.basis_reference {
        Some(reference) => format!("{text} ({reference})"),
        None => text.to_string(),
    }
}

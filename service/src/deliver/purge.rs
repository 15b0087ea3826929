//! Purge: a delivered file leaves the store `[links] purge_after_days` after its link ended.
//! The delivery record and every audit event stay; only the bytes go.

use std::sync::Arc;

use quire_delivery::{ContentHash, Store};
use serde::Serialize;
use serde_json::json;

use quire_config::LoadedConfig;
use quire_domain::Action;
use quire_state::{NewEvent, Repo};

#[derive(Debug, Default, Serialize)]
pub struct PurgeReport {
    pub deliveries: Vec<String>,
    pub bytes: i64,
}

pub async fn run(
    repo: &Repo,
    store: &Arc<dyn Store>,
    config: &LoadedConfig,
    dry_run: bool,
    actor: &str,
) -> anyhow::Result<PurgeReport> {
    let cutoff = quire_domain::Timestamp::now()
        - time::Duration::days(config.config.links.purge_after_days as i64);
    let due = repo.call(move |db| db.deliveries_purgeable(cutoff)).await?;
    let mut report = PurgeReport::default();
    for d in due {
        report.deliveries.push(d.id.clone());
        report.bytes += d.bytes;
        if dry_run {
            continue;
        }
        let hash = ContentHash::parse(&d.stamped_sha256)?;
        // The same bytes are never stamped for two deliveries (the id is inside), so the object
        // is this delivery's alone.
        let removed = store.delete(&hash).await?;
        let event = NewEvent::new(actor, Action::DeliveryPurged)
            .subject("delivery", &d.id)
            .subject("request", &d.request_id)
            .details(json!({ "stamped_sha256": d.stamped_sha256, "bytes": d.bytes, "object_removed": removed }));
        let id = d.id.clone();
        repo.call(move |db| db.delivery_purged(&id, event)).await?;
    }
    Ok(report)
}

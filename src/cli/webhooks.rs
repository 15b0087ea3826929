//! `quire webhooks`: the configured endpoints and how far each was sent the audit log.

use std::process::ExitCode;

use clap::Args;

use crate::config::LoadedConfig;
use crate::state;

#[derive(Debug, Args)]
pub struct WebhooksArgs {
    /// Print JSON instead of a table (times as stored, UTC).
    #[arg(long)]
    json: bool,
}

pub fn list(args: WebhooksArgs, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    let endpoints = quire_service::webhooks::list(&*db, &config.config.webhooks)?;
    if args.json {
        let rows: Vec<_> = endpoints
            .iter()
            .map(|e| {
                let c = e.cursor.as_ref();
                serde_json::json!({
                    "name": e.name, "url": e.url, "events": e.events,
                    "last_seq": c.map(|c| c.last_seq),
                    "attempts": c.map(|c| c.attempts),
                    "next_attempt_at": c.and_then(|c| c.next_attempt_at),
                    "last_error": c.and_then(|c| c.last_error.clone()),
                    "claimed_by": c.and_then(|c| c.claimed_by.clone()),
                    "claimed_until": c.and_then(|c| c.claimed_until),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if endpoints.is_empty() {
        println!("No webhooks configured ([[webhooks]] in the configuration).");
        return Ok(ExitCode::SUCCESS);
    }
    let zone = &config.config.institution.time_zone;
    println!(
        "{:<20} {:>8} {:>8} {:<24} URL / LAST ERROR",
        "WEBHOOK", "SENT TO", "FAILURES", "NEXT TRY"
    );
    for e in endpoints {
        let (seq, attempts, next, error) = match &e.cursor {
            None => ("-".to_string(), 0, "not started".to_string(), None),
            Some(c) => (
                c.last_seq.to_string(),
                c.attempts,
                c.next_attempt_at
                    .map(|t| t.shown_second(zone))
                    .unwrap_or_else(|| "-".into()),
                c.last_error.clone(),
            ),
        };
        println!("{:<20} {seq:>8} {attempts:>8} {next:<24} {}", e.name, e.url);
        if let Some(error) = error {
            println!("{:<20} {:>8} {:>8} {:<24} {error}", "", "", "", "");
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `quire deliveries [--held]`, `quire delivery release ID --reason TEXT`, and
//! `quire retention run [--dry-run]`: a compliance officer's day-to-day commands. The rules they
//! apply are in `quire_domain::compliance`; this file only reads arguments and prints.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;

use super::actor;
use super::table::Table;
use crate::config::LoadedConfig;
use crate::state;
use quire_domain::compliance::retention;
use quire_service::deliveries::{self, ReleaseError};

#[derive(Debug, Args)]
pub struct DeliveriesArgs {
    /// Only deliveries held for copyright review.
    #[arg(long)]
    held: bool,
    /// Print JSON (stored UTC times) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn list(args: DeliveriesArgs, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    let rows = deliveries::list(&*db, args.held, quire_domain::Timestamp::now())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let zone = &config.config.institution.time_zone;
    let mut table = Table::new(&[
        "DELIVERY", "REQUEST", "LIBRARY", "BASIS", "STATE", "CREATED", "REASON",
    ]);
    for r in &rows {
        let d = &r.delivery;
        table.row(vec![
            d.id.clone(),
            d.request_id.clone(),
            d.library.clone().unwrap_or_else(|| "-".into()),
            d.basis.to_string(),
            // Where it stands for the borrower: a revoked or expired link shows as such.
            r.status.to_string(),
            d.created_at.shown_second(zone),
            d.hold_reason.clone().unwrap_or_default(),
        ]);
    }
    table.print();
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum DeliveryCommand {
    /// Release a delivery held for copyright review: opens its link and sends its notice. The
    /// reason and the officer are kept in the audit log.
    Release {
        /// The delivery id (`quire deliveries --held`).
        delivery: String,
        /// Why the copy may go, e.g. "CCC order 12345678" or "fair use: reviewed by counsel".
        #[arg(long)]
        reason: String,
        /// The compliance officer; defaults to the login name.
        #[arg(long)]
        officer: Option<String>,
    },
}

pub fn run(cmd: DeliveryCommand, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    match cmd {
        DeliveryCommand::Release {
            delivery,
            reason,
            officer,
        } => {
            let officer = officer.unwrap_or_else(actor);
            let key = crate::deliver::link_key::LinkKey::for_config(config)?;
            let public_url = config.config.server.public_url.clone();
            let link_url = move |link: &str| key.url(&public_url, link);
            let d = deliveries::release(
                &*db,
                &delivery,
                &officer,
                &reason,
                &config.config.iso18626,
                &link_url,
            )
            .map_err(|e| match e {
                ReleaseError::NoReason => {
                    anyhow::anyhow!("--reason must say why the copy may be released")
                }
                e => e.into(),
            })?;
            println!(
                "released {} (request {}) by {officer}: {}",
                d.id,
                d.request_id,
                reason.trim()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Prune records past retention and pseudonymise patrons past `pseudonymise_after_days`.
    Run {
        /// Say what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the run's report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn retention(cmd: RetentionCommand, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let RetentionCommand::Run { dry_run, json } = cmd;
    let db = state::open(config)?;
    let rules = &config.config.compliance;
    let now = time::OffsetDateTime::now_utc();
    let actor = actor();
    let pruned = db.retention_prune(
        retention::prune_cutoff(now, rules.retain_years),
        &actor,
        dry_run,
    )?;
    let pseudonymised = match retention::pseudonymise_cutoff(now, rules.pseudonymise_after_days) {
        Some(cutoff) => Some(db.pseudonymise(cutoff, &actor, dry_run)?),
        None => None,
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "dry_run": dry_run, "pruned": pruned, "pseudonymised": pseudonymised })
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if dry_run { "would prune" } else { "pruned" };
    println!(
        "{verb} records of requests before {}: {} deliveries, {} requests, {} audit events",
        pruned.cutoff.get(..10).unwrap_or(&pruned.cutoff),
        pruned.deliveries.len(),
        pruned.requests.len(),
        pruned.audit_events
    );
    if let Some(c) = &pruned.checkpoint {
        println!("  audit checkpoint {c}");
    }
    if let Some(seq) = pruned.audit_kept_from {
        println!(
            "  audit events from seq {seq} on are kept: they concern records still kept (the log can only be cut from its start)"
        );
    }
    if !pruned.waiting_for_purge.is_empty() {
        println!(
            "  {} deliveries wait for `quire purge` to remove their files first",
            pruned.waiting_for_purge.len()
        );
    }
    match pseudonymised {
        Some(p) => {
            let verb = if dry_run {
                "would pseudonymise"
            } else {
                "pseudonymised"
            };
            println!(
                "{verb} patrons of {} requests before {}",
                p.requests.len(),
                p.cutoff.get(..10).unwrap_or(&p.cutoff)
            );
            if !p.skipped.is_empty() {
                println!(
                    "  {} requests skipped for now (a delivery is held or a notice is unsent)",
                    p.skipped.len()
                );
            }
        }
        None => println!("pseudonymisation is off ([compliance] pseudonymise_after_days = 0)"),
    }
    Ok(ExitCode::SUCCESS)
}

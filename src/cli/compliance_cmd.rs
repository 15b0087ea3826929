//! `quire deliveries [--held]`, `quire delivery release ID --reason TEXT`, and
//! `quire retention run [--dry-run]`: a compliance officer's day-to-day commands. The rules they
//! apply are in `quire_domain::compliance`; this file only reads arguments and prints.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use quire_domain::DeliveryState;
use serde_json::json;

use super::actor;
use crate::config::LoadedConfig;
use crate::state;
use quire_domain::compliance::retention;
use quire_service::deliveries::{self, ReleaseError};

#[derive(Debug, Args)]
pub struct DeliveriesArgs {
    /// Only deliveries held for copyright review.
    #[arg(long)]
    held: bool,
    #[arg(long)]
    json: bool,
}

pub fn list(args: DeliveriesArgs, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    let rows = db.deliveries_list(args.held.then_some(DeliveryState::Held))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<30} {:<12} {:<8} {:<14} {:<7} {:<20} REASON",
        "DELIVERY", "REQUEST", "LIBRARY", "BASIS", "STATE", "CREATED"
    );
    for d in &rows {
        println!(
            "{:<30} {:<12} {:<8} {:<14} {:<7} {:<20} {}",
            d.id,
            d.request_id,
            d.library.as_deref().unwrap_or("-"),
            d.basis,
            d.state,
            // Fixed width: the first 19 characters are the time to the second.
            &d.created_at.to_string()[..19],
            d.hold_reason.as_deref().unwrap_or("")
        );
    }
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

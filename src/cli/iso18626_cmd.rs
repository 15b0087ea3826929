//! `quire iso18626 peers|outbox`: the partner libraries' ILL systems and the status messages
//! waiting for them.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::LoadedConfig;
use crate::state::{self, OutboxState};

#[derive(Debug, Subcommand)]
pub enum Iso18626Command {
    /// List the configured peers and the last message to or from each.
    Peers {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List status messages to peers: pending, sent, failed (newest first).
    Outbox {
        /// Only messages in this state: pending, sent or failed.
        #[arg(long)]
        state: Option<OutboxState>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: Iso18626Command, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    let ill = &config.config.iso18626;
    match cmd {
        Iso18626Command::Peers { json } => {
            let last = db.ill_last_messages()?;
            let rows: Vec<_> = ill
                .peers
                .iter()
                .map(|p| {
                    let key = quire_domain::ill::peer_key(&p.agency_id_type, &p.agency_id);
                    let m = last.iter().find(|m| m.peer.eq_ignore_ascii_case(&key));
                    serde_json::json!({
                        "name": p.name, "agency": key, "url": p.url,
                        "version": p.version, "status_style": p.status_style,
                        "notify_patron": p.notify_patron,
                        "last_message": m.map(|m| serde_json::json!({
                            "at": m.at, "direction": m.direction, "kind": m.kind,
                            "summary": m.summary, "request": m.request_id,
                        })),
                    })
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<24} {:<20} {:<8} LAST MESSAGE",
                    "PEER", "AGENCY", "VERSION"
                );
                for r in &rows {
                    let last = match &r["last_message"] {
                        serde_json::Value::Null => "-".to_string(),
                        m => format!(
                            "{} {} {} ({})",
                            m["at"].as_str().unwrap_or(""),
                            m["direction"].as_str().unwrap_or(""),
                            m["kind"].as_str().unwrap_or(""),
                            m["summary"].as_str().unwrap_or("")
                        ),
                    };
                    println!(
                        "{:<24} {:<20} {:<8} {last}",
                        r["name"].as_str().unwrap_or(""),
                        r["agency"].as_str().unwrap_or(""),
                        r["version"].as_str().unwrap_or("")
                    );
                }
            }
        }
        Iso18626Command::Outbox { state, json } => {
            let list = db.ill_outbox_list(state)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:>6} {:<14} {:<16} {:<16} {:<8} {:>8}  ERROR",
                    "ID", "REQUEST", "PEER", "STATUS", "STATE", "ATTEMPTS"
                );
                for m in list {
                    println!(
                        "{:>6} {:<14} {:<16} {:<16} {:<8} {:>8}  {}",
                        m.id,
                        m.request_id,
                        m.peer,
                        m.status.as_str(),
                        m.state.as_str(),
                        m.attempts,
                        m.last_error.unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

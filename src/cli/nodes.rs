//! `quire nodes`: the daemons sharing this database.

use std::process::ExitCode;

use clap::Args;

use crate::config::LoadedConfig;
use crate::state;

#[derive(Debug, Args)]
pub struct NodesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn list(args: NodesArgs, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    let nodes = quire_service::nodes::list(&*db, config.config.node.lease())?;
    if args.json {
        let rows: Vec<_> = nodes
            .iter()
            .map(|(n, alive)| {
                serde_json::json!({
                    "name": n.beat.name, "roles": n.beat.roles, "host": n.beat.host,
                    "pid": n.beat.pid, "version": n.beat.version,
                    "started_at": n.beat.started_at, "last_beat": n.last_beat,
                    "alive": alive, "jobs_in_hand": n.jobs_in_hand,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<20} {:<20} {:<7} {:<24} {:>5}  HOST",
        "NODE", "ROLES", "STATE", "LAST HEARTBEAT", "JOBS"
    );
    for (n, alive) in nodes {
        println!(
            "{:<20} {:<20} {:<7} {:<24} {:>5}  {} (pid {}, {})",
            n.beat.name,
            n.beat.roles.join(","),
            if alive { "alive" } else { "silent" },
            n.last_beat.to_string(),
            n.jobs_in_hand,
            n.beat.host,
            n.beat.pid,
            n.beat.version
        );
    }
    Ok(ExitCode::SUCCESS)
}

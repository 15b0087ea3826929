//! `quire trace FILE.pdf`: which delivery a (possibly leaked, rewritten or cut) copy came from.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::LoadedConfig;
use crate::state::{self, NewEvent};
use quire_domain::Action;

#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// A PDF copy found somewhere (it need not be whole).
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: TraceArgs, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let db = state::open(config)?;
    let sha = hex::encode(Sha256::digest(&bytes));
    // The exact file first (by hash), then the ids embedded in the file.
    let mut found: Vec<(String, &str)> = db
        .deliveries_by_stamped(&sha)?
        .into_iter()
        .map(|d| (d.id, "exact file (SHA-256)"))
        .collect();
    match quire_watermark::trace::find_delivery_ids(&bytes) {
        Ok(ids) => {
            for id in ids {
                if !found.iter().any(|(f, _)| *f == id) {
                    found.push((id, "embedded delivery id"));
                }
            }
        }
        Err(e) if found.is_empty() => {
            anyhow::bail!("{}: not a readable PDF: {e}", args.file.display())
        }
        Err(_) => {}
    }
    let mut results = Vec::new();
    for (id, how) in &found {
        match db.delivery_get(id)? {
            Some(d) => results.push(json!({
                "delivery": d.id, "request": d.request_id, "recipient": d.recipient, "library": d.library,
                "delivered_at": d.created_at, "basis": d.basis, "found_by": how, "exact_copy": d.stamped_sha256 == sha,
            })),
            None => results.push(json!({ "delivery": id, "found_by": how, "unknown_here": true })),
        }
    }
    db.audit_append(NewEvent::new(super::actor(), Action::TraceLookup).details(json!({
        "file": args.file.display().to_string(), "sha256": sha, "deliveries": found.iter().map(|(i, _)| i.clone()).collect::<Vec<_>>(),
    })))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else if results.is_empty() {
        println!(
            "{}: no Quire delivery found (no known hash, no embedded delivery id)",
            args.file.display()
        );
    } else {
        for r in &results {
            if r["unknown_here"] == true {
                println!(
                    "delivery {} is named in the file but is not in this database",
                    r["delivery"].as_str().unwrap_or("")
                );
                continue;
            }
            println!("delivery   {}", r["delivery"].as_str().unwrap_or(""));
            println!("request    {}", r["request"].as_str().unwrap_or(""));
            println!(
                "recipient  {} ({})",
                r["recipient"].as_str().unwrap_or(""),
                r["library"].as_str().unwrap_or("-")
            );
            println!("delivered  {}", r["delivered_at"].as_str().unwrap_or(""));
            println!("basis      {}", r["basis"].as_str().unwrap_or(""));
            println!(
                "found by   {}{}",
                r["found_by"].as_str().unwrap_or(""),
                if r["exact_copy"] == true {
                    ""
                } else {
                    " (a modified copy)"
                }
            );
        }
    }
    Ok(if results.iter().any(|r| r["unknown_here"] != true) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(4)
    })
}

//! `quire jobs` and `quire job show|release|reprocess|match|redeliver`: the technician's review
//! queue.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::actor;
use crate::config::LoadedConfig;
use crate::service;
use crate::state::{self, Db, Job, JobFilter, JobState};

#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    /// Only scans that no request matched yet.
    #[arg(long)]
    unmatched: bool,
    /// Only jobs in this state (received, processing, processed, delivered, held, failed,
    /// split).
    #[arg(long)]
    state: Vec<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Show one job with its quality report.
    Show {
        job: String,
        #[arg(long)]
        json: bool,
    },
    /// Release a held job: it is ready for delivery as it is.
    Release {
        job: String,
        /// Why the hold no longer applies (recorded in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Process a job again from its original (after a fix, or a failed run).
    Reprocess { job: String },
    /// Attach a job to a request (for scans no name or barcode matched).
    Match { job: String, request: String },
    /// Send a delivered job again: a new stamped copy, link and e-mail for its request (when
    /// the link expired or was used up, or the mail went astray). Not counted again under the
    /// rule of five.
    Redeliver { job: String },
}

pub fn list(args: JobsArgs, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    let states = args
        .state
        .iter()
        .map(|s| s.parse())
        .collect::<Result<Vec<JobState>, String>>()
        .map_err(anyhow::Error::msg)?;
    let jobs = db.jobs_list(&JobFilter {
        states,
        unmatched: args.unmatched,
        limit: 0,
        ..Default::default()
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&jobs)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<30} {:<10} {:<12} {:>5}  {:<28} NOTE",
        "JOB", "STATE", "REQUEST", "PAGES", "SOURCE"
    );
    for j in jobs {
        let note = j
            .hold_reason
            .clone()
            .or(j.error_message.clone())
            .unwrap_or_default();
        println!(
            "{:<30} {:<10} {:<12} {:>5}  {:<28} {}",
            j.id,
            j.state.as_str(),
            j.request_id.as_deref().unwrap_or("-"),
            j.page_count
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            j.source_name_shown(),
            note
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn get(db: &Db, id: &str) -> anyhow::Result<Job> {
    db.job_get(id)?.with_context(|| format!("no job {id}"))
}

pub fn run(cmd: JobCommand, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    match cmd {
        JobCommand::Show { job, json } => {
            let job = get(&db, &job)?;
            let report: Option<serde_json::Value> = job
                .report_json
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?;
            let documents = db.jobs_list(&JobFilter {
                parent: Some(job.id.clone()),
                ..Default::default()
            })?;
            if json {
                let mut v = serde_json::to_value(&job)?;
                v["report"] = report.unwrap_or(serde_json::Value::Null);
                v["documents"] = serde_json::to_value(&documents)?;
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let files = service::job_files::JobFiles::open(config)?;
                print_job(&job, &files, report.as_ref());
                if !documents.is_empty() {
                    println!("\nsplit at its sheets into:");
                    for d in &documents {
                        println!(
                            "  {}  {:<9} {:<12} {} page(s)",
                            d.id,
                            d.state.as_str(),
                            d.request_id.as_deref().unwrap_or("-"),
                            d.page_count.unwrap_or(0)
                        );
                    }
                }
            }
        }
        JobCommand::Release { job, reason } => {
            service::jobs::release(&*db, &job, &actor(), reason)?;
            println!("released {job}: ready for delivery");
        }
        JobCommand::Reprocess { job } => {
            let files = service::job_files::JobFiles::open(config)?;
            service::jobs::reprocess(&*db, &config.quarantine_dir(), &files, &job, &actor())?;
            println!("{job} queued for processing again");
        }
        JobCommand::Redeliver { job } => {
            let found = get(&db, &job)?;
            let deliverer = crate::deliver::Deliverer::open(config, state::Repo::new(db.clone()))?;
            let receipt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(deliverer.redeliver(&found, &actor()))?;
            println!(
                "{job} delivered again as {}: link {} ({} downloads, until {})",
                receipt.delivery_id, receipt.url, receipt.downloads, receipt.expires_at
            );
        }
        JobCommand::Match { job, request } => {
            use service::jobs::MatchedBy;
            let cfg = &config.config;
            match service::jobs::match_request(
                &*db,
                cfg,
                &job,
                &request,
                &actor(),
                MatchedBy::Person,
            ) {
                Ok(m) => println!("{job} {}", m.summary()),
                Err(state::StateError::NotFound(why)) if db.job_get(&job)?.is_some() => {
                    let similar = service::jobs::similar_requests(&*db, &request)?;
                    let hint = match similar.as_slice() {
                        [] => String::new(),
                        ids => format!("; did you mean {}?", ids.join(", ")),
                    };
                    anyhow::bail!("{why}{hint}");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_job(job: &Job, files: &service::job_files::JobFiles, report: Option<&serde_json::Value>) {
    println!("job       {}", job.id);
    println!("state     {}", job.state);
    println!(
        "request   {}",
        job.request_id.as_deref().unwrap_or("- (unmatched)")
    );
    println!(
        "source    {} (sha256 {})",
        job.source_name_shown(),
        job.source_sha256
    );
    println!("received  {}", job.created_at);
    if let Some(batch) = &job.parent_job {
        println!("batch     cut from {batch}");
    }
    if let Some(r) = &job.hold_reason {
        println!("held      {r}");
    }
    if let (Some(c), Some(m)) = (&job.error_code, &job.error_message) {
        println!("error     {c}: {m}");
    }
    if job.output_sha256.is_some() {
        let kept = if files.in_store() {
            " (this node's copy; the object store holds it by its SHA-256)"
        } else {
            ""
        };
        println!("output    {}{kept}", files.output_path(job).display());
    }
    let Some(report) = report else { return };
    println!(
        "\n{:>4} {:>6} {:>7} {:>6} {:>5} {:>6}  WARNINGS",
        "PAGE", "SKEW", "ROTATED", "OCR%", "WORDS", "PRINTED"
    );
    for p in report["pages"].as_array().into_iter().flatten() {
        let warnings: Vec<&str> = p["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w["code"].as_str())
            .collect();
        println!(
            "{:>4} {:>6} {:>7} {:>6} {:>5} {:>6}  {}{}",
            p["output_page"]
                .as_u64()
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            p["skew"]["angle_deg"]
                .as_f64()
                .map(|a| format!("{a:.2}"))
                .unwrap_or_else(|| "-".into()),
            p["rotation_applied"],
            p["mean_ocr_confidence"]
                .as_f64()
                .map(|c| format!("{c:.0}"))
                .unwrap_or_else(|| "-".into()),
            p["word_count"],
            p["printed_page_number"].as_str().unwrap_or("-"),
            if p["blank"].as_bool() == Some(true) {
                "blank "
            } else {
                ""
            },
            warnings.join(", ")
        );
    }
}

//! `quire jobs` and `quire job show|release|reprocess|match|redeliver`: the technician's review
//! queue.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::actor;
use super::table::Table;
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
    /// Print JSON (stored UTC times) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Show one job with its quality report.
    Show {
        /// The job id (`quire jobs`).
        job: String,
        /// Print JSON (the whole quality report, stored UTC times) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Release a held job: it is ready for delivery as it is.
    Release {
        /// The job id (`quire jobs`).
        job: String,
        /// Why the hold no longer applies (recorded in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Process a job again from its original (after a fix, or a failed run).
    Reprocess {
        /// The job id (`quire jobs`).
        job: String,
    },
    /// Attach a job to a request (for scans no name or barcode matched).
    Match {
        /// The job id (`quire jobs --unmatched`).
        job: String,
        /// The request id the scan answers.
        request: String,
    },
    /// Send a delivered job again: a new stamped copy, link and e-mail for its request (when
    /// the link expired or was used up, or the mail went astray). Not counted again under the
    /// rule of five.
    Redeliver {
        /// The job id (`quire jobs`).
        job: String,
    },
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
    let zone = &config.config.institution.time_zone;
    let mut table = Table::new(&[
        "JOB", "STATE", "REQUEST", "PAGES", "RECEIVED", "SOURCE", "NOTE",
    ])
    .right(&["PAGES"]);
    for j in jobs {
        let mut note: Vec<String> = j
            .hold_reason
            .clone()
            .or(j.error_message.clone())
            .into_iter()
            .collect();
        let near = near_duplicates(&j);
        if !near.is_empty() {
            let of: Vec<&str> = near.iter().filter_map(|n| n["job"].as_str()).collect();
            note.push(format!("near-duplicate of {}", of.join(", ")));
        }
        table.row(vec![
            j.id.clone(),
            j.state.as_str().to_string(),
            j.request_id.clone().unwrap_or_else(|| "-".into()),
            j.page_count
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            j.created_at.shown_second(zone),
            j.source_name_shown(),
            note.join("; "),
        ]);
    }
    table.print();
    Ok(ExitCode::SUCCESS)
}

/// The earlier jobs the daemon found sharing pages with this one (its report's
/// `near_duplicates`): a rescan, or the same article scanned twice.
fn near_duplicates(job: &Job) -> Vec<serde_json::Value> {
    job.report_json
        .as_deref()
        .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
        .and_then(|r| r["near_duplicates"].as_array().cloned())
        .unwrap_or_default()
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
                let zone = &config.config.institution.time_zone;
                print_job(&job, &files, report.as_ref(), zone);
                if !documents.is_empty() {
                    println!("\nsplit at its sheets into:");
                    let mut table =
                        Table::new(&["JOB", "STATE", "REQUEST", "PAGES"]).right(&["PAGES"]);
                    for d in &documents {
                        table.row(vec![
                            d.id.clone(),
                            d.state.as_str().to_string(),
                            d.request_id.clone().unwrap_or_else(|| "-".into()),
                            d.page_count.unwrap_or(0).to_string(),
                        ]);
                    }
                    table.print();
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

fn print_job(
    job: &Job,
    files: &service::job_files::JobFiles,
    report: Option<&serde_json::Value>,
    zone: &quire_domain::Zone,
) {
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
    println!("received  {}", job.created_at.shown_second(zone));
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
    let near = near_duplicates(job);
    if !near.is_empty() {
        println!("\nnear-duplicates (pages shared with earlier jobs):");
        for n in &near {
            println!(
                "  pages {} look like pages {} of job {} ({:.0}% similar)",
                n["pages"].as_str().unwrap_or("?"),
                n["their_pages"].as_str().unwrap_or("?"),
                n["job"].as_str().unwrap_or("?"),
                n["similarity"].as_f64().unwrap_or(0.0) * 100.0
            );
        }
    }
    println!();
    let mut table = Table::new(&[
        "PAGE", "SKEW", "ROTATED", "OCR%", "WORDS", "PRINTED", "WARNINGS",
    ])
    .right(&["PAGE", "SKEW", "ROTATED", "OCR%", "WORDS", "PRINTED"]);
    for p in report["pages"].as_array().into_iter().flatten() {
        let mut notes: Vec<String> = Vec::new();
        // A batch's barcode sheets are left out of the output: say what they are.
        match (
            p["barcode"]["sheet"].as_str(),
            p["barcode"]["text"].as_str(),
        ) {
            (Some("request"), text) => notes.push(format!(
                "cover sheet ({})",
                text.map(str::trim).unwrap_or("?")
            )),
            (Some("separator"), _) => notes.push("separator sheet".into()),
            _ => {}
        }
        if p["blank"].as_bool() == Some(true) {
            notes.push("blank".into());
        }
        notes.extend(
            p["warnings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|w| w["code"].as_str().map(str::to_string)),
        );
        let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        table.row(vec![
            or_dash(p["output_page"].as_u64().map(|n| n.to_string())),
            or_dash(p["skew"]["angle_deg"].as_f64().map(|a| format!("{a:.2}"))),
            p["rotation_applied"].to_string(),
            or_dash(p["mean_ocr_confidence"].as_f64().map(|c| format!("{c:.0}"))),
            p["word_count"].to_string(),
            or_dash(p["printed_page_number"].as_str().map(str::to_string)),
            notes.join(", "),
        ]);
    }
    table.print();
}

//! `quire preserve JOB` and `quire preserve --verify PATH`: a job's preservation master (a
//! BagIt bag) written by hand, and any bag's fixity checked. Both are
//! `quire_service::preserve`'s, the same code the daemon writes bags with.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::actor;
use crate::config::LoadedConfig;
use crate::service::{self, preserve};
use crate::state;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["job", "verify"])))]
pub struct PreserveArgs {
    /// The job (`quire jobs`) to write the bag of, into `[preservation] path`; its originals
    /// must still be kept (`[intake] keep_originals`). An earlier bag of it is replaced.
    job: Option<String>,
    /// Check the bag at PATH instead: every file against its manifest checksum, no file left
    /// out, the Payload-Oxum. Exits 1, naming each file that fails, when it is not valid.
    #[arg(long, value_name = "PATH", conflicts_with = "job")]
    verify: Option<PathBuf>,
}

pub fn run(args: PreserveArgs, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    if let Some(bag) = args.verify {
        return Ok(match preserve::verify(&bag) {
            Ok(ok) => {
                println!(
                    "{}: valid ({} payload files, {} bytes)",
                    bag.display(),
                    ok.files,
                    ok.bytes
                );
                ExitCode::SUCCESS
            }
            Err(problems) => {
                eprintln!(
                    "quire: {} is not a valid bag ({} problem(s)):",
                    bag.display(),
                    problems.len()
                );
                for p in &problems {
                    eprintln!("  {p}");
                }
                ExitCode::FAILURE
            }
        });
    }
    let id = args.job.context("name a job, or --verify PATH")?;
    let db = state::open(config)?;
    let job = db.job_get(&id)?.with_context(|| format!("no job {id}"))?;
    let files = service::job_files::JobFiles::open(config)?;
    let done = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(preserve::preserve_job(&*db, config, &files, &job, &actor()))?;
    println!(
        "{}: bag of {id} written ({} payload files, {} bytes)",
        done.path.display(),
        done.files,
        done.bytes
    );
    Ok(ExitCode::SUCCESS)
}

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
    /// out, the Payload-Oxum. PATH is a folder, or `store:preservation/JOB` for a bag in the
    /// object store (as the console shows it), which is downloaded to a temporary folder and
    /// checked there. Exits 1, naming each file that fails, when it is not valid.
    #[arg(long, value_name = "PATH", conflicts_with = "job")]
    verify: Option<String>,
}

pub fn run(args: PreserveArgs, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if let Some(location) = args.verify {
        let location = preserve::BagLocation::parse(&location)?;
        let scratch = tempfile::tempdir()?;
        let bag: PathBuf = match &location {
            preserve::BagLocation::Folder(path) => path.clone(),
            preserve::BagLocation::Store(key) => {
                let store = service::deliver::open_store(config)?;
                runtime.block_on(preserve::fetch_bag(&*store, key, scratch.path()))?
            }
        };
        return Ok(match preserve::verify(&bag) {
            Ok(ok) => {
                println!(
                    "{location}: valid ({} payload files, {} bytes)",
                    ok.files, ok.bytes
                );
                ExitCode::SUCCESS
            }
            Err(problems) => {
                eprintln!(
                    "quire: {location} is not a valid bag ({} problem(s)):",
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
    let store = service::deliver::open_store(config)?;
    let files = service::job_files::JobFiles::new(config, store.clone());
    let done = runtime.block_on(preserve::preserve_job(
        &*db,
        config,
        &files,
        &*store,
        &job,
        &actor(),
    ))?;
    println!(
        "{}: bag of {id} written ({} payload files, {} bytes)",
        done.location, done.files, done.bytes
    );
    Ok(ExitCode::SUCCESS)
}

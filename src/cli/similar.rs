//! `quire similar FILE...`: has this article been scanned (or delivered) before? Processes the
//! files like a job (OCR included) and compares their pages with every stored job.

use std::path::PathBuf;
use std::process::ExitCode;

use quire_pipeline::{Processor, Silent};

use crate::config::LoadedConfig;
use crate::intake::similar;
use crate::state;

#[derive(Debug, clap::Args)]
pub struct SimilarArgs {
    /// The scan (one or more files, pages in order).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: SimilarArgs, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    let processor = Processor::new(config.config.processing.to_options())?;
    let scratch = tempfile::tempdir()?;
    let done = processor.process(&args.files, &scratch.path().join("similar.pdf"), &Silent)?;
    let rows = similar::page_rows(&done.report);
    let found = similar::find(&db, &rows, None)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else if found.is_empty() {
        println!(
            "no earlier job shares pages with this scan ({} pages compared)",
            rows.len()
        );
    } else {
        for m in &found {
            println!("{}", m.describe());
        }
    }
    Ok(ExitCode::SUCCESS)
}

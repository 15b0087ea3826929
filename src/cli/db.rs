//! `quire db copy`: moves the single-box SQLite database into a new PostgreSQL database.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::config::LoadedConfig;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy everything (the audit chain included) from this install's SQLite database into an
    /// empty PostgreSQL database, then check the copy: row counts and the verified audit head.
    Copy(CopyArgs),
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The PostgreSQL URL (`postgres://user@host:5432/db`). It may hold a password and would
    /// show in the process list: prefer --to-file.
    #[arg(long, conflicts_with = "to_file", required_unless_present = "to_file")]
    to: Option<String>,
    /// A file whose first line is the PostgreSQL URL.
    #[arg(long)]
    to_file: Option<PathBuf>,
}

pub fn run(cmd: DbCommand, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let DbCommand::Copy(args) = cmd;
    let source = config.database_path().context(
        "this install's database is already PostgreSQL: `db copy` moves a SQLite database",
    )?;
    anyhow::ensure!(
        source.is_file(),
        "no SQLite database at {}: nothing to copy",
        source.display()
    );
    let url = match (args.to, args.to_file) {
        (Some(url), _) => url,
        (None, Some(file)) => std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
        (None, None) => anyhow::bail!("name the target with --to or --to-file"),
    };
    anyhow::ensure!(
        url.starts_with("postgres://") || url.starts_with("postgresql://"),
        "the target must be a postgres:// URL"
    );
    let report = quire_state::copy::sqlite_to_postgres(&source, &url)
        .with_context(|| format!("copying {} to PostgreSQL", source.display()))?;
    println!("copied {} to PostgreSQL:", source.display());
    for (table, rows) in &report.tables {
        println!("  {table:<22} {rows:>8} rows");
    }
    println!(
        "audit chain verified on the copy: {} events, head {}",
        report.audit.count, report.audit.head
    );
    println!(
        "Next: stop every daemon on the old database, set [database] backend = \"postgres\" \
         (see docs/scaling.md), start them again."
    );
    Ok(ExitCode::SUCCESS)
}

//! Command-line surface: one file per command family.

mod audit_cmd;
mod compliance_cmd;
mod config_cmd;
mod daemon;
mod db;
mod iso18626_cmd;
mod job;
mod links;
pub mod logging;
mod nodes;
mod preserve;
pub mod process;
mod report;
mod request;
mod scan;
mod similar;
mod stamp;
mod table;
mod trace;
mod user;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, LoadedConfig};

#[derive(Debug, Parser)]
#[command(
    name = "quire",
    version,
    about = "Scans in; delivered, searchable, copyright-stamped PDFs out"
)]
pub struct Cli {
    /// Configuration file. Default: ./quire.toml if present, else the embedded default.
    #[arg(long, global = true, env = "QUIRE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Log format on stderr: readable text, or one JSON object per line for servers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// More log detail (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check or show the configuration.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Run the daemon until SIGINT or SIGTERM.
    Daemon,
    /// Verify, export or search the tamper-evident audit log.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// List jobs (the review queue).
    Jobs(job::JobsArgs),
    /// Show, release, reprocess or match one job.
    #[command(subcommand)]
    Job(job::JobCommand),
    /// List borrowers' links.
    Links(links::LinksArgs),
    /// Revoke or extend one link.
    #[command(subcommand)]
    Link(links::LinkCommand),
    /// Deliver a finished PDF by hand: stamp, store, link, notice.
    Deliver(links::DeliverArgs),
    /// Remove delivered files whose links ended long enough ago.
    Purge(links::PurgeArgs),
    /// Find earlier jobs that share pages with a scan (rescans, duplicates).
    Similar(similar::SimilarArgs),
    /// Find which delivery a PDF copy came from.
    Trace(trace::TraceArgs),
    /// Add, import or list requests.
    #[command(subcommand)]
    Request(request::RequestCommand),
    /// Turn scans into one searchable PDF, one-shot (like ocrmypdf).
    Process(process::ProcessArgs),
    /// Stamp a PDF with the cover sheet, notices and a per-recipient watermark.
    Stamp(stamp::StampArgs),
    /// Capture from a SANE scanner into the inbox.
    Scan(scan::ScanArgs),
    /// List deliveries (`--held`: those awaiting copyright review).
    Deliveries(compliance_cmd::DeliveriesArgs),
    /// Release a delivery held for copyright review.
    #[command(subcommand)]
    Delivery(compliance_cmd::DeliveryCommand),
    /// Compliance reports (`report contu`: the CONTU copyright list).
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Prune records past retention and pseudonymise patrons.
    #[command(subcommand)]
    Retention(compliance_cmd::RetentionCommand),
    /// Add or list staff users of the web console.
    #[command(subcommand)]
    User(user::UserCommand),
    /// List the daemons sharing this database: roles, last heartbeat, jobs in hand.
    Nodes(nodes::NodesArgs),
    /// Move the database: `db copy --to-file URLFILE` copies SQLite into a new PostgreSQL.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// ISO 18626: the partner libraries' systems (`peers`) and status messages to them (`outbox`).
    #[command(subcommand)]
    Iso18626(iso18626_cmd::Iso18626Command),
    /// Write a job's preservation master (a BagIt bag), or `--verify` a bag's fixity.
    Preserve(preserve::PreserveArgs),
    /// List the `[[webhooks]]` endpoints: how far each was sent, failed tries, last error.
    Webhooks(webhooks::WebhooksArgs),
}

impl Command {
    /// Whether the command only prints after its work is done, so that a reader closing the
    /// pipe early may simply end it (see `main`). Long-running commands that must not die with
    /// their terminal's pipe are not filters.
    pub fn is_filter(&self) -> bool {
        !matches!(self, Command::Daemon | Command::Scan(_))
    }
}

/// Who a command acts as in the audit log: the login name, or `cli` without one.
pub(crate) fn actor() -> String {
    std::env::var("USER").unwrap_or_else(|_| "cli".into())
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let source = config::Source::resolve(cli.config.as_deref());
    match cli.command {
        Command::Config(cmd) => config_cmd::run(cmd, &source),
        // Loads the configuration itself: a bad one has its own exit code there (9).
        Command::Process(args) => Ok(process::run(args, &source)),
        command => {
            let loaded = LoadedConfig::load(&source).map_err(|errs| anyhow::anyhow!("{errs}"))?;
            match command {
                Command::Config(_) => unreachable!("handled above"),
                Command::Daemon => daemon::run(&loaded),
                Command::Audit(cmd) => audit_cmd::run(cmd, &loaded),
                Command::Jobs(args) => job::list(args, &loaded),
                Command::Job(cmd) => job::run(cmd, &loaded),
                Command::Links(args) => links::list(args, &loaded),
                Command::Link(cmd) => links::change(cmd, &loaded),
                Command::Deliver(args) => links::deliver(args, &loaded),
                Command::Purge(args) => links::purge(args, &loaded),
                Command::Similar(args) => similar::run(args, &loaded),
                Command::Trace(args) => trace::run(args, &loaded),
                Command::Request(cmd) => request::run(cmd, &loaded),
                Command::Process(_) => unreachable!("handled above"),
                Command::Stamp(args) => stamp::run(args, &loaded),
                Command::Scan(args) => scan::run(args, &loaded),
                Command::Deliveries(args) => compliance_cmd::list(args, &loaded),
                Command::Delivery(cmd) => compliance_cmd::run(cmd, &loaded),
                Command::Report(cmd) => report::run(cmd, &loaded),
                Command::Retention(cmd) => compliance_cmd::retention(cmd, &loaded),
                Command::User(cmd) => user::run(cmd, &loaded),
                Command::Nodes(args) => nodes::list(args, &loaded),
                Command::Db(cmd) => db::run(cmd, &loaded),
                Command::Iso18626(cmd) => iso18626_cmd::run(cmd, &loaded),
                Command::Preserve(args) => preserve::run(args, &loaded),
                Command::Webhooks(args) => webhooks::list(args, &loaded),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every flag and argument of every subcommand says what it is for in `--help`.
    #[test]
    fn every_argument_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "quire", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:#?}");
    }
}

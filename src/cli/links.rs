//! `quire links`, `quire link revoke|extend|unlock`, `quire deliver`, `quire purge`: staff control of
//! what borrowers can download.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use super::actor;
use super::table::Table;
use crate::config::LoadedConfig;
use crate::deliver::{Deliverer, JobTie, purge};
use crate::service::links;
use crate::state;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

#[derive(Debug, clap::Args)]
pub struct LinksArgs {
    /// Only links of this request.
    #[arg(long)]
    request: Option<String>,
    /// Print JSON (stored UTC times, with each link's URL) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn list(args: LinksArgs, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    let key = crate::deliver::link_key::LinkKey::for_config(config)?;
    let base = config
        .config
        .server
        .public_url
        .trim_end_matches('/')
        .to_string();
    let now = quire_domain::Timestamp::now();
    let rows: Vec<serde_json::Value> = db
        .links_list(args.request.as_deref())?
        .into_iter()
        .map(|(l, d)| {
            json!({
                "id": l.id,
                "url": format!("{base}/d/{}", key.token(&l.id)),
                "request": d.request_id,
                "delivery": d.id,
                "recipient": d.recipient,
                "expires_at": l.expires_at,
                "downloads_left": l.downloads_left,
                "downloads_allowed": l.downloads_allowed,
                "state": l.state(d.state, now).as_str(),
            })
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        let zone = &config.config.institution.time_zone;
        let mut table =
            Table::new(&["LINK", "REQUEST", "STATE", "LEFT", "EXPIRES", "URL"]).right(&["LEFT"]);
        for r in &rows {
            let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
            let expires = r["expires_at"]
                .as_str()
                .and_then(|t| t.parse::<quire_domain::Timestamp>().ok())
                .map(|t| t.shown_second(zone))
                .unwrap_or_default();
            table.row(vec![
                text("id"),
                text("request"),
                text("state"),
                r["downloads_left"].to_string(),
                expires,
                text("url"),
            ]);
        }
        table.print();
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum LinkCommand {
    /// Withdraw a link now; the borrower's page then says so (410).
    Revoke {
        /// The link id (`quire links`).
        link: String,
        /// Why it is withdrawn (recorded in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Unlock a link that too many wrong pickup codes locked; its count of wrong codes
    /// starts again from zero.
    Unlock {
        /// The link id (`quire links`).
        link: String,
    },
    /// Give a link more days (from its expiry, or from now if it has expired) or more downloads.
    #[command(group = clap::ArgGroup::new("more").required(true).multiple(true))]
    Extend {
        /// The link id (`quire links`).
        link: String,
        /// Days to add to its expiry (counted from now if it has already expired).
        #[arg(long, group = "more")]
        days: Option<u32>,
        /// Downloads to add to what is left.
        #[arg(long, group = "more")]
        downloads: Option<u32>,
    },
}

pub fn change(cmd: LinkCommand, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    match cmd {
        LinkCommand::Revoke { link, reason } => {
            links::revoke(&*db, &link, &actor(), reason.as_deref())?;
            println!("revoked {link}");
        }
        LinkCommand::Unlock { link } => {
            links::unlock(&*db, &link, &actor())?;
            println!("unlocked {link}");
        }
        LinkCommand::Extend {
            link,
            days,
            downloads,
        } => {
            links::extend(&*db, &link, &actor(), links::More { days, downloads })?;
            println!("extended {link}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct DeliverArgs {
    /// The request the file answers.
    #[arg(long)]
    request: String,
    /// A finished PDF (it is stamped for the recipient on the way).
    file: PathBuf,
}

pub fn deliver(args: DeliverArgs, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    let request = db
        .request_get(&args.request)?
        .with_context(|| format!("no request {}", args.request))?;
    let pdf =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let deliverer = Deliverer::open(config, state::Repo::new(db))?;
    let receipt = runtime()?
        .block_on(deliverer.deliver(&request, pdf, JobTie::None, &actor()))
        .with_context(|| format!("delivering {}", args.file.display()))?;
    let c = &receipt.compliance;
    match c.verdict {
        quire_domain::compliance::Verdict::Hold => println!(
            "HELD for copyright review: copy {} of {} for this library and work in {}; the link opens after              `quire delivery release {} --reason ...`",
            c.nth, c.limit, c.year, receipt.delivery_id
        ),
        quire_domain::compliance::Verdict::Warn => println!(
            "warning: copy {} beyond the limit of {} for this library and work in {} (policy warn)",
            c.nth, c.limit, c.year
        ),
        quire_domain::compliance::Verdict::Deliver => {}
    }
    println!(
        "delivered {} to {} <{}>",
        args.file.display(),
        request.patron_name,
        request.patron_email
    );
    println!("  delivery  {}", receipt.delivery_id);
    println!(
        "  link      {} (until {}, {} downloads)",
        receipt.link_id, receipt.expires_at, receipt.downloads
    );
    println!("  url       {}", receipt.url);
    if let Some(code) = receipt.pickup_code {
        println!("  pickup    {code}");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    /// Say what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn purge(args: PurgeArgs, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    let store = crate::deliver::open_store(config)?;
    let repo = state::Repo::new(db);
    let report = runtime()?.block_on(purge::run(&repo, &store, config, args.dry_run, &actor()))?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    println!(
        "{verb} {} delivered file(s), {} bytes",
        report.deliveries.len(),
        report.bytes
    );
    for d in &report.deliveries {
        println!("  {d}");
    }
    Ok(ExitCode::SUCCESS)
}

//! `quire audit verify|anchor|export|search|note`: the compliance officer's view of the log.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

use crate::config::LoadedConfig;
use crate::state::{self, Anchor, AuditFilter, Event, NewEvent, StateError};
use quire_domain::Action;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exit non-zero naming the first bad seq (3), or 4 when the
    /// anchor is older than the retention checkpoint and so can no longer be checked.
    Verify {
        /// A head printed earlier by `quire audit anchor` (SEQ:HASH); also detects truncation.
        #[arg(long)]
        anchor: Option<Anchor>,
    },
    /// Print the chain head as SEQ:HASH, to keep somewhere else.
    Anchor,
    /// Record a note in the log (for example where an anchor was filed).
    Note {
        /// The note's text.
        text: String,
        /// Who is writing; defaults to the login name.
        #[arg(long)]
        actor: Option<String>,
    },
    /// Find events for a compliance officer: by request, patron, library, action and dates.
    Search {
        /// A patron's name or e-mail (any case): events about their requests, deliveries and links.
        #[arg(long)]
        patron: Option<String>,
        /// A requesting library's symbol: events about its requests, deliveries and links.
        #[arg(long)]
        library: Option<String>,
        /// Output: an aligned table, CSV, or one JSON object per line.
        #[arg(long, value_enum, default_value_t = SearchFormat::Table)]
        format: SearchFormat,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Stream events as CSV or JSON lines.
    Export {
        /// Output: CSV, or one JSON object per line.
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        #[command(flatten)]
        filter: FilterArgs,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SearchFormat {
    Table,
    Csv,
    Jsonl,
}

/// Whether an event concerns the patron or library searched for: filed under one of their
/// ids, or naming them in its details (events with no request subject, such as a delivery's).
struct PartyMatch {
    ids: std::collections::HashSet<String>,
    patron: Option<String>,
    library: Option<String>,
}

impl PartyMatch {
    fn matches(&self, e: &Event) -> bool {
        let filed = e.subjects.as_object().is_some_and(|m| {
            m.values()
                .any(|v| v.as_str().is_some_and(|id| self.ids.contains(id)))
        });
        let named = self.patron.as_ref().is_none_or(|p| {
            e.details["recipient"]
                .as_str()
                .is_some_and(|r| r.eq_ignore_ascii_case(p))
        }) && self
            .library
            .as_ref()
            .is_none_or(|l| e.details["library"].as_str() == Some(l.as_str()));
        filed || named
    }
}

#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Only events at or after this date or RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// Only events at or before this date (whole day) or RFC 3339 time.
    #[arg(long)]
    until: Option<String>,
    /// Only this action, or a prefix ending in `.` such as `link.`.
    #[arg(long)]
    action: Option<String>,
    /// Only events about this request: filed under it, or under its jobs, deliveries or links
    /// (downloads, revocations, notices sent).
    #[arg(long)]
    request: Option<String>,
}

impl FilterArgs {
    fn into_filter(self) -> anyhow::Result<AuditFilter> {
        for (flag, v) in [("--since", &self.since), ("--until", &self.until)] {
            if let Some(v) = v {
                check_time(v).with_context(|| format!("{flag} {v}"))?;
            }
        }
        Ok(AuditFilter {
            since: self.since,
            until: self.until,
            action: self.action,
            request: self.request,
            ..Default::default()
        })
    }
}

fn check_time(v: &str) -> anyhow::Result<()> {
    use time::format_description::well_known::Rfc3339;
    let date = time::macros::format_description!("[year]-[month]-[day]");
    if time::OffsetDateTime::parse(v, &Rfc3339).is_ok() || time::Date::parse(v, &date).is_ok() {
        Ok(())
    } else {
        anyhow::bail!("expected a date (2026-01-31) or an RFC 3339 time (2026-01-31T12:00:00Z)")
    }
}

pub fn run(cmd: AuditCommand, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    match cmd {
        AuditCommand::Verify { anchor } => {
            // An anchor older than the oldest kept event cannot be checked, but the chain (and
            // the checkpoint it starts from) still can: a forged checkpoint is named first.
            let start = db.audit_start()?.0;
            let (pruned_anchor, anchor) = match anchor {
                Some(a) if a.seq < start => (Some(a), None),
                a => (None, a),
            };
            match (state::verify_audit(&*db, anchor)?, pruned_anchor) {
                (Err(b), _) => {
                    eprintln!("audit log BROKEN at seq {}: {}", b.seq, b.reason);
                    Ok(ExitCode::from(3))
                }
                (Ok(_), Some(pruned_anchor)) => {
                    // Retention pruned the events this anchor covers; "truncated" would be wrong.
                    eprintln!(
                        "cannot check anchor {pruned_anchor}: events up to seq {start} were pruned by `quire \
                         retention run` (see the retention.pruned event); use an anchor taken after \
                         the pruning"
                    );
                    Ok(ExitCode::from(4))
                }
                (Ok(summary), None) => {
                    println!(
                        "audit log intact: {} events, head {}",
                        summary.count, summary.head
                    );
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        AuditCommand::Anchor => match state::verify_audit(&*db, None)? {
            Ok(summary) => {
                println!("{}", summary.head);
                Ok(ExitCode::SUCCESS)
            }
            Err(b) => {
                eprintln!(
                    "refusing to anchor a broken log: seq {}: {}",
                    b.seq, b.reason
                );
                Ok(ExitCode::from(3))
            }
        },
        AuditCommand::Note { text, actor } => {
            let actor = actor.unwrap_or_else(super::actor);
            let event = db.audit_append(
                NewEvent::new(actor, Action::AuditNote)
                    .details(serde_json::json!({ "text": text })),
            )?;
            println!("recorded as seq {}", event.seq);
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Search {
            patron,
            library,
            format,
            filter,
        } => {
            let filter = filter.into_filter()?;
            let party = (patron.is_some() || library.is_some())
                .then(|| -> anyhow::Result<PartyMatch> {
                    let ids = db
                        .audit_subject_ids(patron.as_deref(), library.as_deref())?
                        .into_iter()
                        .collect();
                    Ok(PartyMatch {
                        ids,
                        patron,
                        library,
                    })
                })
                .transpose()?;
            let mut found = Vec::new();
            db.audit_scan(&filter, &mut |e| {
                if party.as_ref().is_none_or(|p| p.matches(&e)) {
                    found.push(e);
                }
                Ok(())
            })?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            match format {
                SearchFormat::Jsonl => {
                    for e in &found {
                        serde_json::to_writer(&mut out, e)?;
                        out.write_all(b"\n")?;
                    }
                }
                SearchFormat::Csv => {
                    let mut w = csv::Writer::from_writer(&mut out);
                    w.write_record(crate::state::audit::CSV_HEADER)?;
                    for e in found {
                        w.write_record(e.csv_record())?;
                    }
                    w.flush()?;
                }
                SearchFormat::Table => {
                    writeln!(
                        out,
                        "{:>6}  {:<24} {:<16} {:<24} SUBJECTS",
                        "SEQ", "TIME", "ACTOR", "ACTION"
                    )?;
                    for e in &found {
                        writeln!(
                            out,
                            "{:>6}  {:<24} {:<16} {:<24} {}",
                            e.seq, e.time, e.actor, e.action, e.subjects
                        )?;
                    }
                    writeln!(out, "{} event(s)", found.len())?;
                }
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export { format, filter } => {
            let filter = filter.into_filter()?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            match format {
                Format::Jsonl => db.audit_scan(&filter, &mut |e| {
                    serde_json::to_writer(&mut out, &e)
                        .map_err(|e| StateError::Callback(e.to_string()))?;
                    out.write_all(b"\n")
                        .map_err(|e| StateError::Callback(e.to_string()))
                })?,
                Format::Csv => {
                    let mut w = csv::Writer::from_writer(&mut out);
                    w.write_record(crate::state::audit::CSV_HEADER)?;
                    db.audit_scan(&filter, &mut |e: Event| {
                        w.write_record(e.csv_record())
                            .map_err(|e| StateError::Callback(e.to_string()))
                    })?;
                    w.flush()?;
                }
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

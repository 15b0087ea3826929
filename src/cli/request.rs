//! `quire request add|import|citation|basis|cancel|decline|list`: the requests borrowers made,
//! as ILL staff enter and correct them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::config::LoadedConfig;
use crate::state::{self, Basis, Request};
use quire_service::requests::{self, AddError};

// Parsed once per run; boxing the big variant would only obscure the clap derive.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Add one request.
    Add(AddArgs),
    /// Add every request in a CSV file, or none if any row is bad.
    ///
    /// Columns (header row required, any order; only id, patron and email are required):
    /// id, patron, email, library, title, issn, isbn, article, author, year, volume, issue,
    /// pages, basis, basis_reference, link_days, link_downloads.
    Import {
        /// The CSV file.
        file: PathBuf,
    },
    /// Set a request's copyright basis (one a partner's system sent without a basis Quire
    /// knows waits for this before its copy goes out).
    Basis {
        /// The request id.
        id: String,
        /// ccg, ccl, permission, public-domain or 108d.
        basis: quire_domain::Basis,
        /// The permission's reference (e.g. the CCC order number).
        #[arg(long)]
        reference: Option<String>,
    },
    /// Correct a request's citation before its copy goes out: each field given replaces the
    /// stored one, an empty text (e.g. --pages "") clears it, the others stay. Refused once a
    /// copy was delivered or the request was cancelled.
    Citation {
        /// The request id.
        id: String,
        #[command(flatten)]
        citation: CitationArgs,
    },
    /// Cancel a request before its copy goes out: its scans waiting to be delivered are held,
    /// and a scan that comes later is held too. Refused once a copy was delivered.
    Cancel {
        /// The request id.
        id: String,
        /// Why (shown in the queue and the audit log).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Decline a request a partner's ILL system sent: it is told Unfilled, with the note.
    Decline {
        /// The request id.
        id: String,
        /// Why, for the requesting library (e.g. "volume missing from our holdings").
        #[arg(long)]
        note: String,
    },
    /// List requests, newest first.
    List {
        /// Print JSON (stored UTC times) instead of a table.
        #[arg(long)]
        json: bool,
        /// At most this many requests, newest first.
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The ILL transaction number.
    #[arg(long)]
    id: String,
    /// The reader's name, as the e-mail and cover sheet address them.
    #[arg(long)]
    patron: String,
    /// The reader's e-mail address, where the link is sent.
    #[arg(long)]
    email: String,
    /// Requesting library symbol (e.g. an OCLC symbol).
    #[arg(long)]
    library: Option<String>,
    #[command(flatten)]
    citation: CitationArgs,
    /// Copyright basis.
    #[arg(long, default_value_t = Basis::Ccl)]
    basis: Basis,
    /// Reference for the basis, e.g. a CCC order number for `permission`.
    #[arg(long)]
    basis_reference: Option<String>,
    /// Link lifetime in days for this request (overrides the default).
    #[arg(long)]
    link_days: Option<u32>,
    /// Downloads allowed for this request (overrides the default).
    #[arg(long)]
    link_downloads: Option<u32>,
}

/// The citation's flags, for `request add` and `request citation`.
#[derive(Debug, Args)]
pub struct CitationArgs {
    /// Periodical or book title.
    #[arg(long)]
    title: Option<String>,
    /// The periodical's ISSN (the rule of five counts by it).
    #[arg(long)]
    issn: Option<String>,
    /// The book's ISBN (10 or 13 digits).
    #[arg(long)]
    isbn: Option<String>,
    /// Article or chapter title.
    #[arg(long)]
    article: Option<String>,
    /// The author(s), e.g. "Smith, J.".
    #[arg(long)]
    author: Option<String>,
    /// Publication year (the rule of five counts articles of the last five years).
    #[arg(long)]
    year: Option<i32>,
    /// Volume of the periodical.
    #[arg(long)]
    volume: Option<String>,
    /// Issue of the periodical.
    #[arg(long)]
    issue: Option<String>,
    /// Requested pages, e.g. 101-115.
    #[arg(long)]
    pages: Option<String>,
}

impl From<CitationArgs> for quire_domain::Citation {
    fn from(a: CitationArgs) -> Self {
        quire_domain::Citation {
            title: a.title,
            issn: a.issn,
            isbn: a.isbn,
            article: a.article,
            author: a.author,
            year: a.year,
            volume: a.volume,
            issue: a.issue,
            pages: a.pages,
        }
    }
}

impl From<AddArgs> for Request {
    fn from(a: AddArgs) -> Self {
        Request {
            library: a.library,
            basis: a.basis,
            basis_reference: a.basis_reference,
            link_days: a.link_days,
            link_downloads: a.link_downloads,
            ..Request::new(&a.id, &a.patron, &a.email)
        }
        .with_citation(a.citation.into())
    }
}

/// Held scans that waited for the requests just added, and were matched to them.
fn print_matched(matched: &[quire_service::jobs::Matched]) {
    for m in matched {
        println!("held scan {} was waiting for it: {}", m.job.id, m.summary());
    }
}

pub fn run(cmd: RequestCommand, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    let actor = super::actor();
    match cmd {
        RequestCommand::Add(args) => {
            let request = Request::from(args);
            let matched =
                requests::add(&*db, &config.config, std::slice::from_ref(&request), &actor)
                    .map_err(|e| match e {
                        AddError::Invalid(refused) => anyhow::anyhow!("request {}", refused[0]),
                        e => e.into(),
                    })?;
            println!("added request {}", request.id);
            print_matched(&matched);
        }
        RequestCommand::Import { file } => {
            let requests = read_csv(&file)?;
            let matched = requests::add(&*db, &config.config, &requests, &actor)
                .with_context(|| format!("{}: nothing imported", file.display()))?;
            println!(
                "imported {} request(s) from {}",
                requests.len(),
                file.display()
            );
            print_matched(&matched);
        }
        RequestCommand::Basis {
            id,
            basis,
            reference,
        } => {
            let r =
                quire_service::requests::set_basis(&*db, &id, basis, reference.as_deref(), &actor)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}: basis {}", r.id, r.basis);
        }
        RequestCommand::Citation { id, citation } => {
            let given = quire_domain::Citation::from(citation);
            if given.is_empty() {
                anyhow::bail!("request {id}: give at least one citation field to correct");
            }
            let r = requests::correct_citation(&*db, &id, given, &actor).map_err(|e| match e {
                AddError::Invalid(refused) => anyhow::anyhow!("request {}", refused[0]),
                e => anyhow::anyhow!("request {id}: {e}"),
            })?;
            println!("{}: citation corrected: {}", r.id, r.citation());
        }
        RequestCommand::Cancel { id, reason } => {
            let c = quire_service::requests::cancel(&*db, &id, &reason, &actor)?;
            println!("{id}: cancelled ({}); no copy will go out", c.reason);
        }
        RequestCommand::Decline { id, note } => {
            anyhow::ensure!(!note.trim().is_empty(), "give a --note for the requester");
            quire_service::iso18626::decline(
                &*db,
                &config.config.iso18626,
                &id,
                &actor,
                note.trim(),
            )?;
            println!("{id}: declined; the requester will be told Unfilled");
        }
        RequestCommand::List { json, limit } => {
            let list = db.requests_list(limit)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_table(&list);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads and checks every row before anything is written; the error names each bad row.
pub fn read_csv(path: &std::path::Path) -> anyhow::Result<Vec<Request>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let headers: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    const KNOWN: [&str; 17] = [
        "id",
        "patron",
        "email",
        "library",
        "title",
        "issn",
        "isbn",
        "article",
        "author",
        "year",
        "volume",
        "issue",
        "pages",
        "basis",
        "basis_reference",
        "link_days",
        "link_downloads",
    ];
    let unknown: Vec<&String> = headers
        .iter()
        .filter(|h| !KNOWN.contains(&h.as_str()))
        .collect();
    if !unknown.is_empty() {
        anyhow::bail!(
            "{}: unknown column(s) {unknown:?}; known: {}",
            path.display(),
            KNOWN.join(", ")
        );
    }
    for required in ["id", "patron", "email"] {
        if !headers.iter().any(|h| h == required) {
            anyhow::bail!("{}: the column `{required}` is required", path.display());
        }
    }
    let mut requests = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("row {line}: {e}"));
                continue;
            }
        };
        let field = |name: &str| -> Option<String> {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(String::from)
        };
        let mut problems = Vec::new();
        let number = |name: &str, problems: &mut Vec<String>| -> Option<u32> {
            field(name).and_then(|v| {
                v.parse()
                    .map_err(|_| problems.push(format!("{name} `{v}` is not a number")))
                    .ok()
            })
        };
        let basis = match field("basis") {
            None => Basis::Ccl,
            Some(b) => b.parse().unwrap_or_else(|e| {
                problems.push(e);
                Basis::Ccl
            }),
        };
        let year = field("year").and_then(|v| {
            v.parse()
                .map_err(|_| problems.push(format!("year `{v}` is not a number")))
                .ok()
        });
        let request = Request {
            id: field("id").unwrap_or_default(),
            patron_name: field("patron").unwrap_or_default(),
            patron_email: field("email").unwrap_or_default(),
            library: field("library"),
            title: field("title"),
            issn: field("issn"),
            isbn: field("isbn"),
            article: field("article"),
            author: field("author"),
            year,
            volume: field("volume"),
            issue: field("issue"),
            pages: field("pages"),
            basis,
            basis_reference: field("basis_reference"),
            link_days: number("link_days", &mut problems),
            link_downloads: number("link_downloads", &mut problems),
            created_at: quire_domain::Timestamp::UNIX_EPOCH,
        };
        problems.extend(request.problems());
        if !seen.insert(request.id.clone()) {
            problems.push(format!("id {} appears twice in the file", request.id));
        }
        if problems.is_empty() {
            requests.push(request);
        } else {
            errors.push(format!(
                "row {line} ({}): {}",
                request.id,
                problems.join("; ")
            ));
        }
    }
    if !errors.is_empty() {
        anyhow::bail!(
            "{}: nothing imported; {} bad row(s):\n  {}",
            path.display(),
            errors.len(),
            errors.join("\n  ")
        );
    }
    Ok(requests)
}

fn print_table(list: &[Request]) {
    println!(
        "{:<14} {:<22} {:<8} {:<6} CITATION",
        "ID", "PATRON", "LIBRARY", "BASIS"
    );
    for r in list {
        println!(
            "{:<14} {:<22} {:<8} {:<6} {}",
            r.id,
            truncate(&r.patron_name, 22),
            r.library.as_deref().unwrap_or("-"),
            r.basis.as_str(),
            truncate(&r.citation(), 60)
        );
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

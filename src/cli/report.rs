//! `quire report contu --year 2026 [--library SYM] [--format table|csv|json]`: counted copies per
//! library and work in one calendar year, like ILLiad's Copyright List, with works at or beyond
//! the yearly limit flagged. Grouping is `quire_domain::compliance::report`'s; this file prints.

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use super::table::Table;
use crate::config::LoadedConfig;
use crate::state;
use quire_domain::compliance::report;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Copies counted under the CONTU guidelines, per library and periodical or other work.
    Contu {
        /// Calendar year of the requests.
        #[arg(long)]
        year: i32,
        /// Only this requesting library.
        #[arg(long)]
        library: Option<String>,
        /// Output: an aligned table, CSV (for a spreadsheet) or JSON.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

pub fn run(cmd: ReportCommand, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let ReportCommand::Contu {
        year,
        library,
        format,
    } = cmd;
    let db = state::open(config)?;
    let rules = &config.config.compliance;
    let copies = db.counted_copies(year, library.as_deref())?;
    let lines = report::lines(
        &copies,
        rules.copies_per_year,
        rules.similar_title_distance as usize,
    );
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&lines)?),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout().lock());
            w.write_record([
                "library",
                "kind",
                "issn_or_isbn",
                "title",
                "year",
                "copies",
                "held",
                "ccl",
                "not_counted",
                "flagged",
                "similar_to",
            ])?;
            for l in &lines {
                w.write_record([
                    l.library.clone(),
                    l.kind.clone(),
                    l.ident.clone().unwrap_or_default(),
                    l.title.clone(),
                    l.year.to_string(),
                    l.copies.to_string(),
                    l.held.to_string(),
                    l.ccl.to_string(),
                    l.not_counted.to_string(),
                    l.flagged.to_string(),
                    l.similar_to.join("; "),
                ])?;
            }
            w.flush()?;
        }
        Format::Table => {
            println!(
                "CONTU copies for requests made in {year} (limit {} per library and work)",
                rules.copies_per_year
            );
            let mut table = Table::new(&[
                "LIBRARY",
                "KIND",
                "ISSN/ISBN",
                "COPIES",
                "HELD",
                "CCL",
                "OTHER",
                "FLAG",
                "TITLE",
            ])
            .right(&["COPIES", "HELD", "CCL", "OTHER"]);
            for l in &lines {
                let mut title = l.title.clone();
                if !l.similar_to.is_empty() {
                    title.push_str(&format!("  (similar: {})", l.similar_to.join("; ")));
                }
                table.row(vec![
                    if l.library.is_empty() {
                        "-".into()
                    } else {
                        l.library.clone()
                    },
                    l.kind.clone(),
                    l.ident.clone().unwrap_or_else(|| "-".into()),
                    l.copies.to_string(),
                    l.held.to_string(),
                    l.ccl.to_string(),
                    l.not_counted.to_string(),
                    if l.flagged { "LIMIT" } else { "" }.into(),
                    title,
                ]);
            }
            table.print();
            if rules.count_ccl {
                println!("CCL copies count toward the limit here ([compliance] count_ccl = true).");
            }
            if lines.is_empty() {
                println!("(no copies recorded)");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `quire`: the command line, the daemon wiring and the HTTP server.
//!
//! Library crates (`pipeline`, `watermark`, `scanner-driver`) do the work; this binary reads the
//! configuration, opens the state, and wires them together. `anyhow` lives here only.

mod cli;
mod compliance;
mod config;
mod deliver;
mod intake;
mod server;
mod state;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::logging::init(args.log_format, args.verbose);
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("quire: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

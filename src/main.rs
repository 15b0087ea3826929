//! `quire`: the command line, the daemon wiring and the HTTP server.
//!
//! Library crates (`pipeline`, `watermark`, `scanner-driver`) do the work; this binary reads the
//! configuration, opens the state, and wires them together. `anyhow` lives here only.

mod cli;
mod compliance;
mod config;
mod console;
mod deliver;
mod intake;
mod server;
mod state;

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Tesseract's OpenMP threads would fight our one-engine-per-core workers. libgomp reads
    // OMP_THREAD_LIMIT once, when it is loaded at process start, so setting it later has no
    // effect: the only way is to run again, once, with it set (same PID: exec replaces us).
    if !quire_pipeline::ocr::openmp_limited() && std::env::var_os("QUIRE_NO_REEXEC").is_none() {
        use std::os::unix::process::CommandExt;
        if let Ok(exe) = std::env::current_exe() {
            let err = std::process::Command::new(exe)
                .args(std::env::args_os().skip(1))
                .env("OMP_THREAD_LIMIT", "1")
                .exec();
            eprintln!("quire: warning: cannot re-run with OMP_THREAD_LIMIT=1 ({err}); continuing");
        }
    }
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

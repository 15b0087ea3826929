//! `quire`: the command line and the daemon's wiring, nothing else.
//!
//! The crates beside it do the work (README, "Architecture"): `quire-service` the operations,
//! `quire-intake` the inbox and workers, `quire-web` the HTTP server, `quire-state` the database,
//! `quire-pipeline`, `quire-watermark`, `quire-delivery` and `quire-scanner-driver` the pages,
//! stamps, stores and scanners. This binary parses flags, loads the configuration, opens the
//! state and starts the parts. `anyhow` is used here and in the two application crates
//! (`quire-service`, `quire-intake`); the library crates have typed errors with stable codes.

mod cli;
use quire_config as config;
use quire_intake as intake;
use quire_service as service;
use quire_service::deliver;
mod state;

use clap::Parser;

/// Rust starts with SIGPIPE ignored, so `println!` into a closed pipe (`quire jobs | head`)
/// panics. A command that prints a listing or a result should end quietly instead, as `ls`
/// and `cat` do: the default action, death by SIGPIPE, which shells do not report. Every such
/// command has committed its work before it prints. The daemon and `scan` keep SIGPIPE
/// ignored: they must go on (or finish writing their file) whatever happens to a pipe.
fn restore_default_sigpipe() {
    // SAFETY: called once at start-up, before any thread is spawned; SIG_DFL is always a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

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
    let args = cli::Cli::try_parse().unwrap_or_else(|err| {
        // `quire process` keeps 2 for bad input, as ocrmypdf does, so its usage errors are 1.
        if err.use_stderr() && cli::process::is_process_command_line() {
            let _ = err.print();
            std::process::exit(cli::process::ProcessExit::BadArgs.code().into());
        }
        err.exit()
    });
    if args.command.is_filter() {
        restore_default_sigpipe();
    }
    cli::logging::init(args.log_format, args.verbose);
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("quire: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! `quire daemon`: opens the state, serves HTTP, and runs until SIGINT or SIGTERM.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::LoadedConfig;
use crate::intake;
use crate::server::{self, AppState};
use crate::state::{self, NewEvent};

pub fn run(config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(config))
}

async fn serve(config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let cfg = &config.config;
    for dir in [config.data_dir().to_path_buf(), cfg.intake.inbox.clone(), config.spool_dir(), config.quarantine_dir()] {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let db = state::open(config).context("opening the database")?;
    let listener = tokio::net::TcpListener::bind(cfg.server.listen)
        .await
        .with_context(|| format!("listening on {}", cfg.server.listen))?;
    let local = listener.local_addr()?;
    db.audit_append(NewEvent::new("daemon", "daemon.started").details(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "listen": local.to_string(),
        "config": config.source,
    })))?;
    tracing::info!(listen = %local, inbox = %cfg.intake.inbox.display(), data_dir = %config.data_dir().display(), "quire daemon ready");
    eprintln!("Quire is running.");
    eprintln!("  Drop scans into:   {}", cfg.intake.inbox.display());
    eprintln!("  Health:            http://{local}/healthz");
    eprintln!("  Borrower links:    {}/d/<token>", cfg.server.public_url.trim_end_matches('/'));

    let stop = Arc::new(AtomicBool::new(false));
    let wake = intake::worker::Wake::default();
    let worker = intake::worker::Worker::new(config, db.clone()).context("starting the processing worker")?;
    let worker_thread = {
        let (stop, wake) = (stop.clone(), wake.clone());
        std::thread::Builder::new().name("quire-worker".into()).spawn(move || worker.run(stop, wake))?
    };
    let inbox_thread = {
        let (stop, wake, config, db) = (stop.clone(), wake.clone(), config.clone(), db.clone());
        std::thread::Builder::new().name("quire-inbox".into()).spawn(move || {
            if let Err(e) = intake::run_inbox(&config, db, stop, wake) {
                tracing::error!(error = %format!("{e:#}"), "inbox watcher stopped");
            }
        })?
    };

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(server::serve(listener, AppState { db: db.clone(), api_tokens: std::sync::Arc::new(cfg.server.api_tokens.clone()) }, async move {
        let _ = http_stop.wait_for(|s| *s).await;
    }));

    let signal_name = wait_for_signal().await?;
    tracing::info!(signal = signal_name, "shutting down");
    let _ = stop_tx.send(true);
    http.await.context("HTTP server task")?.context("HTTP server")?;
    stop.store(true, Ordering::SeqCst);
    wake.wake();
    // A page mid-OCR finishes first; the job is then either done or resumed at the next start.
    let _ = tokio::task::spawn_blocking(move || {
        let _ = inbox_thread.join();
        let _ = worker_thread.join();
    })
    .await;
    db.audit_append(NewEvent::new("daemon", "daemon.stopped").details(json!({"signal": signal_name})))?;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() -> anyhow::Result<&'static str> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

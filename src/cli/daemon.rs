//! `quire daemon`: opens the state, serves HTTP, and runs until SIGINT or SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};

use crate::config::{LoadedConfig, NodeRole};
use crate::deliver::{Deliverer, notices, purge};
use crate::intake;
use crate::state::{self, NewEvent};
use quire_domain::Action;
use quire_web::AppState;

pub fn run(config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let cfg = &config.config;
    for dir in [
        config.data_dir().to_path_buf(),
        cfg.intake.inbox.clone(),
        config.spool_dir(),
        config.quarantine_dir(),
    ] {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Opened outside the runtime and dropped after it: the PostgreSQL client is synchronous
    // (it runs its own small runtime per call), so it must neither connect nor close a
    // connection on a thread that drives async tasks.
    let db = state::open(config).context("opening the database")?;
    let result = runtime.block_on(serve(config, db.clone()));
    drop(runtime);
    drop(db);
    result
}

async fn serve(config: &LoadedConfig, db: state::Db) -> anyhow::Result<ExitCode> {
    let cfg = &config.config;
    let repo = state::Repo::new(db.clone());
    let listener = tokio::net::TcpListener::bind(cfg.server.listen)
        .await
        .with_context(|| format!("listening on {}", cfg.server.listen))?;
    let local = listener.local_addr()?;
    let node = &cfg.node;
    let roles: Vec<&str> = node.roles.iter().map(|r| r.as_str()).collect();
    let started = NewEvent::new("daemon", Action::DaemonStarted).details(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "listen": local.to_string(),
        "config": config.source,
        "node": node.name,
        "roles": roles,
    }));
    repo.call(move |db| db.audit_append(started)).await?;
    tracing::info!(listen = %local, node = %node.name, roles = %roles.join(","), inbox = %cfg.intake.inbox.display(), data_dir = %config.data_dir().display(), "quire daemon ready");
    eprintln!(
        "Quire is running (node {}: {}).",
        node.name,
        roles.join(", ")
    );
    if node.has(NodeRole::Intake) {
        eprintln!("  Drop scans into:   {}", cfg.intake.inbox.display());
    }
    if node.has(NodeRole::Web) {
        eprintln!("  Staff console:     http://{local}/staff/");
    }
    eprintln!("  Health:            http://{local}/healthz");
    eprintln!(
        "  Borrower links:    {}/d/<token>  (quire links)",
        cfg.server.public_url.trim_end_matches('/')
    );
    if cfg.mail.transport == crate::config::delivery::MailTransport::Outbox {
        eprintln!("  E-mails (.eml):    {}", config.outbox_dir().display());
    }

    let stop = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop_rx_for_tasks = stop_rx.clone();
    let wake = intake::worker::Wake::default();
    let health = intake::health::Health::new(std::time::Duration::from_secs_f64(
        cfg.intake.stuck_after_secs,
    ));
    let deliverer = Arc::new(Deliverer::open(config, repo.clone()).context("opening the store")?);
    let mailer = notices::mailer(config).context("setting up mail")?;
    // Only a node that talks to partners needs the client (and the system's CA certificates).
    let peers = if cfg.iso18626.enabled {
        Some(
            quire_delivery::peer::PeerClient::new(std::time::Duration::from_secs(30))
                .context("setting up the ISO 18626 client")?,
        )
    } else {
        None
    };
    // The webhooks' client, when any are configured (its own, since its time limits are the
    // endpoints').
    let hooks_client = if cfg.webhooks.is_empty() {
        None
    } else {
        Some(
            quire_delivery::peer::PeerClient::new(std::time::Duration::from_secs(30))
                .context("setting up the webhooks' client")?,
        )
    };
    // Notices, ISO 18626 status messages, webhooks and purges go with the worker role: the
    // node that delivers sends.
    let background = node.has(NodeRole::Worker).then(|| {
        let (repo, deliverer, config) = (repo.clone(), deliverer.clone(), config.clone());
        let mut stop = stop_rx_for_tasks.clone();
        tokio::spawn(async move {
            let purge_every =
                std::time::Duration::from_secs(config.config.links.purge_interval_secs.max(1));
            let mut last_purge = tokio::time::Instant::now() - purge_every;
            // What this node held when it last stopped (killed mid-send) is due again now, not
            // after the hold meant for a node that died for good.
            let node = config.config.node.name.clone();
            if let Err(e) = quire_service::webhooks::release_own(&repo, &node).await {
                tracing::error!(error = %e, "freeing this node's webhook endpoints");
            }
            match notices::release_own(&repo, &config).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    notices = n,
                    "notices held when this node stopped are due again"
                ),
                Err(e) => tracing::error!(error = %format!("{e:#}"), "freeing this node's notices"),
            }
            match quire_service::iso18626::release_own(&repo, &node).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    messages = n,
                    "ISO 18626 messages held when this node stopped are due again"
                ),
                Err(e) => tracing::error!(error = %e, "freeing this node's ISO 18626 messages"),
            }
            loop {
                if let Err(e) = notices::send_due(&repo, &mailer, &config).await {
                    tracing::error!(error = %format!("{e:#}"), "sending notices");
                }
                let ill = &config.config.iso18626;
                if let Some(peers) = &peers
                    && let Err(e) =
                        quire_service::iso18626::send_due(&repo, &node, ill, peers).await
                {
                    tracing::error!(error = %e, "sending ISO 18626 status messages");
                }
                if let Some(client) = &hooks_client {
                    let hooks = &config.config.webhooks;
                    match quire_service::webhooks::send_due(&repo, hooks, client, &node).await {
                        Ok(p) if p != Default::default() => tracing::info!(
                            sent = p.sent,
                            retried = p.retried,
                            failed = p.failed,
                            "webhooks"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "sending webhooks"),
                    }
                }
                if last_purge.elapsed() >= purge_every {
                    last_purge = tokio::time::Instant::now();
                    match purge::run(&repo, deliverer.store(), &config, false, "daemon").await {
                        Ok(r) if !r.deliveries.is_empty() => tracing::info!(
                            purged = r.deliveries.len(),
                            bytes = r.bytes,
                            "purged delivered files"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %format!("{e:#}"), "purge"),
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        })
    });
    // Before any worker or inbox runs (see `intake::recover`).
    if node.has(NodeRole::Worker) || node.has(NodeRole::Intake) {
        // Through the one async path like every database call; custody holds its own handle
        // (the workers' threads share it), hence the owned `db` rather than the borrowed one.
        let (config, db) = (config.clone(), db.clone());
        let (files, runtime) = (deliverer.files().clone(), tokio::runtime::Handle::current());
        repo.run(move |_| intake::recover(&config, db, files, runtime))
            .await
            .context("recovering the spool")?;
    }
    // Every node beats (so `quire nodes` lists it); the beat renews this node's claims on jobs,
    // and a worker node also frees the jobs of nodes that stopped beating.
    let heartbeat = {
        let (repo, config, wake) = (repo.clone(), config.clone(), wake.clone());
        let beat = quire_service::nodes::beat_of(&config, quire_domain::Timestamp::now());
        let stop = stop_rx_for_tasks.clone();
        tokio::spawn(async move {
            quire_service::nodes::heartbeat(repo, &config, beat, stop, || wake.wake()).await
        })
    };
    let worker_threads = if node.has(NodeRole::Worker) {
        intake::worker::start(
            config,
            db.clone(),
            deliverer.clone(),
            tokio::runtime::Handle::current(),
            stop.clone(),
            wake.clone(),
            health.clone(),
        )
        .context("starting the processing workers")?
    } else {
        Vec::new()
    };
    let inbox_thread = if !node.has(NodeRole::Intake) {
        None
    } else {
        let (stop, wake, config, db) = (stop.clone(), wake.clone(), config.clone(), db.clone());
        let health = health.clone();
        let (files, runtime) = (deliverer.files().clone(), tokio::runtime::Handle::current());
        std::thread::Builder::new()
            .name("quire-inbox".into())
            .spawn(move || {
                if let Err(e) = intake::run_inbox(&config, db, files, runtime, stop, wake, health) {
                    tracing::error!(error = %format!("{e:#}"), "inbox watcher stopped");
                }
            })
            .map(Some)?
    };

    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(quire_web::serve(
        listener,
        AppState::new(config, repo.clone(), deliverer.clone(), health.clone()),
        async move {
            let _ = http_stop.wait_for(|s| *s).await;
        },
    ));

    let signal_name = wait_for_signal().await?;
    tracing::info!(signal = signal_name, "shutting down");
    let _ = stop_tx.send(true);
    http.await
        .context("HTTP server task")?
        .context("HTTP server")?;
    stop.store(true, Ordering::SeqCst);
    if let Some(background) = background {
        let _ = background.await;
    }
    let _ = heartbeat.await;
    wake.wake();
    // A page mid-OCR finishes first; the job is then either done or resumed at the next start.
    let _ = tokio::task::spawn_blocking(move || {
        if let Some(inbox) = inbox_thread {
            let _ = inbox.join();
        }
        for t in worker_threads {
            let _ = t.join();
        }
    })
    .await;
    let stopped =
        NewEvent::new("daemon", Action::DaemonStopped).details(json!({"signal": signal_name}));
    repo.call(move |db| db.audit_append(stopped)).await?;
    // The last handles on the database close its connections, which the PostgreSQL client
    // does by blocking: off the async threads too.
    let _ = tokio::task::spawn_blocking(move || drop((db, repo, deliverer))).await;
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

//! Intake: everything between a scanner's output folder and a processed job, in one place.
//!
//! **The rules** are pure and tested on their own. They decide when a dropped file is
//! complete, which request a scan belongs to (by file name, folder name or barcode sheet), how
//! a batch splits into jobs, and which requested pages a scan lacks. Apart from [`look`] and
//! [`complete`], which read files, and [`segment::extract_pages`], which writes a segment's
//! PDF, each is deterministic given its inputs (time is passed in, never read).
//! - [`settle`], [`folder`], [`look`], [`temp_name`], [`complete`]: when a file or a request
//!   folder is complete, and which names are never taken.
//! - [`naming`]: the request id in a file or folder name.
//! - [`batch`], [`segment`]: splitting a batch at its cover and PATCH-T sheets (read per page
//!   by `quire_pipeline::barcode`), and cutting its processed output into one report and PDF
//!   per segment.
//! - the missing-page check is `quire_domain::pages` (the console's match re-runs it too).
//!
//! Their errors are [`IntakeError`], each with a stable code (`intake.naming.*`,
//! `intake.settle.*`, `intake.batch.*`).
//!
//! **The inbox** runs them. Files and per-request folders that have settled are taken into
//! custody (moved atomically into the spool), matched to a request, and handed to the
//! processing [`worker`], which processes pages with `quire-pipeline` and delivers through
//! `quire-service`.
//!
//! Custody first: a scan is renamed into `spool/<job>/` before any other work, and the job row
//! is written after, so a crash at any point leaves the scan either in the inbox (taken again)
//! or in the spool (found again by [`custody::recover`]). Never in neither. With several nodes
//! (PostgreSQL) the originals also go into the object store between the two, and every node
//! finds a job's files through `quire_service::job_files`, fetching and verifying what its own
//! spool lacks.
//!
//! Every inbox entry has an outcome someone can read: taken; refused into quarantine with a
//! reason (links, moved as links and never followed; empty files; folders holding a link:
//! [`refuse`]); or, where even moving it is unsafe (a FIFO, a device), left, logged once and
//! listed. Below the data disk's floor ([`disk`]) nothing is taken. The loop and the workers
//! report their heartbeats to [`health`], which `/healthz` and the console read.
//!
//! Not here: page processing and PDF writing (`quire-pipeline`), stamping and delivery
//! (`quire-service`), the database (`quire-state`).

// The rules.
pub mod batch;
pub mod complete;
mod error;
pub mod folder;
pub mod look;
pub mod naming;
pub mod segment;
pub mod settle;
pub mod temp_name;

pub use error::IntakeError;

// The inbox.
pub mod custody;
pub mod disk;
pub mod health;
mod refuse;
pub mod similar;
mod watch;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::complete::{Completeness, completeness};
use crate::folder::FolderTracker;
use crate::look::{look, look_folder};
use crate::naming::RequestNaming;
use crate::settle::{FileKind, SettleTracker, Verdict};
use crate::temp_name::is_temporary;

use health::{Beat, Health};
use quire_config::LoadedConfig;
use quire_service::job_files::JobFiles;
use quire_state::Db;
use refuse::Refuser;

/// Records spool folders a crash left without a job, and puts jobs left mid-processing back in
/// the queue. Runs once at start, before any worker: run later, it would take a job a live
/// worker had just begun back to `received`, a second worker could process it again, and the
/// first one's result would be refused as a conflict and counted as a failed try.
///
/// `files` and `runtime` are for store custody (see [`custody::Custody::take`]).
pub fn recover(
    config: &LoadedConfig,
    db: Db,
    files: JobFiles,
    runtime: tokio::runtime::Handle,
) -> anyhow::Result<usize> {
    let naming = RequestNaming::new(&config.config.intake.request_pattern)?;
    let recovered = custody::Custody::new(config, db, naming, files, runtime).recover()?;
    if recovered > 0 {
        tracing::info!(recovered, "jobs recovered from the spool");
    }
    Ok(recovered)
}

/// Runs the inbox loop on the calling thread until `stop` is set, reporting to `health`.
pub fn run_inbox(
    config: &LoadedConfig,
    db: Db,
    files: JobFiles,
    runtime: tokio::runtime::Handle,
    stop: Arc<AtomicBool>,
    wake_worker: worker::Wake,
    health: Arc<Health>,
) -> anyhow::Result<()> {
    let beat = health.component("quire-inbox");
    let result = inbox_loop(config, db, files, runtime, &stop, &wake_worker, &beat);
    match &result {
        Ok(()) => beat.stopped(),
        Err(e) => beat.dead(&format!("{e:#}")),
    }
    result
}

fn inbox_loop(
    config: &LoadedConfig,
    db: Db,
    files: JobFiles,
    runtime: tokio::runtime::Handle,
    stop: &AtomicBool,
    wake_worker: &worker::Wake,
    beat: &Beat,
) -> anyhow::Result<()> {
    let health = beat.health().clone();
    let cfg = &config.config.intake;
    let inbox = cfg.inbox.clone();
    let naming = RequestNaming::new(&cfg.request_pattern)?;
    let custody = custody::Custody::new(config, db.clone(), naming, files, runtime);
    let refuser = Refuser::new(
        quire_domain::spool::Quarantine::new(config.quarantine_dir()),
        db.clone(),
        health.clone(),
    );
    let floor = disk::DiskFloor::new(disk_folders(config), cfg.min_free_mb);
    wake_worker.wake();

    let settle = Duration::from_secs_f64(cfg.settle_secs);
    let mut files = SettleTracker::new(settle);
    let mut folders: std::collections::HashMap<PathBuf, FolderTracker> = Default::default();
    let (events, _watcher) = watch::start(
        &inbox,
        cfg.poll,
        Duration::from_secs_f64(cfg.poll_interval_secs),
    )?;
    let rescan = Duration::from_secs_f64(cfg.rescan_secs.max(0.5));
    let tick = Duration::from_millis(250)
        .min(settle / 2)
        .max(Duration::from_millis(20));
    let mut incomplete =
        IncompleteFiles::new(Duration::from_secs_f64(cfg.incomplete_grace_secs.max(0.0)));
    let mut last_scan = Instant::now() - rescan;
    let mut dirty = true;
    // Something seen but not yet settled: look again next tick rather than at the next rescan.
    let mut waiting = false;

    while !stop.load(Ordering::SeqCst) {
        beat.idle();
        // File-system events only mark paths busy and trigger a look; the periodic rescan
        // catches whatever events were missed.
        while let Ok(path) = events.try_recv() {
            let now = Instant::now();
            files.event(&path, now);
            if let Some(top) = top_level(&inbox, &path)
                && let Some(t) = folders.get_mut(&top)
            {
                t.event(&path, now);
            }
            dirty = true;
        }
        // Below the floor nothing is taken: scans stay in the inbox as they are, and the
        // next look after space returns takes them.
        if !disk_has_room(&floor, &health) {
            dirty = true;
            std::thread::sleep(tick);
            continue;
        }
        if dirty || waiting || last_scan.elapsed() >= rescan {
            dirty = false;
            waiting = false;
            last_scan = Instant::now();
            for entry in list_inbox(&inbox) {
                if is_temporary(&entry, &inbox) {
                    continue;
                }
                let now = Instant::now();
                // One look, never following a link: everything below acts on what the entry
                // itself is.
                let Ok(l) = look(&entry) else { continue };
                match l.kind {
                    FileKind::Symlink => {
                        files.forget(&entry);
                        refuser.quarantine(&entry, &refuse::symlink_reason(&entry));
                    }
                    FileKind::Other => refuser.ignore(&entry, &refuse::special_reason(&entry)),
                    FileKind::Directory => {
                        let listing = match look_folder(&entry) {
                            Ok(l) => l,
                            Err(_) => continue,
                        };
                        let tracker = folders
                            .entry(entry.clone())
                            .or_insert_with(|| FolderTracker::new(settle));
                        match tracker.look(&listing, now) {
                            Verdict::Stable if !listing.is_empty() => {
                                if let Some(reason) = refuse::folder_reason(&entry) {
                                    folders.remove(&entry);
                                    refuser.quarantine(&entry, &reason);
                                    continue;
                                }
                                let files: Vec<PathBuf> =
                                    listing.iter().map(|(p, _)| p.clone()).collect();
                                if !incomplete.ready(&entry, &files, now) {
                                    waiting = true;
                                    continue;
                                }
                                folders.remove(&entry);
                                take(&custody, &entry, wake_worker);
                            }
                            Verdict::Ignored => {}
                            _ => waiting = true,
                        }
                    }
                    FileKind::Regular => match files.look(&entry, l, now) {
                        Verdict::Stable => {
                            if !incomplete.ready(&entry, std::slice::from_ref(&entry), now) {
                                waiting = true;
                                continue;
                            }
                            files.forget(&entry);
                            // Still empty after the grace period: nothing will come.
                            if std::fs::symlink_metadata(&entry).is_ok_and(|m| m.len() == 0) {
                                refuser.quarantine(
                                    &entry,
                                    "empty file (0 bytes): nothing was written to it within \
                                     [intake] incomplete_grace_secs",
                                );
                                continue;
                            }
                            take(&custody, &entry, wake_worker);
                        }
                        Verdict::Waiting => waiting = true,
                        Verdict::Ignored => files.forget(&entry),
                    },
                }
            }
            folders.retain(|p, _| p.exists());
            incomplete.forget_gone();
            health.forget_ignored(|p| std::fs::symlink_metadata(p).is_ok());
        }
        std::thread::sleep(tick);
    }
    Ok(())
}

/// Where intake writes: the spool (scans and outputs) and the database's folder (a SQLite
/// file; a database server's disk is not this node's to watch).
fn disk_folders(config: &LoadedConfig) -> Vec<PathBuf> {
    let mut folders = vec![config.spool_dir()];
    if let Some(db_dir) = config.database_path().as_deref().and_then(|p| p.parent()) {
        folders.push(db_dir.to_owned());
    }
    folders.dedup();
    folders
}

/// Checks the floor and tells `health`, logging only when the state changes.
fn disk_has_room(floor: &disk::DiskFloor, health: &Health) -> bool {
    let low = floor.check();
    let before = health.disk_low();
    match (&before, &low) {
        (None, Some(l)) => tracing::error!(reason = %l, "intake paused"),
        (Some(_), None) => tracing::info!("disk space is back above the floor; intake resumes"),
        _ => {}
    }
    let room = low.is_none();
    health.set_disk(low);
    room
}

/// Settled inbox entries that do not yet read as whole files, and since when: they wait for
/// their writer up to a grace period, then are taken anyway so that a truly broken scan reaches
/// quarantine with its reason instead of sitting in the inbox for ever.
struct IncompleteFiles {
    grace: Duration,
    since: std::collections::HashMap<PathBuf, Instant>,
}

impl IncompleteFiles {
    fn new(grace: Duration) -> Self {
        Self {
            grace,
            since: Default::default(),
        }
    }

    /// Whether `entry` (made of `files`) may be taken now.
    fn ready(&mut self, entry: &Path, files: &[PathBuf], now: Instant) -> bool {
        let cut = files.iter().find_map(|f| match completeness(f) {
            Completeness::Complete => None,
            Completeness::Incomplete(reason) => Some((f, reason)),
        });
        let Some((file, reason)) = cut else {
            self.since.remove(entry);
            return true;
        };
        let since = *self.since.entry(entry.to_owned()).or_insert_with(|| {
            tracing::info!(path = %file.display(), %reason, "settled but incomplete; waiting for the writer");
            now
        });
        if now.saturating_duration_since(since) < self.grace {
            return false;
        }
        tracing::warn!(path = %file.display(), %reason, "still incomplete after the grace period; taking it for processing to judge");
        self.since.remove(entry);
        true
    }

    fn forget_gone(&mut self) {
        self.since.retain(|p, _| p.exists());
    }
}

fn take(custody: &custody::Custody, path: &Path, wake: &worker::Wake) {
    match custody.take(path) {
        Ok(job) => {
            tracing::info!(job = %job.id, source = %job.source_name, request = %job.request_id.as_deref().unwrap_or("-"), "scan taken into custody");
            wake.wake();
        }
        // The file stays where it is and is tried again at the next look.
        Err(e) => {
            tracing::error!(path = %path.display(), error = %format!("{e:#}"), "could not take scan into custody")
        }
    }
}

fn list_inbox(inbox: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(inbox) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    entries.sort();
    entries
}

/// The inbox entry (file or folder) that `path` is inside.
fn top_level(inbox: &Path, path: &Path) -> Option<PathBuf> {
    let rel = path.strip_prefix(inbox).ok()?;
    let first = rel.components().next()?;
    Some(inbox.join(first))
}

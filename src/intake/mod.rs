//! Intake: the daemon's watched inbox. Files and per-request folders that have settled are taken
//! into custody (moved atomically into the spool), matched to a request, and handed to the
//! processing worker. Nothing here decides *whether* a file is complete or *which* request it
//! names: those rules live, tested on their own, in `quire_pipeline::intake`.
//!
//! Custody first: a scan is renamed into `spool/<job>/` before any other work, and the job row
//! is written after, so a crash at any point leaves the scan either in the inbox (taken again)
//! or in the spool (found again by [`custody::recover`]). Never in neither.

pub mod custody;
pub mod review;
pub mod similar;
mod watch;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use quire_pipeline::intake::complete::{Completeness, completeness};
use quire_pipeline::intake::folder::FolderTracker;
use quire_pipeline::intake::look::{look, look_folder};
use quire_pipeline::intake::naming::RequestNaming;
use quire_pipeline::intake::settle::{SettleTracker, Verdict};
use quire_pipeline::intake::temp_name::is_temporary;

use crate::config::LoadedConfig;
use crate::state::Db;

/// Runs the inbox loop on the calling thread until `stop` is set.
pub fn run_inbox(
    config: &LoadedConfig,
    db: Db,
    stop: Arc<AtomicBool>,
    wake_worker: worker::Wake,
) -> anyhow::Result<()> {
    let cfg = &config.config.intake;
    let inbox = cfg.inbox.clone();
    let naming = RequestNaming::new(&cfg.request_pattern)?;
    let custody = custody::Custody::new(config, db.clone(), naming);
    let recovered = custody.recover()?;
    if recovered > 0 {
        tracing::info!(recovered, "jobs recovered from the spool");
    }
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
        // File-system events only mark paths busy and trigger a look; the periodic rescan
        // catches whatever events were missed.
        while let Ok(path) = events.try_recv() {
            let now = Instant::now();
            files.event(&path, now);
            if let Some(top) = top_level(&inbox, &path) {
                if let Some(t) = folders.get_mut(&top) {
                    t.event(&path, now);
                }
            }
            dirty = true;
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
                if entry.is_dir() && !entry.is_symlink() {
                    let listing = match look_folder(&entry) {
                        Ok(l) => l,
                        Err(_) => continue,
                    };
                    let tracker = folders
                        .entry(entry.clone())
                        .or_insert_with(|| FolderTracker::new(settle));
                    match tracker.look(&listing, now) {
                        Verdict::Stable if !listing.is_empty() => {
                            let files: Vec<PathBuf> =
                                listing.iter().map(|(p, _)| p.clone()).collect();
                            if !incomplete.ready(&entry, &files, now) {
                                waiting = true;
                                continue;
                            }
                            folders.remove(&entry);
                            take(&custody, &entry, &wake_worker);
                        }
                        Verdict::Ignored => {}
                        _ => waiting = true,
                    }
                } else {
                    let Ok(l) = look(&entry) else { continue };
                    match files.look(&entry, l, now) {
                        Verdict::Stable => {
                            if !incomplete.ready(&entry, std::slice::from_ref(&entry), now) {
                                waiting = true;
                                continue;
                            }
                            files.forget(&entry);
                            take(&custody, &entry, &wake_worker);
                        }
                        Verdict::Waiting => waiting = true,
                        Verdict::Ignored => files.forget(&entry),
                    }
                }
            }
            folders.retain(|p, _| p.exists());
            incomplete.forget_gone();
        }
        std::thread::sleep(tick);
    }
    Ok(())
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
    fn ready(&mut self, entry: &std::path::Path, files: &[PathBuf], now: Instant) -> bool {
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

fn take(custody: &custody::Custody, path: &std::path::Path, wake: &worker::Wake) {
    match custody.take(path) {
        Ok(job) => {
            tracing::info!(job = %job.id, source = %job.source_name, request = ?job.request_id, "scan taken into custody");
            wake.wake();
        }
        // The file stays where it is and is tried again at the next look.
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "could not take scan into custody")
        }
    }
}

fn list_inbox(inbox: &std::path::Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(inbox) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    entries.sort();
    entries
}

/// The inbox entry (file or folder) that `path` is inside.
fn top_level(inbox: &std::path::Path, path: &std::path::Path) -> Option<PathBuf> {
    let rel = path.strip_prefix(inbox).ok()?;
    let first = rel.components().next()?;
    Some(inbox.join(first))
}

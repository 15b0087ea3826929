//! File-system events for the inbox: native notifications, or polling for network shares where
//! events never arrive. Events only say "look again soon"; they never decide anything.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use notify::{Config, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};

/// Keeps the watcher alive; dropping it stops the events.
pub enum Guard {
    Native(#[allow(dead_code)] RecommendedWatcher),
    Poll(#[allow(dead_code)] PollWatcher),
}

pub fn start(
    inbox: &Path,
    poll: bool,
    interval: Duration,
) -> anyhow::Result<(Receiver<PathBuf>, Guard)> {
    let (tx, rx) = channel();
    let handler = move |res: notify::Result<notify::Event>| {
        let res = res.ok();
        // Opening or reading a file is no change; listing a folder ourselves would otherwise
        // keep it looking busy for ever.
        if let Some(event) = res.filter(|e| !matches!(e.kind, notify::EventKind::Access(_))) {
            for p in event.paths {
                let _ = tx.send(p);
            }
        }
    };
    // notify follows links by default: a link to `/` dropped in the inbox would have it watch
    // (and, when polling, stat) the whole file system. Intake never follows links.
    let config = Config::default().with_follow_symlinks(false);
    let guard = if poll {
        let mut w = PollWatcher::new(handler, config.with_poll_interval(interval))?;
        w.watch(inbox, RecursiveMode::Recursive)?;
        Guard::Poll(w)
    } else {
        let mut w = RecommendedWatcher::new(handler, config)?;
        w.watch(inbox, RecursiveMode::Recursive)?;
        Guard::Native(w)
    };
    Ok((rx, guard))
}

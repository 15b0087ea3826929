//! Deciding when a dropped file is complete, from what the daemon observed: change events and
//! repeated looks at its size, mtime and kind.
//!
//! A file is [`Verdict::Stable`] when it is a regular file (never a symlink), its size and mtime
//! were the same in the last two looks, and nothing happened to it (no event, no change between
//! looks) for the settle delay. An empty file can settle too: [`super::complete`] calls it
//! incomplete, so it waits the daemon's grace period for its writer and is then refused with
//! its reason instead of sitting in the inbox unexplained. A changed look counts as activity, so the rule
//! also works without events, on network shares that are polled. Temporary names are the
//! caller's filter ([`super::temp_name`]) and decoding is the daemon's last check.
//!
//! Time is passed in as [`Instant`]s, so tests drive the clock; nothing here sleeps or reads
//! the filesystem (see [`super::look`] for that).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The default settle delay: two seconds without events or changes.
pub const DEFAULT_SETTLE_DELAY: Duration = Duration::from_secs(2);

/// What a file is, as `symlink_metadata` reports it (links are not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Regular,
    Symlink,
    Directory,
    Other,
}

/// One look at a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    pub kind: FileKind,
    pub size: u64,
    pub mtime: SystemTime,
}

/// What to do with a file now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Complete: take it.
    Stable,
    /// Still being written, or not looked at often enough yet: look again later.
    Waiting,
    /// Never take it (a symlink, a folder, a device).
    Ignored,
}

#[derive(Debug, Clone)]
struct Seen {
    last: Look,
    /// Looks in a row that found `last`.
    same_looks: u32,
    /// The last event or change of look.
    active_at: Instant,
}

/// Remembers every file it was told about and rules on each look.
#[derive(Debug, Clone)]
pub struct SettleTracker {
    delay: Duration,
    files: HashMap<PathBuf, Seen>,
}

impl SettleTracker {
    pub fn new(delay: Duration) -> Self {
        Self {
            delay,
            files: HashMap::new(),
        }
    }

    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// A change event (create, modify, rename-into-place) for `path` at `at`.
    pub fn event(&mut self, path: &Path, at: Instant) {
        if let Some(seen) = self.files.get_mut(path) {
            seen.active_at = seen.active_at.max(at);
            // A look taken before this event no longer vouches for the file.
            seen.same_looks = 0;
        }
        // An event for an unseen file needs no record: its first look starts the clock.
    }

    /// Records a look at `path` taken at `at` and rules on it.
    pub fn look(&mut self, path: &Path, look: Look, at: Instant) -> Verdict {
        if look.kind != FileKind::Regular {
            self.files.remove(path);
            return Verdict::Ignored;
        }
        let seen = self.files.entry(path.to_owned()).or_insert(Seen {
            last: look,
            same_looks: 0,
            active_at: at,
        });
        if seen.last == look {
            seen.same_looks += 1;
        } else {
            seen.last = look;
            seen.same_looks = 1;
            seen.active_at = seen.active_at.max(at);
        }
        let quiet = at.saturating_duration_since(seen.active_at) >= self.delay;
        if seen.same_looks >= 2 && quiet {
            Verdict::Stable
        } else {
            Verdict::Waiting
        }
    }

    /// The file went away (taken, deleted or renamed): forget it.
    pub fn forget(&mut self, path: &Path) {
        self.files.remove(path);
    }

    /// The last activity seen for `path`, if it is tracked.
    pub fn active_at(&self, path: &Path) -> Option<Instant> {
        self.files.get(path).map(|s| s.active_at)
    }
}

impl Default for SettleTracker {
    fn default() -> Self {
        Self::new(DEFAULT_SETTLE_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regular(size: u64, mtime_s: u64) -> Look {
        Look {
            kind: FileKind::Regular,
            size,
            mtime: SystemTime::UNIX_EPOCH + Duration::from_secs(mtime_s),
        }
    }

    #[test]
    fn stable_only_after_two_equal_looks_and_a_quiet_delay() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let path = Path::new("/in/TN1.pdf");
        let mut tracker = SettleTracker::default();
        assert_eq!(tracker.look(path, regular(100, 1), at(0)), Verdict::Waiting);
        // Same look but not yet quiet for 2 s.
        assert_eq!(
            tracker.look(path, regular(100, 1), at(1000)),
            Verdict::Waiting
        );
        assert_eq!(
            tracker.look(path, regular(100, 1), at(2000)),
            Verdict::Stable
        );
    }

    #[test]
    fn growth_mtime_changes_and_events_restart_the_clock() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let path = Path::new("/in/TN1.pdf");
        let mut tracker = SettleTracker::default();
        tracker.look(path, regular(100, 1), at(0));
        assert_eq!(
            tracker.look(path, regular(200, 1), at(2500)),
            Verdict::Waiting
        );
        assert_eq!(
            tracker.look(path, regular(200, 1), at(3000)),
            Verdict::Waiting
        );
        assert_eq!(
            tracker.look(path, regular(200, 1), at(4500)),
            Verdict::Stable
        );
        // Same size, new mtime: rewritten in place.
        assert_eq!(
            tracker.look(path, regular(200, 9), at(5000)),
            Verdict::Waiting
        );
        assert_eq!(
            tracker.look(path, regular(200, 9), at(7000)),
            Verdict::Stable
        );
        // An event without a visible change still restarts the clock.
        tracker.event(path, at(7100));
        assert_eq!(
            tracker.look(path, regular(200, 9), at(8000)),
            Verdict::Waiting
        );
        assert_eq!(
            tracker.look(path, regular(200, 9), at(9200)),
            Verdict::Stable
        );
    }

    #[test]
    fn symlinks_and_folders_are_never_stable_and_empty_files_settle() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(60);
        let mut tracker = SettleTracker::new(Duration::from_secs(1));
        let link = Look {
            kind: FileKind::Symlink,
            ..regular(100, 1)
        };
        assert_eq!(tracker.look(Path::new("/in/l"), link, t0), Verdict::Ignored);
        assert_eq!(
            tracker.look(Path::new("/in/l"), link, later),
            Verdict::Ignored
        );
        let dir = Look {
            kind: FileKind::Directory,
            ..regular(4096, 1)
        };
        assert_eq!(
            tracker.look(Path::new("/in/d"), dir, later),
            Verdict::Ignored
        );
        // Settled, but not complete: `complete` has the last word on an empty file.
        let empty = Path::new("/in/empty.pdf");
        tracker.look(empty, regular(0, 1), t0);
        assert_eq!(tracker.look(empty, regular(0, 1), later), Verdict::Stable);
    }

    #[test]
    fn forgetting_starts_over() {
        let t0 = Instant::now();
        let mut tracker = SettleTracker::new(Duration::from_secs(1));
        let path = Path::new("/in/TN1.pdf");
        tracker.look(path, regular(5, 1), t0);
        assert_eq!(
            tracker.look(path, regular(5, 1), t0 + Duration::from_secs(2)),
            Verdict::Stable
        );
        tracker.forget(path);
        assert_eq!(tracker.active_at(path), None);
        assert_eq!(
            tracker.look(path, regular(5, 1), t0 + Duration::from_secs(3)),
            Verdict::Waiting
        );
    }
}

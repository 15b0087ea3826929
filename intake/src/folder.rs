//! Folder-per-request intake: `inbox/TN12345/*.tif` becomes one job once the whole folder is
//! stable, that is every file in it is stable and no file appeared, vanished or changed for the
//! settle delay.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use super::settle::{FileKind, Look, SettleTracker, Verdict};

/// Watches one request folder through successive listings.
#[derive(Debug, Clone)]
pub struct FolderTracker {
    files: SettleTracker,
    names: BTreeSet<PathBuf>,
    changed_at: Option<Instant>,
}

impl FolderTracker {
    pub fn new(delay: std::time::Duration) -> Self {
        Self {
            files: SettleTracker::new(delay),
            names: BTreeSet::new(),
            changed_at: None,
        }
    }

    /// Records a listing of the folder (as [`super::look::look_folder`] returns it) taken at
    /// `at` and rules on the folder. An empty folder is waiting; a folder holding a symlink
    /// or a device is waiting too, since a job must not silently leave a page out.
    pub fn look(&mut self, listing: &[(PathBuf, Look)], at: Instant) -> Verdict {
        let names: BTreeSet<PathBuf> = listing.iter().map(|(p, _)| p.clone()).collect();
        if names != self.names || self.changed_at.is_none() {
            for gone in self.names.difference(&names) {
                self.files.forget(gone);
            }
            self.names = names;
            self.changed_at = Some(at);
        }
        let mut all_stable = !listing.is_empty();
        for (path, look) in listing {
            // A link or a device inside can never settle; it must not keep the folder waiting
            // for ever: the caller refuses a quiet folder that holds one, with the reason.
            if look.kind != FileKind::Regular {
                continue;
            }
            if self.files.look(path, *look, at) != Verdict::Stable {
                all_stable = false;
            }
        }
        let quiet = self
            .changed_at
            .is_some_and(|c| at.saturating_duration_since(c) >= self.files.delay());
        if all_stable && quiet {
            Verdict::Stable
        } else {
            Verdict::Waiting
        }
    }

    /// A change event for a file in the folder.
    pub fn event(&mut self, path: &std::path::Path, at: Instant) {
        self.files.event(path, at);
        self.changed_at = Some(self.changed_at.map_or(at, |c| c.max(at)));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn file(name: &str, size: u64) -> (PathBuf, Look) {
        let look = Look {
            kind: FileKind::Regular,
            size,
            mtime: SystemTime::UNIX_EPOCH,
        };
        (PathBuf::from(format!("/in/TN1/{name}")), look)
    }

    #[test]
    fn a_folder_is_stable_when_all_files_are_and_none_arrived_lately() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut folder = FolderTracker::new(Duration::from_secs(2));
        assert_eq!(folder.look(&[], at(0)), Verdict::Waiting);
        let one = vec![file("p1.tif", 10)];
        assert_eq!(folder.look(&one, at(1)), Verdict::Waiting);
        assert_eq!(folder.look(&one, at(3)), Verdict::Stable);
        // A second page arrives: the folder waits again, even though p1 stays stable.
        let two = vec![file("p1.tif", 10), file("p2.tif", 10)];
        assert_eq!(folder.look(&two, at(4)), Verdict::Waiting);
        assert_eq!(folder.look(&two, at(5)), Verdict::Waiting);
        assert_eq!(folder.look(&two, at(6)), Verdict::Stable);
        // A page removed also counts as a change.
        assert_eq!(folder.look(&one, at(7)), Verdict::Waiting);
        assert_eq!(folder.look(&one, at(9)), Verdict::Stable);
        // A file still growing holds the folder.
        let growing = vec![file("p1.tif", 10), file("p3.tif", 5)];
        folder.look(&growing, at(10));
        let grown = vec![file("p1.tif", 10), file("p3.tif", 50)];
        assert_eq!(folder.look(&grown, at(13)), Verdict::Waiting);
        assert_eq!(folder.look(&grown, at(15)), Verdict::Stable);
    }

    #[test]
    fn a_symlink_in_the_folder_does_not_keep_it_waiting() {
        let t0 = Instant::now();
        let mut folder = FolderTracker::new(Duration::from_secs(1));
        let mut listing = vec![file("p1.tif", 10)];
        listing.push((
            PathBuf::from("/in/TN1/l.tif"),
            Look {
                kind: FileKind::Symlink,
                ..listing[0].1
            },
        ));
        folder.look(&listing, t0);
        // Quiet: the caller sees the link in the listing and refuses the folder.
        assert_eq!(
            folder.look(&listing, t0 + Duration::from_secs(5)),
            Verdict::Stable
        );
    }
}

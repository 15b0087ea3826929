//! Settle detection against real writers: a 20 MB file written slowly over 10 s must never be
//! reported complete early, a rename-into-place is taken only under its final name, and a
//! request folder filled page by page waits for its last page.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use quire_intake::folder::FolderTracker;
use quire_intake::look::{look, look_folder};
use quire_intake::settle::{DEFAULT_SETTLE_DELAY, SettleTracker, Verdict};
use quire_intake::temp_name::is_temporary;

const POLL: Duration = Duration::from_millis(100);

/// Writes `total` bytes to `path` in equal chunks spread over `over`, then sets `done`.
fn slow_writer(
    path: PathBuf,
    total: usize,
    over: Duration,
    done: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let chunks = (over.as_millis() / 50).max(1) as usize;
        let bytes = vec![0x49u8; total / chunks + 1];
        let mut file = File::create(&path).unwrap();
        let start = Instant::now();
        for i in 0..chunks {
            let len = total * (i + 1) / chunks - total * i / chunks;
            file.write_all(&bytes[..len]).unwrap();
            file.flush().unwrap();
            let next = over.mul_f64((i + 1) as f64 / chunks as f64);
            thread::sleep(next.saturating_sub(start.elapsed()));
        }
        file.sync_all().unwrap();
        drop(file);
        done.store(true, Ordering::SeqCst);
    })
}

/// Polls `path` until the tracker calls it stable; panics if that happens before `done`.
fn poll_until_stable(
    tracker: &mut SettleTracker,
    path: &Path,
    done: &AtomicBool,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < limit,
            "{} never became stable",
            path.display()
        );
        if let Ok(l) = look(path) {
            let finished = done.load(Ordering::SeqCst);
            if tracker.look(path, l, Instant::now()) == Verdict::Stable {
                assert!(
                    finished,
                    "{} reported complete while still being written",
                    path.display()
                );
                return start.elapsed();
            }
        }
        thread::sleep(POLL);
    }
}

#[test]
fn a_20_mb_file_written_over_10_s_is_never_taken_early() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("TN12345.tif");
    let done = Arc::new(AtomicBool::new(false));
    let total = 20 * 1024 * 1024;
    let writer = slow_writer(path.clone(), total, Duration::from_secs(10), done.clone());
    let mut tracker = SettleTracker::new(DEFAULT_SETTLE_DELAY);
    let waited = poll_until_stable(&mut tracker, &path, &done, Duration::from_secs(40));
    writer.join().unwrap();
    assert!(
        waited >= Duration::from_secs(10),
        "stable after only {waited:?}"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), total as u64);
}

#[test]
fn rename_into_place_is_taken_under_the_final_name_only() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("TN7.pdf.part");
    let done = Arc::new(AtomicBool::new(false));
    slow_writer(
        part.clone(),
        2 * 1024 * 1024,
        Duration::from_secs(2),
        done.clone(),
    )
    .join()
    .unwrap();
    assert!(is_temporary(&part, dir.path()));
    let fin = dir.path().join("TN7.pdf");
    std::fs::rename(&part, &fin).unwrap();
    assert!(!is_temporary(&fin, dir.path()));
    let mut tracker = SettleTracker::new(Duration::from_secs(1));
    let start = Instant::now();
    tracker.event(&fin, start);
    let waited = poll_until_stable(&mut tracker, &fin, &done, Duration::from_secs(10));
    assert!(
        waited >= Duration::from_secs(1),
        "taken after {waited:?}, before the settle delay"
    );
}

#[test]
fn symlinks_are_never_taken() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere.pdf");
    std::fs::write(&target, b"%PDF-1.4 not really").unwrap();
    let link = dir.path().join("TN8.pdf");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let mut tracker = SettleTracker::new(Duration::from_millis(10));
    let t0 = Instant::now();
    assert_eq!(
        tracker.look(&link, look(&link).unwrap(), t0),
        Verdict::Ignored
    );
    assert_eq!(
        tracker.look(&link, look(&link).unwrap(), t0 + Duration::from_secs(5)),
        Verdict::Ignored
    );
    let err = look(&dir.path().join("gone.pdf")).unwrap_err();
    assert_eq!(err.code(), "intake.settle.look");
    assert!(err.to_string().contains("gone.pdf"));
}

#[test]
fn a_request_folder_waits_for_its_last_page() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("TN9");
    std::fs::create_dir(&folder).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let folder = folder.clone();
        let done = done.clone();
        thread::spawn(move || {
            for page in 1..=3 {
                let page_done = Arc::new(AtomicBool::new(false));
                let path = folder.join(format!("page{page}.tif"));
                slow_writer(path, 1024 * 1024, Duration::from_millis(700), page_done)
                    .join()
                    .unwrap();
                // A scanner pauses between pages, for less than the settle delay.
                thread::sleep(Duration::from_millis(600));
            }
            // A temporary file left behind by a sync tool does not hold the folder.
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(folder.join(".sync.tmp"))
                .unwrap();
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut tracker = FolderTracker::new(Duration::from_secs(1));
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "folder never became stable"
        );
        let listing = look_folder(&folder).unwrap();
        let finished = done.load(Ordering::SeqCst);
        if tracker.look(&listing, Instant::now()) == Verdict::Stable {
            assert!(
                finished,
                "folder taken with {} pages while still being filled",
                listing.len()
            );
            assert_eq!(listing.len(), 3);
            break;
        }
        thread::sleep(POLL);
    }
    writer.join().unwrap();
}

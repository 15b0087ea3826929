//! What `/healthz` and the console's queue page say about intake: each thread's last heartbeat
//! and what it was doing, whether the data disk is below its floor, and which inbox entries are
//! left alone (with the reason) or were refused into quarantine.
//!
//! Threads report; nothing here acts. A thread that has not beaten for `[intake]
//! stuck_after_secs` while it should be running is "stuck"; one that ended while the daemon was
//! not stopping is "dead". Either makes the daemon unhealthy (503), because scans then pile up
//! in the inbox or the queue with nobody to take them.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::disk::DiskLow;

/// What a component is doing, as it last said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// Looping, with nothing in hand (a worker waiting for a job, the inbox between looks).
    Idle,
    /// Processing or delivering this job.
    Working(String),
    /// Ended because the daemon is stopping.
    Stopped,
    /// Ended while it should still run, and why.
    Dead(String),
}

impl Activity {
    fn name(&self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Working(_) => "working",
            Self::Stopped => "stopped",
            Self::Dead(_) => "dead",
        }
    }
}

#[derive(Debug, Clone)]
struct Component {
    activity: Activity,
    beat: Instant,
    beat_wall: SystemTime,
}

/// An inbox entry Quire will not take and cannot safely move (a FIFO, a device node), or could
/// not move: it stays where it is, logged once and listed here until it goes away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// The entry's name, lossily (it may not be UTF-8).
    pub name: String,
    pub reason: String,
}

/// An inbox entry moved to quarantine without becoming a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub name: String,
    pub reason: String,
    pub quarantined_to: String,
}

/// Recent refusals kept for the queue page; the audit log keeps them all.
const REFUSED_SHOWN: usize = 50;

#[derive(Debug, Default)]
struct Inner {
    components: BTreeMap<String, Component>,
    disk: Option<DiskLow>,
    ignored: BTreeMap<PathBuf, Ignored>,
    refused: VecDeque<Refused>,
}

/// Shared by the inbox loop, the workers and the HTTP server.
#[derive(Debug)]
pub struct Health {
    stuck_after: Duration,
    inner: Mutex<Inner>,
}

impl Health {
    pub fn new(stuck_after: Duration) -> Arc<Self> {
        Arc::new(Self {
            stuck_after,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere while holding this lock leaves plain data behind: carry on.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `name` is alive and doing `activity` now.
    pub fn beat(&self, name: &str, activity: Activity) {
        let now = (Instant::now(), SystemTime::now());
        self.beat_at(name, activity, now);
    }

    fn beat_at(&self, name: &str, activity: Activity, (beat, beat_wall): (Instant, SystemTime)) {
        self.lock().components.insert(
            name.to_string(),
            Component {
                activity,
                beat,
                beat_wall,
            },
        );
    }

    /// A handle for one component, so a thread need not repeat its name.
    pub fn component(self: &Arc<Self>, name: &str) -> Beat {
        self.beat(name, Activity::Idle);
        Beat {
            health: self.clone(),
            name: name.to_string(),
        }
    }

    pub fn set_disk(&self, low: Option<DiskLow>) {
        self.lock().disk = low;
    }

    pub fn disk_low(&self) -> Option<DiskLow> {
        self.lock().disk.clone()
    }

    /// Records `path` as left in the inbox; `true` the first time (so the caller logs once).
    pub fn ignore(&self, path: PathBuf, entry: Ignored) -> bool {
        let mut inner = self.lock();
        let first = inner.ignored.get(&path) != Some(&entry);
        inner.ignored.insert(path, entry);
        first
    }

    /// Forgets ignored entries that are no longer in the inbox.
    pub fn forget_ignored(&self, still_there: impl Fn(&std::path::Path) -> bool) {
        self.lock().ignored.retain(|p, _| still_there(p));
    }

    pub fn refused(&self, entry: Refused) {
        let mut inner = self.lock();
        if inner.refused.len() == REFUSED_SHOWN {
            inner.refused.pop_front();
        }
        inner.refused.push_back(entry);
    }

    pub fn ignored_entries(&self) -> Vec<Ignored> {
        self.lock().ignored.values().cloned().collect()
    }

    pub fn refused_entries(&self) -> Vec<Refused> {
        self.lock().refused.iter().rev().cloned().collect()
    }

    /// Why intake is unhealthy now; empty when it is fine.
    pub fn problems(&self) -> Vec<String> {
        self.problems_at(Instant::now())
    }

    fn problems_at(&self, now: Instant) -> Vec<String> {
        let inner = self.lock();
        let mut out = Vec::new();
        for (name, c) in &inner.components {
            match &c.activity {
                Activity::Dead(reason) => out.push(format!("{name} is dead: {reason}")),
                Activity::Stopped => {}
                doing => {
                    let silent = now.saturating_duration_since(c.beat);
                    if silent > self.stuck_after {
                        let what = match doing {
                            Activity::Working(job) => format!(" while working on job {job}"),
                            _ => String::new(),
                        };
                        out.push(format!(
                            "{name} is stuck: no heartbeat for {:.0} s{what} (limit {:.0} s)",
                            silent.as_secs_f64(),
                            self.stuck_after.as_secs_f64()
                        ));
                    }
                }
            }
        }
        if let Some(low) = &inner.disk {
            out.push(low.to_string());
        }
        out
    }

    /// The components, the disk and the entries left alone, for `/healthz`.
    pub fn to_json(&self) -> Value {
        let problems = self.problems();
        let inner = self.lock();
        let now = Instant::now();
        let components: Vec<Value> = inner
            .components
            .iter()
            .map(|(name, c)| {
                let job = match &c.activity {
                    Activity::Working(job) => Some(job.clone()),
                    _ => None,
                };
                let reason = match &c.activity {
                    Activity::Dead(r) => Some(r.clone()),
                    _ => None,
                };
                json!({
                    "name": name,
                    "state": c.activity.name(),
                    "job": job,
                    "reason": reason,
                    "last_heartbeat": rfc3339(c.beat_wall),
                    "seconds_since_heartbeat":
                        (now.saturating_duration_since(c.beat).as_secs_f64() * 10.0).round() / 10.0,
                })
            })
            .collect();
        let ignored: Vec<Value> = inner
            .ignored
            .values()
            .map(|i| json!({"name": i.name, "reason": i.reason}))
            .collect();
        json!({
            "status": if problems.is_empty() { "ok" } else { "unavailable" },
            "problems": problems,
            "components": components,
            "disk": inner.disk.as_ref().map(|d| d.to_string()).unwrap_or_else(|| "ok".into()),
            "ignored": ignored,
        })
    }
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// One component's heartbeat. Dropped while the thread unwinds from a panic that nothing
/// caught, it marks the component dead, so a thread that ends unexpectedly never looks alive.
pub struct Beat {
    health: Arc<Health>,
    name: String,
}

impl Beat {
    pub fn idle(&self) {
        self.health.beat(&self.name, Activity::Idle);
    }

    pub fn working(&self, job: &str) {
        self.health
            .beat(&self.name, Activity::Working(job.to_string()));
    }

    pub fn stopped(&self) {
        self.health.beat(&self.name, Activity::Stopped);
    }

    pub fn dead(&self, reason: &str) {
        self.health
            .beat(&self.name, Activity::Dead(reason.to_string()));
    }

    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }
}

impl Drop for Beat {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dead("the thread panicked");
        }
    }
}

/// Beats once per finished page, so a long scan is never mistaken for a stuck worker.
pub struct PageBeat<'a> {
    pub beat: &'a Beat,
    pub job: &'a str,
}

impl quire_pipeline::Progress for PageBeat<'_> {
    fn start(&self, _total_pages: usize) {
        self.beat.working(self.job);
    }

    fn page_done(&self, _done: usize) {
        self.beat.working(self.job);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_components_are_stuck_and_ended_ones_dead_unless_stopping() {
        let health = Health::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let wall = SystemTime::now();
        health.beat_at("quire-inbox", Activity::Idle, (t0, wall));
        health.beat_at(
            "quire-worker-0",
            Activity::Working("job_1".into()),
            (t0, wall),
        );
        health.beat_at("quire-worker-1", Activity::Stopped, (t0, wall));
        assert!(health.problems_at(t0 + Duration::from_secs(5)).is_empty());
        let late = health.problems_at(t0 + Duration::from_secs(11));
        assert_eq!(late.len(), 2, "{late:?}");
        assert!(
            late.iter()
                .any(|p| p.starts_with("quire-worker-0 is stuck") && p.contains("job_1")),
            "{late:?}"
        );
        // A heartbeat per page keeps a long job healthy.
        health.beat_at(
            "quire-worker-0",
            Activity::Working("job_1".into()),
            (t0 + Duration::from_secs(9), wall),
        );
        health.beat_at(
            "quire-inbox",
            Activity::Idle,
            (t0 + Duration::from_secs(9), wall),
        );
        assert!(health.problems_at(t0 + Duration::from_secs(11)).is_empty());
        health.beat("quire-worker-1", Activity::Dead("gone".into()));
        assert_eq!(
            health.problems_at(t0 + Duration::from_secs(11)),
            vec!["quire-worker-1 is dead: gone".to_string()]
        );
    }

    #[test]
    fn a_thread_that_unwinds_is_marked_dead() {
        let health = Health::new(Duration::from_secs(100));
        let h = health.clone();
        let _ = std::thread::spawn(move || {
            let _beat = h.component("quire-worker-9");
            panic!("boom");
        })
        .join();
        let problems = health.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("quire-worker-9 is dead"),
            "{problems:?}"
        );
    }

    #[test]
    fn an_ignored_entry_is_logged_once() {
        let health = Health::new(Duration::from_secs(100));
        let entry = Ignored {
            name: "fifo".into(),
            reason: "a FIFO".into(),
        };
        assert!(health.ignore("/in/fifo".into(), entry.clone()));
        assert!(!health.ignore("/in/fifo".into(), entry));
        health.forget_ignored(|_| false);
        assert!(health.ignored_entries().is_empty());
    }
}

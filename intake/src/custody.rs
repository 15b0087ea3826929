//! Taking scans into custody: the move into the spool, the originals into the object store
//! when custody is there (several nodes), the job row, request matching by name,
//! exact-duplicate detection, and recovery of whatever a crash left half-done.

use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::naming::RequestNaming;
use anyhow::Context;
use serde_json::json;
use sha2::{Digest, Sha256};

use quire_config::{DuplicatePolicy, LoadedConfig};
use quire_domain::{Action, spool};
use quire_service::job_files::JobFiles;
use quire_state::{Db, Job, JobPatch, JobState, NewEvent, StateError};

pub struct Custody {
    db: Db,
    spool: PathBuf,
    naming: RequestNaming,
    duplicates: DuplicatePolicy,
    /// This node's name: at start-up only its own claims are resumed.
    node: String,
    /// With store custody, where the originals go before the job is recorded.
    files: JobFiles,
    /// Runs the store's calls from this (blocking) thread.
    runtime: tokio::runtime::Handle,
}

impl Custody {
    pub fn new(
        config: &LoadedConfig,
        db: Db,
        naming: RequestNaming,
        files: JobFiles,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            db,
            spool: config.spool_dir(),
            naming,
            duplicates: config.config.intake.duplicates,
            node: config.config.node.name.clone(),
            files,
            runtime,
        }
    }

    /// Moves `path` (a file, or a folder of files for one request) into a new job's spool
    /// folder, then records the job. With store custody every original is put into the object
    /// store between the two; if the store cannot take it, the scan goes back to the inbox as
    /// when the database cannot write.
    pub fn take(&self, path: &Path) -> anyhow::Result<Job> {
        let name = path
            .file_name()
            .context("inbox entry without a name")?
            .to_owned();
        let id = new_job_id(path);
        let dir = self.spool.join(&id);
        // Only the daemon's user may look inside: the spool holds readers' requested copies,
        // and outputs written into it keep the umask's (often world-readable) mode.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let dest = dir.join(&name);
        if let Err(e) = move_into(path, &dest) {
            // Nothing of the scan arrived (a failed copy cleans up after itself).
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
        match self.record(&id, &dir) {
            Ok(job) => Ok(job),
            // No job row (the database could not write, the disk is full): put the scan back
            // so that nothing half-recorded is left, and the next look takes it again.
            Err(e) if matches!(self.db.job_get(&id), Ok(None)) => match move_into(&dest, path) {
                Ok(()) => {
                    let _ = std::fs::remove_dir(&dir);
                    Err(e.context("the job could not be recorded; the scan is back in the inbox"))
                }
                Err(back) => Err(e.context(format!(
                    "the job could not be recorded, and the scan stays in {} until the next \
                         start records it: {back:#}",
                    dir.display()
                ))),
            },
            Err(e) => Err(e),
        }
    }

    /// Finds spool folders without a job (a crash between move and record) and records them;
    /// puts the jobs this node was processing back in the queue. Returns how many it touched.
    /// Jobs other nodes hold are theirs until their leases lapse (nodes on one database).
    pub fn recover(&self) -> anyhow::Result<usize> {
        let mut touched = 0;
        if let Ok(entries) = std::fs::read_dir(&self.spool) {
            let mut dirs: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect();
            dirs.sort();
            for dir in dirs {
                let id = dir
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                if !id.starts_with("job_") || self.db.job_get(&id)?.is_some() {
                    continue;
                }
                if originals(&dir)?.is_empty() {
                    // Created but the move never happened: nothing of the scan is here.
                    let _ = std::fs::remove_dir(&dir);
                    continue;
                }
                self.record(&id, &dir)?;
                touched += 1;
            }
        }
        for job in self.db.jobs_list(&quire_state::JobFilter {
            states: vec![JobState::Processing],
            ..Default::default()
        })? {
            // Unclaimed ones were left by a version before claims: this node's.
            if job.claimed_by.as_deref().is_some_and(|n| n != self.node) {
                continue;
            }
            let event = NewEvent::new("daemon", Action::JobResumed).subject("job", &job.id);
            match self.db.job_transition(
                &job.id,
                &[JobState::Processing],
                JobState::Received,
                JobPatch {
                    claimed_by: job.claimed_by.clone(),
                    ..Default::default()
                },
                event,
            ) {
                Ok(_) | Err(StateError::Conflict(_)) => touched += 1,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(touched)
    }

    fn record(&self, id: &str, dir: &Path) -> anyhow::Result<Job> {
        let sources = originals(dir)?;
        let top = sources.first().context("job folder is empty")?;
        let source_name = top
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let sha256 = hash_sources(&sources)?;
        // Custody in the object store (several nodes) before the job exists, so that no node
        // ever sees a job whose originals it cannot fetch; empty with the local spool.
        let custody = self
            .runtime
            .block_on(self.files.keep_originals(dir, &inputs(dir)?))
            .context("keeping the originals in the object store")?;
        let candidate = if is_real_dir(top) {
            self.naming.from_folder(top)
        } else {
            self.naming.from_file(top)
        };
        let request_id = match &candidate {
            Some(c) => self.db.request_get(c)?.map(|r| r.id),
            None => None,
        };
        let job = Job {
            id: id.to_string(),
            request_id: request_id.clone(),
            state: JobState::Received,
            hold_reason: None,
            source_name: source_name.clone(),
            spool_path: dir.display().to_string(),
            source_sha256: sha256.clone(),
            page_count: None,
            report_json: None,
            output_sha256: None,
            error_code: None,
            error_message: None,
            created_at: quire_domain::Timestamp::UNIX_EPOCH,
            updated_at: quire_domain::Timestamp::UNIX_EPOCH,
            parent_job: None,
            claimed_by: None,
            lease_until: None,
            custody,
        };
        let mut event = NewEvent::new("daemon", Action::JobReceived)
            .subject("job", id)
            .details(json!({
                "source": source_name, "sha256": sha256, "name_match": candidate,
            }));
        if let Some(r) = &request_id {
            event = event.subject("request", r);
        }
        self.db.job_create(&job, event)?;

        let earlier = self.db.jobs_with_source(&sha256, id)?;
        if let Some(first) = earlier.first() {
            let ids: Vec<&str> = earlier.iter().map(|j| j.id.as_str()).collect();
            self.db.audit_append(
                NewEvent::new("daemon", Action::JobDuplicate)
                    .subject("job", id)
                    .details(json!({ "of": ids, "policy": format!("{:?}", self.duplicates).to_lowercase() })),
            )?;
            if self.duplicates == DuplicatePolicy::Skip {
                let reason = format!(
                    "exact duplicate of job {} (same SHA-256); not processed",
                    first.id
                );
                let patch = JobPatch {
                    hold_reason: Some(Some(reason.clone())),
                    ..Default::default()
                };
                let event = NewEvent::new("daemon", Action::JobHeld)
                    .subject("job", id)
                    .details(json!({ "reason": reason }));
                return Ok(self.db.job_transition(
                    id,
                    &[JobState::Received],
                    JobState::Held,
                    patch,
                    event,
                )?);
            }
        }
        Ok(self.db.job_get(id)?.expect("just created"))
    }
}

/// The originals in a job folder, leaving out Quire's own outputs and hidden files.
pub fn originals(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| spool::is_original(&p.file_name().unwrap_or_default().to_string_lossy()))
        .collect();
    out.sort();
    Ok(out)
}

/// The input files of a job: the file itself, or the files of the folder, in name order.
pub fn inputs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in originals(dir)? {
        if is_real_dir(&p) {
            // The entry's own type, never a link's target: a link is not an input.
            let mut inner: Vec<PathBuf> = std::fs::read_dir(&p)?
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.path())
                .filter(|f| {
                    !f.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .starts_with('.')
                })
                .collect();
            inner.sort();
            files.extend(inner);
        } else {
            files.push(p);
        }
    }
    Ok(files)
}

fn hash_sources(sources: &[PathBuf]) -> anyhow::Result<String> {
    let files = if sources.len() == 1 && is_real_dir(&sources[0]) {
        inputs(sources[0].parent().unwrap_or(Path::new(".")))?
    } else {
        sources.to_vec()
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    for f in &files {
        let mut file =
            std::fs::File::open(f).with_context(|| format!("reading {}", f.display()))?;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// A folder itself, not a link to one.
fn is_real_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

/// Atomic on one file system; across file systems (a network inbox) it copies, syncs, then
/// removes the original, so the scan exists in at least one place at every instant. A copy cut
/// short (the disk filled up) is removed, and the original stays.
fn move_into(from: &Path, to: &Path) -> anyhow::Result<()> {
    let regular = std::fs::symlink_metadata(from).is_ok_and(|m| m.is_file());
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices && regular => {
            let tmp = to.with_extension("part");
            let copied = std::fs::copy(from, &tmp)
                .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
                .and_then(|()| std::fs::rename(&tmp, to));
            if let Err(e) = copied {
                let _ = std::fs::remove_file(&tmp);
                return Err(e)
                    .with_context(|| format!("copying {} to {}", from.display(), to.display()));
            }
            std::fs::remove_file(from)
                .with_context(|| format!("removing {} after copying it", from.display()))?;
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("moving {} to {}", from.display(), to.display())),
    }
}

pub(crate) fn new_job_id(path: &Path) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    h.update(format!("{:?}", std::time::SystemTime::now()));
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::SeqCst).to_le_bytes());
    h.update(path.as_os_str().as_encoded_bytes());
    let now = time::OffsetDateTime::now_utc();
    format!(
        "job_{:04}{:02}{:02}{:02}{:02}{:02}_{}",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        &hex::encode(h.finalize())[..8]
    )
}

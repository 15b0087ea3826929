//! Where a job's files are on this node, in one place: its originals, its processed PDF and
//! its report. Every reader and writer of a job's folder (the worker processing and delivering,
//! a reprocess, the console's review pages, the CLI) asks [`JobFiles`] for it.
//!
//! Two kinds of custody ([`LoadedConfig::custody_in_store`]):
//! - **Local spool** (one box, SQLite): the job's folder is the one intake recorded
//!   (`Job::spool_path`), holding the only copy of the originals. Nothing else happens here;
//!   this is exactly how Quire worked before there were several nodes.
//! - **Object store** (several nodes, PostgreSQL): intake puts every original into the store
//!   before the job is recorded ([`JobFiles::keep_originals`], listed in `Job::custody`), and
//!   the worker puts each processed PDF there before the job is marked processed
//!   ([`JobFiles::keep_output`]; it is addressed by `Job::output_sha256`). A node's folder for
//!   a job is then `<its own spool>/<job id>` (a batch's document: `<spool>/<batch>/quire-split/<n>`),
//!   `spool_path` staying the intake node's record; what is missing there is fetched from the
//!   store and checked against its recorded SHA-256 and length ([`fetch_verified`]). A file
//!   that does not match is an error naming the job and the file, and is never used.
//!
//! Deletion: the local copies go after delivery as before (`[intake] keep_originals`). The
//! store's copies of originals and processed PDFs are kept: objects are content-addressed, so
//! two jobs of the same scan (an exact duplicate, or a batch's documents) share one object, and
//! deleting it for one job could lose the other's. Purge only ever deletes stamped copies,
//! which are unique to their delivery. Reclaiming custody objects is left to a later sweep that
//! can see every job referring to them.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use quire_config::LoadedConfig;
use quire_delivery::{ContentHash, Store};
use quire_domain::job::CustodyFile;
use quire_domain::spool;
use quire_state::Job;

/// A node's view of job folders: its spool, and the object store when custody is there.
#[derive(Debug, Clone)]
pub struct JobFiles {
    spool: PathBuf,
    /// `Some` when custody is in the object store.
    store: Option<Arc<dyn Store>>,
}

impl JobFiles {
    /// The job files of the node configured by `config`, with `store` the configured object
    /// store (used only when custody is in the store).
    pub fn new(config: &LoadedConfig, store: Arc<dyn Store>) -> Self {
        Self {
            spool: config.spool_dir(),
            store: config.custody_in_store().then_some(store),
        }
    }

    /// The job files of the node configured by `config`, opening its object store.
    pub fn open(config: &LoadedConfig) -> anyhow::Result<Self> {
        Ok(Self::new(config, crate::deliver::open_store(config)?))
    }

    /// Local-spool custody under `spool`, or store custody when `store` is given (tests).
    pub fn with(spool: impl Into<PathBuf>, store: Option<Arc<dyn Store>>) -> Self {
        Self {
            spool: spool.into(),
            store,
        }
    }

    /// Whether originals and outputs go to the object store.
    pub fn in_store(&self) -> bool {
        self.store.is_some()
    }

    /// The job's folder on this node (nothing is fetched or created).
    pub fn dir(&self, job: &Job) -> PathBuf {
        if self.store.is_none() {
            return job.folder().to_path_buf();
        }
        if let Some(batch) = &job.parent_job
            && let Some(nth) = job
                .id
                .strip_prefix(batch.as_str())
                .and_then(|rest| rest.strip_prefix('-'))
                .and_then(|n| n.parse::<usize>().ok())
        {
            return spool::document_in(&self.spool.join(batch), nth);
        }
        self.spool.join(&job.id)
    }

    /// Where the job's processed PDF is, or would be, on this node (nothing is fetched).
    pub fn output_path(&self, job: &Job) -> PathBuf {
        spool::output_in(&self.dir(job))
    }

    /// With store custody, puts `files` (inside the job folder `dir`) into the store and
    /// returns what `Job::custody` records; with local custody, nothing (an empty list).
    /// Each object's hash is the one computed as it streamed into the store.
    pub async fn keep_originals(
        &self,
        dir: &Path,
        files: &[PathBuf],
    ) -> anyhow::Result<Vec<CustodyFile>> {
        let Some(store) = &self.store else {
            return Ok(Vec::new());
        };
        let mut kept = Vec::with_capacity(files.len());
        for file in files {
            let name = file
                .strip_prefix(dir)
                .with_context(|| format!("{} is outside {}", file.display(), dir.display()))?;
            let name = name
                .to_str()
                .with_context(|| format!("{}: not a UTF-8 name", file.display()))?
                .to_string();
            let key = store
                .put_file(file)
                .await
                .with_context(|| format!("putting {} into the object store", file.display()))?;
            kept.push(CustodyFile {
                name,
                sha256: key.sha256.to_string(),
                bytes: key.bytes,
            });
        }
        Ok(kept)
    }

    /// The job's folder on this node with its originals in it: with store custody, those
    /// missing are fetched from the store and verified first. Returns the folder.
    pub async fn originals(&self, job: &Job) -> anyhow::Result<PathBuf> {
        let dir = self.dir(job);
        let Some(store) = &self.store else {
            return Ok(dir);
        };
        for file in &job.custody {
            let dest = dir.join(safe_name(&job.id, &file.name)?);
            if tokio::fs::symlink_metadata(&dest).await.is_ok() {
                continue;
            }
            fetch_verified(store.as_ref(), &job.id, file, &dest).await?;
        }
        Ok(dir)
    }

    /// With store custody, puts the processed PDF at `path` into the store, checking that it
    /// is stored under `sha256` (the hash the job will record); else nothing.
    pub async fn keep_output(&self, job_id: &str, path: &Path, sha256: &str) -> anyhow::Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let key = store.put_file(path).await.with_context(|| {
            format!(
                "job {job_id}: putting {} into the object store",
                path.display()
            )
        })?;
        anyhow::ensure!(
            key.sha256.as_str() == sha256,
            "job {job_id}: {} was stored as {}, not the {sha256} its processing reported",
            path.display(),
            key.sha256
        );
        Ok(())
    }

    /// The job's processed PDF on this node: with store custody, fetched from the store and
    /// verified against `output_sha256` when it is not here.
    pub async fn output(&self, job: &Job) -> anyhow::Result<PathBuf> {
        let path = self.output_path(job);
        let Some(store) = &self.store else {
            return Ok(path);
        };
        if tokio::fs::symlink_metadata(&path).await.is_ok() {
            return Ok(path);
        }
        let sha256 = job
            .output_sha256
            .as_deref()
            .with_context(|| format!("job {} has no processed PDF", job.id))?;
        let file = CustodyFile {
            name: spool::OUTPUT_NAME.to_string(),
            sha256: sha256.to_string(),
            bytes: 0,
        };
        fetch_verified(store.as_ref(), &job.id, &file, &path).await?;
        Ok(path)
    }
}

/// A custody name as a relative path inside the job folder: plain components only, so a name
/// read from the database can never write outside the folder.
fn safe_name<'a>(job: &str, name: &'a str) -> anyhow::Result<&'a Path> {
    let path = Path::new(name);
    let plain = !name.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    anyhow::ensure!(
        plain,
        "job {job}: custody file name {name:?} is not a plain path inside the job folder"
    );
    Ok(path)
}

/// Fetches `file` of job `job` from `store` into `dest`, checking its SHA-256 (and its length,
/// when `file.bytes` is not 0) on the bytes written, besides the store's own check on read. The
/// bytes go to a hidden temporary name beside `dest` and are renamed into place only when they
/// match, so `dest` never holds a file that failed the check. Errors name the job and file.
pub async fn fetch_verified(
    store: &dyn Store,
    job: &str,
    file: &CustodyFile,
    dest: &Path,
) -> anyhow::Result<()> {
    let what = || format!("job {job}: file {} from the object store", file.name);
    let hash = ContentHash::parse(&file.sha256).with_context(what)?;
    let parent = dest.parent().with_context(what)?;
    tokio::fs::create_dir_all(parent)
        .await
        .with_context(|| format!("{}: creating {}", what(), parent.display()))?;
    let tmp = parent.join(format!(
        ".{}.fetch",
        dest.file_name().unwrap_or_default().to_string_lossy()
    ));
    let result = async {
        let body = store.get(&hash).await?;
        let mut out = tokio::fs::File::create(&tmp).await?;
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        let mut stream = body.into_stream();
        while let Some(chunk) = stream.try_next().await? {
            hasher.update(&chunk);
            bytes += chunk.len() as u64;
            out.write_all(&chunk).await?;
        }
        out.sync_all().await?;
        let found = hex::encode(hasher.finalize());
        anyhow::ensure!(
            found == file.sha256,
            "its bytes have SHA-256 {found}, not the recorded {}",
            file.sha256
        );
        anyhow::ensure!(
            file.bytes == 0 || bytes == file.bytes,
            "it has {bytes} bytes, not the recorded {}",
            file.bytes
        );
        tokio::fs::rename(&tmp, dest).await?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e.context(format!("{}: not used", what())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quire_delivery::store::FsStore;

    fn store(dir: &Path) -> Arc<dyn Store> {
        Arc::new(FsStore::open(&dir.join("store")).unwrap())
    }

    fn job(id: &str, spool_path: &Path, custody: Vec<CustodyFile>) -> Job {
        Job {
            id: id.into(),
            request_id: None,
            state: quire_domain::JobState::Received,
            hold_reason: None,
            source_name: "scan".into(),
            spool_path: spool_path.display().to_string(),
            source_sha256: String::new(),
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
        }
    }

    /// Intake on one node keeps a folder scan; another node with its own spool gets the same
    /// files back, in the same places, and a second call fetches nothing more.
    #[tokio::test]
    async fn originals_kept_on_one_node_are_fetched_verified_on_another() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store(tmp.path());
        let intake = JobFiles::with(tmp.path().join("a"), Some(store.clone()));
        let worker = JobFiles::with(tmp.path().join("b"), Some(store.clone()));
        let dir = tmp.path().join("a/job_1");
        std::fs::create_dir_all(dir.join("TN1")).unwrap();
        std::fs::write(dir.join("TN1/p1.tif"), b"page one").unwrap();
        std::fs::write(dir.join("TN1/p2.tif"), b"page two").unwrap();
        let files = vec![dir.join("TN1/p1.tif"), dir.join("TN1/p2.tif")];
        let custody = intake.keep_originals(&dir, &files).await.unwrap();
        assert_eq!(custody[0].name, "TN1/p1.tif");
        assert_eq!(custody[0].bytes, 8);
        assert_eq!(custody[0].sha256, hex::encode(Sha256::digest(b"page one")));

        let j = job("job_1", &dir, custody);
        assert_eq!(intake.originals(&j).await.unwrap(), dir);
        let there = worker.originals(&j).await.unwrap();
        assert_eq!(there, tmp.path().join("b/job_1"));
        assert_eq!(
            std::fs::read(there.join("TN1/p2.tif")).unwrap(),
            b"page two"
        );
        worker.originals(&j).await.unwrap();
        let names: Vec<_> = std::fs::read_dir(there.join("TN1"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no temporary file is left: {names:?}");
    }

    #[tokio::test]
    async fn a_hash_or_length_that_does_not_match_is_an_error_naming_job_and_file() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store(tmp.path());
        let key = store
            .put_bytes(bytes::Bytes::from_static(b"the real scan"))
            .await
            .unwrap();
        let dest = tmp.path().join("spool/job_9/scan.pdf");

        // Recorded under another hash: the store holds no such object.
        let wrong = CustodyFile {
            name: "scan.pdf".into(),
            sha256: hex::encode(Sha256::digest(b"another scan")),
            bytes: 13,
        };
        let e = format!(
            "{:#}",
            fetch_verified(store.as_ref(), "job_9", &wrong, &dest)
                .await
                .unwrap_err()
        );
        assert!(e.contains("job job_9") && e.contains("scan.pdf"), "{e}");
        assert!(!dest.exists());

        // The right hash but the wrong length.
        let short = CustodyFile {
            name: "scan.pdf".into(),
            sha256: key.sha256.to_string(),
            bytes: 5,
        };
        let e = format!(
            "{:#}",
            fetch_verified(store.as_ref(), "job_9", &short, &dest)
                .await
                .unwrap_err()
        );
        assert!(
            e.contains("job job_9") && e.contains("not the recorded 5"),
            "{e}"
        );
        assert!(!dest.exists());
        let left: Vec<_> = std::fs::read_dir(dest.parent().unwrap()).unwrap().collect();
        assert!(left.is_empty(), "the temporary file is removed");

        // Bytes changed inside the store's object: its read check refuses them.
        let object = walk(&tmp.path().join("store"))
            .into_iter()
            .find(|p| std::fs::read(p).is_ok_and(|b| b == b"the real scan"))
            .expect("the object file");
        std::fs::write(&object, b"the fake scan").unwrap();
        let good = CustodyFile {
            name: "scan.pdf".into(),
            sha256: key.sha256.to_string(),
            bytes: key.bytes,
        };
        let e = format!(
            "{:#}",
            fetch_verified(store.as_ref(), "job_9", &good, &dest)
                .await
                .unwrap_err()
        );
        assert!(e.contains("job job_9") && e.contains("scan.pdf"), "{e}");
        assert!(!dest.exists());
    }

    #[tokio::test]
    async fn names_that_leave_the_job_folder_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let files = JobFiles::with(tmp.path().join("spool"), Some(store(tmp.path())));
        for name in ["../escape", "/etc/passwd", "", "a/../../b"] {
            let file = CustodyFile {
                name: name.into(),
                sha256: hex::encode(Sha256::digest(b"x")),
                bytes: 1,
            };
            let j = job("job_2", tmp.path(), vec![file]);
            let e = format!("{:#}", files.originals(&j).await.unwrap_err());
            assert!(
                e.contains("job job_2") && e.contains("not a plain path"),
                "{e}"
            );
        }
    }

    #[tokio::test]
    async fn local_custody_is_the_recorded_folder_and_touches_no_store() {
        let tmp = tempfile::tempdir().unwrap();
        let files = JobFiles::with(tmp.path().join("spool"), None);
        let folder = tmp.path().join("elsewhere/job_3");
        let j = job("job_3", &folder, Vec::new());
        assert_eq!(files.dir(&j), folder);
        assert_eq!(files.originals(&j).await.unwrap(), folder);
        assert_eq!(
            files.output(&j).await.unwrap(),
            folder.join(spool::OUTPUT_NAME)
        );
        assert!(files.keep_originals(&folder, &[]).await.unwrap().is_empty());
    }

    #[test]
    fn a_batch_document_has_its_folder_under_the_batch_on_every_node() {
        let tmp = tempfile::tempdir().unwrap();
        let files = JobFiles::with(tmp.path().join("spool"), Some(store(tmp.path())));
        let mut j = job("job_4-2", Path::new("/elsewhere"), Vec::new());
        j.parent_job = Some("job_4".into());
        assert_eq!(
            files.dir(&j),
            tmp.path()
                .join("spool/job_4")
                .join(spool::SPLIT_DIR)
                .join("2")
        );
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }
}

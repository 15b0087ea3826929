//! Preservation masters: one BagIt bag (RFC 8493, BagIt 1.0) per job, written while its
//! originals are still in the spool, and the fixity check of such a bag. The daemon's worker
//! writes one as it delivers a job (`[preservation] enabled`), `quire preserve JOB` for an
//! existing job, and `quire preserve --verify PATH` checks one: all through this module.
//!
//! The writer and checker are Quire's own. The format is small (three tag files, two
//! manifests and a `data/` folder), and crates.io has no well-kept BagIt crate: `async_bagit`
//! needs nightly Rust and `bagr` is a command-line tool still in development. The end-to-end
//! test validates Quire's bags with the Library of Congress's `bagit` Python package, the
//! reference implementation, so the two readings of the RFC are checked against each other.
//!
//! A bag is the folder `<[preservation] path>/<job id>`, or with `destination = "store"` the
//! named files `preservation/<job id>/…` in the object store (written here first, then
//! uploaded with `bagit.txt` last, so a bag is only declared once all of it is there); its
//! payload, under `data/`:
//! - `originals/`: the job's original scans, byte for byte, under their own names (a folder
//!   scan keeps its folder). A document cut from a batch has the whole batch scan.
//! - `processed.pdf`: the processed PDF, checked against the SHA-256 the job recorded. The
//!   daemon writes it as PDF/A-2b whenever preservation is on (config check refuses
//!   `[processing] output_type = "pdf"` with `[preservation] enabled`); `bag-info.txt` says
//!   which it is (`Quire-Processed-PDF`), read from the file's own XMP, so that a bag made by
//!   `quire preserve` of a job processed as a plain PDF does not claim PDF/A.
//! - `quality-report.json`: the job's stored per-page quality report. It holds no reader data
//!   by design; should the reader's name or e-mail appear in it all the same (the OCR text of
//!   a page that shows them), each occurrence is replaced by `[reader withheld]`.
//!
//! No reader data goes into a bag, which is why `purge` and `retention run` leave bags alone:
//! there is nothing in them to purge or pseudonymise, and a preservation master is meant to
//! outlast the delivery.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};

use crate::job_files::JobFiles;
use quire_config::LoadedConfig;
use quire_config::preservation::PreservationDestination;
use quire_delivery::{FileKey, Store};
use quire_domain::{Action, Timestamp, spool};
use quire_state::{AuditFilter, Database, Job, NewEvent};

/// The payload folder of the originals, inside `data/`.
pub const ORIGINALS_DIR: &str = "originals";
/// The processed PDF, inside `data/`.
pub const PROCESSED_NAME: &str = "processed.pdf";
/// The quality report, inside `data/`.
pub const REPORT_NAME: &str = "quality-report.json";
/// What stands in the report where the reader's name or e-mail was.
pub const WITHHELD: &str = "[reader withheld]";

/// What `bag-info.txt` says of a processed PDF that identifies itself as PDF/A-2b.
const PROCESSED_PDFA_NOTE: &str =
    "PDF/A-2b (pdfaid:part 2, conformance B; the clauses tested are listed in Quire's README)";
/// What it says of any other, so that nobody takes it for PDF/A.
const PROCESSED_PDF_NOTE: &str =
    "a plain PDF, not PDF/A (processed with [processing] output_type = \"pdf\")";

/// The note for the PDF at `path`: PDF/A when its XMP packet, which PDF/A keeps uncompressed,
/// names part 2 and conformance B.
fn processed_pdf_note(path: &Path) -> anyhow::Result<&'static str> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    Ok(
        if has(b"<pdfaid:part>2</pdfaid:part>")
            && has(b"<pdfaid:conformance>B</pdfaid:conformance>")
        {
            PROCESSED_PDFA_NOTE
        } else {
            PROCESSED_PDF_NOTE
        },
    )
}

/// Where a job's bag is. Its `Display` is what the console shows and what `quire preserve
/// --verify` takes back ([`BagLocation::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BagLocation {
    /// A folder on this server.
    Folder(PathBuf),
    /// Named files under this key in the object store.
    Store(FileKey),
}

/// How a bag in the object store is written down: `store:preservation/J1`.
const STORE_SCHEME: &str = "store:";

impl BagLocation {
    /// A folder path, or `store:KEY` for a bag in the object store.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(match text.strip_prefix(STORE_SCHEME) {
            Some(key) => Self::Store(FileKey::parse(key.trim_end_matches('/'))?),
            None => Self::Folder(PathBuf::from(text)),
        })
    }
}

impl fmt::Display for BagLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Folder(path) => write!(f, "{}", path.display()),
            Self::Store(key) => write!(f, "{STORE_SCHEME}{key}"),
        }
    }
}

/// The store key a job's bag goes under.
pub fn store_key(job_id: &str) -> anyhow::Result<FileKey> {
    Ok(FileKey::parse("preservation")?.join(job_id)?)
}

/// A bag written.
#[derive(Debug, Clone)]
pub struct Preserved {
    pub location: BagLocation,
    /// Payload files and their total bytes (the bag's `Payload-Oxum`).
    pub files: usize,
    pub bytes: u64,
    /// Occurrences of the reader's name or e-mail replaced in the report.
    pub withheld: usize,
}

/// Who and what captured the scan, when a `quire scan` of it is on record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provenance {
    pub scanner: Option<String>,
    pub profile: Option<String>,
    pub technician: Option<String>,
}

/// The bag of job `job_id` under `config`'s `[preservation] path` (it may not exist).
pub fn bag_path(config: &LoadedConfig, job_id: &str) -> PathBuf {
    config.preservation_dir().join(job_id)
}

/// The bag of `job_id` when one has been written: on this node's folder, or in the store (a
/// bag there counts once its `bagit.txt`, uploaded last, is).
pub async fn existing_bag(
    config: &LoadedConfig,
    store: &dyn Store,
    job_id: &str,
) -> anyhow::Result<Option<BagLocation>> {
    Ok(match config.config.preservation.destination {
        PreservationDestination::Folder => {
            let path = bag_path(config, job_id);
            path.join("bagit.txt")
                .is_file()
                .then_some(BagLocation::Folder(path))
        }
        PreservationDestination::Store => {
            let key = store_key(job_id)?;
            let declaration = key.join("bagit.txt")?;
            let listed = store.list_named(&key).await?;
            listed
                .iter()
                .any(|(k, _)| *k == declaration)
                .then_some(BagLocation::Store(key))
        }
    })
}

/// Writes the bag of `job` on this node, replacing an earlier one, and audits it
/// (`job.preserved`). The originals are this node's spool copies (fetched from the store and
/// verified with store custody); a batch document's are its batch's. An error when the job
/// has no processed PDF or its originals are gone.
pub async fn preserve_job(
    db: &dyn Database,
    config: &LoadedConfig,
    files: &JobFiles,
    store: &dyn Store,
    job: &Job,
    actor: &str,
) -> anyhow::Result<Preserved> {
    anyhow::ensure!(
        job.output_sha256.is_some(),
        "job {} has no processed PDF yet ({})",
        job.id,
        job.state
    );
    let output = files.output(job).await?;
    let scan = match &job.parent_job {
        Some(batch) => db
            .job_get(batch)?
            .with_context(|| format!("job {}: its batch {batch} is not on record", job.id))?,
        None => job.clone(),
    };
    let dir = files.originals(&scan).await?;
    preserve(db, config, store, job, &dir, &output, actor).await
}

/// Writes the bag of `job` from the originals in folder `originals` and the processed PDF
/// `output` (to the object store `store` with `destination = "store"`); see
/// [`preserve_job`].
pub async fn preserve(
    db: &dyn Database,
    config: &LoadedConfig,
    store: &dyn Store,
    job: &Job,
    originals: &Path,
    output: &Path,
    actor: &str,
) -> anyhow::Result<Preserved> {
    let sources = list_originals(originals).with_context(|| {
        format!(
            "job {}: reading its originals in {}",
            job.id,
            originals.display()
        )
    })?;
    anyhow::ensure!(
        !sources.is_empty(),
        "job {}: no originals in {} (they leave the spool after delivery unless [intake] \
         keep_originals = true, or [preservation] enabled wrote the bag then)",
        job.id,
        originals.display()
    );
    let request = match &job.request_id {
        Some(id) => db.request_get(id)?,
        None => None,
    };
    let reader: Vec<&str> = request
        .iter()
        .flat_map(|r| [r.patron_name.as_str(), r.patron_email.as_str()])
        .filter(|s| !s.trim().is_empty())
        .collect();
    let mut report: Value = serde_json::from_str(
        job.report_json
            .as_deref()
            .with_context(|| format!("job {} has no quality report", job.id))?,
    )
    .with_context(|| format!("job {}: its stored quality report", job.id))?;
    let withheld = withhold(&mut report, &reader);
    let report = serde_json::to_vec_pretty(&report)?;
    let names: Vec<String> = sources.iter().map(|(_, name)| name.clone()).collect();
    let provenance = match &job.request_id {
        Some(r) => provenance(db, r, &names)?,
        None => Provenance::default(),
    };

    let mut info = vec![
        (
            "Source-Organization",
            config.config.institution.name.clone(),
        ),
        (
            "Bagging-Date",
            Timestamp::now().shown_iso_day(&config.config.institution.time_zone),
        ),
    ];
    if let Some(r) = &job.request_id {
        info.push(("External-Identifier", format!("request {r}")));
    }
    info.push(("External-Identifier", format!("job {}", job.id)));
    if let Some(batch) = &job.parent_job {
        info.push((
            "Internal-Sender-Description",
            format!("cut from batch scan {batch}; data/originals holds the whole batch"),
        ));
    }
    for (label, value) in [
        ("Quire-Scanner", &provenance.scanner),
        ("Quire-Scan-Profile", &provenance.profile),
        ("Quire-Technician", &provenance.technician),
    ] {
        if let Some(v) = value {
            info.push((label, v.clone()));
        }
    }
    let pdf_note = processed_pdf_note(output)?;
    info.push(("Quire-Processed-PDF", pdf_note.to_string()));
    info.push((
        "Bag-Software-Agent",
        format!("Quire {}", env!("CARGO_PKG_VERSION")),
    ));

    let destination = config.config.preservation.destination;
    let root = match destination {
        PreservationDestination::Folder => config.preservation_dir(),
        // Written whole on this node first, so the bag is checked before it is uploaded.
        PreservationDestination::Store => config.data_dir().join("preservation-staging"),
    };
    let expected_pdf = job.output_sha256.as_deref().unwrap_or_default();
    let written = write_bag(
        &root,
        &job.id,
        |bag| {
            for (path, name) in &sources {
                bag.copy(&format!("{ORIGINALS_DIR}/{name}"), path)?;
            }
            let pdf = bag.copy(PROCESSED_NAME, output)?;
            anyhow::ensure!(
                pdf == expected_pdf,
                "job {}: the processed PDF {} has SHA-256 {pdf}, not the {expected_pdf} recorded",
                job.id,
                output.display()
            );
            bag.write(REPORT_NAME, &report)?;
            Ok(())
        },
        &info,
    )?;
    let location = match destination {
        PreservationDestination::Folder => BagLocation::Folder(written.path.clone()),
        PreservationDestination::Store => {
            let key = store_key(&job.id)?;
            let uploaded = upload_bag(store, &written.path, &key).await;
            // The staging copy goes either way: on failure the originals stay in the spool
            // and the bag is written again from them.
            let _ = std::fs::remove_dir_all(&written.path);
            uploaded.with_context(|| format!("job {}: uploading its bag to the store", job.id))?;
            BagLocation::Store(key)
        }
    };

    let mut event = NewEvent::new(actor, Action::JobPreserved)
        .subject("job", &job.id)
        .details(json!({
            "path": location.to_string(),
            "format": "bagit",
            "payload_oxum": format!("{}.{}", written.bytes, written.files),
            "originals": names,
            "processed_pdf": pdf_note,
            "report_withheld": withheld,
        }));
    if let Some(r) = &job.request_id {
        event = event.subject("request", r);
    }
    db.audit_append(event)?;
    Ok(Preserved {
        location,
        files: written.files,
        bytes: written.bytes,
        withheld,
    })
}

/// Uploads the bag in folder `bag` as the named files under `key`, replacing a bag there: the
/// old declaration (`bagit.txt`) goes first and the new one is uploaded last, so a reader of
/// the store never takes a half-replaced bag for a whole one; files of the old bag the new one
/// does not have are removed at the end.
async fn upload_bag(store: &dyn Store, bag: &Path, key: &FileKey) -> anyhow::Result<()> {
    let mut files = BTreeMap::new();
    walk_files(bag, "", &mut files)?;
    let declaration = key.join("bagit.txt")?;
    store.delete_named(&declaration).await?;
    let mut uploaded = BTreeSet::new();
    for (name, path) in files.iter().filter(|(n, _)| n.as_str() != "bagit.txt") {
        let file_key = key
            .join(name)
            .with_context(|| format!("{}: cannot be named in the store", path.display()))?;
        store.put_named(&file_key, path).await?;
        uploaded.insert(file_key);
    }
    let path = files.get("bagit.txt").context("the bag has no bagit.txt")?;
    store.put_named(&declaration, path).await?;
    uploaded.insert(declaration);
    for (old, _) in store.list_named(key).await? {
        if !uploaded.contains(&old) {
            store.delete_named(&old).await?;
        }
    }
    Ok(())
}

/// Every file under `dir`, by its `/`-separated path from `dir`.
fn walk_files(dir: &Path, prefix: &str, out: &mut BTreeMap<String, PathBuf>) -> anyhow::Result<()> {
    for entry in sorted_entries(dir)? {
        let name = utf8_name(&entry)?;
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if std::fs::symlink_metadata(&entry)?.is_dir() {
            walk_files(&entry, &rel, out)?;
        } else {
            out.insert(rel, entry);
        }
    }
    Ok(())
}

/// Downloads the bag under `key` from the store into a new folder inside `into`, for
/// [`verify`]; returns that folder.
pub async fn fetch_bag(store: &dyn Store, key: &FileKey, into: &Path) -> anyhow::Result<PathBuf> {
    let listed = store.list_named(key).await?;
    anyhow::ensure!(!listed.is_empty(), "no bag in the store under {key}/");
    let dest = into.join("bag");
    for (file, _) in &listed {
        let rel = file
            .strip_prefix(key)
            .context("listed outside its folder")?;
        let path = dest.join(rel);
        std::fs::create_dir_all(path.parent().expect("a file in the bag"))?;
        store.get_named(file, &path).await?;
    }
    Ok(dest)
}

/// The job's originals in `dir`, as (file, name in the bag under `originals/`): the files
/// named as originals ([`spool::is_original`]) and, for a folder scan, the files inside it,
/// in name order. Links are not followed: an original is a file intake moved in.
fn list_originals(dir: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    for entry in sorted_entries(dir)? {
        let name = utf8_name(&entry)?;
        if !spool::is_original(&name) {
            continue;
        }
        let meta = std::fs::symlink_metadata(&entry)?;
        if meta.is_dir() {
            for inner in sorted_entries(&entry)? {
                let inner_name = utf8_name(&inner)?;
                if !inner_name.starts_with('.') && std::fs::symlink_metadata(&inner)?.is_file() {
                    out.push((inner, format!("{name}/{inner_name}")));
                }
            }
        } else if meta.is_file() {
            out.push((entry, name));
        }
    }
    Ok(out)
}

fn sorted_entries(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    Ok(entries)
}

/// Tag files are UTF-8 (the bag says so), so a name that is not cannot be listed.
fn utf8_name(path: &Path) -> anyhow::Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .with_context(|| format!("{}: the name is not UTF-8", path.display()))
}

/// Replaces each occurrence of the `reader`'s name or e-mail (any case) in the strings of
/// `value`; returns how many were replaced.
fn withhold(value: &mut Value, reader: &[&str]) -> usize {
    match value {
        Value::String(s) => {
            let mut count = 0;
            for needle in reader {
                let (text, n) = replace_caseless(s, needle, WITHHELD);
                if n > 0 {
                    *s = text;
                    count += n;
                }
            }
            count
        }
        Value::Array(items) => items.iter_mut().map(|v| withhold(v, reader)).sum(),
        Value::Object(map) => map.values_mut().map(|v| withhold(v, reader)).sum(),
        _ => 0,
    }
}

/// `text` with every case-insensitive occurrence of `needle` replaced, and how many there were.
/// Compared by lower-cased characters, so a name in another case (an OCR'd heading in
/// capitals) is found too.
fn replace_caseless(text: &str, needle: &str, with: &str) -> (String, usize) {
    let needle: Vec<char> = needle.chars().flat_map(char::to_lowercase).collect();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let lower: Vec<Vec<char>> = chars
        .iter()
        .map(|(_, c)| c.to_lowercase().collect())
        .collect();
    let (mut out, mut count, mut i) = (String::new(), 0, 0);
    while i < chars.len() {
        // Match needle against the lower-cased characters from i on.
        let mut j = i;
        let mut k = 0;
        while k < needle.len() && j < chars.len() {
            let l = &lower[j];
            if needle.len() - k >= l.len() && needle[k..k + l.len()] == l[..] {
                k += l.len();
                j += 1;
            } else {
                break;
            }
        }
        if !needle.is_empty() && k == needle.len() {
            out.push_str(with);
            count += 1;
            i = j;
        } else {
            out.push(chars[i].1);
            i += 1;
        }
    }
    (out, count)
}

/// The scanner, profile and technician of the `quire scan` of request `request` that made
/// one of `originals` (its `scan.captured` event names the file); the latest such capture.
fn provenance(
    db: &dyn Database,
    request: &str,
    originals: &[String],
) -> anyhow::Result<Provenance> {
    let filter = AuditFilter {
        action: Some(Action::ScanCaptured.as_str().to_string()),
        request: Some(request.to_string()),
        ..Default::default()
    };
    let tops: BTreeSet<&str> = originals
        .iter()
        .map(|n| n.split('/').next().unwrap_or(n))
        .collect();
    let mut found = Provenance::default();
    db.audit_scan(&filter, &mut |event| {
        let file = event.details["file"].as_str().unwrap_or_default();
        let name = Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if tops.contains(name.as_str()) {
            let text = |key: &str| event.details[key].as_str().map(str::to_string);
            found = Provenance {
                scanner: text("device"),
                profile: text("profile"),
                technician: Some(event.actor.clone()),
            };
        }
        Ok(())
    })?;
    Ok(found)
}

/// A bag being written in its temporary folder.
/// A bag [`write_bag`] wrote: its folder, payload files and bytes.
struct WrittenBag {
    path: PathBuf,
    files: usize,
    bytes: u64,
}

struct BagWriter {
    dir: PathBuf,
    /// Payload path (under `data/`) → SHA-256, in path order.
    manifest: BTreeMap<String, String>,
    bytes: u64,
}

impl BagWriter {
    /// Copies `from` to `data/<name>`, hashing the bytes as they are written; returns the hash.
    fn copy(&mut self, name: &str, from: &Path) -> anyhow::Result<String> {
        let mut input =
            std::fs::File::open(from).with_context(|| format!("opening {}", from.display()))?;
        let dest = self.dir.join("data").join(name);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = std::fs::File::create(&dest)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = input
                .read(&mut buf)
                .with_context(|| format!("reading {}", from.display()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            self.bytes += n as u64;
        }
        out.sync_all()?;
        let hash = hex::encode(hasher.finalize());
        self.manifest.insert(format!("data/{name}"), hash.clone());
        Ok(hash)
    }

    /// Writes `bytes` as `data/<name>`.
    fn write(&mut self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        write_synced(&self.dir.join("data").join(name), bytes)?;
        self.bytes += bytes.len() as u64;
        self.manifest
            .insert(format!("data/{name}"), hex::encode(Sha256::digest(bytes)));
        Ok(())
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// Writes the bag `<root>/<id>`: `payload` fills `data/`, then the manifests and tag files
/// are written with `info` in `bag-info.txt`. All of it goes to a hidden temporary folder
/// beside the bag and is renamed into place, so the bag's path never shows a half-written
/// bag; an earlier bag is moved aside first and removed once the new one is in place.
fn write_bag(
    root: &Path,
    id: &str,
    payload: impl FnOnce(&mut BagWriter) -> anyhow::Result<()>,
    info: &[(&str, String)],
) -> anyhow::Result<WrittenBag> {
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let pid = std::process::id();
    let tmp = root.join(format!(".{id}.part-{pid}"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("data"))
        .with_context(|| format!("creating {}", tmp.display()))?;
    let mut bag = BagWriter {
        dir: tmp.clone(),
        manifest: BTreeMap::new(),
        bytes: 0,
    };
    let result = (|| {
        payload(&mut bag)?;
        let files = bag.manifest.len();
        let manifest: String = bag
            .manifest
            .iter()
            .map(|(path, hash)| format!("{hash}  {}\n", encode_path(path)))
            .collect();
        let mut bag_info = String::new();
        for (label, value) in info {
            bag_info.push_str(&format!("{label}: {}\n", one_line(value)));
        }
        bag_info.push_str(&format!("Payload-Oxum: {}.{files}\n", bag.bytes));
        let tags = [
            (
                "bagit.txt",
                "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".to_string(),
            ),
            ("bag-info.txt", bag_info),
            ("manifest-sha256.txt", manifest),
        ];
        let mut tagmanifest = String::new();
        for (name, text) in &tags {
            write_synced(&tmp.join(name), text.as_bytes())?;
            tagmanifest.push_str(&format!(
                "{}  {name}\n",
                hex::encode(Sha256::digest(text.as_bytes()))
            ));
        }
        write_synced(&tmp.join("tagmanifest-sha256.txt"), tagmanifest.as_bytes())?;
        let dest = root.join(id);
        let aside = root.join(format!(".{id}.replaced-{pid}"));
        let replacing = dest.exists();
        if replacing {
            std::fs::rename(&dest, &aside)
                .with_context(|| format!("moving the earlier bag {} aside", dest.display()))?;
        }
        if let Err(e) = std::fs::rename(&tmp, &dest) {
            if replacing {
                let _ = std::fs::rename(&aside, &dest);
            }
            return Err(anyhow::Error::from(e).context(format!("renaming into {}", dest.display())));
        }
        if replacing {
            std::fs::remove_dir_all(&aside).with_context(|| {
                format!("removing the earlier bag, moved to {}", aside.display())
            })?;
        }
        Ok(WrittenBag {
            path: dest,
            files,
            bytes: bag.bytes,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// A tag value on one line: line breaks and other control characters become spaces, so no
/// value can start a label of its own.
fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A path as a manifest line writes it: RFC 8493 §2.1.3 percent-encodes CR, LF and `%`.
fn encode_path(path: &str) -> String {
    path.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A manifest line's path, decoded.
fn decode_path(path: &str) -> String {
    path.replace("%0D", "\r")
        .replace("%0d", "\r")
        .replace("%0A", "\n")
        .replace("%0a", "\n")
        .replace("%25", "%")
}

/// One thing wrong with a bag, naming the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Relative to the bag's folder.
    pub file: String,
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.what)
    }
}

/// A bag that passed: its payload files and bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub files: usize,
    pub bytes: u64,
}

/// The checksum algorithms a manifest may name that this check can compute.
#[derive(Debug, Clone, Copy)]
enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    fn named(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn hash_file(self, path: &Path) -> std::io::Result<String> {
        fn run<D: Digest>(path: &Path) -> std::io::Result<String> {
            let mut f = std::fs::File::open(path)?;
            let mut hasher = D::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    return Ok(hex::encode(hasher.finalize()));
                }
                hasher.update(&buf[..n]);
            }
        }
        match self {
            Self::Sha256 => run::<Sha256>(path),
            Self::Sha512 => run::<Sha512>(path),
        }
    }
}

/// Checks the bag at `bag` (RFC 8493 §3, "valid"): its declaration, every payload and tag
/// manifest entry against its file's checksum, every payload file listed in each payload
/// manifest, and the `Payload-Oxum`. Every problem is returned, each naming its file.
pub fn verify(bag: &Path) -> Result<Verified, Vec<Problem>> {
    let mut problems = Vec::new();
    let problem = |file: &str, what: String| Problem {
        file: file.to_string(),
        what,
    };
    match std::fs::read_to_string(bag.join("bagit.txt")) {
        Err(e) => problems.push(problem("bagit.txt", format!("cannot be read: {e}"))),
        Ok(text) => {
            if !text.lines().any(|l| l.starts_with("BagIt-Version:")) {
                problems.push(problem("bagit.txt", "no BagIt-Version".into()));
            }
            if !text
                .lines()
                .any(|l| l.trim() == "Tag-File-Character-Encoding: UTF-8")
            {
                problems.push(problem(
                    "bagit.txt",
                    "no `Tag-File-Character-Encoding: UTF-8`".into(),
                ));
            }
        }
    }
    let mut manifests = Vec::new();
    let mut tag_manifests = Vec::new();
    match sorted_entries(bag) {
        Err(e) => problems.push(problem(".", format!("{e:#}"))),
        Ok(entries) => {
            for entry in entries {
                let name = entry
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let (list, alg) = if let Some(rest) = name.strip_prefix("tagmanifest-") {
                    (&mut tag_manifests, rest.strip_suffix(".txt"))
                } else if let Some(rest) = name.strip_prefix("manifest-") {
                    (&mut manifests, rest.strip_suffix(".txt"))
                } else {
                    continue;
                };
                match alg.and_then(Algorithm::named) {
                    Some(a) => list.push((name, a)),
                    None => problems.push(problem(
                        &name,
                        "an algorithm this check cannot compute (sha256 and sha512 only)".into(),
                    )),
                }
            }
        }
    }
    if manifests.is_empty() {
        problems.push(problem("manifest-sha256.txt", "no payload manifest".into()));
    }
    let payload = match payload_files(bag) {
        Ok(p) => p,
        Err(e) => {
            problems.push(problem("data", format!("{e:#}")));
            BTreeMap::new()
        }
    };
    for (name, alg) in &manifests {
        let listed = check_manifest(bag, name, *alg, true, &mut problems);
        for file in payload.keys() {
            if !listed.contains(file) {
                problems.push(problem(file, format!("in the payload but not in {name}")));
            }
        }
    }
    for (name, alg) in &tag_manifests {
        check_manifest(bag, name, *alg, false, &mut problems);
    }
    let bytes: u64 = payload.values().sum();
    if let Ok(info) = std::fs::read_to_string(bag.join("bag-info.txt"))
        && let Some(oxum) = info
            .lines()
            .find_map(|l| l.strip_prefix("Payload-Oxum:"))
            .map(str::trim)
    {
        let found = format!("{bytes}.{}", payload.len());
        if oxum != found {
            problems.push(problem(
                "bag-info.txt",
                format!("Payload-Oxum is {oxum}, and the payload is {found} (bytes.files)"),
            ));
        }
    }
    if problems.is_empty() {
        Ok(Verified {
            files: payload.len(),
            bytes,
        })
    } else {
        Err(problems)
    }
}

/// Checks each entry of manifest `name` against its file; returns the paths it lists.
/// `payload`: entries must be under `data/`.
fn check_manifest(
    bag: &Path,
    name: &str,
    alg: Algorithm,
    payload: bool,
    problems: &mut Vec<Problem>,
) -> BTreeSet<String> {
    let mut listed = BTreeSet::new();
    let text = match std::fs::read_to_string(bag.join(name)) {
        Ok(t) => t,
        Err(e) => {
            problems.push(Problem {
                file: name.into(),
                what: format!("cannot be read: {e}"),
            });
            return listed;
        }
    };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((hash, path)) = line.split_once(char::is_whitespace) else {
            problems.push(Problem {
                file: name.into(),
                what: format!("line {} is not `CHECKSUM PATH`", n + 1),
            });
            continue;
        };
        let path = decode_path(path.trim_start());
        let inside = !path.is_empty()
            && Path::new(&path)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !inside || (payload && !path.starts_with("data/")) {
            problems.push(Problem {
                file: name.into(),
                what: format!(
                    "line {}: `{path}` is not a path {} the bag",
                    n + 1,
                    if payload { "under data/ in" } else { "inside" }
                ),
            });
            continue;
        }
        listed.insert(path.clone());
        match alg.hash_file(&bag.join(&path)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => problems.push(Problem {
                file: path,
                what: format!("listed in {name} but missing"),
            }),
            Err(e) => problems.push(Problem {
                file: path,
                what: format!("cannot be read: {e}"),
            }),
            Ok(found) if !found.eq_ignore_ascii_case(hash) => problems.push(Problem {
                file: path,
                what: format!("its checksum is {found}, and {name} says {hash}"),
            }),
            Ok(_) => {}
        }
    }
    listed
}

/// Every file under `data/`, by its path from the bag's folder, with its size.
fn payload_files(bag: &Path) -> anyhow::Result<BTreeMap<String, u64>> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, u64>) -> anyhow::Result<()> {
        for entry in sorted_entries(dir)? {
            let name = entry
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let meta = std::fs::symlink_metadata(&entry)?;
            let path = format!("{prefix}/{name}");
            if meta.is_dir() {
                walk(&entry, &path, out)?;
            } else {
                out.insert(path, meta.len());
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(&bag.join("data"), "data", &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> Vec<(&'static str, String)> {
        vec![("Source-Organization", "Example\nLibrary".to_string())]
    }

    fn sample(root: &Path) -> PathBuf {
        let src = root.join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("scan 1.tif"), b"original bytes").unwrap();
        std::fs::write(src.join("out.pdf"), b"%PDF-1.7 processed").unwrap();
        write_bag(
            &root.join("bags"),
            "job_1",
            |bag| {
                bag.copy("originals/scan 1.tif", &src.join("scan 1.tif"))?;
                bag.copy("originals/odd%name\nx.tif", &src.join("scan 1.tif"))?;
                bag.copy(PROCESSED_NAME, &src.join("out.pdf"))?;
                bag.write(REPORT_NAME, b"{}")?;
                Ok(())
            },
            &info(),
        )
        .unwrap()
        .path
    }

    /// A bag written here passes its own check, with the Oxum its payload has; a line break
    /// in a value cannot start a new label; no temporary folder is left.
    #[test]
    fn a_written_bag_verifies_and_leaves_nothing_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let bag = sample(tmp.path());
        let ok = verify(&bag).unwrap();
        assert_eq!(ok.files, 4);
        assert_eq!(ok.bytes, 14 + 14 + 18 + 2);
        let info = std::fs::read_to_string(bag.join("bag-info.txt")).unwrap();
        assert!(
            info.contains("Source-Organization: Example Library\n"),
            "{info}"
        );
        assert!(info.contains("Payload-Oxum: 48.4\n"), "{info}");
        let manifest = std::fs::read_to_string(bag.join("manifest-sha256.txt")).unwrap();
        assert!(
            manifest.contains("data/originals/odd%25name%0Ax.tif"),
            "{manifest}"
        );
        let left: Vec<_> = std::fs::read_dir(tmp.path().join("bags"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("job_1")]);
        // Written again: replaced whole, still one bag.
        let again = sample(tmp.path());
        assert_eq!(again, bag);
        verify(&bag).unwrap();
    }

    /// Each kind of damage is found and names the file it is in.
    #[test]
    fn changed_missing_extra_and_unlisted_files_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let bag = sample(tmp.path());
        std::fs::write(bag.join("data/originals/scan 1.tif"), b"original bytez").unwrap();
        let problems = verify(&bag).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].file, "data/originals/scan 1.tif");
        assert!(problems[0].what.contains("checksum"), "{}", problems[0]);

        std::fs::remove_file(bag.join("data").join(PROCESSED_NAME)).unwrap();
        std::fs::write(bag.join("data/extra.txt"), b"x").unwrap();
        let problems = verify(&bag).unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let has = |needle: &str| text.iter().any(|t| t.contains(needle));
        assert!(
            has("data/processed.pdf: listed in manifest-sha256.txt but missing"),
            "{text:?}"
        );
        assert!(
            has("data/extra.txt: in the payload but not in manifest-sha256.txt"),
            "{text:?}"
        );
        assert!(has("bag-info.txt: Payload-Oxum is 48.4"), "{text:?}");

        // A changed tag file is caught by the tag manifest.
        let bag = sample(&tmp.path().join("second"));
        let info = bag.join("bag-info.txt");
        let text = std::fs::read_to_string(&info).unwrap();
        std::fs::write(&info, text.replace("Example Library", "Another Library")).unwrap();
        let problems = verify(&bag).unwrap_err();
        assert_eq!(problems[0].file, "bag-info.txt", "{problems:?}");

        // A manifest path that leaves the bag is refused, not read.
        let bag = sample(&tmp.path().join("third"));
        let m = bag.join("manifest-sha256.txt");
        let mut text = std::fs::read_to_string(&m).unwrap();
        text.push_str(&format!("{}  data/../../src/out.pdf\n", "0".repeat(64)));
        std::fs::write(&m, text).unwrap();
        let problems = verify(&bag).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.file == "manifest-sha256.txt" && p.what.contains("not a path")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_readers_name_and_address_are_withheld_in_any_case_wherever_they_are() {
        let mut report = json!({
            "pages": [
                { "text": "Copy for NGUYỄN THỊ MINH KHAI only\nminh@Example.org", "word_count": 7 },
                { "text": "nothing here" },
            ],
            "languages": "eng",
        });
        let n = withhold(&mut report, &["Nguyễn Thị Minh Khai", "minh@example.org"]);
        assert_eq!(n, 2);
        let text = report.to_string();
        assert!(!text.to_lowercase().contains("minh"), "{text}");
        assert_eq!(
            report["pages"][0]["text"],
            "Copy for [reader withheld] only\n[reader withheld]"
        );
        assert_eq!(report["pages"][1]["text"], "nothing here");
        assert_eq!(replace_caseless("aaa", "", "x"), ("aaa".to_string(), 0));
    }
}

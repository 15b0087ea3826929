//! Inbox entries Quire will not take: every one gets a reason someone can read. What can be
//! moved safely goes to quarantine, beside a `.error.txt`, with an `intake.refused` audit event;
//! what cannot (a FIFO or a device node, where anything but a rename risks blocking on it or
//! reading a device) stays put, logged once and listed on the console's queue page.
//!
//! Links are never followed: a symlink is moved as the link itself (`rename` acts on the name,
//! not on what it points to), so a link to `/etc/passwd` or `/dev/zero` is never read.

use std::ffi::OsString;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::Arc;

use crate::look::look_folder;
use crate::settle::FileKind;
use serde_json::json;

use super::health::{Health, Ignored, Refused};
use quire_domain::Action;
use quire_domain::spool::Quarantine;
use quire_state::{Db, NewEvent};

pub struct Refuser {
    quarantine: Quarantine,
    db: Db,
    health: Arc<Health>,
}

impl Refuser {
    pub fn new(quarantine: Quarantine, db: Db, health: Arc<Health>) -> Self {
        Self {
            quarantine,
            db,
            health,
        }
    }

    /// Moves `entry` out of the inbox into `quarantine/<id>/` and writes `<id>.error.txt`
    /// with `reason`; if it cannot be moved, it is left and listed as ignored instead.
    pub fn quarantine(&self, entry: &Path, reason: &str) {
        let name = entry.file_name().map(OsString::from).unwrap_or_default();
        let shown = name.to_string_lossy().into_owned();
        let id = refusal_id(entry);
        let dir = self.quarantine.folder(&id);
        let moved = std::fs::create_dir_all(&dir).and_then(|()| {
            // `rename` on one file system only: copying would follow a link or read a device.
            std::fs::rename(entry, dir.join(&name))
        });
        if let Err(e) = moved {
            let _ = std::fs::remove_dir(&dir);
            self.ignore(
                entry,
                &format!("{reason}; it could not be moved to quarantine: {e}"),
            );
            return;
        }
        let note = format!(
            "refused: {id}\nsource: {shown}\nerror code: intake.refused\nreason: {reason}\n"
        );
        let note_path = self.quarantine.note(&id);
        if let Err(e) = std::fs::write(&note_path, note) {
            tracing::error!(path = %note_path.display(), error = %e, "could not write the quarantine note");
        }
        let quarantined_to = dir.display().to_string();
        let event = NewEvent::new("daemon", Action::IntakeRefused).details(json!({
            "source": shown, "reason": reason, "quarantined_to": quarantined_to,
        }));
        if let Err(e) = self.db.audit_append(event) {
            tracing::error!(error = %e, "could not record a refused inbox entry in the audit log");
        }
        tracing::warn!(source = %shown, %reason, quarantine = %quarantined_to, "inbox entry refused and quarantined");
        self.health.refused(Refused {
            name: shown,
            reason: reason.to_string(),
            quarantined_to,
        });
    }

    /// Leaves `entry` where it is; logs it the first time only (the inbox is looked at every
    /// few seconds) and lists it for the queue page until it goes away.
    pub fn ignore(&self, entry: &Path, reason: &str) {
        let name = entry
            .file_name()
            .unwrap_or(entry.as_os_str())
            .to_string_lossy()
            .into_owned();
        let first = self.health.ignore(
            entry.to_owned(),
            Ignored {
                name: name.clone(),
                reason: reason.to_string(),
            },
        );
        if first {
            tracing::warn!(source = %name, %reason, "inbox entry ignored and left in place");
        }
    }
}

/// "a symbolic link (to TARGET)": the target is read, never followed.
fn symlink_kind(path: &Path) -> String {
    let target = std::fs::read_link(path)
        .map(|t| t.to_string_lossy().into_owned())
        .unwrap_or_else(|e| format!("unreadable: {e}"));
    format!("a symbolic link (to {target})")
}

/// What a special file (neither file, folder nor link) is.
fn special_kind(path: &Path) -> &'static str {
    match std::fs::symlink_metadata(path).map(|m| m.file_type()) {
        Ok(t) if t.is_fifo() => "a FIFO (named pipe)",
        Ok(t) if t.is_socket() => "a socket",
        Ok(t) if t.is_char_device() => "a character device",
        Ok(t) if t.is_block_device() => "a block device",
        _ => "a special file",
    }
}

/// Why a symlink in the inbox is refused.
pub fn symlink_reason(path: &Path) -> String {
    format!(
        "{}; Quire never follows links in the inbox: put the file itself there",
        symlink_kind(path)
    )
}

/// Why a special file in the inbox is left alone.
pub fn special_reason(path: &Path) -> String {
    format!(
        "{}, not a scan; left in place because moving or reading it is unsafe: remove it from \
         the inbox",
        special_kind(path)
    )
}

/// Why a request folder is refused: the first link or special file inside, if any.
pub fn folder_reason(folder: &Path) -> Option<String> {
    let listing = look_folder(folder).ok()?;
    let (path, look) = listing.iter().find(|(_, l)| l.kind != FileKind::Regular)?;
    let inner = path.strip_prefix(folder).unwrap_or(path).to_string_lossy();
    let what = match look.kind {
        FileKind::Symlink => symlink_kind(path),
        _ => special_kind(path).to_string(),
    };
    Some(format!(
        "the folder holds {inner}, which is {what}; Quire takes only plain files and never \
         follows links"
    ))
}

fn refusal_id(path: &Path) -> String {
    // The same shape as a job id, so quarantine sorts by time whatever the entry was.
    let job_like = super::custody::new_job_id(path);
    job_like.replacen("job_", "refused_", 1)
}

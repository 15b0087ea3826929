//! A job: one scan in Quire's custody, and the states it moves through.
//!
//! received → processing → processed → delivered, or held (for review), or failed (bad input,
//! quarantined), or split (a batch whose documents became jobs of their own, each naming it as
//! `parent_job` and starting at processed or held). Every move is a compare-and-set on the current state, so a job is delivered at
//! most once even if two workers race or a crashed run resumes.

use serde::Serialize;

use crate::Timestamp;

named! {
    pub enum JobState ("job state") {
        Received = "received",
        Processing = "processing",
        Processed = "processed",
        Delivered = "delivered",
        Held = "held",
        Failed = "failed",
        /// A batch cut at its cover or separator sheets into one job per document.
        Split = "split",
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: String,
    pub request_id: Option<String>,
    pub state: JobState,
    pub hold_reason: Option<String>,
    /// The name the scan had in the inbox.
    pub source_name: String,
    /// The job's own folder in the spool of the node that took it in (or, for a batch's
    /// document, that cut it), holding the original(s) and the output. Another node finds its
    /// own folder for the job through `quire_service::job_files`.
    pub spool_path: String,
    pub source_sha256: String,
    pub page_count: Option<i64>,
    #[serde(skip)]
    pub report_json: Option<String>,
    pub output_sha256: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The batch this job was cut from, for a document of a split batch.
    pub parent_job: Option<String>,
    /// The node whose worker holds the job now (processing it, or delivering it), until
    /// `lease_until`; a node renews its leases with its heartbeat.
    pub claimed_by: Option<String>,
    pub lease_until: Option<Timestamp>,
    /// The originals as kept in the shared object store, when custody is there (several
    /// nodes); empty when the local spool holds them (one box).
    pub custody: Vec<CustodyFile>,
}

/// One original of a job kept in the object store under its content hash, so that any node
/// can fetch it and check it on read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CustodyFile {
    /// Its path inside the job's folder (`scan.pdf`, or `folder/page-001.tif`).
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

/// The columns' text for [`Job::custody`]: `None` for an empty list.
pub fn custody_to_text(files: &[CustodyFile]) -> Option<String> {
    (!files.is_empty())
        .then(|| serde_json::to_string(files).expect("a list of plain records serialises"))
}

/// Reads [`custody_to_text`]'s text back.
pub fn custody_from_text(text: Option<&str>) -> Result<Vec<CustodyFile>, String> {
    match text {
        None => Ok(Vec::new()),
        Some(t) => serde_json::from_str(t).map_err(|e| format!("custody list: {e}")),
    }
}

/// A daemon as it reports itself with its heartbeat.
#[derive(Debug, Clone, Serialize)]
pub struct NodeBeat {
    pub name: String,
    /// `intake`, `worker`, `web`.
    pub roles: Vec<String>,
    pub host: String,
    pub pid: u32,
    pub version: String,
    pub started_at: Timestamp,
}

/// A node as `quire nodes` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub beat: NodeBeat,
    pub last_beat: Timestamp,
    /// Jobs it holds a lease on now.
    pub jobs_in_hand: i64,
}

impl Job {
    /// The scan's name as people see it (CLI, console): characters that reorder or hide text
    /// are shown as `\u{...}` escapes, so `invoice\u{202e}fdp.exe` cannot pose as another name.
    pub fn source_name_shown(&self) -> String {
        escape_for_display(&self.source_name)
    }
}

/// Escapes the Unicode bidirectional controls (a right-to-left override turns `exe.pdf` into
/// what reads as `fdp.exe`), other invisible format characters, and control characters.
pub fn escape_for_display(text: &str) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c,
                '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if hidden(c) {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Fields a state change may set alongside the new state; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct JobPatch {
    pub request_id: Option<String>,
    pub hold_reason: Option<Option<String>>,
    pub page_count: Option<i64>,
    pub report_json: Option<String>,
    pub output_sha256: Option<String>,
    pub error: Option<(String, String)>,
    /// A condition, not a field to set: the move happens only if the job is still claimed by
    /// this node, so a worker whose lease was taken back (it stalled, another node took the
    /// job) cannot record its result over the other's.
    pub claimed_by: Option<String>,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub states: Vec<JobState>,
    /// Only jobs with no request yet.
    pub unmatched: bool,
    /// Only the documents cut from this batch.
    pub parent: Option<String>,
    /// Only the jobs of this request.
    pub request: Option<String>,
    pub limit: usize,
}

/// What is kept of one page of a processed job, for near-duplicate search and review.
#[derive(Debug, Clone, Default)]
pub struct PageRow {
    /// 1-based page in the job's output.
    pub page_no: i64,
    pub source_file: String,
    pub source_page: i64,
    /// Perceptual hash of the page image; empty when not computed.
    pub phash: Vec<u8>,
    /// MinHash signature of the page's OCR words; empty for a page without text.
    pub minhash: Vec<u32>,
    pub printed_page: Option<String>,
    pub ocr_confidence: Option<f64>,
    pub word_count: i64,
    pub blank: bool,
}

/// One document cut from a batch: its job row (state processed or held), its pages and the
/// event that records its outcome.
#[derive(Debug, Clone)]
pub struct SplitDocument {
    pub job: Job,
    pub pages: Vec<PageRow>,
    pub event: super::NewEvent,
}

#[cfg(test)]
mod display_tests {
    use super::escape_for_display;

    #[test]
    fn bidi_and_control_characters_are_shown_escaped() {
        assert_eq!(
            escape_for_display("scan\u{202e}fdp.exe"),
            "scan\\u{202e}fdp.exe"
        );
        assert_eq!(
            escape_for_display("a\u{2066}b\u{2069}\n"),
            "a\\u{2066}b\\u{2069}\\u{000a}"
        );
        assert_eq!(
            escape_for_display("Zoë Łukasiewicz 𝔉.pdf"),
            "Zoë Łukasiewicz 𝔉.pdf"
        );
    }
}

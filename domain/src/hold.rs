//! Why a job waits for a person ([`HoldReasons`]), and the one next step to take.
//!
//! A held job's reasons are stored as text in `jobs.hold_reason`, one reason per line:
//! `page 3: the page is blank [page.blank]`. The page prefix and the code suffix are optional.
//! This module writes and reads that text, so the console can group sentences by page and show
//! codes as small labels, and the CLI can print the same lines. Older rows (reasons joined with
//! `; `, codes in parentheses) read as one reason without a page or code, and show as written.

use std::fmt;

use serde::Serialize;

/// One thing a person must look at before the job may go out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldReason {
    /// The source page it is about, when it is about one page.
    pub page: Option<usize>,
    /// A plain English sentence, without the page prefix.
    pub text: String,
    /// A stable code (`page.blank`, `request.unmatched`…), shown as a small label; the review
    /// policy and the next step are decided by it.
    pub code: Option<String>,
}

/// Codes of the reasons a job's request gives (not its pages' quality).
pub mod code {
    /// No request matched the scan.
    pub const UNMATCHED: &str = "request.unmatched";
    /// A cover sheet's barcode names a request that is not known.
    pub const COVER_UNKNOWN: &str = "request.cover_unknown";
    /// The pages scanned are not the pages requested.
    pub const PAGES: &str = "request.pages";
    /// The request ended over ISO 18626 (cancelled, or declined).
    pub const ENDED: &str = "request.ended";
    /// The requester gave no copyright basis Quire knows.
    pub const BASIS: &str = "request.basis";
    /// The same scan was delivered for this request and its link still works.
    pub const RESCAN_LIVE: &str = "request.rescan_live";
    /// A person held it, giving a reason.
    pub const STAFF: &str = "staff.held";
}

impl HoldReason {
    pub fn new(code: &str, text: impl Into<String>) -> Self {
        HoldReason {
            page: None,
            text: text.into(),
            code: Some(code.to_string()),
        }
    }

    pub fn on_page(page: usize, code: &str, text: impl Into<String>) -> Self {
        HoldReason {
            page: Some(page),
            ..Self::new(code, text)
        }
    }

    /// Whether the request decides this reason (so matching to another request re-decides
    /// it), rather than the scan's pages.
    pub fn is_about_the_request(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| c.starts_with("request."))
    }

    /// The sentence as people read it: `page 3: the page is blank`.
    pub fn sentence(&self) -> String {
        match self.page {
            Some(p) => format!("page {p}: {}", self.text),
            None => self.text.clone(),
        }
    }

    fn parse(line: &str) -> Self {
        let mut rest = line.trim();
        let mut code = None;
        if let Some(open) = rest.rfind(" [")
            && rest.ends_with(']')
        {
            let c = &rest[open + 2..rest.len() - 1];
            if !c.is_empty()
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._".contains(ch))
            {
                code = Some(c.to_string());
                rest = &rest[..open];
            }
        }
        let mut page = None;
        if let Some(after) = rest.strip_prefix("page ")
            && let Some((n, text)) = after.split_once(": ")
            && let Ok(n) = n.parse()
        {
            page = Some(n);
            rest = text;
        }
        HoldReason {
            page,
            text: rest.to_string(),
            code,
        }
    }
}

impl fmt::Display for HoldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence())?;
        if let Some(c) = &self.code {
            write!(f, " [{c}]")?;
        }
        Ok(())
    }
}

/// Every reason a job is held, in the order found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HoldReasons(pub Vec<HoldReason>);

impl HoldReasons {
    /// Reads the stored text (`None`: not held).
    pub fn parse(text: Option<&str>) -> Self {
        HoldReasons(
            text.unwrap_or_default()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(HoldReason::parse)
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn push(&mut self, reason: HoldReason) {
        self.0.push(reason);
    }

    /// The stored text, or `None` when there is nothing to hold for.
    pub fn to_text(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.to_string())
    }

    /// The reasons the scan's pages give, without those its request gave: what stays true
    /// when the job is matched to another request.
    pub fn about_the_scan(&self) -> HoldReasons {
        HoldReasons(
            self.0
                .iter()
                .filter(|r| !r.is_about_the_request())
                .cloned()
                .collect(),
        )
    }

    /// The one next step for a person, from the most pressing reason: a request to match
    /// before anything else, an ended request before pages, pages before quality.
    pub fn next_step(&self) -> Option<&'static str> {
        let has = |c: &str| self.0.iter().any(|r| r.code.as_deref() == Some(c));
        let step = if has(code::UNMATCHED) || has(code::COVER_UNKNOWN) {
            "match the scan to its request"
        } else if has(code::ENDED) {
            "leave it held: the request has ended, and the requester does not want the copy"
        } else if has(code::BASIS) {
            "set the request's copyright basis, then release"
        } else if has(code::PAGES) {
            "compare the pages with the request: rescan what is missing, or release if the scan is right"
        } else if has(code::RESCAN_LIVE) {
            "release only if the borrower needs another copy"
        } else if has(code::STAFF) {
            "release when the reason no longer applies"
        } else if self.0.is_empty() {
            return None;
        } else {
            "look at the pages named: release if they are good, or rescan them"
        };
        Some(step)
    }
}

impl fmt::Display for HoldReasons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_through_the_stored_text() {
        let reasons = HoldReasons(vec![
            HoldReason::new(code::UNMATCHED, "file name says TN55555; no such request"),
            HoldReason::on_page(3, "page.blank", "the page is blank"),
            HoldReason {
                page: None,
                text: "held by alice: torn page [see note]".into(),
                code: None,
            },
        ]);
        let text = reasons.to_text().unwrap();
        assert_eq!(
            text,
            "file name says TN55555; no such request [request.unmatched]\n\
             page 3: the page is blank [page.blank]\n\
             held by alice: torn page [see note]"
        );
        assert_eq!(HoldReasons::parse(Some(&text)), reasons);
        assert_eq!(HoldReasons::default().to_text(), None);
    }

    #[test]
    fn matching_keeps_the_scans_reasons_and_the_next_step_follows_the_most_pressing() {
        let reasons = HoldReasons(vec![
            HoldReason::new(code::UNMATCHED, "no request matched"),
            HoldReason::on_page(2, "ocr.low_confidence", "text could not be read"),
        ]);
        assert_eq!(reasons.next_step(), Some("match the scan to its request"));
        let left = reasons.about_the_scan();
        assert_eq!(left.0.len(), 1);
        assert_eq!(left.0[0].page, Some(2));
        assert!(left.next_step().unwrap().starts_with("look at the pages"));
        assert_eq!(HoldReasons::default().next_step(), None);
    }

    #[test]
    fn old_rows_read_as_one_reason() {
        let r = HoldReasons::parse(Some(
            "pages 1-3 requested: page 2 missing; low OCR (ocr.low)",
        ));
        assert_eq!(r.0.len(), 1);
        assert_eq!(r.0[0].code, None);
        assert_eq!(r.0[0].page, None);
    }
}

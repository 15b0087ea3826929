//! What a copy is a copy of, and whether it counts toward the yearly limit.
//!
//! A request with an article, or an ISSN, is a periodical article; anything else (a chapter, a
//! book extract) is "another work", identified by ISBN, else by title. Only identity and scope
//! are decided here; counting happens in the database, inside the delivery's transaction.

use serde::Serialize;

use super::rules::ComplianceConfig;
use super::{issn, title};
use crate::{Basis, Request};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkKind {
    Periodical,
    Book,
}

impl WorkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Periodical => "periodical",
            Self::Book => "book",
        }
    }
}

/// The work a copy is taken from, as counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Work {
    pub kind: WorkKind,
    /// A valid ISSN (periodicals) or ISBN-13 (other works); an invalid one is dropped with a note.
    pub ident: Option<String>,
    /// `title::normalise` of the periodical or book title; may be empty.
    pub title_key: String,
    /// The title as the request gave it, for reports.
    pub title: String,
    /// Publication year, when the request gave one.
    pub published: Option<i32>,
    /// Problems found while identifying the work (a bad check digit, no title at all).
    pub notes: Vec<String>,
}

impl Work {
    pub fn of(r: &Request) -> Self {
        let mut notes = Vec::new();
        // A chapter has an article title too, so an ISBN wins over it.
        let periodical =
            r.issn.is_some() || r.isbn.is_none() && (r.article.is_some() || r.volume.is_some());
        let kind = if periodical {
            WorkKind::Periodical
        } else {
            WorkKind::Book
        };
        let raw_ident = match kind {
            WorkKind::Periodical => r.issn.as_deref().map(|s| (s, issn::issn(s))),
            WorkKind::Book => r.isbn.as_deref().map(|s| (s, issn::isbn(s))),
        };
        let ident = match raw_ident {
            Some((_, Ok(id))) => Some(id),
            Some((_, Err(why))) => {
                notes.push(format!("{why}; counted by title instead"));
                None
            }
            None => None,
        };
        let title = r
            .title
            .clone()
            .or_else(|| {
                if kind == WorkKind::Book {
                    r.article.clone()
                } else {
                    None
                }
            })
            .unwrap_or_default();
        let title_key = title::normalise(&title);
        if ident.is_none() && title_key.is_empty() {
            notes.push("no ISSN, ISBN or title: this copy cannot be counted against others".into());
        }
        Self {
            kind,
            ident,
            title_key,
            title,
            published: r.year,
            notes,
        }
    }

    /// Whether a copy of this work requested in `request_year` under `basis` counts toward the
    /// limit.
    ///
    /// Only a CCG copy counts. The requesting library asserts one of two codes (the WILS ILL
    /// copyright guide, wils.wisc.edu/ill/copy.html, describes both): CCG says the request is
    /// within the CONTU guidelines for 17 U.S.C. §108(g)(2), the "aggregate quantities" the rule
    /// of five interprets; CCL says the copy is lawful under another provision instead (fair use
    /// under §107, an article older than the guidelines' five years, a work not obtainable at a
    /// fair price), so it is outside the count by the library's own assertion. A library that
    /// wants the stricter reading counts CCL copies too (`count_ccl`). Permission, public-domain
    /// and §108(d) copies (a user of this library, not interlibrary loan) never count.
    ///
    /// A counted periodical article counts when published within the window before the request
    /// year (by year, inclusive) or when the publication year is unknown, since a missing year
    /// must not be a way around the rule.
    pub fn counts(&self, basis: Basis, request_year: i32, cfg: &ComplianceConfig) -> bool {
        let under_guidelines = match basis {
            Basis::Ccg => true,
            Basis::Ccl => cfg.count_ccl,
            Basis::Permission | Basis::PublicDomain | Basis::Section108d => false,
        };
        if !under_guidelines {
            return false;
        }
        if self.ident.is_none() && self.title_key.is_empty() {
            return false;
        }
        match (self.kind, self.published) {
            (WorkKind::Periodical, Some(p)) => {
                p >= request_year - cfg.publication_window_years as i32
            }
            _ => true,
        }
    }
}

/// What the rule of five made of one delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CopyDecision {
    /// The calendar year the copy is counted in (the request's).
    pub year: i32,
    /// Whether the copy counts toward the limit.
    pub counted: bool,
    /// This copy's number among the counted copies delivered that year (1 = first); 0 if not
    /// counted.
    pub nth: i64,
    pub limit: u32,
    pub verdict: Verdict,
    /// Normalised titles without ISSN, near-identical to this work's, seen for the same library.
    pub similar_titles: Vec<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Within the limit, or not counted.
    Deliver,
    /// Beyond the limit; delivered with a warning.
    Warn,
    /// Beyond the limit; held for a compliance officer.
    Hold,
}

impl CopyDecision {
    pub fn decide(year: i32, counted: bool, prior: i64, cfg: &ComplianceConfig) -> Self {
        use super::rules::ContuPolicy;
        let nth = if counted { prior + 1 } else { 0 };
        let over = counted && nth > cfg.copies_per_year as i64;
        let verdict = match (over, cfg.policy) {
            (false, _) | (true, ContuPolicy::Off) => Verdict::Deliver,
            (true, ContuPolicy::Warn) => Verdict::Warn,
            (true, ContuPolicy::Hold) => Verdict::Hold,
        };
        Self {
            year,
            counted,
            nth,
            limit: cfg.copies_per_year,
            verdict,
            similar_titles: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Why the copy is held or warned about, in words for the officer.
    pub fn reason(&self, work: &Work) -> String {
        let what = match (&work.ident, work.kind) {
            (Some(id), WorkKind::Periodical) => format!("ISSN {id} ({})", work.title),
            (Some(id), WorkKind::Book) => format!("ISBN {id} ({})", work.title),
            (None, _) => format!("\"{}\"", work.title),
        };
        format!(
            "copy {} of {what} for this library in {}: beyond the {} allowed by the CONTU guidelines; needs permission",
            self.nth, self.year, self.limit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::rules::ContuPolicy;

    fn request(issn: Option<&str>, year: Option<i32>) -> Request {
        Request {
            id: "TN1".into(),
            patron_name: "A".into(),
            patron_email: "a@example.org".into(),
            library: Some("ZZQ".into()),
            title: Some("The Journal of Tests".into()),
            issn: issn.map(String::from),
            isbn: None,
            article: Some("On testing".into()),
            author: None,
            year,
            volume: None,
            issue: None,
            pages: None,
            basis: Basis::Ccg,
            basis_reference: None,
            link_days: None,
            link_downloads: None,
            created_at: crate::Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_publication_exactly_five_years_old_counts_and_six_does_not() {
        let cfg = ComplianceConfig::default();
        let w = |y| Work::of(&request(Some("0378-5955"), Some(y)));
        assert!(w(2021).counts(Basis::Ccg, 2026, &cfg));
        assert!(!w(2020).counts(Basis::Ccg, 2026, &cfg));
        assert!(w(2026).counts(Basis::Ccg, 2026, &cfg));
        // Unknown year: counted, so leaving it out is no way around the rule.
        assert!(Work::of(&request(None, None)).counts(Basis::Ccg, 2026, &cfg));
        assert!(!w(2025).counts(Basis::Permission, 2026, &cfg));
        assert!(!w(2025).counts(Basis::PublicDomain, 2026, &cfg));
        assert!(!w(2025).counts(Basis::Section108d, 2026, &cfg));
    }

    #[test]
    fn only_ccg_counts_unless_the_library_counts_ccl_too() {
        let mut cfg = ComplianceConfig::default();
        let recent = Work::of(&request(Some("0378-5955"), Some(2025)));
        assert!(recent.counts(Basis::Ccg, 2026, &cfg));
        assert!(!recent.counts(Basis::Ccl, 2026, &cfg));
        cfg.count_ccl = true;
        assert!(recent.counts(Basis::Ccl, 2026, &cfg));
        // Counting CCL does not bring older articles or other bases into the count.
        let old = Work::of(&request(Some("0378-5955"), Some(2010)));
        assert!(!old.counts(Basis::Ccl, 2026, &cfg));
        assert!(!recent.counts(Basis::Permission, 2026, &cfg));
    }

    #[test]
    fn a_bad_issn_falls_back_to_the_title_with_a_note() {
        let w = Work::of(&request(Some("0378-5954"), Some(2025)));
        assert_eq!(w.ident, None);
        assert_eq!(w.title_key, "journal of tests");
        assert!(w.notes[0].contains("check digit"), "{:?}", w.notes);
    }

    #[test]
    fn books_are_keyed_by_isbn() {
        let mut r = request(None, Some(1990));
        r.article = None;
        r.isbn = Some("0-306-40615-2".into());
        let w = Work::of(&r);
        assert_eq!(w.kind, WorkKind::Book);
        assert_eq!(w.ident.as_deref(), Some("9780306406157"));
        // Old books still count: the publication window is for periodicals only.
        assert!(w.counts(Basis::Ccg, 2026, &ComplianceConfig::default()));
    }

    #[test]
    fn the_sixth_copy_is_held_warned_or_let_through_by_policy() {
        let mut cfg = ComplianceConfig::default();
        assert_eq!(
            CopyDecision::decide(2026, true, 4, &cfg).verdict,
            Verdict::Deliver
        );
        let sixth = CopyDecision::decide(2026, true, 5, &cfg);
        assert_eq!((sixth.nth, sixth.verdict), (6, Verdict::Hold));
        assert_eq!(
            CopyDecision::decide(2026, false, 9, &cfg).verdict,
            Verdict::Deliver
        );
        cfg.policy = ContuPolicy::Warn;
        assert_eq!(
            CopyDecision::decide(2026, true, 5, &cfg).verdict,
            Verdict::Warn
        );
        cfg.policy = ContuPolicy::Off;
        assert_eq!(
            CopyDecision::decide(2026, true, 5, &cfg).verdict,
            Verdict::Deliver
        );
    }
}

//! A request: what a borrower asked for, keyed by the ILL transaction number.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The copyright basis a copy is made under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// Conforms to the CONTU guidelines.
    Ccg,
    /// Conforms to copyright law (fair use, 17 U.S.C. §108).
    Ccl,
    /// Permission obtained from the rights holder (e.g. a CCC order).
    Permission,
    /// The work is in the public domain.
    PublicDomain,
    /// Own-collection copy for a local user under §108(d).
    #[serde(rename = "108d")]
    Section108d,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ccg => "ccg",
            Self::Ccl => "ccl",
            Self::Permission => "permission",
            Self::PublicDomain => "public-domain",
            Self::Section108d => "108d",
        }
    }

    /// Every basis, in the order a form offers them.
    pub const ALL: [Basis; 5] = [
        Self::Ccg,
        Self::Ccl,
        Self::Permission,
        Self::PublicDomain,
        Self::Section108d,
    ];

    /// What the basis means, as people read it (forms, cover sheets, reports).
    pub fn label(self) -> &'static str {
        match self {
            Self::Ccg => "CCG: conforms to the CONTU guidelines",
            Self::Ccl => "CCL: conforms to copyright law (17 U.S.C. §107/§108)",
            Self::Permission => "Permission obtained from the rights holder",
            Self::PublicDomain => "Public domain",
            Self::Section108d => "17 U.S.C. §108(d) copy for a user of this library",
        }
    }
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Basis {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ccg" => Ok(Self::Ccg),
            "ccl" => Ok(Self::Ccl),
            "permission" => Ok(Self::Permission),
            "public-domain" | "public_domain" | "pd" => Ok(Self::PublicDomain),
            "108d" | "108(d)" => Ok(Self::Section108d),
            other => Err(format!(
                "unknown copyright basis `{other}` (ccg, ccl, permission, public-domain, 108d)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub id: String,
    pub patron_name: String,
    pub patron_email: String,
    #[serde(default)]
    pub library: Option<String>,
    /// Periodical or book title.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub issn: Option<String>,
    #[serde(default)]
    pub isbn: Option<String>,
    /// Article or chapter title.
    #[serde(default)]
    pub article: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub year: Option<i32>,
    #[serde(default)]
    pub volume: Option<String>,
    #[serde(default)]
    pub issue: Option<String>,
    /// Requested pages, e.g. `101-115`.
    #[serde(default)]
    pub pages: Option<String>,
    #[serde(default = "default_basis")]
    pub basis: Basis,
    /// E.g. a CCC order number, for `permission`.
    #[serde(default)]
    pub basis_reference: Option<String>,
    /// Overrides `[links] days` for this request.
    #[serde(default)]
    pub link_days: Option<u32>,
    /// Overrides `[links] downloads` for this request.
    #[serde(default)]
    pub link_downloads: Option<u32>,
    /// Set by the store when the request is added.
    #[serde(default, skip_deserializing)]
    pub created_at: crate::Timestamp,
}

/// Exactly one address, as the mailer will parse it (an RFC 5322 addr-spec), with a domain
/// that has a dot. Checked here, where the CLI, the CSV import, the API and the console all
/// pass, because a list like `a@example.org,b@evil.example` stored once fails at every send.
fn check_email(email: &str) -> Result<(), &'static str> {
    let email = email.trim();
    if email.contains([',', ';']) {
        return Err("give exactly one address, not a list");
    }
    if email.contains('<') {
        return Err("give the bare address, without a name or angle brackets");
    }
    let address: lettre::Address = email
        .parse()
        .map_err(|_| "it must look like name@example.org")?;
    let domain = address.domain();
    if !domain.contains('.') || domain.starts_with('.') {
        return Err("the part after @ must be a full domain like example.org");
    }
    Ok(())
}

/// The citation of a request: what was asked for, as a partner or staff may correct it
/// before a copy goes out (the cover sheet and the CONTU count use it then).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    pub title: Option<String>,
    pub issn: Option<String>,
    pub isbn: Option<String>,
    pub article: Option<String>,
    pub author: Option<String>,
    pub year: Option<i32>,
    pub volume: Option<String>,
    pub issue: Option<String>,
    pub pages: Option<String>,
}

impl Citation {
    /// This citation corrected by `given`: each field `given` has replaces this one's, and an
    /// empty text clears it; fields `given` lacks stay. The one rule of the API's PATCH and
    /// `quire request citation`.
    pub fn updated(self, given: Citation) -> Citation {
        fn text(given: Option<String>, stored: Option<String>) -> Option<String> {
            match given {
                Some(t) if t.trim().is_empty() => None,
                Some(t) => Some(t),
                None => stored,
            }
        }
        Citation {
            title: text(given.title, self.title),
            issn: text(given.issn, self.issn),
            isbn: text(given.isbn, self.isbn),
            article: text(given.article, self.article),
            author: text(given.author, self.author),
            year: given.year.or(self.year),
            volume: text(given.volume, self.volume),
            issue: text(given.issue, self.issue),
            pages: text(given.pages, self.pages),
        }
    }

    /// Whether no field is given.
    pub fn is_empty(&self) -> bool {
        *self == Citation::default()
    }
}

/// A request that will not be supplied: when, by whom, why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cancellation {
    pub at: crate::Timestamp,
    pub by: String,
    pub reason: String,
}

fn default_basis() -> Basis {
    Basis::Ccl
}

impl Request {
    /// A request for `patron` with nothing else yet: no citation, the default basis (`ccl`),
    /// the configured link limits; the store sets `created_at` when it is added.
    pub fn new(id: &str, patron_name: &str, patron_email: &str) -> Self {
        Self {
            id: id.to_string(),
            patron_name: patron_name.to_string(),
            patron_email: patron_email.to_string(),
            library: None,
            title: None,
            issn: None,
            isbn: None,
            article: None,
            author: None,
            year: None,
            volume: None,
            issue: None,
            pages: None,
            basis: default_basis(),
            basis_reference: None,
            link_days: None,
            link_downloads: None,
            created_at: crate::Timestamp::UNIX_EPOCH,
        }
    }

    /// Its citation fields.
    pub fn citation_fields(&self) -> Citation {
        Citation {
            title: self.title.clone(),
            issn: self.issn.clone(),
            isbn: self.isbn.clone(),
            article: self.article.clone(),
            author: self.author.clone(),
            year: self.year,
            volume: self.volume.clone(),
            issue: self.issue.clone(),
            pages: self.pages.clone(),
        }
    }

    /// The same request with `citation` in place of its own.
    pub fn with_citation(self, citation: Citation) -> Self {
        Self {
            title: citation.title,
            issn: citation.issn,
            isbn: citation.isbn,
            article: citation.article,
            author: citation.author,
            year: citation.year,
            volume: citation.volume,
            issue: citation.issue,
            pages: citation.pages,
            ..self
        }
    }

    /// Every problem with this request, so an import can name them all.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.id.is_empty()
            || self.id.len() > 64
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            p.push(format!(
                "id `{}` must be 1-64 letters, digits, `-`, `_` or `.`",
                self.id
            ));
        }
        if self.patron_name.trim().is_empty() {
            p.push("patron name is empty".into());
        }
        if let Err(why) = check_email(&self.patron_email) {
            p.push(format!(
                "patron_email (e-mail) `{}` is not an address: {why}",
                self.patron_email.trim()
            ));
        }
        if let Some(y) = self.year
            && !(1400..=2200).contains(&y)
        {
            p.push(format!("year {y} is implausible"));
        }
        if let Some(pages) = &self.pages {
            let ok = !pages.trim().is_empty()
                && pages.split(',').all(|part| {
                    let part = part.trim();
                    let mut ends = part.splitn(2, '-').map(str::trim);
                    ends.all(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_alphanumeric()))
                });
            if !ok {
                p.push(format!(
                    "pages `{pages}` should look like `101-115` or `5, 7-9`"
                ));
            }
        }
        if self.basis == Basis::Permission
            && self
                .basis_reference
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            p.push("basis `permission` needs a reference (e.g. the CCC order number)".into());
        }
        if self.link_days == Some(0) || self.link_downloads == Some(0) {
            p.push("link days and downloads must be at least 1".into());
        }
        p
    }

    /// A one-line citation for tables and e-mails.
    pub fn citation(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(a) = &self.author {
            parts.push(a.clone());
        }
        if let Some(a) = &self.article {
            parts.push(format!("\"{a}\""));
        }
        if let Some(t) = &self.title {
            parts.push(t.clone());
        }
        let mut vol = String::new();
        if let Some(v) = &self.volume {
            vol.push_str(&format!("vol. {v}"));
        }
        if let Some(i) = &self.issue {
            vol.push_str(&format!(
                "{}no. {i}",
                if vol.is_empty() { "" } else { ", " }
            ));
        }
        if !vol.is_empty() {
            parts.push(vol);
        }
        if let Some(y) = self.year {
            parts.push(format!("({y})"));
        }
        if let Some(p) = &self.pages {
            parts.push(format!("pp. {p}"));
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_email(email: &str) -> Request {
        Request::new("TN1", "Ann", email)
    }

    #[test]
    fn a_correction_replaces_given_fields_clears_empty_ones_and_keeps_the_rest() {
        let stored = Citation {
            title: Some("Journal of Tests".into()),
            article: Some("On tests".into()),
            year: Some(2020),
            pages: Some("1-9".into()),
            ..Citation::default()
        };
        let given = Citation {
            article: Some("On second thoughts".into()),
            pages: Some(" ".into()),
            year: Some(2021),
            ..Citation::default()
        };
        assert!(!given.is_empty() && Citation::default().is_empty());
        assert_eq!(
            stored.updated(given),
            Citation {
                title: Some("Journal of Tests".into()),
                article: Some("On second thoughts".into()),
                year: Some(2021),
                pages: None,
                ..Citation::default()
            }
        );
    }

    #[test]
    fn exactly_one_address_is_accepted() {
        for good in ["ann@example.org", " ann.lee+ill@mail.example.org "] {
            assert!(with_email(good).problems().is_empty(), "{good}");
        }
        for bad in [
            "a@example.org,b@evil.example",
            "a@example.org, b@evil.example",
            "a@example.org;b@evil.example",
            "a@example.org b@evil.example",
            "Ann <a@example.org>",
            "a@b@example.org",
            "a@example.org\r\nBcc: b@evil.example",
            "nobody",
            "@example.org",
            "ann@localhost",
            "ann@.example.org",
            "",
        ] {
            let p = with_email(bad).problems();
            assert!(
                p.len() == 1 && p[0].starts_with("patron_email"),
                "{bad:?}: {p:?}"
            );
        }
    }
}

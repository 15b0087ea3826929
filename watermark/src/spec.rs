//! What a stamp says and how it looks: the description a caller hands to [`crate::stamp_pdf`].
//! Dates arrive already formatted, so this crate has no calendar or time-zone opinions; nothing
//! here reads files or checks that fonts exist.

use std::path::PathBuf;

use crate::error::WatermarkError;
use crate::template::{Placeholder, Scope, Template};

/// The legend 17 U.S.C. §108(a)(3) asks for when no copyright notice is found on the work.
pub const DEFAULT_NOTICE: &str =
    "NOTICE: This material may be protected by copyright law (Title 17 U.S. Code).";

/// Everything printed on, and hidden in, one delivered copy.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub institution: Institution,
    pub request_id: String,
    pub citation: Citation,
    pub recipient: Recipient,
    /// Delivery date as it should be printed, e.g. `2026-11-29`.
    pub delivered_on: String,
    /// When the download link stops working, as printed; `None` when it does not expire.
    pub link_expires: Option<String>,
    /// The copyright basis of the copy (e.g. "17 U.S.C. §108(d)"), when compliance recorded one.
    pub copyright_basis: Option<String>,
    /// The per-delivery id hidden in the copy; see [`DeliveryId`].
    pub delivery_id: DeliveryId,
    pub texts: StampTexts,
    pub fonts: FontSources,
    /// The optional translucent diagonal text across every page.
    pub watermark: Option<DiagonalWatermark>,
}

#[derive(Debug, Clone, Default)]
pub struct Institution {
    pub name: String,
    pub contact: String,
}

/// The bibliographic description of what was copied. Empty fields are left off the cover.
#[derive(Debug, Clone, Default)]
pub struct Citation {
    /// Periodical or book title.
    pub title: String,
    /// Article or chapter title.
    pub article: String,
    pub author: String,
    pub year: String,
    pub volume: String,
    pub issue: String,
    /// The page range copied, as cited (e.g. `113-127`).
    pub pages: String,
}

impl Citation {
    /// The copy's title for a reader's window and screen reader: the article or chapter, with
    /// the periodical or book after it when both are known.
    pub fn document_title(&self) -> String {
        match (self.article.trim(), self.title.trim()) {
            ("", "") => String::new(),
            (a, "") => a.to_string(),
            ("", t) => t.to_string(),
            (a, t) => format!("{a} ({t})"),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Recipient {
    pub name: String,
    /// The requesting library.
    pub library: String,
}

/// Wording of the cover sheet and the margin stamp.
#[derive(Debug, Clone)]
pub struct StampTexts {
    /// The cover's heading, e.g. `{institution}`.
    pub cover_title: Template,
    /// The line under the heading, e.g. `{contact}`.
    pub cover_subtitle: Template,
    /// Label/value rows of the cover; a row whose placeholders are all empty is left out.
    pub cover_rows: Vec<CoverRow>,
    /// The short notice, printed on the cover (defaults to [`DEFAULT_NOTICE`]).
    pub notice: String,
    /// An optional longer notice printed under it; blank lines separate paragraphs and the
    /// first paragraph is set as a heading.
    pub long_notice: Option<String>,
    /// The margin stamp printed on every page.
    pub margin: Template,
    /// Font size of the margin stamp in points; at least 8.
    pub margin_font_size: f32,
}

#[derive(Debug, Clone)]
pub struct CoverRow {
    pub label: String,
    pub value: Template,
}

/// Font files, tried in order for each character.
#[derive(Debug, Clone)]
pub struct FontSources {
    /// The main font, normally DejaVu Sans.
    pub primary: PathBuf,
    /// Tried in order for characters the primary font lacks (e.g. a CJK font). The first face of
    /// a `.ttc` collection is used.
    pub fallbacks: Vec<PathBuf>,
}

impl FontSources {
    pub fn all(&self) -> impl Iterator<Item = &PathBuf> {
        std::iter::once(&self.primary).chain(&self.fallbacks)
    }
}

#[derive(Debug, Clone)]
pub struct DiagonalWatermark {
    pub text: Template,
    /// Fill opacity from 0 (invisible) to 1 (opaque); clamped to 0.02..=0.6 so it never hides
    /// the page.
    pub opacity: f32,
}

/// A delivery id: `dlv_` and 1 to 60 ASCII letters or digits. The shape is what lets
/// [`crate::trace`] find it again, so it is checked up front.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryId(String);

impl DeliveryId {
    pub const PREFIX: &'static str = "dlv_";

    pub fn new(id: &str) -> Result<Self, WatermarkError> {
        let rest = id.strip_prefix(Self::PREFIX);
        match rest {
            Some(r)
                if (1..=60).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                Ok(Self(id.to_string()))
            }
            _ => Err(WatermarkError::BadDeliveryId { id: id.to_string() }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StampTexts {
    /// The stock wording, the same as the defaults in `config/quire.toml`.
    pub fn standard() -> Self {
        let doc = |s: &str| Template::parse(s, Scope::Document).expect("stock template parses");
        let row = |label: &str, value: &str| CoverRow {
            label: label.into(),
            value: doc(value),
        };
        Self {
            cover_title: doc("{institution}"),
            cover_subtitle: doc("Document delivery · {contact}"),
            cover_rows: vec![
                row("Request", "{request}"),
                row("Title", "{title}"),
                row("Article / chapter", "{article}"),
                row("Author", "{author}"),
                row("Year", "{year}"),
                row("Volume", "{volume}"),
                row("Issue", "{issue}"),
                row("Pages", "{pages}"),
                row("Delivered to", "{recipient}"),
                row("Requesting library", "{library}"),
                row("Delivered on", "{date}"),
                row("Link expires", "{expiry}"),
                row("Pages delivered", "{page_count}"),
                row("Copyright basis", "{basis}"),
                row("Delivery", "{delivery}"),
            ],
            notice: DEFAULT_NOTICE.into(),
            long_notice: None,
            margin: Template::parse(
                "Delivered to {recipient} ({library}) · request {request} · {date} · for private study, scholarship or research",
                Scope::Page,
            )
            .expect("stock template parses"),
            margin_font_size: 8.0,
        }
    }
}

impl Stamp {
    /// The value of a placeholder for this stamp; `page` is the 1-based page number of the
    /// delivered document (the cover is not counted), and `page_count` the pages delivered.
    pub fn field(&self, p: Placeholder, page: Option<u32>, page_count: u32) -> String {
        let c = &self.citation;
        match p {
            Placeholder::Institution => self.institution.name.clone(),
            Placeholder::Contact => self.institution.contact.clone(),
            Placeholder::Request => self.request_id.clone(),
            Placeholder::Delivery => self.delivery_id.to_string(),
            Placeholder::Title => c.title.clone(),
            Placeholder::Article => c.article.clone(),
            Placeholder::Author => c.author.clone(),
            Placeholder::Year => c.year.clone(),
            Placeholder::Volume => c.volume.clone(),
            Placeholder::Issue => c.issue.clone(),
            Placeholder::Pages => c.pages.clone(),
            Placeholder::Recipient => self.recipient.name.clone(),
            Placeholder::Library => self.recipient.library.clone(),
            Placeholder::Date => self.delivered_on.clone(),
            Placeholder::Expiry => self.link_expires.clone().unwrap_or_default(),
            Placeholder::PageCount => page_count.to_string(),
            Placeholder::Basis => self.copyright_basis.clone().unwrap_or_default(),
            Placeholder::Page => page.map(|n| n.to_string()).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_are_checked() {
        assert!(DeliveryId::new("dlv_01JDQ3ZK7W8X9Y0ABCDEFGHJKM").is_ok());
        for bad in [
            "",
            "dlv_",
            "abc_01JD",
            "dlv_01 JD",
            "dlv_é",
            &format!("dlv_{}", "a".repeat(61)),
        ] {
            let err = DeliveryId::new(bad).unwrap_err();
            assert_eq!(err.code(), "watermark.delivery_id.invalid", "{bad:?}");
        }
    }
}

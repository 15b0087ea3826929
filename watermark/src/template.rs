//! Text templates with named placeholders such as `{recipient}`, checked when they are parsed so
//! that a misspelt placeholder is a configuration error rather than a wrong cover sheet.
//! `{{` and `}}` stand for literal braces. Rendering never fails; it does not lay text out.

use quire_domain::placeholders::{self, Malformed};

use crate::error::WatermarkError;

/// Where a template is used, which decides the placeholders it may name: page numbers exist only
/// on pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The cover sheet: one per document.
    Document,
    /// The margin stamp and the diagonal watermark: once per page.
    Page,
}

/// A value a template can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    Institution,
    Contact,
    Request,
    Delivery,
    Title,
    Article,
    Author,
    Year,
    Volume,
    Issue,
    Pages,
    Recipient,
    Library,
    Date,
    Expiry,
    PageCount,
    Basis,
    Page,
}

impl Placeholder {
    pub const ALL: [Placeholder; 18] = [
        Self::Institution,
        Self::Contact,
        Self::Request,
        Self::Delivery,
        Self::Title,
        Self::Article,
        Self::Author,
        Self::Year,
        Self::Volume,
        Self::Issue,
        Self::Pages,
        Self::Recipient,
        Self::Library,
        Self::Date,
        Self::Expiry,
        Self::PageCount,
        Self::Basis,
        Self::Page,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Institution => "institution",
            Self::Contact => "contact",
            Self::Request => "request",
            Self::Delivery => "delivery",
            Self::Title => "title",
            Self::Article => "article",
            Self::Author => "author",
            Self::Year => "year",
            Self::Volume => "volume",
            Self::Issue => "issue",
            Self::Pages => "pages",
            Self::Recipient => "recipient",
            Self::Library => "library",
            Self::Date => "date",
            Self::Expiry => "expiry",
            Self::PageCount => "page_count",
            Self::Basis => "basis",
            Self::Page => "page",
        }
    }

    fn allowed_in(self, scope: Scope) -> bool {
        self != Self::Page || scope == Scope::Page
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(String),
    Field(Placeholder),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`, refusing placeholders that do not exist or are not available in `scope`,
    /// and unbalanced braces.
    pub fn parse(text: &str, scope: Scope) -> Result<Self, WatermarkError> {
        let bad = |reason: String| WatermarkError::BadTemplate {
            template: text.to_string(),
            reason,
        };
        let split = placeholders::split(text).map_err(|m| match m {
            Malformed::Unclosed { rest, .. } => bad(format!("`{{{rest}` is never closed")),
            Malformed::StrayClose { .. } => {
                bad("a `}` without its `{` (write `}}` for a literal brace)".into())
            }
        })?;
        let mut pieces = Vec::with_capacity(split.len());
        for piece in split {
            pieces.push(match piece {
                placeholders::Piece::Text(text) => Piece::Literal(text),
                placeholders::Piece::Name { name, .. } => {
                    let known = Placeholder::ALL.map(Placeholder::name).join(", ");
                    let field = Placeholder::from_name(name.trim()).ok_or_else(|| {
                        bad(format!(
                            "unknown placeholder `{{{name}}}`; known placeholders: {known}"
                        ))
                    })?;
                    if !field.allowed_in(scope) {
                        return Err(bad(format!(
                            "`{{{name}}}` is only available in per-page texts"
                        )));
                    }
                    Piece::Field(field)
                }
            });
        }
        Ok(Self {
            source: text.to_string(),
            pieces,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Fills the placeholders from `value`.
    pub fn render(&self, value: impl Fn(Placeholder) -> String) -> String {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Literal(s) => s.clone(),
                Piece::Field(f) => value(*f),
            })
            .collect()
    }

    /// True when the template names placeholders and every one of them is empty: a cover row such
    /// as "Issue: {issue}" is then left out instead of printed blank.
    pub fn all_fields_empty(&self, value: impl Fn(Placeholder) -> String) -> bool {
        let mut fields = self.pieces.iter().filter_map(|p| match p {
            Piece::Field(f) => Some(*f),
            Piece::Literal(_) => None,
        });
        let mut any = false;
        let all_empty = fields.all(|f| {
            any = true;
            value(f).trim().is_empty()
        });
        any && all_empty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_named_placeholders_and_escaped_braces() {
        let t = Template::parse("To {recipient} ({library}) {{x}} p.{page}", Scope::Page).unwrap();
        let out = t.render(|p| match p {
            Placeholder::Recipient => "Zoë".into(),
            Placeholder::Library => "UB".into(),
            Placeholder::Page => "3".into(),
            _ => String::new(),
        });
        assert_eq!(out, "To Zoë (UB) {x} p.3");
    }

    #[test]
    fn unknown_placeholder_is_an_error_naming_it() {
        let err = Template::parse("Hello {recipeint}", Scope::Document).unwrap_err();
        assert_eq!(err.code(), "watermark.template.invalid");
        assert!(err.to_string().contains("{recipeint}"), "{err}");
    }

    #[test]
    fn page_is_refused_on_the_cover() {
        assert!(Template::parse("{page}", Scope::Document).is_err());
        assert!(Template::parse("{page}", Scope::Page).is_ok());
    }

    #[test]
    fn unbalanced_braces_are_errors() {
        assert!(Template::parse("{request", Scope::Document).is_err());
        assert!(Template::parse("request}", Scope::Document).is_err());
    }

    #[test]
    fn rows_with_only_empty_fields_are_detected() {
        let t = Template::parse("issue {issue}", Scope::Document).unwrap();
        assert!(t.all_fields_empty(|_| String::new()));
        assert!(!t.all_fields_empty(|_| "4".into()));
        let fixed = Template::parse("no fields", Scope::Document).unwrap();
        assert!(!fixed.all_fields_empty(|_| String::new()));
    }
}

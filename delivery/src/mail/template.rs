//! Notice templates: text with named `{placeholders}`, checked when parsed so a typo in a
//! configured template fails at startup rather than in a borrower's inbox.
//!
//! Known placeholders: `{link}`, `{expires}`, `{downloads}` (a number), `{downloads_text}`
//! ("5 downloads", "1 download"), `{pickup_code}`, `{request}`, `{title}` (the article or
//! chapter, else the journal or book), `{journal}` (the journal or book title), `{name}` (the
//! reader's name), `{institution}`, `{contact}`. `{{` and `}}` stand for literal braces. Values are
//! inserted as given (plain text mail, so no escaping).

use quire_domain::placeholders::{self, Malformed};

use crate::DeliveryError;

/// What a notice can say.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NoticeFields {
    /// The full download URL (contains the token: never log a rendered notice).
    pub link: String,
    /// When the link stops working, already formatted for people.
    pub expires: String,
    /// Downloads the link allows.
    pub downloads: u32,
    /// The code to type on the download page; `None` renders as an empty string.
    pub pickup_code: Option<String>,
    /// The request id, as staff and borrower know it.
    pub request: String,
    /// The citation title: the article or chapter, else the journal or book.
    pub title: String,
    /// The journal or book the article or chapter is in (empty when it is the title).
    pub journal: String,
    /// The reader's name, to greet them by.
    pub name: String,
    pub institution: String,
    /// Whom to contact about the delivery.
    pub contact: String,
}

impl std::fmt::Debug for NoticeFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoticeFields")
            .field("link", &"****")
            .field("expires", &self.expires)
            .field("downloads", &self.downloads)
            .field("pickup_code", &self.pickup_code.as_ref().map(|_| "****"))
            .field("request", &self.request)
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Link,
    Expires,
    Downloads,
    DownloadsText,
    PickupCode,
    Request,
    Title,
    Journal,
    Name,
    Institution,
    Contact,
}

impl Field {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "link" => Self::Link,
            "expires" => Self::Expires,
            "downloads" => Self::Downloads,
            "downloads_text" => Self::DownloadsText,
            "journal" => Self::Journal,
            "name" => Self::Name,
            "pickup_code" => Self::PickupCode,
            "request" => Self::Request,
            "title" => Self::Title,
            "institution" => Self::Institution,
            "contact" => Self::Contact,
            _ => return None,
        })
    }

    fn value(self, fields: &NoticeFields) -> std::borrow::Cow<'_, str> {
        match self {
            Self::Link => (&fields.link).into(),
            Self::Expires => (&fields.expires).into(),
            Self::Downloads => fields.downloads.to_string().into(),
            Self::DownloadsText => match fields.downloads {
                1 => "1 download".into(),
                n => format!("{n} downloads").into(),
            },
            Self::Journal => (&fields.journal).into(),
            Self::Name => (&fields.name).into(),
            Self::PickupCode => fields.pickup_code.as_deref().unwrap_or("").into(),
            Self::Request => (&fields.request).into(),
            Self::Title => (&fields.title).into(),
            Self::Institution => (&fields.institution).into(),
            Self::Contact => (&fields.contact).into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(Field),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`; `name` ("subject", "body") only labels errors.
    pub fn parse(name: &'static str, text: &str) -> Result<Self, DeliveryError> {
        let err = |reason: String| DeliveryError::Template {
            template: name,
            reason,
        };
        let split = placeholders::split(text).map_err(|m| match m {
            Malformed::Unclosed { at, .. } => err(format!("unclosed '{{' at byte {at}")),
            Malformed::StrayClose { at } => err(format!(
                "unmatched '}}' at byte {at} (write '}}}}' for a brace)"
            )),
        })?;
        let mut pieces = Vec::with_capacity(split.len());
        for piece in split {
            pieces.push(match piece {
                placeholders::Piece::Text(text) => Piece::Text(text),
                placeholders::Piece::Name { name, at } => {
                    Piece::Field(Field::named(name).ok_or_else(|| {
                        err(format!("unknown placeholder {{{name}}} at byte {at}"))
                    })?)
                }
            });
        }
        Ok(Self { pieces })
    }

    pub fn render(&self, fields: &NoticeFields) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Field(field) => out.push_str(&field.value(fields)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_placeholder_and_escapes() {
        let t = Template::parse(
            "body",
            "{{x}} {link}|{expires}|{downloads}|{pickup_code}|{request}|{title}|{institution}|{contact} é}} {downloads_text}|{journal}|{name}",
        )
        .unwrap();
        let fields = NoticeFields {
            link: "https://x/d/T".into(),
            expires: "2026-12-29".into(),
            downloads: 5,
            pickup_code: Some("123456".into()),
            request: "ILL-7".into(),
            title: "On Scans".into(),
            journal: "J. Scans".into(),
            name: "Ada".into(),
            institution: "Lib".into(),
            contact: "ill@lib".into(),
        };
        assert_eq!(
            t.render(&fields),
            "{x} https://x/d/T|2026-12-29|5|123456|ILL-7|On Scans|Lib|ill@lib é} 5 downloads|J. Scans|Ada"
        );
        let one = NoticeFields {
            downloads: 1,
            ..fields.clone()
        };
        assert!(t.render(&one).contains(" 1 download|"));
        let no_code = NoticeFields {
            pickup_code: None,
            ..fields
        };
        assert_eq!(
            Template::parse("s", "[{pickup_code}]")
                .unwrap()
                .render(&no_code),
            "[]"
        );
    }

    #[test]
    fn bad_templates_fail_at_parse_time() {
        for (text, needle) in [
            ("Hi {nmae}", "unknown placeholder {nmae}"),
            ("Hi {link", "unclosed"),
            ("Hi }", "unmatched"),
            ("{}", "unknown placeholder {}"),
        ] {
            let e = Template::parse("subject", text).unwrap_err();
            assert_eq!(e.code(), "delivery.mail.template");
            assert!(
                e.to_string().contains(needle) && e.to_string().contains("subject"),
                "{text}: {e}"
            );
        }
    }
}

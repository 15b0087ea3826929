//! A [`Notice`] is one rendered e-mail: recipient, subject and plain-text body. The
//! [`NoticeTemplates`] turn [`NoticeFields`] into one; the defaults are embedded here.
//! The HTML alternative is made from the rendered text ([`Notice::html`]), so a configured
//! template is written once and both parts always say the same.

use super::template::{NoticeFields, Template};
use crate::DeliveryError;

pub const DEFAULT_SUBJECT: &str = "Your document from {institution} is ready: {title}";

const DEFAULT_BODY: &str = "\
Dear {name},

The copy you asked for through interlibrary loan ({request}) is ready:

    {title}
    {journal}

Download it here:

    {link}

The link works until {expires}, for {downloads_text}.
{pickup_code_line}
This copy is for your private study, scholarship or research only.

Questions? Contact {institution} at {contact}.
";

/// The subject and body templates notices are rendered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeTemplates {
    subject: Template,
    body: Template,
    /// Rendered into the default body's `{pickup_code_line}` slot only when there is a code.
    with_code: Option<Template>,
}

impl NoticeTemplates {
    /// Custom templates (from config); every placeholder is checked now.
    pub fn parse(subject: &str, body: &str) -> Result<Self, DeliveryError> {
        Ok(Self {
            subject: Template::parse("subject", subject)?,
            body: Template::parse("body", body)?,
            with_code: None,
        })
    }

    pub fn render(&self, to: &str, fields: &NoticeFields) -> Notice {
        let body = self.body.render(fields);
        let body = match &self.with_code {
            None => body,
            Some(line) => {
                let code_line = if fields.pickup_code.is_some() {
                    line.render(fields)
                } else {
                    String::new()
                };
                body.replace(PICKUP_SLOT, &code_line)
            }
        };
        Notice {
            to: to.to_owned(),
            subject: self.subject.render(fields),
            body,
        }
    }
}

const PICKUP_SLOT: &str = "\u{0}pickup\u{0}";

impl Default for NoticeTemplates {
    /// The embedded default, which mentions the pickup code only when there is one.
    fn default() -> Self {
        let body = DEFAULT_BODY.replace("{pickup_code_line}\n", PICKUP_SLOT);
        Self {
            subject: Template::parse("subject", DEFAULT_SUBJECT).expect("default subject parses"),
            body: Template::parse("body", &body).expect("default body parses"),
            with_code: Some(
                Template::parse(
                    "body",
                    "You will be asked for this pickup code: {pickup_code}\n",
                )
                .expect("parses"),
            ),
        }
    }
}

/// One e-mail ready to send. `Debug` leaves out the body: it holds the link token.
#[derive(Clone, PartialEq, Eq)]
pub struct Notice {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Notice {
    /// The body as simple HTML: paragraphs where the text has blank lines, lines kept, web
    /// addresses as links, everything else escaped.
    pub fn html(&self) -> String {
        let mut out = String::from(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>\
             <body style=\"font-family:sans-serif;line-height:1.5;max-width:40rem\">\n",
        );
        for para in self.body.split("\n\n") {
            let lines: Vec<String> = para
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| {
                    if l.starts_with("https://") || l.starts_with("http://") {
                        let url = escape(l);
                        format!("<a href=\"{url}\">{url}</a>")
                    } else {
                        escape(l)
                    }
                })
                .collect();
            if !lines.is_empty() {
                out.push_str(&format!("<p>{}</p>\n", lines.join("<br>\n")));
            }
        }
        out.push_str("</body></html>\n");
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl std::fmt::Debug for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notice")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(code: Option<&str>) -> NoticeFields {
        NoticeFields {
            link: "https://lib.example/d/SECRET".into(),
            expires: "29 December 2026".into(),
            downloads: 5,
            pickup_code: code.map(str::to_owned),
            request: "ILL-42".into(),
            title: "A Study of Things".into(),
            journal: "Journal of Things".into(),
            name: "Ada Lovelace".into(),
            institution: "Example Library".into(),
            contact: "ill@example.org".into(),
        }
    }

    #[test]
    fn default_notice_says_everything_and_the_code_only_when_set() {
        let with = NoticeTemplates::default().render("a@b.org", &fields(Some("042917")));
        assert_eq!(
            with.subject,
            "Your document from Example Library is ready: A Study of Things"
        );
        for needle in [
            "https://lib.example/d/SECRET",
            "29 December 2026",
            "for 5 downloads.",
            "Dear Ada Lovelace,",
            "Journal of Things",
            "ILL-42",
            "pickup code: 042917",
            "ill@example.org",
        ] {
            assert!(
                with.body.contains(needle),
                "{needle} missing from:\n{}",
                with.body
            );
        }
        let html = with.html();
        assert!(
            html.contains("<a href=\"https://lib.example/d/SECRET\">")
                && html.contains("<p>Dear Ada Lovelace,</p>"),
            "{html}"
        );
        let without = NoticeTemplates::default().render("a@b.org", &fields(None));
        assert!(
            !without.body.contains("pickup") && !without.body.contains('\0'),
            "{}",
            without.body
        );
        assert!(!format!("{with:?}").contains("SECRET"));
    }

    #[test]
    fn custom_templates_are_checked() {
        let t = NoticeTemplates::parse("{request}", "Get {link} by {expires}").unwrap();
        assert_eq!(
            t.render("x@y", &fields(None)).body,
            "Get https://lib.example/d/SECRET by 29 December 2026"
        );
        assert_eq!(
            NoticeTemplates::parse("{reqest}", "").unwrap_err().code(),
            "delivery.mail.template"
        );
    }
}

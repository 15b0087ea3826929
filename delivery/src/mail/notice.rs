//! A [`Notice`] is one rendered e-mail: recipient, subject and plain-text body. The
//! [`NoticeTemplates`] turn [`NoticeFields`] into one; the defaults are embedded here.

use super::template::{NoticeFields, Template};
use crate::DeliveryError;

pub const DEFAULT_SUBJECT: &str = "Your document from {institution} is ready: {title}";

const DEFAULT_BODY: &str = "\
Hello,

The document you requested through interlibrary loan ({request}) is ready:

    {title}

Download it here:

    {link}

The link works until {expires} and for {downloads} download(s).
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
            "5 download(s)",
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

//! Every HTML page's template (minijinja), the console's and the borrower's, compiled into the
//! binary and parsed once. Autoescaping is on for every `.html` template, so data from scans,
//! requests and patrons can never become markup. The pages are plain HTML and CSS with no
//! JavaScript and no external assets: library networks can be closed.

use std::sync::OnceLock;

use minijinja::Environment;

const TEMPLATES: &[(&str, &str)] = &[
    ("head.html", include_str!("templates/head.html")),
    ("base.html", include_str!("templates/base.html")),
    ("login.html", include_str!("templates/login.html")),
    ("message.html", include_str!("templates/message.html")),
    ("jobs.html", include_str!("templates/jobs.html")),
    ("job.html", include_str!("templates/job.html")),
    ("page.html", include_str!("templates/page.html")),
    ("requests.html", include_str!("templates/requests.html")),
    ("request.html", include_str!("templates/request.html")),
    ("link_rows.html", include_str!("templates/link_rows.html")),
    (
        "citation_inputs.html",
        include_str!("templates/citation_inputs.html"),
    ),
    ("links.html", include_str!("templates/links.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("held.html", include_str!("templates/held.html")),
    ("contu.html", include_str!("templates/contu.html")),
    ("nodes.html", include_str!("templates/nodes.html")),
    ("partners.html", include_str!("templates/partners.html")),
    (
        "borrower/page.html",
        include_str!("templates/borrower/page.html"),
    ),
    (
        "borrower/message.html",
        include_str!("templates/borrower/message.html"),
    ),
    (
        "borrower/document.html",
        include_str!("templates/borrower/document.html"),
    ),
];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // `{{ name|shown }}`: scan names with bidi and control characters escaped, as the
        // CLI shows them.
        env.add_filter("shown", |s: String| {
            quire_state::job::escape_for_display(&s)
        });
        // `{{ t|when }}`: a stored UTC time as people read it, to the minute in the library's
        // zone (the page's `time_zone`); `{{ t|when("second") }}` to the second. Anything that
        // is not a time is shown as it is.
        env.add_filter("when", when);
        for (name, source) in TEMPLATES {
            // The templates are part of the binary: one that does not parse is a build bug,
            // which the console tests catch on their first page.
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        env
    })
}

fn when(state: &minijinja::State, value: minijinja::Value, precision: Option<&str>) -> String {
    if value.is_none() || value.is_undefined() {
        return "–".into();
    }
    let text = value.to_string();
    let zone = state
        .lookup("time_zone")
        .and_then(|z| z.as_str().and_then(|z| quire_domain::Zone::named(z).ok()))
        .unwrap_or_default();
    match text.parse::<quire_domain::Timestamp>() {
        Ok(t) if precision == Some("second") => t.shown_second(&zone),
        Ok(t) if precision == Some("day") => t.shown_day(&zone),
        Ok(t) => t.shown_minute(&zone),
        Err(_) => text,
    }
}

pub fn render(name: &str, ctx: minijinja::Value) -> Result<String, minijinja::Error> {
    environment().get_template(name)?.render(ctx)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_parses_and_escapes() {
        for (name, _) in super::TEMPLATES {
            super::environment().get_template(name).unwrap();
        }
        let html = super::render(
            "message.html",
            minijinja::context! { title => "<b>x</b>", message => "<script>alert(1)</script>" },
        )
        .unwrap();
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>alert"), "{html}");
        let html = super::render(
            "borrower/message.html",
            minijinja::context! { title => "t", institution => "<i>Lib</i>", message => "<b>m</b>", request => "TN<1>" },
        )
        .unwrap();
        assert!(
            html.contains("&lt;i&gt;Lib") && html.contains("TN&lt;1&gt;"),
            "{html}"
        );
        assert!(!html.contains("<b>m") && !html.contains("<i>Lib"), "{html}");
    }

    #[test]
    fn times_are_shown_in_the_pages_zone() {
        let env = super::environment();
        let t = "2026-01-31T09:05:07.000Z";
        let out = env
            .render_str(
                "{{ t|when }} / {{ t|when('second') }} / {{ none|when }} / {{ 'x'|when }}",
                minijinja::context! { t, none => (), time_zone => "America/Chicago" },
            )
            .unwrap();
        assert_eq!(
            out,
            "2026-01-31 03:05 CST / 2026-01-31 03:05:07 CST / – / x"
        );
        let utc = env
            .render_str("{{ t|when }}", minijinja::context! { t })
            .unwrap();
        assert_eq!(utc, "2026-01-31 09:05 UTC");
    }

    #[test]
    fn the_shown_filter_escapes_bidi_controls() {
        let env = super::environment();
        let out = env
            .render_str(
                "{{ n|shown }}",
                minijinja::context! { n => "a\u{202e}fdp.exe" },
            )
            .unwrap();
        assert_eq!(out, "a\\u{202e}fdp.exe");
    }
}

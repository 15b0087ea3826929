//! Tiny server-side HTML: escaping and the one page frame every borrower page shares. Plain
//! HTML and CSS, no JavaScript, no external assets (library networks can be closed).

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;max-width:42rem;margin:2rem auto;\
padding:0 1rem;color:#1a1a1a;background:#fff;line-height:1.5}h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:1.5rem}\
.notice{border-left:4px solid #8a5a00;background:#fff8e6;padding:.75rem 1rem}dl{display:grid;grid-template-columns:max-content 1fr;\
gap:.25rem 1rem}dt{font-weight:600}.button{display:inline-block;background:#0b5394;color:#fff;padding:.75rem 1.25rem;\
border-radius:4px;text-decoration:none;font-weight:600;border:0;font-size:1rem;cursor:pointer}.button:focus,input:focus\
{outline:3px solid #f9a825;outline-offset:2px}footer{margin-top:2rem;font-size:.9rem;color:#444}label{display:block;font-weight:600}\
input{font-size:1rem;padding:.4rem;margin:.25rem 0 .75rem}";

/// A whole page: `title` is escaped here; `body` is trusted HTML built with [`escape`].
pub fn page(title: &str, institution: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\"><title>{t} – {i}</title>\
         <style>{STYLE}</style></head><body><header><p>{i}</p></header><main><h1>{t}</h1>{body}</main></body></html>",
        t = escape(title),
        i = escape(institution)
    )
}

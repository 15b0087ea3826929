//! Content-Disposition and Content-Type for a delivered file, shared by the HTTP download and
//! S3 presigned URLs so both name the file the same way.
//!
//! The header carries an ASCII `filename` for old clients and an RFC 5987 `filename*` with
//! the exact UTF-8 name; characters that could break the header (quotes, backslashes,
//! control characters, path separators) never reach it.

/// `attachment; filename="…"; filename*=UTF-8''…` for `file_name`.
pub fn attachment(file_name: &str) -> String {
    let clean: String = file_name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let clean = clean.trim();
    let clean = if clean.is_empty() { "download" } else { clean };
    let ascii: String = clean
        .chars()
        .map(|c| if c.is_ascii() && c != '"' { c } else { '_' })
        .collect();
    let mut encoded = String::new();
    for b in clean.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The media type for a file name (what Quire delivers is PDF; anything else is opaque).
pub fn content_type(file_name: &str) -> &'static str {
    if file_name.to_ascii_lowercase().ends_with(".pdf") {
        "application/pdf"
    } else {
        "application/octet-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_and_exact() {
        assert_eq!(
            attachment("ILL-42 Smith.pdf"),
            "attachment; filename=\"ILL-42 Smith.pdf\"; filename*=UTF-8''ILL-42%20Smith.pdf"
        );
        let tricky = attachment("a\"b\r\n../é.pdf");
        assert!(
            !tricky.contains('\r') && !tricky.contains('\n') && !tricky.contains('/'),
            "{tricky}"
        );
        assert!(
            tricky.starts_with("attachment; filename=\"a_b__..__.pdf\""),
            "{tricky}"
        );
        assert!(
            tricky.ends_with("filename*=UTF-8''a%22b__.._%C3%A9.pdf"),
            "{tricky}"
        );
        assert_eq!(
            attachment("  "),
            "attachment; filename=\"download\"; filename*=UTF-8''download"
        );
        assert_eq!(content_type("X.PDF"), "application/pdf");
        assert_eq!(content_type("x.bin"), "application/octet-stream");
    }
}

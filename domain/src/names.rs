//! Identifiers people type that end up in file names, URLs and the audit log (request ids for
//! `quire scan`, staff user names): one rule for what such a name may hold.

/// Whether `name` is 1 to `max_len` bytes of ASCII letters, digits, `-`, `_` and `.`, so it can
/// stand in a file name or a URL path as it is.
pub fn is_plain(name: &str, max_len: usize) -> bool {
    !name.is_empty()
        && name.len() <= max_len
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::is_plain;

    #[test]
    fn letters_digits_and_three_marks_only() {
        assert!(is_plain("TN-1_a.b", 64));
        assert!(!is_plain("", 64));
        assert!(!is_plain("a/b", 64));
        assert!(!is_plain("é", 64));
        assert!(!is_plain("abc", 2));
    }
}

//! Character error rate: edit distance between a reference text and an OCR hypothesis.
//!
//! Whitespace is normalised first (runs of any whitespace become one space, ends trimmed), since
//! line breaks and spacing in a text layer say nothing about recognition quality. Characters are
//! Unicode scalar values; no case folding and no other normalisation.

/// Levenshtein distance over characters of the whitespace-normalised texts, divided by the
/// length of the normalised reference. An empty reference gives 0 for an empty hypothesis and 1
/// otherwise.
pub fn cer(reference: &str, hypothesis: &str) -> f64 {
    let r: Vec<char> = normalise(reference).chars().collect();
    let h: Vec<char> = normalise(hypothesis).chars().collect();
    if r.is_empty() {
        return if h.is_empty() { 0.0 } else { 1.0 };
    }
    levenshtein(&r, &h) as f64 / r.len() as f64
}

fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::cer;

    #[test]
    fn identical_texts_score_zero_whatever_the_spacing() {
        assert_eq!(cer("Hello  world\nagain", " Hello world again\n"), 0.0);
    }

    #[test]
    fn counts_substitutions_insertions_and_deletions() {
        // "kitten" -> "sitting": 3 edits over 6 characters.
        assert!((cer("kitten", "sitting") - 0.5).abs() < 1e-12);
        assert!((cer("abcd", "abd") - 0.25).abs() < 1e-12);
        assert!((cer("abcd", "") - 1.0).abs() < 1e-12);
    }

    #[test]
    fn empty_reference() {
        assert_eq!(cer("", "  "), 0.0);
        assert_eq!(cer("", "x"), 1.0);
    }

    #[test]
    fn diacritics_are_characters() {
        assert!((cer("café", "cafe") - 0.25).abs() < 1e-12);
    }
}

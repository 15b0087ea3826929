//! Title normalisation, so `The Journal of Tests.` and `journal of tests` count as one
//! periodical, and near-identical titles (likely typos of one another) can be flagged for a
//! person to look at. Nothing here merges near-identical titles on its own: a wrong merge would
//! hold a copy that should go out.

/// Lower case, letters and digits only (other characters become single spaces), `&` read as
/// `and`, and one leading article (`the`, `a`, `an`) dropped.
pub fn normalise(title: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in title.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if c == '\'' || c == '’' {
            // Apostrophes join (`women's` = `womens`), they do not split.
        } else {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            if c == '&' {
                words.push("and".into());
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    if words.len() > 1 && matches!(words[0].as_str(), "the" | "a" | "an") {
        words.remove(0);
    }
    words.join(" ")
}

/// Two normalised titles a few edits apart but not equal.
pub fn near_identical(a: &str, b: &str, max_edits: usize) -> bool {
    if a == b || a.is_empty() || b.is_empty() || max_edits == 0 {
        return false;
    }
    // Short titles a couple of letters apart are usually different journals ("Cell", "Cells").
    let shorter = a.chars().count().min(b.chars().count());
    shorter >= 8 && strsim::levenshtein(a, b) <= max_edits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_punctuation_and_a_leading_the_do_not_matter() {
        let n = normalise("The Journal of Tests.");
        assert_eq!(n, "journal of tests");
        assert_eq!(normalise("journal  of TESTS"), n);
        assert_eq!(normalise("Journal of Tests: "), n);
        assert_eq!(
            normalise("Women's Studies & Society"),
            "womens studies and society"
        );
        assert_eq!(normalise("The Lancet"), "lancet");
        // A title that is only an article keeps it.
        assert_eq!(normalise("The"), "the");
        // "The" inside a title stays.
        assert_eq!(
            normalise("Annals of the Rheumatic Diseases"),
            "annals of the rheumatic diseases"
        );
    }

    #[test]
    fn near_identical_titles_are_flagged_but_distinct_ones_are_not() {
        assert!(near_identical("journal of tests", "journal of test", 2));
        assert!(near_identical("journal of tests", "jurnal of tests", 2));
        assert!(!near_identical("journal of tests", "journal of tests", 2));
        assert!(!near_identical(
            "journal of tests",
            "journal of chemistry",
            2
        ));
        assert!(!near_identical("cell", "cells", 2));
        assert!(!near_identical("journal of tests", "journal of test", 0));
    }
}

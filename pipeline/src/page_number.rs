//! Finding the page number printed on a page, from OCR words in the top or bottom margin.
//! Intake compares these with the page range a request asked for.

use crate::ocr::OcrPage;

/// Share of the page height, at top and bottom, where running heads and folios sit.
const MARGIN_SHARE: f32 = 0.12;

/// The printed page number (arabic, or lower-case roman), if one stands alone in a margin.
pub fn find(ocr: &OcrPage, page_height: u32) -> Option<String> {
    let margin = page_height as f32 * MARGIN_SHARE;
    let mut best: Option<(f32, String)> = None;
    for word in &ocr.words {
        let centre = word.top as f32 + word.height as f32 / 2.0;
        let edge_distance = centre.min(page_height as f32 - centre);
        if edge_distance > margin {
            continue;
        }
        let Some(number) = as_page_number(&word.text) else {
            continue;
        };
        // A folio stands (nearly) alone on its line, maybe between dashes; a number in a line
        // of text (an address, a phone number, a date) is not one.
        let line_words = ocr.words.iter().filter(|w| w.line == word.line).count();
        if line_words > 3 {
            continue;
        }
        let score = edge_distance - if line_words == 1 { margin } else { 0.0 };
        if best.as_ref().is_none_or(|(s, _)| score < *s) {
            best = Some((score, number));
        }
    }
    best.map(|(_, n)| n)
}

fn as_page_number(text: &str) -> Option<String> {
    let core = text.trim_matches(|c: char| !c.is_alphanumeric());
    if core.is_empty() || core.len() > 5 {
        return None;
    }
    if core.chars().all(|c| c.is_ascii_digit()) {
        return Some(core.trim_start_matches('0').to_owned()).filter(|s| !s.is_empty());
    }
    if core.chars().all(|c| "ivxlc".contains(c)) {
        return Some(core.to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocr::Word;

    fn word(text: &str, top: u32, line: u32) -> Word {
        Word {
            text: text.into(),
            left: 100,
            top,
            width: 40,
            height: 30,
            confidence: 90.0,
            line: (line, 1, 1),
        }
    }

    #[test]
    fn finds_a_folio_in_the_margin_not_in_the_body() {
        let ocr = OcrPage {
            words: vec![
                word("Chapter", 50, 1),
                word("1984", 1500, 2),
                word("— 17 —", 3200, 3),
            ],
        };
        assert_eq!(find(&ocr, 3300).as_deref(), Some("17"));
        let body_only = OcrPage {
            words: vec![word("1984", 1500, 1)],
        };
        assert_eq!(find(&body_only, 3300), None);
        let mut address: Vec<Word> = ["(818)", "708-8131", "TELEX", "#298949"]
            .iter()
            .map(|t| word(t, 3200, 9))
            .collect();
        address[0].left = 10;
        assert_eq!(find(&OcrPage { words: address }, 3300), None);
        let roman = OcrPage {
            words: vec![word("xiv", 3200, 1)],
        };
        assert_eq!(find(&roman, 3300).as_deref(), Some("xiv"));
    }
}

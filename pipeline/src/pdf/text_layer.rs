//! The invisible text layer: each OCR'd word shown in render mode 3 (neither fill nor stroke)
//! exactly over its pixels, so search highlights and selection cover the right words.
//!
//! All words of a line share one baseline (set so the font's descent reaches the line's box
//! bottom) and font size (the line's box height), which keeps `pdftotext` and viewers treating them as one line. Each word but the
//! last on a line carries a trailing space and is stretched (`Tz`) to reach the next word, so
//! copied text has its spaces.

use std::fmt::Write as _;

use super::font::{DESCENT, GLYPH_WIDTH, PageEncoding};
use super::writer::num;
use crate::ocr::OcrPage;

/// A page's text layer: its content-stream operators and what the font must declare for them.
#[derive(Debug, Default, Clone)]
pub struct TextLayer {
    pub ops: Vec<u8>,
    /// Characters beyond the Basic Multilingual Plane, in the order of their codes; when there
    /// are any, the page needs its own ToUnicode map.
    pub supplementary: Vec<char>,
}

/// The text layer of a page `height_px` pixels tall at `dpi`.
pub fn content(ocr: &OcrPage, dpi: (f32, f32), height_px: u32) -> TextLayer {
    let lines = ocr.lines();
    if lines.is_empty() {
        return TextLayer::default();
    }
    let mut encoding = PageEncoding::default();
    let sx = 72.0 / dpi.0;
    let sy = 72.0 / dpi.1;
    let page_h = height_px as f32 * sy;
    let mut s = String::from("BT\n3 Tr\n");
    for line in lines {
        let top = line.iter().map(|w| w.top).min().unwrap_or(0);
        let bottom = line.iter().map(|w| w.top + w.height).max().unwrap_or(0);
        let size = ((bottom.saturating_sub(top)) as f32 * sy).max(1.0);
        // The font's descent hangs below the baseline; lift it so the box bottom is the line's.
        let baseline = page_h - bottom as f32 * sy + size * (-DESCENT) as f32 / 1000.0;
        let _ = writeln!(s, "/F0 {} Tf", num(size));
        for (i, word) in line.iter().enumerate() {
            let (text, span_px) = match line.get(i + 1) {
                Some(next) if next.left > word.left => {
                    (format!("{} ", word.text), (next.left - word.left) as f32)
                }
                _ => (word.text.clone(), word.width as f32),
            };
            let chars = text.chars().count().max(1) as f32;
            let natural = chars * size * GLYPH_WIDTH / 1000.0;
            let stretch = (100.0 * span_px * sx / natural).clamp(1.0, 10_000.0);
            let hex: String = encoding
                .encode(&text)
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect();
            let _ = writeln!(
                s,
                "{} Tz 1 0 0 1 {} {} Tm <{hex}> Tj",
                num(stretch),
                num(word.left as f32 * sx),
                num(baseline)
            );
        }
    }
    s.push_str("ET\n");
    TextLayer {
        ops: s.into_bytes(),
        supplementary: encoding.supplementary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocr::Word;

    fn word(text: &str, left: u32, top: u32, width: u32, line: u32) -> Word {
        Word {
            text: text.into(),
            left,
            top,
            width,
            height: 30,
            confidence: 90.0,
            line: (1, 1, line),
        }
    }

    #[test]
    fn places_words_on_a_shared_baseline_in_points() {
        let ocr = OcrPage {
            words: vec![word("Hi", 300, 300, 60, 1), word("there", 400, 300, 100, 1)],
        };
        let layer = content(&ocr, (300.0, 300.0), 3300);
        assert!(layer.supplementary.is_empty());
        let text = String::from_utf8(layer.ops).unwrap();
        // 3300 px at 300 dpi = 792 pt; bottom 330 px = 79.2 pt up from it, 712.8; the line is
        // 7.2 pt tall, so the baseline sits 0.35 × 7.2 = 2.52 pt higher, at 715.32.
        assert!(
            text.contains("1 0 0 1 72 715.32 Tm <004800690020> Tj"),
            "{text}"
        );
        assert!(
            text.contains("1 0 0 1 96 715.32 Tm <00740068006500720065> Tj"),
            "{text}"
        );
        assert!(text.starts_with("BT\n3 Tr\n/F0 7.2 Tf\n"), "{text}");
    }

    #[test]
    fn no_words_no_text_object() {
        assert!(
            content(&OcrPage::default(), (300.0, 300.0), 100)
                .ops
                .is_empty()
        );
    }
}

//! Tesseract's TSV output turned into words with boxes and confidences.
//!
//! TSV is the cheapest stable way through the `tesseract` crate to get every word's box, its
//! confidence and the block/paragraph/line it belongs to in one call.

use serde::Serialize;

/// One recognised word, in pixel coordinates of the image that was OCR'd.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Word {
    pub text: String,
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
    /// 0–100.
    pub confidence: f32,
    /// Block, paragraph and line numbers; words sharing them sit on one line.
    pub line: (u32, u32, u32),
}

/// What OCR found on one page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OcrPage {
    pub words: Vec<Word>,
}

impl OcrPage {
    pub fn from_tsv(tsv: &str) -> OcrPage {
        let mut words = Vec::new();
        for line in tsv.lines() {
            let cols: Vec<&str> = line.splitn(12, '\t').collect();
            if cols.len() < 12 || cols[0] != "5" {
                continue;
            }
            let text = cols[11].trim();
            if text.is_empty() {
                continue;
            }
            let n = |i: usize| cols[i].trim().parse::<i64>().unwrap_or(0).max(0) as u32;
            let confidence = cols[10]
                .trim()
                .parse::<f32>()
                .unwrap_or(0.0)
                .clamp(0.0, 100.0);
            words.push(Word {
                text: text.to_owned(),
                left: n(6),
                top: n(7),
                width: n(8),
                height: n(9),
                confidence,
                line: (n(2), n(3), n(4)),
            });
        }
        OcrPage { words }
    }

    pub fn word_count(&self) -> usize {
        self.words.len()
    }

    /// Mean word confidence, 0–100; `None` when there are no words.
    pub fn mean_confidence(&self) -> Option<f32> {
        (!self.words.is_empty())
            .then(|| self.words.iter().map(|w| w.confidence).sum::<f32>() / self.words.len() as f32)
    }

    /// Words grouped into lines, in reading order as tesseract gave them.
    pub fn lines(&self) -> Vec<&[Word]> {
        let mut out = Vec::new();
        let mut start = 0;
        for i in 1..=self.words.len() {
            if i == self.words.len() || self.words[i].line != self.words[start].line {
                if i > start {
                    out.push(&self.words[start..i]);
                }
                start = i;
            }
        }
        out
    }

    /// Plain text: words joined by spaces, lines by newlines, blocks by a blank line.
    pub fn text(&self) -> String {
        let mut text = String::new();
        let mut last_block = None;
        for line in self.lines() {
            let block = line[0].line.0;
            if let Some(prev) = last_block {
                text.push('\n');
                if prev != block {
                    text.push('\n');
                }
            }
            last_block = Some(block);
            for (i, w) in line.iter().enumerate() {
                if i > 0 {
                    text.push(' ');
                }
                text.push_str(&w.text);
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_word_rows_and_groups_lines() {
        let tsv = "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n\
                   4\t1\t1\t1\t1\t0\t10\t10\t80\t12\t-1\t\n\
                   5\t1\t1\t1\t1\t1\t10\t10\t30\t12\t96.5\tHello\n\
                   5\t1\t1\t1\t1\t2\t45\t10\t40\t12\t90\twörld\n\
                   5\t1\t1\t1\t2\t1\t10\t30\t20\t12\t50\tnext\n\
                   5\t1\t2\t1\t1\t1\t10\t60\t20\t12\t80\t \n\
                   5\t1\t2\t1\t1\t2\t10\t60\t20\t12\t80\tlast\n";
        let page = OcrPage::from_tsv(tsv);
        assert_eq!(page.word_count(), 4);
        assert_eq!(page.words[1].text, "wörld");
        assert_eq!(page.words[1].left, 45);
        assert_eq!(page.lines().len(), 3);
        assert_eq!(page.text(), "Hello wörld\nnext\n\nlast");
        let mean = page.mean_confidence().unwrap();
        assert!((mean - (96.5 + 90.0 + 50.0 + 80.0) / 4.0).abs() < 1e-4);
    }
}

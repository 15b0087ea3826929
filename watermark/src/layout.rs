//! Breaking text into lines that fit a width. Lines break at spaces; a word wider than the line
//! (or text without spaces, as in Chinese) breaks between characters. No hyphenation and no
//! bidirectional text.

use crate::error::WatermarkError;
use crate::font::{FontSet, ShapedText};

/// Lines of `text` no wider than `max_width` points at `size` points. A `\n` forces a break.
pub(crate) fn wrap(
    fonts: &mut FontSet<'_>,
    text: &str,
    size: f32,
    max_width: f32,
) -> Result<Vec<ShapedText>, WatermarkError> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if fonts.shape(&candidate)?.width(size) <= max_width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone may still be too wide: break it between characters.
            for ch in word.chars() {
                let candidate = format!("{line}{ch}");
                if !line.is_empty() && fonts.shape(&candidate)?.width(size) > max_width {
                    lines.push(std::mem::take(&mut line));
                    line.push(ch);
                } else {
                    line = candidate;
                }
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines.iter().map(|l| fonts.shape(l)).collect()
}

//! Lays out and draws a synthetic page: title, justified-left paragraphs, page number.

use ab_glyph::{FontVec, PxScale};
use image::{GrayImage, Luma};
use imageproc::drawing::{draw_text_mut, text_size};

use super::article::{Paragraphs, title};
use super::{PageSpec, SyntheticPage};

const FONT_DIR: &str = "/usr/share/fonts/truetype/dejavu";
/// Margins around the text block, in inches.
const MARGIN_IN: f32 = 1.0;
/// Line pitch as a multiple of the font size.
const LEADING: f32 = 1.4;
/// Ink and paper of the printed page before any scanner fault: slightly off black and white.
const INK: u8 = 20;
const PAPER: u8 = 245;

/// The DejaVu family used for the body text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typeface {
    Serif,
    Sans,
}

impl Typeface {
    fn file(self) -> &'static str {
        match self {
            Typeface::Serif => "DejaVuSerif.ttf",
            Typeface::Sans => "DejaVuSans.ttf",
        }
    }

    fn load(self) -> std::io::Result<FontVec> {
        let path = std::path::Path::new(FONT_DIR).join(self.file());
        let bytes = std::fs::read(&path).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("{}: {e} (install fonts-dejavu-core)", path.display()),
            )
        })?;
        FontVec::try_from_vec(bytes).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    }
}

/// Renders the page `spec` describes, with its scanner faults, and returns it with its text.
pub fn render_page(spec: &PageSpec) -> std::io::Result<SyntheticPage> {
    let font = spec.typeface.load()?;
    let bold = Typeface::Sans.load()?;
    let px_per_pt = spec.dpi / 72.0;
    let width = (spec.paper_in.0 * spec.dpi).round() as u32;
    let height = (spec.paper_in.1 * spec.dpi).round() as u32;
    let margin = MARGIN_IN * spec.dpi;
    let body = PxScale::from(spec.font_pt * px_per_pt);
    let line_pitch = spec.font_pt * px_per_pt * LEADING;
    let text_width = width as f32 - 2.0 * margin;
    // The page number sits in the bottom margin; text stops a line above the margin.
    let text_bottom = height as f32 - margin;

    let mut image = GrayImage::from_pixel(width, height, Luma([PAPER]));
    let mut truth: Vec<String> = Vec::new();
    let mut y = margin;

    if spec.page_number == 1 {
        let heading = PxScale::from(spec.font_pt * 1.8 * px_per_pt);
        let text = title(spec.seed);
        draw_text_mut(
            &mut image,
            Luma([INK]),
            margin as i32,
            y as i32,
            heading,
            &bold,
            &text,
        );
        truth.push(text);
        truth.push(String::new());
        y += spec.font_pt * 1.8 * px_per_pt * LEADING * 1.5;
    }

    let mut paragraphs = Paragraphs::for_page(spec.seed, spec.page_number);
    'page: while y + line_pitch <= text_bottom {
        let words = paragraphs.next_paragraph();
        let mut rest = &words[..];
        while !rest.is_empty() {
            if y + line_pitch > text_bottom {
                break 'page;
            }
            let taken = fit_line(rest, body, &font, text_width);
            let line = rest[..taken].join(" ");
            draw_text_mut(
                &mut image,
                Luma([INK]),
                margin as i32,
                y as i32,
                body,
                &font,
                &line,
            );
            truth.push(line);
            rest = &rest[taken..];
            y += line_pitch;
        }
        truth.push(String::new());
        y += line_pitch * 0.6;
    }
    while truth.last().is_some_and(String::is_empty) {
        truth.pop();
    }

    let number = format!("Page {}", spec.page_number);
    let (number_width, _) = text_size(body, &font, &number);
    let number_y = height as f32 - margin * 0.6;
    let number_x = (width as f32 - number_width as f32) / 2.0;
    draw_text_mut(
        &mut image,
        Luma([INK]),
        number_x as i32,
        number_y as i32,
        body,
        &font,
        &number,
    );
    truth.push(String::new());
    truth.push(number);

    let image = spec.degradation.apply(image);
    Ok(SyntheticPage {
        image,
        truth: truth.join("\n"),
        dpi: spec.dpi,
        skew_deg: spec.degradation.skew_deg,
    })
}

/// How many of `words` fit on one line `width` pixels wide (at least one).
fn fit_line(words: &[String], scale: PxScale, font: &FontVec, width: f32) -> usize {
    let mut line = String::new();
    for (i, word) in words.iter().enumerate() {
        let candidate = if line.is_empty() {
            word.clone()
        } else {
            format!("{line} {word}")
        };
        if i > 0 && text_size(scale, font, &candidate).0 as f32 > width {
            return i;
        }
        line = candidate;
    }
    words.len()
}

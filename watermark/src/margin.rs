//! What is drawn on every delivered page: the margin stamp in a strip added below the page, the
//! invisible trace text inside that strip, and the optional translucent diagonal watermark.
//!
//! Why a strip and not scaling: growing the page box at the bottom leaves every existing
//! coordinate where it was, so the image, the OCR text layer and any links are untouched and
//! line up exactly as before, and no page content can be covered. The cost is a page that is a
//! little taller than the original (about a third of an inch at 8 pt).

use std::fmt::Write as _;

use crate::error::WatermarkError;
use crate::font::{FontSet, ShapedText, fmt_num};
use crate::layout::wrap;

/// Resource name of the standard font used for the invisible trace text.
pub(crate) const TRACE_FONT: &str = "QuireTrace";
/// Resource name of the translucency state of the diagonal watermark.
pub(crate) const WATERMARK_GS: &str = "QuireGS0";
/// What precedes the delivery id in the invisible text; [`crate::trace`] looks for it.
pub(crate) const TRACE_MARKER: &str = "quire-delivery:";

/// The margin stamp set for one page width.
pub(crate) struct Strip {
    lines: Vec<ShapedText>,
    size: f32,
    pub(crate) height: f32,
}

impl Strip {
    pub(crate) fn layout(
        fonts: &mut FontSet<'_>,
        text: &str,
        size: f32,
        page_width: f32,
    ) -> Result<Self, WatermarkError> {
        let side = size * 2.0;
        let lines = wrap(fonts, text, size, (page_width - 2.0 * side).max(size * 4.0))?;
        let height = size * 1.25 * lines.len().max(1) as f32 + size * 1.4;
        Ok(Self {
            lines,
            size,
            height,
        })
    }
}

/// A laid-out diagonal watermark text (its translucency is a graphics state shared by all pages).
pub(crate) struct Diagonal {
    pub(crate) text: ShapedText,
}

/// Operators drawn after the page's own content. `matrix` maps the display frame (origin at the
/// bottom-left corner the reader sees, strip included) to user space; `width` × `height` is the
/// display size including the strip.
pub(crate) fn page_overlay(
    matrix: [f32; 6],
    width: f32,
    height: f32,
    strip: &Strip,
    diagonal: Option<&Diagonal>,
    trace: &TraceText,
) -> String {
    let mut ops = String::with_capacity(512);
    ops.push_str("q\n");
    let m: Vec<String> = matrix.iter().map(|v| fmt_num(*v)).collect();
    let _ = writeln!(ops, "{} cm", m.join(" "));

    if let Some(d) = diagonal {
        let area_h = height - strip.height;
        let angle = area_h.atan2(width);
        let diag = (width * width + area_h * area_h).sqrt();
        let unit = d.text.width(1.0).max(1.0);
        let size = (0.7 * diag / unit).min(area_h / 6.0).max(8.0);
        let (cos, sin) = (angle.cos(), angle.sin());
        let (cx, cy) = (width / 2.0, strip.height + area_h / 2.0);
        let half = d.text.width(size) / 2.0;
        let rise = size * 0.35;
        let tx = cx - half * cos + rise * sin;
        let ty = cy - half * sin - rise * cos;
        let _ = writeln!(
            ops,
            "q /{WATERMARK_GS} gs 0.5 g BT {} {} {} {} {} {} Tm",
            fmt_num(cos),
            fmt_num(sin),
            fmt_num(-sin),
            fmt_num(cos),
            fmt_num(tx),
            fmt_num(ty)
        );
        d.text.show_ops(size, &mut ops);
        ops.push_str("ET Q\n");
    }

    let size = strip.size;
    let _ = writeln!(
        ops,
        "0.6 G 0.4 w {} {} m {} {} l S",
        fmt_num(size * 2.0),
        fmt_num(strip.height),
        fmt_num(width - size * 2.0),
        fmt_num(strip.height)
    );
    let mut baseline = strip.height - size * 0.7 - size * 0.95;
    ops.push_str("BT 0.25 g\n");
    for line in &strip.lines {
        let x = (width - line.width(size)) / 2.0;
        let _ = writeln!(
            ops,
            "1 0 0 1 {} {} Tm",
            fmt_num(x.max(size)),
            fmt_num(baseline)
        );
        line.show_ops(size, &mut ops);
        baseline -= size * 1.25;
    }
    ops.push_str("ET\n");
    // Invisible (render mode 3) text, so the id is in the content stream as it is and survives
    // any rewrite that keeps the page's content.
    ops.push_str(&trace_only(trace));
    ops.push_str("Q\n");
    ops
}

/// How the invisible trace text is written, by the font it is shown in.
pub(crate) enum TraceText {
    /// Plain ASCII in the standard Helvetica: `(quire-delivery:…)`.
    Standard(String),
    /// For PDF/A copies, in an embedded font whose CIDs are code points: the UTF-16BE code
    /// units in hex, `<0071007500…>` ([`crate::font::embed_trace_font`]).
    Embedded(String),
}

impl TraceText {
    pub(crate) fn new(delivery_id: &str, embedded: bool) -> TraceText {
        let text = format!("{TRACE_MARKER}{delivery_id}");
        if embedded {
            TraceText::Embedded(text)
        } else {
            TraceText::Standard(text)
        }
    }

    /// The characters the trace font must have.
    pub(crate) fn text(&self) -> &str {
        match self {
            TraceText::Standard(t) | TraceText::Embedded(t) => t,
        }
    }

    fn operand(&self) -> String {
        match self {
            TraceText::Standard(t) => format!("({t})"),
            TraceText::Embedded(t) => format!("<{}>", utf16_hex(t)),
        }
    }
}

/// Text as the uppercase hex of its UTF-16BE code units (what [`crate::trace`] searches for).
pub(crate) fn utf16_hex(text: &str) -> String {
    text.encode_utf16().map(|u| format!("{u:04X}")).collect()
}

/// The invisible trace text alone, for the cover sheet.
pub(crate) fn trace_only(trace: &TraceText) -> String {
    format!(
        "BT 3 Tr /{TRACE_FONT} 2 Tf 1 0 0 1 2 1 Tm {} Tj ET\n",
        trace.operand()
    )
}

//! The cover sheet: heading, the citation and delivery as label/value rows, and the copyright
//! notices, laid out on a page the size of the document's first page. It produces a content
//! stream only; inserting the page is [`crate::stamp`]'s job.

use std::fmt::Write as _;

use crate::error::WatermarkError;
use crate::font::{FontSet, ShapedText, fmt_num};
use crate::layout::wrap;
use crate::spec::Stamp;
use crate::template::Placeholder;

/// One line to draw: its text, size, grey level and left edge.
struct Line {
    text: ShapedText,
    size: f32,
    grey: f32,
    x: f32,
    /// Distance from the previous baseline to this one.
    advance: f32,
}

enum Item {
    Line(Line),
    /// A horizontal rule, with the space it takes.
    Rule(f32),
}

/// Content-stream operators for the cover sheet of a `width` × `height` point page.
pub(crate) fn cover_content(
    stamp: &Stamp,
    fonts: &mut FontSet<'_>,
    width: f32,
    height: f32,
    page_count: u32,
) -> Result<String, WatermarkError> {
    // Sizes are set for a US Letter / A4 width and scaled with the page; a cover that would run
    // off the page is set smaller until it fits.
    let mut scale = (width / 595.0).clamp(0.5, 3.0);
    let margin = (width.min(height) * 0.09).max(18.0);
    let mut items = Vec::new();
    for _ in 0..12 {
        items = cover_items(
            stamp,
            fonts,
            width - 2.0 * margin,
            scale,
            margin,
            page_count,
        )?;
        let used: f32 = items
            .iter()
            .map(|i| match i {
                Item::Line(l) => l.advance,
                Item::Rule(h) => *h,
            })
            .sum();
        if used <= height - 2.0 * margin {
            break;
        }
        scale *= 0.9;
    }

    let mut ops = String::from("q\n");
    let mut y = height - margin;
    for item in &items {
        match item {
            Item::Rule(h) => {
                let mid = y - h / 2.0;
                let _ = writeln!(
                    ops,
                    "0.6 G {} w {} {} m {} {} l S",
                    fmt_num(0.75 * scale),
                    fmt_num(margin),
                    fmt_num(mid),
                    fmt_num(width - margin),
                    fmt_num(mid)
                );
                y -= h;
            }
            Item::Line(l) => {
                y -= l.advance;
                let _ = writeln!(
                    ops,
                    "BT {} g 1 0 0 1 {} {} Tm",
                    fmt_num(l.grey),
                    fmt_num(l.x),
                    fmt_num(y)
                );
                l.text.show_ops(l.size, &mut ops);
                ops.push_str("ET\n");
            }
        }
    }
    ops.push_str("Q\n");
    Ok(ops)
}

fn cover_items(
    stamp: &Stamp,
    fonts: &mut FontSet<'_>,
    text_width: f32,
    scale: f32,
    left: f32,
    page_count: u32,
) -> Result<Vec<Item>, WatermarkError> {
    let field = |p: Placeholder| stamp.field(p, None, page_count);
    let texts = &stamp.texts;
    let mut items = Vec::new();
    let push_wrapped = |fonts: &mut FontSet<'_>,
                        items: &mut Vec<Item>,
                        text: &str,
                        size: f32,
                        grey: f32,
                        x: f32,
                        w: f32,
                        space_before: f32|
     -> Result<(), WatermarkError> {
        for (i, text) in wrap(fonts, text, size, w)?.into_iter().enumerate() {
            let extra = if i == 0 { space_before } else { 0.0 };
            items.push(Item::Line(Line {
                text,
                size,
                grey,
                x,
                advance: size * 1.3 + extra,
            }));
        }
        Ok(())
    };

    let title = texts.cover_title.render(field);
    push_wrapped(
        fonts,
        &mut items,
        &title,
        20.0 * scale,
        0.0,
        left,
        text_width,
        0.0,
    )?;
    let subtitle = texts.cover_subtitle.render(field);
    if !subtitle.trim().is_empty() {
        push_wrapped(
            fonts,
            &mut items,
            &subtitle,
            10.5 * scale,
            0.3,
            left,
            text_width,
            2.0 * scale,
        )?;
    }
    items.push(Item::Rule(18.0 * scale));

    let label_size = 9.5 * scale;
    let value_size = 10.5 * scale;
    let rows: Vec<(String, String)> = texts
        .cover_rows
        .iter()
        .filter(|r| !r.value.all_fields_empty(field))
        .map(|r| (r.label.clone(), r.value.render(field)))
        .collect();
    let mut label_width: f32 = 0.0;
    for (label, _) in &rows {
        label_width = label_width.max(fonts.shape(label)?.width(label_size));
    }
    let label_width = (label_width + 12.0 * scale).min(text_width * 0.4);
    for (label, value) in &rows {
        let labels = wrap(fonts, label, label_size, label_width - 8.0 * scale)?;
        let values = wrap(fonts, value, value_size, text_width - label_width)?;
        let n = labels.len().max(values.len());
        let mut labels = labels.into_iter();
        let mut values = values.into_iter();
        for i in 0..n {
            let advance = value_size * 1.35 + if i == 0 { 3.0 * scale } else { 0.0 };
            // Label and value share a baseline: the label takes the advance, the value none.
            match labels.next() {
                Some(text) => items.push(Item::Line(Line {
                    text,
                    size: label_size,
                    grey: 0.35,
                    x: left,
                    advance,
                })),
                None => items.push(Item::Line(Line {
                    text: ShapedText::default(),
                    size: label_size,
                    grey: 0.0,
                    x: left,
                    advance,
                })),
            }
            if let Some(text) = values.next() {
                items.push(Item::Line(Line {
                    text,
                    size: value_size,
                    grey: 0.0,
                    x: left + label_width,
                    advance: 0.0,
                }));
            }
        }
    }
    items.push(Item::Rule(22.0 * scale));

    push_wrapped(
        fonts,
        &mut items,
        &texts.notice,
        11.0 * scale,
        0.0,
        left,
        text_width,
        0.0,
    )?;
    if let Some(long) = &texts.long_notice {
        let paragraphs: Vec<&str> = long
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        for (i, p) in paragraphs.iter().enumerate() {
            let p = p.split_whitespace().collect::<Vec<_>>().join(" ");
            let size = if i == 0 { 10.5 * scale } else { 9.5 * scale };
            push_wrapped(
                fonts,
                &mut items,
                &p,
                size,
                0.0,
                left,
                text_width,
                10.0 * scale,
            )?;
        }
    }
    Ok(items)
}

//! Stamping one document: plans every page's strip and overlay, builds the cover, embeds the
//! fonts once, rewrites the page tree and writes the trace ids. Page content streams and images
//! are never decoded or re-encoded; the overlay is appended as a separate content stream.

use std::collections::{HashMap, HashSet};

use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use crate::cover::cover_content;
use crate::error::WatermarkError;
use crate::font::{FontSet, read_fonts};
use crate::margin::{
    Diagonal, Strip, TRACE_FONT, TraceText, WATERMARK_GS, page_overlay, trace_only,
};
use crate::page::{
    Rect, display_matrix, display_size, grow_bottom, inherited, read_rect, rotation,
};
use crate::spec::Stamp;
use crate::trace::embed_metadata;

/// What will change on one page.
struct PagePlan {
    id: ObjectId,
    media: Rect,
    crop: Option<Rect>,
    overlay: String,
}

/// Stamps `input` as `stamp` describes and returns the new PDF.
///
/// The result has the cover sheet as its first page, a margin strip with the stamp below every
/// other page, the optional diagonal watermark, and the delivery id in the file identifier,
/// Info, XMP and invisible text on every page.
pub fn stamp_pdf(input: &[u8], stamp: &Stamp) -> Result<Vec<u8>, WatermarkError> {
    let size = stamp.texts.margin_font_size;
    // Written so that NaN is refused too.
    if size.partial_cmp(&8.0).is_none_or(|o| o.is_lt()) {
        return Err(WatermarkError::StampTooSmall { size });
    }
    let mut doc = Document::load_mem(input).map_err(|e| WatermarkError::UnreadablePdf {
        reason: e.to_string(),
    })?;
    if doc.is_encrypted() {
        return Err(WatermarkError::EncryptedPdf);
    }
    let pages: Vec<ObjectId> = doc.get_pages().into_values().collect();
    if pages.is_empty() {
        return Err(WatermarkError::NoPages);
    }
    let page_count = pages.len() as u32;
    let files = read_fonts(&stamp.fonts)?;
    let mut fonts = FontSet::new(&files)?;
    let id = stamp.delivery_id.as_str();
    // A PDF/A input stays PDF/A (crate::pdfa); a plain one is stamped as it always was.
    let pdfa = crate::pdfa::is_pdfa(&doc);
    let trace = TraceText::new(id, pdfa);

    let mut strips: Vec<Strip> = Vec::new();
    let mut strip_index: HashMap<(String, u32), usize> = HashMap::new();
    let mut plans = Vec::with_capacity(pages.len());
    let mut cover_size = None;
    for (i, &page_id) in pages.iter().enumerate() {
        let number = i as u32 + 1;
        let media_obj = inherited(&doc, page_id, b"MediaBox").ok_or(WatermarkError::BadPage {
            page: number,
            reason: "has no /MediaBox".into(),
        })?;
        let media = read_rect(&doc, media_obj, number, "MediaBox")?;
        let crop = match inherited(&doc, page_id, b"CropBox") {
            Some(obj) => Some(read_rect(&doc, obj, number, "CropBox")?),
            None => None,
        };
        let rotate = rotation(&doc, page_id);
        let visible = crop.unwrap_or(media);
        let (width, height) = display_size(visible, rotate);
        cover_size.get_or_insert((width, height));

        let text = stamp
            .texts
            .margin
            .render(|p| stamp.field(p, Some(number), page_count));
        let key = (text, width.to_bits());
        let strip = match strip_index.get(&key) {
            Some(&k) => &strips[k],
            None => {
                strips.push(Strip::layout(&mut fonts, &key.0, size, width)?);
                strip_index.insert(key, strips.len() - 1);
                strips.last().expect("just pushed")
            }
        };
        let diagonal = match &stamp.watermark {
            Some(w) => Some(Diagonal {
                text: fonts.shape(&w.text.render(|p| stamp.field(p, Some(number), page_count)))?,
            }),
            None => None,
        };
        let grown = grow_bottom(visible, rotate, strip.height);
        let (dw, dh) = display_size(grown, rotate);
        let overlay = page_overlay(
            display_matrix(grown, rotate),
            dw,
            dh,
            strip,
            diagonal.as_ref(),
            &trace,
        );
        let new_media = [
            media[0].min(grown[0]),
            media[1].min(grown[1]),
            media[2].max(grown[2]),
            media[3].max(grown[3]),
        ];
        plans.push(PagePlan {
            id: page_id,
            media: new_media,
            crop: crop.map(|_| grown),
            overlay,
        });
    }

    let (cover_w, cover_h) = cover_size.expect("at least one page");
    let mut cover_ops = cover_content(stamp, &mut fonts, cover_w, cover_h, page_count)?;
    cover_ops.push_str(&trace_only(&trace));

    let embedded = fonts.embed(&mut doc)?;
    let trace_font = match &files[..] {
        [primary, ..] if pdfa => crate::font::embed_trace_font(primary, trace.text(), &mut doc)?,
        _ => doc.add_object(Dictionary::from_iter([
            ("Type", Object::Name(b"Font".to_vec())),
            ("Subtype", Object::Name(b"Type1".to_vec())),
            ("BaseFont", Object::Name(b"Helvetica".to_vec())),
            ("Encoding", Object::Name(b"WinAnsiEncoding".to_vec())),
        ])),
    };
    let mut font_entries: Vec<(String, ObjectId)> = embedded;
    font_entries.push((TRACE_FONT.to_string(), trace_font));
    let gstate = stamp.watermark.as_ref().map(|w| {
        let a = Object::Real(w.opacity.clamp(0.02, 0.6));
        doc.add_object(Dictionary::from_iter([
            ("Type", Object::Name(b"ExtGState".to_vec())),
            ("ca", a.clone()),
            ("CA", a),
        ]))
    });

    let save_state = doc.add_object(Stream::new(Dictionary::new(), b"q\n".to_vec()));
    let mut overlays: HashMap<String, ObjectId> = HashMap::new();
    let mut resources_done = HashSet::new();
    for (i, plan) in plans.into_iter().enumerate() {
        let number = i as u32 + 1;
        let overlay_id = match overlays.get(&plan.overlay) {
            Some(&o) => o,
            None => {
                let mut s = Stream::new(
                    Dictionary::new(),
                    format!("Q\n{}", plan.overlay).into_bytes(),
                );
                let _ = s.compress();
                let o = doc.add_object(s);
                overlays.insert(plan.overlay, o);
                o
            }
        };
        let mut contents = vec![Object::Reference(save_state)];
        let page = doc
            .get_dictionary(plan.id)
            .map_err(|e| bad_page(number, e))?;
        match page.get(b"Contents") {
            Ok(Object::Reference(c)) => match doc.get_object(*c) {
                Ok(Object::Array(items)) => contents.extend(items.iter().cloned()),
                _ => contents.push(Object::Reference(*c)),
            },
            Ok(Object::Array(items)) => contents.extend(items.iter().cloned()),
            _ => {}
        }
        contents.push(Object::Reference(overlay_id));
        let page = doc
            .get_dictionary_mut(plan.id)
            .map_err(|e| bad_page(number, e))?;
        page.set("Contents", contents);
        page.set("MediaBox", rect_object(plan.media));
        if let Some(crop) = plan.crop {
            page.set("CropBox", rect_object(crop));
        }
        add_resources(
            &mut doc,
            plan.id,
            number,
            &font_entries,
            gstate,
            &mut resources_done,
        )?;
    }

    insert_cover(&mut doc, cover_w, cover_h, cover_ops, &font_entries)?;
    embed_metadata(&mut doc, &stamp.delivery_id, &stamp.texts.notice, pdfa)?;
    let title = stamp.citation.document_title();
    crate::trace::set_title(&mut doc, &title);
    if pdfa {
        crate::pdfa::refresh_metadata(&mut doc, Some(title.as_str()).filter(|t| !t.is_empty()));
    }

    let mut out = Vec::with_capacity(input.len() + 64 * 1024);
    doc.save_to(&mut out)
        .map_err(|e| WatermarkError::WriteFailed {
            reason: e.to_string(),
        })?;
    Ok(out)
}

fn bad_page(page: u32, e: lopdf::Error) -> WatermarkError {
    WatermarkError::BadPage {
        page,
        reason: e.to_string(),
    }
}

fn rect_object(r: Rect) -> Object {
    Object::Array(r.iter().map(|v| Object::Real(*v)).collect())
}

/// Makes the stamp's fonts (and the watermark's graphics state) available to a page. Resource
/// dictionaries are extended where they are, so pages that share one still share it.
fn add_resources(
    doc: &mut Document,
    page: ObjectId,
    number: u32,
    fonts: &[(String, ObjectId)],
    gstate: Option<ObjectId>,
    done: &mut HashSet<ObjectId>,
) -> Result<(), WatermarkError> {
    let res_id = match inherited(doc, page, b"Resources").cloned() {
        Some(Object::Reference(r)) => r,
        Some(Object::Dictionary(d)) => {
            let r = doc.add_object(d);
            doc.get_dictionary_mut(page)
                .map_err(|e| bad_page(number, e))?
                .set("Resources", r);
            r
        }
        _ => {
            let r = doc.add_object(Dictionary::new());
            doc.get_dictionary_mut(page)
                .map_err(|e| bad_page(number, e))?
                .set("Resources", r);
            r
        }
    };
    if !done.insert(res_id) {
        return Ok(());
    }
    let mut additions: Vec<(&[u8], String, ObjectId)> = fonts
        .iter()
        .map(|(name, id)| (&b"Font"[..], name.clone(), *id))
        .collect();
    if let Some(gs) = gstate {
        additions.push((b"ExtGState", WATERMARK_GS.to_string(), gs));
    }
    for (category, name, id) in additions {
        let resources = doc
            .get_dictionary(res_id)
            .map_err(|e| bad_page(number, e))?;
        match resources.get(category) {
            Ok(Object::Reference(sub)) => {
                let sub = *sub;
                doc.get_dictionary_mut(sub)
                    .map_err(|e| bad_page(number, e))?
                    .set(name, id);
            }
            Ok(Object::Dictionary(_)) => {
                let resources = doc
                    .get_dictionary_mut(res_id)
                    .map_err(|e| bad_page(number, e))?;
                let sub = resources
                    .get_mut(category)
                    .and_then(Object::as_dict_mut)
                    .map_err(|e| bad_page(number, e))?;
                sub.set(name, id);
            }
            _ => {
                let resources = doc
                    .get_dictionary_mut(res_id)
                    .map_err(|e| bad_page(number, e))?;
                resources.set(
                    category,
                    Dictionary::from_iter([(name, Object::Reference(id))]),
                );
            }
        }
    }
    Ok(())
}

fn insert_cover(
    doc: &mut Document,
    width: f32,
    height: f32,
    ops: String,
    fonts: &[(String, ObjectId)],
) -> Result<(), WatermarkError> {
    let broken = |what: &str| WatermarkError::UnreadablePdf {
        reason: format!("page tree: {what}"),
    };
    let root = doc
        .catalog()
        .and_then(|c| c.get(b"Pages"))
        .and_then(Object::as_reference)
        .map_err(|_| broken("the catalog has no /Pages"))?;
    let mut content = Stream::new(Dictionary::new(), ops.into_bytes());
    let _ = content.compress();
    let content = doc.add_object(content);
    let font_dict: Dictionary = fonts
        .iter()
        .map(|(n, id)| (n.clone(), Object::Reference(*id)))
        .collect();
    let cover = doc.add_object(Dictionary::from_iter([
        ("Type", Object::Name(b"Page".to_vec())),
        ("Parent", Object::Reference(root)),
        ("MediaBox", rect_object([0.0, 0.0, width, height])),
        ("Contents", Object::Reference(content)),
        (
            "Resources",
            Object::Dictionary(Dictionary::from_iter([(
                "Font",
                Object::Dictionary(font_dict),
            )])),
        ),
    ]));
    let pages = doc
        .get_dictionary_mut(root)
        .map_err(|_| broken("/Pages is not a dictionary"))?;
    let count = pages
        .get(b"Count")
        .and_then(Object::as_i64)
        .map_err(|_| broken("/Count missing"))?;
    pages.set("Count", count + 1);
    let kids = pages
        .get_mut(b"Kids")
        .and_then(Object::as_array_mut)
        .map_err(|_| broken("/Kids is not an array"))?;
    kids.insert(0, Object::Reference(cover));
    Ok(())
}

//! Unicode text in the stamp: choosing a font for each character (the primary font, then the
//! fallbacks in order), measuring it, and embedding the glyphs used as subset TrueType fonts
//! (Type0 / CIDFontType2, Identity-H, with a ToUnicode map so the text extracts as written).
//!
//! Subsetting is done by the `subsetter` crate (typst's, which renumbers glyphs densely and
//! makes glyph id = CID); `ttf-parser` reads the character maps and metrics. There is no
//! shaping: characters map one-to-one to glyphs, which is right for precomposed text in Latin,
//! Greek, Cyrillic, Vietnamese and CJK, but not for scripts that need contextual forms (Arabic,
//! Indic). A character that no font has is an error, never a blank box.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat};
use subsetter::GlyphRemapper;
use ttf_parser::{Face, GlyphId};
use unicode_normalization::UnicodeNormalization;

use crate::error::WatermarkError;
use crate::spec::FontSources;

/// A font file read into memory.
pub(crate) struct FontFile {
    path: PathBuf,
    data: Vec<u8>,
}

/// Reads every configured font file. This is the crate's only I/O.
pub(crate) fn read_fonts(sources: &FontSources) -> Result<Vec<FontFile>, WatermarkError> {
    sources
        .all()
        .map(|path| {
            std::fs::read(path)
                .map(|data| FontFile {
                    path: path.clone(),
                    data,
                })
                .map_err(|e| WatermarkError::FontUnreadable {
                    path: path.clone(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

struct LoadedFace<'a> {
    path: &'a Path,
    data: &'a [u8],
    face: Face<'a>,
    upem: f32,
    remapper: GlyphRemapper,
    /// New glyph id → (advance in 1/1000 em, the character it was chosen for).
    used: BTreeMap<u16, (f32, char)>,
}

/// A stretch of text in one font: the CIDs to show and their advance in 1/1000 em.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    font: usize,
    cids: Vec<u16>,
    advance: f32,
}

/// Text ready to draw: runs of glyphs, each in one font.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShapedText {
    runs: Vec<Run>,
}

impl ShapedText {
    /// Width in points at `size` points.
    pub(crate) fn width(&self, size: f32) -> f32 {
        self.runs.iter().map(|r| r.advance).sum::<f32>() * size / 1000.0
    }

    /// Content-stream operators showing this text at the current text position; must be used
    /// inside `BT … ET`.
    pub(crate) fn show_ops(&self, size: f32, out: &mut String) {
        for run in &self.runs {
            let _ = write!(out, "/{} {} Tf <", resource_name(run.font), fmt_num(size));
            for cid in &run.cids {
                let _ = write!(out, "{cid:04X}");
            }
            out.push_str("> Tj\n");
        }
    }
}

pub(crate) fn resource_name(font: usize) -> String {
    format!("QuireF{font}")
}

/// Numbers in content streams: short, and never in exponent notation.
pub(crate) fn fmt_num(v: f32) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// The fonts of one stamping run, recording which glyphs were used.
pub(crate) struct FontSet<'a> {
    faces: Vec<LoadedFace<'a>>,
}

impl<'a> FontSet<'a> {
    pub(crate) fn new(files: &'a [FontFile]) -> Result<Self, WatermarkError> {
        let faces = files
            .iter()
            .map(|f| {
                let face = Face::parse(&f.data, 0).map_err(|e| WatermarkError::FontUnreadable {
                    path: f.path.clone(),
                    reason: format!("not a TrueType/OpenType font: {e}"),
                })?;
                Ok(LoadedFace {
                    path: &f.path,
                    data: &f.data,
                    upem: f32::from(face.units_per_em().max(1)),
                    face,
                    remapper: GlyphRemapper::new(),
                    used: BTreeMap::new(),
                })
            })
            .collect::<Result<Vec<_>, WatermarkError>>()?;
        Ok(Self { faces })
    }

    /// Maps `text` to glyphs, one per character, taking each character from the first font that
    /// has it. Line breaks and tabs become spaces; other control characters are dropped.
    ///
    /// Text is composed (NFC) first: a name typed as `e` + combining marks then uses the font's
    /// precomposed `ễ`, which is drawn properly without shaping and extracts as one character.
    pub(crate) fn shape(&mut self, text: &str) -> Result<ShapedText, WatermarkError> {
        let mut shaped = ShapedText::default();
        for ch in text.nfc() {
            let ch = match ch {
                '\n' | '\r' | '\t' => ' ',
                c if c.is_control() => continue,
                c => c,
            };
            let found = self
                .faces
                .iter()
                .position(|f| f.face.glyph_index(ch).is_some_and(|g| g.0 != 0));
            let Some(font) = found else {
                return Err(WatermarkError::MissingGlyph {
                    ch,
                    code: u32::from(ch),
                    context: text.chars().take(80).collect(),
                    fonts: self
                        .faces
                        .iter()
                        .map(|f| f.path.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            let lf = &mut self.faces[font];
            let old = lf.face.glyph_index(ch).expect("checked above");
            let advance = f32::from(lf.face.glyph_hor_advance(old).unwrap_or(0)) * 1000.0 / lf.upem;
            let cid = lf.remapper.remap(old.0);
            lf.used.entry(cid).or_insert((advance, ch));
            match shaped.runs.last_mut() {
                Some(run) if run.font == font => {
                    run.cids.push(cid);
                    run.advance += advance;
                }
                _ => shaped.runs.push(Run {
                    font,
                    cids: vec![cid],
                    advance,
                }),
            }
        }
        Ok(shaped)
    }

    /// Writes the fonts that were used into `doc`, returning their resource names and objects.
    pub(crate) fn embed(
        &self,
        doc: &mut Document,
    ) -> Result<Vec<(String, ObjectId)>, WatermarkError> {
        let mut out = Vec::new();
        for (i, lf) in self.faces.iter().enumerate() {
            if lf.used.is_empty() {
                continue;
            }
            out.push((resource_name(i), embed_face(lf, doc)?));
        }
        Ok(out)
    }
}

fn embed_face(lf: &LoadedFace<'_>, doc: &mut Document) -> Result<ObjectId, WatermarkError> {
    let subset =
        subsetter::subset(lf.data, 0, &lf.remapper).map_err(|e| WatermarkError::FontSubset {
            path: lf.path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let face = &lf.face;
    let base_font = format!("{}+{}", subset_tag(lf.used.keys()), postscript_name(face));
    let descriptor_id = embed_program(face, lf.upem, subset, &base_font, doc)?;

    // The subset numbers glyphs 0..n densely, so one W entry covers them all.
    let notdef = f32::from(face.glyph_hor_advance(GlyphId(0)).unwrap_or(0)) * 1000.0 / lf.upem;
    let mut widths = vec![Object::Real(notdef)];
    let count = lf.remapper.num_gids();
    for cid in 1..count {
        widths.push(Object::Real(lf.used.get(&cid).map_or(0.0, |(w, _)| *w)));
    }
    let cid_font = cid_font_dict(
        &base_font,
        descriptor_id,
        Object::Array(vec![0.into(), Object::Array(widths)]),
        Object::Name(b"Identity".to_vec()),
    );
    type0(doc, base_font, cid_font, &lf.used)
}

/// The font of the invisible trace text in a PDF/A copy: a subset of `file` in which each
/// character's CID is its own code point, so that the text is its UTF-16BE code units in the
/// content stream (what [`crate::trace`] looks for), mapped to glyphs by a CIDToGIDMap.
/// PDF/A wants every font embedded; the plain copy keeps using the standard Helvetica.
pub(crate) fn embed_trace_font(
    file: &FontFile,
    text: &str,
    doc: &mut Document,
) -> Result<ObjectId, WatermarkError> {
    let face = Face::parse(&file.data, 0).map_err(|e| WatermarkError::FontUnreadable {
        path: file.path.clone(),
        reason: format!("not a TrueType/OpenType font: {e}"),
    })?;
    let upem = f32::from(face.units_per_em().max(1));
    let mut remapper = GlyphRemapper::new();
    // CID (= code point) → (new glyph id, advance in 1/1000 em, character).
    let mut glyphs: BTreeMap<u16, (u16, f32, char)> = BTreeMap::new();
    for ch in text.chars() {
        let missing = || WatermarkError::MissingGlyph {
            ch,
            code: u32::from(ch),
            context: text.to_string(),
            fonts: file.path.display().to_string(),
        };
        let cid = u16::try_from(u32::from(ch)).map_err(|_| missing())?;
        let old = face
            .glyph_index(ch)
            .filter(|g| g.0 != 0)
            .ok_or_else(missing)?;
        let advance = f32::from(face.glyph_hor_advance(old).unwrap_or(0)) * 1000.0 / upem;
        glyphs.insert(cid, (remapper.remap(old.0), advance, ch));
    }
    let subset =
        subsetter::subset(&file.data, 0, &remapper).map_err(|e| WatermarkError::FontSubset {
            path: file.path.clone(),
            reason: e.to_string(),
        })?;
    let base_font = format!("{}+{}", subset_tag(glyphs.keys()), postscript_name(&face));
    let descriptor_id = embed_program(&face, upem, subset, &base_font, doc)?;

    let last = glyphs.keys().next_back().copied().unwrap_or(0);
    let mut map = vec![0u8; 2 * (usize::from(last) + 1)];
    let mut widths = Vec::new();
    for (&cid, &(gid, advance, _)) in &glyphs {
        map[2 * usize::from(cid)..][..2].copy_from_slice(&gid.to_be_bytes());
        widths.push(Object::from(i64::from(cid)));
        widths.push(Object::Array(vec![Object::Real(advance)]));
    }
    let mut map = Stream::new(Dictionary::new(), map);
    map.compress().map_err(|e| WatermarkError::WriteFailed {
        reason: e.to_string(),
    })?;
    let map_id = doc.add_object(map);
    let mut cid_font = cid_font_dict(
        &base_font,
        descriptor_id,
        Object::Array(widths),
        Object::Reference(map_id),
    );
    // CIDs no text uses are .notdef, as wide as the font says.
    let notdef = f32::from(face.glyph_hor_advance(GlyphId(0)).unwrap_or(0)) * 1000.0 / upem;
    cid_font.set("DW", Object::Real(notdef));
    let used = glyphs
        .iter()
        .map(|(&cid, &(_, w, ch))| (cid, (w, ch)))
        .collect();
    type0(doc, base_font, cid_font, &used)
}

/// The font program and its descriptor.
fn embed_program(
    face: &Face<'_>,
    upem: f32,
    subset: Vec<u8>,
    base_font: &str,
    doc: &mut Document,
) -> Result<ObjectId, WatermarkError> {
    let scale = |v: i16| f32::from(v) * 1000.0 / upem;
    let mut file = Stream::new(
        Dictionary::from_iter([("Length1", Object::from(subset.len() as i64))]),
        subset,
    );
    file.compress().map_err(|e| WatermarkError::WriteFailed {
        reason: e.to_string(),
    })?;
    let file_id = doc.add_object(file);

    let bbox = face.global_bounding_box();
    let descriptor = Dictionary::from_iter([
        ("Type", Object::Name(b"FontDescriptor".to_vec())),
        ("FontName", Object::Name(base_font.as_bytes().to_vec())),
        ("Flags", 4.into()),
        (
            "FontBBox",
            Object::Array(
                [bbox.x_min, bbox.y_min, bbox.x_max, bbox.y_max]
                    .iter()
                    .map(|v| Object::Real(scale(*v)))
                    .collect(),
            ),
        ),
        ("ItalicAngle", 0.into()),
        ("Ascent", Object::Real(scale(face.ascender()))),
        ("Descent", Object::Real(scale(face.descender()))),
        (
            "CapHeight",
            Object::Real(scale(face.capital_height().unwrap_or(face.ascender()))),
        ),
        ("StemV", 80.into()),
        ("FontFile2", Object::Reference(file_id)),
    ]);
    Ok(doc.add_object(descriptor))
}

fn cid_font_dict(
    base_font: &str,
    descriptor_id: ObjectId,
    widths: Object,
    cid_to_gid: Object,
) -> Dictionary {
    Dictionary::from_iter([
        ("Type", Object::Name(b"Font".to_vec())),
        ("Subtype", Object::Name(b"CIDFontType2".to_vec())),
        ("BaseFont", Object::Name(base_font.as_bytes().to_vec())),
        (
            "CIDSystemInfo",
            Object::Dictionary(Dictionary::from_iter([
                (
                    "Registry",
                    Object::String(b"Adobe".to_vec(), StringFormat::Literal),
                ),
                (
                    "Ordering",
                    Object::String(b"Identity".to_vec(), StringFormat::Literal),
                ),
                ("Supplement", 0.into()),
            ])),
        ),
        ("FontDescriptor", Object::Reference(descriptor_id)),
        ("W", widths),
        ("CIDToGIDMap", cid_to_gid),
    ])
}

/// The Type0 font over `cid_font`, with a ToUnicode map of the CIDs in `used`.
fn type0(
    doc: &mut Document,
    base_font: String,
    cid_font: Dictionary,
    used: &BTreeMap<u16, (f32, char)>,
) -> Result<ObjectId, WatermarkError> {
    let cid_font_id = doc.add_object(cid_font);
    let mut to_unicode = Stream::new(Dictionary::new(), to_unicode_cmap(used).into_bytes());
    to_unicode
        .compress()
        .map_err(|e| WatermarkError::WriteFailed {
            reason: e.to_string(),
        })?;
    let to_unicode_id = doc.add_object(to_unicode);

    Ok(doc.add_object(Dictionary::from_iter([
        ("Type", Object::Name(b"Font".to_vec())),
        ("Subtype", Object::Name(b"Type0".to_vec())),
        ("BaseFont", Object::Name(base_font.into_bytes())),
        ("Encoding", Object::Name(b"Identity-H".to_vec())),
        (
            "DescendantFonts",
            Object::Array(vec![Object::Reference(cid_font_id)]),
        ),
        ("ToUnicode", Object::Reference(to_unicode_id)),
    ])))
}

fn postscript_name(face: &Face<'_>) -> String {
    let name = face
        .names()
        .into_iter()
        .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
        .find_map(|n| n.to_string())
        .unwrap_or_else(|| "QuireFont".into());
    // A PDF name must not need escaping to be a readable BaseFont.
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// The six-letter subset prefix the PDF spec asks for, derived from the glyph set so the same
/// glyphs always give the same name.
fn subset_tag<'b>(cids: impl Iterator<Item = &'b u16>) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for cid in cids {
        for b in cid.to_be_bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    }
    (0..6)
        .map(|i| {
            let letter = (h >> (i * 5)) % 26;
            char::from(b'A' + letter as u8)
        })
        .collect()
}

fn to_unicode_cmap(used: &BTreeMap<u16, (f32, char)>) -> String {
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<_> = used.iter().collect();
    // A bfchar block may hold at most 100 entries.
    for chunk in entries.chunks(100) {
        let _ = writeln!(s, "{} beginbfchar", chunk.len());
        for (cid, (_, ch)) in chunk {
            let mut utf16 = [0u16; 2];
            let hex: String = ch
                .encode_utf16(&mut utf16)
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            let _ = writeln!(s, "<{cid:04X}> <{hex}>");
        }
        s.push_str("endbfchar\n");
    }
    s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_plain() {
        assert_eq!(fmt_num(8.0), "8");
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(-0.0001), "0");
        assert_eq!(fmt_num(12.3456), "12.346");
    }

    #[test]
    fn to_unicode_uses_surrogate_pairs_beyond_the_bmp() {
        let used = BTreeMap::from([(1u16, (500.0, 'A')), (2, (500.0, '𝄞'))]);
        let cmap = to_unicode_cmap(&used);
        assert!(cmap.contains("<0001> <0041>"));
        assert!(cmap.contains("<0002> <D834DD1E>"), "{cmap}");
    }
}

//! The invisible text layer's font: a glyphless TrueType font embedded as a CID font, with a
//! ToUnicode map so copy and paste and `pdftotext` return the real text, diacritics included.
//!
//! Text is shown with 2-byte codes equal to the Unicode code point (BMP only); every code maps
//! to the one empty glyph, so the font never needs to know a script. The glyph program is
//! tesseract's own `pdf.ttf`, read from the tessdata folder that OCR needs anyway.

use std::path::{Path, PathBuf};

use lopdf::{Dictionary, Object};

use super::writer::{PdfWriter, deflate};

/// Advance width of every glyph, in 1/1000 em; text placement stretches words with `Tz`.
pub const GLYPH_WIDTH: f32 = 500.0;
/// Ascent and descent, in 1/1000 em, that viewers use for selection and highlight boxes. They add
/// up to one em, so a word set at its box height gets a box of exactly that height.
pub const ASCENT: i64 = 650;
pub const DESCENT: i64 = -350;

pub struct GlyphlessFont {
    ttf: Vec<u8>,
}

/// Where tesseract keeps its data when not told otherwise (Debian, other distros, source builds).
const TESSDATA_GUESSES: &[&str] = &[
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
];

/// The tessdata folders to look in, most specific first.
pub fn tessdata_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = explicit {
        dirs.push(dir.to_owned());
    }
    if let Some(prefix) = std::env::var_os("TESSDATA_PREFIX") {
        let prefix = PathBuf::from(prefix);
        dirs.push(prefix.join("tessdata"));
        dirs.push(prefix);
    }
    dirs.extend(TESSDATA_GUESSES.iter().map(PathBuf::from));
    dirs
}

impl GlyphlessFont {
    pub fn load(tessdata: Option<&Path>) -> std::io::Result<GlyphlessFont> {
        for dir in tessdata_candidates(tessdata) {
            if let Ok(ttf) = std::fs::read(dir.join("pdf.ttf")) {
                return Ok(GlyphlessFont { ttf });
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "tesseract's glyphless font pdf.ttf was not found in any tessdata folder \
             (set TESSDATA_PREFIX or processing.tessdata_dir)",
        ))
    }

    /// Write the font's objects; returns the id of the Type0 font to put in page resources.
    pub(crate) fn write<W: std::io::Write>(&self, w: &mut PdfWriter<W>) -> std::io::Result<u32> {
        let mut file_dict = Dictionary::new();
        file_dict.set("Length1", Object::Integer(self.ttf.len() as i64));
        let file_id = w.add_stream(file_dict, self.ttf.clone())?;

        let mut descriptor = Dictionary::new();
        descriptor.set("Type", Object::Name(b"FontDescriptor".to_vec()));
        descriptor.set("FontName", Object::Name(b"GlyphLessFont".to_vec()));
        descriptor.set("Flags", Object::Integer(5));
        descriptor.set(
            "FontBBox",
            Object::Array(vec![
                0.into(),
                DESCENT.into(),
                Object::Integer(GLYPH_WIDTH as i64),
                ASCENT.into(),
            ]),
        );
        descriptor.set("ItalicAngle", Object::Integer(0));
        descriptor.set("Ascent", Object::Integer(ASCENT));
        descriptor.set("Descent", Object::Integer(DESCENT));
        descriptor.set("CapHeight", Object::Integer(ASCENT));
        descriptor.set("StemV", Object::Integer(80));
        descriptor.set("FontFile2", Object::Reference((file_id, 0)));
        let descriptor_id = w.add(&Object::Dictionary(descriptor))?;

        // Every CID → glyph 1, the font's one (empty) glyph.
        let map: Vec<u8> = std::iter::repeat_n([0u8, 1u8], 65536).flatten().collect();
        let mut map_dict = Dictionary::new();
        map_dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        let map_id = w.add_stream(map_dict, deflate(&map))?;

        let mut system_info = Dictionary::new();
        system_info.set("Registry", Object::string_literal("Adobe"));
        system_info.set("Ordering", Object::string_literal("Identity"));
        system_info.set("Supplement", Object::Integer(0));
        let mut cid_font = Dictionary::new();
        cid_font.set("Type", Object::Name(b"Font".to_vec()));
        cid_font.set("Subtype", Object::Name(b"CIDFontType2".to_vec()));
        cid_font.set("BaseFont", Object::Name(b"GlyphLessFont".to_vec()));
        cid_font.set("CIDSystemInfo", Object::Dictionary(system_info));
        cid_font.set("FontDescriptor", Object::Reference((descriptor_id, 0)));
        cid_font.set("DW", Object::Integer(GLYPH_WIDTH as i64));
        cid_font.set("CIDToGIDMap", Object::Reference((map_id, 0)));
        let cid_id = w.add(&Object::Dictionary(cid_font))?;

        let mut tu_dict = Dictionary::new();
        tu_dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        let tu_id = w.add_stream(tu_dict, deflate(to_unicode_cmap().as_bytes()))?;

        let mut font = Dictionary::new();
        font.set("Type", Object::Name(b"Font".to_vec()));
        font.set("Subtype", Object::Name(b"Type0".to_vec()));
        font.set("BaseFont", Object::Name(b"GlyphLessFont".to_vec()));
        font.set("Encoding", Object::Name(b"Identity-H".to_vec()));
        font.set(
            "DescendantFonts",
            Object::Array(vec![Object::Reference((cid_id, 0))]),
        );
        font.set("ToUnicode", Object::Reference((tu_id, 0)));
        w.add(&Object::Dictionary(font))
    }
}

/// Code = Unicode code point. A bfrange may only vary in its last byte, hence 256 ranges.
fn to_unicode_cmap() -> String {
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    // Surrogate halves (D8–DF) are not characters; leave them unmapped.
    let highs: Vec<u32> = (0..=0xFFu32)
        .filter(|h| !(0xD8..=0xDF).contains(h))
        .collect();
    for chunk in highs.chunks(100) {
        s.push_str(&format!("{} beginbfrange\n", chunk.len()));
        for h in chunk {
            s.push_str(&format!("<{h:02X}00> <{h:02X}FF> <{h:02X}00>\n"));
        }
        s.push_str("endbfrange\n");
    }
    s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    s
}

/// Encode text for `Tj` with this font: UTF-16 code units, non-BMP characters replaced.
pub fn encode_text(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for c in text.chars() {
        let code = u32::from(c);
        let unit = if code > 0xFFFF || (0xD800..=0xDFFF).contains(&code) {
            0xFFFD
        } else {
            code as u16
        };
        out.extend_from_slice(&unit.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_two_byte_code_points() {
        assert_eq!(encode_text("Aé"), vec![0x00, 0x41, 0x00, 0xE9]);
        assert_eq!(encode_text("😀"), vec![0xFF, 0xFD]);
    }

    #[test]
    fn cmap_ranges_cover_the_bmp_but_surrogates() {
        let cmap = to_unicode_cmap();
        assert!(cmap.contains("<0000> <00FF> <0000>"));
        assert!(cmap.contains("<FF00> <FFFF> <FF00>"));
        assert!(!cmap.contains("<D800>"));
        assert_eq!(cmap.matches("beginbfrange").count(), 3);
    }
}

//! The invisible text layer's font: a glyphless TrueType font embedded as a CID font, with a
//! ToUnicode map so copy and paste and `pdftotext` return the real text, diacritics included.
//!
//! Text is shown with 2-byte codes (Identity-H). A character of the Basic Multilingual Plane is
//! its own code; a character beyond it gets one of the codes D800–DFFF, which no character uses,
//! and a page that needs them gets its own copy of the font's top dictionary whose ToUnicode map
//! says what they stand for. Every code maps to the one empty glyph, so the font never needs to
//! know a script. (4-byte codes would be simpler on paper, but poppler reads a CID font's
//! ToUnicode codes as 16-bit and drops longer ones.) The glyph program is
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

    /// Write the font's objects; returns the ids pages refer to.
    pub(crate) fn write<W: std::io::Write>(
        &self,
        w: &mut PdfWriter<W>,
    ) -> std::io::Result<FontObjects> {
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

        let font = write_type0(w, cid_id, &[])?;
        Ok(FontObjects {
            font,
            descendant: cid_id,
        })
    }
}

/// The font as written into one file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FontObjects {
    /// The Type0 font for pages whose text stays within the BMP.
    pub font: u32,
    /// The CID font every Type0 copy shares, with the glyph program.
    pub descendant: u32,
}

/// A Type0 font over `descendant` whose ToUnicode also maps the codes of `supplementary`.
pub(crate) fn write_type0<W: std::io::Write>(
    w: &mut PdfWriter<W>,
    descendant: u32,
    supplementary: &[char],
) -> std::io::Result<u32> {
    let mut tu_dict = Dictionary::new();
    tu_dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
    let tu_id = w.add_stream(tu_dict, deflate(to_unicode_cmap(supplementary).as_bytes()))?;

    let mut font = Dictionary::new();
    font.set("Type", Object::Name(b"Font".to_vec()));
    font.set("Subtype", Object::Name(b"Type0".to_vec()));
    font.set("BaseFont", Object::Name(b"GlyphLessFont".to_vec()));
    font.set("Encoding", Object::Name(b"Identity-H".to_vec()));
    font.set(
        "DescendantFonts",
        Object::Array(vec![Object::Reference((descendant, 0))]),
    );
    font.set("ToUnicode", Object::Reference((tu_id, 0)));
    w.add(&Object::Dictionary(font))
}

/// The first code given to supplementary characters, and how many there are.
const SUPPLEMENTARY_CODES: u16 = 0xD800;
const SUPPLEMENTARY_COUNT: usize = 0x800;

/// BMP codes are their code points; a bfrange may only vary in its last byte, hence one per
/// high byte. Supplementary codes map to their characters' surrogate pairs.
fn to_unicode_cmap(supplementary: &[char]) -> String {
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let highs: Vec<String> = (0..=0xFFu32)
        .filter(|h| !(0xD8..=0xDF).contains(h))
        .map(|h| format!("<{h:02X}00> <{h:02X}FF> <{h:02X}00>"))
        .collect();
    blocks(&mut s, "bfrange", &highs);
    let chars: Vec<String> = supplementary
        .iter()
        .zip(SUPPLEMENTARY_CODES..)
        .map(|(&c, code)| {
            let mut units = [0u16; 2];
            let utf16: String = c
                .encode_utf16(&mut units)
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            format!("<{code:04X}> <{utf16}>")
        })
        .collect();
    blocks(&mut s, "bfchar", &chars);
    s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    s
}

/// Write `entries` as CMap blocks of at most 100 lines, as the format requires.
fn blocks(s: &mut String, keyword: &str, entries: &[String]) {
    for chunk in entries.chunks(100) {
        s.push_str(&format!("{} begin{keyword}\n", chunk.len()));
        for entry in chunk {
            s.push_str(entry);
            s.push('\n');
        }
        s.push_str(&format!("end{keyword}\n"));
    }
}

/// Encodes one page's text for `Tj` with this font, giving supplementary characters codes in
/// order of first use.
#[derive(Debug, Default)]
pub struct PageEncoding {
    /// The supplementary characters met so far; the i-th has code D800 + i.
    pub supplementary: Vec<char>,
}

impl PageEncoding {
    pub fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let code = match u16::try_from(u32::from(c)) {
                Ok(code) => code,
                Err(_) => self.supplementary_code(c),
            };
            out.extend_from_slice(&code.to_be_bytes());
        }
        out
    }

    fn supplementary_code(&mut self, c: char) -> u16 {
        let index = match self.supplementary.iter().position(|&k| k == c) {
            Some(i) => i,
            None if self.supplementary.len() < SUPPLEMENTARY_COUNT => {
                self.supplementary.push(c);
                self.supplementary.len() - 1
            }
            // More distinct supplementary characters than free codes on one page: no real page
            // has that many, and a replacement character keeps the rest of the text intact.
            None => return 0xFFFD,
        };
        SUPPLEMENTARY_CODES + index as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bmp_text_is_its_code_points_and_supplementary_characters_get_free_codes() {
        let mut page = PageEncoding::default();
        assert_eq!(page.encode("Aé"), vec![0x00, 0x41, 0x00, 0xE9]);
        assert_eq!(
            page.encode("😀x𠀋😀"),
            vec![0xD8, 0x00, 0, 0x78, 0xD8, 0x01, 0xD8, 0x00]
        );
        assert_eq!(page.supplementary, vec!['😀', '𠀋']);
    }

    #[test]
    fn codes_run_out_into_the_replacement_character() {
        let mut page = PageEncoding::default();
        let many: String = (0x1F000..0x1F000 + SUPPLEMENTARY_COUNT as u32 + 1)
            .filter_map(char::from_u32)
            .collect();
        let codes = page.encode(&many);
        assert_eq!(page.supplementary.len(), SUPPLEMENTARY_COUNT);
        assert_eq!(&codes[codes.len() - 4..], &[0xDF, 0xFF, 0xFF, 0xFD]);
    }

    #[test]
    fn cmap_ranges_cover_the_bmp_but_surrogates_and_map_supplementary_codes_to_pairs() {
        let cmap = to_unicode_cmap(&[]);
        assert!(cmap.contains("<0000> <00FF> <0000>"));
        assert!(cmap.contains("<FF00> <FFFF> <FF00>"));
        assert!(!cmap.contains("<D800>"));
        assert_eq!(cmap.matches("beginbfrange").count(), 3);
        assert!(!cmap.contains("bfchar"));
        let cmap = to_unicode_cmap(&['😀', '𠀋']);
        assert!(
            cmap.contains("2 beginbfchar\n<D800> <D83DDE00>\n<D801> <D840DC0B>\nendbfchar\n"),
            "{cmap}"
        );
    }
}

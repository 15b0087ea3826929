//! Streaming PDF writer: objects go to the output as soon as they exist; the xref table and
//! trailer close the file. The SHA-256 of the file is computed on the way out.

use std::io::Write;

use lopdf::{Dictionary, Object, Stream};
use sha2::{Digest, Sha256};

use super::font::{FontObjects, GlyphlessFont, write_type0};
use super::image_encode::EncodedImage;
use super::pdfa::{self, DeviceColour, OutputType};
use super::text_layer::TextLayer;

/// What a finished file is.
#[derive(Debug, Clone)]
pub struct WrittenPdf {
    pub bytes: u64,
    pub sha256: String,
    pub pages: usize,
}

/// Hashes and counts everything written through it.
struct Tally<W: Write> {
    inner: W,
    written: u64,
    hash: Sha256,
}

impl<W: Write> Write for Tally<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Metadata for the Info dictionary.
#[derive(Debug, Clone)]
pub struct DocumentInfo {
    pub title: String,
    pub producer: String,
    pub created: time::OffsetDateTime,
    /// The document's language for screen readers (`/Lang`, BCP 47), from the OCR languages
    /// ([`pdf_lang`]); `None` leaves it unstated.
    pub lang: Option<String>,
}

/// The BCP 47 tag of the first of tesseract's languages (`eng+deu` → `en`), for `/Lang`.
/// Only languages whose tag is certain are named; others leave `/Lang` out rather than guess.
pub fn pdf_lang(tesseract_languages: &str) -> Option<String> {
    let first = tesseract_languages.split('+').next()?.trim();
    let tag = match first {
        "eng" => "en",
        "deu" => "de",
        "fra" => "fr",
        "spa" => "es",
        "ita" => "it",
        "por" => "pt",
        "nld" => "nl",
        "swe" => "sv",
        "dan" => "da",
        "nor" => "no",
        "fin" => "fi",
        "pol" => "pl",
        "ces" => "cs",
        "hun" => "hu",
        "tur" => "tr",
        "rus" => "ru",
        "ukr" => "uk",
        "ell" => "el",
        "grc" => "grc",
        "lat" => "la",
        "heb" => "he",
        "ara" => "ar",
        "jpn" => "ja",
        "kor" => "ko",
        "chi_sim" => "zh-Hans",
        "chi_tra" => "zh-Hant",
        _ => return None,
    };
    Some(tag.to_string())
}

pub struct PdfWriter<W: Write> {
    out: Tally<W>,
    /// Byte offset of each object, by object number − 1; 0 while reserved but unwritten.
    offsets: Vec<u64>,
    pages_id: u32,
    page_ids: Vec<u32>,
    font: FontObjects,
    output_type: OutputType,
    /// The most demanding device colour of the page images so far: what the PDF/A
    /// OutputIntent's profile must cover.
    colour: DeviceColour,
}

impl<W: Write> PdfWriter<W> {
    /// Start a file and write the shared font.
    pub fn new(inner: W, font: &GlyphlessFont) -> std::io::Result<Self> {
        let mut out = Tally {
            inner,
            written: 0,
            hash: Sha256::new(),
        };
        // The binary comment marks the file as binary for transfer tools, as the spec advises.
        out.write_all(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n")?;
        let mut w = PdfWriter {
            out,
            offsets: Vec::new(),
            pages_id: 0,
            page_ids: Vec::new(),
            // Replaced just below, once the writer exists to write the font with.
            font: FontObjects {
                font: 0,
                descendant: 0,
            },
            output_type: OutputType::Pdf,
            colour: DeviceColour::Grey,
        };
        w.pages_id = w.reserve();
        w.font = font.write(&mut w)?;
        Ok(w)
    }

    /// Write `output_type`: PDF/A-2b adds its OutputIntent, XMP packet and file identifier
    /// when the file is finished, and refuses page images it cannot hold. Plain PDF unless set.
    pub fn with_output_type(mut self, output_type: OutputType) -> Self {
        self.output_type = output_type;
        self
    }

    /// Allocate an object number to be written later.
    pub fn reserve(&mut self) -> u32 {
        self.offsets.push(0);
        self.offsets.len() as u32
    }

    pub fn write_object(&mut self, id: u32, object: &Object) -> std::io::Result<()> {
        self.offsets[id as usize - 1] = self.out.written;
        writeln!(self.out, "{id} 0 obj")?;
        lopdf::Writer::write_object(&mut self.out, object)?;
        self.out.write_all(b"\nendobj\n")
    }

    /// Write a new object and return its number.
    pub fn add(&mut self, object: &Object) -> std::io::Result<u32> {
        let id = self.reserve();
        self.write_object(id, object)?;
        Ok(id)
    }

    pub fn add_stream(&mut self, mut dict: Dictionary, data: Vec<u8>) -> std::io::Result<u32> {
        dict.set("Length", Object::Integer(data.len() as i64));
        // allows_compression false: lopdf must not touch bytes we already encoded.
        let stream = Stream::new(dict, data).with_compression(false);
        self.add(&Object::Stream(stream))
    }

    /// Add one page: `image` drawn over the whole `size` (points), `text` (content operators
    /// for the invisible text layer) over it. Returns the bytes this page added to the file.
    pub fn add_page(
        &mut self,
        image: EncodedImage,
        size: (f32, f32),
        text: &TextLayer,
    ) -> std::io::Result<u64> {
        let before = self.out.written;
        let mut dict = image.dict;
        if image.icc_profile.is_none() {
            let colour = pdfa::device_colour(&dict);
            if self.output_type == OutputType::Pdfa && colour == DeviceColour::Cmyk {
                // The pipeline re-encodes such images for PDF/A (page_steps); this is the
                // writer's own guard against a file that would claim PDF/A and not be it.
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a DeviceCMYK image cannot go into a PDF/A file with an RGB or grey intent",
                ));
            }
            self.colour = self.colour.max(colour);
        }
        if self.output_type == OutputType::Pdfa {
            // PDF/A-2 6.2.8: /Interpolate must be absent or false.
            dict.remove(b"Interpolate");
        }
        if let Some(profile) = image.icc_profile {
            let icc_id = self.add_stream(profile.dict, profile.content)?;
            dict.set(
                "ColorSpace",
                Object::Array(vec![
                    Object::Name(b"ICCBased".to_vec()),
                    Object::Reference((icc_id, 0)),
                ]),
            );
        }
        dict.set("Type", Object::Name(b"XObject".to_vec()));
        dict.set("Subtype", Object::Name(b"Image".to_vec()));
        let image_id = self.add_stream(dict, image.data)?;

        let (w, h) = size;
        let mut content = format!("q\n{} 0 0 {} 0 0 cm\n/Im0 Do\nQ\n", num(w), num(h)).into_bytes();
        content.extend_from_slice(&text.ops);
        let mut content_dict = Dictionary::new();
        let compressed = deflate(&content);
        content_dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        let content_id = self.add_stream(content_dict, compressed)?;

        let mut xobjects = Dictionary::new();
        xobjects.set("Im0", Object::Reference((image_id, 0)));
        let mut fonts = Dictionary::new();
        let font_id = if text.supplementary.is_empty() {
            self.font.font
        } else {
            write_type0(self, self.font.descendant, &text.supplementary)?
        };
        fonts.set("F0", Object::Reference((font_id, 0)));
        let mut resources = Dictionary::new();
        resources.set("XObject", Object::Dictionary(xobjects));
        resources.set("Font", Object::Dictionary(fonts));
        let mut page = Dictionary::new();
        page.set("Type", Object::Name(b"Page".to_vec()));
        page.set("Parent", Object::Reference((self.pages_id, 0)));
        page.set(
            "MediaBox",
            Object::Array(vec![
                0.into(),
                0.into(),
                Object::Real(round2(w)),
                Object::Real(round2(h)),
            ]),
        );
        page.set("Resources", Object::Dictionary(resources));
        page.set("Contents", Object::Reference((content_id, 0)));
        let page_id = self.add(&Object::Dictionary(page))?;
        self.page_ids.push(page_id);
        Ok(self.out.written - before)
    }

    pub fn page_count(&self) -> usize {
        self.page_ids.len()
    }

    /// Write the page tree, catalog, Info, xref and trailer.
    pub fn finish(mut self, info: &DocumentInfo) -> std::io::Result<(W, WrittenPdf)> {
        let mut pages = Dictionary::new();
        pages.set("Type", Object::Name(b"Pages".to_vec()));
        pages.set(
            "Kids",
            Object::Array(
                self.page_ids
                    .iter()
                    .map(|&id| Object::Reference((id, 0)))
                    .collect(),
            ),
        );
        pages.set("Count", Object::Integer(self.page_ids.len() as i64));
        self.write_object(self.pages_id, &Object::Dictionary(pages))?;

        let mut catalog = Dictionary::new();
        catalog.set("Type", Object::Name(b"Catalog".to_vec()));
        catalog.set("Pages", Object::Reference((self.pages_id, 0)));
        // Screen readers: the language, and the title (not the file name) as the window's.
        if let Some(lang) = &info.lang {
            catalog.set("Lang", text_string(lang));
        }
        catalog.set(
            "ViewerPreferences",
            Object::Dictionary(Dictionary::from_iter([(
                "DisplayDocTitle",
                Object::Boolean(true),
            )])),
        );
        if self.output_type == OutputType::Pdfa {
            let profile = pdfa::intent_profile(self.colour)?;
            let mut profile_dict = Dictionary::new();
            profile_dict.set("N", Object::Integer(profile.components));
            profile_dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
            let profile_id = self.add_stream(profile_dict, deflate(&profile.icc))?;
            catalog.set(
                "OutputIntents",
                Object::Array(vec![pdfa::output_intent(&profile, profile_id)]),
            );
            let xmp = pdfa::xmp_packet(&pdfa::XmpFields {
                title: &info.title,
                producer: &info.producer,
                lang: info.lang.as_deref(),
                created: info.created,
                modified: info.created,
            });
            let mut meta = Dictionary::new();
            meta.set("Type", Object::Name(b"Metadata".to_vec()));
            meta.set("Subtype", Object::Name(b"XML".to_vec()));
            // Uncompressed, as PDF/A asks, so that tools that scan for packets find it.
            let meta_id = self.add_stream(meta, xmp.into_bytes())?;
            catalog.set("Metadata", Object::Reference((meta_id, 0)));
        }
        let catalog_id = self.add(&Object::Dictionary(catalog))?;

        let mut info_dict = Dictionary::new();
        info_dict.set("Title", text_string(&info.title));
        info_dict.set("Producer", text_string(&info.producer));
        let date = pdf_date(info.created);
        info_dict.set("CreationDate", Object::string_literal(date.clone()));
        info_dict.set("ModDate", Object::string_literal(date));
        let info_id = self.add(&Object::Dictionary(info_dict))?;

        let xref_at = self.out.written;
        let count = self.offsets.len() + 1;
        write!(self.out, "xref\n0 {count}\n0000000000 65535 f \n")?;
        for off in &self.offsets {
            writeln!(self.out, "{off:010} 00000 n ")?;
        }
        // The file identifier (PDF/A requires one): both halves the hash of everything before
        // the trailer, which makes it unique to the content, as the spec suggests.
        let id = hex::encode_upper(&self.out.hash.clone().finalize()[..16]);
        write!(
            self.out,
            "trailer\n<< /Size {count} /Root {catalog_id} 0 R /Info {info_id} 0 R /ID [<{id}> <{id}>] >>\nstartxref\n{xref_at}\n%%EOF\n"
        )?;
        self.out.flush()?;
        let pages = self.page_ids.len();
        let Tally {
            inner,
            written,
            hash,
        } = self.out;
        Ok((
            inner,
            WrittenPdf {
                bytes: written,
                sha256: hex::encode(hash.finalize()),
                pages,
            },
        ))
    }
}

/// A PDF text string: PDFDocEncoding-safe ASCII as is, anything else as UTF-16BE with a BOM.
pub fn text_string(s: &str) -> Object {
    if s.bytes().all(|b| (0x20..0x7F).contains(&b)) {
        Object::string_literal(s)
    } else {
        let mut bytes = vec![0xFE, 0xFF];
        for unit in s.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        Object::String(bytes, lopdf::StringFormat::Hexadecimal)
    }
}

fn pdf_date(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub(crate) fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    enc.write_all(data).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

fn round2(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

/// A number for a content stream: at most 3 decimals, no exponent.
pub(crate) fn num(v: f32) -> String {
    let s = format!("{:.3}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_plain() {
        assert_eq!(num(612.0), "612");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(1.23456), "1.235");
        assert_eq!(num(-0.0001), "0");
    }

    #[test]
    fn dates_are_pdf_dates() {
        let t = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        assert_eq!(pdf_date(t), "D:20260102030405Z");
    }
}

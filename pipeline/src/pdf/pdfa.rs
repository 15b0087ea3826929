//! PDF/A-2b: what [`super::writer::PdfWriter`] adds when asked for it (`OutputType::Pdfa`).
//!
//! - An OutputIntent (`/S /GTS_PDFA1`) whose ICC profile covers the device colour spaces the
//!   pages use: sRGB when any page image is DeviceRGB, a grey profile (gamma 2.2, D50 white)
//!   when all are DeviceGray (bitonal pages included). Little CMS makes and serialises the
//!   profiles, as ICC version 4.2 profiles: the version of ICC.1:2004-10, which PDF 1.7 and so
//!   PDF/A-2 admit (PDF/A-1 would need version 2, which Quire does not write). Version 4 keeps
//!   the tone curves parametric: the sRGB profile is under a kilobyte, where as version 2
//!   (sampled curves) it was 8.5 kB in every colour file.
//! - The XMP metadata packet in the catalog, uncompressed, with `pdfaid:part` 2 and
//!   `pdfaid:conformance` B, and the title, language, dates and producer of the Info
//!   dictionary in their XMP forms (the same values: the same instant, the same text).
//! - The file identifier in the trailer.
//!
//! What PDF/A forbids the writer never produces in either mode: encryption, LZW, JavaScript,
//! external streams, and fonts not embedded (the text layer's glyphless font is embedded with
//! `/DW` 500, its one glyph's advance: 1024 of 2048 units in tesseract's `pdf.ttf`).

use lopdf::{Dictionary, Object};
use serde::{Deserialize, Serialize};

/// What kind of PDF a run writes; `[processing] output_type` and `quire process --output-type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OutputType {
    /// A plain PDF 1.7.
    Pdf,
    /// PDF/A-2b (ISO 19005-2, level B): the default, as in OCRmyPDF. It costs a few kilobytes
    /// (the ICC profile and the XMP packet) and nothing else, and it is what a library keeps.
    #[default]
    Pdfa,
}

impl OutputType {
    pub fn name(self) -> &'static str {
        match self {
            OutputType::Pdf => "pdf",
            OutputType::Pdfa => "pdfa",
        }
    }
}

/// The device colour a page image is drawn in, as far as the OutputIntent is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum DeviceColour {
    /// DeviceGray, or no device colour at all (an ICCBased image brings its own profile).
    Grey,
    Rgb,
    /// DeviceCMYK: neither profile covers it, so a PDF/A file cannot hold it.
    Cmyk,
}

/// The device colour space an image dictionary's `/ColorSpace` draws in (an Indexed space's
/// base counts). Written images only ever hold direct names and arrays.
pub(crate) fn device_colour(dict: &Dictionary) -> DeviceColour {
    fn of(space: &Object) -> DeviceColour {
        match space {
            Object::Name(n) => match n.as_slice() {
                b"DeviceRGB" | b"RGB" => DeviceColour::Rgb,
                b"DeviceCMYK" | b"CMYK" => DeviceColour::Cmyk,
                _ => DeviceColour::Grey,
            },
            Object::Array(a) => match a.first() {
                Some(Object::Name(n)) if n == b"Indexed" || n == b"I" => {
                    a.get(1).map_or(DeviceColour::Grey, of)
                }
                _ => DeviceColour::Grey,
            },
            _ => DeviceColour::Grey,
        }
    }
    dict.get(b"ColorSpace").map_or(DeviceColour::Grey, of)
}

/// The OutputIntent's profile: its bytes, component count and the name it goes by.
pub(crate) struct IntentProfile {
    pub icc: Vec<u8>,
    pub components: i64,
    pub identifier: &'static str,
}

/// The profile covering `colour`: sRGB for colour, grey gamma 2.2 otherwise.
pub(crate) fn intent_profile(colour: DeviceColour) -> std::io::Result<IntentProfile> {
    let lcms = |e: lcms2::Error| std::io::Error::other(format!("ICC profile: {e}"));
    let (mut profile, components, identifier) = match colour {
        DeviceColour::Rgb | DeviceColour::Cmyk => (lcms2::Profile::new_srgb(), 3, "sRGB"),
        DeviceColour::Grey => {
            // D50, the profile connection space's white: a display-referred grey needs no
            // chromatic adaptation then.
            let d50 = lcms2::CIExyY {
                x: 0.3457,
                y: 0.3585,
                Y: 1.0,
            };
            let profile =
                lcms2::Profile::new_gray(&d50, &lcms2::ToneCurve::new(2.2)).map_err(lcms)?;
            (profile, 1, "Grey gamma 2.2")
        }
    };
    profile.set_version(4.2);
    Ok(IntentProfile {
        icc: profile.icc().map_err(lcms)?,
        components,
        identifier,
    })
}

/// The OutputIntent dictionary referring to the profile stream `profile_id`.
pub(crate) fn output_intent(profile: &IntentProfile, profile_id: u32) -> Object {
    Object::Dictionary(Dictionary::from_iter([
        ("Type", Object::Name(b"OutputIntent".to_vec())),
        ("S", Object::Name(b"GTS_PDFA1".to_vec())),
        (
            "OutputConditionIdentifier",
            Object::string_literal(profile.identifier),
        ),
        ("Info", Object::string_literal(profile.identifier)),
        ("DestOutputProfile", Object::Reference((profile_id, 0))),
    ]))
}

/// What the XMP packet states; the same values as the Info dictionary.
pub(crate) struct XmpFields<'a> {
    pub title: &'a str,
    pub producer: &'a str,
    pub lang: Option<&'a str>,
    pub created: time::OffsetDateTime,
    pub modified: time::OffsetDateTime,
}

/// The XMP packet of a PDF/A-2b file. Not padded for editing in place (XMP's advice): the
/// delivery stamp rewrites the whole file anyway, and delivered bytes count.
pub(crate) fn xmp_packet(f: &XmpFields<'_>) -> String {
    let lang = f
        .lang
        .map(|l| {
            format!(
                "   <dc:language><rdf:Bag><rdf:li>{}</rdf:li></rdf:Bag></dc:language>\n",
                xml_escape(l)
            )
        })
        .unwrap_or_default();
    let modified = xmp_date(f.modified);
    let mut s = format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n\
         <x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n\
         <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n\
         <rdf:Description rdf:about=\"\"\n\
         \x20   xmlns:pdfaid=\"http://www.aiim.org/pdfa/ns/id/\"\n\
         \x20   xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n\
         \x20   xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n\
         \x20   xmlns:pdf=\"http://ns.adobe.com/pdf/1.3/\">\n\
         \x20  <pdfaid:part>2</pdfaid:part>\n\
         \x20  <pdfaid:conformance>B</pdfaid:conformance>\n\
         \x20  <dc:format>application/pdf</dc:format>\n\
         \x20  <dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt></dc:title>\n\
         {lang}\
         \x20  <xmp:CreateDate>{}</xmp:CreateDate>\n\
         \x20  <xmp:ModifyDate>{modified}</xmp:ModifyDate>\n\
         \x20  <xmp:MetadataDate>{modified}</xmp:MetadataDate>\n\
         \x20  <pdf:Producer>{}</pdf:Producer>\n\
         </rdf:Description>\n\
         </rdf:RDF>\n\
         </x:xmpmeta>\n",
        xml_escape(f.title),
        xmp_date(f.created),
        xml_escape(f.producer),
    );
    s.push_str("<?xpacket end=\"w\"?>");
    s
}

/// An XMP date (ISO 8601) of the instant `pdf_date` writes for the Info dictionary: both UTC.
pub(crate) fn xmp_date(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Text for XML character data and attribute values. Control characters other than tab and
/// newline are not allowed in XML 1.0 at all, so they are dropped.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() && c != '\t' && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_version_4_2_of_the_right_colour_space() {
        let grey = intent_profile(DeviceColour::Grey).unwrap();
        assert_eq!(grey.components, 1);
        // ICC header: size at 0, version at 8, data colour space at 16.
        assert_eq!(&grey.icc[16..20], b"GRAY");
        assert_eq!((grey.icc[8], grey.icc[9]), (4, 0x20));
        assert_eq!(
            u32::from_be_bytes(grey.icc[0..4].try_into().unwrap()) as usize,
            grey.icc.len()
        );
        let rgb = intent_profile(DeviceColour::Rgb).unwrap();
        assert_eq!((&rgb.icc[16..20], rgb.components), (&b"RGB "[..], 3));
    }

    #[test]
    fn image_colour_follows_the_colour_space_and_an_indexed_base() {
        let with = |space: Object| Dictionary::from_iter([("ColorSpace", space)]);
        assert_eq!(device_colour(&Dictionary::new()), DeviceColour::Grey);
        assert_eq!(
            device_colour(&with(Object::Name(b"DeviceRGB".to_vec()))),
            DeviceColour::Rgb
        );
        let indexed = Object::Array(vec![
            Object::Name(b"Indexed".to_vec()),
            Object::Name(b"DeviceCMYK".to_vec()),
            1.into(),
            Object::string_literal("x"),
        ]);
        assert_eq!(device_colour(&with(indexed)), DeviceColour::Cmyk);
        let icc = Object::Array(vec![
            Object::Name(b"ICCBased".to_vec()),
            Object::Reference((4, 0)),
        ]);
        assert_eq!(device_colour(&with(icc)), DeviceColour::Grey);
    }

    #[test]
    fn xmp_escapes_text_and_states_part_and_conformance() {
        let t = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        let xmp = xmp_packet(&XmpFields {
            title: "A & B <c>",
            producer: "Quire",
            lang: Some("en"),
            created: t,
            modified: t,
        });
        assert!(xmp.contains("A &amp; B &lt;c&gt;"));
        assert!(xmp.contains("<pdfaid:part>2</pdfaid:part>"));
        assert!(xmp.contains("<xmp:CreateDate>2026-01-02T03:04:05Z</xmp:CreateDate>"));
        assert!(xmp.contains("<rdf:li>en</rdf:li>"));
    }
}

//! Hiding the delivery id in a copy, and finding it again in a leaked one.
//!
//! The id is written in four places, each surviving different treatment:
//! - the PDF file identifier (`/ID` in the trailer), kept by tools that rewrite a file in place
//!   (qpdf keeps the first element when linearizing or generating object streams);
//! - the document Info dictionary (`/QuireDelivery`) and the XMP metadata (`quire:DeliveryId`);
//! - invisible text `quire-delivery:<id>` on every page, which survives metadata stripping and
//!   pages being cut out into a new file.
//!
//! Finding reads all four; it does not know what a delivery is (the database does).

use std::collections::BTreeMap;

use lopdf::{Dictionary, Document, Object, Stream, StringFormat};

use crate::error::WatermarkError;
use crate::margin::{TRACE_MARKER, utf16_hex};
use crate::spec::DeliveryId;

/// The XMP namespace of Quire's own properties.
pub const XMP_NAMESPACE: &str = "https://quire-ill.org/ns/delivery/1.0/";
const XMP_OPEN: &str = "<quire:DeliveryId>";
const XMP_CLOSE: &str = "</quire:DeliveryId>";
/// The Info dictionary key holding the delivery id.
pub const INFO_KEY: &str = "QuireDelivery";

/// Where in a file a delivery id was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum TracePlace {
    FileIdentifier,
    InfoDictionary,
    XmpMetadata,
    /// Invisible text on this page (1-based, in the file examined).
    Page(u32),
}

impl std::fmt::Display for TracePlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::FileIdentifier => f.write_str("file identifier"),
            Self::InfoDictionary => f.write_str("Info dictionary"),
            Self::XmpMetadata => f.write_str("XMP metadata"),
            Self::Page(n) => write!(f, "page {n}"),
        }
    }
}

/// One delivery id found in a file, and everywhere it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub delivery_id: DeliveryId,
    pub found_in: Vec<TracePlace>,
}

/// Every delivery id in `pdf`, most widely found first. Empty when the file carries none.
pub fn find_deliveries(pdf: &[u8]) -> Result<Vec<Trace>, WatermarkError> {
    let doc = Document::load_mem(pdf).map_err(|e| WatermarkError::UnreadablePdf {
        reason: e.to_string(),
    })?;
    let mut found: BTreeMap<DeliveryId, Vec<TracePlace>> = BTreeMap::new();
    let mut note = |id: &[u8], place: TracePlace| {
        if let Some(id) = std::str::from_utf8(id)
            .ok()
            .and_then(|s| DeliveryId::new(s.trim()).ok())
        {
            let places = found.entry(id).or_default();
            if !places.contains(&place) {
                places.push(place);
            }
        }
    };

    if let Ok(ids) = doc.trailer.get(b"ID").and_then(Object::as_array) {
        for id in ids {
            if let Ok(bytes) = id.as_str() {
                note(bytes, TracePlace::FileIdentifier);
            }
        }
    }
    if let Some(Ok(bytes)) =
        info_dictionary(&doc).map(|info| info.get(INFO_KEY.as_bytes()).and_then(Object::as_str))
    {
        note(bytes, TracePlace::InfoDictionary);
    }
    if let Some(xmp) = metadata_stream(&doc).and_then(|s| s.decompressed_content().ok()) {
        for id in between(&xmp, XMP_OPEN.as_bytes(), XMP_CLOSE.as_bytes()) {
            note(id, TracePlace::XmpMetadata);
        }
    }
    for (number, page) in doc.get_pages() {
        // Leaked files are untrusted: bound what a page's content may inflate to.
        let Ok(content) = doc.get_page_content_with_limit(page, 64 << 20) else {
            continue;
        };
        let marker = TRACE_MARKER.as_bytes();
        let mut rest = &content[..];
        while let Some(at) = find(rest, marker) {
            let tail = &rest[at + marker.len()..];
            let len = tail
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            note(&tail[..len], TracePlace::Page(number));
            rest = &tail[len..];
        }
        // A PDF/A copy's trace text: UTF-16BE code units in hex (`margin::TraceText`).
        let marker = utf16_hex(TRACE_MARKER);
        let mut rest = &content[..];
        while let Some(at) = find(rest, marker.as_bytes()) {
            let tail = &rest[at + marker.len()..];
            let id: Vec<u8> = tail
                .chunks_exact(4)
                .map_while(|unit| {
                    let unit = std::str::from_utf8(unit).ok()?;
                    let b = u8::try_from(u16::from_str_radix(unit, 16).ok()?).ok()?;
                    (b.is_ascii_alphanumeric() || b == b'_').then_some(b)
                })
                .collect();
            note(&id, TracePlace::Page(number));
            rest = &tail[id.len() * 4..];
        }
    }
    let mut traces: Vec<Trace> = found
        .into_iter()
        .map(|(delivery_id, found_in)| Trace {
            delivery_id,
            found_in,
        })
        .collect();
    traces.sort_by_key(|t| std::cmp::Reverse(t.found_in.len()));
    Ok(traces)
}

/// The delivery ids in `pdf`, most widely found first.
pub fn find_delivery_ids(pdf: &[u8]) -> Result<Vec<String>, WatermarkError> {
    Ok(find_deliveries(pdf)?
        .into_iter()
        .map(|t| t.delivery_id.as_str().to_string())
        .collect())
}

/// The copy's title in the Info dictionary (what a reader's window and a screen reader name),
/// and `DisplayDocTitle` so viewers show it instead of the file name; the input's `/Lang` is
/// kept. An empty title leaves the input's.
pub(crate) fn set_title(doc: &mut Document, title: &str) {
    if title.is_empty() {
        return;
    }
    let value = text_object(title);
    let info_id = match doc.trailer.get(b"Info").and_then(Object::as_reference) {
        Ok(id) => id,
        Err(_) => {
            let id = doc.add_object(Dictionary::new());
            doc.trailer.set("Info", id);
            id
        }
    };
    if let Ok(info) = doc.get_dictionary_mut(info_id) {
        info.set("Title", value);
    }
    if let Ok(root) = doc.trailer.get(b"Root").and_then(Object::as_reference)
        && let Ok(catalog) = doc.get_dictionary_mut(root)
    {
        let mut prefs = catalog
            .get(b"ViewerPreferences")
            .and_then(Object::as_dict)
            .cloned()
            .unwrap_or_default();
        prefs.set("DisplayDocTitle", Object::Boolean(true));
        catalog.set("ViewerPreferences", Object::Dictionary(prefs));
    }
}

/// A PDF text string: PDFDocEncoding for ASCII, else UTF-16BE with its byte order mark.
fn text_object(text: &str) -> Object {
    if text.is_ascii() {
        Object::String(text.as_bytes().to_vec(), StringFormat::Literal)
    } else {
        let mut bytes = vec![0xFE, 0xFF];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        Object::String(bytes, StringFormat::Hexadecimal)
    }
}

/// Writes the id into the file identifier, the Info dictionary and the XMP metadata.
pub(crate) fn embed_metadata(
    doc: &mut Document,
    id: &DeliveryId,
    notice: &str,
    pdfa: bool,
) -> Result<(), WatermarkError> {
    let id_string = || Object::String(id.as_str().as_bytes().to_vec(), StringFormat::Literal);
    doc.trailer
        .set("ID", Object::Array(vec![id_string(), id_string()]));

    match doc.trailer.get(b"Info").and_then(Object::as_reference) {
        Ok(info_id) => match doc.get_dictionary_mut(info_id) {
            Ok(info) => info.set(INFO_KEY, id_string()),
            Err(_) => {
                let info = doc.add_object(Dictionary::from_iter([(INFO_KEY, id_string())]));
                doc.trailer.set("Info", info);
            }
        },
        Err(_) => {
            let mut info = match doc.trailer.get(b"Info").and_then(Object::as_dict) {
                Ok(d) => d.clone(),
                Err(_) => Dictionary::new(),
            };
            info.set(INFO_KEY, id_string());
            let info = doc.add_object(info);
            doc.trailer.set("Info", info);
        }
    }

    let existing = metadata_stream(doc).and_then(|s| s.decompressed_content().ok());
    let mut packet = xmp_packet(existing.as_deref(), id, notice);
    // PDF/A admits properties of other schemas than its predefined ones only when described.
    if pdfa
        && !packet.contains("<pdfaSchema:prefix>quire</pdfaSchema:prefix>")
        && let Some(at) = packet.find("</rdf:RDF>")
    {
        packet.insert_str(at, &crate::pdfa::extension_schema());
    }
    let mut stream = Stream::new(
        Dictionary::from_iter([
            ("Type", Object::Name(b"Metadata".to_vec())),
            ("Subtype", Object::Name(b"XML".to_vec())),
        ]),
        packet.into_bytes(),
    );
    // XMP stays uncompressed so that tools scanning files for packets can read it.
    stream.allows_compression = false;
    let xmp_id = doc.add_object(stream);
    let catalog = doc
        .catalog_mut()
        .map_err(|e| WatermarkError::UnreadablePdf {
            reason: format!("no catalog: {e}"),
        })?;
    catalog.set("Metadata", xmp_id);
    Ok(())
}

/// Our XMP: the existing packet with our description added, or a new packet.
fn xmp_packet(existing: Option<&[u8]>, id: &DeliveryId, notice: &str) -> String {
    let ours = format!(
        "<rdf:Description rdf:about=\"\" xmlns:quire=\"{XMP_NAMESPACE}\">{XMP_OPEN}{id}{XMP_CLOSE}</rdf:Description>\n"
    );
    if let Some(text) = existing.and_then(|b| std::str::from_utf8(b).ok())
        && let Some(at) = text.find("</rdf:RDF>")
        && !text.contains(XMP_OPEN)
    {
        return format!("{}{ours}{}", &text[..at], &text[at..]);
    }
    format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n\
         <x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n\
         <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n\
         {ours}\
         <rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\
         <dc:rights><rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt></dc:rights></rdf:Description>\n\
         </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end=\"w\"?>",
        xml_escape(notice)
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn info_dictionary(doc: &Document) -> Option<&Dictionary> {
    let info = doc.trailer.get(b"Info").ok()?;
    doc.dereference(info).ok()?.1.as_dict().ok()
}

fn metadata_stream(doc: &Document) -> Option<&Stream> {
    let meta = doc.catalog().ok()?.get(b"Metadata").ok()?;
    doc.dereference(meta).ok()?.1.as_stream().ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn between<'b>(text: &'b [u8], open: &[u8], close: &[u8]) -> Vec<&'b [u8]> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(a) = find(rest, open) {
        let tail = &rest[a + open.len()..];
        let Some(b) = find(tail, close) else { break };
        out.push(&tail[..b]);
        rest = &tail[b + close.len()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xmp_is_added_to_an_existing_packet() {
        let id = DeliveryId::new("dlv_ABC").unwrap();
        let old = b"<x:xmpmeta><rdf:RDF><rdf:Description/></rdf:RDF></x:xmpmeta>";
        let new = xmp_packet(Some(old), &id, "n");
        assert!(new.contains("<rdf:Description/>"));
        assert!(new.contains("<quire:DeliveryId>dlv_ABC</quire:DeliveryId>"));
        assert_eq!(
            between(new.as_bytes(), XMP_OPEN.as_bytes(), XMP_CLOSE.as_bytes()),
            vec![&b"dlv_ABC"[..]]
        );
    }

    #[test]
    fn notice_is_escaped_in_xmp() {
        let id = DeliveryId::new("dlv_ABC").unwrap();
        assert!(xmp_packet(None, &id, "a < b & c").contains("a &lt; b &amp; c"));
    }
}

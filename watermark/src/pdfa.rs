//! Keeping a PDF/A input PDF/A through stamping. A copy of a plain PDF is left as it always was;
//! a copy of a PDF/A file (its XMP names a `pdfaid:part` and its catalog has OutputIntents)
//! also gets what PDF/A-2b asks of the changes the stamp makes:
//! - the trace text in an embedded font rather than the standard Helvetica
//!   ([`crate::font::embed_trace_font`]);
//! - an extension schema in the XMP for the `quire:` property the trace adds (PDF/A allows only
//!   predefined XMP schemas and described ones);
//! - `dc:title`, `xmp:ModifyDate` and `xmp:MetadataDate` in the XMP set to the Info
//!   dictionary's new `/Title` and `/ModDate`, the stamping time.
//!
//! The OutputIntent, the other XMP properties and every page's own content are kept as they
//! were; the stamp draws in DeviceGray only, which any OutputIntent covers.

use lopdf::{Document, Object};

use crate::trace::XMP_NAMESPACE;

/// Whether `doc` claims PDF/A: an OutputIntent, and `pdfaid:part` in its XMP.
pub(crate) fn is_pdfa(doc: &Document) -> bool {
    let Ok(catalog) = doc.catalog() else {
        return false;
    };
    let has_intent = catalog
        .get(b"OutputIntents")
        .and_then(|o| doc.dereference(o))
        .and_then(|(_, o)| o.as_array())
        .is_ok_and(|a| !a.is_empty());
    let xmp = catalog
        .get(b"Metadata")
        .and_then(|o| doc.dereference(o))
        .and_then(|(_, o)| o.as_stream())
        .and_then(|s| s.decompressed_content());
    has_intent
        && xmp.is_ok_and(|x| {
            let x = String::from_utf8_lossy(&x);
            x.contains("<pdfaid:part>") || x.contains("pdfaid:part=")
        })
}

/// The extension schema describing `quire:DeliveryId` (ISO 19005-2, 6.6.2.3.2).
pub(crate) fn extension_schema() -> String {
    format!(
        "<rdf:Description rdf:about=\"\" \
         xmlns:pdfaExtension=\"http://www.aiim.org/pdfa/ns/extension/\" \
         xmlns:pdfaSchema=\"http://www.aiim.org/pdfa/ns/schema#\" \
         xmlns:pdfaProperty=\"http://www.aiim.org/pdfa/ns/property#\">\
         <pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType=\"Resource\">\
         <pdfaSchema:schema>Quire delivery</pdfaSchema:schema>\
         <pdfaSchema:namespaceURI>{XMP_NAMESPACE}</pdfaSchema:namespaceURI>\
         <pdfaSchema:prefix>quire</pdfaSchema:prefix>\
         <pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType=\"Resource\">\
         <pdfaProperty:name>DeliveryId</pdfaProperty:name>\
         <pdfaProperty:valueType>Text</pdfaProperty:valueType>\
         <pdfaProperty:category>external</pdfaProperty:category>\
         <pdfaProperty:description>The delivery this copy was stamped for</pdfaProperty:description>\
         </rdf:li></rdf:Seq></pdfaSchema:property>\
         </rdf:li></rdf:Bag></pdfaExtension:schemas></rdf:Description>\n"
    )
}

/// `packet` with the title and modification dates set: each property replaced where it is (as
/// an element or an attribute), or added in a description of its own.
pub(crate) fn update_packet(packet: &str, title: Option<&str>, modified: &str) -> String {
    let mut text = packet.to_string();
    let mut added = String::new();
    if let Some(title) = title {
        let element = format!(
            "<dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt></dc:title>",
            xml_escape(title)
        );
        if !replace_element(&mut text, "dc:title", &element) {
            added.push_str(&format!(
                "<rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">{element}</rdf:Description>\n"
            ));
        }
    }
    for name in ["xmp:ModifyDate", "xmp:MetadataDate"] {
        let element = format!("<{name}>{modified}</{name}>");
        if !replace_element(&mut text, name, &element)
            && !replace_attribute(&mut text, name, modified)
        {
            added.push_str(&format!(
                "<rdf:Description rdf:about=\"\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\">{element}</rdf:Description>\n"
            ));
        }
    }
    if let Some(at) = text.find("</rdf:RDF>") {
        text.insert_str(at, &added);
    }
    text
}

/// Replaces the element `<name>…</name>` (or `<name/>`) with `with`; false when absent.
fn replace_element(text: &mut String, name: &str, with: &str) -> bool {
    let open = format!("<{name}");
    let close = format!("</{name}>");
    let Some(start) = find_tag(text, &open) else {
        return false;
    };
    let end = match text[start..].find('>') {
        Some(gt) if text[start..start + gt].ends_with('/') => start + gt + 1,
        _ => match text[start..].find(&close) {
            Some(c) => start + c + close.len(),
            None => return false,
        },
    };
    text.replace_range(start..end, with);
    true
}

/// Replaces the value of the attribute `name="…"`; false when absent.
fn replace_attribute(text: &mut String, name: &str, value: &str) -> bool {
    let key = format!("{name}=\"");
    let Some(start) = text.find(&key).map(|s| s + key.len()) else {
        return false;
    };
    let Some(len) = text[start..].find('"') else {
        return false;
    };
    text.replace_range(start..start + len, value);
    true
}

/// Where the tag `open` (e.g. `<dc:title`) starts, not mistaking `<dc:titleX` for it.
fn find_tag(text: &str, open: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find(open) {
        let at = from + i;
        match text[at + open.len()..].chars().next() {
            Some('>' | '/' | ' ' | '\n' | '\t' | '\r') => return Some(at),
            _ => from = at + open.len(),
        }
    }
    None
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// After the trace and the title are in: the Info `/ModDate` and the XMP's title and dates
/// set to the same values. `title` is the one [`crate::trace::set_title`] wrote, if any.
pub(crate) fn refresh_metadata(doc: &mut Document, title: Option<&str>) {
    let (pdf_date, xmp_date) = now();
    if let Ok(info) = doc.trailer.get(b"Info").and_then(Object::as_reference)
        && let Ok(info) = doc.get_dictionary_mut(info)
    {
        info.set("ModDate", pdf_date);
    }
    let Ok(meta) = doc
        .catalog()
        .and_then(|c| c.get(b"Metadata"))
        .and_then(Object::as_reference)
    else {
        return;
    };
    if let Ok(stream) = doc.get_object_mut(meta).and_then(Object::as_stream_mut)
        && let Ok(content) = stream.decompressed_content()
    {
        let packet = update_packet(&String::from_utf8_lossy(&content), title, &xmp_date);
        stream.dict.remove(b"Filter");
        stream.dict.remove(b"DecodeParms");
        stream.set_content(packet.into_bytes());
        stream.allows_compression = false;
    }
}

/// Now, as a PDF date for the Info dictionary and as an XMP date, the same UTC instant.
pub(crate) fn now() -> (Object, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    let (hh, mm, ss) = (s / 3600, s / 60 % 60, s % 60);
    (
        Object::string_literal(format!("D:{y:04}{m:02}{d:02}{hh:02}{mm:02}{ss:02}Z")),
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z"),
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`): this crate has no calendar library, and needs no more than this.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_become_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_787), (2026, 11, 30));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn properties_are_replaced_where_they_are_or_added() {
        let packet = "<rdf:RDF><rdf:Description rdf:about=\"\">\
            <dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">Old</rdf:li></rdf:Alt></dc:title>\
            <xmp:ModifyDate>2020-01-01T00:00:00Z</xmp:ModifyDate></rdf:Description></rdf:RDF>";
        let new = update_packet(packet, Some("A & B"), "2026-11-30T12:00:00Z");
        assert!(
            new.contains(">A &amp; B</rdf:li>") && !new.contains("Old"),
            "{new}"
        );
        assert!(new.contains("<xmp:ModifyDate>2026-11-30T12:00:00Z</xmp:ModifyDate>"));
        assert!(!new.contains("2020"));
        // MetadataDate was absent: added in a description of its own.
        assert!(new.contains("<xmp:MetadataDate>2026-11-30T12:00:00Z</xmp:MetadataDate></rdf:Description>\n</rdf:RDF>"), "{new}");
        let attr = "<rdf:RDF><rdf:Description xmp:ModifyDate=\"2020\" xmp:MetadataDate=\"2020\"/></rdf:RDF>";
        let new = update_packet(attr, None, "2026-11-30T12:00:00Z");
        assert_eq!(new.matches("=\"2026-11-30T12:00:00Z\"").count(), 2, "{new}");
    }
}

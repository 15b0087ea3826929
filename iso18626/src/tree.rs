//! A small element tree read with quick-xml: local names only (an element is ISO 18626's if it
//! is in its namespace or in none, as some systems send it), attributes by local name, and the
//! text of leaf elements. Why a tree and not serde: real systems differ in prefixes, order and
//! optional elements, and a tree lets the reader be tolerant of each in one place.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use crate::{ErrorType, NAMESPACE};

/// Deeper than any ISO 18626 message (about 6 levels) with room to spare.
const MAX_DEPTH: usize = 32;
/// Far more elements than a request holds; a bound on work for hostile input.
const MAX_ELEMENTS: usize = 20_000;

#[derive(Debug, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the child `name`, if it is there and not empty.
    pub fn text_of(&self, name: &str) -> Option<String> {
        self.child(name)
            .map(|c| c.text.trim().to_string())
            .filter(|t| !t.is_empty())
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a document is not a message at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub error: ErrorType,
    pub reason: String,
}

fn bad(reason: impl Into<String>) -> Malformed {
    Malformed {
        error: ErrorType::BadlyFormedMessage,
        reason: reason.into(),
    }
}

/// Reads `xml` into its root element.
pub fn parse(xml: &[u8]) -> Result<Element, Malformed> {
    let text = std::str::from_utf8(xml).map_err(|e| bad(format!("not UTF-8: {e}")))?;
    if let Some((at, c)) = text.char_indices().find(|&(_, c)| !is_xml_char(c)) {
        return Err(bad(format!(
            "the character U+{:04X} at byte {at} is not allowed in XML",
            c as u32
        )));
    }
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let at = reader.buffer_position();
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| bad(format!("after byte {at}: {e}")))?;
        match event {
            Event::DocType(_) => {
                return Err(bad(
                    "a document type declaration is not accepted (ISO 18626 needs none)",
                ));
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return Err(bad("content after the root element"));
                }
                count += 1;
                if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err(bad("too many elements, or nested too deep"));
                }
                check_namespace(&ns, e.local_name().as_ref())?;
                let mut element = Element {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Element::default()
                };
                for attr in e.attributes() {
                    let attr = attr.map_err(|e| bad(format!("attribute: {e}")))?;
                    let key = attr.key;
                    if key.as_ref().starts_with(b"xmlns") {
                        continue;
                    }
                    let value = attr
                        .decode_and_unescape_value(reader.decoder())
                        .map_err(|e| bad(format!("attribute value: {e}")))?;
                    element.attrs.push((
                        String::from_utf8_lossy(key.local_name().as_ref()).into_owned(),
                        value.into_owned(),
                    ));
                }
                if matches!(event, Event::Empty(_)) {
                    close(element, &mut stack, &mut root);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| bad("an end tag with no start"))?;
                close(element, &mut stack, &mut root);
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| bad(format!("text: {e}")))?;
                push_text(&mut stack, &s)?;
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|e| bad(format!("CDATA: {e}")))?;
                push_text(&mut stack, &s)?;
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| bad(format!("reference: {e}")))?;
                let resolved = resolve_reference(&name)
                    .ok_or_else(|| bad(format!("the entity `&{name};` is not defined")))?;
                push_text(&mut stack, &resolved.to_string())?;
            }
            Event::Eof => break,
            Event::Decl(ref d) => {
                // The bytes were read as UTF-8: a document saying it is anything else was
                // mislabelled or converted on the way, and its text cannot be trusted.
                if let Some(encoding) = d.encoding() {
                    let encoding = encoding.map_err(|e| bad(format!("declaration: {e}")))?;
                    let name = String::from_utf8_lossy(&encoding).to_ascii_uppercase();
                    if name != "UTF-8" && name != "UTF8" {
                        return Err(bad(format!(
                            "the document declares the encoding {name}; send UTF-8"
                        )));
                    }
                }
            }
            Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(bad("the document ends inside an element (truncated?)"));
    }
    root.ok_or_else(|| bad("no root element"))
}

fn check_namespace(ns: &ResolveResult, local: &[u8]) -> Result<(), Malformed> {
    match ns {
        ResolveResult::Unbound => Ok(()),
        ResolveResult::Bound(n) if n.as_ref() == NAMESPACE.as_bytes() => Ok(()),
        ResolveResult::Bound(n) => Err(Malformed {
            error: ErrorType::UnrecognisedDataElement,
            reason: format!(
                "element `{}` is in namespace `{}`, not ISO 18626's",
                String::from_utf8_lossy(local),
                String::from_utf8_lossy(n.as_ref())
            ),
        }),
        ResolveResult::Unknown(p) => Err(bad(format!(
            "element `{}` has an undeclared prefix `{}`",
            String::from_utf8_lossy(local),
            String::from_utf8_lossy(p)
        ))),
    }
}

fn push_text(stack: &mut [Element], s: &str) -> Result<(), Malformed> {
    match stack.last_mut() {
        Some(e) => {
            e.text.push_str(s);
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(bad("text outside the root element")),
    }
}

/// XML's five predefined entities and character references; nothing else.
fn resolve_reference(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code).filter(|&c| is_xml_char(c))
        }
    }
}

/// XML 1.0's `Char`: no NUL, no other C0 control but tab and line ends, no U+FFFE/U+FFFF.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn close(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

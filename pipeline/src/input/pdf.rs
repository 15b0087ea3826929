//! Image-only PDFs as scanners write them: one scanned image per page, maybe an old text layer.
//!
//! Probing reads the object structure (not the stream data: see [`super::pdf_file`]) and works
//! out, for each page, which image is the scan (the largest one painted), how large it is and how
//! large it is drawn; decoding then reads that one image from the file, turns it into pixels and
//! keeps its original stream so the writer can copy it unchanged. So the input is never held in
//! memory whole: only the structure, and the images of the pages being decoded. DCT, Flate (with
//! predictors), CCITT (Group 4, and Group 3 one- and two-dimensional) and JBIG2 are decoded;
//! JPX is refused.
//!
//! Pages that already carry text: when the page also has a scanned image, the old text layer is
//! dropped and the image OCR'd afresh, so the text layer always matches the processed image. A
//! page with text and no image is born-digital and refused. A page that paints nothing is a blank
//! page and becomes a white one. Vector drawing without an image is refused: it would need a PDF
//! renderer, which this crate does not have.

use std::path::Path;

use image::{GrayImage, RgbImage};
use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use super::ccitt::{self, Polarity};
use super::ccitt_g3::{self, G3Error, G3Params};
use super::damaged;
use super::jbig2;
use super::pdf_file::{OpenError, PdfFile};
use super::raster::raster_from_dynamic;
use crate::error::{Location, PipelineError, Result};
use crate::options::ProcessOptions;
use crate::page::{DecodedPage, EmbeddedImage, Raster};

/// Resolution given to pages that paint nothing: enough for a blank check, tiny in the output.
const BLANK_PAGE_DPI: f32 = 150.0;

#[derive(Debug, Clone)]
pub(crate) struct PagePlan {
    kind: PlanKind,
    had_text: bool,
    /// Page size in points (MediaBox), before `/Rotate`.
    media: (f32, f32),
    /// `/Rotate`, clockwise, normalised to 0, 90, 180 or 270.
    rotate: u32,
}

#[derive(Debug, Clone)]
enum PlanKind {
    Image {
        id: ObjectId,
        width: u32,
        height: u32,
        /// Size the image is drawn at, in points, when the content stream says so.
        drawn: Option<(f32, f32)>,
        /// Bytes a pixel takes once decoded: 1 grey or bilevel, 3 colour.
        bytes_per_pixel: usize,
    },
    Blank,
}

impl PagePlan {
    pub(crate) fn pixel_size(&self) -> (u32, u32) {
        match self.kind {
            PlanKind::Image { width, height, .. } => (width, height),
            PlanKind::Blank => blank_size(self.media),
        }
    }

    /// Bytes a pixel of the decoded page takes, judged from the image dictionary.
    pub(crate) fn bytes_per_pixel(&self) -> usize {
        match self.kind {
            PlanKind::Image {
                bytes_per_pixel, ..
            } => bytes_per_pixel,
            PlanKind::Blank => 1,
        }
    }
}

/// What `decode` will make of an image: grey (1 byte a pixel) for masks, 1-bit images, grey
/// colour spaces and images that name none; colour (3) for anything else and for images with a
/// soft mask, which are put on white paper in colour.
fn decoded_bytes_per_pixel(doc: &Document, dict: &Dictionary) -> usize {
    let get = |key: &[u8]| dict.get(key).ok().map(|o| resolve(doc, o));
    if get(b"SMask").is_some() {
        return 3;
    }
    let one_bit = get(b"BitsPerComponent").and_then(number) == Some(1.0);
    let mask = matches!(get(b"ImageMask"), Some(Object::Boolean(true)));
    let grey_space = match get(b"ColorSpace") {
        None => true,
        Some(Object::Name(n)) => n == b"DeviceGray" || n == b"CalGray",
        Some(Object::Array(a)) => a
            .first()
            .and_then(|o| o.as_name().ok())
            .is_some_and(|n| n == b"CalGray"),
        Some(_) => false,
    };
    if mask || one_bit || grey_space { 1 } else { 3 }
}

fn blank_size(media: (f32, f32)) -> (u32, u32) {
    let px = |pt: f32| ((pt / 72.0 * BLANK_PAGE_DPI).round() as u32).clamp(1, 20_000);
    (px(media.0), px(media.1))
}

fn corrupt(at: &Location, reason: impl std::fmt::Display) -> PipelineError {
    PipelineError::Corrupt {
        at: at.clone(),
        reason: reason.to_string(),
    }
}

pub(super) fn probe(file: &Path) -> Result<(PdfFile, Vec<(ObjectId, PagePlan)>)> {
    let at = Location::file(file);
    let read_err = |source| PipelineError::Read {
        at: at.clone(),
        source,
    };
    // Scanners always finish the file; a missing end marker means it was cut short, and lopdf
    // would otherwise quietly rebuild what it can.
    let tail = read_tail(file, 2048).map_err(read_err)?;
    if !tail.windows(5).any(|w| w == b"%%EOF") {
        return Err(PipelineError::Truncated {
            at,
            reason: "no %%EOF marker at the end".into(),
        });
    }
    let src = match PdfFile::open(file) {
        Ok(src) => src,
        Err(OpenError::Encrypted) => return Err(PipelineError::Encrypted { at }),
        // Damaged cross-reference data and the like: lopdf's lenient load of the whole file.
        Err(OpenError::Unreadable(_)) => PdfFile::in_memory(load_whole(file, &at)?),
    };
    let plans = plan_pages(&src, file)?;
    Ok((src, plans))
}

/// Every page's plan, in page order.
pub(super) fn plan_pages(src: &PdfFile, file: &Path) -> Result<Vec<(ObjectId, PagePlan)>> {
    let doc = &src.doc;
    if doc.is_encrypted() || doc.trailer.get(b"Encrypt").is_ok() || doc.encryption_state.is_some() {
        return Err(PipelineError::Encrypted {
            at: Location::file(file),
        });
    }
    let mut plans = Vec::new();
    for (number, page_id) in doc.get_pages() {
        let page_at = Location::page(file, number as usize);
        plans.push((page_id, plan_page(src, page_id, &page_at)?));
    }
    Ok(plans)
}

/// The last `n` bytes of the file.
fn read_tail(file: &Path, n: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(file)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(n)))?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail)?;
    Ok(tail)
}

/// The whole file through lopdf, which repairs what it can: for files [`PdfFile::open`] cannot
/// read as written. This holds every stream in memory.
fn load_whole(file: &Path, at: &Location) -> Result<Document> {
    let at = at.clone();
    let bytes = std::fs::read(file).map_err(|source| PipelineError::Read {
        at: at.clone(),
        source,
    })?;
    match Document::load_mem(&bytes) {
        Ok(doc) => Ok(doc),
        Err(e) => {
            let text = e.to_string().to_ascii_lowercase();
            if text.contains("encrypt")
                || text.contains("password")
                || contains(&bytes, b"/Encrypt")
            {
                return Err(PipelineError::Encrypted { at });
            }
            Err(corrupt(&at, e))
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn number(obj: &Object) -> Option<f32> {
    match obj {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

/// Look a key up on the page and then up the page tree, for inheritable attributes.
fn inherited<'a>(doc: &'a Document, page_id: ObjectId, key: &[u8]) -> Option<&'a Object> {
    let mut node = doc.get_dictionary(page_id).ok()?;
    for _ in 0..64 {
        if let Ok(v) = node.get(key) {
            return Some(resolve(doc, v));
        }
        let parent = node.get(b"Parent").ok()?.as_reference().ok()?;
        node = doc.get_dictionary(parent).ok()?;
    }
    None
}

fn resolve<'a>(doc: &'a Document, obj: &'a Object) -> &'a Object {
    let mut cur = obj;
    for _ in 0..32 {
        match cur {
            Object::Reference(id) => match doc.get_object(*id) {
                Ok(next) => cur = next,
                Err(_) => return cur,
            },
            _ => return cur,
        }
    }
    cur
}

/// The page's content streams, read from the file, decoded and joined as lopdf joins them.
fn page_content(
    src: &PdfFile,
    page_id: ObjectId,
    at: &Location,
) -> Result<Content<Vec<Operation>>> {
    let doc = &src.doc;
    let mut content = Vec::new();
    for id in doc.get_page_contents(page_id) {
        let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) else {
            continue;
        };
        let stream = src.loaded(stream).map_err(|source| PipelineError::Read {
            at: at.clone(),
            source,
        })?;
        match stream.decompressed_content() {
            Ok(data) => content.extend_from_slice(&data),
            Err(_) => content.extend_from_slice(&stream.content),
        }
        content.push(b'\n');
    }
    Content::decode(&content).map_err(|e| corrupt(at, format!("page content: {e}")))
}

/// The largest image painted on a page so far: its pixel count, object, pixel size, the size it
/// is drawn at (points), and its bits a pixel.
type Candidate = (u64, ObjectId, u32, u32, Option<(f32, f32)>, usize);

fn plan_page(src: &PdfFile, page_id: ObjectId, at: &Location) -> Result<PagePlan> {
    let doc = &src.doc;
    let media = inherited(doc, page_id, b"MediaBox")
        .and_then(|o| o.as_array().ok())
        .and_then(|a| {
            let v: Vec<f32> = a.iter().filter_map(|o| number(resolve(doc, o))).collect();
            (v.len() == 4).then(|| ((v[2] - v[0]).abs(), (v[3] - v[1]).abs()))
        })
        .filter(|(w, h)| *w > 0.0 && *h > 0.0)
        .unwrap_or((612.0, 792.0));
    let rotate = inherited(doc, page_id, b"Rotate")
        .and_then(number)
        .map(|r| ((r as i64).rem_euclid(360) as u32 / 90) * 90)
        .unwrap_or(0);

    let content = page_content(src, page_id, at)?;
    let xobjects = page_xobjects(doc, page_id);
    let mut had_text = false;
    let mut paints_vectors = false;
    let mut best: Option<Candidate> = None;
    let mut ctm = [1.0f32, 0.0, 0.0, 1.0, 0.0, 0.0];
    let mut stack = Vec::new();
    for Operation { operator, operands } in &content.operations {
        match operator.as_str() {
            "q" => stack.push(ctm),
            "Q" => ctm = stack.pop().unwrap_or(ctm),
            "cm" => {
                let m: Vec<f32> = operands.iter().filter_map(number).collect();
                if m.len() == 6 {
                    ctm = multiply([m[0], m[1], m[2], m[3], m[4], m[5]], ctm);
                }
            }
            "Tj" | "TJ" | "'" | "\"" => had_text = true,
            "f" | "F" | "f*" | "B" | "B*" | "b" | "b*" | "S" | "s" | "sh" => paints_vectors = true,
            "BI" | "ID" => {
                return Err(PipelineError::Unsupported {
                    at: at.clone(),
                    reason: "inline images are not supported".into(),
                });
            }
            "Do" => {
                let Some(name) = operands.first().and_then(|o| o.as_name().ok()) else {
                    continue;
                };
                let Some(&id) = xobjects.iter().find(|(n, _)| n == name).map(|(_, id)| id) else {
                    continue;
                };
                let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) else {
                    continue;
                };
                let subtype = stream
                    .dict
                    .get(b"Subtype")
                    .and_then(Object::as_name)
                    .unwrap_or(b"");
                if subtype == b"Form" {
                    // Forms may hold text or drawing we cannot see into cheaply; treat as drawing.
                    paints_vectors = true;
                    continue;
                }
                if subtype != b"Image" {
                    continue;
                }
                let dim = |key: &[u8]| {
                    stream
                        .dict
                        .get(key)
                        .ok()
                        .map(|o| resolve(doc, o))
                        .and_then(number)
                        .map(|v| v as u32)
                };
                let (Some(w), Some(h)) = (dim(b"Width"), dim(b"Height")) else {
                    return Err(corrupt(at, "an image without Width or Height"));
                };
                let drawn = (
                    (ctm[0] * ctm[0] + ctm[1] * ctm[1]).sqrt(),
                    (ctm[2] * ctm[2] + ctm[3] * ctm[3]).sqrt(),
                );
                let area = u64::from(w) * u64::from(h);
                if best.as_ref().is_none_or(|b| area > b.0) {
                    let drawn = (drawn.0 > 1.0 && drawn.1 > 1.0).then_some(drawn);
                    let bpp = decoded_bytes_per_pixel(doc, &stream.dict);
                    best = Some((area, id, w, h, drawn, bpp));
                }
            }
            _ => {}
        }
    }
    let kind = match best {
        Some((_, id, width, height, drawn, bytes_per_pixel)) => PlanKind::Image {
            id,
            width,
            height,
            drawn,
            bytes_per_pixel,
        },
        None if had_text => return Err(PipelineError::BornDigital { at: at.clone() }),
        None if paints_vectors => {
            return Err(PipelineError::Unsupported {
                at: at.clone(),
                reason: "the page has vector drawing but no scanned image".into(),
            });
        }
        None => PlanKind::Blank,
    };
    Ok(PagePlan {
        kind,
        had_text,
        media,
        rotate,
    })
}

fn multiply(a: [f32; 6], b: [f32; 6]) -> [f32; 6] {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

/// The page's `/XObject` names and ids, from the nearest resources that define them.
fn page_xobjects(doc: &Document, page_id: ObjectId) -> Vec<(Vec<u8>, ObjectId)> {
    let Ok((direct, ids)) = doc.get_page_resources(page_id) else {
        return Vec::new();
    };
    let mut dicts: Vec<&Dictionary> = direct.into_iter().collect();
    dicts.extend(ids.iter().filter_map(|id| doc.get_dictionary(*id).ok()));
    let mut out = Vec::new();
    for res in dicts {
        let Ok(xo) = res.get(b"XObject") else {
            continue;
        };
        let Ok(xo) = resolve(doc, xo).as_dict() else {
            continue;
        };
        for (name, v) in xo.iter() {
            if let Ok(id) = v.as_reference()
                && !out.iter().any(|(n, _): &(Vec<u8>, ObjectId)| n == name)
            {
                out.push((name.clone(), id));
            }
        }
    }
    out
}

pub(super) fn decode(
    src: &PdfFile,
    _page_id: ObjectId,
    plan: &PagePlan,
    at: &Location,
    options: &ProcessOptions,
    planes: bool,
) -> Result<DecodedPage> {
    let (raster, dpi, passthrough) = match plan.kind {
        PlanKind::Blank => {
            let (w, h) = blank_size(plan.media);
            let img = GrayImage::from_pixel(w, h, image::Luma([255]));
            (Raster::Bilevel(img), (BLANK_PAGE_DPI, BLANK_PAGE_DPI), None)
        }
        PlanKind::Image {
            id,
            width,
            height,
            drawn,
            ..
        } => {
            let stream = src
                .doc
                .get_object(id)
                .and_then(Object::as_stream)
                .map_err(|e| corrupt(at, e))?;
            // The one place an image's data is read: from the file, for this page only.
            let stream = src.loaded(stream).map_err(|source| PipelineError::Read {
                at: at.clone(),
                source,
            })?;
            let (raster, passthrough) =
                decode_image(src, &stream, width, height, at, options, planes)?;
            let (dw, dh) = drawn.unwrap_or(if plan.rotate % 180 == 90 {
                (plan.media.1, plan.media.0)
            } else {
                plan.media
            });
            let dpi = (width as f32 * 72.0 / dw, height as f32 * 72.0 / dh);
            (raster, dpi, passthrough)
        }
    };
    let (raster, dpi, passthrough) = if plan.rotate == 0 {
        (raster, dpi, passthrough)
    } else {
        let dpi = if plan.rotate % 180 == 90 {
            (dpi.1, dpi.0)
        } else {
            dpi
        };
        (raster.rotate_quarters(plan.rotate), dpi, None)
    };
    Ok(DecodedPage {
        raster,
        dpi,
        dpi_assumed: false,
        passthrough,
        had_text: plan.had_text,
    })
}

fn filters(doc: &Document, dict: &Dictionary) -> Vec<Vec<u8>> {
    match dict.get(b"Filter").map(|o| resolve(doc, o)) {
        Ok(Object::Name(n)) => vec![n.clone()],
        Ok(Object::Array(a)) => a
            .iter()
            .filter_map(|o| resolve(doc, o).as_name().ok().map(<[u8]>::to_vec))
            .collect(),
        _ => Vec::new(),
    }
}

fn decode_parms(doc: &Document, dict: &Dictionary) -> Dictionary {
    match dict
        .get(b"DecodeParms")
        .or_else(|_| dict.get(b"DP"))
        .map(|o| resolve(doc, o))
    {
        Ok(Object::Dictionary(d)) => d.clone(),
        Ok(Object::Array(a)) => a
            .iter()
            .find_map(|o| resolve(doc, o).as_dict().ok().cloned())
            .unwrap_or_default(),
        _ => Dictionary::new(),
    }
}

/// The data of the `/JBIG2Globals` stream a JBIG2 image shares with others, if it names one.
fn jbig2_globals(
    src: &PdfFile,
    dict: &Dictionary,
    limit: usize,
) -> std::result::Result<Option<Vec<u8>>, String> {
    let parms = decode_parms(&src.doc, dict);
    let Ok(globals) = parms.get(b"JBIG2Globals") else {
        return Ok(None);
    };
    let globals = resolve(&src.doc, globals)
        .as_stream()
        .map_err(|_| "its JBIG2Globals is not a stream".to_string())?;
    let globals = src
        .loaded(globals)
        .map_err(|e| format!("its JBIG2Globals cannot be read: {e}"))?;
    if globals.dict.get(b"Filter").is_ok() {
        globals
            .decompressed_content_with_limit(limit)
            .map(Some)
            .map_err(|e| format!("its JBIG2Globals cannot be decompressed: {e}"))
    } else {
        Ok(Some(globals.content.clone()))
    }
}

/// The colour space, reduced to what decoding needs.
#[derive(Debug, Clone)]
enum Space {
    Gray,
    Rgb,
    Cmyk,
    Indexed { base: Box<Space>, palette: Vec<u8> },
}

impl Space {
    fn components(&self) -> usize {
        match self {
            Space::Gray | Space::Indexed { .. } => 1,
            Space::Rgb => 3,
            Space::Cmyk => 4,
        }
    }
}

fn color_space(src: &PdfFile, obj: &Object, at: &Location) -> Result<Space> {
    let doc = &src.doc;
    let unsupported = |what: String| PipelineError::Unsupported {
        at: at.clone(),
        reason: format!("colour space {what}"),
    };
    match resolve(doc, obj) {
        Object::Name(n) => match n.as_slice() {
            b"DeviceGray" | b"CalGray" | b"G" => Ok(Space::Gray),
            b"DeviceRGB" | b"CalRGB" | b"RGB" => Ok(Space::Rgb),
            b"DeviceCMYK" | b"CMYK" => Ok(Space::Cmyk),
            other => Err(unsupported(String::from_utf8_lossy(other).into_owned())),
        },
        Object::Array(a) => {
            let family = a
                .first()
                .map(|o| resolve(doc, o))
                .and_then(|o| o.as_name().ok())
                .unwrap_or(b"");
            match family {
                b"CalGray" => Ok(Space::Gray),
                b"CalRGB" | b"Lab" => Ok(Space::Rgb),
                b"ICCBased" => {
                    let n = a
                        .get(1)
                        .map(|o| resolve(doc, o))
                        .and_then(|o| o.as_stream().ok())
                        .and_then(|s| s.dict.get(b"N").ok().and_then(number))
                        .unwrap_or(3.0) as usize;
                    match n {
                        1 => Ok(Space::Gray),
                        3 => Ok(Space::Rgb),
                        4 => Ok(Space::Cmyk),
                        _ => Err(unsupported(format!("ICCBased with {n} components"))),
                    }
                }
                b"Indexed" | b"I" => {
                    let base = color_space(
                        src,
                        a.get(1)
                            .ok_or_else(|| corrupt(at, "Indexed without base"))?,
                        at,
                    )?;
                    let lookup = match a.get(3).map(|o| resolve(doc, o)) {
                        Some(Object::String(s, _)) => s.clone(),
                        Some(Object::Stream(s)) => src
                            .loaded(s)
                            .map_err(|source| PipelineError::Read {
                                at: at.clone(),
                                source,
                            })?
                            .get_plain_content()
                            .map_err(|e| corrupt(at, e))?,
                        _ => return Err(corrupt(at, "Indexed without a lookup table")),
                    };
                    Ok(Space::Indexed {
                        base: Box::new(base),
                        palette: lookup,
                    })
                }
                other => Err(unsupported(String::from_utf8_lossy(other).into_owned())),
            }
        }
        other => Err(unsupported(format!("{other:?}"))),
    }
}

fn decode_image(
    src: &PdfFile,
    stream: &Stream,
    width: u32,
    height: u32,
    at: &Location,
    options: &ProcessOptions,
    planes: bool,
) -> Result<(Raster, Option<EmbeddedImage>)> {
    let doc = &src.doc;
    let dict = &stream.dict;
    let filters = filters(doc, dict);
    if let Some(f) = filters.iter().find(|f| {
        !matches!(
            f.as_slice(),
            b"DCTDecode" | b"FlateDecode" | b"CCITTFaxDecode" | b"LZWDecode" | b"JBIG2Decode"
        )
    }) {
        return Err(PipelineError::Unsupported {
            at: at.clone(),
            reason: format!(
                "image filter {} is not supported",
                String::from_utf8_lossy(f)
            ),
        });
    }
    let image_mask = matches!(
        dict.get(b"ImageMask").map(|o| resolve(doc, o)),
        Ok(Object::Boolean(true))
    );
    let inverted_decode = dict
        .get(b"Decode")
        .ok()
        .and_then(|o| resolve(doc, o).as_array().ok())
        .and_then(|a| a.first().map(|o| resolve(doc, o)).and_then(number))
        .is_some_and(|first| first > 0.5);
    let bpc = dict
        .get(b"BitsPerComponent")
        .ok()
        .map(|o| resolve(doc, o))
        .and_then(number)
        .map(|v| v as u32);
    let space = if image_mask {
        Space::Gray
    } else {
        match dict.get(b"ColorSpace") {
            Ok(cs) => color_space(src, cs, at)?,
            // JPEG and CCITT describe themselves; a raw image without a colour space is grey.
            Err(_) => Space::Gray,
        }
    };
    let limit = (u64::from(options.max_megapixels) * 1_000_000 * 4) as usize;

    let raster = match filters.last().map(Vec::as_slice) {
        Some(b"DCTDecode") if filters.len() == 1 => {
            // A large colour page straight into planes (no RGB buffer), unless a soft mask is
            // to be put on it, which works in RGB.
            let planes = planes && dict.get(b"SMask").is_err();
            let decoded = if planes {
                super::turbojpeg::decode_ycc420(&stream.content, at)?
            } else {
                None
            };
            match decoded {
                Some((header, raster)) => {
                    if header.width != width || header.height != height {
                        return Err(corrupt(
                            at,
                            "the JPEG's size differs from the image dictionary's",
                        ));
                    }
                    raster
                }
                None => {
                    let img = image::load_from_memory_with_format(
                        &stream.content,
                        image::ImageFormat::Jpeg,
                    )
                    .map_err(|e| damaged(at.clone(), format!("JPEG image: {e}")))?;
                    if img.width() != width || img.height() != height {
                        return Err(corrupt(
                            at,
                            "the JPEG's size differs from the image dictionary's",
                        ));
                    }
                    raster_from_dynamic(img)
                }
            }
        }
        Some(b"CCITTFaxDecode") if filters.len() == 1 => {
            let parms = decode_parms(doc, dict);
            let get = |k: &[u8]| parms.get(k).ok().map(|o| resolve(doc, o));
            let k = get(b"K").and_then(number).unwrap_or(0.0);
            let columns = get(b"Columns")
                .and_then(number)
                .map(|v| v as u32)
                .unwrap_or(1728);
            let black_is_1 = matches!(get(b"BlackIs1"), Some(Object::Boolean(true)));
            if columns != width {
                return Err(corrupt(at, "CCITT Columns differ from the image Width"));
            }
            // A coded black run decodes to 1 when BlackIs1, else 0; Decode [1 0] flips that;
            // a final 0 is dark.
            let black_value = u8::from(black_is_1) ^ u8::from(inverted_decode);
            let polarity = Polarity {
                black_is_dark: black_value == 0,
            };
            let img = if k < 0.0 {
                ccitt::decode_g4(&stream.content, width, height, polarity).ok_or_else(|| {
                    damaged(at.clone(), "CCITT G4 image data is damaged or truncated")
                })?
            } else {
                // K = 0 comes here too: the `fax` crate's Group 3 reader needs an EOL before
                // every row, which PDF leaves out unless EndOfLine is set.
                let flag = |key: &[u8], default: bool| match get(key) {
                    Some(Object::Boolean(b)) => *b,
                    _ => default,
                };
                // `as` saturates: a negative or absurd Rows reads as "not given" or "plenty".
                let params = G3Params {
                    k: k as u32,
                    columns,
                    rows: get(b"Rows").and_then(number).map_or(0, |r| r as u32),
                    end_of_line: flag(b"EndOfLine", false),
                    encoded_byte_align: flag(b"EncodedByteAlign", false),
                };
                ccitt_g3::decode(&stream.content, &params, height, polarity).map_err(
                    |e| match e {
                        G3Error::Truncated { .. } => PipelineError::Truncated {
                            at: at.clone(),
                            reason: e.to_string(),
                        },
                        G3Error::Corrupt { .. } => corrupt(at, e),
                        G3Error::Unsupported { .. } => PipelineError::Unsupported {
                            at: at.clone(),
                            reason: e.to_string(),
                        },
                    },
                )?
            };
            Raster::Bilevel(img)
        }
        Some(b"DCTDecode")
            if filters[..filters.len() - 1]
                .iter()
                .all(|f| f == b"FlateDecode") =>
        {
            // Some writers deflate their JPEGs once more; undo that, then decode the JPEG.
            let mut jpeg = stream.content.clone();
            for _ in 1..filters.len() {
                jpeg = inflate(&jpeg, limit)
                    .map_err(|e| damaged(at.clone(), format!("image data: {e}")))?;
            }
            let img = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
                .map_err(|e| damaged(at.clone(), format!("JPEG image: {e}")))?;
            raster_from_dynamic(img)
        }
        Some(b"JBIG2Decode") if filters.len() == 1 => {
            let jbig2_error = |reason: String| PipelineError::Jbig2 {
                at: at.clone(),
                reason,
            };
            let globals = jbig2_globals(src, dict, limit).map_err(jbig2_error)?;
            let mut img = jbig2::decode(&stream.content, globals.as_deref(), width, height)
                .map_err(jbig2_error)?;
            // The filter's output has 0 for black, as DeviceGray and image masks expect.
            if inverted_decode {
                image::imageops::invert(&mut img);
            }
            Raster::Bilevel(img)
        }
        Some(b"DCTDecode") | Some(b"CCITTFaxDecode") | Some(b"JBIG2Decode") => {
            return Err(PipelineError::Unsupported {
                at: at.clone(),
                reason: "chained image filters".into(),
            });
        }
        _ => {
            let samples = stream
                .decompressed_content_with_limit(limit)
                .or_else(|e| {
                    if filters.is_empty() {
                        Ok(stream.content.clone())
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| damaged(at.clone(), format!("image data: {e}")))?;
            let bpc = if image_mask {
                1
            } else {
                bpc.ok_or_else(|| corrupt(at, "image without BitsPerComponent"))?
            };
            raw_samples(&samples, width, height, bpc, &space, inverted_decode, at)?
        }
    };
    let raster = apply_soft_mask(src, dict, raster, width, height, limit);

    let passthrough = passthrough(src, stream, &filters, bpc, image_mask, inverted_decode);
    Ok((raster, passthrough))
}

fn inflate(data: &[u8], limit: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)?;
    if out.len() > limit {
        return Err(std::io::Error::other("decompresses past the size limit"));
    }
    Ok(out)
}

/// Interpret unfiltered samples: 1/2/4/8/16 bits, grey, RGB, CMYK or indexed.
fn raw_samples(
    data: &[u8],
    width: u32,
    height: u32,
    bpc: u32,
    space: &Space,
    invert: bool,
    at: &Location,
) -> Result<Raster> {
    if !matches!(bpc, 1 | 2 | 4 | 8 | 16) {
        return Err(corrupt(at, format!("BitsPerComponent {bpc}")));
    }
    let comps = space.components();
    let (w, h) = (width as usize, height as usize);
    let stride = (w * comps * bpc as usize).div_ceil(8);
    if data.len() < stride * h {
        return Err(damaged(
            at.clone(),
            "truncated: the image data is shorter than its size says",
        ));
    }
    // The common scanner cases, 8-bit grey and RGB, are plain copies.
    if bpc == 8 && matches!(space, Space::Gray | Space::Rgb) {
        let mut v = Vec::with_capacity(stride * h);
        for row in data.chunks_exact(stride).take(h) {
            v.extend_from_slice(&row[..w * comps]);
        }
        return Ok(match space {
            Space::Gray => {
                if invert {
                    v.iter_mut().for_each(|p| *p = 255 - *p);
                }
                Raster::from_gray(
                    GrayImage::from_raw(width, height, v).expect("sized from the dimensions"),
                )
            }
            _ => Raster::from_rgb(
                RgbImage::from_raw(width, height, v).expect("sized from the dimensions"),
            ),
        });
    }
    let max = ((1u32 << bpc) - 1) as f32;
    let sample = |row: &[u8], i: usize| -> u32 {
        match bpc {
            8 => u32::from(row[i]),
            16 => u32::from(row[2 * i]) << 8 | u32::from(row[2 * i + 1]),
            _ => {
                let bit = i * bpc as usize;
                u32::from(row[bit / 8] >> (8 - bpc as usize - bit % 8)) & ((1 << bpc) - 1)
            }
        }
    };
    let to8 = |v: u32| (v as f32 * 255.0 / max).round() as u8;
    match space {
        Space::Gray => {
            let img = GrayImage::from_fn(width, height, |x, y| {
                let row = &data[y as usize * stride..];
                let v = to8(sample(row, x as usize));
                image::Luma([if invert { 255 - v } else { v }])
            });
            Ok(Raster::from_gray(img))
        }
        Space::Rgb | Space::Cmyk => {
            let img = RgbImage::from_fn(width, height, |x, y| {
                let row = &data[y as usize * stride..];
                let c = |k: usize| to8(sample(row, x as usize * comps + k));
                if comps == 3 {
                    image::Rgb([c(0), c(1), c(2)])
                } else {
                    let k = 255 - u32::from(c(3));
                    let f = |v: u8| ((255 - u32::from(v)) * k / 255) as u8;
                    image::Rgb([f(c(0)), f(c(1)), f(c(2))])
                }
            });
            Ok(Raster::from_rgb(img))
        }
        Space::Indexed { base, palette } => {
            let bc = base.components();
            let img = RgbImage::from_fn(width, height, |x, y| {
                let row = &data[y as usize * stride..];
                let idx = sample(row, x as usize) as usize * bc;
                let p = |k: usize| palette.get(idx + k).copied().unwrap_or(0);
                match bc {
                    1 => image::Rgb([p(0), p(0), p(0)]),
                    3 => image::Rgb([p(0), p(1), p(2)]),
                    _ => {
                        let k = 255 - u32::from(p(3));
                        let f = |v: u8| ((255 - u32::from(v)) * k / 255) as u8;
                        image::Rgb([f(p(0)), f(p(1)), f(p(2))])
                    }
                }
            });
            Ok(Raster::from_rgb(img))
        }
    }
}

/// Put a soft-masked image on white paper, as a viewer shows it. A mask we cannot read is
/// ignored rather than failing the page: the image itself is what gets OCR'd.
fn apply_soft_mask(
    src: &PdfFile,
    dict: &Dictionary,
    raster: Raster,
    width: u32,
    height: u32,
    limit: usize,
) -> Raster {
    let Some(mask) = dict
        .get(b"SMask")
        .ok()
        .map(|o| resolve(&src.doc, o))
        .and_then(|o| o.as_stream().ok())
    else {
        return raster;
    };
    let Ok(mask) = src.loaded(mask) else {
        return raster;
    };
    let dims = |k: &[u8]| mask.dict.get(k).ok().and_then(number).map(|v| v as u32);
    if dims(b"Width") != Some(width)
        || dims(b"Height") != Some(height)
        || dims(b"BitsPerComponent") != Some(8)
    {
        return raster;
    }
    let Ok(alpha) = mask.decompressed_content_with_limit(limit) else {
        return raster;
    };
    if alpha.len() < (width * height) as usize {
        return raster;
    }
    let over =
        |c: u8, a: u8| ((u32::from(c) * u32::from(a) + 255 * (255 - u32::from(a))) / 255) as u8;
    let mut rgb = match raster {
        Raster::Rgb(img) => img,
        other => image::DynamicImage::ImageLuma8(other.to_gray()).into_rgb8(),
    };
    for (p, &a) in rgb.pixels_mut().zip(alpha.iter()) {
        p.0 = [over(p[0], a), over(p[1], a), over(p[2], a)];
    }
    Raster::from_rgb(rgb)
}

/// The original stream, if it can be written again as it is.
fn passthrough(
    src: &PdfFile,
    stream: &Stream,
    filters: &[Vec<u8>],
    bpc: Option<u32>,
    image_mask: bool,
    inverted_decode: bool,
) -> Option<EmbeddedImage> {
    let doc = &src.doc;
    let dict = &stream.dict;
    if filters.len() != 1
        || !matches!(
            filters[0].as_slice(),
            b"DCTDecode" | b"FlateDecode" | b"CCITTFaxDecode"
        )
        || image_mask
        || inverted_decode
        || dict.get(b"SMask").is_ok()
        || dict.get(b"Mask").is_ok()
    {
        return None;
    }
    let mut out = Dictionary::new();
    let mut icc_profile = None;
    match dict.get(b"ColorSpace").map(|o| resolve(doc, o)) {
        Ok(Object::Name(n))
            if matches!(n.as_slice(), b"DeviceGray" | b"DeviceRGB" | b"DeviceCMYK") =>
        {
            out.set("ColorSpace", Object::Name(n.clone()));
        }
        Ok(Object::Array(a)) if a.first().and_then(|o| o.as_name().ok()) == Some(b"ICCBased") => {
            let profile = a
                .get(1)
                .map(|o| resolve(doc, o))
                .and_then(|o| o.as_stream().ok())?;
            let mut profile = src.loaded(profile).ok()?.into_owned();
            // Keep only what a profile needs; anything else might point at objects we do not copy.
            let n = profile.dict.get(b"N").ok().and_then(number)?;
            let mut pd = Dictionary::new();
            pd.set("N", Object::Integer(n as i64));
            if let Ok(f) = profile.dict.get(b"Filter") {
                pd.set("Filter", resolve(doc, f).clone());
            }
            profile.dict = pd;
            icc_profile = Some(profile);
        }
        Err(_) if filters[0] == b"CCITTFaxDecode" => {
            out.set("ColorSpace", Object::Name(b"DeviceGray".to_vec()))
        }
        _ => return None,
    }
    for key in [&b"Width"[..], b"Height", b"BitsPerComponent"] {
        out.set(key.to_vec(), resolve(doc, dict.get(key).ok()?).clone());
    }
    bpc?;
    out.set("Filter", Object::Name(filters[0].clone()));
    let parms = decode_parms(doc, dict);
    if !parms.is_empty() {
        if parms.iter().any(|(_, v)| matches!(v, Object::Reference(_))) {
            return None;
        }
        out.set("DecodeParms", Object::Dictionary(parms));
    }
    Some(EmbeddedImage {
        data: stream.content.clone(),
        dict: out,
        icc_profile,
    })
}

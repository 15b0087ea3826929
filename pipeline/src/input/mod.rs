//! Input: finding the pages in the given files and decoding one page at a time.
//!
//! [`probe`] reads only headers (and, for PDFs, the object structure) so that every refusal that
//! can be decided up front — unsupported format, encryption, a page over the pixel limit — is
//! decided before any page is decoded or OCR'd. [`PageRef::decode`] then decodes one page on a
//! worker thread. Format is decided by content, never by file extension.
//!
//! Memory: a [`PageRef`] holds no pixel or image data, only where to find its page; each page's
//! data is read from its file when the page is decoded. For a PDF that holds for the image
//! streams too ([`pdf_file`]), so the list of pages of a 500-page scan is small.

pub(crate) mod ccitt;
pub(crate) mod ccitt_g3;
#[cfg(test)]
mod format_tests;
pub(crate) mod jbig2;
mod libtiff;
mod pdf;
pub(crate) mod pdf_file;
#[cfg(test)]
mod pdf_file_tests;
mod raster;
pub(crate) mod tiff;
pub(crate) mod turbojpeg;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Location, PipelineError, Result};
use crate::options::ProcessOptions;
use crate::page::DecodedPage;

/// One page of one input file, not yet decoded.
#[derive(Debug, Clone)]
pub struct PageRef {
    pub file: PathBuf,
    /// 0-based index of the page within its file.
    pub index: usize,
    pub width: u32,
    pub height: u32,
    /// Bytes a pixel takes once decoded: 1 for grey and bilevel pages, 3 for colour.
    pub bytes_per_pixel: usize,
    /// A colour page large enough to be held as YCbCr 4:2:0 planes ([`crate::ycc`]):
    /// 1.5 bytes a pixel instead of 3.
    pub colour_planes: bool,
    /// Its format is decoded straight into planes (PNG and TIFF row by row, sequential 4:2:0,
    /// 4:2:2 and 4:4:0 JPEG files by libjpeg-turbo); otherwise (other JPEGs, PDF) it is
    /// decoded whole as RGB first, which takes twice the planes' memory for a moment.
    planes_streamed: bool,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    Raster,
    Tiff,
    Pdf {
        doc: Arc<pdf_file::PdfFile>,
        page_id: lopdf::ObjectId,
        plan: Arc<pdf::PagePlan>,
    },
}

impl PageRef {
    pub fn location(&self) -> Location {
        Location::page(&self.file, self.index + 1)
    }

    /// The most memory processing this page is expected to take, in MiB, judged from its
    /// header: its pixels, times the buffers of its size the page steps keep alive at once.
    pub fn estimated_peak_mb(&self) -> u64 {
        if self.colour_planes {
            estimated_planes_peak_mb(self.width, self.height, self.planes_streamed)
        } else {
            estimated_peak_mb(self.width, self.height, self.bytes_per_pixel)
        }
    }

    /// Decode this page's pixels. A page meant to be held as planes is decoded straight into
    /// them where the format allows (PNG and strip TIFF row by row; 4:2:0, 4:2:2 and 4:4:0
    /// JPEGs, files or PDF images, by libjpeg-turbo), and otherwise converted in its own buffer
    /// once decoded.
    pub fn decode(&self, options: &ProcessOptions) -> Result<DecodedPage> {
        let planes = self.colour_planes;
        let mut page = match &self.source {
            Source::Raster => raster::decode(&self.file, options, planes)?,
            Source::Tiff => tiff::decode(&self.file, self.index, options, planes)?,
            Source::Pdf { doc, page_id, plan } => {
                pdf::decode(doc, *page_id, plan, &self.location(), options, planes)?
            }
        };
        if planes {
            page.raster = page.raster.into_planes();
        }
        Ok(page)
    }
}

/// The formats recognised by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Png,
    Jpeg,
    Tiff,
    Pdf,
}

fn sniff(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if [b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"]
        .iter()
        .any(|magic| head.starts_with(*magic))
    {
        // Classic TIFF and BigTIFF, either byte order.
        Some(Format::Tiff)
    } else if head.windows(5).any(|w| w == b"%PDF-") {
        Some(Format::Pdf)
    } else {
        None
    }
}

/// List the pages of every input, in order, refusing what can be refused from headers alone.
/// Colour pages above [`crate::ycc::PLANAR_COLOUR_MIN_PIXELS`] are held as planes.
pub fn probe(inputs: &[PathBuf], options: &ProcessOptions) -> Result<Vec<PageRef>> {
    probe_with_planes_above(inputs, options, crate::ycc::PLANAR_COLOUR_MIN_PIXELS)
}

/// [`probe`], with colour pages of more than `colour_planes_above` pixels held as planes.
pub fn probe_with_planes_above(
    inputs: &[PathBuf],
    options: &ProcessOptions,
    colour_planes_above: u64,
) -> Result<Vec<PageRef>> {
    if inputs.is_empty() {
        return Err(PipelineError::NoInput);
    }
    let mut pages = Vec::new();
    for file in inputs {
        pages.extend(probe_file(file, options, colour_planes_above)?);
    }
    Ok(pages)
}

fn probe_file(
    file: &Path,
    options: &ProcessOptions,
    colour_planes_above: u64,
) -> Result<Vec<PageRef>> {
    let planes = |width: u32, height: u32, bytes_per_pixel: usize| {
        bytes_per_pixel == 3 && u64::from(width) * u64::from(height) > colour_planes_above
    };
    let at = Location::file(file);
    let mut head = [0u8; 1024];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(file).map_err(|source| PipelineError::Read {
            at: at.clone(),
            source,
        })?;
        let mut filled = 0;
        loop {
            match f.read(&mut head[filled..]) {
                Ok(0) => break,
                Ok(k) => {
                    filled += k;
                    if filled == head.len() {
                        break;
                    }
                }
                Err(source) => {
                    return Err(PipelineError::Read {
                        at: at.clone(),
                        source,
                    });
                }
            }
        }
        filled
    };
    let format = sniff(&head[..n]).ok_or_else(|| PipelineError::Unsupported {
        at: at.clone(),
        reason: if n == 0 {
            "the file is empty".into()
        } else {
            "not a PNG, JPEG, TIFF or PDF file".into()
        },
    })?;
    let pages = match format {
        Format::Png | Format::Jpeg => {
            let ((width, height), bytes_per_pixel) = raster::probe(file)?;
            let colour_planes = planes(width, height, bytes_per_pixel);
            let page = PageRef {
                file: file.to_owned(),
                index: 0,
                width,
                height,
                bytes_per_pixel,
                colour_planes,
                planes_streamed: format == Format::Png
                    || (colour_planes && raster::jpeg_decodes_into_planes(file)),
                source: Source::Raster,
            };
            check_size(&page, options)?;
            vec![page]
        }
        Format::Tiff => tiff::probe(file)?
            .into_iter()
            .enumerate()
            .map(|(index, ((width, height), bytes_per_pixel))| {
                let page = PageRef {
                    file: file.to_owned(),
                    index,
                    width,
                    height,
                    bytes_per_pixel,
                    colour_planes: planes(width, height, bytes_per_pixel),
                    planes_streamed: true,
                    source: Source::Tiff,
                };
                check_size(&page, options)?;
                Ok(page)
            })
            .collect::<Result<Vec<_>>>()?,
        Format::Pdf => {
            let (doc, plans) = pdf::probe(file)?;
            let doc = Arc::new(doc);
            plans
                .into_iter()
                .enumerate()
                .map(|(index, (page_id, plan))| {
                    let (width, height) = plan.pixel_size();
                    let page = PageRef {
                        file: file.to_owned(),
                        index,
                        width,
                        height,
                        bytes_per_pixel: plan.bytes_per_pixel(),
                        colour_planes: planes(width, height, plan.bytes_per_pixel()),
                        planes_streamed: false,
                        source: Source::Pdf {
                            doc: doc.clone(),
                            page_id,
                            plan: Arc::new(plan),
                        },
                    };
                    check_size(&page, options)?;
                    Ok(page)
                })
                .collect::<Result<Vec<_>>>()?
        }
    };
    if pages.is_empty() {
        return Err(PipelineError::Unsupported {
            at,
            reason: "the file has no pages".into(),
        });
    }
    Ok(pages)
}

/// A page's expected peak memory in MiB (see [`PageRef::estimated_peak_mb`]).
pub fn estimated_peak_mb(width: u32, height: u32, bytes_per_pixel: usize) -> u64 {
    let bytes = u64::from(width) as f64
        * u64::from(height) as f64
        * bytes_per_pixel as f64
        * crate::page_steps::PAGE_BUFFER_FACTOR;
    (bytes / f64::from(1u32 << 20)).ceil() as u64
}

/// The expected peak in MiB of a colour page held as planes: its luma plane's size times
/// [`crate::page_steps::PLANES_BUFFER_FACTOR`], or [`crate::page_steps::WHOLE_RGB_FACTOR`]
/// when its format is decoded whole as RGB before it becomes planes.
pub fn estimated_planes_peak_mb(width: u32, height: u32, streamed: bool) -> u64 {
    let factor = if streamed {
        crate::page_steps::PLANES_BUFFER_FACTOR
    } else {
        crate::page_steps::WHOLE_RGB_FACTOR
    };
    let bytes = u64::from(width) as f64 * u64::from(height) as f64 * factor;
    (bytes / f64::from(1u32 << 20)).ceil() as u64
}

/// Both guards a page must pass before it is decoded: the pixel limit, then the memory budget.
fn check_size(page: &PageRef, options: &ProcessOptions) -> Result<()> {
    let at = page.location();
    check_pixel_limit(&at, page.width, page.height, options)?;
    check_memory_budget(&at, page, options)
}

/// A page that alone would need more than `max_memory_mb` is refused up front: it could never
/// be given its memory, and trying would take the machine down rather than the page.
fn check_memory_budget(at: &Location, page: &PageRef, options: &ProcessOptions) -> Result<()> {
    let need_mb = page.estimated_peak_mb();
    if need_mb > options.max_memory_mb {
        return Err(PipelineError::OverMemoryBudget {
            at: at.clone(),
            width: page.width,
            height: page.height,
            channels: page.bytes_per_pixel,
            need_mb,
            budget_mb: options.max_memory_mb,
        });
    }
    Ok(())
}

/// The decompression-bomb guard: judged on the stated size, before a pixel is allocated.
pub(crate) fn check_pixel_limit(
    at: &Location,
    width: u32,
    height: u32,
    options: &ProcessOptions,
) -> Result<()> {
    let pixels = u64::from(width) * u64::from(height);
    let limit = u64::from(options.max_megapixels) * 1_000_000;
    if pixels > limit {
        return Err(PipelineError::TooLarge {
            at: at.clone(),
            width: width.into(),
            height: height.into(),
            megapixels: pixels as f64 / 1e6,
            limit: options.max_megapixels,
        });
    }
    if width == 0 || height == 0 {
        return Err(PipelineError::Corrupt {
            at: at.clone(),
            reason: format!("the image is {width}×{height} pixels"),
        });
    }
    Ok(())
}

/// Sort a decoder's complaint into truncated or corrupt, since both reach us as text.
pub(crate) fn damaged(at: Location, reason: impl std::fmt::Display) -> PipelineError {
    let reason = reason.to_string();
    let lower = reason.to_ascii_lowercase();
    if lower.contains("eof")
        || lower.contains("end of file")
        || lower.contains("truncat")
        || lower.contains("unexpected end")
        || lower.contains("not enough data")
        || lower.contains("failed to fill whole buffer")
    {
        PipelineError::Truncated { at, reason }
    } else {
        PipelineError::Corrupt { at, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(Format::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
        assert_eq!(sniff(b"II*\0...."), Some(Format::Tiff));
        assert_eq!(sniff(b"MM\0*...."), Some(Format::Tiff));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(Format::Pdf));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn pixel_limit_is_judged_on_stated_size() {
        let opts = ProcessOptions::default();
        let at = Location::page("x.tif", 1);
        assert!(check_pixel_limit(&at, 15_000, 15_000, &opts).is_ok());
        let err = check_pixel_limit(&at, 35_000, 35_000, &opts).unwrap_err();
        assert_eq!(err.code(), "pipeline.decode.too_large");
        assert!(err.to_string().contains("x.tif, page 1"), "{err}");
    }
}

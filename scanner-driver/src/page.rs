//! Reading one page from the device into spool files on disk, frame by frame.
//!
//! A page is one frame (gray or RGB) or three (red, green, blue from a three-pass scanner), and
//! its height may be unknown until the data ends (hand scanners, some feeders). Spooling the raw
//! rows to disk first keeps memory flat whatever the page size, and means only complete pages
//! ever reach the TIFF. Turning rows into TIFF samples is `tiff_out.rs`'s job.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::device::Device;
use crate::error::{SaneStatus, ScanError};
use crate::ffi;

/// How the samples of a spooled page are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Gray,
    /// Pixel-interleaved red, green, blue in one frame.
    Rgb,
    /// Three frames, red, green and blue (three-pass scanners).
    Planes,
}

/// A complete page on disk, raw as the device sent it.
#[derive(Debug, Clone)]
pub struct SpooledPage {
    pub layout: Layout,
    /// Bits per sample: 1, 8 or 16.
    pub depth: u8,
    pub width: u32,
    pub height: u32,
    pub bytes_per_line: usize,
    /// One file for Gray/Rgb; red, green, blue for Planes.
    pub frames: Vec<PathBuf>,
}

pub(crate) enum PageRead {
    Page(SpooledPage),
    /// The feeder reported no documents before any data of this page.
    NoDocuments,
}

/// Size of one `sane_read`; the buffer is allocated once per batch and reused.
pub(crate) const READ_CHUNK: usize = 256 * 1024;

/// Reads the next page. `page` (1-based) is only for messages; `buf` is scratch space.
pub(crate) fn read_page(
    device: &mut Device<'_>,
    spool: &Path,
    page: u32,
    buf: &mut [u8],
) -> Result<PageRead, ScanError> {
    let cancel = device.cancel_handle();
    // After an asynchronous cancel a backend may end the frame with any status (the test
    // backend says EOF), so a pending cancel decides what the fault was.
    let fault = |device: &Device<'_>, status: SaneStatus| match status {
        _ if cancel.is_requested() => ScanError::Cancelled {
            device: device.name().to_string(),
            page,
        },
        SaneStatus::Cancelled => ScanError::Cancelled {
            device: device.name().to_string(),
            page,
        },
        status => ScanError::Device {
            device: device.name().to_string(),
            page,
            status,
        },
    };
    let format_error = |device: &Device<'_>, detail: String| ScanError::Format {
        device: device.name().to_string(),
        page,
        detail,
    };
    let mut frames: [Option<(ffi::Parameters, PathBuf, u64)>; 3] = [None, None, None];
    let mut first_frame = true;
    loop {
        if cancel.take_request() {
            return Err(ScanError::Cancelled {
                device: device.name().to_string(),
                page,
            });
        }
        match device.start() {
            Ok(()) => {}
            Err(SaneStatus::NoDocs) if first_frame => return Ok(PageRead::NoDocuments),
            Err(status) => return Err(fault(device, status)),
        }
        let params = device.parameters().map_err(|s| fault(device, s))?;
        let slot = match params.format {
            ffi::FRAME_GRAY | ffi::FRAME_RGB | ffi::FRAME_RED => 0,
            ffi::FRAME_GREEN => 1,
            ffi::FRAME_BLUE => 2,
            other => {
                return Err(format_error(
                    device,
                    format!("frame format {other} (only gray, RGB and three-pass RGB are handled)"),
                ));
            }
        };
        if !matches!(params.depth, 1 | 8 | 16) {
            return Err(format_error(
                device,
                format!("{} bits per sample", params.depth),
            ));
        }
        if params.bytes_per_line <= 0 || params.pixels_per_line <= 0 {
            return Err(format_error(
                device,
                format!("{} bytes per line", params.bytes_per_line),
            ));
        }
        let path = spool.join(format!("frame-{slot}.raw"));
        let file = File::create(&path).map_err(ScanError::output(&path, "create spool file"))?;
        // Reads arrive in large chunks already: no extra buffering.
        let mut out = file;
        let mut total: u64 = 0;
        loop {
            if cancel.take_request() {
                device.cancel_scan();
                return Err(ScanError::Cancelled {
                    device: device.name().to_string(),
                    page,
                });
            }
            match device.read(buf) {
                Ok(n) => {
                    out.write_all(&buf[..n])
                        .map_err(ScanError::output(&path, "write spool file"))?;
                    total += n as u64;
                }
                Err(SaneStatus::Eof) if cancel.is_requested() => {
                    return Err(fault(device, SaneStatus::Cancelled));
                }
                Err(SaneStatus::Eof) => break,
                Err(SaneStatus::NoDocs) if first_frame && total == 0 => {
                    return Ok(PageRead::NoDocuments);
                }
                Err(status) => return Err(fault(device, status)),
            }
        }
        out.flush()
            .map_err(ScanError::output(&path, "write spool file"))?;
        frames[slot] = Some((params, path, total));
        first_frame = false;
        if params.last_frame != 0 {
            break;
        }
    }

    let layout = match frames[0].as_ref().map(|f| f.0.format) {
        Some(ffi::FRAME_GRAY) => Layout::Gray,
        Some(ffi::FRAME_RGB) => Layout::Rgb,
        _ => Layout::Planes,
    };
    let present: Vec<&(ffi::Parameters, PathBuf, u64)> = frames.iter().flatten().collect();
    if layout == Layout::Planes && present.len() != 3 {
        return Err(format_error(
            device,
            format!(
                "three-pass scan delivered {} of 3 colour frames",
                present.len()
            ),
        ));
    }
    let first = present[0].0;
    if present
        .iter()
        .any(|f| f.0.bytes_per_line != first.bytes_per_line || f.0.depth != first.depth)
    {
        return Err(format_error(device, "colour frames differ in size".into()));
    }
    // Only whole lines count; a hand scanner announces -1 lines, a feeder may stop short.
    let bpl = first.bytes_per_line as u64;
    let height = present.iter().map(|f| f.2 / bpl).min().unwrap_or(0);
    if height == 0 {
        return Err(format_error(
            device,
            "the device sent no image lines".into(),
        ));
    }
    Ok(PageRead::Page(SpooledPage {
        layout,
        depth: first.depth as u8,
        width: first.pixels_per_line as u32,
        height: height as u32,
        bytes_per_line: bpl as usize,
        frames: present.iter().map(|f| f.1.clone()).collect(),
    }))
}

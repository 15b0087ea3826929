//! JBIG2 page images from PDFs (`/JBIG2Decode`, with or without `/JBIG2Globals`), decoded by
//! jbig2dec, the library poppler, MuPDF and Ghostscript use. Archive scans and "compact" PDFs
//! from OCR software carry bilevel pages this way.
//!
//! Decoding only: the page goes on as a bilevel raster and is written out again as CCITT G4,
//! so the output never depends on a JBIG2 reader. jbig2dec allocates through a capped allocator,
//! so a stream that claims a huge page or a runaway symbol dictionary fails instead of taking
//! the machine's memory; the caller has already checked the image's declared size.

use std::alloc::{Layout, alloc, dealloc, realloc};
use std::ffi::{CStr, c_char, c_int, c_void};

use image::GrayImage;

#[repr(C)]
struct Jbig2Allocator {
    alloc: unsafe extern "C" fn(*mut Jbig2Allocator, usize) -> *mut c_void,
    free: unsafe extern "C" fn(*mut Jbig2Allocator, *mut c_void),
    realloc: unsafe extern "C" fn(*mut Jbig2Allocator, *mut c_void, usize) -> *mut c_void,
}

#[repr(C)]
struct Jbig2Image {
    width: u32,
    height: u32,
    stride: u32,
    data: *mut u8,
    refcount: c_int,
}

enum Jbig2Ctx {}
enum Jbig2GlobalCtx {}

const OPTIONS_EMBEDDED: c_int = 1;
const SEVERITY_FATAL: c_int = 3;
/// The library checks that it was built for the header version its caller saw.
const VERSION: (c_int, c_int) = (0, 19);

type ErrorCallback = unsafe extern "C" fn(*mut c_void, *const c_char, c_int, u32);

#[link(name = "jbig2dec")]
unsafe extern "C" {
    fn jbig2_ctx_new_imp(
        allocator: *mut Jbig2Allocator,
        options: c_int,
        global_ctx: *mut Jbig2GlobalCtx,
        error_callback: Option<ErrorCallback>,
        error_callback_data: *mut c_void,
        major: c_int,
        minor: c_int,
    ) -> *mut Jbig2Ctx;
    fn jbig2_ctx_free(ctx: *mut Jbig2Ctx) -> *mut Jbig2Allocator;
    fn jbig2_make_global_ctx(ctx: *mut Jbig2Ctx) -> *mut Jbig2GlobalCtx;
    fn jbig2_global_ctx_free(global_ctx: *mut Jbig2GlobalCtx) -> *mut Jbig2Allocator;
    fn jbig2_data_in(ctx: *mut Jbig2Ctx, data: *const u8, size: usize) -> c_int;
    fn jbig2_complete_page(ctx: *mut Jbig2Ctx) -> c_int;
    fn jbig2_page_out(ctx: *mut Jbig2Ctx) -> *mut Jbig2Image;
    fn jbig2_release_page(ctx: *mut Jbig2Ctx, image: *mut Jbig2Image);
}

/// An allocator that refuses to hand out more than `cap` bytes in all. `base` comes first so
/// the library's `Jbig2Allocator*` is also a pointer to this.
#[repr(C)]
struct CappedAllocator {
    base: Jbig2Allocator,
    used: usize,
    cap: usize,
}

/// Each block starts with a header holding its size, since the library frees without one.
const HEADER: usize = 16;

fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(HEADER)?, HEADER).ok()
}

unsafe extern "C" fn capped_alloc(a: *mut Jbig2Allocator, size: usize) -> *mut c_void {
    // SAFETY: the library passes back the allocator it was given, which is a CappedAllocator.
    let a = unsafe { &mut *(a as *mut CappedAllocator) };
    let Some(layout) = layout(size) else {
        return std::ptr::null_mut();
    };
    if a.used.saturating_add(size) > a.cap {
        return std::ptr::null_mut();
    }
    // SAFETY: the layout has a non-zero size (it includes the header).
    let block = unsafe { alloc(layout) };
    if block.is_null() {
        return std::ptr::null_mut();
    }
    a.used += size;
    // SAFETY: the block is at least HEADER bytes and aligned for usize.
    unsafe {
        (block as *mut usize).write(size);
        block.add(HEADER) as *mut c_void
    }
}

unsafe extern "C" fn capped_free(a: *mut Jbig2Allocator, p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // SAFETY: as in capped_alloc; `p` came from capped_alloc or capped_realloc, so its header
    // sits HEADER bytes before it.
    unsafe {
        let a = &mut *(a as *mut CappedAllocator);
        let block = (p as *mut u8).sub(HEADER);
        let size = (block as *const usize).read();
        a.used -= size;
        dealloc(block, layout(size).expect("the size was allocated before"));
    }
}

unsafe extern "C" fn capped_realloc(
    a: *mut Jbig2Allocator,
    p: *mut c_void,
    size: usize,
) -> *mut c_void {
    if p.is_null() {
        // SAFETY: forwarded unchanged.
        return unsafe { capped_alloc(a, size) };
    }
    // SAFETY: as in capped_free.
    unsafe {
        let state = &mut *(a as *mut CappedAllocator);
        let block = (p as *mut u8).sub(HEADER);
        let old = (block as *const usize).read();
        let Some(new_layout) = layout(size) else {
            return std::ptr::null_mut();
        };
        if (state.used - old).saturating_add(size) > state.cap {
            return std::ptr::null_mut();
        }
        let moved = realloc(
            block,
            layout(old).expect("allocated before"),
            new_layout.size(),
        );
        if moved.is_null() {
            return std::ptr::null_mut();
        }
        state.used = state.used - old + size;
        (moved as *mut usize).write(size);
        moved.add(HEADER) as *mut c_void
    }
}

/// Collects the library's fatal messages; the first one becomes the reason given to the user.
unsafe extern "C" fn on_error(data: *mut c_void, msg: *const c_char, severity: c_int, _: u32) {
    if severity < SEVERITY_FATAL || msg.is_null() {
        return;
    }
    // SAFETY: `data` is the Vec passed with the callback and outlives the context; `msg` is a
    // C string for the duration of the call.
    unsafe {
        let errors = &mut *(data as *mut Vec<String>);
        errors.push(CStr::from_ptr(msg).to_string_lossy().into_owned());
    }
}

/// Owns the contexts so every exit path frees them, in the order the library needs.
struct Session {
    allocator: Box<CappedAllocator>,
    // Boxed so the address the callback holds stays put however the Session moves.
    #[allow(clippy::box_collection)]
    errors: Box<Vec<String>>,
    globals: *mut Jbig2GlobalCtx,
    ctx: *mut Jbig2Ctx,
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: each pointer is either null or a live context made in `decode`, freed once.
        unsafe {
            if !self.ctx.is_null() {
                jbig2_ctx_free(self.ctx);
            }
            if !self.globals.is_null() {
                jbig2_global_ctx_free(self.globals);
            }
        }
    }
}

impl Session {
    fn new_ctx(&mut self, globals: *mut Jbig2GlobalCtx) -> Result<*mut Jbig2Ctx, String> {
        // SAFETY: the allocator and error list are boxed, so their addresses stay valid for as
        // long as the Session, which frees the contexts before dropping them.
        let ctx = unsafe {
            jbig2_ctx_new_imp(
                &mut self.allocator.base,
                OPTIONS_EMBEDDED,
                globals,
                Some(on_error),
                &mut *self.errors as *mut Vec<String> as *mut c_void,
                VERSION.0,
                VERSION.1,
            )
        };
        if ctx.is_null() {
            Err(format!(
                "the JBIG2 decoder could not start (jbig2dec {}.{} is needed)",
                VERSION.0, VERSION.1
            ))
        } else {
            Ok(ctx)
        }
    }

    fn failure(&self, what: &str) -> String {
        match self.errors.first() {
            Some(reason) => format!("{what}: {reason}"),
            None => what.to_owned(),
        }
    }
}

/// Walk the segment headers of an embedded stream: every segment's data must be all there,
/// because jbig2dec quietly skips a segment that is cut short and would hand back a page with
/// a region missing. Returns how many segments carry page content (regions).
fn whole_segments(mut data: &[u8]) -> Result<usize, String> {
    const TRUNCATED: &str = "the JBIG2 data is truncated";
    let mut regions = 0;
    while !data.is_empty() {
        let take = |data: &mut &[u8], n: usize| -> Result<u64, String> {
            if data.len() < n {
                return Err(TRUNCATED.into());
            }
            let value = data[..n].iter().fold(0u64, |v, &b| v << 8 | u64::from(b));
            *data = &data[n..];
            Ok(value)
        };
        let number = take(&mut data, 4)?;
        let flags = take(&mut data, 1)?;
        let kind = flags & 0x3F;
        let first = take(&mut data, 1)?;
        let referred = match first >> 5 {
            7 => {
                let count = (first & 0x1F) << 24 | take(&mut data, 3)?;
                take(&mut data, (count as usize + 1).div_ceil(8))?;
                count
            }
            n @ 0..=4 => n,
            _ => return Err("the JBIG2 data is damaged (bad segment header)".into()),
        };
        let number_size = match number {
            0..=256 => 1,
            257..=65536 => 2,
            _ => 4,
        };
        for _ in 0..referred {
            take(&mut data, number_size)?;
        }
        take(&mut data, if flags & 0x40 != 0 { 4 } else { 1 })?;
        let length = take(&mut data, 4)?;
        // Immediate generic, refinement and text/halftone regions draw on the page.
        if matches!(kind, 6 | 7 | 22 | 23 | 38 | 39 | 42 | 43) {
            regions += 1;
        }
        if length == 0xFFFF_FFFF {
            // Length left open for a streamed generic region: its end is found by decoding.
            break;
        }
        if (data.len() as u64) < length {
            return Err(TRUNCATED.into());
        }
        data = &data[length as usize..];
    }
    Ok(regions)
}

/// Decode one JBIG2 page of `width`×`height` (as the image dictionary declares) to
/// black-on-white pixels. `globals` is the `/JBIG2Globals` stream's data, if any. The error
/// says why, in words for the user.
pub(crate) fn decode(
    data: &[u8],
    globals: Option<&[u8]>,
    width: u32,
    height: u32,
) -> Result<GrayImage, String> {
    if whole_segments(data)? == 0 {
        return Err("the JBIG2 data has no region, so no page content".into());
    }
    let page_bytes = (width as usize).div_ceil(8) * height as usize;
    // Room for the page, a region buffer the size of the page, and dictionaries.
    let cap = page_bytes.saturating_mul(4).saturating_add(64 << 20);
    let mut session = Session {
        allocator: Box::new(CappedAllocator {
            base: Jbig2Allocator {
                alloc: capped_alloc,
                free: capped_free,
                realloc: capped_realloc,
            },
            used: 0,
            cap,
        }),
        errors: Box::default(),
        globals: std::ptr::null_mut(),
        ctx: std::ptr::null_mut(),
    };
    if let Some(globals) = globals {
        let ctx = session.new_ctx(std::ptr::null_mut())?;
        // SAFETY: `ctx` is live; the data slice is valid for the call. make_global_ctx takes
        // the context over, so only the global context is kept to be freed.
        unsafe {
            let status = jbig2_data_in(ctx, globals.as_ptr(), globals.len());
            session.globals = jbig2_make_global_ctx(ctx);
            if status < 0 || session.globals.is_null() {
                return Err(session.failure("the JBIG2 globals are damaged"));
            }
        }
    }
    session.ctx = session.new_ctx(session.globals)?;
    // SAFETY: the context is live; pages returned are released before it is freed.
    unsafe {
        if jbig2_data_in(session.ctx, data.as_ptr(), data.len()) < 0 {
            return Err(session.failure("the JBIG2 data is damaged"));
        }
        // Embedded streams carry no end-of-page segment; this ends the page.
        jbig2_complete_page(session.ctx);
        let page = jbig2_page_out(session.ctx);
        if page.is_null() {
            return Err(session.failure("the JBIG2 data holds no complete page"));
        }
        let image = copy_page(&*page, width, height);
        jbig2_release_page(session.ctx, page);
        image.ok_or_else(|| {
            session.failure(&format!(
                "the JBIG2 page is not the {width}×{height} the image dictionary declares"
            ))
        })
    }
}

/// JBIG2 pixels are 1 for black, rows packed most significant bit first.
///
/// # Safety
/// `page.data` must hold `stride * height` bytes.
unsafe fn copy_page(page: &Jbig2Image, width: u32, height: u32) -> Option<GrayImage> {
    if page.width != width || page.height != height || page.data.is_null() {
        return None;
    }
    let stride = page.stride as usize;
    // SAFETY: promised by the caller.
    let bits = unsafe { std::slice::from_raw_parts(page.data, stride * height as usize) };
    let mut img = GrayImage::new(width, height);
    for (row, out) in bits
        .chunks_exact(stride)
        .zip(img.chunks_exact_mut(width as usize))
    {
        for (x, px) in out.iter_mut().enumerate() {
            *px = if row[x / 8] & (0x80 >> (x % 8)) != 0 {
                0
            } else {
                255
            };
        }
    }
    Some(img)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A segment header for page 1 with no referred-to segments.
    fn segment(number: u32, kind: u8, data: &[u8]) -> Vec<u8> {
        let mut s = number.to_be_bytes().to_vec();
        s.push(kind);
        s.push(0); // no referred-to segments
        s.push(1); // page 1
        s.extend_from_slice(&(data.len() as u32).to_be_bytes());
        s.extend_from_slice(data);
        s
    }

    /// An embedded JBIG2 stream that holds `img` (0 = black) as one immediate lossless generic
    /// region coded with MMR, which is CCITT G4 inside JBIG2; jbig2dec decodes it independently.
    pub(crate) fn jbig2_stream(img: &GrayImage) -> Vec<u8> {
        let (w, h) = img.dimensions();
        let mut page_info = Vec::new();
        for v in [w, h, 11811, 11811] {
            page_info.extend_from_slice(&v.to_be_bytes()); // 300 dpi in pixels per metre
        }
        page_info.push(0);
        page_info.extend_from_slice(&[0, 0]);

        let mut enc = fax::encoder::Encoder::new(fax::VecWriter::new());
        for y in 0..h {
            let row = (0..w).map(|x| {
                if img.get_pixel(x, y)[0] == 0 {
                    fax::Color::Black
                } else {
                    fax::Color::White
                }
            });
            enc.encode_line(row, w).unwrap();
        }
        let mmr = enc.finish().unwrap().finish();
        let mut region = Vec::new();
        for v in [w, h, 0, 0] {
            region.extend_from_slice(&v.to_be_bytes());
        }
        region.push(0); // combination operator OR
        region.push(1); // MMR
        region.extend_from_slice(&mmr);

        let mut stream = segment(0, 48, &page_info);
        stream.extend(segment(1, 39, &region));
        stream
    }

    /// A globals stream with one harmless segment (an extension segment holding a comment),
    /// so the globals path runs without needing a symbol dictionary encoder.
    pub(crate) fn comment_globals() -> Vec<u8> {
        let mut data = 0x2000_0000u32.to_be_bytes().to_vec(); // ASCII comment extension
        data.extend_from_slice(b"Title\0Quire test\0\0");
        let mut s = 2u32.to_be_bytes().to_vec();
        s.push(62);
        s.push(0);
        s.push(0); // global segments belong to no page
        s.extend_from_slice(&(data.len() as u32).to_be_bytes());
        s.extend_from_slice(&data);
        s
    }

    fn sample(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| {
            image::Luma([if (x * x + 3 * y) % 7 < 3 || x == w - 1 {
                0
            } else {
                255
            }])
        })
    }

    #[test]
    fn an_mmr_page_decodes_to_its_pixels_with_and_without_globals() {
        for (w, h) in [(203u32, 61u32), (640, 9)] {
            let img = sample(w, h);
            let stream = jbig2_stream(&img);
            assert_eq!(decode(&stream, None, w, h).unwrap(), img);
            assert_eq!(
                decode(&stream, Some(&comment_globals()), w, h).unwrap(),
                img
            );
        }
    }

    #[test]
    fn damaged_or_mismatched_streams_are_errors_with_reasons() {
        let img = sample(120, 40);
        let stream = jbig2_stream(&img);
        let err = decode(&stream, None, 121, 40).err();
        assert!(
            err.as_deref().is_some_and(|e| e.contains("121×40")),
            "{err:?}"
        );
        // Only the page information segment: no region, so no page worth having.
        let page_info_only = 11 + 19;
        let err = decode(&stream[..page_info_only], None, 120, 40).err();
        assert!(
            err.as_deref().is_some_and(|e| e.contains("no region")),
            "{err:?}"
        );
        let cut_header = page_info_only + 7;
        // Cut inside the region: jbig2dec alone would skip the region and give a blank page.
        for cut in [stream.len() - 5, stream.len() / 2 + 10] {
            let err = decode(&stream[..cut], None, 120, 40).err();
            assert!(
                err.as_deref().is_some_and(|e| e.contains("truncated")),
                "{err:?}"
            );
        }
        let err = decode(&stream[..cut_header], None, 120, 40).err();
        assert!(
            err.as_deref().is_some_and(|e| e.contains("truncated")),
            "{err:?}"
        );
    }

    #[test]
    fn a_page_bigger_than_the_declared_one_runs_into_the_allocation_cap() {
        // The stream claims a 60000×60000 page (450 MB) while the dictionary says 100×100.
        let mut stream = jbig2_stream(&sample(100, 100));
        stream[11..19].copy_from_slice(&[0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60]);
        let err = decode(&stream, None, 100, 100).err();
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("failed to allocate")),
            "{err:?}"
        );
    }
}

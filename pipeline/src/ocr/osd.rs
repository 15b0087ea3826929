//! Orientation detection with tesseract's OSD model (`osd.traineddata`).
//!
//! The `tesseract` crate does not wrap `DetectOrientationScript`, so this file calls it through
//! `tesseract-sys` — the same libtesseract — behind a small safe type. Like the OCR engine,
//! one OSD engine lives per worker thread.

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};

use image::GrayImage;
use tesseract_sys as sys;

use crate::error::{PipelineError, Result};

/// What OSD found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Orientation {
    /// Clockwise rotation (0, 90, 180, 270) that turns the page upright.
    pub rotate_clockwise: u32,
    /// Tesseract's orientation confidence (unbounded; about 2 is a weak call, 10+ a clear one).
    pub confidence: f32,
}

pub struct OsdEngine {
    handle: *mut sys::TessBaseAPI,
    key: Option<String>,
}

impl OsdEngine {
    pub fn new(tessdata: Option<&str>) -> Result<OsdEngine> {
        let init_err = |reason: &str| PipelineError::OcrInit {
            languages: "osd".into(),
            reason: reason.into(),
        };
        let datapath = tessdata
            .map(CString::new)
            .transpose()
            .map_err(|_| init_err("bad tessdata path"))?;
        let lang = CString::new("osd").expect("no NUL");
        // SAFETY: a fresh handle; the strings outlive the call; the handle is freed in Drop.
        unsafe {
            let handle = sys::TessBaseAPICreate();
            if handle.is_null() {
                return Err(init_err("TessBaseAPICreate returned null"));
            }
            let path_ptr = datapath.as_ref().map_or(std::ptr::null(), |p| p.as_ptr());
            if sys::TessBaseAPIInit3(handle, path_ptr, lang.as_ptr()) != 0 {
                sys::TessBaseAPIDelete(handle);
                return Err(init_err(
                    "cannot load osd.traineddata (is tesseract-ocr-osd installed?)",
                ));
            }
            sys::TessBaseAPISetPageSegMode(handle, sys::TessPageSegMode_PSM_OSD_ONLY);
            // Tesseract's warnings go to stderr otherwise, one per page.
            let (name, value) = (
                CString::new("debug_file").expect("no NUL"),
                CString::new("/dev/null").expect("no NUL"),
            );
            sys::TessBaseAPISetVariable(handle, name.as_ptr(), value.as_ptr());
            Ok(OsdEngine {
                handle,
                key: tessdata.map(Into::into),
            })
        }
    }

    /// Detect how the page is turned. `None` when OSD finds too little text to judge.
    pub fn detect(&mut self, img: &GrayImage, dpi: u32) -> Option<Orientation> {
        let (w, h) = img.dimensions();
        let mut degrees: c_int = 0;
        let mut confidence: f32 = 0.0;
        let mut script: *const c_char = std::ptr::null();
        let mut script_conf: f32 = 0.0;
        // SAFETY: the image buffer outlives the calls (Clear drops tesseract's reference before
        // we return); the out-pointers are valid locals.
        let ok = unsafe {
            sys::TessBaseAPISetImage(
                self.handle,
                img.as_raw().as_ptr(),
                w as c_int,
                h as c_int,
                1,
                w as c_int,
            );
            sys::TessBaseAPISetSourceResolution(self.handle, dpi.clamp(70, 2400) as c_int);
            let ok = sys::TessBaseAPIDetectOrientationScript(
                self.handle,
                &mut degrees,
                &mut confidence,
                &mut script,
                &mut script_conf,
            );
            if !script.is_null() {
                let _ = CStr::from_ptr(script);
            }
            sys::TessBaseAPIClear(self.handle);
            ok
        };
        if ok == 0 {
            return None;
        }
        // Tesseract reports how far the page is turned clockwise; undoing it is turning back
        // the other way (checked against pages turned by a known amount in the tests).
        let turned = degrees.rem_euclid(360) as u32 / 90 * 90;
        Some(Orientation {
            rotate_clockwise: (360 - turned) % 360,
            confidence,
        })
    }
}

impl Drop for OsdEngine {
    fn drop(&mut self) {
        // SAFETY: the handle came from TessBaseAPICreate and is dropped once.
        unsafe {
            sys::TessBaseAPIEnd(self.handle);
            sys::TessBaseAPIDelete(self.handle);
        }
    }
}

thread_local! {
    static OSD: RefCell<Option<OsdEngine>> = const { RefCell::new(None) };
}

/// Run `f` with this thread's OSD engine, creating it on first use.
pub fn with_osd<R>(tessdata: Option<&str>, f: impl FnOnce(&mut OsdEngine) -> R) -> Result<R> {
    OSD.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|e| e.key.as_deref() != tessdata) {
            *slot = None;
            *slot = Some(OsdEngine::new(tessdata)?);
        }
        Ok(f(slot.as_mut().expect("engine just set")))
    })
}

//! The per-thread tesseract engine. Loading traineddata takes far longer than OCR of a small
//! page, so each worker thread loads it once and keeps it in a thread-local for its lifetime.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use image::GrayImage;
use tesseract::{OcrEngineMode, PageSegMode, Tesseract};

use super::tsv::OcrPage;
use crate::error::{PipelineError, Result};

static ENGINE_INITS: AtomicUsize = AtomicUsize::new(0);

/// How many tesseract OCR engines this process has created; tests use it to prove reuse.
pub fn engine_inits() -> usize {
    ENGINE_INITS.load(Ordering::Relaxed)
}

/// What an engine was made for: languages, tessdata folder, table finding.
type EngineKey = (String, Option<String>, bool);

pub struct OcrEngine {
    key: EngineKey,
    // The `tesseract` crate's builder methods take the engine by value; it is put back after
    // each page, and a failed page leaves `None` so the next page makes a fresh engine.
    tess: Option<Tesseract>,
}

impl OcrEngine {
    pub fn new(languages: &str, tessdata: Option<&str>, find_tables: bool) -> Result<OcrEngine> {
        let init_err = |reason: String| PipelineError::OcrInit {
            languages: languages.into(),
            reason,
        };
        let mut tess = Tesseract::new_with_oem(tessdata, Some(languages), OcrEngineMode::LstmOnly)
            .map_err(|e| {
                init_err(format!(
                    "{e} (is tesseract-ocr-{} installed?)",
                    languages.replace('+', ", tesseract-ocr-")
                ))
            })?;
        // The C API defaults to one uniform block; scans need layout analysis.
        tess.set_page_seg_mode(PageSegMode::PsmAuto);
        let tess = tess
            .set_variable("debug_file", "/dev/null")
            .and_then(|t| {
                t.set_variable(
                    "textord_tabfind_find_tables",
                    if find_tables { "1" } else { "0" },
                )
            })
            .map_err(|e| init_err(e.to_string()))?;
        ENGINE_INITS.fetch_add(1, Ordering::Relaxed);
        Ok(OcrEngine {
            key: (languages.into(), tessdata.map(Into::into), find_tables),
            tess: Some(tess),
        })
    }

    /// OCR one grey page at the given resolution.
    pub fn recognize(&mut self, img: &GrayImage, dpi: u32) -> std::result::Result<OcrPage, String> {
        let tess = self
            .tess
            .take()
            .ok_or("the engine was lost after an earlier failure")?;
        let (w, h) = img.dimensions();
        let tess = tess
            .set_frame(img.as_raw(), w as i32, h as i32, 1, w as i32)
            .map_err(|e| e.to_string())?;
        let mut tess = tess
            .set_source_resolution(dpi.clamp(70, 2400) as i32)
            .recognize()
            .map_err(|e| e.to_string())?;
        let tsv = tess.get_tsv_text(0).map_err(|e| e.to_string());
        self.tess = Some(tess);
        Ok(OcrPage::from_tsv(&tsv?))
    }

    fn usable_for(&self, key: &EngineKey) -> bool {
        self.tess.is_some() && &self.key == key
    }
}

thread_local! {
    static ENGINE: RefCell<Option<OcrEngine>> = const { RefCell::new(None) };
}

/// Run `f` with this thread's engine for `languages`, creating it on first use. The flag says
/// whether an engine was started for this call (so callers can show that engines are reused).
pub fn with_engine<R>(
    languages: &str,
    tessdata: Option<&str>,
    find_tables: bool,
    f: impl FnOnce(&mut OcrEngine) -> R,
) -> Result<(R, bool)> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let key = (languages.to_owned(), tessdata.map(Into::into), find_tables);
        let start = !slot.as_ref().is_some_and(|e| e.usable_for(&key));
        if start {
            *slot = None;
            *slot = Some(OcrEngine::new(languages, tessdata, find_tables)?);
        }
        Ok((f(slot.as_mut().expect("engine just set")), start))
    })
}

//! OCR with libtesseract, in process: one LSTM engine per worker thread, created on the thread's
//! first page and reused for every later page, plus orientation detection (OSD).
//!
//! Tesseract's own OpenMP threads would fight our worker threads for the cores, so the process
//! must run with `OMP_THREAD_LIMIT=1`; libgomp reads it when the library loads, which is why
//! the binary, not this crate, sets it (see [`openmp_limited`]).

mod engine;
mod osd;
mod tsv;

pub use engine::{OcrEngine, engine_inits, with_engine};
pub use osd::{Orientation, OsdEngine, with_osd};
pub use tsv::{OcrPage, Word};

/// True when tesseract's OpenMP threading is limited to one thread per worker.
pub fn openmp_limited() -> bool {
    std::env::var("OMP_THREAD_LIMIT").is_ok_and(|v| v.trim() == "1")
}

//! What Quire's tests share, and nothing a user ever runs.
//!
//! - [`synth`]: article pages rendered from a seed with known text, skew and scanner noise,
//!   written in every input format Quire reads, with [`synth::cer`] to score OCR against the
//!   printed text. Used by the pipeline's tests, examples and benchmarks, and by the
//!   end-to-end tests.
//!
//! It is a dev-dependency only (`publish = false`); no crate's normal build links it.

pub mod synth;

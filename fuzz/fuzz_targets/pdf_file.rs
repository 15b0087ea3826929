//! The PDF object reader: cross-reference data, objects, stream positions.
//! The input format is documented at `quire_pipeline::fuzz_api::pdf_file`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quire_pipeline::fuzz_api::pdf_file(data));

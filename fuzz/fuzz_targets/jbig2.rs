//! PDF JBIG2 streams and their globals; the input starts with a 6-byte header.
//! The input format is documented at `quire_pipeline::fuzz_api::jbig2`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quire_pipeline::fuzz_api::jbig2(data));

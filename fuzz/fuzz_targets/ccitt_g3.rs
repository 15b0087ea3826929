//! PDF CCITT Group 3 streams; the input starts with an 8-byte DecodeParms header.
//! The input format is documented at `quire_pipeline::fuzz_api::ccitt_g3`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quire_pipeline::fuzz_api::ccitt_g3(data));

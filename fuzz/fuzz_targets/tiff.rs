//! TIFF files: IFD probing, the pixel limit, then page decoding.
//! The input format is documented at `quire_pipeline::fuzz_api::tiff`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quire_pipeline::fuzz_api::tiff(data));

//! The HTTP Range header of borrower downloads; the input is an 8-byte file length, then the
//! header. The format and the promises checked are at `quire_delivery::range::fuzz_check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quire_delivery::range::fuzz_check(data));

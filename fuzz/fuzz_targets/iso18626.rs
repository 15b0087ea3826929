//! The ISO 18626 reader, which takes XML from other libraries' systems: any bytes must give a
//! message or a refusal with a standard error type, never a panic, and a refusal's answer must
//! be writable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(refusal) = quire_iso18626::read::read(data) {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let confirmation = quire_iso18626::Confirmation {
            header: refusal.header.as_deref(),
            received: now,
            now,
            error: Some((refusal.error, refusal.reason.clone())),
        };
        let _ = quire_iso18626::write::request_confirmation(
            quire_iso18626::Version::V1_2,
            &confirmation,
        );
    }
});

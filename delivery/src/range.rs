//! The HTTP `Range` header (RFC 9110, section 14) for one byte range of a file of known
//! length, as a pure function with no HTTP types, so a fuzz target can call it directly.
//!
//! Every position is client input, up to and past `u64::MAX`: all arithmetic is checked or
//! saturating, never `+ 1` on a raw value.

use std::ops::Range;

/// Why a `Range` header cannot be served: the answer is `416 Range Not Satisfiable` with
/// `Content-Range: bytes */LEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// The range starts at or past the end of the file, or asks for no bytes (`bytes=-0`).
    #[error("range starts past the end of the {len}-byte file or is empty")]
    Unsatisfiable { len: u64 },
    /// `bytes=B-A` with `A < B`: RFC 9110 calls it invalid; we refuse it rather than guess.
    #[error("range ends before it starts")]
    Backwards,
}

/// The bytes `header` asks for out of a file of `len` bytes, as a half-open range.
///
/// - `Ok(None)`: send the whole file with 200. That is the answer for a header that is not
///   one well-formed byte range (another unit, bad syntax, or several ranges, which RFC 9110
///   lets a server answer with the whole representation).
/// - `Ok(Some(r))`: send `r` with 206; `r` is never empty and `r.end <= len`.
/// - `Err(_)`: answer 416.
///
/// A last position past the end of the file is clamped to the last byte, and a suffix longer
/// than the file means the whole file, both as RFC 9110 section 14.1.2 says.
pub fn parse_range(header: &str, len: u64) -> Result<Option<Range<u64>>, RangeError> {
    let Some(spec) = strip_unit(header.trim()) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let range = match (first.is_empty(), last.is_empty()) {
        // `-N`: the last N bytes.
        (true, false) => {
            let Some(n) = position(last) else {
                return Ok(None);
            };
            len.saturating_sub(n)..len
        }
        // `A-`: from A to the end.
        (false, true) => {
            let Some(a) = position(first) else {
                return Ok(None);
            };
            a..len
        }
        // `A-B`, both inclusive.
        (false, false) => {
            let (Some(a), Some(b)) = (position(first), position(last)) else {
                return Ok(None);
            };
            if b < a {
                return Err(RangeError::Backwards);
            }
            // B is at most u64::MAX: B + 1 would overflow, so clamp to the file first.
            a..b.min(len.saturating_sub(1)).saturating_add(1)
        }
        (true, true) => return Ok(None),
    };
    if range.start >= len || range.is_empty() {
        return Err(RangeError::Unsatisfiable { len });
    }
    Ok(Some(range))
}

/// The fuzz target `range` (fuzz/fuzz_targets/range.rs) and its regression replay: the first
/// 8 bytes are the file length (little-endian), the rest the header (lossy UTF-8, as a header
/// value could be anything). Panics if [`parse_range`] breaks one of its promises: a range it
/// returns is non-empty and inside the file.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    let Some((len, header)) = data.split_first_chunk::<8>() else {
        return;
    };
    let len = u64::from_le_bytes(*len);
    let header = String::from_utf8_lossy(header);
    if let Ok(Some(r)) = parse_range(&header, len) {
        assert!(
            r.start < r.end && r.end <= len,
            "{header:?} on a {len}-byte file gave {r:?}"
        );
    }
}

/// The part after `bytes=`; the unit is case-insensitive (RFC 9110 section 14.1).
fn strip_unit(header: &str) -> Option<&str> {
    let (unit, spec) = header.split_once('=')?;
    unit.trim().eq_ignore_ascii_case("bytes").then_some(spec)
}

/// A position: ASCII digits only (`str::parse` would also take a `+`). Digits past
/// `u64::MAX` saturate: such a position is past the end of any file, which is what it means.
fn position(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Ok(Some(0..100)));
        assert_eq!(parse_range("bytes=500-", 1000), Ok(Some(500..1000)));
        assert_eq!(parse_range("bytes=-100", 1000), Ok(Some(900..1000)));
        assert_eq!(parse_range("BYTES = 10-10", 1000), Ok(Some(10..11)));
        assert_eq!(parse_range("bytes=999-999", 1000), Ok(Some(999..1000)));
    }

    #[test]
    fn a_last_position_past_the_end_is_clamped_to_the_last_byte() {
        assert_eq!(parse_range("bytes=0-5000", 1000), Ok(Some(0..1000)));
        assert_eq!(parse_range("bytes=10-999", 1000), Ok(Some(10..1000)));
        assert_eq!(
            parse_range("bytes=0-18446744073709551615", 1000),
            Ok(Some(0..1000)),
            "u64::MAX as the last position must not overflow"
        );
        assert_eq!(
            parse_range("bytes=0-18446744073709551615", u64::MAX),
            Ok(Some(0..u64::MAX))
        );
        assert_eq!(
            parse_range("bytes=0-99999999999999999999999999", 1000),
            Ok(Some(0..1000)),
            "digits past u64::MAX saturate"
        );
        assert_eq!(parse_range("bytes=-5000", 1000), Ok(Some(0..1000)));
        assert_eq!(
            parse_range("bytes=-18446744073709551615", 1000),
            Ok(Some(0..1000))
        );
    }

    #[test]
    fn unsatisfiable_ranges() {
        let none = Err(RangeError::Unsatisfiable { len: 1000 });
        assert_eq!(parse_range("bytes=1000-", 1000), none);
        assert_eq!(parse_range("bytes=1000-2000", 1000), none);
        assert_eq!(parse_range("bytes=18446744073709551615-", 1000), none);
        assert_eq!(
            parse_range("bytes=18446744073709551615-18446744073709551615", 1000),
            none
        );
        assert_eq!(parse_range("bytes=-0", 1000), none);
        assert_eq!(
            parse_range("bytes=0-0", 0),
            Err(RangeError::Unsatisfiable { len: 0 })
        );
        assert_eq!(parse_range("bytes=5-4", 1000), Err(RangeError::Backwards));
    }

    #[test]
    fn what_is_not_one_byte_range_is_ignored() {
        for h in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=abc-",
            "bytes=+1-2",
            "bytes=1-+2",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=1",
            "bytes=1--2",
            "bytes=١-٢",
        ] {
            assert_eq!(parse_range(h, 1000), Ok(None), "{h:?}");
        }
    }
}

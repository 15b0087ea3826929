//! Download-link tokens and pickup codes: generation from the OS random source, hashing for
//! storage, and constant-time checking.
//!
//! A [`Token`] carries 192 random bits as 32 URL-safe base64 characters. The database keeps
//! only [`token_hash`]; a presented token is hashed and compared with [`hash_matches`], which
//! uses the `subtle` crate so the comparison time does not depend on where the hashes differ.
//! Neither tokens nor pickup codes print themselves: `Debug` and `Display` show `****`, and
//! only [`Token::expose`] / [`PickupCode::expose`] give the text (to build the link or the
//! e-mail, never a log line).
//!
//! Pickup codes are six digits, so their hash is guessable offline by brute force; they are a
//! second factor next to the token, and rate-limiting attempts is the HTTP layer's job.

use std::fmt;

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::DeliveryError;

/// Random bytes in a token.
const TOKEN_BYTES: usize = 24;
pub const PICKUP_CODE_DIGITS: usize = 6;

/// The secret part of a download link.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn generate() -> Result<Self, DeliveryError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        fill_random(&mut bytes)?;
        Ok(Self(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        ))
    }

    /// Wraps a token taken from a URL path, so it cannot be logged by accident either.
    pub fn from_presented(text: &str) -> Self {
        Self(text.to_owned())
    }

    /// The token text, for building the link.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What to store: the SHA-256 hex of the token.
    pub fn hash(&self) -> String {
        token_hash(&self.0)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(****)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// A short numeric code the borrower types on the download page.
#[derive(Clone, PartialEq, Eq)]
pub struct PickupCode(String);

impl PickupCode {
    pub fn generate() -> Result<Self, DeliveryError> {
        // Rejection sampling keeps every code equally likely (no modulo bias).
        let modulus = 10u32.pow(PICKUP_CODE_DIGITS as u32);
        let limit = u32::MAX - u32::MAX % modulus;
        loop {
            let mut bytes = [0u8; 4];
            fill_random(&mut bytes)?;
            let n = u32::from_le_bytes(bytes);
            if n < limit {
                return Ok(Self(format!(
                    "{:0width$}",
                    n % modulus,
                    width = PICKUP_CODE_DIGITS
                )));
            }
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        token_hash(&self.0)
    }
}

impl fmt::Debug for PickupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PickupCode(****)")
    }
}

impl fmt::Display for PickupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// SHA-256 hex of a token or pickup code, as stored. Surrounding whitespace is not trimmed:
/// the caller decides what the user meant.
pub fn token_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Whether `presented` hashes to `stored_hash`, compared in constant time.
pub fn hash_matches(presented: &str, stored_hash: &str) -> bool {
    constant_time_eq(token_hash(presented).as_bytes(), stored_hash.as_bytes())
}

/// Byte equality whose running time depends only on the lengths (via `subtle`).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `n` random bytes as hex (temp file names).
pub(crate) fn random_hex(n: usize) -> Result<String, DeliveryError> {
    let mut bytes = vec![0u8; n];
    fill_random(&mut bytes)?;
    Ok(hex::encode(bytes))
}

fn fill_random(buf: &mut [u8]) -> Result<(), DeliveryError> {
    getrandom::fill(buf).map_err(|e| DeliveryError::Random(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn tokens_are_long_url_safe_and_distinct() {
        let tokens: HashSet<String> = (0..1000)
            .map(|_| Token::generate().unwrap().expose().to_owned())
            .collect();
        assert_eq!(tokens.len(), 1000);
        for t in &tokens {
            assert_eq!(t.len(), 32);
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{t}"
            );
        }
        // 32 base64 characters carry 192 bits; check they are not, say, all from a small alphabet.
        let distinct_chars: HashSet<char> = tokens.iter().flat_map(|t| t.chars()).collect();
        assert!(distinct_chars.len() > 60, "{}", distinct_chars.len());
    }

    #[test]
    fn tokens_and_codes_do_not_print() {
        let token = Token::generate().unwrap();
        let code = PickupCode::generate().unwrap();
        let printed = format!("{token} {token:?} {code} {code:?} {:?}", (&token, &code));
        assert!(
            !printed.contains(token.expose()) && !printed.contains(code.expose()),
            "{printed}"
        );
        assert_eq!(format!("{token:?}"), "Token(****)");
    }

    #[test]
    fn hashes_match_only_the_right_token() {
        let token = Token::generate().unwrap();
        let stored = token.hash();
        assert_eq!(stored.len(), 64);
        assert!(hash_matches(token.expose(), &stored));
        assert!(!hash_matches(&token.expose()[1..], &stored));
        assert!(!hash_matches(Token::generate().unwrap().expose(), &stored));
        assert!(!hash_matches(token.expose(), ""));
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn pickup_codes_are_six_uniform_digits() {
        let mut first_digit = [0u32; 10];
        for _ in 0..5000 {
            let code = PickupCode::generate().unwrap();
            assert_eq!(code.expose().len(), 6);
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
            first_digit[(code.expose().as_bytes()[0] - b'0') as usize] += 1;
            assert!(hash_matches(code.expose(), &code.hash()));
        }
        // 500 expected per digit; 300 is > 9 standard deviations away.
        assert!(first_digit.iter().all(|&n| n > 300), "{first_digit:?}");
    }
}

//! Who may sign in and what each role may open. Roles and their areas are the domain's
//! (`quire_domain::staff`), password hashes the service's (`quire_service::users`); here are
//! the failed-login limit and the random tokens and secret comparison that sessions and CSRF
//! use. Sessions and cookies are in `session`; storage is in `quire_state`.

pub use quire_domain::staff::{Area, Role};
pub use quire_service::users::{decoy_hash, verify_password};

/// Failed logins allowed per user name and per client address within [`FAILURE_WINDOW_MINUTES`].
pub const MAX_FAILURES: i64 = 5;
pub const FAILURE_WINDOW_MINUTES: i64 = 15;

/// 32 random bytes as hex: session ids and CSRF tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    hex::encode(bytes)
}

pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// Compares secrets by their hashes, so the time taken says nothing about where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    !a.is_empty() && sha256_hex(a) == sha256_hex(b)
}

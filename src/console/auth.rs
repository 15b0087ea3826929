//! Who may sign in and what each role may open: argon2 password hashes, the name and password
//! rules, the role-to-area table, and the failed-login limit. Sessions and cookies are in
//! `session`; storage is in `crate::state`.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// A staff role. Borrowers have none: they only ever hold a `/d/` link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Reviews scans: the job queue, releases, reprocessing, matching, links.
    Technician,
    /// Copyright compliance: audit log, held deliveries, the CONTU report, links.
    Compliance,
    /// Everything.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Technician => "technician",
            Self::Compliance => "compliance",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "technician" => Some(Self::Technician),
            "compliance" => Some(Self::Compliance),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn may(self, area: Area) -> bool {
        matches!(
            (self, area),
            (Self::Admin, _)
                | (_, Area::Requests)
                | (Self::Technician, Area::Jobs)
                | (Self::Compliance, Area::Compliance)
        )
    }
}

/// A group of console pages behind one role check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Jobs,
    Requests,
    Compliance,
}

/// Failed logins allowed per user name and per client address within [`FAILURE_WINDOW_MINUTES`].
pub const MAX_FAILURES: i64 = 5;
pub const FAILURE_WINDOW_MINUTES: i64 = 15;
pub const MIN_PASSWORD_CHARS: usize = 10;

pub fn check_user_name(name: &str) -> anyhow::Result<()> {
    let ok = quire_domain::names::is_plain(name, 64);
    anyhow::ensure!(
        ok,
        "user name `{name}`: use 1 to 64 letters, digits, `.`, `_` or `-`"
    );
    Ok(())
}

pub fn check_password(password: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        password.chars().count() >= MIN_PASSWORD_CHARS,
        "the password is too short: use at least {MIN_PASSWORD_CHARS} characters"
    );
    Ok(())
}

/// An argon2id PHC string with a fresh random salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let hash: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    Ok(hash.to_string())
}

/// False for a wrong password and for a stored hash that does not parse.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the user does not exist, so an unknown name costs the same
/// time as a wrong password and names cannot be probed by timing.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("correct horse battery", "not a hash"));
    }

    #[test]
    fn roles_reach_only_their_areas() {
        assert!(Role::Technician.may(Area::Jobs) && !Role::Technician.may(Area::Compliance));
        assert!(Role::Compliance.may(Area::Compliance) && !Role::Compliance.may(Area::Jobs));
        assert!(Role::Admin.may(Area::Jobs) && Role::Admin.may(Area::Compliance));
        assert!(
            [Role::Technician, Role::Compliance, Role::Admin]
                .iter()
                .all(|r| r.may(Area::Requests))
        );
    }

    #[test]
    fn names_and_passwords_are_checked() {
        assert!(check_user_name("ana.lopez").is_ok());
        assert!(check_user_name("ana lopez").is_err());
        assert!(check_user_name("").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough pw").is_ok());
    }
}

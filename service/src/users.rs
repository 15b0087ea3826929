//! Staff accounts: who may sign in, with which role and password. Only argon2id hashes of
//! passwords are kept. The CLI (`quire user`) makes and changes accounts here; the console's
//! sign-in checks passwords here.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use quire_domain::staff::Role;
use quire_state::{Database, StaffUser, UserChange};

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

/// Adds a user who can sign in to the console. The name and password are checked first.
pub fn add(
    db: &dyn Database,
    name: &str,
    role: Role,
    password: &str,
    actor: &str,
) -> anyhow::Result<()> {
    check_user_name(name)?;
    check_password(password)?;
    let user = StaffUser {
        name: name.to_string(),
        role: role.as_str().to_string(),
        password: hash_password(password)?,
        created_at: quire_domain::Timestamp::now(),
    };
    db.user_add(&user, actor)?;
    Ok(())
}

/// Sets a new password; the user's open sessions end.
pub fn set_password(
    db: &dyn Database,
    name: &str,
    password: &str,
    actor: &str,
) -> anyhow::Result<()> {
    check_password(password)?;
    let hash = hash_password(password)?;
    db.user_change(name, &UserChange::Password(hash), actor)?;
    Ok(())
}

/// Gives a user another role; their open sessions end.
pub fn set_role(db: &dyn Database, name: &str, role: Role, actor: &str) -> anyhow::Result<()> {
    db.user_change(name, &UserChange::Role(role.as_str().to_string()), actor)?;
    Ok(())
}

/// Removes a user; their sessions end, their past actions stay in the audit log.
pub fn remove(db: &dyn Database, name: &str, actor: &str) -> anyhow::Result<()> {
    db.user_change(name, &UserChange::Remove, actor)?;
    Ok(())
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
    fn names_and_passwords_are_checked() {
        assert!(check_user_name("ana.lopez").is_ok());
        assert!(check_user_name("ana lopez").is_err());
        assert!(check_user_name("").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough pw").is_ok());
    }
}

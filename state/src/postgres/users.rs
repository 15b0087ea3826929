//! Staff users, their console sessions and failed logins, in PostgreSQL. The types are the
//! SQLite backend's (`crate::sqlite::users`), shared by both.

use postgres::{GenericClient, Row};

use crate::StateError;
use quire_domain::Timestamp;
use quire_domain::staff::{StaffSession, StaffUser, UserChange};

/// Applies `change`; `NotFound` when there is no such user.
pub fn change_user(
    c: &mut impl GenericClient,
    name: &str,
    change: &UserChange,
) -> Result<(), StateError> {
    if get_user(c, name)?.is_none() {
        return Err(StateError::NotFound(format!("no user {name}")));
    }
    c.execute("DELETE FROM staff_sessions WHERE user_name = $1", &[&name])?;
    match change {
        UserChange::Password(hash) => c.execute(
            "UPDATE staff_users SET password = $2 WHERE name = $1",
            &[&name, hash],
        )?,
        UserChange::Role(role) => c.execute(
            "UPDATE staff_users SET role = $2 WHERE name = $1",
            &[&name, role],
        )?,
        UserChange::Remove => c.execute("DELETE FROM staff_users WHERE name = $1", &[&name])?,
    };
    Ok(())
}

pub fn insert_user(c: &mut impl GenericClient, u: &StaffUser) -> Result<(), StateError> {
    let exists: bool = c
        .query_one(
            "SELECT EXISTS(SELECT 1 FROM staff_users WHERE name = $1)",
            &[&u.name],
        )?
        .try_get(0)?;
    if exists {
        return Err(StateError::Conflict(format!(
            "user {} exists already",
            u.name
        )));
    }
    c.execute(
        "INSERT INTO staff_users (name, role, password, created_at) VALUES ($1, $2, $3, $4)",
        &[&u.name, &u.role, &u.password, &u.created_at.to_string()],
    )?;
    Ok(())
}

fn user_from(r: &Row) -> Result<StaffUser, StateError> {
    Ok(StaffUser {
        name: r.try_get(0)?,
        role: r.try_get(1)?,
        password: r.try_get(2)?,
        created_at: super::named(r, 3)?,
    })
}

pub fn get_user(c: &mut impl GenericClient, name: &str) -> Result<Option<StaffUser>, StateError> {
    c.query_opt(
        "SELECT name, role, password, created_at FROM staff_users WHERE name = $1",
        &[&name],
    )?
    .map(|r| user_from(&r))
    .transpose()
}

pub fn list_users(c: &mut impl GenericClient) -> Result<Vec<StaffUser>, StateError> {
    let rows = c.query(
        "SELECT name, role, password, created_at FROM staff_users ORDER BY name",
        &[],
    )?;
    super::all(rows, user_from)
}

pub fn insert_session(c: &mut impl GenericClient, s: &StaffSession) -> Result<(), StateError> {
    // Expired sessions are swept whenever a new one starts, so the table stays small.
    c.execute(
        "DELETE FROM staff_sessions WHERE expires_at <= $1",
        &[&s.created_at.to_string()],
    )?;
    c.execute(
        "INSERT INTO staff_sessions (id_sha256, user_name, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        &[
            &s.id_sha256,
            &s.user_name,
            &s.csrf,
            &s.created_at.to_string(),
            &s.expires_at.to_string(),
        ],
    )?;
    Ok(())
}

/// The live session with this id hash and its user; `None` if unknown or expired.
pub fn get_session(
    c: &mut impl GenericClient,
    id_sha256: &str,
    now: Timestamp,
) -> Result<Option<(StaffSession, StaffUser)>, StateError> {
    c.query_opt(
        "SELECT s.id_sha256, s.user_name, s.csrf, s.created_at, s.expires_at, u.role, u.password, u.created_at
         FROM staff_sessions s JOIN staff_users u ON u.name = s.user_name
         WHERE s.id_sha256 = $1 AND s.expires_at > $2",
        &[&id_sha256, &now.to_string()],
    )?
    .map(|r| {
        Ok((
            StaffSession {
                id_sha256: r.try_get(0)?,
                user_name: r.try_get(1)?,
                csrf: r.try_get(2)?,
                created_at: super::named(&r, 3)?,
                expires_at: super::named(&r, 4)?,
            },
            StaffUser {
                name: r.try_get(1)?,
                role: r.try_get(5)?,
                password: r.try_get(6)?,
                created_at: super::named(&r, 7)?,
            },
        ))
    })
    .transpose()
}

/// True if a session was there to end.
pub fn delete_session(c: &mut impl GenericClient, id_sha256: &str) -> Result<bool, StateError> {
    Ok(c.execute(
        "DELETE FROM staff_sessions WHERE id_sha256 = $1",
        &[&id_sha256],
    )? > 0)
}

pub fn record_failure(
    c: &mut impl GenericClient,
    keys: &[String],
    at: Timestamp,
) -> Result<(), StateError> {
    let at = at.to_string();
    for k in keys {
        c.execute(
            "INSERT INTO staff_login_failures (key, at) VALUES ($1, $2)",
            &[k, &at],
        )?;
    }
    Ok(())
}

pub fn count_failures(
    c: &mut impl GenericClient,
    key: &str,
    since: Timestamp,
) -> Result<i64, StateError> {
    Ok(c.query_one(
        "SELECT count(*) FROM staff_login_failures WHERE key = $1 AND at > $2",
        &[&key, &since.to_string()],
    )?
    .try_get(0)?)
}

/// A successful login forgets the failures counted against its own `keys` only, and rows of
/// any key older than `prune_before` (see the SQLite backend for why).
pub fn clear_failures(
    c: &mut impl GenericClient,
    keys: &[String],
    prune_before: Timestamp,
) -> Result<(), StateError> {
    for k in keys {
        c.execute("DELETE FROM staff_login_failures WHERE key = $1", &[k])?;
    }
    c.execute(
        "DELETE FROM staff_login_failures WHERE at < $1",
        &[&prune_before.to_string()],
    )?;
    Ok(())
}

//! Staff users, their console sessions and failed logins, in SQLite. The records are the
//! domain's (`quire_domain::staff`); hashing passwords is `quire-service`'s; this file only
//! stores and reads.

use rusqlite::{Connection, OptionalExtension, params};

use crate::StateError;
use quire_domain::Timestamp;
use quire_domain::staff::{StaffSession, StaffUser, UserChange};

/// Applies `change`; `NotFound` when there is no such user.
pub fn change_user(conn: &Connection, name: &str, change: &UserChange) -> Result<(), StateError> {
    if get_user(conn, name)?.is_none() {
        return Err(StateError::NotFound(format!("no user {name}")));
    }
    conn.execute("DELETE FROM staff_sessions WHERE user_name = ?1", [name])?;
    match change {
        UserChange::Password(hash) => conn.execute(
            "UPDATE staff_users SET password = ?2 WHERE name = ?1",
            params![name, hash],
        )?,
        UserChange::Role(role) => conn.execute(
            "UPDATE staff_users SET role = ?2 WHERE name = ?1",
            params![name, role],
        )?,
        UserChange::Remove => conn.execute("DELETE FROM staff_users WHERE name = ?1", [name])?,
    };
    Ok(())
}

pub fn insert_user(conn: &Connection, u: &StaffUser) -> Result<(), StateError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM staff_users WHERE name = ?1)",
        [&u.name],
        |r| r.get(0),
    )?;
    if exists {
        return Err(StateError::Conflict(format!(
            "user {} exists already",
            u.name
        )));
    }
    conn.execute(
        "INSERT INTO staff_users (name, role, password, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![u.name, u.role, u.password, u.created_at.to_string()],
    )?;
    Ok(())
}

pub fn get_user(conn: &Connection, name: &str) -> Result<Option<StaffUser>, StateError> {
    Ok(conn
        .query_row(
            "SELECT name, role, password, created_at FROM staff_users WHERE name = ?1",
            [name],
            |r| {
                Ok(StaffUser {
                    name: r.get(0)?,
                    role: r.get(1)?,
                    password: r.get(2)?,
                    created_at: super::named(r, 3)?,
                })
            },
        )
        .optional()?)
}

pub fn list_users(conn: &Connection) -> Result<Vec<StaffUser>, StateError> {
    let mut stmt =
        conn.prepare("SELECT name, role, password, created_at FROM staff_users ORDER BY name")?;
    let rows = stmt.query_map([], |r| {
        Ok(StaffUser {
            name: r.get(0)?,
            role: r.get(1)?,
            password: r.get(2)?,
            created_at: super::named(r, 3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn insert_session(conn: &Connection, s: &StaffSession) -> Result<(), StateError> {
    // Expired sessions are swept whenever a new one starts, so the table stays small.
    conn.execute(
        "DELETE FROM staff_sessions WHERE expires_at <= ?1",
        [s.created_at.to_string()],
    )?;
    conn.execute(
        "INSERT INTO staff_sessions (id_sha256, user_name, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            s.id_sha256,
            s.user_name,
            s.csrf,
            s.created_at.to_string(),
            s.expires_at.to_string()
        ],
    )?;
    Ok(())
}

/// The live session with this id hash and its user; `None` if unknown or expired.
pub fn get_session(
    conn: &Connection,
    id_sha256: &str,
    now: Timestamp,
) -> Result<Option<(StaffSession, StaffUser)>, StateError> {
    Ok(conn
        .query_row(
            "SELECT s.id_sha256, s.user_name, s.csrf, s.created_at, s.expires_at, u.role, u.password, u.created_at
             FROM staff_sessions s JOIN staff_users u ON u.name = s.user_name
             WHERE s.id_sha256 = ?1 AND s.expires_at > ?2",
            params![id_sha256, now.to_string()],
            |r| {
                Ok((
                    StaffSession {
                        id_sha256: r.get(0)?,
                        user_name: r.get(1)?,
                        csrf: r.get(2)?,
                        created_at: super::named(r, 3)?,
                        expires_at: super::named(r, 4)?,
                    },
                    StaffUser { name: r.get(1)?, role: r.get(5)?, password: r.get(6)?, created_at: super::named(r, 7)? },
                ))
            },
        )
        .optional()?)
}

/// True if a session was there to end.
pub fn delete_session(conn: &Connection, id_sha256: &str) -> Result<bool, StateError> {
    Ok(conn.execute(
        "DELETE FROM staff_sessions WHERE id_sha256 = ?1",
        [id_sha256],
    )? > 0)
}

pub fn record_failure(conn: &Connection, keys: &[String], at: Timestamp) -> Result<(), StateError> {
    for k in keys {
        conn.execute(
            "INSERT INTO staff_login_failures (key, at) VALUES (?1, ?2)",
            params![k, at.to_string()],
        )?;
    }
    Ok(())
}

pub fn count_failures(conn: &Connection, key: &str, since: Timestamp) -> Result<i64, StateError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM staff_login_failures WHERE key = ?1 AND at > ?2",
        params![key, since.to_string()],
        |r| r.get(0),
    )?)
}

/// A successful login forgets the failures counted against its own `keys` (its user name and
/// its client) and nothing else: clearing other keys would let anyone who can sign in reset an
/// attacker's count against someone else's account. Rows of any key older than `prune_before`
/// go too; the caller passes a cutoff before the counting window, so no live count shrinks.
pub fn clear_failures(
    conn: &Connection,
    keys: &[String],
    prune_before: Timestamp,
) -> Result<(), StateError> {
    for k in keys {
        conn.execute("DELETE FROM staff_login_failures WHERE key = ?1", [k])?;
    }
    conn.execute(
        "DELETE FROM staff_login_failures WHERE at < ?1",
        [prune_before.to_string()],
    )?;
    Ok(())
}

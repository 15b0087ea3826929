//! Requests in SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::StateError;
use crate::request::Request;

const COLUMNS: &str = "id, patron_name, patron_email, library, title, issn, isbn, article, author, year, \
                       volume, issue, pages, basis, basis_reference, link_days, link_downloads, created_at";

pub fn insert(conn: &Connection, r: &Request) -> Result<(), StateError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM requests WHERE id = ?1)",
        [&r.id],
        |row| row.get(0),
    )?;
    if exists {
        return Err(StateError::Conflict(format!(
            "request {} exists already",
            r.id
        )));
    }
    conn.execute(
        &format!("INSERT INTO requests ({COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)"),
        params![
            r.id,
            r.patron_name,
            r.patron_email,
            r.library,
            r.title,
            r.issn,
            r.isbn,
            r.article,
            r.author,
            r.year,
            r.volume,
            r.issue,
            r.pages,
            r.basis.as_str(),
            r.basis_reference,
            r.link_days,
            r.link_downloads,
            quire_domain::Timestamp::now().to_string(),
        ],
    )?;
    Ok(())
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Request> {
    let basis: String = row.get(13)?;
    Ok(Request {
        id: row.get(0)?,
        patron_name: row.get(1)?,
        patron_email: row.get(2)?,
        library: row.get(3)?,
        title: row.get(4)?,
        issn: row.get(5)?,
        isbn: row.get(6)?,
        article: row.get(7)?,
        author: row.get(8)?,
        year: row.get(9)?,
        volume: row.get(10)?,
        issue: row.get(11)?,
        pages: row.get(12)?,
        basis: basis.parse().map_err(|e: String| {
            rusqlite::Error::FromSqlConversionFailure(13, rusqlite::types::Type::Text, e.into())
        })?,
        basis_reference: row.get(14)?,
        link_days: row.get(15)?,
        link_downloads: row.get(16)?,
        created_at: super::named(row, 17)?,
    })
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<Request>, StateError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM requests WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn list(conn: &Connection, limit: usize) -> Result<Vec<Request>, StateError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM requests ORDER BY created_at DESC, id LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit as i64], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Refuses a change to request `id` once a copy went out (`change` says what cannot happen
/// then) or it was cancelled: `NotFound` without it, `Conflict` saying which.
pub fn check_open(conn: &Connection, id: &str, change: &str) -> Result<(), StateError> {
    get(conn, id)?.ok_or_else(|| StateError::NotFound(format!("no request {id}")))?;
    let delivered = delivered(conn, id)?;
    if delivered > 0 {
        return Err(StateError::Conflict(format!(
            "request {id} has {delivered} delivered copies; {change}"
        )));
    }
    if cancellation(conn, id)?.is_some() {
        return Err(StateError::Conflict(format!(
            "request {id} is cancelled already"
        )));
    }
    Ok(())
}

/// Copies delivered for request `id` (any state: a purged copy was still counted).
pub fn delivered(conn: &Connection, id: &str) -> Result<i64, StateError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM deliveries WHERE request_id = ?1",
        [id],
        |r| r.get(0),
    )?)
}

pub fn set_citation(
    conn: &Connection,
    id: &str,
    c: &quire_domain::Citation,
) -> Result<(), StateError> {
    conn.execute(
        "UPDATE requests SET title = ?2, issn = ?3, isbn = ?4, article = ?5, author = ?6, \
         year = ?7, volume = ?8, issue = ?9, pages = ?10 WHERE id = ?1",
        params![
            id, c.title, c.issn, c.isbn, c.article, c.author, c.year, c.volume, c.issue, c.pages
        ],
    )?;
    Ok(())
}

pub fn insert_cancellation(
    conn: &Connection,
    id: &str,
    c: &quire_domain::Cancellation,
) -> Result<(), StateError> {
    conn.execute(
        "INSERT INTO request_cancellations (request_id, cancelled_at, actor, reason) \
         VALUES (?1, ?2, ?3, ?4)",
        params![id, c.at.to_string(), c.by, c.reason],
    )?;
    Ok(())
}

pub fn cancellation(
    conn: &Connection,
    id: &str,
) -> Result<Option<quire_domain::Cancellation>, StateError> {
    Ok(conn
        .query_row(
            "SELECT cancelled_at, actor, reason FROM request_cancellations WHERE request_id = ?1",
            [id],
            |row| {
                Ok(quire_domain::Cancellation {
                    at: super::named(row, 0)?,
                    by: row.get(1)?,
                    reason: row.get(2)?,
                })
            },
        )
        .optional()?)
}

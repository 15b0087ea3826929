//! Requests in PostgreSQL.

use postgres::{GenericClient, Row};

use crate::StateError;
use crate::request::Request;

const COLUMNS: &str = "id, patron_name, patron_email, library, title, issn, isbn, article, author, year, \
                       volume, issue, pages, basis, basis_reference, link_days, link_downloads, created_at";

/// A count the domain keeps as `u32`, stored as INTEGER.
fn int(v: Option<u32>) -> Option<i32> {
    v.map(|v| i32::try_from(v).unwrap_or(i32::MAX))
}

fn uint(v: Option<i32>) -> Option<u32> {
    v.map(|v| u32::try_from(v).unwrap_or(0))
}

pub fn insert(c: &mut impl GenericClient, r: &Request) -> Result<(), StateError> {
    let exists: bool = c
        .query_one(
            "SELECT EXISTS(SELECT 1 FROM requests WHERE id = $1)",
            &[&r.id],
        )?
        .try_get(0)?;
    if exists {
        return Err(StateError::Conflict(format!(
            "request {} exists already",
            r.id
        )));
    }
    c.execute(
        &format!("INSERT INTO requests ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)"),
        &[
            &r.id,
            &r.patron_name,
            &r.patron_email,
            &r.library,
            &r.title,
            &r.issn,
            &r.isbn,
            &r.article,
            &r.author,
            &r.year,
            &r.volume,
            &r.issue,
            &r.pages,
            &r.basis.as_str(),
            &r.basis_reference,
            &int(r.link_days),
            &int(r.link_downloads),
            &quire_domain::Timestamp::now().to_string(),
        ],
    )?;
    Ok(())
}

fn from_row(row: &Row) -> Result<Request, StateError> {
    Ok(Request {
        id: row.try_get(0)?,
        patron_name: row.try_get(1)?,
        patron_email: row.try_get(2)?,
        library: row.try_get(3)?,
        title: row.try_get(4)?,
        issn: row.try_get(5)?,
        isbn: row.try_get(6)?,
        article: row.try_get(7)?,
        author: row.try_get(8)?,
        year: row.try_get(9)?,
        volume: row.try_get(10)?,
        issue: row.try_get(11)?,
        pages: row.try_get(12)?,
        basis: super::named(row, 13)?,
        basis_reference: row.try_get(14)?,
        link_days: uint(row.try_get(15)?),
        link_downloads: uint(row.try_get(16)?),
        created_at: super::named(row, 17)?,
    })
}

pub fn get(c: &mut impl GenericClient, id: &str) -> Result<Option<Request>, StateError> {
    c.query_opt(
        &format!("SELECT {COLUMNS} FROM requests WHERE id = $1"),
        &[&id],
    )?
    .map(|r| from_row(&r))
    .transpose()
}

pub fn list(c: &mut impl GenericClient, limit: usize) -> Result<Vec<Request>, StateError> {
    let rows = c.query(
        &format!("SELECT {COLUMNS} FROM requests ORDER BY created_at DESC, id LIMIT $1"),
        &[&(limit.min(i64::MAX as usize) as i64)],
    )?;
    super::all(rows, from_row)
}

/// Refuses a change to request `id` once a copy went out (`change` says what cannot happen
/// then) or it was cancelled: `NotFound` without it, `Conflict` saying which.
pub fn check_open(c: &mut impl GenericClient, id: &str, change: &str) -> Result<(), StateError> {
    get(c, id)?.ok_or_else(|| StateError::NotFound(format!("no request {id}")))?;
    let delivered = delivered(c, id)?;
    if delivered > 0 {
        return Err(StateError::Conflict(format!(
            "request {id} has {delivered} delivered copies; {change}"
        )));
    }
    if cancellation(c, id)?.is_some() {
        return Err(StateError::Conflict(format!(
            "request {id} is cancelled already"
        )));
    }
    Ok(())
}

/// Copies delivered for request `id` (any state: a purged copy was still counted).
pub fn delivered(c: &mut impl GenericClient, id: &str) -> Result<i64, StateError> {
    Ok(c.query_one(
        "SELECT count(*) FROM deliveries WHERE request_id = $1",
        &[&id],
    )?
    .get(0))
}

pub fn set_citation(
    c: &mut impl GenericClient,
    id: &str,
    cit: &quire_domain::Citation,
) -> Result<(), StateError> {
    c.execute(
        "UPDATE requests SET title = $2, issn = $3, isbn = $4, article = $5, author = $6, \
         year = $7, volume = $8, issue = $9, pages = $10 WHERE id = $1",
        &[
            &id,
            &cit.title,
            &cit.issn,
            &cit.isbn,
            &cit.article,
            &cit.author,
            &cit.year,
            &cit.volume,
            &cit.issue,
            &cit.pages,
        ],
    )?;
    Ok(())
}

pub fn insert_cancellation(
    c: &mut impl GenericClient,
    id: &str,
    cancel: &quire_domain::Cancellation,
) -> Result<(), StateError> {
    c.execute(
        "INSERT INTO request_cancellations (request_id, cancelled_at, actor, reason) \
         VALUES ($1, $2, $3, $4)",
        &[&id, &cancel.at.to_string(), &cancel.by, &cancel.reason],
    )?;
    Ok(())
}

pub fn cancellation(
    c: &mut impl GenericClient,
    id: &str,
) -> Result<Option<quire_domain::Cancellation>, StateError> {
    c.query_opt(
        "SELECT cancelled_at, actor, reason FROM request_cancellations WHERE request_id = $1",
        &[&id],
    )?
    .map(|row| {
        Ok(quire_domain::Cancellation {
            at: super::named(&row, 0)?,
            by: row.try_get(1)?,
            reason: row.try_get(2)?,
        })
    })
    .transpose()
}

//! Jobs in SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::StateError;
use crate::job::{Job, JobFilter, JobPatch, JobState};

const COLUMNS: &str = "id, request_id, state, hold_reason, source_name, spool_path, source_sha256, page_count, \
                       report_json, output_sha256, error_code, error_message, created_at, updated_at, parent_job, \
                       claimed_by, lease_until, custody_json";

pub fn insert(conn: &Connection, j: &Job) -> Result<(), StateError> {
    let now = quire_domain::Timestamp::now().to_string();
    conn.execute(
        &format!(
            "INSERT INTO jobs ({COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?13,?14,?15,?16,?17)"
        ),
        params![
            j.id,
            j.request_id,
            j.state.as_str(),
            j.hold_reason,
            j.source_name,
            j.spool_path,
            j.source_sha256,
            j.page_count,
            j.report_json,
            j.output_sha256,
            j.error_code,
            j.error_message,
            now,
            j.parent_job,
            j.claimed_by,
            j.lease_until.map(|t| t.to_string()),
            quire_domain::job::custody_to_text(&j.custody),
        ],
    )?;
    Ok(())
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    Ok(Job {
        id: row.get(0)?,
        request_id: row.get(1)?,
        state: super::named(row, 2)?,
        hold_reason: row.get(3)?,
        source_name: row.get(4)?,
        spool_path: row.get(5)?,
        source_sha256: row.get(6)?,
        page_count: row.get(7)?,
        report_json: row.get(8)?,
        output_sha256: row.get(9)?,
        error_code: row.get(10)?,
        error_message: row.get(11)?,
        created_at: super::named(row, 12)?,
        updated_at: super::named(row, 13)?,
        parent_job: row.get(14)?,
        claimed_by: row.get(15)?,
        lease_until: super::time_opt(row, 16)?,
        custody: quire_domain::job::custody_from_text(row.get::<_, Option<String>>(17)?.as_deref())
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(17, rusqlite::types::Type::Text, e.into())
            })?,
    })
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<Job>, StateError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}

pub fn list(conn: &Connection, filter: &JobFilter) -> Result<Vec<Job>, StateError> {
    let mut sql = format!("SELECT {COLUMNS} FROM jobs WHERE 1=1");
    if !filter.states.is_empty() {
        let states: Vec<String> = filter
            .states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        sql.push_str(&format!(" AND state IN ({})", states.join(",")));
    }
    if filter.unmatched {
        // A split batch's documents carry the requests; the batch itself is not waiting.
        sql.push_str(" AND request_id IS NULL AND state != 'split'");
    }
    let limit = if filter.limit == 0 {
        i64::MAX
    } else {
        filter.limit as i64
    };
    let mut args: Vec<(&str, &dyn rusqlite::ToSql)> = vec![(":limit", &limit)];
    if let Some(parent) = &filter.parent {
        sql.push_str(" AND parent_job = :parent");
        args.push((":parent", parent));
    }
    if let Some(request) = &filter.request {
        sql.push_str(" AND request_id = :request");
        args.push((":request", request));
    }
    sql.push_str(" ORDER BY created_at, id LIMIT :limit");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(args.as_slice(), from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn by_source(conn: &Connection, sha256: &str, except: &str) -> Result<Vec<Job>, StateError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE source_sha256 = ?1 AND id != ?2 ORDER BY created_at"
    ))?;
    let rows = stmt.query_map([sha256, except], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Moves a job from one of `from` to `to` (a move to another state ends its claim); `Conflict` if it is in none of them now.
pub fn transition(
    conn: &Connection,
    id: &str,
    from: &[JobState],
    to: JobState,
    patch: &JobPatch,
) -> Result<Job, StateError> {
    let current =
        get(conn, id)?.ok_or_else(|| StateError::NotFound(format!("job {id} does not exist")))?;
    if !from.contains(&current.state) {
        return Err(StateError::Conflict(format!(
            "job {id} is {}, not {}",
            current.state,
            list_states(from)
        )));
    }
    if let Some(node) = &patch.claimed_by
        && current.claimed_by.as_ref() != Some(node)
    {
        return Err(StateError::Conflict(format!(
            "job {id} is no longer claimed by {node}"
        )));
    }
    let now = quire_domain::Timestamp::now().to_string();
    conn.execute(
        "UPDATE jobs SET state = ?2, updated_at = ?3,
            claimed_by = CASE WHEN state = ?2 THEN claimed_by ELSE NULL END,
            lease_until = CASE WHEN state = ?2 THEN lease_until ELSE NULL END,
            request_id = COALESCE(?4, request_id),
            hold_reason = CASE WHEN ?5 THEN ?6 ELSE hold_reason END,
            page_count = COALESCE(?7, page_count),
            report_json = COALESCE(?8, report_json),
            output_sha256 = COALESCE(?9, output_sha256),
            error_code = CASE WHEN ?10 THEN ?11 ELSE error_code END,
            error_message = CASE WHEN ?10 THEN ?12 ELSE error_message END
         WHERE id = ?1",
        params![
            id,
            to.as_str(),
            now,
            patch.request_id,
            patch.hold_reason.is_some(),
            patch.hold_reason.clone().flatten(),
            patch.page_count,
            patch.report_json,
            patch.output_sha256,
            patch.error.is_some(),
            patch.error.as_ref().map(|e| e.0.clone()),
            patch.error.as_ref().map(|e| e.1.clone()),
        ],
    )?;
    get(conn, id)?.ok_or_else(|| StateError::NotFound(format!("job {id} vanished")))
}

fn list_states(states: &[JobState]) -> String {
    states
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

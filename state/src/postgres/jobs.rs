//! Jobs in PostgreSQL. Every move is a compare-and-set in SQL.

use postgres::{GenericClient, Row};

use crate::StateError;
use crate::job::{Job, JobFilter, JobPatch, JobState};

const COLUMNS: &str = "id, request_id, state, hold_reason, source_name, spool_path, source_sha256, page_count, \
                       report_json, output_sha256, error_code, error_message, created_at, updated_at, parent_job, \
                       claimed_by, lease_until, custody_json";

pub fn insert(c: &mut impl GenericClient, j: &Job) -> Result<(), StateError> {
    let now = quire_domain::Timestamp::now().to_string();
    c.execute(
        &format!(
            "INSERT INTO jobs ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$13,$14,$15,$16,$17)"
        ),
        &[
            &j.id,
            &j.request_id,
            &j.state.as_str(),
            &j.hold_reason,
            &j.source_name,
            &j.spool_path,
            &j.source_sha256,
            &j.page_count,
            &j.report_json,
            &j.output_sha256,
            &j.error_code,
            &j.error_message,
            &now,
            &j.parent_job,
            &j.claimed_by,
            &j.lease_until.map(|t| t.to_string()),
            &quire_domain::job::custody_to_text(&j.custody),
        ],
    )?;
    Ok(())
}

fn from_row(row: &Row) -> Result<Job, StateError> {
    Ok(Job {
        id: row.try_get(0)?,
        request_id: row.try_get(1)?,
        state: super::named(row, 2)?,
        hold_reason: row.try_get(3)?,
        source_name: row.try_get(4)?,
        spool_path: row.try_get(5)?,
        source_sha256: row.try_get(6)?,
        page_count: row.try_get(7)?,
        report_json: row.try_get(8)?,
        output_sha256: row.try_get(9)?,
        error_code: row.try_get(10)?,
        error_message: row.try_get(11)?,
        created_at: super::named(row, 12)?,
        updated_at: super::named(row, 13)?,
        parent_job: row.try_get(14)?,
        claimed_by: row.try_get(15)?,
        lease_until: super::time_opt(row, 16)?,
        custody: quire_domain::job::custody_from_text(
            row.try_get::<_, Option<String>>(17)?.as_deref(),
        )
        .map_err(StateError::Corrupt)?,
    })
}

pub fn get(c: &mut impl GenericClient, id: &str) -> Result<Option<Job>, StateError> {
    c.query_opt(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"), &[&id])?
        .map(|r| from_row(&r))
        .transpose()
}

pub fn list(c: &mut impl GenericClient, filter: &JobFilter) -> Result<Vec<Job>, StateError> {
    let mut sql = format!("SELECT {COLUMNS} FROM jobs WHERE TRUE");
    let states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
    if !states.is_empty() {
        sql.push_str(" AND state = ANY($2)");
    }
    if filter.unmatched {
        // A split batch's documents carry the requests; the batch itself is not waiting.
        sql.push_str(" AND request_id IS NULL AND state != 'split'");
    }
    if filter.parent.is_some() {
        sql.push_str(" AND parent_job = $3");
    }
    if filter.request.is_some() {
        sql.push_str(" AND request_id = $4");
    }
    let limit = if filter.limit == 0 {
        i64::MAX
    } else {
        filter.limit.min(i64::MAX as usize) as i64
    };
    // Unused parameters must still have a type: pin each one with a cast that is always true.
    sql.push_str(
        " AND ($2::text[] IS NULL OR TRUE) AND ($3::text IS NULL OR TRUE) \
         AND ($4::text IS NULL OR TRUE) ORDER BY created_at, id LIMIT $1",
    );
    let rows = c.query(&sql, &[&limit, &states, &filter.parent, &filter.request])?;
    super::all(rows, from_row)
}

pub fn by_source(
    c: &mut impl GenericClient,
    sha256: &str,
    except: &str,
) -> Result<Vec<Job>, StateError> {
    let rows = c.query(
        &format!(
            "SELECT {COLUMNS} FROM jobs WHERE source_sha256 = $1 AND id != $2 ORDER BY created_at"
        ),
        &[&sha256, &except],
    )?;
    super::all(rows, from_row)
}

/// Moves a job from one of `from` to `to` (a move to another state ends its claim); `Conflict` if it is in none of them now. The move
/// is one conditional UPDATE (`state = ANY(from)`), judged by its row count.
pub fn transition(
    c: &mut impl GenericClient,
    id: &str,
    from: &[JobState],
    to: JobState,
    patch: &JobPatch,
) -> Result<Job, StateError> {
    let now = quire_domain::Timestamp::now().to_string();
    let states: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let moved = c.execute(
        "UPDATE jobs SET state = $2, updated_at = $3,
            claimed_by = CASE WHEN state = $2 THEN claimed_by ELSE NULL END,
            lease_until = CASE WHEN state = $2 THEN lease_until ELSE NULL END,
            request_id = COALESCE($4, request_id),
            hold_reason = CASE WHEN $5 THEN $6 ELSE hold_reason END,
            page_count = COALESCE($7, page_count),
            report_json = COALESCE($8, report_json),
            output_sha256 = COALESCE($9, output_sha256),
            error_code = CASE WHEN $10 THEN $11 ELSE error_code END,
            error_message = CASE WHEN $10 THEN $12 ELSE error_message END
         WHERE id = $1 AND state = ANY($13) AND ($14::text IS NULL OR claimed_by = $14)",
        &[
            &id,
            &to.as_str(),
            &now,
            &patch.request_id,
            &patch.hold_reason.is_some(),
            &patch.hold_reason.clone().flatten(),
            &patch.page_count,
            &patch.report_json,
            &patch.output_sha256,
            &patch.error.is_some(),
            &patch.error.as_ref().map(|e| e.0.clone()),
            &patch.error.as_ref().map(|e| e.1.clone()),
            &states,
            &patch.claimed_by,
        ],
    )?;
    let current =
        get(c, id)?.ok_or_else(|| StateError::NotFound(format!("job {id} does not exist")))?;
    if moved == 0 {
        if let Some(node) = &patch.claimed_by
            && from.contains(&current.state)
        {
            return Err(StateError::Conflict(format!(
                "job {id} is no longer claimed by {node}"
            )));
        }
        return Err(StateError::Conflict(format!(
            "job {id} is {}, not {}",
            current.state,
            list_states(from)
        )));
    }
    Ok(current)
}

fn list_states(states: &[JobState]) -> String {
    states
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

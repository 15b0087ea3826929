//! Webhook cursors in SQLite: each call is one `BEGIN IMMEDIATE` transaction, so a claim's
//! check and its update cannot interleave with another process's.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{SqliteDatabase, append_in, time_opt};
use crate::webhooks::{WebhookCursor, WebhookRepo};
use crate::{NewEvent, StateError, Timestamp};

const COLUMNS: &str =
    "endpoint, last_seq, attempts, next_attempt_at, last_error, claimed_by, claimed_until";

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebhookCursor> {
    Ok(WebhookCursor {
        endpoint: r.get(0)?,
        last_seq: r.get(1)?,
        attempts: r.get(2)?,
        next_attempt_at: time_opt(r, 3)?,
        last_error: r.get(4)?,
        claimed_by: r.get(5)?,
        claimed_until: time_opt(r, 6)?,
    })
}

fn get(conn: &Connection, endpoint: &str) -> Result<Option<WebhookCursor>, StateError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM webhook_cursors WHERE endpoint = ?1"),
            [endpoint],
            read,
        )
        .optional()?)
}

impl WebhookRepo for SqliteDatabase {
    fn webhook_claim(
        &self,
        endpoint: &str,
        node: &str,
        until: Timestamp,
    ) -> Result<Option<WebhookCursor>, StateError> {
        let now = Timestamp::now().to_string();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR IGNORE INTO webhook_cursors (endpoint, last_seq)
             SELECT ?1, COALESCE(MAX(seq), 0) FROM audit_events",
            [endpoint],
        )?;
        let taken = tx.execute(
            "UPDATE webhook_cursors SET claimed_by = ?2, claimed_until = ?3
             WHERE endpoint = ?1
               AND (claimed_by IS NULL OR claimed_by = ?2 OR claimed_until < ?4)
               AND (next_attempt_at IS NULL OR next_attempt_at <= ?4)",
            params![endpoint, node, until.to_string(), now],
        )?;
        let cursor = if taken == 1 {
            get(&tx, endpoint)?
        } else {
            None
        };
        tx.commit()?;
        Ok(cursor)
    }

    fn webhook_advance(
        &self,
        endpoint: &str,
        node: &str,
        seq: i64,
        event: Option<NewEvent>,
    ) -> Result<bool, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let moved = tx.execute(
            "UPDATE webhook_cursors
             SET last_seq = ?3, attempts = 0, next_attempt_at = NULL, last_error = NULL
             WHERE endpoint = ?1 AND claimed_by = ?2 AND last_seq <= ?3",
            params![endpoint, node, seq],
        )? == 1;
        if moved && let Some(event) = event {
            append_in(&tx, event)?;
        }
        tx.commit()?;
        Ok(moved)
    }

    fn webhook_retry(
        &self,
        endpoint: &str,
        node: &str,
        attempts: u32,
        next_at: Timestamp,
        error: &str,
    ) -> Result<bool, StateError> {
        let conn = self.conn();
        Ok(conn.execute(
            "UPDATE webhook_cursors SET attempts = ?3, next_attempt_at = ?4, last_error = ?5
             WHERE endpoint = ?1 AND claimed_by = ?2",
            params![endpoint, node, attempts, next_at.to_string(), error],
        )? == 1)
    }

    fn webhook_release(&self, node: &str) -> Result<usize, StateError> {
        let conn = self.conn();
        Ok(conn.execute(
            "UPDATE webhook_cursors SET claimed_by = NULL, claimed_until = NULL
             WHERE claimed_by = ?1",
            [node],
        )?)
    }

    fn webhooks_list(&self) -> Result<Vec<WebhookCursor>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM webhook_cursors ORDER BY endpoint"
        ))?;
        let rows = stmt.query_map([], read)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
